//! SQL `MATCH_RECOGNIZE`: bind errors naming the construct and its position, the reference
//! evaluator against the dataflow at 1 and 2 workers on random inputs, and a pattern over a
//! windowed aggregation (through a view).

use eddy_sql::datum::Row;
use eddy_sql::engine::{DataflowEngine, OracleEngine, QueryEngine};
use eddy_sql::session::{Outcome, Session};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn session(engine: Box<dyn QueryEngine>) -> Session {
    let mut s = Session::with_engine(engine);
    s.execute("CREATE TABLE t (k INT, price INT, name STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)")
        .expect("create");
    s
}

fn strings(rows: &[Row]) -> Vec<String> {
    let mut out: Vec<String> = rows.iter().map(|r| r.to_string()).collect();
    out.sort();
    out
}

fn query(s: &mut Session, sql: &str) -> Vec<String> {
    match s.execute(sql).unwrap_or_else(|e| panic!("{sql}: {e}")).pop() {
        Some(Outcome::Rows { rows, .. }) => strings(&rows),
        other => panic!("{sql}: expected rows, got {other:?}"),
    }
}

fn error(sql: &str) -> String {
    session(Box::new(OracleEngine)).execute(sql).expect_err(sql).to_string()
}

#[test]
fn unsupported_constructs_are_named_with_their_position() {
    let base = |pattern: &str, rest: &str| {
        format!(
            "SELECT * FROM t MATCH_RECOGNIZE (PARTITION BY k ORDER BY ts MEASURES A.price AS p {rest}\n PATTERN ({pattern}) DEFINE A AS A.price > 1)"
        )
    };
    let e = error(&base("A", "ALL ROWS PER MATCH"));
    assert!(e.contains("ALL ROWS PER MATCH") && e.contains("line 1"), "{e}");
    let e = error(&base("PERMUTE(A, B)", ""));
    assert!(e.contains("PERMUTE"), "{e}");
    let e = error(&base("A | B", ""));
    assert!(e.contains("alternation"), "{e}");
    let e = error("SELECT * FROM t MATCH_RECOGNIZE (ORDER BY ts MEASURES A.price AS p PATTERN (A)\n DEFINE B AS B.price > 1)");
    assert!(e.contains("DEFINE B") && e.contains("not in PATTERN") && e.contains("line 2"), "{e}");
    let e = error(
        "SELECT * FROM t MATCH_RECOGNIZE (ORDER BY price MEASURES A.price AS p PATTERN (A) DEFINE A AS true)",
    );
    assert!(e.contains("time attribute") && e.contains("INT"), "{e}");
    let e = error("SELECT * FROM t MATCH_RECOGNIZE (ORDER BY ts MEASURES NEXT(A.price) AS p PATTERN (A) DEFINE A AS true)");
    assert!(e.contains("NEXT in MATCH_RECOGNIZE"), "{e}");
    let e = error(
        "SELECT * FROM t MATCH_RECOGNIZE (ORDER BY ts MEASURES X.price AS p PATTERN (A) DEFINE A AS true)",
    );
    assert!(e.contains("X is not a pattern variable"), "{e}");
    let e = error(
        "SELECT * FROM t MATCH_RECOGNIZE (ORDER BY ts MEASURES A.nope AS p PATTERN (A) DEFINE A AS true)",
    );
    assert!(e.contains("nope"), "{e}");
}

const PATTERNS: [&str; 6] = [
    // A rise after a run of falls, with aggregates and navigation.
    "MEASURES FIRST(D.price) AS top, LAST(D.price) AS bottom, U.price AS up, COUNT(D.price) AS n
     AFTER MATCH SKIP PAST LAST ROW
     PATTERN (D{2,} U)
     DEFINE D AS D.price < LAST(D.price, 1) OR LAST(D.price, 1) IS NULL, U AS U.price > LAST(D.price)",
    // Reluctant and optional quantifiers.
    "MEASURES A.name AS a, SUM(B.price) AS b, LAST(C.price) AS c
     AFTER MATCH SKIP TO NEXT ROW
     PATTERN (A B*? C?)
     DEFINE A AS A.name = 'a', B AS B.price < 5, C AS C.name = 'c'",
    // Aggregates over the whole match, greedy loop.
    "MEASURES SUM(A.price) AS s, COUNT(*) AS n, MIN(price) AS lo, MAX(price) AS hi, LAST(ts) AS t
     PATTERN (A+ B)
     DEFINE A AS SUM(A.price) < 20, B AS B.name = 'b'",
    // PREV and an exact count.
    "MEASURES FIRST(A.price) AS first_a, LAST(A.price) AS last_a
     AFTER MATCH SKIP TO LAST A
     PATTERN (A{3})
     DEFINE A AS PREV(A.price) IS NULL OR A.price >= PREV(A.price)",
    // A range and a following variable without a condition.
    "MEASURES AVG(A.price) AS avg_a, B.name AS b
     PATTERN (A{1,3} B)
     DEFINE A AS A.name <> 'c'",
    // A group.
    "MEASURES FIRST(A.price) AS a1, LAST(B.price) AS b2
     PATTERN (A (B C) D)
     DEFINE A AS A.name = 'a', B AS B.name = 'b', C AS C.price > 3, D AS D.price < 8",
];

