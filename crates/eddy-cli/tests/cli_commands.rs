//! The `eddy` command-line tool, run as a separate process against checkpoints and running
//! jobs of this process: `inspect` (summary, JSON, state dumps, corruption), `savepoint`,
//! `status` and `stop --savepoint` over the control socket.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use eddy_connectors::{FileSink, GeneratorSource};
use eddy_core::prelude::*;
use serde::{Deserialize, Serialize};

const SPLITS: usize = 3;
const KEYS: u64 = 7;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Event {
    key: String,
    n: u64,
    ts: u64,
}

/// Record `n` of split `s`: key `key-(n % KEYS)`, value `n`, event time `n`.
fn event(_split: usize, n: u64) -> Event {
    Event { key: format!("key-{}", n % KEYS), n, ts: n }
}

/// Per key: how many records, and the sum of their `n`.
#[derive(Default)]
struct Counts {
    count: Option<ValueState<u64>>,
    sum: Option<ValueState<u64>>,
}

impl KeyedProcessFunction<String, Event, (String, u64)> for Counts {
    fn open(&mut self, ctx: &mut OpenContext<'_, String>) {
        self.count = Some(ctx.value_state("count"));
        self.sum = Some(ctx.value_state("sum"));
    }
    fn process_element(&mut self, event: Event, ctx: &mut Context<'_, String, (String, u64)>) {
        let (count, sum) = (self.count.as_ref().unwrap(), self.sum.as_ref().unwrap());
        let seen = count.value(ctx).unwrap_or(0) + 1;
        count.update(ctx, seen);
        let total = sum.value(ctx).unwrap_or(0) + event.n;
        sum.update(ctx, total);
        ctx.emit((event.key, seen));
    }
}

fn build(env: &mut Env<'_>, per_split: u64, rate: Option<u64>, output: &Path) -> Result<()> {
    let mut source = GeneratorSource::new(SPLITS, event).with_count(per_split);
    if let Some(rate) = rate {
        source = source.with_rate(rate);
    }
    env.from_source(
        source,
        WatermarkStrategy::bounded_out_of_orderness(5).with_timestamps(|e: &Event| e.ts).with_emit_every(16),
    )
    .uid("events")
    .key_by(|e: &Event| e.key.clone())
    .process(Counts::default())
    .uid("counts")
    .sink(FileSink::json_lines(output))
    .uid("out");
    Ok(())
}

fn eddy(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    eddy_with(args, &[])
}

