//! The part format of keyed operators: keyed state and timers, one entry per key, sorted by
//! key hash so a restore at any parallelism reads the hash ranges it owns (design.md section 5).
//!
//! ```text
//! part    := "EDDYKEYS" version:u32 table_count:u32 (name_len:u32 name:utf8)* entry_count:u64 entry*
//! entry   := key_hash:u64 key_len:u32 key:msgpack
//!            value_count:u16 (table:u16 value_len:u32 value:msgpack)*
//!            event_timer_count:u32 (timestamp:u64 delivery:u64)*
//!            processing_timer_count:u32 (timestamp:u64 delivery:u64)*
//! ```
//! Integers are little-endian. `table` indexes the names in the header (the names given to
//! `StateDescriptor`s). Keys and values are MessagePack with struct field names; a value
//! is the state's row: `{"value": v, "stamp": t}` for value state, a list of those for list
//! state, a map of them for map state (`stamp` is the time-to-live stamp).

use crate::error::{Error, Result};
use crate::hash::{key_hash, HashMap};
use crate::record::Key;
use crate::state::{encode, RowsCopy, StateStore};
use crate::timers::TimerQueue;

const MAGIC: &[u8; 8] = b"EDDYKEYS";
/// The version of the keyed part format.
pub const KEYED_VERSION: u32 = 1;

/// A copy of a keyed operator's state and timers, taken on the worker and encoded elsewhere.
pub(crate) struct KeyedCopy<K> {
    names: Vec<String>,
    tables: Vec<Box<dyn RowsCopy<K>>>,
    event_timers: Vec<(u64, K, u64)>,
    processing_timers: Vec<(u64, K, u64)>,
}

/// Copies a keyed operator's state and timers (cheap: clones, no encoding).
pub(crate) fn copy_keyed<K: Key>(
    store: &StateStore<K>,
    event_timers: &TimerQueue<K>,
    processing_timers: &TimerQueue<K>,
) -> KeyedCopy<K> {
    let timers = |queue: &TimerQueue<K>| -> Vec<(u64, K, u64)> {
        queue.iter().map(|(timestamp, key, delivery)| (timestamp, key.clone(), delivery)).collect()
    };
    KeyedCopy {
        names: store.names().to_vec(),
        tables: store.copy_tables(),
        event_timers: timers(event_timers),
        processing_timers: timers(processing_timers),
    }
}

/// One key's entry while encoding: value bytes live in a shared arena.
struct EntryBuilder {
    hash: u64,
    key: Vec<u8>,
    values: Vec<(u16, std::ops::Range<usize>)>,
    event_timers: Vec<(u64, u64)>,
    processing_timers: Vec<(u64, u64)>,
}

