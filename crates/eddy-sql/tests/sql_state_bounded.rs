//! State stays bounded: over a long stream, the records held by a window aggregation's
//! arrangements stay flat (retired as the watermark passes each window), while an unwindowed
//! `GROUP BY` over a growing key space grows with the input. The count is the one the
//! arrangements report through differential's logging (batches built, merged and dropped),
//! not memory.

mod jobs_common;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use differential_dataflow::logging::{DifferentialEvent, DifferentialEventBuilder};
use eddy_core::prelude::{Job, JobConfig};
use eddy_sql::pipeline::Output;
use eddy_sql::session::SqlJob;
use jobs_common::{job, session};

/// Runs `job` on one worker and returns the largest number of records its arrangements held
/// at once, and the number of result changes.
fn peak_arranged_records(job: &SqlJob) -> (i64, usize) {
    let peak = Arc::new(Mutex::new(0i64));
    let collected = Arc::new(Mutex::new(Vec::new()));
    let mut pipeline = job.pipeline.clone();
    pipeline.inserts[0].output = Output::Collect(Arc::clone(&collected));
    let shared = Arc::clone(&peak);
    Job::new(JobConfig::with_workers(1))
        .run(move |env| {
            // Per arrangement operator, its records: a batch adds its length, a completed merge
            // replaces its two inputs with its output, a dropped batch removes its length.
            let sizes: Rc<RefCell<BTreeMap<usize, i64>>> = Rc::default();
            let peak = Arc::clone(&shared);
            let worker = env.scope().worker();
            if let Some(mut register) = worker.log_register() {
                register.insert::<DifferentialEventBuilder, _>("differential/arrange", move |_, events| {
                    let Some(events) = events else { return };
                    let mut sizes = sizes.borrow_mut();
                    for (_, event) in events.iter() {
                        let (operator, change) = match event {
                            DifferentialEvent::Batch(b) => (b.operator, b.length as i64),
                            DifferentialEvent::Merge(m) => match m.complete {
                                Some(n) => (m.operator, n as i64 - m.length1 as i64 - m.length2 as i64),
                                None => continue,
                            },
                            DifferentialEvent::Drop(d) => (d.operator, -(d.length as i64)),
                            _ => continue,
                        };
                        *sizes.entry(operator).or_default() += change;
                    }
                    let total: i64 = sizes.values().sum();
                    let mut peak = peak.lock().unwrap();
                    *peak = (*peak).max(total);
                });
            }
            pipeline.build(env).map(|_| ())
        })
        .unwrap();
    let peak = *peak.lock().unwrap();
    let changes = collected.lock().unwrap().len();
    (peak, changes)
}

/// `n` rows `(id, k, ts)`, 10 ms apart, key `id % 50`, in order.
fn events(dir: &std::path::Path, n: u64) -> std::path::PathBuf {
    let path = dir.join(format!("events{n}.csv"));
    let mut text = String::new();
    for i in 0..n {
        let ms = i * 10;
        let s = ms / 1000;
        text += &format!(
            "{i},{},2024-01-01 {:02}:{:02}:{:02}.{:03}\n",
            i % 50,
            s / 3600,
            s / 60 % 60,
            s % 60,
            ms % 1000
        );
    }
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_window_aggregations_arrangements_stay_flat_as_the_stream_grows() {
    let dir = tempfile::tempdir().unwrap();
    let mut peaks = Vec::new();
    for n in [20_000u64, 80_000] {
        let mut s = session();
        s.execute(&format!(
            "CREATE TABLE events (id BIGINT, k INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
             WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv')",
            events(dir.path(), n).display()
        ))
        .unwrap();
        let windowed = job(
            &mut s,
            "SELECT k, window_start, COUNT(*), MAX(id) FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' SECOND))
             GROUP BY k, window_start, window_end",
        );
        let (windowed_peak, windowed_changes) = peak_arranged_records(&windowed);
        // One result per key and window: every window closed and came out once.
        assert_eq!(windowed_changes as u64, n / 100 * 50);
        // The same aggregation keyed by id / 10 (a key space that grows with the stream) keeps
        // every group forever.
        let regular = job(&mut s, "SELECT id / 10, COUNT(*), MAX(ts) FROM events GROUP BY id / 10");
        let (regular_peak, _) = peak_arranged_records(&regular);
        println!("{n} rows: window aggregation peak {windowed_peak} records, unwindowed {regular_peak}");
        peaks.push((windowed_peak, regular_peak));
    }
    let (small, large) = (peaks[0], peaks[1]);
    assert!(small.0 > 0 && small.1 > 0, "the logging saw the arrangements: {peaks:?}");
    // Four times the input: the unwindowed state grows about fourfold, the windowed one stays.
    assert!(large.1 >= small.1 * 3, "the unbounded GROUP BY grows: {peaks:?}");
    assert!(large.0 <= small.0 * 3 / 2, "the window aggregation stays flat: {peaks:?}");
}
