//! `DataStream`: eddy's wrapper around a timely stream of [`Record`]s, and the machinery that
//! fuses chains of element-wise operators into one timely operator.
//!
//! A stream is either *materialized* (a timely stream) or a *pending chain*: an upstream plus
//! batch-at-a-time stages (`map`, `filter`, `flat_map`, `inspect`). A chain becomes part of the
//! operator that consumes it when that operator reads its input locally (sinks, other
//! element-wise stages); it is materialized as its own operator when the consumer exchanges
//! data (keyed operators), so filters still run before records cross workers.

use std::cell::RefCell;
use std::rc::Rc;

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::InputCapability;
use timely::dataflow::{Scope, Stream};

use crate::record::Record;
use crate::runtime::{Env, Runtime, UidSlot};
use crate::side_output::{OutputTag, SideRecord};

/// A timely stream of records: the representation under every [`DataStream`].
pub type RecordStream<'scope, T> = Stream<'scope, u64, Vec<Record<T>>>;
pub(crate) type SideStream<'scope> = Stream<'scope, u64, Vec<Record<SideRecord>>>;

/// Reads one input of an operator batch by batch, passing each batch (already transformed by
/// any fused stages) and the capability of its message to a callback.
pub(crate) type Driver<T> = Box<dyn FnMut(&mut dyn FnMut(&InputCapability<u64>, &mut Vec<Record<T>>))>;

/// A batch-to-batch transformation.
pub(crate) type Stage<A, B> = Box<dyn FnMut(&mut Vec<Record<A>>, &mut Vec<Record<B>>)>;

/// A boxed chain, living as long as its scope.
pub(crate) type BoxChain<'scope, T> = Box<dyn Chain<'scope, T> + 'scope>;

/// A stream not yet materialized: it can attach itself as a (pipelined) input of an operator.
pub(crate) trait Chain<'scope, T> {
    /// Adds the upstream as a pipelined input of `builder`, returning the driver that reads it.
    fn attach(self: Box<Self>, builder: &mut OperatorBuilder<'scope, u64>) -> Driver<T>;
    /// Turns the chain into a timely stream (building one operator if stages are pending).
    fn materialize(self: Box<Self>, scope: Scope<'scope, u64>) -> RecordStream<'scope, T>;
}

struct Materialized<'scope, T>(RecordStream<'scope, T>);

impl<'scope, T: 'static> Chain<'scope, T> for Materialized<'scope, T> {
    fn attach(self: Box<Self>, builder: &mut OperatorBuilder<'scope, u64>) -> Driver<T> {
        let mut input = builder.new_input(self.0, Pipeline);
        Box::new(move |callback| input.for_each(|capability, batch| callback(&capability, batch)))
    }

    fn materialize(self: Box<Self>, _scope: Scope<'scope, u64>) -> RecordStream<'scope, T> {
        self.0
    }
}

struct Staged<'scope, A, T> {
    upstream: BoxChain<'scope, A>,
    stage: Stage<A, T>,
    name: &'static str,
}

impl<'scope, A: 'static, T: 'static> Chain<'scope, T> for Staged<'scope, A, T> {
    fn attach(self: Box<Self>, builder: &mut OperatorBuilder<'scope, u64>) -> Driver<T> {
        let Staged { upstream, mut stage, .. } = *self;
        let mut upstream = upstream.attach(builder);
        let mut buffer = Vec::new();
        Box::new(move |callback| {
            upstream(&mut |capability, batch| {
                stage(batch, &mut buffer);
                if !buffer.is_empty() {
                    callback(capability, &mut buffer);
                    buffer.clear();
                }
            })
        })
    }

    fn materialize(self: Box<Self>, scope: Scope<'scope, u64>) -> RecordStream<'scope, T> {
        let mut builder = OperatorBuilder::new(self.name.to_owned(), scope);
        let mut driver = self.attach(&mut builder);
        let (output, stream) = builder.new_output::<Vec<Record<T>>>();
        let mut output = OutputBuilder::from(output);
        builder.build(move |_capabilities| {
            move |_frontiers| {
                let mut output = output.activate();
                driver(&mut |capability, batch| output.session(capability).give_container(batch));
            }
        });
        stream
    }
}

/// Per-worker handles every stream carries: the scope and the job's runtime services.
#[derive(Clone)]
pub(crate) struct StreamContext<'scope> {
    pub(crate) scope: Scope<'scope, u64>,
    pub(crate) runtime: Runtime,
    pub(crate) ids: Rc<std::cell::Cell<u64>>,
    /// The uids of this worker's stateful operators, checked once the dataflow is built.
    pub(crate) uids: Rc<RefCell<Vec<Rc<UidSlot>>>>,
}

impl<'scope> StreamContext<'scope> {
    /// The build environment these handles came from.
    pub(crate) fn env(&self) -> Env<'scope> {
        Env {
            scope: self.scope,
            shared: std::sync::Arc::clone(&self.runtime.shared),
            clock: std::sync::Arc::clone(&self.runtime.clock),
            ids: Rc::clone(&self.ids),
            record_order: self.runtime.record_order,
            uids: Rc::clone(&self.uids),
        }
    }

    /// A fresh operator identifier, the same on every worker.
    pub(crate) fn next_operator_id(&self) -> u64 {
        let id = self.ids.get() + 1;
        self.ids.set(id);
        id
    }

    /// The uid slot of a new stateful operator, generated as `<kind>-<n>` (the n-th stateful
    /// operator built) until the user names it.
    pub(crate) fn new_uid(&self, kind: &str) -> Rc<UidSlot> {
        let mut uids = self.uids.borrow_mut();
        let slot = Rc::new(UidSlot {
            generated: format!("{kind}-{}", uids.len()),
            user: RefCell::new(None),
            address: RefCell::default(),
        });
        uids.push(Rc::clone(&slot));
        slot
    }

    /// A checkpoint participant for a new stateful operator, if the job checkpoints.
    pub(crate) fn participant(&self) -> Option<crate::checkpoint::control::Participant> {
        let control = self.runtime.shared.checkpoints.get()?;
        Some(control.participant(self.scope.index()))
    }
}

