//! Running the jobs of SQL statements: a bounded query whose rows come back, an unbounded one
//! whose changes are printed as they come, and `INSERT INTO` statements as one job.
//!
//! Ctrl-C stops the running job cleanly (its sources end, its sinks finish), not `eddy sql`:
//! the shell goes back to its prompt. One handler serves every job of the process, since a
//! process can install only one; a second Ctrl-C while the same job drains exits at once. With
//! no job running, Ctrl-C exits a script ([`Interrupts::ExitWhenIdle`]) and is left to the
//! shell's line editor otherwise.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use eddy_core::error::{Error, Result};
use eddy_core::prelude::{Env, Job, JobConfig, JobSummary, Sink, SinkContext, SinkWriter, StopHandle};
use eddy_sql::changelog::RowChange;
use eddy_sql::oracle::compare_rows;
use eddy_sql::pipeline::{final_rows, Output, SqlPipeline};
use eddy_sql::session::{combine, SqlJob};
use eddy_sql::Row;

/// What Ctrl-C does while no job runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interrupts {
    /// Exit with status 130 (`eddy sql -f`).
    ExitWhenIdle,
    /// Nothing: the interactive shell's line editor reads Ctrl-C as a key.
    IgnoreWhenIdle,
}

/// The job Ctrl-C stops, and whether it was pressed for it already.
static RUNNING: Mutex<Option<(StopHandle, bool)>> = Mutex::new(None);
static EXIT_WHEN_IDLE: AtomicBool = AtomicBool::new(false);
static INSTALL: Once = Once::new();

/// Installs the process's Ctrl-C handler (once; later calls only change `idle`).
pub fn install_interrupt_handler(idle: Interrupts) {
    EXIT_WHEN_IDLE.store(idle == Interrupts::ExitWhenIdle, Ordering::SeqCst);
    INSTALL.call_once(|| {
        let installed = ctrlc::set_handler(|| {
            let mut running = RUNNING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            match running.as_mut() {
                Some((_, true)) => {
                    eprintln!("eddy sql: second interrupt, exiting now");
                    std::process::exit(130);
                }
                Some((stop, pressed)) => {
                    *pressed = true;
                    eprintln!("eddy sql: interrupt: stopping the job (Ctrl-C again to exit now)");
                    stop.stop();
                }
                None if EXIT_WHEN_IDLE.load(Ordering::SeqCst) => std::process::exit(130),
                None => {}
            }
        });
        if let Err(error) = installed {
            eprintln!("eddy sql: cannot handle Ctrl-C ({error}); it will end eddy sql");
        }
    });
}

/// The running job, registered for Ctrl-C while it lives.
struct Registration;

impl Registration {
    fn new(stop: StopHandle) -> Registration {
        *RUNNING.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some((stop, false));
        Registration
    }

    /// Whether Ctrl-C stopped the job.
    fn interrupted(&self) -> bool {
        RUNNING
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .as_ref()
            .is_some_and(|(_, pressed)| *pressed)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        *RUNNING.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
    }
}

/// How a job ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finished {
    /// What the job reports.
    pub summary: JobSummary,
    /// Whether Ctrl-C stopped it before its input ended.
    pub interrupted: bool,
}

/// Runs `pipeline` as a job in `config`, stoppable with Ctrl-C.
fn run_pipeline(pipeline: SqlPipeline, config: JobConfig) -> Result<Finished> {
    pipeline.check()?;
    let job = Job::new(config);
    let registration = Registration::new(job.stop_handle());
    let summary = job.run(move |env: &mut Env<'_>| pipeline.build(env).map(|_| ()))?;
    Ok(Finished { summary, interrupted: registration.interrupted() })
}

/// Runs `INSERT INTO` jobs as one job (Flink's statement set): their sources read once, their
/// queries share arrangements.
pub fn run_inserts(jobs: &[SqlJob], config: JobConfig) -> Result<Finished> {
    run_pipeline(combine(jobs)?, config)
}

/// Runs a query job to its end and returns its final rows (the changelog folded into a
/// table), sorted by the query's `ORDER BY` if it has one, and whether Ctrl-C cut it short.
pub fn collect_query(job: &SqlJob, config: JobConfig) -> Result<(Vec<Row>, bool)> {
    let collected = Arc::new(Mutex::new(Vec::new()));
    let mut pipeline = job.pipeline.clone();
    for insert in &mut pipeline.inserts {
        insert.output = Output::Collect(Arc::clone(&collected));
    }
    let order = pipeline.inserts.first().map(|insert| insert.query.order.clone()).unwrap_or_default();
    let finished = run_pipeline(pipeline, config)?;
    let changes = collected.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
    let mut rows = final_rows(&changes)?;
    if !order.is_empty() {
        rows.sort_by(|a, b| compare_rows(a, b, &order));
    }
    Ok((rows, finished.interrupted))
}

/// Runs a query job and writes each change of its result to `out` as it comes (`+I[...]`),
/// until its input ends or Ctrl-C stops it. If `out` fails (a closed pipe), the job is
/// stopped and the error returned.
pub fn stream_query(job: &SqlJob, config: JobConfig, out: &mut dyn Write) -> Result<Finished> {
    let (sender, receiver) = mpsc::channel();
    let mut pipeline = job.pipeline.clone();
    for insert in &mut pipeline.inserts {
        insert.output = Output::Stream;
    }
    pipeline.check()?;
    let job = Job::new(config);
    let stop = job.stop_handle();
    let registration = Registration::new(job.stop_handle());
    let sink = ChannelSink { sender };
    let worker = std::thread::Builder::new()
        .name("eddy-sql-query".into())
        .spawn(move || {
            job.run(move |env: &mut Env<'_>| {
                for changes in pipeline.build(env)? {
                    changes.sink(sink.clone());
                }
                Ok(())
            })
        })
        .map_err(|error| Error::io("starting the query's thread", error))?;
    let mut write_error = None;
    loop {
        match receiver.recv_timeout(Duration::from_millis(50)) {
            Ok(change) => {
                if write_error.is_none() {
                    if let Err(error) =
                        crate::sql::print::write_change(out, &change).and_then(|()| out.flush())
                    {
                        write_error = Some(error);
                        stop.stop();
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) if !worker.is_finished() => {}
            // The job is over (every sender is gone, or its thread ended): drain what is left.
            Err(_) => {
                for change in receiver.try_iter() {
                    if write_error.is_none() {
                        write_error = crate::sql::print::write_change(out, &change).err();
                    }
                }
                break;
            }
        }
    }
    let summary = worker.join().map_err(|_| Error::Internal("the query's thread panicked".into()))??;
    if let Some(error) = write_error {
        return Err(Error::io("writing the query's changes", error));
    }
    let _ = out.flush();
    Ok(Finished { summary, interrupted: registration.interrupted() })
}

/// Sends every worker's changes to the thread that prints them.
#[derive(Clone)]
struct ChannelSink {
    sender: mpsc::Sender<RowChange>,
}

struct ChannelWriter {
    sender: mpsc::Sender<RowChange>,
}

impl Sink<RowChange> for ChannelSink {
    fn name(&self) -> String {
        "sql-client".into()
    }

    fn writer(&self, _context: &SinkContext) -> Result<Box<dyn SinkWriter<RowChange>>> {
        Ok(Box::new(ChannelWriter { sender: self.sender.clone() }))
    }
}

impl SinkWriter<RowChange> for ChannelWriter {
    fn write(&mut self, change: RowChange, _timestamp: u64, _logical_time: u64) -> Result<()> {
        // The printing side only goes away once the job is over.
        let _ = self.sender.send(change);
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}
