//! How `eddy sql` shows results: a bounded result as a table in the style of Flink's SQL
//! client ("tableau": `+---+` borders, the column names, values right-aligned, `<NULL>` for
//! `NULL`, `N rows in set`), and an unbounded one as its changelog, one `+I[...]`, `-U[...]`,
//! `+U[...]` or `-D[...]` line per change.

use std::io::{self, Write};

use eddy_sql::changelog::{display_value, RowChange};
use eddy_sql::plan::Column;
use eddy_sql::Row;

/// Writes `rows` under `columns` as a table, followed by `N rows in set` (or `Empty set`).
pub fn write_table(out: &mut dyn Write, columns: &[Column], rows: &[Row]) -> io::Result<()> {
    if rows.is_empty() {
        return writeln!(out, "Empty set");
    }
    let cells: Vec<Vec<String>> =
        rows.iter().map(|row| row.values().iter().map(display_value).collect()).collect();
    let width = |text: &str| text.chars().count();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(index, column)| {
            cells
                .iter()
                .filter_map(|row| row.get(index))
                .map(|cell| width(cell))
                .fold(width(&column.name), usize::max)
        })
        .collect();
    let border: String = widths
        .iter()
        .map(|w| format!("+{}", "-".repeat(w + 2)))
        .chain(std::iter::once("+".to_owned()))
        .collect();
    let line = |out: &mut dyn Write, values: &mut dyn Iterator<Item = &str>| -> io::Result<()> {
        for (value, width) in values.zip(&widths) {
            write!(out, "| {value:>width$} ")?;
        }
        writeln!(out, "|")
    };
    writeln!(out, "{border}")?;
    line(out, &mut columns.iter().map(|column| column.name.as_str()))?;
    writeln!(out, "{border}")?;
    for row in &cells {
        line(out, &mut row.iter().map(String::as_str))?;
    }
    writeln!(out, "{border}")?;
    let count = rows.len();
    writeln!(out, "{count} {} in set", if count == 1 { "row" } else { "rows" })
}

/// Writes one change of a changelog as its own line (`+I[1, ann]`).
pub fn write_change(out: &mut dyn Write, change: &RowChange) -> io::Result<()> {
    writeln!(out, "{change}")
}

#[cfg(test)]
mod tests {
    use eddy_sql::changelog::RowKind;
    use eddy_sql::{Datum, SqlType};

    use super::*;

    fn print(columns: &[Column], rows: &[Row]) -> String {
        let mut out = Vec::new();
        write_table(&mut out, columns, rows).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_table_in_flinks_tableau_style() {
        let columns = [Column::new("id", SqlType::Int), Column::new("name", SqlType::STRING)];
        let rows = [
            Row::new(vec![Datum::Int(1), Datum::string("Ann")]),
            Row::new(vec![Datum::Int(22), Datum::Null]),
            Row::new(vec![Datum::Int(3), Datum::string("Zoë")]),
        ];
        let expected = "\
+----+--------+
| id |   name |
+----+--------+
|  1 |    Ann |
| 22 | <NULL> |
|  3 |    Zoë |
+----+--------+
3 rows in set
";
        assert_eq!(print(&columns, &rows), expected);
        assert!(print(&columns, &rows[..1]).ends_with("\n1 row in set\n"));
        assert_eq!(print(&columns, &[]), "Empty set\n");
    }

    #[test]
    fn a_change_is_one_line() {
        let mut out = Vec::new();
        let change = RowChange {
            kind: RowKind::UpdateAfter,
            row: Row::new(vec![Datum::string("a"), Datum::BigInt(2)]),
        };
        write_change(&mut out, &change).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "+U[a, 2]\n");
    }
}
