//! Differential testing against PostgreSQL (issue 16): random tables and queries in the subset
//! both systems share, run on PostgreSQL and on eddy's session and compared as multisets; and
//! the same after random `INSERT`/`UPDATE`/`DELETE` statements applied to both. PostgreSQL is
//! a private cluster (`scripts/postgres.sh`, which CI starts) or `EDDY_TEST_PG`. See
//! `pg/mod.rs` for the environment variables (more queries, replaying a seed).

mod pg;

use pg::driver::Mode;
use pg::engines::{EddyEngine, IncrementalEddyEngine, PostgresEngine};
use pg::Queries;

/// The harness against PostgreSQL itself: every generated query must agree with itself, and
/// most must be accepted (a generator that mostly writes invalid SQL tests nothing).
#[test]
fn the_harness_agrees_with_postgres_itself() {
    let summary = pg::run_and_check(Mode::Incremental, Queries::Fixed(40), &|postgres| {
        Box::new(PostgresEngine::new(postgres))
    });
    if summary.queries > 0 {
        assert!(summary.equal * 10 >= summary.queries * 8, "too few valid queries: {}", summary.report());
        assert!(summary.changes_applied > 0, "{}", summary.report());
    }
}

/// Random queries on random tables: eddy's answers must be PostgreSQL's.
#[test]
fn random_queries_agree_with_postgres() {
    pg::run_and_check(Mode::Queries, Queries::Default(200), &|_| Box::new(EddyEngine::new()));
}

/// The same after random `INSERT`/`UPDATE`/`DELETE` statements applied to both: first every
/// table's contents, then random queries; also eddy's change log must sum to its tables.
#[test]
fn queries_after_random_changes_agree_with_postgres() {
    pg::run_and_check(Mode::Incremental, Queries::Default(100), &|_| Box::new(EddyEngine::new()));
}

/// The same random changes, but each query maintained incrementally over the tables' change
/// logs: the changelog's final state must be PostgreSQL's answer after the same changes.
#[test]
fn incrementally_maintained_queries_agree_with_postgres_after_random_changes() {
    pg::run_and_check(Mode::Incremental, Queries::Default(100), &|_| Box::new(IncrementalEddyEngine::new()));
}

/// An engine that loses a row of every non-empty answer: the harness must notice.
struct DropsARow(EddyEngine);

impl pg::driver::Engine for DropsARow {
    fn execute(&mut self, sql: &str) -> Result<(), pg::driver::EngineError> {
        self.0.execute(sql)
    }

    fn query(
        &mut self,
        sql: &str,
        families: &[pg::tables::Family],
    ) -> Result<Vec<pg::compare::Canonical>, pg::driver::EngineError> {
        let mut rows = self.0.query(sql, families)?;
        rows.pop();
        Ok(rows)
    }
}

/// The comparison is not vacuous: a wrong engine fails, with replay information.
#[test]
fn a_wrong_engine_is_caught() {
    let Some(postgres) = pg::postgres_or_skip() else { return };
    let config = pg::driver::Config { queries: 20, ..pg::driver::Config::from_env(20) };
    let summary =
        pg::driver::run(&postgres, Mode::Queries, &config, &|| Box::new(DropsARow(EddyEngine::new())));
    assert!(!summary.failures.is_empty(), "{}", summary.report());
    assert!(summary.failures[0].contains("EDDY_PG_SEED=") && summary.failures[0].contains("CREATE TABLE t0"));
}
