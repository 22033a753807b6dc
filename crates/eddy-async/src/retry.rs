//! Retries of async requests (Flink's `AsyncRetryStrategy`): how many attempts, the delay
//! between them (fixed or exponential back-off), and which failures are retried.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The error a user's async function returns.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why an attempt failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AsyncFailure {
    /// The attempt did not complete within the timeout.
    Timeout,
    /// The function returned an error (its message).
    Error(String),
}

impl fmt::Display for AsyncFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AsyncFailure::Timeout => write!(f, "timed out"),
            AsyncFailure::Error(message) => write!(f, "{message}"),
        }
    }
}

/// The delay before the next attempt.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Backoff {
    /// The same delay before every retry.
    Fixed(Duration),
    /// `initial`, then multiplied by `multiplier` after every retry, at most `max`.
    Exponential {
        /// The delay before the first retry.
        initial: Duration,
        /// The largest delay.
        max: Duration,
        /// The factor between two delays (at least 1).
        multiplier: f64,
    },
}

impl Backoff {
    /// The delay before retry number `retry` (1 for the first retry).
    pub fn delay(&self, retry: u32) -> Duration {
        match *self {
            Backoff::Fixed(delay) => delay,
            Backoff::Exponential { initial, max, multiplier } => {
                let factor = multiplier.max(1.0).powi(retry.saturating_sub(1).min(64) as i32);
                initial.mul_f64(factor.min(max.as_secs_f64() / initial.as_secs_f64().max(1e-9))).min(max)
            }
        }
    }
}

/// Which failures to retry.
pub type RetryPredicate = Arc<dyn Fn(&AsyncFailure) -> bool + Send + Sync>;

/// How a failed request is retried (Flink's `AsyncRetryStrategies`).
///
/// ```
/// use std::time::Duration;
/// use eddy_async::{AsyncFailure, AsyncRetryStrategy};
///
/// // Up to 4 attempts, 10 ms, 20 ms, 40 ms apart; errors are retried, timeouts are not.
/// let retry = AsyncRetryStrategy::exponential_backoff(4, Duration::from_millis(10), Duration::from_secs(1), 2.0)
///     .retry_if(|failure| matches!(failure, AsyncFailure::Error(_)));
/// assert_eq!(retry.max_attempts(), 4);
/// ```
#[derive(Clone)]
pub struct AsyncRetryStrategy {
    max_attempts: u32,
    backoff: Backoff,
    predicate: RetryPredicate,
}

impl fmt::Debug for AsyncRetryStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncRetryStrategy")
            .field("max_attempts", &self.max_attempts)
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

impl Default for AsyncRetryStrategy {
    fn default() -> Self {
        AsyncRetryStrategy::no_retry()
    }
}

impl AsyncRetryStrategy {
    /// One attempt, no retry (Flink's `NO_RETRY_STRATEGY`).
    pub fn no_retry() -> Self {
        AsyncRetryStrategy::fixed_delay(1, Duration::ZERO)
    }

    /// At most `max_attempts` attempts (at least 1), `delay` apart.
    pub fn fixed_delay(max_attempts: u32, delay: Duration) -> Self {
        AsyncRetryStrategy {
            max_attempts: max_attempts.max(1),
            backoff: Backoff::Fixed(delay),
            predicate: Arc::new(|_| true),
        }
    }

    /// At most `max_attempts` attempts (at least 1); the first retry after `initial`, each
    /// later one `multiplier` times longer, at most `max`.
    pub fn exponential_backoff(max_attempts: u32, initial: Duration, max: Duration, multiplier: f64) -> Self {
        AsyncRetryStrategy {
            max_attempts: max_attempts.max(1),
            backoff: Backoff::Exponential { initial, max, multiplier },
            predicate: Arc::new(|_| true),
        }
    }

    /// Retries only failures for which `predicate` holds (Flink's `ifException` and
    /// `ifResult`); by default every failure is retried.
    pub fn retry_if(mut self, predicate: impl Fn(&AsyncFailure) -> bool + Send + Sync + 'static) -> Self {
        self.predicate = Arc::new(predicate);
        self
    }

    /// The most attempts a request gets.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The back-off between attempts.
    pub fn backoff(&self) -> Backoff {
        self.backoff
    }

    /// Whether to retry after `attempt` (1-based) failed with `failure`.
    pub fn should_retry(&self, attempt: u32, failure: &AsyncFailure) -> bool {
        attempt < self.max_attempts && (self.predicate)(failure)
    }
}

/// Runs `attempt` until it succeeds, each attempt bounded by `timeout`, retrying as
/// `strategy` says; the last failure otherwise.
pub(crate) async fn with_retries<O, Fut>(
    strategy: &AsyncRetryStrategy,
    timeout: Duration,
    mut attempt: impl FnMut() -> Fut,
) -> Result<O, AsyncFailure>
where
    Fut: Future<Output = Result<O, BoxError>>,
{
    let mut number = 1;
    loop {
        let failure = match tokio::time::timeout(timeout, attempt()).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(error)) => AsyncFailure::Error(error.to_string()),
            Err(_) => AsyncFailure::Timeout,
        };
        if !strategy.should_retry(number, &failure) {
            return Err(failure);
        }
        tokio::time::sleep(strategy.backoff.delay(number)).await;
        number += 1;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[test]
    fn exponential_backoff_grows_and_is_capped() {
        let backoff = Backoff::Exponential {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(50),
            multiplier: 2.0,
        };
        let delays: Vec<u128> = (1..=5).map(|retry| backoff.delay(retry).as_millis()).collect();
        assert_eq!(delays, [10, 20, 40, 50, 50]);
        assert_eq!(Backoff::Fixed(Duration::from_millis(7)).delay(9), Duration::from_millis(7));
    }

    #[test]
    fn the_predicate_and_the_attempt_limit_decide() {
        let strategy = AsyncRetryStrategy::fixed_delay(3, Duration::ZERO)
            .retry_if(|failure| *failure == AsyncFailure::Timeout);
        assert!(strategy.should_retry(1, &AsyncFailure::Timeout));
        assert!(!strategy.should_retry(3, &AsyncFailure::Timeout), "three attempts at most");
        assert!(!strategy.should_retry(1, &AsyncFailure::Error("no".into())));
        assert!(!AsyncRetryStrategy::no_retry().should_retry(1, &AsyncFailure::Timeout));
    }

    #[test]
    fn retries_until_success_and_times_out_slow_attempts() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let attempts = AtomicU32::new(0);
        let strategy = AsyncRetryStrategy::fixed_delay(4, Duration::from_millis(1));
        let result = runtime.block_on(with_retries(&strategy, Duration::from_millis(50), || {
            let number = attempts.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                match number {
                    1 => Err::<u32, BoxError>("refused".into()),
                    2 => {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        Ok(0)
                    }
                    _ => Ok(number),
                }
            }
        }));
        assert_eq!(result, Ok(3), "an error, a timeout, then success");
        let failing = AsyncRetryStrategy::fixed_delay(2, Duration::ZERO);
        let result: Result<u32, _> =
            runtime
                .block_on(with_retries(&failing, Duration::from_millis(50), || async { Err("down".into()) }));
        assert_eq!(result, Err(AsyncFailure::Error("down".into())));
    }
}
