//! Multi-process jobs: where the processes listen, how they connect and authenticate, and the
//! control link between their checkpoint coordinators.
//!
//! A job of `N` processes with `W` workers each runs the same program in every process
//! (`--processes N --process I --workers W --hostfile FILE`). Process `I` listens on line `I`
//! of the hostfile; it connects to every lower-numbered process and accepts connections from
//! every higher-numbered one. Besides timely's data connections, every process opens a
//! *control* connection to process 0, the leader, whose checkpoint coordinator drives the
//! others (see `checkpoint::link`).
//!
//! # Authentication
//!
//! Every connection starts with a handshake (`EDDYNET2`, see `handshake.rs`) before anything
//! else is sent on it: both sides exchange fresh nonces and prove with HMAC-SHA256 that they
//! hold the job's [`Secret`], over every field of the handshake (the magic, the process count,
//! the sender's index, its worker count, data or control), so a recorded handshake cannot be
//! replayed and a process of another job cannot join. The secret comes from the file named by
//! `EDDY_CLUSTER_SECRET_FILE` (private to its owner, as ssh requires of a key) or from
//! `EDDY_CLUSTER_SECRET` ([`ClusterConfig::with_secret_from_env`]), generated per job by whatever
//! launches the processes. Without a secret the exchange is the same without the proofs: links are then
//! unauthenticated, as the process logs once.
//!
//! A connection that fails the handshake (another protocol, garbage, silence past a short
//! timeout, an older eddy, a bad MAC) is logged (`eddy: ignored a connection from ADDR:
//! REASON`) and dropped; accepting goes on until the real peer arrives or the deadline passes.
//! Each handshake runs on its own thread, so a silent client does not hold up the others. A
//! peer that authenticates but runs with other flags (another `--workers`) is a
//! misconfiguration, not an attacker: it fails start-up with an error naming it, as does a
//! process index that connects twice. Without a secret such a refusal cannot be told from a
//! forgery, so there a forged hello with other flags still fails start-up.
//!
//! Links are authenticated, not encrypted: the data and the control messages (run id,
//! checkpoint paths) cross the network in the clear, and someone who can intercept and alter
//! the traffic can take over a connection after its handshake. Run multi-machine jobs on a
//! private network, or through a tunnel (WireGuard, an SSH tunnel).
//!
//! Set-up has a deadline (`connect_timeout`): timely on its own would retry forever, so a
//! missing peer would hang the job. The error names every peer that did not answer, and the
//! last connection that was ignored.

mod handshake;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::hash::HashSet;
use crate::time::{Clock, SystemClock};

use handshake::{
    accept_handshake, connect_handshake, kind_name, nonce, Accepted, Attempt, Local, CONTROL, DATA,
    HANDSHAKE_TIMEOUT,
};
pub use handshake::{Secret, SECRET_ENV, SECRET_FILE_ENV};

/// Where the processes of a multi-process job listen, which one this is, and the secret they
/// share.
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
    /// The job's secret, which authenticates every connection between its processes. `None`
    /// leaves the links unauthenticated.
    pub secret: Option<Secret>,
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
        Ok(ClusterConfig {
            processes,
            process,
            addresses,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            secret: None,
        })
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

    /// The same configuration authenticating its links with `secret`.
    pub fn with_secret(mut self, secret: Secret) -> Self {
        self.secret = Some(secret);
        self
    }

    /// The same configuration with the secret from the environment ([`Secret::from_env`]:
    /// `EDDY_CLUSTER_SECRET_FILE` or `EDDY_CLUSTER_SECRET`), if one is set there. Fails if the
    /// secret file cannot be read, may be read by others, or the secret is too short.
    pub fn with_secret_from_env(mut self) -> Result<Self> {
        if let Some(secret) = Secret::from_env()? {
            self.secret = Some(secret);
        }
        Ok(self)
    }

    /// Whether this process leads checkpoints (process 0).
    pub fn is_leader(&self) -> bool {
        self.process == 0
    }
}

/// Handshakes in progress at once on the accepting side; more connections are dropped.
const MAX_HANDSHAKES: usize = 64;

