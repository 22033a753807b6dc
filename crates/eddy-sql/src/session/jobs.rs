//! Statements that run as eddy jobs: a query that reads a connector table (files, Kafka,
//! generators) and `INSERT INTO` a connector table. The session binds and optimizes them and
//! returns an [`Outcome::Job`]; whoever executes the statement runs it (the shell with its
//! job flags, `eddy sql -f` as one job for all its inserts, a test with [`SqlJob::collect`]).

use std::sync::{Arc, Mutex};

use eddy_core::error::Error;
use eddy_core::prelude::{Job, JobConfig};
use sqlparser::ast::Insert;

use super::{Outcome, Session, SqlErrorKind, StatementResult};
use crate::bind::bind_query;
use crate::catalog::Table;
use crate::connect::options::{connector, Connector};
use crate::connect::sink::TableSink;
use crate::connect::source::TableSource;
use crate::datum::Row;
use crate::expr::ScalarExpr;
use crate::optimize::{optimize_query_with, OptimizeOptions};

/// The `SET` key of the allowed lateness of window operators (Flink's name).
pub const ALLOW_LATENESS: &str = "table.exec.emit.allow-lateness";
use crate::pipeline::{final_rows, Insert as PipelineInsert, Output, SqlPipeline};
use crate::plan::{Column, Plan, Query};

/// A statement to run as an eddy job.
#[derive(Clone, Debug)]
pub struct SqlJob {
    /// The tables it reads and its queries (one query, or one insert).
    pub pipeline: SqlPipeline,
    /// The result's columns (of the query, or of the target table).
    pub columns: Vec<Column>,
    /// The table written, for an `INSERT INTO`; `None` for a query whose changes go to
    /// the caller ([`Output::Collect`] until the caller replaces it).
    pub target: Option<String>,
}

/// Two jobs are equal when they describe the same pipeline (outputs compare by their kind and
/// target, not by the memory a collecting output writes to).
impl PartialEq for SqlJob {
    fn eq(&self, other: &SqlJob) -> bool {
        self.columns == other.columns
            && self.target == other.target
            && format!("{:?}", self.pipeline.sources) == format!("{:?}", other.pipeline.sources)
            && self.pipeline.inserts.len() == other.pipeline.inserts.len()
            && self.pipeline.inserts.iter().zip(&other.pipeline.inserts).all(|(a, b)| {
                a.name == b.name
                    && a.query == b.query
                    && std::mem::discriminant(&a.output) == std::mem::discriminant(&b.output)
            })
    }
}

impl SqlJob {
    /// Warnings for a job over unbounded input whose operators keep state forever (see
    /// [`crate::plan::state`]); none for a bounded job.
    pub fn state_warnings(&self) -> Vec<String> {
        if self.is_bounded() {
            return vec![];
        }
        self.pipeline
            .inserts
            .iter()
            .flat_map(|insert| crate::plan::state::stateful_operators(&insert.query.plan))
            .filter(|op| !op.bounded)
            .map(|op| {
                format!(
                    "{} keeps state for as long as the job runs over unbounded input (no window, interval \
                     join or TTL retires it)",
                    op.operator
                )
            })
            .collect()
    }

    /// Whether every table the job reads ends (so the job ends by itself).
    pub fn is_bounded(&self) -> bool {
        self.pipeline.sources.iter().all(TableSource::is_bounded)
    }

    /// Runs a bounded query job in `config` and returns its final rows (the changelog folded
    /// into a table).
    pub fn collect(&self, config: JobConfig) -> eddy_core::Result<Vec<Row>> {
        let collected = Arc::new(Mutex::new(Vec::new()));
        let mut pipeline = self.pipeline.clone();
        for insert in &mut pipeline.inserts {
            insert.output = Output::Collect(Arc::clone(&collected));
        }
        pipeline.check()?;
        Job::new(config).run(move |env| pipeline.build(env).map(|_| ()))?;
        let changes = collected.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        final_rows(&changes)
    }

