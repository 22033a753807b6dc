//! The control socket of a running job: `<checkpoint-dir>/control.sock` (for checkpoints on an
//! object store, in the local directory [`local_dir`] names), a Unix socket that
//! only the job's user may use (mode 0600). A client sends one JSON line, a
//! [`ControlRequest`] such as `{"command":"savepoint","target":"/sp/1","stop":true}` or
//! `{"command":"status"}`, and gets one JSON line back, a [`ControlResponse`], once the request
//! is done. `eddy savepoint`, `eddy stop --savepoint` and `eddy status` are clients.
//!
//! The socket is served by a thread of its own, one short-lived thread per connection, off the
//! checkpoint path: a slow or hostile client delays nobody else. A request must arrive within
//! [`REQUEST_TIMEOUT`] and fit in [`MAX_REQUEST_BYTES`].

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use super::messages::{ControlRequest, ControlResponse, Message, Reply};
use super::storage::local_dir;
use crate::error::{Error, Result};

/// The file name of the control socket in the checkpoint directory.
pub const CONTROL_SOCKET: &str = "control.sock";

/// The longest request line accepted.
pub const MAX_REQUEST_BYTES: u64 = 64 * 1024;

/// How long a client may take to send its request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// Connections served at once; more are refused with an answer saying so.
const MAX_CONNECTIONS: usize = 16;

/// Sends `request` to the job running with checkpoint directory `dir` and waits for the
/// answer (up to `timeout`).
pub fn send_request(dir: &Path, request: &ControlRequest, timeout: Duration) -> Result<ControlResponse> {
    let path = local_dir(dir).join(CONTROL_SOCKET);
    let io = |what: &str, error| Error::io(format!("{what} {}", path.display()), error);
    let mut stream =
        UnixStream::connect(&path).map_err(|error| io("connecting to the job's control socket", error))?;
    stream.set_read_timeout(Some(timeout)).map_err(|error| io("configuring", error))?;
    let mut line = serde_json::to_string(request).map_err(|error| Error::Internal(error.to_string()))?;
    line.push('\n');
    stream.write_all(line.as_bytes()).map_err(|error| io("writing to", error))?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).map_err(|error| io("waiting for an answer on", error))?;
    serde_json::from_str(&answer)
        .map_err(|error| Error::Checkpoint(format!("bad answer `{}` from the job: {error}", answer.trim())))
}

/// Reads one request line from a client: at most [`MAX_REQUEST_BYTES`], within
/// [`REQUEST_TIMEOUT`].
pub(crate) fn read_request(stream: &UnixStream) -> std::result::Result<ControlRequest, String> {
    stream.set_read_timeout(Some(REQUEST_TIMEOUT)).map_err(|error| error.to_string())?;
    let mut line = Vec::new();
    let reader = stream.try_clone().map_err(|error| error.to_string())?;
    BufReader::new(reader.take(MAX_REQUEST_BYTES + 1))
        .read_until(b'\n', &mut line)
        .map_err(|error| format!("reading the request: {error}"))?;
    if line.len() as u64 > MAX_REQUEST_BYTES {
        return Err(format!("request longer than {MAX_REQUEST_BYTES} bytes"));
    }
    if !line.ends_with(b"\n") {
        return Err("the request must be one JSON line ending in a newline".into());
    }
    parse_request(&line)
}

/// Parses one request line.
pub(crate) fn parse_request(line: &[u8]) -> std::result::Result<ControlRequest, String> {
    serde_json::from_slice(line).map_err(|error| format!("bad request: {error}"))
}

