//! Runs generated rounds on PostgreSQL and on eddy and tallies the outcome of every query.
//!
//! A round is three random tables, created and filled in a fresh PostgreSQL schema and in a
//! fresh eddy session; in the incremental mode, random changes applied to both; then random
//! queries, each run on both and compared as multisets. A query PostgreSQL refuses is the
//! generator's fault and only counted; one eddy refuses as unsupported is counted apart from
//! one it gets wrong. A wrong answer fails the test with everything needed to replay it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::compare::{from_postgres, multiset_difference, Canonical};
use super::dml::random_change;
use super::psql::{Answer, Postgres};
use super::query::{random_query, Query};
use super::rng::Rng;
use super::tables::{Family, Table};

/// What an engine under test did with a statement it did not run.
#[derive(Clone, Debug)]
pub enum EngineError {
    /// It does not support the statement (a feature it lacks).
    Unsupported(String),
    /// Any other error (binding, evaluation...).
    Failed(String),
}

/// The engine compared with PostgreSQL (eddy's session, see `eddy.rs`).
pub trait Engine {
    /// Runs statements without a result (DDL, DML), `;`-separated.
    fn execute(&mut self, sql: &str) -> Result<(), EngineError>;
    /// Runs one query and returns its rows, normalised (see `compare.rs`); `families` are the
    /// generator's result families, for an engine whose values carry no type.
    fn query(&mut self, sql: &str, families: &[Family]) -> Result<Vec<Canonical>, EngineError>;
    /// Checks the engine's own record of the changes, if it keeps one.
    fn check_changes(&self) -> Result<(), String> {
        Ok(())
    }
}

/// Queries only, or queries after random changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Tables, then queries.
    Queries,
    /// Tables, random `INSERT`/`UPDATE`/`DELETE`, then the tables' contents and queries.
    Incremental,
}

/// A run's settings, from the environment.
#[derive(Clone, Debug)]
pub struct Config {
    /// `EDDY_PG_SEED`: the seed every round's seed derives from.
    pub seed: u64,
    /// Number of queries (`EDDY_PG_QUERIES`, default given by the test).
    pub queries: usize,
    /// `EDDY_PG_ROUND`: run only this round (for replaying).
    pub only_round: Option<usize>,
    /// `EDDY_PG_QUERY`: within the round, run only this query.
    pub only_query: Option<usize>,
    /// `EDDY_PG_STRICT=1`: also fail on eddy errors that are not "unsupported", and on
    /// answers where PostgreSQL raised a data exception.
    pub strict: bool,
    /// `EDDY_PG_VERBOSE=1`: print every query and both outcomes.
    pub verbose: bool,
}

/// Queries per round.
pub const QUERIES_PER_ROUND: usize = 20;

/// Changes per round in the incremental mode.
const CHANGES_PER_ROUND: usize = 8;

impl Config {
    /// The settings, with `default_queries` unless `EDDY_PG_QUERIES` says otherwise.
    pub fn from_env(default_queries: usize) -> Config {
        let number = |name: &str| std::env::var(name).ok().and_then(|value| value.trim().parse::<u64>().ok());
        Config {
            seed: number("EDDY_PG_SEED").unwrap_or(20_261_207),
            queries: number("EDDY_PG_QUERIES").map(|n| n as usize).unwrap_or(default_queries),
            only_round: number("EDDY_PG_ROUND").map(|n| n as usize),
            only_query: number("EDDY_PG_QUERY").map(|n| n as usize),
            strict: std::env::var("EDDY_PG_STRICT").is_ok_and(|value| value == "1"),
            verbose: std::env::var("EDDY_PG_VERBOSE").is_ok_and(|value| value == "1"),
        }
    }

    /// The seed of round `round`.
    pub fn round_seed(&self, round: usize) -> u64 {
        Rng::new(self.seed ^ (round as u64).wrapping_mul(0x2545_f491_4f6c_dd1d)).next_u64()
    }
}

