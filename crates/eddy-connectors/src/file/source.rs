//! The file source: which files it reads (listing, filters, symbolic links, no input), its
//! options, and how a restore matches the checkpoint's files to the files there are now
//! (renames followed, truncated or changed files refused).

use std::collections::{BTreeMap, BTreeSet};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use eddy_core::error::{Error, Result};
use eddy_core::source::{RestoredSplit, Source, SplitContext, SplitReader};
use serde::de::DeserializeOwned;

use super::identity::{verify, FilePosition};
use super::readers::{CsvReader, JsonLinesReader};
use super::{BadRecords, FileFormat};
use crate::throttle::Throttled;

/// Reads records of type `T` from CSV or JSON-lines files.
///
/// # Checkpointing
/// Each file is a split; its position (byte offset, line) and the identity of the consumed
/// part are checkpointed. On restore, a file whose consumed part is gone or changed fails the
/// job with a non-retryable [`Error::Config`]; a renamed file is followed (see the module docs).
#[derive(Clone, Debug)]
pub struct FileSource<T> {
    path: PathBuf,
    format: FileFormat,
    has_header: bool,
    optional: bool,
    bad_records: BadRecords,
    extension: Option<String>,
    max_rate: Option<u64>,
    _type: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned + 'static> FileSource<T> {
    /// CSV files with a header row; columns map to `T`'s fields by name. See
    /// [`has_header`](Self::has_header) for files without one.
    pub fn csv(path: impl Into<PathBuf>) -> Self {
        Self::new(path.into(), FileFormat::Csv)
    }

    /// JSON-lines files; blank lines are skipped.
    pub fn json_lines(path: impl Into<PathBuf>) -> Self {
        Self::new(path.into(), FileFormat::JsonLines)
    }

    fn new(path: PathBuf, format: FileFormat) -> Self {
        FileSource {
            path,
            format,
            has_header: true,
            optional: false,
            bad_records: BadRecords::Fail,
            extension: None,
            max_rate: None,
            _type: PhantomData,
        }
    }

    /// Reads only the files of a directory whose names end with `.<extension>`.
    pub fn with_extension(mut self, extension: &str) -> Self {
        self.extension = Some(extension.trim_start_matches('.').to_owned());
        self
    }

    /// Reads at most `per_second` records per second (of the job's clock) over all files, each
    /// file getting an equal share (at least one record per second).
    pub fn with_max_rate(mut self, per_second: u64) -> Self {
        self.max_rate = Some(per_second.max(1));
        self
    }

    /// Sets what to do with unparsable lines.
    pub fn on_bad_records(mut self, bad_records: BadRecords) -> Self {
        self.bad_records = bad_records;
        self
    }

    /// CSV only: whether the first line of each file is a header naming the fields (the
    /// default, `true`). Without a header, columns map to `T`'s fields in order.
    ///
    /// With a header, a file whose only line is the header is an empty input. A first line
    /// that names none of `T`'s fields (when `T` is a struct) is not taken as a header: the
    /// job fails at line 1 with an error suggesting `has_header(false)`, rather than reading
    /// nothing from a one-line file or failing at line 2 on a missing field.
    pub fn has_header(mut self, has_header: bool) -> Self {
        self.has_header = has_header;
        self
    }

    /// Whether the input may be absent: with `true`, a path that does not exist or a directory
    /// without a file to read is an empty input. By default (`false`) both are errors, so that
    /// a wrong path or filter is not a job that succeeds having read nothing.
    pub fn optional(mut self, optional: bool) -> Self {
        self.optional = optional;
        self
    }

