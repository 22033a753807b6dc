//! The sqllogictest runner's parts, shared by the corpus run (`tests/sqllogictest.rs`) and the
//! runner's own tests (`tests/sqllogictest_runner.rs`).
//!
//! * [`engine`]: the [`engine::Engine`] seam (statements in, rows or errors out), eddy's
//!   implementation of it, and [`engine::SltDb`], the `sqllogictest::DB` over any engine.
//! * [`format`]: how a value prints in a result: SQLite's runner style (by the column type the
//!   test expects) or the plain style of the Rust `.slt` runners.
//! * [`records`]: runs a file record by record and says, per record, passed, failed (and why)
//!   or skipped.
//! * [`supervise`]: runs a file's records in child processes, so a record that hangs or
//!   kills its process fails alone.
//! * [`baseline`]: the committed pass counts per file, the comparison with a run, and the
//!   results table in `conformance/README.md`.

pub mod baseline;
pub mod engine;
pub mod format;
pub mod records;
pub mod supervise;
