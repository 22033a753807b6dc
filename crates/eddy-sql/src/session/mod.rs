//! A SQL session: a catalog, the rows of its in-memory tables, and statements executed one
//! after the other with batch semantics.
//!
//! [`Session::execute`] runs one or more `;`-separated statements: DDL (`CREATE TABLE`,
//! `CREATE [TEMPORARY] VIEW`, `DROP TABLE/VIEW`, `CREATE INDEX`, accepted and ignored), DML on
//! in-memory tables (`INSERT`, `UPDATE`, `DELETE`), queries, `EXPLAIN`, `SHOW TABLES`,
//! `DESCRIBE` and `SET 'key' = 'value'`. Queries over in-memory tables are evaluated by a
//! [`QueryEngine`]: a differential dataflow per query by default ([`crate::engine`]), the
//! reference evaluator ([`crate::oracle`]) when plugged in. Statements that read or write
//! connector tables become jobs ([`Outcome::Job`], see `jobs.rs`).
//!
//! # State
//! The session keeps each in-memory table's rows (a multiset) and, per table, the changes
//! each statement made as `(row, diff)` pairs (insert `+1`, delete `-1`, update `-1` then
//! `+1`), so an incremental engine can be fed the same updates ([`Session::changes`]).

use std::collections::BTreeMap;
use std::fmt;

use sqlparser::ast::{self, ObjectName, Statement};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;
use thiserror::Error;

mod ddl;
mod dml;
mod jobs;
mod time;

pub use jobs::{combine, SqlJob, DEAD_LETTER_TABLE};

use crate::bind::{bind_query_with_hidden, BindError, FlinkDialect, Location};
use crate::cast::cast;
use crate::catalog::Catalog;
use crate::datum::Row;
use crate::engine::{DataflowEngine, EngineError, QueryEngine};
use crate::error::EvalError;
use crate::oracle::compare_rows;
use crate::plan::{Column, Query};
use crate::types::SqlType;

/// What a statement produced.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// A statement without a result set, and what it did (`3 rows inserted`).
    Done {
        /// What happened.
        message: String,
    },
    /// A result set, in the query's `ORDER BY` order when it has one.
    Rows {
        /// The columns.
        columns: Vec<Column>,
        /// The rows.
        rows: Vec<Row>,
    },
    /// `EXPLAIN`'s plan text.
    Explain(String),
    /// A statement that runs as an eddy job (it reads or writes a connector table): the
    /// caller runs it (see [`SqlJob`]).
    Job(SqlJob),
}

/// What went wrong in a statement.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum SqlErrorKind {
    /// The text does not parse.
    #[error("syntax error: {0}")]
    Syntax(String),
    /// Names or types do not fit.
    #[error(transparent)]
    Bind(#[from] BindError),
    /// A table or view that exists, or does not.
    #[error("{0}")]
    Catalog(String),
    /// A value that does not convert or compute.
    #[error(transparent)]
    Eval(#[from] EvalError),
    /// The query engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Valid SQL eddy does not support (yet).
    #[error("not supported: {0}")]
    Unsupported(String),
}

/// A statement's failure: which statement (from 1), where it starts, and why.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub struct SqlError {
    /// The statement's number in the text, from 1.
    pub statement: usize,
    /// Where the statement starts.
    pub location: Option<Location>,
    /// Why it failed.
    pub kind: SqlErrorKind,
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "statement {}", self.statement)?;
        if let Some(l) = self.location {
            write!(f, " (at line {}, column {})", l.line, l.column)?;
        }
        write!(f, ": {}", self.kind)
    }
}

type StatementResult<T> = Result<T, SqlErrorKind>;

/// A batch of changes to one table: rows and their multiplicity changes.
pub type Changes = Vec<(Row, i64)>;

/// A SQL session; see the module docs.
pub struct Session {
    catalog: Catalog,
    tables: BTreeMap<String, Vec<Row>>,
    changes: BTreeMap<String, Vec<Changes>>,
    settings: BTreeMap<String, String>,
    engine: Box<dyn QueryEngine>,
}

