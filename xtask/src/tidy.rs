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

/// Published crates name each other at the one workspace version. rqs-testkit has none:
/// it may only be a dev-dependency of a published crate (publishing drops those).
#[test]
fn workspace_crates_are_required_at_the_workspace_version() {
    let version = workspace_version();
    let manifest = read("Cargo.toml");
    let deps = manifest.split("[workspace.dependencies]").nth(1).unwrap();
    for line in deps.lines().filter(|l| l.contains("path = \"crates/")) {
        if line.starts_with("rqs-testkit ") {
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
        assert!(
            !normal.lines().any(|l| l.starts_with("rqs-testkit")),
            "crates/{name} needs rqs-testkit outside its dev-dependencies"
        );
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
