//! `kill -9` of the example job at random moments and at each checkpoint failpoint, while a
//! writer keeps changing the source tables: every run restores the latest checkpoint, and
//! once a last run has read up to the stop marker, `region_revenue` equals PostgreSQL's own
//! answer. The job runs in a child process: this test binary again, running
//! `child_job_process` with `EDDY_PG_CHILD` set.

mod common;

#[allow(dead_code)]
#[path = "../examples/region_revenue.rs"]
mod region_revenue;

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{connect, execute, rows, server_or_skip, unique};
use eddy_core::checkpoint::{CheckpointConfig, RestoreFrom};
use eddy_core::job::{Job, JobConfig};

/// In the child process: runs the job, restoring the latest checkpoint if there is one.
#[test]
fn child_job_process() {
    let Ok(spec) = std::env::var("EDDY_PG_CHILD") else { return };
    let parts: Vec<&str> = spec.split('|').collect();
    let (url, schema, slot, checkpoints) =
        (parts[0].to_owned(), parts[1].to_owned(), parts[2].to_owned(), parts[3]);
    let checkpoint =
        CheckpointConfig::new(checkpoints, Duration::from_millis(40)).restore(RestoreFrom::Latest);
    let config = JobConfig { checkpoint: Some(checkpoint), ..JobConfig::with_workers(2) };
    Job::new(config).run(move |env| region_revenue::build(env, &url, &schema, &slot, false)).unwrap();
}

fn spawn(spec: &str, failpoint: Option<&str>) -> Child {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["child_job_process", "--exact", "--nocapture", "--test-threads=1"])
        .env("EDDY_PG_CHILD", spec)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    match failpoint {
        Some(point) => command.env("EDDY_FAILPOINT", point),
        None => command.env_remove("EDDY_FAILPOINT"),
    };
    command.spawn().unwrap()
}

/// Keeps changing orders and customers until `done`.
fn keep_writing(url: String, schema: String, done: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut connection = connect(&url);
        let mut state: u64 = 17;
        let mut transactions = 0;
        let regions = ["EU", "US", "APAC", "LATAM", "MEA"];
        while !done.load(Ordering::SeqCst) {
            let mut next = || {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                state >> 33
            };
            let (order, customer) = (next() % 3000, next() % 220);
            let statement = match next() % 5 {
                0 | 1 => format!(
                    "INSERT INTO orders VALUES ({order}, {customer}, {}.{:02}) \
                     ON CONFLICT (id) DO UPDATE SET amount = EXCLUDED.amount",
                    next() % 500,
                    next() % 100
                ),
                2 => format!("UPDATE orders SET amount = amount + 0.35 WHERE id = {order}"),
                3 => format!("DELETE FROM orders WHERE id = {order}"),
                _ => format!(
                    "UPDATE customers SET region = '{}' WHERE id = {customer}",
                    regions[(next() % 5) as usize]
                ),
            };
            connection.execute(&format!("SET search_path TO {schema}; {statement}")).unwrap();
            transactions += 1;
            std::thread::sleep(Duration::from_millis(2));
        }
        transactions
    })
}

#[test]
fn kill_9_and_failpoints_while_writing_lose_and_double_nothing() {
    if std::env::var("EDDY_PG_CHILD").is_ok() {
        return;
    }
    let Some(url) = server_or_skip() else { return };
    let schema = unique("killshop");
    let slot = unique("killslot");
    execute(&url, &format!("CREATE SCHEMA {schema}; SET search_path TO {schema}; {}", region_revenue::SETUP));
    execute(
        &url,
        &format!(
            "SET search_path TO {schema}; \
             INSERT INTO customers SELECT g, 'c' || g, (ARRAY['EU','US','APAC','LATAM','MEA'])[1 + g % 5] \
             FROM generate_series(4, 219) g; \
             INSERT INTO orders SELECT g, g % 220, (g % 997) / 4.0 FROM generate_series(100, 2099) g"
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let spec = format!("{url}|{schema}|{slot}|{}", dir.path().join("chk").display());
    let done = Arc::new(AtomicBool::new(false));
    let writer = keep_writing(url.clone(), schema.clone(), Arc::clone(&done));
    // Killed from outside at (deterministically) varied moments.
    for delay in [700, 1_300, 450, 1_900] {
        let mut child = spawn(&spec, None);
        std::thread::sleep(Duration::from_millis(delay));
        child.kill().unwrap();
        child.wait().unwrap();
    }
    // Aborted by the checkpoint protocol's failpoints (the third occurrence of each).
    for point in ["before-manifest:3", "after-manifest:3", "after-commit:3", "restore"] {
        let mut child = spawn(&spec, Some(point));
        let status = child.wait_timeout_or_kill(Duration::from_secs(60));
        assert!(!status, "the child stopped at failpoint {point}");
    }
    done.store(true, Ordering::SeqCst);
    let transactions = writer.join().unwrap();
    assert!(transactions > 100, "the writer kept writing ({transactions} transactions)");
    execute(
        &url,
        &format!("SELECT pg_logical_emit_message(true, '{}', '')", eddy_postgres::stop_prefix(&slot)),
    );
    let mut last = spawn(&spec, None);
    assert!(last.wait_timeout_or_kill(Duration::from_secs(120)), "the last run ends at the stop marker");
    let ours = rows(&url, &format!("SELECT region, revenue, orders FROM {schema}.region_revenue"));
    let theirs = rows(&url, &format!("SET search_path TO {schema}; {}", region_revenue::REFERENCE));
    assert_eq!(ours, theirs, "region_revenue equals PostgreSQL's answer after every crash");
    execute(&url, &format!("SELECT pg_drop_replication_slot('{slot}')"));
}

trait WaitTimeout {
    /// Waits up to `limit`; true if the process exited successfully, false if it failed or
    /// had to be killed.
    fn wait_timeout_or_kill(&mut self, limit: Duration) -> bool;
}

impl WaitTimeout for Child {
    fn wait_timeout_or_kill(&mut self, limit: Duration) -> bool {
        let steps = limit.as_millis() / 50;
        for _ in 0..steps {
            if let Some(status) = self.try_wait().unwrap() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill().unwrap();
        self.wait().unwrap();
        false
    }
}
