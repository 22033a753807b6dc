//! The checkpoints a process is collecting parts for, and the one the leader is preparing.

use std::path::PathBuf;

use super::Action;
use crate::checkpoint::commit::Committable;
use crate::checkpoint::part::{Part, PartKind};
use crate::checkpoint::store::{operator_dir_name, part_entry, CheckpointKind, OperatorEntry, PartEntry};

/// One operator's parts in a checkpoint of this process.
#[derive(Debug)]
pub(super) struct OperatorParts {
    pub(super) uid: String,
    pub(super) kind: PartKind,
    pub(super) version: Option<u32>,
    pub(super) parts: Vec<PartEntry>,
    pub(super) committables: Vec<Committable>,
}

/// A checkpoint collecting parts.
#[derive(Debug)]
pub(super) struct InFlight<R> {
    pub(super) id: u64,
    pub(super) time: u64,
    pub(super) kind: CheckpointKind,
    pub(super) dir: PathBuf,
    pub(super) started_ms: u64,
    pub(super) last_part_ms: u64,
    pub(super) operators: Vec<OperatorParts>,
    pub(super) count: usize,
    pub(super) bytes: u64,
    pub(super) replies: Vec<R>,
    pub(super) stop: bool,
    /// Leader: followers done, and their entries.
    pub(super) remote_done: usize,
    pub(super) remote_operators: Vec<OperatorEntry>,
    pub(super) remote_parts: usize,
}

impl<R> InFlight<R> {
    pub(super) fn new(id: u64, time: u64, kind: CheckpointKind, dir: PathBuf, now: u64) -> Self {
        InFlight {
            id,
            time,
            kind,
            dir,
            started_ms: now,
            last_part_ms: now,
            operators: Vec::new(),
            count: 0,
            bytes: 0,
            replies: Vec::new(),
            stop: false,
            remote_done: 0,
            remote_operators: Vec::new(),
            remote_parts: 0,
        }
    }

    pub(super) fn local_entries(&self) -> Vec<OperatorEntry> {
        self.operators
            .iter()
            .map(|operator| OperatorEntry {
                uid: operator.uid.clone(),
                kind: operator.kind.clone(),
                version: operator.version,
                parts: operator.parts.clone(),
            })
            .collect()
    }

    /// What this process's participants staged, by uid.
    pub(super) fn staged(&self) -> Vec<(String, Vec<Committable>)> {
        self.operators
            .iter()
            .filter(|operator| !operator.committables.is_empty() || operator.kind == PartKind::Sink)
            .map(|operator| (operator.uid.clone(), operator.committables.clone()))
            .collect()
    }

    pub(super) fn holds_staged_output(&self) -> bool {
        self.operators.iter().any(|operator| !operator.committables.is_empty())
    }

    /// Adds a part and asks for it to be written. A second part of the same participant (its
    /// final part, copied in, and one it sent itself) is ignored: both describe its state after
    /// its input ended.
    pub(super) fn add(&mut self, part: Part, now: u64, actions: &mut Vec<Action<R>>) {
        let present = |operator: &OperatorParts| {
            operator.uid == part.uid && operator.parts.iter().any(|entry| entry.worker == part.worker)
        };
        if self.operators.iter().any(present) {
            return;
        }
        let index = match self.operators.iter().position(|operator| operator.uid == part.uid) {
            Some(index) => index,
            None => {
                self.operators.push(OperatorParts {
                    uid: part.uid.clone(),
                    kind: part.kind.clone(),
                    version: part.version,
                    parts: Vec::new(),
                    committables: Vec::new(),
                });
                self.operators.len() - 1
            }
        };
        let relative = format!("{}/worker-{}.part", operator_dir_name(&part.uid), part.worker);
        let entry = part_entry(&relative, part.worker, &part.bytes, part.entries);
        let operator = &mut self.operators[index];
        operator.committables.extend(part.committables);
        self.bytes += entry.bytes;
        operator.parts.push(entry);
        self.count += 1;
        self.last_part_ms = now;
        actions.push(Action::WritePart { dir: self.dir.clone(), relative, bytes: part.bytes });
    }
}

/// A checkpoint the leader is preparing: it waits for its own freeze, then for every
/// follower's highest claim.
#[derive(Debug)]
pub(super) struct Preparing<R> {
    /// Assigned once this process's claims are frozen.
    pub(super) id: Option<u64>,
    pub(super) kind: CheckpointKind,
    pub(super) dir: PathBuf,
    pub(super) reply: Option<R>,
    pub(super) stop: bool,
    /// The highest claim so far; `None` once some process cannot start a checkpoint.
    pub(super) claimed: Option<u64>,
    pub(super) answers: usize,
}
