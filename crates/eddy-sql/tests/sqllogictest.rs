//! Runs the sqllogictest corpora under `conformance/cases/sqllogictest/` (SQLite's, and other
//! projects' `.slt` files) on eddy's SQL session and compares the pass counts per file with
//! `conformance/cases/sqllogictest/baseline.tsv`.
//!
//! ```sh
//! cargo test -p eddy-sql --test sqllogictest                    # run and compare
//! EDDY_SLT_UPDATE=1 cargo test -p eddy-sql --test sqllogictest  # rewrite baseline and README table
//! cargo test -p eddy-sql --test sqllogictest -- select1         # only files whose path has `select1`
//! EDDY_SLT_VERBOSE=1 ...                                        # print every failure in full
//! EDDY_SLT_ENGINE=dataflow ...                                  # or `oracle`; default: the session's
//! ```
//!
//! Each file runs in a child process (this same binary with `--child`), under a memory limit,
//! reporting each record as it starts and ends. A record that runs longer than
//! `EDDY_SLT_RECORD_TIMEOUT` seconds (default 20) or kills the process counts as failed
//! ("crashed"); the file then goes on in a new child from the next record, after replaying the
//! statements before it. So one runaway query (a cross product, a hang) costs one record, not
//! the run. This harness has its own `main` (`harness = false` in Cargo.toml).

#[allow(dead_code)] // Each test target uses part of the shared runner.
mod slt;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use slt::baseline::{self, FileReport};
use slt::engine::{EddySession, QueryEngineChoice};
use slt::format::Style;
use slt::records::{self, FailClass, Outcome};
use slt::supervise::{outcome_line, supervise, Limits};

/// The most times a file's child may hang or die before its remaining records are given up
/// (each hang costs the record timeout in wall-clock time).
const MAX_RESTARTS_PER_FILE: usize = 3;
/// The address-space limit of a child, in KiB (`ulimit -v`): a runaway cross product fails
/// its record instead of exhausting the machine.
const CHILD_MEMORY_KIB: u64 = 6 * 1024 * 1024;

fn corpus_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/cases/sqllogictest")
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        return child(&args[1..]);
    }
    if args.iter().any(|arg| arg == "--list") {
        println!("sqllogictest: test");
        return ExitCode::SUCCESS;
    }
    let filters: Vec<&String> = args.iter().filter(|arg| !arg.starts_with('-')).collect();
    parent(&filters)
}

/// Every corpus file (`*.test`, `*.slt`), relative to the corpus root, sorted.
fn corpus_files(root: &Path) -> Vec<String> {
    fn walk(dir: &Path, root: &Path, files: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, root, files);
            } else if path.extension().is_some_and(|extension| extension == "test" || extension == "slt") {
                if let Ok(relative) = path.strip_prefix(root) {
                    files.push(relative.to_string_lossy().replace('\\', "/"));
                }
            }
        }
    }
    let mut files = Vec::new();
    walk(root, root, &mut files);
    files.sort();
    files
}

