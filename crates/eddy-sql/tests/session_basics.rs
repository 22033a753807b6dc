//! End-to-end `Session` tests through the reference evaluator: DDL, DML with its change
//! log, queries of every clause the binder knows, and errors with positions.

use eddy_sql::session::{Outcome, Session, SqlErrorKind};
use eddy_sql::{BindError, Row};

/// Runs `sql` and returns the last outcome's rows, each as `a|b|c`.
fn rows(session: &mut Session, sql: &str) -> Vec<String> {
    let outcomes = session.execute(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    match outcomes.last() {
        Some(Outcome::Rows { rows, .. }) => rows.iter().map(show).collect(),
        other => panic!("{sql}: expected rows, got {other:?}"),
    }
}

fn show(row: &Row) -> String {
    row.values()
        .iter()
        .map(|d| d.to_sql_string().unwrap_or_else(|| "NULL".into()))
        .collect::<Vec<_>>()
        .join("|")
}

fn session() -> Session {
    let mut session = Session::new();
    session
        .execute(
            "CREATE TABLE t (a INT, b VARCHAR(10), c DECIMAL(10, 2));
             INSERT INTO t VALUES (1, 'x', 1.50), (2, 'y', 2.25), (3, 'x', NULL), (NULL, 'z', 4);
             CREATE TABLE u (a INTEGER, d TEXT);
             INSERT INTO u (d, a) VALUES ('one', 1), ('three', 3), ('three again', 3), ('five', 5);",
        )
        .unwrap();
    session
}

/// `(query, expected rows)`: a query with `ORDER BY` must match in order, others as a multiset.
const CASES: &[(&str, &[&str])] = &[
    ("SELECT a, b FROM t WHERE c > 2 ORDER BY a", &["NULL|z", "2|y"]),
    ("SELECT a, b FROM t WHERE c > 2 ORDER BY a DESC", &["2|y", "NULL|z"]),
    ("SELECT a FROM t ORDER BY a NULLS LAST", &["1", "2", "3", "NULL"]),
    ("SELECT a FROM t ORDER BY c DESC, a", &["NULL", "2", "1", "3"]),
    ("SELECT b, COUNT(*), SUM(c), MIN(a), MAX(a) FROM t GROUP BY b ORDER BY b", &["x|2|1.50|1|3", "y|1|2.25|2|2", "z|1|4.00|NULL|NULL"]),
    ("SELECT COUNT(*), COUNT(a), COUNT(DISTINCT b), AVG(a) FROM t", &["4|3|3|2"]),
    ("SELECT COUNT(*) FILTER (WHERE b = 'x') FROM t", &["2"]),
    ("SELECT COUNT(*) FROM t WHERE a > 100", &["0"]),
    ("SELECT b FROM t GROUP BY b HAVING COUNT(*) > 1", &["x"]),
    ("SELECT b AS k, COUNT(*) FROM t GROUP BY k ORDER BY 2 DESC, 1", &["x|2", "y|1", "z|1"]),
    ("SELECT b, COUNT(*) FROM t GROUP BY 1 ORDER BY b", &["x|2", "y|1", "z|1"]),
    ("SELECT a + 1 AS n FROM t WHERE a IS NOT NULL ORDER BY n DESC LIMIT 2", &["4", "3"]),
    ("SELECT a FROM t ORDER BY a LIMIT 2 OFFSET 1", &["1", "2"]),
    ("SELECT a FROM t ORDER BY a OFFSET 2 ROWS FETCH FIRST 1 ROW ONLY", &["2"]),
    ("SELECT a FROM t WHERE a = ANY (SELECT a FROM u) ORDER BY a", &["1", "3"]),
    ("SELECT a FROM t WHERE a <> ALL (SELECT a FROM u WHERE a < 3)", &["2", "3"]),
    ("SELECT a FROM t WHERE a > ANY (SELECT a FROM u)", &["2", "3"]),
    ("SELECT a FROM t WHERE a <= ALL (SELECT a FROM u)", &["1"]),
    ("SELECT a, a > ALL (SELECT a FROM u WHERE a < 3) FROM t ORDER BY a", &["NULL|NULL", "1|FALSE", "2|TRUE", "3|TRUE"]),
    ("SELECT a, a > SOME (SELECT c FROM t WHERE c > 3 OR c IS NULL) FROM t WHERE a = 1", &["1|NULL"]),
    ("SELECT a > ALL (SELECT a FROM u WHERE a > 100), a < ANY (SELECT a FROM u WHERE a > 100) FROM t WHERE a = 1", &["TRUE|FALSE"]),
    ("SELECT b FROM t ORDER BY a DESC", &["x", "y", "x", "z"]),
    ("SELECT DISTINCT b FROM t ORDER BY b", &["x", "y", "z"]),
    ("SELECT t.a, u.d FROM t JOIN u ON t.a = u.a ORDER BY u.d", &["1|one", "3|three", "3|three again"]),
    ("SELECT t.a, d FROM t, u WHERE t.a = u.a AND d LIKE 'three%' ORDER BY 2", &["3|three", "3|three again"]),
    ("SELECT * FROM t JOIN u USING (a) ORDER BY d", &["1|x|1.50|one", "3|x|NULL|three", "3|x|NULL|three again"]),
    ("SELECT * FROM t NATURAL JOIN u WHERE a = 1", &["1|x|1.50|one"]),
    ("SELECT t.a, u.a FROM t LEFT JOIN u ON t.a = u.a AND u.d = 'one' ORDER BY t.a", &["NULL|NULL", "1|1", "2|NULL", "3|NULL"]),
    ("SELECT t.a, u.a FROM t RIGHT JOIN u ON t.a = u.a ORDER BY u.a, u.d", &["1|1", "3|3", "3|3", "NULL|5"]),
    ("SELECT a FROM t FULL JOIN u USING (a) ORDER BY a", &["NULL", "1", "2", "3", "3", "5"]),
    ("SELECT x.a FROM t AS x CROSS JOIN u AS y WHERE x.a = y.a AND y.d = 'one'", &["1"]),
    ("SELECT s.n FROM (SELECT a * 10 AS n FROM t) AS s WHERE s.n > 10 ORDER BY 1", &["20", "30"]),
    ("SELECT q.* FROM (SELECT a, b FROM t) q(x, y) WHERE q.x = 2", &["2|y"]),
    ("WITH big AS (SELECT a FROM t WHERE a >= 2) SELECT COUNT(*) FROM big", &["2"]),
    ("WITH a1 AS (SELECT 1 AS one), a2 AS (SELECT one + 1 AS two FROM a1) SELECT * FROM a2", &["2"]),
    ("SELECT a FROM t WHERE a IN (SELECT a FROM u) ORDER BY a", &["1", "3"]),
    ("SELECT a FROM t WHERE a NOT IN (SELECT a FROM u WHERE a < 3)", &["2", "3"]),
    ("SELECT a FROM t WHERE EXISTS (SELECT * FROM u WHERE u.a = t.a) ORDER BY a", &["1", "3"]),
    ("SELECT a FROM t WHERE NOT EXISTS (SELECT * FROM u WHERE u.a = t.a) ORDER BY a", &["NULL", "2"]),
    ("SELECT a, (SELECT COUNT(*) FROM u WHERE u.a = t.a) AS n FROM t ORDER BY a", &["NULL|0", "1|1", "2|0", "3|2"]),
    ("SELECT a, (SELECT MAX(d) FROM u WHERE u.a = t.a) FROM t WHERE a = 3", &["3|three again"]),
    ("SELECT b FROM t GROUP BY b HAVING COUNT(*) > (SELECT COUNT(*) FROM u WHERE a = 1)", &["x"]),
    ("SELECT a FROM t WHERE a = (SELECT MIN(a) FROM u)", &["1"]),
    ("SELECT a FROM t WHERE EXISTS (SELECT 1 FROM u WHERE EXISTS (SELECT 1 FROM t AS t2 WHERE t2.a = u.a AND u.a = t.a))", &["1", "3"]),
    ("SELECT a FROM t UNION SELECT a FROM u ORDER BY 1", &["NULL", "1", "2", "3", "5"]),
    ("SELECT a FROM u UNION ALL SELECT a FROM u ORDER BY a", &["1", "1", "3", "3", "3", "3", "5", "5"]),
    ("SELECT a FROM t INTERSECT SELECT a FROM u", &["1", "3"]),
    ("SELECT a FROM t EXCEPT SELECT a FROM u ORDER BY a", &["NULL", "2"]),
    ("SELECT a FROM u EXCEPT ALL SELECT a FROM t", &["3", "5"]),
    ("SELECT c FROM t WHERE a = 1 UNION ALL SELECT a FROM u WHERE a = 5", &["1.50", "5.00"]),
    ("VALUES (1, 'a'), (2.5, 'bb')", &["1.0|a", "2.5|bb"]),
    ("SELECT 1 + 1, 'x' || 'y'", &["2|xy"]),
    ("SELECT * FROM (VALUES (1), (2)) AS v(n) WHERE n > 1", &["2"]),
    ("SELECT a FROM t ORDER BY b DESC, a DESC LIMIT 1", &["NULL"]),
    ("SELECT b, SUM(a) FROM t GROUP BY b ORDER BY SUM(a) DESC NULLS LAST", &["x|4", "y|2", "z|NULL"]),
    ("SELECT b FROM t GROUP BY b ORDER BY COUNT(*) DESC, b LIMIT 1", &["x"]),
    ("SELECT a * 2 FROM t WHERE a > 1 ORDER BY a * 2", &["4", "6"]),
    ("SELECT a + 1 AS x FROM t WHERE a > 1 ORDER BY -x", &["4", "3"]),
    ("SELECT b, COUNT(*) AS n FROM t GROUP BY b ORDER BY n * -1, b", &["x|2", "y|1", "z|1"]),
    ("SELECT COUNT(*) FROM t AS x JOIN t AS y ON x.b = y.b", &["6"]),
    ("SELECT t.a FROM t JOIN u ON t.a = u.a AND u.a IN (SELECT a FROM u WHERE d = 'one')", &["1"]),
    ("SELECT \"A\" FROM (SELECT a AS \"A\" FROM t) s WHERE \"A\" = 1", &["1"]),
];

#[test]
fn queries_give_the_expected_rows() {
    let mut s = session();
    let mut failures = Vec::new();
    for (sql, expected) in CASES {
        let result = s.execute(sql);
        let got = match result {
            Ok(outcomes) => match outcomes.last() {
                Some(Outcome::Rows { rows, .. }) => rows.iter().map(show).collect::<Vec<_>>(),
                other => vec![format!("not rows: {other:?}")],
            },
            Err(e) => vec![format!("error: {e}")],
        };
        let mut expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        let mut got_cmp = got.clone();
        if !sql.contains("ORDER BY") {
            got_cmp.sort();
            expected.sort();
        }
        if got_cmp != expected {
            failures.push(format!("{sql}\n  expected {expected:?}\n  got      {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} failed:\n{}", failures.len(), CASES.len(), failures.join("\n"));
}

#[test]
fn columns_are_named_as_flink_names_them() {
    let mut s = session();
    let outcomes = s.execute("SELECT a, t.b, a + 1, COUNT(*) OVER_NOT_A_WINDOW FROM t").err();
    assert!(outcomes.is_some(), "a misspelt clause is a syntax or bind error");
    let outcomes = s.execute("SELECT a, t.b, c * 2 AS double_c, a + 1 FROM t").unwrap();
    let Outcome::Rows { columns, .. } = &outcomes[0] else { panic!("rows") };
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "double_c", "EXPR$3"]);
    let outcomes = s.execute("SELECT COUNT(*), SUM(a) FROM t").unwrap();
    let Outcome::Rows { columns, .. } = &outcomes[0] else { panic!("rows") };
    assert_eq!(columns[0].name, "EXPR$0");
    assert_eq!(columns[0].ty.to_string(), "BIGINT");
    assert_eq!(columns[1].ty.to_string(), "INT", "SUM(INT) is INT, as Flink");
}

#[test]
fn dml_records_its_changes() {
    let mut s = session();
    assert_eq!(s.changes("t").len(), 1, "the INSERT is one batch");
    assert_eq!(s.changes("t")[0].len(), 4);
    let outcomes = s.execute("UPDATE t SET c = c * 2, b = 'w' WHERE a >= 2").unwrap();
    assert_eq!(outcomes, [Outcome::Done { message: "2 rows updated".into() }]);
    assert_eq!(rows(&mut s, "SELECT a, b, c FROM t WHERE b = 'w' ORDER BY a"), ["2|w|4.50", "3|w|NULL"]);
    let update = &s.changes("t")[1];
    assert_eq!(update.len(), 4);
    assert_eq!(update.iter().map(|(_, d)| d).sum::<i64>(), 0, "-1/+1 per updated row");
    s.execute("DELETE FROM t WHERE a IN (SELECT a FROM u)").unwrap();
    assert_eq!(rows(&mut s, "SELECT COUNT(*) FROM t"), ["2"]);
    assert_eq!(s.changes("t")[2].iter().map(|(_, d)| *d).collect::<Vec<_>>(), [-1, -1]);
    s.execute("INSERT INTO t SELECT a, d, NULL FROM u WHERE a = 5").unwrap();
    assert_eq!(rows(&mut s, "SELECT b FROM t WHERE a = 5"), ["five"]);
    s.execute("DELETE FROM t").unwrap();
    assert_eq!(s.rows("t").map(<[Row]>::len), Some(0));
    assert_eq!(s.changes("t").len(), 5);
}

#[test]
fn ddl_statements() {
    let mut s = session();
    s.execute("CREATE VIEW xs AS SELECT a, c FROM t WHERE b = 'x'").unwrap();
    assert_eq!(rows(&mut s, "SELECT SUM(a) FROM xs"), ["4"]);
    s.execute("CREATE TEMPORARY VIEW named (p, q) AS SELECT a, b FROM t").unwrap();
    assert_eq!(rows(&mut s, "SELECT q FROM named WHERE p = 2"), ["y"]);
    assert!(s.execute("CREATE TABLE T (x INT)").is_err(), "names are case-insensitive");
    s.execute("CREATE TABLE IF NOT EXISTS t (x INT)").unwrap();
    s.execute("CREATE INDEX t_a ON t (a); CREATE UNIQUE INDEX u_a ON u (a, d)").unwrap();
    assert_eq!(rows(&mut s, "SHOW TABLES"), ["named", "t", "u", "xs"]);
    s.execute(
        "CREATE TABLE k (id BIGINT, name STRING, price NUMERIC(8, 3), at TIMESTAMP(3), day DATE,
             flag BOOLEAN, f REAL, g DOUBLE PRECISION, h SMALLINT, i CHAR(3), PRIMARY KEY (id))",
    )
    .unwrap();
    assert_eq!(
        rows(&mut s, "DESCRIBE k"),
        [
            "id|BIGINT|FALSE|PRI(id)|NULL|NULL",
            "name|STRING|TRUE|NULL|NULL|NULL",
            "price|DECIMAL(8, 3)|TRUE|NULL|NULL|NULL",
            "at|TIMESTAMP(3)|TRUE|NULL|NULL|NULL",
            "day|DATE|TRUE|NULL|NULL|NULL",
            "flag|BOOLEAN|TRUE|NULL|NULL|NULL",
            "f|DOUBLE|TRUE|NULL|NULL|NULL",
            "g|DOUBLE|TRUE|NULL|NULL|NULL",
            "h|INT|TRUE|NULL|NULL|NULL",
            "i|VARCHAR(3)|TRUE|NULL|NULL|NULL",
        ]
    );
    s.execute("DROP VIEW xs; DROP TABLE IF EXISTS nothing; DROP TABLE k").unwrap();
    assert!(s.execute("SELECT * FROM xs").is_err());
    assert!(s.execute("DROP TABLE k").is_err());
    s.execute("SET 'table.exec.mini-batch.enabled' = 'true'").unwrap();
    assert_eq!(s.settings().get("table.exec.mini-batch.enabled").map(String::as_str), Some("true"));
    s.execute("CREATE TABLE copy AS SELECT a, b FROM t WHERE a < 3").unwrap();
    assert_eq!(rows(&mut s, "SELECT * FROM copy ORDER BY a"), ["1|x", "2|y"]);
    let explained = s.execute("EXPLAIN SELECT b, COUNT(*) FROM t GROUP BY b").unwrap();
    assert!(matches!(&explained[0], Outcome::Explain(text) if text.contains("Aggregate")), "{explained:?}");
}

#[test]
fn a_large_insert_is_one_batch() {
    let mut s = Session::new();
    s.execute("CREATE TABLE big (n INT, s VARCHAR(20))").unwrap();
    let values: Vec<String> = (0..20_000).map(|i| format!("({i}, 'row {i}')")).collect();
    s.execute(&format!("INSERT INTO big VALUES {}", values.join(", "))).unwrap();
    assert_eq!(rows(&mut s, "SELECT COUNT(*), COUNT(DISTINCT s), MAX(n) FROM big"), ["20000|20000|19999"]);
    assert_eq!(s.changes("big").len(), 1);
    assert_eq!(s.changes("big")[0].len(), 20_000);
}

#[test]
fn connector_tables_are_checked_and_not_changed_by_statements() {
    let mut s = Session::new();
    s.execute("CREATE TABLE gen (id BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '3')").unwrap();
    let table = s.catalog().table_by_name("gen").unwrap();
    assert!(!table.is_in_memory());
    assert!(s.execute("INSERT INTO gen VALUES (1)").is_err());
    assert_eq!(rows(&mut s, "SELECT COUNT(*) FROM gen"), ["3"], "a bounded generator's rows are queryable");
    s.execute("CREATE TABLE mem (id BIGINT) WITH ('connector' = 'values')").unwrap();
    s.execute("INSERT INTO mem VALUES (1)").unwrap();
    assert!(s.execute("CREATE TABLE bad (id BIGINT) WITH ('connector' = 'no-such-thing')").is_err());
}

#[test]
fn errors_name_the_statement_and_the_position() {
    let mut s = session();
    let error = s.execute("SELECT 1;\nSELECT nope FROM t").unwrap_err();
    assert_eq!(error.statement, 2);
    assert!(matches!(&error.kind, SqlErrorKind::Bind(BindError::UnknownColumn { .. })), "{error}");
    assert!(error.to_string().contains("line 2, column 8"), "{error}");
    let error = s.execute("SELECT * FROM missing").unwrap_err();
    assert!(matches!(&error.kind, SqlErrorKind::Bind(BindError::UnknownTable { .. })), "{error}");
    let error = s.execute("SELECT a FROM t JOIN u ON t.a = u.a").unwrap_err();
    assert!(matches!(&error.kind, SqlErrorKind::Bind(BindError::AmbiguousColumn { .. })), "{error}");
    let error = s.execute("SELECT a FROM t WHERE COUNT(*) > 1").unwrap_err();
    assert!(matches!(&error.kind, SqlErrorKind::Bind(BindError::Grouping { .. })), "{error}");
    let error = s.execute("SELECT a, COUNT(*) FROM t").unwrap_err();
    assert!(error.to_string().contains("GROUP BY"), "{error}");
    let error = s.execute("SELECT b, a FROM t GROUP BY b").unwrap_err();
    assert!(matches!(&error.kind, SqlErrorKind::Bind(BindError::Grouping { .. })), "{error}");
    let error = s.execute("SELECT a FROM t UNION SELECT b FROM t").unwrap_err();
    assert!(matches!(&error.kind, SqlErrorKind::Bind(BindError::Type { .. })), "{error}");
    let error = s.execute("SELECT a FROM t UNION SELECT a, b FROM t").unwrap_err();
    assert!(matches!(&error.kind, SqlErrorKind::Bind(BindError::Type { .. })), "{error}");
    let error = s.execute("WITH RECURSIVE r AS (SELECT 1) SELECT * FROM r").unwrap_err();
    assert!(matches!(&error.kind, SqlErrorKind::Bind(BindError::Unsupported { .. })), "{error}");
    let error = s.execute("SELECT (SELECT a FROM u) FROM t").unwrap_err();
    assert!(matches!(&error.kind, SqlErrorKind::Engine(_)), "more than one row: {error}");
    let error = s.execute("SELECT FROM WHERE").unwrap_err();
    assert!(matches!(&error.kind, SqlErrorKind::Syntax(_)), "{error}");
    let error = s.execute("SELECT DISTINCT b FROM t ORDER BY a").unwrap_err();
    assert!(matches!(&error.kind, SqlErrorKind::Bind(BindError::Grouping { .. })), "{error}");
    let error = s.execute("INSERT INTO t (a) VALUES ('not a number')").unwrap_err();
    assert!(matches!(&error.kind, SqlErrorKind::Eval(_)), "{error}");
    assert_eq!(rows(&mut s, "SELECT COUNT(*) FROM t"), ["4"], "a failed INSERT changes nothing");
}
