//! Checkpoint failures found by fault probing (issue 15): two jobs on one checkpoint directory,
//! a restore that would fall back past a checkpoint whose output is committed, and a savepoint
//! to a target that cannot be written. Each must keep output exactly once and say why.

use std::path::{Path, PathBuf};
use std::time::Duration;

use eddy_connectors::{FileSink, GeneratorSource};
use eddy_core::checkpoint::{store, CheckpointConfig, ControlRequest, RestoreFrom};
use eddy_core::prelude::*;
use eddy_testkit::output::committed_sorted;

fn build(env: &mut Env<'_>, count: u64, rate: Option<u64>, output: &Path) -> eddy_core::Result<()> {
    let mut source = GeneratorSource::new(2, |split, n| (split as u64, n)).with_count(count);
    if let Some(rate) = rate {
        source = source.with_rate(rate);
    }
    env.from_source(
        source,
        WatermarkStrategy::monotonous_timestamps().with_timestamps(|&(_, n)| n).with_emit_every(4),
    )
    .uid("numbers")
    .key_by(|&(split, _)| split)
    .sum(|&(_, n)| n)
    .uid("sums")
    .map(|(split, sum)| format!("{split} {sum}"))
    .sink(FileSink::json_lines(output))
    .uid("out");
    Ok(())
}

fn config(checkpoints: &Path, interval_ms: u64, restore: Option<RestoreFrom>) -> JobConfig {
    let mut checkpoint = CheckpointConfig::new(checkpoints, Duration::from_millis(interval_ms));
    checkpoint.restore = restore;
    JobConfig { checkpoint: Some(checkpoint), ..JobConfig::with_workers(2) }
}

fn wait_for(path: &Path) {
    for _ in 0..2_000 {
        if path.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("{} never appeared", path.display());
}

#[test]
fn a_second_job_on_the_same_checkpoint_directory_is_refused_and_leaves_the_first_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (checkpoints, first_output, second_output) =
        (dir.path().join("chk"), dir.path().join("first"), dir.path().join("second"));
    let first = Job::new(config(&checkpoints, 20, None));
    let stop = first.stop_handle();
    let running = std::thread::spawn({
        let output = first_output.clone();
        move || first.run(move |env| build(env, 1_000_000, Some(2_000), &output))
    });
    let socket = checkpoints.join("control.sock");
    wait_for(&socket);

    let second = Job::new(config(&checkpoints, 20, None)).run({
        let output = second_output.clone();
        move |env| build(env, 100, None, &output)
    });
    let error = second.unwrap_err().to_string();
    assert!(error.contains("in use by another job") && error.contains("pid"), "{error}");
    assert!(socket.exists(), "the running job's control socket is untouched");
    assert!(!second_output.exists(), "the refused job wrote nothing");

    stop.stop();
    running.join().unwrap().unwrap();
}

#[test]
fn restore_never_falls_back_past_a_checkpoint_whose_output_is_committed() {
    let dir = tempfile::tempdir().unwrap();
    let (checkpoints, output) = (dir.path().join("chk"), dir.path().join("out"));
    Job::new(config(&checkpoints, 10, None))
        .run({
            let output = output.clone();
            move |env| build(env, 3_000, Some(20_000), &output)
        })
        .unwrap();
    let lines = committed_sorted(&output);
    let complete: Vec<PathBuf> = store::list_checkpoints(&checkpoints)
        .unwrap()
        .into_iter()
        .map(|(_, path)| path)
        .filter(|path| path.join(store::MANIFEST).exists())
        .collect();
    assert!(complete.len() >= 2, "the run took checkpoints before its final one");
    // Corrupt the newest checkpoint that committed output (checkpoints after it that committed
    // nothing, such as a final one with nothing left to commit, lose their manifests: as if the
    // job had crashed before writing them).
    let at = complete
        .iter()
        .position(|path| path.join(store::COMMITTING).exists())
        .expect("a committing checkpoint");
    for later in &complete[..at] {
        std::fs::remove_file(later.join(store::MANIFEST)).unwrap();
    }
    let newest = &complete[at];
    let manifest = store::read_manifest(newest).unwrap();
    let part = newest.join(&manifest.operators[0].parts[0].file);
    let mut bytes = std::fs::read(&part).unwrap();
    bytes.push(b'!');
    std::fs::write(&part, bytes).unwrap();

    let restored = Job::new(config(&checkpoints, 10, Some(RestoreFrom::Latest))).run({
        let output = output.clone();
        move |env| build(env, 3_000, None, &output)
    });
    let error = restored.unwrap_err().to_string();
    assert!(error.contains("committed") && error.contains("--allow-restore-fallback"), "{error}");
    assert_eq!(committed_sorted(&output), lines, "nothing was produced twice");

    // Every complete checkpoint corrupt: an error too, not a silent fresh start.
    for checkpoint in &complete[at + 1..] {
        std::fs::write(checkpoint.join(store::MANIFEST), b"{").unwrap();
    }
    let mut allowed = config(&checkpoints, 10, Some(RestoreFrom::Latest));
    let restored = Job::new(allowed.clone()).run({
        let output = output.clone();
        move |env| build(env, 3_000, None, &output)
    });
    assert!(restored.is_err());
    // The user may accept duplicates explicitly.
    if let Some(checkpoint) = allowed.checkpoint.as_mut() {
        checkpoint.allow_restore_fallback = true;
    }
    Job::new(allowed)
        .run({
            let output = dir.path().join("again");
            move |env| build(env, 3_000, None, &output)
        })
        .unwrap();
}

#[test]
fn a_savepoint_that_cannot_be_written_is_refused_and_the_job_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (checkpoints, output) = (dir.path().join("chk"), dir.path().join("out"));
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, b"not a directory").unwrap();
    let job = Job::new(config(&checkpoints, 1_000, None));
    let control = job.control();
    let running = std::thread::spawn({
        let output = output.clone();
        move || job.run(move |env| build(env, 2_000, Some(4_000), &output))
    });
    wait_for(&checkpoints.join("control.sock"));
    let refused = control
        .request(ControlRequest::Savepoint { target: Some(blocker.join("savepoint")), stop: false })
        .unwrap();
    assert!(!refused.ok && refused.error.as_deref().unwrap_or("").contains("cannot"), "{refused:?}");
    let taken = control
        .request(ControlRequest::Savepoint { target: Some(dir.path().join("sp")), stop: false })
        .unwrap();
    assert!(taken.ok, "{taken:?}");
    running.join().unwrap().unwrap();
    assert_eq!(committed_sorted(&output).len(), 2_000 + 2_000);
}
