//! Bind errors through the public API (`bind_query` on a catalog): each names what is wrong
//! and where (line and column of the offending expression).

use eddy_sql::catalog::{Catalog, Table};
use eddy_sql::plan::Column;
use eddy_sql::{bind_query, BindError, FlinkDialect, SqlType};
use sqlparser::ast::Statement;
use sqlparser::parser::Parser;

fn catalog() -> Catalog {
    let mut catalog = Catalog::new();
    for (name, columns) in [
        ("t", vec![("a", SqlType::Int), ("b", SqlType::STRING)]),
        ("u", vec![("a", SqlType::Int), ("c", SqlType::Double)]),
    ] {
        catalog.add_table(Table {
            name: name.into(),
            columns: columns.into_iter().map(|(n, ty)| Column::new(n, ty)).collect(),
            primary_key: None,
            options: Default::default(),
            time: Default::default(),
        });
    }
    catalog
}

fn bind(sql: &str) -> Result<eddy_sql::plan::Query, BindError> {
    let statements = Parser::parse_sql(&FlinkDialect, sql).expect("parses");
    let [Statement::Query(query)] = &statements[..] else { panic!("one query") };
    bind_query(query, &catalog())
}

fn error(sql: &str) -> String {
    match bind(sql) {
        Ok(query) => panic!("{sql} bound to\n{}", query.explain()),
        Err(error) => error.to_string(),
    }
}

#[test]
fn errors_say_what_and_where() {
    let cases = [
        ("SELECT x FROM t", "unknown column `x` at line 1, column 8; the input has `t.a`, `t.b`"),
        ("SELECT a FROM\n  nowhere", "unknown table `nowhere` at line 2, column 3"),
        ("SELECT v.a FROM t", "unknown table `v` at line 1, column 8"),
        ("SELECT a FROM t, u", "ambiguous column `a` at line 1, column 8: qualify or quote one of `t.a`, `u.a`"),
        ("SELECT a FROM t WHERE SUM(a) > 1", "grouping error at line 1, column 23: aggregate functions are not allowed in WHERE"),
        ("SELECT a, COUNT(*) FROM t", "grouping error at line 1, column 8: column a must appear in GROUP BY or be used in an aggregate function"),
        ("SELECT b FROM t GROUP BY a", "grouping error at line 1, column 8: column b must appear in GROUP BY or be used in an aggregate function"),
        ("SELECT SUM(b) FROM t", "type error at line 1, column 8: SUM needs a number, found STRING"),
        ("SELECT a FROM t GROUP BY COUNT(*)", "grouping error at line 1, column 26: aggregate functions are not allowed in GROUP BY"),
        ("SELECT a FROM t UNION SELECT TRUE", "type error at line 1, column 23: UNION column 1 mixes INT and BOOLEAN"),
        ("SELECT b FROM t UNION SELECT a FROM u", "type error at line 1, column 23: UNION column 1 mixes STRING and INT"),
        ("SELECT a, b FROM t EXCEPT SELECT a FROM u", "type error at line 1, column 27: EXCEPT of 2 and 1 columns"),
        ("SELECT a FROM t ORDER BY 3", "grouping error at line 1, column 26: ORDER BY position 3 is not in the select list (1 to 1)"),
        ("SELECT a FROM t WHERE a IN (SELECT a, c FROM u)", "type error at line 1, column 23: IN compares 1 values with a subquery of 2 columns"),
        ("SELECT (SELECT a, c FROM u) FROM t", "type error at line 1, column 9: a scalar subquery must return one column, not 2"),
        ("WITH RECURSIVE r AS (SELECT 1) SELECT * FROM r", "not supported at line 1, column 1: WITH RECURSIVE"),
        ("SELECT a FROM t LIMIT -1", "type error at line 1, column 24: LIMIT needs a non-negative integer constant"),
        ("SELECT * FROM t JOIN u USING (c)", "unknown column `c` at line 1, column 31; the input has `t.a`, `t.b` on the left side of the join"),
        ("SELECT b, (SELECT COUNT(*) FROM u WHERE u.a = t.a) FROM t GROUP BY b", "grouping error at line 1, column 47: column t.a of the query 1 level out must appear in its GROUP BY or be used in an aggregate function"),
        ("VALUES (1, 2), (3)", "type error at line 1, column 17: VALUES rows of 2 and 1 values"),
        ("VALUES (1), ('x')", "type error at line 1, column 9: cannot cast 'x' to INT: not an integer"),
    ];
    let mut failures = Vec::new();
    for (sql, expected) in cases {
        let got = error(sql);
        if got != expected {
            failures.push(format!("{sql}\n  expected {expected}\n  got      {got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn quoted_names_match_exactly() {
    let mut catalog = catalog();
    catalog.add_table(Table {
        name: "Mixed".into(),
        columns: vec![Column::new("Col", SqlType::Int), Column::new("col", SqlType::Int)],
        primary_key: None,
        options: Default::default(),
        time: Default::default(),
    });
    let bind = |sql: &str| {
        let statements = Parser::parse_sql(&FlinkDialect, sql).expect("parses");
        let [Statement::Query(query)] = &statements[..] else { panic!("one query") };
        bind_query(query, &catalog)
    };
    assert!(bind("SELECT \"Col\", `col` FROM mixed").is_ok());
    assert!(bind("SELECT col FROM MIXED").is_ok(), "the exact spelling wins among case-insensitive matches");
    assert!(matches!(bind("SELECT COL FROM mixed"), Err(BindError::AmbiguousColumn { .. })));
    assert!(matches!(bind("SELECT 1 FROM \"mixed\""), Err(BindError::UnknownTable { .. })));
    assert!(matches!(bind("SELECT \"COL\" FROM Mixed"), Err(BindError::UnknownColumn { .. })));
}

#[test]
fn correlated_columns_bind_to_outer_references() {
    let query = bind("SELECT a FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.a = t.a AND c > 0)").unwrap();
    let text = query.explain();
    assert!(text.contains("(#0 = outer1#0)"), "{text}");
    assert!(!query.plan.is_decorrelated());
    let query = bind("SELECT a FROM t WHERE a IN (SELECT a FROM u)").unwrap();
    assert!(query.explain().contains("Apply in (#0)"), "{}", query.explain());
    // A name of the inner query shadows the outer one.
    let query = bind("SELECT a FROM t WHERE EXISTS (SELECT 1 FROM u WHERE a = 1)").unwrap();
    assert!(query.explain().contains("Filter (#0 = 1)"), "{}", query.explain());
}
