//! The handshake that opens every connection between the processes of a multi-process job
//! (`EDDYNET2`), and the job's [`Secret`] it authenticates with. Pure functions over any byte
//! stream, so that every path is reachable from a unit test; `cluster::connect` feeds them
//! sockets with a deadline.
//!
//! 1. The connecting side sends its hello: the magic, the process count, its index, its worker
//!    count, what the connection is for (data or control), whether it authenticates, and a
//!    fresh 32-byte nonce.
//! 2. The accepting side answers with a fresh nonce of its own.
//! 3. The connecting side sends `HMAC-SHA256(secret, "connect" | hello | acceptor's nonce)`.
//! 4. The accepting side checks that MAC (in constant time) and only then the flags, and
//!    answers with its verdict (accepted, or refused with a reason), its own process count,
//!    index and worker count, and `HMAC-SHA256(secret, "accept" | everything so far | verdict)`,
//!    which the connecting side checks in turn before it trusts the verdict.
//!
//! Both MACs cover both nonces and every field, so a recorded handshake cannot be replayed and
//! a process of another job (another secret) cannot join. Without a secret the exchange is the
//! same, with zeros for the MACs. A connection that does not authenticate gets the verdict
//! "ignored" (with a reason the connecting side shows but never trusts) and is dropped.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{Error, Result};

/// The environment variable naming a file that holds the job's cluster secret.
pub const SECRET_FILE_ENV: &str = "EDDY_CLUSTER_SECRET_FILE";
/// The environment variable holding the job's cluster secret itself (prefer the file).
pub const SECRET_ENV: &str = "EDDY_CLUSTER_SECRET";

/// A per-job secret that the processes of a multi-process job prove to each other they hold
/// when they connect. It is used as an HMAC-SHA256 key, byte for byte; `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<[u8]>);

impl Secret {
    /// The shortest secret accepted, in bytes. Generate 32 random bytes (64 hex digits).
    pub const MIN_LEN: usize = 16;

    /// A secret from its bytes; at least [`Secret::MIN_LEN`] of them.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self> {
        let bytes = bytes.into();
        if bytes.len() < Secret::MIN_LEN {
            return Err(Error::Config(format!(
                "the cluster secret has {} bytes; it needs at least {} (generate 32 random bytes)",
                bytes.len(),
                Secret::MIN_LEN
            )));
        }
        Ok(Secret(bytes.into()))
    }

    /// The secret held in a file: its contents with surrounding white space (a final newline)
    /// removed. Like ssh with a private key, refuses a file that its group or others may read.
    pub fn from_file(path: &Path) -> Result<Self> {
        let context = || format!("reading the cluster secret file {}", path.display());
        let mut file = std::fs::File::open(path).map_err(|error| Error::io(context(), error))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = file.metadata().map_err(|error| Error::io(context(), error))?.permissions().mode();
            if mode & 0o077 != 0 {
                return Err(Error::Config(format!(
                    "the cluster secret file {} may be read by others (mode {:03o}); \
                     it must be private to its owner: chmod 600 {}",
                    path.display(),
                    mode & 0o777,
                    path.display()
                )));
            }
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(|error| Error::io(context(), error))?;
        Secret::new(bytes.trim_ascii()).map_err(|error| match error {
            Error::Config(message) => Error::Config(format!("{}: {message}", path.display())),
            other => other,
        })
    }

    /// The secret from the environment: the file named by `EDDY_CLUSTER_SECRET_FILE`, or the
    /// value of `EDDY_CLUSTER_SECRET`; `None` if neither is set, an error if both are.
    pub fn from_env() -> Result<Option<Self>> {
        Secret::from_sources(std::env::var_os(SECRET_FILE_ENV), std::env::var_os(SECRET_ENV))
    }

    pub(super) fn from_sources(
        file: Option<std::ffi::OsString>,
        value: Option<std::ffi::OsString>,
    ) -> Result<Option<Self>> {
        match (file, value) {
            (Some(_), Some(_)) => Err(Error::Config(format!(
                "both {SECRET_FILE_ENV} and {SECRET_ENV} are set; set one (preferably the file)"
            ))),
            (Some(file), None) => Secret::from_file(Path::new(&file)).map(Some),
            (None, Some(value)) => {
                let value = value.into_string().map_err(|_| {
                    Error::Config(format!("{SECRET_ENV} is not valid UTF-8; use {SECRET_FILE_ENV}"))
                })?;
                Secret::new(value.trim().as_bytes()).map(Some)
            }
            (None, None) => Ok(None),
        }
    }

    fn key(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Secret(..)")
    }
}

