//! Time attributes in `CREATE TABLE`: Flink's `WATERMARK FOR ts AS ts [- INTERVAL 'n' unit]`
//! (the event-time attribute) and the computed column `pt AS PROCTIME()` (the processing-time
//! attribute).
//!
//! sqlparser 0.64 parses neither clause (the unit tests below check it), so a `CREATE TABLE`
//! whose column list holds one is parsed here with sqlparser's `Parser` API, one table
//! element at a time: columns and constraints with sqlparser's own `parse_column_def` and
//! `parse_optional_table_constraint`, the two time clauses here. Other `CREATE TABLE`
//! statements go to sqlparser unchanged ([`has_time_clauses`] only looks ahead).
//!
//! Restrictions, as Flink's: one watermark a table, on a `TIMESTAMP(3)` column of the table,
//! whose expression is the column or the column minus a constant interval; the only computed
//! column is `AS PROCTIME()`, at most one a table.

use sqlparser::ast::helpers::stmt_create_table::CreateTableBuilder;
use sqlparser::ast::{
    BinaryOperator, ColumnDef, CreateTable, CreateTableOptions, DateTimeField, Expr, Ident, Interval, Value,
};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Span, Token};

use super::SqlErrorKind;
use crate::bind::{BindError, Location};
use crate::catalog::{Rowtime, TimeAttributes};
use crate::names::ident_matches;
use crate::plan::Column;
use crate::types::SqlType;

/// The time clauses of a `CREATE TABLE`, as written.
#[derive(Clone, Debug, Default)]
pub(super) struct TimeClauses {
    /// `WATERMARK FOR column AS expr`, with the span of `WATERMARK`.
    pub watermarks: Vec<(Ident, Expr, Span)>,
    /// Computed columns: the position among all columns, the name and the expression.
    pub computed: Vec<(usize, Ident, Expr)>,
}

