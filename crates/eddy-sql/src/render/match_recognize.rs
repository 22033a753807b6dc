//! [`Plan::MatchRecognize`](crate::plan::Plan::MatchRecognize): a timely operator over the
//! input's updates that runs each partition's rows through an eddy-cep NFA
//! ([`Matcher`]).
//!
//! Rows are exchanged by their partition key. A row waits until the input frontier has passed
//! both its logical time and its time column's value (the logical time is the watermark: no
//! row of that partition with an earlier time can come after), then the waiting rows are
//! processed in the `ORDER BY` order (time, further keys, whole row). A row whose time is
//! before its logical time (it arrived after the watermark passed it) is late and dropped, as
//! Flink drops late rows; rows of a table read at once (logical time 0) are never late. So
//! every worker count and batching gives the same rows in the same order to each partition's
//! NFA. A match's row is emitted at the logical time of the row that completed it. The input
//! must be append-only: retractions are dropped. A restored job's history (its inputs replayed
//! at the replay time, [`ReplayTime`]) is never late, so the matches found before the checkpoint
//! come again at that time, where the output's undo cancels them, and the NFA state is rebuilt.

use std::collections::BTreeMap;

use differential_dataflow::{AsCollection, Hashable};
use eddy_cep::NfaState;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::operator::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;

use super::{Diff, RenderError, ReplayTime, Rows, Time};
use crate::changelog::ChangelogMode;
use crate::datum::{Datum, Row};
use crate::match_recognize::{time_of, MatchSpec, Matcher};
use crate::plan::Plan;

/// Renders a `MATCH_RECOGNIZE` over `rows`.
pub(super) fn render<'scope>(
    rows: Rows<'scope>,
    input: &Plan,
    spec: &MatchSpec,
    name: &str,
    replay: ReplayTime,
) -> Result<Rows<'scope>, RenderError> {
    // Compile once here to report a bad pattern before the job starts.
    Matcher::new(spec).map_err(RenderError::Job)?;
    if ChangelogMode::of(input, &|_| ChangelogMode::AppendOnly) != ChangelogMode::AppendOnly {
        return Err(RenderError::Job(format!(
            "MATCH_RECOGNIZE needs an append-only input, and its input updates earlier rows: {}",
            input.explain().lines().next().unwrap_or_default().trim()
        )));
    }
    let spec = spec.clone();
    let partition = spec.partition.clone();
    let key_of = move |row: &Row| -> Row {
        Row::new(partition.iter().map(|c| row.get(*c).cloned().unwrap_or(Datum::Null)).collect())
    };
    let route = key_of.clone();
    let time = spec.time;
    let updates: Stream<'scope, Time, Vec<(Row, Time, Diff)>> =
        rows.inner.unary_frontier::<CapacityContainerBuilder<Vec<(Row, Time, Diff)>>, _, _, _>(
            Exchange::new(move |(row, _, _): &(Row, Time, Diff)| route(row).hashed()),
            &format!("MatchRecognize({name})"),
            move |_, _| {
                let matcher = Matcher::new(&spec).expect("compiled above");
                // Waiting rows: (ready at, arrival time, row); ready at = max(time, arrival) + 1.
                let mut waiting: Vec<(Time, Time, Row)> = Vec::new();
                // A capability per arrival time with waiting rows, and how many wait.
                let mut held: BTreeMap<Time, (Capability<Time>, usize)> = BTreeMap::new();
                let mut states: BTreeMap<Row, NfaState<Row>> = BTreeMap::new();
                move |(input, frontier), output| {
                    input.for_each(|capability, batch| {
                        for (row, at, diff) in batch.drain(..) {
                            let Some(ts) = time_of(&row, time) else { continue };
                            let ts = u64::try_from(ts).unwrap_or(0);
                            // A restore's history (at the replay time) is never late.
                            let late = at > 0 && ts < at && replay.get() != Some(at);
                            if diff <= 0 || late {
                                continue;
                            }
                            let entry = held.entry(at).or_insert_with(|| (capability.delayed(&at, 0), 0));
                            for _ in 0..diff {
                                entry.1 += 1;
                                waiting.push((ts.max(at) + 1, at, row.clone()));
                            }
                        }
                    });
                    let bound = frontier.frontier().iter().min().copied().unwrap_or(Time::MAX);
                    let (mut ready, rest): (Vec<_>, Vec<_>) =
                        std::mem::take(&mut waiting).into_iter().partition(|(at, _, _)| *at <= bound);
                    waiting = rest;
                    if ready.is_empty() {
                        return;
                    }
                    ready.sort_by(|a, b| matcher.order(&a.2, &b.2));
                    for (_, at, row) in ready {
                        let key = key_of(&row);
                        let state = states.entry(key.clone()).or_insert_with(|| matcher.initial_state());
                        // A failing skip strategy (none SQL can ask for) drops the row's matches.
                        let matches = matcher.process(state, row).unwrap_or_default();
                        if state.is_idle() {
                            states.remove(&key);
                        }
                        let entry = held.get_mut(&at).expect("held");
                        if !matches.is_empty() {
                            output.session(&entry.0).give_iterator(matches.into_iter().map(|m| (m, at, 1)));
                        }
                        entry.1 -= 1;
                        if entry.1 == 0 {
                            held.remove(&at);
                        }
                    }
                }
            },
        );
    Ok(updates.as_collection())
}
