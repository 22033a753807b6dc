//! Shared code of eddy's example jobs: the jobs that tests drive as child processes. The
//! command-line flags every job accepts are `eddy::cli::RunArgs`.

pub mod checkpointed;
pub mod kafka;