    /// Runs the job in `config` (an insert writes its table; a query's changes are collected
    /// and dropped: use [`SqlJob::collect`] for them).
    pub fn run(&self, config: JobConfig) -> eddy_core::Result<()> {
        let pipeline = self.pipeline.clone();
        pipeline.check()?;
        Job::new(config).run(move |env| pipeline.build(env).map(|_| ()))?;
        Ok(())
    }
}

/// The `SET` key naming the dead-letter table of the jobs that follow (see
/// [`crate::pipeline::dead_letter_columns`] for its columns).
pub const DEAD_LETTER_TABLE: &str = "sql.dead-letter-table";

fn config_error(error: impl ToString) -> SqlErrorKind {
    SqlErrorKind::Catalog(error.to_string())
}

/// How a job writes `table` (`what` names its role in the error when its connector cannot
/// be written: `table`, `dead-letter table`).
fn table_sink(table: &Table, what: &str) -> StatementResult<TableSink> {
    let names: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
    let connector = connector(&table.name, &names, &table.connector_options()).map_err(config_error)?;
    if !connector.can_write() {
        return Err(config_error(format!(
            "{what} {} ({} connector) cannot be written",
            table.name,
            connector.name()
        )));
    }
    Ok(TableSink { name: table.name.clone(), columns: table.columns.clone(), connector })
}

impl Session {
    /// Whether a bound plan reads a table whose rows the session does not hold.
    pub(super) fn reads_connector_table(&self, plan: &Plan) -> bool {
        plan.tables_read().iter().any(|(name, _)| !self.tables.contains_key(name))
    }

    /// How a job reads the table `name`: its connector, or the session's rows.
    pub(super) fn table_source(&self, name: &str) -> StatementResult<TableSource> {
        let table =
            self.catalog.table_by_name(name).ok_or_else(|| config_error(format!("no table named {name}")))?;
        let connector = table.connector().map_err(config_error)?;
        let rows = match (&connector, self.tables.get(name)) {
            (Connector::Memory, Some(rows)) => rows.iter().map(|row| (row.clone(), 1)).collect(),
            _ => Vec::new(),
        };
        if !connector.can_read() {
            return Err(config_error(format!(
                "table {name} ({} connector) cannot be read",
                connector.name()
            )));
        }
        Ok(TableSource {
            name: table.name.clone(),
            columns: table.columns.clone(),
            connector,
            rows,
            time: table.time.clone(),
        })
    }

    /// The table named by `SET 'sql.dead-letter-table'`, where rows a job's queries cannot
    /// process go instead of failing it.
    fn dead_letter_sink(&self) -> StatementResult<Option<TableSink>> {
        let Some(name) = self.settings.get(DEAD_LETTER_TABLE) else { return Ok(None) };
        let table = self
            .catalog
            .table_by_name(name)
            .ok_or_else(|| config_error(format!("{DEAD_LETTER_TABLE} names {name}, which is not a table")))?;
        table_sink(table, "dead-letter table").map(Some)
    }

    /// The optimizer's options from the `SET` options.
    pub(super) fn optimize_options(&self) -> StatementResult<OptimizeOptions> {
        let mut options = OptimizeOptions::default();
        if let Some(text) = self.settings.get(ALLOW_LATENESS) {
            options.allowed_lateness_ms = super::time::duration_ms(text).ok_or_else(|| {
                config_error(format!(
                    "{ALLOW_LATENESS} = '{text}' is not a duration (such as '0', '500 ms', '1 min')"
                ))
            })?;
        }
        for table in self.catalog.tables() {
            let append_only = table.connector().is_ok_and(|connector| connector.is_append_only());
            if let (true, Some(rowtime)) = (append_only, &table.time.rowtime) {
                options.rowtimes.push((table.name.clone(), rowtime.column));
            }
        }
        Ok(options)
    }

