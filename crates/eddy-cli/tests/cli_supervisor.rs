//! The job supervisor (`eddy_cli::supervisor`, `eddy run`) and `scripts/launch.sh`, with small
//! `/bin/sh` scripts as fake jobs: they record their arguments and fail on cue (by exit status,
//! by signal, or by hanging), keyed on `EDDY_PROCESS` and `EDDY_ATTEMPT`.
//!
//! The scripts run as `/bin/sh SCRIPT ARGS...` rather than being executed themselves: executing
//! a file just written races with other tests' forks ("text file busy").

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use eddy_cli::supervisor::{self, Chaos, SupervisorConfig, SupervisorError, Termination};
use eddy_testkit::logs::process_log;

/// A bound on how long any run here may take before the test gives up on it (it takes well
/// under a second when things work).
const HANG: Duration = Duration::from_secs(60);

/// A fake job: `body` runs with `$OUT` set to `dir`, after the arguments of the process and
/// attempt have been written to `$OUT/args-<process>-<attempt>`.
fn fake_job(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("job.sh");
    let script = format!(
        "OUT='{}'\nprintf '%s\\n' \"$@\" > \"$OUT/args-$EDDY_PROCESS-$EDDY_ATTEMPT\"\n{body}\n",
        dir.display()
    );
    fs::write(&path, script).unwrap();
    path
}

/// A configuration running `script` under `/bin/sh`, with quick restarts and logs in `dir/logs`.
fn config(dir: &Path, script: &Path, processes: usize, job_args: &[&str]) -> SupervisorConfig {
    let mut args = vec![script.display().to_string()];
    args.extend(job_args.iter().map(|arg| arg.to_string()));
    SupervisorConfig {
        processes,
        workers: 2,
        log_dir: dir.join("logs"),
        restart_delay: Duration::from_millis(10),
        max_restart_delay: Duration::from_millis(40),
        progress_interval: Duration::from_millis(100),
        ..SupervisorConfig::new("/bin/sh", args)
    }
}

/// Runs the supervisor on another thread, giving up after [`HANG`].
fn run(config: SupervisorConfig) -> Result<supervisor::Outcome, SupervisorError> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || sender.send(supervisor::run(&config)));
    receiver.recv_timeout(HANG).expect("the supervisor did not return")
}

/// The arguments process `process` got on attempt `attempt`.
fn args_of(dir: &Path, process: usize, attempt: u32) -> Vec<String> {
    let path = dir.join(format!("args-{process}-{attempt}"));
    let text = fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    text.lines().map(str::to_owned).collect()
}

/// The value following `flag` in `args`.
fn value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter().position(|arg| arg == flag).map(|at| args[at + 1].as_str())
}

fn log(dir: &Path, process: usize) -> String {
    process_log(&dir.join("logs"), process)
}

#[test]
fn processes_that_exit_zero_finish_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let script = fake_job(
        dir.path(),
        r#"echo "hello from $EDDY_PROCESS"
echo "eddy: progress {\"process\":$EDDY_PROCESS,\"processes\":3,\"watermark\":null,\"records_in\":1,\"records_out\":0,\"checkpoint\":null}" >&2
echo "warning from $EDDY_PROCESS" >&2"#,
    );
    let outcome = run(config(dir.path(), &script, 3, &["--rate", "5"])).unwrap();
    assert_eq!((outcome.attempts, outcome.restarts, outcome.chaos_kills), (1, 0, 0));
    assert!(outcome.failures.is_empty());

    let hostfile = dir.path().join("logs").join("hostfile");
    let hosts = fs::read_to_string(&hostfile).unwrap();
    let mut ports: Vec<&str> = hosts.lines().map(|line| line.strip_prefix("127.0.0.1:").unwrap()).collect();
    assert_eq!(ports.len(), 3);
    ports.sort();
    ports.dedup();
    assert_eq!(ports.len(), 3, "ports are distinct: {hosts}");

    for process in 0..3 {
        let args = args_of(dir.path(), process, 0);
        assert_eq!(&args[..2], ["--rate", "5"], "the job's own arguments come first");
        assert_eq!(value(&args, "--processes"), Some("3"));
        assert_eq!(value(&args, "--process"), Some(process.to_string().as_str()));
        assert_eq!(value(&args, "--workers"), Some("2"));
        assert_eq!(
            value(&args, "--hostfile").map(PathBuf::from),
            Some(std::path::absolute(&hostfile).unwrap())
        );
        assert_eq!(value(&args, "--progress-interval"), Some("100ms"));
        assert_eq!(value(&args, "--connect-timeout"), None);

        let log = log(dir.path(), process);
        let prefix = format!("[p{process}] ");
        assert!(log.lines().all(|line| line.starts_with(&prefix)), "{log}");
        for line in
            ["--- attempt 0 ---", &format!("hello from {process}"), &format!("warning from {process}")]
        {
            assert!(log.contains(&format!("{prefix}{line}\n")), "{line} in {log}");
        }
        assert!(log.contains(&format!("{prefix}eddy: progress {{\"process\":{process},")), "{log}");
    }
}