#[test]
fn the_dataflow_agrees_with_the_reference_evaluator_on_random_inputs() {
    let mut rng = StdRng::seed_from_u64(21);
    let mut matched = [0usize; PATTERNS.len()];
    for round in 0..6 {
        let rows: Vec<String> = (0..60)
            .map(|_| {
                let name = ["a", "b", "c", "d"][rng.gen_range(0..4)];
                let price = if rng.gen_range(0..10) == 0 {
                    "NULL".to_string()
                } else {
                    rng.gen_range(0..10).to_string()
                };
                format!(
                    "({}, {price}, '{name}', TIMESTAMP '2024-01-01 00:00:00' + INTERVAL '{}' SECOND)",
                    rng.gen_range(0..3),
                    rng.gen_range(0..40)
                )
            })
            .collect();
        let insert = format!("INSERT INTO t VALUES {}", rows.join(", "));
        for (p, pattern) in PATTERNS.iter().enumerate() {
            let sql = format!("SELECT * FROM t MATCH_RECOGNIZE (PARTITION BY k ORDER BY ts, price DESC, name {pattern}) AS T");
            let mut expected = None;
            let engines: [Box<dyn QueryEngine>; 3] = [
                Box::new(OracleEngine),
                Box::new(DataflowEngine { workers: 1 }),
                Box::new(DataflowEngine { workers: 2 }),
            ];
            for (e, engine) in engines.into_iter().enumerate() {
                let mut s = session(engine);
                s.execute(&insert).expect("insert");
                let got = query(&mut s, &sql);
                match &expected {
                    None => {
                        matched[p] += got.len();
                        expected = Some(got)
                    }
                    Some(want) => assert_eq!(&got, want, "round {round}, pattern {p}, engine {e}"),
                }
            }
        }
    }
    assert!(matched.iter().all(|n| *n > 0), "every pattern matches somewhere: {matched:?}");
}

#[test]
fn a_pattern_over_a_windowed_aggregation_through_a_view() {
    // Flink's testMatchRecognizeAppliedToWindowedGrouping, with the windowed aggregation as a
    // view (sqlparser reads MATCH_RECOGNIZE only after a table name).
    for engine in [Box::new(OracleEngine) as Box<dyn QueryEngine>, Box::new(DataflowEngine { workers: 2 })] {
        let mut s = Session::with_engine(engine);
        s.execute(
            "CREATE TABLE Ticker (symbol STRING, rowtime TIMESTAMP(3), price INT, tax INT,
                 WATERMARK FOR rowtime AS rowtime);
             INSERT INTO Ticker VALUES
               ('ACME', TIMESTAMP '1970-01-01 00:00:01', 1, 1), ('ACME', TIMESTAMP '1970-01-01 00:00:02', 2, 2),
               ('ACME', TIMESTAMP '1970-01-01 00:00:04', 1, 4), ('ACME', TIMESTAMP '1970-01-01 00:00:05', 1, 3),
               ('ACME', TIMESTAMP '1970-01-01 00:00:07', 2, 3), ('ACME', TIMESTAMP '1970-01-01 00:00:08', 2, 3),
               ('ACME1', TIMESTAMP '1970-01-01 00:00:01', 20, 4), ('ACME1', TIMESTAMP '1970-01-01 00:00:01', 24, 4),
               ('ACME1', TIMESTAMP '1970-01-01 00:00:01', 25, 3), ('ACME1', TIMESTAMP '1970-01-01 00:00:01', 19, 8);
             CREATE VIEW w AS SELECT symbol, SUM(price) AS price,
                 TUMBLE_ROWTIME(rowtime, INTERVAL '3' SECOND) AS rowTime,
                 TUMBLE_START(rowtime, INTERVAL '3' SECOND) AS startTime
               FROM Ticker GROUP BY symbol, TUMBLE(rowtime, INTERVAL '3' SECOND)",
        )
        .expect("setup");
        let got = query(
            &mut s,
            "SELECT * FROM w MATCH_RECOGNIZE (PARTITION BY symbol ORDER BY rowTime
               MEASURES B.price AS dPrice, B.startTime AS dTime ONE ROW PER MATCH
               PATTERN (A B) DEFINE B AS B.price < A.price)",
        );
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].contains("ACME") && got[0].contains("1970-01-01 00:00:03"), "{got:?}");
    }
}

