//! The same statements through a `Session` on the reference evaluator and on the dataflow
//! engine ([`DataflowEngine`]: optimizer, decorrelation, differential renderer): every
//! construct the binder knows must give the same rows.

use eddy_sql::engine::{DataflowEngine, OracleEngine};
use eddy_sql::session::{Outcome, Session};

const SETUP: &str = "CREATE TABLE t (a INT, b VARCHAR(10), c DECIMAL(10, 2));
     INSERT INTO t VALUES (1, 'x', 1.50), (2, 'y', 2.25), (3, 'x', NULL), (NULL, 'z', 4), (2, 'y', 2.25);
     CREATE TABLE u (a INTEGER, d TEXT);
     INSERT INTO u (d, a) VALUES ('one', 1), ('three', 3), ('three again', 3), ('five', 5);
     UPDATE u SET d = 'FIVE' WHERE a = 5;
     DELETE FROM t WHERE a = 1;";

const QUERIES: &[&str] = &[
    "SELECT a, b FROM t WHERE c > 2 ORDER BY a",
    "SELECT b, COUNT(*), SUM(c), MIN(a), MAX(a), AVG(a) FROM t GROUP BY b",
    "SELECT COUNT(*), COUNT(a), COUNT(DISTINCT b) FROM t",
    "SELECT COUNT(*) FILTER (WHERE b = 'y') FROM t",
    "SELECT COUNT(*) FROM t WHERE a > 100",
    "SELECT b FROM t GROUP BY b HAVING COUNT(*) > 1",
    "SELECT a FROM t ORDER BY a DESC LIMIT 2 OFFSET 1",
    "SELECT b FROM t ORDER BY c DESC NULLS FIRST",
    "SELECT DISTINCT b FROM t",
    "SELECT t.a, u.d FROM t JOIN u ON t.a = u.a",
    "SELECT * FROM t LEFT JOIN u USING (a)",
    "SELECT * FROM t RIGHT JOIN u ON t.a = u.a",
    "SELECT a FROM t FULL JOIN u USING (a)",
    "SELECT * FROM t NATURAL JOIN u",
    "SELECT s.n FROM (SELECT a * 10 AS n FROM t) AS s WHERE s.n > 10",
    "WITH big AS (SELECT a FROM t WHERE a >= 2) SELECT COUNT(*) FROM big",
    "SELECT a FROM t UNION SELECT a FROM u",
    "SELECT a FROM u UNION ALL SELECT a FROM t",
    "SELECT a FROM t INTERSECT SELECT a FROM u",
    "SELECT a FROM t EXCEPT SELECT a FROM u",
    "SELECT a FROM u EXCEPT ALL SELECT a FROM t",
    "SELECT a FROM t INTERSECT ALL SELECT a FROM t",
    "VALUES (1, 'a'), (2.5, 'bb')",
    "SELECT 1 + 1, 'x' || 'y'",
    "SELECT c FROM t UNION ALL SELECT a FROM u",
    "SELECT a FROM t WHERE a IN (SELECT a FROM u)",
    "SELECT a FROM t WHERE a NOT IN (SELECT a FROM u WHERE a < 3)",
    "SELECT a FROM t WHERE EXISTS (SELECT * FROM u WHERE u.a = t.a)",
    "SELECT a, (SELECT COUNT(*) FROM u WHERE u.a = t.a) FROM t",
    "SELECT b FROM t GROUP BY b HAVING COUNT(*) > (SELECT COUNT(*) FROM u WHERE a = 1)",
    "SELECT t.a FROM t JOIN u ON t.a = u.a AND u.a IN (SELECT a FROM u WHERE d = 'one')",
    "SELECT a + 1 AS x FROM t WHERE a > 1 ORDER BY -x",
    "SELECT b FROM t ORDER BY a DESC",
    "SELECT a, a > ALL (SELECT a FROM u WHERE a < 3), a < ANY (SELECT c FROM t) FROM t",
];

fn run(session: &mut Session, sql: &str) -> Result<Vec<String>, String> {
    match session.execute(sql).map_err(|e| e.to_string())?.pop() {
        Some(Outcome::Rows { rows, .. }) => {
            let mut rows: Vec<String> = rows.iter().map(|r| r.to_string()).collect();
            if !sql.contains("ORDER BY") {
                rows.sort();
            }
            Ok(rows)
        }
        other => Err(format!("not rows: {other:?}")),
    }
}

#[test]
fn the_dataflow_engine_agrees_with_the_oracle() {
    let mut oracle = Session::with_engine(Box::new(OracleEngine));
    let mut dataflow = Session::with_engine(Box::new(DataflowEngine { workers: 2 }));
    oracle.execute(SETUP).unwrap();
    dataflow.execute(SETUP).unwrap();
    let sorted = |session: &Session| {
        let mut tables = session.tables().clone();
        tables.values_mut().for_each(|rows| rows.sort());
        tables
    };
    assert_eq!(sorted(&oracle), sorted(&dataflow), "DML evaluated by either engine");
    let mut failures = Vec::new();
    for sql in QUERIES {
        let expected = run(&mut oracle, sql);
        let got = run(&mut dataflow, sql);
        if expected != got || expected.is_err() {
            failures.push(format!("{sql}\n  oracle   {expected:?}\n  dataflow {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
