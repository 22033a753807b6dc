//! The engine seam of the sqllogictest runner and the `sqllogictest::DB` over it.
//!
//! [`Engine`] is all the runner needs of a SQL engine: run one statement, get rows with their
//! column types, a completion, or an error that says whether a feature is missing. eddy's
//! [`EddySession`] implements it over [`Session`]; the runner's own tests
//! implement it with canned answers. Whether the session evaluates on the reference evaluator
//! or renders a differential dataflow is invisible here.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};

use eddy_sql::engine::DataflowEngine;
use eddy_sql::engine::OracleEngine;
use eddy_sql::plan::Column;
use eddy_sql::session::SqlErrorKind;
use eddy_sql::{BindError, Outcome, Row, Session};
use sqllogictest::{DBOutput, DefaultColumnType};

use super::format::{format_value, type_letter, Style};

/// What one statement returned.
#[derive(Clone, Debug, PartialEq)]
pub enum EngineOutput {
    /// A query's result: its columns and its rows, in the engine's order.
    Rows {
        /// The result columns.
        columns: Vec<Column>,
        /// The rows.
        rows: Vec<Row>,
    },
    /// A statement that returns no rows completed; `count` rows were affected when known.
    Done {
        /// Rows inserted, updated or deleted (0 when the engine does not say).
        count: u64,
    },
}

/// Why a statement failed, as far as the conformance report cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The statement uses a feature eddy does not have (yet): a known gap.
    Unsupported,
    /// Any other error: a bad statement, a runtime error, or a bug.
    Other,
}

/// A failed statement.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EngineError {
    /// Unsupported feature or other error.
    pub kind: ErrorKind,
    /// The engine's message.
    pub message: String,
}

/// A SQL engine the runner can drive: one statement at a time, state kept between statements.
pub trait Engine {
    /// Runs one statement.
    fn execute(&mut self, sql: &str) -> Result<EngineOutput, EngineError>;
}

/// eddy's engine: a fresh [`Session`] per test file.
///
/// The session lives on a thread of its own and is driven over channels: the `sqllogictest`
/// crate wants a `Send` database, and a session (which owns a `Box<dyn QueryEngine>`) is not.
pub struct EddySession {
    requests: Sender<String>,
    responses: Receiver<Result<EngineOutput, EngineError>>,
}

/// Which query engine the sessions use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryEngineChoice {
    /// The session's default ([`Session::new`]): what the baseline is for.
    Default,
    /// The reference evaluator.
    Oracle,
    /// Differential dataflow in an eddy job, one worker.
    Dataflow,
}

impl QueryEngineChoice {
    /// The choice named by `EDDY_SLT_ENGINE` (`oracle`, `dataflow`; unset or anything else:
    /// the default).
    pub fn from_env() -> QueryEngineChoice {
        match std::env::var("EDDY_SLT_ENGINE").as_deref() {
            Ok("oracle") => QueryEngineChoice::Oracle,
            Ok("dataflow") => QueryEngineChoice::Dataflow,
            _ => QueryEngineChoice::Default,
        }
    }
}

impl EddySession {
    /// A session with an empty catalog and the session's default query engine.
    pub fn new() -> EddySession {
        EddySession::with_engine(QueryEngineChoice::Default)
    }

    /// A session with an empty catalog and the chosen query engine.
    pub fn with_engine(choice: QueryEngineChoice) -> EddySession {
        let (requests, request_receiver) = mpsc::channel::<String>();
        let (response_sender, responses) = mpsc::channel();
        std::thread::spawn(move || {
            let mut session = match choice {
                QueryEngineChoice::Default => Session::new(),
                QueryEngineChoice::Oracle => Session::with_engine(Box::new(OracleEngine)),
                QueryEngineChoice::Dataflow => Session::with_engine(Box::new(DataflowEngine::default())),
            };
            for sql in request_receiver {
                if response_sender.send(execute(&mut session, &sql)).is_err() {
                    break;
                }
            }
        });
        EddySession { requests, responses }
    }
}

