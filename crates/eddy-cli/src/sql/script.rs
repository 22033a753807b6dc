//! Running a SQL script (`eddy sql -f FILE`) and reading the shell's input line by line into
//! statements.

use std::io::Write;

use crate::sql::client::{Flow, SqlClient, StatementError};
use crate::sql::split::{split, split_file, StatementText};

/// Runs every statement of `source` with `client`, in order, stopping at the first that fails
/// (nothing after it runs) or at `QUIT;`, then runs the held-back `INSERT INTO` statements
/// ([`SqlClient::finish`]). Results go to `out`, messages to `info`.
pub fn run_script(
    source: &str,
    client: &mut SqlClient,
    out: &mut dyn Write,
    info: &mut dyn Write,
) -> Result<(), StatementError> {
    for statement in split_file(source) {
        if client.execute(&statement, out, info)? == Flow::Quit {
            break;
        }
    }
    client.finish(info)
}

/// Statements the shell has read in full, and the text they came from (for error carets and
/// the history).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    /// The lines read since the last batch, joined by newlines: positions in the statements
    /// are positions in this text.
    pub source: String,
    /// The statements each ended by a `;`, in order.
    pub statements: Vec<StatementText>,
}

/// The shell's input so far: lines are added until a `;` outside quotes and comments ends
/// one or more statements.
#[derive(Clone, Debug, Default)]
pub struct LineBuffer {
    text: String,
}

impl LineBuffer {
    /// An empty buffer.
    pub fn new() -> LineBuffer {
        LineBuffer::default()
    }

    /// Whether no statement has been started (the shell shows its first prompt).
    pub fn is_empty(&self) -> bool {
        let split = split(&self.text);
        split.rest.is_none() && !split.open_quote
    }

    /// Forgets the statement being typed (Ctrl-C at the prompt).
    pub fn clear(&mut self) {
        self.text.clear();
    }

    /// Adds a line; returns the statements it completes, if any. A statement begun after the
    /// last `;` stays in the buffer for the next lines.
    pub fn push_line(&mut self, line: &str) -> Option<Batch> {
        if !self.text.is_empty() {
            self.text.push('\n');
        }
        self.text.push_str(line);
        let split = split(&self.text);
        if split.complete.is_empty() {
            if split.rest.is_none() && !split.open_quote {
                // Only blank lines and comments: nothing to wait for.
                self.text.clear();
            }
            return None;
        }
        let source = std::mem::take(&mut self.text);
        if let Some(rest) = split.rest {
            self.text = rest.text;
        }
        Some(Batch { source, statements: split.complete })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_statements_at_the_semicolon() {
        let mut buffer = LineBuffer::new();
        assert!(buffer.push_line("SELECT a,").is_none());
        assert!(!buffer.is_empty());
        assert!(buffer.push_line("  'x;y'").is_none());
        let batch = buffer.push_line("FROM t; SELECT").unwrap();
        assert_eq!(batch.source, "SELECT a,\n  'x;y'\nFROM t; SELECT");
        assert_eq!(batch.statements.len(), 1);
        assert_eq!(batch.statements[0].text, "SELECT a,\n  'x;y'\nFROM t");
        assert!(!buffer.is_empty());
        let batch = buffer.push_line("2;").unwrap();
        assert_eq!(batch.statements[0].text, "SELECT\n2");
        assert!(buffer.is_empty());
        assert!(buffer.push_line("-- a comment").is_none());
        assert!(buffer.is_empty());
        assert!(buffer.push_line("SELECT 'open").is_none());
        buffer.clear();
        assert!(buffer.is_empty());
    }
}