/// `eddy ARGS` with the environment variables `env` set.
fn eddy_with(args: &[&dyn AsRef<std::ffi::OsStr>], env: &[(&str, String)]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(args.iter().map(|arg| arg.as_ref()))
        .envs(env.iter().map(|(key, value)| (key, value)))
        .output()
        .expect("running the eddy binary");
    eprintln!(
        "eddy {:?}: {}\nstdout: {}\nstderr: {}",
        args.iter().map(|arg| arg.as_ref().to_owned()).collect::<Vec<_>>(),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Runs a bounded job to its end, checkpointing every 10 ms; returns the checkpoint root.
fn finished_job(dir: &Path, per_split: u64) -> PathBuf {
    let (checkpoints, output) = (dir.join("chk"), dir.join("out"));
    let config = JobConfig {
        checkpoint: Some(CheckpointConfig::new(&checkpoints, Duration::from_millis(10))),
        ..JobConfig::with_workers(2)
    };
    Job::new(config).run(move |env| build(env, per_split, None, &output)).unwrap();
    checkpoints
}

/// The newest complete checkpoint under `root`.
fn newest_complete(root: &Path) -> PathBuf {
    let mut complete: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("_manifest.json").exists())
        .collect();
    complete.sort();
    complete.pop().expect("a complete checkpoint")
}

#[test]
fn inspect_summarizes_and_dumps_the_final_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let per_split = 700;
    let root = finished_job(dir.path(), per_split);
    let newest = newest_complete(&root);

    // The table, from the root: the newest complete checkpoint is the final one.
    let output = eddy(&[&"inspect", &root]);
    assert!(output.status.success());
    assert!(stderr(&output).contains(&*newest.to_string_lossy()), "says which checkpoint it picked");
    let table = stdout(&output);
    assert!(table.contains("end of input") && table.contains("final"), "{table}");
    let row = table.lines().find(|line| line.starts_with("counts ")).expect("a row for `counts`");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[1], "keyed", "{row}");
    assert_eq!(cells[2], "2", "one part per worker: {row}");
    assert_eq!(&cells[4..], ["7", "keys"], "{row}");
    let row = table.lines().find(|line| line.starts_with("events ")).expect("a row for `events`");
    assert!(row.ends_with(&format!("{SPLITS} splits")), "{row}");

    // The same as JSON, from the checkpoint itself.
    let output = eddy(&[&"inspect", &newest, &"--json"]);
    assert!(output.status.success());
    let summary: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(summary["kind"], "final");
    assert_eq!(summary["finished"], true);
    assert_eq!(summary["logical_time"], serde_json::Value::Null);
    assert_eq!(summary["workers"], 2);
    assert_eq!(summary["version"], 1);
    let counts = summary["operators"].as_array().unwrap().iter().find(|op| op["uid"] == "counts").unwrap();
    assert_eq!(counts["kind"], "keyed");
    assert_eq!(counts["entries"], KEYS);
    assert!(summary["stats"]["bytes"].as_u64().unwrap() > 0);

    // One line per key, with the state the input implies: each split has `per_split / KEYS`
    // records of each key, and key `k` sums the `n` with `n % KEYS == k`.
    let output = eddy(&[&"inspect", &root, &"--uid", &"counts"]);
    assert!(output.status.success());
    let mut keys = Vec::new();
    for line in stdout(&output).lines() {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap();
        let key = entry["key"].as_str().unwrap().to_owned();
        let k: u64 = key.strip_prefix("key-").unwrap().parse().unwrap();
        let expected_sum = SPLITS as u64 * (0..per_split).filter(|n| n % KEYS == k).sum::<u64>();
        assert_eq!(entry["state"]["count"]["value"], SPLITS as u64 * per_split / KEYS, "{line}");
        assert_eq!(entry["state"]["sum"]["value"], expected_sum, "{line}");
        assert!(entry["worker"].as_u64().unwrap() < 2, "{line}");
        keys.push(key);
    }
    keys.sort();
    let expected: Vec<String> = (0..KEYS).map(|k| format!("key-{k}")).collect();
    assert_eq!(keys, expected);

    // Source positions: every split read to its end.
    let output = eddy(&[&"inspect", &newest, &"--uid", &"events"]);
    assert!(output.status.success());
    assert_eq!(stdout(&output).lines().count(), SPLITS);

    // An unknown uid names the ones there are.
    let output = eddy(&[&"inspect", &newest, &"--uid", &"nope"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("counts"), "{}", stderr(&output));
}

#[test]
fn inspect_reports_corrupt_parts_and_missing_manifests() {
    let dir = tempfile::tempdir().unwrap();
    let root = finished_job(dir.path(), 140);
    let newest = newest_complete(&root);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(newest.join("_manifest.json")).unwrap()).unwrap();
    let counts = manifest["operators"].as_array().unwrap().iter().find(|op| op["uid"] == "counts").unwrap();
    let part = newest.join(counts["parts"][0]["file"].as_str().unwrap());
    let mut bytes = std::fs::read(&part).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    std::fs::write(&part, bytes).unwrap();

    let runs = [
        eddy(&[&"inspect", &root]),
        eddy(&[&"inspect", &newest, &"--json"]),
        eddy(&[&"inspect", &newest, &"--uid", &"counts"]),
    ];
    for output in runs {
        assert_eq!(output.status.code(), Some(1));
        let error = stderr(&output);
        assert!(error.contains("corrupt") && error.contains(&*part.to_string_lossy()), "{error}");
        assert!(output.stdout.is_empty(), "nothing is printed from a corrupt checkpoint");
    }

    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let output = eddy(&[&"inspect", &empty]);
    assert_eq!(output.status.code(), Some(1));
    let error = stderr(&output);
    assert!(error.contains("_manifest.json") && error.contains(&*empty.to_string_lossy()), "{error}");

    // A checkpoint root whose only checkpoint is incomplete.
    let incomplete = dir.path().join("incomplete");
    std::fs::create_dir_all(incomplete.join("chk-0000000001")).unwrap();
    let output = eddy(&[&"inspect", &incomplete]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("complete"), "{}", stderr(&output));
}

