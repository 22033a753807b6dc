//! SQL `MATCH_RECOGNIZE` on eddy-cep: the bound form of the clause ([`MatchSpec`]), its
//! compilation to an eddy-cep [`Pattern`] over [`Row`]s, and the evaluation of `DEFINE`
//! conditions and `MEASURES` over a (partial) match.
//!
//! Expressions of `DEFINE` and `MEASURES` are ordinary [`ScalarExpr`]s over an extended row:
//! the row's own columns, then one column per [`Nav`] (a navigation such as `LAST(A.price, 1)`,
//! `FIRST(x)`, `PREV(A.price)`, an aggregate over a variable's rows, `MATCH_ROWTIME()`), whose
//! value is computed from the match before the expression is evaluated. In `DEFINE v`, the
//! row under test counts as the last row of `v`; in `MEASURES`, a column without navigation
//! reads the last row of its variable (or of the match).
//!
//! Both the dataflow operator (`render/match_recognize.rs`) and the reference evaluator run a
//! partition's rows through [`Matcher::process`] in the order of the `ORDER BY` keys (time
//! first), so they give the same matches.

use std::cmp::Ordering;

use eddy_cep::{Contiguity, Match, MatchView, Nfa, NfaState, Pattern};

use crate::aggregate::aggregate;
use crate::datum::{Datum, Row};
use crate::expr::truth;
pub use crate::plan::match_spec::{MatchExpr, MatchSpec, Nav, PatternTerm};
use crate::plan::SortKey;

/// The rows of a (partial) match: `(variable, row)` in order.
type Rows<'a> = [(&'a str, &'a Row)];

fn rows_of<'a>(rows: &'a Rows<'a>, var: &Option<String>) -> Vec<&'a Row> {
    rows.iter().filter(|(v, _)| var.as_deref().is_none_or(|var| var == *v)).map(|(_, r)| *r).collect()
}

fn column_of(row: Option<&Row>, column: usize) -> Datum {
    row.and_then(|r| r.get(column).cloned()).unwrap_or(Datum::Null)
}

/// The value of a navigation over a match's rows.
fn nav_value(nav: &Nav, rows: &Rows<'_>) -> Datum {
    match nav {
        Nav::First { var, column, offset } => {
            let of = rows_of(rows, var);
            column_of(usize::try_from(*offset).ok().and_then(|o| of.get(o).copied()), *column)
        }
        Nav::Last { var, column, offset } => {
            let of = rows_of(rows, var);
            let at = usize::try_from(*offset).ok().and_then(|o| of.len().checked_sub(o + 1));
            column_of(at.and_then(|i| of.get(i).copied()), *column)
        }
        Nav::Prev { var, column, offset } => {
            let last = rows.iter().rposition(|(v, _)| var.as_deref().is_none_or(|var| var == *v));
            let at = last.and_then(|l| usize::try_from(*offset).ok().and_then(|o| l.checked_sub(o)));
            column_of(at.map(|i| rows[i].1), *column)
        }
        Nav::Aggregate { var, call } => {
            let of = rows_of(rows, var);
            aggregate(call, of.into_iter().map(|r| (r, 1))).unwrap_or(Datum::Null)
        }
    }
}

/// The value of `expr` over a match's `rows`, with `current` the row whose columns it reads
/// directly. A failing expression is `NULL` (a condition that fails does not hold).
pub fn eval(expr: &MatchExpr, current: &Row, rows: &Rows<'_>) -> Datum {
    let mut values = current.values().to_vec();
    values.extend(expr.navs.iter().map(|nav| nav_value(nav, rows)));
    expr.expr.eval(&Row::new(values)).unwrap_or(Datum::Null)
}

/// The order of the further `ORDER BY` keys (`NULL`s placed as each key says).
fn compare_keys(a: &Row, b: &Row, order: &[SortKey]) -> Ordering {
    for key in order {
        let (x, y) = (a.get(key.column).unwrap_or(&Datum::Null), b.get(key.column).unwrap_or(&Datum::Null));
        let ordering = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) if key.nulls_first => Ordering::Less,
            (true, false) => Ordering::Greater,
            (false, true) if key.nulls_first => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) if key.descending => y.cmp(x),
            (false, false) => x.cmp(y),
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}

/// The time of a row (ms), `None` when `NULL`.
pub fn time_of(row: &Row, time: usize) -> Option<i64> {
    match row.get(time) {
        Some(Datum::Timestamp(ms)) | Some(Datum::BigInt(ms)) => Some(*ms),
        Some(Datum::Int(v)) => Some(i64::from(*v)),
        _ => None,
    }
}

/// The processing order of a partition's rows: time, the further keys, the whole row.
fn row_order(a: &Row, b: &Row, time: usize, order: &[SortKey]) -> Ordering {
    time_of(a, time).cmp(&time_of(b, time)).then_with(|| compare_keys(a, b, order)).then_with(|| a.cmp(b))
}

/// A compiled `MATCH_RECOGNIZE`: the NFA and the spec.
pub struct Matcher {
    nfa: Nfa<Row>,
    spec: MatchSpec,
}

impl Matcher {
    /// Compiles the pattern.
    pub fn new(spec: &MatchSpec) -> Result<Matcher, String> {
        let pattern = pattern_of(spec)?;
        let nfa = Nfa::compile(&pattern, false).map_err(|e| format!("MATCH_RECOGNIZE: {e}"))?;
        Ok(Matcher { nfa, spec: spec.clone() })
    }

    /// A new partition's state.
    pub fn initial_state(&self) -> NfaState<Row> {
        self.nfa.initial_state()
    }

