//! Unit tests of the renderer's helpers.

use super::*;
use crate::render::changelog::changelog;

fn row(values: &[i32]) -> Row {
    values.iter().map(|v| Datum::Int(*v)).collect()
}

#[test]
fn changelog_pairs_removals_and_additions_per_key() {
    let updates = vec![(row(&[1, 10]), -1), (row(&[1, 11]), 1), (row(&[2, 5]), 1), (row(&[3, 7]), -1)];
    let changes: Vec<String> = changelog(&updates, Some(&[0])).iter().map(|c| c.to_string()).collect();
    assert_eq!(changes, ["-U(1, 10)", "+U(1, 11)", "+I(2, 5)", "-D(3, 7)"]);
    let changes: Vec<String> = changelog(&updates, None).iter().map(|c| c.to_string()).collect();
    assert_eq!(changes, ["-D(1, 10)", "+I(1, 11)", "+I(2, 5)", "-D(3, 7)"]);
}