#[test]
fn savepoint_status_and_stop_with_savepoint_of_a_running_job() {
    let dir = tempfile::tempdir().unwrap();
    let (checkpoints, output) = (dir.path().join("chk"), dir.path().join("out"));
    let (savepoint, stop_savepoint) = (dir.path().join("sp"), dir.path().join("sp2"));
    let config = JobConfig {
        checkpoint: Some(CheckpointConfig {
            interval: None,
            ..CheckpointConfig::new(&checkpoints, Duration::from_millis(10))
        }),
        ..JobConfig::with_workers(2)
    };
    // 3 splits of 20 000 records at 2 000 per second: runs for 10 s unless stopped.
    let job =
        std::thread::spawn(move || Job::new(config).run(move |env| build(env, 20_000, Some(2_000), &output)));
    let socket = checkpoints.join("control.sock");
    for _ in 0..1_000 {
        if socket.exists() || job.is_finished() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(socket.exists(), "the job listens on {}", socket.display());

    let result = eddy(&[&"status", &checkpoints]);
    assert!(result.status.success());
    assert_eq!(stdout(&result).trim(), "no checkpoint completed yet");

    let result = eddy(&[&"savepoint", &checkpoints, &"--target", &savepoint, &"--timeout", &"30s"]);
    assert!(result.status.success());
    assert_eq!(stdout(&result).trim(), savepoint.to_string_lossy());
    assert!(savepoint.join("_manifest.json").exists());
    let result = eddy(&[&"inspect", &savepoint, &"--json"]);
    assert!(result.status.success());
    let summary: serde_json::Value = serde_json::from_str(stdout(&result).trim()).unwrap();
    assert_eq!(summary["kind"], "savepoint");
    assert_eq!(summary["finished"], false);
    assert!(summary["logical_time"].as_u64().is_some());
    let uids: Vec<&str> =
        summary["operators"].as_array().unwrap().iter().map(|op| op["uid"].as_str().unwrap()).collect();
    assert_eq!(uids, ["counts", "events", "out"]);

    // A savepoint into a directory that is not empty is refused; the job keeps running.
    let result = eddy(&[&"savepoint", &checkpoints, &"--target", &savepoint]);
    assert_eq!(result.status.code(), Some(1));
    assert!(stderr(&result).contains("not empty"), "{}", stderr(&result));

    // `stop` needs --savepoint (a drain is Ctrl-C).
    let result = eddy(&[&"stop", &checkpoints]);
    assert!(!result.status.success());
    assert!(stderr(&result).contains("--savepoint"), "{}", stderr(&result));

    let result = eddy(&[&"stop", &"--savepoint", &stop_savepoint, &checkpoints, &"--timeout", &"30s"]);
    assert!(result.status.success());
    assert_eq!(stdout(&result).trim(), stop_savepoint.to_string_lossy());
    let summary = job.join().unwrap().unwrap();
    assert!(summary.stopped_with_savepoint);
    assert!(summary.records_read < 3 * 20_000, "stopped before the end: {summary:?}");
    assert!(stop_savepoint.join("_manifest.json").exists());
    let result = eddy(&[&"inspect", &stop_savepoint]);
    assert!(result.status.success());
    assert!(!socket.exists(), "the socket is removed when the job ends");
}

#[test]
fn savepoint_without_a_running_job_names_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("control.sock");
    let result = eddy(&[&"savepoint", &dir.path(), &"--timeout", &"1s"]);
    assert_eq!(result.status.code(), Some(1));
    let error = stderr(&result);
    assert!(error.starts_with("eddy: ") && error.contains(&*socket.to_string_lossy()), "{error}");
    let result = eddy(&[&"status", &dir.path()]);
    assert_eq!(result.status.code(), Some(1));
    let result = eddy(&[&"savepoint", &dir.path(), &"--timeout", &"soon"]);
    assert_eq!(result.status.code(), Some(2), "a bad duration is a usage error");

    // A job that accepts the request but does not answer in time.
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let result = eddy(&[&"savepoint", &dir.path(), &"--timeout", &"200ms"]);
    assert_eq!(result.status.code(), Some(1));
    let error = stderr(&result);
    assert!(error.contains("no answer") && error.contains(&*socket.to_string_lossy()), "{error}");
    // A socket left behind by a job that is gone.
    drop(listener);
    let result = eddy(&[&"stop", &"--savepoint", &dir.path().join("sp"), &dir.path()]);
    assert_eq!(result.status.code(), Some(1));
    let error = stderr(&result);
    assert!(error.contains(&*socket.to_string_lossy()) && error.contains("is a job running"), "{error}");
}

