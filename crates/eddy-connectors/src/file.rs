//! File sources and sinks: CSV with a header row and JSON lines.
//!
//! The source reads one file or every file of a directory (sorted by name, hidden files and
//! files starting with `_` skipped). Each file is one split with its own watermark; file `i`
//! is read by worker `i % workers`. A bad line fails the job with an error naming the file,
//! the line number and the reason, or, with [`BadRecords::DeadLetter`], is counted and routed
//! to the `DEAD_LETTERS` side output. A record whose event time is outside the supported range
//! (`eddy_core::record::EVENT_TIME_RANGE`) is treated the same way, with its JSON as `raw`.
//!
//! The sink writes part files in a directory. Records are written whole. **Files whose names
//! start with a dot are not committed output** (as in Flink's file sink): readers take only
//! the others.
//!
//! * Without checkpoints, each worker writes `.part-<worker>.<ext>.inprogress` and renames it
//!   to `part-<worker>.<ext>` (after fsync) when the input ends. When the job fails, the
//!   in-progress file keeps every record written so far, complete, and is not renamed.
//! * With checkpoints (two-phase commit), each worker starts a new file after every
//!   checkpoint: `.part-<worker>-<run>-<n>.<ext>.inprogress` while written, renamed to
//!   `.part-<worker>-<run>-<n>.<ext>.pending` (after fsync) when the checkpoint is taken, and
//!   to `part-<worker>-<run>-<n>.<ext>` once the checkpoint is complete. `<run>` is unique per
//!   start or restore of the job. On restore, pending files of the restored checkpoint are
//!   committed and every other in-progress or pending file of earlier runs is deleted.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use eddy_core::error::{Error, Result};
use eddy_core::sink::{Committable, Committer, Sink, SinkContext, SinkWriter};
use eddy_core::source::{DeadLetter, ReadStatus, Source, SplitContext, SplitOutput, SplitReader};

use crate::throttle::Throttled;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The format of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    /// Comma-separated values with a header row naming the fields.
    Csv,
    /// One JSON value per line.
    JsonLines,
}

impl FileFormat {
    fn extension(self) -> &'static str {
        match self {
            FileFormat::Csv => "csv",
            FileFormat::JsonLines => "jsonl",
        }
    }
}

/// What a file source does with a line it cannot parse.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BadRecords {
    /// Fail the job with an error naming the file, line and reason.
    #[default]
    Fail,
    /// Count the line and route it to the `DEAD_LETTERS` side output.
    DeadLetter,
}

/// Reads records of type `T` from CSV or JSON-lines files.
#[derive(Clone, Debug)]
pub struct FileSource<T> {
    path: PathBuf,
    format: FileFormat,
    bad_records: BadRecords,
    extension: Option<String>,
    max_rate: Option<u64>,
    _type: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned + 'static> FileSource<T> {
    /// CSV files with a header row; columns map to `T`'s fields by name.
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

    /// The files this source reads, in split order.
    pub fn files(&self) -> Result<Vec<PathBuf>> {
        let metadata = std::fs::metadata(&self.path)
            .map_err(|error| Error::io(format!("reading input {}", self.path.display()), error))?;
        if !metadata.is_dir() {
            return Ok(vec![self.path.clone()]);
        }
        let mut files = Vec::new();
        let entries = std::fs::read_dir(&self.path)
            .map_err(|error| Error::io(format!("listing input directory {}", self.path.display()), error))?;
        for entry in entries {
            let entry =
                entry.map_err(|error| Error::io(format!("listing {}", self.path.display()), error))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let is_file = entry.file_type().map(|kind| kind.is_file()).unwrap_or(false);
            let wanted = self.extension.as_ref().is_none_or(|extension| {
                Path::new(name.as_ref()).extension().is_some_and(|found| found == extension.as_str())
            });
            if is_file && wanted && !name.starts_with('.') && !name.starts_with('_') {
                files.push(entry.path());
            }
        }
        files.sort();
        Ok(files)
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
            let file =
                File::open(&path).map_err(|error| Error::io(format!("opening {}", path.display()), error))?;
            let id = path.display().to_string();
            let reader: Box<dyn SplitReader<T>> = match self.format {
                FileFormat::Csv => Box::new(CsvReader {
                    id,
                    path,
                    reader: csv::ReaderBuilder::new().has_headers(true).from_reader(file),
                    headers: None,
                    record: csv::StringRecord::new(),
                    bad_records: self.bad_records,
                    _type: PhantomData,
                }),
                FileFormat::JsonLines => Box::new(JsonLinesReader {
                    id,
                    path,
                    reader: BufReader::new(file),
                    line: 0,
                    offset: 0,
                    buffer: Vec::new(),
                    bad_records: self.bad_records,
                    _type: PhantomData,
                }),
            };
            readers.push(match per_file {
                Some(rate) => Box::new(Throttled::new(reader, rate, Arc::clone(&context.clock))),
                None => reader,
            });
        }
        Ok(readers)
    }
}

