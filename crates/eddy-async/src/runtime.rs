//! The job-owned tokio runtime: one multi-threaded runtime per process, created on first use
//! and shared by every async operator instance of every worker (and every job) in the
//! process, instead of one runtime per operator instance.
//!
//! Futures run on its threads; results go back to the timely worker through a channel and a
//! `SyncActivator`. Timers and the I/O driver (tokio's `net` types) are enabled. Its threads
//! are few (the requests are I/O-bound): two, or
//! `EDDY_ASYNC_THREADS` when set.

use std::sync::{Arc, OnceLock};

use tokio::runtime::{Builder, Runtime};

static RUNTIME: OnceLock<Arc<Runtime>> = OnceLock::new();

/// The process's async runtime, created on first call.
///
/// # Panics
/// If `EDDY_ASYNC_THREADS` is not a positive number, or the operating system refuses to
/// start threads.
pub fn job_runtime() -> Arc<Runtime> {
    Arc::clone(RUNTIME.get_or_init(|| {
        let threads = match std::env::var("EDDY_ASYNC_THREADS") {
            Ok(value) => value
                .parse::<usize>()
                .ok()
                .filter(|&threads| threads > 0)
                .unwrap_or_else(|| panic!("EDDY_ASYNC_THREADS=`{value}` is not a positive number")),
            Err(_) => 2,
        };
        Arc::new(
            Builder::new_multi_thread()
                .worker_threads(threads)
                .thread_name("eddy-async")
                .enable_all()
                .build()
                .expect("the async runtime starts"),
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_runtime_per_process() {
        assert!(Arc::ptr_eq(&job_runtime(), &job_runtime()));
    }
}
