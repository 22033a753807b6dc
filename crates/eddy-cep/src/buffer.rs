//! The shared versioned buffer of partial matches (Flink's `SharedBuffer`, after the SASE paper
//! "Efficient Pattern Matching over Event Streams"): every event that some partial match holds is
//! stored once; a node `(event, stage)` points back to the node of the previous event of each
//! partial match through an edge labelled with that match's Dewey version, so partial matches
//! that share a prefix share its nodes. Nodes and events are reference counted and removed as
//! soon as no partial match (and no later node) refers to them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A Dewey version number (`1.0.2`): a partial match's version extends the version of the run
/// it branched from, so a backwards walk can tell which edges belong to which partial match.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub struct DeweyNumber(pub Vec<u32>);

impl DeweyNumber {
    /// A version with a single digit.
    pub fn new(start: u32) -> Self {
        DeweyNumber(vec![start])
    }

    /// Adds `times` to the last digit.
    pub fn increase(&self, times: u32) -> Self {
        let mut digits = self.0.clone();
        *digits.last_mut().expect("a version has digits") += times;
        DeweyNumber(digits)
    }

    /// Appends a new stage digit 0.
    pub fn add_stage(&self) -> Self {
        let mut digits = self.0.clone();
        digits.push(0);
        DeweyNumber(digits)
    }

    /// Whether a partial match of version `self` may follow an edge labelled `other`: `other`
    /// is a proper prefix of `self`, or both have the same length, the same leading digits and
    /// `self`'s last digit is at least `other`'s.
    pub fn is_compatible_with(&self, other: &DeweyNumber) -> bool {
        let (mine, theirs) = (&self.0, &other.0);
        if mine.len() > theirs.len() {
            mine[..theirs.len()] == theirs[..]
        } else if mine.len() == theirs.len() {
            let last = mine.len() - 1;
            mine[..last] == theirs[..last] && mine[last] >= theirs[last]
        } else {
            false
        }
    }
}

/// An event's identity in the buffer: its timestamp and a counter among events of that
/// timestamp. The order is the processing order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventId {
    /// The event time.
    pub timestamp: i64,
    /// The position among the events with this timestamp.
    pub id: u32,
}

/// A node: one event taken by one stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeId {
    /// The event.
    pub event: EventId,
    /// The stage (index into the compiled stage names).
    pub stage: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Node {
    /// `(previous node, version)`; `None` for a partial match's first event.
    edges: Vec<(Option<NodeId>, DeweyNumber)>,
    /// Partial matches and later nodes' edges that refer to this node.
    refs: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct StoredEvent<T> {
    value: T,
    /// Nodes that hold the event, plus one while it is being processed.
    refs: u32,
}

/// The buffer. Its maps are ordered so that a snapshot is deterministic.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SharedBuffer<T> {
    events: BTreeMap<EventId, StoredEvent<T>>,
    nodes: BTreeMap<NodeId, Node>,
    /// The next counter per timestamp, for event ids.
    counters: BTreeMap<i64, u32>,
}

impl<T> Default for SharedBuffer<T> {
    fn default() -> Self {
        SharedBuffer { events: BTreeMap::new(), nodes: BTreeMap::new(), counters: BTreeMap::new() }
    }
}

impl<T: Clone> SharedBuffer<T> {
    /// Stores an event being processed, held once until [`SharedBuffer::release_event`].
    pub fn register_event(&mut self, value: T, timestamp: i64) -> EventId {
        let counter = self.counters.entry(timestamp).or_insert(0);
        let id = EventId { timestamp, id: *counter };
        *counter += 1;
        self.events.insert(id, StoredEvent { value, refs: 1 });
        id
    }

    /// Drops one hold on an event; the event goes when nothing holds it.
    pub fn release_event(&mut self, id: EventId) {
        if let Some(event) = self.events.get_mut(&id) {
            event.refs -= 1;
            if event.refs == 0 {
                self.events.remove(&id);
            }
        }
    }

    /// Forgets the id counters of timestamps before `timestamp` (no event can come there).
    pub fn advance_time(&mut self, timestamp: i64) {
        self.counters = self.counters.split_off(&timestamp);
    }

    /// Records that `stage` took `event` after `previous`, for the partial match of `version`.
    /// The edge holds `previous`; the caller locks the returned node for its partial match.
    pub fn put(
        &mut self,
        stage: u32,
        event: EventId,
        previous: Option<NodeId>,
        version: DeweyNumber,
    ) -> NodeId {
        let id = NodeId { event, stage };
        if let Some(previous) = previous {
            self.lock_node(previous);
        }
        match self.nodes.get_mut(&id) {
            Some(node) => node.edges.push((previous, version)),
            None => {
                if let Some(stored) = self.events.get_mut(&event) {
                    stored.refs += 1;
                }
                self.nodes.insert(id, Node { edges: vec![(previous, version)], refs: 0 });
            }
        }
        id
    }

    /// One more partial match (or edge) refers to the node.
    pub fn lock_node(&mut self, id: NodeId) {
        if let Some(node) = self.nodes.get_mut(&id) {
            node.refs += 1;
        }
    }

