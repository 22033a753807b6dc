//! `EXPLAIN`'s text for a logical plan: one node per line, inputs indented below their node.

use std::fmt::{self, Write};

use super::{
    AggregateCall, ApplyKind, OverFunction, OverKind, Plan, SetOp, SortKey, TemporalTime, TimeOp, TimeWindow,
};
use crate::expr::ScalarExpr;

fn exprs(list: &[ScalarExpr]) -> String {
    list.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(", ")
}

/// `#2 DESC NULLS LAST` style.
pub(super) fn sort_key(key: &SortKey) -> String {
    format!(
        "#{}{}{}",
        key.column,
        if key.descending { " DESC" } else { "" },
        match (key.descending, key.nulls_first) {
            // Only a non-default null placement is printed.
            (false, false) => " NULLS LAST",
            (true, true) => " NULLS FIRST",
            _ => "",
        }
    )
}

fn aggregate(call: &AggregateCall) -> String {
    let args = if call.args.is_empty() { "*".to_owned() } else { exprs(&call.args) };
    let mut text =
        format!("{}({}{args})", call.function.name(), if call.distinct { "DISTINCT " } else { "" });
    if let Some(filter) = &call.filter {
        let _ = write!(text, " FILTER (WHERE {filter})");
    }
    text
}

/// A window function of an `Over` node as `EXPLAIN` prints it.
fn over_function(function: &OverFunction) -> String {
    match &function.kind {
        OverKind::Rank => format!("{} := RANK()", function.name),
        OverKind::DenseRank => format!("{} := DENSE_RANK()", function.name),
        OverKind::Offset { offset, value, default } => {
            format!("{} := OFFSET({value}, {offset}, {default})", function.name)
        }
        OverKind::Aggregate(call) => format!("{} := {} {}", function.name, aggregate(call), function.frame),
    }
}

/// A [`TimeOp`] as `EXPLAIN` prints it.
pub(super) fn time_op(op: &TimeOp) -> String {
    let lateness =
        |lateness: u64| if lateness == 0 { String::new() } else { format!(" lateness {lateness} ms") };
    match op {
        TimeOp::Window { time, window } => {
            let offset =
                |offset: i64| if offset == 0 { String::new() } else { format!(" offset {offset} ms") };
            match window {
                TimeWindow::Tumble { size, offset: o } => {
                    format!("Window tumble #{time} size {size} ms{}", offset(*o))
                }
                TimeWindow::Hop { size, slide, offset: o } => {
                    format!("Window hop #{time} size {size} ms slide {slide} ms{}", offset(*o))
                }
                TimeWindow::Cumulate { step, size, offset: o } => {
                    format!("Window cumulate #{time} size {size} ms step {step} ms{}", offset(*o))
                }
            }
        }
        TimeOp::Session { time, partition, gap } => {
            let keys: Vec<String> = partition.iter().map(|c| format!("#{c}")).collect();
            format!("Window session #{time} gap {gap} ms partition [{}]", keys.join(", "))
        }
        TimeOp::Expire { end, delay } => match delay {
            0 => format!("Expire at #{end}"),
            d if *d > 0 => format!("Expire at #{end} + {d} ms"),
            d => format!("Expire at #{end} - {} ms", d.unsigned_abs()),
        },
        TimeOp::AppendOnly { ends } => {
            let ends: Vec<String> = ends.iter().map(|(c, d)| format!("#{c} + {d} ms")).collect();
            format!("AppendOnly until min({})", ends.join(", "))
        }
        TimeOp::Finalize { end, lateness: l } => format!("Finalize at #{end}{}", lateness(*l)),
    }
}

