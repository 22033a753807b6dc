//! The Table API: SQL inside a DataStream program, in the same job (Flink's
//! `StreamTableEnvironment`). Register a `DataStream` as a table (its schema read from the
//! element type's serde shape), query it with SQL, and continue with the result as a
//! `DataStream` of changes ([`Table::to_changelog_stream`], Flink's `toChangelogStream`) or of
//! your own type ([`Table::to_data_stream`], append-only results only, as Flink's
//! `toDataStream`).
//!
//! ```
//! use eddy_core::prelude::*;
//! use eddy_connectors::{CollectSink, CollectionSource};
//! use eddy_sql::table::TableEnvironment;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Clone, Debug, Serialize, Deserialize)]
//! struct Order { customer: String, amount: i64 }
//!
//! #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
//! struct Big { customer: String, amount: i64 }
//!
//! let (sink, handle) = CollectSink::new();
//! Job::new(JobConfig::with_workers(2)).run(move |env| {
//!     let orders = env.from_source(
//!         CollectionSource::new(vec![
//!             Order { customer: "ann".into(), amount: 30 },
//!             Order { customer: "bob".into(), amount: 5 },
//!         ]),
//!         WatermarkStrategy::monotonous_timestamps(),
//!     );
//!     let mut tables = TableEnvironment::new(env);
//!     tables.create_temporary_view("orders", orders).expect("a struct of scalars");
//!     let big = tables.sql_query("SELECT customer, amount FROM orders WHERE amount > 10").expect("valid SQL");
//!     big.to_data_stream::<Big>().expect("append-only").sink(sink.clone());
//!     Ok(())
//! }).unwrap();
//! assert_eq!(handle.values(), vec![Big { customer: "ann".into(), amount: 30 }]);
//! ```

use eddy_core::prelude::{DataStream, Env};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_reflection::{ContainerFormat, Format, Tracer, TracerConfig};
use sqlparser::ast::Statement;
use sqlparser::parser::Parser;
use thiserror::Error;

use crate::bind::{bind_query, FlinkDialect};
use crate::catalog::{Catalog, Table as CatalogTable};
use crate::changelog::{ChangelogMode, RowChange, RowKind};
use crate::connect::format::{row_from_json, row_to_json};
use crate::optimize::optimize_query;
use crate::pipeline::PipelineBuilder;
use crate::plan::Column;
use crate::types::SqlType;

/// Why a Table API call failed.
#[derive(Debug, Error)]
pub enum TableError {
    /// The element type is not a struct of scalar fields SQL can hold.
    #[error("type {type_name} cannot be a table: {reason}")]
    Schema {
        /// The Rust type.
        type_name: &'static str,
        /// Why.
        reason: String,
    },
    /// The SQL does not parse, bind or plan.
    #[error("{0}")]
    Sql(String),
    /// An updating result turned into an append-only stream.
    #[error("the query's result updates (-U, +U, -D); use to_changelog_stream, not to_data_stream")]
    Updating,
    /// The job could not be built.
    #[error(transparent)]
    Job(#[from] eddy_core::Error),
}

/// SQL over this worker's streams; see the module docs.
pub struct TableEnvironment<'scope> {
    env: Env<'scope>,
    catalog: Catalog,
    builder: PipelineBuilder<'scope>,
    /// Whether each registered table appends only (every `DataStream` does).
    queries: usize,
}

/// A query's result in a job.
pub struct Table<'scope> {
    changes: DataStream<'scope, RowChange>,
    columns: Vec<Column>,
    mode: ChangelogMode,
}

/// The SQL columns of a serde type: a struct whose fields are integers, floats, booleans,
/// strings or `Option`s of them.
pub fn schema_of<'de, T: serde::Deserialize<'de>>() -> Result<Vec<Column>, TableError> {
    let type_name = std::any::type_name::<T>();
    let error = |reason: String| TableError::Schema { type_name, reason };
    let mut tracer = Tracer::new(TracerConfig::default());
    let (format, _) = tracer.trace_simple_type::<T>().map_err(|e| error(e.to_string()))?;
    let registry = tracer.registry().map_err(|e| error(e.to_string()))?;
    let Format::TypeName(name) = format else { return Err(error("not a struct".into())) };
    let Some(ContainerFormat::Struct(fields)) = registry.get(&name) else {
        return Err(error("not a struct with named fields".into()));
    };
    fields
        .iter()
        .map(|field| {
            let mut format = &field.value;
            while let Format::Option(inner) = format {
                format = inner;
            }
            let ty = match format {
                Format::Bool => SqlType::Boolean,
                Format::I8 | Format::I16 | Format::I32 | Format::U8 | Format::U16 => SqlType::Int,
                Format::I64 | Format::U32 | Format::U64 => SqlType::BigInt,
                Format::F32 | Format::F64 => SqlType::Double,
                Format::Str | Format::Char => SqlType::STRING,
                other => return Err(error(format!("field {} has the serde format {other:?}", field.name))),
            };
            Ok(Column::new(field.name.clone(), ty))
        })
        .collect()
}

