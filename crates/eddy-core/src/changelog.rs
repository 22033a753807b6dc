//! Upsert changelogs: how operators whose result changes over time report it on append-only
//! streams.
//!
//! eddy's streams are append-only: a record, once emitted, is never retracted. An operator
//! whose result for a key changes as more input arrives (a Top-N ranking, the latest row per
//! key, a running aggregate) emits an *upsert changelog* instead, like Flink's upsert streams
//! and the `upsert-kafka` connector: a stream of [`Change`]s where each key's current result is
//! the value of its last [`Change::Upsert`], unless a [`Change::Delete`] of the key came after
//! it. A sink that writes by key (a table, a compacted topic) applies the changes in order;
//! [`consolidate`] does so in memory.
//!
//! # Order
//! All changes of one key are emitted by the one worker that owns the key, in the order the
//! operator applied them, and reach a sink on that worker in that order: apply each key's
//! changes in the order they arrive, never re-sorted by event time. Changes of different keys
//! may interleave arbitrarily.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One change of a keyed result: the key's result is now `V` (`Upsert`), or the key has no
/// result any more (`Delete`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Change<K, V> {
    /// The key's current result is this value (inserted or replacing the previous one).
    Upsert(K, V),
    /// The key has no result any more.
    Delete(K),
}

impl<K, V> Change<K, V> {
    /// The key the change is about.
    pub fn key(&self) -> &K {
        match self {
            Change::Upsert(key, _) | Change::Delete(key) => key,
        }
    }

    /// The new value, or `None` for a delete.
    pub fn value(&self) -> Option<&V> {
        match self {
            Change::Upsert(_, value) => Some(value),
            Change::Delete(_) => None,
        }
    }

    /// Whether this is a delete.
    pub fn is_delete(&self) -> bool {
        matches!(self, Change::Delete(_))
    }

    /// The change with its value mapped by `function` (deletes stay deletes).
    pub fn map_value<W>(self, function: impl FnOnce(V) -> W) -> Change<K, W> {
        match self {
            Change::Upsert(key, value) => Change::Upsert(key, function(value)),
            Change::Delete(key) => Change::Delete(key),
        }
    }
}

/// Applies `changes` in order and returns the resulting table: for each key, the value of its
/// last `Upsert`, unless a `Delete` came after it. Changes of one key must be given in the
/// order they were emitted (see the module docs); changes of different keys may interleave.
pub fn consolidate<K: Ord, V>(changes: impl IntoIterator<Item = Change<K, V>>) -> BTreeMap<K, V> {
    let mut table = BTreeMap::new();
    for change in changes {
        match change {
            Change::Upsert(key, value) => {
                table.insert(key, value);
            }
            Change::Delete(key) => {
                table.remove(&key);
            }
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_upsert_wins_and_delete_removes() {
        let changes = vec![
            Change::Upsert("a", 1),
            Change::Upsert("b", 2),
            Change::Upsert("a", 3),
            Change::Delete("b"),
            Change::Upsert("c", 4),
            Change::Delete("c"),
            Change::Upsert("c", 5),
            Change::Delete("missing"),
        ];
        let table = consolidate(changes);
        assert_eq!(table, BTreeMap::from([("a", 3), ("c", 5)]));
    }

    #[test]
    fn empty_changelog_is_an_empty_table() {
        assert!(consolidate(Vec::<Change<u32, u32>>::new()).is_empty());
    }

    #[test]
    fn keys_interleave_but_each_key_keeps_its_order() {
        // Two "workers" whose outputs interleave: the result only depends on per-key order.
        let first = [Change::Upsert(1, 'a'), Change::Upsert(1, 'b'), Change::Delete(1)];
        let second = [Change::Upsert(2, 'x'), Change::Upsert(2, 'y')];
        let expected = BTreeMap::from([(2, 'y')]);
        let interleaved =
            [first[0].clone(), second[0].clone(), first[1].clone(), second[1].clone(), first[2].clone()];
        assert_eq!(consolidate(interleaved), expected);
        assert_eq!(consolidate(first.iter().chain(second.iter()).cloned()), expected);
        assert_eq!(consolidate(second.iter().chain(first.iter()).cloned()), expected);
    }

    #[test]
    fn accessors() {
        let upsert: Change<&str, u32> = Change::Upsert("k", 7);
        let delete: Change<&str, u32> = Change::Delete("k");
        assert_eq!(upsert.key(), &"k");
        assert_eq!(upsert.value(), Some(&7));
        assert!(!upsert.is_delete());
        assert_eq!(delete.key(), &"k");
        assert_eq!(delete.value(), None);
        assert!(delete.is_delete());
        assert_eq!(upsert.map_value(|value| value * 2), Change::Upsert("k", 14));
        assert_eq!(delete.map_value(|value| value * 2), Change::Delete("k"));
    }

    #[test]
    fn serde_round_trip() {
        let changes: Vec<Change<(u32, u64), String>> =
            vec![Change::Upsert((1, 2), "row".into()), Change::Delete((3, 4))];
        let json = serde_json::to_string(&changes).expect("serializes");
        let back: Vec<Change<(u32, u64), String>> = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, changes);
        let packed = rmp_serde::to_vec_named(&changes).expect("encodes");
        let back: Vec<Change<(u32, u64), String>> = rmp_serde::from_slice(&packed).expect("decodes");
        assert_eq!(back, changes);
    }
}
