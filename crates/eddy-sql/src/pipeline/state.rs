//! The two stateful operators that make a SQL job exactly-once: the **input state** of every
//! table (its rows so far, consolidated) and the **output state** of every query (its result
//! so far, consolidated), both snapshotted at a checkpoint's time `E`.
//!
//! # Checkpointing
//! Differential's arrangements are not serialisable in place, but every SQL operator is a
//! deterministic function of its inputs, so the state in between is recomputed instead of
//! stored: on restore, each table's input state re-enters the dataflow at time `E - 1` (the
//! replay time: everything at it is history, as the window operators need, see
//! `render::ReplayTime`), which rebuilds every arrangement as of `E` (joins, aggregates, Top-K)
//! at any worker count. The output state is what the sink already received up to `E`; at the
//! replay time the output operator subtracts it, so only changes after `E` leave, each exactly
//! once (the sinks' two-phase commit does the rest). Both states are split among the new
//! workers by the hash of a row (input) or of its upsert key (output, which is also how the
//! output is exchanged). A job without checkpoints keeps neither (nothing would read them).
//!
//! Both states hold every row for as long as the job runs, even where the window operators
//! retire their own state: a long-running job's checkpoints grow with its input (a known
//! limit; snapshotting the arrangements themselves would lift it).

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;

use eddy_core::error::{Error, Result};
use eddy_core::hash::{key_hash, worker_for_hash};
use eddy_core::prelude::{DataStream, Env};
use eddy_core::record::{Record, MAX_EVENT_TIME};
use eddy_core::sdk::{CheckpointedState, PartKind, RestoredState, Snapshot, StatefulOperator};
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::Capability;

use crate::changelog::{changes, RowChange};
use crate::connect::source::RowUpdate;
use crate::datum::{Datum, Row};
use crate::render::{Diff, Rows, Time};

/// A multiset of rows with their counts, as both states keep it.
#[derive(Default)]
struct RowCounts {
    kind: &'static str,
    counts: BTreeMap<Row, Diff>,
    /// How a row is assigned to a worker on restore.
    route: Route,
    /// The checkpoint's time, once restored from one.
    restored_at: Option<Time>,
    /// For an input state: the columns its rows keep (the others are `NULL`, as no query
    /// reads them); `None`: all of them. Snapshotted, so that a restore into queries that read
    /// more columns than were kept is refused instead of reading `NULL`s.
    kept: Option<Vec<usize>>,
}

/// Which hash places a row on a worker.
#[derive(Clone, Default)]
pub(crate) enum Route {
    /// The whole row.
    #[default]
    Row,
    /// These columns (an upsert key).
    Key(Vec<usize>),
}

impl Route {
    pub(crate) fn hash(&self, row: &Row) -> u64 {
        match self {
            Route::Row => key_hash(row),
            Route::Key(columns) => {
                let key: Vec<&Datum> = columns.iter().filter_map(|c| row.get(*c)).collect();
                key_hash(&key)
            }
        }
    }
}

impl RowCounts {
    fn apply(&mut self, row: Row, diff: Diff) {
        match self.counts.entry(row) {
            Entry::Occupied(mut entry) => {
                *entry.get_mut() += diff;
                if *entry.get() == 0 {
                    entry.remove();
                }
            }
            Entry::Vacant(entry) => {
                if diff != 0 {
                    entry.insert(diff);
                }
            }
        }
    }
}

impl CheckpointedState for RowCounts {
    fn kind(&self) -> PartKind {
        PartKind::custom(self.kind).expect("a valid part kind")
    }

    /// Version 1: the rows with their counts; version 2: the kept columns, then the rows.
    fn version(&self) -> u32 {
        2
    }

    fn snapshot(&mut self) -> Result<Snapshot> {
        let entries: Vec<(&Row, &Diff)> = self.counts.iter().collect();
        let bytes = rmp_serde::to_vec(&(&self.kept, &entries))
            .map_err(|error| Error::Checkpoint(format!("{}: cannot encode rows: {error}", self.kind)))?;
        Ok(Snapshot::new(bytes, entries.len() as u64))
    }

