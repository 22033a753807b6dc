//! `eddy-conformance <dir>...`: runs every `*.json` case of the directories through eddy and
//! prints `PASS name`, `FAIL name: why` or `SKIP name: why` per case, then
//! `N passed, N failed, N skipped`.
//!
//! Exit code: 0 when nothing failed, 1 when a case failed, 2 when a case file is unreadable or
//! invalid (nothing is run then) or the arguments are wrong.

use std::path::PathBuf;
use std::process::ExitCode;

use eddy_conformance::{run_dirs, Options};

const USAGE: &str = "usage: eddy-conformance [--ignore-restores] [--trace] <case-dir>...";

fn main() -> ExitCode {
    let mut options = Options::default();
    let mut dirs = Vec::new();
    for arg in std::env::args_os().skip(1) {
        match arg.to_str() {
            Some("--ignore-restores") => options.ignore_restores = true,
            Some("--trace") => options.trace = true,
            Some("-h" | "--help") => {
                println!("{USAGE}");
                println!("  --ignore-restores  treat snapshot_restore steps as no-ops instead of checkpoint + restore");
                println!("  --trace            print what each step produced to stderr");
                return ExitCode::SUCCESS;
            }
            Some(flag) if flag.starts_with('-') => {
                eprintln!("unknown option `{flag}`\n{USAGE}");
                return ExitCode::from(2);
            }
            _ => dirs.push(PathBuf::from(arg)),
        }
    }
    if dirs.is_empty() {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    match run_dirs(&dirs, options, |line| println!("{line}")) {
        Err(invalid) => {
            eprintln!("error: {invalid}");
            ExitCode::from(2)
        }
        Ok(summary) => {
            println!("{summary}");
            if summary.failed > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}
