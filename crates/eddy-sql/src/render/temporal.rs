//! Temporal joins ([`Plan::TemporalJoin`]): one operator with both inputs exchanged by the
//! equi-join key.
//!
//! Every update gets an *effective time*: its logical time, and for an event-time join the
//! later of that and the row's time column (a left row waits for its time, a version is
//! valid from its rowtime). The operator keeps a capability per pending effective time and
//! applies the updates of an effective time `T` once the frontier of both inputs has passed
//! it (so all of them are in): first the right side's (versions valid at `T` are seen by left
//! rows at `T`, as `AS OF` includes them), then the left side's, each looked up in the right
//! side's state as it is then, and the matches emitted at `T`. Right updates never produce
//! output, so changes of the right side do not retract results.
//!
//! * **Processing time**: the right side's state is its current rows per key.
//! * **Event time**: per key the versions by rowtime (eddy-core's [`Versions`], the lookup
//!   core the DataStream temporal join uses too). Insertions of a key at `T` become
//!   versions at their rowtimes (replacing one there); a key's retractions without an
//!   insertion at the same `T` delete it from `T` on; other retractions (an upsert's old
//!   version) are history and are ignored. A left row meets the latest version at or before
//!   its time. After `T`, a key keeps only the latest version at or before `T` and later ones.
//!
//! Both decide from the updates of each effective time in a fixed order, so the output does
//! not depend on batching or the worker count. Updates at a restore's replay time are
//! history, and their effective time is at least the replay time, as for every update.

use std::collections::BTreeMap;

use eddy_core::hash::HashMap;

use differential_dataflow::consolidation::consolidate;
use differential_dataflow::{AsCollection, Hashable};
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::operator::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;

use super::time::{as_time, timestamp_of};
use super::{Diff, Rows, Time};
use eddy_core::versioned::Versions;

use crate::datum::{Datum, Row};
use crate::expr::{truth, ScalarExpr};
use crate::plan::{conjunction, equi_keys, JoinKind, TemporalTime};

/// The updates of one effective time.
struct Pending {
    capability: Capability<Time>,
    left: Vec<(Row, Row, Diff)>,
    right: Vec<(Row, Row, Diff)>,
}

/// The right side's state of one key.
enum State {
    /// Processing time: the current rows.
    Current(Vec<(Row, Diff)>),
    /// Event time: versions by rowtime (eddy-core's lookup core, shared with the DataStream
    /// temporal join).
    Versions(Versions<Vec<(Row, Diff)>>),
}

/// Renders a temporal join of `left` and `right` (`left_arity` and `right_arity` columns).
pub(super) fn render<'scope>(
    left: Rows<'scope>,
    right: Rows<'scope>,
    (left_arity, right_arity): (usize, usize),
    kind: JoinKind,
    on: &ScalarExpr,
    time: TemporalTime,
    name: &str,
) -> Rows<'scope> {
    let keys = equi_keys(on, left_arity);
    let residual = (!keys.residual.is_empty()).then(|| conjunction(keys.residual.clone()));
    let key_of = |exprs: Vec<ScalarExpr>| {
        // A key that fails to evaluate or holds a NULL meets nothing.
        move |row: &Row| -> Option<Row> {
            let values: Vec<Datum> = exprs.iter().map(|e| e.eval(row).unwrap_or(Datum::Null)).collect();
            (!values.iter().any(Datum::is_null)).then(|| Row::new(values))
        }
    };
    let (left_key, right_key) = (key_of(keys.left.clone()), key_of(keys.right.clone()));
    let (route_left, route_right) = (left_key.clone(), right_key.clone());
    let hash = |key: Option<Row>| key.map_or(0, |k| k.hashed());
    let updates: Stream<'scope, Time, Vec<(Row, Time, Diff)>> = left.inner.binary_frontier(
        right.inner,
        Exchange::new(move |(row, _, _): &(Row, Time, Diff)| hash(route_left(row))),
        Exchange::new(move |(row, _, _): &(Row, Time, Diff)| hash(route_right(row))),
        &format!("TemporalJoin({name})"),
        |_, _| {
            let mut pending: BTreeMap<Time, Pending> = BTreeMap::new();
            let mut state: HashMap<Row, State> = HashMap::default();
            let null_row = Row::new(vec![Datum::Null; right_arity]);
            move |(left_input, left_frontier), (right_input, right_frontier), output| {
                let effective = |row: &Row, at: Time, column: Option<usize>| {
                    column.and_then(|c| timestamp_of(row, c)).map_or(at, |ms| at.max(as_time(ms)))
                };
                let (probe, version) = match &time {
                    TemporalTime::Processing => (None, None),
                    TemporalTime::Event { probe, version, .. } => (Some(*probe), Some(*version)),
                };
                left_input.for_each(|capability, batch| {
                    for (row, at, diff) in batch.drain(..) {
                        let t = effective(&row, at, probe);
                        let entry = pending.entry(t).or_insert_with(|| Pending {
                            capability: capability.delayed(&t, 0),
                            left: vec![],
                            right: vec![],
                        });
                        // A row without a key (NULL) meets nothing: an empty key.
                        let key = left_key(&row).unwrap_or_else(|| Row::new(vec![]));
                        entry.left.push((key, row, diff));
                    }
                });
                right_input.for_each(|capability, batch| {
                    for (row, at, diff) in batch.drain(..) {
                        let Some(key) = right_key(&row) else { continue };
                        let t = effective(&row, at, version);
                        let entry = pending.entry(t).or_insert_with(|| Pending {
                            capability: capability.delayed(&t, 0),
                            left: vec![],
                            right: vec![],
                        });
                        entry.right.push((key, row, diff));
                    }
                });
                while let Some(entry) = pending.first_entry() {
                    let t = *entry.key();
                    if left_frontier.less_equal(&t) || right_frontier.less_equal(&t) {
                        break;
                    }
                    let Pending { capability, mut left, mut right } = entry.remove();
                    right.sort();
                    left.sort();
                    // Event time: the keys whose versions to retire after this time, each once.
                    let mut touched: Vec<Row> = Vec::new();
                    if version.is_some() {
                        touched = right.iter().chain(&left).map(|(key, ..)| key.clone()).collect();
                        touched.sort();
                        touched.dedup();
                    }
                    apply_right(&mut state, right, version, t);
                    let mut out = Vec::new();
                    for (key, row, diff) in left {
                        let mut matched = false;
                        if !key.values().is_empty() {
                            let at = probe.and_then(|c| timestamp_of(&row, c));
                            for (partner, count) in partners(state.get(&key), at) {
                                let pair =
                                    Row::new(row.values().iter().chain(partner.values()).cloned().collect());
                                let holds = residual.as_ref().is_none_or(|predicate| {
                                    predicate.eval(&pair).ok().and_then(|v| truth(&v).ok().flatten())
                                        == Some(true)
                                });
                                if holds {
                                    matched = true;
                                    out.push((pair, t, diff * count));
                                }
                            }
                        }
                        if kind == JoinKind::Left && !matched {
                            let padded =
                                Row::new(row.values().iter().chain(null_row.values()).cloned().collect());
                            out.push((padded, t, diff));
                        }
                    }
                    for key in touched {
                        retire(&mut state, &key, t);
                    }
                    if !out.is_empty() {
                        output.session(&capability).give_iterator(out.into_iter());
                    }
                }
            }
        },
    );
    updates.as_collection()
}

