//! The changelog's event: one change of one row, as the CDC source reads it from PostgreSQL
//! and as the Debezium decoder reads it from Debezium's JSON.

use eddy_core::changelog::Change;
use serde::{Deserialize, Serialize};

use crate::value::Row;

/// What happened to a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Op {
    /// Read by the initial snapshot.
    Read,
    /// Inserted.
    Insert,
    /// Updated.
    Update,
    /// Deleted.
    Delete,
}

/// One change of one row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CdcEvent<T> {
    /// The table, `schema.name`.
    pub table: String,
    /// What happened.
    pub op: Op,
    /// The row's primary key (for a delete: the deleted row's).
    pub key: Row,
    /// For an update that changed the primary key: the old key.
    pub old_key: Option<Row>,
    /// The old row, when the server sends it (deletes and updates of a table with
    /// `REPLICA IDENTITY FULL`).
    pub before: Option<T>,
    /// The new row (reads, inserts, updates).
    pub after: Option<T>,
    /// The LSN of the transaction's commit (the slot's consistent point for snapshot rows).
    pub lsn: u64,
    /// The commit time, milliseconds since the Unix epoch.
    pub commit_time: i64,
    /// The event's place in the changelog: strictly increasing in commit order (and, within a
    /// transaction, statement order), the same on every replay. eddy's keyed operators apply
    /// records of equal event time in the order of their tags, not of their arrival, so state
    /// that must follow each key's commit order compares this (keeps the change with the
    /// highest `sequence`), as the `region_revenue` example does.
    pub sequence: u64,
}

impl<T> CdcEvent<T> {
    /// The event as upsert changes keyed by `key` of the primary key: a delete of the old key
    /// (deletes, and updates that changed the key), then an upsert of the new row.
    pub fn into_changes<K>(self, key: impl Fn(&Row) -> K) -> Vec<Change<K, T>> {
        let mut changes = Vec::with_capacity(2);
        if let Some(old) = &self.old_key {
            changes.push(Change::Delete(key(old)));
        }
        match (self.op, self.after) {
            (Op::Delete, _) | (_, None) => changes.push(Change::Delete(key(&self.key))),
            (_, Some(after)) => changes.push(Change::Upsert(key(&self.key), after)),
        }
        changes
    }
}
