//! Tidy checks over the workspace's source, as rust-analyzer's `tidy.rs` does: no import circle
//! between the modules (files) of any crate, and no file over 800 lines of non-test code.
//!
//! A module may use its ancestors (a parent's `mod.rs` names and re-exports its children); any
//! other pair of modules that use each other, directly or through others, is a circle, and a
//! circle is where layers stop being layers. Paths in comments do not count.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The most non-test lines a source file may have.
const MAX_LINES: usize = 800;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// Every crate's `src` directory.
fn source_roots() -> Vec<PathBuf> {
    let root = workspace();
    let mut roots = Vec::new();
    for parent in [root.join("crates"), root.clone()] {
        let Ok(entries) = std::fs::read_dir(&parent) else { continue };
        for entry in entries.flatten() {
            let src = entry.path().join("src");
            if entry.path().join("Cargo.toml").exists() && src.join("lib.rs").exists() {
                roots.push(src);
            }
        }
    }
    roots.sort();
    roots
}

fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().map(|entry| entry.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
}

/// The module path of a file under `src` (`checkpoint/mod.rs` -> `checkpoint`).
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = relative.iter().map(|part| part.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts.join("::")
}

/// The code of a file without its test module and without comments.
fn code_of(text: &str) -> String {
    let mut code = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") {
            break;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        let line = match line.find(" //") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        };
        code.push_str(line);
        code.push('\n');
    }
    code
}

/// Expands a use tree such as `a::{b, c::{d, e}}` into full paths.
fn expand(prefix: &str, tree: &str, paths: &mut Vec<String>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let head = tree[..open].trim().trim_end_matches("::");
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let prefix = join(prefix, head);
        let mut depth = 0;
        let mut start = 0;
        for (at, character) in inner.char_indices() {
            match character {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&prefix, &inner[start..at], paths);
                    start = at + 1;
                }
                _ => {}
            }
        }
        expand(&prefix, &inner[start..], paths);
        return;
    }
    let path = tree.split(" as ").next().unwrap_or("").trim();
    if !path.is_empty() {
        paths.push(join(prefix, path));
    }
}

fn join(prefix: &str, path: &str) -> String {
    match (prefix.is_empty(), path.is_empty()) {
        (true, _) => path.to_owned(),
        (_, true) => prefix.to_owned(),
        _ => format!("{prefix}::{path}"),
    }
}

/// Every path the code names that starts at `crate`, `super` or `self`.
fn paths_named(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut statement: Option<String> = None;
    for line in code.lines() {
        let trimmed = line.trim_start();
        if statement.is_none() {
            let body = ["use ", "pub use ", "pub(crate) use ", "pub(super) use "]
                .iter()
                .find_map(|start| trimmed.strip_prefix(start));
            statement = body.map(str::to_owned);
        } else if let Some(text) = statement.as_mut() {
            text.push_str(trimmed);
        }
        if let Some(text) = statement.take_if(|text| text.contains(';')) {
            expand("", &text[..text.find(';').unwrap_or(text.len())], &mut paths);
        }
    }
    let bytes = code.as_bytes();
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(found) = code[from..].find(start) {
            let at = from + found;
            from = at + start.len();
            if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_') {
                continue;
            }
            let end = code[at..]
                .find(|character: char| {
                    !(character.is_alphanumeric() || character == '_' || character == ':')
                })
                .map_or(code.len(), |end| at + end);
            paths.push(code[at..end].trim_end_matches(':').to_owned());
        }
    }
    paths
}

/// Resolves a named path to the module (file) that defines its first items.
fn resolve(module: &str, path: &str, modules: &BTreeSet<String>) -> Option<String> {
    let mut segments: Vec<&str> = Vec::new();
    let mut parts = path.split("::").peekable();
    match parts.peek().copied() {
        Some("crate") => {
            parts.next();
        }
        Some("super" | "self") => {
            segments.extend(module.split("::").filter(|segment| !segment.is_empty()));
            // In `a/b.rs` (module `a::b`) `super` is `a`; in `a/mod.rs` (module `a`) it is the
            // crate root, and `self` is `a` itself.
            while let Some(&"super" | &"self") = parts.peek() {
                if parts.next() == Some("super") {
                    segments.pop();
                }
            }
        }
        _ => return None,
    }
    segments.extend(parts);
    (0..=segments.len())
        .rev()
        .map(|length| segments[..length].join("::"))
        .find(|candidate| modules.contains(candidate))
}

