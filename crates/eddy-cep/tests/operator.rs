//! The CEP operator in jobs: its matches and timed-out partial matches equal a per-key run of
//! the NFA over the events in timestamp order, at 1, 2 and 4 workers; late events go to their
//! side output; and a job that fails mid-stream and restores from its latest checkpoint (also
//! at another worker count), or stops with a savepoint and resumes at another parallelism,
//! commits exactly the output of an uninterrupted run.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use eddy_cep::{Match, Nfa, Pattern, PatternStreamExt, TimedOut};
use eddy_connectors::{CollectSink, CollectionSource, FileSink, GeneratorSource};
use eddy_core::prelude::*;
use eddy_testkit::output::committed;
use serde::{Deserialize, Serialize};

const CARDS: u64 = 11;
const SPLITS: usize = 4;
const TIMED_OUT: OutputTag<TimedOut<Txn>> = OutputTag::new("timed-out");
const LATE: OutputTag<Txn> = OutputTag::new("late");

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Txn {
    card: u64,
    split: usize,
    seq: u64,
    amount: u64,
    ts: u64,
}

/// Transaction `n` of split `s`: cards in rotation, pseudo-random amounts, event times a little
/// out of order across splits (never two of one card at one time).
fn txn(split: usize, n: u64) -> Txn {
    let amount = (n.wrapping_mul(2_654_435_761) ^ (split as u64 * 40_503)) % 100;
    Txn { card: (split as u64 * 7 + n) % CARDS, split, seq: n, amount, ts: n * 5 + split as u64 % 3 }
}

/// Fraud: a small charge followed by a large one, larger than 10x the small one, within 150 ms.
fn fraud() -> Pattern<Txn> {
    Pattern::begin("small")
        .where_fn(|t: &Txn| t.amount < 8)
        .followed_by("large")
        .where_iterative(|t: &Txn, view| {
            t.amount > 85 && view.events("small").first().is_some_and(|s| t.amount > 10 * s.amount)
        })
        .within(150)
}

fn describe_match(found: &Match<Txn>) -> String {
    let ids: Vec<String> = found.events().map(|t| format!("{}/{}", t.split, t.seq)).collect();
    format!("match card {} {}", found.events().next().map_or(0, |t| t.card), ids.join(" "))
}

fn describe_timeout(timed_out: &TimedOut<Txn>) -> String {
    format!("timeout {} at {}", describe_match(&timed_out.partial), timed_out.timestamp)
}

/// The expensive shape: every combination of middle-sized charges between a small and a
/// large one, within 60 ms.
fn any_combination() -> Pattern<Txn> {
    Pattern::begin("small")
        .where_fn(|t: &Txn| t.amount < 10)
        .followed_by_any("middle")
        .where_fn(|t: &Txn| (40..60).contains(&t.amount))
        .one_or_more()
        .allow_combinations()
        .followed_by("large")
        .where_fn(|t: &Txn| t.amount > 80)
        .within(60)
}

/// The per-key NFA over the events in timestamp order, then the end of time.
fn reference(per_split: u64) -> BTreeMap<String, usize> {
    reference_of(per_split, fraud())
}

fn reference_of(per_split: u64, pattern: Pattern<Txn>) -> BTreeMap<String, usize> {
    let nfa = Nfa::compile(&pattern, true).unwrap();
    let mut by_card: BTreeMap<u64, Vec<Txn>> = BTreeMap::new();
    for split in 0..SPLITS {
        for n in 0..per_split {
            let t = txn(split, n);
            by_card.entry(t.card).or_default().push(t);
        }
    }
    let mut lines = BTreeMap::new();
    for (_, mut events) in by_card {
        events.sort_by_key(|t| t.ts);
        let mut state = nfa.initial_state();
        for t in events {
            for timed_out in nfa.advance_time(&mut state, t.ts as i64).unwrap().timed_out {
                *lines.entry(describe_timeout(&timed_out)).or_insert(0) += 1;
            }
            let ts = t.ts as i64;
            for found in nfa.process(&mut state, t, ts, 0).unwrap() {
                *lines.entry(describe_match(&found)).or_insert(0) += 1;
            }
        }
        for timed_out in nfa.advance_time(&mut state, i64::MAX).unwrap().timed_out {
            *lines.entry(describe_timeout(&timed_out)).or_insert(0) += 1;
        }
    }
    lines
}

fn source(per_split: u64, rate: Option<u64>) -> GeneratorSource<Txn> {
    let source = GeneratorSource::new(SPLITS, txn).with_count(per_split);
    match rate {
        Some(rate) => source.with_rate(rate),
        None => source,
    }
}

fn strategy() -> WatermarkStrategy<Txn> {
    WatermarkStrategy::bounded_out_of_orderness(20).with_timestamps(|t: &Txn| t.ts).with_emit_every(16)
}

#[test]
fn matches_equal_the_reference_at_1_2_and_4_workers() {
    same_as_reference_at_1_2_and_4_workers(1_500, fraud);
}