#[test]
fn a_failed_process_restarts_the_job_from_its_latest_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoints = dir.path().join("chk");
    // A complete checkpoint (one with a manifest), as the job would have left it.
    fs::create_dir_all(checkpoints.join("chk-0000000003")).unwrap();
    fs::write(checkpoints.join("chk-0000000003").join("_manifest.json"), "{}").unwrap();
    let script = fake_job(
        dir.path(),
        // Process 1 fails once process 0 has recorded its arguments: the supervisor then kills
        // process 0, which could otherwise happen before it wrote them.
        r#"if [ "$EDDY_PROCESS" = 1 ] && [ "$EDDY_ATTEMPT" = 0 ]; then
    tries=0
    while [ ! -s "$OUT/args-0-0" ] && [ $tries -lt 500 ]; do sleep 0.01; tries=$((tries + 1)); done
    echo "process 1 cannot go on" >&2
    exit 1
fi
exit 0"#,
    );
    let checkpoint_arg = checkpoints.display().to_string();
    let job_args = ["--checkpoint-dir", &checkpoint_arg, "--restore", "/savepoints/sp-1", "--", "input"];
    let outcome = run(config(dir.path(), &script, 2, &job_args)).unwrap();
    assert_eq!((outcome.attempts, outcome.restarts), (2, 1));
    let failure = &outcome.failures[0];
    assert_eq!((failure.attempt, failure.process, failure.termination), (0, 1, Termination::Exited(1)));
    assert!(!failure.by_chaos);
    assert_eq!(failure.last_lines, ["process 1 cannot go on"]);

    // The first attempt got the job's arguments, the restart `--restore latest` instead.
    let first = args_of(dir.path(), 0, 0);
    assert_eq!(value(&first, "--restore"), Some("/savepoints/sp-1"));
    for process in 0..2 {
        let restarted = args_of(dir.path(), process, 1);
        assert_eq!(restarted.iter().filter(|arg| *arg == "--restore").count(), 1, "{restarted:?}");
        assert_eq!(value(&restarted, "--restore"), Some("latest"));
        assert_eq!(value(&restarted, "--checkpoint-dir"), Some(checkpoint_arg.as_str()));
        assert_eq!(restarted[restarted.len() - 2..], ["--", "input"], "positionals stay last");
    }
    let log = log(dir.path(), 1);
    assert!(
        log.contains("[p1] --- attempt 0 ---\n[p1] process 1 cannot go on\n[p1] --- attempt 1 ---\n"),
        "{log}"
    );
}

