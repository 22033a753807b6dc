//! The differential renderer as a session's [`QueryEngine`]: each query is optimized (which
//! decorrelates it, as the renderer requires) and run as a bounded eddy job over the session's
//! in-memory tables.

use std::collections::BTreeMap;

use super::job::run_bounded;
use crate::datum::Row;
use crate::optimize::optimize;
use crate::plan::Query;
use crate::session::{EngineError, QueryEngine};

/// Runs a session's queries as differential dataflows in eddy jobs of `workers` workers.
#[derive(Clone, Copy, Debug)]
pub struct DifferentialEngine {
    /// Worker threads per query's job.
    pub workers: usize,
}

impl Default for DifferentialEngine {
    fn default() -> Self {
        DifferentialEngine { workers: 1 }
    }
}

impl QueryEngine for DifferentialEngine {
    fn query(&self, query: &Query, tables: &BTreeMap<String, Vec<Row>>) -> Result<Vec<Row>, EngineError> {
        let plan =
            optimize(query.plan.clone()).map_err(|error| EngineError { message: error.to_string() })?;
        let optimized = Query { plan, order: query.order.clone() };
        run_bounded(&optimized, tables, self.workers)
            .map_err(|error| EngineError { message: error.to_string() })
    }
}
