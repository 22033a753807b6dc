//! Matching observed output against a case's checkpoints.
//!
//! A segment matches when it has the same length as the expected `emit`, every watermark is at
//! the same position, and between consecutive watermarks the records form the same multiset
//! (the stricter of the two rules in the format's README).

use std::fmt;

use crate::case::{Checkpoint, Entry};

/// One item of an output log: a record or a forwarded (Flink) watermark. Numbers are `i128`
/// so that every engine value (`u64`) and every case value (`i64`) fits.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Item {
    /// A record: key, value, event timestamp and, when compared, window bounds.
    Record {
        /// The key.
        key: String,
        /// The value.
        value: i128,
        /// The event timestamp.
        timestamp: i128,
        /// `(start, end)`, present only when the case compares window bounds.
        window: Option<(i128, i128)>,
    },
    /// A forwarded watermark (Flink semantics).
    Watermark(i128),
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Item::Record { key, value, timestamp, window } => {
                write!(f, "({key},{value})@{}", show_time(*timestamp))?;
                if let Some((start, end)) = window {
                    write!(f, "[{},{})", show_time(*start), show_time(*end))?;
                }
                Ok(())
            }
            Item::Watermark(w) => write!(f, "WM({})", show_time(*w)),
        }
    }
}

fn show_time(t: i128) -> String {
    if t == i128::from(i64::MAX) {
        "MAX".into()
    } else {
        t.to_string()
    }
}

/// Converts an expected entry; window bounds are kept only when `with_bounds`.
pub fn expected_item(entry: &Entry, with_bounds: bool) -> Item {
    match entry {
        Entry::Watermark(w) => Item::Watermark(i128::from(*w)),
        Entry::Record(record) => Item::Record {
            key: record.key.clone(),
            value: i128::from(record.value),
            timestamp: i128::from(record.timestamp),
            window: record
                .window
                .filter(|_| with_bounds)
                .map(|(start, end)| (i128::from(start), i128::from(end))),
        },
    }
}

/// Puts a segment in canonical order: records sorted between consecutive watermarks.
pub fn normalize(mut items: Vec<Item>) -> Vec<Item> {
    for run in items.split_mut(|item| matches!(item, Item::Watermark(_))) {
        run.sort();
    }
    items
}

/// Formats a segment compactly.
pub fn show(items: &[Item]) -> String {
    let parts: Vec<String> = items.iter().map(Item::to_string).collect();
    format!("[{}]", parts.join(", "))
}

/// The observed log: items tagged with the index of the step that produced them.
#[derive(Debug, Default)]
pub struct Log {
    items: Vec<(usize, Item)>,
}

impl Log {
    /// Appends an item produced by step `step`.
    pub fn push(&mut self, step: usize, item: Item) {
        self.items.push((step, item));
    }

    /// The items produced by one step, formatted.
    pub fn show_step(&self, step: usize) -> String {
        let items: Vec<Item> =
            self.items.iter().filter(|(s, _)| *s == step).map(|(_, item)| item.clone()).collect();
        show(&items)
    }

    /// Checks the log against checkpoints; `what` names the output ("output", "late output").
    /// Returns the first mismatch as a message.
    pub fn check(&self, what: &str, checkpoints: &[Checkpoint], with_bounds: bool) -> Result<(), String> {
        let mut from_step = 0;
        for (index, checkpoint) in checkpoints.iter().enumerate() {
            let got: Vec<Item> = self
                .items
                .iter()
                .filter(|(step, _)| (from_step..=checkpoint.after_step).contains(step))
                .map(|(_, item)| item.clone())
                .collect();
            let expected: Vec<Item> =
                checkpoint.emit.iter().map(|entry| expected_item(entry, with_bounds)).collect();
            let (got, expected) = (normalize(got), normalize(expected));
            if got != expected {
                return Err(format!(
                    "{what} at after_step {} (checkpoint {} of {}, steps {}..={}): expected {} \
                     got {}",
                    checkpoint.after_step,
                    index + 1,
                    checkpoints.len(),
                    from_step,
                    checkpoint.after_step,
                    show(&expected),
                    show(&got)
                ));
            }
            from_step = checkpoint.after_step + 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: &str, value: i128) -> Item {
        Item::Record { key: key.into(), value, timestamp: 1, window: None }
    }

    #[test]
    fn records_sort_only_between_watermarks() {
        let items = vec![record("b", 1), record("a", 2), Item::Watermark(5), record("a", 0)];
        assert_eq!(
            normalize(items),
            vec![record("a", 2), record("b", 1), Item::Watermark(5), record("a", 0)]
        );
        assert_ne!(
            normalize(vec![record("a", 1), Item::Watermark(5)]),
            normalize(vec![Item::Watermark(5), record("a", 1)])
        );
    }

    #[test]
    fn show_is_compact() {
        let item = Item::Record { key: "k".into(), value: 3, timestamp: 2999, window: Some((0, 3000)) };
        assert_eq!(show(&[item, Item::Watermark(i128::from(i64::MAX))]), "[(k,3)@2999[0,3000), WM(MAX)]");
    }
}
