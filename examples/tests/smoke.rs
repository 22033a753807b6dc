//! Smoke tests of the example binaries: each one is run as a process with `--output` into a
//! temporary directory, at 1 and 2 workers, and its part files are checked for the exact
//! expected results.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A file of the bundled sample data.
fn bundled(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data").join(name)
}

/// Runs `binary` with `args`, returning its output (whatever its exit status).
fn run(binary: &str, args: &[&OsStr]) -> Output {
    Command::new(binary).args(args).output().unwrap_or_else(|error| panic!("running {binary}: {error}"))
}

/// Runs `binary` on `input` with `workers` workers into a fresh directory, which it returns
/// (kept alive by the returned guard). Panics with the program's stderr when it fails.
fn run_into_dir(binary: &str, input: &Path, workers: usize) -> tempfile::TempDir {
    let output = tempfile::tempdir().expect("temporary directory");
    let workers = workers.to_string();
    let result = run(
        binary,
        &[
            "--input".as_ref(),
            input.as_os_str(),
            "--output".as_ref(),
            output.path().as_os_str(),
            "--workers".as_ref(),
            workers.as_ref(),
        ],
    );
    assert!(
        result.status.success(),
        "{binary} failed with {}:\n{}",
        result.status,
        String::from_utf8_lossy(&result.stderr)
    );
    output
}

/// The records of all part files `part-<worker>.<extension>` in `directory`, one string per
/// line, sorted. For CSV, checks and drops each file's header line (`header`). Also checks
/// that there is one part file per worker and no in-progress file is left behind.
fn read_parts(directory: &Path, extension: &str, header: Option<&str>, workers: usize) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(directory)
        .unwrap_or_else(|error| panic!("listing {}: {error}", directory.display()))
        .map(|entry| entry.expect("directory entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let expected: Vec<String> = (0..workers).map(|worker| format!("part-{worker}.{extension}")).collect();
    assert_eq!(names, expected, "files in {}", directory.display());
    let mut lines = Vec::new();
    for name in names {
        let text = fs::read_to_string(directory.join(&name)).expect("readable part file");
        let mut file_lines = text.lines();
        if let Some(header) = header {
            // A worker that wrote no record writes no header either.
            if let Some(first) = file_lines.next() {
                assert_eq!(first, header, "header of {name}");
            }
        }
        lines.extend(file_lines.map(str::to_owned));
    }
    lines.sort();
    lines
}

/// Runs `binary` on `input` at 1 and 2 workers and returns the (sorted) records of the output
/// subdirectory `subdirectory` ("" for the output directory itself), after checking that both
/// runs agree.
fn run_both(
    binary: &str,
    input: &Path,
    subdirectory: &str,
    extension: &str,
    header: Option<&str>,
) -> Vec<String> {
    let results: Vec<Vec<String>> = [1, 2]
        .into_iter()
        .map(|workers| {
            let output = run_into_dir(binary, input, workers);
            read_parts(&output.path().join(subdirectory), extension, header, workers)
        })
        .collect();
    assert_eq!(results[0], results[1], "{binary}: 1 worker and 2 workers disagree");
    results.into_iter().next().expect("two runs")
}

fn strings(lines: &[&str]) -> Vec<String> {
    let mut lines: Vec<String> = lines.iter().map(|line| line.to_string()).collect();
    lines.sort();
    lines
}

#[test]
fn wordcount_counts_a_tiny_text_exactly() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let input = directory.path().join("tiny.txt");
    fs::write(&input, "The cat and the hat.\n\nTHE END -- the 'end'!\nDon't stop.\n").expect("write input");
    let counts = run_both(env!("CARGO_BIN_EXE_wordcount"), &input, "", "csv", Some("word,count"));
    assert_eq!(counts, strings(&["the,4", "cat,1", "and,1", "hat,1", "end,2", "don't,1", "stop,1"]));
}

#[test]
fn wordcount_bundled_text_has_one_final_count_per_word() {
    let counts =
        run_both(env!("CARGO_BIN_EXE_wordcount"), &bundled("words.txt"), "", "csv", Some("word,count"));
    let parsed: Vec<(String, u64)> = counts
        .iter()
        .map(|line| {
            let (word, count) = line.rsplit_once(',').expect("word,count");
            (word.to_owned(), count.parse().expect("numeric count"))
        })
        .collect();
    assert_eq!(parsed.len(), 78, "distinct words");
    assert_eq!(parsed.iter().map(|(_, count)| count).sum::<u64>(), 131, "total words");
    let count_of = |word: &str| parsed.iter().find(|(w, _)| w == word).map(|(_, count)| *count);
    assert_eq!(count_of("the"), Some(17));
    assert_eq!(count_of("it"), Some(7));
    assert_eq!(count_of("river"), Some(3));
    assert_eq!(count_of("watermark"), Some(1));
    assert_eq!(count_of("The"), None, "words are lowercased");
}