impl<K: Key> KeyedCopy<K> {
    /// Encodes the copy; returns the bytes and the number of keys.
    pub(crate) fn encode(self) -> Result<(Vec<u8>, u64)> {
        let mut index: HashMap<K, usize> = HashMap::default();
        let mut entries: Vec<EntryBuilder> = Vec::new();
        let mut arena: Vec<u8> = Vec::new();
        let mut failure: Option<Error> = None;
        let mut entry_for = |key: &K, entries: &mut Vec<EntryBuilder>| -> Option<usize> {
            if let Some(&at) = index.get(key) {
                return Some(at);
            }
            match encode(key) {
                Ok(bytes) => {
                    entries.push(EntryBuilder {
                        hash: key_hash(key),
                        key: bytes,
                        values: Vec::new(),
                        event_timers: Vec::new(),
                        processing_timers: Vec::new(),
                    });
                    index.insert(key.clone(), entries.len() - 1);
                    Some(entries.len() - 1)
                }
                Err(error) => {
                    failure.get_or_insert(error);
                    None
                }
            }
        };
        let mut buffer = Vec::new();
        for (table, rows) in self.tables.iter().enumerate() {
            let table =
                u16::try_from(table).map_err(|_| Error::Checkpoint("more than 65535 states".into()))?;
            rows.encode(&mut buffer, &mut |key, value| {
                if let Some(at) = entry_for(key, &mut entries) {
                    let start = arena.len();
                    arena.extend_from_slice(value);
                    entries[at].values.push((table, start..arena.len()));
                }
            })?;
        }
        for (timestamp, key, delivery) in &self.event_timers {
            if let Some(at) = entry_for(key, &mut entries) {
                entries[at].event_timers.push((*timestamp, *delivery));
            }
        }
        for (timestamp, key, delivery) in &self.processing_timers {
            if let Some(at) = entry_for(key, &mut entries) {
                entries[at].processing_timers.push((*timestamp, *delivery));
            }
        }
        if let Some(error) = failure {
            return Err(error);
        }
        entries.sort_unstable_by(|a, b| (a.hash, &a.key).cmp(&(b.hash, &b.key)));
        let mut out = Vec::with_capacity(64 + arena.len() + entries.len() * 48);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&KEYED_VERSION.to_le_bytes());
        put_u32(&mut out, self.names.len());
        for name in &self.names {
            put_u32(&mut out, name.len());
            out.extend_from_slice(name.as_bytes());
        }
        out.extend_from_slice(&(entries.len() as u64).to_le_bytes());
        for entry in &entries {
            out.extend_from_slice(&entry.hash.to_le_bytes());
            put_u32(&mut out, entry.key.len());
            out.extend_from_slice(&entry.key);
            out.extend_from_slice(&(entry.values.len() as u16).to_le_bytes());
            for (table, range) in &entry.values {
                out.extend_from_slice(&table.to_le_bytes());
                put_u32(&mut out, range.len());
                out.extend_from_slice(&arena[range.clone()]);
            }
            for timers in [&entry.event_timers, &entry.processing_timers] {
                put_u32(&mut out, timers.len());
                for (timestamp, delivery) in timers {
                    out.extend_from_slice(&timestamp.to_le_bytes());
                    out.extend_from_slice(&delivery.to_le_bytes());
                }
            }
        }
        Ok((out, entries.len() as u64))
    }
}

fn put_u32(out: &mut Vec<u8>, value: usize) {
    out.extend_from_slice(&(value as u32).to_le_bytes());
}

/// One key's entry, borrowed from a part.
#[derive(Debug)]
pub struct KeyedEntry<'a> {
    /// The key's 64-bit hash (which worker owns it).
    pub hash: u64,
    /// The key, MessagePack.
    pub key: &'a [u8],
    /// (state name, MessagePack row) pairs.
    pub values: Vec<(&'a str, &'a [u8])>,
    /// Event-time timers as (timestamp, delivery time).
    pub event_timers: Vec<(u64, u64)>,
    /// Processing-time timers as (timestamp, delivery time).
    pub processing_timers: Vec<(u64, u64)>,
}

/// A parsed keyed part.
pub struct KeyedPart<'a> {
    /// The state names of the operator.
    pub names: Vec<&'a str>,
    /// Entries, sorted by key hash.
    pub entries: Vec<KeyedEntry<'a>>,
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(len).filter(|&end| end <= self.bytes.len()).ok_or_else(|| {
            Error::Checkpoint(format!("keyed part truncated at byte {} (wanted {len} more)", self.at))
        })?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }
    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().expect("two bytes")))
    }
    fn u32(&mut self) -> Result<usize> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("four bytes")) as usize)
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("eight bytes")))
    }
}

/// The fewest bytes an entry takes: its hash, key length, value count and two timer counts.
const MIN_ENTRY_BYTES: usize = 8 + 4 + 2 + 4 + 4;

/// How many entries to reserve room for when a part says it has `count` with `remaining`
/// bytes left: never more than those bytes can hold, since the count is read from the input.
fn entry_capacity(count: u64, remaining: usize) -> usize {
    count.min((remaining / MIN_ENTRY_BYTES) as u64) as usize
}

