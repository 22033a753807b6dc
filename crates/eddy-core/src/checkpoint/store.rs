//! Checkpoints on disk: the directory layout, the manifest, checksums, finding the newest
//! complete checkpoint, and retention.
//!
//! ```text
//! <checkpoint-dir>/chk-0000000007/_manifest.json       written last: write, fsync, rename
//! <checkpoint-dir>/chk-0000000007/<n>-<uid>/worker-<w>.part
//! <checkpoint-dir>/control.sock                        the control channel of a running job
//! <savepoint-dir>/_manifest.json, <n>-<uid>/worker-<w>.part    same layout
//! ```
//!
//! A checkpoint exists only once its manifest does. The manifest lists every part with its
//! size and XXH3-64 checksum; a checkpoint whose manifest is missing or unreadable, or whose
//! parts do not match, is skipped with a warning, never half-loaded.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use super::part::PartKind;
use crate::error::{Error, Result};

/// The format name written into every manifest.
pub const FORMAT: &str = "eddy-checkpoint";
/// The current format version. Readers accept this version and every earlier one.
pub const FORMAT_VERSION: u32 = 1;
/// The manifest's file name.
pub const MANIFEST: &str = "_manifest.json";
/// Written (and made durable) after the manifest and before any output of the checkpoint is
/// committed: a checkpoint without it has made nothing visible, so a restore may skip it when
/// it is corrupt without producing output twice.
pub const COMMITTING: &str = "_committing";

/// Why a checkpoint was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckpointKind {
    /// Periodic.
    Checkpoint,
    /// Requested by the user.
    Savepoint,
    /// Taken when the input ended, before the last output was committed.
    Final,
}

/// The manifest of a checkpoint or savepoint (`_manifest.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// The format version it was written with.
    pub version: u32,
    /// Checkpoint id, increasing within a checkpoint directory.
    pub id: u64,
    /// Why it was taken.
    pub kind: CheckpointKind,
    /// The logical time `E` of the cut: the state reflects every record before `E`.
    pub logical_time: u64,
    /// Whether the input had ended (a final checkpoint): a restore only re-commits output.
    pub finished: bool,
    /// Workers of the job that wrote it.
    pub workers: usize,
    /// One entry per operator uid.
    pub operators: Vec<OperatorEntry>,
    /// What taking it cost.
    pub stats: CheckpointStats,
}

/// The parts one operator wrote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorEntry {
    /// The operator's uid (set with `.uid(..)`, or generated from its position).
    pub uid: String,
    /// What kind of operator.
    pub kind: PartKind,
    /// The version of the operator's own part format, for kinds that declare one (operators
    /// built with [`crate::sdk`]); absent for the built-in kinds, whose parts carry theirs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// One part per worker.
    pub parts: Vec<PartEntry>,
}

/// One part file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartEntry {
    /// The worker that wrote it.
    pub worker: usize,
    /// Path relative to the checkpoint directory.
    pub file: String,
    /// Size in bytes.
    pub bytes: u64,
    /// XXH3-64 of the contents, as 16 hex digits.
    pub xxh3: String,
    /// Keys (keyed state), splits (sources) or files to commit (sinks).
    pub entries: u64,
}

/// The cost of a checkpoint, as the coordinator measured it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointStats {
    /// Processing time from the trigger to the manifest, in milliseconds.
    pub duration_ms: u64,
    /// Processing time from the trigger until the last part arrived, in milliseconds: how long
    /// the slowest operator took to pass `E` (there is no alignment to wait for).
    pub snapshot_ms: u64,
    /// Bytes of all parts.
    pub bytes: u64,
}

/// The directory name of checkpoint `id`.
pub fn checkpoint_dir_name(id: u64) -> String {
    format!("chk-{id:010}")
}

/// The id in a checkpoint directory name.
pub fn parse_checkpoint_dir_name(name: &str) -> Option<u64> {
    name.strip_prefix("chk-")?.parse().ok()
}

fn io_error(what: &str, path: &Path, error: std::io::Error) -> Error {
    Error::io(format!("{what} {}", path.display()), error)
}

