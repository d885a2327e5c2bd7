//! Repository rules, checked by `cargo test`.

use std::fs;

use crate::project_root;

fn crates() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(project_root().join("crates"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn read(path: &str) -> String {
    fs::read_to_string(project_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn every_crate_has_an_architecture_section() {
    let doc = read("ARCHITECTURE.md");
    for name in crates() {
        assert!(
            doc.contains(&format!("### `{name}`")),
            "ARCHITECTURE.md has no `### `{name}`` section"
        );
    }
}

#[test]
fn the_orchestrator_names_no_redis() {
    let manifest = read("crates/rqs-orchestrator/Cargo.toml");
    let deps = manifest.split("[dev-dependencies]").next().unwrap();
    for line in deps.lines().filter(|l| !l.trim_start().starts_with('#')) {
        assert!(
            !line.contains("redis"),
            "rqs-orchestrator depends on a Redis crate: {line}"
        );
    }
    for path in rust_files(&project_root().join("crates/rqs-orchestrator/src")) {
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("redis::"),
            "{} names a Redis type",
            path.display()
        );
    }
}

/// Every `.rs` file under `dir`, its subfolders included.
fn rust_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The scheduler stays split by concern (configuration, lease, pass, fast-lane
/// pipelining, outages, the loop itself), each file small enough to read in one sitting.
#[test]
fn the_scheduler_is_split_by_concern() {
    let dir = project_root().join("crates/rqs-orchestrator/src/scheduler");
    for name in [
        "mod", "config", "lease", "pass", "fast", "outage", "state", "stats",
    ] {
        assert!(
            dir.join(format!("{name}.rs")).is_file(),
            "no scheduler/{name}.rs"
        );
    }
    for path in rust_files(&project_root().join("crates/rqs-orchestrator/src")) {
        let lines = fs::read_to_string(&path).unwrap().lines().count();
        assert!(
            lines <= 500,
            "{} has {lines} lines: split it by concern",
            path.display()
        );
    }
}

/// The trait crates and the orchestrator build without any Redis client, dev-dependencies
/// included (`cargo tree -p <crate>` lists none): a library user with another backend
/// never compiles one.
#[test]
fn trait_crates_and_the_orchestrator_need_no_redis() {
    for name in [
        "rqs-store",
        "rqs-sink",
        "rqs-lock",
        "rqs-lifecycle",
        "rqs-orchestrator",
    ] {
        let manifest = read(&format!("crates/{name}/Cargo.toml"));
        for line in manifest
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
        {
            assert!(!line.contains("redis"), "{name} depends on Redis: {line}");
        }
    }
}

#[test]
fn library_crates_do_not_use_anyhow() {
    for name in crates().into_iter().filter(|n| n != "rqs") {
        let manifest = read(&format!("crates/{name}/Cargo.toml"));
        let deps = manifest.split("[dev-dependencies]").next().unwrap();
        assert!(!deps.contains("anyhow"), "{name} depends on anyhow");
    }
}

#[test]
fn ci_runs_the_readme_test_command() {
    let readme = read("README.md");
    let ci = read(".ci/run");
    let command = "cargo xtask test";
    assert!(
        readme.contains(command),
        "README.md does not show `{command}`"
    );
    assert!(
        ci.lines()
            .any(|l| l.trim() == command || l.trim() == format!("exec {command}")),
        ".ci/run does not run `{command}`"
    );
}

#[test]
fn no_ignored_tests() {
    let mut stack = vec![project_root().join("crates"), project_root().join("tests")];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = fs::read_to_string(&path).unwrap();
                assert!(
                    !text.contains(concat!("#[", "ignore")),
                    "{} ignores a test",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn the_orchestrator_names_no_metrics_or_http_crate() {
    let manifest = read("crates/rqs-orchestrator/Cargo.toml");
    let deps = manifest.split("[dev-dependencies]").next().unwrap();
    for line in deps.lines().filter(|l| !l.trim_start().starts_with('#')) {
        for name in ["metrics", "prometheus", "axum", "hyper", "http"] {
            assert!(
                !line.contains(name),
                "rqs-orchestrator depends on {name}: {line} (hang it on the Observer seam)"
            );
        }
    }
}

/// The status page and the read commands go through these modules; none of them may call
/// a method that writes to the schedule.
#[test]
fn the_read_side_of_the_binary_never_writes() {
    for path in [
        "crates/rqs/src/inspect.rs",
        "crates/rqs/src/jobinfo.rs",
        "crates/rqs/src/page.rs",
        "crates/rqs/src/http.rs",
        "crates/rqs/src/commands/status.rs",
        "crates/rqs/src/commands/list.rs",
        "crates/rqs/src/commands/show.rs",
        "crates/rqs/src/commands/check.rs",
    ] {
        let text = read(path);
        let code = text.split("#[cfg(test)]").next().unwrap();
        for call in [
            ".schedule(",
            ".cancel(",
            ".change_execution_time(",
            ".release(",
            ".commit(",
            ".enqueue(",
            ".register_",
            ".acquire(",
        ] {
            assert!(
                !code.contains(call),
                "{path} calls {call}: it must only read"
            );
        }
    }
}

fn workspace_version() -> String {
    let manifest = read("Cargo.toml");
    let package = manifest.split("[workspace.package]").nth(1).unwrap();
    let line = package
        .lines()
        .find(|l| l.starts_with("version = "))
        .expect("[workspace.package] has a version");
    line.trim_start_matches("version = ")
        .trim_matches('"')
        .to_owned()
}

/// Every crate under `crates/` is published with what crates.io shows; the other members
/// (tests, benchmarks, examples, xtask) are not published.
#[test]
fn crates_are_ready_for_crates_io_and_the_rest_is_not_published() {
    for name in crates() {
        let manifest = read(&format!("crates/{name}/Cargo.toml"));
        let package = manifest.split("\n[").next().unwrap();
        for field in [
            "description = ",
            "version.workspace = true",
            "license.workspace = true",
            "repository.workspace = true",
            "readme.workspace = true",
            "publish.workspace = true",
            "keywords = [",
            "categories = [",
        ] {
            assert!(
                package.lines().any(|l| l.starts_with(field)),
                "crates/{name}/Cargo.toml has no `{field}` in [package]"
            );
        }
    }
    let mut others = vec!["xtask".to_owned(), "tests".to_owned(), "benches".to_owned()];
    for entry in fs::read_dir(project_root().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.join("Cargo.toml").exists() {
            others.push(format!(
                "examples/{}",
                path.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    for member in others {
        let manifest = read(&format!("{member}/Cargo.toml"));
        assert!(
            manifest.lines().any(|l| l == "publish = false"),
            "{member}/Cargo.toml must say `publish = false`"
        );
    }
}

/// Published crates name each other at the one workspace version. rqs-testkit and
/// rqs-conformance have none: they may only be dev-dependencies of a published crate
/// (publishing drops those, which also breaks the cycle between the trait crates and the
/// suites that test them).
#[test]
fn workspace_crates_are_required_at_the_workspace_version() {
    let version = workspace_version();
    let manifest = read("Cargo.toml");
    let deps = manifest.split("[workspace.dependencies]").nth(1).unwrap();
    for line in deps.lines().filter(|l| l.contains("path = \"crates/")) {
        if line.starts_with("rqs-testkit ") || line.starts_with("rqs-conformance ") {
            assert!(!line.contains("version"), "{line}");
        } else {
            assert!(
                line.contains(&format!("version = \"{version}\"")),
                "not at the workspace version {version}: {line}"
            );
        }
    }
    for name in crates() {
        let manifest = read(&format!("crates/{name}/Cargo.toml"));
        let normal: String = manifest
            .split("\n[")
            .filter(|section| !section.starts_with("dev-dependencies]"))
            .collect();
        // rqs-testkit (itself test support) builds on the suites' `Probe`.
        let dev_only: &[&str] = if name == "rqs-testkit" {
            &["rqs-testkit"]
        } else {
            &["rqs-testkit", "rqs-conformance"]
        };
        for dev_only in dev_only {
            assert!(
                !normal.lines().any(|l| l.starts_with(dev_only)),
                "crates/{name} needs {dev_only} outside its dev-dependencies"
            );
        }
    }
}

/// `pip install` builds the `rqs` binary with a pinned maturin and takes the workspace
/// version from Cargo: there is no second version to keep in step.
#[test]
fn the_python_package_builds_the_rqs_binary_at_the_cargo_version() {
    let pyproject = read("pyproject.toml");
    let lines: Vec<&str> = pyproject.lines().collect();
    for expected in [
        "build-backend = \"maturin\"",
        "dynamic = [\"version\"]",
        "bindings = \"bin\"",
        "manifest-path = \"crates/rqs/Cargo.toml\"",
    ] {
        assert!(
            lines.contains(&expected),
            "pyproject.toml lacks `{expected}`"
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("requires = [\"maturin==")),
        "pyproject.toml must pin maturin with =="
    );
    assert!(
        !lines.iter().any(|l| l.starts_with("version")),
        "pyproject.toml must not carry a version of its own"
    );
}

/// The README opens with the demo and the test command, then the production command.
#[test]
fn readme_leads_with_the_demo_then_the_test_command_then_production() {
    let readme = read("README.md");
    let blocks: Vec<&str> = readme
        .split("```sh\n")
        .skip(1)
        .take(3)
        .map(|b| b.split("```").next().unwrap().trim())
        .collect();
    assert_eq!(blocks.first().copied(), Some("cargo xtask demo"));
    assert_eq!(blocks.get(1).copied(), Some("cargo xtask test"));
    assert!(
        blocks
            .get(2)
            .is_some_and(|b| b.contains("rqs") && b.contains("--url redis://")),
        "the third command runs rqs against a Redis: {:?}",
        blocks.get(2)
    );
}

/// rqs-redis stays split by concern (settings, URL grammar, TLS, connection errors,
/// Sentinel, connections), and its modules import each other without a circle: two
/// modules that import each other can only be read, and changed, together. Each file
/// stays short enough to read in one sitting.
#[test]
fn rqs_redis_modules_import_each_other_without_a_cycle() {
    // The reader itself first, on a made-up crate: imports through the root's re-exports
    // (renamed too), groups, `super` at the top of a file and `$crate` count; comments,
    // strings and a test module's `use super::*` do not.
    let made_up = [
        (
            "lib",
            "mod a;\nmod b;\nmod c;\npub use a::{Alpha as Renamed, Gamma};\npub use b::Beta;\n",
        ),
        (
            "a",
            "use crate::{Beta, c::{self, X}};\n// crate::b::Y\nconst S: &str = \"crate::b::Z\";\n",
        ),
        (
            "b",
            "pub(crate) fn f() -> crate::Renamed { g() }\n#[cfg(test)]\nmod tests {\n    use super::*;\n}\n",
        ),
        (
            "c",
            "/* crate::b::Q */ use super::Gamma;\nmacro_rules! m { () => { $crate::a::f() } }\nlet c = 'c'; let r = r#\"crate::b\"#;\n",
        ),
    ];
    let files: Vec<(String, String)> = made_up
        .iter()
        .map(|(name, text)| (name.to_string(), text.to_string()))
        .collect();
    let graph = module_graph(&files);
    let targets = |name: &str| -> Vec<&str> { graph[name].keys().map(String::as_str).collect() };
    assert_eq!(targets("lib"), ["a", "b"]);
    assert_eq!(targets("a"), ["b", "c"]);
    assert_eq!(targets("b"), ["a"]);
    assert_eq!(targets("c"), ["a"]);
    assert!(import_cycle(&graph).is_some(), "a -> b -> a goes unseen");

    let src = project_root().join("crates/rqs-redis/src");
    for name in [
        "config",
        "url",
        "tls",
        "connect_error",
        "sentinel",
        "connection",
    ] {
        assert!(
            src.join(format!("{name}.rs")).is_file(),
            "no crates/rqs-redis/src/{name}.rs"
        );
    }
    let mut files = Vec::new();
    for entry in fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            files.push((name, fs::read_to_string(&path).unwrap()));
        }
    }
    let graph = module_graph(&files);
    assert!(
        graph["connection"].contains_key("config"),
        "the import reader found no import of config in connection.rs: {graph:?}"
    );
    if let Some(cycle) = import_cycle(&graph) {
        let steps: Vec<String> = cycle
            .windows(2)
            .map(|w| format!("{}.rs:{} uses {}", w[0], graph[&w[0]][&w[1]], w[1]))
            .collect();
        panic!(
            "rqs-redis's modules import each other in a circle: {}; move what they share \
             into a module that both import",
            steps.join(", ")
        );
    }

    let mut stack = vec![src];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let lines = fs::read_to_string(&path).unwrap().lines().count();
            assert!(
                lines <= 600,
                "{} has {lines} lines (at most 600): split it by concern",
                path.display()
            );
        }
    }
}

/// Each module's imports: the modules it names, each with the line of its first mention.
type ModuleGraph = std::collections::BTreeMap<String, std::collections::BTreeMap<String, usize>>;

/// For each module of a flat crate (`lib` is the root), the modules it imports, each with
/// the line of its first import. A name the root re-exports counts as an import of the
/// module that defines it; an item of the root itself as an import of `lib`.
fn module_graph(files: &[(String, String)]) -> ModuleGraph {
    use std::collections::BTreeMap;
    let modules: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
    let sources: BTreeMap<&str, Vec<(RustToken, usize)>> = files
        .iter()
        .map(|(name, text)| (name.as_str(), rust_tokens(text)))
        .collect();
    // The root's `pub use module::…`: which module each re-exported name comes from.
    let mut exported = BTreeMap::new();
    let mut graph = ModuleGraph::new();
    let root = sources.get("lib").map_or(&[][..], Vec::as_slice);
    for (k, (token, line)) in root.iter().enumerate() {
        if *token == RustToken::Ident("use".into()) {
            let mut at = k + 1;
            for (path, bound) in use_tree(root, &mut at) {
                if modules.contains(&path[0].as_str()) && path[0] != "lib" {
                    exported.insert(bound, path[0].clone());
                    let edges = graph.entry("lib".into()).or_default();
                    edges.entry(path[0].clone()).or_insert(*line);
                }
            }
        }
    }
    for (name, tokens) in &sources {
        let edges = graph.entry(name.to_string()).or_default();
        // Brace depths at which inline modules (`mod tests {`) opened.
        let (mut depth, mut inline) = (0, Vec::new());
        for (k, (token, line)) in tokens.iter().enumerate() {
            match token {
                RustToken::Punct('{') => {
                    let opens_mod = k >= 2 && tokens[k - 2].0 == RustToken::Ident("mod".into());
                    if opens_mod {
                        inline.push(depth);
                    }
                    depth += 1;
                    continue;
                }
                RustToken::Punct('}') => {
                    depth -= 1;
                    if inline.last() == Some(&depth) {
                        inline.pop();
                    }
                    continue;
                }
                _ => {}
            }
            let RustToken::Ident(word) = token else {
                continue;
            };
            let starts_path = (word == "crate" || word == "super")
                && tokens.get(k + 1).map(|t| &t.0) == Some(&RustToken::PathSep)
                && (k == 0 || tokens[k - 1].0 != RustToken::PathSep);
            if !starts_path {
                continue;
            }
            let mut at = k;
            let mut supers = 0;
            while tokens.get(at).map(|t| &t.0) == Some(&RustToken::Ident("super".into())) {
                supers += 1;
                at += 2;
            }
            if word == "crate" {
                at += 2;
            } else if supers <= inline.len() {
                // `super` inside an inline module names this file's own module.
                continue;
            }
            for (path, _) in use_tree(tokens, &mut at) {
                let first = path[0].as_str();
                let target = if modules.contains(&first) {
                    first.to_owned()
                } else {
                    exported.get(first).cloned().unwrap_or_else(|| "lib".into())
                };
                if target != *name {
                    edges.entry(target).or_insert(*line);
                }
            }
        }
    }
    graph
}

/// A circle in `graph`, as the modules along it, the first one repeated at the end.
fn import_cycle(graph: &ModuleGraph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &ModuleGraph,
        done: &mut Vec<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.iter().any(|n| n == node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flat_map(|e| e.keys()) {
            if let Some(cycle) = visit(next, graph, done, path) {
                return Some(cycle);
            }
        }
        path.pop();
        done.push(node.to_owned());
        None
    }
    let mut done = Vec::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut done, &mut Vec::new()))
}

/// What the import reader needs of Rust's tokens.
#[derive(Debug, Clone, PartialEq)]
enum RustToken {
    Ident(String),
    PathSep,
    Punct(char),
}

/// The tokens of Rust source with their line numbers, without comments, string and
/// character literals (so that no text in them reads as a path).
fn rust_tokens(text: &str) -> Vec<(RustToken, usize)> {
    let chars: Vec<char> = text.chars().collect();
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    let (mut out, mut i, mut line) = (Vec::new(), 0, 1);
    // Skips to just past `end`, counting lines; `\` escapes the next character.
    let skip_to = |i: &mut usize, line: &mut usize, end: &str, escapes: bool| {
        let end: Vec<char> = end.chars().collect();
        while *i < chars.len() && !chars[*i..].starts_with(&end) {
            if chars[*i] == '\n' {
                *line += 1;
            }
            *i += if escapes && chars[*i] == '\\' { 2 } else { 1 };
        }
        *i += end.len();
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && at(i + 1) == '/' {
            skip_to(&mut i, &mut line, "\n", false);
            line += 1;
        } else if c == '/' && at(i + 1) == '*' {
            i += 2;
            skip_to(&mut i, &mut line, "*/", false);
        } else if c == '"' {
            i += 1;
            skip_to(&mut i, &mut line, "\"", true);
        } else if c == '\'' && (at(i + 1) == '\\' || at(i + 2) == '\'') {
            // A character literal; otherwise a lifetime, whose name follows as an ident.
            i += 1;
            skip_to(&mut i, &mut line, "'", true);
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while at(i).is_alphanumeric() || at(i) == '_' {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let raw = matches!(word.as_str(), "r" | "br" | "cr");
            if raw && (at(i) == '"' || (at(i) == '#' && matches!(at(i + 1), '"' | '#'))) {
                let hashes = chars[i..].iter().take_while(|&&h| h == '#').count();
                i += hashes + 1;
                skip_to(
                    &mut i,
                    &mut line,
                    &format!("\"{}", "#".repeat(hashes)),
                    false,
                );
            } else {
                out.push((RustToken::Ident(word), line));
            }
        } else if c == ':' && at(i + 1) == ':' {
            out.push((RustToken::PathSep, line));
            i += 2;
        } else {
            out.push((RustToken::Punct(c), line));
            i += 1;
        }
    }
    out
}

/// The paths of the use tree (or plain path) at `tokens[*at]`, each with the name it
/// binds: `a::{b, c::D as E}` gives `a::b` as `b` and `a::c::D` as `E`.
fn use_tree(tokens: &[(RustToken, usize)], at: &mut usize) -> Vec<(Vec<String>, String)> {
    let token = |k: usize| tokens.get(k).map(|t| &t.0);
    match token(*at) {
        Some(RustToken::Punct('{')) => {
            *at += 1;
            let mut paths = Vec::new();
            loop {
                match token(*at) {
                    None => break,
                    Some(RustToken::Punct('}')) => {
                        *at += 1;
                        break;
                    }
                    Some(RustToken::Punct(',')) => *at += 1,
                    Some(_) => {
                        let before = *at;
                        paths.extend(use_tree(tokens, at));
                        *at = (*at).max(before + 1);
                    }
                }
            }
            paths
        }
        Some(RustToken::Ident(segment)) => {
            let segment = segment.clone();
            *at += 1;
            if token(*at) == Some(&RustToken::PathSep) {
                *at += 1;
                let rest = use_tree(tokens, at);
                if !rest.is_empty() {
                    return rest
                        .into_iter()
                        .map(|(mut path, bound)| {
                            path.insert(0, segment.clone());
                            (path, bound)
                        })
                        .collect();
                }
            }
            let mut bound = segment.clone();
            if token(*at) == Some(&RustToken::Ident("as".into()))
                && let Some(RustToken::Ident(alias)) = token(*at + 1)
            {
                bound = alias.clone();
                *at += 2;
            }
            vec![(vec![segment], bound)]
        }
        _ => Vec::new(),
    }
}

/// The binary builds its scheduler with the one public function the library docs show
/// (whose snippet is a doc test), so the documented composition is the one that runs.
#[test]
fn the_binary_runs_the_composition_the_library_docs_show() {
    let call = "rqs_redis::scheduler(";
    let run = read("crates/rqs/src/commands/run.rs");
    assert!(run.contains(call), "the rqs binary does not call {call}");
    assert!(
        !run.contains("Scheduler::new("),
        "the rqs binary composes a scheduler of its own"
    );
    let docs = read("docs/library.md");
    assert!(docs.contains(call), "docs/library.md does not show {call}");
    assert!(
        read("tests/lib.rs").contains("docs/library.md"),
        "docs/library.md's snippets are not compiled"
    );
}
