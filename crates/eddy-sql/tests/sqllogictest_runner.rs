//! Tests of the sqllogictest runner itself (`tests/slt/`), on an engine with canned answers:
//! value printing in both styles, hashing, sort modes, value-wise comparison, `skipif` and
//! `onlyif`, failure classification, the baseline comparison, and the supervision of child
//! processes (with shell scripts standing in for children).

#[allow(dead_code)] // Each test target uses part of the shared runner.
mod slt;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use eddy_sql::decimal::Decimal;
use eddy_sql::plan::Column;
use eddy_sql::{Datum, Row, SqlType};

use slt::baseline::{self, BaselineEntry, Comparison, FileReport};
use slt::engine::{Engine, EngineError, EngineOutput, ErrorKind};
use slt::format::{format_value, leading_integer, leading_real, Style};
use slt::records::{self, FailClass, Outcome};
use slt::supervise::{outcome_line, supervise, Limits};

/// Answers each statement from a table; anything else is an unsupported feature.
#[derive(Clone, Default)]
struct Canned {
    answers: BTreeMap<String, Result<EngineOutput, EngineError>>,
}

impl Canned {
    fn rows(mut self, sql: &str, types: &[SqlType], rows: Vec<Vec<Datum>>) -> Canned {
        let columns =
            types.iter().enumerate().map(|(index, ty)| Column::new(format!("c{index}"), *ty)).collect();
        let rows = rows.into_iter().map(Row::new).collect();
        self.answers.insert(sql.to_owned(), Ok(EngineOutput::Rows { columns, rows }));
        self
    }

    fn done(mut self, sql: &str) -> Canned {
        self.answers.insert(sql.to_owned(), Ok(EngineOutput::Done { count: 0 }));
        self
    }

    fn error(mut self, sql: &str, message: &str) -> Canned {
        let error = EngineError { kind: ErrorKind::Other, message: message.to_owned() };
        self.answers.insert(sql.to_owned(), Err(error));
        self
    }
}

impl Engine for Canned {
    fn execute(&mut self, sql: &str) -> Result<EngineOutput, EngineError> {
        self.answers.get(sql.trim()).cloned().unwrap_or_else(|| {
            Err(EngineError {
                kind: ErrorKind::Unsupported,
                message: format!("unsupported: '{sql}' at line 3"),
            })
        })
    }
}

/// Runs `script` on `engine`; the outcome of each counted record, in order.
fn run(script: &str, engine: Canned, style: Style) -> Vec<Outcome> {
    let parsed = sqllogictest::parse(&records::normalize_script(script)).expect("the script parses");
    let mut outcomes = Vec::new();
    records::run_records(
        &parsed,
        move || engine.clone(),
        style,
        0,
        &BTreeSet::new(),
        |_| {},
        |_, outcome| outcomes.push(outcome),
    );
    outcomes
}

fn ints(values: &[i64]) -> Vec<Vec<Datum>> {
    values.iter().map(|value| vec![Datum::BigInt(*value)]).collect()
}

#[test]
fn sqlite_style_prints_by_the_expected_letter() {
    let style = Style::Sqlite;
    assert_eq!(format_value(&Datum::double(2.5), Some('R'), style), "2.500");
    assert_eq!(format_value(&Datum::Int(3), Some('R'), style), "3.000");
    assert_eq!(format_value(&Datum::double(-2.7), Some('I'), style), "-2");
    assert_eq!(format_value(&Datum::Decimal(Decimal::parse("7.9").unwrap()), Some('I'), style), "7");
    assert_eq!(format_value(&Datum::string("12abc"), Some('I'), style), "12");
    assert_eq!(format_value(&Datum::Boolean(true), Some('I'), style), "1");
    assert_eq!(format_value(&Datum::string(""), Some('T'), style), "(empty)");
    assert_eq!(format_value(&Datum::string("a\tb"), Some('T'), style), "a@b");
    assert_eq!(format_value(&Datum::Int(42), Some('T'), style), "42");
    assert_eq!(format_value(&Datum::Null, Some('I'), style), "NULL");
}

#[test]
fn plain_style_prints_by_the_value_type() {
    let style = Style::Plain;
    assert_eq!(format_value(&Datum::double(2.5), Some('R'), style), "2.5");
    assert_eq!(format_value(&Datum::double(3.0), None, style), "3");
    assert_eq!(format_value(&Datum::Boolean(false), Some('B'), style), "false");
    assert_eq!(format_value(&Datum::Decimal(Decimal::parse("2.50").unwrap()), None, style), "2.50");
    assert_eq!(format_value(&Datum::string(""), Some('T'), style), "(empty)");
    assert_eq!(format_value(&Datum::Null, None, style), "NULL");
}