fn reject<T>(
    bad_records: BadRecords,
    output: &mut SplitOutput<T>,
    path: &Path,
    line: u64,
    reason: String,
    raw: String,
) -> Result<()> {
    match bad_records {
        BadRecords::Fail => Err(Error::BadRecord { path: path.to_path_buf(), line, reason }),
        BadRecords::DeadLetter => {
            output.dead_letter(DeadLetter { split: path.display().to_string(), line, reason, raw });
            Ok(())
        }
    }
}

struct CsvReader<T> {
    id: String,
    path: PathBuf,
    reader: csv::Reader<File>,
    headers: Option<csv::StringRecord>,
    record: csv::StringRecord,
    bad_records: BadRecords,
    _type: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> SplitReader<T> for CsvReader<T> {
    fn split_id(&self) -> &str {
        &self.id
    }

    fn snapshot_position(&self) -> Result<Option<serde_json::Value>> {
        let position = self.reader.position();
        Ok(Some(serde_json::json!({
            "offset": position.byte(),
            "line": position.line(),
            "record": position.record(),
        })))
    }

    fn restore_position(&mut self, position: serde_json::Value) -> Result<()> {
        let (offset, line) = file_position(&self.path, &position)?;
        let record = position.get("record").and_then(serde_json::Value::as_u64).unwrap_or(0);
        // Read the header row first: seeking turns off csv's skipping of it.
        let headers = self.reader.headers().map_err(|error| Error::BadRecord {
            path: self.path.clone(),
            line: 1,
            reason: error.to_string(),
        })?;
        self.headers = Some(headers.clone());
        let mut target = csv::Position::new();
        target.set_byte(offset).set_line(line).set_record(record);
        self.reader.seek(target).map_err(|error| {
            Error::io(format!("seeking in {}", self.path.display()), std::io::Error::other(error.to_string()))
        })
    }

    fn read(&mut self, output: &mut SplitOutput<T>, max_records: usize) -> Result<ReadStatus> {
        if self.headers.is_none() {
            match self.reader.headers() {
                Ok(headers) => self.headers = Some(headers.clone()),
                Err(error) => {
                    return Err(Error::BadRecord {
                        path: self.path.clone(),
                        line: 1,
                        reason: error.to_string(),
                    })
                }
            }
        }
        for _ in 0..max_records {
            match self.reader.read_record(&mut self.record) {
                Ok(false) => return Ok(ReadStatus::Finished),
                Ok(true) => {
                    let line = self.record.position().map_or(0, |position| position.line());
                    match self.record.deserialize::<T>(self.headers.as_ref()) {
                        Ok(value) => output.push(line, value),
                        Err(error) => {
                            let raw = self.record.iter().collect::<Vec<_>>().join(",");
                            reject(
                                self.bad_records,
                                output,
                                &self.path,
                                line,
                                deserialize_reason(&error),
                                raw,
                            )?
                        }
                    }
                }
                Err(error) => {
                    let line = error.position().map_or(0, |position| position.line());
                    match error.kind() {
                        csv::ErrorKind::Io(_) => {
                            return Err(Error::io(
                                format!("reading {}", self.path.display()),
                                std::io::Error::other(error.to_string()),
                            ))
                        }
                        _ => reject(
                            self.bad_records,
                            output,
                            &self.path,
                            line,
                            csv_reason(&error),
                            String::new(),
                        )?,
                    }
                }
            }
        }
        Ok(ReadStatus::More)
    }
}

/// The byte offset and line number of a file reader's checkpointed position.
fn file_position(path: &Path, position: &serde_json::Value) -> Result<(u64, u64)> {
    let field = |name: &str| position.get(name).and_then(serde_json::Value::as_u64);
    match (field("offset"), field("line")) {
        (Some(offset), Some(line)) => Ok((offset, line)),
        _ => Err(Error::Checkpoint(format!("{}: bad checkpointed file position {position}", path.display()))),
    }
}

/// The reason of a CSV error without the position csv already prints (eddy prints its own).
fn csv_reason(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("expected {expected_len} fields, found {len}")
        }
        csv::ErrorKind::Utf8 { err, .. } => format!("invalid UTF-8 in field {}", err.field() + 1),
        _ => error.to_string(),
    }
}

