//! Timer queues of keyed operators: one timer per (key, timestamp), fired in timestamp order.
//!
//! Each event-time timer remembers its *delivery time*: the logical time at which its output is
//! emitted, `max(timestamp, time of the record that registered it)`. A timer registered for a
//! time the watermark has already passed fires at the next opportunity, and its output is
//! carried at the registering record's time, so lateness downstream stays deterministic.

use std::collections::BTreeMap;
use std::hash::Hash;

use smallvec::SmallVec;

use crate::hash::key_hash;

/// Whether a timer fires on the watermark or on the processing-time clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeDomain {
    /// Fires when the watermark passes the timer's timestamp.
    EventTime,
    /// Fires when the injected clock reaches the timer's timestamp.
    ProcessingTime,
}

/// Pending timers of one domain, ordered by timestamp, then by key hash.
///
/// Timers live in one ordered map keyed by (timestamp, key hash); keys that share a hash share
/// an entry. Compared with a map per timestamp, this allocates nothing per distinct timestamp
/// in the common case, and fires the keys of one timestamp in a fixed (hash) order.
pub(crate) struct TimerQueue<K> {
    by_time: BTreeMap<(u64, u64), SmallVec<[(K, u64); 1]>>,
    len: usize,
}

impl<K: Hash + Eq + Clone> TimerQueue<K> {
    pub(crate) fn new() -> Self {
        TimerQueue { by_time: BTreeMap::new(), len: 0 }
    }

    /// Registers a timer; registering an existing one keeps the earlier delivery time.
    pub(crate) fn register(&mut self, timestamp: u64, key: &K, delivery: u64) {
        let entry = self.by_time.entry((timestamp, key_hash(key))).or_default();
        match entry.iter_mut().find(|(existing, _)| existing == key) {
            Some((_, existing)) => *existing = (*existing).min(delivery),
            None => {
                entry.push((key.clone(), delivery));
                self.len += 1;
            }
        }
    }

    /// Deletes a timer if it exists.
    pub(crate) fn delete(&mut self, timestamp: u64, key: &K) {
        let slot = (timestamp, key_hash(key));
        if let Some(entry) = self.by_time.get_mut(&slot) {
            if let Some(position) = entry.iter().position(|(existing, _)| existing == key) {
                entry.swap_remove(position);
                self.len -= 1;
            }
            if entry.is_empty() {
                self.by_time.remove(&slot);
            }
        }
    }

    /// Whether a timer is pending.
    pub(crate) fn contains(&self, timestamp: u64, key: &K) -> bool {
        self.by_time
            .get(&(timestamp, key_hash(key)))
            .is_some_and(|entry| entry.iter().any(|(existing, _)| existing == key))
    }

    /// All pending timers as (timestamp, key), in timestamp order.
    pub(crate) fn pending(&self) -> Vec<(u64, K)> {
        self.by_time
            .iter()
            .flat_map(|(&(timestamp, _), entry)| entry.iter().map(move |(key, _)| (timestamp, key.clone())))
            .collect()
    }

    /// Every pending timer as (timestamp, key, delivery time), in timestamp order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, &K, u64)> + '_ {
        self.by_time.iter().flat_map(|(&(timestamp, _), entry)| {
            entry.iter().map(move |(key, delivery)| (timestamp, key, *delivery))
        })
    }

    /// The earliest pending timestamp.
    pub(crate) fn first_time(&self) -> Option<u64> {
        self.by_time.keys().next().map(|&(timestamp, _)| timestamp)
    }

    /// Removes and returns all timers at `timestamp`, as (key, delivery time), sorted by
    /// delivery time (then key hash).
    pub(crate) fn take(&mut self, timestamp: u64) -> Vec<(K, u64)> {
        let slots: Vec<(u64, u64)> =
            self.by_time.range((timestamp, 0)..=(timestamp, u64::MAX)).map(|(&slot, _)| slot).collect();
        let mut timers = Vec::new();
        for slot in slots {
            timers.extend(self.by_time.remove(&slot).unwrap_or_default());
        }
        self.len -= timers.len();
        timers.sort_by_key(|(_, delivery)| *delivery);
        timers
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn clear(&mut self) {
        self.by_time.clear();
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_delete_and_order() {
        let mut queue = TimerQueue::<&str>::new();
        queue.register(20, &"a", 20);
        queue.register(10, &"b", 10);
        queue.register(20, &"a", 25);
        queue.register(20, &"c", 30);
        assert_eq!(queue.first_time(), Some(10));
        queue.delete(10, &"b");
        queue.delete(10, &"zz");
        assert_eq!(queue.first_time(), Some(20));
        let fired = queue.take(20);
        assert_eq!(fired, vec![("a", 20), ("c", 30)]);
        assert!(queue.is_empty());
    }
}
