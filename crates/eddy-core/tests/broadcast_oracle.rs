//! Broadcast state (`broadcast` + `connect(...).process`): random out-of-order data and rule
//! updates flowing at the same time, at 1, 2 and 4 workers, against a single-threaded
//! reference of the documented order (per logical time: rules in event-time order, then data
//! in (key hash, event time) order). Also: checkpoints restore the rules at another
//! parallelism, with rules that are never replayed after the restore.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use eddy_connectors::{CollectSink, CollectionSource, FileSink, GeneratorSource};
use eddy_core::hash::key_hash;
use eddy_core::prelude::*;
use eddy_testkit::failure::{fail_and_restore, InjectedFailure};
use eddy_testkit::oracle::{self, Disorder};
use eddy_testkit::output::{assert_same_lines, committed};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

const DELAY: u64 = 30;
const EMIT_EVERY: u64 = 3;
const CLASSES: u32 = 3;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
struct Event {
    key: u32,
    ts: u64,
    value: u64,
}

/// A rule: records of keys in `class` above `threshold` alert; threshold 0 deletes the rule
/// and resets the counts of the class's keys (through `apply_to_keyed_state`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
struct Rule {
    class: u32,
    threshold: u64,
    ts: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
enum Out {
    Alert { key: u32, value: u64, threshold: u64, count: u64, watermark: u64 },
    RuleSet { class: u32, threshold: u64, rules: usize },
}

/// The keyed function under test.
#[derive(Default)]
struct Alerts {
    count: Option<ValueState<u64>>,
}

impl KeyedBroadcastProcessFunction<u32, Event, Rule, u32, u64, Out> for Alerts {
    fn open(&mut self, ctx: &mut OpenContext<'_, u32>) {
        self.count = Some(ctx.value_state("count"));
    }

    fn process_element(&mut self, event: Event, ctx: &mut KeyedReadOnlyContext<'_, u32, u32, u64, Out>) {
        let count_state = self.count.clone().unwrap();
        let count = count_state.value(ctx).unwrap_or(0) + 1;
        count_state.update(ctx, count);
        if let Some(&threshold) = ctx.broadcast_state().get(&(event.key % CLASSES)) {
            if event.value > threshold {
                let watermark = ctx.current_watermark();
                ctx.emit(Out::Alert { key: event.key, value: event.value, threshold, count, watermark });
            }
        }
    }

    fn process_broadcast_element(
        &mut self,
        rule: Rule,
        ctx: &mut KeyedBroadcastContext<'_, u32, u32, u64, Out>,
    ) {
        if rule.threshold == 0 {
            ctx.broadcast_state().remove(&rule.class);
            let count_state = self.count.clone().unwrap();
            ctx.apply_to_keyed_state(|view| {
                if *view.key() % CLASSES == rule.class {
                    count_state.clear(view);
                }
            });
            let rules = ctx.broadcast_state().len();
            ctx.emit(Out::RuleSet { class: rule.class, threshold: 0, rules });
        } else {
            ctx.broadcast_state().put(rule.class, rule.threshold);
            let rules = ctx.broadcast_state().len();
            ctx.emit(Out::RuleSet { class: rule.class, threshold: rule.threshold, rules });
        }
    }
}

/// Random data (`splits` partitions) and two partitions of rules, all out of order.
fn random_input(seed: u64, splits: usize, per_split: usize) -> (Vec<Vec<Event>>, Vec<Vec<Rule>>) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut partitions = Vec::new();
    let mut stamps = oracle::unique_timestamps(&mut rng, splits + 2, per_split, 3);
    let rule_stamps = stamps.split_off(splits);
    for mut mine in stamps {
        oracle::disorder(&mut rng, &mut mine, Disorder::default());
        partitions.push(
            mine.into_iter()
                .map(|ts| Event { key: rng.gen_range(0..12), ts, value: rng.gen_range(0..100) })
                .collect(),
        );
    }
    // Rules: far fewer, spread over the whole input, one in five deletes its class's rule.
    let mut rules = Vec::new();
    for stamps in rule_stamps {
        let mut mine: Vec<Rule> = stamps
            .into_iter()
            .step_by(16)
            .map(|ts| Rule {
                class: rng.gen_range(0..CLASSES),
                threshold: if rng.gen_range(0..5) == 0 { 0 } else { rng.gen_range(1..100) },
                ts,
            })
            .collect();
        oracle::disorder(&mut rng, &mut mine, Disorder::default());
        rules.push(mine);
    }
    (partitions, rules)
}

fn times<T>(records: &[T], ts: impl Fn(&T) -> u64) -> Vec<u64> {
    oracle::logical_times(records.iter().map(ts), DELAY, EMIT_EVERY)
}

