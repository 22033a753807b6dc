//! Crash tests of jobs run as child processes: start a job, `kill -9` it at a pseudo-random
//! moment, again at other worker counts, and then restart it until it finishes.

use std::process::{Child, Output};
use std::time::Duration;

/// Starts a job once per entry of `workers` (`start(workers)`) and kills it (SIGKILL) after
/// `delay_ms.0` plus a pseudo-random share of `delay_ms.1` milliseconds, unless it finished on
/// its own, which must be a success. At least two rounds must die while running.
pub fn kill_at_random_moments(
    workers: &[usize],
    delay_ms: (u64, u64),
    mut start: impl FnMut(usize) -> Child,
) {
    // A small deterministic generator of kill delays (xorshift).
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut kills = 0;
    for (round, &count) in workers.iter().enumerate() {
        let mut child = start(count);
        std::thread::sleep(Duration::from_millis(delay_ms.0 + next() % delay_ms.1.max(1)));
        match child.try_wait().unwrap() {
            Some(status) => assert!(status.success(), "round {round} failed on its own: {status}"),
            None => {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                kills += 1;
            }
        }
    }
    assert!(kills >= 2, "the job was killed while running ({kills} kills)");
}

/// Runs `run(workers)`, cycling through `workers`, until a run exits 0 (at most 10 runs).
pub fn finish(workers: &[usize], mut run: impl FnMut(usize) -> Output) {
    for attempt in 0..10 {
        let output = run(workers[attempt % workers.len()]);
        if output.status.success() {
            return;
        }
        eprintln!("restart {attempt} failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    panic!("the job did not finish after 10 restarts");
}
