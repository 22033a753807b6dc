//! The engines compared with PostgreSQL: eddy's `Session`, and
//! PostgreSQL itself in a second schema, which checks the harness (generator, driver,
//! normalisation): against itself every answer must be equal.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::compare::Canonical;
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
        self.postgres.execute(Some(&self.schema), &sql).map(|_| ()).map_err(|error| EngineError::Failed(error.message))
    }

    fn query(&mut self, sql: &str, families: &[Family]) -> Result<Vec<Canonical>, EngineError> {
        let rows = self.postgres.query(Some(&self.schema), sql).map_err(|error| EngineError::Failed(error.message))?;
        normalise_postgres(&rows, families).map_err(EngineError::Failed)
    }
}
