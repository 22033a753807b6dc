//! File connectors end to end: bad input lines (failing with file and line, or dead-lettered),
//! determinism (the same job run twice and at different worker counts writes identical sorted
//! output), input files that change between a savepoint and its restore (renamed: followed;
//! truncated or changed: a clear error), and input that would otherwise be dropped silently
//! (symbolic links, a directory without input, a CSV file without a header).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use eddy_connectors::{BadRecords, CollectSink, FileSink, FileSource};
use eddy_core::prelude::*;
use eddy_testkit::output::committed;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Reading {
    sensor: String,
    ts: u64,
    value: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Total {
    sensor: String,
    count: u64,
    total: i64,
}

fn strategy() -> WatermarkStrategy<Reading> {
    WatermarkStrategy::bounded_out_of_orderness(5)
        .with_timestamps(|reading: &Reading| reading.ts)
        .with_emit_every(2)
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn bad_csv_line_fails_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in/readings.csv");
    write(&input, "sensor,ts,value\ns1,1,10\ns2,2,oops\ns1,3,30\n");
    let out = dir.path().join("out");
    let (input_path, out_path) = (input.clone(), out.clone());
    let error = Job::new(JobConfig::with_workers(2))
        .run(move |env| {
            env.from_source(FileSource::<Reading>::csv(&input_path), strategy())
                .sink(FileSink::json_lines(&out_path));
            Ok(())
        })
        .unwrap_err();
    let message = error.to_string();
    assert!(message.starts_with(&format!("{}:3: ", input.display())), "{message}");
    assert!(message.contains("field 3"), "{message}");
    assert!(matches!(error, Error::BadRecord { line: 3, .. }));
    // Nothing is committed by a failed job, and what was written is whole lines.
    assert!(!out.join("part-0.jsonl").exists());
    assert!(!out.join("part-1.jsonl").exists());
    for entry in std::fs::read_dir(&out).into_iter().flatten() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(text.is_empty() || text.ends_with('\n'), "no half-written record: {text:?}");
        for line in text.lines() {
            serde_json::from_str::<Reading>(line).unwrap();
        }
    }
}

#[test]
fn bad_json_line_fails_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("readings.jsonl");
    write(&input, "{\"sensor\":\"s1\",\"ts\":1,\"value\":1}\n\n{\"sensor\":\"s1\",\"ts\":2}\n");
    let path = input.clone();
    let error = Job::new(JobConfig::default())
        .run(move |env| {
            env.from_source(FileSource::<Reading>::json_lines(&path), strategy()).sink(CollectSink::new().0);
            Ok(())
        })
        .unwrap_err();
    let message = error.to_string();
    assert!(message.starts_with(&format!("{}:3: missing field `value`", input.display())), "{message}");
}

#[test]
fn missing_input_is_a_clear_error() {
    let error = Job::new(JobConfig::default())
        .run(|env| {
            env.from_source(FileSource::<Reading>::csv("/nonexistent/eddy/input.csv"), strategy())
                .sink(CollectSink::new().0);
            Ok(())
        })
        .unwrap_err();
    assert!(error.to_string().contains("/nonexistent/eddy/input.csv"), "{error}");
    assert!(error.is_retryable());
}

#[test]
fn bad_lines_go_to_dead_letters_when_skipping() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("readings.csv");
    write(&input, "sensor,ts,value\ns1,1,10\ns2,2,oops\ns1,3\ns1,4,40\n");
    let (good, good_handle) = CollectSink::new();
    let (dead, dead_handle) = CollectSink::new();
    let path = input.clone();
    let summary = Job::new(JobConfig::with_workers(2))
        .run(move |env| {
            let readings = env.from_source(
                FileSource::<Reading>::csv(&path).on_bad_records(BadRecords::DeadLetter),
                strategy(),
            );
            readings.side_output(&DEAD_LETTERS).sink(dead.clone());
            readings.sink(good.clone());
            Ok(())
        })
        .unwrap();
    assert_eq!(summary.dead_letters, 2);
    assert_eq!(summary.records_read, 2);
    let mut good = good_handle.values();
    good.sort_by_key(|reading| reading.ts);
    assert_eq!(good.iter().map(|reading| reading.value).collect::<Vec<_>>(), vec![10, 40]);
    let mut dead = dead_handle.values();
    dead.sort_by_key(|letter| letter.line);
    assert_eq!(dead.len(), 2);
    assert_eq!((dead[0].line, dead[0].raw.as_str()), (3, "s2,2,oops"));
    assert!(dead[0].reason.contains("field 3"), "{}", dead[0].reason);
    assert_eq!(dead[1].line, 4);
    assert!(dead[1].reason.contains("expected 3 fields, found 2"), "{}", dead[1].reason);
    assert_eq!(dead[0].split, input.display().to_string());
}