fn deserialize_reason(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::Deserialize { err, .. } => match err.field() {
            Some(field) => format!("field {}: {}", field + 1, err.kind()),
            None => err.kind().to_string(),
        },
        _ => error.to_string(),
    }
}

struct JsonLinesReader<T> {
    id: String,
    path: PathBuf,
    reader: BufReader<File>,
    line: u64,
    /// Byte offset of the next line.
    offset: u64,
    buffer: Vec<u8>,
    bad_records: BadRecords,
    _type: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> SplitReader<T> for JsonLinesReader<T> {
    fn split_id(&self) -> &str {
        &self.id
    }

    fn snapshot_position(&self) -> Result<Option<serde_json::Value>> {
        Ok(Some(serde_json::json!({ "offset": self.offset, "line": self.line })))
    }

    fn restore_position(&mut self, position: serde_json::Value) -> Result<()> {
        let (offset, line) = file_position(&self.path, &position)?;
        self.reader
            .seek(std::io::SeekFrom::Start(offset))
            .map_err(|error| Error::io(format!("seeking in {}", self.path.display()), error))?;
        self.offset = offset;
        self.line = line;
        Ok(())
    }

    fn read(&mut self, output: &mut SplitOutput<T>, max_records: usize) -> Result<ReadStatus> {
        for _ in 0..max_records {
            self.buffer.clear();
            let read = self
                .reader
                .read_until(b'\n', &mut self.buffer)
                .map_err(|error| Error::io(format!("reading {}", self.path.display()), error))?;
            if read == 0 {
                return Ok(ReadStatus::Finished);
            }
            self.line += 1;
            self.offset += read as u64;
            let text = self.buffer.trim_ascii();
            if text.is_empty() {
                continue;
            }
            match serde_json::from_slice::<T>(text) {
                Ok(value) => output.push(self.line, value),
                Err(error) => {
                    let raw = String::from_utf8_lossy(text).into_owned();
                    reject(self.bad_records, output, &self.path, self.line, error.to_string(), raw)?
                }
            }
        }
        Ok(ReadStatus::More)
    }
}

/// Writes records as CSV (with a header) or JSON lines, one part file per worker.
pub struct FileSink<T> {
    directory: PathBuf,
    format: FileFormat,
    partition: Option<Partitioner<T>>,
}

/// Names the partition (a relative directory such as `dt=2015-07-15/hm=00:00`) of a record.
type Partitioner<T> = Arc<dyn Fn(&T) -> String + Send + Sync>;

impl<T> Clone for FileSink<T> {
    fn clone(&self) -> Self {
        FileSink { directory: self.directory.clone(), format: self.format, partition: self.partition.clone() }
    }
}

impl<T> std::fmt::Debug for FileSink<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSink")
            .field("directory", &self.directory)
            .field("format", &self.format)
            .field("partitioned", &self.partition.is_some())
            .finish()
    }
}

impl<T: Serialize + 'static> FileSink<T> {
    /// CSV part files with a header row from `T`'s field names.
    pub fn csv(directory: impl Into<PathBuf>) -> Self {
        FileSink { directory: directory.into(), format: FileFormat::Csv, partition: None }
    }

    /// JSON-lines part files.
    pub fn json_lines(directory: impl Into<PathBuf>) -> Self {
        FileSink { directory: directory.into(), format: FileFormat::JsonLines, partition: None }
    }

    /// Writes each record under the subdirectory `partition(record)` (for example
    /// `dt=2015-07-15/hm=00:00`, as Flink's filesystem sink partitions), with part files per
    /// partition named as without partitioning. The name must be a relative path without `..`.
    pub fn partitioned_by(mut self, partition: impl Fn(&T) -> String + Send + Sync + 'static) -> Self {
        self.partition = Some(Arc::new(partition));
        self
    }
}

