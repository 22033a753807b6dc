//! PostgreSQL through its `psql` client, so that no client crate enters the build: unaligned,
//! tuples-only output with control characters as field and record separators (the generated
//! strings never contain them) and a `NULL` marker no generated string equals.
//!
//! The server is `EDDY_TEST_PG` (`host:port`, user `postgres`, no password), or the private
//! cluster `scripts/postgres.sh start` starts (or finds running).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

const FIELD_SEPARATOR: char = '\u{1f}';
const RECORD_SEPARATOR: char = '\u{1e}';
const NULL_MARKER: &str = "\\N";

/// A PostgreSQL server reached through `psql`.
#[derive(Clone, Debug)]
pub struct Postgres {
    host: String,
    port: String,
}

/// A statement PostgreSQL refused: its message and SQLSTATE (`22003`: a data exception).
#[derive(Clone, Debug)]
pub struct PgError {
    /// The five-character SQLSTATE, or empty when psql printed none.
    pub sqlstate: String,
    /// psql's error output.
    pub message: String,
}

impl PgError {
    /// Whether this is a data exception (overflow, bad cast...), class `22`, which a correct
    /// engine raises too, rather than a statement PostgreSQL does not accept.
    pub fn is_data_exception(&self) -> bool {
        self.sqlstate.starts_with("22")
    }
}

impl Postgres {
    /// The test server: `EDDY_TEST_PG`, else the one `scripts/postgres.sh start` gives.
    /// Found once per test binary (its tests run in parallel threads).
    pub fn connect() -> Result<Postgres, String> {
        static SERVER: OnceLock<Result<Postgres, String>> = OnceLock::new();
        SERVER.get_or_init(Postgres::find).clone()
    }

    fn find() -> Result<Postgres, String> {
        let address = match std::env::var("EDDY_TEST_PG") {
            Ok(address) => address,
            Err(_) => {
                let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres.sh");
                let output = Command::new("bash")
                    .arg(script)
                    .arg("start")
                    .output()
                    .map_err(|error| format!("could not run scripts/postgres.sh: {error}"))?;
                if !output.status.success() {
                    return Err(format!(
                        "scripts/postgres.sh start failed: {}",
                        String::from_utf8_lossy(&output.stderr).trim()
                    ));
                }
                let stdout = String::from_utf8_lossy(&output.stdout);
                stdout.lines().last().unwrap_or_default().trim().to_owned()
            }
        };
        let (host, port) = address
            .rsplit_once(':')
            .ok_or_else(|| format!("EDDY_TEST_PG must be host:port, not {address:?}"))?;
        let postgres = Postgres { host: host.to_owned(), port: port.to_owned() };
        postgres
            .execute(None, "SELECT 1")
            .map_err(|error| format!("PostgreSQL at {address} does not answer: {}", error.message))?;
        Ok(postgres)
    }

    /// Runs `sql` (one or more statements) with `schema` first on the search path; returns
    /// psql's output.
    pub fn execute(&self, schema: Option<&str>, sql: &str) -> Result<String, PgError> {
        self.run(schema, sql, true)
    }