/// The import graph of one crate: module -> modules it uses (not counting its ancestors).
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|file| module_of(src, file)).collect();
    let mut edges = BTreeMap::new();
    for file in &files {
        let module = module_of(src, file);
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        let mut targets = BTreeSet::new();
        for path in paths_named(&code) {
            let Some(target) = resolve(&module, &path, &modules) else { continue };
            let ancestor = target.is_empty() || module.starts_with(&format!("{target}::"));
            if target != module && !ancestor {
                targets.insert(target);
            }
        }
        edges.insert(module, targets);
    }
    edges
}

/// The strongly connected components with more than one module (Tarjan).
fn circles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Search<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(search: &mut Search<'a>, node: &'a str) {
        let next = search.index.len();
        search.index.insert(node, next);
        search.low.insert(node, next);
        search.stack.push(node);
        for target in search.edges.get(node).into_iter().flatten() {
            let target = target.as_str();
            if !search.index.contains_key(target) {
                visit(search, target);
                let low = search.low[node].min(search.low[target]);
                search.low.insert(node, low);
            } else if search.stack.contains(&target) {
                let low = search.low[node].min(search.index[target]);
                search.low.insert(node, low);
            }
        }
        if search.low[node] == search.index[node] {
            let mut component = Vec::new();
            while let Some(member) = search.stack.pop() {
                component.push(member.to_owned());
                if member == node {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                search.found.push(component);
            }
        }
    }
    let mut search =
        Search { edges, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), found: Vec::new() };
    for node in edges.keys() {
        if !search.index.contains_key(node.as_str()) {
            visit(&mut search, node);
        }
    }
    search.found
}

#[test]
fn no_crate_has_an_import_circle() {
    let mut problems = Vec::new();
    for src in source_roots() {
        let edges = graph(&src);
        for circle in circles(&edges) {
            let uses: Vec<String> = circle
                .iter()
                .map(|module| {
                    let inside: Vec<&str> = edges[module]
                        .iter()
                        .filter(|target| circle.contains(target))
                        .map(String::as_str)
                        .collect();
                    format!("{module} -> {}", inside.join(", "))
                })
                .collect();
            problems.push(format!("{}: {}", src.display(), uses.join("; ")));
        }
    }
    assert!(
        problems.is_empty(),
        "import circles (move the shared type down to the module that owns it):\n{}",
        problems.join("\n")
    );
}

#[test]
fn no_file_is_over_800_lines_of_non_test_code() {
    let mut problems = Vec::new();
    for src in source_roots() {
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let lines =
                text.lines().take_while(|line| !line.trim_start().starts_with("#[cfg(test)]")).count();
            if lines > MAX_LINES {
                problems.push(format!("{}: {lines} lines", file.display()));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "files over {MAX_LINES} lines of non-test code (split them):\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_checker_finds_a_circle() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::write(src.join("lib.rs"), "mod a;\nmod b;\nmod c;\n").unwrap();
    std::fs::write(src.join("a.rs"), "use crate::b::{Thing, other::X};\n").unwrap();
    std::fs::write(src.join("b.rs"), "// crate::c::Comment does not count\npub fn f() { crate::a::g() }\n")
        .unwrap();
    std::fs::write(src.join("c.rs"), "use super::a;\n").unwrap();
    let edges = graph(src);
    assert_eq!(circles(&edges), [vec!["a".to_string(), "b".to_string()]]);
    assert!(edges["c"].contains("a"));
    assert!(!edges["b"].contains("c"), "comments are not imports");
}
