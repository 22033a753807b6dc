//! In-memory sources and sinks: collections, generators and a collect sink, for tests, demos
//! and benchmarks.

use std::sync::{Arc, Mutex};

use eddy_core::error::Result;
use eddy_core::sink::{Sink, SinkContext, SinkWriter};
use eddy_core::source::{ReadStatus, Source, SplitContext, SplitOutput, SplitReader};

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
/// split, or unbounded (until the job is stopped).
pub struct GeneratorSource<T> {
    splits: usize,
    count: Option<u64>,
    generate: Arc<dyn Fn(usize, u64) -> T + Send + Sync>,
}

impl<T> GeneratorSource<T> {
    /// An unbounded generator over `splits` splits.
    pub fn new(splits: usize, generate: impl Fn(usize, u64) -> T + Send + Sync + 'static) -> Self {
        GeneratorSource { splits, count: None, generate: Arc::new(generate) }
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
        let end = self.count.map_or(u64::MAX, |count| count.min(self.next + max_records as u64));
        let end = end.min(self.next + max_records as u64);
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
}

impl<T: 'static> Source<T> for GeneratorSource<T> {
    fn name(&self) -> String {
        "generator".into()
    }

    fn splits(&self, context: &SplitContext) -> Result<Vec<Box<dyn SplitReader<T>>>> {
        Ok((0..self.splits)
            .filter(|split| split % context.workers == context.worker_index)
            .map(|split| {
                Box::new(GeneratorReader {
                    id: format!("generator-{split}"),
                    split,
                    next: 0,
                    count: self.count,
                    generate: Arc::clone(&self.generate),
                }) as Box<dyn SplitReader<T>>
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
