//! The S3 API server of the tests (moto, started by `scripts/moto.sh` unless `EDDY_TEST_S3`
//! names one), buckets no other test uses, and the environment a job needs to reach it.
//!
//! `EDDY_TEST_S3=skip` skips the S3 tests, loudly; nothing else does: without the variable the
//! server is started.

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use eddy_core::time::{Clock, SystemClock};

/// The key and secret the tests use (moto accepts any without authentication).
pub const ACCESS_KEY: &str = "eddy-test";
/// See [`ACCESS_KEY`].
pub const SECRET_KEY: &str = "eddy-test-secret";

fn server(variable: &str, port: &str, dir: &str, auth: bool) -> Option<String> {
    match std::env::var(variable) {
        Ok(value) if value == "skip" => {
            eprintln!("\n*** {variable}=skip: SKIPPING a test that needs an S3 server ***\n");
            None
        }
        Ok(endpoint) => Some(endpoint),
        Err(_) => {
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
            let mut command = Command::new("bash");
            command.arg(root.join("scripts/moto.sh")).arg("start");
            command.env("EDDY_MOTO_PORT", port).env("EDDY_MOTO_DIR", root.join("target").join(dir));
            if auth {
                command.env("EDDY_MOTO_AUTH", "1");
            }
            let output = command.output().expect("running scripts/moto.sh");
            assert!(output.status.success(), "scripts/moto.sh: {}", String::from_utf8_lossy(&output.stderr));
            Some(String::from_utf8(output.stdout).unwrap().lines().last().unwrap().to_owned())
        }
    }
}

/// The test server's endpoint (`http://127.0.0.1:PORT`): `EDDY_TEST_S3`, or moto started (or
/// found running) by `scripts/moto.sh`. `None` only with `EDDY_TEST_S3=skip`, announced.
pub fn endpoint() -> Option<String> {
    static ENDPOINT: OnceLock<Option<String>> = OnceLock::new();
    ENDPOINT.get_or_init(|| server("EDDY_TEST_S3", "15000", "moto", false)).clone()
}

/// A second server that refuses every credential (`EDDY_TEST_S3_AUTH`, or moto with
/// `EDDY_MOTO_AUTH=1`), for the error a job gets with bad credentials.
pub fn refusing_endpoint() -> Option<String> {
    static ENDPOINT: OnceLock<Option<String>> = OnceLock::new();
    let skip = std::env::var("EDDY_TEST_S3").is_ok_and(|value| value == "skip");
    ENDPOINT
        .get_or_init(|| if skip { None } else { server("EDDY_TEST_S3_AUTH", "15001", "moto-auth", true) })
        .clone()
}

/// A bucket name no other test (or test run) uses, created on the server at `endpoint`.
pub fn new_bucket(endpoint: &str, name: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let bucket = format!("{name}-{}-{}-{n}", std::process::id(), SystemClock.now_ms() % 1_000_000_000);
    create_bucket(endpoint, &bucket);
    bucket
}

/// Creates `bucket` with an unsigned `PUT /bucket` (moto without authentication takes it).
pub fn create_bucket(endpoint: &str, bucket: &str) {
    let address = endpoint.strip_prefix("http://").expect("an http:// endpoint").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(address).expect("connecting to the S3 server");
    let request = format!(
        "PUT /{bucket} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.lines().next().unwrap_or_default();
    assert!(status.contains(" 200"), "creating bucket {bucket}: {status}");
}

/// Points a job started by `command` at the server: endpoint, credentials and region.
pub fn configure(command: &mut Command, endpoint: &str) {
    for (key, value) in environment(endpoint) {
        command.env(key, value);
    }
}

/// The `AWS_*` variables that point a client at the server at `endpoint`.
pub fn environment(endpoint: &str) -> [(&'static str, String); 4] {
    [
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
    ]
}
