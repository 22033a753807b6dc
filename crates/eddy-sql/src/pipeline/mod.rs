//! A SQL pipeline in an eddy job: tables read through their connectors, every query rendered
//! by one [`Renderer`] (so queries over the same tables share arrangements), each result turned
//! into a changelog and written to its sink. This is what `INSERT INTO` statements (one job for
//! all of them, like Flink's statement sets), `eddy sql -f` and the shell's queries run.
//!
//! # Checkpointing
//! See [`state`]: the input and output states are snapshotted; arrangements are rebuilt from
//! the inputs on restore. Sources are named `sql-source-<table>`, input states
//! `sql-input-<table>`, output states `sql-output-<insert>`, so a savepoint restores into the
//! same statements at any worker count.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use eddy_core::error::{Error, Result};
use eddy_core::prelude::{DataStream, Env};
use eddy_core::record::Record;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline as Local;
use timely::dataflow::operators::generic::Operator;

use crate::changelog::{upsert_key, ChangelogMode, RowChange};
use crate::connect::sink::{check_sink, write, Collect, TableSink};
use crate::connect::source::{read, TableSource};
use crate::datum::Row;
use crate::plan::{Plan, Query};
use crate::render::Renderer;

mod state;

/// Where a query's changes go.
#[derive(Clone, Debug)]
pub enum Output {
    /// A table of the catalog (`INSERT INTO`).
    Table(TableSink),
    /// Memory, for the shell and tests: `(logical time, change)` in arrival order.
    Collect(Arc<Mutex<Vec<(u64, RowChange)>>>),
    /// A `DataStream` of changes that [`SqlPipeline::build`] returns, for the program to
    /// continue with (Flink's `toChangelogStream`).
    Stream,
}

/// One query and where its result goes.
#[derive(Clone, Debug)]
pub struct Insert {
    /// A name for its operators and state (the target table, or `query-<n>`).
    pub name: String,
    /// The query, decorrelated and optimized.
    pub query: Query,
    /// Where its changes go.
    pub output: Output,
}

/// Tables and the queries over them, built into every worker of an eddy job.
#[derive(Clone, Debug, Default)]
pub struct SqlPipeline {
    /// The tables the queries may read.
    pub sources: Vec<TableSource>,
    /// The queries.
    pub inserts: Vec<Insert>,
}

impl SqlPipeline {
    /// The tables the queries read, by name, each once.
    pub fn tables_read(&self) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        for insert in &self.inserts {
            collect_gets(&insert.query.plan, &mut names);
        }
        names
    }

    /// Whether every query's result fits its sink (an append-only sink refuses an updating
    /// query) and every table read exists.
    pub fn check(&self) -> Result<()> {
        for name in self.tables_read() {
            if !self.sources.iter().any(|source| source.name == name) {
                return Err(Error::Config(format!(
                    "the pipeline reads table {name}, which it was not given"
                )));
            }
        }
        for insert in &self.inserts {
            if !insert.query.plan.is_decorrelated() {
                return Err(Error::Internal(format!("query {} is not decorrelated", insert.name)));
            }
            if let Output::Table(sink) = &insert.output {
                check_sink(sink, self.mode(&insert.query.plan))?;
            }
        }
        Ok(())
    }

    /// Whether a plan's result over these tables only appends. Bounded tables without event
    /// time arrive at one logical time, so the result never retracts; other tables append.
    pub fn mode(&self, plan: &Plan) -> ChangelogMode {
        if self.sources.iter().all(TableSource::is_read_at_one_time) {
            // One final result when the input ends: a batch result is append-only.
            return ChangelogMode::AppendOnly;
        }
        ChangelogMode::of(plan, &|_| ChangelogMode::AppendOnly)
    }

    /// Builds the pipeline on one worker of a job (call it from `Job::run`'s closure). Returns
    /// the change streams of the queries whose output is [`Output::Stream`], in order.
    pub fn build<'scope>(&self, env: &mut Env<'scope>) -> Result<Vec<DataStream<'scope, RowChange>>> {
        self.check()?;
        let mut renderer = Renderer::new(env.scope());
        for name in self.tables_read() {
            let Some(source) = self.sources.iter().find(|source| source.name == name) else { continue };
            let stream = read(env, source)?.uid(&format!("sql-source-{name}"));
            renderer.add_input(name.clone(), state::input_state(stream, &name));
        }
        let mut streams = Vec::new();
        for insert in &self.inserts {
            let rows =
                renderer.render(&insert.query.plan).map_err(|error| Error::Config(error.to_string()))?;
            let changes = state::output_changelog(env, rows, upsert_key(&insert.query.plan), &insert.name);
            match &insert.output {
                Output::Table(sink) => write(changes, sink)?,
                Output::Collect(rows) => {
                    changes.sink(Collect { rows: Some(Arc::clone(rows)) });
                }
                Output::Stream => streams.push(changes),
            }
        }
        fail_on_row_errors(env, renderer.errors().inner);
        Ok(streams)
    }
}

/// Fails the job with the first row an operator could not process (the error names the
/// operator, the row and why).
fn fail_on_row_errors<'scope>(
    env: &Env<'scope>,
    errors: timely::dataflow::Stream<'scope, u64, Vec<(crate::render::RowError, u64, i64)>>,
) {
    let failure = env.failure();
    let silent =
        errors.unary::<CapacityContainerBuilder<Vec<Record<()>>>, _, _, _>(Local, "SqlRowErrors", |_, _| {
            move |input, _output| {
                input.for_each(|_, batch| {
                    if let Some((error, _, _)) = batch.first() {
                        failure.fail(Error::User(format!("SQL: {error}")));
                    }
                    batch.clear();
                });
            }
        });
    DataStream::from_timely(env, silent);
}

fn collect_gets(plan: &Plan, names: &mut BTreeSet<String>) {
    if let Plan::Get { name, .. } = plan {
        names.insert(name.clone());
    }
    for input in plan.inputs() {
        collect_gets(input, names);
    }
}

/// The table a changelog ends at: each row as often as its additions outnumber its removals
/// (an error names a row removed more often than added).
pub fn final_rows(changes: &[(u64, RowChange)]) -> Result<Vec<Row>> {
    let mut counts: std::collections::BTreeMap<Row, i64> = std::collections::BTreeMap::new();
    for (_, change) in changes {
        *counts.entry(change.row.clone()).or_insert(0) += if change.kind.is_addition() { 1 } else { -1 };
    }
    let mut rows = Vec::new();
    for (row, count) in counts {
        if count < 0 {
            return Err(Error::Internal(format!(
                "the changelog removes {row} {} more times than it adds it",
                -count
            )));
        }
        rows.extend(std::iter::repeat_n(row, count as usize));
    }
    Ok(rows)
}
