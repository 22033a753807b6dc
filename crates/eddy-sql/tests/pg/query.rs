//! Random queries over a round's tables: projections, filters, joins of every kind (equi keys
//! plus residual conditions, cross joins), `GROUP BY`/`HAVING`, `DISTINCT`, set operations,
//! `IN`/`EXISTS`/scalar subqueries (correlated or not), `ORDER BY ... LIMIT` over a total
//! order, `VALUES`, derived tables and `WITH`.
//!
//! Every alias is unique within a query and every column name unique within a round, so any
//! reference is unambiguous, and a correlated reference is just an outer alias's column.

use super::expr::{aggregate, columns_of, expression, literal, predicate, Scope, ScopeColumn};
use super::rng::Rng;
use super::tables::{Family, Table, Ty};

/// A generated query and the families of its result columns (how to read PostgreSQL's text).
#[derive(Clone, Debug)]
pub struct Query {
    /// The SQL text, one statement without a `;`.
    pub sql: String,
    /// One family per result column.
    pub families: Vec<Family>,
}

/// A relation a `FROM` clause can name: a table or a common table expression.
#[derive(Clone, Debug)]
struct Source {
    name: String,
    columns: Vec<(String, Ty)>,
}

/// The state of one query's generation.
struct Generator<'a> {
    rng: &'a mut Rng,
    sources: Vec<Source>,
    next_alias: usize,
}

/// A random query over `tables`.
pub fn random_query(rng: &mut Rng, tables: &[Table]) -> Query {
    let sources = tables
        .iter()
        .map(|table| Source {
            name: table.name.clone(),
            columns: table.columns.iter().map(|column| (column.name.clone(), column.ty)).collect(),
        })
        .collect();
    let mut generator = Generator { rng, sources, next_alias: 0 };
    generator.query()
}

