//! The checkpointed pipeline as a multi-process job on localhost, under the supervisor
//! (`eddy::supervisor`, the library behind `eddy run`): random `kill -9` of a process, a
//! panicking worker, rescaling through savepoints (2x2 -> 3x1 -> 1x1) and a missing peer.
//! Every run that finishes must leave exactly the committed output of a single-process run
//! without failures.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{assert_same_lines, committed, expected_with, setup, Setup, BINARY};
use eddy::core::checkpoint::store::{read_manifest, MANIFEST};
use eddy::core::checkpoint::{send_request, ControlRequest};
use eddy::core::time::{Clock, SystemClock};
use eddy::supervisor::{self, Chaos, Outcome, SupervisorConfig, Termination};
use eddy_testkit::logs::process_logs;

/// Watermarks move every 100 events per file, so that checkpoints complete often at the low
/// rates these tests read at.
const EMIT_EVERY: [&str; 2] = ["--emit-every", "100"];

/// The committed output of a single-process run without failures, with [`EMIT_EVERY`].
fn assert_exactly_once(actual: &std::collections::BTreeMap<String, usize>) {
    assert_same_lines(actual, &expected_with(&EMIT_EVERY));
}

/// The job's own arguments (the supervisor adds the cluster flags).
fn job_args(setup: &Setup, max_rate: u64, restore: Option<&Path>) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "--input".into(),
        setup.input.display().to_string(),
        "--output".into(),
        setup.output.display().to_string(),
        "--checkpoint-dir".into(),
        setup.checkpoints.display().to_string(),
        "--checkpoint-interval".into(),
        "100ms".into(),
        "--max-rate".into(),
        max_rate.to_string(),
    ];
    args.extend(EMIT_EVERY.map(String::from));
    if let Some(path) = restore {
        args.extend(["--restore".into(), path.display().to_string()]);
    }
    args
}

fn supervised(setup: &Setup, processes: usize, workers: usize, args: Vec<String>) -> SupervisorConfig {
    SupervisorConfig {
        processes,
        workers,
        log_dir: setup.dir.path().join(format!("logs-{processes}x{workers}")),
        restart_attempts: 3,
        restart_delay: Duration::from_millis(50),
        max_restart_delay: Duration::from_millis(400),
        connect_timeout: Some(Duration::from_secs(20)),
        progress_interval: Duration::from_millis(500),
        ..SupervisorConfig::new(BINARY, args)
    }
}

fn logs(config: &SupervisorConfig) -> String {
    process_logs(&config.log_dir, config.processes)
}

fn run(config: &SupervisorConfig) -> Outcome {
    match supervisor::run(config) {
        Ok(outcome) => outcome,
        Err(error) => panic!("{error}\n{}", logs(config)),
    }
}

#[test]
fn three_processes_survive_random_kill_9() {
    survive_random_kill_9(&setup(), Vec::new());
}

/// The same with checkpoints on S3 (moto, started by `scripts/moto.sh`): every process writes
/// its parts into the bucket, and every restart restores from it.
#[cfg(feature = "s3")]
#[test]
fn three_processes_with_checkpoints_on_s3_survive_random_kill_9() {
    let Some(endpoint) = eddy_testkit::s3::endpoint() else { return };
    let environment = eddy_testkit::s3::environment(&endpoint);
    // The supervisor (this process) looks for complete checkpoints before each restart.
    eddy::objectstore::register_with(&environment).unwrap();
    let env = environment.into_iter().map(|(name, value)| (name.to_owned(), value)).collect();
    survive_random_kill_9(&common::setup_s3(&endpoint), env);
}

/// Runs the job as 3 processes under the supervisor with `env`, killing processes at random,
/// and checks that it recovers from checkpoints and commits exactly the failure-free output.
fn survive_random_kill_9(setup: &Setup, env: Vec<(String, String)>) {
    let chaos = Chaos {
        kills: 3,
        // After the first checkpoints of an attempt (the watermark moves every 1024 records
        // per split, so a checkpoint completes every second or two at this rate).
        min_interval: Duration::from_millis(2_500),
        max_interval: Duration::from_millis(4_000),
        seed: 0x5eed_2026,
    };
    let config =
        SupervisorConfig { chaos: Some(chaos), env, ..supervised(setup, 3, 1, job_args(setup, 1_000, None)) };
    let outcome = run(&config);
    assert!(outcome.chaos_kills >= 2, "processes were killed while the job ran: {outcome:?}");
    assert!(outcome.failures.iter().all(|failure| failure.by_chaos), "only chaos failures: {outcome:?}");
    assert!(logs(&config).contains("restoring from"), "restarts restore from a checkpoint");
    assert_exactly_once(&committed(&setup.output));
    // The supervisor gave every attempt a secret of its own: the links were authenticated.
    assert!(!logs(&config).contains("not authenticated"), "{}", logs(&config));
    let secret = std::fs::metadata(config.log_dir.join("cluster-secret")).expect("a secret file");
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&secret.permissions()) & 0o777, 0o600);
}

