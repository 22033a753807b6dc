//! What a file reader records in a checkpoint: its position and the identity of the file's
//! consumed part, so that a restore can tell that the bytes already read are still there (or
//! find them again under a new name after a rename) instead of silently skipping, losing or
//! re-reading records.
//!
//! # Checkpointing
//! The identity is the file's size and modification time at the checkpoint (reported in
//! errors, never compared: appending is allowed, and copying a file changes its modification
//! time without changing its content) and XXH3 hashes of two windows of the consumed prefix:
//! its first [`HEAD_BYTES`] and the [`TAIL_BYTES`] before the consumed offset. The cost is
//! bounded: at most 68 KiB read per split and checkpoint, and the head is hashed once it is
//! complete. A prefix that differs only outside both windows goes unnoticed.

use std::fs::File;
use std::path::Path;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3;

/// The consumed prefix's first bytes that are hashed.
pub(crate) const HEAD_BYTES: u64 = 64 * 1024;
/// The bytes before the consumed offset that are hashed (after the head).
pub(crate) const TAIL_BYTES: u64 = 4 * 1024;

/// A file reader's checkpointed position (JSON). Positions written before identities were
/// recorded have only `offset`, `line` and, for CSV, `record`; they still restore.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FilePosition {
    /// Byte offset of the next record (everything before it is consumed).
    pub(crate) offset: u64,
    /// Line number of the last line consumed.
    pub(crate) line: u64,
    /// CSV only: records consumed (csv's own position counter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) record: Option<u64>,
    /// The file at the checkpoint; `None` in positions of older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) identity: Option<FileIdentity>,
}

/// The identity of a file's consumed prefix (see the module docs for what is checked).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FileIdentity {
    /// The file's length at the checkpoint (at least the consumed offset).
    pub(crate) size: u64,
    /// Modification time in milliseconds since the Unix epoch, when the file system has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) modified_ms: Option<u64>,
    /// Length of the hashed head: `min(offset, HEAD_BYTES)`.
    pub(crate) head_len: u64,
    /// XXH3-64 of the head, 16 hex digits.
    pub(crate) head_xxh3: String,
    /// Length of the hashed window that ends at the offset (after the head).
    pub(crate) tail_len: u64,
    /// XXH3-64 of that window, 16 hex digits.
    pub(crate) tail_xxh3: String,
}

/// How a file no longer matches its checkpointed position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Mismatch {
    /// The file is shorter than the consumed offset.
    Truncated { now: u64 },
    /// The bytes in `start..end` of the consumed prefix changed.
    Changed { start: u64, end: u64 },
}

impl FilePosition {
    /// Parses a checkpointed position (of this or an older version), and refuses one that no
    /// reader can have written: every line and record consumed takes at least a byte, and an
    /// offset is at most `i64::MAX` (so counting on from it cannot overflow).
    pub(crate) fn parse(path: &Path, position: &serde_json::Value) -> eddy_core::error::Result<FilePosition> {
        let parsed: FilePosition = serde_json::from_value(position.clone()).map_err(|error| {
            eddy_core::error::Error::Checkpoint(format!(
                "{}: bad checkpointed file position {position}: {error}",
                path.display()
            ))
        })?;
        let at_most = parsed.offset.saturating_add(1);
        if parsed.offset > i64::MAX as u64 {
            return Err(parsed.impossible(path, "the offset is beyond any file"));
        }
        if parsed.line > at_most || parsed.record.is_some_and(|record| record > at_most) {
            return Err(parsed.impossible(path, "more lines or records than bytes"));
        }
        Ok(parsed)
    }

    /// The error for a position no reader can have written.
    pub(crate) fn impossible(&self, path: &Path, why: &str) -> eddy_core::error::Error {
        eddy_core::error::Error::Checkpoint(format!(
            "{}: bad checkpointed file position (offset {}, line {}{}): {why}",
            path.display(),
            self.offset,
            self.line,
            self.record.map_or_else(String::new, |record| format!(", record {record}"))
        ))
    }

