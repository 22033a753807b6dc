//! The optimizer on plans the binder builds from SQL: `EXPLAIN` snapshots of the optimized
//! plans of typical queries (subqueries of each kind, nested correlation, joins to order,
//! outer joins a filter makes inner), each checked against the oracle on the session's tables.

mod optimize_support;

use eddy_sql::session::Session;
use optimize_support::check_on;

const SETUP: &str = "
    CREATE TABLE emp (id INT, name VARCHAR, dept INT, salary INT, boss INT);
    INSERT INTO emp VALUES
        (1, 'ann', 10, 5000, NULL), (2, 'bob', 10, 4000, 1), (3, 'cid', 20, 4500, 1),
        (4, 'dan', 20, NULL, 3), (5, 'eve', 30, 3000, 3), (6, 'fay', NULL, 2500, 5),
        (7, 'bob', 10, 4000, 1);
    CREATE TABLE dept (id INT, title VARCHAR, budget BIGINT);
    INSERT INTO dept VALUES (10, 'eng', 100000), (20, 'ops', 50000), (40, 'law', NULL), (NULL, 'void', 1);
    CREATE TABLE pay (name VARCHAR, amount DECIMAL(10, 2));
    INSERT INTO pay VALUES ('ann', 10.50), ('bob', 10.5), ('bob', NULL), (NULL, 3.00), ('eve', 2.25);
    CREATE TABLE site (dept INT, city VARCHAR);
    INSERT INTO site VALUES (10, 'oslo'), (20, 'rome'), (20, 'oslo'), (NULL, 'nowhere');
";

const QUERIES: &[(&str, &str)] = &[
    ("correlated_scalar_aggregate", "SELECT name FROM emp e WHERE salary > (SELECT AVG(salary) FROM emp s WHERE s.dept = e.dept)"),
    ("correlated_count", "SELECT title, (SELECT COUNT(*) FROM emp e WHERE e.dept = d.id) FROM dept d"),
    ("correlated_scalar_value", "SELECT name, (SELECT title FROM dept d WHERE d.id = e.dept) FROM emp e"),
    ("exists", "SELECT name FROM emp e WHERE EXISTS (SELECT * FROM emp s WHERE s.boss = e.id)"),
    ("not_exists", "SELECT name FROM emp e WHERE NOT EXISTS (SELECT * FROM dept d WHERE d.id = e.dept)"),
    ("in", "SELECT name FROM emp WHERE dept IN (SELECT id FROM dept WHERE budget > 10)"),
    ("not_in", "SELECT name FROM emp WHERE dept NOT IN (SELECT id FROM dept)"),
    ("in_in_select_list", "SELECT name, dept IN (SELECT dept FROM site WHERE city = 'oslo') FROM emp"),
    (
        "nested_two_levels",
        "SELECT title FROM dept d WHERE EXISTS (SELECT * FROM emp e WHERE e.dept = d.id AND \
         e.salary > (SELECT AVG(salary) FROM emp s WHERE s.dept = d.id AND s.boss = e.boss))",
    ),
    (
        "correlated_on_strings_and_decimals",
        "SELECT name, (SELECT COUNT(*) FROM pay p WHERE p.name = e.name), \
         (SELECT MAX(q.name) FROM pay q WHERE q.amount = (SELECT MAX(amount) FROM pay r WHERE r.name = e.name)) \
         FROM emp e",
    ),
    (
        "three_way_join",
        "SELECT e.name, s.city FROM emp e, site s, dept d WHERE d.id = s.dept AND e.dept = d.id AND d.budget > 1000",
    ),
    (
        "left_join_made_inner",
        "SELECT e.name, d.title FROM emp e LEFT JOIN dept d ON e.dept = d.id WHERE d.budget > 60000",
    ),
    (
        "unused_columns_and_aggregates",
        "SELECT dept FROM (SELECT dept, COUNT(*) AS n, MAX(name) AS m FROM emp GROUP BY dept) AS g WHERE dept > 10",
    ),
];

#[test]
fn typical_queries() {
    let mut session = Session::new();
    session.execute(SETUP).expect("setup");
    for (name, sql) in QUERIES {
        let query = session.bind(sql).unwrap_or_else(|e| panic!("{name}: {e}"));
        let optimized = check_on(&query.plan, session.tables());
        insta::assert_snapshot!(*name, format!("{sql}\n\n{}", optimized.explain()));
    }
}
