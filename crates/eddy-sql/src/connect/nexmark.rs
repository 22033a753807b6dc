//! Rows of Nexmark events for `'connector' = 'nexmark'` tables. A table's columns are matched
//! with the event's fields by name once, when the source is built ([`NexmarkLayout`]), so an
//! event becomes a row by reading just the fields the table declares, converted only where a
//! column's type differs from the field's.

use eddy_nexmark::Event;

use crate::cast::cast;
use crate::connect::format::FormatError;
use crate::connect::options::NexmarkTable;
use crate::datum::{Datum, Row};
use crate::plan::Column;
use crate::types::SqlType;

/// The fields of each table, as the Nexmark models spell them (lower case, no underscores).
const PERSON: [&str; 8] = ["id", "name", "emailaddress", "creditcard", "city", "state", "datetime", "extra"];
const AUCTION: [&str; 10] = [
    "id",
    "itemname",
    "description",
    "initialbid",
    "reserve",
    "datetime",
    "expires",
    "seller",
    "category",
    "extra",
];
const BID: [&str; 7] = ["auction", "bidder", "price", "channel", "url", "datetime", "extra"];

fn fields(kind: NexmarkTable) -> &'static [&'static str] {
    match kind {
        NexmarkTable::Person => &PERSON,
        NexmarkTable::Auction => &AUCTION,
        NexmarkTable::Bid => &BID,
    }
}

/// The type of a field: times are `TIMESTAMP(3)`, numbers `BIGINT`, the rest strings.
fn field_type(name: &str) -> SqlType {
    match name {
        "datetime" | "expires" => SqlType::Timestamp { precision: 3 },
        "id" | "initialbid" | "reserve" | "seller" | "category" | "auction" | "bidder" | "price" => {
            SqlType::BigInt
        }
        _ => SqlType::STRING,
    }
}

/// A column name as the Nexmark models spell fields: lower case without underscores, so
/// `dateTime`, `date_time` and `DATETIME` all name `date_time`.
pub(crate) fn normalized(name: &str) -> String {
    name.chars().filter(|c| *c != '_').flat_map(char::to_lowercase).collect()
}

/// A table's columns resolved against the fields of its Nexmark event kind.
pub(crate) struct NexmarkLayout {
    table: String,
    kind: NexmarkTable,
    /// Per column: the field it reads, the field's type, and the column.
    columns: Vec<(usize, SqlType, Column)>,
}

impl NexmarkLayout {
    /// Matches `columns` with the fields of `kind` by name; a column no field has is an error
    /// naming the fields there are.
    pub(crate) fn new(
        table: &str,
        columns: &[Column],
        kind: NexmarkTable,
    ) -> Result<NexmarkLayout, FormatError> {
        let names = fields(kind);
        let columns = columns
            .iter()
            .map(|column| {
                let wanted = normalized(&column.name);
                let index =
                    names.iter().position(|name| *name == wanted).ok_or_else(|| FormatError::Value {
                        table: table.into(),
                        column: column.name.clone(),
                        ty: column.ty,
                        reason: format!(
                            "the Nexmark {kind:?} has no such field; it has {}",
                            names.join(", ")
                        ),
                    })?;
                Ok((index, field_type(names[index]), column.clone()))
            })
            .collect::<Result<Vec<_>, FormatError>>()?;
        Ok(NexmarkLayout { table: table.into(), kind, columns })
    }

    /// The row of `event`, or `None` for an event of another kind.
    pub(crate) fn row(&self, event: &Event) -> Result<Option<Row>, FormatError> {
        let number = |v: u64| Datum::BigInt(v as i64);
        let time = |v: u64| Datum::Timestamp(v as i64);
        let text = |v: &str| Datum::String(v.to_owned());
        let field = |index: usize| -> Option<Datum> {
            Some(match (self.kind, event) {
                (NexmarkTable::Person, Event::Person(p)) => match index {
                    0 => number(p.id),
                    1 => text(&p.name),
                    2 => text(&p.email_address),
                    3 => text(&p.credit_card),
                    4 => text(&p.city),
                    5 => text(&p.state),
                    6 => time(p.date_time),
                    _ => text(&p.extra),
                },
                (NexmarkTable::Auction, Event::Auction(a)) => match index {
                    0 => number(a.id),
                    1 => text(&a.item_name),
                    2 => text(&a.description),
                    3 => number(a.initial_bid),
                    4 => number(a.reserve),
                    5 => time(a.date_time),
                    6 => time(a.expires),
                    7 => number(a.seller),
                    8 => number(a.category),
                    _ => text(&a.extra),
                },
                (NexmarkTable::Bid, Event::Bid(b)) => match index {
                    0 => number(b.auction),
                    1 => number(b.bidder),
                    2 => number(b.price),
                    3 => text(&b.channel),
                    4 => text(&b.url),
                    5 => time(b.date_time),
                    _ => text(&b.extra),
                },
                _ => return None,
            })
        };
        let kind_matches = matches!(
            (self.kind, event),
            (NexmarkTable::Person, Event::Person(_))
                | (NexmarkTable::Auction, Event::Auction(_))
                | (NexmarkTable::Bid, Event::Bid(_))
        );
        if !kind_matches {
            return Ok(None);
        }
        let mut values = Vec::with_capacity(self.columns.len());
        for (index, from, column) in &self.columns {
            let value = field(*index).unwrap_or(Datum::Null);
            if *from == column.ty {
                values.push(value);
                continue;
            }
            values.push(cast(&value, *from, column.ty).map_err(|error| FormatError::Value {
                table: self.table.clone(),
                column: column.name.clone(),
                ty: column.ty,
                reason: error.to_string(),
            })?);
        }
        Ok(Some(Row::new(values)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_nexmark::{NexmarkConfig, NexmarkGenerator};

    #[test]
    fn nexmark_rows_map_columns_by_name_in_any_spelling() {
        let generator = NexmarkGenerator::new(NexmarkConfig::default());
        let bid = (0..100).map(|n| generator.event(n)).find(|e| matches!(e, Event::Bid(_))).expect("a bid");
        let columns = vec![
            Column::new("dateTime", SqlType::Timestamp { precision: 3 }),
            Column::new("price", SqlType::decimal(20, 2).unwrap()),
            Column::new("AUCTION", SqlType::BigInt),
            Column::new("extra", SqlType::STRING),
        ];
        let layout = NexmarkLayout::new("bid", &columns, NexmarkTable::Bid).unwrap();
        let row = layout.row(&bid).unwrap().unwrap();
        let Event::Bid(b) = &bid else { unreachable!() };
        assert_eq!(row.get(0), Some(&Datum::Timestamp(b.date_time as i64)));
        assert_eq!(
            row.get(1),
            Some(&cast(&Datum::BigInt(b.price as i64), SqlType::BigInt, columns[1].ty).unwrap())
        );
        assert_eq!(row.get(2), Some(&Datum::BigInt(b.auction as i64)));
        assert_eq!(row.get(3), Some(&Datum::String(b.extra.clone())));
        let person = NexmarkLayout::new("person", &columns[2..3], NexmarkTable::Person);
        assert!(person.is_err(), "a person has no auction");
        let people = NexmarkLayout::new("person", &columns[..1], NexmarkTable::Person).unwrap();
        assert_eq!(people.row(&bid), Ok(None));
        let bad = vec![Column::new("bidder_name", SqlType::STRING)];
        let error = NexmarkLayout::new("bid", &bad, NexmarkTable::Bid).err().expect("no such field");
        assert!(error.to_string().contains("no such field"), "{error}");
    }
}