pub(super) const MAGIC: &[u8; 8] = b"EDDYNET2";
/// The handshake of eddy before authentication; recognised only to say so.
const OLD_MAGIC: &[u8; 8] = b"EDDYNET1";
pub(super) const DATA: u8 = 0;
pub(super) const CONTROL: u8 = 1;
pub(super) const NONCE: usize = 32;
pub(super) const MAC: usize = 32;
/// The connecting side's hello: magic, processes, index, workers, kind, authenticates, nonce.
const HELLO: usize = 8 + 8 + 8 + 8 + 1 + 1 + NONCE;
/// The verdict's fields: status, processes, index, workers.
const FIELDS: usize = 1 + 8 + 8 + 8;
/// The verdict's fixed part: its fields, MAC and reason length.
const VERDICT: usize = FIELDS + MAC + 2;
const ACCEPTED: u8 = 0;
const REFUSED: u8 = 1;
/// The accepting side dropped the connection without authenticating it.
const IGNORED: u8 = 2;
const MAX_REASON: usize = 1024;
/// How long one handshake may take, from either side.
pub(super) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) fn kind_name(kind: u8) -> &'static str {
    if kind == CONTROL {
        "control"
    } else {
        "data"
    }
}

/// What one process knows of itself when it checks a handshake.
#[derive(Clone)]
pub(super) struct Local {
    pub(super) processes: usize,
    pub(super) process: usize,
    pub(super) workers: usize,
    pub(super) secret: Option<Secret>,
}

/// The connecting side's first message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Hello {
    pub(super) processes: u64,
    pub(super) index: u64,
    pub(super) workers: u64,
    pub(super) kind: u8,
    pub(super) authenticates: bool,
    pub(super) nonce: [u8; NONCE],
}

impl Hello {
    pub(super) fn encode(&self) -> [u8; HELLO] {
        let mut bytes = [0u8; HELLO];
        bytes[..8].copy_from_slice(MAGIC);
        bytes[8..16].copy_from_slice(&self.processes.to_be_bytes());
        bytes[16..24].copy_from_slice(&self.index.to_be_bytes());
        bytes[24..32].copy_from_slice(&self.workers.to_be_bytes());
        bytes[32] = self.kind;
        bytes[33] = u8::from(self.authenticates);
        bytes[34..].copy_from_slice(&self.nonce);
        bytes
    }
}

fn be_u64(bytes: &[u8]) -> u64 {
    let mut value = [0u8; 8];
    value.copy_from_slice(&bytes[..8]);
    u64::from_be_bytes(value)
}

/// Why reading from a peer failed, in words for the log.
fn io_reason(error: &std::io::Error, what: &str) -> String {
    match error.kind() {
        std::io::ErrorKind::UnexpectedEof => format!("it closed the connection before sending {what}"),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            format!("it sent no {what} within {HANDSHAKE_TIMEOUT:?}")
        }
        _ => format!("reading {what}: {error}"),
    }
}

/// Reads and parses a hello; the error says, for the log, why the bytes are not one.
fn read_hello(reader: &mut impl Read) -> std::result::Result<Hello, String> {
    let mut bytes = [0u8; HELLO];
    // The magic first, so that another protocol is told apart without waiting for more bytes.
    reader.read_exact(&mut bytes[..8]).map_err(|error| io_reason(&error, "a handshake"))?;
    if &bytes[..8] == OLD_MAGIC {
        return Err("it speaks the handshake of an older eddy (EDDYNET1, unauthenticated)".into());
    }
    if &bytes[..8] != MAGIC {
        return Err(format!("it is not an eddy handshake (it began with `{}`)", printable(&bytes[..8])));
    }
    reader.read_exact(&mut bytes[8..]).map_err(|error| io_reason(&error, "a whole handshake"))?;
    let kind = bytes[32];
    if kind > CONTROL {
        return Err(format!("its handshake names an unknown connection kind {kind}"));
    }
    let authenticates = match bytes[33] {
        0 => false,
        1 => true,
        other => return Err(format!("its handshake has an invalid authentication flag {other}")),
    };
    let mut nonce = [0u8; NONCE];
    nonce.copy_from_slice(&bytes[34..]);
    Ok(Hello {
        processes: be_u64(&bytes[8..]),
        index: be_u64(&bytes[16..]),
        workers: be_u64(&bytes[24..]),
        kind,
        authenticates,
        nonce,
    })
}

