//! Running a rendered query inside an eddy job on bounded tables: each table is an eddy source
//! ([`CollectionSource`]), its records enter differential as insertions at the logical time
//! they were emitted at, the plan is rendered, and the result's changes leave through an eddy
//! sink. The consolidated changes are the batch result.

use std::collections::BTreeMap;
use std::sync::Arc;

use differential_dataflow::AsCollection;
use eddy_connectors::memory::{CollectHandle, CollectSink};
use eddy_connectors::CollectionSource;
use eddy_core::prelude::{DataStream, Env, Job, JobConfig, WatermarkStrategy};
use eddy_core::record::Record;
use eddy_core::sdk::RecordStream;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::Stream;

use super::{Diff, RenderError, Renderer, RowError, RowErrors, Rows, Time};
use crate::datum::Row;
use crate::oracle::compare_rows;
use crate::plan::Query;

/// How [`run_bounded_with`] runs a query.
#[derive(Clone, Debug)]
pub struct BoundedOptions {
    /// Worker threads of the job.
    pub workers: usize,
    /// Send rows that fail at run time to [`BoundedOutput::dead_letters`] instead of failing
    /// the query.
    pub dead_letter: bool,
}

impl Default for BoundedOptions {
    fn default() -> Self {
        BoundedOptions { workers: 1, dead_letter: false }
    }
}

/// What [`run_bounded_with`] returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BoundedOutput {
    /// The result, each row as often as it occurs, sorted by the query's order (else by
    /// value).
    pub rows: Vec<Row>,
    /// Rows that failed, with the operator and the error (only with
    /// [`BoundedOptions::dead_letter`]), sorted.
    pub dead_letters: Vec<RowError>,
}

/// Runs `query` on `tables` (each a multiset of rows) in an eddy job of `workers` workers and
/// returns its result, sorted by `Query::order` when given (else by value). A runtime error
/// in any row fails the query with that row's [`RowError`].
pub fn run_bounded(
    query: &Query,
    tables: &BTreeMap<String, Vec<Row>>,
    workers: usize,
) -> Result<Vec<Row>, RenderError> {
    run_bounded_with(query, tables, &BoundedOptions { workers, dead_letter: false }).map(|output| output.rows)
}

/// As [`run_bounded`], with options.
pub fn run_bounded_with(
    query: &Query,
    tables: &BTreeMap<String, Vec<Row>>,
    options: &BoundedOptions,
) -> Result<BoundedOutput, RenderError> {
    if !query.plan.is_decorrelated() {
        return Err(RenderError::NotDecorrelated);
    }
    let plan = Arc::new(query.plan.clone());
    let tables = Arc::new(tables.clone());
    let (result_sink, results) = CollectSink::<(Row, Diff)>::new();
    let (error_sink, errors) = CollectSink::<(RowError, Diff)>::new();
    let render_error = Arc::new(std::sync::Mutex::new(None));
    let job_render_error = Arc::clone(&render_error);
    let job = Job::new(JobConfig::with_workers(options.workers));
    let outcome = job.run(move |env: &mut Env<'_>| {
        let mut renderer = Renderer::new(env.scope());
        for (name, rows) in tables.iter() {
            let stream = env
                .from_source(CollectionSource::new(rows.clone()), WatermarkStrategy::monotonous_timestamps())
                .into_timely();
            renderer.add_input(name.clone(), records_to_rows(stream));
        }
        let rows = match renderer.render(&plan) {
            Ok(rows) => rows,
            Err(error) => {
                let message = error.to_string();
                *job_render_error.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(error);
                return Err(eddy_core::Error::Config(message));
            }
        };
        DataStream::from_timely(env, to_records(rows.consolidate().inner)).sink(result_sink.clone());
        DataStream::from_timely(env, to_records(renderer.errors().consolidate().inner))
            .sink(error_sink.clone());
        Ok(())
    });
    if let Some(error) = render_error.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take() {
        return Err(error);
    }
    outcome.map_err(|error| RenderError::Job(error.to_string()))?;
    let dead_letters = expand(consolidate(&errors))?;
    if !options.dead_letter {
        if let Some(first) = dead_letters.first() {
            return Err(RenderError::Row(first.clone()));
        }
    }
    let mut rows = expand(consolidate(&results))?;
    if !query.order.is_empty() {
        rows.sort_by(|a, b| compare_rows(a, b, &query.order));
    }
    Ok(BoundedOutput { rows, dead_letters: if options.dead_letter { dead_letters } else { Vec::new() } })
}

