//! Fraud and intrusion patterns with `eddy::cep`, Flink CEP's Pattern API.
//!
//! Two jobs' worth of patterns in one program:
//!
//! * **Card testing**: per account, a transaction below 1.00 followed by one above 500.00
//!   within one minute (`begin("small").followed_by("large").within(1 min)`), over the bundled
//!   `data/transactions.csv` (or `--input`). Small transactions that see no large one in time
//!   are reported as timed out.
//! * **Password guessing**: per user, three failed logins in a row followed by a successful one
//!   within five minutes (`begin("failed").times(3).consecutive().next("success")`), over a
//!   small built-in login stream.
//!
//! ```text
//! cargo run -p eddy-examples --bin cep_fraud
//! cargo run -p eddy-examples --bin cep_fraud -- --workers 2
//! ```

use std::path::PathBuf;

use clap::Parser;
use eddy::cep::{Match, Pattern, PatternStreamExt, TimedOut};
use eddy::prelude::*;
use serde::{Deserialize, Serialize};

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(about = "Card-testing and password-guessing patterns with eddy's CEP")]
struct Args {
    /// CSV file with the header `account_id,amount,ts` (default: the bundled sample).
    #[arg(long)]
    input: Option<PathBuf>,
    /// Write the card-testing alerts (and timeouts) exactly once into this directory (JSON
    /// lines, committed with each checkpoint) instead of printing them.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Read at most this many transactions per second (to watch, or crash, a run midway).
    #[arg(long)]
    max_rate: Option<u64>,
    /// Workers, processes and checkpoints.
    #[command(flatten)]
    run: eddy::cli::RunArgs,
}

/// A card transaction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Transaction {
    account_id: String,
    amount: f64,
    /// Event time, epoch milliseconds.
    ts: u64,
}

/// A login attempt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Login {
    user: String,
    success: bool,
    ts: u64,
}

const ONE_MINUTE: i64 = 60_000;
const TIMED_OUT: OutputTag<TimedOut<Transaction>> = OutputTag::new("card-testing-timed-out");

fn logins() -> Vec<Login> {
    let login = |user: &str, success, ts| Login { user: user.into(), success, ts };
    vec![
        login("alice", false, 1_000),
        login("bob", false, 2_000),
        login("alice", false, 3_000),
        login("alice", false, 4_000),
        login("bob", true, 5_000),
        login("alice", true, 6_000), // three failures, then success: an alert
        login("carol", false, 7_000),
        login("carol", false, 8_000),
        login("carol", true, 9_000), // only two failures
    ]
}

fn card_testing() -> Pattern<Transaction> {
    Pattern::begin("small")
        .where_fn(|t: &Transaction| t.amount < 1.00)
        .followed_by("large")
        .where_fn(|t: &Transaction| t.amount > 500.00)
        .within(ONE_MINUTE)
}

fn password_guessing() -> Pattern<Login> {
    Pattern::begin("failed")
        .where_fn(|l: &Login| !l.success)
        .times(3)
        .consecutive()
        .next("success")
        .where_fn(|l: &Login| l.success)
        .within(5 * ONE_MINUTE)
}

fn describe_card(found: &Match<Transaction>) -> String {
    let (small, large) = (&found.get("small")[0], &found.get("large")[0]);
    format!(
        "card testing: account {} paid {:.2} at {} then {:.2} at {}",
        small.account_id, small.amount, small.ts, large.amount, large.ts
    )
}

fn main() -> anyhow::Result<()> {
    let Args { input, output, max_rate, run } = Args::parse();
    let input = eddy_examples::bundled::input_or(input, eddy_examples::bundled::TRANSACTIONS)?;
    Job::new(run.job_config()?).run(move |env| {
        let strategy = WatermarkStrategy::bounded_out_of_orderness(5_000)
            .with_timestamps(|t: &Transaction| t.ts)
            .with_emit_every(1);
        let mut source = FileSource::<Transaction>::csv(&input);
        if let Some(rate) = max_rate {
            source = source.with_max_rate(rate);
        }
        let transactions = env.from_source(source, strategy);
        let alerts = transactions
            .key_by(|t: &Transaction| t.account_id.clone())
            .pattern(card_testing())
            .side_output_timed_out(TIMED_OUT)
            .select(describe_card)?;
        let timed_out = alerts.side_output(&TIMED_OUT).map(|t| {
            let small = &t.partial.get("small")[0];
            format!(
                "no large charge within a minute: account {} small {:.2} at {}",
                small.account_id, small.amount, small.ts
            )
        });
        match &output {
            Some(dir) => {
                alerts.union([timed_out]).sink(FileSink::json_lines(dir)).uid("alerts");
                return Ok(());
            }
            None => {
                timed_out.print();
                alerts.print();
            }
        }

        let attempts = env.from_source(
            CollectionSource::new(logins()),
            WatermarkStrategy::bounded_out_of_orderness(0)
                .with_timestamps(|l: &Login| l.ts)
                .with_emit_every(1),
        );
        attempts
            .key_by(|l: &Login| l.user.clone())
            .pattern(password_guessing())
            .select(|found: &Match<Login>| {
                let success = &found.get("success")[0];
                format!("password guessing: {} logged in at {} after 3 failures", success.user, success.ts)
            })?
            .print();
        Ok(())
    })?;
    Ok(())
}