/// Bytes from a peer, shown safely in a log line or an error: as text if they are printable
/// ASCII, else in hex.
fn printable(bytes: &[u8]) -> String {
    let bytes = &bytes[..bytes.len().min(MAX_REASON)];
    if bytes.iter().all(|byte| byte.is_ascii_graphic() || *byte == b' ') {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    bytes.iter().map(|byte| format!("{byte:02x}")).collect::<Vec<_>>().join(" ")
}

pub(super) fn nonce() -> Result<[u8; NONCE]> {
    let mut nonce = [0u8; NONCE];
    getrandom::fill(&mut nonce)
        .map_err(|error| Error::Cluster(format!("no random numbers for the handshake: {error}")))?;
    Ok(nonce)
}

/// An HMAC-SHA256 over `parts` under `secret`, for one role (`label`).
fn mac(secret: &Secret, label: &[u8], parts: &[&[u8]]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.key()).expect("HMAC takes keys of any length");
    mac.update(b"eddy cluster handshake v2 ");
    mac.update(label);
    for part in parts {
        mac.update(part);
    }
    mac
}

/// The connecting side's proof: binds its hello (fields and nonce) to the acceptor's nonce.
pub(super) fn connector_mac(
    secret: &Secret,
    hello: &[u8; HELLO],
    acceptor_nonce: &[u8; NONCE],
) -> Hmac<Sha256> {
    mac(secret, b"connect\0", &[hello, acceptor_nonce])
}

/// The accepting side's proof: binds the whole exchange and its verdict.
fn acceptor_mac(
    secret: &Secret,
    hello: &[u8; HELLO],
    acceptor_nonce: &[u8; NONCE],
    connector_proof: &[u8; MAC],
    verdict: &[u8],
    reason: &[u8],
) -> Hmac<Sha256> {
    mac(secret, b"accept\0", &[hello, acceptor_nonce, connector_proof, verdict, reason])
}

/// The verdict's fixed part without its MAC (status, processes, index, workers).
fn verdict_fields(status: u8, local: &Local) -> [u8; FIELDS] {
    let mut fields = [0u8; FIELDS];
    fields[0] = status;
    for (at, value) in [local.processes, local.process, local.workers].into_iter().enumerate() {
        fields[1 + 8 * at..9 + 8 * at].copy_from_slice(&(value as u64).to_be_bytes());
    }
    fields
}

/// How the accepting side's handshake ended.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Accepted {
    /// An authenticated (or, without a secret, well-formed and matching) peer.
    Peer { peer: usize, kind: u8 },
    /// A peer that passed authentication runs with other flags: start-up fails.
    Refused(String),
    /// Not a peer of this job: log and drop the connection.
    Ignored(String),
}