impl Engine for EddySession {
    fn execute(&mut self, sql: &str) -> Result<EngineOutput, EngineError> {
        let gone = || EngineError { kind: ErrorKind::Other, message: "the session thread ended".to_owned() };
        self.requests.send(sql.to_owned()).map_err(|_| gone())?;
        self.responses.recv().map_err(|_| gone())?
    }
}

/// Runs one record's SQL on `session`: the last statement's outcome decides (a record holds
/// one statement; `EXPLAIN` text counts as a completed statement).
fn execute(session: &mut Session, sql: &str) -> Result<EngineOutput, EngineError> {
    match session.execute(sql) {
        Ok(outcomes) => Ok(match outcomes.into_iter().last() {
            Some(Outcome::Rows { columns, rows }) => EngineOutput::Rows { columns, rows },
            // A job (a statement over connector tables) does not occur with in-memory tables;
            // like EXPLAIN text, it counts as a completed statement.
            Some(Outcome::Done { .. } | Outcome::Explain(_) | Outcome::Job(_)) | None => {
                EngineOutput::Done { count: 0 }
            }
        }),
        Err(error) => {
            let kind = match &error.kind {
                SqlErrorKind::Unsupported(_) | SqlErrorKind::Bind(BindError::Unsupported { .. }) => {
                    ErrorKind::Unsupported
                }
                _ => ErrorKind::Other,
            };
            // The kind's text alone: the statement number and position say nothing about why.
            Err(EngineError { kind, message: error.kind.to_string() })
        }
    }
}

/// The column type letters the current query record expects, shared between the record loop
/// (which knows the record) and [`SltDb`] (which formats the values): `sqllogictest::DB::run`
/// sees only the SQL text, but SQLite's convention prints by the expected letters.
pub type ExpectedTypes = Arc<Mutex<Vec<char>>>;

/// `sqllogictest::DB` over an [`Engine`], printing values in a corpus's [`Style`].
pub struct SltDb<E> {
    engine: E,
    style: Style,
    expected: ExpectedTypes,
}

impl<E: Engine> SltDb<E> {
    /// A database over `engine` that prints in `style`, reading the expected column letters of
    /// the current query from `expected`.
    pub fn new(engine: E, style: Style, expected: ExpectedTypes) -> SltDb<E> {
        SltDb { engine, style, expected }
    }
}

impl<E: Engine> sqllogictest::DB for SltDb<E> {
    type Error = EngineError;
    type ColumnType = DefaultColumnType;

    fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, EngineError> {
        match self.engine.execute(sql)? {
            EngineOutput::Done { count } => Ok(DBOutput::StatementComplete(count)),
            EngineOutput::Rows { columns, rows } => {
                let expected = self.expected.lock().map(|letters| letters.clone()).unwrap_or_default();
                // The expected letters apply only when the widths agree; otherwise the result
                // is wrong anyway and prints by its own types.
                let letters: Vec<Option<char>> = if expected.len() == columns.len() {
                    expected.into_iter().map(Some).collect()
                } else {
                    vec![None; columns.len()]
                };
                let rows = rows
                    .iter()
                    .map(|row| {
                        row.values()
                            .iter()
                            .zip(&letters)
                            .map(|(value, letter)| format_value(value, *letter, self.style))
                            .collect()
                    })
                    .collect();
                let types = columns
                    .iter()
                    .map(|column| match type_letter(&column.ty) {
                        'I' => DefaultColumnType::Integer,
                        'R' => DefaultColumnType::FloatingPoint,
                        'T' => DefaultColumnType::Text,
                        _ => DefaultColumnType::Any,
                    })
                    .collect();
                Ok(DBOutput::Rows { types, rows })
            }
        }
    }

    fn engine_name(&self) -> &str {
        super::records::ENGINE_LABEL
    }
}
