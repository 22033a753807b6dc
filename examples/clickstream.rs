//! Clickstream analytics: clicks per user in 10-second tumbling event-time windows, with late
//! clicks routed to a side output.
//!
//! Reads click events (`{"user":"alice","page":"/home","ts":1700000000123}` JSON lines, `ts` in
//! epoch milliseconds) that arrive out of order. Watermarks trail the largest timestamp seen
//! by 2 seconds and advance after every record, so whether a click is late is exact and
//! reproducible. A [`KeyedProcessFunction`] keyed by user keeps a `MapState` from window start
//! to click count and registers an event-time timer at the last millisecond of each window;
//! when the watermark passes it, the timer emits [`PageCounts`] for that window.
//!
//! A click whose window has already fired (window end `<=` the current watermark) is *late*:
//! it is not counted but sent to the `late-clicks` side output, which the job prints (or
//! writes) as well. A click behind the watermark whose window is still open is counted, as in
//! Flink's window operator.
//!
//! ```text
//! cargo run -p eddy-examples --bin clickstream                    # bundled data/clicks.jsonl
//! cargo run -p eddy-examples --bin clickstream -- --workers 2 --output out/
//! ```
//!
//! With `--output DIR` window counts go to `DIR/windows/part-<worker>.csv` (columns
//! `user,window_start,window_end,clicks`) and late clicks to `DIR/late/part-<worker>.jsonl`.
//!
//! With `--generate RATE` the same job runs on an unbounded stream of synthetic clicks (RATE
//! per second per split, in event time that follows the clock) until Ctrl-C, which stops the
//! sources, fires the open windows and finishes the output.

use std::fmt;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use eddy::prelude::*;
use serde::{Deserialize, Serialize};

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(about = "Counts clicks per user in 10-second event-time windows with eddy")]
struct Args {
    /// JSON-lines file (or directory of them) of clicks: {"user":..,"page":..,"ts":..}
    /// (default: the bundled sample, `examples/data/clicks.jsonl`).
    #[arg(long)]
    input: Option<PathBuf>,
    /// Route input lines that cannot be read to the dead-letter output (printed, or written
    /// to `dead-letters/` under `--output`) instead of failing the job.
    #[arg(long)]
    dead_letters: bool,
    /// Write results into this directory (`windows/` as CSV, `late/` as JSON lines) instead of
    /// printing them.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Workers, processes (a multi-process job) and checkpoints.
    #[command(flatten)]
    run: eddy::cli::RunArgs,
    /// Instead of reading `--input`, generate this many clicks per second (per split, two
    /// splits) without end; stop with Ctrl-C.
    #[arg(long)]
    generate: Option<u64>,
}

/// A page view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Click {
    user: String,
    page: String,
    /// Event time, epoch milliseconds.
    ts: u64,
}

/// The number of clicks of one user in one window `[window_start, window_end)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct PageCounts {
    user: String,
    window_start: u64,
    window_end: u64,
    clicks: u64,
}

/// Clicks whose window had already been emitted when they arrived.
const LATE: OutputTag<Click> = OutputTag::new("late-clicks");
/// The window length.
const WINDOW_MS: u64 = 10_000;
/// How far out of order clicks may arrive.
const MAX_OUT_OF_ORDERNESS: u64 = 2_000;

/// Counts clicks per user and window; the state handle is registered in `open`.
#[derive(Default)]
struct ClicksPerWindow {
    /// Window start -> clicks so far, for the windows of the current user still open.
    counts: Option<MapState<u64, u64>>,
}

impl KeyedProcessFunction<String, Click, PageCounts> for ClicksPerWindow {
    fn open(&mut self, ctx: &mut OpenContext<'_, String>) {
        self.counts = Some(ctx.map_state("clicks-per-window"));
    }

    fn process_element(&mut self, click: Click, ctx: &mut Context<'_, String, PageCounts>) {
        let counts = self.counts.clone().expect("opened");
        let window_start = click.ts - click.ts % WINDOW_MS;
        let window_end = window_start + WINDOW_MS;
        // The window's timer (at window_end - 1) fires once the watermark reaches window_end.
        if window_end <= ctx.current_watermark() {
            ctx.emit_to(&LATE, click);
            return;
        }
        let clicks = counts.get(ctx, &window_start).unwrap_or(0);
        if clicks == 0 {
            ctx.register_event_time_timer(window_end - 1);
        }
        counts.put(ctx, window_start, clicks + 1);
    }