impl Default for Session {
    fn default() -> Session {
        Session::new()
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("catalog", &self.catalog)
            .field("tables", &self.tables.keys().collect::<Vec<_>>())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// An empty session evaluating queries on differential dataflow, one worker
    /// ([`DataflowEngine`]).
    pub fn new() -> Session {
        Session::with_engine(Box::new(DataflowEngine::default()))
    }

    /// An empty session evaluating queries with `engine`.
    pub fn with_engine(engine: Box<dyn QueryEngine>) -> Session {
        Session {
            catalog: Catalog::new(),
            tables: BTreeMap::new(),
            changes: BTreeMap::new(),
            settings: BTreeMap::new(),
            engine,
        }
    }

    /// Replaces the query engine.
    pub fn set_engine(&mut self, engine: Box<dyn QueryEngine>) {
        self.engine = engine;
    }

    /// The catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Every in-memory table's rows, by catalog name.
    pub fn tables(&self) -> &BTreeMap<String, Vec<Row>> {
        &self.tables
    }

    /// The rows of the in-memory table with exactly this name.
    pub fn rows(&self, table: &str) -> Option<&[Row]> {
        self.tables.get(table).map(Vec::as_slice)
    }

    /// The changes statements made to the table with exactly this name, one batch per
    /// statement that changed it, oldest first.
    pub fn changes(&self, table: &str) -> &[Changes] {
        self.changes.get(table).map_or(&[], Vec::as_slice)
    }

    /// The `SET` options.
    pub fn settings(&self) -> &BTreeMap<String, String> {
        &self.settings
    }

    /// Parses and binds a query (for tests and tools that run it elsewhere).
    pub fn bind(&self, sql: &str) -> Result<Query, SqlError> {
        let error = |kind| SqlError { statement: 1, location: None, kind };
        let statements =
            Parser::parse_sql(&FlinkDialect, sql).map_err(|e| error(SqlErrorKind::Syntax(e.to_string())))?;
        match &statements[..] {
            [Statement::Query(query)] => {
                crate::bind::bind_query(query, &self.catalog).map_err(|e| error(e.into()))
            }
            _ => Err(error(SqlErrorKind::Unsupported("expected one query".into()))),
        }
    }

    /// Executes `;`-separated statements in order, stopping at the first that fails (the
    /// ones before it keep their effects).
    pub fn execute(&mut self, sql: &str) -> Result<Vec<Outcome>, SqlError> {
        let dialect = FlinkDialect;
        let syntax = |statement, location, e: sqlparser::parser::ParserError| SqlError {
            statement,
            location,
            kind: SqlErrorKind::Syntax(e.to_string()),
        };
        let mut parser = Parser::new(&dialect).try_with_sql(sql).map_err(|e| syntax(1, None, e))?;
        let mut outcomes = Vec::new();
        loop {
            while parser.consume_token(&Token::SemiColon) {}
            let next = parser.peek_token();
            if next.token == Token::EOF {
                break;
            }
            let number = outcomes.len() + 1;
            let start = next.span.start;
            let location = (start.line > 0).then_some(Location { line: start.line, column: start.column });
            // `CREATE TABLE` with `WATERMARK FOR` or `AS PROCTIME()`, which sqlparser does
            // not parse (see `time`).
            let with_time = if time::has_time_clauses(&parser) {
                Some(time::parse_create_table(&mut parser).map_err(|e| syntax(number, location, e))?)
            } else {
                None
            };
            let statement = match &with_time {
                Some((create, _)) => Statement::CreateTable(create.clone()),
                None => parser.parse_statement().map_err(|e| syntax(number, location, e))?,
            };
            let after = parser.peek_token();
            if after.token != Token::EOF && after.token != Token::SemiColon {
                return Err(SqlError {
                    statement: number,
                    location,
                    kind: SqlErrorKind::Syntax(format!(
                        "expected ; or the end, found {}{}",
                        after.token, after.span.start
                    )),
                });
            }
            let outcome = match &with_time {
                Some((create, clauses)) => self.create_table(create, clauses),
                None => self.statement(&statement),
            }
            .map_err(|kind| SqlError { statement: number, location, kind })?;
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }

    fn statement(&mut self, statement: &Statement) -> StatementResult<Outcome> {
        match statement {
            Statement::Query(query) => {
                let bound = bind_query_with_hidden(query, &self.catalog)?;
                if self.reads_connector_table(&bound.query.plan) {
                    return self.query_job(bound.query, bound.visible);
                }
                let (columns, rows) = self.run(&bound.query, bound.visible)?;
                Ok(Outcome::Rows { columns, rows })
            }
            Statement::Explain { statement, analyze: false, .. } => match statement.as_ref() {
                Statement::Query(query) => {
                    let bound = bind_query_with_hidden(query, &self.catalog)?;
                    let text = crate::explain::explain(&bound.query, self.optimize_options()?)
                        .map_err(SqlErrorKind::Unsupported)?;
                    Ok(Outcome::Explain(text))
                }
                other => Err(SqlErrorKind::Unsupported(format!("EXPLAIN of {}", first_words(other)))),
            },
            Statement::CreateTable(create) => self.create_table(create, &time::TimeClauses::default()),
            Statement::CreateView(create) => self.create_view(create),
            Statement::Drop { object_type, if_exists, names, .. } => {
                self.drop(*object_type, *if_exists, names)
            }
            Statement::CreateIndex(_) => {
                Ok(Outcome::Done { message: "CREATE INDEX ignored: in-memory tables need no indexes".into() })
            }
            Statement::Insert(insert) => self.insert(insert),
            Statement::Update(update) => self.update(update),
            Statement::Delete(delete) => self.delete(delete),
            Statement::ShowTables { .. } => Ok(self.show_tables()),
            Statement::ExplainTable { table_name, .. } => self.describe(table_name),
            Statement::Set(set) => self.set(set),
            other => Err(SqlErrorKind::Unsupported(format!("the statement {}", first_words(other)))),
        }
    }

    /// Runs a bound query: the visible columns and the rows, in the query's order.
    fn run(&self, query: &Query, visible: usize) -> StatementResult<(Vec<Column>, Vec<Row>)> {
        let mut rows = self.engine.query(query, &self.tables)?;
        if !query.order.is_empty() {
            rows.sort_by(|a, b| compare_rows(a, b, &query.order));
        }
        let mut columns = query.plan.columns();
        if visible < columns.len() {
            columns.truncate(visible);
            rows =
                rows.into_iter().map(|row| row.into_values().into_iter().take(visible).collect()).collect();
        }
        Ok((columns, rows))
    }

    fn set(&mut self, set: &sqlparser::ast::Set) -> StatementResult<Outcome> {
        use sqlparser::ast::{Expr, Set, Value};
        let Set::SingleAssignment { variable, values, .. } = set else {
            return Err(SqlErrorKind::Unsupported(format!("SET {set}")));
        };
        let key = object_name(variable);
        let value: Vec<String> = values
            .iter()
            .map(|v| match v {
                Expr::Value(value) => match &value.value {
                    Value::SingleQuotedString(text) | Value::DoubleQuotedString(text) => text.clone(),
                    other => other.to_string(),
                },
                Expr::Identifier(ident) => ident.value.clone(),
                other => other.to_string(),
            })
            .collect();
        let value = value.join(", ");
        let message = format!("set {key} = {value}");
        self.settings.insert(key, value);
        Ok(Outcome::Done { message })
    }
}

/// The one identifier of a name (`schema.table` is not supported).
fn single_ident(name: &ObjectName) -> StatementResult<&ast::Ident> {
    match &name.0[..] {
        [part] => part.as_ident().ok_or_else(|| SqlErrorKind::Unsupported(format!("the name {name}"))),
        _ => Err(SqlErrorKind::Unsupported(format!("the qualified name {name} (no schemas)"))),
    }
}

/// `row` (of types `from`) converted to the table's `columns`.
fn assign_row(row: &Row, from: &[SqlType], columns: &[Column]) -> StatementResult<Row> {
    row.values()
        .iter()
        .zip(from)
        .zip(columns)
        .map(|((value, from), column)| Ok(cast(value, *from, column.ty)?))
        .collect()
}

/// A name's parts as written, joined by dots.
fn object_name(name: &ObjectName) -> String {
    name.0
        .iter()
        .map(|part| part.as_ident().map_or_else(|| part.to_string(), |i| i.value.clone()))
        .collect::<Vec<_>>()
        .join(".")
}

/// The first words of a statement, for "not supported" messages.
fn first_words(statement: &Statement) -> String {
    statement.to_string().split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}
