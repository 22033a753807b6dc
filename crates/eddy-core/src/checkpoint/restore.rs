//! Loading a checkpoint or savepoint to restore a job from: every part is read and checked
//! before the job starts, so a restore never half-loads.

use std::path::{Path, PathBuf};

use super::part::Part;
use super::store::{
    began_committing, checksum, is_complete, list_checkpoints, read_manifest, read_part, CheckpointKind,
    CheckpointStats, Manifest, OperatorEntry, PartEntry, FORMAT, FORMAT_VERSION,
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

    /// Finds what to restore. `Latest` takes the newest *complete* checkpoint (one with a
    /// manifest) and skips incomplete ones, which committed nothing. A complete checkpoint that
    /// cannot be loaded is skipped only if it never began to commit its output (it has no
    /// [`super::store::COMMITTING`] marker); otherwise its output may be visible already and restoring an
    /// older checkpoint would commit it twice, so that is an error, as is finding no intact
    /// checkpoint among complete ones. With `allow_fallback` the user accepts duplicates:
    /// older checkpoints are tried, and with none intact the job starts fresh. A path that does
    /// not hold an intact checkpoint is always an error.
    pub(crate) fn find(root: &Path, from: &RestoreFrom, allow_fallback: bool) -> Result<Option<Restored>> {
        let latest = match from {
            RestoreFrom::Path(path) => {
                return Restored::load(path).map(Some).map_err(|error| {
                    Error::Checkpoint(format!("cannot restore from {}: {error}", path.display()))
                });
            }
            RestoreFrom::Latest => list_checkpoints(root)?,
        };
        let mut corrupt = Vec::new();
        for (_, path) in latest {
            if !is_complete(&path)? {
                eprintln!("eddy: skipping incomplete checkpoint {}", path.display());
                continue;
            }
            let error = match Restored::load(&path) {
                Ok(restored) => return Ok(Some(restored)),
                Err(error) => error,
            };
            let committed = began_committing(&path)?;
            if committed && !allow_fallback {
                return Err(Error::Checkpoint(format!(
                    "the newest complete checkpoint, {}, cannot be restored: {error}. It committed \
                     output, so restoring an older checkpoint would commit that output twice. Repair \
                     it, restore a checkpoint by path, or accept duplicates with \
                     --allow-restore-fallback",
                    path.display()
                )));
            }
            eprintln!(
                "eddy: skipping checkpoint {}: {error} ({})",
                path.display(),
                if committed {
                    "its committed output may be produced again"
                } else {
                    "it committed nothing, so an older checkpoint restores exactly once"
                }
            );
            corrupt.push(path.display().to_string());
        }
        if !corrupt.is_empty() && !allow_fallback {
            return Err(Error::Checkpoint(format!(
                "no intact checkpoint in {}: every complete one is corrupt ({}); starting fresh could \
                 produce output twice. Restore a checkpoint by path, or start fresh anyway with \
                 --allow-restore-fallback",
                root.display(),
                corrupt.join(", ")
            )));
        }
        Ok(None)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::part::PartKind;
    use crate::checkpoint::store::{
        checkpoint_dir_name, part_entry, write_manifest, write_part, COMMITTING, MANIFEST,
    };

    /// Writes checkpoint `id` with one part; `complete` writes its manifest too.
    fn checkpoint(root: &Path, id: u64, complete: bool) -> PathBuf {
        let dir = root.join(checkpoint_dir_name(id));
        std::fs::create_dir_all(&dir).unwrap();
        write_part(&dir, "op/worker-0.part", b"state").unwrap();
        if complete {
            let manifest = Manifest {
                format: FORMAT.into(),
                version: FORMAT_VERSION,
                id,
                kind: CheckpointKind::Checkpoint,
                logical_time: id * 10,
                finished: false,
                workers: 1,
                operators: vec![OperatorEntry {
                    uid: "op".into(),
                    kind: PartKind::Keyed,
                    version: None,
                    parts: vec![part_entry("op/worker-0.part", 0, b"state", 1)],
                }],
                stats: CheckpointStats::default(),
            };
            write_manifest(&dir, &manifest).unwrap();
        }
        dir
    }

    fn latest(root: &Path, allow_fallback: bool) -> Result<Option<u64>> {
        Restored::find(root, &RestoreFrom::Latest, allow_fallback)
            .map(|found| found.map(|restored| restored.manifest.id))
    }

    #[test]
    fn latest_skips_incomplete_checkpoints() {
        let root = tempfile::tempdir().unwrap();
        checkpoint(root.path(), 1, true);
        checkpoint(root.path(), 2, false);
        assert_eq!(latest(root.path(), false).unwrap(), Some(1));
    }

    #[test]
    fn a_corrupt_checkpoint_that_committed_nothing_is_skipped() {
        let root = tempfile::tempdir().unwrap();
        checkpoint(root.path(), 1, true);
        let newest = checkpoint(root.path(), 2, true);
        std::fs::write(newest.join("op/worker-0.part"), b"stale").unwrap();
        assert_eq!(latest(root.path(), false).unwrap(), Some(1));
    }

    #[test]
    fn a_corrupt_checkpoint_that_committed_output_is_not_skipped() {
        let root = tempfile::tempdir().unwrap();
        checkpoint(root.path(), 1, true);
        let newest = checkpoint(root.path(), 2, true);
        std::fs::write(newest.join(COMMITTING), b"").unwrap();
        std::fs::write(newest.join("op/worker-0.part"), b"stale").unwrap();
        let error = latest(root.path(), false).unwrap_err().to_string();
        assert!(error.contains("chk-0000000002") && error.contains("--allow-restore-fallback"), "{error}");
        // The user may accept duplicates.
        assert_eq!(latest(root.path(), true).unwrap(), Some(1));
    }

    #[test]
    fn with_every_checkpoint_corrupt_latest_is_an_error_not_a_fresh_start() {
        let root = tempfile::tempdir().unwrap();
        let only = checkpoint(root.path(), 1, true);
        std::fs::write(only.join(MANIFEST), b"{ not json").unwrap();
        assert!(latest(root.path(), false).is_err());
        assert_eq!(latest(root.path(), true).unwrap(), None);
        // No checkpoint at all is a fresh start.
        assert_eq!(latest(tempfile::tempdir().unwrap().path(), false).unwrap(), None);
    }
}

/// Fuzz target of restoring (issue 15): a checkpoint whose manifest or parts are damaged
/// (bit flips, truncations, inserted bytes, huge numbers) loads or fails with an `Error`,
/// never a panic, and an undamaged one always loads. 256 cases (a few seconds in a debug
/// build); set `PROPTEST_CASES` for a longer run. Failing inputs are kept in
/// `crates/eddy-core/proptest-regressions/checkpoint/restore.txt`.
#[cfg(test)]
mod fuzz_tests {
    use super::*;
    use crate::checkpoint::store::fuzz_tests::{config, fuzzed_checkpoint};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn fuzz_restored_load(checkpoint in fuzzed_checkpoint()) {
            let root = tempfile::tempdir().unwrap();
            let dir = root.path().join(super::super::store::checkpoint_dir_name(7));
            std::fs::create_dir_all(&dir).unwrap();
            checkpoint.write(&dir);
            match Restored::load(&dir) {
                Ok(restored) => {
                    for (uid, _, _) in &checkpoint.parts {
                        // A damaged manifest may have lost or renamed an operator, never more.
                        prop_assert!(restored.operator(uid).is_some() || checkpoint.damaged());
                    }
                }
                Err(error) => prop_assert!(checkpoint.damaged(), "{error}"),
            }
            // `latest` finds it, skips it, or refuses it; with the fallback it never refuses.
            let _ = Restored::find(root.path(), &RestoreFrom::Latest, false);
            let found = Restored::find(root.path(), &RestoreFrom::Latest, true);
            prop_assert!(found.is_ok(), "{:?}", found.err());
        }
    }
}
