//! In-memory sources and sinks: collections, generators and a collect sink, for tests, demos
//! and benchmarks.

use std::sync::{Arc, Mutex};

use eddy_core::error::{Error, Result};
use eddy_core::sink::{Sink, SinkContext, SinkWriter};
use eddy_core::source::{ReadStatus, Source, SplitContext, SplitOutput, SplitReader};

use crate::throttle::Throttled;

/// A bounded source over in-memory partitions. Each partition is one split; split `i` is read
/// by worker `i % workers`, so what each split contains, and hence event-time lateness, does
/// not depend on the number of workers.
#[derive(Clone, Debug)]
pub struct CollectionSource<T> {
    partitions: Vec<Vec<T>>,
}

impl<T: Clone + 'static> CollectionSource<T> {
    /// One split holding all values, in order.
    pub fn new(values: impl IntoIterator<Item = T>) -> Self {
        CollectionSource { partitions: vec![values.into_iter().collect()] }
    }

    /// One split per partition.
    pub fn from_partitions(partitions: Vec<Vec<T>>) -> Self {
        CollectionSource { partitions }
    }
}

struct VecReader<T> {
    id: String,
    values: std::vec::IntoIter<T>,
    position: u64,
}

impl<T> SplitReader<T> for VecReader<T> {
    fn split_id(&self) -> &str {
        &self.id
    }

    fn read(&mut self, output: &mut SplitOutput<T>, max_records: usize) -> Result<ReadStatus> {
        for value in self.values.by_ref().take(max_records) {
            output.push(self.position, value);
            self.position += 1;
        }
        Ok(if self.values.len() == 0 { ReadStatus::Finished } else { ReadStatus::More })
    }

    fn snapshot_position(&self) -> Result<Option<serde_json::Value>> {
        Ok(Some(self.position.into()))
    }

    fn restore_position(&mut self, position: serde_json::Value) -> Result<()> {
        let skip = index_position(&self.id, &position)?;
        for _ in self.values.by_ref().take(skip as usize) {}
        self.position = skip;
        Ok(())
    }
}

/// A checkpointed record index.
fn index_position(split: &str, position: &serde_json::Value) -> Result<u64> {
    position
        .as_u64()
        .ok_or_else(|| Error::Checkpoint(format!("split `{split}`: bad checkpointed index {position}")))
}

impl<T: Clone + 'static> Source<T> for CollectionSource<T> {
    fn name(&self) -> String {
        "collection".into()
    }

    fn splits(&self, context: &SplitContext) -> Result<Vec<Box<dyn SplitReader<T>>>> {
        Ok(self
            .partitions
            .iter()
            .enumerate()
            .filter(|(index, _)| index % context.workers == context.worker_index)
            .map(|(index, values)| {
                Box::new(VecReader {
                    id: format!("partition-{index}"),
                    values: values.clone().into_iter(),
                    position: 0,
                }) as Box<dyn SplitReader<T>>
            })
            .collect())
    }
}

/// A source computing record `n` of split `s` as `generate(s, n)`: bounded with a count per
/// split, or unbounded (until the job is stopped); as fast as it can, or paced to a rate on
/// the job's clock.
pub struct GeneratorSource<T> {
    splits: usize,
    count: Option<u64>,
    per_second: Option<u64>,
    generate: Arc<dyn Fn(usize, u64) -> T + Send + Sync>,
}

impl<T> GeneratorSource<T> {
    /// An unbounded generator over `splits` splits.
    pub fn new(splits: usize, generate: impl Fn(usize, u64) -> T + Send + Sync + 'static) -> Self {
        GeneratorSource { splits, count: None, per_second: None, generate: Arc::new(generate) }
    }

    /// Paces each split to `per_second` records per second of the job's clock (at least 1).
    pub fn with_rate(mut self, per_second: u64) -> Self {
        self.per_second = Some(per_second.max(1));
        self
    }

    /// Ends each split after `count` records.
    pub fn with_count(mut self, count: u64) -> Self {
        self.count = Some(count);
        self
    }
}

struct GeneratorReader<T> {
    id: String,
    split: usize,
    next: u64,
    count: Option<u64>,
    generate: Arc<dyn Fn(usize, u64) -> T + Send + Sync>,
}

impl<T> SplitReader<T> for GeneratorReader<T> {
    fn split_id(&self) -> &str {
        &self.id
    }

    fn read(&mut self, output: &mut SplitOutput<T>, max_records: usize) -> Result<ReadStatus> {
        let end = self.count.unwrap_or(u64::MAX).min(self.next.saturating_add(max_records as u64));
        while self.next < end {
            output.push(self.next, (self.generate)(self.split, self.next));
            self.next += 1;
        }
        Ok(if self.count.is_some_and(|count| self.next >= count) {
            ReadStatus::Finished
        } else {
            ReadStatus::More
        })
    }

