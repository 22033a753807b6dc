//! Runs the committed Flink window cases and requires that every case file passes, including
//! the cases with `snapshot_restore` steps (which checkpoint and restore the window operator).

use std::path::PathBuf;

use eddy_conformance::{case_files, run_dirs, Options, Outcome};

#[test]
fn flink_window_cases() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cases/flink-windows");
    let files = case_files(&dir).expect("case directory");
    assert!(!files.is_empty(), "no cases in {}", dir.display());
    let mut failures = Vec::new();
    let summary = run_dirs(&[dir], Options::default(), |report| {
        println!("{report}");
        if let Outcome::Fail(_) = report.outcome {
            failures.push(report.to_string());
        }
    })
    .expect("every case file is valid");
    println!("{summary}");
    assert_eq!(summary.failed, 0, "failures:\n{}", failures.join("\n"));
    assert_eq!(summary.skipped, 0, "no case is skipped");
    assert_eq!(summary.passed, files.len());
}

#[test]
fn ignore_restores_still_runs_every_case() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cases/flink-windows");
    let files = case_files(&dir).expect("case directory");
    let options = Options { ignore_restores: true, ..Options::default() };
    let summary = run_dirs(&[dir], options, |report| println!("{report}")).expect("valid cases");
    assert_eq!(summary.passed, files.len(), "{summary}");
}

#[test]
fn snapshot_restore_false_fails_with_a_reason() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cases/flink-windows/tumbling_event_time_sum.json");
    let mut case = eddy_conformance::Case::load(&path).expect("valid case");
    let step = case
        .steps
        .iter_mut()
        .find(|step| matches!(step, eddy_conformance::case::Step::SnapshotRestore(_)))
        .expect("a restore step");
    *step = eddy_conformance::case::Step::SnapshotRestore(false);
    match eddy_conformance::run_case(&case, Options::default()).outcome {
        Outcome::Fail(why) => assert!(why.contains("snapshot_restore must be true"), "{why}"),
        other => panic!("{other:?}"),
    }
}

fn tumbling_case() -> eddy_conformance::Case {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("cases/flink-windows/tumbling_zero_lateness_side_output.json");
    eddy_conformance::Case::load(&path).expect("valid case")
}

#[test]
fn unsupported_strings_fail_with_a_reason() {
    let edits: [(&str, fn(&mut eddy_conformance::Case)); 6] = [
        ("unknown window kind `hopping`", |c| c.window.kind = "hopping".into()),
        ("unknown trigger `every_second`", |c| c.trigger = "every_second".into()),
        ("unknown trigger `purging(count:0)`", |c| c.trigger = "purging(count:0)".into()),
        ("unknown evictor `top:3`", |c| c.evictor = Some("top:3".into())),
        ("unknown aggregate `max`", |c| c.aggregate = "max".into()),
        ("unknown time_domain `ingestion_time`", |c| c.window.time_domain = Some("ingestion_time".into())),
    ];
    for (reason, edit) in edits {
        let mut case = tumbling_case();
        edit(&mut case);
        match eddy_conformance::run_case(&case, Options::default()).outcome {
            Outcome::Fail(why) => assert!(why.contains(reason), "{why}"),
            other => panic!("{reason}: {other:?}"),
        }
    }
}