    /// The files this source reads, in split order.
    ///
    /// In a directory: regular files and symbolic links to them, except hidden files (names
    /// starting with `.`), files starting with `_` and, with [`with_extension`](Self::with_extension),
    /// other extensions. Subdirectories (and links to them) are not read. A symbolic link to
    /// nothing is an error naming it and its target.
    pub fn files(&self) -> Result<Vec<PathBuf>> {
        let metadata = match std::fs::metadata(&self.path) {
            Ok(metadata) => metadata,
            Err(error) if self.optional && error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Vec::new())
            }
            Err(error) => return Err(Error::io(format!("reading input {}", self.path.display()), error)),
        };
        if !metadata.is_dir() {
            return Ok(vec![self.path.clone()]);
        }
        let mut files = Vec::new();
        let mut skipped = 0;
        let entries = std::fs::read_dir(&self.path)
            .map_err(|error| Error::io(format!("listing input directory {}", self.path.display()), error))?;
        for entry in entries {
            let entry =
                entry.map_err(|error| Error::io(format!("listing {}", self.path.display()), error))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let wanted = self.extension.as_ref().is_none_or(|extension| {
                Path::new(name.as_ref()).extension().is_some_and(|found| found == extension.as_str())
            });
            if !wanted || name.starts_with('.') || name.starts_with('_') {
                skipped += 1;
                continue;
            }
            if is_file(&entry.path())? {
                files.push(entry.path());
            } else {
                skipped += 1;
            }
        }
        if files.is_empty() && !self.optional {
            let filter = match &self.extension {
                Some(extension) => format!("no file named `*.{extension}`"),
                None => "no file".to_owned(),
            };
            return Err(Error::Config(format!(
                "file source: input directory {} has {filter} to read ({skipped} entries skipped: hidden, \
                 starting with `_`, directories or other extensions); use `.optional(true)` if the input \
                 may be empty",
                self.path.display()
            )));
        }
        files.sort();
        Ok(files)
    }

    /// On restore: checks the checkpointed files this worker reads and finds renamed ones.
    fn reconcile(
        &self,
        context: &SplitContext,
        checkpoint: &Path,
        splits: &[RestoredSplit<'_>],
    ) -> Result<BTreeMap<String, String>> {
        let files = self.files()?;
        let listed: BTreeMap<String, usize> =
            files.iter().enumerate().map(|(index, path)| (path.display().to_string(), index)).collect();
        let checkpointed: BTreeSet<&str> = splits.iter().map(|split| split.id).collect();
        let mut new_files: Vec<&PathBuf> =
            files.iter().filter(|path| !checkpointed.contains(path.display().to_string().as_str())).collect();
        let changed = |path: &Path, reason: String| {
            Error::Config(format!(
                "file source: input {} does not match checkpoint {}: {reason}",
                path.display(),
                checkpoint.display()
            ))
        };
        let mut renames = BTreeMap::new();
        for split in splits {
            let path = Path::new(split.id);
            let Some(position) = split.position.map(|value| FilePosition::parse(path, value)).transpose()?
            else {
                continue; // Finished in a checkpoint of an older version: nothing to check.
            };
            if let Some(&index) = listed.get(split.id) {
                if index % context.workers == context.worker_index {
                    let (metadata, mismatch) = verify(path, &position)
                        .map_err(|error| Error::io(format!("checking input {}", path.display()), error))?;
                    if let Some(mismatch) = mismatch {
                        return Err(changed(path, position.describe(&mismatch, Some(&metadata))));
                    }
                }
                continue;
            }
            if position.offset == 0 {
                continue; // Nothing consumed: a renamed copy is rightly read from its start.
            }
            let gone = |found: String| {
                changed(
                    path,
                    format!(
                        "the file is gone{found}; {} bytes of it (up to line {}) were consumed{}",
                        position.offset,
                        position.line,
                        if split.finished { ", all of it" } else { "" }
                    ),
                )
            };
            if position.identity.is_none() {
                // An older checkpoint: a rename cannot be recognized.
                if split.finished && !new_files.is_empty() {
                    eprintln!(
                        "eddy: file source: {} of checkpoint {} is gone; the checkpoint has no file identities \
                         (older version), so new files are read from their start",
                        path.display(),
                        checkpoint.display()
                    );
                } else if !split.finished {
                    return Err(gone(
                        " and the checkpoint (of an older version) cannot recognize it renamed".into(),
                    ));
                }
                continue;
            }
            let mut matches = Vec::new();
            for (index, candidate) in new_files.iter().enumerate() {
                match verify(candidate, &position) {
                    Ok((_, None)) => matches.push(index),
                    Ok((_, Some(_))) => {}
                    Err(error) => {
                        return Err(Error::io(format!("checking input {}", candidate.display()), error))
                    }
                }
            }
            match matches.as_slice() {
                [index] => {
                    let renamed = new_files.remove(*index);
                    renames.insert(split.id.to_owned(), renamed.display().to_string());
                }
                [] if split.finished => {
                    // Read completely and removed since: nothing is lost or read twice.
                }
                [] => return Err(gone(" and no new file starts with its consumed part".into())),
                several => {
                    let names: Vec<String> =
                        several.iter().map(|&index| new_files[index].display().to_string()).collect();
                    return Err(gone(format!(
                        " and several new files start with its consumed part ({}), so it is unclear which \
                         one it was renamed to",
                        names.join(", ")
                    )));
                }
            }
        }
        Ok(renames)
    }
}