#[test]
fn without_a_complete_checkpoint_the_restart_keeps_the_jobs_restore() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoints = dir.path().join("chk");
    // Begun but never completed: no manifest.
    fs::create_dir_all(checkpoints.join("chk-0000000001")).unwrap();
    let script = fake_job(dir.path(), r#"[ "$EDDY_ATTEMPT" = 0 ] && exit 7; exit 0"#);
    let checkpoint_arg = format!("--checkpoint-dir={}", checkpoints.display());
    let outcome =
        run(config(dir.path(), &script, 1, &[&checkpoint_arg, "--restore=/savepoints/sp-1"])).unwrap();
    assert_eq!(outcome.restarts, 1);
    assert_eq!(outcome.failures[0].termination, Termination::Exited(7));
    assert!(args_of(dir.path(), 0, 1).contains(&"--restore=/savepoints/sp-1".to_string()));
}

#[test]
fn a_process_killed_by_a_signal_restarts_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let script = fake_job(
        dir.path(),
        r#"if [ "$EDDY_PROCESS" = 0 ] && [ "$EDDY_ATTEMPT" -lt 2 ]; then kill -9 $$; fi
exit 0"#,
    );
    let outcome = run(config(dir.path(), &script, 2, &[])).unwrap();
    assert_eq!((outcome.attempts, outcome.restarts), (3, 2));
    for (attempt, failure) in outcome.failures.iter().enumerate() {
        assert_eq!(failure.attempt, attempt as u32);
        assert_eq!((failure.process, failure.termination), (0, Termination::Signaled(9)));
    }
}

#[test]
fn a_hanging_process_is_killed_when_another_fails() {
    let dir = tempfile::tempdir().unwrap();
    let script = fake_job(
        dir.path(),
        r#"if [ "$EDDY_PROCESS" = 0 ]; then exec sleep 600; fi
sleep 0.2
echo "process 1 gives up"
exit 1"#,
    );
    let config = SupervisorConfig { restart_attempts: 0, ..config(dir.path(), &script, 2, &[]) };
    let error = run(config).unwrap_err();
    let SupervisorError::BudgetExhausted { failures, budget, last_failure, .. } = &error else {
        panic!("{error}");
    };
    assert_eq!((*failures, *budget), (1, 0));
    assert_eq!((last_failure.process, last_failure.termination), (1, Termination::Exited(1)));
    assert_eq!(last_failure.last_lines, ["process 1 gives up"]);
}

