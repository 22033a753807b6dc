//! Operators on `DataStream`s, one family per file, as inherent methods.

pub mod basic;
pub mod broadcast;
pub mod co_process;
pub mod dedup;
pub mod graph;
pub mod iterate;
pub mod join;
pub mod keyed;
pub mod lookup;
pub mod process;
pub mod temporal;
pub mod topn;
