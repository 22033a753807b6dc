//! Errors of the eddy runtime: one enum for the whole runtime boundary, with a classification
//! that restart logic (the supervisor of a later issue) can act on.

use std::path::PathBuf;

/// Result alias for eddy's runtime.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Who is at fault for an error, and so what a supervisor should do about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Bad input, bad configuration or a bug in user code: restarting does not help.
    User,
    /// An external system (file system, broker) failed: a restart may help.
    External,
    /// A bug in eddy itself.
    Internal,
}

/// An error raised while building or running a job.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A record of an input could not be parsed.
    #[error("{}:{line}: {reason}", path.display())]
    BadRecord {
        /// The file (or other input) holding the record.
        path: PathBuf,
        /// 1-based line number of the record.
        line: u64,
        /// Why the record was rejected.
        reason: String,
    },
    /// A value left the range eddy represents without loss: an aggregate overflowed its type,
    /// or an event time outside [`EVENT_TIME_RANGE`](crate::record::EVENT_TIME_RANGE)
    /// reached an operator. (A record read with such an event time is a
    /// [`BadRecord`](Error::BadRecord) of its source.)
    #[error("{operator} (key {key}): {reason}")]
    OutOfRange {
        /// The operator, such as `sum`.
        operator: String,
        /// The key whose value left the range, as JSON.
        key: String,
        /// What left the range, with the values involved.
        reason: String,
    },
    /// The job's configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// An I/O operation failed.
    #[error("{context}: {cause}")]
    Io {
        /// What eddy was doing.
        context: String,
        /// The underlying error (part of the message, so not repeated as a source).
        cause: std::io::Error,
    },
    /// A checkpoint or savepoint could not be written, read or restored.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// The processes of a multi-process job could not connect, or one of them was lost.
    #[error("cluster: {0}")]
    Cluster(String),
    /// User code reported a failure.
    #[error("user function failed: {0}")]
    User(String),
    /// An invariant of eddy was broken.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Wraps an I/O error with what eddy was doing when it happened.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { context: context.into(), cause: source }
    }

    /// The classification of this error, for restart decisions.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::BadRecord { .. } | Error::OutOfRange { .. } | Error::Config(_) | Error::User(_) => {
                ErrorClass::User
            }
            Error::Io { .. } | Error::Checkpoint(_) | Error::Cluster(_) => ErrorClass::External,
            Error::Internal(_) => ErrorClass::Internal,
        }
    }

    /// Whether restarting the job from its last checkpoint may succeed.
    pub fn is_retryable(&self) -> bool {
        self.class() == ErrorClass::External
    }
}

/// A value as JSON, for error messages (such as the key of [`Error::OutOfRange`]).
pub(crate) fn describe<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|error| format!("(unprintable: {error})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_record_names_file_and_line() {
        let error =
            Error::BadRecord { path: "in/a.csv".into(), line: 7, reason: "missing field `ts`".into() };
        assert_eq!(error.to_string(), "in/a.csv:7: missing field `ts`");
        assert_eq!(error.class(), ErrorClass::User);
        assert!(!error.is_retryable());
    }
}
