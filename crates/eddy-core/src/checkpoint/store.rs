//! Checkpoints in storage: the layout, the manifest, checksums, finding the newest complete
//! checkpoint, and retention. All I/O goes through [`super::storage`], so `<checkpoint-dir>`
//! may be a local directory or an object store URL (`s3://bucket/prefix`).
//!
//! ```text
//! <checkpoint-dir>/chk-0000000007/_manifest.json       written last, atomically, create-only
//! <checkpoint-dir>/chk-0000000007/<n>-<uid>/worker-<w>.part
//! <checkpoint-dir>/control.sock                        the control channel of a running job
//! <savepoint-dir>/_manifest.json, <n>-<uid>/worker-<w>.part    same layout
//! ```
//!
//! A checkpoint exists only once its manifest does. The manifest lists every part with its
//! size and XXH3-64 checksum; a checkpoint whose manifest is missing or unreadable, or whose
//! parts do not match, is skipped with a warning, never half-loaded.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use super::part::PartKind;
use super::storage::Location;
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

/// Writes one part durably at `relative` in the checkpoint `checkpoint`.
pub(crate) fn write_part(checkpoint: &Path, relative: &str, bytes: &[u8]) -> Result<()> {
    Location::open(checkpoint)?.join(relative).put(bytes)
}

pub(crate) fn checksum(bytes: &[u8]) -> String {
    format!("{:016x}", xxh3_64(bytes))
}

/// Marks a checkpoint as committing its output ([`COMMITTING`]): an empty object, durable.
pub(crate) fn mark_committing(checkpoint: &Path) -> Result<()> {
    Location::open(checkpoint)?.join(COMMITTING).put(b"")
}

/// Writes the manifest atomically and create-only ([`Location::put_new`]): a checkpoint whose
/// manifest exists is never overwritten, so two jobs writing one directory fail instead of
/// mixing their checkpoints.
pub(crate) fn write_manifest(checkpoint: &Path, manifest: &Manifest) -> Result<()> {
    let text = serde_json::to_string_pretty(manifest)
        .map_err(|error| Error::Internal(format!("encoding a manifest: {error}")))?;
    Location::open(checkpoint)?.join(MANIFEST).put_new(text.as_bytes())
}

/// Whether the checkpoint at `checkpoint` is complete (has a manifest).
pub fn is_complete(checkpoint: &Path) -> Result<bool> {
    Location::open(checkpoint)?.join(MANIFEST).exists()
}

/// Whether the checkpoint at `checkpoint` began committing output ([`COMMITTING`]).
pub(crate) fn began_committing(checkpoint: &Path) -> Result<bool> {
    Location::open(checkpoint)?.join(COMMITTING).exists()
}

/// Reads a manifest without checking the parts.
pub fn read_manifest(checkpoint: &Path) -> Result<Manifest> {
    let location = Location::open(checkpoint)?.join(MANIFEST);
    let bytes = location.read()?;
    let text = String::from_utf8(bytes)
        .map_err(|error| Error::Checkpoint(format!("{location}: not a valid manifest: {error}")))?;
    let manifest: Manifest = serde_json::from_str(&text)
        .map_err(|error| Error::Checkpoint(format!("{location}: not a valid manifest: {error}")))?;
    if manifest.format != FORMAT {
        return Err(Error::Checkpoint(format!("{location}: format `{}` is not {FORMAT}", manifest.format)));
    }
    if manifest.version > FORMAT_VERSION {
        return Err(Error::Checkpoint(format!(
            "{location}: format version {} is newer than this build reads ({FORMAT_VERSION})",
            manifest.version
        )));
    }
    Ok(manifest)
}