/// The control socket's server thread.
pub(crate) struct Server {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Listens on `<dir>/control.sock` (replacing a stale socket file, not a live one) and
    /// forwards every request to the coordinator through `sender`.
    pub(crate) fn start(dir: &Path, sender: mpsc::Sender<Message>) -> Result<Server> {
        let local = local_dir(dir);
        std::fs::create_dir_all(&local)
            .map_err(|error| Error::io(format!("creating {}", local.display()), error))?;
        let path = local.join(CONTROL_SOCKET);
        let listener = bind_private(&local, &path)?;
        listener
            .set_nonblocking(true)
            .map_err(|error| Error::io(format!("listening on {}", path.display()), error))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("eddy-control".into())
            .spawn(move || serve(&listener, &sender, &stopped))
            .map_err(|error| Error::io("starting the control socket thread", error))?;
        Ok(Server { path, stop, thread: Some(thread) })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Binds the socket in a private directory (mode 0700), makes it owner-only (0600), and only
/// then moves it to `path`, so that it is never reachable with the umask's permissions.
fn bind_private(dir: &Path, path: &Path) -> Result<UnixListener> {
    let io = |what: &str, at: &Path, error| Error::io(format!("{what} {}", at.display()), error);
    let private = dir.join(format!(".control-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&private);
    std::fs::create_dir(&private).map_err(|error| io("creating", &private, error))?;
    let result = (|| {
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700))
            .map_err(|error| io("securing", &private, error))?;
        let staged = private.join(CONTROL_SOCKET);
        let listener = UnixListener::bind(&staged).map_err(|error| io("listening on", &staged, error))?;
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600))
            .map_err(|error| io("securing", &staged, error))?;
        if UnixStream::connect(path).is_ok() {
            return Err(Error::Checkpoint(format!(
                "another job is running with checkpoint directory {} (its control socket {} answers)",
                dir.display(),
                path.display()
            )));
        }
        std::fs::rename(&staged, path).map_err(|error| io("moving the control socket to", path, error))?;
        Ok(listener)
    })();
    let _ = std::fs::remove_dir_all(&private);
    result
}

