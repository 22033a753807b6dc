//! Multi-process jobs: where the processes listen, how they connect, and the control link
//! between their checkpoint coordinators.
//!
//! A job of `N` processes with `W` workers each runs the same program in every process
//! (`--processes N --process I --workers W --hostfile FILE`). Process `I` listens on line `I`
//! of the hostfile; it connects to every lower-numbered process and accepts connections from
//! every higher-numbered one. Each connection starts with a handshake (a magic number, the
//! process count, the sender's index, its worker count and what the connection is for), so a
//! process of another job, or one started with other flags, is refused with an error naming
//! it. Besides timely's data connections, every process opens a *control* connection to
//! process 0, the leader, whose checkpoint coordinator drives the others (see
//! `checkpoint::link`).
//!
//! Set-up has a deadline (`connect_timeout`): timely on its own would retry forever, so a
//! missing peer would hang the job. The error names every peer that did not answer.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::time::{Clock, SystemClock};

/// Where the processes of a multi-process job listen, and which one this is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterConfig {
    /// The number of processes (at least 1).
    pub processes: usize,
    /// This process's index, from 0; process 0 leads checkpoints.
    pub process: usize,
    /// `host:port` of every process, in process order.
    pub addresses: Vec<String>,
    /// How long to wait for every peer to connect at start-up.
    pub connect_timeout: Duration,
}

/// The default deadline for connection set-up.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

impl ClusterConfig {
    /// Process `process` of a job whose processes listen on `addresses` (one per process).
    pub fn new(process: usize, addresses: Vec<String>) -> Result<Self> {
        let processes = addresses.len();
        if processes == 0 {
            return Err(Error::Config("a cluster needs at least one process address".into()));
        }
        if process >= processes {
            return Err(Error::Config(format!(
                "--process {process} is out of range for {processes} processes (0..{})",
                processes - 1
            )));
        }
        Ok(ClusterConfig { processes, process, addresses, connect_timeout: DEFAULT_CONNECT_TIMEOUT })
    }

    /// Process `process` of `processes`, with addresses from a hostfile: one `host:port` per
    /// line in process order (blank lines and `#` comments are skipped). Lines beyond
    /// `processes` are ignored, as timely does.
    pub fn from_hostfile(path: &Path, processes: usize, process: usize) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| Error::io(format!("reading hostfile {}", path.display()), error))?;
        let mut addresses = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            if !line
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
            {
                return Err(Error::Config(format!(
                    "{}:{}: `{line}` is not `host:port`",
                    path.display(),
                    number + 1
                )));
            }
            addresses.push(line.to_owned());
        }
        if addresses.len() < processes {
            return Err(Error::Config(format!(
                "hostfile {} lists {} addresses, but the job has {processes} processes",
                path.display(),
                addresses.len()
            )));
        }
        addresses.truncate(processes);
        ClusterConfig::new(process, addresses)
    }

    /// `processes` processes on localhost at ports `base_port..base_port + processes`.
    pub fn localhost(processes: usize, process: usize, base_port: u16) -> Result<Self> {
        let addresses =
            (0..processes).map(|index| format!("127.0.0.1:{}", base_port as usize + index)).collect();
        ClusterConfig::new(process, addresses)
    }

    /// The same configuration with another connection deadline.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Whether this process leads checkpoints (process 0).
    pub fn is_leader(&self) -> bool {
        self.process == 0
    }
}

const MAGIC: &[u8; 8] = b"EDDYNET1";
const DATA: u8 = 0;
const CONTROL: u8 = 1;
const HEADER: usize = 8 + 8 + 8 + 8 + 1;

/// The connections of one process: timely's data connections (one per other process, `None`
/// at this process's own index) and the control connections (to process 0 from the others; on
/// process 0, one from each other process).
pub(crate) struct Connections {
    pub(crate) data: Vec<Option<TcpStream>>,
    pub(crate) control: Vec<Option<TcpStream>>,
}

