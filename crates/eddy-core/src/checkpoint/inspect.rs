//! Reading checkpoints and savepoints without the job that wrote them (a small State Processor
//! API): list operators, and dump one operator's state as JSON lines.

use std::io::Write;
use std::path::Path;

use super::keyed::parse_keyed;
use super::part::PartKind;
use super::store::{read_manifest, read_part, Manifest};
use crate::error::{Error, Result};

/// Reads the manifest of the checkpoint or savepoint at `path` and checks every part's size
/// and checksum.
pub fn verify(path: &Path) -> Result<Manifest> {
    let manifest = read_manifest(path)?;
    for operator in &manifest.operators {
        for part in &operator.parts {
            read_part(path, part)?;
        }
    }
    Ok(manifest)
}

/// Writes the state of operator `uid` as JSON lines: for keyed operators one line per key
/// (`{"key":…,"key_hash":"…","state":{name: row},"event_timers":[[ts,delivery]],…}`), for
/// sources one line per split, for sinks one line per staged committable. Returns the lines
/// written.
pub fn dump(path: &Path, uid: &str, out: &mut dyn Write) -> Result<u64> {
    let manifest = read_manifest(path)?;
    let operator = manifest.operators.iter().find(|operator| operator.uid == uid).ok_or_else(|| {
        let uids: Vec<&str> = manifest.operators.iter().map(|operator| operator.uid.as_str()).collect();
        Error::Checkpoint(format!("{} has no operator `{uid}` (it has: {})", path.display(), uids.join(", ")))
    })?;
    let mut lines = 0;
    let mut emit = |value: serde_json::Value| -> Result<()> {
        writeln!(out, "{value}").map_err(|error| Error::io("writing the dump", error))?;
        lines += 1;
        Ok(())
    };
    for part in &operator.parts {
        let bytes = read_part(path, part)?;
        match operator.kind {
            PartKind::Keyed => {
                for entry in parse_keyed(&bytes)?.entries {
                    let mut state = serde_json::Map::new();
                    for (name, value) in entry.values {
                        state.insert(name.to_owned(), msgpack_to_json(value)?);
                    }
                    emit(serde_json::json!({
                        "key": msgpack_to_json(entry.key)?,
                        "key_hash": format!("{:016x}", entry.hash),
                        "worker": part.worker,
                        "state": state,
                        "event_timers": entry.event_timers,
                        "processing_timers": entry.processing_timers,
                    }))?;
                }
            }
            PartKind::Source => {
                let part_json: serde_json::Value = serde_json::from_slice(&bytes)
                    .map_err(|error| Error::Checkpoint(format!("unreadable source part: {error}")))?;
                if let Some(splits) = part_json.get("splits").and_then(serde_json::Value::as_object) {
                    for (split, state) in splits {
                        emit(serde_json::json!({ "split": split, "worker": part.worker, "state": state }))?;
                    }
                }
            }
            PartKind::Custom(_) => {
                // A format of the operator's own: show its size and checksum, not its contents.
                emit(serde_json::json!({
                    "worker": part.worker,
                    "bytes": part.bytes,
                    "xxh3": part.xxh3,
                    "version": operator.version,
                }))?;
            }
            PartKind::Sink => {
                let committables: Vec<serde_json::Value> = serde_json::from_slice(&bytes)
                    .map_err(|error| Error::Checkpoint(format!("unreadable sink part: {error}")))?;
                for committable in committables {
                    emit(serde_json::json!({ "worker": part.worker, "committable": committable }))?;
                }
            }
        }
    }
    Ok(lines)
}

/// How deep MessagePack values may nest (rmpv counts a container and its element as two
/// levels), far beyond any state type's nesting.
const MAX_MSGPACK_DEPTH: usize = 256;

