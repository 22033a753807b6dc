//! Feedback loops: incremental connected components over a growing stream of edges
//! (`DataStream::connected_components`, built on `KeyedStream::iterate`), checked against a
//! batch union-find after every logical time.
//!
//! ```text
//! cargo run -p eddy-core --example connected_components
//! ```
//!
//! Each logical time's edges start a loop: vertices whose label (least connected vertex)
//! drops tell their neighbours in the next round, until a round changes nothing. The output is
//! an upsert changelog of (vertex, component).

use std::collections::BTreeMap;

use eddy_connectors::{CollectSink, CollectionSource};
use eddy_core::prelude::*;

/// Vertex -> least vertex of its component, by union-find.
fn batch(edges: &[(u32, u32)]) -> BTreeMap<u32, u32> {
    let mut label: BTreeMap<u32, u32> = BTreeMap::new();
    fn root(label: &BTreeMap<u32, u32>, mut x: u32) -> u32 {
        while label[&x] != x {
            x = label[&x];
        }
        x
    }
    for &(u, v) in edges {
        label.entry(u).or_insert(u);
        label.entry(v).or_insert(v);
        let (a, b) = (root(&label, u), root(&label, v));
        label.insert(a.max(b), a.min(b));
    }
    label.keys().map(|&v| (v, root(&label, v))).collect()
}

fn main() -> eddy_core::Result<()> {
    // (event time, u, v): two chains that meet at t = 60.
    let edges: Vec<(u64, u32, u32)> =
        vec![(10, 5, 6), (20, 6, 7), (30, 1, 2), (40, 2, 3), (50, 7, 8), (60, 8, 3), (70, 9, 10)];
    let (sink, handle) = CollectSink::new();
    let input = edges.clone();
    Job::new(JobConfig::with_workers(2)).run(move |env| {
        env.from_source(
            CollectionSource::new(input.clone()),
            WatermarkStrategy::monotonous_timestamps()
                .with_timestamps(|edge: &(u64, u32, u32)| edge.0)
                .with_emit_every(1),
        )
        .map(|(_, u, v)| (u, v))
        .connected_components()
        .uid("components")
        .sink(sink.clone());
        Ok(())
    })?;
    let mut changes = handle.timed_records();
    changes.sort_by_key(|(_, _, logical_time)| *logical_time);
    let mut table = BTreeMap::new();
    for (change, _, logical_time) in &changes {
        println!("logical time {logical_time:>2}: {change:?}");
        if let Change::Upsert(vertex, component) = change {
            let entry = table.entry(*vertex).or_insert(*component);
            *entry = (*entry).min(*component);
        }
    }
    let all: Vec<(u32, u32)> = edges.iter().map(|&(_, u, v)| (u, v)).collect();
    assert_eq!(table, batch(&all), "the streamed components equal the batch ones");
    println!("components: {table:?} (equal to a batch union-find)");
    Ok(())
}