#[test]
fn fraud_detection_raises_exactly_the_two_bundled_alerts() {
    let alerts = run_both(
        env!("CARGO_BIN_EXE_fraud_detection"),
        &bundled("transactions.csv"),
        "",
        "csv",
        Some("account_id,small_ts,large_amount,large_ts"),
    );
    assert_eq!(
        alerts,
        strings(&["1003,1700000095000,731.18,1700000130000", "1005,1700000300000,989.0,1700000359500"])
    );
}

#[test]
fn fraud_detection_window_edges() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let input = directory.path().join("edges.csv");
    let rows = [
        "account_id,amount,ts",
        // Exactly one minute later: still an alert; one millisecond more: none.
        "a,0.50,1000000",
        "b,0.50,1000000",
        "a,600.00,1060000",
        "b,600.00,1060001",
        // 0.99 then 500.01: an alert; 1.00 then 900: none; 0.10 then 500.00: none.
        "c,0.99,1100000",
        "c,500.01,1101000",
        "c,1.00,1102000",
        "c,900.00,1103000",
        "c,0.10,1104000",
        "c,500.00,1105000",
        // Arrives after the small one but happened before it: does not follow it, so the next
        // transaction still does.
        "d,0.50,1110000",
        "d,700.00,1108000",
        "d,800.00,1120000",
        // Small, then small again, then large: the second small one counts.
        "e,0.20,1200000",
        "e,0.30,1250000",
        "e,999.00,1300000",
        // Well after everything, to move the watermark along.
        "z,10.00,1500000",
    ];
    fs::write(&input, rows.join("\n") + "\n").expect("write input");
    let alerts = run_both(
        env!("CARGO_BIN_EXE_fraud_detection"),
        &input,
        "",
        "csv",
        Some("account_id,small_ts,large_amount,large_ts"),
    );
    assert_eq!(
        alerts,
        strings(&[
            "a,1000000,600.0,1060000",
            "c,1100000,500.01,1101000",
            "d,1110000,800.0,1120000",
            "e,1250000,999.0,1300000",
        ])
    );
}

#[test]
fn clickstream_counts_windows_and_routes_late_clicks() {
    let binary = env!("CARGO_BIN_EXE_clickstream");
    let input = bundled("clicks.jsonl");
    let windows = run_both(binary, &input, "windows", "csv", Some("user,window_start,window_end,clicks"));
    assert_eq!(
        windows,
        strings(&[
            "alice,1700000000000,1700000010000,3",
            "alice,1700000010000,1700000020000,2",
            "alice,1700000020000,1700000030000,3",
            "alice,1700000030000,1700000040000,1",
            "alice,1700000040000,1700000050000,2",
            "bob,1700000000000,1700000010000,3",
            "bob,1700000010000,1700000020000,3",
            "bob,1700000020000,1700000030000,1",
            "bob,1700000030000,1700000040000,1",
            "bob,1700000040000,1700000050000,1",
            "dave,1700000000000,1700000010000,3",
            "dave,1700000010000,1700000020000,1",
            "dave,1700000020000,1700000030000,2",
            "dave,1700000030000,1700000040000,2",
        ])
    );
    let late = run_both(binary, &input, "late", "jsonl", None);
    assert_eq!(
        late,
        strings(&[
            r#"{"user":"dave","page":"/cart","ts":1700000008700}"#,
            r#"{"user":"alice","page":"/home","ts":1700000016900}"#,
            r#"{"user":"bob","page":"/home","ts":1700000027700}"#,
            r#"{"user":"dave","page":"/checkout","ts":1700000039900}"#,
        ])
    );
    // Every click is either counted or late.
    let counted: u64 =
        windows.iter().map(|line| line.rsplit(',').next().unwrap().parse::<u64>().unwrap()).sum();
    let total = fs::read_to_string(&input).expect("bundled clicks").lines().count() as u64;
    assert_eq!(counted + late.len() as u64, total);
}

#[test]
fn clickstream_prints_readable_lines_without_output() {
    // From another directory: the bundled input is compiled into the binary, not read from
    // the source tree it was built in.
    let elsewhere = tempfile::tempdir().expect("temporary directory");
    let result =
        Command::new(env!("CARGO_BIN_EXE_clickstream")).current_dir(elsewhere.path()).output().unwrap();
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    let stdout = String::from_utf8(result.stdout).expect("UTF-8 output");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 14 + 4, "14 windows and 4 late clicks:\n{stdout}");
    assert!(lines.contains(&"0> window [22:13:20 .. 22:13:30)  user alice clicks 3"), "{stdout}");
    assert!(lines.contains(&"0> LATE click at 22:13:28.700  user dave  page /cart"), "{stdout}");
}

#[test]
fn missing_input_fails_with_a_clear_message() {
    let missing = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/no-such-file");
    for binary in [
        env!("CARGO_BIN_EXE_wordcount"),
        env!("CARGO_BIN_EXE_fraud_detection"),
        env!("CARGO_BIN_EXE_clickstream"),
    ] {
        let result = run(binary, &["--input".as_ref(), missing.as_os_str()]);
        assert!(!result.status.success(), "{binary} succeeded on a missing input");
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert!(stderr.contains("no-such-file"), "{binary} stderr does not name the input:\n{stderr}");
    }
}

