//! File connectors end to end: bad input lines (failing with file and line, or dead-lettered),
//! and determinism: the same job run twice and at different worker counts writes identical
//! sorted output.

use std::path::Path;

use eddy::prelude::*;
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