#[test]
fn postgres_style_prints_booleans_as_letters() {
    assert_eq!(format_value(&Datum::Boolean(true), Some('B'), Style::Postgres), "t");
    assert_eq!(format_value(&Datum::Boolean(false), None, Style::Postgres), "f");
    assert_eq!(format_value(&Datum::double(18.0), Some('R'), Style::Postgres), "18");
    assert_eq!(Style::of_source("risingwave"), Style::Postgres);
    assert_eq!(Style::of_source("sqlite"), Style::Sqlite);
}

#[test]
fn leading_numbers_read_as_sqlite_reads_text() {
    assert_eq!(leading_integer("  42abc"), 42);
    assert_eq!(leading_integer("-7"), -7);
    assert_eq!(leading_integer("abc"), 0);
    assert_eq!(leading_real("2.5x"), 2.5);
    assert_eq!(leading_real("x"), 0.0);
}

#[test]
fn statements_queries_and_sort_modes() {
    let engine = Canned::default()
        .done("CREATE TABLE t(a INT)")
        .rows("SELECT a FROM t", &[SqlType::BigInt], ints(&[3, 1, 2]))
        .error("SELECT b FROM t", "column b not found");
    let script = "\
statement ok
CREATE TABLE t(a INT)

query I rowsort
SELECT a FROM t
----
1
2
3

query I nosort
SELECT a FROM t
----
1
2
3

statement error not found
SELECT b FROM t

query I
SELECT b FROM t
----
1
";
    let outcomes = run(script, engine, Style::Plain);
    assert_eq!(
        outcomes[..3],
        [
            Outcome::Pass,
            Outcome::Pass,
            Outcome::Fail { class: FailClass::Wrong, reason: "different rows".to_owned() }
        ][..]
    );
    assert_eq!(outcomes[3], Outcome::Pass);
    assert_eq!(
        outcomes[4],
        Outcome::Fail { class: FailClass::Error, reason: "column b not found".to_owned() }
    );
    assert_eq!(outcomes.len(), 5);
}

#[test]
fn sqlite_files_compare_value_wise_and_hash_over_the_threshold() {
    let engine = Canned::default()
        .rows(
            "SELECT a, b FROM t",
            &[SqlType::BigInt, SqlType::Double],
            vec![vec![Datum::BigInt(2), Datum::double(0.5)], vec![Datum::BigInt(1), Datum::Null]],
        )
        .rows("SELECT a FROM ten", &[SqlType::BigInt], ints(&[10, 9, 8, 7, 6, 5, 4, 3, 2, 1]));
    // Rows sort as printed text before flattening, as SQLite's runner sorts them.
    // No `hash-threshold` line: SQLite's default of 8 applies.
    let script = "\
query IR rowsort
SELECT a, b FROM t
----
1
NULL
2
0.500

query I valuesort
SELECT a FROM ten
----
10 values hashing to ff2650590d3f27ea6644b5573ccc37ba

query I valuesort
SELECT a FROM ten
----
10 values hashing to 00000000000000000000000000000000
";
    let outcomes = run(script, engine, Style::Sqlite);
    assert_eq!(outcomes[0], Outcome::Pass);
    // valuesort sorts the printed values as text ("1", "10", "2", ...) before hashing.
    assert_eq!(outcomes[1], Outcome::Pass);
    assert_eq!(outcomes[2], Outcome::Fail { class: FailClass::Wrong, reason: "different rows".to_owned() });
}

#[test]
fn hashes_match_sqlite_runner_hashes() {
    // md5 of "1\n2.500\nx\nNULL\n", the values in result order, as SQLite's runner hashes them.
    let engine = Canned::default().rows(
        "SELECT a, b, c, d FROM t",
        &[SqlType::BigInt, SqlType::Double, SqlType::Varchar { max_length: None }, SqlType::BigInt],
        vec![vec![Datum::BigInt(1), Datum::double(2.5), Datum::string("x"), Datum::Null]],
    );
    let script = "\
hash-threshold 3

query IRTI nosort
SELECT a, b, c, d FROM t
----
4 values hashing to 909550dd1853b2652696a81fee6bf51d
";
    assert_eq!(run(script, engine, Style::Sqlite), [Outcome::Pass]);
}

#[test]
fn conditions_use_the_eddy_label() {
    let engine = Canned::default().done("SELECT 1");
    let script = "\
onlyif sqlite # SQLite-only syntax
statement ok
SELECT 1

skipif mysql
statement ok
SELECT 1

skipif eddy
statement ok
SELECT 1

onlyif eddy
statement ok
SELECT 1
";
    assert_eq!(
        run(script, engine, Style::Sqlite),
        [Outcome::Skip, Outcome::Pass, Outcome::Skip, Outcome::Pass]
    );
}