impl<'scope> Env<'scope> {
    /// The handles a new stream carries. Operator ids come from one sequence per worker, and
    /// the build closure runs the same code on every worker, so ids agree across workers.
    pub(crate) fn stream_context(&self) -> StreamContext<'scope> {
        StreamContext {
            scope: self.scope,
            runtime: self.runtime(),
            ids: Rc::clone(&self.ids),
            uids: Rc::clone(&self.uids),
        }
    }
}

/// A stream of values of type `T`, each with an event time.
///
/// Element-wise methods (`map`, `filter`, `flat_map`, `inspect`) keep each record's event
/// time. A stream can be consumed more than once (clone it); it is then materialized once and
/// shared.
///
/// # Event time
/// Records are carried at the watermark of the source that emitted them; see
/// `docs/architecture.md` ("time model").
pub struct DataStream<'scope, T> {
    pub(crate) context: StreamContext<'scope>,
    chain: Rc<RefCell<Option<BoxChain<'scope, T>>>>,
    side: Option<SideStream<'scope>>,
    uid: Option<Rc<UidSlot>>,
}

impl<T> Clone for DataStream<'_, T> {
    fn clone(&self) -> Self {
        DataStream {
            context: self.context.clone(),
            chain: Rc::clone(&self.chain),
            side: self.side.clone(),
            uid: self.uid.clone(),
        }
    }
}

impl<'scope, T: Clone + 'static> DataStream<'scope, T> {
    pub(crate) fn from_stream(context: StreamContext<'scope>, stream: RecordStream<'scope, T>) -> Self {
        Self::from_chain(context, Box::new(Materialized(stream)))
    }

    fn from_chain(context: StreamContext<'scope>, chain: BoxChain<'scope, T>) -> Self {
        DataStream { context, chain: Rc::new(RefCell::new(Some(chain))), side: None, uid: None }
    }

    pub(crate) fn with_side(mut self, side: SideStream<'scope>) -> Self {
        self.side = Some(side);
        self
    }

    pub(crate) fn with_uid(mut self, uid: Rc<UidSlot>) -> Self {
        self.uid = Some(uid);
        self
    }

    /// Names the stateful operator that produced this stream (a source, a keyed operator, a
    /// window) for checkpoints and savepoints, like Flink's `uid`. State is stored under the
    /// uid, so a savepoint restores into a changed job as long as its stateful operators keep
    /// their uids. Without one, an operator is named by its position (`keyed-2`), which changes
    /// when stateful operators are added or removed before it. Element-wise operators have no
    /// state; a uid on their output is ignored.
    pub fn uid(self, uid: &str) -> Self {
        if let Some(slot) = &self.uid {
            slot.set(uid);
        }
        self
    }

    /// Takes the chain out of this stream. When other clones share it, it is materialized once
    /// and each consumer gets the shared timely stream.
    pub(crate) fn into_chain(self) -> BoxChain<'scope, T> {
        let scope = self.context.scope;
        match Rc::try_unwrap(self.chain) {
            Ok(cell) => cell.into_inner().expect("stream consumed twice"),
            Err(shared) => {
                let mut slot = shared.borrow_mut();
                let stream = slot.take().expect("stream consumed twice").materialize(scope);
                *slot = Some(Box::new(Materialized(stream.clone())));
                Box::new(Materialized(stream))
            }
        }
    }

    /// Adds a batch stage, fused with the stages before it.
    pub(crate) fn stage<U: Clone + 'static>(
        self,
        name: &'static str,
        stage: Stage<T, U>,
    ) -> DataStream<'scope, U> {
        let context = self.context.clone();
        DataStream::from_chain(context, Box::new(Staged { upstream: self.into_chain(), stage, name }))
    }

    /// The records of a side output of the operator that produced this stream. Streams from
    /// operators that emit no side output under `tag` give an empty stream.
    pub fn side_output<S: Clone + 'static>(&self, tag: &OutputTag<S>) -> DataStream<'scope, S> {
        let context = self.context.clone();
        let Some(side) = self.side.clone() else {
            return DataStream::from_stream(
                context.clone(),
                timely::dataflow::operators::generic::operator::empty(context.scope),
            );
        };
        let tag = *tag;
        let tag_id = tag.id();
        let upstream: BoxChain<'scope, SideRecord> = Box::new(Materialized(side));
        let stage: Stage<SideRecord, S> = Box::new(move |batch, out| {
            for record in batch.drain(..) {
                if record.value.tag_id == tag_id {
                    let value =
                        record.value.downcast::<S>().expect("side output tag ids include the value type");
                    out.push(Record::new(record.timestamp, record.tag, value));
                }
            }
        });
        DataStream::from_chain(context, Box::new(Staged { upstream, stage, name: tag.name() }))
    }

    /// Materializes the stream: the escape hatch to timely. The returned stream's type is
    /// timely's and may change with timely's releases.
    pub fn into_timely(self) -> RecordStream<'scope, T> {
        let scope = self.context.scope;
        self.into_chain().materialize(scope)
    }

    /// The index of this worker.
    pub fn worker_index(&self) -> usize {
        self.context.scope.index()
    }
}
