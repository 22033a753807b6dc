//! Fraud detection, after Flink's "Fraud Detection with the DataStream API" walkthrough, in
//! event time.
//!
//! Scammers test a stolen card with a tiny transaction and, if it goes through, make a large
//! one. This job reads transactions (`account_id,amount,ts` CSV, `ts` in epoch milliseconds,
//! slightly out of order), keys them by account and raises an [`Alert`] when a transaction
//! below 1.00 is *directly* followed (for that account, in event time) within one minute by a
//! transaction above 500.00.
//!
//! The detector keeps two pieces of keyed state: a `ValueState<bool>` flag ("the last
//! transaction was small") and a `ValueState<u64>` holding the time of an event-time timer set
//! one minute after the small transaction. The timer clears the flag when the minute is over;
//! when the next transaction clears the flag first, the timer is deleted. Watermarks allow
//! 5 seconds of out-of-orderness.
//!
//! ```text
//! cargo run -p eddy-examples --bin fraud_detection                # bundled data/transactions.csv
//! cargo run -p eddy-examples --bin fraud_detection -- --workers 2 --output alerts/
//! ```
//!
//! With `--output DIR` alerts are written as CSV part files (`DIR/part-<worker>.csv`, columns
//! `account_id,small_ts,large_amount,large_ts`); otherwise they are printed.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use eddy::prelude::*;
use serde::{Deserialize, Serialize};

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(about = "Flags small-then-large transaction pairs with eddy")]
struct Args {
    /// CSV file (or directory of CSV files) with the header `account_id,amount,ts` (default:
    /// the bundled sample, `examples/data/transactions.csv`).
    #[arg(long)]
    input: Option<PathBuf>,
    /// Route input lines that cannot be read to the dead-letter output (printed, or written
    /// to `dead-letters/` beside the alerts' directory) instead of failing the job.
    #[arg(long)]
    dead_letters: bool,
    /// Write alerts as CSV part files into this directory instead of printing them.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Workers, processes (a multi-process job) and checkpoints.
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

/// A suspicious small-then-large pair of transactions of one account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Alert {
    account_id: String,
    /// When the small transaction happened.
    small_ts: u64,
    /// The amount of the large transaction.
    large_amount: f64,
    /// When the large transaction happened.
    large_ts: u64,
}

/// Transactions below this amount are "small".
const SMALL_AMOUNT: f64 = 1.00;
/// Transactions above this amount are "large".
const LARGE_AMOUNT: f64 = 500.00;
/// How long after a small transaction a large one raises an alert.
const ONE_MINUTE: u64 = 60_000;
/// How far out of order transactions may arrive before they count as late.
const MAX_OUT_OF_ORDERNESS: u64 = 5_000;

/// The keyed detector; state handles are registered in `open`.
#[derive(Default)]
struct FraudDetector {
    /// Set while the account's last transaction was small (and less than a minute ago).
    flag: Option<ValueState<bool>>,
    /// The time of the pending timer: the small transaction's time plus one minute.
    timer: Option<ValueState<u64>>,
}

impl FraudDetector {
    fn states(&self) -> (ValueState<bool>, ValueState<u64>) {
        (self.flag.clone().expect("opened"), self.timer.clone().expect("opened"))
    }

    /// Forgets the small transaction: deletes its timer and clears the state.
    fn clean_up(&self, ctx: &mut Context<'_, String, Alert>) {
        let (flag, timer) = self.states();
        if let Some(at) = timer.value(ctx) {
            ctx.delete_event_time_timer(at);
        }
        timer.clear(ctx);
        flag.clear(ctx);
    }
}

impl KeyedProcessFunction<String, Transaction, Alert> for FraudDetector {
    fn open(&mut self, ctx: &mut OpenContext<'_, String>) {
        self.flag = Some(ctx.value_state("flag"));
        self.timer = Some(ctx.value_state("timer"));
    }

    fn process_element(&mut self, transaction: Transaction, ctx: &mut Context<'_, String, Alert>) {
        let (flag, timer) = self.states();
        if flag.value(ctx).unwrap_or(false) {
            let deadline = timer.value(ctx).expect("a set flag has a timer");
            let small_ts = deadline - ONE_MINUTE;
            // A transaction that happened before the small one (it arrived out of order) does
            // not follow it: keep waiting for the next one.
            if transaction.ts >= small_ts {
                // The timer may not have fired yet even though the minute is over in event
                // time (the watermark trails by the allowed out-of-orderness), so check the
                // deadline explicitly.
                if transaction.amount > LARGE_AMOUNT && transaction.ts <= deadline {
                    ctx.emit(Alert {
                        account_id: transaction.account_id.clone(),
                        small_ts,
                        large_amount: transaction.amount,
                        large_ts: transaction.ts,
                    });
                }
                self.clean_up(ctx);
            }
        }
        // A flag still set here belongs to a small transaction later in event time than this
        // one, which this one cannot follow; otherwise a small transaction starts the watch.
        if transaction.amount < SMALL_AMOUNT && !flag.value(ctx).unwrap_or(false) {
            let deadline = transaction.ts + ONE_MINUTE;
            flag.update(ctx, true);
            timer.update(ctx, deadline);
            ctx.register_event_time_timer(deadline);
        }
    }

    fn on_timer(&mut self, _timestamp: u64, ctx: &mut Context<'_, String, Alert>) {
        // A minute has passed since the small transaction: it no longer matters.
        let (flag, timer) = self.states();
        timer.clear(ctx);
        flag.clear(ctx);
    }
}

fn main() -> anyhow::Result<()> {
    let Args { input, dead_letters, output, run } = Args::parse();
    let input = eddy_examples::bundled::input_or(input, eddy_examples::bundled::TRANSACTIONS)?;
    let bad_records = if dead_letters { BadRecords::DeadLetter } else { BadRecords::Fail };
    let config = run.job_config()?;
    let summary = Job::new(config)
        .run(move |env| {
            let strategy = WatermarkStrategy::bounded_out_of_orderness(MAX_OUT_OF_ORDERNESS)
                .with_timestamps(|transaction: &Transaction| transaction.ts)
                .with_emit_every(1);
            let transactions =
                env.from_source(FileSource::<Transaction>::csv(&input).on_bad_records(bad_records), strategy);
            let rejected = transactions.side_output(&DEAD_LETTERS);
            let alerts = transactions
                .key_by(|transaction: &Transaction| transaction.account_id.clone())
                .process(FraudDetector::default());
            match &output {
                Some(directory) => {
                    alerts.sink(FileSink::csv(directory));
                    if dead_letters {
                        let letters = directory.with_file_name(format!(
                            "{}-dead-letters",
                            directory.file_name().map_or("alerts".into(), |name| name.to_string_lossy())
                        ));
                        rejected.sink(FileSink::json_lines(letters));
                    }
                }
                None => {
                    alerts.print();
                    if dead_letters {
                        rejected.print();
                    }
                }
            };
            Ok(())
        })
        .context("fraud detection failed")?;
    eprintln!("fraud_detection: read {} transactions", summary.records_read);
    if summary.dead_letters > 0 {
        eprintln!("fraud_detection: {} lines could not be read (dead letters)", summary.dead_letters);
    }
    Ok(())
}
