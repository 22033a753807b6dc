//! What the tests of SQL jobs share: a session on the dataflow engine, a statement's job, and
//! a job's changelog by logical time.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use eddy_core::prelude::{Job, JobConfig};
use eddy_sql::changelog::RowChange;
use eddy_sql::engine::DataflowEngine;
use eddy_sql::pipeline::Output;
use eddy_sql::session::{Outcome, Session, SqlJob};

/// A session whose queries run as dataflow jobs.
pub fn session() -> Session {
    Session::with_engine(Box::new(DataflowEngine::default()))
}

/// The job of the last statement of `sql` (a query or an `INSERT` over connector tables).
pub fn job(session: &mut Session, sql: &str) -> SqlJob {
    match session.execute(sql).unwrap_or_else(|e| panic!("{sql}: {e}")).pop() {
        Some(Outcome::Job(job)) => job,
        other => panic!("{sql}: expected a job, got {other:?}"),
    }
}

/// The query's changes as `(logical time, row) -> count`, by running it in `workers`.
pub fn changelog(job: &SqlJob, workers: usize) -> BTreeMap<(u64, String), i64> {
    let collected: Arc<Mutex<Vec<(u64, RowChange)>>> = Arc::default();
    let mut pipeline = job.pipeline.clone();
    pipeline.inserts[0].output = Output::Collect(Arc::clone(&collected));
    Job::new(JobConfig::with_workers(workers)).run(move |env| pipeline.build(env).map(|_| ())).unwrap();
    let mut changes = BTreeMap::new();
    for (time, change) in collected.lock().unwrap().iter() {
        let sign = if change.kind.is_addition() { 1 } else { -1 };
        let row = eddy_sql::changelog::display_values(&change.row).join(",");
        *changes.entry((*time, row)).or_insert(0) += sign;
    }
    changes.retain(|_, n| *n != 0);
    changes
}
