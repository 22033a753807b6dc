//! Async I/O: every order is enriched with its customer's name from an HTTP service, many
//! requests in flight at once, with a timeout per attempt and retries with exponential
//! back-off, written exactly once through the two-phase-commit file sink (Flink's
//! `AsyncDataStream.unorderedWait` with an `AsyncRetryStrategy`).
//!
//! Orders are generated (`--splits` splits of `--orders` orders each); the service answers
//! `GET /customer/<id>` with the customer's name as the body. Output lines:
//! `{"order":17,"customer":5,"name":"Ada","amount":120,"ts":170}`.
//!
//! ```text
//! cargo run --release -p eddy-examples --bin async-enrich -- --service 127.0.0.1:8080 \
//!     --output out/ --checkpoint-dir chk/ --checkpoint-interval 1s --workers 2 [--restore latest]
//! ```
//!
//! After a crash (even `kill -9`), running the same command with `--restore latest` (at any
//! `--workers`) leaves every order enriched exactly once in the committed output: requests
//! in flight at the crash are issued again for the records the sources replay.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use eddy::async_io::{AsyncDataStream, AsyncOptions, AsyncRetryStrategy, BoxError, OnFailure};
use eddy::prelude::*;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(about = "Enrich orders from an HTTP service with async I/O, exactly once")]
struct Args {
    /// The customer service, `host:port`.
    #[arg(long)]
    service: String,
    /// Output directory (committed files do not start with a dot).
    #[arg(long)]
    output: PathBuf,
    /// Orders per split.
    #[arg(long, default_value_t = 2_000)]
    orders: u64,
    /// Splits of the order source.
    #[arg(long, default_value_t = 2)]
    splits: usize,
    /// Orders per second per split at most.
    #[arg(long)]
    max_rate: Option<u64>,
    /// Milliseconds one request may take before it is retried.
    #[arg(long, default_value_t = 200)]
    timeout_ms: u64,
    /// Requests in flight per worker at most.
    #[arg(long, default_value_t = 32)]
    capacity: usize,
    /// Workers, processes and checkpoints.
    #[command(flatten)]
    run: eddy::cli::RunArgs,
}

/// An order.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Order {
    order: u64,
    customer: u64,
    amount: u64,
    ts: u64,
}

/// An order with its customer's name.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Enriched {
    order: u64,
    customer: u64,
    name: String,
    amount: u64,
    ts: u64,
}

/// Order `n` of split `split`.
fn order(split: usize, n: u64) -> Order {
    let order = split as u64 * 1_000_000 + n;
    Order { order, customer: (n * 7 + split as u64) % 50, amount: (n * 31) % 500, ts: n * 10 + split as u64 }
}

/// `GET path` on `service` (HTTP/1.1, one request per connection): the body of a 200
/// response, an error naming the status otherwise.
async fn http_get(service: &str, path: &str) -> Result<String, BoxError> {
    let mut stream = TcpStream::connect(service).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {service}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let response = String::from_utf8(response)?;
    let (head, body) = response.split_once("\r\n\r\n").ok_or("a response without a header end")?;
    let status = head.split(' ').nth(1).ok_or("a response without a status")?;
    if status != "200" {
        return Err(format!("GET {path}: status {status}: {body}").into());
    }
    Ok(body.to_owned())
}

/// Builds the pipeline on one worker.
fn build(env: &mut Env<'_>, args: &Args) -> Result<()> {
    let mut source = GeneratorSource::new(args.splits, order).with_count(args.orders);
    if let Some(rate) = args.max_rate {
        source = source.with_rate(rate);
    }
    let strategy = WatermarkStrategy::bounded_out_of_orderness(100)
        .with_timestamps(|order: &Order| order.ts)
        .with_emit_every(64);
    let orders = env.from_source(source, strategy).uid("orders");
    let service: Arc<str> = Arc::from(args.service.as_str());
    let lookup = move |order: Order| {
        let service = Arc::clone(&service);
        async move {
            let name = http_get(&service, &format!("/customer/{}", order.customer)).await?;
            Ok(Enriched {
                order: order.order,
                customer: order.customer,
                name,
                amount: order.amount,
                ts: order.ts,
            })
        }
    };
    let options = AsyncOptions::new(Duration::from_millis(args.timeout_ms), args.capacity)
        .retry(AsyncRetryStrategy::exponential_backoff(
            12,
            Duration::from_millis(10),
            Duration::from_millis(500),
            2.0,
        ))
        .on_timeout(OnFailure::Fail)
        .on_error(OnFailure::Fail);
    AsyncDataStream::unordered_wait(orders, lookup, options)
        .sink(FileSink::json_lines(&args.output))
        .uid("output");
    Ok(())
}

/// Runs the job with `args`.
fn run(args: Args) -> anyhow::Result<JobSummary> {
    let config = args.run.job_config()?;
    let args = Arc::new(args);
    let summary = Job::new(config).run(move |env| build(env, &args))?;
    Ok(summary)
}

fn main() -> std::process::ExitCode {
    match run(Args::parse()) {
        Ok(summary) => {
            eprintln!("done: {} orders read", summary.records_read);
            std::process::ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("async_enrich: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
