//! Binding: from `sqlparser`'s AST and a catalog to typed expressions ([`ScalarExpr`]) and
//! logical plans ([`crate::plan::Query`]).
//!
//! * Names resolve through scopes (`scope.rs`): tables and aliases qualify columns (`t.c`);
//!   an unquoted identifier matches case-insensitively, a quoted one (`` `Name` `` or
//!   `"Name"`) exactly; a name of an enclosing query binds to [`ScalarExpr::Outer`].
//! * Every implicit conversion becomes an explicit `Cast` node. Numbers widen
//!   `INT -> BIGINT -> DECIMAL -> DOUBLE` (Calcite's `leastRestrictive`: `INT` is
//!   `DECIMAL(10, 0)`, `BIGINT` is `DECIMAL(19, 0)`); `DATE` widens to `TIMESTAMP`; a string
//!   literal compared with a date, time, number or boolean is cast to that type.
//! * `DECIMAL` results follow Flink's `LogicalTypeMerging` (SQL Server's rules): `+ -` take
//!   `max(s1, s2)` digits after the point and one more before; `*` adds precisions and scales;
//!   `/` keeps at least 6 digits after the point; past 38 digits the scale shrinks, to no
//!   less than 6.
//! * Subtrees that read no column are evaluated once (constant folding); one whose evaluation
//!   fails is kept, so `CASE WHEN FALSE THEN 1 / 0 END` is not an error.
//! * Errors carry the line and column sqlparser gives for the offending expression.
//!
//! Modules: `scalar` binds expressions (with aggregates and subqueries when a query is being
//! bound), `scope` resolves names, `select` binds one `SELECT` block, `query` the rest of a
//! query (set operations, `VALUES`, `WITH`, `ORDER BY`, `LIMIT`) and the catalog lookups.

use std::fmt;

use sqlparser::ast::{Expr, Spanned};
use sqlparser::dialect::Dialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Span, Token};
use thiserror::Error;

mod coerce;
mod from;
mod group_window;
mod grouping_sets;
pub(crate) mod literals;
mod match_recognize;
mod query;
mod scalar;
mod scope;
mod select;
mod temporal;
mod tvf;
mod window;

use crate::datum::{Datum, Row};
use crate::error::EvalError;
use crate::expr::ScalarExpr;
use crate::types::SqlType;
pub use query::{bind_dml, bind_query, bind_query_with_hidden, BoundQuery};

/// A position in the SQL text, 1-based.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    /// Line, from 1.
    pub line: u64,
    /// Column, from 1.
    pub column: u64,
}

/// " at line L, column C", or nothing.
fn at(location: &Option<Location>) -> String {
    location.map_or(String::new(), |l| format!(" at line {}, column {}", l.line, l.column))
}

/// Why an expression or a query could not be bound.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum BindError {
    /// The text is not a SQL expression.
    #[error("syntax error: {message}")]
    Syntax {
        /// sqlparser's message (it includes the position).
        message: String,
    },
    /// No input column has this name.
    #[error("unknown column `{name}`{}; the input has {available}", at(.location))]
    UnknownColumn {
        /// The name as written.
        name: String,
        /// The input's column names.
        available: String,
        /// Where.
        location: Option<Location>,
    },
    /// A name matches several columns (of several tables, or differing only in case).
    #[error("ambiguous column `{name}`{}: qualify or quote one of {candidates}", at(.location))]
    AmbiguousColumn {
        /// The name as written.
        name: String,
        /// The matching columns.
        candidates: String,
        /// Where.
        location: Option<Location>,
    },
    /// No table, view or `WITH` query has this name.
    #[error("unknown table `{name}`{}", at(.location))]
    UnknownTable {
        /// The name as written.
        name: String,
        /// Where.
        location: Option<Location>,
    },
    /// No function has this name.
    #[error("unknown function {name}{}", at(.location))]
    UnknownFunction {
        /// The name as written.
        name: String,
        /// Where.
        location: Option<Location>,
    },
    /// Operand types that do not fit, or a constant that does not convert.
    #[error("type error{}: {message}", at(.location))]
    Type {
        /// What does not fit.
        message: String,
        /// Where.
        location: Option<Location>,
    },
    /// An aggregate where none may be (`WHERE`, `GROUP BY`, nested), or a column outside an
    /// aggregate that is not grouped.
    #[error("grouping error{}: {message}", at(.location))]
    Grouping {
        /// What is wrong.
        message: String,
        /// Where.
        location: Option<Location>,
    },
    /// Valid SQL that eddy does not support (yet).
    #[error("not supported{}: {what}", at(.location))]
    Unsupported {
        /// What.
        what: String,
        /// Where.
        location: Option<Location>,
    },
}