pub(super) fn write_plan(out: &mut String, plan: &Plan, depth: usize) -> fmt::Result {
    let indent = "  ".repeat(depth);
    match plan {
        Plan::Get { name, .. } => writeln!(out, "{indent}Get {name}")?,
        Plan::Values { rows, columns } => {
            let shown: Vec<String> = rows.iter().take(3).map(|r| r.to_string()).collect();
            let more = if rows.len() > 3 { format!(", ... {} rows", rows.len()) } else { String::new() };
            writeln!(out, "{indent}Values ({} columns) {}{more}", columns.len(), shown.join(", "))?
        }
        Plan::Filter { predicate, .. } => writeln!(out, "{indent}Filter {predicate}")?,
        Plan::Time { op, .. } => writeln!(out, "{indent}{}", time_op(op))?,
        Plan::MatchRecognize { spec, .. } => {
            let partition: Vec<String> = spec.partition.iter().map(|c| format!("#{c}")).collect();
            let measures: Vec<&str> = spec.measures.iter().map(|(name, _)| name.as_str()).collect();
            writeln!(
                out,
                "{indent}MatchRecognize partition [{}] order #{} pattern {} skip {:?} measures [{}]",
                partition.join(", "),
                spec.time,
                spec.pattern,
                spec.skip,
                measures.join(", ")
            )?
        }
        Plan::Project { exprs: list, names, .. } => {
            let items: Vec<String> = list
                .iter()
                .zip(names)
                .enumerate()
                .map(|(i, (e, name))| {
                    if matches!(e, ScalarExpr::Column { index, .. } if *index == i) {
                        format!("{e}")
                    } else {
                        format!("{e} AS {name}")
                    }
                })
                .collect();
            writeln!(out, "{indent}Project {}", items.join(", "))?
        }
        Plan::Join { kind, on, .. } => writeln!(out, "{indent}Join {} on {on}", kind.name())?,
        Plan::Aggregate { group, aggregates, .. } => {
            let aggs: Vec<String> = aggregates.iter().map(aggregate).collect();
            writeln!(out, "{indent}Aggregate group [{}] aggregates [{}]", exprs(group), aggs.join(", "))?
        }
        Plan::Distinct { .. } => writeln!(out, "{indent}Distinct")?,
        Plan::SetOp { op, all, .. } => {
            let name = match op {
                SetOp::Union => "Union",
                SetOp::Except => "Except",
                SetOp::Intersect => "Intersect",
            };
            writeln!(out, "{indent}{name}{}", if *all { " All" } else { "" })?
        }
        Plan::TopK { group, order, limit, offset, .. } => {
            let keys: Vec<String> = order.iter().map(sort_key).collect();
            write!(out, "{indent}TopK order [{}]", keys.join(", "))?;
            if !group.is_empty() {
                let group: Vec<String> = group.iter().map(|c| format!("#{c}")).collect();
                write!(out, " partition [{}]", group.join(", "))?;
            }
            if let Some(limit) = limit {
                write!(out, " limit {limit}")?;
            }
            if *offset > 0 {
                write!(out, " offset {offset}")?;
            }
            writeln!(out)?
        }
        Plan::RowNumber { partition, order, limit, name, .. } => {
            let keys: Vec<String> = order.iter().map(sort_key).collect();
            write!(out, "{indent}RowNumber {name} order [{}]", keys.join(", "))?;
            if !partition.is_empty() {
                let partition: Vec<String> = partition.iter().map(|c| format!("#{c}")).collect();
                write!(out, " partition [{}]", partition.join(", "))?;
            }
            if let Some(limit) = limit {
                write!(out, " limit {limit}")?;
            }
            writeln!(out)?
        }
        Plan::TemporalJoin { kind, on, time, .. } => {
            let time = match time {
                TemporalTime::Processing => "processing time".to_owned(),
                TemporalTime::Event { probe, version, key } => {
                    let key: Vec<String> = key.iter().map(|c| format!("#{c}")).collect();
                    format!("event time #{probe} as of version #{version} key [{}]", key.join(", "))
                }
            };
            writeln!(out, "{indent}TemporalJoin {} on {on} ({time})", kind.name())?
        }
        Plan::Over { partition, order, functions, streaming, .. } => {
            let keys: Vec<String> = order.iter().map(sort_key).collect();
            let functions: Vec<String> = functions.iter().map(over_function).collect();
            let kind = if *streaming { "StreamingOver" } else { "Over" };
            write!(out, "{indent}{kind} [{}] order [{}]", functions.join(", "), keys.join(", "))?;
            if !partition.is_empty() {
                let partition: Vec<String> = partition.iter().map(|c| format!("#{c}")).collect();
                write!(out, " partition [{}]", partition.join(", "))?;
            }
            writeln!(out)?
        }
        Plan::Apply { kind, .. } => match kind {
            ApplyKind::Scalar => writeln!(out, "{indent}Apply scalar")?,
            ApplyKind::Exists => writeln!(out, "{indent}Apply exists")?,
            ApplyKind::In { exprs: list } => writeln!(out, "{indent}Apply in ({})", exprs(list))?,
        },
    }
    for input in plan.inputs() {
        write_plan(out, input, depth + 1)?;
    }
    Ok(())
}