fn kind_name(kind: u8) -> &'static str {
    if kind == CONTROL {
        "control"
    } else {
        "data"
    }
}

/// A peer we connect to and have not reached yet.
struct Outgoing {
    peer: usize,
    kind: u8,
    last_error: String,
}

/// Connects this process to all others, or fails by the deadline naming who is missing.
pub(crate) fn connect(config: &ClusterConfig, workers: usize) -> Result<Connections> {
    let me = config.process;
    let processes = config.processes;
    let own = &config.addresses[me];
    let listener = TcpListener::bind(resolve(own)?.as_slice())
        .map_err(|error| Error::Cluster(format!("process {me} cannot listen on {own}: {error}")))?;
    listener.set_nonblocking(true).map_err(|error| {
        Error::Cluster(format!("process {me}: configuring the listener on {own}: {error}"))
    })?;
    let mut data: Vec<Option<TcpStream>> = (0..processes).map(|_| None).collect();
    let mut control: Vec<Option<TcpStream>> = (0..processes).map(|_| None).collect();
    let mut outgoing: Vec<Outgoing> = (0..me)
        .map(|peer| Outgoing { peer, kind: DATA, last_error: "not tried".into() })
        .chain((me > 0).then(|| Outgoing { peer: 0, kind: CONTROL, last_error: "not tried".into() }))
        .collect();
    let clock = SystemClock;
    let deadline = clock.now_ms().saturating_add(config.connect_timeout.as_millis() as u64);
    loop {
        let mut still = Vec::new();
        for mut target in outgoing {
            match connect_to(config, workers, target.peer, target.kind) {
                Ok(stream) => {
                    let slots = if target.kind == CONTROL { &mut control } else { &mut data };
                    slots[target.peer] = Some(stream);
                }
                Err(Attempt::Retry(error)) => {
                    target.last_error = error;
                    still.push(target);
                }
                Err(Attempt::Fatal(error)) => return Err(error),
            }
        }
        outgoing = still;
        loop {
            match listener.accept() {
                Ok((stream, from)) => {
                    let (peer, kind) = accept_from(config, workers, &stream, from)?;
                    let slots = if kind == CONTROL { &mut control } else { &mut data };
                    if slots[peer].is_some() {
                        return Err(Error::Cluster(format!(
                            "process {me}: process {peer} connected twice ({} connection from {from}); \
                             are two processes running with --process {peer}?",
                            kind_name(kind)
                        )));
                    }
                    slots[peer] = Some(stream);
                }
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(error) => {
                    return Err(Error::Cluster(format!(
                        "process {me}: accepting connections on {own}: {error}"
                    )))
                }
            }
        }
        let missing_incoming: Vec<usize> = (me + 1..processes)
            .filter(|&peer| data[peer].is_none() || (me == 0 && control[peer].is_none()))
            .collect();
        if outgoing.is_empty() && missing_incoming.is_empty() {
            break;
        }
        if clock.now_ms() >= deadline {
            let mut problems: Vec<String> = outgoing
                .iter()
                .map(|target| {
                    format!(
                        "could not connect to process {} at {} ({})",
                        target.peer, config.addresses[target.peer], target.last_error
                    )
                })
                .collect();
            problems.extend(
                missing_incoming
                    .iter()
                    .map(|&peer| format!("process {peer} (at {}) never connected", config.addresses[peer])),
            );
            problems.dedup();
            return Err(Error::Cluster(format!(
                "process {me} of {processes}: start-up timed out after {:?}: {}; is every process \
                 running, with the same --processes, --workers and --hostfile?",
                config.connect_timeout,
                problems.join("; ")
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    for stream in data.iter().chain(control.iter()).flatten() {
        stream
            .set_read_timeout(None)
            .and_then(|()| stream.set_nodelay(true))
            .map_err(|error| Error::Cluster(format!("process {me}: configuring a connection: {error}")))?;
    }
    Ok(Connections { data, control })
}

fn resolve(address: &str) -> Result<Vec<SocketAddr>> {
    let addresses: Vec<SocketAddr> = address
        .to_socket_addrs()
        .map_err(|error| Error::Cluster(format!("cannot resolve `{address}`: {error}")))?
        .collect();
    if addresses.is_empty() {
        return Err(Error::Cluster(format!("`{address}` resolves to no address")));
    }
    Ok(addresses)
}

enum Attempt {
    Retry(String),
    Fatal(Error),
}

/// One attempt to open a connection of `kind` to `peer` and pass the handshake.
fn connect_to(config: &ClusterConfig, workers: usize, peer: usize, kind: u8) -> Result<TcpStream, Attempt> {
    let address = &config.addresses[peer];
    let targets = resolve(address).map_err(Attempt::Fatal)?;
    let mut stream = None;
    let mut last = String::new();
    for target in targets {
        match TcpStream::connect_timeout(&target, Duration::from_secs(1)) {
            Ok(connected) => {
                stream = Some(connected);
                break;
            }
            Err(error) => last = error.to_string(),
        }
    }
    let Some(mut stream) = stream else { return Err(Attempt::Retry(last)) };
    let mut header = Vec::with_capacity(HEADER);
    header.extend_from_slice(MAGIC);
    for value in [config.processes, config.process, workers] {
        header.extend_from_slice(&(value as u64).to_be_bytes());
    }
    header.push(kind);
    let exchanged = stream
        .set_read_timeout(Some(config.connect_timeout.max(Duration::from_secs(1))))
        .and_then(|()| stream.write_all(&header))
        .and_then(|()| {
            let mut status = [0u8; 1];
            stream.read_exact(&mut status).map(|()| status[0])
        });
    match exchanged {
        Ok(0) => Ok(stream),
        Ok(_) => {
            let mut reason = String::new();
            let _ = stream.read_to_string(&mut reason);
            Err(Attempt::Fatal(Error::Cluster(format!(
                "process {} was refused by process {peer} at {address}: {reason}",
                config.process
            ))))
        }
        // The peer may be restarting; try again until the deadline.
        Err(error) => Err(Attempt::Retry(format!("handshake failed: {error}"))),
    }
}

/// Reads and checks the handshake of an accepted connection; returns (peer, kind).
fn accept_from(
    config: &ClusterConfig,
    workers: usize,
    stream: &TcpStream,
    from: SocketAddr,
) -> Result<(usize, u8)> {
    let me = config.process;
    let failed = |error: std::io::Error| {
        Error::Cluster(format!("process {me}: reading the handshake of a connection from {from}: {error}"))
    };
    let mut reader = stream;
    reader.set_nonblocking(false).map_err(failed)?;
    reader.set_read_timeout(Some(Duration::from_secs(10))).map_err(failed)?;
    let mut header = [0u8; HEADER];
    reader.read_exact(&mut header).map_err(failed)?;
    let number = |at: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&header[at..at + 8]);
        u64::from_be_bytes(bytes) as usize
    };
    let (processes, peer, peer_workers, kind) = (number(8), number(16), number(24), header[32]);
    let problem = if &header[..8] != MAGIC {
        Some(format!("a connection from {from} is not from an eddy process of this version"))
    } else if processes != config.processes {
        Some(format!(
            "process {peer} at {from} runs with --processes {processes}, this process with {}",
            config.processes
        ))
    } else if peer_workers != workers {
        Some(format!(
            "process {peer} at {from} runs with --workers {peer_workers}, this process with {workers}"
        ))
    } else if peer <= me || peer >= processes || (kind == CONTROL && me != 0) || kind > CONTROL {
        Some(format!(
            "unexpected {} connection from process {peer} at {from} (to process {me})",
            kind_name(kind)
        ))
    } else {
        None
    };
    let mut writer = stream;
    match problem {
        None => {
            writer.write_all(&[0]).map_err(failed)?;
            Ok((peer, kind))
        }
        Some(problem) => {
            let _ = writer.write_all(&[1]).and_then(|()| writer.write_all(problem.as_bytes()));
            Err(Error::Cluster(format!("process {me}: {problem}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn free_ports(count: usize) -> Vec<u16> {
        let listeners: Vec<TcpListener> =
            (0..count).map(|_| TcpListener::bind("127.0.0.1:0").unwrap()).collect();
        listeners.iter().map(|listener| listener.local_addr().unwrap().port()).collect()
    }

    fn config(ports: &[u16], process: usize, timeout: Duration) -> ClusterConfig {
        let addresses = ports.iter().map(|port| format!("127.0.0.1:{port}")).collect();
        ClusterConfig::new(process, addresses).unwrap().with_connect_timeout(timeout)
    }

    #[test]
    fn three_processes_connect() {
        let ports = free_ports(3);
        let handles: Vec<_> = (0..3)
            .map(|process| {
                let config = config(&ports, process, Duration::from_secs(10));
                std::thread::spawn(move || connect(&config, 2))
            })
            .collect();
        for (process, handle) in handles.into_iter().enumerate() {
            let connections = handle.join().unwrap().unwrap();
            for peer in 0..3 {
                assert_eq!(connections.data[peer].is_some(), peer != process);
                let control = if process == 0 { peer != 0 } else { peer == 0 };
                assert_eq!(connections.control[peer].is_some(), control, "process {process} peer {peer}");
            }
        }
    }

    #[test]
    fn a_missing_peer_fails_by_the_deadline_naming_it() {
        let ports = free_ports(3);
        let handles: Vec<_> = [0, 2]
            .into_iter()
            .map(|process| {
                let config = config(&ports, process, Duration::from_millis(600));
                std::thread::spawn(move || connect(&config, 1).err().map(|error| error.to_string()))
            })
            .collect();
        let errors: Vec<String> = handles.into_iter().map(|handle| handle.join().unwrap().unwrap()).collect();
        assert!(errors[0].contains("process 1") && errors[0].contains("never connected"), "{}", errors[0]);
        assert!(
            errors[1].contains("could not connect to process 1") && errors[1].contains(&ports[1].to_string()),
            "{}",
            errors[1]
        );
    }

    #[test]
    fn mismatched_workers_are_refused_with_a_clear_error() {
        let ports = free_ports(2);
        let leader = config(&ports, 0, Duration::from_secs(5));
        let follower = config(&ports, 1, Duration::from_secs(5));
        let handle = std::thread::spawn(move || connect(&leader, 2).err().map(|error| error.to_string()));
        let refused = connect(&follower, 3).err().map(|error| error.to_string()).unwrap();
        let error = handle.join().unwrap().unwrap();
        assert!(error.contains("--workers 3") && error.contains("with 2"), "{error}");
        assert!(refused.contains("refused by process 0"), "{refused}");
    }

    #[test]
    fn hostfiles_parse_and_bad_lines_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts");
        std::fs::write(&path, "# cluster\nhost-a:2101\n\nhost-b:2102 # second\nhost-c:2103\n").unwrap();
        let config = ClusterConfig::from_hostfile(&path, 2, 1).unwrap();
        assert_eq!(config.addresses, vec!["host-a:2101", "host-b:2102"]);
        assert!(ClusterConfig::from_hostfile(&path, 4, 0).unwrap_err().to_string().contains("lists 3"));
        assert!(ClusterConfig::from_hostfile(&path, 2, 2).unwrap_err().to_string().contains("out of range"));
        std::fs::write(&path, "host-a:2101\nhost-b\n").unwrap();
        let error = ClusterConfig::from_hostfile(&path, 2, 0).unwrap_err().to_string();
        assert!(error.contains(":2:") && error.contains("host-b"), "{error}");
    }
}
