//! The session's catalog statements: `CREATE TABLE [IF NOT EXISTS]` (also `AS SELECT`),
//! `CREATE [OR REPLACE] [TEMPORARY] VIEW`, `DROP TABLE/VIEW [IF EXISTS]` (`DROP INDEX` is
//! accepted and ignored, as `CREATE INDEX`), `SHOW TABLES` and `DESCRIBE`. A table's time
//! attributes (`WATERMARK FOR`, `AS PROCTIME()`) are parsed and checked in [`super::time`].

use std::collections::BTreeMap;

use sqlparser::ast::{
    ColumnOption, CreateTable, CreateTableOptions, CreateView, Expr, ObjectName, ObjectType, SqlOption,
    TableConstraint, Value,
};

use super::time::{self, TimeClauses};
use super::{assign_row, object_name, single_ident, Outcome, Session, SqlErrorKind, StatementResult};
use crate::bind::literals::data_type_at;
use crate::bind::{bind_query, BindError, Location};
use crate::catalog::{Relation, Table, TimeAttributes, View, WATERMARK_OPTIONS};
use crate::connect::datagen::{self, row_count};
use crate::connect::options::Connector;
use crate::datum::{Datum, Row};
use crate::names::ident_matches;
use crate::plan::{Column, Plan};
use crate::types::SqlType;

fn location(span: sqlparser::tokenizer::Span) -> Option<Location> {
    (span.start.line > 0).then_some(Location { line: span.start.line, column: span.start.column })
}

/// An option's key or value as written: a quoted string's text, or an identifier.
fn option_text(expr: &Expr) -> String {
    match expr {
        Expr::Value(value) => match &value.value {
            Value::SingleQuotedString(text) | Value::DoubleQuotedString(text) => text.clone(),
            other => other.to_string(),
        },
        Expr::Identifier(ident) => ident.value.clone(),
        other => other.to_string(),
    }
}

/// The watermark expression of `column` with `delay_ms`, as `DESCRIBE` shows it.
fn watermark_text(column: &str, delay_ms: u64) -> String {
    if delay_ms == 0 {
        format!("`{column}`")
    } else if delay_ms.is_multiple_of(1_000) {
        format!("`{column}` - INTERVAL '{}' SECOND", delay_ms / 1_000)
    } else {
        format!("`{column}` - INTERVAL '{delay_ms}' MILLISECOND")
    }
}

/// The most rows of a bounded `datagen` table the session generates for queries.
const MAX_GENERATED_ROWS: u64 = 1_000_000;

