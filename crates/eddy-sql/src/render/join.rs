//! Joins: both inputs arranged by the equi-join key ([`crate::plan::equi_keys`]; a join without
//! one is keyed by the empty row, so a cross product or a non-equi join is one group), matched
//! with `join_core`, then the residual predicate. Outer, semi and anti joins derive from the
//! matched pairs: a row is matched when some partner satisfies the whole condition, so an
//! outer row whose partners all fail the residual is padded with `NULL`s, as SQL requires.
//! `NULL` keys never match (rows with one are left out of the arrangements).

use differential_dataflow::VecCollection;

use super::{label, Diff, RenderError, Renderer, Rows, Time};
use crate::datum::{Datum, Row};
use crate::expr::{truth, ScalarExpr};
use crate::plan::{conjunction, equi_keys, JoinKind, Plan};

impl<'scope> Renderer<'scope> {
    pub(super) fn join(
        &mut self,
        plan: &Plan,
        left: &Plan,
        right: &Plan,
        kind: JoinKind,
        on: &ScalarExpr,
    ) -> Result<(Rows<'scope>, String), RenderError> {
        let left_arity = left.arity();
        let right_arity = right.arity();
        let keys = equi_keys(on, left_arity);
        let residual = keys.residual.clone();
        let (left_arranged, left_arrangement) = self.arrange(left, &keys.left, true)?;
        let (right_arranged, right_arrangement) = self.arrange(right, &keys.right, true)?;
        let left_node = self.arrangements[left_arrangement].node;
        let right_node = self.arrangements[right_arrangement].node;
        let pairs: Rows<'scope> =
            left_arranged.join_core(right_arranged, |_key: &Row, left: &Row, right: &Row| {
                Some(Row::new(left.values().iter().chain(right.values()).cloned().collect()))
            });
        let matched = if residual.is_empty() {
            pairs
        } else {
            let predicate = conjunction(residual);
            self.fallible_on(pairs, label(plan), move |row| {
                Ok((truth(&predicate.eval(row)?)? == Some(true)).then(|| row.clone()))
            })
        };
        let left_rows = self.rows(left_node);
        let right_rows = self.rows(right_node);
        let rows = match kind {
            JoinKind::Inner => matched,
            JoinKind::Left => {
                let unmatched = unmatched(left_rows, matched.clone(), 0, left_arity);
                matched.concat(unmatched.map(move |row| pad(&row, 0, right_arity)))
            }
            JoinKind::Right => {
                let unmatched = unmatched(right_rows, matched.clone(), left_arity, right_arity);
                matched.concat(unmatched.map(move |row| pad(&row, left_arity, 0)))
            }
            JoinKind::Full => {
                let left_unmatched = unmatched(left_rows, matched.clone(), 0, left_arity);
                let right_unmatched = unmatched(right_rows, matched.clone(), left_arity, right_arity);
                matched
                    .concat(left_unmatched.map(move |row| pad(&row, 0, right_arity)))
                    .concat(right_unmatched.map(move |row| pad(&row, left_arity, 0)))
            }
            JoinKind::Semi => with_partner(left_rows, matched, 0, left_arity),
            JoinKind::Anti => unmatched(left_rows, matched, 0, left_arity),
        };
        let text = format!(
            "{} <- #{left_node} via Arrangement#{left_arrangement}, #{right_node} via Arrangement#{right_arrangement}",
            label(plan)
        );
        Ok((rows, text))
    }
}

/// `columns` columns of `row` from `start`.
fn slice(row: &Row, start: usize, columns: usize) -> Row {
    Row::new(row.values()[start..start + columns].to_vec())
}

/// `row` with `before` `NULL`s before it and `after` after it.
fn pad(row: &Row, before: usize, after: usize) -> Row {
    let mut values = vec![Datum::Null; before];
    values.extend(row.values().iter().cloned());
    values.extend(std::iter::repeat_n(Datum::Null, after));
    Row::new(values)
}

/// The rows of `side` (as often as they occur) that appear as columns `start ..
/// start + columns` of some matched pair.
fn with_partner<'scope>(
    side: Rows<'scope>,
    matched: Rows<'scope>,
    start: usize,
    columns: usize,
) -> Rows<'scope> {
    let partnered: VecCollection<'scope, Time, Row, Diff> =
        matched.map(move |row| slice(&row, start, columns)).distinct_core::<Diff>();
    side.map(|row| (row, ())).semijoin(partnered).map(|(row, ())| row)
}

/// The rows of `side` (as often as they occur) with no matched pair.
fn unmatched<'scope>(
    side: Rows<'scope>,
    matched: Rows<'scope>,
    start: usize,
    columns: usize,
) -> Rows<'scope> {
    let partnered = with_partner(side.clone(), matched, start, columns);
    side.concat(partnered.negate())
}
