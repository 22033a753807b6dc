//! The logical replication stream, decoded without I/O: the copy-both messages of the
//! streaming replication protocol (`XLogData`, primary keepalive, standby status update) and
//! the messages of the built-in `pgoutput` plugin (protocol version 1: begin, commit,
//! relation, insert, update, delete, truncate), with column values in text format.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01 UTC).
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// A log sequence number as PostgreSQL prints it (`16/B374D848`).
pub fn format_lsn(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xFFFF_FFFF)
}

/// Parses `16/B374D848`.
pub fn parse_lsn(text: &str) -> Option<u64> {
    let (high, low) = text.split_once('/')?;
    Some((u64::from_str_radix(high, 16).ok()? << 32) | u64::from_str_radix(low, 16).ok()?)
}

/// A PostgreSQL timestamp (microseconds since 2000-01-01) as milliseconds since the Unix epoch.
pub fn postgres_micros_to_unix_millis(micros: i64) -> i64 {
    (micros + POSTGRES_EPOCH_MICROS).div_euclid(1000)
}

/// A copy-both message from the server.
#[derive(Clone, Debug, PartialEq)]
pub enum ServerMessage {
    /// WAL data: a `pgoutput` message starting at `start`.
    XLogData {
        /// The WAL position of the data.
        start: u64,
        /// The server's current end of WAL.
        end: u64,
        /// The `pgoutput` message.
        data: Bytes,
    },
    /// The server's keepalive.
    Keepalive {
        /// The server's current end of WAL.
        end: u64,
        /// Whether the server wants a status update now (or it will time the connection out).
        reply_requested: bool,
    },
}

/// Why bytes could not be decoded.
pub type DecodeError = String;

fn need(buffer: &Bytes, bytes: usize, what: &str) -> Result<(), DecodeError> {
    if buffer.remaining() < bytes {
        Err(format!("truncated {what}"))
    } else {
        Ok(())
    }
}

/// Decodes one copy-both message.
pub fn parse_server_message(mut data: Bytes) -> Result<ServerMessage, DecodeError> {
    need(&data, 1, "replication message")?;
    match data.get_u8() {
        b'w' => {
            need(&data, 24, "XLogData")?;
            let start = data.get_u64();
            let end = data.get_u64();
            let _sent_at = data.get_i64();
            Ok(ServerMessage::XLogData { start, end, data })
        }
        b'k' => {
            need(&data, 17, "keepalive")?;
            let end = data.get_u64();
            let _sent_at = data.get_i64();
            Ok(ServerMessage::Keepalive { end, reply_requested: data.get_u8() == 1 })
        }
        other => Err(format!("unknown replication message `{}`", other as char)),
    }
}

/// The standby status update. `flushed` is what the client has made durable (for eddy: the
/// LSN of the last completed checkpoint), which lets the server advance the slot; `None`
/// reports no flush position, which leaves the slot alone. `written` is what the client
/// received: a walsender that is shutting down waits until the client reports it has
/// received everything sent (as `flushed`, or as `written` when no flush position is
/// reported), so answering its keepalive with `written` only lets it stop without the slot
/// moving past eddy's checkpoint.
pub fn standby_status_update(written: u64, flushed: Option<u64>, now_unix_millis: i64) -> Bytes {
    let mut buffer = BytesMut::with_capacity(34);
    buffer.put_u8(b'r');
    buffer.put_u64(written);
    buffer.put_u64(flushed.unwrap_or(0));
    buffer.put_u64(flushed.unwrap_or(0));
    buffer.put_i64(now_unix_millis * 1000 - POSTGRES_EPOCH_MICROS);
    buffer.put_u8(0);
    buffer.freeze()
}

/// A column of a relation as `pgoutput` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelationColumn {
    /// Part of the replica identity (the primary key by default).
    pub key: bool,
    /// The column's name.
    pub name: String,
    /// Its type's OID.
    pub type_oid: u32,
}

