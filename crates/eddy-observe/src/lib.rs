//! Watching a running eddy job: one HTTP port per job process serving Prometheus metrics
//! (`/metrics`), a JSON REST API (`/jobs`, `/jobs/current/...`) and a web dashboard (`/`),
//! all read from the job's [`JobMetrics`]. `docs/rest.md` documents every endpoint.
//!
//! Start it with [`serve`] and hand the returned [`JobMetrics`] to the job's
//! `JobConfig::metrics` (the `--metrics-addr` flag of `eddy::cli::RunArgs` does both). The
//! server runs on its own threads until the process exits, so a finished bounded job can still
//! be looked at until then.

pub mod client;
pub mod prometheus;
pub mod rest;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};

use eddy_core::error::{Error, Result};
use eddy_core::metrics::JobMetrics;
use eddy_core::time::SystemClock;

/// Request-handling threads (requests are cheap; two keep a slow client from blocking others).
const THREADS: usize = 2;

/// A running server.
#[derive(Clone)]
pub struct Observer {
    /// Where it listens (with the port chosen when asked for port 0).
    pub addr: SocketAddr,
    /// The figures it serves.
    pub metrics: Arc<JobMetrics>,
}

impl Observer {
    /// Serves a new [`JobMetrics`] on `socket` until the process exits (port 0: any free port,
    /// see [`Observer::addr`]).
    pub fn start(socket: SocketAddr) -> Result<Observer> {
        let server = tiny_http::Server::http(socket)
            .map_err(|error| Error::Config(format!("--metrics-addr {socket}: cannot listen: {error}")))?;
        let addr = server.server_addr().to_ip().unwrap_or(socket);
        let metrics = JobMetrics::new(Arc::new(SystemClock));
        let server = Arc::new(server);
        for index in 0..THREADS {
            let server = Arc::clone(&server);
            let metrics = Arc::clone(&metrics);
            std::thread::Builder::new()
                .name(format!("eddy-observe-{index}"))
                .spawn(move || {
                    for request in server.incoming_requests() {
                        rest::respond(request, &metrics);
                    }
                })
                .map_err(|error| Error::io("starting the metrics server", error))?;
        }
        Ok(Observer { addr, metrics })
    }
}

/// Parses `HOST:PORT`, or `PORT` / `:PORT` for the loopback interface.
pub fn parse_addr(text: &str) -> Result<SocketAddr> {
    let text = text.trim();
    let full = match text.strip_prefix(':') {
        Some(port) => format!("127.0.0.1:{port}"),
        None if text.parse::<u16>().is_ok() => format!("127.0.0.1:{text}"),
        None => text.to_owned(),
    };
    full.to_socket_addrs()
        .map_err(|error| Error::Config(format!("--metrics-addr `{text}`: {error} (expected HOST:PORT)")))?
        .next()
        .ok_or_else(|| Error::Config(format!("--metrics-addr `{text}` names no address")))
}

/// The address process `process` of a multi-process job serves on: `addr`'s port plus the
/// process index (port 0 stays 0: any free port), so one flag serves every process of a job
/// started with the same arguments (`eddy run`).
pub fn for_process(addr: &str, process: usize) -> Result<String> {
    let mut socket = parse_addr(addr)?;
    if process == 0 || socket.port() == 0 {
        return Ok(socket.to_string());
    }
    let port = usize::from(socket.port()) + process;
    let port = u16::try_from(port).map_err(|_| {
        Error::Config(format!("--metrics-addr {addr}: port {port} of process {process} is out of range"))
    })?;
    socket.set_port(port);
    Ok(socket.to_string())
}

/// Serves metrics, REST and the dashboard on `addr` (see [`parse_addr`]). A process serves at
/// most one address: a second call with the same text returns the running server (the SQL
/// shell builds a job configuration per statement); another address is refused.
pub fn serve(addr: &str) -> Result<Observer> {
    static RUNNING: Mutex<Option<(String, Observer)>> = Mutex::new(None);
    let mut running = RUNNING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((text, observer)) = running.as_ref() {
        if text == addr {
            return Ok(observer.clone());
        }
        return Err(Error::Config(format!(
            "this process already serves metrics on {}; it cannot also serve {addr}",
            observer.addr
        )));
    }
    let observer = Observer::start(parse_addr(addr)?)?;
    eprintln!("eddy: dashboard, REST API and metrics at http://{}/ (metrics: /metrics)", observer.addr);
    *running = Some((addr.to_owned(), observer.clone()));
    Ok(observer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_default_to_loopback() {
        assert_eq!(parse_addr("9250").unwrap().to_string(), "127.0.0.1:9250");
        assert_eq!(parse_addr(":9250").unwrap().to_string(), "127.0.0.1:9250");
        assert_eq!(parse_addr("0.0.0.0:9250").unwrap().to_string(), "0.0.0.0:9250");
        assert_eq!(for_process("9250", 2).unwrap(), "127.0.0.1:9252");
        assert_eq!(for_process("0.0.0.0:0", 2).unwrap(), "0.0.0.0:0");
        assert!(for_process("65535", 1).unwrap_err().to_string().contains("out of range"));
        let error = parse_addr("nowhere").unwrap_err().to_string();
        assert!(error.contains("--metrics-addr `nowhere`"), "{error}");
    }
}
