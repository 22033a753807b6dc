//! What the crash tests of the checkpointed pipeline share: its input, how to run it, and the
//! committed output of a run without failures to compare with. What is not about this
//! pipeline (reading committed output, comparing it) is in `eddy_testkit`.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

pub use eddy_testkit::output::{assert_same_lines, committed};

pub const BINARY: &str = env!("CARGO_BIN_EXE_checkpointed-pipeline");
pub const FILES: u64 = 4;
pub const PER_FILE: u64 = 2_500;

/// Four files of events over 40 keys, slightly out of order, with a few late ones.
pub fn write_input(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for file in 0..FILES {
        let mut text = String::new();
        for i in 0..PER_FILE {
            let key = (i * 7 + file * 3) % 40;
            let jitter = (i * 131 + file * 17) % 1_500;
            let ts = 1_700_000_000_000 + i * 40 + file * 5 + jitter;
            let value = (i % 11) as i64 - 3;
            text.push_str(&format!("{{\"key\":\"k{key}\",\"ts\":{ts},\"value\":{value}}}\n"));
        }
        std::fs::write(dir.join(format!("events-{file}.jsonl")), text).unwrap();
    }
    std::fs::write(dir.join("notes.txt"), "not an event file\n").unwrap();
}

pub struct Setup {
    pub dir: tempfile::TempDir,
    pub input: PathBuf,
    pub output: PathBuf,
    pub checkpoints: PathBuf,
    /// The S3 server's endpoint when `checkpoints` is an `s3://` URL.
    pub s3: Option<String>,
}

pub fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    write_input(&input);
    let (output, checkpoints) = (dir.path().join("out"), dir.path().join("chk"));
    Setup { dir, input, output, checkpoints, s3: None }
}

/// A setup whose checkpoints go to a new bucket on the S3 server at `endpoint`.
pub fn setup_s3(endpoint: &str) -> Setup {
    let bucket = eddy_testkit::s3::new_bucket(endpoint, "checkpointed");
    Setup {
        checkpoints: PathBuf::from(format!("s3://{bucket}/job")),
        s3: Some(endpoint.to_owned()),
        ..setup()
    }
}

pub fn command(setup: &Setup, workers: usize, checkpoints: bool, max_rate: Option<u64>) -> Command {
    let mut command = Command::new(BINARY);
    command
        .arg("--input")
        .arg(&setup.input)
        .arg("--output")
        .arg(&setup.output)
        .arg("--workers")
        .arg(workers.to_string())
        .env_remove("EDDY_FAILPOINT")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    if checkpoints {
        command
            .arg("--checkpoint-dir")
            .arg(&setup.checkpoints)
            .arg("--checkpoint-interval")
            .arg("60ms")
            .arg("--restore")
            .arg("latest");
    }
    if let Some(rate) = max_rate {
        command.arg("--max-rate").arg(rate.to_string());
    }
    if let Some(endpoint) = &setup.s3 {
        eddy_testkit::s3::configure(&mut command, endpoint);
    }
    command
}

/// Starts the job once per entry of `workers` (restoring the latest checkpoint) and kills it
/// (SIGKILL) after a pseudo-random 150..650 ms.
pub fn kill_at_random_moments(setup: &Setup, workers: &[usize]) {
    eddy_testkit::crash::kill_at_random_moments(workers, (150, 500), |count| {
        command(setup, count, true, Some(6_000)).spawn().unwrap()
    });
}

/// Runs with `--restore latest` (cycling through `workers`) until a run exits 0.
pub fn finish(setup: &Setup, workers: &[usize]) {
    eddy_testkit::crash::finish(workers, |count| command(setup, count, true, None).output().unwrap());
}

pub fn run(mut command: Command) -> (ExitStatus, String) {
    let output = command.output().unwrap();
    (output.status, String::from_utf8_lossy(&output.stderr).into_owned())
}

/// The committed output of a run without failures (computed once per test binary).
pub fn expected() -> &'static BTreeMap<String, usize> {
    static EXPECTED: std::sync::OnceLock<BTreeMap<String, usize>> = std::sync::OnceLock::new();
    EXPECTED.get_or_init(|| {
        let plain = setup();
        let (status, stderr) = run(command(&plain, 1, false, None));
        assert!(status.success(), "{stderr}");
        let without = committed(&plain.output);
        let checkpointed = setup();
        let (status, stderr) = run(command(&checkpointed, 2, true, None));
        assert!(status.success(), "{stderr}");
        assert_eq!(committed(&checkpointed.output), without, "checkpoints do not change the output");
        assert!(without.len() > 400, "the job produces output: {} lines", without.len());
        assert!(without.values().all(|&count| count == 1), "every output line is distinct");
        without
    })
}

/// The committed output of a single-process run without failures or checkpoints, with the
/// job's extra arguments `args`.
pub fn expected_with(args: &[&str]) -> BTreeMap<String, usize> {
    let plain = setup();
    let mut command = command(&plain, 1, false, None);
    command.args(args);
    let (status, stderr) = run(command);
    assert!(status.success(), "{stderr}");
    let expected = committed(&plain.output);
    assert!(expected.len() > 400, "the job produces output: {} lines", expected.len());
    assert!(expected.values().all(|&count| count == 1), "every output line is distinct");
    expected
}

/// `actual` is exactly the output of a run without failures.
pub fn assert_exactly_once(actual: &BTreeMap<String, usize>) {
    assert_same_lines(actual, expected());
}

/// Aborts at `point` (`name:N`) with `workers`, then restarts with `restart_workers` until the
/// job finishes; its committed output must be the failure-free run's.
pub fn crash_at(setup: &Setup, point: &str, workers: usize, restart_workers: &[usize]) {
    let mut first = command(setup, workers, true, Some(10_000));
    first.env("EDDY_FAILPOINT", point);
    let (status, stderr) = run(first);
    assert!(!status.success(), "the failpoint {point} was hit: {stderr}");
    assert!(stderr.contains("failpoint"), "{stderr}");
    if point.starts_with("after-manifest") {
        // The checkpoint is complete but its output is not committed yet: there must be
        // pending files for the restore to commit.
        let staged = std::fs::read_dir(&setup.output)
            .unwrap()
            .filter(|entry| entry.as_ref().unwrap().file_name().to_string_lossy().ends_with(".pending"))
            .count();
        assert!(staged > 0, "pending files after a crash between manifest and commit");
    }
    finish(setup, restart_workers);
    assert_exactly_once(&committed(&setup.output));
}
