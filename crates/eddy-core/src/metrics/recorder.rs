//! The worker side of the metrics: a consumer of timely's event log that sums what operators
//! did in worker-local counters and publishes a copy into the worker's slot now and then.
//!
//! Timely logs one event per message (a batch of records) sent or received, with its record
//! count, and one per operator schedule; it buffers them and hands them over in containers on
//! the worker's own thread. Nothing here runs per record, and the slot's lock is taken at most
//! every [`PUBLISH_EVERY_MS`](super::PUBLISH_EVERY_MS) and once when the worker ends.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use timely::logging::{StartStop, TimelyEvent, TimelyEventBuilder};

use super::{ChannelFigures, OperatorFigures, WorkerFigures, PUBLISH_EVERY_MS};
use crate::hash::HashMap;

/// A channel's endpoints as timely names them, resolved to operator addresses on publish.
struct Channel {
    scope: Vec<usize>,
    source: (usize, usize),
    target: (usize, usize),
    sent: u64,
    received: u64,
    /// Records sent to other workers.
    exchanged: u64,
}

struct Recorder {
    slot: Arc<Mutex<WorkerFigures>>,
    worker: usize,
    operators: Vec<OperatorFigures>,
    /// Timely's worker-unique operator id to the index in `operators`.
    by_id: HashMap<usize, usize>,
    channels: HashMap<usize, Channel>,
    /// Operators scheduled and not yet stopped, with the start time.
    running: HashMap<usize, Duration>,
    last_publish: Option<Duration>,
}

/// Feeds worker `worker`'s timely events into `slot`. Call before the worker builds a dataflow.
pub(crate) fn install(worker: &mut timely::worker::Worker, slot: Arc<Mutex<WorkerFigures>>) {
    let index = worker.index();
    let mut recorder = Recorder {
        slot,
        worker: index,
        operators: Vec::new(),
        by_id: HashMap::default(),
        channels: HashMap::default(),
        running: HashMap::default(),
        last_publish: None,
    };
    if let Some(mut registry) = worker.log_register() {
        registry.insert::<TimelyEventBuilder, _>("timely", move |time, events| match events {
            Some(events) => recorder.handle(events),
            None => recorder.flushed(*time),
        });
    }
}

impl Recorder {
    fn handle(&mut self, events: &[(Duration, TimelyEvent)]) {
        for (time, event) in events {
            match event {
                TimelyEvent::Messages(message) => {
                    let Some(channel) = self.channels.get_mut(&message.channel) else { continue };
                    let count = message.record_count.max(0) as u64;
                    if message.is_send {
                        channel.sent += count;
                        if message.source != message.target {
                            channel.exchanged += count;
                        }
                    } else {
                        channel.received += count;
                    }
                }
                TimelyEvent::Schedule(schedule) => match schedule.start_stop {
                    StartStop::Start => {
                        self.running.insert(schedule.id, *time);
                    }
                    StartStop::Stop => {
                        let started = self.running.remove(&schedule.id);
                        if let (Some(started), Some(&index)) = (started, self.by_id.get(&schedule.id)) {
                            let operator = &mut self.operators[index];
                            operator.busy_ns += time.saturating_sub(started).as_nanos() as u64;
                            operator.activations += 1;
                        }
                    }
                },
                TimelyEvent::Operates(operates) => {
                    self.by_id.insert(operates.id, self.operators.len());
                    self.operators.push(OperatorFigures {
                        addr: operates.addr.clone(),
                        name: operates.name.clone(),
                        ..OperatorFigures::default()
                    });
                }
                TimelyEvent::Channels(channel) => {
                    self.channels.insert(
                        channel.id,
                        Channel {
                            scope: channel.scope_addr.clone(),
                            source: channel.source,
                            target: channel.target,
                            sent: 0,
                            received: 0,
                            exchanged: 0,
                        },
                    );
                }
                _ => {}
            }
        }
    }

    /// Timely flushed its log (after each step, and when the worker ends).
    fn flushed(&mut self, time: Duration) {
        let due = self
            .last_publish
            .is_none_or(|last| time.saturating_sub(last) >= Duration::from_millis(PUBLISH_EVERY_MS));
        if due {
            self.last_publish = Some(time);
            self.publish();
        }
    }

    fn publish(&mut self) {
        let mut operators = self.operators.clone();
        let index_of: HashMap<Vec<usize>, usize> =
            operators.iter().enumerate().map(|(index, operator)| (operator.addr.clone(), index)).collect();
        // Records out: per output port, the most any one consumer received (a stream read by
        // two operators sends every record twice).
        let mut out_ports: HashMap<(usize, usize), u64> = HashMap::default();
        let mut channels = Vec::with_capacity(self.channels.len());
        for channel in self.channels.values() {
            let node = |node: usize| {
                let mut addr = channel.scope.clone();
                if node != 0 {
                    addr.push(node);
                }
                addr
            };
            let (source, target) = (node(channel.source.0), node(channel.target.0));
            if let Some(&index) = index_of.get(&target) {
                operators[index].records_in += channel.received;
            }
            if let Some(&index) = index_of.get(&source) {
                let port = out_ports.entry((index, channel.source.1)).or_default();
                *port = (*port).max(channel.sent);
            }
            channels.push(ChannelFigures {
                source,
                source_port: channel.source.1,
                target,
                target_port: channel.target.1,
                records: channel.received,
                crossed: channel.exchanged > 0,
            });
        }
        for ((index, _), sent) in out_ports {
            operators[index].records_out += sent;
        }
        for channel in self.channels.values().filter(|channel| channel.exchanged > 0) {
            let mut source = channel.scope.clone();
            source.push(channel.source.0);
            if let Some(&index) = index_of.get(&source) {
                operators[index].records_exchanged += channel.exchanged;
            }
        }
        let unfinished = self
            .running
            .keys()
            .filter_map(|id| self.by_id.get(id))
            .map(|&index| self.operators[index].addr.clone())
            .filter(|addr| addr.len() > 1)
            .max_by_key(Vec::len);
        let mut slot = self.slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *slot = WorkerFigures { worker: self.worker, operators, channels, unfinished };
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.publish();
    }
}