/// Whether a directory entry is a file to read: a regular file or a symbolic link to one.
fn is_file(path: &Path) -> Result<bool> {
    match std::fs::metadata(path) {
        Ok(metadata) => Ok(metadata.is_file()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let target = std::fs::read_link(path)
                .map_or_else(|_| "a missing file".to_owned(), |target| target.display().to_string());
            Err(Error::Config(format!(
                "file source: input {} is a symbolic link to {target}, which does not exist",
                path.display()
            )))
        }
        Err(error) => Err(Error::io(format!("reading input {}", path.display()), error)),
    }
}

impl<T: DeserializeOwned + 'static> Source<T> for FileSource<T> {
    fn name(&self) -> String {
        format!("file:{}", self.path.display())
    }

    fn sends_bad_records_to_dead_letters(&self) -> bool {
        self.bad_records == BadRecords::DeadLetter
    }

    fn splits(&self, context: &SplitContext) -> Result<Vec<Box<dyn SplitReader<T>>>> {
        let mut readers: Vec<Box<dyn SplitReader<T>>> = Vec::new();
        let files = self.files()?;
        let per_file = self.max_rate.map(|rate| (rate / files.len().max(1) as u64).max(1));
        for (index, path) in files.into_iter().enumerate() {
            if index % context.workers != context.worker_index {
                continue;
            }
            let reader: Box<dyn SplitReader<T>> = match self.format {
                FileFormat::Csv => Box::new(CsvReader::open(path, self.has_header, self.bad_records)?),
                FileFormat::JsonLines => Box::new(JsonLinesReader::open(path, self.bad_records)?),
            };
            readers.push(match per_file {
                Some(rate) => Box::new(Throttled::new(reader, rate, Arc::clone(&context.clock))),
                None => reader,
            });
        }
        Ok(readers)
    }

    fn reconcile_restored(
        &self,
        context: &SplitContext,
        checkpoint: &Path,
        splits: &[RestoredSplit<'_>],
    ) -> Result<BTreeMap<String, String>> {
        self.reconcile(context, checkpoint, splits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_core::source::SplitOutput;
    use eddy_core::time::ManualClock;

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Row {
        a: u64,
    }

    fn context(worker_index: usize, workers: usize) -> SplitContext {
        SplitContext { worker_index, workers, clock: Arc::new(ManualClock::new(0)) }
    }

    /// Reads `records` records of every split this source has for one worker, and returns
    /// what a checkpoint would hold: (split id, finished, position).
    fn checkpoint_after(source: &FileSource<Row>, records: usize) -> Vec<(String, bool, serde_json::Value)> {
        let mut states = Vec::new();
        for mut reader in source.splits(&context(0, 1)).unwrap() {
            let mut output = SplitOutput::default();
            let status = reader.read(&mut output, records).unwrap();
            let finished = status == eddy_core::source::ReadStatus::Finished;
            states.push((
                reader.split_id().to_owned(),
                finished,
                reader.snapshot_position().unwrap().unwrap(),
            ));
        }
        states
    }

    fn reconcile(
        source: &FileSource<Row>,
        states: &[(String, bool, serde_json::Value)],
    ) -> Result<BTreeMap<String, String>> {
        let splits: Vec<RestoredSplit<'_>> = states
            .iter()
            .map(|(id, finished, position)| RestoredSplit {
                id,
                finished: *finished,
                position: Some(position),
            })
            .collect();
        source.reconcile(&context(0, 1), Path::new("chk-7"), &splits)
    }

    fn rows(first: u64, n: u64) -> String {
        (first..first + n).map(|a| format!("{{\"a\":{a}}}\n")).collect()
    }

    #[test]
    fn renames_are_followed_only_when_unambiguous() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.jsonl"), dir.path().join("b.jsonl"));
        std::fs::write(&a, rows(0, 10)).unwrap();
        std::fs::write(&b, rows(100, 10)).unwrap();
        let source = FileSource::<Row>::json_lines(dir.path());
        let states = checkpoint_after(&source, 4);
        assert!(reconcile(&source, &states).unwrap().is_empty(), "nothing changed");
        let renamed = dir.path().join("c.jsonl");
        std::fs::rename(&a, &renamed).unwrap();
        let renames = reconcile(&source, &states).unwrap();
        assert_eq!(renames, BTreeMap::from([(a.display().to_string(), renamed.display().to_string())]));
        // Two new files start with the consumed part: which one is `a`?
        std::fs::write(dir.path().join("d.jsonl"), rows(0, 12)).unwrap();
        let message = reconcile(&source, &states).unwrap_err().to_string();
        assert!(message.contains("a.jsonl") && message.contains("chk-7"), "{message}");
        assert!(message.contains("c.jsonl") && message.contains("d.jsonl"), "{message}");
        // Gone without a trace: an unfinished file's remaining records would be lost.
        std::fs::remove_file(&renamed).unwrap();
        std::fs::write(dir.path().join("d.jsonl"), rows(50, 10)).unwrap();
        let error = reconcile(&source, &states).unwrap_err();
        assert!(!error.is_retryable());
        let message = error.to_string();
        assert!(message.contains("gone") && message.contains("up to line 4"), "{message}");
    }

    #[test]
    fn finished_files_that_are_gone_are_fine_and_renamed_ones_are_followed() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.jsonl");
        std::fs::write(&a, rows(0, 3)).unwrap();
        let source = FileSource::<Row>::json_lines(dir.path()).optional(true);
        let states = checkpoint_after(&source, 10);
        assert!(states[0].1, "finished");
        std::fs::rename(&a, dir.path().join("a.jsonl.done")).unwrap();
        let renames = reconcile(&source, &states).unwrap();
        assert_eq!(
            renames.values().collect::<Vec<_>>(),
            vec![&dir.path().join("a.jsonl.done").display().to_string()]
        );
        std::fs::remove_file(dir.path().join("a.jsonl.done")).unwrap();
        assert!(reconcile(&source, &states).unwrap().is_empty());
    }

    #[test]
    fn positions_of_older_versions_restore_and_still_catch_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.csv");
        std::fs::write(&a, "a\n1\n2\n3\n").unwrap();
        let source = FileSource::<Row>::csv(&a);
        // A CSV position as version 1 wrote it: after the header and the first row.
        let old = serde_json::json!({"offset": 4, "line": 3, "record": 2});
        let states = vec![(a.display().to_string(), false, old.clone())];
        assert!(reconcile(&source, &states).unwrap().is_empty());
        let mut reader = source.splits(&context(0, 1)).unwrap().pop().unwrap();
        reader.restore_position(old).unwrap();
        let mut output = SplitOutput::default();
        reader.read(&mut output, 10).unwrap();
        let (records, _) = output.take();
        assert_eq!(records.iter().map(|(_, row)| row.a).collect::<Vec<_>>(), vec![2, 3]);
        std::fs::write(&a, "a\n").unwrap();
        let message = reconcile(&source, &states).unwrap_err().to_string();
        assert!(message.contains("truncated: now 2 bytes"), "{message}");
    }
}
