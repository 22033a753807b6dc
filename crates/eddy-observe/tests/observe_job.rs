//! A watched job's `/metrics` (parsed as Prometheus text) and REST API, checked against what the
//! job did: its input lines, its committed output rows, its checkpoints on disk.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use eddy_observe::Observer;
use support::*;

fn observer() -> Observer {
    Observer::start("127.0.0.1:0".parse::<SocketAddr>().unwrap()).unwrap()
}

#[test]
fn metrics_and_rest_agree_with_a_running_and_a_finished_job() {
    let root = tempfile::tempdir().unwrap();
    let dirs = Dirs::in_(root.path());
    let lines = write_input(&dirs.input, 2, 3_000);
    let observer = observer();
    let addr = observer.addr;
    let job = job(&dirs, 2, observer.metrics.clone());
    let (input, output) = (dirs.input.clone(), dirs.output.clone());
    let running = std::thread::spawn(move || job.run(move |env| build(env, &input, &output, Some(1_500))));

    // While it runs: the source counter moves between two looks and never passes the input.
    let mut looks = Vec::new();
    for _ in 0..200 {
        let scrape = scrape(addr);
        let read = sum(&scrape, "eddy_source_records_total", |_| true);
        if sum(&scrape, "eddy_job_running", |_| true) == 1.0 && read > 0.0 {
            looks.push(read);
            if looks.len() == 2 {
                break;
            }
            std::thread::sleep(Duration::from_millis(400));
        } else {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    assert_eq!(looks.len(), 2, "the job never showed as running with records read");
    assert!(looks[0] < looks[1] && looks[1] < lines as f64, "records read: {looks:?} of {lines}");
    let overview = get_json(addr, "/jobs/current");
    assert_eq!(overview["state"], "running");
    assert_eq!(overview["workers"], 2);

    let summary = running.join().unwrap().unwrap();
    assert_eq!(summary.records_read, lines);

    // Finished: every counter agrees with the input and the committed output.
    let scrape = scrape(addr);
    let rows = committed_rows(&dirs.output);
    assert!(rows > 0);
    assert_eq!(sum(&scrape, "eddy_source_records_total", |_| true), lines as f64);
    assert_eq!(sum(&scrape, "eddy_sink_records_total", |_| true), rows as f64);
    assert_eq!(sum(&scrape, "eddy_job_running", |_| true), 0.0);
    let named = |prefix: &'static str| {
        move |labels: &prometheus_parse::Labels| {
            labels.get("name").is_some_and(|name| name.starts_with(prefix))
        }
    };
    assert_eq!(sum(&scrape, "eddy_operator_records_out_total", named("Source(")), lines as f64);
    assert_eq!(sum(&scrape, "eddy_operator_records_in_total", named("Sink(")), rows as f64);
    let workers: std::collections::BTreeSet<String> = scrape
        .samples
        .iter()
        .filter(|sample| sample.metric == "eddy_operator_records_in_total")
        .filter_map(|sample| sample.labels.get("worker").map(str::to_owned))
        .collect();
    assert_eq!(workers.into_iter().collect::<Vec<_>>(), ["0", "1"]);
    // Keying moves records between the two workers.
    assert!(sum(&scrape, "eddy_operator_records_exchanged_total", |_| true) > 0.0);
    let completed = sum(&scrape, "eddy_checkpoints_completed_total", |_| true);
    assert!(completed >= 1.0, "no checkpoint completed");
    assert_eq!(sum(&scrape, "eddy_checkpoint_duration_seconds_count", |_| true), completed);
    let last = sum(&scrape, "eddy_checkpoint_last_completed_id", |_| true) as u64;
    assert!(on_disk(&dirs.checkpoints, last), "checkpoint {last} is not on disk");

    // REST: the graph names the job's operators and uids, the history its checkpoints.
    let jobs = get_json(addr, "/jobs");
    assert_eq!(jobs["jobs"][0]["state"], "finished");
    assert_eq!(jobs["jobs"][0]["records_read"], lines);
    assert_eq!(jobs["jobs"][0]["records_out"], rows);
    let graph = get_json(addr, "/jobs/current/graph");
    let operators = graph["operators"].as_array().unwrap();
    let uid_of = |uid: &str| {
        operators
            .iter()
            .find(|operator| operator["uid"] == uid)
            .unwrap_or_else(|| panic!("no operator with uid {uid}: {graph}"))
    };
    assert!(uid_of("events")["name"].as_str().unwrap().starts_with("Source("));
    assert!(uid_of("output")["name"].as_str().unwrap().starts_with("Sink("));
    assert_eq!(uid_of("sums")["parallelism"], 2);
    let ids: Vec<&str> = operators.iter().map(|operator| operator["id"].as_str().unwrap()).collect();
    let edges = graph["edges"].as_array().unwrap();
    assert!(!edges.is_empty());
    for edge in edges {
        assert!(
            ids.contains(&edge["source"].as_str().unwrap())
                && ids.contains(&edge["target"].as_str().unwrap()),
            "{edge}"
        );
    }
    let into_sums: Vec<_> = edges.iter().filter(|edge| edge["target"] == uid_of("sums")["id"]).collect();
    assert!(into_sums.iter().any(|edge| edge["exchange"] == "exchange"), "{into_sums:?}");
    let checkpoints = get_json(addr, "/jobs/current/checkpoints");
    let history = checkpoints["history"].as_array().unwrap();
    let completed_ids: Vec<u64> = history
        .iter()
        .filter(|record| record["status"] == "completed")
        .map(|record| record["id"].as_u64().unwrap())
        .collect();
    assert_eq!(completed_ids.len() as f64, completed);
    assert_eq!(completed_ids.last(), Some(&last));
    assert_eq!(checkpoints["last_completed_id"], last);
    assert!(history.iter().all(|record| record["status"] != "in_progress"), "{history:?}");
    assert_eq!(get_json(addr, "/jobs/current/exception")["exception"], serde_json::Value::Null);
    let config = get_json(addr, "/jobs/current/config");
    assert_eq!(config["workers"], 2);
    assert_eq!(config["checkpoint"]["interval_ms"], 300);
    let operators = get_json(addr, "/jobs/current/operators");
    let sink = operators["operators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|operator| operator["uid"] == "output")
        .unwrap();
    assert_eq!(sink["records_in"], rows);
    assert_eq!(sink["workers"].as_array().unwrap().len(), 2);
    assert_eq!(get(addr, "/nope").0, 404);
}

#[test]
fn a_failed_job_shows_its_error_with_the_worker_and_the_operator() {
    let root = tempfile::tempdir().unwrap();
    let dirs = Dirs::in_(root.path());
    write_input(&dirs.input, 1, 100);
    let observer = observer();
    let job = job(&dirs, 2, observer.metrics.clone());
    let input = dirs.input.clone();
    let result = job.run(move |env| {
        use eddy_core::prelude::*;
        let source = eddy_connectors::FileSource::<Event>::json_lines(&input).with_extension("jsonl");
        env.from_source(
            source,
            WatermarkStrategy::monotonous_timestamps().with_timestamps(|event: &Event| event.ts),
        )
        .map(|event: Event| {
            assert!(event.value != 42, "event 42 is poison");
            event
        })
        .print();
        Ok(())
    });
    let error = result.unwrap_err().to_string();
    assert!(error.contains("event 42 is poison"), "{error}");
    let overview = get_json(observer.addr, "/jobs/current");
    assert_eq!(overview["state"], "failed");
    let exception = &get_json(observer.addr, "/jobs/current/exception")["exception"];
    assert!(exception["message"].as_str().unwrap().contains("event 42 is poison"), "{exception}");
    // The input is one file, read by worker 0.
    assert_eq!(exception["worker"], 0);
    let operator = exception["operator"].as_str().unwrap_or_else(|| panic!("no operator: {exception}"));
    let graph = get_json(observer.addr, "/jobs/current/graph");
    let names: Vec<&str> = graph["operators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|operator| operator["name"].as_str().unwrap())
        .collect();
    assert!(names.iter().any(|name| operator.starts_with(name)), "{operator} is none of {names:?}");
    let scrape = scrape(observer.addr);
    assert_eq!(sum(&scrape, "eddy_job_failed", |_| true), 1.0);
}
