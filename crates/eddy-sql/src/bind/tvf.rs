//! Window table-valued functions in `FROM`, as Flink writes them:
//!
//! ```sql
//! TABLE(TUMBLE(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '10' SECOND [, offset]))
//! TABLE(HOP(TABLE bid, DESCRIPTOR(dateTime), slide, size [, offset]))
//! TABLE(CUMULATE(TABLE bid, DESCRIPTOR(dateTime), step, size [, offset]))
//! ```
//!
//! Arguments may also be named (`DATA => TABLE bid, TIMECOL => DESCRIPTOR(ts), SIZE => ...`,
//! with `SLIDE`, `STEP` and `OFFSET`). The output is the table's columns and `window_start`,
//! `window_end` and `window_time` ([`TimeOp::Window`]). The time column may be any `TIMESTAMP`
//! column (Flink requires a time attribute in streaming mode; a table without a watermark is
//! read at one logical time, so its windows are final when the input ends). Sizes are day-time
//! intervals of at least 1 ms.
//!
//! `SESSION(TABLE t [PARTITION BY key | PARTITION BY (k1, k2)], DESCRIPTOR(ts), gap)` groups
//! each key's rows into sessions ([`TimeOp::Session`]).
//!
//! sqlparser does not parse `TABLE name` as an argument; [`parse_table_argument`], called by
//! the dialect's prefix hook, reads it (and `PARTITION BY` after it) into a call of the
//! pseudo-function `TABLE(name, keys...)` that only the binder here accepts.

use sqlparser::ast::{
    self, Expr, FunctionArg, FunctionArgExpr, FunctionArgOperator, FunctionArguments, Ident, ObjectName,
    ObjectNamePart, Spanned,
};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

use super::scalar::Binder;
use super::scope::{Queries, Resolution, Scope};
use super::{call_name, unsupported, unsupported_at, BindError, BindResult};
use crate::datum::{Datum, Row};
use crate::plan::{Plan, TimeOp, TimeWindow};
use crate::types::SqlType;

/// The name of the pseudo-function a `TABLE name` argument becomes.
const TABLE_ARGUMENT: &str = "TABLE";

/// Whether the parser is at `TABLE name` (not `TABLE(`): a table argument.
pub(crate) fn at_table_argument(parser: &Parser) -> bool {
    let is_table = matches!(&parser.peek_token_ref().token, Token::Word(w) if w.keyword == Keyword::TABLE);
    is_table && matches!(parser.peek_nth_token_ref(1).token, Token::Word(_))
}