/// Parses a keyed part.
pub fn parse_keyed(bytes: &[u8]) -> Result<KeyedPart<'_>> {
    let mut cursor = Cursor { bytes, at: 0 };
    if cursor.take(8)? != MAGIC {
        return Err(Error::Checkpoint("not a keyed state part (bad magic)".into()));
    }
    let version = cursor.u32()?;
    if version > KEYED_VERSION as usize {
        return Err(Error::Checkpoint(format!("keyed part version {version} is newer than {KEYED_VERSION}")));
    }
    let mut names = Vec::new();
    for _ in 0..cursor.u32()? {
        let len = cursor.u32()?;
        let name = std::str::from_utf8(cursor.take(len)?)
            .map_err(|_| Error::Checkpoint("a state name is not UTF-8".into()))?;
        names.push(name);
    }
    let count = cursor.u64()?;
    let mut entries = Vec::with_capacity(entry_capacity(count, bytes.len() - cursor.at));
    for _ in 0..count {
        let hash = cursor.u64()?;
        let key_len = cursor.u32()?;
        let key = cursor.take(key_len)?;
        let mut values = Vec::new();
        for _ in 0..cursor.u16()? {
            let table = cursor.u16()? as usize;
            let len = cursor.u32()?;
            let name = *names
                .get(table)
                .ok_or_else(|| Error::Checkpoint(format!("state index {table} out of range")))?;
            values.push((name, cursor.take(len)?));
        }
        let mut timers = [Vec::new(), Vec::new()];
        for list in &mut timers {
            for _ in 0..cursor.u32()? {
                list.push((cursor.u64()?, cursor.u64()?));
            }
        }
        let [event_timers, processing_timers] = timers;
        entries.push(KeyedEntry { hash, key, values, event_timers, processing_timers });
    }
    if cursor.at != bytes.len() {
        return Err(Error::Checkpoint(format!(
            "{} trailing bytes after the keyed part",
            bytes.len() - cursor.at
        )));
    }
    Ok(KeyedPart { names, entries })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::KeyedStateAccess;
    use crate::state::{OpenContext, StateParts, TtlNow};

    struct Ctx {
        key: String,
        store: StateStore<String>,
    }
    impl KeyedStateAccess for Ctx {
        type Key = String;
        fn state_parts(&mut self) -> StateParts<'_, String> {
            StateParts { key: &self.key, store: &mut self.store, now: TtlNow::default() }
        }
    }

    #[test]
    fn keyed_parts_round_trip() {
        let mut ctx = Ctx { key: "a".into(), store: StateStore::new() };
        let count = OpenContext { store: &mut ctx.store, worker_index: 0 }.value_state::<u64>("count");
        let seen = OpenContext { store: &mut ctx.store, worker_index: 0 }.list_state::<(i32, String)>("seen");
        count.update(&mut ctx, 3);
        seen.add(&mut ctx, (1, "x".into()));
        ctx.key = "b".into();
        count.update(&mut ctx, 9);
        let mut event = TimerQueue::new();
        event.register(100, &"b".to_string(), 100);
        let processing = TimerQueue::new();
        let (bytes, keys) = copy_keyed(&ctx.store, &event, &processing).encode().unwrap();
        assert_eq!(keys, 2);
        let part = parse_keyed(&bytes).unwrap();
        assert_eq!(part.names, vec!["count", "seen"]);
        assert!(part.entries.windows(2).all(|pair| pair[0].hash <= pair[1].hash));

        let mut restored = Ctx { key: "a".into(), store: StateStore::new() };
        let count2 = OpenContext { store: &mut restored.store, worker_index: 0 }.value_state::<u64>("count");
        let seen2 =
            OpenContext { store: &mut restored.store, worker_index: 0 }.list_state::<(i32, String)>("seen");
        for entry in &part.entries {
            let key: String = crate::state::decode(entry.key, "key").unwrap();
            for (name, value) in &entry.values {
                assert!(restored.store.restore_row(name, key.clone(), value).unwrap());
            }
            if key == "b" {
                assert_eq!(entry.event_timers, vec![(100, 100)]);
            }
        }
        assert_eq!(count2.value(&mut restored), Some(3));
        assert_eq!(seen2.get(&mut restored), vec![(1, "x".to_string())]);
        restored.key = "b".into();
        assert_eq!(count2.value(&mut restored), Some(9));
        assert!(parse_keyed(&bytes[..bytes.len() - 1]).is_err());
    }
}

/// Fuzz targets of the keyed part format (issue 15): arbitrary bytes, and valid parts with bit
/// flips, truncations, inserted bytes and huge counts, go through `parse_keyed` and the row
/// decoding a restore does; every one must be a part or an `Error`, never a panic. 256 cases
/// each (a few seconds in a debug build); set `PROPTEST_CASES` for a longer run. Failing
/// inputs are kept in `crates/eddy-core/proptest-regressions/checkpoint/keyed.txt`.
#[cfg(test)]
pub(crate) mod fuzz_tests {
    use super::*;
    use crate::checkpoint::store::fuzz_tests::{config, mutate, mutations};
    use crate::state::{decode, KeyedStateAccess, OpenContext, StateParts, TtlNow};
    use proptest::prelude::*;

