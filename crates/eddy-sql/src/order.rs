//! The order of rows under `ORDER BY` keys ([`SortKey`]s): what Top-K, `ROW_NUMBER`, window
//! functions, a query's presentation order and the reference evaluator sort by.

use std::cmp::Ordering;

use crate::datum::{Datum, Row};
use crate::plan::SortKey;

/// The order of `SortKey`s: `NULL` placed as each key says, ties broken by the whole row.
pub fn compare_rows(a: &Row, b: &Row, order: &[SortKey]) -> Ordering {
    compare_keys(a, b, order).then_with(|| a.cmp(b))
}

/// The order of `SortKey`s alone: rows equal in every key are equal (peers).
pub fn compare_keys(a: &Row, b: &Row, order: &[SortKey]) -> Ordering {
    for key in order {
        let (x, y) = (a.get(key.column), b.get(key.column));
        let (x, y) = (x.unwrap_or(&Datum::Null), y.unwrap_or(&Datum::Null));
        let ordering = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => {
                if key.nulls_first {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (false, true) => {
                if key.nulls_first {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            (false, false) => {
                let ordering = value_cmp(x, y);
                if key.descending {
                    ordering.reverse()
                } else {
                    ordering
                }
            }
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}

/// Values of one type by value (decimals of different scales by their value).
pub(crate) fn value_cmp(x: &Datum, y: &Datum) -> Ordering {
    match (x, y) {
        (Datum::Decimal(a), Datum::Decimal(b)) => a.cmp_value(b),
        _ => x.cmp(y),
    }
}
