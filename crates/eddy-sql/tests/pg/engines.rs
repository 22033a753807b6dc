//! The engines compared with PostgreSQL: eddy's [`Session`] (each query a dataflow over the
//! final tables), eddy maintaining each query incrementally over the tables' change logs
//! ([`IncrementalEddyEngine`]), and PostgreSQL itself in a second schema, which checks the
//! harness (generator, driver, normalisation): against itself every answer must be equal.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use eddy_sql::bind::BindError;
use eddy_sql::changelog::RowChange;
use eddy_sql::optimize::optimize_query;
use eddy_sql::pipeline::final_rows;
use eddy_sql::render::run_incremental;
use eddy_sql::session::{Outcome, Session, SqlError, SqlErrorKind};
use eddy_sql::Row;

use super::compare::{from_eddy, Canonical};
use super::driver::{normalise_postgres, Engine, EngineError};
use super::psql::Postgres;
use super::tables::Family;

/// PostgreSQL in a schema of its own.
pub struct PostgresEngine {
    postgres: Postgres,
    schema: String,
}

impl PostgresEngine {
    /// A fresh, empty schema on `postgres`.
    pub fn new(postgres: &Postgres) -> PostgresEngine {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let schema = format!("eddy_self_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
        let create = format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema};");
        if let Err(error) = postgres.execute(None, &create) {
            panic!("could not create schema {schema}: {}", error.message);
        }
        PostgresEngine { postgres: postgres.clone(), schema }
    }
}

impl Drop for PostgresEngine {
    fn drop(&mut self) {
        let _ = self.postgres.execute(None, &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema));
    }
}

impl Engine for PostgresEngine {
    fn execute(&mut self, sql: &str) -> Result<(), EngineError> {
        let sql = if sql.trim_end().ends_with(';') { sql.to_owned() } else { format!("{sql};") };
        self.postgres
            .execute(Some(&self.schema), &sql)
            .map(|_| ())
            .map_err(|error| EngineError::Failed(error.message))
    }

    fn query(&mut self, sql: &str, families: &[Family]) -> Result<Vec<Canonical>, EngineError> {
        let rows = self
            .postgres
            .query(Some(&self.schema), sql)
            .map_err(|error| EngineError::Failed(error.message))?;
        normalise_postgres(&rows, families).map_err(EngineError::Failed)
    }
}

/// eddy's session (with its default query engine).
pub struct EddyEngine {
    session: Session,
}

impl EddyEngine {
    /// A new, empty session.
    pub fn new() -> EddyEngine {
        EddyEngine { session: Session::new() }
    }
}

/// Sorts eddy's errors: a feature it lacks (including SQL its parser does not take) or
/// anything else.
fn classify(error: SqlError) -> EngineError {
    let message = error.to_string();
    match error.kind {
        SqlErrorKind::Unsupported(_)
        | SqlErrorKind::Syntax(_)
        | SqlErrorKind::Bind(BindError::Unsupported { .. }) => EngineError::Unsupported(message),
        _ => EngineError::Failed(message),
    }
}

impl Engine for EddyEngine {
    fn execute(&mut self, sql: &str) -> Result<(), EngineError> {
        self.session.execute(sql).map(|_| ()).map_err(classify)
    }

    fn query(&mut self, sql: &str, _families: &[Family]) -> Result<Vec<Canonical>, EngineError> {
        let outcomes = self.session.execute(sql).map_err(classify)?;
        match outcomes.into_iter().last() {
            Some(Outcome::Rows { rows, .. }) => {
                Ok(rows.iter().map(|row| row.values().iter().map(from_eddy).collect()).collect())
            }
            other => Err(EngineError::Failed(format!("a query gave {other:?}, not rows"))),
        }
    }

    /// Every table's change log, summed up, must be its contents: that is what the incremental
    /// (differential) path will be fed.
    fn check_changes(&self) -> Result<(), String> {
        for (table, rows) in self.session.tables() {
            let mut from_log: BTreeMap<&Row, i64> = BTreeMap::new();
            for batch in self.session.changes(table) {
                for (row, diff) in batch {
                    *from_log.entry(row).or_insert(0) += diff;
                }
            }
            from_log.retain(|_, count| *count != 0);
            let mut contents: BTreeMap<&Row, i64> = BTreeMap::new();
            for row in rows {
                *contents.entry(row).or_insert(0) += 1;
            }
            if from_log != contents {
                return Err(format!(
                    "table {table}: its change log sums to {from_log:?}, but it holds {contents:?}"
                ));
            }
        }
        Ok(())
    }
}

/// eddy maintaining each query incrementally: the session runs the DDL and DML, and a query is
/// rendered as a differential dataflow fed every table's change log, one statement's changes
/// per logical time (inserts, then each `UPDATE` as retractions and insertions, each `DELETE`
/// as retractions), at two workers. Its answer is its changelog folded up, which must also be
/// the result the dataflow holds at the last time; row errors are those standing at the end.
pub struct IncrementalEddyEngine(EddyEngine);

impl IncrementalEddyEngine {
    /// A new, empty session.
    pub fn new() -> IncrementalEddyEngine {
        IncrementalEddyEngine(EddyEngine::new())
    }
}

impl Engine for IncrementalEddyEngine {
    fn execute(&mut self, sql: &str) -> Result<(), EngineError> {
        self.0.execute(sql)
    }

    fn query(&mut self, sql: &str, _families: &[Family]) -> Result<Vec<Canonical>, EngineError> {
        let session = &self.0.session;
        let query = session.bind(sql).map_err(classify)?;
        let query = optimize_query(query).map_err(|error| EngineError::Unsupported(error.to_string()))?;
        let mut batches: Vec<BTreeMap<String, Vec<(Row, i64)>>> = Vec::new();
        for (table, _) in query.plan.tables_read() {
            for (time, batch) in session.changes(&table).iter().enumerate() {
                if batches.len() <= time {
                    batches.resize_with(time + 1, BTreeMap::new);
                }
                batches[time].entry(table.clone()).or_default().extend(batch.iter().cloned());
            }
        }
        if batches.is_empty() {
            batches.push(BTreeMap::new());
        }
        let run =
            run_incremental(&query.plan, &batches, 2).map_err(|e| EngineError::Failed(e.to_string()))?;
        if let Some(error) = run.final_errors.first() {
            return Err(EngineError::Failed(error.to_string()));
        }
        let changelog: Vec<(u64, RowChange)> = (0u64..)
            .zip(&run.changes)
            .flat_map(|(time, changes)| changes.iter().map(move |change| (time, change.clone())))
            .collect();
        let rows = final_rows(&changelog).map_err(|e| EngineError::Failed(e.to_string()))?;
        let held = run.results.last().cloned().unwrap_or_default();
        if rows != held {
            return Err(EngineError::Failed(format!(
                "the changelog folds up to {rows:?}, the dataflow holds {held:?}"
            )));
        }
        Ok(rows.iter().map(|row| row.values().iter().map(from_eddy).collect()).collect())
    }

    fn check_changes(&self) -> Result<(), String> {
        self.0.check_changes()
    }
}