    /// Runs a psql script; `stop_on_error` makes any error fail the whole call.
    fn run(&self, schema: Option<&str>, sql: &str, stop_on_error: bool) -> Result<String, PgError> {
        let mut options = "-c DateStyle=ISO,YMD -c extra_float_digits=1 -c statement_timeout=20s".to_owned();
        if let Some(schema) = schema {
            options.push_str(&format!(" -c search_path={schema}"));
        }
        let mut child = Command::new("psql")
            .args(["-X", "-q", "-A", "-t", "-v", "VERBOSITY=verbose", "-v"])
            .arg(format!("ON_ERROR_STOP={}", u8::from(stop_on_error)))
            .arg("-F")
            .arg(FIELD_SEPARATOR.to_string())
            .arg("-R")
            .arg(RECORD_SEPARATOR.to_string())
            .arg("-P")
            .arg(format!("null={NULL_MARKER}"))
            .args(["-h", &self.host, "-p", &self.port, "-U", "postgres", "-d", "postgres"])
            .env("PGOPTIONS", options)
            .env("PGCONNECT_TIMEOUT", "10")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| PgError {
                sqlstate: String::new(),
                message: format!("could not run psql: {error}"),
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(sql.as_bytes());
        }
        let output = child
            .wait_with_output()
            .map_err(|error| PgError { sqlstate: String::new(), message: format!("psql failed: {error}") })?;
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        if !output.status.success() || (stop_on_error && stderr.contains("ERROR:")) {
            return Err(PgError { sqlstate: sqlstate(&stderr), message: stderr.trim().to_owned() });
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Runs one query and splits its rows into values (`None` for `NULL`).
    pub fn query(&self, schema: Option<&str>, sql: &str) -> Result<Vec<Vec<Option<String>>>, PgError> {
        let output = self.execute(schema, &format!("{sql};"))?;
        Ok(parse_rows(&output))
    }
}

/// Marks where a statement's output begins and ends in a batch's output.
const GROUP_SEPARATOR: char = '\u{1d}';

/// One statement's rows, or PostgreSQL's refusal.
pub type Answer = Result<Vec<Vec<Option<String>>>, PgError>;

impl Postgres {
    /// Runs `statements` in one `psql` session (a connection costs about as much as a small
    /// query) and returns each one's answer. psql goes on after an error; each statement is
    /// bracketed by `\echo` markers, and after it psql's `ERROR`, `SQLSTATE` and
    /// `LAST_ERROR_MESSAGE` variables tell whether it failed, all on standard output, in order.
    pub fn batch(&self, schema: Option<&str>, statements: &[String]) -> Result<Vec<Answer>, PgError> {
        let mut script = String::new();
        for (index, statement) in statements.iter().enumerate() {
            script.push_str(&format!("\\echo {GROUP_SEPARATOR}BEGIN {index}\n{statement};\n"));
            script.push_str(&format!(
                "\\echo {GROUP_SEPARATOR}END {index} :ERROR :SQLSTATE :LAST_ERROR_MESSAGE\n"
            ));
        }
        let output = self.run(schema, &script, false)?;
        let mut answers = Vec::new();
        let mut rows = Vec::new();
        for part in output.split(GROUP_SEPARATOR).skip(1) {
            let (header, body) = part.split_once('\n').unwrap_or((part, ""));
            if header.starts_with("BEGIN") {
                rows = parse_rows(body);
            } else if let Some(end) = header.strip_prefix("END ") {
                let mut fields = end.splitn(4, ' ');
                let _index = fields.next();
                let failed = fields.next() == Some("true");
                let sqlstate = fields.next().unwrap_or_default().to_owned();
                let message = fields.next().unwrap_or_default().to_owned();
                answers.push(match failed {
                    true => {
                        Err(PgError { sqlstate: sqlstate.clone(), message: format!("{sqlstate}: {message}") })
                    }
                    false => Ok(std::mem::take(&mut rows)),
                });
            }
        }
        if answers.len() != statements.len() {
            return Err(PgError {
                sqlstate: String::new(),
                message: format!(
                    "psql answered {} of {} statements: {output}",
                    answers.len(),
                    statements.len()
                ),
            });
        }
        Ok(answers)
    }
}

/// The SQLSTATE in psql's verbose error text (`ERROR:  22003: integer out of range`).
fn sqlstate(stderr: &str) -> String {
    stderr
        .split("ERROR:")
        .nth(1)
        .map(|rest| rest.trim_start().chars().take_while(|c| c.is_ascii_alphanumeric()).collect::<String>())
        .filter(|code| code.len() == 5)
        .unwrap_or_default()
}

/// Rows of psql's unaligned, tuples-only output. No output is no row; one empty line is one
/// row with one empty string.
fn parse_rows(output: &str) -> Vec<Vec<Option<String>>> {
    if output.is_empty() {
        return Vec::new();
    }
    let output = output.strip_suffix('\n').unwrap_or(output);
    output
        .split(RECORD_SEPARATOR)
        .map(|record| {
            record
                .split(FIELD_SEPARATOR)
                .map(|field| (field != NULL_MARKER).then(|| field.to_owned()))
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_splits_into_rows_and_nulls() {
        assert!(parse_rows("").is_empty());
        assert_eq!(parse_rows("\n"), vec![vec![Some(String::new())]]);
        let rows = parse_rows("1\u{1f}\\N\u{1e}2\u{1f}x\n");
        assert_eq!(rows, vec![vec![Some("1".into()), None], vec![Some("2".into()), Some("x".into())]]);
        assert_eq!(sqlstate("ERROR:  22003: integer out of range\n"), "22003");
        assert_eq!(sqlstate("psql: error: connection refused"), "");
    }
}
