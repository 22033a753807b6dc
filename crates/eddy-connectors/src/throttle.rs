//! Rate limiting for any split reader, on the job's (injectable) clock.

use std::sync::Arc;

use eddy_core::error::Result;
use eddy_core::source::{ReadStatus, SplitOutput, SplitReader};
use eddy_core::time::Clock;

/// Wraps a reader so it hands out at most `per_second` records per second of the clock: the
/// `n`-th record after the first read is due `n / per_second` seconds after it. Positions are
/// the inner reader's; after a restore the pace restarts from the first read.
pub struct Throttled<T> {
    inner: Box<dyn SplitReader<T>>,
    per_second: u64,
    clock: Arc<dyn Clock>,
    /// Clock time and records handed out at the first read.
    started: Option<(u64, u64)>,
    emitted: u64,
}

impl<T> Throttled<T> {
    /// Limits `inner` to `per_second` records per second (at least 1).
    pub fn new(inner: Box<dyn SplitReader<T>>, per_second: u64, clock: Arc<dyn Clock>) -> Self {
        Throttled { inner, per_second: per_second.max(1), clock, started: None, emitted: 0 }
    }
}

impl<T> SplitReader<T> for Throttled<T> {
    fn split_id(&self) -> &str {
        self.inner.split_id()
    }

    fn read(&mut self, output: &mut SplitOutput<T>, max_records: usize) -> Result<ReadStatus> {
        let now = self.clock.now_ms();
        let (start, first) = *self.started.get_or_insert((now, self.emitted));
        let due = first + (now.saturating_sub(start) as u128 * self.per_second as u128 / 1000) as u64 + 1;
        let allowed = due.saturating_sub(self.emitted).min(max_records as u64) as usize;
        if allowed == 0 {
            return Ok(ReadStatus::Pending);
        }
        let before = output.len();
        let status = self.inner.read(output, allowed)?;
        let read = output.len() - before;
        self.emitted += read as u64;
        Ok(match status {
            // The pace, not the input, stopped this read: come back when the next is due.
            ReadStatus::More if read >= allowed && allowed < max_records => ReadStatus::Pending,
            status => status,
        })
    }

    fn snapshot_position(&self) -> Result<Option<serde_json::Value>> {
        self.inner.snapshot_position()
    }

    fn restore_position(&mut self, position: serde_json::Value) -> Result<()> {
        self.inner.restore_position(position)
    }
}