impl Generator<'_> {
    fn alias(&mut self) -> String {
        self.next_alias += 1;
        format!("x{}", self.next_alias)
    }

    fn query(&mut self) -> Query {
        let with = if self.rng.chance(12) { self.common_table_expression() } else { String::new() };
        let query = match self.rng.below(11) {
            0..=3 => self.select(None, false),
            4..=6 => self.grouped(),
            7 => self.select(None, true),
            8 => self.windowed(),
            _ => self.set_operation(),
        };
        Query { sql: format!("{with}{}", query.sql), families: query.families }
    }

    /// `WITH w AS (SELECT ...) `, adding `w` to the sources.
    fn common_table_expression(&mut self) -> String {
        let name = format!("w{}", self.next_alias);
        self.next_alias += 1;
        let inner = self.select(None, false);
        let columns: Vec<(String, Ty)> = inner
            .families
            .iter()
            .enumerate()
            .map(|(position, family)| (format!("{name}c{position}"), typical(*family)))
            .collect();
        let names: Vec<&str> = columns.iter().map(|(column, _)| column.as_str()).collect();
        let text = format!("WITH {name} ({}) AS ({}) ", names.join(", "), inner.sql);
        self.sources.push(Source { name, columns });
        text
    }

    /// One `FROM` item: a table (or CTE), a derived table or `VALUES`, with its scope.
    fn source_item(&mut self) -> (String, Scope) {
        let alias = self.alias();
        let source = self.rng.pick(&self.sources).clone();
        match self.rng.below(12) {
            0 => {
                // A derived table: some columns, renamed, filtered.
                let inner_alias = self.alias();
                let inner_scope = scope_of(&inner_alias, &source.columns);
                let keep: Vec<&ScopeColumn> = inner_scope.iter().filter(|_| self.rng.chance(70)).collect();
                let keep = if keep.is_empty() { vec![&inner_scope[0]] } else { keep };
                let filter = predicate(self.rng, &inner_scope, 1);
                let mut columns = Vec::new();
                let mut items = Vec::new();
                for (position, column) in keep.iter().enumerate() {
                    let name = format!("{alias}c{position}");
                    items.push(format!("{} AS {name}", column.sql));
                    columns.push((name, column.ty));
                }
                let mut inner_sql = format!(
                    "SELECT {} FROM {} AS {inner_alias} WHERE {filter}",
                    items.join(", "),
                    source.name
                );
                match self.rng.below(5) {
                    0 => inner_sql.push_str(&self.order_limit(columns.len())),
                    1 => {
                        // A set operation inside: the other side over another source.
                        let families: Vec<Family> = columns.iter().map(|(_, ty)| ty.family()).collect();
                        let other = self.select(Some(&families), false);
                        let operator = *self.rng.pick(&["UNION", "UNION ALL", "EXCEPT", "INTERSECT ALL"]);
                        inner_sql = format!("{inner_sql} {operator} {}", other.sql);
                    }
                    _ => {}
                }
                let sql = format!("({inner_sql}) AS {alias}");
                (sql, scope_of(&alias, &columns))
            }
            1 => {
                let types: Vec<Ty> = (0..self.rng.range(1, 3)).map(|_| Ty::random(self.rng)).collect();
                let mut rows = Vec::new();
                for row in 0..self.rng.range(1, 4) {
                    let values: Vec<String> = types
                        .iter()
                        .map(|ty| {
                            if row > 0 && self.rng.chance(20) {
                                "NULL".to_owned()
                            } else if ty.family() == Family::Float {
                                format!("CAST({} AS DOUBLE PRECISION)", literal(self.rng, Family::Float))
                            } else {
                                literal(self.rng, ty.family())
                            }
                        })
                        .collect();
                    rows.push(format!("({})", values.join(", ")));
                }
                let columns: Vec<(String, Ty)> = types
                    .iter()
                    .enumerate()
                    .map(|(position, ty)| (format!("{alias}c{position}"), typical(ty.family())))
                    .collect();
                let names: Vec<&str> = columns.iter().map(|(name, _)| name.as_str()).collect();
                let sql = format!("(VALUES {}) AS {alias} ({})", rows.join(", "), names.join(", "));
                (sql, scope_of(&alias, &columns))
            }
            _ => (format!("{} AS {alias}", source.name), scope_of(&alias, &source.columns)),
        }
    }

    /// A `FROM` clause: one item or a chain of joins.
    fn sources_clause(&mut self) -> (String, Scope) {
        let (mut sql, mut scope) = self.source_item();
        let n_joins = match self.rng.below(10) {
            0..=3 => 0,
            4..=8 => 1,
            _ => 2,
        };
        for join in 0..n_joins {
            let (right, right_scope) = self.source_item();
            // A comma binds looser than JOIN: a later `ON` could not see the tables before it.
            let kinds: &[&str] = match join + 1 == n_joins {
                true => &["JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN", "CROSS JOIN", ","],
                false => &["JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN", "CROSS JOIN"],
            };
            let kind = *self.rng.pick(kinds);
            let mut both = scope.clone();
            both.extend(right_scope.iter().cloned());
            if kind == "CROSS JOIN" || kind == "," {
                sql = format!("{sql} {} {right}", kind.trim_start_matches(' '));
                sql = sql.replace(" , ", ", ");
            } else {
                let mut conditions = Vec::new();
                for family in [Family::Exact, Family::Text, Family::Date] {
                    let left_columns = columns_of(&scope, family);
                    let right_columns = columns_of(&right_scope, family);
                    if !left_columns.is_empty()
                        && !right_columns.is_empty()
                        && (conditions.is_empty() || self.rng.chance(20))
                    {
                        // The first exact column is most often a table's key (values 0 to 4).
                        let key = family == Family::Exact && self.rng.chance(60);
                        let left =
                            if key { left_columns[0] } else { *self.rng.pick(&left_columns) }.sql.clone();
                        let right =
                            if key { right_columns[0] } else { *self.rng.pick(&right_columns) }.sql.clone();
                        conditions.push(format!("{left} = {right}"));
                    }
                }
                if conditions.is_empty() || self.rng.chance(35) {
                    conditions.push(predicate(self.rng, &both, 1));
                }
                sql = format!("{sql} {kind} {right} ON {}", conditions.join(" AND "));
            }
            scope = both;
        }
        (sql, scope)
    }

    /// A `WHERE` condition, sometimes with a subquery.
    fn where_clause(&mut self, scope: &Scope) -> String {
        let mut conditions = Vec::new();
        if self.rng.chance(45) {
            // A disjunction now and then, so that not every filter leaves nothing.
            match self.rng.chance(35) {
                true => conditions.push(format!(
                    "({} OR {})",
                    predicate(self.rng, scope, 1),
                    predicate(self.rng, scope, 1)
                )),
                false => conditions.push(predicate(self.rng, scope, 1)),
            }
        }
        if self.rng.chance(22) {
            conditions.push(self.subquery_predicate(scope));
        }
        match conditions.is_empty() {
            true => String::new(),
            false => format!(" WHERE {}", conditions.join(" AND ")),
        }
    }

    /// `IN (SELECT ...)`, `EXISTS (...)` or a comparison with a scalar subquery, correlated
    /// with `outer` about half of the time.
    fn subquery_predicate(&mut self, outer: &Scope) -> String {
        self.nested_subquery_predicate(outer, 0)
    }

    /// A subquery predicate whose own `WHERE` may hold another one (at `nesting` 0), which
    /// may refer to either enclosing query (an outer reference two levels up).
    fn nested_subquery_predicate(&mut self, outer: &Scope, nesting: u32) -> String {
        let alias = self.alias();
        let source = self.rng.pick(&self.sources).clone();
        let inner = scope_of(&alias, &source.columns);
        let mut conditions = Vec::new();
        if self.rng.chance(50) {
            if let Some(correlation) = self.correlation(outer, &inner) {
                conditions.push(correlation);
            }
        }
        if self.rng.chance(40) {
            conditions.push(predicate(self.rng, &inner, 1));
        }
        if nesting == 0 && self.rng.chance(20) {
            let mut both = outer.clone();
            both.extend(inner.iter().cloned());
            conditions.push(self.nested_subquery_predicate(&both, nesting + 1));
        }
        let filter = match conditions.is_empty() {
            true => String::new(),
            false => format!(" WHERE {}", conditions.join(" AND ")),
        };
        let from = format!("{} AS {alias}", source.name);
        match self.rng.below(3) {
            0 => {
                let not = if self.rng.chance(40) { "NOT " } else { "" };
                format!("{not}EXISTS (SELECT 1 FROM {from}{filter})")
            }
            1 => {
                let family = *self.rng.pick(&[Family::Exact, Family::Text]);
                let subject = expression(self.rng, outer, family, 1);
                let item = expression(self.rng, &inner, family, 0);
                let not = if self.rng.chance(40) { "NOT " } else { "" };
                format!("{subject} {not}IN (SELECT {item} FROM {from}{filter})")
            }
            _ => {
                let (call, family) = aggregate(self.rng, &inner);
                let subject = expression(self.rng, outer, family, 1);
                let operator = *self.rng.pick(&["=", "<", ">=", "<>"]);
                if family == Family::Bool {
                    format!("EXISTS (SELECT {call} FROM {from}{filter})")
                } else {
                    format!("{subject} {operator} (SELECT {call} FROM {from}{filter})")
                }
            }
        }
    }

    /// An equality between a column of `outer` and one of `inner` of the same family.
    fn correlation(&mut self, outer: &Scope, inner: &Scope) -> Option<String> {
        for family in [Family::Exact, Family::Text] {
            let outer_columns = columns_of(outer, family);
            let inner_columns = columns_of(inner, family);
            if !outer_columns.is_empty() && !inner_columns.is_empty() {
                let left = self.rng.pick(&inner_columns).sql.clone();
                let right = self.rng.pick(&outer_columns).sql.clone();
                return Some(format!("{left} = {right}"));
            }
        }
        None
    }

    /// `SELECT [DISTINCT] ... FROM ... [WHERE ...] [ORDER BY ... LIMIT ...]`, with result
    /// families `wanted` when given.
    fn select(&mut self, wanted: Option<&[Family]>, top_k: bool) -> Query {
        let (from, scope) = self.sources_clause();
        let filter = self.where_clause(&scope);
        let families: Vec<Family> = match wanted {
            Some(families) => families.to_vec(),
            None => (0..self.rng.range(1, 4)).map(|_| self.output_family(&scope)).collect(),
        };
        let mut items = Vec::new();
        for family in &families {
            if *family == Family::Exact && self.rng.chance(8) {
                items.push(self.scalar_subquery(&scope));
            } else {
                items.push(expression(self.rng, &scope, *family, 2));
            }
        }
        let distinct = if self.rng.chance(15) { "DISTINCT " } else { "" };
        let mut sql = format!("SELECT {distinct}{} FROM {from}{filter}", items.join(", "));
        if top_k {
            sql.push_str(&self.order_limit(families.len()));
        }
        Query { sql, families }
    }

    /// `(SELECT COUNT(*) FROM t WHERE t.c = outer.c)` and the like, always one row.
    fn scalar_subquery(&mut self, outer: &Scope) -> String {
        let alias = self.alias();
        let source = self.rng.pick(&self.sources).clone();
        let inner = scope_of(&alias, &source.columns);
        let call = if self.rng.chance(50) {
            "COUNT(*)".to_owned()
        } else {
            format!("SUM({})", expression(self.rng, &inner, Family::Exact, 0))
        };
        let filter = match self.correlation(outer, &inner) {
            Some(condition) if self.rng.chance(70) => format!(" WHERE {condition}"),
            _ => String::new(),
        };
        format!("(SELECT {call} FROM {} AS {alias}{filter})", source.name)
    }

    /// A result family, preferring ones the scope has columns of.
    fn output_family(&mut self, scope: &Scope) -> Family {
        let column = self.rng.pick(scope).ty.family();
        if self.rng.chance(75) {
            column
        } else {
            *self.rng.pick(&[Family::Exact, Family::Text, Family::Bool, Family::Float, Family::Date])
        }
    }

    /// `ORDER BY` every result column (a total order up to equal rows) and `LIMIT [OFFSET]`.
    fn order_limit(&mut self, n_columns: usize) -> String {
        let keys: Vec<String> = (1..=n_columns)
            .map(|ordinal| {
                let direction = *self.rng.pick(&["ASC", "DESC"]);
                let nulls = *self.rng.pick(&["NULLS FIRST", "NULLS LAST"]);
                format!("{ordinal} {direction} {nulls}")
            })
            .collect();
        let offset =
            if self.rng.chance(30) { format!(" OFFSET {}", self.rng.range(1, 3)) } else { String::new() };
        format!(" ORDER BY {} LIMIT {}{offset}", keys.join(", "), self.rng.range(1, 5))
    }

    /// `SELECT keys, aggregates FROM ... [WHERE] [GROUP BY keys] [HAVING ...]`.
    fn grouped(&mut self) -> Query {
        let (from, scope) = self.sources_clause();
        let filter = self.where_clause(&scope);
        let mut items = Vec::new();
        let mut families = Vec::new();
        let mut keys = Vec::new();
        for _ in 0..self.rng.below(3) {
            let column = self.rng.pick(&scope).clone();
            let key = if column.ty.family() == Family::Exact && self.rng.chance(20) {
                format!("({} + 1)", column.sql)
            } else {
                column.sql.clone()
            };
            if !keys.contains(&key) {
                items.push(key.clone());
                families.push(column.ty.family());
                keys.push(key);
            }
        }
        for _ in 0..self.rng.range(1, 3) {
            let (call, family) = aggregate(self.rng, &scope);
            items.push(call);
            families.push(family);
        }
        let mut sql = format!("SELECT {} FROM {from}{filter}", items.join(", "));
        if keys.len() >= 2 && self.rng.chance(25) {
            // Grouping sets: the keys not in a row's set are NULL.
            let (first, rest) = (&keys[0], keys[1..].join(", "));
            let sets = match self.rng.below(3) {
                0 => format!("ROLLUP ({})", keys.join(", ")),
                1 => format!("{first}, CUBE ({rest})"),
                _ => format!("GROUPING SETS (({first}), ({}), ())", keys.join(", ")),
            };
            sql.push_str(&format!(" GROUP BY {sets}"));
        } else if !keys.is_empty() {
            sql.push_str(&format!(" GROUP BY {}", keys.join(", ")));
        }
        if self.rng.chance(30) {
            let (call, family) = aggregate(self.rng, &scope);
            // The bound is sometimes an uncorrelated scalar subquery.
            let bound = match family == Family::Exact && self.rng.chance(25) {
                true => {
                    let alias = self.alias();
                    let source = self.rng.pick(&self.sources).clone();
                    format!("(SELECT COUNT(*) FROM {} AS {alias})", source.name)
                }
                false => literal(self.rng, family),
            };
            let operator = *self.rng.pick(&["<", ">", "<>", ">=", "<=", "<>"]);
            match family {
                Family::Bool => sql.push_str(&format!(" HAVING {call} IS NOT NULL")),
                _ => sql.push_str(&format!(" HAVING {call} {operator} {bound}")),
            }
        }
        if self.rng.chance(15) {
            sql.push_str(&self.order_limit(families.len()));
        }
        Query { sql, families }
    }

    /// `SELECT columns, window functions FROM ... [WHERE ...]`: `RANK`, `DENSE_RANK`,
    /// `LAG`/`LEAD` and aggregates over `ROWS`/`RANGE` frames. Where the result depends on the
    /// order among rows equal in the `ORDER BY` keys (`ROWS` frames, `LAG`), the order is by
    /// every column of the `FROM` row, so only identical rows tie and the answer is one
    /// multiset in both systems.
    fn windowed(&mut self) -> Query {
        let (from, scope) = self.sources_clause();
        let filter = self.where_clause(&scope);
        let mut items = Vec::new();
        let mut families = Vec::new();
        for _ in 0..self.rng.range(1, 3) {
            let column = self.rng.pick(&scope).clone();
            items.push(column.sql);
            families.push(column.ty.family());
        }
        for _ in 0..self.rng.range(1, 3) {
            let (call, family) = self.window_function(&scope);
            items.push(call);
            families.push(family);
        }
        Query { sql: format!("SELECT {} FROM {from}{filter}", items.join(", ")), families }
    }

    /// One `f(...) OVER (...)` over `scope` and its result's family.
    fn window_function(&mut self, scope: &Scope) -> (String, Family) {
        let mut partition: Vec<String> = Vec::new();
        for _ in 0..self.rng.below(3) {
            let column = self.rng.pick(scope).sql.clone();
            if !partition.contains(&column) {
                partition.push(column);
            }
        }
        let key = |rng: &mut Rng, column: &str| {
            let direction = *rng.pick(&["ASC", "DESC"]);
            let nulls = *rng.pick(&["NULLS FIRST", "NULLS LAST"]);
            format!("{column} {direction} {nulls}")
        };
        let total: Vec<String> = scope.iter().map(|c| key(self.rng, &c.sql)).collect();
        let ranged: Vec<&ScopeColumn> =
            scope.iter().filter(|c| matches!(c.ty, Ty::Int | Ty::BigInt | Ty::Date)).collect();
        let one = self.rng.pick(scope).sql.clone();
        let one = key(self.rng, &one);
        let (function, family, order, frame) = match self.rng.below(8) {
            0 => ("RANK()".to_owned(), Family::Exact, vec![one], String::new()),
            1 => ("DENSE_RANK()".to_owned(), Family::Exact, vec![one], String::new()),
            2 => {
                let family = self.output_family(scope);
                let value = expression(self.rng, scope, family, 1);
                let name = *self.rng.pick(&["LAG", "LEAD"]);
                // A default only where its literal has the value's type (not a number:
                // `LAG(int_column, 1, 2.5)` types differently in the two systems).
                let forms = if matches!(family, Family::Exact | Family::Float) { 2 } else { 3 };
                let call = match self.rng.below(forms) {
                    0 => format!("{name}({value})"),
                    1 => format!("{name}({value}, {})", self.rng.range(0, 3)),
                    _ => format!("{name}({value}, {}, {})", self.rng.range(1, 3), literal(self.rng, family)),
                };
                (call, family, total, String::new())
            }
            choice => {
                let (call, family) = loop {
                    // PostgreSQL has no DISTINCT in window aggregates.
                    let (call, family) = aggregate(self.rng, scope);
                    if !call.contains("DISTINCT") {
                        break (call, family);
                    }
                };
                let n = self.rng.range(0, 3);
                let m = self.rng.range(0, 3);
                match choice {
                    3 => (call, family, vec![], String::new()),
                    4 => (call, family, vec![one], String::new()),
                    5 => {
                        let frame = match self.rng.below(4) {
                            0 => format!(" ROWS BETWEEN {n} PRECEDING AND CURRENT ROW"),
                            1 => format!(" ROWS BETWEEN {n} PRECEDING AND {m} FOLLOWING"),
                            2 => " ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING".to_owned(),
                            _ => format!(" ROWS BETWEEN UNBOUNDED PRECEDING AND {m} PRECEDING"),
                        };
                        (call, family, total, frame)
                    }
                    _ if !ranged.is_empty() => {
                        let column = *self.rng.pick(&ranged);
                        let (n, m) = match column.ty {
                            Ty::Date => (format!("INTERVAL '{n}' DAY"), format!("INTERVAL '{m}' DAY")),
                            _ => (n.to_string(), m.to_string()),
                        };
                        let frame = match self.rng.below(3) {
                            0 => format!(" RANGE BETWEEN {n} PRECEDING AND CURRENT ROW"),
                            1 => format!(" RANGE BETWEEN {n} PRECEDING AND {m} FOLLOWING"),
                            _ => format!(" RANGE BETWEEN CURRENT ROW AND {m} FOLLOWING"),
                        };
                        let order = key(self.rng, &column.sql);
                        (call, family, vec![order], frame)
                    }
                    _ => (
                        call,
                        family,
                        vec![one],
                        " RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING".to_owned(),
                    ),
                }
            }
        };
        let mut spec = Vec::new();
        if !partition.is_empty() {
            spec.push(format!("PARTITION BY {}", partition.join(", ")));
        }
        if !order.is_empty() {
            spec.push(format!("ORDER BY {}", order.join(", ")));
        }
        (format!("{function} OVER ({}{frame})", spec.join(" ")), family)
    }

    /// `SELECT ... {UNION|EXCEPT|INTERSECT} [ALL] SELECT ...` with matching families.
    fn set_operation(&mut self) -> Query {
        let left = self.select(None, false);
        let right = self.select(Some(&left.families), false);
        let operator = *self.rng.pick(&["UNION", "EXCEPT", "INTERSECT"]);
        let all = if self.rng.chance(50) { " ALL" } else { "" };
        let mut sql = format!("{} {operator}{all} {}", left.sql, right.sql);
        if self.rng.chance(15) {
            sql.push_str(&self.order_limit(left.families.len()));
        }
        Query { sql, families: left.families }
    }
}

/// The columns of a relation under `alias`.
fn scope_of(alias: &str, columns: &[(String, Ty)]) -> Scope {
    columns.iter().map(|(name, ty)| ScopeColumn { sql: format!("{alias}.{name}"), ty: *ty }).collect()
}

/// The type that stands for a family where the exact type is unknown (a CTE's or `VALUES`'s
/// column): enough for choosing operations, which only look at families, and for `Ty::Int`
/// vs `Ty::BigInt` (only integers are cast to `DOUBLE PRECISION`).
fn typical(family: Family) -> Ty {
    match family {
        Family::Exact => Ty::Decimal(12, 4),
        Family::Float => Ty::Double,
        Family::Text => Ty::Text,
        Family::Bool => Ty::Bool,
        Family::Date => Ty::Date,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_replay_from_their_seed() {
        let tables: Vec<Table> =
            (0..3).map(|index| Table::random(&mut Rng::new(index as u64), index)).collect();
        for seed in 0..30 {
            let a = random_query(&mut Rng::new(seed), &tables);
            let b = random_query(&mut Rng::new(seed), &tables);
            assert_eq!(a.sql, b.sql);
            assert!(!a.families.is_empty() && a.sql.contains("SELECT"), "{}", a.sql);
        }
    }
}