/// Fsyncs a directory so a rename or new file in it is durable.
pub(crate) fn sync_dir(path: &Path) -> Result<()> {
    File::open(path)
        .and_then(|dir| dir.sync_all())
        .map_err(|error| io_error("syncing directory", path, error))
}

/// A file-system-safe directory name for the operator with `uid`: its uid made safe, and a
/// hash of the full uid so that uids made equal stay apart. Every process of a job derives
/// the same name.
pub(crate) fn operator_dir_name(uid: &str) -> String {
    let safe: String = uid
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .take(60)
        .collect();
    format!("{safe}-{:08x}", xxh3_64(uid.as_bytes()) as u32)
}

/// The manifest entry of a part with these contents, written at `relative`.
pub(crate) fn part_entry(relative: &str, worker: usize, bytes: &[u8], entries: u64) -> PartEntry {
    PartEntry { worker, file: relative.to_owned(), bytes: bytes.len() as u64, xxh3: checksum(bytes), entries }
}

/// Writes and fsyncs one part file at `relative` in the checkpoint directory.
pub(crate) fn write_part(checkpoint: &Path, relative: &str, bytes: &[u8]) -> Result<()> {
    let path = checkpoint.join(relative);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|error| io_error("creating", parent, error))?;
    }
    let mut file = File::create(&path).map_err(|error| io_error("creating", &path, error))?;
    file.write_all(bytes).map_err(|error| io_error("writing", &path, error))?;
    file.sync_all().map_err(|error| io_error("syncing", &path, error))
}

pub(crate) fn checksum(bytes: &[u8]) -> String {
    format!("{:016x}", xxh3_64(bytes))
}

/// Marks a checkpoint as committing its output ([`COMMITTING`]): an empty file, fsynced with
/// its directory.
pub(crate) fn mark_committing(checkpoint: &Path) -> Result<()> {
    let path = checkpoint.join(COMMITTING);
    File::create(&path)
        .and_then(|file| file.sync_all())
        .map_err(|error| io_error("creating", &path, error))?;
    sync_dir(checkpoint)
}

/// Writes the manifest atomically: a temporary file, fsync, rename, fsync of the directory.
pub(crate) fn write_manifest(checkpoint: &Path, manifest: &Manifest) -> Result<()> {
    let text = serde_json::to_string_pretty(manifest)
        .map_err(|error| Error::Internal(format!("encoding a manifest: {error}")))?;
    let temporary = checkpoint.join(format!("{MANIFEST}.tmp"));
    let mut file = File::create(&temporary).map_err(|error| io_error("creating", &temporary, error))?;
    file.write_all(text.as_bytes()).map_err(|error| io_error("writing", &temporary, error))?;
    file.sync_all().map_err(|error| io_error("syncing", &temporary, error))?;
    let target = checkpoint.join(MANIFEST);
    fs::rename(&temporary, &target).map_err(|error| io_error("renaming", &temporary, error))?;
    sync_dir(checkpoint)
}

/// Reads a manifest without checking the parts.
pub fn read_manifest(checkpoint: &Path) -> Result<Manifest> {
    let path = checkpoint.join(MANIFEST);
    let text = fs::read_to_string(&path).map_err(|error| io_error("reading", &path, error))?;
    let manifest: Manifest = serde_json::from_str(&text)
        .map_err(|error| Error::Checkpoint(format!("{}: not a valid manifest: {error}", path.display())))?;
    if manifest.format != FORMAT {
        return Err(Error::Checkpoint(format!(
            "{}: format `{}` is not {FORMAT}",
            path.display(),
            manifest.format
        )));
    }
    if manifest.version > FORMAT_VERSION {
        return Err(Error::Checkpoint(format!(
            "{}: format version {} is newer than this build reads ({FORMAT_VERSION})",
            path.display(),
            manifest.version
        )));
    }
    Ok(manifest)
}

