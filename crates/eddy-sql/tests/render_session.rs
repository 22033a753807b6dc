//! SQL end to end on the differential renderer: a `Session` whose engine is
//! `DataflowEngine` (bind, optimize, render in an eddy job) answers every query of the
//! binder's repertoire (correlated subqueries included, decorrelated by the optimizer) as the
//! reference evaluator does.

use eddy_sql::engine::DataflowEngine;
use eddy_sql::session::{Outcome, Session};
use eddy_sql::Row;

const SETUP: &str = "CREATE TABLE t (a INT, b VARCHAR(10), c DECIMAL(10, 2));
     INSERT INTO t VALUES (1, 'x', 1.50), (2, 'y', 2.25), (3, 'x', NULL), (NULL, 'z', 4), (3, 'x', NULL);
     CREATE TABLE u (a INTEGER, d TEXT);
     INSERT INTO u (d, a) VALUES ('one', 1), ('three', 3), ('three again', 3), ('five', 5), (NULL, NULL);";

/// Queries of the session tests (`session_basics.rs`), on slightly different data (duplicates
/// and `NULL` keys on both sides).
const QUERIES: &[&str] = &[
    "SELECT a, b FROM t WHERE c > 2 ORDER BY a",
    "SELECT a, b FROM t WHERE c > 2 ORDER BY a DESC",
    "SELECT a FROM t ORDER BY a NULLS LAST",
    "SELECT a FROM t ORDER BY c DESC, a",
    "SELECT b, COUNT(*), SUM(c), MIN(a), MAX(a) FROM t GROUP BY b ORDER BY b",
    "SELECT COUNT(*), COUNT(a), COUNT(DISTINCT b), AVG(a) FROM t",
    "SELECT COUNT(*) FILTER (WHERE b = 'x') FROM t",
    "SELECT COUNT(*) FROM t WHERE a > 100",
    "SELECT b FROM t GROUP BY b HAVING COUNT(*) > 1",
    "SELECT b AS k, COUNT(*) FROM t GROUP BY k ORDER BY 2 DESC, 1",
    "SELECT b, COUNT(*) FROM t GROUP BY 1 ORDER BY b",
    "SELECT a + 1 AS n FROM t WHERE a IS NOT NULL ORDER BY n DESC LIMIT 2",
    "SELECT a FROM t ORDER BY a LIMIT 2 OFFSET 1",
    "SELECT b FROM t ORDER BY a DESC",
    "SELECT DISTINCT b FROM t ORDER BY b",
    "SELECT t.a, u.d FROM t JOIN u ON t.a = u.a ORDER BY u.d",
    "SELECT t.a, d FROM t, u WHERE t.a = u.a AND d LIKE 'three%' ORDER BY 2",
    "SELECT * FROM t JOIN u USING (a) ORDER BY d",
    "SELECT * FROM t NATURAL JOIN u WHERE a = 1",
    "SELECT t.a, u.a FROM t LEFT JOIN u ON t.a = u.a AND u.d = 'one' ORDER BY t.a",
    "SELECT t.a, u.a FROM t RIGHT JOIN u ON t.a = u.a ORDER BY u.a, u.d",
    "SELECT a FROM t FULL JOIN u USING (a) ORDER BY a",
    "SELECT x.a FROM t AS x CROSS JOIN u AS y WHERE x.a = y.a AND y.d = 'one'",
    "SELECT s.n FROM (SELECT a * 10 AS n FROM t) AS s WHERE s.n > 10 ORDER BY 1",
    "SELECT q.* FROM (SELECT a, b FROM t) q(x, y) WHERE q.x = 2",
    "WITH big AS (SELECT a FROM t WHERE a >= 2) SELECT COUNT(*) FROM big",
    "WITH a1 AS (SELECT 1 AS one), a2 AS (SELECT one + 1 AS two FROM a1) SELECT * FROM a2",
    "SELECT a FROM t WHERE a IN (SELECT a FROM u) ORDER BY a",
    "SELECT a FROM t WHERE a NOT IN (SELECT a FROM u WHERE a < 3)",
    "SELECT a FROM t WHERE EXISTS (SELECT * FROM u WHERE u.a = t.a) ORDER BY a",
    "SELECT a FROM t WHERE NOT EXISTS (SELECT * FROM u WHERE u.a = t.a) ORDER BY a",
    "SELECT a, (SELECT COUNT(*) FROM u WHERE u.a = t.a) AS n FROM t ORDER BY a",
    "SELECT a, (SELECT MAX(d) FROM u WHERE u.a = t.a) FROM t WHERE a = 3",
    "SELECT b FROM t GROUP BY b HAVING COUNT(*) > (SELECT COUNT(*) FROM u WHERE a = 1)",
    "SELECT a FROM t WHERE a = (SELECT MIN(a) FROM u)",
    "SELECT a FROM t WHERE EXISTS (SELECT 1 FROM u WHERE EXISTS (SELECT 1 FROM t AS t2 WHERE t2.a = u.a AND u.a = t.a))",
    "SELECT a FROM t UNION SELECT a FROM u ORDER BY 1",
    "SELECT a FROM u UNION ALL SELECT a FROM u ORDER BY a",
    "SELECT a FROM t INTERSECT SELECT a FROM u",
    "SELECT a FROM t EXCEPT SELECT a FROM u ORDER BY a",
    "SELECT a FROM u EXCEPT ALL SELECT a FROM t",
    "SELECT c FROM t WHERE a = 1 UNION ALL SELECT a FROM u WHERE a = 5",
    "VALUES (1, 'a'), (2.5, 'bb')",
    "SELECT 1 + 1, 'x' || 'y'",
    "SELECT * FROM (VALUES (1), (2)) AS v(n) WHERE n > 1",
    "SELECT a FROM t ORDER BY b DESC, a DESC LIMIT 1",
    "SELECT b, SUM(a) FROM t GROUP BY b ORDER BY SUM(a) DESC NULLS LAST",
    "SELECT b FROM t GROUP BY b ORDER BY COUNT(*) DESC, b LIMIT 1",
    "SELECT a * 2 FROM t WHERE a > 1 ORDER BY a * 2",
    "SELECT a + 1 AS x FROM t WHERE a > 1 ORDER BY -x",
    "SELECT b, COUNT(*) AS n FROM t GROUP BY b ORDER BY n * -1, b",
    "SELECT COUNT(*) FROM t AS x JOIN t AS y ON x.b = y.b",
    "SELECT t.a FROM t JOIN u ON t.a = u.a AND u.a IN (SELECT a FROM u WHERE d = 'one')",
    "SELECT \"A\" FROM (SELECT a AS \"A\" FROM t) s WHERE \"A\" = 1",
];

fn rows(session: &mut Session, sql: &str) -> Result<Vec<Row>, String> {
    match session.execute(sql).map_err(|e| e.to_string())?.pop() {
        Some(Outcome::Rows { rows, .. }) => Ok(rows),
        other => Err(format!("expected rows, got {other:?}")),
    }
}

#[test]
fn the_differential_engine_answers_as_the_oracle() {
    let mut oracle = Session::new();
    oracle.execute(SETUP).expect("setup");
    let mut failures = Vec::new();
    for workers in [1, 3] {
        let mut differential = Session::with_engine(Box::new(DataflowEngine { workers }));
        differential.execute(SETUP).expect("setup");
        for sql in QUERIES {
            let expected = rows(&mut oracle, sql).unwrap_or_else(|e| panic!("oracle: {sql}: {e}"));
            match rows(&mut differential, sql) {
                Err(error) => failures.push(format!("{sql} ({workers} workers): {error}")),
                Ok(mut actual) => {
                    let mut expected = expected;
                    if !sql.contains("ORDER BY") {
                        actual.sort();
                        expected.sort();
                    }
                    if actual != expected {
                        failures.push(format!("{sql} ({workers} workers): {actual:?} != {expected:?}"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}