/// Parses `TABLE name [PARTITION BY key | PARTITION BY (key, ...)]` into the call
/// `TABLE(name, key, ...)`.
pub(crate) fn parse_table_argument(parser: &mut Parser) -> Result<Expr, ParserError> {
    parser.expect_keyword(Keyword::TABLE)?;
    let name = parser.parse_object_name(false)?;
    let idents: Vec<Ident> = name
        .0
        .iter()
        .map(|part| match part {
            ObjectNamePart::Identifier(ident) => ident.clone(),
            other => Ident::new(other.to_string()),
        })
        .collect();
    let mut args = vec![Expr::CompoundIdentifier(idents)];
    if parser.parse_keywords(&[Keyword::PARTITION, Keyword::BY]) {
        if parser.consume_token(&Token::LParen) {
            args.extend(parser.parse_comma_separated(Parser::parse_expr)?);
            parser.expect_token(&Token::RParen)?;
        } else {
            args.push(parser.parse_expr()?);
        }
    }
    Ok(Expr::Function(ast::Function {
        name: ObjectName::from(vec![Ident::new(TABLE_ARGUMENT)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(ast::FunctionArgumentList {
            duplicate_treatment: None,
            args: args.into_iter().map(|e| FunctionArg::Unnamed(FunctionArgExpr::Expr(e))).collect(),
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    }))
}

/// The arguments of a call, by parameter: positional ones in order, named ones where their
/// name is among `parameters`.
fn arguments<'a>(
    expr: &Expr,
    call: &'a ast::Function,
    parameters: &[&str],
) -> BindResult<Vec<Option<&'a Expr>>> {
    let FunctionArguments::List(list) = &call.args else {
        return Err(unsupported(expr, format!("{} without arguments", call_name(call))));
    };
    let mut out: Vec<Option<&Expr>> = vec![None; parameters.len()];
    for (position, arg) in list.args.iter().enumerate() {
        let (slot, value) = match arg {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(value)) => (position, value),
            FunctionArg::Named {
                name,
                arg: FunctionArgExpr::Expr(value),
                operator: FunctionArgOperator::RightArrow,
            } => {
                let slot =
                    parameters.iter().position(|p| name.value.eq_ignore_ascii_case(p)).ok_or_else(|| {
                        unsupported(
                            expr,
                            format!(
                                "{}: no parameter {} (it has {})",
                                call_name(call),
                                name.value,
                                parameters.join(", ")
                            ),
                        )
                    })?;
                (slot, value)
            }
            other => return Err(unsupported(expr, format!("{} argument {other}", call_name(call)))),
        };
        if slot >= parameters.len() {
            return Err(unsupported(
                expr,
                format!(
                    "{} takes at most {} arguments ({})",
                    call_name(call),
                    parameters.len(),
                    parameters.join(", ")
                ),
            ));
        }
        if out[slot].replace(value).is_some() {
            return Err(unsupported(expr, format!("{}: {} given twice", call_name(call), parameters[slot])));
        }
    }
    Ok(out)
}

/// A constant day-time interval argument in milliseconds, checked to be positive unless
/// `offset` (an offset may be negative or zero).
fn interval_ms(expr: &Expr, function: &str, parameter: &str, offset: bool) -> BindResult<i64> {
    let bad = |why: &str| BindError::Type {
        message: format!("{function}: {parameter} must be {why}, found {expr}"),
        location: super::location_of(expr),
    };
    let scope = Scope::default();
    let bound = Binder::new(&scope, &[], None).bind(expr)?;
    match bound.eval(&Row::new(vec![])) {
        Ok(Datum::Interval(interval)) if interval.months != 0 => {
            Err(bad("a day-time interval (seconds to days), not months or years"))
        }
        Ok(Datum::Interval(interval)) if offset || interval.millis > 0 => Ok(interval.millis),
        Ok(Datum::Interval(_)) => Err(bad("a positive interval")),
        _ => Err(bad("a constant INTERVAL")),
    }
}

/// Binds `TABLE(window_function(...))` in `FROM`.
pub(super) fn window_table_function(queries: &dyn Queries, expr: &Expr) -> BindResult<(Plan, Scope)> {
    let Expr::Function(call) = expr else {
        return Err(unsupported(
            expr,
            "TABLE(...) of anything but a window function (TUMBLE, HOP, CUMULATE)",
        ));
    };
    let function = call_name(call);
    let parameters: &[&str] = match function.as_str() {
        "TUMBLE" => &["DATA", "TIMECOL", "SIZE", "OFFSET"],
        "HOP" => &["DATA", "TIMECOL", "SLIDE", "SIZE", "OFFSET"],
        "CUMULATE" => &["DATA", "TIMECOL", "STEP", "SIZE", "OFFSET"],
        "SESSION" => &["DATA", "TIMECOL", "GAP"],
        _ => return Err(unsupported(expr, format!("the table function {function} (window functions are)"))),
    };
    let args = arguments(expr, call, parameters)?;
    let required = if matches!(function.as_str(), "TUMBLE" | "SESSION") { 3 } else { 4 };
    if let Some(missing) = (0..required).find(|&i| args[i].is_none()) {
        return Err(unsupported(expr, format!("{function} without its {} argument", parameters[missing])));
    }
    let arg = |i: usize| args[i].expect("checked above");

    // DATA: `TABLE name`.
    let data = arg(0);
    let (plan, qualifier, keys) = match data {
        Expr::Function(table) if call_name(table) == TABLE_ARGUMENT => {
            let FunctionArguments::List(list) = &table.args else {
                unreachable!("made by parse_table_argument")
            };
            if list.args.len() > 1 && function != "SESSION" {
                return Err(unsupported(
                    data,
                    format!("PARTITION BY in {function} (only SESSION partitions)"),
                ));
            }
            let exprs: Vec<&Expr> = list
                .args
                .iter()
                .map(|arg| match arg {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => e,
                    _ => unreachable!("made by parse_table_argument"),
                })
                .collect();
            let Expr::CompoundIdentifier(parts) = exprs[0] else {
                unreachable!("made by parse_table_argument")
            };
            let (plan, qualifier) = queries.relation(&ObjectName::from(parts.clone()))?;
            (plan, qualifier, exprs[1..].to_vec())
        }
        other => return Err(unsupported(other, format!("{function}'s first argument must be TABLE name"))),
    };
    let scope = Scope::of_plan(&plan, Some(&qualifier));
    let mut partition = Vec::new();
    for key in keys {
        match Binder::new(&scope, &[], None).bind(key)? {
            crate::expr::ScalarExpr::Column { index, .. } => partition.push(index),
            _ => return Err(unsupported(key, "a SESSION partition key that is not a column")),
        }
    }

    // TIMECOL: `DESCRIPTOR(column)`.
    let timecol = arg(1);
    let column = match timecol {
        Expr::Function(descriptor) if call_name(descriptor) == "DESCRIPTOR" => match &descriptor.args {
            FunctionArguments::List(list) if list.args.len() == 1 => match &list.args[0] {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Identifier(ident))) => ident.clone(),
                _ => return Err(unsupported(timecol, "DESCRIPTOR of anything but one column name")),
            },
            _ => return Err(unsupported(timecol, "DESCRIPTOR of anything but one column name")),
        },
        other => {
            return Err(unsupported(other, format!("{function}'s time column must be DESCRIPTOR(column)")))
        }
    };
    let time = match scope.resolve(None, &column) {
        Resolution::Found(index) => index,
        Resolution::Ambiguous(_) => {
            return Err(BindError::AmbiguousColumn {
                name: column.value.clone(),
                candidates: scope.describe(),
                location: super::location_of(timecol),
            })
        }
        Resolution::Missing => {
            return Err(BindError::UnknownColumn {
                name: column.value.clone(),
                available: scope.describe(),
                location: super::location_of(timecol),
            })
        }
    };
    if !matches!(scope.columns[time].ty, SqlType::Timestamp { .. }) {
        return Err(BindError::Type {
            message: format!(
                "{function}: the time column {} is {}, not a TIMESTAMP",
                column.value, scope.columns[time].ty
            ),
            location: super::location_of(timecol),
        });
    }

    let offset = match args.get(required) {
        Some(Some(offset)) => interval_ms(offset, &function, "OFFSET", true)?,
        _ => 0,
    };
    let positive = |i: usize| interval_ms(arg(i), &function, parameters[i], false).map(|ms| ms as u64);
    if function == "SESSION" {
        let op = TimeOp::Session { time, partition, gap: positive(2)? };
        let plan = Plan::Time { input: Box::new(plan), op };
        let scope = Scope::of_plan(&plan, Some(&qualifier));
        return Ok((plan, scope));
    }
    let window = match function.as_str() {
        "TUMBLE" => TimeWindow::Tumble { size: positive(2)?, offset },
        "HOP" => {
            let (slide, size) = (positive(2)?, positive(3)?);
            TimeWindow::Hop { size, slide, offset }
        }
        _ => {
            let (step, size) = (positive(2)?, positive(3)?);
            if size % step != 0 {
                return Err(BindError::Type {
                    message: format!(
                        "CUMULATE: the size ({size} ms) must be a multiple of the step ({step} ms)"
                    ),
                    location: super::location_of(expr),
                });
            }
            TimeWindow::Cumulate { step, size, offset }
        }
    };
    let plan = Plan::Time { input: Box::new(plan), op: TimeOp::Window { time, window } };
    let scope = Scope::of_plan(&plan, Some(&qualifier));
    Ok((plan, scope))
}

/// Binds the `FROM` item `TABLE(...)` (a [`ast::TableFactor::TableFunction`]).
pub(super) fn table_function(queries: &dyn Queries, factor: &ast::TableFactor) -> BindResult<(Plan, Scope)> {
    match factor {
        ast::TableFactor::TableFunction { expr, .. } => window_table_function(queries, expr),
        other => Err(unsupported_at(other.span(), format!("FROM item {other}"))),
    }
}