/// Reads a part and checks its size and checksum against the manifest.
pub fn read_part(checkpoint: &Path, entry: &PartEntry) -> Result<Vec<u8>> {
    let path = checkpoint.join(&entry.file);
    let bytes = fs::read(&path).map_err(|error| io_error("reading", &path, error))?;
    if bytes.len() as u64 != entry.bytes || checksum(&bytes) != entry.xxh3 {
        return Err(Error::Checkpoint(format!(
            "{}: corrupt (expected {} bytes with checksum {}, found {} bytes with checksum {})",
            path.display(),
            entry.bytes,
            entry.xxh3,
            bytes.len(),
            checksum(&bytes)
        )));
    }
    Ok(bytes)
}

/// The checkpoint directories under `root` (complete or not), newest first.
pub fn list_checkpoints(root: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    let entries = match fs::read_dir(root) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(error) => return Err(io_error("listing", root, error)),
    };
    for entry in entries {
        let entry = entry.map_err(|error| io_error("listing", root, error))?;
        if let Some(id) = entry.file_name().to_str().and_then(parse_checkpoint_dir_name) {
            found.push((id, entry.path()));
        }
    }
    found.sort_by_key(|(id, _)| std::cmp::Reverse(*id));
    Ok(found)
}

/// Deletes all but the newest `retain` complete checkpoints under `root`, and incomplete ones
/// older than the newest complete one; never `keep` (the checkpoint restored from).
pub(crate) fn apply_retention(root: &Path, retain: usize, keep: Option<&Path>) -> Result<()> {
    let mut complete = 0;
    let mut newest_complete: Option<u64> = None;
    for (id, path) in list_checkpoints(root)? {
        let is_complete = path.join(MANIFEST).exists();
        let delete = if is_complete {
            complete += 1;
            newest_complete.get_or_insert(id);
            complete > retain.max(1)
        } else {
            newest_complete.is_some_and(|newest| id < newest)
        };
        if delete && keep.is_none_or(|keep| keep != path) {
            fs::remove_dir_all(&path).map_err(|error| io_error("deleting", &path, error))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(id: u64) -> Manifest {
        Manifest {
            format: FORMAT.into(),
            version: FORMAT_VERSION,
            id,
            kind: CheckpointKind::Checkpoint,
            logical_time: 10 * id,
            finished: false,
            workers: 1,
            operators: Vec::new(),
            stats: CheckpointStats::default(),
        }
    }

    #[test]
    fn parts_round_trip_and_corruption_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        write_part(dir.path(), "0-op/worker-0.part", b"hello").unwrap();
        let entry = part_entry("0-op/worker-0.part", 0, b"hello", 1);
        assert_eq!(read_part(dir.path(), &entry).unwrap(), b"hello");
        fs::write(dir.path().join("0-op/worker-0.part"), b"hellp").unwrap();
        let error = read_part(dir.path(), &entry).unwrap_err().to_string();
        assert!(error.contains("corrupt"), "{error}");
    }

    #[test]
    fn manifest_is_written_atomically_and_versions_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        write_manifest(dir.path(), &manifest(3)).unwrap();
        assert!(!dir.path().join("_manifest.json.tmp").exists());
        assert_eq!(read_manifest(dir.path()).unwrap(), manifest(3));
        let mut newer = manifest(4);
        newer.version = FORMAT_VERSION + 1;
        write_manifest(dir.path(), &newer).unwrap();
        assert!(read_manifest(dir.path()).unwrap_err().to_string().contains("newer"));
    }

    #[test]
    fn retention_keeps_the_newest_and_the_restored_one() {
        let dir = tempfile::tempdir().unwrap();
        for id in 1..=5 {
            let path = dir.path().join(checkpoint_dir_name(id));
            fs::create_dir_all(&path).unwrap();
            if id != 4 {
                write_manifest(&path, &manifest(id)).unwrap();
            }
        }
        // 6 is in flight (incomplete, newer than every complete one).
        fs::create_dir_all(dir.path().join(checkpoint_dir_name(6))).unwrap();
        let restored = dir.path().join(checkpoint_dir_name(1));
        apply_retention(dir.path(), 2, Some(&restored)).unwrap();
        let left: Vec<u64> = list_checkpoints(dir.path()).unwrap().into_iter().map(|(id, _)| id).collect();
        assert_eq!(left, vec![6, 5, 3, 1]);
    }
}
