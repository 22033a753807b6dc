//! `TUMBLE_START(...)`, `TUMBLE_END(...)`, `TUMBLE_ROWTIME(...)` and the `HOP_` and `SESSION_`
//! ones: the hidden window columns a legacy group window (`bind/group_window.rs`) adds.

use sqlparser::ast::{Expr, Ident};

use super::Binder;
use crate::bind::{unsupported, BindError, BindResult};
use crate::datum::{Datum, Interval};
use crate::expr::{BinaryOp, ScalarExpr};
use crate::types::SqlType;

/// The hidden window columns' names (a user cannot write them unquoted).
pub(crate) const START: &str = "$window_start";
/// See [`START`].
pub(crate) const END: &str = "$window_end";
/// See [`START`].
pub(crate) const TIME: &str = "$window_time";

/// `TUMBLE_START(...)` and its kin as the window column they read, bound with `binder`; `None`
/// for other functions.
pub(crate) fn window_property(binder: &Binder, name: &str, source: &Expr) -> Option<BindResult<ScalarExpr>> {
    let (family, property) = name.split_once('_')?;
    if !matches!(family, "TUMBLE" | "HOP" | "SESSION") {
        return None;
    }
    let column = match property {
        "START" => START,
        "END" | "ROWTIME" => END,
        "PROCTIME" => {
            return Some(Err(unsupported(source, format!("{name}: processing-time group windows"))))
        }
        _ => return None,
    };
    let bound = binder.bind(&Expr::Identifier(Ident::new(column))).map_err(|_| BindError::Grouping {
        message: format!("{name}(...) needs a GROUP BY {family}(...) in its query block"),
        location: crate::bind::location_of(source),
    });
    Some(bound.map(|end| {
        if property == "ROWTIME" {
            // The rowtime of a window's result: its end minus 1 ms.
            let one = ScalarExpr::literal(
                Datum::Interval(Interval { months: 0, millis: 1 }),
                SqlType::Interval(crate::types::IntervalKind::DayTime),
            );
            ScalarExpr::Binary {
                op: BinaryOp::Sub,
                left: Box::new(end),
                right: Box::new(one),
                ty: SqlType::TIMESTAMP,
            }
        } else {
            end
        }
    }))
}