/// What happened to the queries of a run.
#[derive(Debug, Default)]
pub struct Summary {
    /// Queries generated and run.
    pub queries: usize,
    /// Same multiset of rows.
    pub equal: usize,
    /// Of those, how many had no row (a weak test).
    pub equal_empty: usize,
    /// Both raised a data exception (overflow...).
    pub both_failed: usize,
    /// PostgreSQL refused the query (a generator limitation), with sample messages.
    pub rejected_by_postgres: usize,
    /// PostgreSQL raised a data exception, eddy answered.
    pub only_postgres_failed: usize,
    /// eddy refused the query as unsupported.
    pub unsupported: usize,
    /// eddy failed otherwise where PostgreSQL answered.
    pub eddy_errors: usize,
    /// Changes eddy refused (skipped for both).
    pub changes_refused: usize,
    /// Changes applied to both.
    pub changes_applied: usize,
    /// The reasons eddy gave, by how often (first line, shortened).
    pub reasons: BTreeMap<String, usize>,
    /// PostgreSQL's complaints, by how often.
    pub postgres_reasons: BTreeMap<String, usize>,
    /// Wrong answers and other failures, each with its replay information.
    pub failures: Vec<String>,
}

impl Summary {
    /// A few lines for the test's output.
    pub fn report(&self) -> String {
        let mut text = format!(
            "queries run {}, equal {} ({} of them empty), unsupported by eddy {}, other eddy errors {}, mismatches {}; \
             rejected by PostgreSQL {}, data errors in both {}, data error only in PostgreSQL {}; \
             changes applied {}, refused by eddy {}",
            self.queries,
            self.equal,
            self.equal_empty,
            self.unsupported,
            self.eddy_errors,
            self.failures.len(),
            self.rejected_by_postgres,
            self.both_failed,
            self.only_postgres_failed,
            self.changes_applied,
            self.changes_refused,
        );
        for (title, reasons) in [("eddy", &self.reasons), ("PostgreSQL", &self.postgres_reasons)] {
            let mut sorted: Vec<(&String, &usize)> = reasons.iter().collect();
            sorted.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            for (reason, count) in sorted.into_iter().take(12) {
                let _ = write!(text, "\n  {title} x{count}: {reason}");
            }
        }
        text
    }
}

fn reason(message: &str) -> String {
    let line = message.lines().next().unwrap_or_default();
    line.chars().take(110).collect()
}

/// Everything about a round needed to replay it by hand.
struct RoundContext {
    replay: String,
    setup: String,
    changes: Vec<String>,
}

impl RoundContext {
    fn describe(&self, query: Option<usize>, what: &str) -> String {
        let mut text = format!("{what}\nreplay: {}", self.replay);
        if let Some(query) = query {
            let _ = write!(text, " EDDY_PG_QUERY={query}");
        }
        let _ = write!(text, "\ntables:\n{}", self.setup);
        if !self.changes.is_empty() {
            let _ = write!(text, "changes:\n{};\n", self.changes.join(";\n"));
        }
        text
    }
}

/// Runs every round of `config` and returns the tally.
pub fn run(
    postgres: &Postgres,
    mode: Mode,
    config: &Config,
    new_engine: &dyn Fn() -> Box<dyn Engine>,
) -> Summary {
    let mut summary = Summary::default();
    let rounds = config.queries.div_ceil(QUERIES_PER_ROUND).max(1);
    for round in 0..rounds {
        if config.only_round.is_some_and(|only| only != round) {
            continue;
        }
        let mut engine = new_engine();
        run_round(postgres, mode, config, round, engine.as_mut(), &mut summary);
    }
    summary
}

