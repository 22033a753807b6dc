//! Runs one file's records in child processes and survives the ones that hang or die.
//!
//! The child protocol is one line per event on the child's stdout: `START i` before counted
//! record `i` runs, then `PASS i`, `SKIP i` or `FAIL i <class> <reason>` ([`outcome_line`]),
//! and `END` after the last record. When no line comes for the record timeout, or the child
//! exits before `END`, the running record (or, between records, the next unreported one) fails
//! as timed out or crashed, and a new child resumes after it, skipping it. After
//! `max_restarts` such events the file's unreported records fail unrun.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::Child;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use super::records::{FailClass, Outcome};

/// The protocol line for a record's outcome.
pub fn outcome_line(index: usize, outcome: &Outcome) -> String {
    match outcome {
        Outcome::Pass => format!("PASS {index}"),
        Outcome::Skip => format!("SKIP {index}"),
        Outcome::Fail { class, reason } => format!("FAIL {index} {} {reason}", class.word()),
    }
}

/// How long a record may run and how often a file may hang or crash.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The longest a record may run.
    pub record_timeout: Duration,
    /// Hangs and crashes after which the file's remaining records are not run.
    pub max_restarts: usize,
}

/// Runs the records whose indexes are `counted` (ascending) in children from
/// `spawn(resume, skip)`: a child with piped stdout that runs records from index `resume` on,
/// replaying the state of earlier ones and leaving out those in `skip`. `on_outcome` sees each
/// outcome as it is known. Returns an outcome for every counted record.
pub fn supervise(
    counted: &[usize],
    limits: Limits,
    mut spawn: impl FnMut(usize, &BTreeSet<usize>) -> std::io::Result<Child>,
    mut on_outcome: impl FnMut(usize, &Outcome),
) -> Result<BTreeMap<usize, Outcome>, String> {
    let mut outcomes: BTreeMap<usize, Outcome> = BTreeMap::new();
    let mut skip: BTreeSet<usize> = BTreeSet::new();
    let mut resume = 0;
    let mut restarts = 0;
    let mut gave_up = false;
    loop {
        let mut child = spawn(resume, &skip).map_err(|error| format!("cannot start a child: {error}"))?;
        let stdout = child.stdout.take().ok_or("the child has no piped stdout")?;
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut running: Option<usize> = None;
        let mut finished = false;
        let failure = loop {
            match receiver.recv_timeout(limits.record_timeout) {
                Ok(line) => {
                    let mut fields = line.splitn(3, ' ');
                    let (tag, index) = (fields.next(), fields.next().and_then(|index| index.parse().ok()));
                    let outcome = match (tag, index) {
                        (Some("START"), Some(index)) => {
                            running = Some(index);
                            continue;
                        }
                        (Some("END"), _) => {
                            finished = true;
                            continue;
                        }
                        (Some("PASS"), Some(_)) => Outcome::Pass,
                        (Some("SKIP"), Some(_)) => Outcome::Skip,
                        (Some("FAIL"), Some(_)) => {
                            let mut rest = fields.next().unwrap_or_default().splitn(2, ' ');
                            let class =
                                rest.next().and_then(FailClass::from_word).unwrap_or(FailClass::Error);
                            Outcome::Fail { class, reason: rest.next().unwrap_or_default().to_owned() }
                        }
                        _ => continue,
                    };
                    if let Some(index) = index {
                        on_outcome(index, &outcome);
                        outcomes.insert(index, outcome);
                        running = None;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    let seconds = limits.record_timeout.as_secs_f64();
                    break Some((FailClass::TimedOut, format!("timed out after {seconds} s")));
                }
                Err(RecvTimeoutError::Disconnected) if finished => break None,
                Err(RecvTimeoutError::Disconnected) => {
                    break Some((FailClass::Crashed, "the process died (memory limit or abort)".to_owned()));
                }
            }
        };
        let _ = child.kill();
        let _ = child.wait();
        let Some((class, reason)) = failure else { break };
        restarts += 1;
        // Without a running record (a crash between records) the next unreported one takes
        // the blame, so every restart moves forward.
        let blamed = running.or_else(|| {
            counted.iter().copied().find(|index| *index >= resume && !outcomes.contains_key(index))
        });
        let Some(blamed) = blamed else { break };
        let outcome = Outcome::Fail { class, reason };
        on_outcome(blamed, &outcome);
        outcomes.insert(blamed, outcome);
        skip.insert(blamed);
        resume = blamed + 1;
        if restarts >= limits.max_restarts {
            gave_up = true;
            break;
        }
    }
    for index in counted {
        outcomes.entry(*index).or_insert_with(|| {
            let outcome = if gave_up {
                let reason = format!("not run: the file timed out or crashed {} times", limits.max_restarts);
                Outcome::Fail { class: FailClass::TimedOut, reason }
            } else {
                Outcome::Fail { class: FailClass::Crashed, reason: "no outcome reported".to_owned() }
            };
            on_outcome(*index, &outcome);
            outcome
        });
    }
    Ok(outcomes)
}