/// The accepting side of the handshake over `stream` (a socket, or a test's bytes), with
/// `nonce` as this side's nonce.
pub(super) fn accept_handshake<S: Read + Write>(
    stream: &mut S,
    local: &Local,
    nonce: [u8; NONCE],
) -> Accepted {
    let hello = match read_hello(stream) {
        Ok(hello) => hello,
        Err(reason) => return Accepted::Ignored(reason),
    };
    let hello_bytes = hello.encode();
    if let Err(error) = stream.write_all(&nonce).and_then(|()| stream.flush()) {
        return Accepted::Ignored(format!("sending the challenge: {error}"));
    }
    let mut proof = [0u8; MAC];
    if let Err(error) = stream.read_exact(&mut proof) {
        return Accepted::Ignored(io_reason(&error, "its proof"));
    }
    let (process, claimed) = (local.process, hello.index);
    let unauthenticated = match (&local.secret, hello.authenticates) {
        (Some(_), false) => Some((
            format!("process {process} requires the job's cluster secret"),
            format!(
                "it claims to be process {claimed} but does not authenticate \
                 (started without the cluster secret?)"
            ),
        )),
        (None, true) => Some((
            format!("process {process} has no cluster secret"),
            format!(
                "it claims to be process {claimed} and authenticates, but this process has no cluster secret"
            ),
        )),
        (Some(secret), true) => {
            connector_mac(secret, &hello_bytes, &nonce).verify_slice(&proof).is_err().then(|| {
                (
                    format!("process {process} could not authenticate this connection"),
                    format!(
                        "it claims to be process {claimed} but failed authentication \
                         (another job, or another cluster secret?)"
                    ),
                )
            })
        }
        (None, false) => None,
    };
    if let Some((answer, reason)) = unauthenticated {
        let mut verdict = [0u8; VERDICT].to_vec();
        verdict[0] = IGNORED;
        verdict[VERDICT - 2..].copy_from_slice(&(answer.len() as u16).to_be_bytes());
        verdict.extend_from_slice(answer.as_bytes());
        let _ = stream.write_all(&verdict);
        return Accepted::Ignored(reason);
    }
    let (processes, peer, peer_workers, kind) = (hello.processes, hello.index, hello.workers, hello.kind);
    let problem = if processes != local.processes as u64 {
        Some(format!(
            "process {peer} runs with --processes {processes}, this process with {}",
            local.processes
        ))
    } else if peer_workers != local.workers as u64 {
        Some(format!(
            "process {peer} runs with --workers {peer_workers}, this process with {}",
            local.workers
        ))
    } else if peer <= process as u64 || peer >= processes || (kind == CONTROL && process != 0) {
        Some(format!("unexpected {} connection from process {peer} (to process {process})", kind_name(kind)))
    } else {
        None
    };
    let status = if problem.is_some() { REFUSED } else { ACCEPTED };
    let fields = verdict_fields(status, local);
    let reason = problem.as_deref().unwrap_or("").as_bytes();
    let reason = &reason[..reason.len().min(MAX_REASON)];
    let length = (reason.len() as u16).to_be_bytes();
    let tag: [u8; MAC] = match &local.secret {
        Some(secret) => {
            acceptor_mac(secret, &hello_bytes, &nonce, &proof, &fields, &[&length[..], reason].concat())
                .finalize()
                .into_bytes()
                .into()
        }
        None => [0u8; MAC],
    };
    let verdict = [&fields[..], &tag, &length, reason].concat();
    let sent = stream.write_all(&verdict).and_then(|()| stream.flush());
    match (problem, sent) {
        (Some(problem), _) => Accepted::Refused(problem),
        (None, Ok(())) => Accepted::Peer { peer: peer as usize, kind },
        (None, Err(error)) => Accepted::Ignored(format!("sending the verdict to process {peer}: {error}")),
    }
}

pub(super) enum Attempt {
    /// Nothing answered at the peer's address (yet).
    Unreachable(String),
    /// Something answered but the handshake failed; try again until the deadline.
    Retry(String),
    /// A misconfiguration, or the peer refused this process: start-up fails.
    Fatal(Error),
}