impl Session {
    pub(super) fn create_table(
        &mut self,
        create: &CreateTable,
        clauses: &TimeClauses,
    ) -> StatementResult<Outcome> {
        let ident = single_ident(&create.name)?;
        if self.catalog.resolve(ident).is_ok() {
            if create.if_not_exists {
                return Ok(Outcome::Done {
                    message: format!("table {} already exists, skipped", ident.value),
                });
            }
            return Err(SqlErrorKind::Catalog(format!(
                "a table or view named {} already exists",
                ident.value
            )));
        }
        if create.or_replace || create.external || create.like.is_some() || create.clone.is_some() {
            return Err(SqlErrorKind::Unsupported(
                "CREATE OR REPLACE, EXTERNAL, LIKE and CLONE tables".into(),
            ));
        }
        let mut columns = Vec::new();
        let mut primary_key = None;
        for (i, column) in create.columns.iter().enumerate() {
            let ty = data_type_at(&column.data_type, location(column.name.span))?;
            if columns.iter().any(|c: &Column| c.name == column.name.value) {
                return Err(SqlErrorKind::Catalog(format!("column {} is declared twice", column.name.value)));
            }
            columns.push(Column::new(column.name.value.clone(), ty));
            if column.options.iter().any(|o| matches!(o.option, ColumnOption::PrimaryKey(_))) {
                primary_key = Some(vec![i]);
            }
        }
        for (position, name, expr) in &clauses.computed {
            if columns.iter().any(|c: &Column| c.name == name.value) {
                return Err(SqlErrorKind::Catalog(format!("column {} is declared twice", name.value)));
            }
            columns.insert(*position, time::computed_column(name, expr)?);
            if let Some(key) = primary_key.as_mut() {
                key.iter_mut().filter(|i| **i >= *position).for_each(|i| *i += 1);
            }
        }
        for constraint in &create.constraints {
            if let TableConstraint::PrimaryKey(key) = constraint {
                let mut positions = Vec::new();
                for column in &key.columns {
                    let Expr::Identifier(name) = &column.column.expr else {
                        return Err(SqlErrorKind::Unsupported(format!(
                            "the key column {}",
                            column.column.expr
                        )));
                    };
                    let position =
                        columns.iter().position(|c| ident_matches(&c.name, name)).ok_or_else(|| {
                            SqlErrorKind::Catalog(format!(
                                "the primary key column {} is not a column of the table",
                                name.value
                            ))
                        })?;
                    positions.push(position);
                }
                primary_key = Some(positions);
            }
        }
        let mut options = BTreeMap::new();
        match &create.table_options {
            CreateTableOptions::None => {}
            CreateTableOptions::With(list) => {
                for option in list {
                    let SqlOption::KeyValue { key, value } = option else {
                        return Err(SqlErrorKind::Unsupported(format!("the table option {option}")));
                    };
                    options.insert(object_name(key), option_text(value));
                }
            }
            other => return Err(SqlErrorKind::Unsupported(format!("table options {other}"))),
        }
        let time = self.time_attributes(&ident.value, &columns, clauses, &options)?;
        let mut rows = Vec::new();
        if let Some(query) = &create.query {
            let bound = bind_query(query, &self.catalog)?;
            if columns.is_empty() {
                columns = bound.plan.columns();
            } else if columns.len() != bound.plan.arity() {
                return Err(SqlErrorKind::Catalog(format!(
                    "CREATE TABLE AS SELECT: {} columns declared, the query has {}",
                    columns.len(),
                    bound.plan.arity()
                )));
            }
            let from: Vec<SqlType> = bound.plan.columns().iter().map(|c| c.ty).collect();
            for row in self.engine.query(&bound, &self.tables)? {
                rows.push(assign_row(&row, &from, &columns)?);
            }
        }
        let table = Table { name: ident.value.clone(), columns, primary_key, options, time };
        let connector = table.connector().map_err(|e| SqlErrorKind::Catalog(e.to_string()))?;
        if table.time.proctime.is_some() && connector == Connector::Memory {
            return Err(SqlErrorKind::Unsupported(format!(
                "table {}: a PROCTIME() column needs a connector table (the session's in-memory \
                 rows are not read by a source)",
                table.name
            )));
        }
        let message = format!("table {} created", table.name);
        // A generator's rows are pre-generated for the session only when no column is computed
        // at read time.
        let generate = rows.is_empty() && table.time.proctime.is_none();
        if let (Connector::Datagen(spec), true) = (&connector, generate) {
            // A bounded generator's rows are known now: queries read them like a table's.
            if let Some(n) = row_count(spec).filter(|n| *n <= MAX_GENERATED_ROWS) {
                let generated = (0..n).map(|i| datagen::row(spec, &table.columns, i)).collect();
                self.tables.insert(table.name.clone(), generated);
            }
        }
        if table.is_in_memory() {
            let changes: Vec<(Row, i64)> = rows.iter().map(|row| (row.clone(), 1)).collect();
            if !changes.is_empty() {
                self.changes.entry(table.name.clone()).or_default().push(changes);
            }
            self.tables.insert(table.name.clone(), rows);
        } else if !rows.is_empty() {
            return Err(SqlErrorKind::Unsupported("CREATE TABLE AS SELECT into a connector table".into()));
        }
        self.catalog.add_table(table);
        Ok(Outcome::Done { message })
    }

    pub(super) fn create_view(&mut self, create: &CreateView) -> StatementResult<Outcome> {
        let ident = single_ident(&create.name)?;
        if create.materialized {
            return Err(SqlErrorKind::Unsupported("materialized views".into()));
        }
        match self.catalog.resolve(ident) {
            Ok(Relation::View(view)) if create.or_replace => {
                let name = view.name.clone();
                self.catalog.remove_view(&name);
            }
            Ok(_) if create.if_not_exists => {
                return Ok(Outcome::Done {
                    message: format!("view {} already exists, skipped", ident.value),
                });
            }
            Ok(_) => {
                return Err(SqlErrorKind::Catalog(format!(
                    "a table or view named {} already exists",
                    ident.value
                )))
            }
            Err(_) => {}
        }
        let mut query = bind_query(&create.query, &self.catalog)?;
        query.order.clear();
        let mut columns = query.plan.columns();
        if !create.columns.is_empty() {
            if create.columns.len() != columns.len() {
                return Err(SqlErrorKind::Bind(BindError::Type {
                    message: format!(
                        "view {} names {} columns, its query has {}",
                        ident.value,
                        create.columns.len(),
                        columns.len()
                    ),
                    location: location(ident.span),
                }));
            }
            for (column, name) in columns.iter_mut().zip(&create.columns) {
                column.name = name.name.value.clone();
            }
            query.plan = Plan::Project {
                input: Box::new(query.plan),
                exprs: columns
                    .iter()
                    .enumerate()
                    .map(|(index, c)| crate::expr::ScalarExpr::Column { index, ty: c.ty })
                    .collect(),
                names: columns.iter().map(|c| c.name.clone()).collect(),
            };
        }
        let view = View { name: ident.value.clone(), sql: create.query.to_string(), query, columns };
        let message = format!("view {} created", view.name);
        self.catalog.add_view(view);
        Ok(Outcome::Done { message })
    }

