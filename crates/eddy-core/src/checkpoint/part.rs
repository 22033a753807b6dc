//! Parts: what one participant (an operator on one worker) contributes to one checkpoint, and
//! the open set of part kinds.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::commit::Committable;
use crate::error::{Error, Result};

/// The id under which participants submit their part of the final checkpoint, taken when the
/// input has ended; the coordinator gives it a real id.
pub(crate) const FINAL: u64 = u64::MAX;

/// A checkpoint in flight, as participants see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pending {
    /// Checkpoint id (increasing).
    pub id: u64,
    /// The logical time `E` of the cut: the participant's part holds exactly what it handled
    /// at times before `E`.
    pub time: u64,
}

/// What kind of participant wrote a part: the built-in kinds, or one named by an operator of
/// another crate (see [`crate::sdk`]). Written into the manifest as a string (`"source"`,
/// `"keyed"`, `"sink"`, or the custom name), so checkpoints of format version 1 read unchanged.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PartKind {
    /// A source: the position of every split.
    Source,
    /// A keyed operator: keyed state and timers.
    Keyed,
    /// A sink: what to commit once the checkpoint is complete.
    Sink,
    /// Any other operator's state, in a format of its own (e.g. `"sql-arrangement"`).
    Custom(String),
}

impl PartKind {
    /// A custom kind. Names are lowercase ASCII letters, digits, `-`, `_` and `.`, and must
    /// not be one of the built-in names.
    pub fn custom(name: &str) -> Result<PartKind> {
        let valid = !name.is_empty()
            && name.len() <= 64
            && name.bytes().all(|byte| matches!(byte, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.'));
        match PartKind::parse(name) {
            PartKind::Custom(_) if valid => Ok(PartKind::Custom(name.to_owned())),
            PartKind::Custom(_) => Err(Error::Config(format!(
                "`{name}` is not a valid part kind (1 to 64 of a-z, 0-9, `-`, `_`, `.`)"
            ))),
            _ => Err(Error::Config(format!("`{name}` is a built-in part kind"))),
        }
    }

    /// The name written into the manifest.
    pub fn as_str(&self) -> &str {
        match self {
            PartKind::Source => "source",
            PartKind::Keyed => "keyed",
            PartKind::Sink => "sink",
            PartKind::Custom(name) => name,
        }
    }

    fn parse(name: &str) -> PartKind {
        match name {
            "source" => PartKind::Source,
            "keyed" => PartKind::Keyed,
            "sink" => PartKind::Sink,
            other => PartKind::Custom(other.to_owned()),
        }
    }
}

impl fmt::Display for PartKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl Serialize for PartKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PartKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Ok(PartKind::parse(&name))
    }
}

/// One participant's contribution to one checkpoint.
#[derive(Clone, Debug)]
pub(crate) struct Part {
    pub(crate) checkpoint: u64,
    pub(crate) uid: String,
    pub(crate) kind: PartKind,
    /// The version of the participant's own part format, when it declares one.
    pub(crate) version: Option<u32>,
    pub(crate) worker: usize,
    pub(crate) bytes: Vec<u8>,
    /// Keys with state (keyed parts), splits (sources) or files to commit (sinks).
    pub(crate) entries: u64,
    /// Output staged for this checkpoint, committed once it is complete.
    pub(crate) committables: Vec<Committable>,
}

/// Encodes a part away from the worker thread: returns the bytes and the entry count.
pub(crate) type Encoder = Box<dyn FnOnce() -> Result<(Vec<u8>, u64)> + Send>;

/// A part as a participant hands it over: encoded already, or a copy of the state to encode.
pub(crate) struct Submission {
    pub(crate) checkpoint: u64,
    pub(crate) uid: String,
    pub(crate) kind: PartKind,
    pub(crate) version: Option<u32>,
    pub(crate) worker: usize,
    pub(crate) payload: Payload,
    pub(crate) committables: Vec<Committable>,
}

pub(crate) enum Payload {
    Ready(Vec<u8>, u64),
    Deferred(Encoder),
}

impl Submission {
    /// Encodes the part (on the calling thread, for deferred parts).
    pub(crate) fn resolve(self) -> Result<Part> {
        let (bytes, entries) = match self.payload {
            Payload::Ready(bytes, entries) => (bytes, entries),
            Payload::Deferred(encode) => encode()?,
        };
        Ok(Part {
            checkpoint: self.checkpoint,
            uid: self.uid,
            kind: self.kind,
            version: self.version,
            worker: self.worker,
            bytes,
            entries,
            committables: self.committables,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_strings_in_the_manifest() {
        for (kind, text) in [
            (PartKind::Source, r#""source""#),
            (PartKind::Keyed, r#""keyed""#),
            (PartKind::Sink, r#""sink""#),
            (PartKind::custom("sql-arrangement").unwrap(), r#""sql-arrangement""#),
        ] {
            assert_eq!(serde_json::to_string(&kind).unwrap(), text);
            assert_eq!(serde_json::from_str::<PartKind>(text).unwrap(), kind);
        }
    }

    #[test]
    fn custom_kinds_are_checked() {
        assert!(PartKind::custom("keyed").is_err());
        assert!(PartKind::custom("").is_err());
        assert!(PartKind::custom("Has Space").is_err());
        assert!(PartKind::custom("cep.nfa-v2").is_ok());
    }
}
