//! eddy's command line: the flags every job accepts, the supervisor of multi-process jobs, and
//! the `eddy` tool built on them.
//!
//! # Crate map
//!
//! * [`args`]: `RunArgs`, the `--workers`, cluster and checkpoint flags every job flattens into
//!   its own clap parser, and their conversion to an `eddy_core::job::JobConfig`. The facade
//!   re-exports it as `eddy::cli`.
//! * [`supervisor`]: `eddy run` as a library: start every process of a job on this machine,
//!   per-process logs, a progress summary, restart the whole job from its latest checkpoint
//!   with back-off and a budget, chaos kills. Re-exported as `eddy::supervisor`.
//! * [`sql`] (feature `sql`, on by default): `eddy sql`, the SQL shell and script runner:
//!   splitting statements, `SET` options, running statements' jobs, printing results.
//! * `src/bin/eddy/`: the `eddy` binary. `main.rs` holds the clap definition and dispatch;
//!   `control.rs` the clients of a running job's control socket (`savepoint`, `stop`,
//!   `status`); `inspect.rs` verifies and prints checkpoints (`inspect`). `eddy kafka
//!   produce|consume` needs the `kafka` feature (on by default).
//!
//! * [`slurm`]: the cluster of an `srun` step (process index, count and peers from the
//!   `SLURM_*` environment), which `ClusterArgs::config` uses when no cluster flag is given.
//! * [`register_storages`]: makes `s3://` checkpoint paths work (feature `s3`, on by
//!   default), called by `RunArgs::job_config` and the binary.
//!
//! Architecture invariant: the command line is a client of the runtime. It reads checkpoints
//! only through `eddy_core::checkpoint`; the supervisor only starts, watches and restarts
//! processes and never reads more of a checkpoint than whether one is complete. Nothing here
//! depends on the `eddy` facade, and the library never needs Kafka.

pub mod args;
pub mod slurm;

/// Registers the checkpoint storages this build has with `eddy_core::checkpoint::storage`:
/// `s3://` with the feature `s3`. Idempotent; without a storage, an `s3://` path is refused
/// with an error saying what is missing.
pub fn register_storages() {
    #[cfg(feature = "s3")]
    eddy_objectstore::register();
}
#[cfg(feature = "sql")]
pub mod sql;
pub mod supervisor;
