//! The session's data statements on in-memory tables, with batch semantics: `INSERT INTO t
//! [(columns)] VALUES ... | SELECT ...`, `UPDATE t SET c = e, ... [WHERE ...]` and
//! `DELETE FROM t [WHERE ...]`. Each computes its whole effect from the table as it was before
//! the statement, then applies it and records it as one batch of `(row, diff)` changes.
//!
//! Values are converted to the column's type as an assignment does (an explicit `CAST`'s
//! rules); a value that does not convert fails the statement and changes nothing.

use std::collections::BTreeMap;

use sqlparser::ast::{
    AssignmentTarget, Delete, FromTable, Insert, TableFactor, TableObject, TableWithJoins, Update,
};

use super::{single_ident, Outcome, Session, SqlErrorKind, StatementResult};
use crate::bind::{bind_dml, bind_query, BindError};
use crate::cast::{can_cast, cast};
use crate::catalog::Table;
use crate::datum::{Datum, Row};
use crate::names::ident_matches;
use crate::plan::{Column, Query};
use crate::types::SqlType;

pub(super) fn check_assignable(from: SqlType, column: &Column) -> StatementResult<()> {
    if from == column.ty || from == SqlType::Null || can_cast(from, column.ty) {
        Ok(())
    } else {
        Err(SqlErrorKind::Bind(BindError::Type {
            message: format!("cannot assign {from} to column {} of type {}", column.name, column.ty),
            location: None,
        }))
    }
}

impl Session {
    /// The in-memory table a DML statement names.
    fn target(&self, table: &TableWithJoins) -> StatementResult<(Table, Option<String>)> {
        let TableFactor::Table { name, alias, .. } = &table.relation else {
            return Err(SqlErrorKind::Unsupported(format!("changing {}", table.relation)));
        };
        if !table.joins.is_empty() {
            return Err(SqlErrorKind::Unsupported("changing a join".into()));
        }
        let ident = single_ident(name)?;
        let table = self
            .catalog
            .table(ident)
            .ok_or_else(|| SqlErrorKind::Catalog(format!("no table named {}", ident.value)))?;
        if !table.is_in_memory() {
            return Err(SqlErrorKind::Unsupported(format!(
                "changing {}: only in-memory tables (without a connector) can be changed by statements",
                table.name
            )));
        }
        Ok((table.clone(), alias.as_ref().map(|a| a.name.value.clone())))
    }

    /// Applies a batch: removes the `-1` rows (one occurrence each), adds the `+1` rows, and
    /// records the batch.
    fn apply(&mut self, table: &str, changes: Vec<(Row, i64)>) {
        let rows = self.tables.entry(table.to_owned()).or_default();
        let mut removed: BTreeMap<&Row, i64> = BTreeMap::new();
        for (row, diff) in &changes {
            if *diff < 0 {
                *removed.entry(row).or_default() += -diff;
            }
        }
        rows.retain(|row| match removed.get_mut(row) {
            Some(count) if *count > 0 => {
                *count -= 1;
                false
            }
            _ => true,
        });
        rows.extend(changes.iter().filter(|(_, diff)| *diff > 0).map(|(row, _)| row.clone()));
        if !changes.is_empty() {
            self.changes.entry(table.to_owned()).or_default().push(changes);
        }
    }

    pub(super) fn insert(&mut self, insert: &Insert) -> StatementResult<Outcome> {
        if insert.on.is_some() || insert.returning.is_some() || insert.overwrite || insert.or.is_some() {
            return Err(SqlErrorKind::Unsupported(
                "INSERT with ON CONFLICT, RETURNING, OVERWRITE or OR".into(),
            ));
        }
        let TableObject::TableName(name) = &insert.table else {
            return Err(SqlErrorKind::Unsupported("INSERT INTO a table function".into()));
        };
        let relation = TableWithJoins {
            relation: TableFactor::Table {
                name: name.clone(),
                alias: None,
                args: None,
                with_hints: vec![],
                version: None,
                with_ordinality: false,
                partitions: vec![],
                json_path: None,
                sample: None,
                index_directives: vec![],
                inheritance: None,
            },
            joins: vec![],
        };
        if let Some(table) =
            name.0.first().and_then(|part| part.as_ident()).and_then(|i| self.catalog.table(i))
        {
            if !table.is_in_memory() && name.0.len() == 1 {
                return self.insert_job(&table.clone(), insert);
            }
        }
        let (table, _) = self.target(&relation)?;
        let Some(source) = &insert.source else {
            return Err(SqlErrorKind::Unsupported("INSERT without VALUES or a query".into()));
        };
        // Target positions: the listed columns, or all.
        let targets: Vec<usize> = if insert.columns.is_empty() {
            (0..table.columns.len()).collect()
        } else {
            let mut targets = Vec::new();
            for column in &insert.columns {
                let ident = single_ident(column)?;
                let position =
                    table.columns.iter().position(|c| ident_matches(&c.name, ident)).ok_or_else(|| {
                        SqlErrorKind::Catalog(format!("table {} has no column {}", table.name, ident.value))
                    })?;
                if targets.contains(&position) {
                    return Err(SqlErrorKind::Catalog(format!("column {} is listed twice", ident.value)));
                }
                targets.push(position);
            }
            targets
        };
        let query: Query = bind_query(source, &self.catalog)?;
        let from: Vec<SqlType> = query.plan.columns().iter().map(|c| c.ty).collect();
        if from.len() != targets.len() {
            return Err(SqlErrorKind::Bind(BindError::Type {
                message: format!(
                    "INSERT INTO {} gives {} values for {} columns",
                    table.name,
                    from.len(),
                    targets.len()
                ),
                location: None,
            }));
        }
        for (ty, &target) in from.iter().zip(&targets) {
            check_assignable(*ty, &table.columns[target])?;
        }
        let source_rows = self.engine.query(&query, &self.tables)?;
        let mut changes = Vec::new();
        for source_row in source_rows {
            let mut values = vec![Datum::Null; table.columns.len()];
            for ((value, ty), &target) in source_row.values().iter().zip(&from).zip(&targets) {
                values[target] = cast(value, *ty, table.columns[target].ty)?;
            }
            changes.push((Row::new(values), 1));
        }
        let n = changes.len();
        self.apply(&table.name, changes);
        Ok(Outcome::Done { message: format!("{n} row{} inserted", if n == 1 { "" } else { "s" }) })
    }

