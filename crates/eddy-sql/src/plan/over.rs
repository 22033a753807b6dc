//! The functions of a [`Plan::Over`](super::Plan::Over) node: `RANK()`, `DENSE_RANK()`,
//! `LAG`/`LEAD`, and aggregates over a frame (`SUM(x) OVER (... ROWS BETWEEN 10 PRECEDING
//! AND CURRENT ROW)`), each appending one column to its input's rows.

use std::fmt;

use super::AggregateCall;
use crate::expr::ScalarExpr;
use crate::types::SqlType;

/// One window function of an `Over` node.
#[derive(Clone, Debug, PartialEq)]
pub struct OverFunction {
    /// What it computes.
    pub kind: OverKind,
    /// The rows of the partition it reads, relative to the current row. Ranks ignore it.
    pub frame: Frame,
    /// The appended column's name.
    pub name: String,
}

impl OverFunction {
    /// The appended column's type.
    pub fn ty(&self) -> SqlType {
        match &self.kind {
            OverKind::Rank | OverKind::DenseRank => SqlType::BigInt,
            OverKind::Aggregate(call) => call.ty,
            OverKind::Offset { value, .. } => value.ty(),
        }
    }

    /// The expressions it reads of the input row.
    pub fn exprs(&self) -> Vec<&ScalarExpr> {
        match &self.kind {
            OverKind::Rank | OverKind::DenseRank => vec![],
            OverKind::Aggregate(call) => call.args.iter().chain(call.filter.as_ref()).collect(),
            OverKind::Offset { value, default, .. } => vec![value, default],
        }
    }

    /// The expressions it reads of the input row, mutable.
    pub fn exprs_mut(&mut self) -> Vec<&mut ScalarExpr> {
        match &mut self.kind {
            OverKind::Rank | OverKind::DenseRank => vec![],
            OverKind::Aggregate(call) => call.args.iter_mut().chain(call.filter.as_mut()).collect(),
            OverKind::Offset { value, default, .. } => vec![value, default],
        }
    }
}

/// The function of an [`OverFunction`].
#[derive(Clone, Debug, PartialEq)]
pub enum OverKind {
    /// `RANK()`: 1 plus the number of rows before the row's peers (rows equal in the order).
    Rank,
    /// `DENSE_RANK()`: 1 plus the number of distinct order values before the row's.
    DenseRank,
    /// An aggregate over the frame's rows.
    Aggregate(AggregateCall),
    /// `LAG(value, offset, default)` (`offset` rows before, in the order) or `LEAD` (`offset`
    /// negated: after): `value` of that row of the partition, or `default` when there is none.
    Offset {
        /// Rows back (`LAG`, positive) or forward (`LEAD`, negative).
        offset: i64,
        /// The value read from that row.
        value: ScalarExpr,
        /// The value when the partition has no such row (evaluated on the current row).
        default: ScalarExpr,
    },
}

/// A window frame: which rows around the current one an aggregate reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Frame {
    /// `ROWS` (positions) or `RANGE` (values of the single order key).
    pub units: FrameUnits,
    /// The first row.
    pub start: FrameBound,
    /// The last row.
    pub end: FrameBound,
}

impl Frame {
    /// The frame of a window without `ORDER BY`: the whole partition.
    pub const WHOLE: Frame = Frame {
        units: FrameUnits::Rows,
        start: FrameBound::UnboundedPreceding,
        end: FrameBound::UnboundedFollowing,
    };

    /// The default frame with `ORDER BY`: from the start of the partition to the current row
    /// and its peers.
    pub const TO_CURRENT: Frame = Frame {
        units: FrameUnits::Range,
        start: FrameBound::UnboundedPreceding,
        end: FrameBound::CurrentRow,
    };
}

/// The unit of a frame's offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameUnits {
    /// Offsets count rows.
    Rows,
    /// Offsets are distances in the (single) order key's value: milliseconds for a
    /// `TIMESTAMP`, days for a `DATE`, the number itself for an integer.
    Range,
}

/// One end of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameBound {
    /// The partition's first row.
    UnboundedPreceding,
    /// That many rows (or that distance) before the current row.
    Preceding(i64),
    /// The current row (with `RANGE`: as the first or last of its peers).
    CurrentRow,
    /// That many rows (or that distance) after the current row.
    Following(i64),
    /// The partition's last row.
    UnboundedFollowing,
}

/// How far back a streaming node's frames reach: the most rows (`ROWS` frames and `LAG`) and
/// the longest distance in the rowtime (`RANGE` frames, ms), so that the rows to keep are the
/// last `rows` of a partition and those within `range` of the next rowtime.
pub fn streaming_reach(functions: &[OverFunction]) -> (usize, i64) {
    let (mut rows, mut range) = (0usize, 0i64);
    for function in functions {
        match (&function.kind, function.frame.units, function.frame.start) {
            (OverKind::Offset { offset, .. }, _, _) => {
                rows = rows.max(usize::try_from(*offset).unwrap_or(usize::MAX))
            }
            (_, FrameUnits::Rows, FrameBound::Preceding(n)) => {
                rows = rows.max(usize::try_from(n).unwrap_or(usize::MAX))
            }
            (_, FrameUnits::Range, FrameBound::Preceding(n)) => range = range.max(n),
            _ => {}
        }
    }
    (rows, range)
}

impl fmt::Display for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let units = match self.units {
            FrameUnits::Rows => "ROWS",
            FrameUnits::Range => "RANGE",
        };
        write!(f, "{units} BETWEEN {} AND {}", self.start, self.end)
    }
}

impl fmt::Display for FrameBound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameBound::UnboundedPreceding => f.write_str("UNBOUNDED PRECEDING"),
            FrameBound::Preceding(n) => write!(f, "{n} PRECEDING"),
            FrameBound::CurrentRow => f.write_str("CURRENT ROW"),
            FrameBound::Following(n) => write!(f, "{n} FOLLOWING"),
            FrameBound::UnboundedFollowing => f.write_str("UNBOUNDED FOLLOWING"),
        }
    }
}