    fn snapshot_position(&self) -> Result<Option<serde_json::Value>> {
        Ok(Some(self.next.into()))
    }

    fn restore_position(&mut self, position: serde_json::Value) -> Result<()> {
        self.next = index_position(&self.id, &position)?;
        Ok(())
    }
}

impl<T: 'static> Source<T> for GeneratorSource<T> {
    fn name(&self) -> String {
        "generator".into()
    }

    fn splits(&self, context: &SplitContext) -> Result<Vec<Box<dyn SplitReader<T>>>> {
        Ok((0..self.splits)
            .filter(|split| split % context.workers == context.worker_index)
            .map(|split| {
                let reader: Box<dyn SplitReader<T>> = Box::new(GeneratorReader {
                    id: format!("generator-{split}"),
                    split,
                    next: 0,
                    count: self.count,
                    generate: Arc::clone(&self.generate),
                });
                match self.per_second {
                    Some(rate) => Box::new(Throttled::new(reader, rate, Arc::clone(&context.clock))),
                    None => reader,
                }
            })
            .collect())
    }
}

/// Collects every record (value, event time and logical time) of all workers into shared memory. Clone it
/// into the job's build closure: every worker's clone writes to the same collection.
pub struct CollectSink<T> {
    records: Arc<Mutex<Vec<(T, u64, u64)>>>,
}

/// Reads what a [`CollectSink`] collected.
#[derive(Clone)]
pub struct CollectHandle<T> {
    records: Arc<Mutex<Vec<(T, u64, u64)>>>,
}

impl<T> Clone for CollectSink<T> {
    fn clone(&self) -> Self {
        CollectSink { records: Arc::clone(&self.records) }
    }
}

impl<T> CollectSink<T> {
    /// A sink and the handle to read its records.
    pub fn new() -> (Self, CollectHandle<T>) {
        let records = Arc::new(Mutex::new(Vec::new()));
        (CollectSink { records: Arc::clone(&records) }, CollectHandle { records })
    }
}

impl<T: Clone> CollectHandle<T> {
    /// All collected (value, event time) pairs, in arrival order.
    pub fn records(&self) -> Vec<(T, u64)> {
        self.timed_records().into_iter().map(|(value, timestamp, _)| (value, timestamp)).collect()
    }

    /// All collected (value, event time, logical time) triples, in arrival order.
    pub fn timed_records(&self) -> Vec<(T, u64, u64)> {
        self.records.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// All collected values, in arrival order.
    pub fn values(&self) -> Vec<T> {
        self.records().into_iter().map(|(value, _)| value).collect()
    }
}

/// Appends every record at once, so tests can watch an unbounded job's output as it happens.
struct CollectWriter<T> {
    records: Arc<Mutex<Vec<(T, u64, u64)>>>,
}

impl<T: Send + 'static> Sink<T> for CollectSink<T> {
    fn name(&self) -> String {
        "collect".into()
    }

    fn writer(&self, _context: &SinkContext) -> Result<Box<dyn SinkWriter<T>>> {
        Ok(Box::new(CollectWriter { records: Arc::clone(&self.records) }))
    }
}

impl<T> SinkWriter<T> for CollectWriter<T> {
    fn write(&mut self, value: T, timestamp: u64, logical_time: u64) -> Result<()> {
        self.records.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push((
            value,
            timestamp,
            logical_time,
        ));
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_core::time::ManualClock;

    #[test]
    fn paced_generator_follows_the_clock() {
        let clock = ManualClock::new(10_000);
        let context = SplitContext { worker_index: 0, workers: 1, clock: Arc::new(clock.clone()) };
        let source = GeneratorSource::new(1, |_, n| n).with_rate(10);
        let mut reader = source.splits(&context).unwrap().pop().unwrap();
        let mut output = SplitOutput::default();
        assert_eq!(reader.read(&mut output, 100).unwrap(), ReadStatus::Pending);
        assert_eq!(output.len(), 1, "record 0 is due at once");
        clock.advance(500);
        assert_eq!(reader.read(&mut output, 100).unwrap(), ReadStatus::Pending);
        assert_eq!(output.len(), 6, "five more in half a second at 10 per second");
        clock.advance(10_000);
        assert_eq!(reader.read(&mut output, 3).unwrap(), ReadStatus::More, "budget, not pace, limits now");
        assert_eq!(output.len(), 9);
    }

    #[test]
    fn bounded_generator_ends() {
        let context = SplitContext { worker_index: 1, workers: 2, clock: Arc::new(ManualClock::new(0)) };
        let source = GeneratorSource::new(3, |split, n| (split, n)).with_count(2);
        let mut readers = source.splits(&context).unwrap();
        assert_eq!(readers.len(), 1, "worker 1 of 2 reads split 1 of 3");
        let mut output = SplitOutput::default();
        assert_eq!(readers[0].read(&mut output, 100).unwrap(), ReadStatus::Finished);
        assert_eq!(output.len(), 2);
    }
}