#[test]
fn unsupported_features_are_their_own_class_with_a_grouping_reason() {
    let outcomes = run("statement ok\nCREATE INDEX i1 ON t(a)\n", Canned::default(), Style::Sqlite);
    assert_eq!(
        outcomes,
        [Outcome::Fail { class: FailClass::Unsupported, reason: "unsupported: … at line N".to_owned() }]
    );
    // An expected error is met by any error when the test gives no message.
    assert_eq!(run("statement error\nDROP t\n", Canned::default(), Style::Sqlite), [Outcome::Pass]);
}

#[test]
fn reason_keys_drop_particulars() {
    assert_eq!(
        records::reason_key("column \"x1\" not found at line 12, column 7\nmore"),
        "column … not found"
    );
    assert_eq!(records::reason_key("unsupported: 'IN ()'"), "unsupported: …");
    assert_eq!(records::reason_key("syntax error: found ) at Line: 1, Column: 30"), "syntax error: found )");
}

fn entry(records: usize, passed: usize, timed_out: usize) -> BaselineEntry {
    BaselineEntry { records, passed, timed_out }
}

#[test]
fn baseline_round_trips_and_compares() {
    let mut report = FileReport::default();
    report.add(&Outcome::Pass);
    report.add(&Outcome::Skip);
    report.add(&Outcome::Fail { class: FailClass::Unsupported, reason: "x".to_owned() });
    let reports = BTreeMap::from([("a.slt".to_owned(), report.clone())]);
    let written = baseline::write_baseline(&reports);
    let parsed = baseline::parse_baseline(&written).unwrap();
    assert_eq!(parsed, BTreeMap::from([("a.slt".to_owned(), entry(3, 1, 0))]));
    assert_eq!(baseline::compare(&reports, &parsed), Comparison::default());

    let higher = BTreeMap::from([("a.slt".to_owned(), entry(3, 2, 0))]);
    let comparison = baseline::compare(&reports, &higher);
    assert_eq!((comparison.regressions.len(), comparison.stale.len()), (1, 0));

    let lower =
        BTreeMap::from([("a.slt".to_owned(), entry(3, 0, 0)), ("gone.slt".to_owned(), entry(1, 0, 0))]);
    let comparison = baseline::compare(&reports, &lower);
    assert_eq!((comparison.regressions.len(), comparison.stale.len()), (0, 2));

    let fewer_records = BTreeMap::from([("a.slt".to_owned(), entry(2, 1, 0))]);
    assert_eq!(baseline::compare(&reports, &fewer_records).stale.len(), 1);

    assert!(baseline::parse_baseline("a.slt\t3\t1\n").is_err());
    assert!(baseline::parse_baseline("a.slt\tthree\t1\t0\n").is_err());
}

#[test]
fn timeouts_move_pass_counts_without_failing_the_comparison() {
    // The baseline's run passed 2 and timed out on 1; this run times out on both.
    let mut slower = FileReport::default();
    slower.add(&Outcome::Fail { class: FailClass::TimedOut, reason: "timed out after 20 s".to_owned() });
    slower.add(&Outcome::Fail { class: FailClass::TimedOut, reason: "not run".to_owned() });
    slower.add(&Outcome::Pass);
    slower.add(&Outcome::Fail { class: FailClass::Wrong, reason: "different rows".to_owned() });
    let reports = BTreeMap::from([("a.slt".to_owned(), slower)]);
    let comparison = baseline::compare(&reports, &BTreeMap::from([("a.slt".to_owned(), entry(4, 2, 1))]));
    assert!(comparison.regressions.is_empty() && comparison.stale.is_empty());
    assert_eq!(comparison.notes.len(), 1);
    // Losing more than the timeouts explain is a regression.
    let comparison = baseline::compare(&reports, &BTreeMap::from([("a.slt".to_owned(), entry(4, 4, 0))]));
    assert_eq!(comparison.regressions.len(), 1);
    // Passing more than the baseline's timeouts explain makes it stale.
    let mut faster = FileReport::default();
    for _ in 0..4 {
        faster.add(&Outcome::Pass);
    }
    let reports = BTreeMap::from([("a.slt".to_owned(), faster)]);
    let comparison = baseline::compare(&reports, &BTreeMap::from([("a.slt".to_owned(), entry(4, 2, 1))]));
    assert_eq!(comparison.stale.len(), 1);
}