    /// Says what changed, for errors (`now`: the file's metadata now).
    pub(crate) fn describe(&self, mismatch: &Mismatch, now: Option<&std::fs::Metadata>) -> String {
        let consumed =
            format!("the checkpoint had consumed {} bytes (up to line {})", self.offset, self.line);
        let then = match &self.identity {
            Some(identity) => format!(
                "; the file had {} bytes then{}",
                identity.size,
                match (identity.modified_ms, now.and_then(modified_ms)) {
                    (Some(then), Some(now)) if then == now => " and its modification time is unchanged",
                    (Some(then), Some(now)) if then < now => " and it has been modified since",
                    (Some(_), Some(_)) => " and its modification time changed",
                    _ => "",
                }
            ),
            None => String::new(),
        };
        match mismatch {
            Mismatch::Truncated { now } => format!("it was truncated: now {now} bytes, {consumed}{then}"),
            Mismatch::Changed { start, end } => {
                format!("its content changed: bytes in {start}..{end} differ from those consumed; {consumed}{then}")
            }
        }
    }
}

/// The modification time of `metadata` in milliseconds since the Unix epoch.
pub(crate) fn modified_ms(metadata: &std::fs::Metadata) -> Option<u64> {
    let modified = metadata.modified().ok()?;
    Some(modified.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis() as u64)
}

/// Computes identities of one open file as its reader moves on; remembers the head's hash
/// once the head is complete, so a checkpoint then reads only the tail window.
#[derive(Default)]
pub(crate) struct IdentityCache {
    full_head: Option<String>,
}

impl IdentityCache {
    /// The identity of `file` consumed up to `offset` (read with positioned reads: the reader's
    /// own cursor does not move).
    pub(crate) fn identity(&mut self, file: &File, offset: u64) -> std::io::Result<FileIdentity> {
        let metadata = file.metadata()?;
        let head_len = offset.min(HEAD_BYTES);
        let head_xxh3 = match (&self.full_head, head_len == HEAD_BYTES) {
            (Some(hash), true) => hash.clone(),
            _ => {
                let hash = hash_range(file, 0, head_len)?;
                if head_len == HEAD_BYTES {
                    self.full_head = Some(hash.clone());
                }
                hash
            }
        };
        let tail_start = offset.saturating_sub(TAIL_BYTES).max(head_len);
        Ok(FileIdentity {
            size: metadata.len(),
            modified_ms: modified_ms(&metadata),
            head_len,
            head_xxh3,
            tail_len: offset - tail_start,
            tail_xxh3: hash_range(file, tail_start, offset)?,
        })
    }
}

/// Checks that the file at `path` still holds the prefix `position` consumed: at least
/// `offset` bytes and, when the position has an identity, the same hashed windows.
pub(crate) fn verify(
    path: &Path,
    position: &FilePosition,
) -> std::io::Result<(std::fs::Metadata, Option<Mismatch>)> {
    let file = File::open(path)?;
    let metadata = file.metadata()?;
    let now = metadata.len();
    if now < position.offset {
        return Ok((metadata, Some(Mismatch::Truncated { now })));
    }
    let Some(identity) = &position.identity else { return Ok((metadata, None)) };
    if hash_range(&file, 0, identity.head_len)? != identity.head_xxh3 {
        return Ok((metadata, Some(Mismatch::Changed { start: 0, end: identity.head_len })));
    }
    let tail_start = position.offset - identity.tail_len.min(position.offset);
    if hash_range(&file, tail_start, position.offset)? != identity.tail_xxh3 {
        return Ok((metadata, Some(Mismatch::Changed { start: tail_start, end: position.offset })));
    }
    Ok((metadata, None))
}

/// XXH3-64 (16 hex digits) of `file`'s bytes in `start..end`.
fn hash_range(file: &File, start: u64, end: u64) -> std::io::Result<String> {
    let mut hasher = Xxh3::new();
    let mut buffer = vec![0u8; (end - start).min(HEAD_BYTES) as usize];
    let mut at = start;
    while at < end {
        let chunk = &mut buffer[..(end - at).min(HEAD_BYTES) as usize];
        read_exact_at(file, chunk, at)?;
        hasher.update(chunk);
        at += chunk.len() as u64;
    }
    Ok(format!("{:016x}", hasher.digest()))
}