fn parent(filters: &[&String]) -> ExitCode {
    let root = corpus_root();
    let update = std::env::var_os("EDDY_SLT_UPDATE").is_some();
    let verbose = std::env::var_os("EDDY_SLT_VERBOSE").is_some();
    let record_timeout = Duration::from_secs(
        std::env::var("EDDY_SLT_RECORD_TIMEOUT").ok().and_then(|value| value.parse().ok()).unwrap_or(20),
    );
    let limits = Limits { record_timeout, max_restarts: MAX_RESTARTS_PER_FILE };
    let all_files = corpus_files(&root);
    let filtered =
        !filters.is_empty() && !filters.iter().all(|filter| "sqllogictest".contains(filter.as_str()));
    let files: Vec<String> = all_files
        .iter()
        .filter(|file| !filtered || filters.iter().any(|filter| file.contains(filter.as_str())))
        .cloned()
        .collect();
    if filtered && update {
        eprintln!("EDDY_SLT_UPDATE rewrites the whole baseline: run it without a filter");
        return ExitCode::FAILURE;
    }
    println!("sqllogictest: {} files under {}", files.len(), root.display());

    let queue = Arc::new(Mutex::new(files.clone()));
    let results = Arc::new(Mutex::new(BTreeMap::<String, Result<FileReport, String>>::new()));
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 2);
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let queue = queue.clone();
            let results = results.clone();
            let root = root.clone();
            std::thread::spawn(move || loop {
                let next =
                    queue
                        .lock()
                        .ok()
                        .and_then(|mut queue| if queue.is_empty() { None } else { Some(queue.remove(0)) });
                let Some(file) = next else { break };
                let report = run_file(&root, &file, limits, verbose);
                match &report {
                    Ok(report) => println!(
                        "{file}: {}/{} passed ({} unsupported, {} error, {} wrong, {} crashed, {} timed out, {} skipped)",
                        report.passed,
                        report.records,
                        report.failed_of(FailClass::Unsupported),
                        report.failed_of(FailClass::Error),
                        report.failed_of(FailClass::Wrong),
                        report.failed_of(FailClass::Crashed),
                        report.failed_of(FailClass::TimedOut),
                        report.skipped
                    ),
                    Err(error) => println!("{file}: cannot run: {error}"),
                }
                if let Ok(mut results) = results.lock() {
                    results.insert(file, report);
                }
            })
        })
        .collect();
    for handle in handles {
        let _ = handle.join();
    }
    let results = match Arc::try_unwrap(results).map(Mutex::into_inner) {
        Ok(Ok(results)) => results,
        _ => {
            eprintln!("a worker thread panicked");
            return ExitCode::FAILURE;
        }
    };
    let mut reports = BTreeMap::new();
    let mut broken = Vec::new();
    for (file, result) in results {
        match result {
            Ok(report) => {
                reports.insert(file, report);
            }
            Err(error) => broken.push(format!("{file}: {error}")),
        }
    }
    let records: usize = reports.values().map(|report| report.records).sum();
    let passed: usize = reports.values().map(|report| report.passed).sum();
    let skipped: usize = reports.values().map(|report| report.skipped).sum();
    println!(
        "sqllogictest totals: {passed} of {records} records pass in {} files ({} fail, {skipped} skipped)",
        reports.len(),
        records - passed - skipped
    );
    if !broken.is_empty() {
        eprintln!("corpus files that cannot run (fix or remove them):");
        for line in &broken {
            eprintln!("  {line}");
        }
        return ExitCode::FAILURE;
    }

    let baseline_path = root.join("baseline.tsv");
    if update {
        let readme_path = root.join("../../README.md");
        let readme = std::fs::read_to_string(&readme_path).unwrap_or_default();
        let written = std::fs::write(&baseline_path, baseline::write_baseline(&reports)).and_then(|()| {
            std::fs::write(
                &readme_path,
                baseline::replace_section(&readme, &baseline::results_section(&reports)),
            )
        });
        return match written {
            Ok(()) => {
                println!(
                    "wrote {} and the results section of conformance/README.md",
                    baseline_path.display()
                );
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("cannot write the baseline: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let baseline = match std::fs::read_to_string(&baseline_path)
        .map_err(|error| error.to_string())
        .and_then(|text| baseline::parse_baseline(&text))
    {
        Ok(baseline) => baseline,
        Err(error) => {
            eprintln!("cannot read {}: {error}", baseline_path.display());
            return ExitCode::FAILURE;
        }
    };
    let baseline = if filtered {
        baseline.into_iter().filter(|(file, _)| reports.contains_key(file)).collect()
    } else {
        baseline
    };
    let comparison = baseline::compare(&reports, &baseline);
    for line in &comparison.notes {
        println!("note: {line}");
    }
    if !comparison.regressions.is_empty() {
        eprintln!("sqllogictest regressions (fewer records pass than the baseline):");
        for line in &comparison.regressions {
            eprintln!("  {line}");
        }
    }
    if !comparison.stale.is_empty() {
        eprintln!("the sqllogictest baseline is stale; update it (and the README table) with");
        eprintln!("  EDDY_SLT_UPDATE=1 cargo test -p eddy-sql --test sqllogictest");
        for line in &comparison.stale {
            eprintln!("  {line}");
        }
    }
    if comparison.regressions.is_empty() && comparison.stale.is_empty() {
        println!("sqllogictest: pass counts match the baseline");
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Runs one file in child processes; `Err` when the file cannot be parsed.
fn run_file(root: &Path, file: &str, limits: Limits, verbose: bool) -> Result<FileReport, String> {
    let path = root.join(file);
    let parsed = records::parse_file(&path)?;
    let counted: Vec<usize> =
        (0..parsed.len()).filter(|&index| records::is_counted(&parsed[index])).collect();
    let exe = std::env::current_exe().map_err(|error| error.to_string())?;
    let source = file.split('/').next().unwrap_or_default().to_owned();
    let spawn = |resume: usize, skip: &BTreeSet<usize>| {
        let skip_list = skip.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
        Command::new("sh")
            .arg("-c")
            .arg(format!("ulimit -v {CHILD_MEMORY_KIB} 2>/dev/null; exec \"$0\" \"$@\""))
            .arg(&exe)
            .args(["--child", &path.to_string_lossy(), &source, &resume.to_string(), &skip_list])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(if verbose { Stdio::inherit() } else { Stdio::null() })
            .spawn()
    };
    let outcomes = supervise(&counted, limits, spawn, |index, outcome| {
        if let (true, Outcome::Fail { class, reason }) = (verbose, outcome) {
            eprintln!("{file}:{}: {} {reason}", records::line_of(&parsed[index]), class.word());
        }
    })?;
    let mut report = FileReport::default();
    for outcome in outcomes.values() {
        report.add(outcome);
    }
    Ok(report)
}

/// The child: `--child <file> <source> <resume> <skip,list>`. Prints `START i` before and
/// `PASS i`, `SKIP i` or `FAIL i <class> <reason>` after each counted record, then `END`.
fn child(args: &[String]) -> ExitCode {
    let [file, source, resume, skip_list] = args else {
        eprintln!("usage: --child <file> <source> <resume> <skip,list>");
        return ExitCode::FAILURE;
    };
    let Ok(parsed) = records::parse_file(Path::new(file)) else { return ExitCode::FAILURE };
    let resume = resume.parse().unwrap_or(0);
    let skip: BTreeSet<usize> = skip_list.split(',').filter_map(|index| index.parse().ok()).collect();
    let stdout = Arc::new(Mutex::new(std::io::stdout()));
    let say = |line: String| {
        if let Ok(mut stdout) = stdout.lock() {
            let _ = writeln!(stdout, "{line}");
            let _ = stdout.flush();
        }
    };
    records::run_records(
        &parsed,
        || EddySession::with_engine(QueryEngineChoice::from_env()),
        Style::of_source(source),
        resume,
        &skip,
        |index| say(format!("START {index}")),
        |index, outcome| say(outcome_line(index, &outcome)),
    );
    say("END".to_owned());
    ExitCode::SUCCESS
}
