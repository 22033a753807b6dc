//! Window functions over one partition (the rows a [`Plan::Over`](crate::plan::Plan::Over)
//! node computes together): `RANK`, `DENSE_RANK`, `LAG`/`LEAD`, and aggregates over a frame.
//! Like [`crate::aggregate`], one implementation serves the differential renderer (a changed
//! partition is recomputed from its rows with their multiplicities) and the reference
//! evaluator; the tests compare both with PostgreSQL's window functions.
//!
//! The partition's rows are put in the node's order, ties broken by the whole row (so `ROWS`
//! frames, ranks and `LAG` are the same at any worker count), a row occurring `n` times counting
//! as `n` rows. *Peers* are rows equal in the order keys: a `RANGE` frame's `CURRENT ROW`
//! stands for all of them, as in the SQL standard. `RANGE` offsets measure the single order
//! key's value (milliseconds of a `TIMESTAMP`, days of a `DATE`, an integer itself); a row
//! whose key is `NULL` has its `NULL` peers as the offset part of its frame.

use std::cmp::Ordering;

use crate::aggregate::aggregate;
use crate::datum::{Datum, Row};
use crate::error::{EvalError, EvalResult};
use crate::order::{compare_keys, compare_rows};
use crate::plan::{Frame, FrameBound, FrameUnits, OverFunction, OverKind, SortKey};

/// The rows of one partition (distinct rows with positive multiplicities), each copy with
/// the values of `functions` appended, in the partition's order.
pub fn over_partition(
    rows: &[(&Row, i64)],
    order: &[SortKey],
    functions: &[OverFunction],
) -> EvalResult<Vec<Row>> {
    let mut sorted: Vec<&Row> = Vec::new();
    for &(row, count) in rows {
        if count <= 0 {
            return Err(EvalError::Internal(format!(
                "window function input row {row} with multiplicity {count}"
            )));
        }
        sorted.extend(std::iter::repeat_n(row, usize::try_from(count).unwrap_or(usize::MAX)));
    }
    sorted.sort_by(|a, b| compare_rows(a, b, order));
    over_sorted(&sorted, 0, order, functions)
}

/// The rows `sorted[from..]` of a partition already in the node's order (ties by the whole
/// row), each with the values of `functions` appended; the rows before `from` are the earlier
/// rows their frames may read. A streaming `OVER` calls it with the rows it kept and the rows
/// whose values are due.
pub fn over_sorted(
    sorted: &[&Row],
    from: usize,
    order: &[SortKey],
    functions: &[OverFunction],
) -> EvalResult<Vec<Row>> {
    let peers = Peers::new(sorted, order);
    let mut columns: Vec<Vec<Datum>> = Vec::with_capacity(functions.len());
    for function in functions {
        columns.push(function_values(sorted, from, &peers, order, function)?);
    }
    Ok(sorted[from..]
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let mut values = row.values().to_vec();
            values.extend(columns.iter().map(|column| column[i].clone()));
            Row::new(values)
        })
        .collect())
}

/// Each sorted row's peer group: its first and last index, and the group's number.
struct Peers {
    first: Vec<usize>,
    last: Vec<usize>,
    group: Vec<usize>,
}

impl Peers {
    fn new(sorted: &[&Row], order: &[SortKey]) -> Peers {
        let n = sorted.len();
        let (mut first, mut last, mut group) = (vec![0; n], vec![0; n], vec![0; n]);
        let mut start = 0;
        let mut number = 0;
        for i in 1..=n {
            if i == n || compare_keys(sorted[i - 1], sorted[i], order) != Ordering::Equal {
                for j in start..i {
                    (first[j], last[j], group[j]) = (start, i - 1, number);
                }
                start = i;
                number += 1;
            }
        }
        Peers { first, last, group }
    }
}

/// The values of `function` for `sorted[from..]`.
fn function_values(
    sorted: &[&Row],
    from: usize,
    peers: &Peers,
    order: &[SortKey],
    function: &OverFunction,
) -> EvalResult<Vec<Datum>> {
    let n = sorted.len();
    let rank = |i: usize| Datum::BigInt(i64::try_from(i).unwrap_or(i64::MAX).saturating_add(1));
    match &function.kind {
        OverKind::Rank => Ok((from..n).map(|i| rank(peers.first[i])).collect()),
        OverKind::DenseRank => Ok((from..n).map(|i| rank(peers.group[i])).collect()),
        OverKind::Offset { offset, value, default } => (from..n)
            .map(|i| {
                let at = i64::try_from(i).unwrap_or(i64::MAX).checked_sub(*offset);
                match at.and_then(|at| usize::try_from(at).ok()).filter(|&at| at < n) {
                    Some(at) => value.eval(sorted[at]),
                    None => default.eval(sorted[i]),
                }
            })
            .collect(),
        OverKind::Aggregate(call) => {
            let keys = match function.frame.units {
                FrameUnits::Range if has_offset(&function.frame) => Some(range_keys(sorted, order)?),
                _ => None,
            };
            let mut out = Vec::with_capacity(n - from);
            let mut last: Option<((usize, usize), Datum)> = None;
            for i in from..n {
                let (start, end) = frame_of(i, n, &function.frame, peers, keys.as_ref(), order);
                // Peers in a RANGE frame share their frame: computed once.
                if let Some((bounds, value)) = &last {
                    if *bounds == (start, end) {
                        out.push(value.clone());
                        continue;
                    }
                }
                let rows = if start < end { &sorted[start..end] } else { &[][..] };
                let value = aggregate(call, rows.iter().map(|row| (*row, 1)))?;
                last = Some(((start, end), value.clone()));
                out.push(value);
            }
            Ok(out)
        }
    }
}

