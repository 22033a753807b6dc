//! The async enrichment example against an HTTP service started by the test, which delays,
//! fails (503) and stalls past the timeout on command: retries and timeouts must still
//! enrich every order exactly once; so must a run that aborts after its second committed
//! checkpoint (`EDDY_FAILPOINT=after-commit:2`) or is killed with SIGKILL at random moments,
//! restored at another worker count.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use eddy_testkit::output::committed;

const BINARY: &str = env!("CARGO_BIN_EXE_async-enrich");
const SPLITS: u64 = 2;
const ORDERS: u64 = 1_500;

/// What the service does, changeable while it runs.
#[derive(Default)]
struct Behaviour {
    /// Milliseconds every answer waits.
    delay_ms: AtomicU64,
    /// Every n-th request is answered 503 (0: never).
    fail_every: AtomicU64,
    /// Every n-th request waits two seconds, past the client's timeout (0: never).
    stall_every: AtomicU64,
    requests: AtomicU64,
    failed: AtomicU64,
    stalled: AtomicU64,
}

/// An HTTP service answering `GET /customer/<id>` with `customer-<id>`, a thread per request.
struct Service {
    address: String,
    behaviour: Arc<Behaviour>,
}

impl Service {
    fn start() -> Service {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("the test service starts"));
        let address = server.server_addr().to_ip().expect("an IP address").to_string();
        let behaviour = Arc::new(Behaviour::default());
        let (serving, state) = (Arc::clone(&server), Arc::clone(&behaviour));
        std::thread::spawn(move || {
            while let Ok(request) = serving.recv() {
                let state = Arc::clone(&state);
                std::thread::spawn(move || answer(request, &state));
            }
        });
        Service { address, behaviour }
    }
}

fn answer(request: tiny_http::Request, state: &Behaviour) {
    let number = state.requests.fetch_add(1, Ordering::SeqCst) + 1;
    std::thread::sleep(Duration::from_millis(state.delay_ms.load(Ordering::SeqCst)));
    let every = |setting: &AtomicU64| {
        let every = setting.load(Ordering::SeqCst);
        every > 0 && number.is_multiple_of(every)
    };
    if every(&state.stall_every) {
        state.stalled.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_secs(2));
    }
    let response = match request.url().strip_prefix("/customer/") {
        _ if every(&state.fail_every) => {
            state.failed.fetch_add(1, Ordering::SeqCst);
            tiny_http::Response::from_string("unavailable").with_status_code(503)
        }
        Some(id) if id.parse::<u64>().is_ok() => tiny_http::Response::from_string(format!("customer-{id}")),
        _ => tiny_http::Response::from_string("no such customer").with_status_code(404),
    };
    // The client may have given up (timeout): nothing to do then.
    let _ = request.respond(response);
}

fn command(
    service: &Service,
    output: &Path,
    checkpoints: Option<&Path>,
    workers: usize,
    rate: u64,
) -> Command {
    let mut command = Command::new(BINARY);
    command
        .args(["--service", &service.address, "--timeout-ms", "100", "--workers", &workers.to_string()])
        .args(["--orders", &ORDERS.to_string(), "--splits", &SPLITS.to_string()])
        .args(["--max-rate", &rate.to_string()])
        .arg("--output")
        .arg(output)
        .env_remove("EDDY_FAILPOINT")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    if let Some(checkpoints) = checkpoints {
        command.arg("--checkpoint-dir").arg(checkpoints).args([
            "--checkpoint-interval",
            "50ms",
            "--restore",
            "latest",
        ]);
    }
    command
}

/// Every order of every split exactly once in the committed output, with its customer's name.
fn assert_every_order_enriched_once(output: &Path) {
    let mut seen: BTreeMap<u64, usize> = BTreeMap::new();
    for (line, count) in committed(output) {
        let value: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
        let customer = value["customer"].as_u64().expect("a customer");
        assert_eq!(value["name"], format!("customer-{customer}"), "{line}");
        *seen.entry(value["order"].as_u64().expect("an order")).or_default() += count;
    }
    let expected: Vec<u64> =
        (0..SPLITS).flat_map(|split| (0..ORDERS).map(move |n| split * 1_000_000 + n)).collect();
    let missing: Vec<&u64> = expected.iter().filter(|order| !seen.contains_key(order)).take(5).collect();
    let twice: Vec<(&u64, &usize)> = seen.iter().filter(|(_, &count)| count != 1).take(5).collect();
    assert!(missing.is_empty() && twice.is_empty(), "missing {missing:?}, more than once {twice:?}");
    assert_eq!(seen.len(), expected.len(), "no order the source did not produce");
}

fn run_to_end(mut command: Command) {
    let output = command.output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn slow_failing_and_stalling_requests_are_retried() {
    let service = Service::start();
    service.behaviour.delay_ms.store(2, Ordering::SeqCst);
    service.behaviour.fail_every.store(7, Ordering::SeqCst);
    service.behaviour.stall_every.store(29, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out");
    run_to_end(command(&service, &output, None, 2, 100_000));
    assert_every_order_enriched_once(&output);
    let (failed, stalled) =
        (service.behaviour.failed.load(Ordering::SeqCst), service.behaviour.stalled.load(Ordering::SeqCst));
    assert!(failed > 100 && stalled > 20, "the service failed {failed} and stalled {stalled} requests");
    let requests = service.behaviour.requests.load(Ordering::SeqCst);
    assert!(requests >= SPLITS * ORDERS + failed + stalled, "{requests} requests: every failure was retried");
}

#[test]
fn abort_after_a_commit_and_restore_at_another_parallelism() {
    let service = Service::start();
    service.behaviour.fail_every.store(11, Ordering::SeqCst);
    service.behaviour.stall_every.store(97, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let (output, checkpoints) = (dir.path().join("out"), dir.path().join("chk"));
    let mut first = command(&service, &output, Some(&checkpoints), 2, 2_000);
    first.env("EDDY_FAILPOINT", "after-commit:2");
    let result = first.output().unwrap();
    assert!(!result.status.success(), "the failpoint aborts the run");
    let partial = committed(&output).len() as u64;
    assert!(partial > 0 && partial < SPLITS * ORDERS, "aborted mid-run with {partial} orders committed");
    run_to_end(command(&service, &output, Some(&checkpoints), 3, 100_000));
    assert_every_order_enriched_once(&output);
}

#[test]
fn kill_9_at_random_moments_and_restore() {
    let service = Service::start();
    service.behaviour.delay_ms.store(1, Ordering::SeqCst);
    service.behaviour.fail_every.store(13, Ordering::SeqCst);
    service.behaviour.stall_every.store(101, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let (output, checkpoints) = (dir.path().join("out"), dir.path().join("chk"));
    eddy_testkit::crash::kill_at_random_moments(&[2, 1, 4], (150, 400), |workers| {
        command(&service, &output, Some(&checkpoints), workers, 1_500).spawn().unwrap()
    });
    eddy_testkit::crash::finish(&[3, 1], |workers| {
        command(&service, &output, Some(&checkpoints), workers, 100_000).output().unwrap()
    });
    assert_every_order_enriched_once(&output);
}
