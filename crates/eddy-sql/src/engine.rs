//! Query engines for sessions ([`QueryEngine`]): the reference evaluator ([`OracleEngine`]),
//! and the dataflow engine ([`DataflowEngine`]), a session's query optimized, decorrelated and run as a
//! differential dataflow in an eddy job over the session's in-memory tables. It is the engine
//! `eddy sql`, the sqllogictest runner and the PostgreSQL comparison use; the reference
//! evaluator ([`crate::oracle`]) stays the tests' oracle.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use eddy_core::prelude::{Job, JobConfig};

use crate::connect::options::Connector;
use crate::connect::source::TableSource;
use crate::datum::Row;
use crate::optimize::optimize_query;
use crate::pipeline::{final_rows, Insert, Output, SqlPipeline};
use crate::plan::Query;
use thiserror::Error;

/// A query engine's failure.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct EngineError {
    /// What went wrong.
    pub message: String,
}

/// What evaluates queries for a session: the reference evaluator, or a dataflow.
pub trait QueryEngine: Send {
    /// The rows of `query` over `tables` (each in-memory table's rows, by catalog name). The
    /// session sorts them by `query.order` afterwards, so an engine need not.
    fn query(&self, query: &Query, tables: &BTreeMap<String, Vec<Row>>) -> Result<Vec<Row>, EngineError>;
}

/// The reference evaluator ([`crate::oracle`]) as a [`QueryEngine`].
#[derive(Clone, Copy, Debug, Default)]
pub struct OracleEngine;

impl QueryEngine for OracleEngine {
    fn query(&self, query: &Query, tables: &BTreeMap<String, Vec<Row>>) -> Result<Vec<Row>, EngineError> {
        crate::oracle::evaluate_query(query, tables).map_err(|e| EngineError { message: e.to_string() })
    }
}

/// Runs queries on differential dataflow in an eddy job of `workers` workers.
#[derive(Clone, Copy, Debug)]
pub struct DataflowEngine {
    /// Worker threads per query.
    pub workers: usize,
}

impl Default for DataflowEngine {
    fn default() -> Self {
        DataflowEngine { workers: 1 }
    }
}

fn engine_error(message: impl ToString) -> EngineError {
    EngineError { message: message.to_string() }
}

impl DataflowEngine {
    /// The optimized query as the dataflow runs it (`EXPLAIN`'s optimized plan).
    pub fn optimize(&self, query: &Query) -> Result<Query, EngineError> {
        optimize_query(query.clone()).map_err(engine_error)
    }
}

impl QueryEngine for DataflowEngine {
    fn query(&self, query: &Query, tables: &BTreeMap<String, Vec<Row>>) -> Result<Vec<Row>, EngineError> {
        let query = self.optimize(query)?;
        let mut sources = Vec::new();
        for (name, columns) in query.plan.tables_read() {
            let rows = tables.get(&name).ok_or_else(|| engine_error(format!("no rows for table {name}")))?;
            sources.push(TableSource {
                name,
                columns,
                connector: Connector::Memory,
                rows: rows.iter().map(|row| (row.clone(), 1)).collect(),
                time: Default::default(),
            });
        }
        let collected = Arc::new(Mutex::new(Vec::new()));
        let pipeline = SqlPipeline {
            sources,
            inserts: vec![Insert {
                name: "query".into(),
                query,
                output: Output::Collect(Arc::clone(&collected)),
            }],
            dead_letters: None,
        };
        pipeline.check().map_err(engine_error)?;
        Job::new(JobConfig::with_workers(self.workers))
            .run(move |env| pipeline.build(env).map(|_| ()))
            .map_err(|error| match error {
                // A row error: its message names the query's operator and row already.
                eddy_core::Error::User(message) => engine_error(message),
                other => engine_error(other),
            })?;
        let changes = collected.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        final_rows(&changes).map_err(engine_error)
    }
}