/// Checks a partition name: a relative path of normal components.
fn partition_path(name: &str) -> Result<&Path> {
    let path = Path::new(name);
    let normal = path.components().all(|component| matches!(component, std::path::Component::Normal(_)));
    if normal {
        Ok(path)
    } else {
        Err(Error::User(format!("file sink: partition `{name}` is not a relative path of plain names")))
    }
}

enum Encoder {
    Csv(Box<csv::Writer<BufWriter<File>>>),
    JsonLines { file: BufWriter<File>, line: Vec<u8> },
}

/// The part file a writer is filling.
struct OpenPart {
    encoder: Encoder,
    in_progress: PathBuf,
}

impl OpenPart {
    fn create(path: PathBuf, format: FileFormat) -> Result<OpenPart> {
        let file =
            File::create(&path).map_err(|error| Error::io(format!("creating {}", path.display()), error))?;
        let file = BufWriter::new(file);
        let encoder = match format {
            FileFormat::Csv => Encoder::Csv(Box::new(csv::Writer::from_writer(file))),
            FileFormat::JsonLines => Encoder::JsonLines { file, line: Vec::new() },
        };
        Ok(OpenPart { encoder, in_progress: path })
    }

    fn write<T: Serialize>(&mut self, value: &T) -> Result<()> {
        let context = || format!("writing {}", self.in_progress.display());
        match &mut self.encoder {
            Encoder::Csv(writer) => {
                writer.serialize(value).map_err(|error| Error::io(context(), std::io::Error::other(error)))
            }
            Encoder::JsonLines { file, line } => {
                line.clear();
                serde_json::to_writer(&mut *line, value)
                    .map_err(|error| Error::io(context(), std::io::Error::other(error)))?;
                line.push(b'\n');
                file.write_all(line).map_err(|error| Error::io(context(), error))
            }
        }
    }

    /// Flushes and fsyncs the file, then renames it to `target`.
    fn close_into(self, target: &Path) -> Result<()> {
        let context = || format!("closing {}", self.in_progress.display());
        let file = match self.encoder {
            Encoder::Csv(writer) => writer
                .into_inner()
                .map_err(|error| Error::io(context(), std::io::Error::other(error.to_string())))?,
            Encoder::JsonLines { file, .. } => file,
        };
        let file = file.into_inner().map_err(|error| Error::io(context(), error.into_error()))?;
        file.sync_all().map_err(|error| Error::io(context(), error))?;
        std::fs::rename(&self.in_progress, target).map_err(|error| Error::io(context(), error))?;
        sync_parent(target)
    }
}

/// Makes a rename in `path`'s directory durable.
fn sync_parent(path: &Path) -> Result<()> {
    match path.parent() {
        Some(directory) => File::open(directory)
            .and_then(|directory| directory.sync_all())
            .map_err(|error| Error::io(format!("syncing {}", directory.display()), error)),
        None => Ok(()),
    }
}

/// Without checkpoints: one part file per worker, renamed when the input ends.
struct FileWriter<T> {
    directory: PathBuf,
    format: FileFormat,
    worker: usize,
    partition: Option<Partitioner<T>>,
    /// Open part files by partition (`""` without partitioning).
    parts: BTreeMap<String, OpenPart>,
    finished: bool,
}

impl<T> FileWriter<T> {
    /// The in-progress and final paths of this worker's file in `partition`.
    fn paths(&self, partition: &str) -> Result<(PathBuf, PathBuf)> {
        let directory = self.directory.join(partition_path(partition)?);
        let extension = self.format.extension();
        Ok((
            directory.join(format!(".part-{}.{extension}.inprogress", self.worker)),
            directory.join(format!("part-{}.{extension}", self.worker)),
        ))
    }
}

/// With checkpoints: a new part file per checkpoint, pre-committed as a pending file.
struct StagedFileWriter<T> {
    directory: PathBuf,
    format: FileFormat,
    /// `<worker>-<run>`: names this writer's files.
    stem: String,
    sequence: u64,
    partition: Option<Partitioner<T>>,
    /// Open part files by partition (`""` without partitioning).
    parts: BTreeMap<String, OpenPart>,
}