/// Savepoints of a job whose checkpoints are on S3 (moto, started by `scripts/moto.sh`): into
/// the bucket, inspected there, and restored at another worker count.
#[cfg(feature = "s3")]
#[test]
fn savepoints_on_s3_are_taken_inspected_and_restored() {
    use eddy_core::checkpoint::storage::local_dir;
    use eddy_testkit::s3;
    let Some(endpoint) = s3::endpoint() else { return };
    eddy_objectstore::register_with(&s3::environment(&endpoint)).unwrap();
    let bucket = s3::new_bucket(&endpoint, "savepoints");
    let env = s3::environment(&endpoint);
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out");
    let checkpoints = PathBuf::from(format!("s3://{bucket}/chk"));
    let (savepoint, stop_savepoint) = (format!("s3://{bucket}/sp"), format!("s3://{bucket}/sp2"));
    let config = JobConfig {
        checkpoint: Some(CheckpointConfig {
            interval: None,
            ..CheckpointConfig::new(&checkpoints, Duration::from_millis(10))
        }),
        ..JobConfig::with_workers(2)
    };
    let job = std::thread::spawn({
        let output = output.clone();
        move || Job::new(config).run(move |env| build(env, 20_000, Some(2_000), &output))
    });
    let socket = local_dir(&checkpoints).join("control.sock");
    for _ in 0..1_000 {
        if socket.exists() || job.is_finished() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(socket.exists(), "the job listens on {}", socket.display());

    let result =
        eddy_with(&[&"savepoint", &checkpoints, &"--target", &savepoint, &"--timeout", &"30s"], &env);
    assert!(result.status.success());
    assert_eq!(stdout(&result).trim(), savepoint);
    let result = eddy_with(&[&"inspect", &savepoint, &"--json"], &env);
    assert!(result.status.success());
    let summary: serde_json::Value = serde_json::from_str(stdout(&result).trim()).unwrap();
    assert_eq!(summary["kind"], "savepoint");
    assert_eq!(summary["path"], savepoint.as_str());
    let uids: Vec<&str> =
        summary["operators"].as_array().unwrap().iter().map(|op| op["uid"].as_str().unwrap()).collect();
    assert_eq!(uids, ["counts", "events", "out"]);
    let result = eddy_with(&[&"savepoint", &checkpoints, &"--target", &savepoint], &env);
    assert_eq!(result.status.code(), Some(1));
    assert!(stderr(&result).contains("not empty"), "{}", stderr(&result));

    let result =
        eddy_with(&[&"stop", &"--savepoint", &stop_savepoint, &checkpoints, &"--timeout", &"30s"], &env);
    assert!(result.status.success());
    let summary = job.join().unwrap().unwrap();
    assert!(summary.stopped_with_savepoint && summary.records_read < 3 * 20_000, "{summary:?}");

    // Restored from the stop savepoint at 3 workers, the job reads the rest and ends with
    // every record counted once: each key's last count is its number of records.
    let config = JobConfig {
        checkpoint: Some(
            CheckpointConfig {
                interval: None,
                ..CheckpointConfig::new(&checkpoints, Duration::from_millis(10))
            }
            .restore(RestoreFrom::Path(stop_savepoint.clone().into())),
        ),
        ..JobConfig::with_workers(3)
    };
    let restored = Job::new(config).run({
        let output = output.clone();
        move |env| build(env, 20_000, None, &output)
    });
    let summary = restored.unwrap();
    assert!(summary.records_read > 0 && summary.records_read < 3 * 20_000, "{summary:?}");
    let lines = eddy_testkit::output::committed(&output);
    assert_eq!(lines.values().sum::<usize>(), 3 * 20_000, "one output line per record");
    let result = eddy_with(&[&"inspect", &checkpoints], &env);
    assert!(result.status.success() && stdout(&result).contains("final"), "{}", stdout(&result));
}

#[test]
fn status_prints_the_rest_overview_of_a_job_serving_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out");
    let observer = eddy_observe::Observer::start("127.0.0.1:0".parse().unwrap()).unwrap();
    let config = JobConfig { metrics: Some(observer.metrics.clone()), ..JobConfig::with_workers(2) };
    Job::new(config).run(move |env| build(env, 100, None, &output)).unwrap();

    let addr = observer.addr.to_string();
    let result = eddy(&[&"status", &"--metrics-addr", &addr]);
    assert!(result.status.success());
    let text = stdout(&result);
    assert!(text.contains("state: finished\n"), "{text}");
    assert!(text.contains(&format!("records in: {}\n", SPLITS * 100)), "{text}");
    assert!(text.contains("workers: 2\n"), "{text}");
    for uid in ["events", "counts", "out"] {
        assert!(text.lines().any(|line| line.split("  ").nth(3) == Some(uid)), "no operator {uid}: {text}");
    }
    let result = eddy(&[&"status"]);
    assert!(!result.status.success(), "a checkpoint directory or --metrics-addr is needed");
}