#[test]
fn an_exhausted_budget_is_an_error_naming_the_last_failure() {
    let dir = tempfile::tempdir().unwrap();
    let script = fake_job(dir.path(), r#"[ "$EDDY_PROCESS" = 1 ] && kill -9 $$; exit 0"#);
    let config = SupervisorConfig { restart_attempts: 2, ..config(dir.path(), &script, 2, &[]) };
    let error = run(config).unwrap_err();
    let message = error.to_string();
    let expected = format!(
        "job failed 3 times; restart budget of 2 exhausted; last failure: process 1 killed by signal 9 \
         (SIGKILL); logs in {}",
        dir.path().join("logs").display()
    );
    assert_eq!(message, expected);
    // Every attempt ran: attempts 0, 1 and 2.
    assert!(dir.path().join("args-1-2").exists() && !dir.path().join("args-1-3").exists());
}

#[test]
fn chaos_kills_restart_the_job_without_using_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    // Every attempt but the third hangs until chaos kills one of its processes.
    let script = fake_job(dir.path(), r#"if [ "$EDDY_ATTEMPT" -lt 2 ]; then exec sleep 600; fi"#);
    let chaos = Chaos {
        kills: 2,
        min_interval: Duration::from_millis(20),
        max_interval: Duration::from_millis(60),
        seed: 7,
    };
    let config =
        SupervisorConfig { restart_attempts: 0, chaos: Some(chaos), ..config(dir.path(), &script, 3, &[]) };
    let outcome = run(config).unwrap();
    assert_eq!((outcome.attempts, outcome.restarts, outcome.chaos_kills), (3, 2, 2));
    for failure in &outcome.failures {
        assert!(failure.by_chaos);
        assert_eq!(failure.termination, Termination::Signaled(9));
    }
}

#[test]
fn the_failure_reported_is_the_root_cause_not_a_peer_that_lost_it() {
    let dir = tempfile::tempdir().unwrap();
    // Process 1 fails; process 0, which comes first, fails at the same moment because its peer
    // went away (as timely's network thread reports it).
    let script = fake_job(
        dir.path(),
        r#"if [ "$EDDY_ATTEMPT" = 0 ]; then
    other=$((1 - EDDY_PROCESS))
    tries=0
    while [ ! -s "$OUT/args-$other-0" ] && [ $tries -lt 500 ]; do sleep 0.01; tries=$((tries + 1)); done
    if [ "$EDDY_PROCESS" = 0 ]; then
        echo "timely communication error: reading data: connection reset by peer" >&2
        exit 1
    fi
    echo "process 1: the real failure" >&2
    exit 2
fi
exit 0"#,
    );
    let outcome = run(config(dir.path(), &script, 2, &[])).unwrap();
    let failure = &outcome.failures[0];
    assert_eq!((failure.process, failure.termination), (1, Termination::Exited(2)), "{failure:?}");
    assert_eq!(failure.last_lines, ["process 1: the real failure"]);
}

#[test]
fn a_hostfile_must_name_this_machine() {
    let dir = tempfile::tempdir().unwrap();
    let script = fake_job(dir.path(), "exit 0");
    let hostfile = dir.path().join("hosts");
    fs::write(&hostfile, "127.0.0.1:2201\nlocalhost:2202 # second\n").unwrap();
    let local = SupervisorConfig { hostfile: Some(hostfile.clone()), ..config(dir.path(), &script, 2, &[]) };
    run(local.clone()).unwrap();
    assert_eq!(value(&args_of(dir.path(), 1, 0), "--hostfile").map(PathBuf::from), Some(hostfile.clone()));
    assert!(!dir.path().join("logs").join("hostfile").exists());

    fs::write(&hostfile, "127.0.0.1:2201\nworker-2.example.com:2202\n").unwrap();
    let error = run(local).unwrap_err();
    assert!(matches!(error, SupervisorError::Config(_)), "{error}");
    assert!(error.to_string().contains("scripts/launch.sh"), "{error}");
}

/// Runs `command`, killing it after [`HANG`].
fn output_within_bound(mut command: Command) -> Output {
    let child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || sender.send(child.wait_with_output()));
    match receiver.recv_timeout(HANG) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("{command:?} did not finish");
        }
    }
}

fn eddy_run(dir: &Path, flags: &[&str], script: &Path) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_eddy"));
    command.arg("run").args(flags).args(["--log-dir", &dir.join("logs").display().to_string()]);
    command.args(["--restart-delay", "10ms", "--", "/bin/sh", &script.display().to_string()]);
    output_within_bound(command)
}

#[test]
fn eddy_run_exits_1_when_the_budget_is_exhausted() {
    let dir = tempfile::tempdir().unwrap();
    let script = fake_job(dir.path(), r#"echo "bad input on line 3" >&2; exit 2"#);
    let output = eddy_run(dir.path(), &["--processes", "2", "--restart-attempts", "1"], &script);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let last = stderr.lines().last().unwrap();
    assert!(
        last.starts_with("eddy: job failed 2 times; restart budget of 1 exhausted; last failure: process ")
            && last.contains("exited with status 2"),
        "{stderr}"
    );
    assert!(stderr.contains("exited with status 2; its last lines"), "{stderr}");
    assert!(
        stderr.contains("    [p0] bad input on line 3") || stderr.contains("    [p1] bad input on line 3")
    );
}

#[test]
fn eddy_run_reports_progress_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let script = fake_job(
        dir.path(),
        r#"echo "eddy: progress {\"process\":$EDDY_PROCESS,\"processes\":2,\"watermark\":$((1000 + EDDY_PROCESS)),\"records_in\":10,\"records_out\":3,\"checkpoint\":$((4 + EDDY_PROCESS))}" >&2
sleep 1"#,
    );
    let flags =
        ["--processes", "2", "--workers", "3", "--progress-interval", "100ms", "--connect-timeout", "2s"];
    let output = eddy_run(dir.path(), &flags, &script);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "eddy run: attempt 0, 2/2 processes up, watermark 1000 (min over processes still reading), \
             records in 20, out 6, checkpoint 4 (min over processes), restarts 0"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("eddy run: job finished"), "{stderr}");
    let args = args_of(dir.path(), 0, 0);
    assert_eq!(value(&args, "--workers"), Some("3"));
    assert_eq!(value(&args, "--connect-timeout"), Some("2000ms"));
}

