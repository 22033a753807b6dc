//! The committed pass counts per file (`conformance/cases/sqllogictest/baseline.tsv`), the
//! comparison of a run with them, and the results section of `conformance/README.md`.
//!
//! A run fails when a file passes fewer records than its baseline (a regression) and also when
//! it passes more, or the set of files changed (the baseline is stale: rerun with
//! `EDDY_SLT_UPDATE=1` to rewrite it and the README section). Failures are never excused one
//! by one: a record fails until the feature it needs is built.
//!
//! Timed-out records are the one allowance: whether a slow query finishes within the record
//! timeout depends on the machine, so a record that timed out (in this run for the regression
//! check, in the baseline's run for the staleness check) may count either way. A file whose
//! pass count moved only within that allowance gets a note, not a failure.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::records::{FailClass, Outcome};

/// The counts of one file in one run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileReport {
    /// Counted records.
    pub records: usize,
    /// Records that passed.
    pub passed: usize,
    /// Records skipped by `skipif`/`onlyif`.
    pub skipped: usize,
    /// Failed records by class and reason.
    pub failures: BTreeMap<(FailClass, String), usize>,
}

impl FileReport {
    /// Counts one record's outcome.
    pub fn add(&mut self, outcome: &Outcome) {
        self.records += 1;
        match outcome {
            Outcome::Pass => self.passed += 1,
            Outcome::Skip => self.skipped += 1,
            Outcome::Fail { class, reason } => {
                *self.failures.entry((*class, reason.clone())).or_default() += 1;
            }
        }
    }

    /// Failed records.
    pub fn failed(&self) -> usize {
        self.failures.values().sum()
    }

    /// Records that timed out or were not run after timeouts.
    pub fn timed_out(&self) -> usize {
        self.failed_of(FailClass::TimedOut)
    }

    /// Failed records of one class.
    pub fn failed_of(&self, class: FailClass) -> usize {
        self.failures.iter().filter(|((of, _), _)| *of == class).map(|(_, count)| count).sum()
    }
}

/// One baseline line: how many records a file has and how many must pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BaselineEntry {
    /// Counted records in the file.
    pub records: usize,
    /// Records that passed when the baseline was written.
    pub passed: usize,
    /// Records that timed out (or were not run after timeouts) when it was written.
    pub timed_out: usize,
}

/// Parses a baseline file: `#` comments, then
/// `file<TAB>records<TAB>passed<TAB>timed_out[<TAB>...]` lines.
pub fn parse_baseline(text: &str) -> Result<BTreeMap<String, BaselineEntry>, String> {
    let mut entries = BTreeMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let parse = |index: usize| -> Result<usize, String> {
            fields.get(index).and_then(|field| field.trim().parse().ok()).ok_or_else(|| {
                format!("baseline line {}: expected file, records, passed: {line:?}", number + 1)
            })
        };
        let entry = BaselineEntry { records: parse(1)?, passed: parse(2)?, timed_out: parse(3)? };
        entries.insert(fields[0].to_owned(), entry);
    }
    Ok(entries)
}

/// The baseline file for a run.
pub fn write_baseline(reports: &BTreeMap<String, FileReport>) -> String {
    let mut text = String::from(
        "# sqllogictest pass counts per file (crates/eddy-sql/tests/sqllogictest.rs compares a run\n\
         # with them; rewrite with EDDY_SLT_UPDATE=1). Columns: file, counted records, passed,\n\
         # timed out, other failures, skipped (skipif/onlyif). The last two are for reading only.\n",
    );
    for (file, report) in reports {
        let _ = writeln!(
            text,
            "{file}\t{}\t{}\t{}\t{}\t{}",
            report.records,
            report.passed,
            report.timed_out(),
            report.failed() - report.timed_out(),
            report.skipped
        );
    }
    text
}

/// How a run differs from the baseline.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Files that pass fewer records than their baseline, timeouts allowed for: failures.
    pub regressions: Vec<String>,
    /// Files that pass more records than the baseline's timeouts explain, or that were added,
    /// removed or changed: the baseline must be rewritten.
    pub stale: Vec<String>,
    /// Pass counts that moved within the timeout allowance: reported, not failures.
    pub notes: Vec<String>,
}

