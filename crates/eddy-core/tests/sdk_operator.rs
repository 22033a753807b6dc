//! The operator SDK as a crate above eddy-core uses it: a keyed counting operator built
//! directly on timely (exchange by key hash, apply a logical time once the frontier has passed
//! it), whose state is a custom part kind with a version. It must take part in checkpoints like
//! the built-in operators: a job that fails and is restored from its latest checkpoint, also at
//! another worker count, commits exactly what a run without failures commits.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use eddy_connectors::{FileSink, GeneratorSource};
use eddy_core::checkpoint::{store, CheckpointConfig, PartKind, RestoreFrom};
use eddy_core::hash::{key_hash, worker_for_hash, HashMap};
use eddy_core::prelude::*;
use eddy_core::sdk::{CheckpointedState, Record, RestoredState, Snapshot};
use eddy_testkit::output::committed_sorted;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::Capability;

/// Counts per key; the part is `(key, count)` pairs sorted by key hash.
#[derive(Default)]
struct Counts(HashMap<u64, u64>);

impl CheckpointedState for Counts {
    fn kind(&self) -> PartKind {
        PartKind::custom("test-counts").unwrap()
    }
    fn version(&self) -> u32 {
        2
    }
    fn snapshot(&mut self) -> eddy_core::Result<Snapshot> {
        let mut entries: Vec<(u64, u64)> = self.0.iter().map(|(key, count)| (*key, *count)).collect();
        entries.sort_by_key(|(key, _)| key_hash(key));
        let bytes = serde_json::to_vec(&entries).unwrap();
        Ok(Snapshot::new(bytes, entries.len() as u64))
    }
    fn restore(&mut self, restored: &RestoredState<'_>) -> eddy_core::Result<()> {
        assert_eq!(restored.version, Some(2));
        for (_, bytes) in restored.parts {
            let entries: Vec<(u64, u64)> = serde_json::from_slice(bytes).unwrap();
            for (key, count) in entries {
                if worker_for_hash(key_hash(&key), restored.workers) == restored.worker_index {
                    self.0.insert(key, count);
                }
            }
        }
        Ok(())
    }
}

/// `(key, n)` -> "key count" for every record, counting per key.
fn count_per_key<'scope>(input: DataStream<'scope, (u64, u64)>) -> DataStream<'scope, String> {
    let env = input.env();
    let mut operator = env.stateful_operator("count");
    let peers = env.workers();
    let mut builder = OperatorBuilder::new("Count".to_owned(), env.scope());
    let mut input = builder.new_input(
        input.into_timely(),
        Exchange::new(move |record: &Record<(u64, u64)>| {
            worker_for_hash(key_hash(&record.value.0), peers) as u64
        }),
    );
    let (output, stream) = builder.new_output::<Vec<Record<String>>>();
    let mut output = OutputBuilder::from(output);
    // The stream names the operator's state: `.uid(..)` on it names the part in checkpoints.
    let counted = DataStream::from_stateful(&env, stream, &operator);
    builder.build(move |_capabilities| {
        let mut counts = Counts::default();
        let mut stash: BTreeMap<u64, (Capability<u64>, Vec<Record<(u64, u64)>>)> = BTreeMap::new();
        move |frontiers| {
            if let Err(error) = operator.restore(&mut counts) {
                operator.fail(error);
            }
            input.for_each(|capability, batch| {
                let Some(&time) = capability.least() else { return };
                let entry = stash.entry(time).or_insert_with(|| (capability.delayed(&time, 0), Vec::new()));
                entry.1.append(batch);
            });
            if operator.stopping() {
                stash.clear();
                return;
            }
            let frontier = frontiers[0].frontier().iter().next().copied();
            let mut output = output.activate();
            loop {
                let hold = operator.hold_from();
                let limit = frontier.unwrap_or(u64::MAX).min(hold.unwrap_or(u64::MAX));
                while let Some(entry) = stash.first_entry().filter(|entry| *entry.key() < limit) {
                    let (capability, mut records) = entry.remove();
                    records.sort_by_key(|record| (record.value, record.tag));
                    let mut out: Vec<Record<String>> = records
                        .into_iter()
                        .map(|record| {
                            let count = counts.0.entry(record.value.0).or_default();
                            *count += 1;
                            Record::new(record.timestamp, record.tag, format!("{} {count}", record.value.0))
                        })
                        .collect();
                    output.session(&capability).give_container(&mut out);
                }
                match hold {
                    Some(time) if frontier.is_none_or(|frontier| frontier >= time) => {
                        if let Err(error) = operator.step(&mut counts, Some(time)) {
                            operator.fail(error);
                            return;
                        }
                    }
                    _ => break,
                }
            }
            if frontier.is_none() {
                if let Err(error) = operator.step(&mut counts, None) {
                    operator.fail(error);
                }
            }
        }
    });
    counted
}

