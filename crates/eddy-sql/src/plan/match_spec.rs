//! The bound form of SQL `MATCH_RECOGNIZE` held by [`Plan::MatchRecognize`](super::Plan::MatchRecognize);
//! how it runs is in [`crate::match_recognize`].

use eddy_cep::AfterMatchSkipStrategy;

use super::{AggregateCall, Column, SortKey};
use crate::expr::ScalarExpr;

/// A `PATTERN` term.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PatternTerm {
    /// A pattern variable.
    Var(String),
    /// Terms one after the other (strict contiguity, as rows of a partition).
    Concat(Vec<PatternTerm>),
    /// A quantified term: between `min` and `max` (`None`: unbounded) repetitions.
    Repeat {
        /// The term.
        term: Box<PatternTerm>,
        /// At least.
        min: u32,
        /// At most.
        max: Option<u32>,
        /// Greedy (SQL's default) or reluctant (`?` after the quantifier).
        greedy: bool,
    },
}

impl PatternTerm {
    /// The variables, in order of appearance.
    pub fn variables(&self) -> Vec<String> {
        match self {
            PatternTerm::Var(v) => vec![v.clone()],
            PatternTerm::Concat(terms) => terms.iter().flat_map(|t| t.variables()).collect(),
            PatternTerm::Repeat { term, .. } => term.variables(),
        }
    }
}

impl std::fmt::Display for PatternTerm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PatternTerm::Var(v) => write!(f, "{v}"),
            PatternTerm::Concat(terms) => {
                let parts: Vec<String> = terms.iter().map(|t| t.to_string()).collect();
                write!(f, "({})", parts.join(" "))
            }
            PatternTerm::Repeat { term, min, max, greedy } => {
                let q = match (min, max) {
                    (0, None) => "*".to_string(),
                    (1, None) => "+".to_string(),
                    (0, Some(1)) => "?".to_string(),
                    (n, None) => format!("{{{n},}}"),
                    (n, Some(m)) if n == m => format!("{{{n}}}"),
                    (n, Some(m)) => format!("{{{n},{m}}}"),
                };
                write!(f, "{term}{q}{}", if *greedy { "" } else { "?" })
            }
        }
    }
}

/// What a navigation column of an extended row reads.
#[derive(Clone, Debug, PartialEq)]
pub enum Nav {
    /// `FIRST(v.column, offset)`: the `offset`-th row of `v` (of the match when `var` is
    /// `None`) from the first.
    First {
        /// The variable.
        var: Option<String>,
        /// The input column.
        column: usize,
        /// Rows from the first.
        offset: u64,
    },
    /// `LAST(v.column, offset)` (and a plain `v.column`): the `offset`-th row from the last.
    Last {
        /// The variable.
        var: Option<String>,
        /// The input column.
        column: usize,
        /// Rows from the last.
        offset: u64,
    },
    /// `PREV(v.column, offset)`: `offset` rows before the last row of `v`, counting every
    /// row of the match.
    Prev {
        /// The variable.
        var: Option<String>,
        /// The input column.
        column: usize,
        /// Rows back.
        offset: u64,
    },
    /// An aggregate over the rows of `var` (every row of the match when `None`).
    Aggregate {
        /// The variable.
        var: Option<String>,
        /// The aggregate, its argument over the input's columns.
        call: AggregateCall,
    },
}

/// A `DEFINE` condition or a measure: `expr` over the row's columns and then `navs`.
#[derive(Clone, Debug, PartialEq)]
pub struct MatchExpr {
    /// The expression over the extended row.
    pub expr: ScalarExpr,
    /// The navigation columns, after the input's.
    pub navs: Vec<Nav>,
}

/// A bound `MATCH_RECOGNIZE`. Output: the partition columns, then the measures.
#[derive(Clone, Debug, PartialEq)]
pub struct MatchSpec {
    /// The partition columns of the input.
    pub partition: Vec<usize>,
    /// The time column (the first `ORDER BY` key, ascending).
    pub time: usize,
    /// The further order keys.
    pub order: Vec<SortKey>,
    /// The pattern.
    pub pattern: PatternTerm,
    /// `DEFINE`: a condition per variable; a variable without one matches every row.
    pub defines: Vec<(String, MatchExpr)>,
    /// `MEASURES`: name and expression.
    pub measures: Vec<(String, MatchExpr)>,
    /// `AFTER MATCH SKIP`.
    pub skip: AfterMatchSkipStrategy,
    /// The columns of the output.
    pub columns: Vec<Column>,
}
