use super::*;
use crate::datum::Datum;
use crate::expr::BinaryOp;

fn col(index: usize) -> ScalarExpr {
    ScalarExpr::Column { index, ty: SqlType::Int }
}

fn eq(left: ScalarExpr, right: ScalarExpr) -> ScalarExpr {
    ScalarExpr::Binary {
        op: BinaryOp::Eq,
        left: Box::new(left),
        right: Box::new(right),
        ty: SqlType::Boolean,
    }
}

fn table(name: &str, columns: &[&str]) -> Plan {
    Plan::Get { name: name.into(), columns: columns.iter().map(|c| Column::new(*c, SqlType::Int)).collect() }
}

#[test]
fn equi_keys_take_equalities_between_the_sides_and_keep_the_rest() {
    // left has 2 columns, right 2: #0 = #3 AND #2 = #1 AND #0 = #1 AND #2 > 5
    let gt = ScalarExpr::Binary {
        op: BinaryOp::Gt,
        left: Box::new(col(2)),
        right: Box::new(ScalarExpr::literal(Datum::Int(5), SqlType::Int)),
        ty: SqlType::Boolean,
    };
    let on = conjunction(vec![eq(col(0), col(3)), eq(col(2), col(1)), eq(col(0), col(1)), gt.clone()]);
    let keys = equi_keys(&on, 2);
    assert_eq!(keys.left, vec![col(0), col(1)]);
    assert_eq!(keys.right, vec![col(1), col(0)]);
    assert_eq!(keys.residual, vec![eq(col(0), col(1)), gt]);
    assert_eq!(split_conjuncts(&conjunction(vec![])), vec![]);
}

#[test]
fn columns_and_explain_follow_the_tree() {
    let join = Plan::Join {
        left: Box::new(table("a", &["x", "y"])),
        right: Box::new(table("b", &["z"])),
        kind: JoinKind::Inner,
        on: eq(col(0), col(2)),
    };
    let plan = Plan::Project {
        input: Box::new(join),
        exprs: vec![col(0), col(2)],
        names: vec!["x".into(), "z".into()],
    };
    assert_eq!(plan.arity(), 2);
    assert_eq!(plan.columns()[1], Column::new("z", SqlType::Int));
    assert!(plan.is_decorrelated());
    assert_eq!(plan.explain(), "Project #0, #2 AS z\n  Join Inner on (#0 = #2)\n    Get a\n    Get b\n");
    let apply = Plan::Apply {
        input: Box::new(table("a", &["x"])),
        subquery: Box::new(Plan::Filter {
            input: Box::new(table("b", &["z"])),
            predicate: eq(col(0), ScalarExpr::Outer { depth: 1, index: 0, ty: SqlType::Int }),
        }),
        kind: ApplyKind::Exists,
        name: "e".into(),
    };
    assert!(!apply.is_decorrelated());
    assert_eq!(apply.columns().last(), Some(&Column::new("e", SqlType::Boolean)));
}