impl<T> StagedFileWriter<T> {
    /// The name of the current part file of `partition` with `prefix` and `suffix`, relative to
    /// the directory (so checkpoints stay valid when the output directory moves).
    fn name(&self, partition: &str, prefix: &str, suffix: &str) -> String {
        let file =
            format!("{prefix}part-{}-{}.{}{suffix}", self.stem, self.sequence, self.format.extension());
        if partition.is_empty() {
            file
        } else {
            format!("{partition}/{file}")
        }
    }
}

/// Renames pending part files to their committed names.
struct FileCommitter {
    directory: PathBuf,
}

impl<T: Serialize + 'static> Sink<T> for FileSink<T> {
    fn name(&self) -> String {
        format!("file:{}", self.directory.display())
    }

    fn writer(&self, context: &SinkContext) -> Result<Box<dyn SinkWriter<T>>> {
        std::fs::create_dir_all(&self.directory).map_err(|error| {
            Error::io(format!("creating output directory {}", self.directory.display()), error)
        })?;
        if let Some(run) = &context.run_id {
            return Ok(Box::new(StagedFileWriter {
                directory: self.directory.clone(),
                format: self.format,
                stem: format!("{}-{run}", context.worker_index),
                sequence: 0,
                partition: self.partition.clone(),
                parts: BTreeMap::new(),
            }));
        }
        let mut writer = FileWriter {
            directory: self.directory.clone(),
            format: self.format,
            worker: context.worker_index,
            partition: self.partition.clone(),
            parts: BTreeMap::new(),
            finished: false,
        };
        if writer.partition.is_none() {
            // Unpartitioned output always has this worker's part file, even if empty.
            let (in_progress, _) = writer.paths("")?;
            writer.parts.insert(String::new(), OpenPart::create(in_progress, self.format)?);
        }
        Ok(Box::new(writer))
    }

    fn committer(&self) -> Option<Arc<dyn Committer>> {
        Some(Arc::new(FileCommitter { directory: self.directory.clone() }))
    }
}

impl<T: Serialize> SinkWriter<T> for FileWriter<T> {
    fn write(&mut self, value: T, _timestamp: u64, _logical_time: u64) -> Result<()> {
        if self.finished {
            return Err(Error::Internal("write after finish".into()));
        }
        let partition = self.partition.as_ref().map_or_else(String::new, |partition| partition(&value));
        if !self.parts.contains_key(&partition) {
            let (in_progress, _) = self.paths(&partition)?;
            create_parent(&in_progress)?;
            self.parts.insert(partition.clone(), OpenPart::create(in_progress, self.format)?);
        }
        self.parts.get_mut(&partition).expect("opened").write(&value)
    }

    fn finish(&mut self) -> Result<()> {
        self.finished = true;
        for (partition, part) in std::mem::take(&mut self.parts) {
            let (_, final_path) = self.paths(&partition)?;
            part.close_into(&final_path)?;
        }
        Ok(())
    }
}

/// Creates the directory a file goes into.
fn create_parent(path: &Path) -> Result<()> {
    match path.parent() {
        Some(parent) => std::fs::create_dir_all(parent)
            .map_err(|error| Error::io(format!("creating {}", parent.display()), error)),
        None => Ok(()),
    }
}

impl<T: Serialize> SinkWriter<T> for StagedFileWriter<T> {
    fn write(&mut self, value: T, _timestamp: u64, _logical_time: u64) -> Result<()> {
        let partition = self.partition.as_ref().map_or_else(String::new, |partition| partition(&value));
        if !self.parts.contains_key(&partition) {
            partition_path(&partition)?;
            let path = self.directory.join(self.name(&partition, ".", ".inprogress"));
            create_parent(&path)?;
            self.parts.insert(partition.clone(), OpenPart::create(path, self.format)?);
        }
        self.parts.get_mut(&partition).expect("opened").write(&value)
    }

    fn prepare_commit(&mut self) -> Result<Vec<Committable>> {
        let mut committables = Vec::new();
        for (partition, part) in std::mem::take(&mut self.parts) {
            let (pending, committed) =
                (self.name(&partition, ".", ".pending"), self.name(&partition, "", ""));
            part.close_into(&self.directory.join(&pending))?;
            committables.push(serde_json::json!({ "pending": pending, "committed": committed }));
        }
        if !committables.is_empty() {
            self.sequence += 1;
        }
        Ok(committables)
    }

