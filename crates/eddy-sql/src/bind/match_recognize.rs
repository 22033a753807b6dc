//! `FROM t MATCH_RECOGNIZE (...)`: bound into a [`Plan::MatchRecognize`] over the input.
//!
//! `DEFINE` and `MEASURES` expressions are rewritten before binding: every navigation
//! (`v.x`, `FIRST/LAST(v.x [, n])`, `PREV(v.x [, n])`, an aggregate over `v.x` or `*`,
//! `MATCH_ROWTIME()`) becomes a helper column `$mr<k>` after the input's columns, described by
//! a [`Nav`]; the rest binds as any expression over the input row (see
//! [`crate::match_recognize`]).

use sqlparser::ast::{
    self, AfterMatchSkip, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident,
    MatchRecognizePattern, MatchRecognizeSymbol, RepetitionQuantifier, RowsPerMatch, Spanned, TableFactor,
};

use super::scalar::Binder;
use super::scope::{ident_matches, Resolution, Scope, ScopeColumn};
use super::{location_of, sort_options, type_error, unsupported, unsupported_at, BindError, BindResult};
use crate::expr::ScalarExpr;
use crate::match_recognize::{MatchExpr, MatchSpec, Nav, PatternTerm};
use crate::plan::{AggregateCall, AggregateFunction, Column, Plan, SortKey};
use crate::types::SqlType;
use eddy_cep::AfterMatchSkipStrategy;

