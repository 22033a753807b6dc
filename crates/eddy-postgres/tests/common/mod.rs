//! The test server and helpers the PostgreSQL connector's tests share: the server's address
//! (`EDDY_TEST_PG`, else the private cluster `scripts/postgres.sh start` runs), skipping only
//! when `EDDY_PG_SKIP=1` says so, names unique within the test process, and SQL helpers.

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use eddy_core::time::Clock;
use eddy_postgres::client::{ConnectConfig, Connection};

/// The test server, or `None` when none can be had and `EDDY_PG_SKIP=1` allows skipping;
/// panics with what to do otherwise.
pub fn server_or_skip() -> Option<String> {
    static SERVER: OnceLock<Result<String, String>> = OnceLock::new();
    match SERVER.get_or_init(find) {
        Ok(url) => Some(url.clone()),
        Err(problem) if std::env::var("EDDY_PG_SKIP").is_ok_and(|value| value == "1") => {
            eprintln!("skipped (EDDY_PG_SKIP=1): no PostgreSQL: {problem}");
            None
        }
        Err(problem) => panic!(
            "the PostgreSQL connector's tests need PostgreSQL and none could be had: {problem}\n\
             Start one with `bash scripts/postgres.sh start` (it installs Debian's postgresql if \
             needed) or set EDDY_TEST_PG=host:port; EDDY_PG_SKIP=1 skips these tests locally."
        ),
    }
}

fn find() -> Result<String, String> {
    let address = match std::env::var("EDDY_TEST_PG") {
        Ok(address) => address,
        Err(_) => {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres.sh");
            let output = Command::new("bash")
                .arg(script)
                .arg("start")
                .output()
                .map_err(|error| format!("could not run scripts/postgres.sh: {error}"))?;
            if !output.status.success() {
                return Err(format!(
                    "scripts/postgres.sh start failed: {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                ));
            }
            String::from_utf8_lossy(&output.stdout).lines().last().unwrap_or_default().trim().to_owned()
        }
    };
    let url = format!("postgresql://postgres@{address}/postgres");
    let mut connection = Connection::connect(&ConnectConfig::parse(&url).map_err(|e| e.to_string())?, false)
        .map_err(|error| format!("PostgreSQL at {address} does not answer: {error}"))?;
    let level = connection.query("SHOW wal_level").map_err(|error| error.to_string())?;
    if level.rows[0][0].as_deref() != Some("logical") {
        return Err(format!(
            "PostgreSQL at {address} runs with wal_level = {:?}; the CDC source needs `logical` \
             (scripts/postgres.sh sets it; restart a cluster started before that change)",
            level.rows[0][0]
        ));
    }
    Ok(url)
}

/// A name no other test of this process (or of another process) uses.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let millis = eddy_core::time::SystemClock.now_ms() % 100_000_000;
    format!("{prefix}_{}_{millis}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A new connection to `url`.
pub fn connect(url: &str) -> Connection {
    Connection::connect(&ConnectConfig::parse(url).unwrap(), false).unwrap()
}

/// Runs `sql`, panicking with the server's message on an error.
pub fn execute(url: &str, sql: &str) {
    connect(url).execute(sql).unwrap_or_else(|error| panic!("{sql}: {error}"));
}

/// The rows of `sql`, each as its columns' text joined with `|` (NULL as `∅`), sorted.
pub fn rows(url: &str, sql: &str) -> Vec<String> {
    let result = connect(url).query(sql).unwrap_or_else(|error| panic!("{sql}: {error}"));
    let mut rows: Vec<String> = result
        .rows
        .iter()
        .map(|row| row.iter().map(|value| value.as_deref().unwrap_or("∅")).collect::<Vec<_>>().join("|"))
        .collect();
    rows.sort();
    rows
}