    fn restore(&mut self, restored: &RestoredState<'_>) -> Result<()> {
        self.restored_at = Some(restored.logical_time);
        for (worker, bytes) in restored.parts {
            let unreadable = |error: rmp_serde::decode::Error| {
                Error::Checkpoint(format!("{}: unreadable part of old worker {worker}: {error}", self.kind))
            };
            let (kept, entries): (Option<Vec<usize>>, Vec<(Row, Diff)>) = match restored.version {
                Some(1) => (None, rmp_serde::from_slice(bytes).map_err(unreadable)?),
                Some(2) => rmp_serde::from_slice(bytes).map_err(unreadable)?,
                other => {
                    return Err(Error::Checkpoint(format!("{}: unknown state version {other:?}", self.kind)));
                }
            };
            if let Some(missing) = missing_columns(kept.as_deref(), self.kept.as_deref()) {
                return Err(Error::Checkpoint(format!(
                    "{}: the checkpoint kept only the columns {kept:?} of this table (the ones its \
                     queries read then), but these queries also read the columns {missing:?}; \
                     restore with the same queries, or start without restoring",
                    self.kind
                )));
            }
            for (row, count) in entries {
                let row = narrowed(row, self.kept.as_deref());
                if worker_for_hash(self.route.hash(&row), restored.workers) == restored.worker_index {
                    self.apply(row, count);
                }
            }
        }
        Ok(())
    }
}

/// The columns `needed` reads that `kept` does not hold (`None` for all), if any.
fn missing_columns(kept: Option<&[usize]>, needed: Option<&[usize]>) -> Option<Vec<usize>> {
    let kept = kept?;
    let missing: Vec<usize> = match needed {
        Some(needed) => needed.iter().filter(|c| !kept.contains(c)).copied().collect(),
        // All columns: whatever the row's width, a column beyond `kept` is missing.
        None => vec![usize::MAX],
    };
    (!missing.is_empty()).then_some(missing)
}

/// `row` with every column not in `kept` set to `NULL` (`kept == None`: unchanged).
fn narrowed(row: Row, kept: Option<&[usize]>) -> Row {
    let Some(kept) = kept else { return row };
    if row.values().iter().enumerate().all(|(i, value)| kept.contains(&i) || *value == Datum::Null) {
        return row;
    }
    let mut values = row.into_values();
    for (i, value) in values.iter_mut().enumerate() {
        if !kept.contains(&i) {
            *value = Datum::Null;
        }
    }
    Row::new(values)
}

/// Keeps the input state of a table and passes its updates on; on restore, first emits the
/// restored rows at the checkpoint's time. With `kept`, only those columns of each row are
/// kept (the others become `NULL`): rows that differ only in columns no query reads then
/// consolidate, in the state and in every arrangement downstream.
/// The time a restore from a checkpoint at `restored` replays the inputs' rows (and the outputs'
/// undo) at: one before it. The checkpoint holds everything before `restored`, and sources
/// resume at or after it, so the replay time holds only history. Event-time operators rely on
/// that ([`crate::render::ReplayTime`]).
fn replay_time(restored: Time) -> Time {
    restored.saturating_sub(1)
}