/// Compares a run with the baseline.
pub fn compare(
    reports: &BTreeMap<String, FileReport>,
    baseline: &BTreeMap<String, BaselineEntry>,
) -> Comparison {
    let mut comparison = Comparison::default();
    for (file, report) in reports {
        let Some(entry) = baseline.get(file) else {
            comparison.stale.push(format!("{file}: not in the baseline"));
            continue;
        };
        let passed = report.passed;
        if report.records != entry.records {
            comparison
                .stale
                .push(format!("{file}: {} records, the baseline says {}", report.records, entry.records));
        } else if passed + report.timed_out() < entry.passed {
            comparison.regressions.push(format!(
                "{file}: {passed} records pass ({} timed out), the baseline says {}",
                report.timed_out(),
                entry.passed
            ));
        } else if passed > entry.passed + entry.timed_out {
            comparison
                .stale
                .push(format!("{file}: {passed} records pass, more than the baseline's {}", entry.passed));
        } else if passed != entry.passed {
            comparison.notes.push(format!(
                "{file}: {passed} records pass, the baseline says {} (within {} timed out now, {} then)",
                entry.passed,
                report.timed_out(),
                entry.timed_out
            ));
        }
    }
    for file in baseline.keys().filter(|file| !reports.contains_key(*file)) {
        comparison.stale.push(format!("{file}: in the baseline but not in the corpus"));
    }
    comparison
}

/// Start and end markers of the generated section in `conformance/README.md`.
pub const README_BEGIN: &str = "<!-- sqllogictest results: generated by EDDY_SLT_UPDATE=1, do not edit -->";
/// See [`README_BEGIN`].
pub const README_END: &str = "<!-- sqllogictest results: end -->";

/// The most failure reasons listed per class.
const MAX_REASONS: usize = 40;

/// The generated results section: a table of counts per file, then the failure reasons by
/// class with their record counts.
pub fn results_section(reports: &BTreeMap<String, FileReport>) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "{README_BEGIN}");
    text.push_str(
        "\n| file | records | passed | unsupported | error | wrong | crashed | timed out | skipped |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    let mut total = FileReport::default();
    for (file, report) in reports {
        let _ = writeln!(
            text,
            "| {file} | {} | {} | {} | {} | {} | {} | {} | {} |",
            report.records,
            report.passed,
            report.failed_of(FailClass::Unsupported),
            report.failed_of(FailClass::Error),
            report.failed_of(FailClass::Wrong),
            report.failed_of(FailClass::Crashed),
            report.timed_out(),
            report.skipped
        );
        total.records += report.records;
        total.passed += report.passed;
        total.skipped += report.skipped;
        for (key, count) in &report.failures {
            *total.failures.entry(key.clone()).or_default() += count;
        }
    }
    let _ = writeln!(
        text,
        "| **total** | {} | {} | {} | {} | {} | {} | {} | {} |",
        total.records,
        total.passed,
        total.failed_of(FailClass::Unsupported),
        total.failed_of(FailClass::Error),
        total.failed_of(FailClass::Wrong),
        total.failed_of(FailClass::Crashed),
        total.timed_out(),
        total.skipped
    );
    for (class, title) in [
        (FailClass::Unsupported, "Unsupported features"),
        (FailClass::Error, "Errors where success was expected"),
        (FailClass::Wrong, "Wrong results"),
        (FailClass::Crashed, "Panics and processes killed by the memory limit"),
        (FailClass::TimedOut, "Timed out (or not run after a file's third timeout or crash)"),
    ] {
        let mut reasons: Vec<(&String, usize)> = total
            .failures
            .iter()
            .filter(|((of, _), _)| *of == class)
            .map(|((_, reason), count)| (reason, *count))
            .collect();
        if reasons.is_empty() {
            continue;
        }
        reasons.sort_by(|left, right| right.1.cmp(&left.1).then_with(|| left.0.cmp(right.0)));
        let _ = writeln!(text, "\n{title} (records, all files):\n");
        for (reason, count) in reasons.iter().take(MAX_REASONS) {
            let _ = writeln!(text, "* {count}: {}", reason.replace('|', "\\|"));
        }
        if reasons.len() > MAX_REASONS {
            let rest: usize = reasons[MAX_REASONS..].iter().map(|(_, count)| count).sum();
            let _ = writeln!(text, "* {rest}: {} other reasons", reasons.len() - MAX_REASONS);
        }
    }
    let _ = writeln!(text, "\n{README_END}");
    text
}

/// `readme` with its generated section replaced by `section` (appended when it has none).
pub fn replace_section(readme: &str, section: &str) -> String {
    match (readme.find(README_BEGIN), readme.find(README_END)) {
        (Some(begin), Some(end)) if begin < end => {
            let after = &readme[end + README_END.len()..];
            let after = after.strip_prefix('\n').unwrap_or(after);
            format!("{}{section}{after}", &readme[..begin])
        }
        _ => format!("{}\n{section}", readme.trim_end_matches('\n').to_owned() + "\n"),
    }
}