fn sorted_rows(s: &mut Session, sql: &str, workers: usize) -> Vec<String> {
    let job = match s.execute(sql).unwrap_or_else(|e| panic!("{sql}: {e}")).pop() {
        Some(Outcome::Job(job)) => job,
        other => panic!("{sql}: expected a job, got {other:?}"),
    };
    let config = eddy_core::prelude::JobConfig::with_workers(workers);
    let mut rows: Vec<String> = job.collect(config).expect("runs").iter().map(|r| r.to_string()).collect();
    rows.sort();
    rows
}

#[test]
fn at_event_time_out_of_order_rows_match_as_the_sorted_batch_does() {
    // Rows one a second, keys k0..k2, swapped in pairs (1 s out of order; the watermark is 2 s
    // behind, so no row is late): the operator must wait for the watermark and sort.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.csv");
    let mut lines = Vec::new();
    for pair in 0..60u32 {
        for second in [2 * pair + 1, 2 * pair] {
            lines.push(format!(
                "{second},k{},2024-01-01 00:{:02}:{:02}",
                second % 3,
                second / 60,
                second % 60
            ));
        }
    }
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let mut s = Session::with_engine(Box::new(DataflowEngine::default()));
    for (name, time, every) in [
        ("events", ", WATERMARK FOR ts AS ts - INTERVAL '2' SECOND", ", 'scan.watermark.emit-every' = '3'"),
        ("batch", "", ""),
    ] {
        s.execute(&format!(
            "CREATE TABLE {name} (id INT, k STRING, ts TIMESTAMP(3){time})
                 WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv'{every})",
            path.display()
        ))
        .unwrap();
    }
    let query = |table: &str| {
        format!(
            "SELECT * FROM {table} MATCH_RECOGNIZE (PARTITION BY k ORDER BY ts
               MEASURES FIRST(A.id) AS a, LAST(B.id) AS b, COUNT(B.id) AS n, MATCH_ROWTIME() AS t
               PATTERN (A B{{1,3}} C)
               DEFINE A AS MOD(A.id, 4) = 0, B AS B.id > A.id AND MOD(B.id, 5) <> 0, C AS MOD(C.id, 2) = 0)"
        )
    };
    let batch = sorted_rows(&mut s, &query("batch"), 1);
    assert!(batch.len() > 5, "{batch:?}");
    for workers in [1, 2] {
        assert_eq!(sorted_rows(&mut s, &query("events"), workers), batch, "{workers} workers");
    }
}

#[test]
fn explain_shows_the_pattern_and_repeated_groups_run() {
    let mut s = session(Box::new(OracleEngine));
    let sql = "SELECT * FROM t MATCH_RECOGNIZE (PARTITION BY k ORDER BY ts
        MEASURES FIRST(A.price) AS a, LAST(B.price) AS b, COUNT(*) AS n
        AFTER MATCH SKIP TO NEXT ROW PATTERN ((A B){2,} C??) DEFINE A AS A.name = 'a', B AS PREV(B.name) = 'a')";
    let plan = match s.execute(&format!("EXPLAIN {sql}")).expect("explain").pop() {
        Some(Outcome::Explain(text)) => text,
        other => panic!("{other:?}"),
    };
    assert!(plan.contains("MatchRecognize partition [#0]") && plan.contains("((A B){2,} C??)"), "{plan}");
    s.execute(
        "INSERT INTO t VALUES (1, 1, 'a', TIMESTAMP '2024-01-01 00:00:01'), (1, 2, 'b', TIMESTAMP '2024-01-01 00:00:02'),
           (1, 3, 'a', TIMESTAMP '2024-01-01 00:00:03'), (1, 4, 'b', TIMESTAMP '2024-01-01 00:00:04'),
           (1, 5, 'c', TIMESTAMP '2024-01-01 00:00:05')",
    )
    .expect("insert");
    // (A B){2,} over a-b-a-b, then C?? (reluctant: no C): one match from the first a.
    assert_eq!(query(&mut s, sql), ["(1, 1, 4, 4)"]);
}

#[test]
fn an_updating_input_is_refused_by_the_dataflow() {
    let mut s = session(Box::new(DataflowEngine::default()));
    s.execute("CREATE VIEW totals AS SELECT k, MAX(ts) AS ts, SUM(price) AS price FROM t GROUP BY k")
        .unwrap();
    let e = s
        .execute("SELECT * FROM totals MATCH_RECOGNIZE (ORDER BY ts MEASURES A.price AS p PATTERN (A) DEFINE A AS true)")
        .expect_err("updating input")
        .to_string();
    assert!(e.contains("append-only input"), "{e}");
}
