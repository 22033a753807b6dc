//! The Nexmark queries as Flink SQL (`crates/eddy-nexmark/sql/`), compiled into the crate so
//! that the benchmark harness and the conformance runner read the same text `eddy sql -f` runs.
//!
//! [`DDL`] declares the generator's tables (eddy's `nexmark` connector); each query file
//! declares its sink table and holds one `INSERT INTO` (q13 also declares its side input).

/// The shared DDL: the `person`, `auction` and `bid` tables over the generator.
pub const DDL: &str = include_str!("../sql/ddl.sql");

/// The option of a `nexmark` table that bounds its input (`events.num`).
pub const EVENTS_OPTION: &str = "'events.num'";

/// Every query file: (name, text), q0 to q22.
pub const QUERIES: &[(&str, &str)] = &[
    ("q0", include_str!("../sql/q0.sql")),
    ("q1", include_str!("../sql/q1.sql")),
    ("q2", include_str!("../sql/q2.sql")),
    ("q3", include_str!("../sql/q3.sql")),
    ("q4", include_str!("../sql/q4.sql")),
    ("q5", include_str!("../sql/q5.sql")),
    ("q6", include_str!("../sql/q6.sql")),
    ("q7", include_str!("../sql/q7.sql")),
    ("q8", include_str!("../sql/q8.sql")),
    ("q9", include_str!("../sql/q9.sql")),
    ("q10", include_str!("../sql/q10.sql")),
    ("q11", include_str!("../sql/q11.sql")),
    ("q12", include_str!("../sql/q12.sql")),
    ("q13", include_str!("../sql/q13.sql")),
    ("q14", include_str!("../sql/q14.sql")),
    ("q15", include_str!("../sql/q15.sql")),
    ("q16", include_str!("../sql/q16.sql")),
    ("q17", include_str!("../sql/q17.sql")),
    ("q18", include_str!("../sql/q18.sql")),
    ("q19", include_str!("../sql/q19.sql")),
    ("q20", include_str!("../sql/q20.sql")),
    ("q21", include_str!("../sql/q21.sql")),
    ("q22", include_str!("../sql/q22.sql")),
];

/// The SQL file of query `name`, if there is one.
pub fn query(name: &str) -> Option<&'static str> {
    QUERIES.iter().find(|(query, _)| *query == name).map(|(_, text)| *text)
}

/// `script` with every `nexmark` table bounded to `events` generator events (the value of
/// each `'events.num' = '...'` option replaced).
pub fn with_events(script: &str, events: u64) -> String {
    let mut out = String::with_capacity(script.len());
    let mut rest = script;
    while let Some(at) = rest.find(EVENTS_OPTION) {
        let (before, after) = rest.split_at(at + EVENTS_OPTION.len());
        out.push_str(before);
        // `after` is ` = '<n>'...`: keep up to the value's opening quote, skip the old value.
        let open = after.find('\'').map_or(after.len(), |i| i + 1);
        out.push_str(&after[..open]);
        out.push_str(&events.to_string());
        let value = &after[open..];
        rest = &value[value.find('\'').unwrap_or(value.len())..];
    }
    out.push_str(rest);
    out
}

/// The whole script of query `name` ([`DDL`], then the query file, every table bounded to
/// `events`), as `eddy sql -f` runs `ddl.sql` followed by `qN.sql` from the repository's root;
/// a file the script reads beside the SQL files (q13's side input) is named by its absolute
/// path, so the script runs from any directory.
pub fn script(name: &str, events: u64) -> Option<String> {
    let here = concat!(env!("CARGO_MANIFEST_DIR"), "/sql/");
    query(name).map(|text| {
        with_events(&format!("{DDL}\n{text}"), events)
            .replace("'crates/eddy-nexmark/sql/", &format!("'{here}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_query_has_a_file_and_the_ddl_bounds_every_table() {
        for name in crate::queries::QUERIES {
            assert!(query(name).is_some_and(|text| text.contains("INSERT INTO")), "{name}");
        }
        let ddl = with_events(DDL, 20_000);
        assert_eq!(ddl.matches("'events.num' = '20000'").count(), 3, "{ddl}");
        assert_eq!(ddl.len(), DDL.len() - 3 * "100000".len() + 3 * "20000".len());
        assert!(script("q5", 7).is_some_and(|s| s.contains("'events.num' = '7'") && s.contains("HOP(")));
        assert_eq!(script("q99", 7), None);
        // The SQL tables generate the events the DataStream queries read.
        let seed = format!("'seed' = '{}'", crate::DEFAULT_SEED);
        assert_eq!(DDL.matches(&seed).count(), 3, "{DDL}");
    }
}
