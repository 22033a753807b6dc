//! `eddy sql -f FILE`: a bounded query printed as a table, `INSERT INTO` statements writing a
//! CSV sink as one job, a dead-letter table, a syntax error named by file, line and column (and nothing after it
//! run), and the example script of the repository.
#![cfg(feature = "sql")]

use std::path::Path;
use std::process::{Command, Output};

use eddy_testkit::output::committed_sorted;

/// Runs `eddy sql -f script` (with `flags`) in `dir`.
fn eddy_sql(dir: &Path, script: &str, flags: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eddy"))
        .current_dir(dir)
        .args(["sql", "-f", script])
        .args(flags)
        .output()
        .expect("eddy runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A directory with `people.csv` and a script with `body` after the table's definition.
fn script(body: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("people.csv"), "1,ann,Berlin\n2,bob,Paris\n3,cid,Berlin\n4,dee,Lisbon\n")
        .unwrap();
    let sql = format!(
        "CREATE TABLE people (id INT, name STRING, city STRING)\n\
         WITH ('connector' = 'filesystem', 'path' = 'people.csv', 'format' = 'csv');\n{body}"
    );
    std::fs::write(dir.path().join("job.sql"), sql).unwrap();
    dir
}

#[test]
fn a_bounded_query_prints_a_table() {
    let dir = script(
        "-- a comment; with a semicolon\n\
         SELECT city, COUNT(*) AS people, MAX(name) AS last, MIN(CASE WHEN id < 4 THEN id END) AS low\n\
         FROM people WHERE name <> 'x;y' GROUP BY city ORDER BY city;\n",
    );
    let output = eddy_sql(dir.path(), "job.sql", &["--workers", "2"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let expected = "\
+--------+--------+------+--------+
|   city | people | last |    low |
+--------+--------+------+--------+
| Berlin |      2 |  cid |      1 |
| Lisbon |      1 |  dee | <NULL> |
|  Paris |      1 |  bob |      2 |
+--------+--------+------+--------+
3 rows in set
";
    assert_eq!(text(&output.stdout), expected);
}

#[test]
fn inserts_write_a_csv_sink_as_one_job() {
    let dir = script(
        "CREATE TABLE berlin (id INT, name STRING) WITH ('connector' = 'filesystem', 'path' = 'out/berlin', 'format' = 'csv');\n\
         CREATE TABLE others (name STRING) WITH ('connector' = 'filesystem', 'path' = 'out/others', 'format' = 'csv');\n\
         INSERT INTO berlin SELECT id, name FROM people WHERE city = 'Berlin';\n\
         INSERT INTO others SELECT name FROM people WHERE city <> 'Berlin' OR city IS NULL",
    );
    let output = eddy_sql(dir.path(), "job.sql", &["--workers", "2"]);
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("running 2 INSERT statement(s) as one job"), "{stderr}");
    assert_eq!(committed_sorted(&dir.path().join("out/berlin")), ["1,ann", "3,cid"]);
    assert_eq!(committed_sorted(&dir.path().join("out/others")), ["bob", "dee"]);
}

#[test]
fn a_dead_letter_table_takes_the_rows_a_job_cannot_process() {
    let dir = script(
        "CREATE TABLE out (id INT, share INT) WITH ('connector' = 'filesystem', 'path' = 'out/shares', 'format' = 'csv');\n\
         CREATE TABLE bad (query STRING, operator STRING, row_text STRING, error STRING)\n\
           WITH ('connector' = 'filesystem', 'path' = 'out/bad', 'format' = 'json');\n\
         SET 'sql.dead-letter-table' = 'bad';\n\
         INSERT INTO out SELECT id, 12 / (id - 2) FROM people;\n",
    );
    let output = eddy_sql(dir.path(), "job.sql", &["--workers", "2"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(committed_sorted(&dir.path().join("out/shares")), ["1,-12", "3,12", "4,6"]);
    let letters = committed_sorted(&dir.path().join("out/bad"));
    assert_eq!(letters.len(), 1, "{letters:?}");
    // The row as the failing operator saw it: columns no query reads (name, city) are NULL.
    assert!(
        letters[0].contains("division by zero") && letters[0].contains(r#""row_text":"(2, "#),
        "{letters:?}"
    );
}

#[test]
fn a_syntax_error_names_file_line_and_column_and_stops_the_script() {
    let dir = script(
        "CREATE TABLE out (name STRING) WITH ('connector' = 'filesystem', 'path' = 'out', 'format' = 'csv');\n\
         INSERT INTO out SELECT name FROM people;\n\
         SELECT name FROM people\n  WHERE name = = 'ann';\n\
         SELECT 1;\n",
    );
    let output = eddy_sql(dir.path(), "job.sql", &[]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    // The second `=`: line 6, column 16 of the file.
    assert!(stderr.contains("eddy: job.sql:6:16: syntax error"), "{stderr}");
    assert!(stderr.contains("  6 |   WHERE name = = 'ann';\n    |                ^"), "{stderr}");
    // Nothing after the error ran: no query result, and not the INSERT held back for the end.
    assert_eq!(text(&output.stdout), "");
    assert!(!dir.path().join("out").exists() || committed_sorted(&dir.path().join("out")).is_empty());
    // An unknown table: the binder's position.
    let dir = script("SELECT * FROM\n  nobody;");
    let output = eddy_sql(dir.path(), "job.sql", &[]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("job.sql:4:3: unknown table `nobody`"), "{stderr}");
}

#[test]
fn a_missing_file_and_a_bad_option_are_clear_errors() {
    let dir = script("SET 'parallelism.default' = 'many';\nSELECT 1;");
    let output = eddy_sql(dir.path(), "job.sql", &[]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("job.sql:3:1: SET 'parallelism.default' = 'many'"), "{stderr}");
    let output = eddy_sql(dir.path(), "missing.sql", &[]);
    assert!(text(&output.stderr).contains("cannot read the SQL script missing.sql"));
}

#[test]
fn the_example_script_runs() {
    // A copy of examples/sql/ at the same place in a scratch directory, which the script's
    // relative paths then resolve against (as they do against the repository's root).
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sql");
    std::fs::create_dir_all(root.join("examples/sql")).unwrap();
    for file in ["orders.sql", "orders.csv", "customers.csv"] {
        std::fs::copy(examples.join(file), root.join("examples/sql").join(file)).unwrap();
    }
    let output = eddy_sql(root, "examples/sql/orders.sql", &[]);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("| Berlin |      5 |  103.15 |"), "{stdout}");
    assert!(stdout.contains("2 rows in set"), "{stdout}");
    assert!(stdout.contains("revenue> +I[Paris, 2, 17.00]"), "{stdout}");
    let big_orders = committed_sorted(&root.join("target/sql-example/big_orders"));
    assert_eq!(big_orders, ["100,Alice,19.90", "102,Alice,42.50", "104,Bob,12.00", "105,Chandra,30.10"]);
}