#[cfg(unix)]
fn read_exact_at(file: &File, buffer: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buffer, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buffer: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    while !buffer.is_empty() {
        match std::os::windows::fs::FileExt::seek_read(file, buffer, offset)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            read => {
                buffer = &mut buffer[read..];
                offset += read as u64;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position_of(path: &Path, offset: u64) -> FilePosition {
        let file = File::open(path).unwrap();
        let identity = IdentityCache::default().identity(&file, offset).unwrap();
        FilePosition { offset, line: 1, record: None, identity: Some(identity) }
    }

    #[test]
    fn appending_keeps_the_identity_and_changes_in_either_window_break_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.txt");
        let text: Vec<u8> = (0..200_000u32).map(|n| b'a' + (n % 26) as u8).collect();
        std::fs::write(&path, &text).unwrap();
        let position = position_of(&path, 150_000);
        let identity = position.identity.as_ref().unwrap();
        assert_eq!((identity.head_len, identity.tail_len, identity.size), (HEAD_BYTES, TAIL_BYTES, 200_000));
        assert_eq!(verify(&path, &position).unwrap().1, None);
        let mut longer = text.clone();
        longer.extend_from_slice(b"appended\n");
        std::fs::write(&path, &longer).unwrap();
        assert_eq!(verify(&path, &position).unwrap().1, None, "appending is allowed");
        // A change after the offset is not a change of the consumed prefix.
        let mut later = text.clone();
        later[160_000] = b'!';
        std::fs::write(&path, &later).unwrap();
        assert_eq!(verify(&path, &position).unwrap().1, None);
        let mut head = text.clone();
        head[10] = b'!';
        std::fs::write(&path, &head).unwrap();
        assert_eq!(
            verify(&path, &position).unwrap().1,
            Some(Mismatch::Changed { start: 0, end: HEAD_BYTES })
        );
        let mut tail = text.clone();
        tail[149_999] = b'!';
        std::fs::write(&path, &tail).unwrap();
        assert_eq!(
            verify(&path, &position).unwrap().1,
            Some(Mismatch::Changed { start: 150_000 - TAIL_BYTES, end: 150_000 })
        );
        std::fs::write(&path, &text[..100]).unwrap();
        assert_eq!(verify(&path, &position).unwrap().1, Some(Mismatch::Truncated { now: 100 }));
    }

    #[test]
    fn small_prefixes_are_hashed_whole_and_the_full_head_is_cached() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("small.txt");
        std::fs::write(&path, vec![b'x'; 100_000]).unwrap();
        let file = File::open(&path).unwrap();
        let mut cache = IdentityCache::default();
        let small = cache.identity(&file, 300).unwrap();
        assert_eq!((small.head_len, small.tail_len), (300, 0));
        assert!(cache.full_head.is_none());
        let near = cache.identity(&file, HEAD_BYTES + 10).unwrap();
        assert_eq!((near.head_len, near.tail_len), (HEAD_BYTES, 10));
        assert!(cache.full_head.is_some());
        assert_eq!(cache.identity(&file, 99_000).unwrap().head_xxh3, near.head_xxh3);
    }

    #[test]
    fn positions_of_older_versions_parse_and_new_ones_round_trip() {
        let path = Path::new("in.csv");
        let old =
            FilePosition::parse(path, &serde_json::json!({"offset": 40, "line": 3, "record": 2})).unwrap();
        assert_eq!(old, FilePosition { offset: 40, line: 3, record: Some(2), identity: None });
        let old_json = FilePosition::parse(path, &serde_json::json!({"offset": 40, "line": 3})).unwrap();
        assert_eq!(old_json.record, None);
        assert!(FilePosition::parse(path, &serde_json::json!({"line": 3})).is_err());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.csv");
        std::fs::write(&file, "a,b\n1,2\n").unwrap();
        let position = position_of(&file, 4);
        let value = serde_json::to_value(&position).unwrap();
        assert_eq!(FilePosition::parse(path, &value).unwrap(), position);
        // Without identity, only truncation below the offset can be told.
        let (_, mismatch) = verify(&file, &FilePosition { identity: None, ..position.clone() }).unwrap();
        assert_eq!(mismatch, None);
        let (_, mismatch) = verify(&file, &FilePosition { offset: 50, identity: None, ..position }).unwrap();
        assert_eq!(mismatch, Some(Mismatch::Truncated { now: 8 }));
    }
}
