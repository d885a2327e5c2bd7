//! What the repository holds, as the checkers compare commands with it: the Markdown
//! files, the workspace's packages and version, xtask's tasks.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::support::root;

/// The Markdown files whose blocks are checked.
pub(super) fn markdown_files() -> Vec<String> {
    let mut files = vec!["README.md".to_owned(), "CONTRIBUTING.md".to_owned()];
    let mut docs: Vec<String> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".md"))
        .map(|name| format!("docs/{name}"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

pub(super) fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The workspace's packages, as the checkers of cargo commands need them.
#[derive(Debug)]
pub(super) struct Package {
    pub(super) name: String,
    pub(super) dir: PathBuf,
    pub(super) bins: Vec<String>,
    pub(super) tests: Vec<String>,
}

pub(super) fn packages() -> Vec<Package> {
    let mut dirs = Vec::new();
    for member in ["crates", "examples"] {
        for entry in std::fs::read_dir(root().join(member)).unwrap() {
            dirs.push(entry.unwrap().path());
        }
    }
    dirs.extend(["xtask", "tests", "benches"].map(|d| root().join(d)));
    dirs.into_iter()
        .filter(|dir| dir.join("Cargo.toml").is_file())
        .map(|dir| {
            let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
            let values = |section: &str| -> Vec<String> {
                manifest
                    .split(section)
                    .skip(1)
                    .filter_map(|s| {
                        let name = s.lines().find_map(|l| l.trim().strip_prefix("name = \""))?;
                        Some(name.trim_end_matches('"').to_owned())
                    })
                    .collect()
            };
            let name = values("[package]").remove(0);
            let mut bins = values("[[bin]]");
            if dir.join("src/main.rs").is_file() {
                bins.push(name.clone());
            }
            let mut tests = values("[[test]]");
            if let Ok(entries) = std::fs::read_dir(dir.join("tests")) {
                for entry in entries {
                    let path = entry.unwrap().path();
                    if path.extension().is_some_and(|e| e == "rs") {
                        tests.push(path.file_stem().unwrap().to_string_lossy().into_owned());
                    }
                }
            }
            Package {
                name,
                dir,
                bins,
                tests,
            }
        })
        .collect()
}

/// The workspace version, which every image tag and the Python package carry.
pub(super) fn workspace_version() -> String {
    read("Cargo.toml")
        .split("[workspace.package]")
        .nth(1)
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("version = \"")))
        .map(|v| v.trim_end_matches('"').to_owned())
        .expect("a workspace version")
}

/// The tasks `xtask/src/main.rs` dispatches on (`Some("demo") => ...`).
pub(super) fn xtask_tasks() -> BTreeSet<String> {
    read("xtask/src/main.rs")
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Some(\""))
        .filter_map(|l| l.split_once("\") =>").map(|(task, _)| task.to_owned()))
        .collect()
}

/// A string constant of a Rust file (`const NAME: &str =\n    "...";`), unescaped.
pub(super) fn rust_str_const(path: &str, name: &str) -> String {
    let text = read(path);
    let after = text
        .split(&format!("const {name}: &str ="))
        .nth(1)
        .unwrap_or_else(|| panic!("no {name} in {path}"));
    let literal = after.trim_start().strip_prefix('"').unwrap();
    let mut out = String::new();
    let mut chars = literal.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next().unwrap()),
            '"' => return out,
            c => out.push(c),
        }
    }
    panic!("{name} in {path} is not a plain string literal")
}

/// The files a glob-free or `*` pattern names, relative to the root (or `base`).
pub(super) fn existing(base: &Path, pattern: &str) -> Vec<PathBuf> {
    if !pattern.contains('*') {
        let path = base.join(pattern);
        return if path.exists() {
            vec![path]
        } else {
            Vec::new()
        };
    }
    let (dir, file) = pattern.rsplit_once('/').unwrap_or((".", pattern));
    let (prefix, suffix) = file.split_once('*').unwrap();
    assert!(
        !dir.contains('*'),
        "only the last part of {pattern} may hold a *"
    );
    let mut out: Vec<PathBuf> = std::fs::read_dir(base.join(dir))
        .map(|entries| {
            entries
                .map(|e| e.unwrap().path())
                .filter(|p| {
                    let name = p.file_name().unwrap().to_string_lossy();
                    name.starts_with(prefix) && name.ends_with(suffix)
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Every Rust source of the test packages, concatenated.
pub(super) fn tests_source() -> String {
    let mut out = String::new();
    let mut stack = vec![root().join("tests")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push_str(&std::fs::read_to_string(path).unwrap());
            }
        }
    }
    out
}
