//! `eddy sql`: the interactive SQL shell and the SQL script runner, as a library so that
//! each part is tested without a terminal (feature `sql`, on by default).
//!
//! * [`split`](mod@split): SQL text into statements at `;` (not inside strings, quoted identifiers or
//!   comments), each with the line and column it starts at.
//! * [`command`]: the statements the client handles itself: `SET`, `RESET`, `HELP`, `QUIT`.
//! * [`options`]: the job options `SET` changes, on top of the job flags ([`crate::args`]).
//! * [`client`]: [`SqlClient`] executes one statement: a command, or SQL for the
//!   `eddy_sql` session, whose results it prints or runs as jobs; [`StatementError`] says
//!   where a statement failed, with a caret under the spot.
//! * [`run`]: running the jobs (collect a bounded query, stream an unbounded one's changes,
//!   `INSERT INTO` statements as one job) and stopping them with Ctrl-C.
//! * [`print`](mod@print): tables in the style of Flink's SQL client, and changelog lines.
//! * [`script`]: running a whole script ([`run_script`]), and the shell's [`LineBuffer`].
//!
//! The binary part (`src/bin/eddy/sql.rs`) parses the flags, reads the file or the terminal
//! (rustyline: line editing and history) and prints errors.
//!
//! Relative paths in a script (`'path' = 'data/orders.csv'`) are relative to the directory
//! `eddy sql` runs in, not to the script's.

pub mod client;
pub mod command;
pub mod options;
pub mod print;
pub mod run;
pub mod script;
pub mod split;

pub use client::{Flow, Inserts, SqlClient, StatementError};
pub use options::JobOptions;
pub use script::{run_script, Batch, LineBuffer};
pub use split::{split, split_file, StatementText};