/// Binds the clause over its bound input.
pub(super) fn bind(input: Plan, scope: Scope, factor: &TableFactor) -> BindResult<(Plan, Scope)> {
    let TableFactor::MatchRecognize {
        partition_by,
        order_by,
        measures,
        rows_per_match,
        after_match_skip,
        pattern,
        symbols,
        ..
    } = factor
    else {
        unreachable!("called for MATCH_RECOGNIZE only")
    };
    let span = factor.span();
    if let Some(RowsPerMatch::AllRows(_)) = rows_per_match {
        return Err(unsupported_at(
            span,
            "MATCH_RECOGNIZE with ALL ROWS PER MATCH (Flink supports ONE ROW PER MATCH only)",
        ));
    }
    let column = |expr: &Expr, what: &str| -> BindResult<usize> {
        match Binder::new(&scope, &[], None).bind(expr)? {
            ScalarExpr::Column { index, .. } => Ok(index),
            _ => Err(unsupported(expr, format!("MATCH_RECOGNIZE {what} by an expression (name a column)"))),
        }
    };
    let partition = partition_by.iter().map(|e| column(e, "PARTITION")).collect::<BindResult<Vec<_>>>()?;
    let Some((first, rest)) = order_by.split_first() else {
        return Err(BindError::Type {
            message: "MATCH_RECOGNIZE needs ORDER BY a time attribute".into(),
            location: super::location_of_span(span),
        });
    };
    let time = column(&first.expr, "ORDER")?;
    let columns = input.columns();
    if !matches!(columns[time].ty, SqlType::Timestamp { .. }) || sort_options(first)?.0 {
        return Err(type_error(
            &first.expr,
            format!(
                "MATCH_RECOGNIZE must be ordered first by a time attribute ascending; {} is {}",
                first.expr, columns[time].ty
            ),
        ));
    }
    let mut order = Vec::new();
    for item in rest {
        let (descending, nulls_first) = sort_options(item)?;
        order.push(SortKey { column: column(&item.expr, "ORDER")?, descending, nulls_first });
    }
    let term = pattern_term(pattern, span)?;
    let vars = term.variables();
    let find_var = |ident: &Ident| vars.iter().find(|v| ident_matches(v, ident)).cloned();
    let mut defines = Vec::new();
    for symbol in symbols {
        let Some(var) = find_var(&symbol.symbol) else {
            return Err(type_error(
                &symbol.definition,
                format!("DEFINE {}: the variable is not in PATTERN", symbol.symbol),
            ));
        };
        let mut rewriter = Rewriter { scope: &scope, vars: &vars, measures: false, time, navs: vec![] };
        let rewritten = rewriter.rewrite(&symbol.definition)?;
        let extended = rewriter.scope();
        let expr = Binder::new(&extended, &[], None).boolean(&rewritten)?;
        defines.push((var, MatchExpr { expr, navs: rewriter.navs }));
    }
    let mut bound_measures = Vec::new();
    for measure in measures {
        let mut rewriter = Rewriter { scope: &scope, vars: &vars, measures: true, time, navs: vec![] };
        let rewritten = rewriter.rewrite(&measure.expr)?;
        let extended = rewriter.scope();
        let expr = Binder::new(&extended, &[], None).bind(&rewritten)?;
        bound_measures.push((measure.alias.value.clone(), MatchExpr { expr, navs: rewriter.navs }));
    }
    let skip = match after_match_skip {
        None | Some(AfterMatchSkip::PastLastRow) => AfterMatchSkipStrategy::SkipPastLastEvent,
        Some(AfterMatchSkip::ToNextRow) => AfterMatchSkipStrategy::SkipToNext,
        Some(AfterMatchSkip::ToFirst(v)) | Some(AfterMatchSkip::ToLast(v)) => {
            let Some(stage) = find_var(v) else {
                return Err(unsupported_at(
                    span,
                    format!("AFTER MATCH SKIP TO {v}: the variable is not in PATTERN"),
                ));
            };
            if matches!(after_match_skip, Some(AfterMatchSkip::ToFirst(_))) {
                AfterMatchSkipStrategy::skip_to_first(stage)
            } else {
                AfterMatchSkipStrategy::skip_to_last(stage)
            }
        }
    };
    let mut out_columns: Vec<Column> = partition.iter().map(|c| columns[*c].clone()).collect();
    out_columns.extend(bound_measures.iter().map(|(name, e)| Column::new(name.clone(), e.expr.ty())));
    let out_scope = Scope {
        columns: out_columns
            .iter()
            .map(|c| ScopeColumn { qualifiers: vec![], name: Some(c.name.clone()), ty: c.ty })
            .collect(),
        grouped: vec![],
    };
    let spec = MatchSpec {
        partition,
        time,
        order,
        pattern: term,
        defines,
        measures: bound_measures,
        skip,
        columns: out_columns,
    };
    crate::match_recognize::Matcher::new(&spec)
        .map_err(|message| BindError::Type { message, location: super::location_of_span(span) })?;
    Ok((Plan::MatchRecognize { input: Box::new(input), spec: Box::new(spec) }, out_scope))
}

fn pattern_term(
    pattern: &MatchRecognizePattern,
    span: sqlparser::tokenizer::Span,
) -> BindResult<PatternTerm> {
    Ok(match pattern {
        MatchRecognizePattern::Symbol(MatchRecognizeSymbol::Named(ident)) => {
            PatternTerm::Var(ident.value.clone())
        }
        MatchRecognizePattern::Concat(terms) => {
            PatternTerm::Concat(terms.iter().map(|t| pattern_term(t, span)).collect::<BindResult<_>>()?)
        }
        MatchRecognizePattern::Group(inner) => match pattern_term(inner, span)? {
            PatternTerm::Concat(terms) if terms.len() == 1 => terms.into_iter().next().expect("one"),
            other => other,
        },
        MatchRecognizePattern::Repetition(inner, quantifier) => {
            let (quantifier, greedy) = match quantifier {
                RepetitionQuantifier::Reluctant(q) => (&**q, false),
                q => (q, true),
            };
            let (min, max) = match quantifier {
                RepetitionQuantifier::ZeroOrMore => (0, None),
                RepetitionQuantifier::OneOrMore => (1, None),
                RepetitionQuantifier::AtMostOne => (0, Some(1)),
                RepetitionQuantifier::Exactly(n) => (*n, Some(*n)),
                RepetitionQuantifier::AtLeast(n) => (*n, None),
                RepetitionQuantifier::AtMost(m) => (0, Some(*m)),
                RepetitionQuantifier::Range(n, m) => (*n, Some(*m)),
                RepetitionQuantifier::Reluctant(_) => {
                    return Err(unsupported_at(span, format!("PATTERN quantifier {quantifier}")))
                }
            };
            if max == Some(0) || max.is_some_and(|m| m < min) {
                return Err(unsupported_at(
                    span,
                    format!("PATTERN quantifier {quantifier}: an empty repetition range"),
                ));
            }
            PatternTerm::Repeat { term: Box::new(pattern_term(inner, span)?), min, max, greedy }
        }
        MatchRecognizePattern::Alternation(_) => {
            return Err(unsupported_at(
                span,
                format!("PATTERN alternation ({pattern}): the CEP engine has no alternation"),
            ))
        }
        MatchRecognizePattern::Permute(_) => {
            return Err(unsupported_at(span, format!("PATTERN {pattern} (PERMUTE)")))
        }
        MatchRecognizePattern::Exclude(_) => {
            return Err(unsupported_at(span, format!("PATTERN exclusion {pattern}")))
        }
        MatchRecognizePattern::Symbol(other) => {
            return Err(unsupported_at(span, format!("PATTERN anchor {other}")))
        }
    })
}

