//! The versions of one key of a versioned table, by the event time they become valid at: the
//! lookup core of event-time temporal joins (`FOR SYSTEM_TIME AS OF`), shared by
//! [`DataStream::temporal_join`](crate::stream::DataStream::temporal_join) and usable by any
//! operator that keeps history per key (the SQL layer's temporal join keeps the same
//! structure).
//!
//! A version is valid from its time until the next version of the key; a *deletion* is a
//! version without a value (the key has no row from then on). [`Versions::as_of`] answers
//! "which value was valid at `t`"; [`Versions::retire`] drops the history no future lookup can
//! reach once the watermark has passed it.
//!
//! # State
//! After `retire(w)` a key keeps the latest version at or before `w` (the one valid at `w`)
//! and every later one. A retired deletion is kept as a tombstone, so that a version arriving
//! late with an older time stays hidden behind it: every lookup at or after `w` answers as the
//! full history would, whatever arrives later. A lookup as of a time before the retired point
//! sees only what is kept.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The versions of one key, by the event time (ms) each becomes valid at. `None` is a
/// deletion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Versions<V> {
    versions: BTreeMap<u64, Option<V>>,
}

impl<V> Default for Versions<V> {
    fn default() -> Self {
        Versions { versions: BTreeMap::new() }
    }
}

impl<V> Versions<V> {
    /// No versions.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `value` is valid from `time` on (replacing a version at exactly `time`).
    pub fn insert(&mut self, time: u64, value: V) {
        self.versions.insert(time, Some(value));
    }

    /// Records that the key has no value from `time` on (replacing a version at exactly
    /// `time`).
    pub fn delete(&mut self, time: u64) {
        self.versions.insert(time, None);
    }

    /// The value valid at `time`: the latest version at or before it, `None` if there is none
    /// or it is a deletion.
    pub fn as_of(&self, time: u64) -> Option<&V> {
        self.versions.range(..=time).next_back().and_then(|(_, value)| value.as_ref())
    }

    /// Drops the versions no lookup at `watermark` or later can see: every version before the
    /// latest one at or before `watermark` (that one stays, a deletion as a tombstone).
    pub fn retire(&mut self, watermark: u64) {
        let Some((&valid, _)) = self.versions.range(..=watermark).next_back() else { return };
        let kept = self.versions.split_off(&valid);
        self.versions = kept;
    }

    /// Whether no version is kept (the key's state can be dropped).
    pub fn is_empty(&self) -> bool {
        self.versions.is_empty()
    }

    /// Whether all that is kept is one deletion: no lookup at or after it finds a value, and
    /// an operator that accepts no late versions may drop the key.
    pub fn is_tombstone(&self) -> bool {
        self.versions.len() == 1 && self.versions.values().all(Option::is_none)
    }

    /// How many versions (deletions included) are kept.
    pub fn len(&self) -> usize {
        self.versions.len()
    }

    /// The kept versions in time order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, Option<&V>)> {
        self.versions.iter().map(|(time, value)| (*time, value.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lookup_sees_the_latest_version_at_or_before_its_time() {
        let mut versions = Versions::new();
        assert_eq!(versions.as_of(5), None);
        versions.insert(10, "a");
        versions.insert(20, "b");
        versions.delete(30);
        versions.insert(40, "c");
        assert_eq!(versions.as_of(9), None);
        assert_eq!(versions.as_of(10), Some(&"a"), "a version is valid from its own time");
        assert_eq!(versions.as_of(19), Some(&"a"));
        assert_eq!(versions.as_of(20), Some(&"b"));
        assert_eq!(versions.as_of(35), None, "deleted from 30 on");
        assert_eq!(versions.as_of(u64::MAX), Some(&"c"));
        versions.insert(20, "b2");
        assert_eq!(versions.as_of(25), Some(&"b2"), "a version at the same time replaces it");
    }

    #[test]
    fn retiring_keeps_the_version_valid_at_the_watermark_and_later_ones() {
        let mut versions = Versions::new();
        versions.insert(10, 1);
        versions.insert(20, 2);
        versions.insert(30, 3);
        versions.retire(5);
        assert_eq!(versions.len(), 3, "nothing before the first version");
        versions.retire(25);
        assert_eq!(versions.iter().collect::<Vec<_>>(), vec![(20, Some(&2)), (30, Some(&3))]);
        for t in 25..40 {
            assert_eq!(versions.as_of(t), if t < 30 { Some(&2) } else { Some(&3) });
        }
        versions.retire(30);
        assert_eq!(versions.iter().collect::<Vec<_>>(), vec![(30, Some(&3))]);
        versions.retire(1000);
        assert_eq!(versions.len(), 1, "the current version stays");
    }

    #[test]
    fn a_retired_deletion_hides_late_older_versions() {
        let mut versions = Versions::new();
        versions.insert(10, 'x');
        versions.delete(20);
        versions.retire(25);
        assert_eq!(versions.iter().collect::<Vec<_>>(), vec![(20, None)], "the tombstone stays");
        assert!(versions.is_tombstone() && !versions.is_empty());
        versions.insert(15, 'l');
        assert_eq!(versions.as_of(25), None, "a late version older than the deletion stays hidden");
        versions.insert(22, 'y');
        assert_eq!(versions.as_of(25), Some(&'y'), "a late version after it is valid");
        versions.retire(30);
        assert_eq!(versions.iter().collect::<Vec<_>>(), vec![(22, Some(&'y'))]);
        assert!(!versions.is_tombstone());
    }

    /// Against a log of every version: after any retirement at or below the lookup time, a
    /// lookup answers as the full history does.
    #[test]
    fn retiring_never_changes_a_lookup_at_or_after_the_watermark() {
        let mut seed = 7u64;
        let mut next = move || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            seed >> 33
        };
        for _ in 0..200 {
            let (mut versions, mut log) = (Versions::new(), Vec::new());
            let mut watermark = 0;
            for _ in 0..30 {
                // Some versions are late: up to 10 ms below the watermark.
                let time = (watermark + next() % 30).saturating_sub(10);
                let value = (next() % 4 != 0).then(|| next() % 100);
                match value {
                    Some(value) => versions.insert(time, value),
                    None => versions.delete(time),
                }
                log.retain(|(t, _)| *t != time);
                log.push((time, value));
                watermark += next() % 5;
                versions.retire(watermark);
                for probe in watermark..watermark + 30 {
                    let expected = log
                        .iter()
                        .filter(|(t, _)| *t <= probe)
                        .max_by_key(|(t, _)| *t)
                        .and_then(|(_, v)| v.as_ref());
                    assert_eq!(versions.as_of(probe), expected);
                }
            }
        }
    }
}