    struct Context {
        key: String,
        store: StateStore<String>,
    }

    impl KeyedStateAccess for Context {
        type Key = String;
        fn state_parts(&mut self) -> StateParts<'_, String> {
            StateParts { key: &self.key, store: &mut self.store, now: TtlNow::default() }
        }
    }

    /// A store with the states the generated parts hold.
    fn store() -> (Context, crate::state::ValueState<u64>, crate::state::ListState<(i32, String)>) {
        let mut context = Context { key: String::new(), store: StateStore::new() };
        let count = OpenContext { store: &mut context.store, worker_index: 0 }.value_state::<u64>("count");
        let seen =
            OpenContext { store: &mut context.store, worker_index: 0 }.list_state::<(i32, String)>("seen");
        (context, count, seen)
    }

    /// A valid keyed part: keys with a count, a list and timers.
    pub(crate) fn keyed_part() -> impl Strategy<Value = Vec<u8>> {
        let key = ("\\PC{0,6}", any::<u64>(), prop::collection::vec((any::<i32>(), "[a-z]{0,4}"), 0..3));
        let timers = prop::collection::vec((any::<u64>(), "\\PC{0,6}", any::<u64>()), 0..3);
        (prop::collection::vec(key, 0..4), timers).prop_map(|(keys, timers)| {
            let (mut context, count, seen) = store();
            for (key, value, list) in keys {
                context.key = key;
                count.update(&mut context, value);
                for item in list {
                    seen.add(&mut context, item);
                }
            }
            let mut event = TimerQueue::new();
            for (timestamp, key, delivery) in timers {
                event.register(timestamp, &key, delivery);
            }
            copy_keyed(&context.store, &event, &TimerQueue::new()).encode().unwrap().0
        })
    }

    /// Parses `bytes` and restores every row as the keyed operators do.
    fn parse_and_restore(bytes: &[u8]) -> Result<usize> {
        let part = parse_keyed(bytes)?;
        let (mut context, _, _) = store();
        for entry in &part.entries {
            let key: String = decode(entry.key, "a key")?;
            for (name, value) in &entry.values {
                context.store.restore_row(name, key.clone(), value)?;
            }
        }
        Ok(part.entries.len())
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn fuzz_parse_keyed_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..200), magic in any::<bool>()) {
            let mut bytes = bytes;
            if magic {
                bytes.splice(0..0, MAGIC.iter().copied());
            }
            let _ = parse_and_restore(&bytes);
        }

        #[test]
        fn fuzz_parse_keyed_mutated_parts(part in keyed_part(), mutations in mutations()) {
            prop_assert!(parse_and_restore(&part).is_ok(), "a valid part must parse");
            let mut bytes = part.clone();
            mutate(&mut bytes, &mutations);
            if let Err(error) = parse_and_restore(&bytes) {
                prop_assert!(matches!(error, Error::Checkpoint(_)), "{error}");
            }
        }
    }

    /// Found by reasoning about the fuzz target (a 28-byte part claiming 2^64 - 1 entries
    /// reserved room for 2^20 of them, about 100 MB): the entry count is capped by the bytes
    /// left, and the part is refused as truncated.
    #[test]
    fn a_huge_entry_count_is_truncation_not_a_huge_allocation() {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&KEYED_VERSION.to_le_bytes());
        bytes.extend_from_slice(&0u32.to_le_bytes());
        bytes.extend_from_slice(&u64::MAX.to_le_bytes());
        let error = parse_keyed(&bytes).err().expect("refused").to_string();
        assert!(error.contains("truncated"), "{error}");
        assert_eq!(entry_capacity(u64::MAX, 0), 0);
        assert_eq!(entry_capacity(u64::MAX, 10 * MIN_ENTRY_BYTES), 10);
        assert_eq!(entry_capacity(3, 10 * MIN_ENTRY_BYTES), 3);
    }
}
