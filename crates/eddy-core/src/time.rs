//! The injected clock: the only way operators learn processing time (design.md section 3.3).
//!
//! Operators and sources never read the wall clock themselves (`clippy.toml` bans it); they ask
//! the job's [`Clock`]. Tests inject a [`ManualClock`] and so run processing-time logic
//! (idleness, processing-time timers, TTL) on virtual time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A source of processing time in milliseconds.
pub trait Clock: Send + Sync + 'static {
    /// The current processing time, in milliseconds since the Unix epoch (or any fixed origin).
    fn now_ms(&self) -> u64;

    /// How long to sleep in real time before this clock is expected to reach `target_ms`.
    /// Used to schedule processing-time timers and idleness checks.
    fn real_delay_until(&self, target_ms: u64) -> Duration;
}

/// The wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // This is the one place that reads the wall clock.
    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_millis() as u64)
            .unwrap_or(0)
    }

    fn real_delay_until(&self, target_ms: u64) -> Duration {
        Duration::from_millis(target_ms.saturating_sub(self.now_ms()))
    }
}

/// A clock that only moves when told to: for tests of processing-time behaviour.
#[derive(Clone, Debug, Default)]
pub struct ManualClock {
    now: Arc<AtomicU64>,
}

impl ManualClock {
    /// A manual clock reading `start_ms`.
    pub fn new(start_ms: u64) -> Self {
        ManualClock { now: Arc::new(AtomicU64::new(start_ms)) }
    }

    /// Sets the time; time never moves backwards, so earlier values are ignored.
    pub fn set(&self, now_ms: u64) {
        self.now.fetch_max(now_ms, Ordering::SeqCst);
    }

    /// Moves the time forward by `delta_ms`.
    pub fn advance(&self, delta_ms: u64) {
        self.now.fetch_add(delta_ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }

    fn real_delay_until(&self, _target_ms: u64) -> Duration {
        // Virtual time moves under the control of the test: poll it often.
        Duration::from_millis(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_never_goes_back() {
        let clock = ManualClock::new(100);
        clock.advance(50);
        assert_eq!(clock.now_ms(), 150);
        clock.set(120);
        assert_eq!(clock.now_ms(), 150);
        clock.set(400);
        assert_eq!(clock.now_ms(), 400);
    }
}
