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

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use eddy_core::error::{Error, Result};
use eddy_core::prelude::{DataStream, Env};

use crate::changelog::{upsert_key, ChangelogMode, RowChange};
use crate::connect::sink::{check_sink, write, Collect, TableSink};
use crate::connect::source::{read, TableSource};
use crate::datum::{Datum, Row};
use crate::plan::{Column, Plan, Query};
use crate::render::{fail_job_on_errors, Renderer, Rows};
use crate::types::SqlType;

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
    /// Where rows the queries cannot process go (`SET 'sql.dead-letter-table'`): a table of
    /// [`dead_letter_columns`]. Without one, such a row fails the job.
    pub dead_letters: Option<TableSink>,
}

/// The columns of a dead-letter table: the query (its insert's name), the operator as
/// `EXPLAIN` prints it, the row it failed on, and the error.
pub fn dead_letter_columns() -> Vec<Column> {
    ["query", "operator", "row", "error"].into_iter().map(|name| Column::new(name, SqlType::STRING)).collect()
}

impl SqlPipeline {
    /// The tables the queries read, by name, each once.
    pub fn tables_read(&self) -> BTreeSet<String> {
        self.inserts.iter().flat_map(|insert| insert.query.plan.tables_read()).map(|(name, _)| name).collect()
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
        if let Some(sink) = &self.dead_letters {
            let strings = sink.columns.len() == dead_letter_columns().len()
                && sink.columns.iter().all(|column| column.ty.is_string());
            if !strings {
                return Err(Error::Config(format!(
                    "dead-letter table {} must have four string columns (query, operator, row, \
                     error), it has ({})",
                    sink.name,
                    sink.columns
                        .iter()
                        .map(|c| format!("{} {}", c.name, c.ty))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            // An error goes away when its row is retracted, so an updating query's errors update.
            let updating =
                self.inserts.iter().any(|insert| self.mode(&insert.query.plan) == ChangelogMode::Updating);
            check_sink(sink, if updating { ChangelogMode::Updating } else { ChangelogMode::AppendOnly })?;
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
        let mut builder = PipelineBuilder::new(env);
        if self.dead_letters.is_some() {
            builder.keep_dead_letters();
        }
        let mut columns_read: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
        for insert in &self.inserts {
            for (table, columns) in insert.query.plan.table_columns_read() {
                columns_read.entry(table).or_default().extend(columns);
            }
        }
        for name in self.tables_read() {
            let Some(source) = self.sources.iter().find(|source| source.name == name) else { continue };
            let stream = read(env, source)?.uid(&format!("sql-source-{name}"));
            match columns_read.remove(&name) {
                Some(columns) if columns.len() < source.columns.len() => {
                    builder.add_table_reading(&name, stream, columns.into_iter().collect());
                }
                _ => builder.add_table(&name, stream),
            }
        }
        let mut streams = Vec::new();
        for insert in &self.inserts {
            let changes = builder.query(env, &insert.name, &insert.query)?;
            match &insert.output {
                Output::Table(sink) => write(changes, sink)?,
                Output::Collect(rows) => {
                    changes.sink(Collect { rows: Some(Arc::clone(rows)) });
                }
                Output::Stream => streams.push(changes),
            }
        }
        if let (Some(sink), Some(changes)) = (&self.dead_letters, builder.dead_letters(env)) {
            write(changes, sink)?;
        }
        Ok(streams)
    }
}

/// Builds SQL into a job step by step: tables from any stream of row updates, queries
/// rendered by one [`Renderer`] as they come (sharing arrangements with the earlier ones).
/// [`SqlPipeline::build`] and the Table API ([`crate::table`]) use it.
pub struct PipelineBuilder<'scope> {
    renderer: Renderer<'scope>,
    /// The dead letters of the queries rendered so far, when they are kept rather than failing
    /// the job ([`PipelineBuilder::keep_dead_letters`]).
    dead_letters: Option<Vec<Rows<'scope>>>,
}

impl<'scope> PipelineBuilder<'scope> {
    /// A builder on `env`'s worker.
    pub fn new(env: &Env<'scope>) -> Self {
        PipelineBuilder { renderer: Renderer::new(env.scope()), dead_letters: None }
    }

    /// Makes `stream` the table `name` (its state checkpointed as `sql-input-<name>`).
    pub fn add_table(&mut self, name: &str, stream: DataStream<'scope, crate::connect::source::RowUpdate>) {
        self.renderer
            .add_input(name.to_owned(), state::input_state(stream, name, None, self.renderer.replay_time()));
    }

    /// Makes `stream` the table `name`, of which the queries read only the columns `read`:
    /// the others are dropped (set to `NULL`) as rows enter, so rows that differ only there
    /// consolidate in the input state and every arrangement. Only for queries known in
    /// advance ([`SqlPipeline::build`]); a query rendered later must not read other columns.
    pub fn add_table_reading(
        &mut self,
        name: &str,
        stream: DataStream<'scope, crate::connect::source::RowUpdate>,
        read: Vec<usize>,
    ) {
        self.renderer.add_input(
            name.to_owned(),
            state::input_state(stream, name, Some(read), self.renderer.replay_time()),
        );
    }

    /// Renders a decorrelated query and returns its changes (its result state checkpointed as
    /// `sql-output-<name>`). A row the query cannot process fails the job.
    pub fn query(
        &mut self,
        env: &Env<'scope>,
        name: &str,
        query: &Query,
    ) -> Result<DataStream<'scope, RowChange>> {
        let rows =
            self.renderer.render(&query.plan).map_err(|error| Error::Config(format!("{name}: {error}")))?;
        let errors = self.renderer.take_errors();
        match &mut self.dead_letters {
            Some(dead_letters) => {
                let query = name.to_owned();
                dead_letters.push(errors.map(move |error| {
                    Row::new(vec![
                        Datum::String(query.clone()),
                        Datum::String(error.operator),
                        Datum::String(error.row.to_string()),
                        Datum::String(error.message),
                    ])
                }));
            }
            None => fail_job_on_errors(env, errors),
        }
        Ok(state::output_changelog(env, rows, upsert_key(&query.plan), name))
    }

    /// Rows the queries rendered from now on cannot process become dead letters
    /// ([`PipelineBuilder::dead_letters`]) instead of failing the job.
    pub fn keep_dead_letters(&mut self) {
        self.dead_letters.get_or_insert_with(Vec::new);
    }

    /// The dead letters of every query rendered since [`PipelineBuilder::keep_dead_letters`],
    /// as changes of a table of [`dead_letter_columns`] (checkpointed as
    /// `sql-output-dead-letters`): an error is retracted when its row is.
    pub fn dead_letters(&mut self, env: &Env<'scope>) -> Option<DataStream<'scope, RowChange>> {
        let collections = self.dead_letters.take()?;
        let rows = differential_dataflow::collection::concatenate(env.scope(), collections);
        Some(state::output_changelog(env, rows, None, "dead-letters"))
    }

    /// The dataflow rendered so far, for `EXPLAIN`.
    pub fn explain(&self) -> String {
        self.renderer.explain()
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
