//! Flink's Top-N and deduplication through a `Session`: `ROW_NUMBER() OVER (PARTITION BY ...
//! ORDER BY ...)` in a subquery with a filter on the number, with and without the number in
//! the outer select list, on the reference evaluator and on the dataflow engine at 1 and 3
//! workers; `EXPLAIN`; and the errors for the window functions eddy does not support.

use eddy_sql::engine::{DataflowEngine, OracleEngine};
use eddy_sql::session::{Outcome, Session};

const SETUP: &str = "CREATE TABLE shop (category VARCHAR(10), item VARCHAR(10), sales INT);
     INSERT INTO shop VALUES
       ('fruit', 'apple', 10), ('fruit', 'pear', 30), ('fruit', 'plum', 20), ('fruit', 'fig', 5),
       ('veg', 'kale', 7), ('veg', 'leek', 9), ('veg', 'okra', 9), ('nuts', 'pecan', NULL),
       ('nuts', 'cashew', 4);
     CREATE TABLE clicks (user_id INT, url VARCHAR(20), ts TIMESTAMP(3));
     INSERT INTO clicks VALUES
       (1, '/a', TIMESTAMP '2024-01-01 10:00:00'), (1, '/b', TIMESTAMP '2024-01-01 10:05:00'),
       (2, '/c', TIMESTAMP '2024-01-01 09:00:00'), (1, '/c', TIMESTAMP '2024-01-01 10:02:00'),
       (2, '/a', TIMESTAMP '2024-01-01 09:30:00'), (3, '/z', TIMESTAMP '2024-01-01 08:00:00');";

/// `(query, expected rows)`, rows as `Row`'s `Display` prints them; order ignored unless the
/// query has `ORDER BY`.
const CASES: &[(&str, &[&str])] = &[
    // Top-3 per category, the number selected.
    (
        "SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY category ORDER BY sales DESC) AS rn \
         FROM shop) WHERE rn <= 3",
        &[
            "('fruit', 'pear', 30, 1)",
            "('fruit', 'plum', 20, 2)",
            "('fruit', 'apple', 10, 3)",
            "('nuts', 'cashew', 4, 1)",
            "('nuts', 'pecan', NULL, 2)",
            // Equal sales: the whole row breaks the tie.
            "('veg', 'leek', 9, 1)",
            "('veg', 'okra', 9, 2)",
            "('veg', 'kale', 7, 3)",
        ],
    ),
    // Top-2 without the number; `rn < 3` and `2 >= rn` say the same.
    (
        "SELECT category, item FROM (SELECT category, item, ROW_NUMBER() OVER (PARTITION BY category \
         ORDER BY sales DESC NULLS LAST, item) AS rn FROM shop) t WHERE rn < 3",
        &["('fruit', 'pear')", "('fruit', 'plum')", "('nuts', 'cashew')", "('nuts', 'pecan')", "('veg', 'leek')", "('veg', 'okra')"],
    ),
    (
        "SELECT item FROM (SELECT item, ROW_NUMBER() OVER (ORDER BY sales) AS rn FROM shop) WHERE 2 >= rn",
        &["('cashew')", "('pecan')"],
    ),
    // Deduplication: keep the first click of each user (ORDER BY time ASC) ...
    (
        "SELECT user_id, url FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY ts) AS rn \
         FROM clicks) WHERE rn = 1",
        &["(1, '/a')", "(2, '/c')", "(3, '/z')"],
    ),
    // ... or the last (DESC), the number selected.
    (
        "SELECT user_id, url, rn FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY ts DESC) \
         AS rn FROM clicks) WHERE rn = 1 ORDER BY user_id",
        &["(1, '/b', 1)", "(2, '/a', 1)", "(3, '/z', 1)"],
    ),
    // Unlimited numbering, an expression partition key, a filter on the partition key and one
    // on another column (which must stay above the numbering).
    (
        "SELECT item, rn FROM (SELECT item, sales, ROW_NUMBER() OVER (PARTITION BY UPPER(category) \
         ORDER BY sales) AS rn FROM shop WHERE category <> 'nuts') WHERE sales > 8 AND rn >= 2",
        &["('apple', 2)", "('plum', 3)", "('pear', 4)", "('leek', 2)", "('okra', 3)"],
    ),
    // `rn = 2` keeps only the second row of each partition.
    (
        "SELECT category, item FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY category ORDER BY sales DESC) \
         AS rn FROM shop) WHERE rn = 2 AND category = 'fruit'",
        &["('fruit', 'plum')"],
    ),
];