pub(crate) fn input_state<'scope>(
    input: DataStream<'scope, RowUpdate>,
    table: &str,
    kept: Option<Vec<usize>>,
    replay: crate::render::ReplayTime,
) -> Rows<'scope> {
    use differential_dataflow::AsCollection;
    let env = input.env();
    let mut operator = env.stateful_operator(&format!("sql-input-{}", uid_part(table)));
    let keep_state = operator.checkpoints();
    let mut builder = OperatorBuilder::new(format!("SqlInput({table})"), env.scope());
    let mut records = builder.new_input(input.into_timely(), Pipeline);
    let (output, stream) = builder.new_output::<Vec<(Row, Time, Diff)>>();
    let mut output = OutputBuilder::from(output);
    builder.build(move |mut capabilities| {
        let mut initial: Option<Capability<Time>> = capabilities.pop();
        let mut state = RowCounts { kind: "sql-input", kept: kept.clone(), ..RowCounts::default() };
        let mut stash: BTreeMap<Time, Vec<(Row, Diff)>> = BTreeMap::new();
        move |frontiers| {
            let mut output = output.activate();
            if let Some(capability) = initial.take() {
                match operator.restore(&mut state) {
                    Err(error) => operator.fail(error),
                    Ok(()) => {
                        if let Some(restored) = state.restored_at {
                            // History replays just before the checkpoint's time, where no new
                            // input can be (see `replay_time`).
                            let time = replay_time(restored);
                            replay.set(Some(time));
                            operator.claim(time);
                            let at = capability.delayed(&time);
                            let mut rows: Vec<(Row, Time, Diff)> =
                                state.counts.iter().map(|(row, count)| (row.clone(), time, *count)).collect();
                            output.session(&at).give_container(&mut rows);
                        }
                    }
                }
            }
            records.for_each(|capability, batch| {
                let Some(&time) = capability.least() else { return };
                let mut updates: Vec<(Row, Time, Diff)> = Vec::with_capacity(batch.len());
                // Without checkpoints nothing ever reads the state: keep none.
                let mut held = keep_state.then(|| stash.entry(time).or_default());
                for record in batch.drain(..) {
                    let (row, diff) = record.value;
                    let row = narrowed(row, kept.as_deref());
                    if let Some(held) = held.as_mut() {
                        held.push((row.clone(), diff));
                    }
                    updates.push((row, time, diff));
                }
                output.session(&capability).give_container(&mut updates);
            });
            if operator.stopping() {
                stash.clear();
                return;
            }
            let frontier = frontiers[0].frontier().iter().next().copied();
            advance(&mut operator, &mut state, &mut stash, frontier);
        }
    });
    stream.as_collection()
}

/// Applies stashed updates of times before the frontier and the owed checkpoint, and
/// snapshots each owed checkpoint once its time is reached.
fn advance(
    operator: &mut StatefulOperator,
    state: &mut RowCounts,
    stash: &mut BTreeMap<Time, Vec<(Row, Diff)>>,
    frontier: Option<Time>,
) {
    loop {
        let hold = operator.hold_from();
        let limit = frontier.unwrap_or(Time::MAX).min(hold.unwrap_or(Time::MAX));
        while let Some(entry) = stash.first_entry().filter(|entry| *entry.key() < limit) {
            for (row, diff) in entry.remove() {
                state.apply(row, diff);
            }
        }
        match hold {
            Some(time) if frontier.is_none_or(|frontier| frontier >= time) => {
                if let Err(error) = operator.step(state, Some(time)) {
                    operator.fail(error);
                    return;
                }
            }
            _ => break,
        }
    }
    if frontier.is_none() {
        if let Err(error) = operator.step(state, None) {
            operator.fail(error);
        }
    }
}