    /// The order rows of a partition are processed in: time, the further keys, the whole row.
    pub fn order(&self, a: &Row, b: &Row) -> Ordering {
        row_order(a, b, self.spec.time, &self.spec.order)
    }

    /// Processes the next row of a partition and returns the output rows of the matches it
    /// completes.
    pub fn process(&self, state: &mut NfaState<Row>, row: Row) -> Result<Vec<Row>, String> {
        let Some(ts) = time_of(&row, self.spec.time) else { return Ok(vec![]) };
        let mut out = Vec::new();
        let advanced = self.nfa.advance_time(state, ts).map_err(|e| e.to_string())?;
        for m in advanced.matches {
            out.push(self.measure(&m));
        }
        for m in self.nfa.process(state, row, ts, 0).map_err(|e| e.to_string())? {
            out.push(self.measure(&m));
        }
        Ok(out)
    }

    /// Every match of a partition's rows (any order; they are sorted first).
    pub fn run(&self, mut rows: Vec<Row>) -> Result<Vec<Row>, String> {
        rows.sort_by(|a, b| self.order(a, b));
        let mut state = self.initial_state();
        let mut out = Vec::new();
        for row in rows {
            out.extend(self.process(&mut state, row)?);
        }
        Ok(out)
    }

    fn measure(&self, m: &Match<Row>) -> Row {
        let rows: Vec<(&str, &Row)> =
            m.stages.iter().flat_map(|(name, rows)| rows.iter().map(move |r| (name.as_str(), r))).collect();
        let mut ordered = rows.clone();
        ordered.sort_by(|a, b| self.order(a.1, b.1));
        let last = ordered.last().map(|(_, r)| *r).cloned().unwrap_or_else(|| Row::new(vec![]));
        let mut values: Vec<Datum> = self.spec.partition.iter().map(|c| column_of(Some(&last), *c)).collect();
        values.extend(self.spec.measures.iter().map(|(_, e)| eval(e, &last, &ordered)));
        Row::new(values)
    }
}

/// The eddy-cep pattern of a spec.
fn pattern_of(spec: &MatchSpec) -> Result<Pattern<Row>, String> {
    let terms = match &spec.pattern {
        PatternTerm::Concat(terms) => terms.clone(),
        other => vec![other.clone()],
    };
    let mut pattern: Option<Pattern<Row>> = None;
    for term in &terms {
        pattern = Some(append(pattern, term, spec)?);
    }
    let pattern = pattern.ok_or("MATCH_RECOGNIZE: empty PATTERN")?.with_skip_strategy(spec.skip.clone());
    pattern.validate().map_err(|e| format!("MATCH_RECOGNIZE: {e}"))?;
    Ok(pattern)
}

fn condition_of(spec: &MatchSpec, var: &str) -> Option<MatchExpr> {
    spec.defines.iter().find(|(v, _)| v == var).map(|(_, e)| e.clone())
}

fn append(
    pattern: Option<Pattern<Row>>,
    term: &PatternTerm,
    spec: &MatchSpec,
) -> Result<Pattern<Row>, String> {
    let (inner, min, max, greedy) = match term {
        PatternTerm::Repeat { term, min, max, greedy } => (&**term, *min, *max, *greedy),
        other => (other, 1, Some(1), true),
    };
    let mut pattern = match inner {
        PatternTerm::Var(var) => {
            let stage = match pattern {
                None => Pattern::begin(var.clone()),
                Some(p) => p.then(var.clone(), Contiguity::Strict),
            };
            match condition_of(spec, var) {
                None => stage,
                Some(condition) => {
                    let var = var.clone();
                    let (time, order) = (spec.time, spec.order.clone());
                    stage.where_iterative(move |row: &Row, view: &dyn MatchView<Row>| {
                        // In row order: a repeated group's stages list their rows stage by
                        // stage. The row under test is the latest.
                        let mut rows: Vec<(&str, &Row)> = view.all_events();
                        rows.sort_by(|a, b| row_order(a.1, b.1, time, &order));
                        rows.push((var.as_str(), row));
                        truth(&eval(&condition, row, &rows)).ok().flatten() == Some(true)
                    })
                }
            }
        }
        PatternTerm::Concat(terms) => {
            let mut group: Option<Pattern<Row>> = None;
            for t in terms {
                group = Some(append(group, t, spec)?);
            }
            let group = group.ok_or("MATCH_RECOGNIZE: empty group in PATTERN")?;
            match pattern {
                None => Pattern::begin_group(group),
                Some(p) => p.then_group(group, Contiguity::Strict),
            }
        }
        PatternTerm::Repeat { .. } => {
            return Err(format!(
                "MATCH_RECOGNIZE: a quantifier on a quantified term ({term}) is not supported"
            ))
        }
    };
    let is_group = matches!(inner, PatternTerm::Concat(_));
    let looping = match (min, max) {
        (1, Some(1)) => false,
        (0, Some(1)) => {
            pattern = pattern.optional();
            false
        }
        (0 | 1, None) => {
            pattern = pattern.one_or_more();
            true
        }
        (n, None) => {
            pattern = pattern.times_or_more(n);
            true
        }
        (n, Some(m)) if n == m => {
            pattern = pattern.times(n);
            true
        }
        (n, Some(m)) => {
            pattern = pattern.times_range(n.max(1), m);
            true
        }
    };
    if looping {
        pattern = pattern.consecutive();
        if min == 0 {
            pattern = pattern.optional();
        }
        if greedy && !is_group && min != max.unwrap_or(u32::MAX) {
            pattern = pattern.greedy();
        }
    }
    Ok(pattern)
}