/// A `Result` with a [`BindError`].
pub type BindResult<T> = Result<T, BindError>;

/// A small Flink-like dialect: identifiers quoted with backticks (or, as in standard SQL and
/// the sqllogictest files, double quotes), strings with single quotes.
#[derive(Debug, Default)]
pub struct FlinkDialect;

impl Dialect for FlinkDialect {
    fn is_identifier_start(&self, ch: char) -> bool {
        ch.is_alphabetic() || ch == '_'
    }

    fn is_identifier_part(&self, ch: char) -> bool {
        ch.is_alphanumeric() || ch == '_' || ch == '$'
    }

    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        ch == '`' || ch == '"'
    }

    /// `FROM t MATCH_RECOGNIZE (...)` (see `match_recognize.rs`).
    fn supports_match_recognize(&self) -> bool {
        true
    }

    fn supports_filter_during_aggregation(&self) -> bool {
        true
    }

    /// `GROUPING SETS`, `ROLLUP` and `CUBE` in `GROUP BY`.
    fn supports_group_by_expr(&self) -> bool {
        true
    }

    /// `JOIN t FOR SYSTEM_TIME AS OF l.time` (temporal joins, `from.rs`).
    fn supports_table_versioning(&self) -> bool {
        true
    }

    /// `TABLE name [PARTITION BY ...]` as the argument of a window table function.
    fn parse_prefix(&self, parser: &mut Parser) -> Option<Result<Expr, sqlparser::parser::ParserError>> {
        tvf::at_table_argument(parser).then(|| tvf::parse_table_argument(parser))
    }
}

/// Parses `sql` as one expression (Flink-like dialect) and binds it against `schema`.
pub fn bind_expression(sql: &str, schema: &[(String, SqlType)]) -> BindResult<ScalarExpr> {
    let syntax = |error: sqlparser::parser::ParserError| BindError::Syntax { message: error.to_string() };
    let dialect = FlinkDialect;
    let mut parser = Parser::new(&dialect).try_with_sql(sql).map_err(syntax)?;
    let expr = parser.parse_expr().map_err(syntax)?;
    let next = parser.peek_token();
    if next.token != Token::EOF {
        return Err(BindError::Syntax {
            message: format!("unexpected {} after the expression at {}", next.token, next.span.start),
        });
    }
    bind(&expr, schema)
}

/// Binds a parsed expression against `schema` (column names and types, in row order). No
/// aggregates, no subqueries: those need a query around them ([`bind_query`]).
pub fn bind(expr: &Expr, schema: &[(String, SqlType)]) -> BindResult<ScalarExpr> {
    let scope = scope::Scope::unqualified(schema);
    scalar::Binder::new(&scope, &[], None).bind(expr)
}

fn location_of(expr: &Expr) -> Option<Location> {
    location_of_span(expr.span())
}

fn location_of_span(span: Span) -> Option<Location> {
    let start = span.start;
    (start.line > 0).then_some(Location { line: start.line, column: start.column })
}

fn type_error(expr: &Expr, message: impl Into<String>) -> BindError {
    BindError::Type { message: message.into(), location: location_of(expr) }
}

/// `ASC`/`DESC` and the null placement (default: `NULL`s sort as the smallest value).
fn sort_options(item: &sqlparser::ast::OrderByExpr) -> BindResult<(bool, bool)> {
    let descending = match &item.options.sort {
        None | Some(sqlparser::ast::OrderBySort::Asc) => false,
        Some(sqlparser::ast::OrderBySort::Desc) => true,
        Some(sqlparser::ast::OrderBySort::Using(_)) => {
            return Err(unsupported(&item.expr, "ORDER BY ... USING"))
        }
    };
    Ok((descending, item.options.nulls_first.unwrap_or(!descending)))
}

