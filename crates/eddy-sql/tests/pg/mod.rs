//! Differential testing of eddy's SQL against a real PostgreSQL: a seeded generator of small
//! tables, queries and changes in the subset both systems share, a `psql` driver, and the
//! comparison of answers as multisets after type-aware normalisation.
//!
//! * [`rng`]: the seeded generator of random numbers.
//! * [`tables`]: column types, values and tables; [`expr`]: expressions, predicates and
//!   aggregates; [`query`]: queries; [`dml`]: `INSERT`/`UPDATE`/`DELETE`.
//! * [`psql`]: the PostgreSQL server and its client.
//! * [`compare`]: normalised values and the multiset comparison.
//! * [`driver`]: rounds, the engine trait, the tally; [`engines`]: eddy's session and
//!   PostgreSQL itself (a second schema) as engines.
//!
//! Environment: `EDDY_TEST_PG` (`host:port`; else `scripts/postgres.sh start` is run),
//! `EDDY_PG_SKIP=1` (skip when no server can be had; never in CI), `EDDY_PG_SEED`,
//! `EDDY_PG_QUERIES`, `EDDY_PG_ROUND` and `EDDY_PG_QUERY` (replay one round or query),
//! `EDDY_PG_STRICT=1` (eddy errors other than "unsupported" fail too), `EDDY_PG_VERBOSE=1`
//! (print every query and both outcomes).

pub mod compare;
pub mod dml;
pub mod driver;
pub mod engines;
pub mod expr;
pub mod psql;
pub mod query;
pub mod rng;
pub mod tables;

use driver::{Config, Engine, Mode, Summary};
use psql::Postgres;

/// The server, or `None` when it cannot be had and `EDDY_PG_SKIP=1` allows skipping; panics
/// with what to do otherwise.
pub fn postgres_or_skip() -> Option<Postgres> {
    match Postgres::connect() {
        Ok(postgres) => Some(postgres),
        Err(problem) if std::env::var("EDDY_PG_SKIP").is_ok_and(|value| value == "1") => {
            eprintln!("skipped (EDDY_PG_SKIP=1): no PostgreSQL: {problem}");
            None
        }
        Err(problem) => panic!(
            "the differential SQL tests need PostgreSQL and none could be had: {problem}\n\
             Start one with `bash scripts/postgres.sh start` (it installs Debian's postgresql if \
             needed) or set EDDY_TEST_PG=host:port; EDDY_PG_SKIP=1 skips these tests locally."
        ),
    }
}

/// How many queries a test runs.
#[derive(Clone, Copy, Debug)]
pub enum Queries {
    /// This many unless `EDDY_PG_QUERIES` says otherwise.
    Default(usize),
    /// Always this many.
    Fixed(usize),
}

/// Runs `mode` against engines `new_engine` makes, prints the summary and fails on any wrong
/// answer.
pub fn run_and_check(
    mode: Mode,
    queries: Queries,
    new_engine: &dyn Fn(&Postgres) -> Box<dyn Engine>,
) -> Summary {
    let Some(postgres) = postgres_or_skip() else { return Summary::default() };
    let config = match queries {
        Queries::Default(n) => Config::from_env(n),
        Queries::Fixed(n) => Config { queries: n, ..Config::from_env(n) },
    };
    let summary = driver::run(&postgres, mode, &config, &|| new_engine(&postgres));
    eprintln!("{mode:?}: {}", summary.report());
    if !summary.failures.is_empty() {
        let shown: Vec<&str> = summary.failures.iter().take(5).map(String::as_str).collect();
        panic!(
            "{} of {} queries disagree with PostgreSQL ({mode:?}; the first {} below)\n{}\n\n{}",
            summary.failures.len(),
            summary.queries,
            shown.len(),
            summary.report(),
            shown.join("\n\n")
        );
    }
    summary
}