#[test]
fn followed_by_any_combinations_equal_the_reference_at_1_2_and_4_workers() {
    same_as_reference_at_1_2_and_4_workers(800, any_combination);
}

fn same_as_reference_at_1_2_and_4_workers(per_split: u64, pattern: fn() -> Pattern<Txn>) {
    let expected = reference_of(per_split, pattern());
    assert!(
        expected.keys().any(|l| l.starts_with("match")) && expected.keys().any(|l| l.starts_with("timeout"))
    );
    for workers in [1, 2, 4] {
        let (sink, handle) = CollectSink::<String>::new();
        let (late_sink, late) = CollectSink::<Txn>::new();
        Job::new(JobConfig::with_workers(workers))
            .run(move |env| {
                let events = env.from_source(source(per_split, None), strategy());
                let matches = events
                    .key_by(|t: &Txn| t.card)
                    .pattern(pattern())
                    .side_output_timed_out(TIMED_OUT)
                    .side_output_late_data(LATE)
                    .select(describe_match)?;
                matches
                    .side_output(&TIMED_OUT)
                    .map(|t| describe_timeout(&t))
                    .union([matches.clone()])
                    .sink(sink.clone());
                matches.side_output(&LATE).sink(late_sink.clone());
                Ok(())
            })
            .unwrap();
        let mut actual = BTreeMap::new();
        for line in handle.values() {
            *actual.entry(line).or_insert(0) += 1;
        }
        assert_eq!(actual, expected, "at {workers} workers");
        assert!(late.values().is_empty(), "nothing is late at {workers} workers");
    }
}

#[test]
fn late_events_go_to_the_side_output_and_match_nothing() {
    // One split; the watermark follows the maximum timestamp exactly (no delay): the event at
    // 5 after the one at 20 is late.
    let events = vec![(1u64, 0u64, 1u64), (2, 95, 20), (3, 3, 5), (4, 99, 30)];
    let (sink, handle) = CollectSink::<String>::new();
    let (late_sink, late) = CollectSink::<Txn>::new();
    Job::new(JobConfig::with_workers(2))
        .run(move |env| {
            let txns = env
                .from_source(
                    CollectionSource::new(events.clone()),
                    WatermarkStrategy::bounded_out_of_orderness(0)
                        .with_emit_every(1)
                        .with_timestamps(|e: &(u64, u64, u64)| e.2),
                )
                .map(|(seq, amount, ts)| Txn { card: 1, split: 0, seq, amount, ts });
            let matches = txns
                .pattern(
                    Pattern::begin("small")
                        .where_fn(|t: &Txn| t.amount < 8)
                        .next("large")
                        .where_fn(|t: &Txn| t.amount > 90),
                )
                .side_output_late_data(LATE)
                .select(describe_match)?;
            matches.side_output(&LATE).sink(late_sink.clone());
            matches.sink(sink.clone());
            Ok(())
        })
        .unwrap();
    assert_eq!(handle.values(), vec!["match card 1 0/1 0/2".to_string()]);
    assert_eq!(late.values().iter().map(|t| t.seq).collect::<Vec<_>>(), vec![3]);
}

#[test]
fn an_invalid_pattern_fails_the_job_build_with_the_reason() {
    let result = Job::new(JobConfig::with_workers(1)).run(|env| {
        let events = env.from_source(source(10, None), strategy());
        let bad = Pattern::<Txn>::begin("a").followed_by("b").not_followed_by("c");
        events.key_by(|t: &Txn| t.card).pattern(bad).select(describe_match)?.sink(CollectSink::new().0);
        Ok(())
    });
    let message = result.unwrap_err().to_string();
    assert!(
        message.contains("not_followed_by cannot be the last stage") && message.contains("stage `c`"),
        "{message}"
    );
}

/// Fails the job (a panicking worker) after `after` records.
struct Failure {
    after: u64,
    seen: AtomicU64,
}

fn never() -> Arc<Failure> {
    Arc::new(Failure { after: u64::MAX, seen: AtomicU64::new(0) })
}

fn build(
    env: &mut Env<'_>,
    per_split: u64,
    rate: Option<u64>,
    output: &Path,
    failure: &Arc<Failure>,
) -> Result<()> {
    let events = env.from_source(source(per_split, rate), strategy()).uid("txns").inspect({
        let failure = Arc::clone(failure);
        move |_, _| {
            if failure.seen.fetch_add(1, Ordering::SeqCst) == failure.after {
                panic!("injected failure");
            }
        }
    });
    let matches = events
        .key_by(|t: &Txn| t.card)
        .pattern(fraud())
        .side_output_timed_out(TIMED_OUT)
        .select(describe_match)?
        .uid("fraud");
    matches
        .side_output(&TIMED_OUT)
        .map(|t| describe_timeout(&t))
        .union([matches])
        .sink(FileSink::json_lines(output))
        .uid("out");
    Ok(())
}

fn checkpointing(workers: usize, checkpoints: &Path, restore: bool) -> JobConfig {
    let mut checkpoint = CheckpointConfig::new(checkpoints, Duration::from_millis(15));
    if restore {
        checkpoint = checkpoint.restore(RestoreFrom::Latest);
    }
    JobConfig { checkpoint: Some(checkpoint), ..JobConfig::with_workers(workers) }
}

