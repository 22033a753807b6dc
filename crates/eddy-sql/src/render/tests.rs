//! Unit tests of the renderer's helpers.

use super::*;
use crate::plan::Column;
use crate::types::SqlType;

#[test]
fn labels_are_the_first_line_of_a_node() {
    let get = Plan::Get { name: "t".into(), columns: vec![Column::new("a", SqlType::Int)] };
    let distinct = Plan::Distinct { input: Box::new(get.clone()) };
    assert_eq!(label(&get), "Get t");
    assert_eq!(label(&distinct), "Distinct");
    assert_eq!(all_columns(&distinct), vec![ScalarExpr::Column { index: 0, ty: SqlType::Int }]);
}

#[test]
fn a_row_error_names_operator_and_row() {
    let error = RowError {
        operator: "Project (#0 / #1)".into(),
        row: Row::new(vec![crate::datum::Datum::Int(1), crate::datum::Datum::Int(0)]),
        message: "division by zero: 1 / 0".into(),
    };
    assert_eq!(error.to_string(), "division by zero: 1 / 0 (in Project (#0 / #1) on row (1, 0))");
}