#[test]
fn bad_lines_fail_the_examples_or_go_to_dead_letters_with_the_flag() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let clicks = dir.path().join("clicks.jsonl");
    let mut text = fs::read_to_string(bundled("clicks.jsonl")).unwrap();
    text.push_str("{\"user\": \"eve\", \"page\": 7}\n");
    fs::write(&clicks, &text).unwrap();
    let binary = env!("CARGO_BIN_EXE_clickstream");
    let failed = run(binary, &["--input".as_ref(), clicks.as_os_str()]);
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(!failed.status.success() && stderr.contains("clicks.jsonl:"), "{stderr}");
    let tolerant = run(binary, &["--input".as_ref(), clicks.as_os_str(), "--dead-letters".as_ref()]);
    let stderr = String::from_utf8_lossy(&tolerant.stderr);
    assert!(tolerant.status.success(), "{stderr}");
    assert!(stderr.contains("1 lines could not be read"), "{stderr}");
    let stdout = String::from_utf8_lossy(&tolerant.stdout);
    assert!(stdout.contains("dead letter:") && stdout.contains("eve"), "{stdout}");
}

/// A reader that stops reading (`| head`) ends an example quietly, not with "Broken pipe".
#[test]
fn a_closed_standard_output_ends_an_example_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wordcount"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("wordcount starts");
    drop(child.stdout.take());
    let result = child.wait_with_output().expect("wordcount exits");
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "exit status {}:\n{stderr}", result.status);
    assert!(!stderr.to_lowercase().contains("broken pipe"), "{stderr}");
}

/// The unbounded clickstream stops cleanly on Ctrl-C (SIGINT): sources end, open windows fire,
/// part files are committed, and every click read is either counted or reported late.
#[test]
fn clickstream_on_an_unbounded_source_stops_cleanly_on_ctrl_c() {
    let output = tempfile::tempdir().expect("temporary directory");
    let mut child = Command::new(env!("CARGO_BIN_EXE_clickstream"))
        .args(["--generate", "400", "--workers", "2", "--output"])
        .arg(output.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("clickstream starts");
    // Let it run a while (it never ends by itself), then interrupt it.
    std::thread::sleep(std::time::Duration::from_millis(2_500));
    assert!(child.try_wait().expect("status").is_none(), "an unbounded job keeps running");
    let interrupted =
        Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill runs");
    assert!(interrupted.success());
    let result = child.wait_with_output().expect("clickstream exits");
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "exit status {} after Ctrl-C:\n{stderr}", result.status);
    let read: u64 = stderr
        .lines()
        .find_map(|line| line.strip_prefix("clickstream: read ")?.strip_suffix(" clicks")?.parse().ok())
        .unwrap_or_else(|| panic!("no summary line in:\n{stderr}"));
    assert!(read > 100, "it read clicks for a while ({read})");
    let windows =
        read_parts(&output.path().join("windows"), "csv", Some("user,window_start,window_end,clicks"), 2);
    let counted: u64 =
        windows.iter().map(|line| line.rsplit(',').next().unwrap().parse::<u64>().unwrap()).sum();
    let late = read_parts(&output.path().join("late"), "jsonl", None, 2).len() as u64;
    assert_eq!(counted + late, read, "every click is counted once or reported late");
}

/// `cep_fraud` prints the same alerts, timed-out small charges and password-guessing alert at
/// 1 and 2 workers.
#[test]
fn cep_fraud_prints_the_same_matches_at_1_and_2_workers() {
    let expected = strings(&[
        "card testing: account 1002 paid 0.55 at 1700000200000 then 820.00 at 1700000230000",
        "card testing: account 1003 paid 0.42 at 1700000095000 then 731.18 at 1700000130000",
        "card testing: account 1005 paid 0.07 at 1700000300000 then 989.00 at 1700000359500",
        "no large charge within a minute: account 1001 small 0.31 at 1700000320000",
        "no large charge within a minute: account 1001 small 0.89 at 1700000040000",
        "no large charge within a minute: account 1003 small 0.99 at 1700000250000",
        "no large charge within a minute: account 1004 small 0.25 at 1700000140000",
        "password guessing: alice logged in at 6000 after 3 failures",
    ]);
    for workers in ["1", "2"] {
        let output = run(env!("CARGO_BIN_EXE_cep_fraud"), &["--workers".as_ref(), workers.as_ref()]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let mut lines: Vec<String> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|line| {
                let text = line.split_once("> ").map_or(line, |(_, text)| text);
                serde_json::from_str::<String>(text).unwrap_or_else(|_| text.to_string())
            })
            .collect();
        lines.sort();
        assert_eq!(lines, expected, "at {workers} workers");
    }
}
