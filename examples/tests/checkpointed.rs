//! Crash tests of the checkpointed pipeline as a child process: `kill -9` at random moments,
//! and aborts at chosen steps of the checkpoint protocol (`EDDY_FAILPOINT`), at 1, 2 and 4
//! workers and with the worker count changing between restarts. Each time, running the same
//! command with `--restore latest` until it exits 0 must leave exactly the committed output
//! of a run without failures: nothing lost, nothing duplicated.

mod common;

use std::time::Duration;

use common::{assert_exactly_once, command, committed, run, setup, Setup};

/// Runs with `--restore latest` (cycling through `workers`) until a run exits 0.
fn finish(setup: &Setup, workers: &[usize]) {
    for attempt in 0..10 {
        let (status, stderr) = run(command(setup, workers[attempt % workers.len()], true, None));
        if status.success() {
            return;
        }
        eprintln!("restart {attempt} failed: {stderr}");
    }
    panic!("the job did not finish after 10 restarts");
}

#[test]
fn kill_9_at_random_moments_loses_and_duplicates_nothing() {
    let setup = setup();
    // A small deterministic generator of kill delays.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let workers = [2, 1, 4, 3];
    let mut kills = 0;
    for round in 0..4 {
        let mut child = command(&setup, workers[round % workers.len()], true, Some(6_000)).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(150 + next() % 500));
        match child.try_wait().unwrap() {
            Some(status) => assert!(status.success(), "round {round} failed on its own: {status}"),
            None => {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                kills += 1;
            }
        }
    }
    assert!(kills >= 2, "the job was killed while running ({kills} kills)");
    finish(&setup, &[3, 1]);
    assert_exactly_once(&committed(&setup.output));
}

/// Aborts at `point` (`name:N`) with `workers`, then restarts with `restart_workers`.
fn crash_at(point: &str, workers: usize, restart_workers: &[usize]) {
    let setup = setup();
    let mut first = command(&setup, workers, true, Some(10_000));
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
    finish(&setup, restart_workers);
    assert_exactly_once(&committed(&setup.output));
}

#[test]
fn crash_after_the_state_write_before_the_manifest() {
    crash_at("before-manifest:3", 1, &[1]);
    crash_at("before-manifest:2", 4, &[2]);
}

#[test]
fn crash_after_the_manifest_before_the_sink_commit() {
    crash_at("after-manifest:2", 2, &[2]);
    crash_at("after-manifest:3", 1, &[4]);
}

#[test]
fn crash_after_the_commit() {
    crash_at("after-commit:2", 4, &[4]);
}

#[test]
fn crash_during_restore() {
    let setup = setup();
    let mut first = command(&setup, 2, true, Some(10_000));
    first.env("EDDY_FAILPOINT", "after-manifest:2");
    assert!(!run(first).0.success());
    let mut restoring = command(&setup, 4, true, None);
    restoring.env("EDDY_FAILPOINT", "restore");
    let (status, stderr) = run(restoring);
    assert!(!status.success() && stderr.contains("failpoint `restore`"), "{stderr}");
    finish(&setup, &[1]);
    assert_exactly_once(&committed(&setup.output));
}

/// A checkpoint whose part no longer matches its checksum is skipped with a warning: the
/// restore uses the one before it, and the output staged for the skipped one is discarded
/// (it had not been committed) and produced again.
#[test]
fn a_corrupt_checkpoint_is_skipped() {
    let setup = setup();
    let mut first = command(&setup, 2, true, Some(10_000));
    first.env("EDDY_FAILPOINT", "after-manifest:3");
    assert!(!run(first).0.success());
    let newest = std::fs::read_dir(&setup.checkpoints)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("_manifest.json").exists())
        .max()
        .unwrap();
    let part = std::fs::read_dir(&newest)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.is_dir() && path.file_name().unwrap().to_string_lossy().starts_with("activity-"))
        .unwrap()
        .join("worker-0.part");
    let mut bytes = std::fs::read(&part).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    std::fs::write(&part, bytes).unwrap();
    let (status, stderr) = run(command(&setup, 3, true, None));
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("skipping checkpoint") && stderr.contains("corrupt"), "{stderr}");
    assert_exactly_once(&committed(&setup.output));
}
