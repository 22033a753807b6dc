//! x
pub mod datetime;
pub mod datum;
pub mod decimal;
pub mod types;
