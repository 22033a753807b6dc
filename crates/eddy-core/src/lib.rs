//! eddy's runtime: the event-time time model, the `DataStream` API, keyed state, timers, the
//! source/sink interfaces and exactly-once checkpoints, on timely dataflow.
//!
//! Start at [`job::Job`] (running a job), [`stream::DataStream`] (the API) and
//! [`operators::process`] (the keyed engine). `docs/architecture.md` explains the time model;
//! `docs/tutorial.md` walks through the API.
//!
//! # Crate map
//! The modules in layers; each uses only modules of its own layer or below (a test in
//! `tests/tidy.rs` fails on an import circle).
//!
//! | layer | modules | what lives there |
//! |---|---|---|
//! | foundations | [`error`], [`hash`], [`time`], [`record`], [`watermark`], [`changelog`], [`timers`], [`side_output`], [`versioned`] | errors, the fixed-seed hasher and key routing, the injected clock, `Record`/`Data`/`Key` and the event-time range, watermark strategies, upsert changelogs, timer queues, side-output tags, per-key version histories |
//! | metrics | [`metrics`] | per-operator figures from timely's event log, checkpoint history, the job snapshot servers read |
//! | state | [`state`] | keyed state tables, handles and TTL |
//! | checkpoint formats and protocol | [`checkpoint`] (`part`, `commit`, `store`, `keyed`, `restore`, `messages`, `protocol`, `control`) | part kinds, two-phase-commit types, the on-disk layout and manifests, the keyed part format, loading a checkpoint, control messages, the protocol as a state machine without I/O, the claim rule shared with operators |
//! | runtime handles | `runtime` (re-exported as [`job::Env`], [`job::RecordOrder`]) | what every worker and operator of a process shares (`JobShared`), the per-worker build environment, operator uids |
//! | checkpoint I/O | [`checkpoint`] (`coordinator`, `socket`, `link`, `lock`, `inspect`), [`cluster`] | the coordinator thread (the protocol's I/O shell), the control socket, the link between processes, the directory lock, `eddy inspect`'s reader, connection set-up |
//! | streams | [`stream`], [`source`], [`sink`], [`sdk`] | `DataStream` and fused chains, the source operator and `Source`/`SplitReader`, the sink operator and `Sink`/`SinkWriter`, the operator SDK for crates above this one |
//! | operators | [`operators`] (`process` is the keyed engine under `keyed`, `co_process`, `join`, `temporal`, `topn`, `dedup`, `lookup`; `iterate` runs feedback loops in a nested timely scope, `graph` builds on it; `basic`), [`window`] | every operator family |
//! | jobs | [`job`], [`testing`] | `Job::run`, workers and processes; the single-worker operator harness |

pub use error::{Error, Result};

pub mod changelog;
pub mod checkpoint;
pub mod cluster;
pub mod error;
pub mod hash;
pub mod job;
pub mod metrics;
pub mod operators;
pub mod record;
pub(crate) mod runtime;
pub mod sdk;
pub mod side_output;
pub mod sink;
pub mod source;
pub mod state;
pub mod stream;
pub mod testing;
pub mod time;
pub mod timers;
pub mod versioned;
pub mod watermark;
pub mod window;

/// The names most programs need.
pub mod prelude {
    pub use crate::changelog::{consolidate, Change};
    pub use crate::checkpoint::{CheckpointConfig, ControlRequest, ControlResponse, JobControl, RestoreFrom};
    pub use crate::error::{Error, Result};
    pub use crate::job::{Env, Job, JobConfig, JobSummary, RecordOrder, StopHandle};
    pub use crate::operators::basic::Route;
    pub use crate::operators::broadcast::{
        BroadcastConnectedStream, BroadcastContext, BroadcastProcessFunction, BroadcastState,
        BroadcastStream, KeyedBroadcastConnectedStream, KeyedBroadcastContext, KeyedBroadcastProcessFunction,
        KeyedReadOnlyContext, KeyedStateView, MapStateDescriptor, ReadOnlyContext,
    };
    pub use crate::operators::co_process::{ConnectedStreams, KeyedConnectedStreams};
    pub use crate::operators::dedup::{CountDistinct, CountDistinctBy};
    pub use crate::operators::iterate::{IterateOptions, LoopContext, LoopFunction};
    pub use crate::operators::join::{
        IntervalJoin, IntervalJoined, JoinContext, JoinWhere, JoinedStreams, KeyedJoinedStreams,
        ProcessJoinFunction, WindowJoin,
    };
    pub use crate::operators::keyed::KeyedStream;
    pub use crate::operators::process::{Context, Key, KeyedCoProcessFunction, KeyedProcessFunction};
    pub use crate::operators::temporal::TemporalJoin;
    pub use crate::record::Data;
    pub use crate::side_output::OutputTag;
    pub use crate::sink::{Committable, Committer, DataStreamSink, Sink, SinkContext, SinkWriter};
    pub use crate::source::{
        DeadLetter, ReadStatus, Source, SplitContext, SplitOutput, SplitReader, DEAD_LETTERS,
    };
    pub use crate::state::{
        AggregateFunction, AggregatingState, KeyedStateAccess, ListState, MapState, OpenContext,
        ReducingState, StateDescriptor, StateTtlConfig, StateValue, ValueState,
    };
    pub use crate::stream::DataStream;
    pub use crate::time::{Clock, ManualClock, SystemClock};
    pub use crate::timers::TimeDomain;
    pub use crate::watermark::{WatermarkGenerator, WatermarkStrategy};
    pub use crate::window::{
        ContinuousEventTimeTrigger, ContinuousProcessingTimeTrigger, CountEvictor, CountTrigger,
        DeltaEvictor, EndOfStreamTrigger, EventTimeSessionWindows, EventTimeTrigger, Evictor, GlobalWindows,
        NeverTrigger, ProcessWindowFunction, ProcessingTimeSessionWindows, ProcessingTimeTrigger,
        PurgingTrigger, SlidingEventTimeWindows, SlidingProcessingTimeWindows, TimeEvictor, Trigger,
        TriggerContext, TriggerResult, TriggerState, TumblingEventTimeWindows, TumblingProcessingTimeWindows,
        Window, WindowAssigner, WindowContext, WindowedStream,
    };
}
