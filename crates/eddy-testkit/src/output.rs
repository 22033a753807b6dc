//! The committed output of a file sink: every file of its directory whose name does not start
//! with a dot (`.part-*.inprogress` and `.part-*.pending` files are staged, not committed).

use std::collections::BTreeMap;
use std::path::Path;

/// The committed lines of the file sink writing to `output`, each with how often it occurs (an
/// empty map when the directory does not exist yet).
pub fn committed(output: &Path) -> BTreeMap<String, usize> {
    let mut lines = BTreeMap::new();
    for line in committed_lines(output) {
        *lines.entry(line).or_insert(0) += 1;
    }
    lines
}

/// The committed lines of the file sink writing to `output`, sorted.
pub fn committed_sorted(output: &Path) -> Vec<String> {
    let mut lines = committed_lines(output);
    lines.sort();
    lines
}

/// The lines of every committed file of `output`, in directory order.
fn committed_lines(output: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(output).into_iter().flatten() {
        let entry = entry.unwrap();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        lines.extend(std::fs::read_to_string(entry.path()).unwrap().lines().map(str::to_owned));
    }
    lines
}

/// `actual` is exactly `expected`: nothing lost, nothing unexpected, nothing twice.
pub fn assert_same_lines(actual: &BTreeMap<String, usize>, expected: &BTreeMap<String, usize>) {
    let lost = expected.keys().filter(|line| !actual.contains_key(*line)).count();
    let unexpected = actual.keys().filter(|line| !expected.contains_key(*line)).count();
    let duplicated = actual.values().filter(|&&count| count > 1).count();
    assert_eq!((lost, unexpected, duplicated), (0, 0, 0), "lost, unexpected, duplicated lines");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_files_are_not_committed() {
        let dir = std::env::temp_dir().join(format!("eddy-testkit-output-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("part-0.jsonl"), "b\na\n").unwrap();
        std::fs::write(dir.join("part-1.jsonl"), "a\n").unwrap();
        std::fs::write(dir.join(".part-2.jsonl.pending"), "c\n").unwrap();
        let counted = committed(&dir);
        assert_eq!(counted, BTreeMap::from([("a".to_string(), 2), ("b".to_string(), 1)]));
        assert_eq!(committed_sorted(&dir), ["a", "a", "b"]);
        assert!(committed(&dir.join("missing")).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
