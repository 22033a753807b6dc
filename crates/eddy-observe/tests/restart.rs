//! A restarted job's REST API: a job fails, its restart (as `eddy run`'s next attempt, with
//! `EDDY_ATTEMPT=1`) restores the latest checkpoint; the restart count, the restore setting and
//! the checkpoints the REST API lists agree with the checkpoint directory, and the output is
//! exactly once. One test per binary: it sets `EDDY_ATTEMPT` for its process.

mod support;

use std::net::SocketAddr;

use eddy_core::checkpoint::{CheckpointConfig, RestoreFrom};
use eddy_core::prelude::*;
use eddy_observe::Observer;
use support::*;

#[test]
fn a_restarted_job_shows_its_restart_and_its_checkpoints() {
    let root = tempfile::tempdir().unwrap();
    let dirs = Dirs::in_(root.path());
    let lines = write_input(&dirs.input, 2, 3_000);
    let (input, output) = (dirs.input.clone(), dirs.output.clone());

    // The first attempt fails after some checkpoints.
    let first = Observer::start("127.0.0.1:0".parse::<SocketAddr>().unwrap()).unwrap();
    let (i, o) = (input.clone(), output.clone());
    let failed = job(&dirs, 2, first.metrics.clone())
        .run(move |env| build_with_poison(env, &i, &o, Some(1_500), Some(2_500)));
    assert!(failed.unwrap_err().to_string().contains("poisoned at 2500"));
    let before = get_json(first.addr, "/jobs/current/checkpoints");
    let restored_from = before["last_completed_id"].as_u64().expect("a checkpoint before the failure");
    assert!(on_disk(&dirs.checkpoints, restored_from));
    assert_eq!(get_json(first.addr, "/jobs/current")["restarts"], 0);

    // The supervisor's next attempt.
    std::env::set_var("EDDY_ATTEMPT", "1");
    let second = Observer::start("127.0.0.1:0".parse::<SocketAddr>().unwrap()).unwrap();
    let mut checkpoint = CheckpointConfig::new(&dirs.checkpoints, std::time::Duration::from_millis(300));
    checkpoint.restore = Some(RestoreFrom::Latest);
    let config = JobConfig {
        checkpoint: Some(checkpoint),
        metrics: Some(second.metrics.clone()),
        ..JobConfig::with_workers(2)
    };
    Job::new(config).run(move |env| build(env, &input, &output, None)).unwrap();

    let overview = get_json(second.addr, "/jobs/current");
    assert_eq!(overview["state"], "finished");
    assert_eq!(overview["restarts"], 1);
    let scrape = scrape(second.addr);
    assert_eq!(sum(&scrape, "eddy_job_restarts_total", |_| true), 1.0);
    assert_eq!(get_json(second.addr, "/jobs/current/config")["checkpoint"]["restore"], "Latest");
    let checkpoints = get_json(second.addr, "/jobs/current/checkpoints");
    let history = checkpoints["history"].as_array().unwrap();
    assert!(!history.is_empty());
    // Ids continue after the restored checkpoint; the newest is complete on disk.
    for record in history {
        assert!(record["id"].as_u64().unwrap() > restored_from, "{record}");
        assert_eq!(record["status"], "completed", "{record}");
    }
    let last = checkpoints["last_completed_id"].as_u64().unwrap();
    assert!(on_disk(&dirs.checkpoints, last));
    // Exactly once across the failure: one committed row per input line.
    assert_eq!(committed_rows(&dirs.output), lines);
    let source_out =
        sum(&scrape, "eddy_operator_records_out_total", |labels| labels.get("uid") == Some("events"));
    assert_eq!(source_out, sum(&scrape, "eddy_source_records_total", |_| true));
}