/// Rewrites navigations into helper columns.
struct Rewriter<'a> {
    scope: &'a Scope,
    vars: &'a [String],
    /// In MEASURES (a bare column is the last row's); else in DEFINE (the current row's).
    measures: bool,
    time: usize,
    navs: Vec<Nav>,
}

fn args_of<'e>(call: &'e ast::Function, source: &Expr) -> BindResult<Vec<&'e FunctionArgExpr>> {
    match &call.args {
        FunctionArguments::None => Ok(vec![]),
        FunctionArguments::List(list) if list.duplicate_treatment.is_none() && list.clauses.is_empty() => {
            list.args
                .iter()
                .map(|arg| match arg {
                    FunctionArg::Unnamed(a) => Ok(a),
                    _ => Err(unsupported(source, "a named argument in MATCH_RECOGNIZE")),
                })
                .collect()
        }
        _ => Err(unsupported(source, format!("the arguments of {}", call.name))),
    }
}

impl Rewriter<'_> {
    fn scope(&self) -> Scope {
        let mut scope = self.scope.clone();
        for (k, nav) in self.navs.iter().enumerate() {
            let ty = match nav {
                Nav::First { column, .. } | Nav::Last { column, .. } | Nav::Prev { column, .. } => {
                    self.scope.columns[*column].ty
                }
                Nav::Aggregate { call, .. } => call.ty,
            };
            scope.columns.push(ScopeColumn { qualifiers: vec![], name: Some(format!("$mr{k}")), ty });
        }
        scope
    }

    fn slot(&mut self, nav: Nav) -> Expr {
        let k = self.navs.iter().position(|n| *n == nav).unwrap_or_else(|| {
            self.navs.push(nav);
            self.navs.len() - 1
        });
        Expr::Identifier(Ident::with_quote('`', format!("$mr{k}")))
    }

    fn column(&self, name: &Ident, source: &Expr) -> BindResult<usize> {
        match self.scope.resolve(None, name) {
            Resolution::Found(index) => Ok(index),
            Resolution::Missing => Err(BindError::UnknownColumn {
                name: name.value.clone(),
                location: location_of(source),
                available: self.scope.describe(),
            }),
            Resolution::Ambiguous(_) => Err(type_error(source, format!("column {name} is ambiguous"))),
        }
    }

    /// `v.x` or `x` as (variable, column).
    fn reference(&self, expr: &Expr) -> BindResult<Option<(Option<String>, usize)>> {
        Ok(match expr {
            Expr::Identifier(name) => Some((None, self.column(name, expr)?)),
            Expr::CompoundIdentifier(parts) if parts.len() == 2 => {
                let Some(var) = self.vars.iter().find(|v| ident_matches(v, &parts[0])) else {
                    return Err(type_error(
                        expr,
                        format!("{} is not a pattern variable of MATCH_RECOGNIZE", parts[0]),
                    ));
                };
                Some((Some(var.clone()), self.column(&parts[1], expr)?))
            }
            Expr::Nested(inner) => self.reference(inner)?,
            _ => None,
        })
    }

    fn offset(&self, arg: Option<&&FunctionArgExpr>, source: &Expr) -> BindResult<u64> {
        match arg {
            None => Ok(0),
            Some(FunctionArgExpr::Expr(Expr::Value(v))) => match &v.value {
                ast::Value::Number(n, _) => {
                    n.parse().map_err(|_| type_error(source, "the offset must be a non-negative integer"))
                }
                _ => Err(type_error(source, "the offset must be a non-negative integer literal")),
            },
            Some(_) => Err(type_error(source, "the offset must be a non-negative integer literal")),
        }
    }

    fn rewrite(&mut self, expr: &Expr) -> BindResult<Expr> {
        let boxed = |this: &mut Self, e: &Expr| this.rewrite(e).map(Box::new);
        Ok(match expr {
            Expr::Identifier(name) if self.measures => match self.scope.resolve(None, name) {
                Resolution::Found(column) => self.slot(Nav::Last { var: None, column, offset: 0 }),
                _ => expr.clone(),
            },
            Expr::CompoundIdentifier(_) => match self.reference(expr)? {
                Some((var, column)) => self.slot(Nav::Last { var, column, offset: 0 }),
                None => expr.clone(),
            },
            Expr::Function(call) => return self.function(call, expr),
            Expr::BinaryOp { left, op, right } => {
                Expr::BinaryOp { left: boxed(self, left)?, op: op.clone(), right: boxed(self, right)? }
            }
            Expr::UnaryOp { op, expr: inner } => Expr::UnaryOp { op: *op, expr: boxed(self, inner)? },
            Expr::Nested(inner) => Expr::Nested(boxed(self, inner)?),
            Expr::IsNull(inner) => Expr::IsNull(boxed(self, inner)?),
            Expr::IsNotNull(inner) => Expr::IsNotNull(boxed(self, inner)?),
            Expr::IsTrue(inner) => Expr::IsTrue(boxed(self, inner)?),
            Expr::IsFalse(inner) => Expr::IsFalse(boxed(self, inner)?),
            Expr::Like { negated, any, expr: inner, pattern, escape_char } => Expr::Like {
                negated: *negated,
                any: *any,
                expr: boxed(self, inner)?,
                pattern: boxed(self, pattern)?,
                escape_char: escape_char.clone(),
            },
            Expr::Between { expr: inner, negated, low, high } => Expr::Between {
                expr: boxed(self, inner)?,
                negated: *negated,
                low: boxed(self, low)?,
                high: boxed(self, high)?,
            },
            Expr::Cast { kind, expr: inner, data_type, format } => Expr::Cast {
                kind: kind.clone(),
                expr: boxed(self, inner)?,
                data_type: data_type.clone(),
                format: format.clone(),
            },
            other => other.clone(),
        })
    }

    fn function(&mut self, call: &ast::Function, source: &Expr) -> BindResult<Expr> {
        let name = call.name.0.last().map(|p| p.to_string()).unwrap_or_default().to_ascii_uppercase();
        let args = args_of(call, source)?;
        let reference =
            |this: &Self, arg: Option<&&FunctionArgExpr>| -> BindResult<(Option<String>, usize)> {
                match arg {
                    Some(FunctionArgExpr::Expr(e)) => this.reference(e)?.ok_or_else(|| {
                        unsupported(
                            source,
                            format!("{name} of an expression in MATCH_RECOGNIZE (give v.column or column)"),
                        )
                    }),
                    _ => Err(type_error(source, format!("{name} needs a column argument"))),
                }
            };
        let aggregate = match name.as_str() {
            "FIRST" | "LAST" | "PREV" => {
                if args.is_empty() || args.len() > 2 {
                    return Err(type_error(source, format!("{name} takes a column and an optional offset")));
                }
                let (var, column) = reference(self, args.first())?;
                let offset = self.offset(args.get(1), source)?;
                // In DEFINE, an unqualified PREV/LAST reads every row of the match, the
                // current row last.
                let nav = match name.as_str() {
                    "FIRST" => Nav::First { var, column, offset },
                    "LAST" => Nav::Last { var, column, offset },
                    _ => Nav::Prev { var, column, offset: if args.len() == 2 { offset } else { 1 } },
                };
                return Ok(self.slot(nav));
            }
            "MATCH_ROWTIME" => {
                let column = match args.first() {
                    None => self.time,
                    Some(_) => reference(self, args.first())?.1,
                };
                return Ok(self.slot(Nav::Last { var: None, column, offset: 0 }));
            }
            "NEXT" | "MATCH_PROCTIME" | "CLASSIFIER" | "MATCH_NUMBER" | "RUNNING" | "FINAL" => {
                return Err(unsupported(source, format!("{name} in MATCH_RECOGNIZE")))
            }
            "COUNT" => Some(AggregateFunction::Count),
            "SUM" => Some(AggregateFunction::Sum),
            "AVG" => Some(AggregateFunction::Avg),
            "MIN" => Some(AggregateFunction::Min),
            "MAX" => Some(AggregateFunction::Max),
            _ => None,
        };
        if let Some(mut function) = aggregate {
            if call.over.is_some() || call.filter.is_some() {
                return Err(unsupported(source, format!("{name} with OVER or FILTER in MATCH_RECOGNIZE")));
            }
            if let FunctionArguments::List(list) = &call.args {
                if list.duplicate_treatment.is_some() {
                    return Err(unsupported(source, format!("{name}(DISTINCT ...) in MATCH_RECOGNIZE")));
                }
            }
            let (var, arg) =
                match args.as_slice() {
                    [FunctionArgExpr::Wildcard] if function == AggregateFunction::Count => {
                        function = AggregateFunction::CountStar;
                        (None, None)
                    }
                    [FunctionArgExpr::QualifiedWildcard(q)] if function == AggregateFunction::Count => {
                        function = AggregateFunction::CountStar;
                        let var = self.vars.iter().find(|v| {
                            q.0.len() == 1 && q.0[0].as_ident().is_some_and(|i| ident_matches(v, i))
                        });
                        (
                            Some(var.cloned().ok_or_else(|| {
                                type_error(source, format!("{q} is not a pattern variable"))
                            })?),
                            None,
                        )
                    }
                    [_] => {
                        let (var, column) = reference(self, args.first())?;
                        (var, Some(column))
                    }
                    _ => return Err(type_error(source, format!("{name} takes one argument"))),
                };
            let arg_ty = arg.map(|c| self.scope.columns[c].ty);
            let ty = match function {
                AggregateFunction::Count | AggregateFunction::CountStar => SqlType::BigInt,
                _ => {
                    let ty = arg_ty.unwrap_or(SqlType::BigInt);
                    if matches!(function, AggregateFunction::Sum | AggregateFunction::Avg) && !ty.is_numeric()
                    {
                        return Err(type_error(source, format!("{name} needs a number, found {ty}")));
                    }
                    ty
                }
            };
            let args = arg
                .map(|c| ScalarExpr::Column { index: c, ty: self.scope.columns[c].ty })
                .into_iter()
                .collect();
            let call = AggregateCall { function, args, distinct: false, filter: None, ty };
            return Ok(self.slot(Nav::Aggregate { var, call }));
        }
        // Any other function: its arguments may navigate.
        let mut call = call.clone();
        if let FunctionArguments::List(list) = &mut call.args {
            for arg in &mut list.args {
                if let FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) = arg {
                    *e = self.rewrite(e)?;
                }
            }
        }
        Ok(Expr::Function(call))
    }
}