fn has_offset(frame: &Frame) -> bool {
    [frame.start, frame.end].iter().any(|b| matches!(b, FrameBound::Preceding(_) | FrameBound::Following(_)))
}

/// The order key values of `RANGE` offsets.
fn range_keys(sorted: &[&Row], order: &[SortKey]) -> EvalResult<RangeKeys> {
    let [key] = order else {
        return Err(EvalError::Internal(
            "a RANGE frame with an offset needs exactly one ORDER BY key".into(),
        ));
    };
    let keys = sorted
        .iter()
        .map(|row| match row.get(key.column) {
            None | Some(Datum::Null) => Ok(None),
            Some(Datum::Int(v)) | Some(Datum::Date(v)) => Ok(Some(i64::from(*v))),
            Some(Datum::BigInt(v)) | Some(Datum::Timestamp(v)) => Ok(Some(*v)),
            Some(other) => {
                Err(EvalError::Internal(format!("a RANGE offset over the order key value {other}")))
            }
        })
        .collect::<EvalResult<Vec<_>>>()?;
    let lo = keys.iter().position(Option::is_some).unwrap_or(keys.len());
    let hi = keys.iter().rposition(Option::is_some).map_or(lo, |j| j + 1);
    Ok(RangeKeys { keys, lo, hi })
}

/// The frame of sorted row `i` as a half-open index range `start..end` (empty when
/// `start >= end`).
fn frame_of(
    i: usize,
    n: usize,
    frame: &Frame,
    peers: &Peers,
    keys: Option<&RangeKeys>,
    order: &[SortKey],
) -> (usize, usize) {
    let start = match frame.start {
        FrameBound::UnboundedPreceding => 0,
        FrameBound::UnboundedFollowing => n,
        bound => bound_index(i, n, frame.units, bound, peers, keys, order, true),
    };
    let end = match frame.end {
        FrameBound::UnboundedPreceding => 0,
        FrameBound::UnboundedFollowing => n,
        bound => bound_index(i, n, frame.units, bound, peers, keys, order, false),
    };
    (start, end)
}

/// Where a frame bound puts the frame's start (`is_start`: the first index in it) or end (one
/// past the last index in it), within `0..=n`.
#[allow(clippy::too_many_arguments)]
fn bound_index(
    i: usize,
    n: usize,
    units: FrameUnits,
    bound: FrameBound,
    peers: &Peers,
    keys: Option<&RangeKeys>,
    order: &[SortKey],
    is_start: bool,
) -> usize {
    match units {
        FrameUnits::Rows => {
            let at = match bound {
                FrameBound::Preceding(k) => i as i128 - i128::from(k),
                FrameBound::Following(k) => i as i128 + i128::from(k),
                _ => i as i128,
            };
            let edge = if is_start { at } else { at + 1 };
            usize::try_from(edge.clamp(0, n as i128)).unwrap_or(n)
        }
        FrameUnits::Range => range_index(i, bound, peers, keys, order, is_start),
    }
}

/// The single order key of each sorted row as an integer (`None` for `NULL`), and the range
/// `lo..hi` of the rows whose key is not `NULL` (contiguous: `NULL`s sort all first or all last).
struct RangeKeys {
    keys: Vec<Option<i64>>,
    lo: usize,
    hi: usize,
}

/// [`bound_index`] for `RANGE` frames.
fn range_index(
    i: usize,
    bound: FrameBound,
    peers: &Peers,
    keys: Option<&RangeKeys>,
    order: &[SortKey],
    is_start: bool,
) -> usize {
    let peer_edge = if is_start { peers.first[i] } else { peers.last[i] + 1 };
    let distance = match bound {
        FrameBound::Preceding(d) => -i128::from(d),
        FrameBound::Following(d) => i128::from(d),
        _ => return peer_edge,
    };
    let Some(RangeKeys { keys, lo, hi }) = keys else { return peer_edge };
    let Some(current) = keys[i] else {
        // A NULL key: the offset part of its frame is its NULL peers.
        return peer_edge;
    };
    let descending = order.first().is_some_and(|k| k.descending);
    // Row j's key minus the current row's, in the order's direction: non-decreasing along
    // the non-NULL rows.
    let offset = |j: usize| {
        let (key, current) = (i128::from(keys[j].unwrap_or_default()), i128::from(current));
        if descending {
            current - key
        } else {
            key - current
        }
    };
    // The first non-NULL row at or past the bound (start), or past it (end).
    let (mut low, mut high) = (*lo, *hi);
    while low < high {
        let middle = low + (high - low) / 2;
        let before = if is_start { offset(middle) < distance } else { offset(middle) <= distance };
        if before {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    low
}
