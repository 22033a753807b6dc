//! Executing statements one at a time, as the shell and `eddy sql -f` do: client commands
//! (`SET`, `HELP`, ...) change the job options, everything else goes to the SQL session, and
//! what comes back is printed or run as a job.

use std::fmt;
use std::io::Write;

use eddy_core::error::Error;
use eddy_sql::session::{Outcome, Session, SqlError, SqlJob, DEAD_LETTER_TABLE};

use crate::sql::command::{self, Command, HELP, HELP_END};
use crate::sql::options::{JobOptions, KEYS};
use crate::sql::print::write_table;
use crate::sql::run::{collect_query, run_inserts, stream_query};
use crate::sql::split::StatementText;

/// When `INSERT INTO` a connector table runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inserts {
    /// At once, as its own job (the shell).
    Immediately,
    /// All together as one job when the script ends ([`SqlClient::finish`]), like Flink's
    /// statement sets.
    AtTheEnd,
}

/// Whether to go on after a statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Read the next statement.
    Continue,
    /// `QUIT;` or `EXIT;`.
    Quit,
}

/// A statement that failed, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementError {
    /// The line of the error (or of the statement's start when the error has no position),
    /// from 1.
    pub line: usize,
    /// Its column, from 1, in characters.
    pub column: usize,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for StatementError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for StatementError {}

impl StatementError {
    /// An error at the start of `statement`.
    fn at_start(statement: &StatementText, message: impl Into<String>) -> StatementError {
        StatementError { line: statement.line, column: statement.column, message: message.into() }
    }

    /// The error with the line of `source` it points at and a caret under its column:
    ///
    /// ```text
    /// orders.sql:3:10: syntax error: ...
    ///   3 | SELECT * FORM orders
    ///     |          ^
    /// ```
    ///
    /// `file` names the script (`None` in the shell, which says `line L, column C`).
    pub fn render(&self, source: &str, file: Option<&str>) -> String {
        let mut text = match file {
            Some(file) => format!("{file}:{}:{}: {}", self.line, self.column, self.message),
            None => format!("error at line {}, column {}: {}", self.line, self.column, self.message),
        };
        if let Some(line) = source.lines().nth(self.line.saturating_sub(1)) {
            let number = self.line.to_string();
            let pad = " ".repeat(number.len());
            // Tabs stay tabs so that the caret lines up under them.
            let indent: String = line
                .chars()
                .take(self.column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            text.push_str(&format!("\n  {number} | {line}\n  {pad} | {indent}^"));
        }
        text
    }
}

/// A SQL session with job options, executing statements and printing their results.
pub struct SqlClient {
    session: Session,
    options: JobOptions,
    inserts: Inserts,
    pending: Vec<(StatementText, SqlJob)>,
}

impl SqlClient {
    /// A client with an empty session and the given options.
    pub fn new(options: JobOptions, inserts: Inserts) -> SqlClient {
        SqlClient { session: Session::new(), options, inserts, pending: Vec::new() }
    }

    /// The job options in force.
    pub fn options(&self) -> &JobOptions {
        &self.options
    }

    /// The SQL session.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Executes one statement: results go to `out` (tables, changelogs, plans), messages to
    /// `info` (`created table t`, job summaries).
    pub fn execute(
        &mut self,
        statement: &StatementText,
        out: &mut dyn Write,
        info: &mut dyn Write,
    ) -> Result<Flow, StatementError> {
        if let Some(command) = command::parse(&statement.text) {
            let command = command.map_err(|message| StatementError::at_start(statement, message))?;
            return self.command(command, statement, out);
        }
        let outcomes =
            self.session.execute(&statement.positioned()).map_err(|error| sql_error(statement, &error))?;
        for outcome in outcomes {
            self.outcome(outcome, statement, out, info)?;
        }
        Ok(Flow::Continue)
    }

    /// Runs the `INSERT INTO` statements held back for the end ([`Inserts::AtTheEnd`]) as one
    /// job with the options in force now; does nothing when there are none.
    pub fn finish(&mut self, info: &mut dyn Write) -> Result<(), StatementError> {
        let pending = std::mem::take(&mut self.pending);
        let Some((first, _)) = pending.first() else { return Ok(()) };
        let first = first.clone();
        let jobs: Vec<SqlJob> = pending.into_iter().map(|(_, job)| job).collect();
        let targets: Vec<&str> = jobs.iter().filter_map(|job| job.target.as_deref()).collect();
        let _ = writeln!(
            info,
            "[INFO] running {} INSERT statement(s) as one job, into {}",
            jobs.len(),
            targets.join(", ")
        );
        let config = self
            .options
            .insert_config()
            .map_err(|error| StatementError::at_start(&first, error.to_string()))?;
        let finished = run_inserts(&jobs, config)
            .map_err(|error| StatementError::at_start(&first, format!("the INSERT job failed: {error}")))?;
        let _ = writeln!(info, "{}", job_summary(finished.interrupted, finished.summary.records_read));
        Ok(())
    }

