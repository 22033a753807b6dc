//! The dataflow engine (optimizer + differential renderer in an eddy job) against the
//! reference evaluator, through whole sessions: the same statements, the same answers, at one
//! and at three workers.

use eddy_sql::engine::DataflowEngine;
use eddy_sql::engine::OracleEngine;
use eddy_sql::session::{Outcome, Session};
use eddy_sql::Row;

const SETUP: &str = "
    CREATE TABLE emp (id INT, name VARCHAR, dept INT, salary DECIMAL(10, 2), boss INT);
    INSERT INTO emp VALUES
        (1, 'ann', 10, 5000.00, NULL), (2, 'bob', 10, 4000.00, 1), (3, 'cid', 20, 4500.50, 1),
        (4, 'dan', 20, NULL, 3), (5, 'eve', 30, 3000.00, 3), (6, 'fay', NULL, 2500.00, 5),
        (7, 'bob', 10, 4000.00, 1);
    CREATE TABLE dept (id INT, title VARCHAR, budget BIGINT);
    INSERT INTO dept VALUES (10, 'eng', 100000), (20, 'ops', 50000), (40, 'law', NULL), (NULL, 'void', 1);
";

const QUERIES: &[&str] = &[
    "SELECT name, salary * 2 FROM emp WHERE dept = 10 OR salary IS NULL",
    "SELECT e.name, d.title FROM emp e JOIN dept d ON e.dept = d.id",
    "SELECT e.name, d.title FROM emp e LEFT JOIN dept d ON e.dept = d.id AND d.budget > 60000",
    "SELECT e.name, d.title FROM emp e RIGHT JOIN dept d ON e.dept = d.id",
    "SELECT e.name, d.title FROM emp e FULL JOIN dept d ON e.dept = d.id AND e.salary > 4200",
    "SELECT e.name, d.title FROM emp e JOIN dept d ON e.dept < d.id",
    "SELECT a.name, b.name FROM emp a JOIN emp b ON a.boss = b.id",
    "SELECT dept, COUNT(*), SUM(salary), MIN(name), MAX(salary), AVG(salary) FROM emp GROUP BY dept",
    "SELECT dept, COUNT(DISTINCT name), COUNT(salary) FILTER (WHERE salary > 3000) FROM emp GROUP BY dept HAVING COUNT(*) > 1",
    "SELECT COUNT(*), SUM(salary) FROM emp WHERE id > 100",
    "SELECT DISTINCT name FROM emp",
    "SELECT name FROM emp UNION SELECT title FROM dept",
    "SELECT name FROM emp UNION ALL SELECT title FROM dept",
    "SELECT dept FROM emp EXCEPT SELECT id FROM dept",
    "SELECT dept FROM emp EXCEPT ALL SELECT id FROM dept",
    "SELECT dept FROM emp INTERSECT SELECT id FROM dept",
    "SELECT dept FROM emp INTERSECT ALL SELECT id FROM dept",
    "SELECT name, salary FROM emp ORDER BY salary DESC, name LIMIT 3",
    "SELECT name FROM emp ORDER BY id LIMIT 2 OFFSET 2",
    "SELECT name FROM emp WHERE dept IN (SELECT id FROM dept WHERE budget > 10)",
    "SELECT name FROM emp WHERE dept NOT IN (SELECT id FROM dept)",
    "SELECT name FROM emp WHERE dept NOT IN (SELECT id FROM dept WHERE id IS NOT NULL)",
    "SELECT name FROM emp e WHERE EXISTS (SELECT * FROM emp s WHERE s.boss = e.id)",
    "SELECT name FROM emp e WHERE NOT EXISTS (SELECT * FROM dept d WHERE d.id = e.dept)",
    "SELECT name, (SELECT title FROM dept d WHERE d.id = e.dept) FROM emp e",
    "SELECT name FROM emp e WHERE salary > (SELECT AVG(salary) FROM emp s WHERE s.dept = e.dept)",
    "SELECT title, (SELECT COUNT(*) FROM emp e WHERE e.dept = d.id) FROM dept d",
    "SELECT id FROM dept d WHERE (SELECT COUNT(*) FROM emp e WHERE e.dept = d.id) = 0",
    "WITH big AS (SELECT * FROM emp WHERE salary >= 4000) SELECT a.name, b.name FROM big a JOIN big b ON a.dept = b.dept AND a.id < b.id",
    "SELECT * FROM (VALUES (1, 'a'), (2, 'b'), (2, 'b')) AS v(x, y) WHERE x > 1",
    "SELECT CASE WHEN salary > 4000 THEN 'high' ELSE 'low' END AS band, COUNT(*) FROM emp GROUP BY CASE WHEN salary > 4000 THEN 'high' ELSE 'low' END",
    "SELECT d.title, SUM(e.salary) FROM dept d JOIN emp e ON e.dept = d.id GROUP BY d.title ORDER BY 2 DESC LIMIT 1",
];

fn run(engine: Option<DataflowEngine>) -> Vec<Result<Vec<Row>, String>> {
    let mut session = match engine {
        Some(engine) => Session::with_engine(Box::new(engine)),
        None => Session::with_engine(Box::new(OracleEngine)),
    };
    session.execute(SETUP).expect("setup");
    QUERIES
        .iter()
        .map(|sql| match session.execute(sql) {
            Ok(outcomes) => match outcomes.last() {
                Some(Outcome::Rows { rows, .. }) => {
                    let mut rows = rows.clone();
                    rows.sort();
                    Ok(rows)
                }
                other => Err(format!("no rows: {other:?}")),
            },
            Err(error) => Err(error.to_string()),
        })
        .collect()
}

#[test]
fn the_dataflow_answers_as_the_reference_evaluator_at_any_worker_count() {
    let expected = run(None);
    for (sql, result) in QUERIES.iter().zip(&expected) {
        assert!(result.is_ok(), "the oracle fails {sql}: {result:?}");
    }
    for workers in [1, 3] {
        let actual = run(Some(DataflowEngine { workers }));
        for ((sql, want), got) in QUERIES.iter().zip(&expected).zip(&actual) {
            assert_eq!(got, want, "{workers} workers: {sql}");
        }
    }
}

#[test]
fn a_row_error_fails_the_query_with_the_row() {
    let mut session = Session::with_engine(Box::new(DataflowEngine::default()));
    session.execute("CREATE TABLE t (a INT, b INT); INSERT INTO t VALUES (1, 1), (2, 0)").unwrap();
    let error = session.execute("SELECT a / b FROM t").unwrap_err().to_string();
    assert!(error.contains("division by zero"), "{error}");
}
