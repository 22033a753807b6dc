//! A 3-process job (this test binary run three times as `child_process`, one process of one
//! worker each): the leader's REST API and metrics show every process's workers and counts,
//! gathered over the coordinators' control link.

mod support;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use eddy_core::checkpoint::CheckpointConfig;
use eddy_core::cluster::ClusterConfig;
use eddy_core::prelude::*;
use eddy_observe::Observer;
use support::*;

const PROCESSES: usize = 3;

/// One process of the job, when started by the test below (otherwise it does nothing).
#[test]
#[ignore = "a child of the_leader_serves_every_process"]
fn child_process() {
    let (Ok(process), Ok(ports), Ok(root)) = (
        std::env::var("OBSERVE_CHILD_PROCESS"),
        std::env::var("OBSERVE_CHILD_PORTS"),
        std::env::var("OBSERVE_CHILD_ROOT"),
    ) else {
        return;
    };
    let process: usize = process.parse().unwrap();
    let addresses: Vec<String> = ports.split(',').map(|port| format!("127.0.0.1:{port}")).collect();
    let dirs = Dirs::in_(&PathBuf::from(&root));
    let observer = Observer::start("127.0.0.1:0".parse::<SocketAddr>().unwrap()).unwrap();
    println!("OBSERVE_ADDR {}", observer.addr);
    let config = JobConfig {
        cluster: Some(ClusterConfig::new(process, addresses).unwrap()),
        checkpoint: Some(CheckpointConfig::new(&dirs.checkpoints, Duration::from_millis(300))),
        metrics: Some(observer.metrics.clone()),
        ..JobConfig::with_workers(1)
    };
    let (input, output) = (dirs.input.clone(), dirs.output.clone());
    Job::new(config).run(move |env| build(env, &input, &output, Some(1_500))).unwrap();
    // The leader keeps serving until the test has looked.
    let done = dirs.input.join("../looked");
    for _ in 0..600 {
        if process != 0 || done.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn the_leader_serves_every_process() {
    let root = tempfile::tempdir().unwrap();
    let dirs = Dirs::in_(root.path());
    let lines = write_input(&dirs.input, PROCESSES, 3_000);
    let ports: Vec<String> = (0..PROCESSES).map(|_| free_port().to_string()).collect();
    let mut children: Vec<_> = (0..PROCESSES)
        .map(|process| {
            Command::new(std::env::current_exe().unwrap())
                .args(["child_process", "--exact", "--ignored", "--nocapture"])
                .env("OBSERVE_CHILD_PROCESS", process.to_string())
                .env("OBSERVE_CHILD_PORTS", ports.join(","))
                .env("OBSERVE_CHILD_ROOT", root.path())
                .stdout(if process == 0 { Stdio::piped() } else { Stdio::null() })
                .stderr(std::fs::File::create(root.path().join(format!("p{process}.log"))).unwrap())
                .spawn()
                .unwrap()
        })
        .collect();
    // Read the leader's output to its end (a closed pipe would fail it).
    let stdout = BufReader::new(children[0].stdout.take().unwrap());
    let (sender, receiver) = std::sync::mpsc::channel::<SocketAddr>();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(|line| line.ok()) {
            if let Some(addr) = line.strip_prefix("OBSERVE_ADDR ") {
                let _ = sender.send(addr.parse().unwrap());
            }
        }
    });
    let addr = receiver.recv_timeout(Duration::from_secs(60)).expect("the leader's address");
    let mut overview = serde_json::Value::Null;
    for _ in 0..600 {
        overview = get_json(addr, "/jobs/current");
        if overview["state"] == "finished" || overview["state"] == "failed" {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let snapshot = get_json(addr, "/jobs/current/snapshot");
    let scrape = scrape(addr);
    std::fs::write(root.path().join("looked"), "").unwrap();
    for (process, child) in children.iter_mut().enumerate() {
        let log = || std::fs::read_to_string(root.path().join(format!("p{process}.log"))).unwrap_or_default();
        assert!(child.wait().unwrap().success(), "process {process} failed:\n{}", log());
    }
    assert_eq!(overview["state"], "finished", "{overview}");
    assert_eq!(overview["total_workers"], 3);
    let processes: Vec<u64> = snapshot["process_figures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["process"].as_u64().unwrap())
        .collect();
    assert_eq!(processes, [0, 1, 2], "{}", snapshot["process_figures"]);
    for figures in snapshot["process_figures"].as_array().unwrap() {
        assert_eq!(figures["workers"], serde_json::json!([figures["process"]]));
        assert_eq!(figures["state"], "finished");
        assert_eq!(figures["records_read"], 3_000, "one file per process");
    }
    // Every operator runs on the three workers of the three processes.
    for operator in snapshot["operators"].as_array().unwrap() {
        let workers: Vec<u64> =
            operator["workers"].as_array().unwrap().iter().map(|w| w["worker"].as_u64().unwrap()).collect();
        assert_eq!(workers, [0, 1, 2], "{operator}");
        assert_eq!(operator["parallelism"], 3);
    }
    let rows = committed_rows(&dirs.output);
    assert_eq!(overview["records_read"], lines);
    assert_eq!(overview["records_out"], rows);
    assert_eq!(sum(&scrape, "eddy_source_records_total", |_| true), lines as f64);
    let source_out =
        sum(&scrape, "eddy_operator_records_out_total", |labels| labels.get("uid") == Some("events"));
    assert_eq!(source_out, lines as f64);
    let workers: std::collections::BTreeSet<&str> = scrape
        .samples
        .iter()
        .filter(|sample| sample.metric == "eddy_operator_records_in_total")
        .filter_map(|sample| sample.labels.get("worker"))
        .collect();
    assert_eq!(workers.into_iter().collect::<Vec<_>>(), ["0", "1", "2"]);
}