/// The connections of one process: timely's data connections (one per other process, `None`
/// at this process's own index) and the control connections (to process 0 from the others; on
/// process 0, one from each other process).
pub(crate) struct Connections {
    pub(crate) data: Vec<Option<TcpStream>>,
    pub(crate) control: Vec<Option<TcpStream>>,
}

/// A socket whose reads and writes share one deadline, so that a peer sending a byte at a
/// time cannot stretch a handshake.
struct Timed<'a> {
    stream: &'a TcpStream,
    deadline_ms: u64,
}

impl Timed<'_> {
    fn new(stream: &TcpStream, timeout: Duration) -> Timed<'_> {
        Timed { stream, deadline_ms: SystemClock.now_ms().saturating_add(timeout.as_millis() as u64) }
    }

    fn remaining(&self) -> std::io::Result<Duration> {
        let left = self.deadline_ms.saturating_sub(SystemClock.now_ms());
        if left == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "handshake deadline"));
        }
        Ok(Duration::from_millis(left))
    }
}

impl Read for Timed<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        self.stream.set_read_timeout(Some(self.remaining()?))?;
        let mut stream = self.stream;
        stream.read(buffer)
    }
}

impl Write for Timed<'_> {
    fn write(&mut self, buffer: &[u8]) -> std::io::Result<usize> {
        self.stream.set_write_timeout(Some(self.remaining()?))?;
        let mut stream = self.stream;
        stream.write(buffer)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Connections that failed the handshake: each (address, reason) is logged once.
#[derive(Default)]
struct IgnoredLog {
    seen: HashSet<(std::net::IpAddr, String)>,
    count: usize,
    last: Option<String>,
}

impl IgnoredLog {
    fn note(&mut self, from: SocketAddr, reason: String) {
        self.count += 1;
        self.last = Some(format!("from {from}: {reason}"));
        if self.seen.insert((from.ip(), reason.clone())) {
            eprintln!("eddy: ignored a connection from {from}: {reason}");
        }
    }

    fn summary(&self) -> String {
        match &self.last {
            Some(last) => {
                format!("; ignored {} connection(s) that failed the handshake (last {last})", self.count)
            }
            None => String::new(),
        }
    }
}

/// A peer we connect to and have not reached yet.
struct Outgoing {
    peer: usize,
    kind: u8,
    last_error: String,
    /// Why the last handshake that reached the peer's address failed: kept when later
    /// attempts find nobody (the peer gave up first), since it says more.
    last_answer: Option<String>,
}

impl Outgoing {
    fn new(peer: usize, kind: u8) -> Outgoing {
        Outgoing { peer, kind, last_error: "not tried".into(), last_answer: None }
    }

    fn problem(&self) -> String {
        match &self.last_answer {
            Some(answer) if *answer != self.last_error => {
                format!("{}; before that: {answer}", self.last_error)
            }
            _ => self.last_error.clone(),
        }
    }
}

/// Connects this process to all others, or fails by the deadline naming who is missing.
pub(crate) fn connect(config: &ClusterConfig, workers: usize) -> Result<Connections> {
    let me = config.process;
    let processes = config.processes;
    let own = &config.addresses[me];
    let local = Local { processes, process: me, workers, secret: config.secret.clone() };
    if local.secret.is_none() {
        static WARNED: std::sync::Once = std::sync::Once::new();
        WARNED.call_once(|| {
            eprintln!(
                "eddy: the links between this job's processes are not authenticated (set \
                 {SECRET_FILE_ENV} for every process): anything that reaches {own} can join the job"
            )
        });
    }
    let listener = TcpListener::bind(resolve(own)?.as_slice())
        .map_err(|error| Error::Cluster(format!("process {me} cannot listen on {own}: {error}")))?;
    listener.set_nonblocking(true).map_err(|error| {
        Error::Cluster(format!("process {me}: configuring the listener on {own}: {error}"))
    })?;
    let mut data: Vec<Option<TcpStream>> = (0..processes).map(|_| None).collect();
    let mut control: Vec<Option<TcpStream>> = (0..processes).map(|_| None).collect();
    let mut outgoing: Vec<Outgoing> = (0..me)
        .map(|peer| Outgoing::new(peer, DATA))
        .chain((me > 0).then(|| Outgoing::new(0, CONTROL)))
        .collect();
    // Each accepted connection's handshake runs on its own thread and reports here.
    let (finished, handshakes) = mpsc::channel::<(TcpStream, SocketAddr, Accepted)>();
    let mut in_progress = 0usize;
    let mut ignored = IgnoredLog::default();
    let clock = SystemClock;
    let deadline = clock.now_ms().saturating_add(config.connect_timeout.as_millis() as u64);
    loop {
        let mut still = Vec::new();
        for mut target in outgoing {
            match connect_to(config, &local, target.peer, target.kind) {
                Ok(stream) => {
                    let slots = if target.kind == CONTROL { &mut control } else { &mut data };
                    slots[target.peer] = Some(stream);
                }
                Err(Attempt::Unreachable(error)) => {
                    target.last_error = error;
                    still.push(target);
                }
                Err(Attempt::Retry(error)) => {
                    target.last_answer = Some(error.clone());
                    target.last_error = error;
                    still.push(target);
                }
                Err(Attempt::Fatal(error)) => return Err(error),
            }
        }
        outgoing = still;
        loop {
            match listener.accept() {
                Ok((stream, from)) if in_progress >= MAX_HANDSHAKES => {
                    drop(stream);
                    ignored.note(from, format!("{MAX_HANDSHAKES} handshakes are already in progress"));
                }
                Ok((stream, from)) => {
                    let nonce = nonce()?;
                    let local = local.clone();
                    let finished = finished.clone();
                    in_progress += 1;
                    std::thread::Builder::new()
                        .name(format!("eddy-handshake-{from}"))
                        .spawn(move || {
                            let accepted = match stream.set_nonblocking(false) {
                                Ok(()) => accept_handshake(
                                    &mut Timed::new(&stream, HANDSHAKE_TIMEOUT),
                                    &local,
                                    nonce,
                                ),
                                Err(error) => {
                                    Accepted::Ignored(format!("configuring the connection: {error}"))
                                }
                            };
                            // The receiver is gone once start-up has ended; the stream is dropped.
                            let _ = finished.send((stream, from, accepted));
                        })
                        .map_err(|error| {
                            Error::Cluster(format!("process {me}: starting a handshake thread: {error}"))
                        })?;
                }
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(error) => {
                    return Err(Error::Cluster(format!(
                        "process {me}: accepting connections on {own}: {error}"
                    )))
                }
            }
        }
        while let Ok((stream, from, accepted)) = handshakes.try_recv() {
            in_progress -= 1;
            match accepted {
                Accepted::Peer { peer, kind } => {
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
                Accepted::Refused(problem) => {
                    return Err(Error::Cluster(format!("process {me}: {problem} (connection from {from})")))
                }
                Accepted::Ignored(reason) => ignored.note(from, reason),
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
                        target.peer,
                        config.addresses[target.peer],
                        target.problem()
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
                "process {me} of {processes}: start-up timed out after {:?}: {}{}; is every process \
                 running, with the same --processes, --workers, --hostfile and cluster secret?",
                config.connect_timeout,
                problems.join("; "),
                ignored.summary()
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    for stream in data.iter().chain(control.iter()).flatten() {
        stream
            .set_read_timeout(None)
            .and_then(|()| stream.set_write_timeout(None))
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

/// One attempt to open a connection of `kind` to `peer` and pass the handshake.
fn connect_to(config: &ClusterConfig, local: &Local, peer: usize, kind: u8) -> Result<TcpStream, Attempt> {
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
    let Some(stream) = stream else { return Err(Attempt::Unreachable(last)) };
    let nonce = nonce().map_err(Attempt::Fatal)?;
    connect_handshake(&mut Timed::new(&stream, HANDSHAKE_TIMEOUT), local, peer, kind, nonce).map(|()| stream)
}

#[cfg(test)]
mod tests {
    use super::handshake::tests::secret;
    use super::handshake::{connector_mac, Hello, MAC, MAGIC, NONCE};
    use super::*;
    use hmac::Mac;
    use std::io::Write;

    fn free_ports(count: usize) -> Vec<u16> {
        let listeners: Vec<TcpListener> =
            (0..count).map(|_| TcpListener::bind("127.0.0.1:0").unwrap()).collect();
        listeners.iter().map(|listener| listener.local_addr().unwrap().port()).collect()
    }

    fn config(ports: &[u16], process: usize, timeout: Duration) -> ClusterConfig {
        let addresses = ports.iter().map(|port| format!("127.0.0.1:{port}")).collect();
        ClusterConfig::new(process, addresses).unwrap().with_connect_timeout(timeout)
    }

    fn with_secret(config: ClusterConfig, secret: Option<&Secret>) -> ClusterConfig {
        match secret {
            Some(secret) => config.with_secret(secret.clone()),
            None => config,
        }
    }

    #[test]
    fn three_processes_connect_with_and_without_a_secret() {
        for shared in [Some(secret("job")), None] {
            three_processes_connect(shared.as_ref());
        }
    }

    fn three_processes_connect(secret: Option<&Secret>) {
        let ports = free_ports(3);
        let handles: Vec<_> = (0..3)
            .map(|process| {
                let config = with_secret(config(&ports, process, Duration::from_secs(10)), secret);
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
    fn mismatched_workers_are_refused_with_a_clear_error_with_and_without_a_secret() {
        for shared in [Some(secret("job")), None] {
            mismatched_workers_are_refused(shared.as_ref());
        }
    }

    /// An authenticated peer with other flags is a misconfiguration: it fails start-up at once.
    fn mismatched_workers_are_refused(secret: Option<&Secret>) {
        let ports = free_ports(2);
        let leader = with_secret(config(&ports, 0, Duration::from_secs(5)), secret);
        let follower = with_secret(config(&ports, 1, Duration::from_secs(5)), secret);
        let handle = std::thread::spawn(move || connect(&leader, 2).err().map(|error| error.to_string()));
        let refused = connect(&follower, 3).err().map(|error| error.to_string()).unwrap();
        let error = handle.join().unwrap().unwrap();
        assert!(error.contains("--workers 3") && error.contains("with 2"), "{error}");
        assert!(refused.contains("refused by process 0"), "{refused}");
    }

    /// Connects to `address` as soon as it listens, sends `bytes`, then holds the connection
    /// open for `hold` (a stray client, a port scanner or a forger). Returns once connected.
    fn stray(address: &str, bytes: Vec<u8>, hold: Duration) -> std::thread::JoinHandle<()> {
        let stream = loop {
            match TcpStream::connect(address) {
                Ok(stream) => break stream,
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        std::thread::spawn(move || {
            let mut stream = stream;
            let _ = stream.write_all(&bytes);
            std::thread::sleep(hold);
        })
    }

    /// The peer address of process `process`'s connection of `kind` as its peers see it.
    fn connected_pairs(connections: &Connections) -> Vec<(SocketAddr, SocketAddr)> {
        connections
            .data
            .iter()
            .chain(connections.control.iter())
            .flatten()
            .map(|stream| (stream.local_addr().unwrap(), stream.peer_addr().unwrap()))
            .collect()
    }

    /// Runs a leader and a follower (1 worker each) after `before_follower` has run against
    /// the leader's address; both must connect, and only to each other.
    fn leader_and_follower_connect_despite(secret: Option<&Secret>, before_follower: impl FnOnce(&str)) {
        let ports = free_ports(2);
        let leader = with_secret(config(&ports, 0, Duration::from_secs(20)), secret);
        let follower = with_secret(config(&ports, 1, Duration::from_secs(20)), secret);
        let address = leader.addresses[0].clone();
        let handle = std::thread::spawn(move || connect(&leader, 1));
        before_follower(&address);
        let followed = connect(&follower, 1).unwrap();
        let led = handle.join().unwrap().unwrap();
        let mut from_follower: Vec<_> =
            connected_pairs(&followed).into_iter().map(|(local, peer)| (peer, local)).collect();
        let mut at_leader = connected_pairs(&led);
        from_follower.sort();
        at_leader.sort();
        assert_eq!(at_leader, from_follower, "the leader holds a connection that is not the follower's");
        assert_eq!(at_leader.len(), 2);
    }

    #[test]
    fn a_stray_connection_that_sends_garbage_or_nothing_does_not_fail_start_up() {
        for shared in [None, Some(secret("job"))] {
            leader_and_follower_connect_despite(shared.as_ref(), |address| {
                stray(address, b"GET / HTTP/1.1\r\n\r\n".to_vec(), Duration::from_secs(3));
                stray(address, Vec::new(), Duration::from_secs(3));
                stray(address, b"EDDY".to_vec(), Duration::ZERO);
                stray(address, vec![0xff; 4096], Duration::from_secs(1));
                // A hello cut short, then silence.
                stray(address, MAGIC[..].to_vec(), Duration::from_secs(3));
            });
        }
    }

    /// The handshake of eddy 0.1 (`EDDYNET1`): magic, processes, index, workers, kind.
    fn forged_v1(processes: u64, index: u64, workers: u64, kind: u8) -> Vec<u8> {
        let mut bytes = b"EDDYNET1".to_vec();
        for value in [processes, index, workers] {
            bytes.extend_from_slice(&value.to_be_bytes());
        }
        bytes.push(kind);
        bytes
    }

    /// A hello of this version claiming to be process 1 of 2 with 1 worker, and a proof.
    fn forged_v2(kind: u8, authenticates: bool, proof: [u8; MAC]) -> Vec<u8> {
        let hello = Hello { processes: 2, index: 1, workers: 1, kind, authenticates, nonce: [3; NONCE] };
        [&hello.encode()[..], &proof].concat()
    }

    #[test]
    fn a_forged_handshake_is_refused_and_the_real_peers_still_connect() {
        let shared = secret("job");
        leader_and_follower_connect_despite(Some(&shared), |address| {
            let hold = Duration::from_secs(2);
            let mut forgers = Vec::new();
            for kind in [DATA, CONTROL] {
                forgers.push(stray(address, forged_v1(2, 1, 1, kind), hold));
                forgers.push(stray(address, forged_v2(kind, false, [0; MAC]), hold));
                forgers.push(stray(address, forged_v2(kind, true, [0; MAC]), hold));
                // A proof made with another job's secret.
                let hello = Hello {
                    processes: 2,
                    index: 1,
                    workers: 1,
                    kind,
                    authenticates: true,
                    nonce: [3; NONCE],
                };
                let proof = connector_mac(&secret("other job"), &hello.encode(), &[0; NONCE]);
                forgers.push(stray(
                    address,
                    forged_v2(kind, true, proof.finalize().into_bytes().into()),
                    hold,
                ));
            }
            // Let the leader take the forgeries before the real follower dials.
            std::thread::sleep(Duration::from_millis(300));
        });
    }

    #[test]
    fn peers_with_different_secrets_fail_by_the_deadline_naming_the_peer() {
        for (leader_secret, follower_secret) in [
            (Some(secret("job")), Some(secret("another job"))),
            (Some(secret("job")), None),
            (None, Some(secret("job"))),
        ] {
            let ports = free_ports(2);
            let timeout = Duration::from_millis(1500);
            let leader = with_secret(config(&ports, 0, timeout), leader_secret.as_ref());
            let follower = with_secret(config(&ports, 1, timeout), follower_secret.as_ref());
            let handle = std::thread::spawn(move || connect(&leader, 1).err().map(|error| error.to_string()));
            let follower_error = connect(&follower, 1).err().map(|error| error.to_string()).unwrap();
            let leader_error = handle.join().unwrap().unwrap();
            assert!(
                leader_error.contains("process 1 (at") && leader_error.contains("never connected"),
                "{leader_error}"
            );
            assert!(
                leader_error.contains("ignored") && leader_error.contains("claims to be process 1"),
                "{leader_error}"
            );
            assert!(
                follower_error.contains("could not connect to process 0")
                    && follower_error.contains("ignored this connection"),
                "{follower_error}"
            );
        }
    }

    #[test]
    fn debug_output_does_not_show_the_secret() {
        let config = ClusterConfig::localhost(2, 0, 2101)
            .unwrap()
            .with_secret(Secret::new("hush-hush-hush-hush").unwrap());
        let shown = format!("{config:?}");
        assert!(!shown.contains("hush") && shown.contains("Secret(..)"), "{shown}");
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
