//! Runs one sqllogictest file record by record and reports each counted record's outcome.
//!
//! Counted records are `statement` and `query` records; a record skipped by `skipif`/`onlyif`
//! is reported as skipped, not passed. The engine's label for those conditions is
//! [`ENGINE_LABEL`] (`eddy`): eddy is neither `sqlite`, `postgresql`, `mysql` nor `mssql`, so
//! `onlyif <other engine>` records are skipped and `skipif <other engine>` records run.
//!
//! SQLite's files print one value per line; their records run with `control resultmode
//! valuewise` in force from the start, which is what SQLite's own runner compares, and with
//! its default `hash-threshold` of 8.

use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::{Arc, Mutex};

use sqllogictest::{DefaultColumnType, QueryExpect, Record, RecordOutput, TestError, TestErrorKind};

use super::engine::{Engine, EngineError, ErrorKind, ExpectedTypes, SltDb};
use super::format::Style;

/// The label eddy answers to in `skipif` and `onlyif`.
pub const ENGINE_LABEL: &str = "eddy";

/// The hash threshold SQLite's runner starts with (`DEFAULT_HASH_THRESHOLD`).
pub const SQLITE_HASH_THRESHOLD: usize = 8;

/// A parsed record.
pub type SltRecord = Record<DefaultColumnType>;

/// Why a counted record failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FailClass {
    /// The engine said the statement uses a feature it does not have.
    Unsupported,
    /// The engine failed with any other error where the test expected success.
    Error,
    /// The engine answered, and the answer differs from the expected one (rows, row count,
    /// success where an error was expected, another error message).
    Wrong,
    /// The record panicked or killed the process running it (the memory limit).
    Crashed,
    /// The record ran out of time, or was not run because its file had timed out or crashed
    /// too often. Unlike the other classes this depends on the machine's speed, and the
    /// baseline comparison allows for it.
    TimedOut,
}

impl FailClass {
    /// The word used in reports and in the child protocol.
    pub fn word(self) -> &'static str {
        match self {
            FailClass::Unsupported => "unsupported",
            FailClass::Error => "error",
            FailClass::Wrong => "wrong",
            FailClass::Crashed => "crashed",
            FailClass::TimedOut => "timeout",
        }
    }

    /// The class named by [`FailClass::word`].
    pub fn from_word(word: &str) -> Option<FailClass> {
        [FailClass::Unsupported, FailClass::Error, FailClass::Wrong, FailClass::Crashed, FailClass::TimedOut]
            .into_iter()
            .find(|class| class.word() == word)
    }
}

/// The outcome of one counted record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It ran and matched.
    Pass,
    /// A condition (`skipif`, `onlyif`) excluded it.
    Skip,
    /// It failed.
    Fail {
        /// Which kind of failure.
        class: FailClass,
        /// A short reason with the statement's particulars (literals, names, positions)
        /// removed, so that equal causes group together in reports.
        reason: String,
    },
}