    fn finish(&mut self) -> Result<()> {
        Err(Error::Internal("a staged file sink is finished by the final checkpoint".into()))
    }
}

impl FileCommitter {
    /// Renames each committable's pending file to its committed name. A committable whose
    /// files are both gone is an error, or with `lenient` (on restore: the output may have been
    /// moved or consumed since, as Flink's file sink assumes) a warning.
    fn rename_all(&self, committables: &[Committable], lenient: bool) -> Result<()> {
        let name = |committable: &Committable, field: &str| -> Result<PathBuf> {
            let name = committable.get(field).and_then(serde_json::Value::as_str).ok_or_else(|| {
                Error::Checkpoint(format!("file sink: committable {committable} has no `{field}` file name"))
            })?;
            Ok(self.directory.join(name))
        };
        for committable in committables {
            let (pending, committed) = (name(committable, "pending")?, name(committable, "committed")?);
            if pending.exists() {
                std::fs::rename(&pending, &committed)
                    .map_err(|error| Error::io(format!("committing {}", pending.display()), error))?;
            } else if !committed.exists() {
                let message = format!(
                    "file sink: staged file {} is gone and {} does not exist",
                    pending.display(),
                    committed.display()
                );
                if !lenient {
                    return Err(Error::Checkpoint(message));
                }
                eprintln!("eddy: {message}; assuming it was committed and has been moved since");
            }
        }
        if !committables.is_empty() {
            std::fs::create_dir_all(&self.directory)
                .map_err(|error| Error::io(format!("creating {}", self.directory.display()), error))?;
            File::open(&self.directory)
                .and_then(|directory| directory.sync_all())
                .map_err(|error| Error::io(format!("syncing {}", self.directory.display()), error))?;
        }
        Ok(())
    }
}

/// Deletes the staged files under `directory` (recursively: partitions) whose names do not
/// contain `current` (the current run's id).
fn remove_stale(directory: &Path, current: &str) -> Result<()> {
    let entries = match std::fs::read_dir(directory) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(Error::io(format!("listing {}", directory.display()), error)),
    };
    for entry in entries {
        let entry = entry.map_err(|error| Error::io(format!("listing {}", directory.display()), error))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            remove_stale(&entry.path(), current)?;
            continue;
        }
        let staged =
            name.starts_with(".part-") && (name.ends_with(".inprogress") || name.ends_with(".pending"));
        if staged && !name.contains(current) {
            std::fs::remove_file(entry.path())
                .map_err(|error| Error::io(format!("removing {}", entry.path().display()), error))?;
        }
    }
    Ok(())
}

impl Committer for FileCommitter {
    fn commit(&self, committables: &[Committable]) -> Result<()> {
        self.rename_all(committables, false)
    }

