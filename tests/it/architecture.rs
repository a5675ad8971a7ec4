//! The shape of the house, read from the sources: which top-level module may use which (the
//! code map of ARCHITECTURE.md), that the web layer never reaches the store, and that no source
//! file outside tests grows past 600 lines. A move that breaks a rule fails here, not in review.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Each top-level module of `src/` and the modules it may name (`crate::x`). `main.rs`,
/// `lib.rs`, `cli/` and `bench/` sit on top and may use everything; test files (`tests.rs`,
/// `proptests.rs`) may take fixtures from anywhere (the entity generator of `seed`).
const MAY_USE: &[(&str, &[&str])] = &[
    ("model", &[]),
    ("rules", &["model"]),
    ("import", &["model"]),
    ("store", &["model"]),
    ("portrait", &["model", "rules"]),
    ("seed", &["model", "rules", "portrait"]),
    ("auth", &["model", "store"]),
    ("service", &["model", "rules", "portrait", "store", "auth", "import", "seed"]),
    ("jobs", &["model", "service", "auth"]),
    ("http", &["model", "rules", "import", "service", "auth"]),
];

/// How many lines a source file may have, its test module and test files excepted.
const MAX_LINES: usize = 600;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`src/service/cases.rs` → `service`,
/// `src/bench.rs` → `bench`).
fn module_of(file: &Path) -> String {
    let rel = file.strip_prefix(src()).unwrap();
    let first = rel.components().next().unwrap().as_os_str().to_string_lossy().to_string();
    first.trim_end_matches(".rs").to_string()
}

/// Every top-level module a source names through `crate::`, also inside `use crate::{a::…, b}`.
fn crate_modules(text: &str) -> BTreeSet<String> {
    let ident = |s: &str| s.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>();
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            let mut depth = 0usize;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if c.is_whitespace() => {}
                    _ if item_start && depth == 0 => {
                        let name = ident(&group[i..]);
                        if !name.is_empty() {
                            out.insert(name);
                        }
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            let name = ident(after);
            if !name.is_empty() {
                out.insert(name);
            }
        }
        rest = after;
    }
    out
}

#[test]
fn modules_use_only_the_layers_below_them() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let known: Vec<&str> = MAY_USE.iter().map(|(m, _)| *m).collect();
    let mut wrong = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy();
        if name == "tests.rs" || name == "proptests.rs" {
            continue;
        }
        let module = module_of(file);
        let Some((_, allowed)) = MAY_USE.iter().find(|(m, _)| *m == module) else { continue };
        let text = std::fs::read_to_string(file).unwrap();
        for used in crate_modules(&text) {
            let layer = known.contains(&used.as_str()) || ["cli", "bench"].contains(&used.as_str());
            if layer && used != module && !allowed.contains(&used.as_str()) {
                wrong.push(format!("{} uses crate::{used}", file.strip_prefix(src()).unwrap().display()));
            }
        }
    }
    assert!(wrong.is_empty(), "arrows against the layering of ARCHITECTURE.md: {wrong:#?}");
}

#[test]
fn the_web_layer_never_reaches_the_store() {
    let mut files = Vec::new();
    rust_files(&src().join("http"), &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.contains("crate::store") || line.contains(".store.") || line.contains(".store)") {
                wrong.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(wrong.is_empty(), "src/http goes to the store past the service: {wrong:#?}");
}

#[test]
fn the_rules_language_does_not_know_the_engine() {
    let mut files = Vec::new();
    rust_files(&src().join("rules"), &mut files);
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(!text.contains("use crate::portrait"), "{} uses the columnar engine", file.display());
        assert!(!crate_modules(&text).contains("portrait"), "{} names the columnar engine", file.display());
    }
}

#[test]
fn no_source_file_outside_tests_is_longer_than_600_lines() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut long = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy();
        if name == "tests.rs" || name == "proptests.rs" || file.components().any(|c| c.as_os_str() == "tests") {
            continue;
        }
        // Lines up to a file's own test module (`#[cfg(test)]` at the start of a line).
        let text = std::fs::read_to_string(file).unwrap();
        let lines = text.lines().take_while(|l| !l.starts_with("#[cfg(test)]")).count();
        if lines > MAX_LINES {
            long.push(format!("{} ({lines} lines)", file.strip_prefix(src()).unwrap().display()));
        }
    }
    assert!(long.is_empty(), "split these by job (at most {MAX_LINES} lines): {long:#?}");
}

#[test]
fn the_reader_of_imports_finds_grouped_and_plain_paths() {
    let found =
        crate_modules("use crate::model::{A, B};\nuse crate::{store::{X, Y}, rules::Z};\nlet a = crate::auth::f();");
    assert_eq!(found, ["auth", "model", "rules", "store"].iter().map(|s| s.to_string()).collect());
}