/// The single-threaded reference of the documented order; outputs by logical time.
fn reference(partitions: &[Vec<Event>], rules: &[Vec<Rule>]) -> BTreeMap<u64, Vec<Out>> {
    let mut by_time: BTreeMap<u64, (Vec<Rule>, Vec<Event>)> = BTreeMap::new();
    for rules in rules {
        for (rule, time) in rules.iter().zip(times(rules, |rule| rule.ts)) {
            by_time.entry(time).or_default().0.push(rule.clone());
        }
    }
    for partition in partitions {
        for (event, time) in partition.iter().zip(times(partition, |event| event.ts)) {
            by_time.entry(time).or_default().1.push(event.clone());
        }
    }
    let mut state: BTreeMap<u32, u64> = BTreeMap::new();
    let mut counts: BTreeMap<u32, u64> = BTreeMap::new();
    let mut out: BTreeMap<u64, Vec<Out>> = BTreeMap::new();
    for (time, (mut rules, mut events)) in by_time {
        rules.sort_by_key(|rule| rule.ts);
        for rule in rules {
            if rule.threshold == 0 {
                state.remove(&rule.class);
                counts.retain(|key, _| key % CLASSES != rule.class);
            } else {
                state.insert(rule.class, rule.threshold);
            }
            let rules = state.len();
            out.entry(time).or_default().push(Out::RuleSet {
                class: rule.class,
                threshold: rule.threshold,
                rules,
            });
        }
        events.sort_by_key(|event| (key_hash(&event.key), event.ts));
        for event in events {
            let count = counts.entry(event.key).or_insert(0);
            *count += 1;
            if let Some(&threshold) = state.get(&(event.key % CLASSES)) {
                if event.value > threshold {
                    out.entry(time).or_default().push(Out::Alert {
                        key: event.key,
                        value: event.value,
                        threshold,
                        count: *count,
                        watermark: time,
                    });
                }
            }
        }
    }
    for outputs in out.values_mut() {
        outputs.sort();
    }
    out.retain(|_, outputs| !outputs.is_empty());
    out
}

fn strategy<T: 'static>(ts: fn(&T) -> u64) -> WatermarkStrategy<T> {
    WatermarkStrategy::bounded_out_of_orderness(DELAY).with_timestamps(ts).with_emit_every(EMIT_EVERY)
}

fn run(partitions: &[Vec<Event>], rules: &[Vec<Rule>], workers: usize) -> BTreeMap<u64, Vec<Out>> {
    let (sink, handle) = CollectSink::new();
    let (partitions, rules) = (partitions.to_vec(), rules.to_vec());
    Job::new(JobConfig::with_workers(workers))
        .run(move |env| {
            let rules = env
                .from_source(
                    CollectionSource::from_partitions(rules.clone()),
                    strategy(|rule: &Rule| rule.ts),
                )
                .broadcast(MapStateDescriptor::<u32, u64>::new("thresholds"));
            env.from_source(
                CollectionSource::from_partitions(partitions.clone()),
                strategy(|event: &Event| event.ts),
            )
            .key_by(|event| event.key)
            .connect(rules)
            .process(Alerts::default())
            .sink(sink.clone());
            Ok(())
        })
        .expect("job runs");
    let mut by_time: BTreeMap<u64, Vec<Out>> = BTreeMap::new();
    for (value, _, time) in handle.timed_records() {
        by_time.entry(time).or_default().push(value);
    }
    for outputs in by_time.values_mut() {
        outputs.sort();
    }
    by_time
}

#[test]
fn keyed_broadcast_matches_reference_at_any_worker_count() {
    for seed in 0..5 {
        let (partitions, rules) = random_input(seed, 3, 150);
        let expected = reference(&partitions, &rules);
        let alerts = expected.values().flatten().filter(|out| matches!(out, Out::Alert { .. })).count();
        let deletes = expected
            .values()
            .flatten()
            .filter(|out| matches!(out, Out::RuleSet { threshold: 0, .. }))
            .count();
        assert!(alerts > 50, "the input raises alerts (seed {seed}: {alerts})");
        assert!(deletes > 0, "the input deletes rules (seed {seed})");
        for workers in [1, 2, 4] {
            assert_eq!(run(&partitions, &rules, workers), expected, "seed {seed}, {workers} workers");
        }
    }
}

/// The non-keyed variant: every record tagged with the rule of its class (read-only), rules
/// updated on every worker.
struct Tag;

impl BroadcastProcessFunction<Event, Rule, u32, u64, (u32, u64, Option<u64>)> for Tag {
    fn process_element(
        &mut self,
        event: Event,
        ctx: &mut ReadOnlyContext<'_, u32, u64, (u32, u64, Option<u64>)>,
    ) {
        let rule = ctx.broadcast_state().get(&(event.key % CLASSES)).copied();
        ctx.emit((event.key, event.value, rule));
    }
    fn process_broadcast_element(
        &mut self,
        rule: Rule,
        ctx: &mut BroadcastContext<'_, u32, u64, (u32, u64, Option<u64>)>,
    ) {
        ctx.broadcast_state().put(rule.class, rule.threshold);
    }
}

