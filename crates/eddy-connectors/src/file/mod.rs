//! File sources and sinks: CSV (with a header row, or without) and JSON lines.
//!
//! The source reads one file or every file of a directory (sorted by name; hidden files, files
//! starting with `_` and subdirectories skipped; symbolic links to files followed). Each file
//! is one split with its own watermark; file `i` is read by worker `i % workers`. A bad line
//! fails the job with an error naming the file, the line number and the reason, or, with
//! [`BadRecords::DeadLetter`], is counted and routed to the `DEAD_LETTERS` side output; so is
//! a record whose event time is outside the supported range
//! (`eddy_core::record::EVENT_TIME_RANGE`), with its JSON as `raw`. A directory without input is an error unless the source is [`FileSource::optional`].
//!
//! # Checkpointing
//! A checkpoint records each file's position and the identity of the part consumed: size and
//! modification time (reported, not compared) and XXH3 hashes of its first 64 KiB and of the
//! 4 KiB before the position (`file/identity.rs`). A restore follows a file renamed since (to
//! the one new file with that consumed part) and fails with an error naming the file, what
//! changed and the checkpoint when a file was truncated below its position, when its consumed
//! part changed, or when an unfinished file is gone. Appending to a file is allowed.
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

mod identity;
mod readers;
mod sink;
mod source;

use std::path::Path;

use eddy_core::error::{Error, Result};
use eddy_core::source::{DeadLetter, SplitOutput};

pub use sink::FileSink;
pub use source::FileSource;

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

/// Applies the bad-record policy to an unparsable line.
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
