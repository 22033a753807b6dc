//! Word count: the "hello world" of stream processing, run as a bounded job.
//!
//! Reads a text file line by line (with a small hand-written [`Source`], `TextLines`), splits
//! the lines into lowercase words, partitions them by word and counts each word with a
//! [`KeyedProcessFunction`]. The count lives in keyed `ValueState`; an event-time timer at the
//! end of time fires when the bounded input ends and emits the final count, so the output has
//! exactly one `(word, count)` row per distinct word.
//!
//! ```text
//! cargo run -p eddy-examples --bin wordcount                      # bundled data/words.txt
//! cargo run -p eddy-examples --bin wordcount -- --input book.txt --workers 4 --output out/
//! ```
//!
//! With `--output DIR` the counts are written as CSV part files (`DIR/part-<worker>.csv`,
//! columns `word,count`); otherwise they are printed as `<worker>> WordCount { .. }`.

use std::fs::File;
use std::io::{BufRead, BufReader, Lines};
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use eddy::prelude::*;
use serde::{Deserialize, Serialize};

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(about = "Counts the words of a text file with eddy")]
struct Args {
    /// The text file to read (default: the bundled sample, `examples/data/words.txt`).
    #[arg(long)]
    input: Option<PathBuf>,
    /// Write the counts as CSV part files into this directory instead of printing them.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Workers, processes (a multi-process job) and checkpoints.
    #[command(flatten)]
    run: eddy::cli::RunArgs,
}

/// The final count of one word.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct WordCount {
    word: String,
    count: u64,
}

/// A bounded source reading the lines of one text file. The file is a single split, read by
/// worker 0; a record's position is its 1-based line number.
struct TextLines {
    path: PathBuf,
}

impl Source<String> for TextLines {
    fn name(&self) -> String {
        format!("text:{}", self.path.display())
    }

    fn splits(&self, context: &SplitContext) -> eddy::Result<Vec<Box<dyn SplitReader<String>>>> {
        if context.worker_index != 0 {
            return Ok(Vec::new());
        }
        let file = File::open(&self.path)
            .map_err(|error| eddy::Error::io(format!("opening {}", self.path.display()), error))?;
        Ok(vec![Box::new(TextLinesReader {
            id: self.path.display().to_string(),
            lines: BufReader::new(file).lines(),
            line: 0,
        })])
    }
}

/// Reads one text file, line by line.
struct TextLinesReader {
    id: String,
    lines: Lines<BufReader<File>>,
    line: u64,
}

impl SplitReader<String> for TextLinesReader {
    fn split_id(&self) -> &str {
        &self.id
    }

    fn read(&mut self, output: &mut SplitOutput<String>, max_records: usize) -> eddy::Result<ReadStatus> {
        for _ in 0..max_records {
            match self.lines.next() {
                None => return Ok(ReadStatus::Finished),
                Some(Ok(text)) => {
                    self.line += 1;
                    output.push(self.line, text);
                }
                Some(Err(error)) => {
                    let context = format!("reading {} after line {}", self.id, self.line);
                    return Err(eddy::Error::io(context, error));
                }
            }
        }
        Ok(ReadStatus::More)
    }
}

/// Splits a line into lowercase words: maximal runs of letters, digits and apostrophes
/// (leading and trailing apostrophes dropped, so `'quoted'` is `quoted` but `don't` stays).
fn words(line: &str) -> Vec<String> {
    line.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|word| word.trim_matches('\''))
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The end of a bounded input: a timer here fires only once every source has ended.
const END_OF_INPUT: u64 = u64::MAX - 1;

/// Counts the records of each key and emits the total when the input ends.
#[derive(Default)]
struct CountWords {
    count: Option<ValueState<u64>>,
}

impl KeyedProcessFunction<String, String, WordCount> for CountWords {
    fn open(&mut self, ctx: &mut OpenContext<'_, String>) {
        self.count = Some(ctx.value_state("count"));
    }

    fn process_element(&mut self, _word: String, ctx: &mut Context<'_, String, WordCount>) {
        let state = self.count.as_ref().expect("opened");
        let count = state.value(ctx).unwrap_or(0);
        if count == 0 {
            ctx.register_event_time_timer(END_OF_INPUT);
        }
        state.update(ctx, count + 1);
    }

    fn on_timer(&mut self, _timestamp: u64, ctx: &mut Context<'_, String, WordCount>) {
        let state = self.count.as_ref().expect("opened");
        let count = state.value(ctx).unwrap_or(0);
        state.clear(ctx);
        let word = ctx.key().clone();
        ctx.emit(WordCount { word, count });
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let Args { input, output, run } = args;
    let input = eddy_examples::bundled::input_or(input, eddy_examples::bundled::WORDS)?;
    let config = run.job_config()?;
    let summary = Job::new(config)
        .run(move |env| {
            // No event time in a text file: every line gets timestamp 0, so the only timer
            // that matters is the one at the end of input.
            let counts = env
                .from_source(TextLines { path: input.clone() }, WatermarkStrategy::monotonous_timestamps())
                .flat_map(|line: String| words(&line))
                .key_by(|word: &String| word.clone())
                .process(CountWords::default());
            match &output {
                Some(directory) => counts.sink(FileSink::csv(directory)),
                None => counts.print(),
            };
            Ok(())
        })
        .context("word count failed")?;
    eprintln!("wordcount: read {} lines", summary.records_read);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::words;

    #[test]
    fn words_are_lowercase_runs_of_letters() {
        assert_eq!(
            words("The cat's 'hat' -- isn't THE hat!  42x"),
            vec!["the", "cat's", "hat", "isn't", "the", "hat", "42x"]
        );
        assert!(words(" -- ... ").is_empty());
    }
}