/// Reads a part and checks its size and checksum against the manifest.
pub fn read_part(checkpoint: &Path, entry: &PartEntry) -> Result<Vec<u8>> {
    // The manifest is input too: a part named `/dev/zero` or `../..` must not be read.
    let relative = Path::new(&entry.file);
    let inside = relative.components().all(|component| matches!(component, std::path::Component::Normal(_)));
    let location = Location::open(checkpoint)?;
    if !inside || entry.file.is_empty() {
        return Err(Error::Checkpoint(format!(
            "{}: `{}` is not a part inside the checkpoint",
            location.join(MANIFEST),
            entry.file
        )));
    }
    let location = location.join(&entry.file);
    let bytes = location.read()?;
    if bytes.len() as u64 != entry.bytes || checksum(&bytes) != entry.xxh3 {
        return Err(Error::Checkpoint(format!(
            "{location}: corrupt (expected {} bytes with checksum {}, found {} bytes with checksum {})",
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
    let mut found: Vec<(u64, PathBuf)> = Location::open(root)?
        .list()?
        .into_iter()
        .filter_map(|name| Some((parse_checkpoint_dir_name(&name)?, root.join(name))))
        .collect();
    found.sort_by_key(|(id, _)| std::cmp::Reverse(*id));
    Ok(found)
}

/// Deletes all but the newest `retain` complete checkpoints under `root`, and incomplete ones
/// older than the newest complete one; never `keep` (the checkpoint restored from).
pub(crate) fn apply_retention(root: &Path, retain: usize, keep: Option<&Path>) -> Result<()> {
    let mut complete = 0;
    let mut newest_complete: Option<u64> = None;
    for (id, path) in list_checkpoints(root)? {
        let delete = if is_complete(&path)? {
            complete += 1;
            newest_complete.get_or_insert(id);
            complete > retain.max(1)
        } else {
            newest_complete.is_some_and(|newest| id < newest)
        };
        if delete && keep.is_none_or(|keep| keep != path) {
            Location::open(&path)?.delete_all()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

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
        let error = write_manifest(dir.path(), &manifest(4)).unwrap_err().to_string();
        assert!(error.contains("already exists"), "{error}");
        assert_eq!(read_manifest(dir.path()).unwrap(), manifest(3));
        let newer_dir = dir.path().join("newer");
        std::fs::create_dir(&newer_dir).unwrap();
        let mut newer = manifest(4);
        newer.version = FORMAT_VERSION + 1;
        write_manifest(&newer_dir, &newer).unwrap();
        assert!(read_manifest(&newer_dir).unwrap_err().to_string().contains("newer"));
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

/// Fuzz targets of the checkpoint reader (issue 15), and the generators the other checkpoint
/// fuzz targets share: a checkpoint directory with parts of every kind, whose manifest or
/// parts get bit flips, truncations, inserted bytes and huge numbers. Reading one must give
/// the checkpoint or an `Error` naming the file, never a panic or a huge allocation. 256
/// cases each (a few seconds in a debug build); set `PROPTEST_CASES` for a longer run. Failing
/// inputs are kept in `crates/eddy-core/proptest-regressions/checkpoint/store.txt`.
#[cfg(test)]
pub(crate) mod fuzz_tests {
    use super::*;
    use crate::checkpoint::keyed::fuzz_tests::keyed_part;
    use proptest::prelude::*;
    use proptest::sample::Index;
    use std::fs;

    /// 256 cases unless `PROPTEST_CASES` asks for more (or fewer).
    pub(crate) fn config() -> ProptestConfig {
        let cases = std::env::var("PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(256);
        ProptestConfig { cases, ..ProptestConfig::default() }
    }

    /// One change to a byte string.
    #[derive(Clone, Debug)]
    pub(crate) enum Mutation {
        /// XOR the byte at the index with a non-zero mask.
        Flip(Index, u8),
        /// Cut the bytes from the index on.
        Truncate(Index),
        /// Insert bytes at the index.
        Insert(Index, Vec<u8>),
        /// Overwrite bytes from the index (a length field with a huge value, or a digit run).
        Overwrite(Index, Vec<u8>),
    }

    pub(crate) fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
        let huge = prop::sample::select(vec![
            u32::MAX.to_le_bytes().to_vec(),
            0x8000_0000u32.to_le_bytes().to_vec(),
            u64::MAX.to_le_bytes().to_vec(),
            (1u64 << 40).to_le_bytes().to_vec(),
            u16::MAX.to_le_bytes().to_vec(),
            b"18446744073709551615".to_vec(),
            b"99999999999999999999999".to_vec(),
            b"-1".to_vec(),
            b"1e308".to_vec(),
        ]);
        let mutation = prop_oneof![
            4 => (any::<Index>(), 1..=255u8).prop_map(|(at, mask)| Mutation::Flip(at, mask)),
            2 => any::<Index>().prop_map(Mutation::Truncate),
            2 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..8)).prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
            3 => (any::<Index>(), huge).prop_map(|(at, bytes)| Mutation::Overwrite(at, bytes)),
        ];
        prop::collection::vec(mutation, 1..4)
    }

    pub(crate) fn mutate(bytes: &mut Vec<u8>, mutations: &[Mutation]) {
        for mutation in mutations {
            match mutation {
                Mutation::Flip(at, mask) if !bytes.is_empty() => {
                    let at = at.index(bytes.len());
                    bytes[at] ^= mask;
                }
                Mutation::Truncate(at) => bytes.truncate(at.index(bytes.len() + 1)),
                Mutation::Insert(at, inserted) => {
                    let at = at.index(bytes.len() + 1);
                    bytes.splice(at..at, inserted.iter().copied());
                }
                Mutation::Overwrite(at, written) if !bytes.is_empty() => {
                    let at = at.index(bytes.len());
                    let end = (at + written.len()).min(bytes.len());
                    bytes[at..end].copy_from_slice(&written[..end - at]);
                }
                _ => {}
            }
        }
    }

    /// A checkpoint to write, then damage.
    #[derive(Clone, Debug)]
    pub(crate) struct FuzzedCheckpoint {
        /// (uid, kind, contents) of each operator's one part.
        pub(crate) parts: Vec<(String, PartKind, Vec<u8>)>,
        /// What to do to the manifest's text.
        pub(crate) manifest: Vec<Mutation>,
        /// What to do to one part, and whether the manifest then lists the damaged part's size
        /// and checksum (so the damage reaches the part's parser).
        pub(crate) part: Option<(Index, Vec<Mutation>, bool)>,
    }

    impl FuzzedCheckpoint {
        /// Whether anything is damaged.
        pub(crate) fn damaged(&self) -> bool {
            !self.manifest.is_empty() || self.part.is_some()
        }

        /// Writes it into `dir`.
        pub(crate) fn write(&self, dir: &Path) {
            let mut operators = Vec::new();
            for (index, (uid, kind, bytes)) in self.parts.iter().enumerate() {
                let relative = format!("{index}-{}/worker-0.part", operator_dir_name(uid));
                let mut entry = part_entry(&relative, 0, bytes, 1);
                let mut bytes = bytes.clone();
                if let Some((at, mutations, reseal)) = &self.part {
                    if at.index(self.parts.len()) == index {
                        mutate(&mut bytes, mutations);
                        if *reseal {
                            entry = part_entry(&relative, 0, &bytes, 1);
                        }
                    }
                }
                // Not `write_part`: its fsyncs would make the fuzz targets slow.
                let path = dir.join(&relative);
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                fs::write(path, &bytes).unwrap();
                operators.push(OperatorEntry {
                    uid: uid.clone(),
                    kind: kind.clone(),
                    version: None,
                    parts: vec![entry],
                });
            }
            let manifest = Manifest {
                format: FORMAT.into(),
                version: FORMAT_VERSION,
                id: 7,
                kind: CheckpointKind::Checkpoint,
                logical_time: 70,
                finished: false,
                workers: 1,
                operators,
                stats: CheckpointStats::default(),
            };
            let mut text = serde_json::to_vec_pretty(&manifest).unwrap();
            mutate(&mut text, &self.manifest);
            fs::write(dir.join(MANIFEST), text).unwrap();
        }
    }

    /// A source part as the runtime writes it, with odd positions.
    fn source_part() -> impl Strategy<Value = Vec<u8>> {
        let split = ("\\PC{0,8}", any::<bool>(), any::<u64>(), any::<u64>());
        prop::collection::vec(split, 0..3).prop_map(|splits| {
            let splits: serde_json::Map<String, serde_json::Value> = splits
                .into_iter()
                .map(|(id, finished, offset, line)| {
                    let state = serde_json::json!({
                        "finished": finished,
                        "position": {"offset": offset, "line": line},
                        "watermarks": {"watermark": 0},
                    });
                    (id, state)
                })
                .collect();
            serde_json::to_vec(&serde_json::json!({"version": 1, "splits": splits})).unwrap()
        })
    }

    /// A sink part: the committables to commit.
    fn sink_part() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec("\\PC{0,12}", 0..3).prop_map(|files| {
            serde_json::to_vec(&serde_json::json!(files
                .into_iter()
                .map(|file| serde_json::json!({"file": file}))
                .collect::<Vec<_>>()))
            .unwrap()
        })
    }

    pub(crate) fn fuzzed_checkpoint() -> impl Strategy<Value = FuzzedCheckpoint> {
        let part = prop_oneof![
            keyed_part().prop_map(|bytes| (PartKind::Keyed, bytes)),
            source_part().prop_map(|bytes| (PartKind::Source, bytes)),
            sink_part().prop_map(|bytes| (PartKind::Sink, bytes)),
            prop::collection::vec(any::<u8>(), 0..40)
                .prop_map(|bytes| (PartKind::Custom("custom-state".into()), bytes)),
        ];
        let parts = prop::collection::vec(("[a-z]{1,6}", part), 1..4).prop_map(|parts| {
            parts
                .into_iter()
                .enumerate()
                .map(|(n, (uid, (kind, bytes)))| (format!("{uid}{n}"), kind, bytes))
                .collect()
        });
        let manifest = prop_oneof![1 => Just(Vec::new()), 2 => mutations()];
        let part = prop::option::of((any::<Index>(), mutations(), any::<bool>()));
        (parts, manifest, part).prop_map(|(parts, manifest, part)| FuzzedCheckpoint { parts, manifest, part })
    }

    /// Arbitrary JSON, and manifests with fields of the wrong type or with odd numbers.
    fn manifest_json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<u64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_map(serde_json::Value::from),
            "\\PC{0,8}".prop_map(serde_json::Value::from),
        ];
        let any_json = leaf.clone().prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                prop::collection::btree_map("[a-z_]{0,8}", inner, 0..4)
                    .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
            ]
        });
        let fields =
            ["format", "version", "id", "kind", "logical_time", "finished", "workers", "operators", "stats"];
        let replaced = (prop::sample::select(fields.to_vec()), any_json.clone()).prop_map(|(field, value)| {
            let mut manifest = serde_json::json!({
                "format": FORMAT, "version": FORMAT_VERSION, "id": 1, "kind": "savepoint",
                "logical_time": 5, "finished": true, "workers": 2,
                "operators": [{"uid": "a", "kind": "keyed", "parts": [
                    {"worker": 0, "file": "a/worker-0.part", "bytes": 3, "xxh3": "0000000000000000", "entries": 1}]}],
                "stats": {"duration_ms": 1, "snapshot_ms": 1, "bytes": 3},
            });
            manifest[field] = value;
            manifest
        });
        prop_oneof![1 => any_json, 3 => replaced]
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn fuzz_read_manifest(text in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200),
            manifest_json().prop_map(|json| serde_json::to_vec(&json).unwrap()),
        ]) {
            let dir = tempfile::tempdir().unwrap();
            fs::write(dir.path().join(MANIFEST), &text).unwrap();
            if let Ok(manifest) = read_manifest(dir.path()) {
                prop_assert!(manifest.format == FORMAT && manifest.version <= FORMAT_VERSION);
                for part in manifest.operators.iter().flat_map(|operator| &operator.parts) {
                    let error = read_part(dir.path(), part).expect_err("no part was written");
                    prop_assert!(error.to_string().contains(&part.file), "{error}");
                }
            }
        }

        #[test]
        fn fuzz_read_damaged_checkpoints(checkpoint in fuzzed_checkpoint()) {
            let dir = tempfile::tempdir().unwrap();
            checkpoint.write(dir.path());
            match read_manifest(dir.path()) {
                Ok(manifest) => {
                    for part in manifest.operators.iter().flat_map(|operator| &operator.parts) {
                        if let Err(error) = read_part(dir.path(), part) {
                            prop_assert!(checkpoint.damaged(), "{error}");
                            prop_assert!(matches!(error, Error::Checkpoint(_) | Error::Io { .. }), "{error}");
                        }
                    }
                }
                Err(error) => {
                    prop_assert!(checkpoint.damaged(), "{error}");
                    prop_assert!(error.to_string().contains(MANIFEST), "{error}");
                }
            }
        }
    }

    /// A manifest may only name parts inside its checkpoint: one naming `/dev/zero` would
    /// otherwise be read without end.
    #[test]
    fn parts_outside_the_checkpoint_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for file in ["/dev/zero", "../outside.part", "a/../../outside.part", ""] {
            let entry =
                PartEntry { worker: 0, file: file.into(), bytes: 1, xxh3: checksum(b"x"), entries: 1 };
            let error = read_part(dir.path(), &entry).expect_err("refused").to_string();
            assert!(error.contains("not a part inside the checkpoint"), "{file}: {error}");
        }
    }
}