/// Parses a file. `include` records are not followed (no corpus file uses them).
pub fn parse_file(path: &Path) -> Result<Vec<SltRecord>, String> {
    let text =
        std::fs::read_to_string(path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    sqllogictest::parse_with_name(&normalize_script(&text), path.to_string_lossy().as_ref())
        .map_err(|error| error.to_string())
}

/// SQLite's runner allows a comment after a condition (`onlyif sqlite # empty RHS`); the
/// `sqllogictest` crate's parser does not, so such comments are cut. Lines keep their numbers.
pub fn normalize_script(text: &str) -> String {
    let mut normalized = String::with_capacity(text.len());
    for line in text.lines() {
        let is_condition = line.starts_with("skipif ") || line.starts_with("onlyif ");
        match line.find('#') {
            Some(at) if is_condition => normalized.push_str(line[..at].trim_end()),
            _ => normalized.push_str(line),
        }
        normalized.push('\n');
    }
    normalized
}

/// Whether a record is counted (a `statement` or a `query`).
pub fn is_counted(record: &SltRecord) -> bool {
    matches!(record, Record::Statement { .. } | Record::Query { .. })
}

/// The line of a record in its file, for reports.
pub fn line_of(record: &SltRecord) -> u32 {
    match record {
        Record::Statement { loc, .. } | Record::Query { loc, .. } => loc.line(),
        _ => 0,
    }
}

/// Runs `records` (all of one file) on a fresh engine from `make_engine`.
///
/// Records before index `resume` replay the file's state only: their statements run silently
/// and their queries are not run. Records whose index is in `skip` (they hung or crashed an
/// earlier attempt) do not run at all. `on_start(index)` is called before a counted record at
/// or after `resume` runs, `on_outcome(index, outcome)` after it.
pub fn run_records<E: Engine + Send + 'static>(
    records: &[SltRecord],
    make_engine: impl Fn() -> E,
    style: Style,
    resume: usize,
    skip: &BTreeSet<usize>,
    mut on_start: impl FnMut(usize),
    mut on_outcome: impl FnMut(usize, Outcome),
) {
    let expected: ExpectedTypes = Arc::new(Mutex::new(Vec::new()));
    let db_expected = expected.clone();
    let mut runner = sqllogictest::Runner::new(move || {
        let db = SltDb::new(make_engine(), style, db_expected.clone());
        std::future::ready(Ok::<_, EngineError>(db))
    });
    runner.add_label(ENGINE_LABEL);
    if style == Style::Sqlite {
        // SQLite's runner hashes results of more than 8 values unless a file says otherwise.
        runner.with_hash_threshold(SQLITE_HASH_THRESHOLD);
        if let Ok(controls) = sqllogictest::parse::<DefaultColumnType>("control resultmode valuewise\n") {
            for control in controls {
                // A control record cannot fail.
                let _ = runner.run(control);
            }
        }
    }
    for (index, record) in records.iter().enumerate() {
        if skip.contains(&index) {
            continue;
        }
        if let Record::Query { expected: QueryExpect::Results { types, .. }, .. } = record {
            if let Ok(mut letters) = expected.lock() {
                *letters = types.iter().map(sqllogictest::ColumnType::to_char).collect();
            }
        }
        let counted = is_counted(record);
        if index < resume {
            if !matches!(record, Record::Query { .. }) {
                let _ = runner.run(record.clone());
            }
            continue;
        }
        if counted {
            on_start(index);
        }
        // A panic in the engine is a bug; it fails its record and the file goes on.
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| runner.run(record.clone())));
        if counted {
            let outcome = match result {
                Ok(Ok(RecordOutput::Nothing)) => Outcome::Skip,
                Ok(Ok(_)) => Outcome::Pass,
                Ok(Err(error)) => {
                    if std::env::var_os("EDDY_SLT_VERBOSE").is_some() {
                        eprintln!("{error}");
                    }
                    let (class, reason) = classify(&error);
                    Outcome::Fail { class, reason }
                }
                Err(payload) => {
                    let message = payload
                        .downcast_ref::<&str>()
                        .map(|text| text.to_string())
                        .or_else(|| payload.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    Outcome::Fail {
                        class: FailClass::Crashed,
                        reason: format!("panic: {}", reason_key(&message)),
                    }
                }
            };
            on_outcome(index, outcome);
        }
    }
}

/// The class and the grouping reason of a failed record.
pub fn classify(error: &TestError) -> (FailClass, String) {
    let engine_error = |error: &Arc<dyn std::error::Error + Send + Sync>| -> (FailClass, String) {
        match error.downcast_ref::<EngineError>() {
            Some(engine) if engine.kind == ErrorKind::Unsupported => {
                (FailClass::Unsupported, reason_key(&engine.message))
            }
            Some(engine) => (FailClass::Error, reason_key(&engine.message)),
            None => (FailClass::Error, reason_key(&error.to_string())),
        }
    };
    match error.kind() {
        TestErrorKind::Fail { err, .. } => engine_error(&err),
        TestErrorKind::ErrorMismatch { err, .. } => match engine_error(&err) {
            (FailClass::Unsupported, reason) => (FailClass::Unsupported, reason),
            _ => (FailClass::Wrong, "a different error message than expected".to_owned()),
        },
        TestErrorKind::QueryResultMismatch { .. } => (FailClass::Wrong, "different rows".to_owned()),
        TestErrorKind::QueryResultColumnsMismatch { .. } => {
            (FailClass::Wrong, "different column types".to_owned())
        }
        TestErrorKind::StatementResultMismatch { .. } => {
            (FailClass::Wrong, "a different affected-row count".to_owned())
        }
        TestErrorKind::Ok { .. } => (FailClass::Wrong, "success where an error was expected".to_owned()),
        other => (FailClass::Error, reason_key(&other.to_string())),
    }
}

/// The longest reason kept.
const MAX_REASON_CHARS: usize = 120;

/// An error message with its particulars removed: the first line, quoted parts replaced by
/// `…`, numbers by `N`, positions dropped, trimmed to [`MAX_REASON_CHARS`] characters.
pub fn reason_key(message: &str) -> String {
    let first_line = message.lines().next().unwrap_or_default();
    let mut key = String::new();
    let mut quote: Option<char> = None;
    let mut previous_digit = false;
    for c in first_line.chars() {
        match quote {
            Some(open) => {
                if c == open {
                    quote = None;
                }
                continue;
            }
            None if matches!(c, '\'' | '"' | '`') => {
                quote = Some(c);
                key.push('…');
                previous_digit = false;
                continue;
            }
            None => {}
        }
        if c.is_ascii_digit() {
            if !previous_digit {
                key.push('N');
            }
            previous_digit = true;
        } else {
            previous_digit = false;
            key.push(c);
        }
    }
    let mut key = key.split_whitespace().collect::<Vec<_>>().join(" ");
    for position in [" at line N, column N", " at Line: N, Column: N", " (at line N, column N)"] {
        key = key.replace(position, "");
    }
    key.chars().take(MAX_REASON_CHARS).collect()
}
