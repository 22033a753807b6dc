//! A query's result as a changelog, as Flink prints it: `+I` (insert), `-U`/`+U` (the old and
//! the new row of an update), `-D` (delete). A differential collection changes by `(row, diff)`
//! updates per logical time; [`changes`] turns one time's consolidated updates into row
//! changes, pairing a retraction and an insertion of the same upsert key into an update.
//! [`ChangelogMode`] says whether a plan's result ever retracts, which decides whether an
//! append-only sink may take it.

use std::collections::BTreeMap;
use std::fmt;

use crate::datum::{Datum, Row};
use crate::expr::ScalarExpr;
use crate::plan::{JoinKind, Plan, SetOp, TimeOp};

/// The kind of a row change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub enum RowKind {
    /// `+I`: a new row.
    Insert,
    /// `-U`: the old row of an update.
    UpdateBefore,
    /// `+U`: the new row of an update.
    UpdateAfter,
    /// `-D`: a row is gone.
    Delete,
}

impl RowKind {
    /// `+I`, `-U`, `+U` or `-D`.
    pub fn short(&self) -> &'static str {
        match self {
            RowKind::Insert => "+I",
            RowKind::UpdateBefore => "-U",
            RowKind::UpdateAfter => "+U",
            RowKind::Delete => "-D",
        }
    }

    /// Whether the change adds its row (`+I`, `+U`) rather than removing it.
    pub fn is_addition(&self) -> bool {
        matches!(self, RowKind::Insert | RowKind::UpdateAfter)
    }
}

/// One change of a query's result.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct RowChange {
    /// What happened.
    pub kind: RowKind,
    /// The row added or removed.
    pub row: Row,
}

impl fmt::Display for RowChange {
    /// Flink's form: `+I[1, Alice, <NULL>]` (values as `CAST(v AS VARCHAR)` prints them).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]", self.kind.short(), display_values(&self.row).join(", "))
    }
}

/// The values of a row as the shell and the print sink show them: `CAST(v AS VARCHAR)`, and
/// `<NULL>` for `NULL` (as Flink's SQL client does).
pub fn display_values(row: &Row) -> Vec<String> {
    row.values().iter().map(display_value).collect()
}

/// One value as [`display_values`] shows it.
pub fn display_value(value: &Datum) -> String {
    value.to_sql_string().unwrap_or_else(|| "<NULL>".to_owned())
}

/// The changes of one logical time, from its updates (`(row, diff)`, in any order, not
/// necessarily consolidated). With an upsert key (columns that identify a result row, e.g. an
/// aggregate's group key), a removed and an added row of the same key become `-U` then `+U`;
/// every other removal is `-D` and every other addition `+I`. The order is deterministic:
/// by key, removals before additions.
pub fn changes(
    updates: impl IntoIterator<Item = (Row, i64)>,
    upsert_key: Option<&[usize]>,
) -> Vec<RowChange> {
    let mut consolidated: Vec<(Row, i64)> = updates.into_iter().collect();
    differential_dataflow::consolidation::consolidate(&mut consolidated);
    let Some(columns) = upsert_key else {
        // Without a key a row is its own key: in row order, each row only removed or added.
        let mut out = Vec::with_capacity(consolidated.len());
        for (row, diff) in consolidated {
            let kind = if diff < 0 { RowKind::Delete } else { RowKind::Insert };
            for _ in 1..diff.unsigned_abs() {
                out.push(RowChange { kind, row: row.clone() });
            }
            out.push(RowChange { kind, row });
        }
        return out;
    };
    // Per key: the rows removed and the rows added, each as often as its count says.
    let mut by_key: BTreeMap<Vec<Datum>, (Vec<Row>, Vec<Row>)> = BTreeMap::new();
    for (row, diff) in consolidated {
        let key = columns.iter().map(|c| row.get(*c).cloned().unwrap_or(Datum::Null)).collect();
        let entry = by_key.entry(key).or_default();
        let copies = std::iter::repeat_n(row, diff.unsigned_abs() as usize);
        if diff < 0 {
            entry.0.extend(copies);
        } else {
            entry.1.extend(copies);
        }
    }
    let mut out = Vec::new();
    for (_, (removed, added)) in by_key {
        let paired = removed.len().min(added.len());
        for (i, row) in removed.into_iter().enumerate() {
            let kind = if i < paired { RowKind::UpdateBefore } else { RowKind::Delete };
            out.push(RowChange { kind, row });
        }
        for (i, row) in added.into_iter().enumerate() {
            let kind = if i < paired { RowKind::UpdateAfter } else { RowKind::Insert };
            out.push(RowChange { kind, row });
        }
    }
    out
}