fn run(session: &mut Session, sql: &str) -> Result<Vec<String>, String> {
    match session.execute(sql).map_err(|e| e.to_string())?.pop() {
        Some(Outcome::Rows { rows, .. }) => {
            let mut rows: Vec<String> = rows.iter().map(|r| r.to_string()).collect();
            if !sql.contains("ORDER BY user_id") {
                rows.sort();
            }
            Ok(rows)
        }
        other => Err(format!("not rows: {other:?}")),
    }
}

#[test]
fn top_n_and_deduplication_on_every_engine() {
    let engines: Vec<(&str, Session)> = vec![
        ("oracle", Session::with_engine(Box::new(OracleEngine))),
        ("dataflow 1", Session::with_engine(Box::new(DataflowEngine { workers: 1 }))),
        ("dataflow 3", Session::with_engine(Box::new(DataflowEngine { workers: 3 }))),
    ];
    let mut failures = Vec::new();
    for (engine, mut session) in engines {
        session.execute(SETUP).unwrap();
        for (sql, expected) in CASES {
            let mut expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
            if !sql.contains("ORDER BY user_id") {
                expected.sort();
            }
            let got = run(&mut session, sql);
            if got.as_ref() != Ok(&expected) {
                failures.push(format!("{engine}: {sql}\n  expected {expected:?}\n  got      {got:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn explain_shows_the_numbering_and_the_top_n() {
    let mut session = Session::new();
    session.execute(SETUP).unwrap();
    let explain =
        |session: &mut Session, sql: &str| match &session.execute(&format!("EXPLAIN {sql}")).unwrap()[..] {
            [Outcome::Explain(text)] => text.clone(),
            other => panic!("{other:?}"),
        };
    let with_number = explain(
        &mut session,
        "SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY category ORDER BY sales DESC) AS rn \
         FROM shop) WHERE rn <= 3",
    );
    let (bound, optimized) = with_number.split_once("== Optimized plan ==").unwrap();
    assert!(bound.contains("RowNumber rn order [#2 DESC] partition [#0]"), "{with_number}");
    assert!(bound.contains("Filter"), "{with_number}");
    assert!(optimized.contains("RowNumber rn order [#2 DESC] partition [#0] limit 3"), "{with_number}");
    assert!(!optimized.split("== ").next().unwrap().contains("Filter"), "{with_number}");
    let without_number = explain(
        &mut session,
        "SELECT category, item FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY category ORDER BY sales DESC) \
         AS rn FROM shop) WHERE rn = 1",
    );
    let optimized = without_number.split_once("== Optimized plan ==").unwrap().1;
    assert!(optimized.contains("TopK order [#2 DESC] partition [#0] limit 1"), "{without_number}");
    assert!(!optimized.contains("RowNumber"), "{without_number}");
}

#[test]
fn other_window_functions_are_refused_clearly() {
    let mut session = Session::new();
    session.execute(SETUP).unwrap();
    let cases = [
        ("SELECT NTILE(4) OVER (ORDER BY sales) FROM shop", "the window function NTILE"),
        ("SELECT PERCENT_RANK() OVER (ORDER BY sales) FROM shop", "the window function PERCENT_RANK"),
        ("SELECT SUM(sales) OVER (ORDER BY sales GROUPS 1 PRECEDING) FROM shop", "GROUPS frames"),
        ("SELECT ROW_NUMBER() OVER (ORDER BY sales) + 1 FROM shop", "a window function must be a whole"),
        ("SELECT category, ROW_NUMBER() OVER (ORDER BY category) FROM shop GROUP BY category", "groups"),
        ("SELECT COUNT(*), ROW_NUMBER() OVER () FROM shop", "groups or aggregates"),
        (
            "SELECT ROW_NUMBER() OVER (ORDER BY sales ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM shop",
            "window frame",
        ),
    ];
    for (sql, expected) in cases {
        let error = session.execute(sql).expect_err(sql).to_string();
        assert!(error.contains("not supported") && error.contains(expected), "{sql}: {error}");
    }
}