    fn command(
        &mut self,
        command: Command,
        statement: &StatementText,
        out: &mut dyn Write,
    ) -> Result<Flow, StatementError> {
        let error = |message: String| StatementError::at_start(statement, message);
        let write_error =
            |error: std::io::Error| StatementError::at_start(statement, format!("writing: {error}"));
        match command {
            // The session's own options (`sql.dead-letter-table`) go to the session.
            Command::Set { key, value } if key.starts_with("sql.") => {
                let set = format!("SET '{}' = '{}'", key.replace('\'', "''"), value.replace('\'', "''"));
                self.session.execute(&set).map_err(|e| error(e.to_string()))?;
                writeln!(out, "[INFO] {key} = '{value}'").map_err(write_error)?;
            }
            Command::Set { key, value } => {
                self.options.set(&key, &value).map_err(|e| error(e.to_string()))?;
                writeln!(out, "[INFO] {key} = '{value}'").map_err(write_error)?;
            }
            Command::ListOptions => {
                for (key, value) in self.options.list() {
                    writeln!(out, "'{key}' = '{value}'").map_err(write_error)?;
                }
            }
            Command::Reset(key) => {
                self.options.reset(key.as_deref()).map_err(|e| error(e.to_string()))?;
                writeln!(out, "[INFO] reset {}", key.as_deref().unwrap_or("all options"))
                    .map_err(write_error)?;
            }
            Command::Help => {
                write!(out, "{HELP}").map_err(write_error)?;
                for (key, meaning) in KEYS {
                    writeln!(out, "      '{key}': {meaning}").map_err(write_error)?;
                }
                writeln!(
                    out,
                    "      '{DEAD_LETTER_TABLE}': a table (query, operator, row, error STRING) for rows \
                     a job cannot process, instead of failing it"
                )
                .map_err(write_error)?;
                write!(out, "{HELP_END}").map_err(write_error)?;
            }
            Command::Quit => return Ok(Flow::Quit),
        }
        Ok(Flow::Continue)
    }

