//! Debezium JSON change events, one case a file in `tests/debezium/`: the record's `key` and
//! `value` (a JSON value, or a string holding the raw bytes; `""` is a tombstone) and either
//! the `expected` event (`null` for records that carry no change) or an `error` substring.

use eddy_postgres::debezium::decode_debezium;
use serde_json::Value;

#[test]
fn the_corpus_decodes_as_expected() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/debezium");
    let mut paths: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|entry| entry.unwrap().path()).collect();
    paths.sort();
    assert!(paths.len() >= 10, "the corpus is in {}", dir.display());
    for path in paths {
        let case: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = |value: &Value| match value {
            Value::String(raw) => raw.clone().into_bytes(),
            other => serde_json::to_vec(other).unwrap(),
        };
        let key = (!case["key"].is_null()).then(|| bytes(&case["key"]));
        let result = decode_debezium(key.as_deref(), &bytes(&case["value"]));
        match case.get("error").and_then(Value::as_str) {
            Some(expected) => {
                let error = result.expect_err(&name);
                assert!(error.contains(expected), "{name}: {error}");
            }
            None => {
                let decoded = result.unwrap_or_else(|error| panic!("{name}: {error}"));
                assert_eq!(serde_json::to_value(&decoded).unwrap(), case["expected"], "{name}");
            }
        }
    }
}