fn run_round(
    postgres: &Postgres,
    mode: Mode,
    config: &Config,
    round: usize,
    engine: &mut dyn Engine,
    summary: &mut Summary,
) {
    let round_seed = config.round_seed(round);
    let mut rng = Rng::new(round_seed);
    let tables: Vec<Table> = (0..3).map(|index| Table::random(&mut rng, index)).collect();
    let setup: String = tables.iter().map(Table::create_sql).collect();
    let tag = match mode {
        Mode::Queries => "q",
        Mode::Incremental => "i",
    };
    // Unique within the process too: tests of the same mode run in parallel threads of one
    // test binary, and two rounds sharing a schema would change each other's tables.
    static ROUNDS: AtomicUsize = AtomicUsize::new(0);
    let run = ROUNDS.fetch_add(1, Ordering::SeqCst);
    let schema = format!("eddy_{tag}_{}_{run}_{round}", std::process::id());
    let mut context = RoundContext {
        replay: format!(
            "EDDY_PG_SEED={} EDDY_PG_QUERIES={} EDDY_PG_ROUND={round}",
            config.seed, config.queries
        ),
        setup: setup.clone(),
        changes: Vec::new(),
    };
    // The search path names the schema before it exists; it applies once it does.
    let create = format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema};\n{setup}");
    if let Err(error) = postgres.execute(Some(&schema), &create) {
        summary
            .failures
            .push(context.describe(None, &format!("PostgreSQL refused the tables: {}", error.message)));
        return;
    }
    if let Err(error) = engine.execute(&setup) {
        summary
            .failures
            .push(context.describe(None, &format!("eddy could not create or fill the tables: {error:?}")));
        let _ = postgres.execute(None, &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        return;
    }
    let mut queries: Vec<(Query, Option<usize>)> = Vec::new();
    if mode == Mode::Incremental {
        if !apply_changes(postgres, &schema, &tables, &mut rng, engine, &mut context, summary) {
            let _ = postgres.execute(None, &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
            return;
        }
        // Every table must come back whole first.
        for table in &tables {
            let sql = format!("SELECT * FROM {}", table.name);
            let families = table.columns.iter().map(|column| column.ty.family()).collect();
            queries.push((Query { sql, families }, None));
        }
    }
    let first_query = round * QUERIES_PER_ROUND;
    let n_queries = QUERIES_PER_ROUND.min(config.queries.saturating_sub(first_query).max(1));
    for index in 0..n_queries {
        if config.only_query.is_none_or(|only| only == index) {
            let query = random_query(&mut Rng::new(round_seed ^ ((index as u64 + 1) << 32)), &tables);
            queries.push((query, Some(index)));
        }
    }
    let statements: Vec<String> = queries.iter().map(|(query, _)| query.sql.clone()).collect();
    match postgres.batch(Some(&schema), &statements) {
        Err(error) => {
            summary.failures.push(context.describe(None, &format!("psql failed: {}", error.message)))
        }
        Ok(answers) => {
            for ((query, index), expected) in queries.iter().zip(answers) {
                // A table's contents must come back whole: any error there fails.
                let strict = Config { strict: config.strict || index.is_none(), ..config.clone() };
                compare_query(expected, query, engine, &strict, summary, &context, *index);
            }
        }
    }
    let _ = postgres.execute(None, &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
}

/// Applies random changes to eddy, then those eddy took to PostgreSQL. Returns whether the
/// round can go on (PostgreSQL took them all).
fn apply_changes(
    postgres: &Postgres,
    schema: &str,
    tables: &[Table],
    rng: &mut Rng,
    engine: &mut dyn Engine,
    context: &mut RoundContext,
    summary: &mut Summary,
) -> bool {
    for _ in 0..CHANGES_PER_ROUND {
        let change = random_change(rng, tables);
        match engine.execute(&change) {
            Ok(()) => context.changes.push(change),
            Err(EngineError::Unsupported(message) | EngineError::Failed(message)) => {
                summary.changes_refused += 1;
                *summary.reasons.entry(format!("change: {}", reason(&message))).or_insert(0) += 1;
            }
        }
    }
    let answers = match postgres.batch(Some(schema), &context.changes) {
        Ok(answers) => answers,
        Err(error) => {
            summary.failures.push(context.describe(None, &format!("psql failed: {}", error.message)));
            return false;
        }
    };
    for (change, answer) in context.changes.iter().zip(&answers) {
        if let Err(error) = answer {
            let what = format!("eddy applied a change PostgreSQL refused ({}): {change}", error.message);
            summary.failures.push(context.describe(None, &what));
            return false;
        }
        summary.changes_applied += 1;
    }
    if let Err(problem) = engine.check_changes() {
        summary.failures.push(context.describe(None, &format!("eddy's change log is wrong: {problem}")));
    }
    true
}

/// Runs `query` on the engine, compares with PostgreSQL's answer and records the outcome.
fn compare_query(
    expected: Answer,
    query: &Query,
    engine: &mut dyn Engine,
    config: &Config,
    summary: &mut Summary,
    context: &RoundContext,
    index: Option<usize>,
) {
    summary.queries += 1;
    let actual = engine.query(&query.sql, &query.families);
    if config.verbose {
        let rows = match &expected {
            Ok(rows) => format!("{} rows", rows.len()),
            Err(error) => error.message.clone(),
        };
        let outcome = match &actual {
            Ok(rows) => format!("{} rows", rows.len()),
            Err(error) => format!("{error:?}"),
        };
        eprintln!("{index:?}: {}\n    PostgreSQL: {rows}; eddy: {outcome}", query.sql);
    }
    let describe = |what: String| context.describe(index, &format!("{what}\nquery: {};", query.sql));
    match (expected, actual) {
        (Err(error), _) if !error.is_data_exception() => {
            summary.rejected_by_postgres += 1;
            *summary.postgres_reasons.entry(reason(&error.message)).or_insert(0) += 1;
        }
        (Err(_), Err(_)) => summary.both_failed += 1,
        (Err(error), Ok(_)) => {
            summary.only_postgres_failed += 1;
            if config.strict {
                summary.failures.push(describe(format!("PostgreSQL failed ({}), eddy answered", error.message)));
            }
        }
        (Ok(_), Err(EngineError::Unsupported(message))) => {
            summary.unsupported += 1;
            *summary.reasons.entry(reason(&message)).or_insert(0) += 1;
        }
        (Ok(_), Err(EngineError::Failed(message))) => {
            summary.eddy_errors += 1;
            *summary.reasons.entry(reason(&message)).or_insert(0) += 1;
            if config.strict {
                summary.failures.push(describe(format!("eddy failed where PostgreSQL answered: {message}")));
            }
        }
        (Ok(expected), Ok(actual)) => match normalise(&expected, actual, &query.families) {
            Err(problem) => summary.failures.push(describe(problem)),
            Ok((expected, actual)) => match multiset_difference(&expected, &actual) {
                None => {
                    summary.equal += 1;
                    summary.equal_empty += usize::from(expected.is_empty());
                }
                Some(difference) => summary.failures.push(describe(format!(
                    "wrong answer ({} rows from PostgreSQL, {} from eddy); rows whose counts differ:\n{difference}",
                    expected.len(),
                    actual.len()
                ))),
            },
        },
    }
}

type Normalised = (Vec<Canonical>, Vec<Canonical>);

fn normalise(
    expected: &[Vec<Option<String>>],
    actual: Vec<Canonical>,
    families: &[Family],
) -> Result<Normalised, String> {
    let expected = normalise_postgres(expected, families)?;
    if let Some(row) = actual.iter().find(|row| row.len() != families.len()) {
        return Err(format!("eddy returned {} columns, PostgreSQL {}", row.len(), families.len()));
    }
    Ok((expected, actual))
}

/// PostgreSQL's rows read by the generator's result families.
pub fn normalise_postgres(
    rows: &[Vec<Option<String>>],
    families: &[Family],
) -> Result<Vec<Canonical>, String> {
    let mut normalised = Vec::new();
    for row in rows {
        if row.len() != families.len() {
            return Err(format!(
                "PostgreSQL returned {} columns, the generator expected {}",
                row.len(),
                families.len()
            ));
        }
        let values: Result<Canonical, String> =
            row.iter().zip(families).map(|(value, family)| from_postgres(value, *family)).collect();
        normalised.push(values?);
    }
    Ok(normalised)
}
