//! Crash tests of the checkpointed pipeline as a child process: `kill -9` at random moments,
//! and aborts at chosen steps of the checkpoint protocol (`EDDY_FAILPOINT`), at 1, 2 and 4
//! workers and with the worker count changing between restarts. Each time, running the same
//! command with `--restore latest` until it exits 0 must leave exactly the committed output
//! of a run without failures: nothing lost, nothing duplicated.

mod common;

use common::{assert_exactly_once, command, committed, finish, kill_at_random_moments, run, setup};

#[test]
fn kill_9_at_random_moments_loses_and_duplicates_nothing() {
    let setup = setup();
    kill_at_random_moments(&setup, &[2, 1, 4, 3]);
    finish(&setup, &[3, 1]);
    assert_exactly_once(&committed(&setup.output));
}

fn crash_at(point: &str, workers: usize, restart_workers: &[usize]) {
    common::crash_at(&setup(), point, workers, restart_workers);
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
