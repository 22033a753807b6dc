//! Operators on `DataStream`s, one family per file, as inherent methods.

pub mod basic;
pub mod co_process;
pub mod keyed;
pub mod process;