    fn on_timer(&mut self, timestamp: u64, ctx: &mut Context<'_, String, PageCounts>) {
        let counts = self.counts.clone().expect("opened");
        let window_end = timestamp + 1;
        let window_start = window_end - WINDOW_MS;
        let clicks = counts.remove(ctx, &window_start).unwrap_or(0);
        let user = ctx.key().clone();
        ctx.emit(PageCounts { user, window_start, window_end, clicks });
    }
}

/// Formats epoch milliseconds as a UTC time of day: `HH:MM:SS`, with `.mmm` unless the
/// milliseconds are zero.
fn time_of_day(ms: u64) -> String {
    let ms = ms % 86_400_000;
    let (hours, minutes, seconds) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1_000 % 60);
    match ms % 1_000 {
        0 => format!("{hours:02}:{minutes:02}:{seconds:02}"),
        millis => format!("{hours:02}:{minutes:02}:{seconds:02}.{millis:03}"),
    }
}

/// A line of text whose `Debug` form is the text itself, so `print()` shows it unquoted.
#[derive(Clone)]
struct Line(String);

impl fmt::Debug for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for PageCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "window [{} .. {})  user {:<5} clicks {}",
            time_of_day(self.window_start),
            time_of_day(self.window_end),
            self.user,
            self.clicks
        )
    }
}

impl fmt::Display for Click {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LATE click at {}  user {:<5} page {}", time_of_day(self.ts), self.user, self.page)
    }
}

/// An unbounded source of synthetic clicks: click `n` of split `s` happens `n / rate` seconds
/// after `start_ms`, a little out of order, with some clicks far behind.
fn generated_clicks(rate: u64, start_ms: u64) -> GeneratorSource<Click> {
    const USERS: [&str; 4] = ["alice", "bob", "carol", "dave"];
    const PAGES: [&str; 4] = ["/home", "/cart", "/search", "/checkout"];
    GeneratorSource::new(2, move |split, n| {
        let mix = (n.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as usize + split;
        let on_time = start_ms + n * 1_000 / rate;
        // Mostly within the allowed out-of-orderness; every 50th click is 5 s behind.
        let behind = if n % 50 == 49 { 5_000 } else { (mix % 1_500) as u64 };
        Click {
            user: USERS[mix % USERS.len()].to_string(),
            page: PAGES[(mix / 7) % PAGES.len()].to_string(),
            ts: on_time.saturating_sub(behind),
        }
    })
    .with_rate(rate)
}

fn main() -> anyhow::Result<()> {
    let Args { input, dead_letters, output, run, generate } = Args::parse();
    let input = eddy_examples::bundled::input_or(input, eddy_examples::bundled::CLICKS)?;
    let bad_records = if dead_letters { BadRecords::DeadLetter } else { BadRecords::Fail };
    let start_ms = SystemClock.now_ms();
    let config = run.job_config()?;
    let summary = Job::new(config)
        .run(move |env| {
            let strategy = WatermarkStrategy::bounded_out_of_orderness(MAX_OUT_OF_ORDERNESS)
                .with_timestamps(|click: &Click| click.ts)
                .with_emit_every(1);
            let clicks = match generate {
                Some(rate) => env.from_source(generated_clicks(rate, start_ms), strategy),
                None => env.from_source(
                    FileSource::<Click>::json_lines(&input).on_bad_records(bad_records),
                    strategy,
                ),
            };
            let rejected = clicks.side_output(&DEAD_LETTERS);
            let windows =
                clicks.key_by(|click: &Click| click.user.clone()).process(ClicksPerWindow::default());
            let late = windows.side_output(&LATE);
            match &output {
                Some(directory) => {
                    windows.sink(FileSink::csv(directory.join("windows")));
                    late.sink(FileSink::json_lines(directory.join("late")));
                    if dead_letters {
                        rejected.sink(FileSink::json_lines(directory.join("dead-letters")));
                    }
                }
                None => {
                    windows.map(|counts| Line(counts.to_string())).print();
                    late.map(|click| Line(click.to_string())).print();
                    if dead_letters {
                        rejected.map(|letter| Line(format!("dead letter: {letter:?}"))).print();
                    }
                }
            }
            Ok(())
        })
        .context("clickstream job failed")?;
    eprintln!("clickstream: read {} clicks", summary.records_read);
    if summary.dead_letters > 0 {
        eprintln!("clickstream: {} lines could not be read (dead letters)", summary.dead_letters);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times_of_day_in_utc() {
        assert_eq!(time_of_day(1_700_000_000_123), "22:13:20.123");
        assert_eq!(time_of_day(1_700_000_010_000), "22:13:30");
        assert_eq!(time_of_day(0), "00:00:00");
    }
}