/// Per-sensor running totals over a directory of files, written as CSV part files.
fn totals_job(input: &Path, out: &Path, workers: usize) -> Vec<String> {
    let (input, out_dir) = (input.to_path_buf(), out.to_path_buf());
    Job::new(JobConfig::with_workers(workers))
        .run(move |env| {
            env.from_source(FileSource::<Reading>::csv(&input), strategy())
                .filter(|reading| reading.value >= 0)
                .map(|reading| Total { sensor: reading.sensor, count: 1, total: reading.value })
                .key_by(|total: &Total| total.sensor.clone())
                .reduce(|left, right| Total {
                    sensor: left.sensor.clone(),
                    count: left.count + right.count,
                    total: left.total + right.total,
                })
                .sink(FileSink::csv(&out_dir));
            Ok(())
        })
        .unwrap();
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(out).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("part-") && name.ends_with(".csv"), "only committed part files: {name}");
        let text = std::fs::read_to_string(&path).unwrap();
        let mut file_lines = text.lines();
        if let Some(header) = file_lines.next() {
            assert_eq!(header, "sensor,count,total");
        }
        lines.extend(file_lines.map(str::to_owned));
    }
    lines.sort();
    lines
}

#[test]
fn same_output_every_run_and_worker_count() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let mut ts = 0;
    for file in 0..5 {
        let mut text = String::from("sensor,ts,value\n");
        for row in 0..60u64 {
            ts += 1;
            // Out of order within each file, with repeated event times across files.
            let event_time = ts / 2 + (row * 7) % 11;
            text.push_str(&format!(
                "s{},{},{}\n",
                (row * 13 + file) % 6,
                event_time,
                (row as i64 * 31) % 50 - 5
            ));
        }
        write(&input.join(format!("readings-{file}.csv")), &text);
    }
    write(&input.join(".hidden.csv"), "not,a,csv\n");
    let first = totals_job(&input, &dir.path().join("run-1"), 1);
    // One running total per non-negative reading.
    assert_eq!(first.len(), 5 * 60 - count_negative(&input));
    for (run, workers) in [(2, 1), (3, 2), (4, 3), (5, 4)] {
        let again = totals_job(&input, &dir.path().join(format!("run-{run}")), workers);
        assert_eq!(again, first, "{workers} workers");
    }
}

fn count_negative(input: &Path) -> usize {
    std::fs::read_dir(input)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| !path.file_name().unwrap().to_string_lossy().starts_with('.'))
        .map(|path| {
            std::fs::read_to_string(path).unwrap().lines().skip(1).filter(|line| line.contains(",-")).count()
        })
        .sum()
}

/// `n` CSV rows with a header; row `i` has value `first + i`.
fn csv_rows(first: i64, n: i64) -> String {
    let mut text = String::from("sensor,ts,value\n");
    for value in first..first + n {
        text.push_str(&format!("s{},{},{value}\n", value % 3, value));
    }
    text
}

