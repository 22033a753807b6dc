//! The catalog: the tables and views a SQL session knows, by name.
//!
//! A table has columns, an optional primary key and its `WITH (...)` options (connector
//! settings, kept in a sorted map); a table without a `connector` option is an in-memory table whose rows the
//! session holds. A table may have time attributes ([`TimeAttributes`]: `WATERMARK FOR` and
//! `PROCTIME()`). A view keeps its SQL text and its bound query, which the binder inlines
//! wherever the view is named.
//!
//! Names follow the identifier rule of the binder: an unquoted name matches
//! case-insensitively, a quoted one exactly. Tables and views share one namespace.

use std::collections::BTreeMap;

use sqlparser::ast::Ident;

use crate::connect::options::{connector, Connector, OptionsError};
use crate::names::ident_matches;
use crate::plan::{Column, Query};

/// A table of the catalog.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// The name as created.
    pub name: String,
    /// The columns, in row order.
    pub columns: Vec<Column>,
    /// The primary key's columns (positions), if declared.
    pub primary_key: Option<Vec<usize>>,
    /// The `WITH ('key' = 'value', ...)` options, by key (as [`crate::connect::options`]
    /// reads them); empty for an in-memory table.
    pub options: BTreeMap<String, String>,
    /// The event-time and processing-time attributes, if declared.
    pub time: TimeAttributes,
}

/// A table's time attributes, as Flink's DDL declares them.
///
/// # Event time
/// With a rowtime (`WATERMARK FOR ts AS ts - INTERVAL '4' SECOND`), the table is read at
/// event time: each row's event time is its rowtime column (epoch milliseconds) and the
/// logical times of its rows follow the watermarks of bounded out-of-orderness with the
/// declared delay (see [`crate::connect::source`]). The processing-time column
/// (`pt AS PROCTIME()`) is not stored: the source fills it with the time the row is read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TimeAttributes {
    /// The rowtime column and its watermark.
    pub rowtime: Option<Rowtime>,
    /// The position of the processing-time column (`AS PROCTIME()`).
    pub proctime: Option<usize>,
}

/// The event-time attribute of a table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rowtime {
    /// The rowtime column's position (a `TIMESTAMP(3)` column).
    pub column: usize,
    /// The watermark delay: the watermark trails the largest rowtime seen by this much.
    pub delay_ms: u64,
    /// `'scan.watermark.idle-timeout'`: a split quiet this long stops holding the watermark.
    pub idle_timeout_ms: Option<u64>,
    /// `'scan.watermark.emit-every'` (eddy's): a split's watermark advances once every this
    /// many rows (default 1024, eddy's coarsening).
    pub emit_every: Option<u64>,
}

/// The `WITH` options that configure the watermark rather than the connector.
pub const WATERMARK_OPTIONS: [&str; 2] = ["scan.watermark.idle-timeout", "scan.watermark.emit-every"];

impl TimeAttributes {
    /// Whether the column at `position` is computed by the source (the proctime column),
    /// not read from the data.
    pub fn is_computed(&self, position: usize) -> bool {
        self.proctime == Some(position)
    }

    /// The columns the data holds: `columns` without the computed proctime column.
    pub fn physical_columns(&self, columns: &[Column]) -> Vec<Column> {
        let columns = columns.iter().enumerate();
        columns.filter(|(i, _)| !self.is_computed(*i)).map(|(_, c)| c.clone()).collect()
    }

    /// The rowtime column's position among the columns the data holds, and its name.
    pub fn physical_rowtime(&self, columns: &[Column]) -> Option<(usize, String)> {
        self.rowtime.as_ref().map(|rowtime| {
            let before = (0..rowtime.column).filter(|i| self.is_computed(*i)).count();
            (rowtime.column - before, columns[rowtime.column].name.clone())
        })
    }
}

impl Table {
    /// The `WITH` options the connector reads (without the watermark's options).
    pub fn connector_options(&self) -> BTreeMap<String, String> {
        let mut options = self.options.clone();
        options.retain(|key, _| !WATERMARK_OPTIONS.contains(&key.as_str()));
        options
    }

    /// The columns the data holds: all but the computed proctime column.
    pub fn physical_columns(&self) -> Vec<Column> {
        self.time.physical_columns(&self.columns)
    }

    /// The connector its `WITH` options describe, reading the columns the data holds.
    pub fn connector(&self) -> Result<Connector, OptionsError> {
        let names: Vec<String> = self.physical_columns().iter().map(|c| c.name.clone()).collect();
        connector(&self.name, &names, &self.connector_options())
    }

    /// Whether the session holds the rows and statements change them: no `connector`
    /// option, or `'connector' = 'values'`.
    pub fn is_in_memory(&self) -> bool {
        self.options.get("connector").is_none_or(|c| c == "values")
    }
}

