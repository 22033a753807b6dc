//! Nexmark from SQL: RisingWave's known answers run from their translations
//! (`cases/nexmark/sql/`) at 1 and 2 workers, and the SQL files of `crates/eddy-nexmark/sql/`
//! give the same results as the DataStream queries on generated input.

use std::path::PathBuf;

use eddy_conformance::nexmark::{run_query_on, Input};
use eddy_conformance::nexmark_sql::{compare_with_datastream, run_dir, run_generated};
use eddy_conformance::{Outcome, Summary};

/// Cases that fail for a missing SQL feature or an eddy-sql bug, with a piece of the error
/// that says which. Every other case must pass; a case here that starts to pass fails the test
/// too, so the list stays true.
const KNOWN_FAILURES: &[(&str, &str)] = &[];

#[test]
fn nexmark_known_answers_from_sql() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cases/nexmark");
    let mut lines = Vec::new();
    let mut summary = Summary::default();
    run_dir(&dir, |report| {
        summary.add(&report.outcome);
        let known = KNOWN_FAILURES.iter().find(|(name, _)| report.name == format!("nexmark-sql/{name}"));
        match (&report.outcome, known) {
            (Outcome::Pass, None) => {}
            (Outcome::Fail(why), Some((_, reason))) if why.contains(reason) => {}
            _ => lines.push(format!("unexpected: {report}")),
        }
        println!("{report}");
    })
    .expect("valid cases");
    println!("{summary}");
    assert!(lines.is_empty(), "{}", lines.join("\n"));
    assert_eq!(summary.passed + summary.failed, 26, "{summary}");
    assert_eq!(summary.failed, KNOWN_FAILURES.len(), "{summary}");
}

/// SQL target columns named otherwise than the DataStream query's fields (the suite's sink
/// tables): (query, SQL column, DataStream field).
const ALIASES: &[(&str, &str, &str)] =
    &[("q4", "id", "category"), ("q4", "final", "avg"), ("q8", "stime", "starttime")];

/// Columns that differ between the SQL file and the DataStream query, and why: the test
/// compares every other column, and requires that comparing all of them fails, so the list
/// stays true. (query, columns, why)
const DIFFERENT: &[(&str, &[&str], &str)] = &[
    ("q4", &["final"], "Flink's AVG of a BIGINT is a BIGINT (truncated); the DataStream query keeps the fraction"),
    ("q17", &["avg_price"], "Flink's AVG of a BIGINT is a BIGINT (truncated); the DataStream query keeps the fraction"),
    (
        "q7",
        &["bidder", "price", "extra"],
        "the suite's INSERT lists (auction, price, bidder, ...) into a table declared (auction, bidder, price, \
         ...), so SQL writes the price into `bidder` and the bidder into `price`; the DataStream row has no extra",
    ),
    ("q9", &["extra", "bid_extra"], "the DataStream row (RisingWave's columns) has no extra columns"),
    (
        "q18",
        &["price", "channel", "url", "extra"],
        "ORDER BY dateTime DESC has ties (bids of one bidder on one auction in the same millisecond): which \
         of the tied bids is kept is arbitrary in both",
    ),
    (
        "q19",
        &["rank_number"],
        "ORDER BY price DESC has ties: the order of equal prices, hence their rank_number, is arbitrary in both",
    ),
];

/// Queries not compared: their result depends on the wall clock, or the SQL does not run.
const NOT_COMPARED: &[(&str, &str)] = &[
    ("q6", "the suite's own q6 does not compile (Flink's neither): `rownum` in its own WHERE"),
    ("q12", "processing-time windows: results depend on the wall clock"),
];

#[test]
fn sql_files_agree_with_the_datastream_queries_on_generated_events() {
    const EVENTS: u64 = 20_000;
    let mut problems = Vec::new();
    for name in eddy_nexmark::queries::QUERIES {
        if NOT_COMPARED.iter().any(|(query, _)| query == name) {
            continue;
        }
        let aliases: Vec<(&str, &str)> = ALIASES
            .iter()
            .filter(|(query, ..)| query == name)
            .map(|(_, sql, field)| (*sql, *field))
            .collect();
        let different = DIFFERENT.iter().find(|(query, ..)| query == name);
        let ignored = different.map_or(&[][..], |(_, columns, _)| columns);
        for workers in [1, 2] {
            let datastream = run_query_on(name, Input::Generated { events: EVENTS }, workers)
                .unwrap_or_else(|error| panic!("{name}: DataStream failed: {error}"))
                .unwrap_or_else(|| panic!("{name}: no DataStream query"));
            let sql = match run_generated(name, EVENTS, workers) {
                Ok(rows) => rows,
                Err(error) => {
                    problems.push(format!("{name} at {workers} workers: the SQL failed: {error}"));
                    continue;
                }
            };
            let outcome = compare_with_datastream(&sql, &datastream, &aliases, ignored);
            println!("{name} at {workers} workers: {outcome:?}");
            match outcome {
                Ok(columns) if !columns.is_empty() && !datastream.is_empty() => {}
                other => problems.push(format!("{name} at {workers} workers: {other:?}")),
            }
            if let Some((_, _, why)) = different {
                if compare_with_datastream(&sql, &datastream, &aliases, &[]).is_ok() {
                    problems
                        .push(format!("{name} at {workers} workers: all columns agree, yet listed: {why}"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