const KEYS: u64 = 7;

fn build(
    env: &mut Env<'_>,
    rate: Option<u64>,
    output: &Path,
    fail_after: Arc<AtomicU64>,
) -> eddy_core::Result<()> {
    let mut source = GeneratorSource::new(3, |split, n| (split as u64 * 100 + n % KEYS, n)).with_count(2_000);
    if let Some(rate) = rate {
        source = source.with_rate(rate);
    }
    let events = env
        .from_source(
            source,
            WatermarkStrategy::monotonous_timestamps().with_timestamps(|&(_, n)| n).with_emit_every(8),
        )
        .uid("numbers")
        .inspect(move |_, _| {
            if fail_after.fetch_sub(1, Ordering::SeqCst) == 1 {
                panic!("injected failure");
            }
        });
    count_per_key(events).uid("counts").sink(FileSink::json_lines(output)).uid("out");
    Ok(())
}

fn config(workers: usize, checkpoints: &Path, restore: Option<RestoreFrom>) -> JobConfig {
    let mut checkpoint = CheckpointConfig::new(checkpoints, Duration::from_millis(20));
    checkpoint.restore = restore;
    JobConfig { checkpoint: Some(checkpoint), ..JobConfig::with_workers(workers) }
}

#[test]
fn an_sdk_operator_restores_exactly_once_at_another_worker_count() {
    let dir = tempfile::tempdir().unwrap();
    let (reference, output, checkpoints) =
        (dir.path().join("ref"), dir.path().join("out"), dir.path().join("chk"));
    let never = Arc::new(AtomicU64::new(u64::MAX));
    Job::new(JobConfig::with_workers(2))
        .run({
            let reference = reference.clone();
            move |env| build(env, None, &reference, Arc::clone(&never))
        })
        .unwrap();
    let expected = committed_sorted(&reference);
    assert_eq!(expected.len(), 6_000);

    // Fails after 3 000 records, at 2 workers, having taken checkpoints on the way.
    let failing = Arc::new(AtomicU64::new(3_000));
    let result = Job::new(config(2, &checkpoints, None)).run({
        let output = output.clone();
        move |env| build(env, Some(20_000), &output, Arc::clone(&failing))
    });
    assert!(result.is_err(), "the injected failure fails the job");
    let manifest = store::list_checkpoints(&checkpoints)
        .unwrap()
        .into_iter()
        .find_map(|(_, path)| store::read_manifest(&path).ok())
        .expect("a complete checkpoint before the failure");
    let counts =
        manifest.operators.iter().find(|operator| operator.uid == "counts").expect("the operator's state");
    assert_eq!((counts.kind.as_str(), counts.version), ("test-counts", Some(2)));
    assert!(committed_sorted(&output).len() < 6_000);

    // Restored at 3 workers, it commits exactly the reference output.
    let never = Arc::new(AtomicU64::new(u64::MAX));
    Job::new(config(3, &checkpoints, Some(RestoreFrom::Latest)))
        .run({
            let output = output.clone();
            move |env| build(env, None, &output, Arc::clone(&never))
        })
        .unwrap();
    assert_eq!(committed_sorted(&output), expected);
}