/// The source of the savepoint tests: every CSV file in `input`, paced, written as JSON lines.
fn paced_job(
    input: &Path,
    out: &Path,
    rate: Option<u64>,
) -> impl Fn(&mut Env<'_>) -> Result<()> + Send + Sync + 'static {
    let (input, out) = (input.to_path_buf(), out.to_path_buf());
    move |env| {
        let mut source = FileSource::<Reading>::csv(&input).with_extension("csv");
        if let Some(rate) = rate {
            source = source.with_max_rate(rate);
        }
        env.from_source(
            source,
            WatermarkStrategy::bounded_out_of_orderness(5)
                .with_timestamps(|reading: &Reading| reading.ts)
                .with_emit_every(16),
        )
        .uid("readings")
        .sink(FileSink::json_lines(&out));
        Ok(())
    }
}

/// Runs the paced job over `root/in` until a stop-with-savepoint into `root/sp`.
fn run_until_savepoint(root: &Path, rate: u64, delay: Duration) {
    let job = Job::new(JobConfig {
        checkpoint: Some(CheckpointConfig {
            interval: None,
            ..CheckpointConfig::new(root.join("chk"), Duration::ZERO)
        }),
        ..JobConfig::with_workers(2)
    });
    let control = job.control();
    let target = root.join("sp");
    let requester = std::thread::spawn(move || {
        std::thread::sleep(delay);
        control.request(ControlRequest::Savepoint { target: Some(target), stop: true })
    });
    let summary = job.run(paced_job(&root.join("in"), &root.join("out"), Some(rate))).unwrap();
    let response = requester.join().unwrap().unwrap();
    assert!(response.ok, "{response:?}");
    assert!(summary.stopped_with_savepoint);
}

/// Restores the paced job (unpaced) from `root/sp`.
fn restore_from_savepoint(root: &Path, workers: usize) -> Result<JobSummary> {
    let restore = CheckpointConfig::new(root.join("chk"), Duration::from_millis(20))
        .restore(RestoreFrom::Path(root.join("sp")));
    Job::new(JobConfig { checkpoint: Some(restore), ..JobConfig::with_workers(workers) }).run(paced_job(
        &root.join("in"),
        &root.join("out"),
        None,
    ))
}

/// How often each value was committed to `out`.
fn committed_values(out: &Path) -> BTreeMap<i64, usize> {
    let mut values = BTreeMap::new();
    for (line, count) in committed(out) {
        *values.entry(serde_json::from_str::<Reading>(&line).unwrap().value).or_insert(0) += count;
    }
    values
}

fn assert_each_once(values: &BTreeMap<i64, usize>, expected: impl Iterator<Item = i64>) {
    let expected: Vec<i64> = expected.collect();
    let duplicated: Vec<_> = values.iter().filter(|(_, &count)| count > 1).take(5).collect();
    let missing: Vec<_> = expected.iter().filter(|value| !values.contains_key(value)).take(5).collect();
    assert!(
        duplicated.is_empty() && missing.is_empty() && values.len() == expected.len(),
        "duplicated {duplicated:?}, missing {missing:?}: {} distinct values, {} expected",
        values.len(),
        expected.len()
    );
}

/// A file finished before the savepoint (`a.csv`) and one read half-way (`b.csv`); both are
/// renamed before the restore, which follows the renames instead of reading them again.
#[test]
fn renamed_input_files_are_followed_after_restore() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(&root.join("in/a.csv"), &csv_rows(0, 10));
    write(&root.join("in/b.csv"), &csv_rows(1_000, 800));
    run_until_savepoint(root, 2_000, Duration::from_millis(150));
    let before = committed_values(&root.join("out"));
    assert!(before.len() < 810, "stopped before the end");
    std::fs::rename(root.join("in/a.csv"), root.join("in/a-renamed.csv")).unwrap();
    std::fs::rename(root.join("in/b.csv"), root.join("in/b-renamed.csv")).unwrap();
    restore_from_savepoint(root, 3).unwrap();
    assert_each_once(&committed_values(&root.join("out")), (0..10).chain(1_000..1_800));
}