/// Applies the right side's updates of effective time `t` (sorted by key) to the state.
fn apply_right(
    state: &mut HashMap<Row, State>,
    right: Vec<(Row, Row, Diff)>,
    version: Option<usize>,
    t: Time,
) {
    let mut by_key: BTreeMap<Row, Vec<(Row, Diff)>> = BTreeMap::new();
    for (key, row, diff) in right {
        by_key.entry(key).or_default().push((row, diff));
    }
    for (key, mut updates) in by_key {
        match version {
            None => {
                let entry = state.entry(key.clone()).or_insert_with(|| State::Current(vec![]));
                if let State::Current(rows) = entry {
                    rows.append(&mut updates);
                    consolidate(rows);
                    if rows.is_empty() {
                        state.remove(&key);
                    }
                }
            }
            Some(column) => {
                let entry = state.entry(key).or_insert_with(|| State::Versions(Versions::new()));
                let State::Versions(versions) = entry else { continue };
                consolidate(&mut updates);
                let mut inserted: BTreeMap<i64, Vec<(Row, Diff)>> = BTreeMap::new();
                for (row, diff) in updates.iter().filter(|(_, diff)| *diff > 0) {
                    if let Some(since) = timestamp_of(row, column) {
                        inserted.entry(since).or_default().push((row.clone(), *diff));
                    }
                }
                if inserted.is_empty() {
                    if updates.iter().any(|(_, diff)| *diff < 0) {
                        // Deleted from `t` on.
                        versions.delete(t);
                    }
                } else {
                    for (since, rows) in inserted {
                        versions.insert(as_time(since), rows);
                    }
                }
            }
        }
    }
}

/// The right rows (with multiplicities) a left row meets: all current rows, or the version
/// latest at or before `at`.
fn partners(state: Option<&State>, at: Option<i64>) -> Vec<(Row, Diff)> {
    match state {
        None => vec![],
        Some(State::Current(rows)) => rows.clone(),
        Some(State::Versions(versions)) => match at {
            None => vec![],
            // Before 1970 (a negative time) no version is valid yet.
            Some(at) => u64::try_from(at).ok().and_then(|at| versions.as_of(at)).cloned().unwrap_or_default(),
        },
    }
}

/// Drops the versions of `key` that no left row at or after `t` meets: those before its
/// latest version at or before `t`; and the key, when that version is a deletion with nothing
/// after it. (Run for the keys an effective time touched, so the cost follows the updates.)
fn retire(state: &mut HashMap<Row, State>, key: &Row, t: Time) {
    let Some(State::Versions(versions)) = state.get_mut(key) else { return };
    versions.retire(t);
    if versions.is_tombstone() {
        state.remove(key);
    }
}