/// A uid-safe form of a table name.
fn uid_part(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

/// Turns a query's result into its changelog: the updates of each logical time, once the
/// frontier has passed it, as `+I`/`-U`/`+U`/`-D` changes (paired by `upsert_key`), keeping the
/// result so far as the output state.
pub(crate) fn output_changelog<'scope>(
    env: &Env<'scope>,
    rows: Rows<'scope>,
    upsert_key: Option<Vec<usize>>,
    name: &str,
) -> DataStream<'scope, RowChange> {
    let mut operator = env.stateful_operator(&format!("sql-output-{}", uid_part(name)));
    let keep_state = operator.checkpoints();
    let route = upsert_key.clone().map_or(Route::Row, Route::Key);
    let peers = env.workers();
    let exchange_route = route.clone();
    let mut builder = OperatorBuilder::new(format!("SqlChangelog({name})"), env.scope());
    let mut input = builder.new_input(
        rows.inner,
        Exchange::new(move |(row, _, _): &(Row, Time, Diff)| {
            worker_for_hash(exchange_route.hash(row), peers) as u64
        }),
    );
    let (output, stream) = builder.new_output::<Vec<Record<RowChange>>>();
    let mut output = OutputBuilder::from(output);
    let changes_stream = DataStream::from_stateful(env, stream, &operator);
    builder.build(move |mut capabilities| {
        let mut initial: Option<Capability<Time>> = capabilities.pop();
        let mut state = RowCounts { kind: "sql-output", route, ..RowCounts::default() };
        let mut stash: BTreeMap<Time, (Capability<Time>, Vec<(Row, Diff)>)> = BTreeMap::new();
        move |frontiers| {
            if let Some(capability) = initial.take() {
                if let Err(error) = operator.restore(&mut state) {
                    operator.fail(error);
                } else if let Some(time) = state.restored_at.map(replay_time) {
                    // What the sink received up to the checkpoint comes back at its time,
                    // recomputed from the restored inputs: subtract it once.
                    let undo: Vec<(Row, Diff)> =
                        state.counts.iter().map(|(row, count)| (row.clone(), -count)).collect();
                    stash.insert(time, (capability.delayed(&time), undo));
                }
            }
            input.for_each(|capability, batch| {
                for (row, time, diff) in batch.drain(..) {
                    let entry =
                        stash.entry(time).or_insert_with(|| (capability.delayed(&time, 0), Vec::new()));
                    entry.1.push((row, diff));
                }
            });
            if operator.stopping() {
                stash.clear();
                return;
            }
            let frontier = frontiers[0].frontier().iter().next().copied();
            let mut output = output.activate();
            loop {
                let hold = operator.hold_from();
                let limit = frontier.unwrap_or(Time::MAX).min(hold.unwrap_or(Time::MAX));
                while let Some(entry) = stash.first_entry().filter(|entry| *entry.key() < limit) {
                    let time = *entry.key();
                    let (capability, updates) = entry.remove();
                    if keep_state {
                        for (row, diff) in &updates {
                            state.apply(row.clone(), *diff);
                        }
                    }
                    let mut records: Vec<Record<RowChange>> = changes(updates, upsert_key.as_deref())
                        .into_iter()
                        .map(|change| Record::new(time.min(MAX_EVENT_TIME), 0, change))
                        .collect();
                    if !records.is_empty() {
                        output.session(&capability).give_container(&mut records);
                    }
                }
                match hold {
                    Some(time) if frontier.is_none_or(|frontier| frontier >= time) => {
                        if let Err(error) = operator.step(&mut state, Some(time)) {
                            operator.fail(error);
                            return;
                        }
                    }
                    _ => break,
                }
            }
            if frontier.is_none() {
                if let Err(error) = operator.step(&mut state, None) {
                    operator.fail(error);
                }
            }
        }
    });
    changes_stream
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(values: &[Option<i32>]) -> Row {
        values.iter().map(|v| v.map_or(Datum::Null, Datum::Int)).collect()
    }

    #[test]
    fn unread_columns_become_null_and_rows_consolidate() {
        let kept = [0, 2];
        let a = narrowed(row(&[Some(1), Some(7), Some(3)]), Some(&kept));
        let b = narrowed(row(&[Some(1), Some(8), Some(3)]), Some(&kept));
        assert_eq!(a, row(&[Some(1), None, Some(3)]));
        assert_eq!(a, b);
        assert_eq!(narrowed(row(&[Some(1), Some(7)]), None), row(&[Some(1), Some(7)]));
    }

    #[test]
    fn a_restore_needing_columns_the_checkpoint_dropped_is_refused() {
        // Kept everything, or more than needed: fine.
        assert_eq!(missing_columns(None, Some(&[0, 1])), None);
        assert_eq!(missing_columns(Some(&[0, 1, 2]), Some(&[0, 2])), None);
        // Needs a column that was dropped, or all columns of a narrowed state: refused.
        assert_eq!(missing_columns(Some(&[0, 2]), Some(&[0, 1])), Some(vec![1]));
        assert!(missing_columns(Some(&[0, 2]), None).is_some());
    }

    #[test]
    fn version_2_snapshots_restore_their_kept_columns() {
        let mut state = RowCounts { kind: "sql-input", kept: Some(vec![0]), ..RowCounts::default() };
        state.apply(row(&[Some(1), None]), 2);
        let snapshot = state.snapshot().unwrap();
        let (kept, entries): (Option<Vec<usize>>, Vec<(Row, Diff)>) =
            rmp_serde::from_slice(&snapshot.bytes).unwrap();
        assert_eq!(kept, Some(vec![0]));
        assert_eq!(entries, vec![(row(&[Some(1), None]), 2)]);
    }
}
