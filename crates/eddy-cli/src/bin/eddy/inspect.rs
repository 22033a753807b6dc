//! `eddy inspect`: verifies a checkpoint or savepoint and prints a summary (a table or JSON), or
//! dumps one operator's state as JSON lines.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use eddy_core::checkpoint::storage::local_path;
use eddy_core::checkpoint::store::{is_complete, list_checkpoints, MANIFEST};
use eddy_core::checkpoint::{inspect, CheckpointKind, Manifest, PartKind};

use crate::Failure;

/// Verifies the checkpoint at (or newest complete under) `path`, then dumps operator `uid` or
/// prints the summary.
pub(crate) fn inspect(path: &Path, uid: Option<&str>, json: bool) -> Result<(), Failure> {
    let checkpoint = resolve_checkpoint(path)?;
    let manifest = inspect::verify(&checkpoint)?;
    match uid {
        Some(uid) => dump(&checkpoint, &manifest, uid),
        None if json => print_json(&checkpoint, &manifest),
        None => print_table(&checkpoint, &manifest),
    }
}

/// `path` itself when it holds a manifest; otherwise, if it is a checkpoint root, its newest
/// complete checkpoint (announced on stderr).
fn resolve_checkpoint(path: &Path) -> Result<PathBuf, Failure> {
    if is_complete(path)? {
        return Ok(path.to_owned());
    }
    if let Some(local) = local_path(path) {
        match std::fs::metadata(local) {
            Err(error) => return Err(Failure::Message(format!("{}: {error}", path.display()))),
            Ok(metadata) if !metadata.is_dir() => {
                return Err(Failure::Message(format!("{}: not a directory", path.display())))
            }
            Ok(_) => {}
        }
    }
    let checkpoints = list_checkpoints(path)?;
    if checkpoints.is_empty() {
        return Err(Failure::Message(format!(
            "{}: not a checkpoint or savepoint (missing {MANIFEST}) and holds no chk-* checkpoints",
            path.display()
        )));
    }
    for (_, checkpoint) in &checkpoints {
        if is_complete(checkpoint)? {
            eprintln!("eddy: inspecting {}, the newest complete checkpoint", checkpoint.display());
            return Ok(checkpoint.clone());
        }
    }
    Err(Failure::Message(format!(
        "{}: none of its {} checkpoints is complete (each is missing {MANIFEST})",
        path.display(),
        checkpoints.len()
    )))
}

fn dump(checkpoint: &Path, manifest: &Manifest, uid: &str) -> Result<(), Failure> {
    if !manifest.operators.iter().any(|operator| operator.uid == uid) {
        let uids: Vec<&str> = manifest.operators.iter().map(|operator| operator.uid.as_str()).collect();
        return Err(Failure::Message(format!(
            "{} has no operator `{uid}` (it has: {})",
            checkpoint.display(),
            uids.join(", ")
        )));
    }
    let mut out = io::BufWriter::new(io::stdout().lock());
    inspect::dump(checkpoint, uid, &mut out).map_err(|error| with_path(checkpoint, Failure::from(error)))?;
    out.flush()?;
    Ok(())
}

/// Names the checkpoint in an error that may not (part contents that do not parse).
fn with_path(checkpoint: &Path, failure: Failure) -> Failure {
    match failure {
        Failure::Message(message) if !message.contains(&*checkpoint.to_string_lossy()) => {
            Failure::Message(format!("{}: {message}", checkpoint.display()))
        }
        other => other,
    }
}

fn kind_name(kind: CheckpointKind) -> &'static str {
    match kind {
        CheckpointKind::Checkpoint => "checkpoint",
        CheckpointKind::Savepoint => "savepoint",
        CheckpointKind::Final => "final",
    }
}

fn part_kind_name(kind: &PartKind) -> &str {
    kind.as_str()
}

/// What a part's `entries` count for an operator of `kind`.
fn entries_unit(kind: &PartKind, count: u64) -> &'static str {
    match (kind, count == 1) {
        (PartKind::Keyed, true) => "key",
        (PartKind::Keyed, false) => "keys",
        (PartKind::Source, true) => "split",
        (PartKind::Source, false) => "splits",
        (PartKind::Sink, true) => "staged file",
        (PartKind::Sink, false) => "staged files",
        (PartKind::Custom(_), true) => "entry",
        (PartKind::Custom(_), false) => "entries",
    }
}

/// Per operator: (uid, kind, parts, bytes, entries).
fn operator_totals(manifest: &Manifest) -> Vec<(&str, PartKind, usize, u64, u64)> {
    manifest
        .operators
        .iter()
        .map(|operator| {
            let bytes = operator.parts.iter().map(|part| part.bytes).sum();
            let entries = operator.parts.iter().map(|part| part.entries).sum();
            (operator.uid.as_str(), operator.kind.clone(), operator.parts.len(), bytes, entries)
        })
        .collect()
}

fn print_json(checkpoint: &Path, manifest: &Manifest) -> Result<(), Failure> {
    let operators: Vec<serde_json::Value> = operator_totals(manifest)
        .into_iter()
        .map(|(uid, kind, parts, bytes, entries)| {
            serde_json::json!({
                "uid": uid,
                "kind": part_kind_name(&kind),
                "parts": parts,
                "bytes": bytes,
                "entries": entries,
            })
        })
        .collect();
    let summary = serde_json::json!({
        "path": checkpoint.display().to_string(),
        "id": manifest.id,
        "kind": kind_name(manifest.kind),
        "logical_time": if manifest.finished { None } else { Some(manifest.logical_time) },
        "finished": manifest.finished,
        "workers": manifest.workers,
        "format": manifest.format,
        "version": manifest.version,
        "stats": manifest.stats,
        "operators": operators,
    });
    writeln!(io::stdout().lock(), "{summary}")?;
    Ok(())
}

fn print_table(checkpoint: &Path, manifest: &Manifest) -> Result<(), Failure> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    let time = if manifest.finished { "end of input".to_string() } else { manifest.logical_time.to_string() };
    let stats = &manifest.stats;
    let summary = [
        ("path", checkpoint.display().to_string()),
        ("id", manifest.id.to_string()),
        ("kind", kind_name(manifest.kind).to_string()),
        ("logical time", time),
        ("workers", manifest.workers.to_string()),
        ("format", format!("{} version {}", manifest.format, manifest.version)),
        ("duration", format!("{} ms (snapshot {} ms)", stats.duration_ms, stats.snapshot_ms)),
        ("size", format!("{} bytes", stats.bytes)),
    ];
    for (name, value) in summary {
        writeln!(out, "{name:<13} {value}")?;
    }
    writeln!(out)?;
    if manifest.operators.is_empty() {
        writeln!(out, "(no operators)")?;
        out.flush()?;
        return Ok(());
    }
    let mut rows = vec![["UID".to_string(), "KIND".into(), "PARTS".into(), "BYTES".into(), "ENTRIES".into()]];
    for (uid, kind, parts, bytes, entries) in operator_totals(manifest) {
        rows.push([
            uid.to_string(),
            part_kind_name(&kind).into(),
            parts.to_string(),
            bytes.to_string(),
            format!("{entries} {}", entries_unit(&kind, entries)),
        ]);
    }
    let mut widths = [0; 5];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in &rows {
        let [uid, kind, parts, bytes, entries] = row;
        let [w0, w1, w2, w3, _] = widths;
        writeln!(out, "{uid:<w0$}  {kind:<w1$}  {parts:>w2$}  {bytes:>w3$}  {entries}")?;
    }
    out.flush()?;
    Ok(())
}