    fn outcome(
        &mut self,
        outcome: Outcome,
        statement: &StatementText,
        out: &mut dyn Write,
        info: &mut dyn Write,
    ) -> Result<(), StatementError> {
        let error = |message: String| StatementError::at_start(statement, message);
        let write_error =
            |error: std::io::Error| StatementError::at_start(statement, format!("writing: {error}"));
        let first_process = self.options.is_first_process();
        if let Outcome::Job(job) = &outcome {
            for warning in job.state_warnings() {
                let _ = writeln!(info, "[WARN] {warning}");
            }
        }
        match outcome {
            Outcome::Done { message } => {
                let _ = writeln!(info, "[INFO] {message}");
            }
            Outcome::Rows { columns, rows } if first_process => {
                write_table(out, &columns, &rows).map_err(write_error)?
            }
            Outcome::Explain(plan) if first_process => writeln!(out, "{plan}").map_err(write_error)?,
            // A query's result is printed by process 0 of a multi-process job only.
            Outcome::Rows { .. } | Outcome::Explain(_) => {}
            Outcome::Job(job) if job.target.is_some() => match self.inserts {
                Inserts::AtTheEnd => {
                    let _ = writeln!(
                        info,
                        "[INFO] INSERT INTO {}: runs with the other INSERT statements when the script ends",
                        job.target.as_deref().unwrap_or_default()
                    );
                    self.pending.push((statement.clone(), job));
                }
                Inserts::Immediately => {
                    let config = self.options.insert_config().map_err(|e| error(e.to_string()))?;
                    let finished = run_inserts(&[job], config).map_err(|e| error(job_failed(&e)))?;
                    let _ = writeln!(
                        info,
                        "{}",
                        job_summary(finished.interrupted, finished.summary.records_read)
                    );
                }
            },
            Outcome::Job(_) if !first_process => {}
            Outcome::Job(job) => {
                let config = self.options.query_config();
                if job.is_bounded() {
                    let (rows, interrupted) =
                        collect_query(&job, config).map_err(|e| error(job_failed(&e)))?;
                    if interrupted {
                        let _ = writeln!(info, "[INFO] query stopped before its input ended; no result");
                    } else {
                        write_table(out, &job.columns, &rows).map_err(write_error)?;
                    }
                } else {
                    let _ = writeln!(info, "[INFO] an unbounded query: its changes follow; Ctrl-C stops it");
                    let names: Vec<&str> = job.columns.iter().map(|column| column.name.as_str()).collect();
                    writeln!(out, "op[{}]", names.join(", ")).map_err(write_error)?;
                    let finished = stream_query(&job, config, out).map_err(|e| error(job_failed(&e)))?;
                    let _ = writeln!(
                        info,
                        "{}",
                        job_summary(finished.interrupted, finished.summary.records_read)
                    );
                }
            }
        }
        Ok(())
    }
}

/// A failed job's error for the user.
fn job_failed(error: &Error) -> String {
    format!("the job failed: {error}")
}

/// What a finished job says.
fn job_summary(interrupted: bool, records_read: u64) -> String {
    let how = if interrupted { "stopped by Ctrl-C" } else { "finished" };
    format!("[INFO] job {how}; {records_read} records read")
}

/// A session error, at the position its message names (sqlparser's `Line: L, Column: C`, the
/// binder's `line L, column C`), else at the end of the statement for an error at its end,
/// else at its start.
fn sql_error(statement: &StatementText, error: &SqlError) -> StatementError {
    let message = error.kind.to_string();
    if let Some((line, column)) = position_in(&message) {
        return StatementError { line, column, message };
    }
    if message.contains("found: EOF") {
        let (line, column) = end_of(statement);
        return StatementError { line, column, message };
    }
    StatementError::at_start(statement, message)
}

/// The first `line L, column C` (any case, colons allowed) in a message, if L is at least 1.
fn position_in(message: &str) -> Option<(usize, usize)> {
    let lower = message.to_ascii_lowercase();
    for (index, _) in lower.match_indices("line") {
        let Some((line, rest)) = number(&lower[index + "line".len()..]) else { continue };
        let Some(rest) = rest.trim_start().strip_prefix(',') else { continue };
        let Some(rest) = rest.trim_start().strip_prefix("column") else { continue };
        let Some((column, _)) = number(rest) else { continue };
        if line >= 1 && column >= 1 {
            return Some((line, column));
        }
    }
    None
}

/// An optional `:`, spaces and a number at the start of `text`, and the text after it.
fn number(text: &str) -> Option<(usize, &str)> {
    let text = text.strip_prefix(':').unwrap_or(text).trim_start();
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    Some((text[..digits].parse().ok()?, &text[digits..]))
}

/// The line and column just after a statement's last character.
fn end_of(statement: &StatementText) -> (usize, usize) {
    let mut line = statement.line;
    let mut column = statement.column;
    for c in statement.text.chars() {
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::options::tests::options;
    use crate::sql::split::split_file;

    fn client() -> SqlClient {
        SqlClient::new(options(&[]), Inserts::Immediately)
    }

    /// Runs a script, returning stdout, or the first error rendered.
    fn run(client: &mut SqlClient, sql: &str) -> Result<String, String> {
        let mut out = Vec::new();
        for statement in split_file(sql) {
            client
                .execute(&statement, &mut out, &mut std::io::sink())
                .map_err(|e| e.render(sql, Some("t.sql")))?;
        }
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn positions_in_messages() {
        assert_eq!(
            position_in("Expected: end of statement, found: FORM at Line: 3, Column: 10"),
            Some((3, 10))
        );
        assert_eq!(position_in("unknown column `x` at line 2, column 8; the input has a"), Some((2, 8)));
        assert_eq!(position_in("a deadline, column 3"), None);
        assert_eq!(position_in("at Line: 0, Column: 0"), None);
        let statement = StatementText { text: "SELECT\n  1 +".into(), line: 4, column: 3 };
        assert_eq!(end_of(&statement), (5, 6));
    }

    #[test]
    fn in_memory_tables_print_as_tables() {
        let mut client = client();
        let out = run(
            &mut client,
            "CREATE TABLE t (a INT, b STRING);\nINSERT INTO t VALUES (2, 'x'), (1, NULL);\nSELECT * FROM t ORDER BY a;",
        )
        .unwrap();
        assert_eq!(out, "+---+--------+\n| a |      b |\n+---+--------+\n| 1 | <NULL> |\n| 2 |      x |\n+---+--------+\n2 rows in set\n");
    }

    #[test]
    fn errors_point_at_the_token_in_the_file() {
        let mut client = client();
        // `FORM` is taken as an alias of `a`: the error is at `t`.
        let sql = "CREATE TABLE t (a INT);\n\nSELECT a\n  FORM t;";
        let error = run(&mut client, sql).unwrap_err();
        assert!(error.starts_with("t.sql:4:8: "), "{error}");
        assert!(error.ends_with("\n  4 |   FORM t;\n    |        ^"), "{error}");
        let error = run(&mut client, "SELECT b FROM t;").unwrap_err();
        assert!(error.starts_with("t.sql:1:8: ") && error.contains("unknown column"), "{error}");
        let error = run(&mut client, "SELECT a FROM t WHERE;").unwrap_err();
        assert!(error.starts_with("t.sql:1:22: "), "{error}");
        let error = run(&mut client, "SET 'nope' = '1';").unwrap_err();
        assert!(error.contains("unknown option 'nope'"), "{error}");
    }

    #[test]
    fn set_and_quit() {
        let mut client = client();
        let out = run(&mut client, "SET 'parallelism.default' = '3'; SET;").unwrap();
        assert!(out.contains("'parallelism.default' = '3'"), "{out}");
        assert_eq!(client.options().args().workers, 3);
        let quit = StatementText { text: "quit".into(), line: 1, column: 1 };
        assert_eq!(client.execute(&quit, &mut std::io::sink(), &mut std::io::sink()).unwrap(), Flow::Quit);
    }
}
