//! Shared code of eddy's example jobs: command-line flags every checkpointed job accepts, and
//! the jobs that tests drive as child processes.

pub mod checkpointed;
pub mod cli;
