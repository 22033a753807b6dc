//! Snapshots of bound plans (`EXPLAIN`), one per construct the binder knows, so a change in
//! binding shows up as a readable diff. The plans are as bound: no optimization.

use eddy_sql::session::{Outcome, Session};

fn session() -> Session {
    let mut session = Session::new();
    session
        .execute(
            "CREATE TABLE t (a INT, b VARCHAR(10), c DECIMAL(10, 2));
             CREATE TABLE u (a INT, d STRING);
             CREATE TABLE w (x BIGINT, y DOUBLE);
             CREATE VIEW tv AS SELECT a, b FROM t WHERE a > 0;",
        )
        .expect("setup");
    session
}

fn explain(sql: &str) -> String {
    let mut session = session();
    match session.execute(&format!("EXPLAIN {sql}")) {
        Ok(outcomes) => match &outcomes[..] {
            [Outcome::Explain(text)] => {
                // EXPLAIN prints the bound plan, the optimized plan and the dataflow; these
                // snapshots are of the binder's part.
                let bound = text
                    .strip_prefix("== Logical plan ==\n")
                    .and_then(|rest| rest.split("\n== Optimized plan ==").next())
                    .unwrap_or_else(|| panic!("{sql}: EXPLAIN without a logical plan:\n{text}"));
                format!("{sql}\n---\n{bound}")
            }
            other => panic!("{sql}: {other:?}"),
        },
        Err(error) => panic!("{sql}: {error}"),
    }
}

macro_rules! plan {
    ($name:ident, $sql:expr) => {
        #[test]
        fn $name() {
            insta::assert_snapshot!(stringify!($name), explain($sql));
        }
    };
}

plan!(select_where, "SELECT a + 1 AS n, b FROM t WHERE c > 1.5");
plan!(select_star_qualified, "SELECT u.*, t.b FROM t, u WHERE t.a = u.a");
plan!(select_without_from, "SELECT 1, 'x'");
plan!(inner_join_on, "SELECT t.a, d FROM t JOIN u ON t.a = u.a AND d <> 'x'");
plan!(left_join, "SELECT * FROM t LEFT JOIN u ON t.a = u.a");
plan!(right_join, "SELECT * FROM t RIGHT OUTER JOIN u ON t.a = u.a");
plan!(full_join_using, "SELECT * FROM t FULL JOIN u USING (a)");
plan!(natural_join, "SELECT * FROM t NATURAL JOIN u");
plan!(cross_join, "SELECT * FROM t CROSS JOIN w");
plan!(join_widens_types, "SELECT * FROM t JOIN w ON t.a = w.x");
plan!(derived_table_with_column_aliases, "SELECT s.k FROM (SELECT a, b FROM t) AS s(k, v) WHERE s.v = 'x'");
plan!(view_is_inlined, "SELECT b FROM tv");
plan!(
    with_ctes,
    "WITH big AS (SELECT a FROM t WHERE a > 10), more AS (SELECT a FROM big) SELECT * FROM more"
);
plan!(group_by_having, "SELECT b, COUNT(*), SUM(c), AVG(a) FROM t GROUP BY b HAVING MAX(a) > 1");
plan!(aggregate_without_group, "SELECT COUNT(DISTINCT b), MIN(a) FILTER (WHERE c > 0) FROM t");
plan!(group_by_expression_and_ordinal, "SELECT a % 2 AS parity, COUNT(*) FROM t GROUP BY 1");
plan!(group_by_alias, "SELECT a % 2 AS parity, COUNT(*) FROM t GROUP BY parity");
plan!(aggregate_of_decimal_and_double, "SELECT SUM(c), SUM(y), AVG(x) FROM t, w");
plan!(distinct, "SELECT DISTINCT b FROM t");
plan!(order_by_presentation, "SELECT a, b FROM t ORDER BY b DESC, 1");
plan!(order_by_hidden_column, "SELECT b FROM t ORDER BY c NULLS LAST");
plan!(order_by_aggregate, "SELECT b FROM t GROUP BY b ORDER BY COUNT(*) DESC");
plan!(limit_offset, "SELECT a FROM t ORDER BY a LIMIT 10 OFFSET 5");
plan!(limit_in_subquery, "SELECT * FROM (SELECT a FROM t ORDER BY a DESC LIMIT 3) AS top3");
plan!(union_unifies_types, "SELECT a, b FROM t UNION SELECT x, 'w' FROM w");
plan!(
    union_all_except_intersect,
    "SELECT a FROM t UNION ALL SELECT a FROM u EXCEPT SELECT a FROM t INTERSECT SELECT a FROM u"
);
plan!(values_unify_types, "VALUES (1, 'a'), (2.5, NULL), (3, 'ccc')");
plan!(in_subquery, "SELECT a FROM t WHERE a IN (SELECT x FROM w)");
plan!(not_in_subquery, "SELECT a FROM t WHERE a NOT IN (SELECT a FROM u)");
plan!(exists_correlated, "SELECT a FROM t WHERE EXISTS (SELECT * FROM u WHERE u.a = t.a)");
plan!(scalar_subquery_in_select, "SELECT a, (SELECT MAX(d) FROM u WHERE u.a = t.a) AS top_d FROM t");
plan!(subquery_in_having, "SELECT b FROM t GROUP BY b HAVING COUNT(*) > (SELECT COUNT(*) FROM u)");
plan!(doubly_nested_correlation, "SELECT a FROM t WHERE EXISTS (SELECT 1 FROM u WHERE EXISTS (SELECT 1 FROM w WHERE w.x = t.a AND w.y > u.a))");
plan!(quantified_comparison, "SELECT a FROM t WHERE a > ALL (SELECT x FROM w)");
