//! Runtime handles: what every worker and operator of a process shares ([`JobShared`]: stop,
//! failure, counters, the checkpoint control plane), the per-worker build environment
//! ([`Env`]), the handles an operator keeps at run time ([`Runtime`]), and operator uids
//! ([`UidSlot`]).
//!
//! This module sits below streams, operators, sources, sinks and the checkpoint coordinator,
//! all of which use it; it uses none of them.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use timely::dataflow::Scope;

use crate::checkpoint::control::Control;
use crate::error::Error;
use crate::metrics::JobMetrics;
use crate::time::Clock;

thread_local! {
    /// The global index of the worker running on this thread (for error reports).
    static WORKER: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Marks this thread as worker `index`'s.
pub(crate) fn set_worker_thread(index: usize) {
    WORKER.with(|worker| worker.set(Some(index)));
}

/// In which order keyed operators apply the records of one logical time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RecordOrder {
    /// Wait until the frontier has passed a logical time, then apply its records per key in
    /// order of (event time, input, origin tag). Results are identical at any worker count and
    /// in any thread interleaving, at the cost of one watermark step of latency.
    #[default]
    Deterministic,
    /// Apply records as soon as their logical time is at the frontier, in arrival order (as
    /// Flink does). Lower latency; order-sensitive functions may then see records of one
    /// logical time in a different order from run to run when they come from several workers.
    Arrival,
}

/// State shared by all workers of one process.
pub(crate) struct JobShared {
    pub(crate) stop: AtomicBool,
    failed: AtomicBool,
    halted: AtomicBool,
    /// The checkpoint control plane, when the job checkpoints.
    pub(crate) checkpoints: OnceLock<Arc<Control>>,
    error: Mutex<Option<Error>>,
    pub(crate) records_read: AtomicU64,
    pub(crate) dead_letters: AtomicU64,
    /// Records handed to sinks.
    pub(crate) records_out: AtomicU64,
    /// The job's figures, when the job serves metrics.
    pub(crate) metrics: OnceLock<Arc<JobMetrics>>,
    /// The watermark of every source instance of this process (for progress logs).
    pub(crate) source_watermarks: AlignmentGroup,
    alignment_groups: Mutex<crate::hash::HashMap<String, Arc<AlignmentGroup>>>,
}

/// The watermarks of the source instances of one alignment group in this process.
#[derive(Default)]
pub(crate) struct AlignmentGroup {
    watermarks: Mutex<Vec<u64>>,
}

impl AlignmentGroup {
    /// Adds a member starting at watermark 0; returns its index.
    pub(crate) fn join(&self) -> usize {
        let mut watermarks = self.watermarks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        watermarks.push(0);
        watermarks.len() - 1
    }

    /// The group's minimum (`u64::MAX` when it has no members or all have ended).
    pub(crate) fn minimum(&self) -> u64 {
        let watermarks = self.watermarks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        watermarks.iter().copied().min().unwrap_or(u64::MAX)
    }

    /// Publishes a member's watermark (`u64::MAX` once it has ended) and returns the group's
    /// minimum.
    pub(crate) fn publish(&self, member: usize, watermark: u64) -> u64 {
        let mut watermarks = self.watermarks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        watermarks[member] = watermark;
        watermarks.iter().copied().min().unwrap_or(u64::MAX)
    }
}

impl JobShared {
    pub(crate) fn new() -> Self {
        JobShared {
            stop: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            halted: AtomicBool::new(false),
            checkpoints: OnceLock::new(),
            error: Mutex::new(None),
            records_read: AtomicU64::new(0),
            dead_letters: AtomicU64::new(0),
            records_out: AtomicU64::new(0),
            metrics: OnceLock::new(),
            source_watermarks: AlignmentGroup::default(),
            alignment_groups: Mutex::default(),
        }
    }

    /// Records the job's first error; all workers stop at their next step.
    pub(crate) fn fail(&self, error: Error) {
        let mut slot = self.error.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if slot.is_none() {
            if let Some(metrics) = self.metrics.get() {
                metrics.report_error(error.to_string(), WORKER.with(Cell::get));
            }
            *slot = Some(error);
        }
        self.failed.store(true, Ordering::SeqCst);
    }

    /// The alignment group `name`, created on first use.
    pub(crate) fn alignment_group(&self, name: &str) -> Arc<AlignmentGroup> {
        let mut groups = self.alignment_groups.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        Arc::clone(groups.entry(name.to_owned()).or_default())
    }

    pub(crate) fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// Stops every worker at its next step without draining (after stop-with-savepoint).
    pub(crate) fn halt(&self) {
        self.halted.store(true, Ordering::SeqCst);
    }

    pub(crate) fn halted(&self) -> bool {
        self.halted.load(Ordering::Relaxed)
    }

    /// Whether sources were asked to end (a drain: pending timers still fire).
    pub(crate) fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    pub(crate) fn take_error(&self) -> Option<Error> {
        self.error.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take()
    }
}

/// The environment in which one worker builds its part of the dataflow. Clones share the
/// worker's state (uids, ids): a library keeps one to build with later, as the SQL layer's
/// table environment does.
#[derive(Clone)]
pub struct Env<'scope> {
    pub(crate) scope: Scope<'scope, u64>,
    pub(crate) shared: Arc<JobShared>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) ids: Rc<Cell<u64>>,
    pub(crate) record_order: RecordOrder,
    pub(crate) uids: Rc<RefCell<Vec<Rc<UidSlot>>>>,
}

impl<'scope> Env<'scope> {
    /// This worker's index, from 0.
    pub fn worker_index(&self) -> usize {
        self.scope.index()
    }

    /// The number of workers in the job.
    pub fn workers(&self) -> usize {
        self.scope.peers()
    }

    /// The job's processing-time clock.
    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.clock)
    }
}

/// Handles an operator needs at run time, cloned out of the [`Env`].
#[derive(Clone)]
pub(crate) struct Runtime {
    pub(crate) shared: Arc<JobShared>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) record_order: RecordOrder,
}

impl Env<'_> {
    pub(crate) fn runtime(&self) -> Runtime {
        Runtime {
            shared: Arc::clone(&self.shared),
            clock: Arc::clone(&self.clock),
            record_order: self.record_order,
        }
    }
}

/// The uid of a stateful operator: what its state is stored under in checkpoints and
/// savepoints. Set with [`DataStream::uid`]; read when the operator first runs.
pub(crate) struct UidSlot {
    pub(crate) generated: String,
    pub(crate) user: RefCell<Option<String>>,
    /// The timely address of the operator it names (for the metrics' job graph).
    pub(crate) address: RefCell<Vec<usize>>,
}

impl UidSlot {
    pub(crate) fn set(&self, uid: &str) {
        *self.user.borrow_mut() = Some(uid.to_owned());
    }

    pub(crate) fn get(&self) -> String {
        self.user.borrow().clone().unwrap_or_else(|| self.generated.clone())
    }

    /// Records the address of the operator built for this uid.
    pub(crate) fn bind(&self, address: &[usize]) {
        *self.address.borrow_mut() = address.to_vec();
    }
}
