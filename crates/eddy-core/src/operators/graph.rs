//! Graph algorithms on feedback loops ([`KeyedStream::iterate`]): incremental connected
//! components over a stream of edges, the classic use of iterations (Flink Gelly's
//! `ConnectedComponents`, differential dataflow's label propagation).
//!
//! [`KeyedStream::iterate`]: crate::operators::keyed::KeyedStream::iterate
//!
//! Vertices are keys of the loop; an edge `(u, v)` is an input record of both `u` and `v`;
//! each vertex keeps its label (the least vertex it is known to be connected to) and its
//! neighbours, and a vertex whose label drops sends the new label to its neighbours in the
//! next round. A logical time's iteration ends when no label drops any more.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::changelog::Change;
use crate::operators::iterate::{IterateOptions, LoopContext, LoopFunction};
use crate::operators::process::Key;
use crate::stream::DataStream;

/// What a vertex keeps: its label and its neighbours.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VertexState<V: Ord> {
    /// The least vertex known to be in the same component.
    pub label: V,
    /// The vertices it has an edge to.
    pub neighbours: BTreeSet<V>,
}

/// The loop body of [`DataStream::connected_components`].
pub struct ConnectedComponents;

type ComponentsContext<'a, V> = LoopContext<'a, V, VertexState<V>, V, Change<V, V>>;

impl ConnectedComponents {
    /// The current vertex's state, made (and announced) when the vertex is new.
    fn vertex<'c, V: Key + Ord>(ctx: &'c mut ComponentsContext<'_, V>) -> &'c mut VertexState<V> {
        if ctx.state().is_none() {
            let vertex = ctx.key().clone();
            ctx.emit(Change::Upsert(vertex.clone(), vertex.clone()));
            *ctx.state() = Some(VertexState { label: vertex, neighbours: BTreeSet::new() });
        }
        ctx.state().as_mut().expect("just made")
    }
}

impl<V: Key + Ord> LoopFunction<V, (V, V), V, Change<V, V>> for ConnectedComponents {
    type State = VertexState<V>;

    fn on_input(&mut self, (_, neighbour): (V, V), ctx: &mut ComponentsContext<'_, V>) {
        let vertex = Self::vertex(ctx);
        if vertex.neighbours.insert(neighbour.clone()) {
            let label = vertex.label.clone();
            ctx.send(neighbour, label);
        }
    }

    fn on_message(&mut self, label: V, ctx: &mut ComponentsContext<'_, V>) {
        let vertex = Self::vertex(ctx);
        if label < vertex.label {
            vertex.label = label.clone();
            let neighbours: Vec<V> = vertex.neighbours.iter().cloned().collect();
            let key = ctx.key().clone();
            ctx.emit(Change::Upsert(key, label.clone()));
            for neighbour in neighbours {
                ctx.send(neighbour, label.clone());
            }
        }
    }
}

impl<'scope, V: Key + Ord> DataStream<'scope, (V, V)> {
    /// The connected components of the undirected graph whose edges this stream adds, kept up
    /// to date as edges arrive: an upsert changelog of (vertex, component), where a component
    /// is named by its least vertex. After the changes of every logical time up to `t`, the
    /// table holds exactly the components of the edges of those times. Edges are only added;
    /// removing one would need to retract labels (differential dataflow's `iterate` does that,
    /// at the price of keeping every round's differences).
    ///
    /// ```no_run
    /// use eddy_core::prelude::*;
    ///
    /// fn components<'s>(edges: DataStream<'s, (u64, u64)>) -> DataStream<'s, Change<u64, u64>> {
    ///     edges.connected_components().uid("components")
    /// }
    /// ```
    ///
    /// # Event time
    /// A label change carries the event time of the edge that caused it, at that edge's
    /// logical time; the changes of one vertex come in the order they happened.
    ///
    /// # State
    /// Per vertex its label and neighbours, forever (the graph only grows).
    pub fn connected_components(self) -> DataStream<'scope, Change<V, V>> {
        self.flat_map(|(u, v)| [(u.clone(), v.clone()), (v, u)])
            .key_by(|(vertex, _)| vertex.clone())
            .iterate(ConnectedComponents, IterateOptions::default())
    }
}