/// Whether a result only ever grows (append-only: `+I` only) or also retracts (updating).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangelogMode {
    /// Only insertions.
    AppendOnly,
    /// Insertions, updates and deletions.
    Updating,
}

impl ChangelogMode {
    /// The mode of a plan's result, given each source table's mode (by catalog name). On
    /// append-only input, filters, projections, inner joins, `UNION ALL`, and `DISTINCT` /
    /// `UNION` (a row, once seen, stays) are append-only; aggregations, outer, semi and anti
    /// joins, `EXCEPT`, `INTERSECT` and Top-K retract earlier results as input arrives.
    pub fn of(plan: &Plan, source: &impl Fn(&str) -> ChangelogMode) -> ChangelogMode {
        use ChangelogMode::*;
        let all_inputs = |plan: &Plan| {
            if plan.inputs().iter().all(|input| ChangelogMode::of(input, source) == AppendOnly) {
                AppendOnly
            } else {
                Updating
            }
        };
        match plan {
            Plan::Get { name, .. } => source(name),
            Plan::Values { .. } => AppendOnly,
            Plan::Filter { .. } | Plan::Project { .. } | Plan::Distinct { .. } => all_inputs(plan),
            Plan::Join { kind: JoinKind::Inner, .. } => all_inputs(plan),
            // The right side's changes never reach the output.
            Plan::TemporalJoin { left, .. } => ChangelogMode::of(left, source),
            // A window's rows arrive once, when it closes; corrections after it update them.
            Plan::Time { op: TimeOp::Finalize { lateness, .. }, .. } => {
                if *lateness == 0 {
                    AppendOnly
                } else {
                    Updating
                }
            }
            Plan::Time { op: TimeOp::AppendOnly { .. }, .. } => AppendOnly,
            Plan::Time { .. } => all_inputs(plan),
            Plan::SetOp { op: SetOp::Union, .. } => all_inputs(plan),
            // One row per match, emitted once (the input must be append-only).
            Plan::MatchRecognize { .. } => AppendOnly,
            Plan::Join { .. }
            | Plan::SetOp { .. }
            | Plan::Aggregate { .. }
            | Plan::TopK { .. }
            | Plan::RowNumber { .. }
            | Plan::Over { .. }
            | Plan::Apply { .. } => Updating,
        }
    }
}

/// Output columns that identify a row of the plan's result (an upsert key), when the plan
/// says so: an aggregate's group key, all columns of a `DISTINCT`, the partition key and the
/// number of a `ROW_NUMBER`, carried through
/// projections and filters that keep them.
pub fn upsert_key(plan: &Plan) -> Option<Vec<usize>> {
    match plan {
        Plan::Aggregate { group, .. } => Some((0..group.len()).collect()),
        Plan::Distinct { input } => Some((0..input.arity()).collect()),
        Plan::SetOp { all: false, left, .. } => Some((0..left.arity()).collect()),
        Plan::Filter { input, .. } | Plan::TopK { input, .. } | Plan::Over { input, .. } => upsert_key(input),
        // As Flink's Top-N: a partition has one row of each number.
        Plan::RowNumber { input, partition, .. } => {
            Some(partition.iter().copied().chain(std::iter::once(input.arity())).collect())
        }
        Plan::Project { input, exprs, .. } => {
            let key = upsert_key(input)?;
            key.iter()
                .map(|k| {
                    exprs.iter().position(|e| matches!(e, ScalarExpr::Column { index, .. } if index == k))
                })
                .collect()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: i32, value: i64) -> Row {
        Row::new(vec![Datum::Int(key), Datum::BigInt(value)])
    }

    #[test]
    fn updates_of_one_key_pair_into_update_before_and_after() {
        let updates = vec![
            (row(1, 5), -1),
            (row(1, 6), 1),
            (row(2, 1), 1),
            (row(3, 9), -1),
            (row(4, 4), 1),
            (row(4, 4), -1),
        ];
        let printed: Vec<String> = changes(updates, Some(&[0])).iter().map(|c| c.to_string()).collect();
        assert_eq!(printed, ["-U[1, 5]", "+U[1, 6]", "+I[2, 1]", "-D[3, 9]"]);
        let printed: Vec<String> =
            changes(vec![(row(1, 5), -1), (row(1, 6), 2)], None).iter().map(|c| c.to_string()).collect();
        assert_eq!(printed, ["-D[1, 5]", "+I[1, 6]", "+I[1, 6]"]);
        let null = RowChange { kind: RowKind::Insert, row: Row::new(vec![Datum::Null, Datum::string("a")]) };
        assert_eq!(null.to_string(), "+I[<NULL>, a]");
    }
}