impl<'scope> TableEnvironment<'scope> {
    /// SQL on `env`'s worker (build it on every worker, like the rest of the job).
    pub fn new(env: &Env<'scope>) -> Self {
        TableEnvironment {
            env: env.clone(),
            catalog: Catalog::new(),
            builder: PipelineBuilder::new(env),
            queries: 0,
        }
    }

    /// Registers `stream` as the table `name`, its columns the fields of `T` (Flink's
    /// `createTemporaryView(name, fromDataStream(stream))`).
    pub fn create_temporary_view<T>(
        &mut self,
        name: &str,
        stream: DataStream<'scope, T>,
    ) -> Result<(), TableError>
    where
        T: Serialize + DeserializeOwned + Clone + 'static,
    {
        let columns = schema_of::<T>()?;
        let table = name.to_owned();
        let row_columns = columns.clone();
        let failure = self.env.failure();
        let rows = stream.flat_map(move |value| {
            let json = serde_json::to_value(&value).map_err(|e| e.to_string());
            match json.and_then(|json| row_from_json(&table, &row_columns, &json).map_err(|e| e.to_string()))
            {
                Ok(row) => Some((row, 1)),
                Err(error) => {
                    failure.fail(eddy_core::Error::User(format!("table {table}: {error}")));
                    None
                }
            }
        });
        self.builder.add_table(name, rows);
        self.catalog.add_table(CatalogTable {
            name: name.to_owned(),
            columns,
            primary_key: None,
            options: Default::default(),
            time: Default::default(),
        });
        Ok(())
    }

    /// Runs a query over the registered tables; its result is a [`Table`].
    pub fn sql_query(&mut self, sql: &str) -> Result<Table<'scope>, TableError> {
        let statements = Parser::parse_sql(&FlinkDialect, sql).map_err(|e| TableError::Sql(e.to_string()))?;
        let [Statement::Query(query)] = &statements[..] else {
            return Err(TableError::Sql("sql_query takes one query".into()));
        };
        let bound = bind_query(query, &self.catalog).map_err(|e| TableError::Sql(e.to_string()))?;
        let columns = bound.plan.columns();
        let optimized = optimize_query(bound).map_err(|e| TableError::Sql(e.to_string()))?;
        let mode = ChangelogMode::of(&optimized.plan, &|_| ChangelogMode::AppendOnly);
        self.queries += 1;
        let changes = self.builder.query(&self.env, &format!("query-{}", self.queries), &optimized)?;
        Ok(Table { changes, columns, mode })
    }

    /// The dataflow rendered so far (operators, and arrangements with how many queries share
    /// each).
    pub fn explain(&self) -> String {
        self.builder.explain()
    }
}

impl<'scope> Table<'scope> {
    /// The result's columns.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Whether the result only appends.
    pub fn mode(&self) -> ChangelogMode {
        self.mode
    }

    /// The result's changes (`+I`, `-U`, `+U`, `-D`), each at the logical time it happened.
    pub fn to_changelog_stream(self) -> DataStream<'scope, RowChange> {
        self.changes
    }

    /// The result's rows as `T`s (fields by column name), for an append-only result.
    pub fn to_data_stream<T: DeserializeOwned + Clone + 'static>(
        self,
    ) -> Result<DataStream<'scope, T>, TableError> {
        if self.mode == ChangelogMode::Updating {
            return Err(TableError::Updating);
        }
        let columns = self.columns;
        let failure = self.changes.env().failure();
        Ok(self.changes.flat_map(move |change| {
            if change.kind != RowKind::Insert {
                failure.fail(eddy_core::Error::Internal(format!("an append-only result sent {change}")));
                return None;
            }
            match serde_json::from_value::<T>(row_to_json(&columns, &change.row)) {
                Ok(value) => Some(value),
                Err(error) => {
                    failure.fail(eddy_core::Error::User(format!(
                        "row {} does not fit {}: {error}",
                        change.row,
                        std::any::type_name::<T>()
                    )));
                    None
                }
            }
        }))
    }
}