#[test]
fn a_wrong_expectation_fails_and_names_the_checkpoint() {
    let mut case = tumbling_case();
    let checkpoint = case.expected.last_mut().expect("a checkpoint");
    checkpoint.emit.push(eddy_conformance::case::Entry::Watermark(123_456));
    let after_step = checkpoint.after_step;
    match eddy_conformance::run_case(&case, Options::default()).outcome {
        Outcome::Fail(why) => {
            assert!(why.contains(&format!("output at after_step {after_step}")), "{why}");
            assert!(why.contains("WM(123456)"), "{why}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn invalid_files_are_errors_naming_the_file() {
    let dir = std::env::temp_dir().join(format!("eddy-conformance-invalid-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("broken.json");
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cases/flink-windows/tumbling_event_time_sum.json"),
    )
    .expect("case");
    std::fs::write(&file, text.replacen("\"ts\": 3999", "\"ts\": 3999.5", 1)).expect("write");
    let error = run_dirs(std::slice::from_ref(&dir), Options::default(), |_| {}).expect_err("invalid");
    std::fs::remove_dir_all(&dir).ok();
    let message = error.to_string();
    assert!(message.contains("broken.json") && message.contains("expected i64"), "{message}");
}

/// The Nexmark known answers from the DataStream queries: no case fails, the 16 queries with
/// a Nexmark-semantics answer pass at 1 and 2 workers, and the RisingWave variants are skipped
/// as SQL work (they run from SQL: `tests/nexmark_sql.rs`).
#[test]
fn nexmark_known_answers() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cases/nexmark");
    let mut lines = Vec::new();
    let mut summary = eddy_conformance::Summary::default();
    eddy_conformance::nexmark::run_dir(&dir, |report| {
        summary.add(&report.outcome);
        lines.push(report.to_string())
    })
    .expect("valid cases");
    println!("{}\n{summary}", lines.join("\n"));
    assert_eq!(summary.failed, 0, "{}", lines.join("\n"));
    let required = [
        "q0", "q1", "q3", "q4", "q5", "q7", "q8", "q9", "q14", "q15", "q17", "q18", "q19", "q20", "q21",
        "q22",
    ];
    for query in required {
        assert!(lines.contains(&format!("PASS nexmark/{query}")), "{query} passes: {}", lines.join("\n"));
    }
    assert_eq!(summary.passed, required.len(), "{summary}");
    for variant in ["q2", "q6_group_top1", "q10", "q16", "q101", "q106"] {
        assert!(lines.contains(&format!("SKIP nexmark/{variant}: needs SQL")), "{variant}");
    }
}

/// A wrong expected row makes a Nexmark case fail.
#[test]
fn nexmark_comparison_catches_a_wrong_row() {
    use eddy_conformance::nexmark::{compare, load_tables, run_query, NexmarkCase};
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cases/nexmark");
    let text = std::fs::read_to_string(dir.join("q21.json")).unwrap();
    let mut case: NexmarkCase = serde_json::from_str(&text).unwrap();
    let rows = run_query("q21", &load_tables(&dir).unwrap(), 1).unwrap().unwrap();
    compare(&case, &rows).unwrap();
    case.expected_rows[0][4] = serde_json::Value::from("9");
    assert!(compare(&case, &rows).is_err());
    case.expected_rows.pop();
    assert!(compare(&case, &rows).is_err());
}

/// The Flink CEP cases: every case passes through the NFA (as Flink's harness runs it) and
/// through the CEP operator of a job at 1 and 2 workers; none is skipped.
#[test]
fn flink_cep_cases() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cases/flink-cep");
    let files = case_files(&dir).expect("case directory");
    let mut failures = Vec::new();
    let summary = run_dirs(&[dir], Options::default(), |report| {
        println!("{report}");
        if let Outcome::Fail(_) = report.outcome {
            failures.push(report.to_string());
        }
    })
    .expect("every case file is valid");
    println!("{summary}");
    assert_eq!(summary.failed, 0, "failures:\n{}", failures.join("\n"));
    assert_eq!(summary.skipped, 0);
    assert_eq!(summary.passed, files.len());
    assert_eq!(files.len(), 132);
}

/// The operator run really runs: it finds the case's matches at 2 workers, and a wrong
/// expectation fails the case.
#[test]
fn flink_cep_operator_runs_and_a_wrong_expectation_fails() {
    use eddy_conformance::cep::{build_pattern, check, run_case, run_operator, CepCase};
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cases/flink-cep");
    let case = CepCase::load(&dir.join("nfa_branching_pattern.json")).expect("valid case");
    let pattern = build_pattern(&case).expect("pattern");
    let observed = run_operator(&case, &pattern, 2).expect("job runs");
    assert_eq!(observed.matches.len(), case.expected["matches"].as_array().unwrap().len());
    assert!(!observed.matches.is_empty());
    check(&case, &observed).expect("same matches as Flink");
    let mut wrong = case.clone();
    wrong.expected["matches"].as_array_mut().unwrap().pop();
    assert!(matches!(run_case(&wrong), Outcome::Fail(_)));
    // The operator applies the case's window: with timeouts handled, timed-out partial
    // matches come out of its side output.
    let case =
        CepCase::load(&dir.join("nfa_simple_pattern_with_timeout_handling_within_first_and_last.json"))
            .expect("valid case");
    let observed = run_operator(&case, &build_pattern(&case).unwrap(), 2).expect("job runs");
    assert!(!observed.timed_out.is_empty());
    check(&case, &observed).expect("same timeouts as Flink");
}

/// A pattern that Flink refuses fails the case with the reason.
#[test]
fn flink_cep_invalid_pattern_fails_with_a_reason() {
    use eddy_conformance::cep::{run_case, CepCase};
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cases/flink-cep");
    let mut case = CepCase::load(&dir.join("not_next.json")).expect("valid case");
    let stages = case.pattern["stages"].as_array_mut().unwrap();
    let mut last = stages[1].clone();
    last["contiguity"] = serde_json::Value::from("not_followed_by");
    last["name"] = serde_json::Value::from("trailing");
    stages.push(last);
    match run_case(&case) {
        Outcome::Fail(why) => assert!(why.contains("not_followed_by cannot be the last"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn flink_match_recognize_cases() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cases/flink-match-recognize");
    let files = case_files(&dir).expect("case directory");
    let mut lines = Vec::new();
    let summary = run_dirs(&[dir], Options::default(), |report| {
        println!("{report}");
        lines.push(report.to_string());
    })
    .expect("every case file is valid");
    println!("{summary}");
    assert_eq!(summary.passed + summary.failed + summary.skipped, files.len());
    // The cases eddy cannot pass yet, with their reasons (see conformance/README.md).
    let known_failures = [
        "mr_windowed_grouping_applied_to_match_recognize_on_ltz_rowtime",
        "mr_match_recognize_applied_to_windowed_grouping",
    ];
    for line in &lines {
        if line.starts_with("FAIL") {
            assert!(known_failures.iter().any(|name| line.contains(name)), "unexpected failure: {line}");
        }
    }
}
