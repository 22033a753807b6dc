//! eddy's SQL layer (issue 16): SQL and the Table API on differential dataflow. A statement is
//! parsed by `sqlparser`, bound against a catalog into a typed logical plan, optimized, and
//! rendered as differential collections inside an eddy job, so every operator handles
//! retractions and a query's result is maintained incrementally.
//!
//! Layers, each a module with its own types (parse → bind → plan → optimize → render):
//!
//! * [`types`]: [`SqlType`] and how SQL prints it.
//! * [`datum`]: [`Datum`] and [`Row`], with a total, deterministic order and a stable hash, as
//!   differential's collections and arrangements need. Helpers: [`decimal`] (exact `DECIMAL`
//!   on a 128-bit mantissa) and [`datetime`] (calendar math without time zones or clocks).
//! * [`expr`]: [`ScalarExpr`], a bound and typed expression tree, and `eval` on a row with SQL
//!   semantics. [`functions`] holds the built-ins, `cast` the `CAST` rules, [`error`] the
//!   [`EvalError`] a row can fail with.
//! * [`bind`](mod@bind): from `sqlparser`'s AST to a [`ScalarExpr`] ([`bind_expression`]) or a
//!   logical [`plan::Query`] ([`bind_query`]): scopes and correlation, aggregates, subqueries
//!   as `Apply`, types, implicit widening, constant folding, errors with positions
//!   ([`BindError`]). Identifiers: unquoted ones match case-insensitively, quoted ones
//!   (`` `x` `` or `"x"`) exactly.
//! * [`catalog`]: tables (columns, primary key, `WITH` options) and views, by name.
//! * [`plan`]: the logical plan; [`oracle`] evaluates it naively (the tests' reference),
//!   [`aggregate`] holds the aggregate functions both evaluators share.
//! * [`optimize`]: decorrelation, simplification, predicate push-down, join ordering,
//!   projection pruning.
//! * [`render`]: a plan as a differential dataflow, with arrangements shared by every operator
//!   that needs the same collection under the same key, and row errors.
//! * [`changelog`]: results as Flink's `+I`/`-U`/`+U`/`-D` changes; append-only or updating.
//! * [`connect`]: Flink's `WITH` options for eddy's connectors; tables as sources and sinks.
//! * [`pipeline`]: tables and queries built into an eddy job, checkpointed exactly-once.
//! * [`session`]: [`Session`] executes statements (DDL, DML on in-memory tables, queries,
//!   `INSERT INTO` connector tables as jobs, `EXPLAIN`, `SHOW TABLES`, `DESCRIBE`, `SET`) over
//!   a pluggable [`QueryEngine`] ([`engine`]: the dataflow by default, the oracle for tests).
//! * [`table`]: the Table API: SQL over `DataStream`s in the same job, and back.
//!
//! Architecture invariant: only [`render`], [`connect`] and [`pipeline`] use the runtime
//! (eddy-core), and only through its public API and SDK, as any user crate could; the runtime
//! never depends on this crate. Evaluation is deterministic: no wall clock, no time zone, no
//! randomness, no randomly seeded hashing.
//!
//! ```
//! use eddy_sql::{bind_expression, Datum, Row, SqlType};
//!
//! let schema = [("price".to_owned(), SqlType::decimal(10, 2).unwrap())];
//! let expr = bind_expression("price * 1.1 > 10", &schema).unwrap();
//! let row = Row::new(vec![Datum::Decimal(eddy_sql::decimal::Decimal::parse("9.10").unwrap())]);
//! assert_eq!(expr.eval(&row).unwrap(), Datum::Boolean(true));
//! ```

pub mod aggregate;
pub mod bind;
mod cast;
pub mod catalog;
pub mod changelog;
mod compare;
pub mod connect;
pub mod datetime;
pub mod datum;
pub mod decimal;
pub mod engine;
pub mod error;
pub mod explain;
pub mod expr;
pub mod functions;
pub mod match_recognize;
mod names;
pub mod optimize;
pub mod oracle;
mod order;
pub mod over;
pub mod pipeline;
pub mod plan;
pub mod render;
pub mod session;
pub mod table;
pub mod types;

pub use bind::{bind, bind_expression, bind_query, BindError, FlinkDialect};
pub use cast::can_cast;
pub use datum::{Datum, Double, Interval, Row};
pub use engine::{DataflowEngine, QueryEngine};
pub use error::{ErrorClass, EvalError};
pub use expr::{BinaryOp, ScalarExpr, UnaryOp};
pub use session::{Outcome, Session, SqlError};
pub use types::{IntervalKind, SqlType};
