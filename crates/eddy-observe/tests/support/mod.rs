//! What the tests of a watched job share: an input of event files, the job (a file source, a
//! keyed rolling reduce, a two-phase-commit file sink, checkpoints), a plain HTTP client and
//! readers for the output and the checkpoint directory.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use eddy_connectors::{FileSink, FileSource};
use eddy_core::checkpoint::CheckpointConfig;
use eddy_core::metrics::JobMetrics;
use eddy_core::prelude::*;
use serde::{Deserialize, Serialize};

/// An input event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub key: String,
    pub ts: u64,
    pub value: i64,
}

/// Writes `files` files of `lines` events each into `dir`; returns the number of lines.
pub fn write_input(dir: &Path, files: usize, lines: usize) -> u64 {
    std::fs::create_dir_all(dir).unwrap();
    for file in 0..files {
        let mut text = String::new();
        for line in 0..lines {
            let event = Event { key: format!("k{}", line % 13), ts: (line as u64) * 10, value: line as i64 };
            text.push_str(&serde_json::to_string(&event).unwrap());
            text.push('\n');
        }
        std::fs::write(dir.join(format!("events-{file}.jsonl")), text).unwrap();
    }
    (files * lines) as u64
}

/// The job's directories.
pub struct Dirs {
    pub input: PathBuf,
    pub output: PathBuf,
    pub checkpoints: PathBuf,
}

impl Dirs {
    pub fn in_(root: &Path) -> Dirs {
        Dirs { input: root.join("in"), output: root.join("out"), checkpoints: root.join("chk") }
    }
}

/// A job of `workers` workers checkpointing every 300 ms into `dirs.checkpoints`, whose
/// figures go to `metrics`.
pub fn job(dirs: &Dirs, workers: usize, metrics: Arc<JobMetrics>) -> Job {
    let config = JobConfig {
        checkpoint: Some(CheckpointConfig::new(&dirs.checkpoints, Duration::from_millis(300))),
        metrics: Some(metrics),
        ..JobConfig::with_workers(workers)
    };
    Job::new(config)
}

/// Builds the dataflow on one worker: events (uid `events`, at most `rate` per second per
/// file) keyed and reduced to a running sum per key (uid `sums`), written to committed
/// JSON-lines files (uid `output`).
pub fn build(env: &mut Env<'_>, input: &Path, output: &Path, rate: Option<u64>) -> Result<()> {
    build_with_poison(env, input, output, rate, None)
}

/// [`build`], panicking at the event whose value is `poison`.
pub fn build_with_poison(
    env: &mut Env<'_>,
    input: &Path,
    output: &Path,
    rate: Option<u64>,
    poison: Option<i64>,
) -> Result<()> {
    let mut source = FileSource::<Event>::json_lines(input).with_extension("jsonl");
    if let Some(rate) = rate {
        source = source.with_max_rate(rate);
    }
    let strategy = WatermarkStrategy::bounded_out_of_orderness(100)
        .with_timestamps(|event: &Event| event.ts)
        .with_emit_every(64);
    env.from_source(source, strategy)
        .uid("events")
        .map(move |event: Event| {
            assert!(Some(event.value) != poison, "poisoned at {}", event.value);
            event
        })
        .key_by(|event: &Event| event.key.clone())
        .reduce(|a: &Event, b: &Event| Event {
            key: a.key.clone(),
            ts: a.ts.max(b.ts),
            value: a.value + b.value,
        })
        .uid("sums")
        .sink(FileSink::json_lines(output))
        .uid("output");
    Ok(())
}

/// Rows in the committed output files (names not starting with a dot).
pub fn committed_rows(output: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(output) else { return 0 };
    entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| !path.file_name().unwrap().to_string_lossy().starts_with('.'))
        .map(|path| std::fs::read_to_string(path).unwrap().lines().count() as u64)
        .sum()
}

/// Whether checkpoint `id` is complete on disk (its manifest exists).
pub fn on_disk(checkpoints: &Path, id: u64) -> bool {
    checkpoints.join(format!("chk-{id:010}")).join("_manifest.json").is_file()
}

/// `GET path`: status and body.
pub fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    (status, body.to_owned())
}

/// `GET path` as JSON.
pub fn get_json(addr: SocketAddr, path: &str) -> serde_json::Value {
    let (status, body) = get(addr, path);
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|error| panic!("GET {path}: {error}: {body}"))
}

/// `/metrics`, parsed by a Prometheus text parser.
pub fn scrape(addr: SocketAddr) -> prometheus_parse::Scrape {
    let (status, body) = get(addr, "/metrics");
    assert_eq!(status, 200, "{body}");
    let lines = body.lines().map(|line| Ok(line.to_owned()));
    prometheus_parse::Scrape::parse(lines)
        .unwrap_or_else(|error| panic!("unparsable metrics: {error}\n{body}"))
}

/// The sum of every sample of `name` whose labels satisfy `keep`.
pub fn sum(
    scrape: &prometheus_parse::Scrape,
    name: &str,
    keep: impl Fn(&prometheus_parse::Labels) -> bool,
) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|sample| sample.metric == name && keep(&sample.labels))
        .map(|sample| match sample.value {
            prometheus_parse::Value::Counter(value)
            | prometheus_parse::Value::Gauge(value)
            | prometheus_parse::Value::Untyped(value) => value,
            _ => 0.0,
        })
        .sum()
}