#[test]
fn a_worker_panic_restarts_the_job_without_hanging() {
    let setup = setup();
    let env = [
        ("EDDY_FAILPOINT", "worker-panic:3"),
        ("EDDY_FAILPOINT_PROCESS", "1"),
        ("EDDY_FAILPOINT_ATTEMPT", "0"),
    ];
    let config = SupervisorConfig {
        env: env.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect(),
        ..supervised(&setup, 2, 2, job_args(&setup, 4_000, None))
    };
    let started = SystemClock.now_ms();
    let outcome = run(&config);
    let elapsed = SystemClock.now_ms() - started;
    assert_eq!(outcome.restarts, 1, "{outcome:?}");
    let failure = &outcome.failures[0];
    assert_eq!((failure.attempt, failure.process), (0, 1), "{failure:?}");
    // The panic hook aborts the process: SIGABRT.
    assert_eq!(failure.termination, Termination::Signaled(6), "{failure:?}");
    assert!(logs(&config).contains("failpoint `worker-panic` hit"));
    assert!(elapsed < 60_000, "the job recovered in bounded time ({elapsed} ms)");
    assert_exactly_once(&committed(&setup.output));
}

/// Runs `config` on another thread; once it has completed a checkpoint, stops it with a
/// savepoint into `target`, and returns the savepoint's manifest worker count.
fn stop_with_savepoint(setup: &Setup, config: SupervisorConfig, target: &Path) -> usize {
    let runner = std::thread::spawn(move || run(&config));
    let deadline = SystemClock.now_ms() + 60_000;
    let response = loop {
        assert!(SystemClock.now_ms() < deadline, "no savepoint within a minute");
        std::thread::sleep(Duration::from_millis(100));
        let checkpointed = std::fs::read_dir(&setup.checkpoints)
            .into_iter()
            .flatten()
            .flatten()
            .any(|entry| entry.path().join(MANIFEST).exists() && entry.path() != target);
        if !checkpointed {
            continue;
        }
        let request = ControlRequest::Savepoint { target: Some(target.to_owned()), stop: true };
        match send_request(&setup.checkpoints, &request, Duration::from_secs(30)) {
            Ok(response) => break response,
            Err(_) => continue, // The control socket may not be up yet (a restarting attempt).
        }
    };
    assert!(response.ok, "{response:?}");
    let outcome = runner.join().unwrap();
    assert_eq!(outcome.restarts, 0, "{outcome:?}");
    let manifest = read_manifest(target).unwrap();
    assert!(!manifest.finished, "the savepoint was taken before the input ended");
    manifest.workers
}

#[test]
fn rescale_2x2_to_3x1_to_1x1_through_savepoints() {
    let setup = setup();
    let first: PathBuf = setup.dir.path().join("savepoint-2x2");
    let second: PathBuf = setup.dir.path().join("savepoint-3x1");
    let workers =
        stop_with_savepoint(&setup, supervised(&setup, 2, 2, job_args(&setup, 1_000, None)), &first);
    assert_eq!(workers, 4);
    let workers =
        stop_with_savepoint(&setup, supervised(&setup, 3, 1, job_args(&setup, 1_000, Some(&first))), &second);
    assert_eq!(workers, 3);
    run(&supervised(&setup, 1, 1, job_args(&setup, 1_000_000, Some(&second))));
    assert_exactly_once(&committed(&setup.output));
}

#[test]
fn a_missing_peer_fails_start_up_within_the_timeout() {
    let setup = setup();
    let ports: Vec<u16> = (0..2)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect::<Vec<_>>()
        .iter()
        .map(|listener| listener.local_addr().unwrap().port())
        .collect();
    let hostfile = setup.dir.path().join("hostfile");
    std::fs::write(&hostfile, format!("127.0.0.1:{}\n127.0.0.1:{}\n", ports[0], ports[1])).unwrap();
    let started = SystemClock.now_ms();
    let output = Command::new(BINARY)
        .args(job_args(&setup, 1_000, None))
        .args(["--processes", "2", "--process", "0", "--connect-timeout", "1s", "--hostfile"])
        .arg(&hostfile)
        .output()
        .unwrap();
    let elapsed = SystemClock.now_ms() - started;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("process 1") && stderr.contains(&format!("127.0.0.1:{}", ports[1])),
        "the error names the missing peer: {stderr}"
    );
    assert!(stderr.contains("timed out after 1s"), "{stderr}");
    assert!(elapsed < 10_000, "start-up gave up in time ({elapsed} ms)");
}