/// Converts a MessagePack value to JSON (map keys that are not strings become their JSON text).
pub fn msgpack_to_json(mut bytes: &[u8]) -> Result<serde_json::Value> {
    // rmpv's default depth limit (1024) still overflows a 2 MiB thread stack in a debug build.
    let value = rmpv::decode::read_value_with_max_depth(&mut bytes, MAX_MSGPACK_DEPTH)
        .map_err(|error| Error::Checkpoint(format!("not MessagePack: {error}")))?;
    Ok(to_json(value))
}

fn to_json(value: rmpv::Value) -> serde_json::Value {
    use rmpv::Value;
    match value {
        Value::Nil => serde_json::Value::Null,
        Value::Boolean(flag) => serde_json::Value::Bool(flag),
        Value::Integer(number) => match (number.as_u64(), number.as_i64()) {
            (Some(unsigned), _) => unsigned.into(),
            (None, Some(signed)) => signed.into(),
            (None, None) => serde_json::Value::Null,
        },
        Value::F32(number) => serde_json::json!(number),
        Value::F64(number) => serde_json::json!(number),
        Value::String(text) => match text.into_str() {
            Some(text) => serde_json::Value::String(text),
            None => serde_json::Value::Null,
        },
        Value::Binary(bytes) => bytes.into(),
        Value::Array(items) => items.into_iter().map(to_json).collect(),
        Value::Map(entries) => {
            let mut map = serde_json::Map::new();
            for (key, value) in entries {
                let key = match to_json(key) {
                    serde_json::Value::String(text) => text,
                    other => other.to_string(),
                };
                map.insert(key, to_json(value));
            }
            serde_json::Value::Object(map)
        }
        Value::Ext(kind, bytes) => serde_json::json!({ "ext": kind, "bytes": bytes }),
    }
}

/// Fuzz targets of `eddy checkpoint` inspection (issue 15): verifying and dumping a damaged
/// checkpoint, and converting arbitrary bytes from MessagePack, give results or `Error`s,
/// never panics. 256 cases each (a few seconds in a debug build); set `PROPTEST_CASES` for a
/// longer run. Failing inputs are kept in
/// `crates/eddy-core/proptest-regressions/checkpoint/inspect.txt`.
#[cfg(test)]
mod fuzz_tests {
    use super::*;
    use crate::checkpoint::store::fuzz_tests::{config, fuzzed_checkpoint};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn fuzz_verify_and_dump(checkpoint in fuzzed_checkpoint()) {
            let dir = tempfile::tempdir().unwrap();
            checkpoint.write(dir.path());
            let verified = verify(dir.path());
            prop_assert!(verified.is_ok() || checkpoint.damaged());
            for (uid, _, _) in &checkpoint.parts {
                let mut out = Vec::new();
                match dump(dir.path(), uid, &mut out) {
                    Ok(lines) => {
                        let text = String::from_utf8(out).unwrap();
                        prop_assert_eq!(text.lines().count() as u64, lines);
                        for line in text.lines() {
                            serde_json::from_str::<serde_json::Value>(line).unwrap();
                        }
                    }
                    Err(error) => prop_assert!(checkpoint.damaged(), "{error}"),
                }
            }
            prop_assert!(dump(dir.path(), "no-such-uid", &mut Vec::new()).is_err());
        }

        #[test]
        fn fuzz_msgpack_to_json(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = msgpack_to_json(&bytes);
        }
    }

    /// Found by this fuzz target: 512 nested one-element arrays (`0x91` repeated) were within
    /// rmpv's default depth limit and overflowed the test thread's stack, aborting the process.
    #[test]
    fn deeply_nested_msgpack_is_an_error_not_a_stack_overflow() {
        for depth in [512, 1_000_000] {
            let error = msgpack_to_json(&vec![0x91; depth]).unwrap_err().to_string();
            assert!(error.contains("not MessagePack"), "{error}");
        }
        let mut nested = vec![0x91; 100];
        nested.push(0xc0);
        assert_eq!(
            msgpack_to_json(&nested).unwrap().to_string(),
            format!("{}null{}", "[".repeat(100), "]".repeat(100))
        );
    }
}