/// A table as `pgoutput` describes it before its first change in a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Relation {
    /// Its OID.
    pub oid: u32,
    /// Its schema.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its columns.
    pub columns: Vec<RelationColumn>,
}

/// One column value of a tuple.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TupleValue {
    /// NULL.
    Null,
    /// An unchanged TOASTed value the server did not send.
    Unchanged,
    /// The value in text format.
    Text(String),
}

/// A `pgoutput` message.
#[derive(Clone, Debug, PartialEq)]
pub enum Logical {
    /// A transaction begins; it commits at `final_lsn` at `commit_time` (Unix milliseconds).
    Begin {
        /// The LSN of the commit record.
        final_lsn: u64,
        /// The commit time, milliseconds since the Unix epoch.
        commit_time: i64,
    },
    /// The transaction commits; `end_lsn` is where to restart after it.
    Commit {
        /// The LSN of the commit record.
        commit_lsn: u64,
        /// The end of the commit record.
        end_lsn: u64,
    },
    /// A table's description.
    Relation(Relation),
    /// A row inserted into relation `relation`.
    Insert {
        /// The relation's OID.
        relation: u32,
        /// The new row.
        new: Vec<TupleValue>,
    },
    /// A row updated: `old` is the old key (`K`) or whole old row (`O`, with `REPLICA
    /// IDENTITY FULL`) when the server sends it.
    Update {
        /// The relation's OID.
        relation: u32,
        /// The old key or row, and whether it is the whole row.
        old: Option<(bool, Vec<TupleValue>)>,
        /// The new row.
        new: Vec<TupleValue>,
    },
    /// A row deleted: its key, or the whole old row with `REPLICA IDENTITY FULL`.
    Delete {
        /// The relation's OID.
        relation: u32,
        /// The old key or row, and whether it is the whole row.
        old: (bool, Vec<TupleValue>),
    },
    /// Tables truncated.
    Truncate {
        /// Their OIDs.
        relations: Vec<u32>,
    },
    /// A logical message (`pg_logical_emit_message`).
    Message {
        /// Its prefix.
        prefix: String,
    },
    /// Anything else (type, origin): not needed.
    Other,
}

fn string(data: &mut Bytes) -> Result<String, DecodeError> {
    let end = data.iter().position(|&byte| byte == 0).ok_or("unterminated string")?;
    let text =
        String::from_utf8(data.split_to(end).to_vec()).map_err(|_| "a name is not UTF-8".to_owned())?;
    data.advance(1);
    Ok(text)
}

fn tuple(data: &mut Bytes) -> Result<Vec<TupleValue>, DecodeError> {
    need(data, 2, "tuple")?;
    let columns = data.get_u16();
    let mut values = Vec::with_capacity(columns as usize);
    for _ in 0..columns {
        need(data, 1, "tuple column")?;
        values.push(match data.get_u8() {
            b'n' => TupleValue::Null,
            b'u' => TupleValue::Unchanged,
            b't' => {
                need(data, 4, "text value")?;
                let length = data.get_u32() as usize;
                need(data, length, "text value")?;
                TupleValue::Text(
                    String::from_utf8(data.split_to(length).to_vec())
                        .map_err(|_| "a text value is not UTF-8".to_owned())?,
                )
            }
            other => return Err(format!("unsupported tuple value kind `{}`", other as char)),
        });
    }
    Ok(values)
}

