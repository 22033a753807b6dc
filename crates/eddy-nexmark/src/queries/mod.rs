//! The Nexmark queries as eddy DataStream programs, with the semantics of the `nexmark/nexmark`
//! SQL (and RisingWave's where its known answers follow it).
//!
//! Every query takes the stream of [`Event`]s and returns a stream of rows whose field names
//! are the SQL result's column names, so a row can be compared column by column with a known
//! answer ([`QueryRow`]). [`QUERIES`] lists the implemented ones; [`build`] builds one by name.
//!
//! Queries still missing are listed in the crate's README section of `benches/README.md` and
//! the Nexmark issue's closing note.

mod aggregates;
mod auctions;
mod joins;
mod stateless;
mod windowed;

pub use aggregates::*;
pub use auctions::*;
pub use joins::*;
pub use stateless::*;
pub use windowed::*;

use eddy_core::prelude::*;
use serde::{Serialize, Serializer};

use crate::model::Event;

/// An exact decimal: `units / 10^scale` (SQL `DECIMAL`), printed with exactly `scale` digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize)]
pub struct Decimal {
    /// The value times `10^scale`.
    pub units: i128,
    /// Digits after the point.
    pub scale: u32,
}

impl Decimal {
    /// `price * 0.908` (the dollar-to-euro rate of q1 and q14), exact with 3 decimals.
    pub fn times_0_908(price: u64) -> Decimal {
        Decimal { units: i128::from(price) * 908, scale: 3 }
    }
}

impl std::fmt::Display for Decimal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unit = 10i128.pow(self.scale);
        let sign = if self.units < 0 { "-" } else { "" };
        let (whole, fraction) = (self.units.abs() / unit, self.units.abs() % unit);
        if self.scale == 0 {
            write!(f, "{sign}{whole}")
        } else {
            write!(f, "{sign}{whole}.{fraction:0width$}", width = self.scale as usize)
        }
    }
}

impl Serialize for Decimal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A query result row: serializes to a JSON object whose keys are the SQL column names.
pub trait QueryRow: Data + Serialize + std::fmt::Debug {}
impl<T: Data + Serialize + std::fmt::Debug> QueryRow for T {}

/// What to do with a query's result stream (a sink for the benchmark, a collector for the
/// known answers).
pub trait QueryOutput {
    /// Consumes the result stream of the query.
    fn output<T: QueryRow>(&self, rows: DataStream<'_, T>);
    /// Where q10 writes its partitioned files (it also hands its rows to
    /// [`output`](Self::output)); `None` writes none.
    fn file_directory(&self) -> Option<std::path::PathBuf> {
        None
    }
}

/// The implemented queries, by name.
pub const QUERIES: &[&str] = &[
    "q0", "q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q9", "q10", "q11", "q12", "q13", "q14", "q15",
    "q16", "q17", "q18", "q19", "q20", "q21", "q22",
];

/// For queries whose result rows are upserts without being a [`Change`] stream: the columns
/// that key them. The result is then the latest row per key. ([`Change`] streams carry their
/// keys.)
pub fn upsert_key(name: &str) -> Option<&'static [&'static str]> {
    match name {
        "q4" => Some(&["category"]),
        "q6" => Some(&["seller"]),
        _ => None,
    }
}

/// Builds query `name` over `events` and hands its result to `output`. `Ok(false)` if the
/// query is not implemented.
pub fn build(name: &str, events: DataStream<'_, Event>, output: &impl QueryOutput) -> Result<bool> {
    match name {
        "q0" => output.output(q0(events)),
        "q1" => output.output(q1(events)),
        "q2" => output.output(q2(events)),
        "q4" => output.output(q4(events)),
        "q3" => output.output(q3(events)),
        "q5" => output.output(q5(events)),
        "q6" => output.output(q6(events)),
        "q7" => output.output(q7(events)),
        "q8" => output.output(q8(events)),
        "q9" => output.output(q9(events)),
        "q13" => output.output(q13(events)),
        "q15" => output.output(q15(events)),
        "q16" => output.output(q16(events)),
        "q17" => output.output(q17(events)),
        "q18" => output.output(q18(events)),
        "q19" => output.output(q19(events)),
        "q20" => output.output(q20(events)),
        "q10" => {
            let rows = q10(events);
            if let Some(directory) = output.file_directory() {
                rows.clone().sink(q10_sink(directory)).uid("q10-files");
            }
            output.output(rows)
        }
        "q11" => output.output(q11(events)),
        "q12" => output.output(q12(events)),
        "q14" => output.output(q14(events)),
        "q21" => output.output(q21(events)),
        "q22" => output.output(q22(events)),
        _ => return Ok(false),
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_print_exactly() {
        assert_eq!(Decimal::times_0_908(73_134_520).to_string(), "66406144.160");
        assert_eq!(Decimal::times_0_908(1).to_string(), "0.908");
        assert_eq!(Decimal { units: -1_005, scale: 2 }.to_string(), "-10.05");
        assert_eq!(serde_json::to_string(&Decimal { units: 42, scale: 0 }).unwrap(), "\"42\"");
    }
}
