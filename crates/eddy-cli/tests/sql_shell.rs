//! The interactive `eddy sql` shell driven through a pseudo-terminal (rexpect): tables
//! created and queried, a multi-line statement, a syntax error with its position (the shell
//! goes on), `SET`, an unbounded query stopped by Ctrl-C, the history file, and `QUIT;`.
#![cfg(feature = "sql")]

use std::path::Path;
use std::process::Command;

use rexpect::reader::Options;
use rexpect::session::{spawn_with_options, PtySession};

/// `eddy sql` in `dir`, with its history in `dir/history`.
fn shell(dir: &Path) -> PtySession {
    let mut command = Command::new(env!("CARGO_BIN_EXE_eddy"));
    command.arg("sql").current_dir(dir).env("EDDY_SQL_HISTORY", dir.join("history")).env("TERM", "xterm");
    let options = Options::new().timeout_ms(Some(30_000)).strip_ansi_escape_codes(true);
    let mut shell = spawn_with_options(command, options).expect("eddy sql starts");
    shell.exp_string("HELP; lists the commands").unwrap();
    shell.exp_string("eddy> ").unwrap();
    shell
}

/// Sends one line and waits for the shell's next first-line prompt; returns what came before it.
fn run(shell: &mut PtySession, line: &str) -> String {
    shell.send_line(line).unwrap();
    shell.exp_string("eddy> ").unwrap_or_else(|error| panic!("{line}: {error}"))
}

#[test]
fn create_query_errors_and_quit() {
    let dir = tempfile::tempdir().unwrap();
    let mut shell = shell(dir.path());
    let out = run(&mut shell, "CREATE TABLE t (a INT, b STRING);");
    assert!(out.contains("table t created"), "{out}");
    run(&mut shell, "INSERT INTO t VALUES (1, 'one'), (2, NULL), (3, 'three');");

    // A statement over several lines: the continuation prompt until the `;`.
    shell.send_line("SELECT a, b").unwrap();
    shell.exp_string("-> ").unwrap();
    shell.send_line("  FROM t WHERE b <> 'x;y' OR b IS NULL").unwrap();
    shell.exp_string("-> ").unwrap();
    let out = run(&mut shell, "  ORDER BY a;");
    let table = "\
+---+--------+\r
| a |      b |\r
+---+--------+\r
| 1 |    one |\r
| 2 | <NULL> |\r
| 3 |  three |\r
+---+--------+\r
3 rows in set";
    assert!(out.contains(table), "{out}");

    // A syntax error shows where, and the shell goes on.
    let out = run(&mut shell, "SELECT a,, b FROM t;");
    assert!(out.contains("error at line 1, column 10: syntax error"), "{out}");
    assert!(out.contains("1 | SELECT a,, b FROM t;\r\n    |          ^"), "{out}");
    let out = run(&mut shell, "SELECT a FROM t WHERE a >;");
    assert!(out.contains("error at line 1, column 26"), "{out}");
    let out = run(&mut shell, "SELECT COUNT(*) AS n FROM t;");
    assert!(out.contains("| 3 |") && out.contains("1 row in set"), "{out}");

    // Job options.
    let out = run(&mut shell, "SET 'parallelism.default' = '2';");
    assert!(out.contains("parallelism.default = '2'"), "{out}");
    let out = run(&mut shell, "SET 'no.such.key' = '1';");
    assert!(out.contains("unknown option 'no.such.key'"), "{out}");
    let out = run(&mut shell, "SET;");
    assert!(out.contains("'parallelism.default' = '2'"), "{out}");
    let out = run(&mut shell, "HELP;");
    assert!(out.contains("state.checkpoints.dir"), "{out}");

    shell.send_line("QUIT;").unwrap();
    shell.exp_eof().unwrap();
    let history = std::fs::read_to_string(dir.path().join("history")).unwrap();
    assert!(history.contains("CREATE TABLE t (a INT, b STRING);"), "{history}");
}

#[test]
fn ctrl_c_stops_an_unbounded_query_not_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    let mut shell = shell(dir.path());
    run(
        &mut shell,
        "CREATE TABLE g (k INT, v INT) WITH ('connector' = 'datagen', 'rows-per-second' = '50', \
         'fields.k.min' = '1', 'fields.k.max' = '3', 'fields.v.min' = '1', 'fields.v.max' = '9');",
    );
    shell.send_line("SELECT k, COUNT(*) AS n FROM g GROUP BY k;").unwrap();
    shell.exp_string("op[k, n]").unwrap();
    // Changes arrive, first inserts, then updates of the counts.
    shell.exp_string("+I[").unwrap();
    shell.exp_string("+U[").unwrap();
    shell.send_control('c').unwrap();
    shell.exp_string("job stopped by Ctrl-C").unwrap();
    shell.exp_string("eddy> ").unwrap();
    // The shell still works, and Ctrl-D leaves it.
    let out = run(&mut shell, "SHOW TABLES;");
    assert!(out.contains("| g |") || out.contains(" g |"), "{out}");
    shell.send_control('d').unwrap();
    shell.exp_eof().unwrap();
}
