//! `eddy savepoint`, `eddy stop --savepoint` and `eddy status`: clients of a running job's
//! control socket, `<checkpoint-dir>/control.sock` (for checkpoints on an object store, in the
//! local directory `eddy_core::checkpoint::storage::local_dir` names).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use eddy_core::checkpoint::storage::{local_dir, local_path};
use eddy_core::checkpoint::{send_request, ControlRequest, ControlResponse, CONTROL_SOCKET};
use eddy_core::error::Error;

use crate::Failure;

/// The savepoint target as the job will see it: the job may run in another directory. An
/// object store URL (`s3://...`) is the same everywhere.
pub(crate) fn absolute(path: &Path) -> Result<PathBuf, Failure> {
    let Some(local) = local_path(path) else {
        return Ok(path.to_owned());
    };
    std::path::absolute(&local).map_err(|error| Failure::Message(format!("{}: {error}", local.display())))
}

pub(crate) fn savepoint(
    dir: &Path,
    target: Option<PathBuf>,
    stop: bool,
    timeout: Duration,
) -> Result<(), Failure> {
    let response = request(dir, &ControlRequest::Savepoint { target, stop }, timeout)?;
    let path = response
        .path
        .ok_or_else(|| "the job reported the savepoint complete without naming its path".to_string())?;
    writeln!(io::stdout().lock(), "{}", path.display())?;
    Ok(())
}

/// Sends a request to the job with checkpoint directory `dir`; a refusal is an error.
fn request(dir: &Path, request: &ControlRequest, timeout: Duration) -> Result<ControlResponse, Failure> {
    let socket = local_dir(dir).join(CONTROL_SOCKET);
    let response = send_request(dir, request, timeout).map_err(|error| match &error {
        Error::Io { cause, .. } => match cause.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
                format!("{error} (is a job running with checkpoint directory {}?)", dir.display())
            }
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => format!(
                "no answer on {} within {timeout:?} (raise --timeout{})",
                socket.display(),
                match request {
                    ControlRequest::Savepoint { .. } => "; the savepoint may still complete",
                    ControlRequest::Status => "",
                }
            ),
            _ => error.to_string(),
        },
        _ => error.to_string(),
    })?;
    if !response.ok {
        let reason = response.error.unwrap_or_else(|| "no reason given".into());
        let what = match request {
            ControlRequest::Savepoint { stop: true, .. } => "stop with savepoint",
            ControlRequest::Savepoint { .. } => "savepoint",
            ControlRequest::Status => "status",
        };
        return Err(Failure::Message(format!("{what} failed: {reason}")));
    }
    Ok(response)
}

/// Prints the last checkpoint the job with checkpoint directory `dir` completed.
pub(crate) fn status(dir: &Path, timeout: Duration) -> Result<(), Failure> {
    let response = request(dir, &ControlRequest::Status, timeout)?;
    let mut out = io::stdout().lock();
    match response.path {
        Some(path) => writeln!(out, "{}", path.display())?,
        None => writeln!(out, "no checkpoint completed yet")?,
    }
    Ok(())
}

/// Prints the REST overview of the job serving metrics on `addr`.
pub(crate) fn status_rest(addr: &str, timeout: Duration) -> Result<(), Failure> {
    let get = |path| eddy_observe::client::get_json(addr, path, timeout).map_err(|error| error.to_string());
    let (overview, operators) = (get("/jobs/current")?, get("/jobs/current/operators")?);
    write!(io::stdout().lock(), "{}", eddy_observe::client::status_text(&overview, &operators))?;
    Ok(())
}
