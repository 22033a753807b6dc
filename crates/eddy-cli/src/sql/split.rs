//! Splitting SQL text into statements at `;`, the way the shell and `eddy sql -f` read it.
//!
//! A `;` ends a statement only outside string literals (`'it''s'`), quoted identifiers
//! (`"a;b"`, `` `a;b` ``) and comments (`-- ...` to the end of the line, `/* ... */`). Each
//! statement remembers the line and column (from 1, in characters, as sqlparser counts them)
//! where its first token starts, so an error can point into the file or the shell's buffer.

/// One statement of a SQL text, without its closing `;`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementText {
    /// The statement's text, from its first token to just before its `;` (comments inside
    /// it are kept).
    pub text: String,
    /// The line its first token is on, from 1.
    pub line: usize,
    /// The column of its first token, from 1, in characters.
    pub column: usize,
}

impl StatementText {
    /// The statement padded with newlines and spaces so that positions in it are positions
    /// in the whole text: what sqlparser reports for it then points into the file.
    pub fn positioned(&self) -> String {
        let mut padded = "\n".repeat(self.line.saturating_sub(1));
        padded.push_str(&" ".repeat(self.column.saturating_sub(1)));
        padded.push_str(&self.text);
        padded
    }
}

/// The statements of a text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Split {
    /// The statements each ended by a `;`, in order.
    pub complete: Vec<StatementText>,
    /// Text after the last `;` that holds more than whitespace and comments: a statement
    /// still being typed (the shell waits for more lines), or a file's last statement
    /// without its `;`.
    pub rest: Option<StatementText>,
    /// Whether the text ends inside a string, a quoted identifier or a block comment.
    pub open_quote: bool,
}

/// Where the scanner is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between tokens or inside an unquoted token.
    Plain,
    /// Inside `'...'`, `"..."` or `` `...` ``, closed by the character held.
    Quoted(char),
    /// Inside `-- ...`, to the end of the line.
    LineComment,
    /// Inside `/* ... */`.
    BlockComment,
}

/// Splits `sql` into statements; see the module docs.
pub fn split(sql: &str) -> Split {
    let mut split = Split::default();
    let mut state = State::Plain;
    // The current statement: where its first token starts (byte offset, line, column).
    let mut start: Option<(usize, usize, usize)> = None;
    let (mut line, mut column) = (1, 1);
    let mut chars = sql.char_indices().peekable();
    while let Some((offset, c)) = chars.next() {
        let here = (offset, line, column);
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
        let next = chars.peek().map(|&(_, next)| next);
        match state {
            State::Plain => match c {
                '-' if next == Some('-') => state = State::LineComment,
                '/' if next == Some('*') => {
                    chars.next();
                    column += 1;
                    state = State::BlockComment;
                }
                ';' => {
                    if let Some((from, line, column)) = start.take() {
                        let text = sql[from..offset].trim_end().to_owned();
                        split.complete.push(StatementText { text, line, column });
                    }
                }
                c if c.is_whitespace() => {}
                c => {
                    start.get_or_insert(here);
                    if matches!(c, '\'' | '"' | '`') {
                        state = State::Quoted(c);
                    }
                }
            },
            // A doubled quote inside a quoted token is the quote itself: the scanner leaves
            // and re-enters the token, which changes nothing.
            State::Quoted(quote) if c == quote => state = State::Plain,
            State::Quoted(_) => {}
            State::LineComment if c == '\n' => state = State::Plain,
            State::LineComment => {}
            State::BlockComment if c == '*' && next == Some('/') => {
                chars.next();
                column += 1;
                state = State::Plain;
            }
            State::BlockComment => {}
        }
    }
    split.open_quote = matches!(state, State::Quoted(_) | State::BlockComment);
    if let Some((from, line, column)) = start {
        split.rest = Some(StatementText { text: sql[from..].trim_end().to_owned(), line, column });
    }
    split
}

/// The statements of a whole file: the complete ones and a last one without its `;`.
pub fn split_file(sql: &str) -> Vec<StatementText> {
    let split = split(sql);
    split.complete.into_iter().chain(split.rest).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str) -> Vec<(String, usize, usize)> {
        split_file(sql).into_iter().map(|s| (s.text, s.line, s.column)).collect()
    }

    #[test]
    fn semicolons_in_strings_identifiers_and_comments_do_not_split() {
        let sql = "SELECT 'a;b', 'it''s;' FROM t;\n\
                   -- a comment; still one\n\
                   SELECT \"x;y\", `p;q` /* c; d */ FROM u;";
        assert_eq!(
            texts(sql),
            [
                ("SELECT 'a;b', 'it''s;' FROM t".to_owned(), 1, 1),
                ("SELECT \"x;y\", `p;q` /* c; d */ FROM u".to_owned(), 3, 1),
            ]
        );
    }

    #[test]
    fn statements_start_at_their_first_token() {
        let sql = "  /* header */\n\n   CREATE TABLE t (a INT)\n  ;;\n\tSELECT 1;  -- done\n";
        assert_eq!(texts(sql), [("CREATE TABLE t (a INT)".to_owned(), 3, 4), ("SELECT 1".to_owned(), 5, 2)]);
        // Columns count characters, not bytes.
        assert_eq!(texts("SELECT 'é';  SELECT 2")[1], ("SELECT 2".to_owned(), 1, 14));
    }

    #[test]
    fn an_unfinished_statement_is_the_rest() {
        let split = split("SELECT 1; SELECT\n  2");
        assert_eq!(split.complete.len(), 1);
        assert_eq!(split.rest.unwrap().text, "SELECT\n  2");
        assert!(!split.open_quote);
        let split = super::split("SELECT 'a;\n");
        assert!(split.complete.is_empty() && split.open_quote);
        assert!(super::split("SELECT 1; -- only a comment\n /* and another */").rest.is_none());
        assert!(super::split("SELECT 1 /* open ;").open_quote);
        // `-` alone is an operator, not a comment.
        assert_eq!(texts("SELECT 3 - 1; SELECT 2")[0].0, "SELECT 3 - 1");
    }

    #[test]
    fn positioned_text_puts_the_statement_where_it_was() {
        let statement = &split_file("SELECT 1;\n  SELECT 2")[1];
        assert_eq!(statement.positioned(), "\n  SELECT 2");
    }
}