    fn recover(&self, committables: &[Committable], run_id: &str) -> Result<()> {
        self.rename_all(committables, true)?;
        remove_stale(&self.directory, &format!("-{run_id}-"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Row {
        name: String,
        value: u64,
    }

    fn row(value: u64) -> Row {
        Row { name: format!("row, \"{value}\""), value }
    }

    #[test]
    fn finished_part_files_are_renamed_and_whole() {
        let dir = tempfile::tempdir().unwrap();
        let sink = FileSink::<Row>::csv(dir.path());
        let mut writer = sink.writer(&SinkContext { worker_index: 3, workers: 4, run_id: None }).unwrap();
        for value in 0..3 {
            writer.write(row(value), value, 0).unwrap();
        }
        assert!(dir.path().join(".part-3.csv.inprogress").exists());
        writer.finish().unwrap();
        let text = std::fs::read_to_string(dir.path().join("part-3.csv")).unwrap();
        assert_eq!(text, "name,value\n\"row, \"\"0\"\"\",0\n\"row, \"\"1\"\"\",1\n\"row, \"\"2\"\"\",2\n");
        assert!(!dir.path().join(".part-3.csv.inprogress").exists());
    }

    #[test]
    fn dropped_writer_keeps_whole_records_in_progress() {
        let dir = tempfile::tempdir().unwrap();
        let sink = FileSink::<Row>::json_lines(dir.path());
        let mut writer = sink.writer(&SinkContext { worker_index: 0, workers: 1, run_id: None }).unwrap();
        for value in 0..1000 {
            writer.write(row(value), value, 0).unwrap();
        }
        drop(writer); // A failed job drops its writers without finishing them.
        assert!(!dir.path().join("part-0.jsonl").exists(), "not committed");
        let text = std::fs::read_to_string(dir.path().join(".part-0.jsonl.inprogress")).unwrap();
        assert_eq!(text.lines().count(), 1000);
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn staged_files_commit_idempotently_and_recovery_clears_other_runs() {
        let dir = tempfile::tempdir().unwrap();
        let sink = FileSink::<Row>::json_lines(dir.path());
        let committer = <FileSink<Row> as Sink<Row>>::committer(&sink).unwrap();
        let context = |run: &str| SinkContext { worker_index: 1, workers: 2, run_id: Some(run.into()) };
        let mut writer = sink.writer(&context("r1")).unwrap();
        writer.write(row(1), 1, 0).unwrap();
        assert!(dir.path().join(".part-1-r1-0.jsonl.inprogress").exists());
        let first = writer.prepare_commit().unwrap();
        assert_eq!(first.len(), 1);
        assert!(dir.path().join(".part-1-r1-0.jsonl.pending").exists());
        assert!(writer.prepare_commit().unwrap().is_empty(), "nothing written, nothing staged");
        writer.write(row(2), 2, 0).unwrap();
        let second = writer.prepare_commit().unwrap();
        writer.write(row(3), 3, 0).unwrap();
        drop(writer); // The run fails after staging `second`, before its checkpoint completes.
        committer.commit(&first).unwrap();
        committer.commit(&first).unwrap(); // Idempotent.
        assert!(dir.path().join("part-1-r1-0.jsonl").exists());
        // A new run restores the checkpoint that staged `first`: `second` and the in-progress
        // file are discarded, since their records will be produced again.
        committer.recover(&first, "r2").unwrap();
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, vec!["part-1-r1-0.jsonl".to_string()]);
        assert!(committer.commit(&second).is_err(), "a discarded staged file cannot be committed");
        committer.recover(&second, "r3").unwrap(); // On restore, only a warning.
    }

    #[test]
    fn partitioned_output_goes_to_subdirectories_and_commits_there() {
        let dir = tempfile::tempdir().unwrap();
        let sink = FileSink::<Row>::json_lines(dir.path())
            .partitioned_by(|row: &Row| format!("v={}", row.value % 2));
        let mut plain = sink.writer(&SinkContext { worker_index: 0, workers: 1, run_id: None }).unwrap();
        for value in 0..4 {
            plain.write(row(value), value, 0).unwrap();
        }
        plain.finish().unwrap();
        for partition in ["v=0", "v=1"] {
            let text = std::fs::read_to_string(dir.path().join(partition).join("part-0.jsonl")).unwrap();
            assert_eq!(text.lines().count(), 2);
        }
        let staged_dir = tempfile::tempdir().unwrap();
        let sink = FileSink::<Row>::json_lines(staged_dir.path())
            .partitioned_by(|row: &Row| format!("v={}", row.value % 2));
        let committer = <FileSink<Row> as Sink<Row>>::committer(&sink).unwrap();
        let mut staged =
            sink.writer(&SinkContext { worker_index: 1, workers: 2, run_id: Some("r1".into()) }).unwrap();
        for value in 0..3 {
            staged.write(row(value), value, 0).unwrap();
        }
        let committables = staged.prepare_commit().unwrap();
        assert_eq!(committables.len(), 2, "one staged file per partition");
        staged.write(row(9), 9, 0).unwrap();
        drop(staged);
        committer.commit(&committables).unwrap();
        assert!(staged_dir.path().join("v=0/part-1-r1-0.jsonl").exists());
        assert!(staged_dir.path().join("v=1/.part-1-r1-1.jsonl.inprogress").exists());
        committer.recover(&committables, "r2").unwrap();
        assert!(
            !staged_dir.path().join("v=1/.part-1-r1-1.jsonl.inprogress").exists(),
            "stale files in partitions are removed"
        );
        let bad =
            FileSink::<Row>::json_lines(staged_dir.path()).partitioned_by(|_: &Row| "../escape".to_string());
        let mut writer = bad.writer(&SinkContext { worker_index: 0, workers: 1, run_id: None }).unwrap();
        assert!(writer.write(row(1), 1, 0).is_err());
    }
}