#[test]
fn eddy_run_refuses_remote_hosts_and_job_flags_it_sets() {
    let dir = tempfile::tempdir().unwrap();
    let script = fake_job(dir.path(), "exit 0");
    let hostfile = dir.path().join("hosts");
    fs::write(&hostfile, "10.1.2.3:2101\n").unwrap();
    let output =
        eddy_run(dir.path(), &["--processes", "1", "--hostfile", &hostfile.display().to_string()], &script);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("eddy: hostfile ") && stderr.contains("scripts/launch.sh --hostfile"),
        "{stderr}"
    );
    assert!(!dir.path().join("args-0-0").exists());

    let mut command = Command::new(env!("CARGO_BIN_EXE_eddy"));
    command.args([
        "run",
        "--processes",
        "1",
        "--",
        "/bin/sh",
        &script.display().to_string(),
        "--workers",
        "2",
    ]);
    let output = output_within_bound(command);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("`--workers`"), "{stderr}");
}

fn launch_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/launch.sh")
}

#[test]
fn launch_sh_runs_local_processes_and_fails_when_one_does() {
    let dir = tempfile::tempdir().unwrap();
    let script = fake_job(
        dir.path(),
        // Process 1 fails once process 0 has recorded its arguments (it is killed then).
        r#"echo "hi from $EDDY_PROCESS"
if [ "$EDDY_PROCESS" = 1 ]; then
    tries=0
    while [ ! -s "$OUT/args-0-0" ] && [ $tries -lt 500 ]; do sleep 0.01; tries=$((tries + 1)); done
    exit 3
fi
exec sleep 600"#,
    );
    let mut command = Command::new("bash");
    command.arg(launch_script()).args(["--processes", "2", "--workers", "2", "--log-dir"]);
    command.arg(dir.path().join("logs")).args(["--", "/bin/sh"]).arg(&script);
    let output = output_within_bound(command);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("process 1 exited with status 3"), "{stderr}");
    assert_eq!(log(dir.path(), 1), "[p1] hi from 1\n");
    let args = args_of(dir.path(), 0, 0);
    assert_eq!(value(&args, "--process"), Some("0"));
    let hostfile = PathBuf::from(value(&args, "--hostfile").unwrap());
    assert_eq!(fs::read_to_string(hostfile).unwrap().lines().count(), 2);
}

#[test]
fn launch_sh_prints_one_command_per_host() {
    let dir = tempfile::tempdir().unwrap();
    let hostfile = dir.path().join("hosts");
    fs::write(&hostfile, "# the cluster\nnode-a:2101\n\nnode-b:2101\n").unwrap();
    let mut command = Command::new("bash");
    command
        .arg(launch_script())
        .arg("--hostfile")
        .arg(&hostfile)
        .arg("--log-dir")
        .arg(dir.path().join("logs"));
    command.args(["--workers", "4", "--", "./job", "--input", "a b"]);
    let output = output_within_bound(command);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    for (process, line) in lines.iter().enumerate() {
        assert!(line.starts_with("cd "), "{line}");
        let expected = format!(
            "./job --input a\\ b --processes 2 --process {process} --workers 4 --hostfile {}",
            std::path::absolute(&hostfile).unwrap().display()
        );
        assert!(line.ends_with(&expected), "{line}");
        // Every host's process gets the job's secret, generated private to its owner.
        let secret = dir.path().join("logs/cluster-secret");
        assert!(line.contains(&format!("EDDY_CLUSTER_SECRET_FILE={}", secret.display())), "{line}");
        let mode = std::os::unix::fs::PermissionsExt::mode(&fs::metadata(&secret).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600);
    }
}