/// Decodes one `pgoutput` message (protocol version 1).
pub fn parse_logical(mut data: Bytes) -> Result<Logical, DecodeError> {
    need(&data, 1, "pgoutput message")?;
    let tag = data.get_u8();
    match tag {
        b'B' => {
            need(&data, 20, "begin")?;
            let final_lsn = data.get_u64();
            let commit_time = postgres_micros_to_unix_millis(data.get_i64());
            Ok(Logical::Begin { final_lsn, commit_time })
        }
        b'C' => {
            need(&data, 25, "commit")?;
            let _flags = data.get_u8();
            let commit_lsn = data.get_u64();
            let end_lsn = data.get_u64();
            Ok(Logical::Commit { commit_lsn, end_lsn })
        }
        b'R' => {
            need(&data, 4, "relation")?;
            let oid = data.get_u32();
            let namespace = string(&mut data)?;
            let name = string(&mut data)?;
            need(&data, 3, "relation")?;
            let _replica_identity = data.get_u8();
            let count = data.get_u16();
            let mut columns = Vec::with_capacity(count as usize);
            for _ in 0..count {
                need(&data, 1, "relation column")?;
                let flags = data.get_u8();
                let name = string(&mut data)?;
                need(&data, 8, "relation column")?;
                let type_oid = data.get_u32();
                let _modifier = data.get_i32();
                columns.push(RelationColumn { key: flags & 1 == 1, name, type_oid });
            }
            Ok(Logical::Relation(Relation { oid, namespace, name, columns }))
        }
        b'I' => {
            need(&data, 5, "insert")?;
            let relation = data.get_u32();
            match data.get_u8() {
                b'N' => Ok(Logical::Insert { relation, new: tuple(&mut data)? }),
                other => Err(format!("insert: unexpected `{}`", other as char)),
            }
        }
        b'U' => {
            need(&data, 5, "update")?;
            let relation = data.get_u32();
            let mut old = None;
            let mut kind = data.get_u8();
            if kind == b'K' || kind == b'O' {
                old = Some((kind == b'O', tuple(&mut data)?));
                need(&data, 1, "update")?;
                kind = data.get_u8();
            }
            match kind {
                b'N' => Ok(Logical::Update { relation, old, new: tuple(&mut data)? }),
                other => Err(format!("update: unexpected `{}`", other as char)),
            }
        }
        b'D' => {
            need(&data, 5, "delete")?;
            let relation = data.get_u32();
            let kind = data.get_u8();
            match kind {
                b'K' | b'O' => Ok(Logical::Delete { relation, old: (kind == b'O', tuple(&mut data)?) }),
                other => Err(format!("delete: unexpected `{}`", other as char)),
            }
        }
        b'T' => {
            need(&data, 5, "truncate")?;
            let count = data.get_u32();
            let _options = data.get_u8();
            need(&data, 4 * count as usize, "truncate")?;
            Ok(Logical::Truncate { relations: (0..count).map(|_| data.get_u32()).collect() })
        }
        b'M' => {
            need(&data, 9, "message")?;
            let _flags = data.get_u8();
            let _lsn = data.get_u64();
            Ok(Logical::Message { prefix: string(&mut data)? })
        }
        b'Y' | b'O' | b'S' | b'E' | b'c' | b'A' | b'P' | b'K' | b'r' | b'p' => Ok(Logical::Other),
        other => Err(format!("unknown pgoutput message `{}`", other as char)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put_string(buffer: &mut BytesMut, text: &str) {
        buffer.put_slice(text.as_bytes());
        buffer.put_u8(0);
    }

    #[test]
    fn lsns_print_and_parse_as_postgres_does() {
        assert_eq!(format_lsn(0x16_B374_D848), "16/B374D848");
        assert_eq!(parse_lsn("16/B374D848"), Some(0x16_B374_D848));
        assert_eq!(parse_lsn("0/0"), Some(0));
        assert_eq!(parse_lsn("nonsense"), None);
    }

    #[test]
    fn xlogdata_and_keepalives_decode() {
        let mut message = BytesMut::new();
        message.put_u8(b'w');
        message.put_u64(100);
        message.put_u64(200);
        message.put_i64(0);
        message.put_slice(b"payload");
        assert_eq!(
            parse_server_message(message.freeze()).unwrap(),
            ServerMessage::XLogData { start: 100, end: 200, data: Bytes::from_static(b"payload") }
        );
        let mut keepalive = BytesMut::new();
        keepalive.put_u8(b'k');
        keepalive.put_u64(300);
        keepalive.put_i64(0);
        keepalive.put_u8(1);
        assert_eq!(
            parse_server_message(keepalive.freeze()).unwrap(),
            ServerMessage::Keepalive { end: 300, reply_requested: true }
        );
        assert!(parse_server_message(Bytes::from_static(b"w\x00")).unwrap_err().contains("truncated"));
        let status = standby_status_update(0x5678, Some(0x1234), 946_684_800_000);
        assert_eq!((status[0], status.len()), (b'r', 34));
        assert_eq!(&status[1..9], &0x5678u64.to_be_bytes());
        assert_eq!(&status[9..17], &0x1234u64.to_be_bytes());
        let written_only = standby_status_update(0x5678, None, 946_684_800_000);
        assert_eq!(&written_only[9..25], &[0u8; 16], "no flush position: the slot stays");
        assert_eq!(&status[25..33], &0i64.to_be_bytes(), "the Unix time of PostgreSQL's epoch is 0 there");
    }

    #[test]
    fn pgoutput_messages_decode() {
        let mut begin = BytesMut::new();
        begin.put_u8(b'B');
        begin.put_u64(0xABC);
        begin.put_i64(1_000_000); // one second after 2000-01-01
        begin.put_u32(7);
        assert_eq!(
            parse_logical(begin.freeze()).unwrap(),
            Logical::Begin { final_lsn: 0xABC, commit_time: 946_684_801_000 }
        );
        let mut relation = BytesMut::new();
        relation.put_u8(b'R');
        relation.put_u32(16_384);
        put_string(&mut relation, "public");
        put_string(&mut relation, "orders");
        relation.put_u8(b'd');
        relation.put_u16(2);
        relation.put_u8(1);
        put_string(&mut relation, "id");
        relation.put_u32(20);
        relation.put_i32(-1);
        relation.put_u8(0);
        put_string(&mut relation, "note");
        relation.put_u32(25);
        relation.put_i32(-1);
        let Logical::Relation(decoded) = parse_logical(relation.freeze()).unwrap() else {
            panic!("a relation")
        };
        assert_eq!((decoded.namespace.as_str(), decoded.name.as_str()), ("public", "orders"));
        assert_eq!(
            decoded.columns,
            vec![
                RelationColumn { key: true, name: "id".into(), type_oid: 20 },
                RelationColumn { key: false, name: "note".into(), type_oid: 25 },
            ]
        );
        let mut update = BytesMut::new();
        update.put_u8(b'U');
        update.put_u32(16_384);
        update.put_u8(b'K');
        update.put_u16(2);
        update.put_u8(b't');
        update.put_u32(1);
        update.put_slice(b"1");
        update.put_u8(b'n');
        update.put_u8(b'N');
        update.put_u16(2);
        update.put_u8(b't');
        update.put_u32(1);
        update.put_slice(b"2");
        update.put_u8(b'u');
        assert_eq!(
            parse_logical(update.freeze()).unwrap(),
            Logical::Update {
                relation: 16_384,
                old: Some((false, vec![TupleValue::Text("1".into()), TupleValue::Null])),
                new: vec![TupleValue::Text("2".into()), TupleValue::Unchanged],
            }
        );
        let mut commit = BytesMut::new();
        commit.put_u8(b'C');
        commit.put_u8(0);
        commit.put_u64(0xABC);
        commit.put_u64(0xAF0);
        commit.put_i64(0);
        assert_eq!(
            parse_logical(commit.freeze()).unwrap(),
            Logical::Commit { commit_lsn: 0xABC, end_lsn: 0xAF0 }
        );
        assert!(parse_logical(Bytes::from_static(b"Z")).unwrap_err().contains("unknown pgoutput message"));
    }
}