/// A function call's name, upper-case (its last part, for `schema.f`).
pub(crate) fn call_name(call: &sqlparser::ast::Function) -> String {
    call.name.0.last().map(|part| part.to_string()).unwrap_or_default().to_ascii_uppercase()
}

fn unsupported(expr: &Expr, what: impl fmt::Display) -> BindError {
    BindError::Unsupported { what: what.to_string(), location: location_of(expr) }
}

fn unsupported_at(span: Span, what: impl fmt::Display) -> BindError {
    BindError::Unsupported { what: what.to_string(), location: location_of_span(span) }
}

/// For tests and the shell: a bound expression evaluated on one row.
pub fn eval_sql(sql: &str, schema: &[(String, SqlType)], row: &Row) -> Result<Datum, String> {
    let expr = bind_expression(sql, schema).map_err(|e| e.to_string())?;
    expr.eval(row).map_err(|e: EvalError| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Vec<(String, SqlType)> {
        vec![
            ("a".to_owned(), SqlType::Int),
            ("Price".to_owned(), SqlType::decimal(10, 2).unwrap()),
            ("name".to_owned(), SqlType::STRING),
            ("NAME".to_owned(), SqlType::STRING),
        ]
    }

    #[test]
    fn columns_resolve_case_insensitively_unless_quoted_or_ambiguous() {
        let bound = bind_expression("PRICE + a", &schema()).unwrap();
        assert_eq!(bound.ty(), SqlType::decimal(13, 2).unwrap(), "DECIMAL(10,2) + DECIMAL(10,0)");
        assert!(matches!(bind_expression("`price`", &schema()), Err(BindError::UnknownColumn { .. })));
        assert!(matches!(bind_expression("Name", &schema()), Err(BindError::AmbiguousColumn { .. })));
        assert!(matches!(bind_expression("name", &schema()), Ok(ScalarExpr::Column { index: 2, .. })));
        assert!(matches!(bind_expression("`NAME`", &schema()), Ok(ScalarExpr::Column { index: 3, .. })));
    }

    #[test]
    fn errors_say_where() {
        let error = bind_expression("a +\n  missing", &schema()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown column `missing` at line 2, column 3; the input has `a`, `Price`, `name`, `NAME`"
        );
        let error = bind_expression("a + 'x' || name", &schema()).unwrap_err();
        assert!(
            matches!(error, BindError::Type { location: Some(Location { line: 1, column: 1 }), .. }),
            "{error}"
        );
        assert!(matches!(bind_expression("a +", &schema()), Err(BindError::Syntax { .. })));
        assert!(matches!(bind_expression("a b", &schema()), Err(BindError::Syntax { .. })));
        assert!(matches!(
            bind_expression("frobnicate(a)", &schema()),
            Err(BindError::UnknownFunction { .. })
        ));
        assert!(matches!(bind_expression("NOW()", &schema()), Err(BindError::Unsupported { .. })));
    }

    #[test]
    fn constants_fold_but_failures_stay_lazy() {
        assert_eq!(
            bind_expression("1 + 2 * 3", &schema()).unwrap(),
            ScalarExpr::literal(Datum::Int(7), SqlType::Int)
        );
        let lazy = bind_expression("CASE WHEN a > 0 THEN 1 / 0 ELSE 2 END", &schema()).unwrap();
        assert!(lazy.to_string().contains("(1 / 0)"), "{lazy}");
        assert!(matches!(bind_expression("DATE '2024-02-30'", &schema()), Err(BindError::Type { .. })));
    }

    #[test]
    fn decimal_result_types_follow_flink() {
        let ty = |sql: &str| bind_expression(sql, &schema()).unwrap().ty().to_string();
        assert_eq!(ty("price * price"), "DECIMAL(21, 4)");
        assert_eq!(ty("price / price"), "DECIMAL(23, 13)");
        assert_eq!(ty("price % a"), "DECIMAL(10, 2)");
        assert_eq!(ty("price + 1.5e0"), "DOUBLE");
        assert_eq!(ty("a + 10000000000"), "BIGINT");
        assert_eq!(ty("CAST(1 AS DECIMAL(38, 10)) * CAST(1 AS DECIMAL(38, 10))"), "DECIMAL(38, 6)");
    }
}
