//! `eddy sql`: the interactive SQL shell (rustyline: line editing and a history file), and
//! `eddy sql -f FILE`, which runs a script with every `INSERT INTO` as one job. The logic
//! lives in `eddy_cli::sql`; this file reads the terminal or the file and prints errors.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use eddy_cli::args::RunArgs;
use eddy_cli::sql::run::{install_interrupt_handler, Interrupts};
use eddy_cli::sql::{run_script, Flow, Inserts, JobOptions, LineBuffer, SqlClient};
use eddy_core::sink::exit_if_broken_pipe;
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{Config, Editor};

use crate::Failure;

/// `eddy sql` flags.
#[derive(Clone, Debug, clap::Args)]
pub(crate) struct SqlArgs {
    /// Run this SQL script instead of the shell: statements in order, a bounded query's
    /// result printed as a table, and all `INSERT INTO` statements together as one job at
    /// the end. Relative paths in it are relative to the current directory.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Option<PathBuf>,
    /// The job flags (`SET` changes them for the statements after it).
    #[command(flatten)]
    run: RunArgs,
}

/// The shell's first prompt and the prompt of a statement's further lines.
const PROMPT: &str = "eddy> ";
const CONTINUATION: &str = "   -> ";

/// Runs `eddy sql`.
pub(crate) fn sql(args: SqlArgs) -> Result<(), Failure> {
    // The flags are checked up front, so a bad flag fails before any statement runs.
    args.run.job_config()?;
    let options = JobOptions::new(args.run);
    match args.file {
        Some(file) => script(&file, options),
        None => shell(options),
    }
}

fn script(file: &Path, options: JobOptions) -> Result<(), Failure> {
    let source = std::fs::read_to_string(file)
        .map_err(|error| format!("cannot read the SQL script {}: {error}", file.display()))?;
    install_interrupt_handler(Interrupts::ExitWhenIdle);
    let mut client = SqlClient::new(options, Inserts::AtTheEnd);
    run_script(&source, &mut client, &mut Stdout, &mut io::stderr())
        .map_err(|error| Failure::Message(error.render(&source, Some(&file.display().to_string()))))
}

fn shell(options: JobOptions) -> Result<(), Failure> {
    // At a terminal the line editor reads Ctrl-C as a key; from a pipe it ends the shell.
    install_interrupt_handler(if io::stdin().is_terminal() {
        Interrupts::IgnoreWhenIdle
    } else {
        Interrupts::ExitWhenIdle
    });
    let config = Config::builder().auto_add_history(false).max_history_size(10_000)?.build();
    let mut editor: Editor<(), FileHistory> = Editor::with_config(config)?;
    let history = history_file();
    if let Some(path) = &history {
        match editor.load_history(path) {
            Err(ReadlineError::Io(error)) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => eprintln!("eddy sql: cannot read the history {}: {error}", path.display()),
            Ok(()) => {}
        }
    }
    println!("eddy SQL shell: statements end with ';'. HELP; lists the commands, QUIT; or Ctrl-D leaves.");
    let mut client = SqlClient::new(options, Inserts::Immediately);
    let mut buffer = LineBuffer::new();
    loop {
        let prompt = if buffer.is_empty() { PROMPT } else { CONTINUATION };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            // Ctrl-C at the prompt drops the statement being typed.
            Err(ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(error) => return Err(format!("reading the terminal: {error}").into()),
        };
        let Some(batch) = buffer.push_line(&line) else { continue };
        if let Some(path) = &history {
            let _ = editor.add_history_entry(batch.source.as_str());
            if let Err(error) = save_history(&mut editor, path) {
                eprintln!("eddy sql: cannot write the history {}: {error}", path.display());
            }
        }
        for statement in &batch.statements {
            match client.execute(statement, &mut Stdout, &mut io::stderr()) {
                Ok(Flow::Continue) => {}
                Ok(Flow::Quit) => return Ok(()),
                // The rest of the line is not run after an error; the shell goes on.
                Err(error) => {
                    eprintln!("{}", error.render(&batch.source, None));
                    break;
                }
            }
        }
        io::stdout().flush()?;
    }
    Ok(())
}

/// Standard output, not locked (a `print` table's workers write to it too), ending the
/// process quietly when its reader closes it (`eddy sql -f job.sql | head`).
struct Stdout;

impl Write for Stdout {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        io::stdout().write(bytes).inspect_err(exit_if_broken_pipe)
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stdout().flush().inspect_err(exit_if_broken_pipe)
    }
}

/// `$EDDY_SQL_HISTORY`, or `eddy/sql_history` in the user's data directory
/// (`$XDG_DATA_HOME`, else `~/.local/share`; `~/Library/Application Support` on macOS), or
/// none when there is no home directory. An empty `$EDDY_SQL_HISTORY` keeps no history.
fn history_file() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("EDDY_SQL_HISTORY") {
        return (!path.is_empty()).then(|| PathBuf::from(path));
    }
    let data = match std::env::var_os("XDG_DATA_HOME").filter(|dir| !dir.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => {
            let home = PathBuf::from(std::env::var_os("HOME").filter(|home| !home.is_empty())?);
            if cfg!(target_os = "macos") {
                home.join("Library/Application Support")
            } else {
                home.join(".local/share")
            }
        }
    };
    Some(data.join("eddy").join("sql_history"))
}

fn save_history(editor: &mut Editor<(), FileHistory>, path: &Path) -> Result<(), ReadlineError> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    editor.save_history(path)
}

impl From<ReadlineError> for Failure {
    fn from(error: ReadlineError) -> Self {
        Failure::Message(format!("the line editor: {error}"))
    }
}
