//! eddy's conformance runner: replays data-driven cases written by other projects through
//! eddy's real operators and reports one line per case.
//!
//! The supported corpora are Flink's window-operator vectors (`cases/flink-windows`, format in
//! `shared/conformance/README.md`, section B) and the Nexmark known answers
//! (`cases/nexmark`, section A; see [`nexmark`]). [`load_cases`] reads a directory strictly,
//! [`run_case`] runs one case, and [`run_dirs`] does both and counts the outcomes.

pub mod case;
pub mod cep;
pub mod compare;
pub mod engine;
pub mod grammar;
pub mod match_recognize;
pub mod nexmark;
pub mod nexmark_sql;

use std::fmt;
use std::path::{Path, PathBuf};

pub use case::{Case, InvalidCase};

/// How to run the cases.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Treat `snapshot_restore` steps as no-ops instead of checkpointing the operator and
    /// restoring it. This does not test checkpoints; it only checks the rest of the vector.
    pub ignore_restores: bool,
    /// Print what each step produced to stderr.
    pub trace: bool,
}

/// The result of one case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every checkpoint matched.
    Pass,
    /// Why the case failed.
    Fail(String),
    /// Why the case was not run.
    Skip(String),
}

/// One case's report line.
#[derive(Clone, Debug)]
pub struct CaseReport {
    /// The case's name.
    pub name: String,
    /// What happened.
    pub outcome: Outcome,
}

impl fmt::Display for CaseReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.outcome {
            Outcome::Pass => write!(f, "PASS {}", self.name),
            Outcome::Fail(why) => write!(f, "FAIL {}: {why}", self.name),
            Outcome::Skip(why) => write!(f, "SKIP {}: {why}", self.name),
        }
    }
}

/// The counts of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed.
    pub failed: usize,
    /// Cases that were skipped.
    pub skipped: usize,
}

impl Summary {
    /// Counts one outcome.
    pub fn add(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Pass => self.passed += 1,
            Outcome::Fail(_) => self.failed += 1,
            Outcome::Skip(_) => self.skipped += 1,
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} passed, {} failed, {} skipped", self.passed, self.failed, self.skipped)
    }
}

/// The `*.json` files of a directory, sorted by file name.
pub fn case_files(dir: &Path) -> Result<Vec<PathBuf>, InvalidCase> {
    let invalid = |reason: String| InvalidCase { path: dir.display().to_string(), reason };
    let entries = std::fs::read_dir(dir).map_err(|e| invalid(format!("unreadable directory: {e}")))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| invalid(format!("unreadable directory: {e}")))?.path();
        if path.extension().is_some_and(|ext| ext == "json") && path.is_file() {
            files.push(path);
        }
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}

/// Reads every case of the directories (each sorted by file name), or the first unusable file.
pub fn load_cases(dirs: &[PathBuf]) -> Result<Vec<Case>, InvalidCase> {
    let mut cases = Vec::new();
    for dir in dirs {
        for file in case_files(dir)? {
            cases.push(Case::load(&file)?);
        }
    }
    Ok(cases)
}

/// Runs one case.
pub fn run_case(case: &Case, options: Options) -> CaseReport {
    if options.trace {
        eprintln!("{}:", case.name);
    }
    let outcome = match engine::Plan::new(case) {
        Err(why) => Outcome::Fail(why),
        Ok(plan) => match engine::run(&plan, &case.steps, options.ignore_restores, options.trace) {
            Err(why) => Outcome::Fail(why),
            Ok(observed) => {
                let with_bounds = case.window_bounds_in_expected != "none";
                let checked = observed.output.check("output", &case.expected, with_bounds).and_then(|()| {
                    match &case.expected_late {
                        Some(late) => observed.late.check("late output", late, false),
                        None => Ok(()),
                    }
                });
                match checked {
                    Ok(()) => Outcome::Pass,
                    Err(why) => Outcome::Fail(why),
                }
            }
        },
    };
    CaseReport { name: case.name.clone(), outcome }
}

/// Loads and runs every case of the directories, calling `report` after each case.
pub fn run_dirs(
    dirs: &[PathBuf],
    options: Options,
    mut report: impl FnMut(&CaseReport),
) -> Result<Summary, InvalidCase> {
    let (mr_dirs, dirs) = match_recognize::split_dirs(dirs);
    let (cep_dirs, dirs) = cep::split_dirs(&dirs);
    let (nexmark_dirs, window_dirs) = nexmark::split_dirs(&dirs);
    let cases = load_cases(&window_dirs)?;
    let mut summary = Summary::default();
    for case in &cases {
        let line = run_case(case, options);
        summary.add(&line.outcome);
        report(&line);
    }
    for dir in &nexmark_dirs {
        let mut counts = vec![nexmark::run_dir(dir, &mut report)?];
        if nexmark_sql::has_sql(dir) {
            counts.push(nexmark_sql::run_dir(dir, &mut report)?);
        }
        for counts in counts {
            summary.passed += counts.passed;
            summary.failed += counts.failed;
            summary.skipped += counts.skipped;
        }
    }
    for dir in &mr_dirs {
        let counts = match_recognize::run_dir(dir, &mut report)?;
        summary.passed += counts.passed;
        summary.failed += counts.failed;
        summary.skipped += counts.skipped;
    }
    for dir in &cep_dirs {
        let counts = cep::run_dir(dir, &mut report)?;
        summary.passed += counts.passed;
        summary.failed += counts.failed;
        summary.skipped += counts.skipped;
    }
    Ok(summary)
}
