//! The statements `eddy sql` handles itself instead of passing them to the SQL session:
//! `SET`, `RESET`, `HELP`, `QUIT` and `EXIT`, as Flink's SQL client does.

/// A client command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `SET 'key' = 'value'`.
    Set {
        /// The option's key.
        key: String,
        /// Its new value.
        value: String,
    },
    /// `SET`: list the options.
    ListOptions,
    /// `RESET 'key'` (`Some`) or `RESET` (`None`).
    Reset(Option<String>),
    /// `HELP`.
    Help,
    /// `QUIT` or `EXIT`.
    Quit,
}

/// What `HELP;` prints.
pub const HELP: &str = "\
Statements end with ';' and may span lines.

  CREATE TABLE t (a INT, b STRING) [WITH ('connector' = '...', ...)];
                        a table: in memory without WITH, or read and written through a
                        connector: filesystem (path, format csv|json|debezium-json),
                        datagen, nexmark, kafka, print, blackhole
  CREATE VIEW v AS SELECT ...;   DROP TABLE t;   DROP VIEW v;
  INSERT INTO t VALUES (...) | SELECT ...;
                        an in-memory table changes at once; a connector table is written
                        by a job (in a script, all INSERTs of the file run as one job)
  SELECT ...;           a bounded query prints a table; an unbounded one (over nexmark,
                        datagen or kafka) prints its changelog (+I, -U, +U, -D) until Ctrl-C
  EXPLAIN SELECT ...;   SHOW TABLES;   DESCRIBE t;
  SET 'key' = 'value';  set a job option; SET; lists them:
";

/// What `HELP;` prints after the option keys.
pub const HELP_END: &str = "\
  RESET ['key'];        back to the value of the command-line flags
  HELP;                 this text
  QUIT; or EXIT;        leave (Ctrl-D too); Ctrl-C stops a running query
";

/// The command `text` (a statement without its `;`) is, `None` for SQL, or an error for a
/// malformed command.
pub fn parse(text: &str) -> Option<Result<Command, String>> {
    let text = text.trim();
    let word_end = text.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(text.len());
    let (word, rest) = text.split_at(word_end);
    let rest = rest.trim();
    match word.to_ascii_uppercase().as_str() {
        "HELP" if rest.is_empty() => Some(Ok(Command::Help)),
        "QUIT" | "EXIT" if rest.is_empty() => Some(Ok(Command::Quit)),
        "SET" if rest.is_empty() => Some(Ok(Command::ListOptions)),
        "SET" => Some(parse_set(rest)),
        "RESET" if rest.is_empty() => Some(Ok(Command::Reset(None))),
        "RESET" => Some(match word_or_quoted(rest) {
            Some((key, "")) => Ok(Command::Reset(Some(key))),
            _ => Err(format!("RESET {rest}: expected RESET; or RESET 'key';")),
        }),
        _ => None,
    }
}

/// `'key' = 'value'` or `key = value`.
fn parse_set(text: &str) -> Result<Command, String> {
    let usage = || format!("SET {text}: expected SET 'key' = 'value';");
    let (key, rest) = word_or_quoted(text).ok_or_else(usage)?;
    let rest = rest.strip_prefix('=').ok_or_else(usage)?.trim_start();
    let (value, rest) = word_or_quoted(rest).ok_or_else(usage)?;
    if !rest.is_empty() {
        return Err(usage());
    }
    Ok(Command::Set { key, value })
}

/// A leading `'quoted'` text (with `''` for a quote) or a bare word up to `=` or whitespace,
/// and the trimmed rest.
fn word_or_quoted(text: &str) -> Option<(String, &str)> {
    if let Some(quoted) = text.strip_prefix('\'') {
        let mut value = String::new();
        let mut chars = quoted.char_indices().peekable();
        while let Some((index, c)) = chars.next() {
            if c != '\'' {
                value.push(c);
            } else if chars.peek().is_some_and(|&(_, next)| next == '\'') {
                value.push('\'');
                chars.next();
            } else {
                return Some((value, quoted[index + 1..].trim_start()));
            }
        }
        return None;
    }
    let end = text.find(|c: char| c == '=' || c.is_whitespace()).unwrap_or(text.len());
    (end > 0).then(|| (text[..end].to_owned(), text[end..].trim_start()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(key: &str, value: &str) -> Option<Result<Command, String>> {
        Some(Ok(Command::Set { key: key.into(), value: value.into() }))
    }

    #[test]
    fn client_commands_and_sql() {
        assert_eq!(parse("SET 'parallelism.default' = '4'"), set("parallelism.default", "4"));
        assert_eq!(parse("set parallelism.default=4"), set("parallelism.default", "4"));
        assert_eq!(parse("SET 'a' = 'it''s'"), set("a", "it's"));
        assert_eq!(parse("SET 'dir' = ''"), set("dir", ""));
        assert_eq!(parse("set"), Some(Ok(Command::ListOptions)));
        assert_eq!(parse("RESET"), Some(Ok(Command::Reset(None))));
        assert_eq!(
            parse("reset 'parallelism.default'"),
            Some(Ok(Command::Reset(Some("parallelism.default".into()))))
        );
        assert_eq!(parse("quit"), Some(Ok(Command::Quit)));
        assert_eq!(parse("Exit"), Some(Ok(Command::Quit)));
        assert_eq!(parse("HELP"), Some(Ok(Command::Help)));
        assert_eq!(parse("SELECT 1"), None);
        assert_eq!(parse("settings_table"), None);
        assert!(parse("SET 'a' 'b'").unwrap().is_err());
        assert!(parse("SET 'a = 'b'").unwrap().is_err());
        assert!(parse("SET 'a' = 'b' junk").unwrap().is_err());
    }
}