/// A file truncated below the position the savepoint consumed fails the restore, naming the
/// file, both sizes and the savepoint.
#[test]
fn truncated_input_file_fails_the_restore_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let input = root.join("in/b.csv");
    write(&input, &csv_rows(0, 800));
    run_until_savepoint(root, 1_000, Duration::from_millis(150));
    write(&input, &csv_rows(0, 3));
    let error = restore_from_savepoint(root, 2).unwrap_err();
    let message = error.to_string();
    assert!(message.contains(&input.display().to_string()), "{message}");
    assert!(message.contains("truncated") && message.contains("now 37 bytes"), "{message}");
    assert!(message.contains(&root.join("sp").display().to_string()), "{message}");
    assert!(!error.is_retryable(), "{error:?}");
}

/// A file whose consumed part changed (same size) fails the restore, saying so.
#[test]
fn changed_input_file_fails_the_restore_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let input = root.join("in/b.csv");
    write(&input, &csv_rows(0, 800));
    run_until_savepoint(root, 1_000, Duration::from_millis(150));
    write(&input, &csv_rows(0, 800).replacen("s1,1,1\n", "s1,1,7\n", 1));
    let error = restore_from_savepoint(root, 2).unwrap_err();
    let message = error.to_string();
    assert!(message.contains(&input.display().to_string()), "{message}");
    assert!(message.contains("content changed"), "{message}");
    assert!(!error.is_retryable(), "{error:?}");
}

fn read_all(source: FileSource<Reading>) -> Result<Vec<Reading>> {
    let (sink, handle) = CollectSink::new();
    Job::new(JobConfig::with_workers(2)).run(move |env| {
        env.from_source(source.clone(), strategy()).sink(sink.clone());
        Ok(())
    })?;
    let mut values = handle.values();
    values.sort_by_key(|reading| reading.value);
    Ok(values)
}

#[cfg(unix)]
#[test]
fn symbolic_links_in_an_input_directory_are_followed() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("elsewhere/real.csv"), &csv_rows(0, 4));
    write(&dir.path().join("in/plain.csv"), &csv_rows(10, 2));
    std::os::unix::fs::symlink(dir.path().join("elsewhere/real.csv"), dir.path().join("in/linked.csv"))
        .unwrap();
    let values = read_all(FileSource::csv(dir.path().join("in"))).unwrap();
    assert_eq!(values.iter().map(|reading| reading.value).collect::<Vec<_>>(), vec![0, 1, 2, 3, 10, 11]);
    // A link to nothing is an error naming it, not a file silently skipped.
    std::os::unix::fs::symlink(dir.path().join("gone.csv"), dir.path().join("in/dangling.csv")).unwrap();
    let message = read_all(FileSource::csv(dir.path().join("in"))).unwrap_err().to_string();
    assert!(message.contains("dangling.csv") && message.contains("gone.csv"), "{message}");
}

#[test]
fn a_directory_without_input_is_an_error_unless_optional() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    write(&input.join("notes.txt"), "not input\n");
    write(&input.join(".hidden.csv"), &csv_rows(0, 2));
    let error = read_all(FileSource::csv(&input).with_extension("csv")).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, Error::Config(_)), "{error:?}");
    assert!(message.contains(&input.display().to_string()) && message.contains(".csv"), "{message}");
    assert!(read_all(FileSource::csv(&input).with_extension("csv").optional(true)).unwrap().is_empty());
    assert!(read_all(FileSource::csv(dir.path().join("missing")).optional(true)).unwrap().is_empty());
}

#[test]
fn a_csv_file_without_header_reads_its_rows_or_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("one.csv");
    write(&input, "s1,5,50\n");
    // Read as a header, the row names none of the fields: a clear error, not zero records.
    let error = read_all(FileSource::csv(&input)).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, Error::BadRecord { line: 1, .. }), "{error:?}");
    assert!(message.contains("has_header(false)"), "{message}");
    let values = read_all(FileSource::csv(&input).has_header(false)).unwrap();
    assert_eq!(values, vec![Reading { sensor: "s1".into(), ts: 5, value: 50 }]);
    // A file with only a header is an empty input.
    write(&input, "sensor,ts,value\n");
    assert!(read_all(FileSource::csv(&input)).unwrap().is_empty());
}
