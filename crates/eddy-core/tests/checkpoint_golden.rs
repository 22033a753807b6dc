//! The checkpoint format is a promise: a savepoint written by an earlier version must restore
//! in every later one. `tests/golden/v1/` holds a stop-with-savepoint taken by format version 1
//! (2 workers) in the middle of the job below, with `committed-before.txt`, the output the
//! job had committed when it stopped. Restoring it (at 3 workers) must commit exactly the rest
//! of the output of a run without a stop.
//!
//! The job covers every kind of state: value, list and map state, event-time timers, a
//! tumbling window aggregate and merging session windows.
//!
//! Regenerate (only when a *new* format version is introduced, into a new directory, keeping
//! the old one): `EDDY_WRITE_GOLDEN=tests/golden/v2 cargo test -p eddy-core --test checkpoint_golden
//! -- --ignored`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use eddy_connectors::{FileSink, GeneratorSource};
use eddy_core::prelude::*;
use eddy_testkit::output::committed;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Event {
    user: String,
    ts: u64,
    amount: i64,
}

fn event(split: usize, n: u64) -> Event {
    Event {
        user: format!("u{}", (n * 5 + split as u64) % 17),
        ts: n * 20 + (n % 7) * 3 + split as u64,
        amount: (n % 13) as i64 - 4,
    }
}

/// Keeps the last three amounts (list), per-parity totals (map), and a count (value); reports
/// them one second of event time after a user's first event and every second after that.
#[derive(Default)]
struct Ledger {
    recent: Option<ListState<i64>>,
    by_parity: Option<MapState<bool, i64>>,
    count: Option<ValueState<u64>>,
}

impl KeyedProcessFunction<String, Event, String> for Ledger {
    fn open(&mut self, ctx: &mut OpenContext<'_, String>) {
        self.recent = Some(ctx.list_state("recent"));
        self.by_parity = Some(ctx.map_state("by-parity"));
        self.count = Some(ctx.value_state("count"));
    }
    fn process_element(&mut self, event: Event, ctx: &mut Context<'_, String, String>) {
        let (recent, by_parity, count) =
            (self.recent.as_ref().unwrap(), self.by_parity.as_ref().unwrap(), self.count.as_ref().unwrap());
        let seen = count.value(ctx).unwrap_or(0);
        if seen == 0 {
            let at = event.ts + 1_000;
            ctx.register_event_time_timer(at);
        }
        count.update(ctx, seen + 1);
        let mut last = recent.get(ctx);
        last.push(event.amount);
        if last.len() > 3 {
            last.remove(0);
        }
        recent.update(ctx, last);
        let even = event.amount % 2 == 0;
        let total = by_parity.get(ctx, &even).unwrap_or(0);
        by_parity.put(ctx, even, total + event.amount);
    }
    fn on_timer(&mut self, timestamp: u64, ctx: &mut Context<'_, String, String>) {
        let recent = self.recent.as_ref().unwrap().get(ctx);
        let mut parity = self.by_parity.as_ref().unwrap().entries(ctx);
        parity.sort();
        let count = self.count.as_ref().unwrap().value(ctx).unwrap_or(0);
        let user = ctx.key().clone();
        ctx.emit(format!("ledger {user} {timestamp} {count} {recent:?} {parity:?}"));
        if timestamp < 60_000 {
            ctx.register_event_time_timer(timestamp + 1_000);
        }
    }
}

struct Describe(&'static str);
impl ProcessWindowFunction<String, Event, String> for Describe {
    fn process(
        &mut self,
        user: &String,
        window: &Window,
        events: &[Event],
        ctx: &mut WindowContext<'_, String>,
    ) {
        let total: i64 = events.iter().map(|event| event.amount).sum();
        ctx.emit(format!("{} {user} {} {} {} {total}", self.0, window.start, window.end, events.len()));
    }
}

fn build(env: &mut Env<'_>, output: &Path, rate: Option<u64>) -> Result<()> {
    let mut source = GeneratorSource::new(2, event).with_count(2_000);
    if let Some(rate) = rate {
        source = source.with_rate(rate);
    }
    let events = env
        .from_source(
            source,
            WatermarkStrategy::bounded_out_of_orderness(50)
                .with_timestamps(|e: &Event| e.ts)
                .with_emit_every(16),
        )
        .uid("events");
    let ledger = events.clone().key_by(|e: &Event| e.user.clone()).process(Ledger::default()).uid("ledger");
    let sessions = events
        .clone()
        .key_by(|e: &Event| e.user.clone())
        .window(EventTimeSessionWindows::with_gap(150))
        .process(Describe("session"))
        .uid("sessions");
    let tumbling = events
        .key_by(|e: &Event| e.user.clone())
        .window(TumblingEventTimeWindows::of(2_000))
        .process(Describe("tumbling"))
        .uid("tumbling");
    ledger.union([sessions, tumbling]).sink(FileSink::json_lines(output)).uid("output");
    Ok(())
}

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/v1")
}

#[test]
fn a_version_1_savepoint_restores_at_another_parallelism() {
    let dir = tempfile::tempdir().unwrap();
    let reference_out = dir.path().join("reference");
    let out = reference_out.clone();
    Job::new(JobConfig::with_workers(1)).run(move |env| build(env, &out, None)).unwrap();
    let reference = committed(&reference_out);

    let before: Vec<String> = std::fs::read_to_string(golden().join("committed-before.txt"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let manifest = eddy_core::checkpoint::store::read_manifest(&golden().join("savepoint")).unwrap();
    assert_eq!((manifest.version, manifest.workers), (1, 2));

    let output = dir.path().join("out");
    let config = CheckpointConfig::new(dir.path().join("chk"), Duration::from_millis(50))
        .restore(RestoreFrom::Path(golden().join("savepoint")));
    let out = output.clone();
    Job::new(JobConfig { checkpoint: Some(config), ..JobConfig::with_workers(3) })
        .run(move |env| build(env, &out, None))
        .unwrap();
    let mut all = committed(&output);
    for line in before {
        *all.entry(line).or_insert(0) += 1;
    }
    assert_eq!(all, reference, "output before the savepoint plus output after the restore");
}

/// Writes a new golden savepoint into `$EDDY_WRITE_GOLDEN` (relative to this crate).
#[test]
#[ignore]
fn write_golden_savepoint() {
    let Ok(target) = std::env::var("EDDY_WRITE_GOLDEN") else { return };
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join(target);
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out");
    let config =
        CheckpointConfig { interval: None, ..CheckpointConfig::new(dir.path().join("chk"), Duration::ZERO) };
    let job = Job::new(JobConfig { checkpoint: Some(config), ..JobConfig::with_workers(2) });
    let control = job.control();
    let savepoint = target.join("savepoint");
    let requester = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(400));
        control.request(ControlRequest::Savepoint { target: Some(savepoint), stop: true }).unwrap()
    });
    let out = output.clone();
    let summary = job.run(move |env| build(env, &out, Some(2_000))).unwrap();
    assert!(requester.join().unwrap().ok && summary.stopped_with_savepoint);
    let mut before: Vec<String> =
        committed(&output).into_iter().flat_map(|(line, count)| std::iter::repeat_n(line, count)).collect();
    before.sort();
    std::fs::write(target.join("committed-before.txt"), before.join("\n") + "\n").unwrap();
}
