//! The engines a session evaluates queries with: the reference evaluator (the default) and
//! the differential renderer in an eddy job ([`DataflowEngine`]), behind one small trait.

use std::collections::BTreeMap;

use thiserror::Error;

use crate::datum::Row;
use crate::oracle;
use crate::plan::Query;
use crate::render::run_bounded;

/// A query engine's failure.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct EngineError {
    /// What went wrong.
    pub message: String,
}

/// What evaluates queries for a session: the reference evaluator, or a dataflow.
pub trait QueryEngine {
    /// The rows of `query` over `tables` (each in-memory table's rows, by catalog name). The
    /// session sorts them by `query.order` afterwards, so an engine need not.
    fn query(&self, query: &Query, tables: &BTreeMap<String, Vec<Row>>) -> Result<Vec<Row>, EngineError>;
}

/// The reference evaluator ([`crate::oracle`]) as a [`QueryEngine`].
#[derive(Clone, Copy, Debug, Default)]
pub struct OracleEngine;

impl QueryEngine for OracleEngine {
    fn query(&self, query: &Query, tables: &BTreeMap<String, Vec<Row>>) -> Result<Vec<Row>, EngineError> {
        oracle::evaluate_query(query, tables).map_err(|e| EngineError { message: e.to_string() })
    }
}

/// The differential renderer, run as a bounded eddy job per query ([`run_bounded`]). It
/// takes decorrelated plans only (no `Plan::Apply`), so queries with subqueries need the
/// optimizer's decorrelation first; until then they fail with the renderer's error.
#[derive(Clone, Copy, Debug)]
pub struct DataflowEngine {
    /// Worker threads of each job.
    pub workers: usize,
}

impl Default for DataflowEngine {
    fn default() -> DataflowEngine {
        DataflowEngine { workers: 1 }
    }
}

impl QueryEngine for DataflowEngine {
    fn query(&self, query: &Query, tables: &BTreeMap<String, Vec<Row>>) -> Result<Vec<Row>, EngineError> {
        run_bounded(query, tables, self.workers).map_err(|e| EngineError { message: e.to_string() })
    }
}
