//! Timer queues of keyed operators: one timer per (key, timestamp), fired in timestamp order.
//!
//! Each event-time timer remembers its *delivery time*: the logical time at which its output is
//! emitted, `max(timestamp, time of the record that registered it)`. A timer registered for a
//! time the watermark has already passed fires at the next opportunity, and its output is
//! carried at the registering record's time, so lateness downstream stays deterministic.

use std::collections::BTreeMap;
use std::hash::Hash;

use crate::hash::HashMap;

/// Whether a timer fires on the watermark or on the processing-time clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeDomain {
    /// Fires when the watermark passes the timer's timestamp.
    EventTime,
    /// Fires when the injected clock reaches the timer's timestamp.
    ProcessingTime,
}

/// Pending timers of one domain, ordered by timestamp.
pub(crate) struct TimerQueue<K> {
    by_time: BTreeMap<u64, HashMap<K, u64>>,
    len: usize,
}

impl<K: Hash + Eq + Clone> TimerQueue<K> {
    pub(crate) fn new() -> Self {
        TimerQueue { by_time: BTreeMap::new(), len: 0 }
    }

    /// Registers a timer; registering an existing one keeps the earlier delivery time.
    pub(crate) fn register(&mut self, timestamp: u64, key: &K, delivery: u64) {
        let keys = self.by_time.entry(timestamp).or_default();
        match keys.get_mut(key) {
            Some(existing) => *existing = (*existing).min(delivery),
            None => {
                keys.insert(key.clone(), delivery);
                self.len += 1;
            }
        }
    }

    /// Deletes a timer if it exists.
    pub(crate) fn delete(&mut self, timestamp: u64, key: &K) {
        if let Some(keys) = self.by_time.get_mut(&timestamp) {
            if keys.remove(key).is_some() {
                self.len -= 1;
            }
            if keys.is_empty() {
                self.by_time.remove(&timestamp);
            }
        }
    }

    /// The earliest pending timestamp.
    pub(crate) fn first_time(&self) -> Option<u64> {
        self.by_time.keys().next().copied()
    }

    /// Removes and returns all timers at `timestamp`, as (key, delivery time), sorted by
    /// delivery time.
    pub(crate) fn take(&mut self, timestamp: u64) -> Vec<(K, u64)> {
        let mut timers: Vec<(K, u64)> =
            self.by_time.remove(&timestamp).unwrap_or_default().into_iter().collect();
        self.len -= timers.len();
        timers.sort_by_key(|(_, delivery)| *delivery);
        timers
    }

    /// Whether a timer is pending.
    pub(crate) fn contains(&self, timestamp: u64, key: &K) -> bool {
        self.by_time.get(&timestamp).is_some_and(|keys| keys.contains_key(key))
    }

    /// All pending timers as (timestamp, key), in timestamp order.
    pub(crate) fn pending(&self) -> Vec<(u64, K)> {
        self.by_time
            .iter()
            .flat_map(|(timestamp, keys)| keys.keys().map(move |key| (*timestamp, key.clone())))
            .collect()
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