fn is_word(token: &Token, word: &str) -> bool {
    matches!(token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}

/// Whether the statement at the parser's position is a `CREATE [TEMPORARY] TABLE` whose
/// column list holds a `WATERMARK FOR` or a computed column (`name AS ...`). Consumes nothing.
pub(super) fn has_time_clauses(parser: &Parser) -> bool {
    let token = |n: usize| parser.peek_nth_token_ref(n).token.clone();
    if !is_word(&token(0), "CREATE") {
        return false;
    }
    let mut n = 1;
    if is_word(&token(n), "TEMPORARY") {
        n += 1;
    }
    if !is_word(&token(n), "TABLE") {
        return false;
    }
    // Over `IF NOT EXISTS` and the (dotted) name to the column list's opening parenthesis;
    // anything else (such as `AS SELECT`) means no column list.
    n += 1;
    if is_word(&token(n), "IF") {
        n += 3;
    }
    loop {
        if !matches!(token(n), Token::Word(_)) {
            return false;
        }
        n += 1;
        match token(n) {
            Token::LParen => break,
            Token::Period => n += 1,
            _ => return false,
        }
    }
    let mut depth = 1;
    let mut element_start = true;
    loop {
        n += 1;
        let current = token(n);
        if depth == 1 && element_start {
            let next = token(n + 1);
            let watermark = is_word(&current, "WATERMARK") && is_word(&next, "FOR");
            let computed = matches!(current, Token::Word(_)) && is_word(&next, "AS");
            if watermark || computed {
                return true;
            }
        }
        element_start = false;
        match current {
            Token::LParen => depth += 1,
            Token::RParen if depth == 1 => return false,
            Token::RParen => depth -= 1,
            Token::Comma if depth == 1 => element_start = true,
            Token::EOF | Token::SemiColon => return false,
            _ => {}
        }
    }
}

/// Parses a `CREATE [TEMPORARY] TABLE [IF NOT EXISTS] name (elements) [WITH (options)]`
/// whose elements may include time clauses. The returned statement lacks the computed
/// columns, which the clauses hold with their positions.
pub(super) fn parse_create_table(parser: &mut Parser) -> Result<(CreateTable, TimeClauses), ParserError> {
    parser.expect_keyword_is(Keyword::CREATE)?;
    let temporary = parser.parse_keyword(Keyword::TEMPORARY);
    parser.expect_keyword_is(Keyword::TABLE)?;
    let if_not_exists = parser.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    let name = parser.parse_object_name(false)?;
    parser.expect_token(&Token::LParen)?;
    let mut columns: Vec<ColumnDef> = Vec::new();
    let mut constraints = Vec::new();
    let mut clauses = TimeClauses::default();
    loop {
        let [first, second] = parser.peek_tokens_with_location::<2>();
        if is_word(&first.token, "WATERMARK") && is_word(&second.token, "FOR") {
            parser.next_token();
            parser.next_token();
            let column = parser.parse_identifier()?;
            parser.expect_keyword_is(Keyword::AS)?;
            let expr = parser.parse_expr()?;
            clauses.watermarks.push((column, expr, first.span));
        } else if matches!(first.token, Token::Word(_)) && is_word(&second.token, "AS") {
            let column = parser.parse_identifier()?;
            parser.expect_keyword_is(Keyword::AS)?;
            let expr = parser.parse_expr()?;
            clauses.computed.push((columns.len() + clauses.computed.len(), column, expr));
        } else if let Some(constraint) = parser.parse_optional_table_constraint()? {
            constraints.push(constraint);
        } else {
            columns.push(parser.parse_column_def()?);
        }
        if parser.consume_token(&Token::Comma) {
            continue;
        }
        parser.expect_token(&Token::RParen)?;
        break;
    }
    let options = parser.parse_options(Keyword::WITH)?;
    let table_options =
        if options.is_empty() { CreateTableOptions::None } else { CreateTableOptions::With(options) };
    let create = CreateTableBuilder::new(name)
        .temporary(temporary)
        .if_not_exists(if_not_exists)
        .columns(columns)
        .constraints(constraints)
        .table_options(table_options)
        .build();
    Ok((create, clauses))
}

fn location(span: Span) -> Option<Location> {
    (span.start.line > 0).then_some(Location { line: span.start.line, column: span.start.column })
}

fn bad(span: Span, message: String) -> SqlErrorKind {
    SqlErrorKind::Bind(BindError::Type { message, location: location(span) })
}

/// The computed column's type: a processing time (eddy's `TIMESTAMP(3)` is UTC, the value
/// Flink's `TIMESTAMP_LTZ(3)` holds).
pub(super) fn computed_column(name: &Ident, expr: &Expr) -> Result<Column, SqlErrorKind> {
    let is_proctime = matches!(expr, Expr::Function(function)
        if function.name.to_string().eq_ignore_ascii_case("PROCTIME")
            && matches!(&function.args, sqlparser::ast::FunctionArguments::List(list) if list.args.is_empty()));
    if !is_proctime {
        return Err(SqlErrorKind::Bind(BindError::Unsupported {
            what: format!("the computed column {} AS {expr}: eddy computes only `AS PROCTIME()`", name.value),
            location: location(name.span),
        }));
    }
    Ok(Column::new(name.value.clone(), SqlType::Timestamp { precision: 3 }))
}

/// The table's time attributes from its clauses, checked against its columns (computed
/// ones included).
pub(super) fn time_attributes(
    table: &str,
    columns: &[Column],
    clauses: &TimeClauses,
) -> Result<TimeAttributes, SqlErrorKind> {
    let mut time = TimeAttributes::default();
    if let Some((_, name, _)) = clauses.computed.get(1) {
        return Err(bad(name.span, format!("table {table} has more than one PROCTIME() column")));
    }
    time.proctime = clauses.computed.first().map(|(position, _, _)| *position);
    if let Some((_, _, span)) = clauses.watermarks.get(1) {
        return Err(bad(*span, format!("table {table} declares more than one WATERMARK")));
    }
    if let Some((column, expr, span)) = clauses.watermarks.first() {
        let position = columns.iter().position(|c| ident_matches(&c.name, column)).ok_or_else(|| {
            bad(column.span, format!("WATERMARK FOR {}: table {table} has no such column", column.value))
        })?;
        let ty = columns[position].ty;
        if ty != (SqlType::Timestamp { precision: 3 }) || time.proctime == Some(position) {
            let what =
                if time.proctime == Some(position) { "the PROCTIME() column".into() } else { ty.to_string() };
            return Err(bad(
                column.span,
                format!("the rowtime column {} must be a TIMESTAMP(3) column; it is {what}", column.value),
            ));
        }
        let delay_ms = watermark_delay(column, expr).ok_or_else(|| {
            bad(
                *span,
                format!(
                    "WATERMARK FOR {0} AS {expr}: eddy takes `{0}` or `{0} - INTERVAL 'n' unit`",
                    column.value
                ),
            )
        })?;
        time.rowtime = Some(Rowtime { column: position, delay_ms, idle_timeout_ms: None, emit_every: None });
    }
    Ok(time)
}

/// The delay of `column` or `column - INTERVAL 'n' unit`, in milliseconds.
fn watermark_delay(column: &Ident, expr: &Expr) -> Option<u64> {
    let is_column =
        |expr: &Expr| matches!(expr, Expr::Identifier(ident) if ident_matches(&column.value, ident));
    match expr {
        Expr::Nested(inner) => watermark_delay(column, inner),
        expr if is_column(expr) => Some(0),
        Expr::BinaryOp { left, op: BinaryOperator::Minus, right } if is_column(left) => {
            match right.as_ref() {
                Expr::Interval(interval) => interval_ms(interval),
                _ => None,
            }
        }
        _ => None,
    }
}

/// A constant interval of one unit, in milliseconds (`INTERVAL '4' SECOND`, `'1.5' SECOND`).
fn interval_ms(interval: &Interval) -> Option<u64> {
    if interval.last_field.is_some() {
        return None;
    }
    let Expr::Value(value) = interval.value.as_ref() else { return None };
    let (Value::SingleQuotedString(text) | Value::Number(text, _)) = &value.value else { return None };
    let unit_ms: u64 = match interval.leading_field.as_ref()? {
        DateTimeField::Millisecond | DateTimeField::Milliseconds => 1,
        DateTimeField::Second | DateTimeField::Seconds => 1_000,
        DateTimeField::Minute | DateTimeField::Minutes => 60_000,
        DateTimeField::Hour | DateTimeField::Hours => 3_600_000,
        DateTimeField::Day | DateTimeField::Days => 86_400_000,
        _ => return None,
    };
    let text = text.trim();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let whole: u64 = whole.parse().ok()?;
    // A fraction down to the millisecond: `'1.5' SECOND` is 1500 ms.
    let mut fraction_ms = 0;
    let mut scale = unit_ms;
    for digit in fraction.chars() {
        scale /= 10;
        fraction_ms += u64::from(digit.to_digit(10)?) * scale;
    }
    whole.checked_mul(unit_ms)?.checked_add(fraction_ms)
}

/// A duration option such as `'5 s'`, `'500 ms'`, `'1 min'` or `'5000'` (ms), in ms.
pub(super) fn duration_ms(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let unit_ms = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1,
        "s" | "sec" | "secs" | "second" | "seconds" => 1_000,
        "min" | "minute" | "minutes" => 60_000,
        "h" | "hour" | "hours" => 3_600_000,
        _ => return None,
    };
    number.checked_mul(unit_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bind::FlinkDialect;

    fn parser(sql: &str) -> Parser<'static> {
        Parser::new(&FlinkDialect).try_with_sql(sql).unwrap()
    }

    #[test]
    fn sqlparser_parses_neither_clause_itself() {
        for sql in [
            "CREATE TABLE t (ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '4' SECOND)",
            "CREATE TABLE t (a INT, pt AS PROCTIME())",
            "CREATE TABLE IF NOT EXISTS cat.db.t (ts TIMESTAMP(3), WATERMARK FOR ts AS ts)",
        ] {
            assert!(Parser::parse_sql(&FlinkDialect, sql).is_err(), "{sql}");
            assert!(has_time_clauses(&parser(sql)), "{sql}");
        }
        for sql in [
            "CREATE TABLE t (a INT, b DECIMAL(3, 1), PRIMARY KEY (a))",
            "CREATE TABLE t AS SELECT 1 AS x",
            "CREATE TABLE t AS SELECT CAST(a AS INT) FROM u",
        ] {
            assert!(!has_time_clauses(&parser(sql)), "{sql}");
        }
    }

    #[test]
    fn clauses_parse_in_place() {
        let sql = "CREATE TABLE IF NOT EXISTS t (a INT, pt AS PROCTIME(), ts TIMESTAMP(3),
                   WATERMARK FOR ts AS ts - INTERVAL '2' SECOND, PRIMARY KEY (a)) WITH ('connector' = 'values')";
        let mut parser = parser(sql);
        let (create, clauses) = parse_create_table(&mut parser).unwrap();
        assert_eq!(parser.peek_token().token, Token::EOF);
        assert!(create.if_not_exists);
        assert_eq!(create.columns.iter().map(|c| c.name.value.as_str()).collect::<Vec<_>>(), ["a", "ts"]);
        assert_eq!(create.constraints.len(), 1);
        assert_eq!(clauses.computed[0].0, 1);
        assert_eq!(clauses.watermarks[0].0.value, "ts");
        assert!(matches!(create.table_options, CreateTableOptions::With(ref options) if options.len() == 1));
    }

    #[test]
    fn watermark_delays_and_durations() {
        let delay = |sql: &str| {
            let expr = Parser::new(&FlinkDialect).try_with_sql(sql).unwrap().parse_expr().unwrap();
            watermark_delay(&Ident::new("ts"), &expr)
        };
        assert_eq!(delay("ts"), Some(0));
        assert_eq!(delay("TS - INTERVAL '4' SECOND"), Some(4_000));
        assert_eq!(delay("ts - INTERVAL '1.5' SECOND"), Some(1_500));
        assert_eq!(delay("ts - INTERVAL '2' MINUTE"), Some(120_000));
        assert_eq!(delay("ts - INTERVAL '250' MILLISECOND"), Some(250));
        assert_eq!(delay("ts + INTERVAL '1' SECOND"), None);
        assert_eq!(delay("other - INTERVAL '1' SECOND"), None);
        assert_eq!(delay("ts - INTERVAL '1:30' MINUTE TO SECOND"), None);
        assert_eq!(duration_ms("5 s"), Some(5_000));
        assert_eq!(duration_ms("500ms"), Some(500));
        assert_eq!(duration_ms("1 min"), Some(60_000));
        assert_eq!(duration_ms("7"), Some(7));
        assert_eq!(duration_ms("soon"), None);
    }
}