/// The connecting side of the handshake over `stream`: this process (`local`) opens a
/// connection of `kind` to `peer`.
pub(super) fn connect_handshake<S: Read + Write>(
    stream: &mut S,
    local: &Local,
    peer: usize,
    kind: u8,
    nonce: [u8; NONCE],
) -> std::result::Result<(), Attempt> {
    let hello = Hello {
        processes: local.processes as u64,
        index: local.process as u64,
        workers: local.workers as u64,
        kind,
        authenticates: local.secret.is_some(),
        nonce,
    }
    .encode();
    // The peer may be restarting, or not listening yet: failures to exchange are retried.
    let retry = |error: std::io::Error, what: &str| {
        Attempt::Retry(format!("handshake failed: {}", io_reason(&error, what)))
    };
    stream.write_all(&hello).and_then(|()| stream.flush()).map_err(|error| retry(error, "the handshake"))?;
    let mut acceptor_nonce = [0u8; NONCE];
    stream.read_exact(&mut acceptor_nonce).map_err(|error| retry(error, "a challenge"))?;
    let proof: [u8; MAC] = match &local.secret {
        Some(secret) => connector_mac(secret, &hello, &acceptor_nonce).finalize().into_bytes().into(),
        None => [0u8; MAC],
    };
    stream.write_all(&proof).and_then(|()| stream.flush()).map_err(|error| retry(error, "the proof"))?;
    let mut verdict = [0u8; VERDICT];
    stream.read_exact(&mut verdict).map_err(|error| retry(error, "a verdict"))?;
    let length = usize::from(u16::from_be_bytes([verdict[VERDICT - 2], verdict[VERDICT - 1]]));
    if length > MAX_REASON {
        return Err(Attempt::Retry(format!("handshake failed: a reason of {length} bytes")));
    }
    let mut reason = vec![0u8; length];
    stream.read_exact(&mut reason).map_err(|error| retry(error, "a reason"))?;
    let status = verdict[0];
    if status == IGNORED {
        // Unauthenticated words: shown, never trusted.
        return Err(Attempt::Retry(format!("it ignored this connection: {}", printable(&reason))));
    }
    if status != ACCEPTED && status != REFUSED {
        return Err(Attempt::Retry(format!("handshake failed: an unknown verdict {status}")));
    }
    if let Some(secret) = &local.secret {
        let tag = &verdict[FIELDS..FIELDS + MAC];
        let signed = [&verdict[VERDICT - 2..], &reason[..]].concat();
        if acceptor_mac(secret, &hello, &acceptor_nonce, &proof, &verdict[..FIELDS], &signed)
            .verify_slice(tag)
            .is_err()
        {
            return Err(Attempt::Retry(
                "it failed authentication (not a process of this job, or another cluster secret?)".into(),
            ));
        }
    }
    let fatal = |message: String| Attempt::Fatal(Error::Cluster(message));
    if status == REFUSED {
        return Err(fatal(format!(
            "process {} was refused by process {peer}: {}",
            local.process,
            printable(&reason)
        )));
    }
    let (processes, index, workers) = (be_u64(&verdict[1..]), be_u64(&verdict[9..]), be_u64(&verdict[17..]));
    if (processes, index, workers) != (local.processes as u64, peer as u64, local.workers as u64) {
        return Err(fatal(format!(
            "process {}: the process at process {peer}'s address is process {index} of {processes} \
             with --workers {workers}; this process expected process {peer} of {} with --workers {}",
            local.process, local.processes, local.workers
        )));
    }
    Ok(())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in crate::cluster) fn secret(text: &str) -> Secret {
        Secret::new(format!("{text:-<32}")).unwrap()
    }

    /// A byte stream for the handshake functions: reads from a script, keeps what is written.
    struct Scripted {
        input: std::io::Cursor<Vec<u8>>,
        output: Vec<u8>,
    }

    impl Scripted {
        fn new(input: Vec<u8>) -> Scripted {
            Scripted { input: std::io::Cursor::new(input), output: Vec::new() }
        }
    }

    impl Read for Scripted {
        fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
            self.input.read(buffer)
        }
    }

    impl Write for Scripted {
        fn write(&mut self, buffer: &[u8]) -> std::io::Result<usize> {
            self.output.extend_from_slice(buffer);
            Ok(buffer.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn local(process: usize, secret: Option<&Secret>) -> Local {
        Local { processes: 2, process, workers: 1, secret: secret.cloned() }
    }

    /// What process 1 sends to process 0 when process 0 challenges it with `challenge`.
    fn follower_says(secret: &Secret, hello: Hello, challenge: [u8; NONCE]) -> Vec<u8> {
        let proof = connector_mac(secret, &hello.encode(), &challenge);
        [&hello.encode()[..], &proof.finalize().into_bytes()[..]].concat()
    }

    #[test]
    fn a_handshake_authenticates_both_sides_and_a_replay_or_a_changed_field_fails() {
        let shared = secret("job");
        let hello = Hello {
            processes: 2,
            index: 1,
            workers: 1,
            kind: CONTROL,
            authenticates: true,
            nonce: [7; NONCE],
        };
        let challenge = [9; NONCE];
        let mut leader_side = Scripted::new(follower_says(&shared, hello, challenge));
        let accepted = accept_handshake(&mut leader_side, &local(0, Some(&shared)), challenge);
        assert_eq!(accepted, Accepted::Peer { peer: 1, kind: CONTROL });
        // The follower checks the leader's answer.
        let mut follower_side = Scripted::new(leader_side.output.clone());
        assert!(
            connect_handshake(&mut follower_side, &local(1, Some(&shared)), 0, CONTROL, hello.nonce).is_ok()
        );
        assert_eq!(follower_side.output, follower_says(&shared, hello, challenge));
        // A forged verdict (or another secret's) fails on the follower's side, to be retried.
        for (status, tag) in [(ACCEPTED, [0u8; MAC]), (REFUSED, [0u8; MAC])] {
            let mut forged = leader_side.output.clone();
            forged[NONCE] = status;
            forged[NONCE + FIELDS..NONCE + FIELDS + MAC].copy_from_slice(&tag);
            let mut follower_side = Scripted::new(forged);
            match connect_handshake(&mut follower_side, &local(1, Some(&shared)), 0, CONTROL, hello.nonce) {
                Err(Attempt::Retry(reason)) => assert!(reason.contains("failed authentication"), "{reason}"),
                _ => panic!("a forged verdict was trusted"),
            }
        }
        // Replayed against a fresh challenge.
        let ignored = accept_handshake(
            &mut Scripted::new(follower_says(&shared, hello, challenge)),
            &local(0, Some(&shared)),
            [10; NONCE],
        );
        assert!(
            matches!(&ignored, Accepted::Ignored(reason) if reason.contains("failed authentication")),
            "{ignored:?}"
        );
        // A field changed after the proof was made (here: the worker count).
        let mut changed = follower_says(&shared, hello, challenge);
        changed[31] = 2;
        let ignored = accept_handshake(&mut Scripted::new(changed), &local(0, Some(&shared)), challenge);
        assert!(
            matches!(&ignored, Accepted::Ignored(reason) if reason.contains("failed authentication")),
            "{ignored:?}"
        );
        // Another job's secret.
        let ignored = accept_handshake(
            &mut Scripted::new(follower_says(&secret("other job"), hello, challenge)),
            &local(0, Some(&shared)),
            challenge,
        );
        assert!(matches!(ignored, Accepted::Ignored(_)), "{ignored:?}");
    }

    #[test]
    fn the_secret_file_must_be_private_and_the_secret_long_enough() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "0123456789abcdef0123456789abcdef\n").unwrap();
        for mode in [0o644, 0o640, 0o604, 0o660] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let error = Secret::from_file(&path).unwrap_err().to_string();
            assert!(error.contains("may be read by others") && error.contains("chmod 600"), "{error}");
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            Secret::from_file(&path).unwrap(),
            Secret::new("0123456789abcdef0123456789abcdef").unwrap()
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        let from_env = Secret::from_sources(Some(path.clone().into()), None).unwrap();
        assert_eq!(from_env, Some(Secret::new("0123456789abcdef0123456789abcdef").unwrap()));

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&path, "short\n").unwrap();
        let error = Secret::from_file(&path).unwrap_err().to_string();
        assert!(error.contains("at least 16") && error.contains("secret"), "{error}");
        let missing = Secret::from_file(&dir.path().join("missing")).unwrap_err().to_string();
        assert!(missing.contains("missing"), "{missing}");

        assert_eq!(Secret::from_sources(None, None).unwrap(), None);
        assert!(Secret::from_sources(None, Some("0123456789abcdef".into())).unwrap().is_some());
        let both = Secret::from_sources(Some(path.into()), Some("0123456789abcdef".into())).unwrap_err();
        assert!(both.to_string().contains("both"), "{both}");
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        /// Arbitrary bytes, often starting with a well-formed hello so the fuzzing gets past it.
        fn bytes() -> impl Strategy<Value = Vec<u8>> {
            let hello = (any::<[u8; 26]>(), 0u8..3, 0u8..3, any::<[u8; NONCE]>()).prop_map(
                |(numbers, kind, flag, nonce)| [&MAGIC[..], &numbers[..], &[kind, flag], &nonce].concat(),
            );
            (
                prop_oneof![Just(Vec::new()), hello, Just(MAGIC.to_vec())],
                proptest::collection::vec(any::<u8>(), 0..200),
            )
                .prop_map(|(prefix, rest)| [prefix, rest].concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn the_hello_reader_returns_an_error_or_the_hello_it_read(input in bytes()) {
                match read_hello(&mut &input[..]) {
                    Ok(hello) => prop_assert_eq!(&hello.encode()[..], &input[..HELLO]),
                    Err(reason) => prop_assert!(!reason.is_empty()),
                }
            }

            #[test]
            fn arbitrary_bytes_never_authenticate(input in bytes(), challenge in any::<[u8; NONCE]>()) {
                let shared = secret("job");
                let accepted = accept_handshake(&mut Scripted::new(input.clone()), &local(0, Some(&shared)), challenge);
                prop_assert!(matches!(accepted, Accepted::Ignored(_)), "{:?}", accepted);
                // Without a secret anything may come out, but nothing panics.
                let _ = accept_handshake(&mut Scripted::new(input.clone()), &local(0, None), challenge);
                // Nor does the connecting side trust arbitrary answers.
                let answered = connect_handshake(&mut Scripted::new(input), &local(1, Some(&shared)), 0, DATA, challenge);
                prop_assert!(matches!(answered, Err(Attempt::Retry(_))));
            }
        }
    }
}