    fn pipeline_for(&self, name: &str, query: Query, output: Output) -> StatementResult<SqlPipeline> {
        let query = optimize_query_with(query, self.optimize_options()?)
            .map_err(|e| SqlErrorKind::Unsupported(e.to_string()))?;
        let sources = query
            .plan
            .tables_read()
            .iter()
            .map(|(name, _)| self.table_source(name))
            .collect::<StatementResult<Vec<_>>>()?;
        let pipeline = SqlPipeline {
            sources,
            inserts: vec![PipelineInsert { name: name.to_owned(), query, output }],
            dead_letters: self.dead_letter_sink()?,
        };
        pipeline.check().map_err(config_error)?;
        Ok(pipeline)
    }

    /// A query over connector tables, as a job whose changes are collected.
    pub(super) fn query_job(&self, query: Query, visible: usize) -> StatementResult<Outcome> {
        let mut columns = query.plan.columns();
        columns.truncate(visible);
        let query = if visible < query.plan.arity() {
            let exprs =
                (0..visible).map(|index| ScalarExpr::Column { index, ty: columns[index].ty }).collect();
            let names = columns.iter().map(|c| c.name.clone()).collect();
            Query { plan: Plan::Project { input: Box::new(query.plan), exprs, names }, order: vec![] }
        } else {
            query
        };
        let pipeline = self.pipeline_for("query", query, Output::Collect(Arc::default()))?;
        Ok(Outcome::Job(SqlJob { pipeline, columns, target: None }))
    }

    /// `INSERT INTO` a connector table: the query, cast to the table's column types, as a job.
    pub(super) fn insert_job(&self, table: &Table, insert: &Insert) -> StatementResult<Outcome> {
        let Some(source) = &insert.source else {
            return Err(SqlErrorKind::Unsupported("INSERT without a query".into()));
        };
        if !insert.columns.is_empty() {
            return Err(SqlErrorKind::Unsupported(format!(
                "a column list in INSERT INTO {} (a connector table takes whole rows)",
                table.name
            )));
        }
        let query = bind_query(source, &self.catalog)?;
        if query.plan.arity() != table.columns.len() {
            return Err(SqlErrorKind::Catalog(format!(
                "INSERT INTO {}: the query has {} columns, the table {}",
                table.name,
                query.plan.arity(),
                table.columns.len()
            )));
        }
        let mut exprs = Vec::new();
        for (index, (from, to)) in query.plan.columns().iter().zip(&table.columns).enumerate() {
            super::dml::check_assignable(from.ty, to)?;
            let column = ScalarExpr::Column { index, ty: from.ty };
            exprs.push(if from.ty == to.ty {
                column
            } else {
                ScalarExpr::Cast { expr: Box::new(column), ty: to.ty, try_cast: false }
            });
        }
        let names = table.columns.iter().map(|c| c.name.clone()).collect();
        let plan = Plan::Project { input: Box::new(query.plan), exprs, names };
        let sink = table_sink(table, "table")?;
        let pipeline = self.pipeline_for(&table.name, Query { plan, order: vec![] }, Output::Table(sink))?;
        Ok(Outcome::Job(SqlJob {
            pipeline,
            columns: table.columns.clone(),
            target: Some(table.name.clone()),
        }))
    }
}

/// Jobs of several statements as one (Flink's statement set): their tables and queries
/// together, so queries over the same tables share the sources and arrangements.
pub fn combine(jobs: &[SqlJob]) -> Result<SqlPipeline, Error> {
    let mut pipeline = SqlPipeline::default();
    for job in jobs {
        for source in &job.pipeline.sources {
            if !pipeline.sources.iter().any(|s| s.name == source.name) {
                pipeline.sources.push(source.clone());
            }
        }
        for insert in &job.pipeline.inserts {
            let mut insert = insert.clone();
            let same = pipeline.inserts.iter().filter(|i| i.name == insert.name).count();
            if same > 0 {
                insert.name = format!("{}-{}", insert.name, same + 1);
            }
            pipeline.inserts.push(insert);
        }
        if pipeline.dead_letters.is_none() {
            pipeline.dead_letters = job.pipeline.dead_letters.clone();
        }
    }
    pipeline.check()?;
    Ok(pipeline)
}