    /// One reference to the node is gone; removes it, and releases what it points to, when it
    /// was the last.
    pub fn release_node(&mut self, id: NodeId) {
        let mut pending = vec![id];
        while let Some(id) = pending.pop() {
            let Some(node) = self.nodes.get_mut(&id) else { continue };
            node.refs = node.refs.saturating_sub(1);
            if node.refs == 0 {
                let node = self.nodes.remove(&id).expect("present");
                pending.extend(node.edges.into_iter().filter_map(|(previous, _)| previous));
                self.release_event(id.event);
            }
        }
    }

    /// The event of an id.
    pub fn event(&self, id: EventId) -> Option<&T> {
        self.events.get(&id).map(|stored| &stored.value)
    }

    /// Every path back from `id` that a partial match of `version` can follow, each as
    /// `(stage, events)` in the order stages were entered, events in order. The first path is
    /// the one Flink reports.
    pub fn extract_paths(&self, id: NodeId, version: &DeweyNumber) -> Vec<Vec<(u32, Vec<EventId>)>> {
        let mut result = Vec::new();
        if !self.nodes.contains_key(&id) {
            return result;
        }
        // Depth-first, as a stack of (node or end, version, path so far), newest first.
        let mut stack: Vec<(Option<NodeId>, DeweyNumber, Vec<NodeId>)> =
            vec![(Some(id), version.clone(), Vec::new())];
        while let Some((node_id, version, mut path)) = stack.pop() {
            match node_id {
                None => {
                    let mut grouped: Vec<(u32, Vec<EventId>)> = Vec::new();
                    for node in path.iter().rev() {
                        match grouped.iter_mut().find(|(stage, _)| *stage == node.stage) {
                            Some((_, events)) => events.push(node.event),
                            None => grouped.push((node.stage, vec![node.event])),
                        }
                    }
                    result.push(grouped);
                }
                Some(node_id) => {
                    let Some(node) = self.nodes.get(&node_id) else { continue };
                    path.push(node_id);
                    let compatible: Vec<_> =
                        node.edges.iter().filter(|(_, edge)| version.is_compatible_with(edge)).collect();
                    for (previous, edge_version) in compatible {
                        stack.push((*previous, edge_version.clone(), path.clone()));
                    }
                }
            }
        }
        result
    }

    /// The number of events stored.
    pub fn event_count(&self) -> usize {
        self.events.len()
    }

    /// The number of nodes stored.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the buffer holds nothing.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.nodes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dewey_compatibility() {
        let v = |d: &[u32]| DeweyNumber(d.to_vec());
        assert!(v(&[1, 0, 1]).is_compatible_with(&v(&[1, 0])));
        assert!(v(&[1, 2]).is_compatible_with(&v(&[1, 1])));
        assert!(!v(&[1, 1]).is_compatible_with(&v(&[1, 2])));
        assert!(!v(&[2, 0]).is_compatible_with(&v(&[1])));
        assert!(!v(&[1]).is_compatible_with(&v(&[1, 0])));
        assert_eq!(v(&[1, 0]).increase(2).add_stage(), v(&[1, 2, 0]));
    }

    #[test]
    fn shared_prefix_is_stored_once_and_freed_with_its_last_reference() {
        let mut buffer = SharedBuffer::default();
        let a = buffer.register_event("a", 1);
        let b = buffer.register_event("b", 2);
        let c = buffer.register_event("c", 3);
        // Partial match 1.0 took a; two branches (1.0.0 and 1.0.1) took b and c after it.
        let na = buffer.put(0, a, None, DeweyNumber(vec![1, 0]));
        let nb = buffer.put(1, b, Some(na), DeweyNumber(vec![1, 0, 0]));
        let nc = buffer.put(1, c, Some(na), DeweyNumber(vec![1, 0, 1]));
        buffer.lock_node(nb);
        buffer.lock_node(nc);
        for id in [a, b, c] {
            buffer.release_event(id);
        }
        assert_eq!(buffer.event_count(), 3, "a is stored once for both branches");
        let paths = buffer.extract_paths(nc, &DeweyNumber(vec![1, 0, 1, 0]));
        assert_eq!(paths, vec![vec![(0, vec![a]), (1, vec![c])]]);
        buffer.release_node(nb);
        assert_eq!(buffer.event_count(), 2);
        buffer.release_node(nc);
        assert!(buffer.is_empty());
    }

    #[test]
    fn incompatible_versions_are_not_followed() {
        let mut buffer = SharedBuffer::default();
        let a = buffer.register_event(1, 1);
        let b = buffer.register_event(2, 2);
        let na = buffer.put(0, a, None, DeweyNumber(vec![2, 0]));
        let nb = buffer.put(1, b, Some(na), DeweyNumber(vec![2, 0, 0]));
        assert!(buffer.extract_paths(nb, &DeweyNumber(vec![1, 0, 0, 0])).is_empty());
        assert_eq!(buffer.extract_paths(nb, &DeweyNumber(vec![2, 0, 0, 0])).len(), 1);
    }
}
