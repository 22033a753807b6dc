//! The Kafka broker of the tests, and topic names no other test run uses.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use eddy_core::time::{Clock, SystemClock};

/// The test broker's address: `EDDY_KAFKA_BROKERS`, or the local broker `scripts/kafka.sh
/// start` starts (or finds running). Started once per test binary.
pub fn brokers() -> String {
    static BROKERS: OnceLock<String> = OnceLock::new();
    BROKERS
        .get_or_init(|| {
            if let Ok(brokers) = std::env::var("EDDY_KAFKA_BROKERS") {
                return brokers;
            }
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/kafka.sh");
            let output = Command::new("bash").arg(script).arg("start").output().unwrap();
            assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
            String::from_utf8(output.stdout).unwrap().lines().last().unwrap().to_owned()
        })
        .clone()
}

/// `name` made unique to this call: tests run in parallel threads of one process, and test
/// runs share the broker.
pub fn unique_topic(name: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    format!("{name}-{}-{}-{n}", std::process::id(), SystemClock.now_ms())
}