/// A view of the catalog.
#[derive(Clone, Debug, PartialEq)]
pub struct View {
    /// The name as created.
    pub name: String,
    /// The defining query's SQL text.
    pub sql: String,
    /// The bound query (its order, if any, is dropped when the view is used).
    pub query: Query,
    /// The view's columns.
    pub columns: Vec<Column>,
}

/// A table or a view.
#[derive(Clone, Copy, Debug)]
pub enum Relation<'a> {
    /// A table.
    Table(&'a Table),
    /// A view.
    View(&'a View),
}

impl Relation<'_> {
    /// The name as created.
    pub fn name(&self) -> &str {
        match self {
            Relation::Table(table) => &table.name,
            Relation::View(view) => &view.name,
        }
    }
}

/// Tables and views by name.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    tables: BTreeMap<String, Table>,
    views: BTreeMap<String, View>,
}

/// Why a name does not resolve to one relation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LookupError {
    /// Nothing has the name.
    Missing,
    /// Several relations differ only in case (their names).
    Ambiguous(Vec<String>),
}

impl Catalog {
    /// An empty catalog.
    pub fn new() -> Catalog {
        Catalog::default()
    }

    /// The relation `ident` names.
    pub fn resolve(&self, ident: &Ident) -> Result<Relation<'_>, LookupError> {
        let mut found: Vec<Relation<'_>> = self
            .tables
            .values()
            .filter(|t| ident_matches(&t.name, ident))
            .map(Relation::Table)
            .chain(self.views.values().filter(|v| ident_matches(&v.name, ident)).map(Relation::View))
            .collect();
        if found.len() > 1 {
            let exact: Vec<Relation<'_>> =
                found.iter().copied().filter(|r| r.name() == ident.value).collect();
            if exact.len() == 1 {
                found = exact;
            }
        }
        match found.len() {
            0 => Err(LookupError::Missing),
            1 => Ok(found[0]),
            _ => Err(LookupError::Ambiguous(found.iter().map(|r| r.name().to_owned()).collect())),
        }
    }

    /// The table `ident` names, if it names a table.
    pub fn table(&self, ident: &Ident) -> Option<&Table> {
        match self.resolve(ident) {
            Ok(Relation::Table(table)) => Some(table),
            _ => None,
        }
    }

    /// The table with exactly this name.
    pub fn table_by_name(&self, name: &str) -> Option<&Table> {
        self.tables.get(name)
    }

    /// Adds a table; the caller has checked that the name is free.
    pub fn add_table(&mut self, table: Table) {
        self.tables.insert(table.name.clone(), table);
    }

    /// Adds (or replaces) a view.
    pub fn add_view(&mut self, view: View) {
        self.views.insert(view.name.clone(), view);
    }

    /// Removes the table with exactly this name.
    pub fn remove_table(&mut self, name: &str) -> Option<Table> {
        self.tables.remove(name)
    }

    /// Removes the view with exactly this name.
    pub fn remove_view(&mut self, name: &str) -> Option<View> {
        self.views.remove(name)
    }

    /// All tables, by name.
    pub fn tables(&self) -> impl Iterator<Item = &Table> {
        self.tables.values()
    }

    /// All views, by name.
    pub fn views(&self) -> impl Iterator<Item = &View> {
        self.views.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Plan;
    use crate::types::SqlType;

    fn table(name: &str) -> Table {
        Table {
            name: name.to_owned(),
            columns: vec![Column::new("a", SqlType::Int)],
            primary_key: None,
            options: BTreeMap::new(),
            time: TimeAttributes::default(),
        }
    }

    #[test]
    fn names_resolve_case_insensitively_unless_quoted() {
        let mut catalog = Catalog::new();
        catalog.add_table(table("Orders"));
        assert!(matches!(catalog.resolve(&Ident::new("ORDERS")), Ok(Relation::Table(_))));
        assert_eq!(catalog.resolve(&Ident::with_quote('"', "orders")).err(), Some(LookupError::Missing));
        catalog.add_table(table("orders"));
        assert!(
            matches!(catalog.resolve(&Ident::new("orders")), Ok(Relation::Table(t)) if t.name == "orders")
        );
        assert!(matches!(catalog.resolve(&Ident::new("ORDERS")), Err(LookupError::Ambiguous(_))));
        let view = View {
            name: "v".into(),
            sql: "SELECT 1".into(),
            query: Query { plan: Plan::Values { rows: vec![], columns: vec![] }, order: vec![] },
            columns: vec![],
        };
        catalog.add_view(view);
        assert!(matches!(catalog.resolve(&Ident::new("V")), Ok(Relation::View(_))));
        assert!(catalog.table(&Ident::new("V")).is_none());
        assert!(catalog.remove_view("v").is_some());
        assert_eq!(catalog.tables().count(), 2);
    }
}
