//! Loading a checkpoint or savepoint to restore a job from: every part is read and checked
//! before the job starts, so a restore never half-loads.

use std::path::{Path, PathBuf};

use super::part::Part;
use super::store::{
    checksum, list_checkpoints, read_manifest, read_part, CheckpointKind, CheckpointStats, Manifest,
    OperatorEntry, PartEntry, FORMAT, FORMAT_VERSION,
};
use crate::error::{Error, Result};
use crate::hash::HashMap;

/// Where to restore a job from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RestoreFrom {
    /// The newest complete, intact checkpoint in the checkpoint directory (start fresh if
    /// there is none).
    Latest,
    /// A given checkpoint or savepoint directory.
    Path(PathBuf),
}

impl std::str::FromStr for RestoreFrom {
    type Err = std::convert::Infallible;
    fn from_str(text: &str) -> std::result::Result<Self, Self::Err> {
        Ok(if text == "latest" { RestoreFrom::Latest } else { RestoreFrom::Path(text.into()) })
    }
}

/// The parts of one operator in a loaded checkpoint.
pub(crate) struct RestoredOperator {
    /// (worker that wrote it, bytes).
    pub(crate) parts: Vec<(usize, Vec<u8>)>,
}

/// A loaded, verified checkpoint.
pub(crate) struct Restored {
    pub(crate) path: PathBuf,
    pub(crate) manifest: Manifest,
    operators: HashMap<String, RestoredOperator>,
}

impl Restored {
    /// Reads the checkpoint at `path` and checks every part.
    pub(crate) fn load(path: &Path) -> Result<Restored> {
        let manifest = read_manifest(path)?;
        let mut operators = HashMap::default();
        for operator in &manifest.operators {
            let mut parts = Vec::with_capacity(operator.parts.len());
            for part in &operator.parts {
                parts.push((part.worker, read_part(path, part)?));
            }
            operators.insert(operator.uid.clone(), RestoredOperator { parts });
        }
        Ok(Restored { path: path.to_owned(), manifest, operators })
    }

    /// A checkpoint held in memory instead of on disk, from every participant's part of
    /// checkpoint `id` at logical time `logical_time` (the test harness restores from these).
    /// The manifest lists the parts as a complete checkpoint written by `workers` workers would.
    pub(crate) fn from_parts(id: u64, logical_time: u64, workers: usize, parts: Vec<Part>) -> Restored {
        let mut entries: Vec<OperatorEntry> = Vec::new();
        let mut operators: HashMap<String, RestoredOperator> = HashMap::default();
        for part in parts {
            let entry = PartEntry {
                worker: part.worker,
                file: format!("{}/worker-{}.part (in memory)", part.uid, part.worker),
                bytes: part.bytes.len() as u64,
                xxh3: checksum(&part.bytes),
                entries: part.entries,
            };
            match entries.iter_mut().find(|operator| operator.uid == part.uid) {
                Some(operator) => operator.parts.push(entry),
                None => entries.push(OperatorEntry {
                    uid: part.uid.clone(),
                    kind: part.kind,
                    version: part.version,
                    parts: vec![entry],
                }),
            }
            operators
                .entry(part.uid)
                .or_insert_with(|| RestoredOperator { parts: Vec::new() })
                .parts
                .push((part.worker, part.bytes));
        }
        for operator in &mut entries {
            operator.parts.sort_by_key(|part| part.worker);
        }
        entries.sort_by(|a, b| a.uid.cmp(&b.uid));
        for operator in operators.values_mut() {
            operator.parts.sort_by_key(|(worker, _)| *worker);
        }
        let manifest = Manifest {
            format: FORMAT.into(),
            version: FORMAT_VERSION,
            id,
            kind: CheckpointKind::Checkpoint,
            logical_time,
            finished: false,
            workers,
            operators: entries,
            stats: CheckpointStats::default(),
        };
        Restored { path: PathBuf::from("<in memory>"), manifest, operators }
    }

    /// Finds what to restore: `Latest` skips incomplete and corrupt checkpoints with a
    /// warning; a path that does not hold an intact checkpoint is an error.
    pub(crate) fn find(root: &Path, from: &RestoreFrom) -> Result<Option<Restored>> {
        match from {
            RestoreFrom::Path(path) => Restored::load(path).map(Some).map_err(|error| {
                Error::Checkpoint(format!("cannot restore from {}: {error}", path.display()))
            }),
            RestoreFrom::Latest => {
                for (_, path) in list_checkpoints(root)? {
                    match Restored::load(&path) {
                        Ok(restored) => return Ok(Some(restored)),
                        Err(error) => {
                            eprintln!("eddy: skipping checkpoint {}: {error}", path.display());
                        }
                    }
                }
                Ok(None)
            }
        }
    }

    /// The parts an operator with `uid` restores from.
    pub(crate) fn operator(&self, uid: &str) -> Option<&RestoredOperator> {
        let operator = self.operators.get(uid)?;
        Some(operator)
    }

    /// Uids in the checkpoint that no operator of `uids` matches.
    pub(crate) fn unmatched(&self, uids: &[String]) -> Vec<String> {
        let mut left: Vec<String> =
            self.operators.keys().filter(|uid| !uids.contains(uid)).cloned().collect();
        left.sort();
        left
    }
}