    pub(super) fn drop(
        &mut self,
        kind: ObjectType,
        if_exists: bool,
        names: &[ObjectName],
    ) -> StatementResult<Outcome> {
        if kind == ObjectType::Index {
            return Ok(Outcome::Done {
                message: "DROP INDEX ignored: in-memory tables have no indexes".into(),
            });
        }
        let mut dropped = Vec::new();
        for name in names {
            let ident = single_ident(name)?;
            match (kind, self.catalog.resolve(ident)) {
                (ObjectType::Table, Ok(Relation::Table(table))) => {
                    let name = table.name.clone();
                    self.catalog.remove_table(&name);
                    self.tables.remove(&name);
                    self.changes.remove(&name);
                    dropped.push(name);
                }
                (ObjectType::View, Ok(Relation::View(view))) => {
                    let name = view.name.clone();
                    self.catalog.remove_view(&name);
                    dropped.push(name);
                }
                (ObjectType::Table | ObjectType::View, Err(_)) if if_exists => {}
                (ObjectType::Table | ObjectType::View, _) => {
                    let what = if kind == ObjectType::Table { "table" } else { "view" };
                    return Err(SqlErrorKind::Catalog(format!("no {what} named {}", ident.value)));
                }
                (other, _) => return Err(SqlErrorKind::Unsupported(format!("DROP {other}"))),
            }
        }
        Ok(Outcome::Done {
            message: format!(
                "dropped {}",
                if dropped.is_empty() { "nothing".into() } else { dropped.join(", ") }
            ),
        })
    }

    pub(super) fn show_tables(&self) -> Outcome {
        let mut names: Vec<&str> = self.catalog.tables().map(|t| t.name.as_str()).collect();
        names.extend(self.catalog.views().map(|v| v.name.as_str()));
        names.sort_unstable();
        Outcome::Rows {
            columns: vec![Column::new("table name", SqlType::STRING)],
            rows: names.into_iter().map(|n| Row::new(vec![Datum::string(n)])).collect(),
        }
    }

    /// The time attributes of a new table from its clauses and its `scan.watermark.*` options.
    fn time_attributes(
        &self,
        table: &str,
        columns: &[Column],
        clauses: &TimeClauses,
        options: &BTreeMap<String, String>,
    ) -> StatementResult<TimeAttributes> {
        let mut time = time::time_attributes(table, columns, clauses)?;
        for key in WATERMARK_OPTIONS {
            let Some(value) = options.get(key) else { continue };
            let Some(rowtime) = time.rowtime.as_mut() else {
                return Err(SqlErrorKind::Catalog(format!(
                    "table {table}: the option '{key}' needs a WATERMARK FOR clause"
                )));
            };
            let bad = || SqlErrorKind::Catalog(format!("table {table}: '{key}' = '{value}' is not valid"));
            if key == "scan.watermark.idle-timeout" {
                rowtime.idle_timeout_ms = Some(time::duration_ms(value).ok_or_else(bad)?);
            } else {
                rowtime.emit_every = Some(value.trim().parse().ok().filter(|n| *n > 0).ok_or_else(bad)?);
            }
        }
        Ok(time)
    }

    /// `DESCRIBE t`, in Flink's shape: each column's name, type (with `*ROWTIME*` or
    /// `*PROCTIME*` for a time attribute), whether it may be `NULL`, its key, extras (a computed
    /// column's expression) and the watermark declared on it.
    pub(super) fn describe(&self, name: &ObjectName) -> StatementResult<Outcome> {
        let ident = single_ident(name)?;
        let relation = self
            .catalog
            .resolve(ident)
            .map_err(|_| SqlErrorKind::Catalog(format!("no table or view named {}", ident.value)))?;
        let (columns, key, time) = match relation {
            Relation::Table(table) => (table.columns.clone(), table.primary_key.clone(), table.time.clone()),
            Relation::View(view) => (view.columns.clone(), None, TimeAttributes::default()),
        };
        let key_text = key.as_ref().map(|key| {
            let names: Vec<&str> =
                key.iter().filter_map(|&i| columns.get(i)).map(|c| c.name.as_str()).collect();
            format!("PRI({})", names.join(", "))
        });
        let rows = columns
            .iter()
            .enumerate()
            .map(|(i, column)| {
                let in_key = key.as_ref().is_some_and(|k| k.contains(&i));
                let rowtime = time.rowtime.as_ref().filter(|rowtime| rowtime.column == i);
                let (ty, extras) = match (rowtime, time.is_computed(i)) {
                    (Some(_), _) => (format!("{} *ROWTIME*", column.ty), Datum::Null),
                    (None, true) => (format!("{} *PROCTIME*", column.ty), Datum::string("AS PROCTIME()")),
                    (None, false) => (column.ty.to_string(), Datum::Null),
                };
                let watermark = rowtime.map_or(Datum::Null, |rowtime| {
                    Datum::string(watermark_text(&column.name, rowtime.delay_ms))
                });
                Row::new(vec![
                    Datum::string(column.name.clone()),
                    Datum::string(ty),
                    Datum::Boolean(!in_key && !time.is_computed(i)),
                    key_text.clone().filter(|_| in_key).map_or(Datum::Null, Datum::string),
                    extras,
                    watermark,
                ])
            })
            .collect();
        Ok(Outcome::Rows {
            columns: vec![
                Column::new("name", SqlType::STRING),
                Column::new("type", SqlType::STRING),
                Column::new("null", SqlType::Boolean),
                Column::new("key", SqlType::STRING),
                Column::new("extras", SqlType::STRING),
                Column::new("watermark", SqlType::STRING),
            ],
            rows,
        })
    }
}