/// Fails the job on a row error of `errors` (for a job without a dead-letter output): the
/// job's error is [`eddy_core::Error::User`] with the [`RowError`]'s text (the error, the
/// operator and the row).
///
/// An error fails the job only if it is still there once its logical time is complete: the
/// errors are exchanged by their hash (so an error and its retraction meet) and accumulated
/// time by time, and the job fails when a completed time leaves one with a positive count.
/// An error that an operator produced and retracted within one logical time (an outer join's
/// padded row before its partner arrived, say) was never part of any result. Which error is
/// reported when several are is the smallest in row order, per worker.
pub fn fail_job_on_errors<'scope>(env: &Env<'scope>, errors: RowErrors<'scope>) {
    use differential_dataflow::Hashable;
    use timely::dataflow::channels::pact::Exchange;

    let failure = env.failure();
    // An operator whose output is an (empty) eddy stream, so the job counts it as part of the
    // dataflow it waits for.
    let checked = errors.inner.unary_frontier::<CapacityContainerBuilder<Vec<Record<()>>>, _, _, _>(
        Exchange::new(|(error, _, _): &(RowError, Time, Diff)| error.hashed()),
        "SqlRowErrors",
        |_, _| {
            let mut pending: BTreeMap<Time, Vec<(RowError, Diff)>> = BTreeMap::new();
            let mut counts: BTreeMap<RowError, Diff> = BTreeMap::new();
            let mut failed = false;
            move |(input, frontier), _output| {
                input.for_each(|_, batch| {
                    for (error, time, diff) in batch.drain(..) {
                        pending.entry(time).or_default().push((error, diff));
                    }
                });
                while let Some(entry) = pending.first_entry() {
                    if frontier.less_equal(entry.key()) {
                        break;
                    }
                    for (error, diff) in entry.remove() {
                        let count = counts.entry(error.clone()).or_insert(0);
                        *count += diff;
                        if *count == 0 {
                            counts.remove(&error);
                        }
                    }
                    if let Some((error, _)) = counts.iter().find(|(_, count)| **count > 0) {
                        if !failed {
                            failed = true;
                            failure.fail(eddy_core::Error::User(error.to_string()));
                        }
                    }
                }
            }
        },
    );
    DataStream::from_timely(env, checked);
}

/// Records of an eddy stream as insertions at their logical time.
pub fn records_to_rows<'scope>(stream: RecordStream<'scope, Row>) -> Rows<'scope> {
    let rows: Stream<'scope, Time, Vec<(Row, Time, Diff)>> =
        stream.unary::<CapacityContainerBuilder<Vec<(Row, Time, Diff)>>, _, _, _>(
            Pipeline,
            "SqlRows",
            |_, _| {
                move |input, output| {
                    input.for_each(|capability, data| {
                        // A message sent under no capability makes no progress claim: no time.
                        let Some(&time) = capability.least() else { return };
                        let mut session = output.session(&capability);
                        for record in data.drain(..) {
                            session.give((record.value, time, 1));
                        }
                    });
                }
            },
        );
    rows.as_collection()
}

/// Updates as eddy records of `(value, diff)`, event time = logical time.
fn to_records<'scope, D: Clone + 'static>(
    updates: Stream<'scope, Time, Vec<(D, Time, Diff)>>,
) -> RecordStream<'scope, (D, Diff)> {
    updates.unary::<CapacityContainerBuilder<Vec<Record<(D, Diff)>>>, _, _, _>(
        Pipeline,
        "SqlRecords",
        |_, _| {
            move |input, output| {
                input.for_each(|time, data| {
                    let mut session = output.session(&time);
                    for (value, at, diff) in data.drain(..) {
                        session.give(Record::new(
                            at.min(eddy_core::record::MAX_EVENT_TIME),
                            0,
                            (value, diff),
                        ));
                    }
                });
            }
        },
    )
}

/// Sums the diffs of every value.
fn consolidate<D: Ord + Clone>(handle: &CollectHandle<(D, Diff)>) -> BTreeMap<D, Diff> {
    let mut counts: BTreeMap<D, Diff> = BTreeMap::new();
    for (value, diff) in handle.values() {
        *counts.entry(value).or_insert(0) += diff;
    }
    counts.retain(|_, count| *count != 0);
    counts
}

/// Each value as often as it occurs; a negative count is an error.
fn expand<D: Clone + Into<NegativeRow>>(counts: BTreeMap<D, Diff>) -> Result<Vec<D>, RenderError> {
    let mut out = Vec::new();
    for (value, count) in counts {
        if count < 0 {
            let NegativeRow(row) = value.into();
            return Err(RenderError::NegativeCount { row, count });
        }
        for _ in 0..count {
            out.push(value.clone());
        }
    }
    Ok(out)
}

/// The row to report for a value held a negative number of times.
struct NegativeRow(Row);

impl From<Row> for NegativeRow {
    fn from(row: Row) -> Self {
        NegativeRow(row)
    }
}

impl From<RowError> for NegativeRow {
    fn from(error: RowError) -> Self {
        NegativeRow(error.row)
    }
}