/// The committed JSON lines, decoded back to the strings the job wrote.
fn committed_strings(output: &Path) -> BTreeMap<String, usize> {
    committed(output)
        .into_iter()
        .map(|(line, count)| (serde_json::from_str::<String>(&line).unwrap_or(line), count))
        .collect()
}

#[test]
fn failures_and_restores_commit_exactly_the_failure_free_matches() {
    let per_split = 2_000;
    let expected = reference(per_split);
    let scenarios: [(&[usize], &[u64]); 3] =
        [(&[2, 2], &[3_000]), (&[1, 4], &[5_000]), (&[4, 2, 1], &[2_000, 6_000])];
    for (attempts, failures) in scenarios {
        let dir = tempfile::tempdir().unwrap();
        let (checkpoints, output) = (dir.path().join("chk"), dir.path().join("out"));
        for (attempt, &workers) in attempts.iter().enumerate() {
            let after = failures.get(attempt).copied().unwrap_or(u64::MAX);
            let failure = Arc::new(Failure { after, seen: AtomicU64::new(0) });
            let out = output.clone();
            let result = Job::new(checkpointing(workers, &checkpoints, attempt > 0))
                .run(move |env| build(env, per_split, Some(40_000), &out, &failure));
            let last = attempt + 1 == attempts.len();
            assert_eq!(result.is_ok(), last, "attempt {attempt} at {workers} workers: {result:?}");
        }
        assert_eq!(committed_strings(&output), expected, "scenario {attempts:?} {failures:?}");
    }
}

#[test]
fn stop_with_savepoint_and_resume_at_another_parallelism() {
    let per_split = 2_000;
    let expected = reference(per_split);
    let dir = tempfile::tempdir().unwrap();
    let (checkpoints, output, savepoint) =
        (dir.path().join("chk"), dir.path().join("out"), dir.path().join("sp"));
    let job = Job::new(JobConfig {
        checkpoint: Some(CheckpointConfig {
            interval: None,
            ..CheckpointConfig::new(&checkpoints, Duration::ZERO)
        }),
        ..JobConfig::with_workers(2)
    });
    let control = job.control();
    let target = savepoint.clone();
    let requester = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        control.request(ControlRequest::Savepoint { target: Some(target), stop: true })
    });
    let out = output.clone();
    let summary = job.run(move |env| build(env, per_split, Some(10_000), &out, &never())).unwrap();
    let response = requester.join().unwrap().unwrap();
    assert!(response.ok, "{response:?}");
    assert!(summary.stopped_with_savepoint);
    let partial = committed_strings(&output);
    assert!(partial.values().sum::<usize>() < expected.values().sum::<usize>(), "stopped before the end");
    let restore =
        CheckpointConfig::new(&checkpoints, Duration::from_millis(20)).restore(RestoreFrom::Path(savepoint));
    let out = output.clone();
    Job::new(JobConfig { checkpoint: Some(restore), ..JobConfig::with_workers(3) })
        .run(move |env| build(env, per_split, None, &out, &never()))
        .unwrap();
    assert_eq!(committed_strings(&output), expected);
}

#[test]
fn processing_time_matches_and_timeouts_follow_the_clock() {
    // The clock stands at 1000: both events are processed at 1000, so `small, large` matches
    // within 10 ms; the lone small charge of card 2 times out at 1010 when the input ends and
    // the processing-time timers fire.
    let clock = ManualClock::new(1_000);
    let events = vec![(1u64, 1u64, 3u64), (1, 2, 95), (2, 3, 2)];
    let (sink, handle) = CollectSink::<String>::new();
    Job::new(JobConfig { clock: Arc::new(clock), ..JobConfig::with_workers(2) })
        .run(move |env| {
            let txns = env
                .from_source(
                    CollectionSource::new(events.clone()),
                    WatermarkStrategy::bounded_out_of_orderness(0).with_timestamps(|e: &(u64, u64, u64)| e.1),
                )
                .map(|(card, seq, amount)| Txn { card, split: 0, seq, amount, ts: 0 });
            let pattern = Pattern::begin("small")
                .where_fn(|t: &Txn| t.amount < 8)
                .followed_by("large")
                .where_fn(|t: &Txn| t.amount > 90)
                .within(10);
            let matches = txns
                .key_by(|t: &Txn| t.card)
                .pattern(pattern)
                .in_processing_time()
                .side_output_timed_out(TIMED_OUT)
                .select(describe_match)?;
            matches
                .side_output(&TIMED_OUT)
                .map(|t| describe_timeout(&t))
                .union([matches.clone()])
                .sink(sink.clone());
            Ok(())
        })
        .unwrap();
    let mut lines = handle.values();
    lines.sort();
    assert_eq!(
        lines,
        vec!["match card 1 0/1 0/2".to_string(), "timeout match card 2 0/3 at 1010".to_string()]
    );
}