#[test]
fn readme_section_is_replaced_in_place() {
    let mut report = FileReport::default();
    report.add(&Outcome::Fail { class: FailClass::Unsupported, reason: "CREATE INDEX".to_owned() });
    let section = baseline::results_section(&BTreeMap::from([("a.slt".to_owned(), report)]));
    assert!(section.contains("| a.slt | 1 | 0 | 1 | 0 | 0 | 0 | 0 | 0 |"));
    assert!(section.contains("* 1: CREATE INDEX"));
    let readme = format!("# title\n\nintro\n{section}\n## after\n");
    let replaced = baseline::replace_section(&readme, &section);
    assert_eq!(replaced, readme);
    let appended = baseline::replace_section("# title\n", &section);
    assert_eq!(baseline::replace_section(&appended, &section), appended);
}

/// A stand-in child: a shell script that speaks the child protocol.
fn script_child(script: &str) -> std::io::Result<std::process::Child> {
    std::process::Command::new("sh")
        .args(["-c", script])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
}

fn limits(max_restarts: usize) -> Limits {
    Limits { record_timeout: Duration::from_millis(500), max_restarts }
}

fn timed_out() -> Outcome {
    Outcome::Fail { class: FailClass::TimedOut, reason: "timed out after 0.5 s".to_owned() }
}

#[test]
fn a_hanging_record_times_out_and_the_file_goes_on_after_it() {
    let mut spawned = Vec::new();
    let outcomes = supervise(
        &[0, 2, 3],
        limits(3),
        |resume, skip| {
            spawned.push((resume, skip.clone()));
            match resume {
                0 => script_child("echo START 0; echo PASS 0; echo START 2; exec sleep 30"),
                _ => script_child("echo START 3; echo 'FAIL 3 wrong different rows'; echo END"),
            }
        },
        |_, _| {},
    )
    .unwrap();
    assert_eq!(spawned, [(0, BTreeSet::new()), (3, BTreeSet::from([2]))]);
    assert_eq!(
        outcomes,
        BTreeMap::from([
            (0, Outcome::Pass),
            (2, timed_out()),
            (3, Outcome::Fail { class: FailClass::Wrong, reason: "different rows".to_owned() }),
        ])
    );
}

#[test]
fn a_dying_child_fails_its_record_or_the_next_unreported_one() {
    let mut children = 0;
    let outcomes = supervise(
        &[0, 1, 2],
        limits(3),
        |resume, _| {
            children += 1;
            match resume {
                // Dies while record 0 runs.
                0 => script_child("echo START 0; exit 1"),
                // Dies between records: record 1 takes the blame.
                1 => script_child("exit 1"),
                _ => script_child("echo START 2; echo SKIP 2; echo END"),
            }
        },
        |_, _| {},
    )
    .unwrap();
    assert_eq!(children, 3);
    let crashed = Outcome::Fail {
        class: FailClass::Crashed,
        reason: "the process died (memory limit or abort)".to_owned(),
    };
    assert_eq!(outcomes, BTreeMap::from([(0, crashed.clone()), (1, crashed), (2, Outcome::Skip)]));
}

#[test]
fn a_file_that_keeps_hanging_is_given_up() {
    let mut seen = Vec::new();
    let outcomes = supervise(
        &[0, 1, 2, 3],
        limits(2),
        |resume, _| script_child(&format!("echo START {resume}; exec sleep 30")),
        |index, outcome| seen.push((index, outcome.clone())),
    )
    .unwrap();
    let not_run = Outcome::Fail {
        class: FailClass::TimedOut,
        reason: "not run: the file timed out or crashed 2 times".to_owned(),
    };
    let expected = BTreeMap::from([(0, timed_out()), (1, timed_out()), (2, not_run.clone()), (3, not_run)]);
    assert_eq!(outcomes, expected);
    assert_eq!(seen, expected.into_iter().collect::<Vec<_>>());
}

#[test]
fn outcome_lines_round_trip_through_a_child() {
    let lines = [
        outcome_line(0, &Outcome::Pass),
        outcome_line(1, &Outcome::Skip),
        outcome_line(
            2,
            &Outcome::Fail { class: FailClass::Unsupported, reason: "not supported: X".to_owned() },
        ),
    ];
    let script = format!("echo START 0; {}; echo END", lines.map(|line| format!("echo '{line}'")).join("; "));
    let outcomes = supervise(&[0, 1, 2], limits(1), |_, _| script_child(&script), |_, _| {}).unwrap();
    assert_eq!(
        outcomes,
        BTreeMap::from([
            (0, Outcome::Pass),
            (1, Outcome::Skip),
            (2, Outcome::Fail { class: FailClass::Unsupported, reason: "not supported: X".to_owned() }),
        ])
    );
}
