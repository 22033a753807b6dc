//! The incremental driver: a plan rendered in plain timely workers (not an eddy job: the test
//! feeds updates, retractions included, at logical times it chooses, which eddy's sources do
//! not offer), fed batches of `(row, diff)` updates at successive times `0, 1, 2, ...`, with
//! the output's changes collected per time as a changelog (`+I`, `-U`, `+U`, `-D`, from
//! [`crate::changelog::changes`] with the plan's [`upsert_key`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use differential_dataflow::input::Input;
use timely::dataflow::ProbeHandle;

use super::{table_names, Diff, RenderError, Renderer, RowError, Time};
use crate::changelog::{changes, upsert_key, RowChange};
use crate::datum::Row;
use crate::plan::Plan;

/// What [`run_incremental`] observed.
#[derive(Clone, Debug, Default)]
pub struct IncrementalRun {
    /// The output's changelog at each time (one entry per batch, possibly empty).
    pub changes: Vec<Vec<RowChange>>,
    /// The whole result after each batch, sorted by value.
    pub results: Vec<Vec<Row>>,
    /// Rows that failed, with the time of their batch, consolidated.
    pub errors: Vec<(Time, RowError)>,
    /// The row errors standing after the last time (added and not retracted since), sorted:
    /// the errors a batch run over the final tables reports.
    pub final_errors: Vec<RowError>,
}

/// Renders `plan` in `workers` timely workers and applies `batches[t]` (per table, rows with
/// their diffs) at time `t`, collecting the output's changes at every time.
pub fn run_incremental(
    plan: &Plan,
    batches: &[BTreeMap<String, Vec<(Row, Diff)>>],
    workers: usize,
) -> Result<IncrementalRun, RenderError> {
    if !plan.is_decorrelated() {
        return Err(RenderError::NotDecorrelated);
    }
    let mut names = Vec::new();
    table_names(plan, &mut names);
    let shared_plan = Arc::new(plan.clone());
    let batches_shared = Arc::new(batches.to_vec());
    let output: Arc<Mutex<Vec<(Row, Time, Diff)>>> = Arc::default();
    let errors: Arc<Mutex<Vec<(RowError, Time, Diff)>>> = Arc::default();
    let render_error: Arc<Mutex<Option<RenderError>>> = Arc::default();
    let (job_output, job_errors, job_render_error) =
        (Arc::clone(&output), Arc::clone(&errors), Arc::clone(&render_error));
    let guards = timely::execute(timely::Config::process(workers.max(1)), move |worker| {
        let index = worker.index();
        let probe = ProbeHandle::new();
        let built = worker.dataflow::<Time, _, _>(|scope| {
            let mut renderer = Renderer::new(scope);
            let mut inputs = BTreeMap::new();
            for name in &names {
                let (input, rows) = scope.new_collection::<Row, Diff>();
                renderer.add_input(name.clone(), rows);
                inputs.insert(name.clone(), input);
            }
            let rows = renderer.render(&shared_plan)?;
            let sink = Arc::clone(&job_output);
            rows.consolidate()
                .inspect(move |update| sink.lock().unwrap_or_else(|p| p.into_inner()).push(update.clone()))
                .probe_with(&probe);
            let sink = Arc::clone(&job_errors);
            renderer
                .errors()
                .consolidate()
                .inspect(move |update| sink.lock().unwrap_or_else(|p| p.into_inner()).push(update.clone()))
                .probe_with(&probe);
            Ok::<_, RenderError>(inputs)
        });
        let mut inputs = match built {
            Ok(inputs) => inputs,
            Err(error) => {
                *job_render_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(error);
                return;
            }
        };
        for (time, batch) in batches_shared.iter().enumerate() {
            let time = time as Time;
            if index == 0 {
                for (name, updates) in batch {
                    if let Some(input) = inputs.get_mut(name) {
                        for (row, diff) in updates {
                            input.update(row.clone(), *diff);
                        }
                    }
                }
            }
            for input in inputs.values_mut() {
                input.advance_to(time + 1);
                input.flush();
            }
            worker.step_while(|| probe.less_than(&(time + 1)));
        }
    })
    .map_err(RenderError::Job)?;
    guards.join().into_iter().collect::<Result<Vec<()>, String>>().map_err(RenderError::Job)?;
    if let Some(error) = render_error.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Err(error);
    }
    let output = std::mem::take(&mut *output.lock().unwrap_or_else(|p| p.into_inner()));
    let errors = std::mem::take(&mut *errors.lock().unwrap_or_else(|p| p.into_inner()));
    let key = upsert_key(plan);
    let mut run = IncrementalRun::default();
    let mut accumulated: BTreeMap<Row, Diff> = BTreeMap::new();
    for time in 0..batches.len() as Time {
        let mut at: BTreeMap<Row, Diff> = BTreeMap::new();
        for (row, _, diff) in output.iter().filter(|(_, t, _)| *t == time) {
            *at.entry(row.clone()).or_insert(0) += diff;
        }
        at.retain(|_, diff| *diff != 0);
        let updates: Vec<(Row, Diff)> = at.into_iter().collect();
        for (row, diff) in &updates {
            *accumulated.entry(row.clone()).or_insert(0) += diff;
        }
        accumulated.retain(|_, diff| *diff != 0);
        run.changes.push(changes(updates.iter().cloned(), key.as_deref()));
        let mut result = Vec::new();
        for (row, count) in &accumulated {
            if *count < 0 {
                return Err(RenderError::NegativeCount { row: row.clone(), count: *count });
            }
            result.extend(std::iter::repeat_n(row.clone(), *count as usize));
        }
        run.results.push(result);
    }
    let mut standing: BTreeMap<RowError, Diff> = BTreeMap::new();
    for (error, _, diff) in &errors {
        *standing.entry(error.clone()).or_insert(0) += diff;
    }
    run.final_errors = standing.into_iter().filter(|(_, n)| *n > 0).map(|(error, _)| error).collect();
    let mut error_counts: BTreeMap<(Time, RowError), Diff> = BTreeMap::new();
    for (error, time, diff) in errors {
        *error_counts.entry((time, error)).or_insert(0) += diff;
    }
    run.errors = error_counts.into_iter().filter(|(_, n)| *n > 0).map(|(key, _)| key).collect();
    Ok(run)
}