    pub(super) fn update(&mut self, update: &Update) -> StatementResult<Outcome> {
        if update.from.is_some()
            || update.returning.is_some()
            || update.limit.is_some()
            || !update.order_by.is_empty()
        {
            return Err(SqlErrorKind::Unsupported("UPDATE with FROM, RETURNING, ORDER BY or LIMIT".into()));
        }
        let (table, alias) = self.target(&update.table)?;
        let mut targets = Vec::new();
        let mut values = Vec::new();
        for assignment in &update.assignments {
            let AssignmentTarget::ColumnName(name) = &assignment.target else {
                return Err(SqlErrorKind::Unsupported("assigning a tuple".into()));
            };
            let ident = name
                .0
                .last()
                .and_then(|p| p.as_ident())
                .ok_or_else(|| SqlErrorKind::Unsupported(format!("the column name {name}")))?;
            let position =
                table.columns.iter().position(|c| ident_matches(&c.name, ident)).ok_or_else(|| {
                    SqlErrorKind::Catalog(format!("table {} has no column {}", table.name, ident.value))
                })?;
            targets.push(position);
            values.push(&assignment.value);
        }
        let plan = bind_dml(&self.catalog, &table, alias.as_deref(), update.selection.as_ref(), &values)?;
        let types: Vec<SqlType> = plan.columns().iter().map(|c| c.ty).collect();
        let width = table.columns.len();
        for (k, &target) in targets.iter().enumerate() {
            check_assignable(types[width + k], &table.columns[target])?;
        }
        let matched = self.engine.query(&Query { plan, order: vec![] }, &self.tables)?;
        let mut changes = Vec::new();
        for row in &matched {
            let old: Row = row.values()[..width].iter().cloned().collect();
            let mut new = old.clone().into_values();
            for (k, &target) in targets.iter().enumerate() {
                new[target] = cast(&row.values()[width + k], types[width + k], table.columns[target].ty)?;
            }
            changes.push((old, -1));
            changes.push((Row::new(new), 1));
        }
        let n = matched.len();
        self.apply(&table.name, changes);
        Ok(Outcome::Done { message: format!("{n} row{} updated", if n == 1 { "" } else { "s" }) })
    }

    pub(super) fn delete(&mut self, delete: &Delete) -> StatementResult<Outcome> {
        if delete.using.is_some()
            || delete.returning.is_some()
            || delete.limit.is_some()
            || !delete.order_by.is_empty()
        {
            return Err(SqlErrorKind::Unsupported("DELETE with USING, RETURNING, ORDER BY or LIMIT".into()));
        }
        let from = match &delete.from {
            FromTable::WithFromKeyword(tables) | FromTable::WithoutKeyword(tables) => tables,
        };
        let [relation] = &from[..] else {
            return Err(SqlErrorKind::Unsupported("DELETE from several tables".into()));
        };
        let (table, alias) = self.target(relation)?;
        let plan = bind_dml(&self.catalog, &table, alias.as_deref(), delete.selection.as_ref(), &[])?;
        let matched = self.engine.query(&Query { plan, order: vec![] }, &self.tables)?;
        let n = matched.len();
        self.apply(&table.name, matched.into_iter().map(|row| (row, -1)).collect());
        Ok(Outcome::Done { message: format!("{n} row{} deleted", if n == 1 { "" } else { "s" }) })
    }
}