#[test]
fn non_keyed_broadcast_matches_reference_at_any_worker_count() {
    let (partitions, rules) = random_input(42, 4, 120);
    let mut by_time: BTreeMap<u64, (Vec<Rule>, Vec<Event>)> = BTreeMap::new();
    for rules in &rules {
        for (rule, time) in rules.iter().zip(times(rules, |rule| rule.ts)) {
            by_time.entry(time).or_default().0.push(rule.clone());
        }
    }
    for partition in &partitions {
        for (event, time) in partition.iter().zip(times(partition, |event| event.ts)) {
            by_time.entry(time).or_default().1.push(event.clone());
        }
    }
    let mut state: BTreeMap<u32, u64> = BTreeMap::new();
    let mut expected: BTreeMap<u64, Vec<(u32, u64, Option<u64>)>> = BTreeMap::new();
    for (time, (mut rules, events)) in by_time {
        rules.sort_by_key(|rule| rule.ts);
        for rule in rules {
            state.insert(rule.class, rule.threshold);
        }
        for event in events {
            let rule = state.get(&(event.key % CLASSES)).copied();
            expected.entry(time).or_default().push((event.key, event.value, rule));
        }
    }
    for outputs in expected.values_mut() {
        outputs.sort();
    }
    for workers in [1, 2, 4] {
        let (sink, handle) = CollectSink::new();
        let (data, side) = (partitions.clone(), rules.clone());
        Job::new(JobConfig::with_workers(workers))
            .run(move |env| {
                let rules = env
                    .from_source(
                        CollectionSource::from_partitions(side.clone()),
                        strategy(|rule: &Rule| rule.ts),
                    )
                    .broadcast(MapStateDescriptor::<u32, u64>::new("rules"));
                env.from_source(
                    CollectionSource::from_partitions(data.clone()),
                    strategy(|event: &Event| event.ts),
                )
                .connect_broadcast(rules)
                .process(Tag)
                .sink(sink.clone());
                Ok(())
            })
            .unwrap();
        let mut got: BTreeMap<u64, Vec<(u32, u64, Option<u64>)>> = BTreeMap::new();
        for (value, _, time) in handle.timed_records() {
            got.entry(time).or_default().push(value);
        }
        for outputs in got.values_mut() {
            outputs.sort();
        }
        assert_eq!(got, expected, "{workers} workers");
    }
}

/// Data event `n` of split `s`; rules come only at the very beginning of event time.
fn data_event(split: usize, n: u64) -> Event {
    Event { key: (n % 17) as u32, ts: 100 + n * 2 + split as u64, value: (n * 37 + split as u64 * 11) % 100 }
}

fn rule_event(_split: usize, n: u64) -> Rule {
    Rule { class: (n % CLASSES as u64) as u32, threshold: 40 + n * 5, ts: n }
}

fn build_checkpointed(
    env: &mut Env<'_>,
    per_split: u64,
    output: &Path,
    failure: &Arc<InjectedFailure>,
) -> Result<()> {
    let rules = env
        .from_source(GeneratorSource::new(1, rule_event).with_count(6), strategy(|rule: &Rule| rule.ts))
        .uid("rules")
        .broadcast(MapStateDescriptor::<u32, u64>::new("thresholds"));
    let events = env
        .from_source(
            GeneratorSource::new(2, data_event).with_count(per_split).with_rate(10_000),
            strategy(|event: &Event| event.ts),
        )
        .uid("events");
    // Fails the job (a panicking worker) after so many data records.
    InjectedFailure::inject(failure, events)
        .key_by(|event| event.key)
        .connect(rules)
        .process(Alerts::default())
        .uid("alerts")
        .map(|out| format!("{out:?}"))
        .sink(FileSink::json_lines(output))
        .uid("out");
    Ok(())
}

#[test]
fn restore_at_another_parallelism_keeps_the_rules() {
    let per_split = 2_500;
    let dir = tempfile::tempdir().unwrap();
    let reference_output = dir.path().join("reference");
    let out = reference_output.clone();
    let never = InjectedFailure::never();
    Job::new(JobConfig::with_workers(1))
        .run(move |env| build_checkpointed(env, per_split, &out, &never))
        .unwrap();
    let expected = committed(&reference_output);
    assert!(expected.keys().filter(|line| line.contains("Alert")).count() > 1_000);

    for (attempts, fail_after) in [([2usize, 3], 3_000u64), ([4, 1], 2_000)] {
        let (checkpoints, output) =
            (dir.path().join(format!("chk-{fail_after}")), dir.path().join(format!("out-{fail_after}")));
        let out = output.clone();
        let build = move |env: &mut Env<'_>, failure: &Arc<InjectedFailure>| {
            build_checkpointed(env, per_split, &out, failure)
        };
        fail_and_restore(
            &checkpoints,
            Duration::from_millis(15),
            &attempts,
            &[fail_after],
            build,
            |attempt| {
                if attempt == 0 {
                    // A checkpoint completed after the rules were applied: the restored run reads
                    // no rule again (the rule source's position is restored), so only the
                    // restored broadcast state can give the alerts their thresholds.
                    let partial = committed(&output);
                    assert!(
                        partial.keys().any(|line| line.contains("RuleSet")),
                        "rules committed before the failure"
                    );
                    assert!(partial.len() < expected.len(), "failed before the end");
                }
            },
        );
        assert_same_lines(&committed(&output), &expected);
    }
}