fn serve(listener: &UnixListener, sender: &mpsc::Sender<Message>, stop: &AtomicBool) {
    let active = Arc::new(AtomicUsize::new(0));
    while !stop.load(Ordering::SeqCst) {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            Err(_) => continue,
        };
        let _ = stream.set_nonblocking(false);
        if active.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
            Reply::Socket(stream).send(ControlResponse::failed("too many control connections; try again"));
            continue;
        }
        active.fetch_add(1, Ordering::SeqCst);
        let sender = sender.clone();
        let done = Arc::clone(&active);
        let spawned = std::thread::Builder::new().name("eddy-control-client".into()).spawn(move || {
            match read_request(&stream) {
                Ok(request) => {
                    // The coordinator answers once the request is done; a send error means the
                    // job is ending, and dropping the stream tells the client.
                    let _ = sender.send(Message::Request(request, Reply::Socket(stream)));
                }
                Err(problem) => Reply::Socket(stream).send(ControlResponse::failed(problem)),
            }
            done.fetch_sub(1, Ordering::SeqCst);
        });
        if spawned.is_err() {
            active.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_and_bad_ones_are_named() {
        assert_eq!(parse_request(br#"{"command":"status"}"#), Ok(ControlRequest::Status));
        assert_eq!(
            parse_request(br#"{"command":"savepoint","target":"/sp","stop":true}"#),
            Ok(ControlRequest::Savepoint { target: Some("/sp".into()), stop: true })
        );
        assert!(parse_request(b"{\"command\":\"explode\"}").unwrap_err().starts_with("bad request"));
        assert!(parse_request(b"\xff\xfe").is_err());
    }

    #[test]
    fn the_socket_is_owner_only_and_serves_requests_off_the_caller() {
        let dir = tempfile::tempdir().unwrap();
        let (sender, receiver) = mpsc::channel();
        let server = Server::start(dir.path(), sender).unwrap();
        let path = dir.path().join(CONTROL_SOCKET);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // A second job on the same directory is refused and leaves the live socket alone.
        let (other, _) = mpsc::channel();
        let error = Server::start(dir.path(), other).err().expect("refused").to_string();
        assert!(error.contains("another job"), "{error}");
        assert!(path.exists());

        // A client that never finishes its line does not hold up another one.
        let mut slow = UnixStream::connect(&path).unwrap();
        slow.write_all(b"{\"command\":").unwrap();
        let client = std::thread::spawn({
            let dir = dir.path().to_owned();
            move || send_request(&dir, &ControlRequest::Status, Duration::from_secs(10))
        });
        let Message::Request(request, reply) = receiver.recv_timeout(Duration::from_secs(5)).unwrap() else {
            panic!("expected a request");
        };
        assert_eq!(request, ControlRequest::Status);
        reply.send(ControlResponse { ok: true, path: None, error: None });
        assert!(client.join().unwrap().unwrap().ok);

        // An over-long line is refused with an answer, not buffered without bound.
        let mut long = UnixStream::connect(&path).unwrap();
        let junk = vec![b'x'; (MAX_REQUEST_BYTES + 10) as usize];
        let _ = long.write_all(&junk);
        let mut answer = String::new();
        BufReader::new(long).read_line(&mut answer).unwrap();
        assert!(answer.contains("longer than"), "{answer}");
        drop(slow);
        drop(server);
        assert!(!path.exists());
    }
}

/// Fuzz targets of the control socket's request reader (issue 15): arbitrary bytes, and
/// requests with mutations, are a request or a refusal with a reason, never a panic; a line
/// longer than [`MAX_REQUEST_BYTES`] is refused without being buffered whole. 256 cases each
/// (a few seconds in a debug build); set `PROPTEST_CASES` for a longer run. Failing inputs
/// are kept in `crates/eddy-core/proptest-regressions/checkpoint/socket.txt`.
#[cfg(test)]
mod fuzz_tests {
    use super::*;
    use crate::checkpoint::store::fuzz_tests::{config, mutate, mutations};
    use proptest::prelude::*;

    /// Sends `bytes` (then closes) from a thread, and reads the request as the server does.
    fn read_sent(bytes: Vec<u8>) -> std::result::Result<ControlRequest, String> {
        let (mut client, server) = UnixStream::pair().unwrap();
        let writer = std::thread::spawn(move || {
            // The server stops reading at the limit; the rest of a long line may not fit.
            let _ = client.write_all(&bytes);
        });
        let request = read_request(&server);
        drop(server);
        writer.join().unwrap();
        request
    }

    fn request() -> impl Strategy<Value = Vec<u8>> {
        let valid = prop_oneof![
            Just(ControlRequest::Status),
            (prop::option::of("\\PC{0,20}"), any::<bool>()).prop_map(|(target, stop)| {
                ControlRequest::Savepoint { target: target.map(PathBuf::from), stop }
            }),
        ]
        .prop_map(|request| serde_json::to_vec(&request).unwrap());
        prop_oneof![
            2 => valid.clone(),
            3 => (valid, mutations()).prop_map(|(mut bytes, mutations)| {
                mutate(&mut bytes, &mutations);
                bytes
            }),
            1 => prop::collection::vec(any::<u8>(), 0..100),
        ]
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn fuzz_parse_request(line in request()) {
            if let Err(problem) = parse_request(&line) {
                prop_assert!(problem.starts_with("bad request"), "{problem}");
            }
        }

        #[test]
        fn fuzz_read_request(line in request(), newline in any::<bool>(), padding in prop_oneof![
            4 => Just(0usize),
            1 => Just(MAX_REQUEST_BYTES as usize),
            1 => (MAX_REQUEST_BYTES as usize - 70)..(MAX_REQUEST_BYTES as usize + 10),
        ]) {
            let mut sent = line.clone();
            sent.extend(std::iter::repeat_n(b' ', padding));
            if newline {
                sent.push(b'\n');
            }
            let first_line = sent.iter().position(|&byte| byte == b'\n').map(|end| end + 1);
            let read = read_sent(sent.clone());
            match first_line {
                Some(len) if len as u64 <= MAX_REQUEST_BYTES => {
                    prop_assert_eq!(read, parse_request(&sent[..len]));
                }
                Some(_) => prop_assert!(read.unwrap_err().contains("longer than")),
                None if sent.len() as u64 > MAX_REQUEST_BYTES => {
                    prop_assert!(read.unwrap_err().contains("longer than"));
                }
                None => prop_assert!(read.unwrap_err().contains("one JSON line")),
            }
        }
    }
}
