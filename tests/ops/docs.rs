//! The commands of the docs are tests. Every `sh` and `console` block of README.md,
//! CONTRIBUTING.md and docs/*.md is split into commands, and each command goes to the
//! checker of its program; a program without a checker fails the test, so a new block
//! cannot go unchecked.
//!
//! `rqs` commands run the real binary: against a private `redis-server` when they only
//! need a Redis (the URL swapped for the server's), else with `RQS_CHECK_ONLY=1`, which
//! parses the flags, environment and connection settings as a start does and stops before
//! connecting. A `console` block is one session on a freshly seeded schedule. The other
//! programs change the machine or need a cluster, so their checkers look at what the
//! command names (files, packages, units, tags) instead of running it; each says why.

mod checkers;
mod repo;
mod rqs;
mod shell;

use std::process::Command;

use checkers::{Checker, Expect, fail};
use repo::{markdown_files, read};
use rqs::{check_only, run_rqs};
use shell::{Block, blocks, commands, session};

/// Checks every command of one block; the failures, one line each.
fn check_block(block: &Block) -> Vec<String> {
    let mut failures = Vec::new();
    match block.lang.as_str() {
        "sh" => {
            let mut checker = Checker::new();
            match commands(&block.text) {
                Ok(cmds) if cmds.is_empty() => {
                    failures.push(format!("{}: no command", block.place))
                }
                Ok(cmds) => {
                    for cmd in cmds {
                        if let Err(e) = checker.check(&cmd, Expect::Success, &[]) {
                            failures.push(format!("{}: `{}`: {e}", block.place, cmd.show()));
                        }
                    }
                }
                Err(e) => failures.push(format!("{}: {e}", block.place)),
            }
        }
        "console" => {
            let mut checker = Checker::seeded();
            let steps = match session(&block.text) {
                Ok(steps) if !steps.is_empty() => steps,
                Ok(_) => return vec![format!("{}: no `$ ` line", block.place)],
                Err(e) => return vec![format!("{}: {e}", block.place)],
            };
            for (i, step) in steps.iter().enumerate() {
                // It must fail when the output shown holds an ERROR log line, or when an
                // `echo $?` after it shows a code other than 0.
                let logs_error = step
                    .output
                    .iter()
                    .any(|l| l.split_whitespace().nth(1) == Some("ERROR"));
                let code_shown = steps
                    .get(i + 1)
                    .filter(|next| next.command.trim() == "echo $?")
                    .and_then(|next| next.output.first())
                    .map(|code| code.trim());
                let expect = if logs_error || code_shown.is_some_and(|c| c != "0") {
                    Expect::Failure
                } else {
                    Expect::Success
                };
                let result = commands(&step.command).and_then(|cmds| match cmds.as_slice() {
                    [cmd] => checker.check(cmd, expect, &step.output),
                    _ => fail("one command per `$ ` line"),
                });
                if let Err(e) = result {
                    failures.push(format!(
                        "{} (+{}): `{}`: {e}",
                        block.place, step.line, step.command
                    ));
                }
            }
        }
        _ => {}
    }
    failures
}

/// A `toml` block is a schedule file: `rqs plan` reads it against an empty Redis and
/// must find it valid (exit 4: jobs to add).
fn check_schedule_file(block: &Block) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("schedule.toml");
    std::fs::write(&path, &block.text).unwrap();
    let server = rqs_testkit::RedisServer::start();
    let args = [
        "plan".to_owned(),
        path.display().to_string(),
        "-u".to_owned(),
        server.url(),
    ];
    match run_rqs(&[], &args) {
        Ok(ran) if ran.code == 4 => Vec::new(),
        Ok(ran) => vec![format!(
            "{}: `rqs plan` of this file exited {}:\n{}{}",
            block.place, ran.code, ran.stdout, ran.stderr
        )],
        Err(e) => vec![format!("{}: {e}", block.place)],
    }
}

#[test]
fn every_command_of_the_docs_runs_or_is_checked() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for file in markdown_files() {
        for block in blocks(&file, &read(&file)) {
            match block.lang.as_str() {
                "sh" | "console" => {
                    checked += 1;
                    failures.extend(check_block(&block));
                }
                // A schedule file (docs/schedules.md): `rqs plan` must read it.
                "toml" => {
                    checked += 1;
                    failures.extend(check_schedule_file(&block));
                }
                // Output, configuration, and Rust (a doc test, see below).
                "text" | "yaml" => {}
                lang if lang.starts_with("rust") => {}
                // An unlabeled or `bash` block would be a command nobody checks.
                lang => failures.push(format!(
                    "{}: a block labeled {lang:?}: use sh, console, text, toml, yaml or rust",
                    block.place
                )),
            }
        }
    }
    assert!(checked >= 10, "only {checked} blocks found");
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_markdown_file_with_rust_is_compiled_as_doc_tests() {
    let lib = read("tests/lib.rs");
    for file in markdown_files() {
        let rust = blocks(&file, &read(&file))
            .iter()
            .any(|b| b.lang.starts_with("rust"));
        let included = lib.contains(&format!("include_str!(\"../{file}\")"));
        assert!(
            !rust || included,
            "{file} has Rust blocks: include it in tests/lib.rs"
        );
    }
}

#[test]
fn the_check_only_mode_parses_without_connecting_and_fails_on_bad_input() {
    // Nothing listens on port 1: a real start would exit 1 at once.
    let env = |url: &str| vec![("RQ_REDIS_URL".to_owned(), url.to_owned())];
    check_only(&env("redis://127.0.0.1:1/0"), &["--interval", "5"]).unwrap();
    check_only(
        &[],
        &["--sentinel", "10.0.0.1:26379", "--sentinel-master", "m"],
    )
    .unwrap();
    // (RQ_REDIS_URL, the flags, what the message says)
    let cases: &[(Option<&str>, &[&str], &str)] = &[
        (None, &["--no-such-flag"], "unexpected argument"),
        (Some("redis://h:port/0"), &[], "invalid --url"),
        (
            None,
            &["-u", "rediss://h/0?ssl_cert_reqs=maybe"],
            "invalid --url",
        ),
        (None, &["--sentinel", "10.0.0.1:26379"], "--sentinel-master"),
        (None, &["--interval", "0"], "--interval"),
        (None, &["--name", "no spaces"], "instance name"),
    ];
    for (url, args, message) in cases {
        let mut all = url.map_or_else(Vec::new, env);
        all.push(("RQS_CHECK_ONLY".into(), "1".into()));
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let ran = run_rqs(&all, &args).unwrap();
        assert_eq!(ran.code, 2, "{args:?}: {}", ran.stderr);
        assert!(ran.stderr.contains(message), "{args:?}: {}", ran.stderr);
    }
}

#[test]
fn each_checker_can_fail() {
    let bad = [
        "curl https://example.com",
        "echo hello",
        "rqs --no-such-flag",
        "rqs -u 'rediss://redis.internal:6380/0?ssl_cert_reqs=maybe'",
        "RQ_REDIS_SENTINELS=10.0.0.1:26379 rqs",
        "rqs show no-such-job",
        "rqs schedule not-a-path --in 10m",
        "cargo xtask no-such-task",
        "cargo build -p no-such-package",
        "cargo install --locked --path crates/no-such-crate",
        "cargo test -p rqs-tests --test no-such-target",
        "cargo build --profile no-such-profile -p rqs",
        "cargo build --profile image -p rqs",
        "cargo run -p rqs -- --no-such-flag",
        "sudo install -m 0755 target/release/rqs /usr/local/bin/rqs",
        "sudo install -m 0644 deploy/no-such.service /etc/systemd/system/x.service",
        "sudo install -m 0644 deploy/rqs.service etc/rqs.service",
        "sudo systemctl enable --now no-such-unit",
        "pip install git+https://github.com/someone/else",
        "pip install ./crates",
        "pip install kubernetes-validate==0.1",
        "python3 -c 'print(1)'",
        "podman build -t rqs:0.0.0-old .",
        "podman run -d --name r --stop-timeout 10 localhost/rqs:0.1.0 run",
        "podman run -d --name r localhost/rqs:0.1.0 run --interval 0",
        "podman exec never-started rqs status",
        "kubectl -n rqs create secret generic no-such-secret --from-literal=url=redis://h/0",
        "kubectl -n rqs create secret generic rqs-redis --from-literal=url=redis://h:port/0",
        "kubectl -n rqs apply -f deploy/no-such-dir/",
        "kubectl -n rqs apply -f -",
        "kubectl -n rqs exec deploy/rqs -- rqs status --password-file /elsewhere/password",
        "kubectl -n rqs delete namespace rqs",
        "promtool check rules no-such-rules.yml",
        "/tmp/kv/bin/kubernetes-validate -k 1.20 deploy/kubernetes/*.yaml",
        "/tmp/kv/bin/kubernetes-validate deploy/kubernetes/*.json",
        "redis-cli NO-SUCH-COMMAND",
        "deploy/kubernetes/monitoring/prometheusrule.sh not-a-label",
        "rqs status > out.txt",
        "rqs status &",
        "rqs status $(whoami)",
    ];
    // Without redis-cli, its checker only asks Redis whether it knows the command.
    let redis_cli = Command::new("redis-cli").arg("--version").output().is_ok();
    let refused = redis_cli.then_some("redis-cli ACL SETUSER rqs on +@no-such-category");
    for text in bad.into_iter().chain(refused) {
        let mut checker = Checker::new();
        let result = commands(text).and_then(|cmds| {
            cmds.iter()
                .try_for_each(|cmd| checker.check(cmd, Expect::Success, &[]))
        });
        assert!(result.is_err(), "`{text}` passed its checker");
    }
    // A console session: `echo $?` compares with the exit code, an ERROR line shown
    // means the command must fail.
    let mut checker = Checker::seeded();
    let status = &commands("rqs status").unwrap()[0];
    let echo = &commands("echo $?").unwrap()[0];
    assert!(checker.check(status, Expect::Failure, &[]).is_err());
    checker.check(status, Expect::Success, &[]).unwrap();
    assert!(checker.check(echo, Expect::Success, &["1".into()]).is_err());
    let table = ["ID  WHEN  WHERE".to_owned()];
    let list = &commands("rqs list").unwrap()[0];
    assert!(checker.check(list, Expect::Success, &table).is_err());
}

#[test]
fn blocks_split_into_commands_as_sh_reads_them() {
    let text = "# a comment\nA=1 B='two words' rqs -u 'x&y' \\\n    status  # trailing\n\
                a && b || c; d | e \"q\\\"uote\"\n";
    let cmds = commands(text).unwrap();
    let argv: Vec<Vec<&str>> = cmds
        .iter()
        .map(|c| c.argv.iter().map(String::as_str).collect())
        .collect();
    assert_eq!(
        argv,
        [
            vec!["rqs", "-u", "x&y", "status"],
            vec!["a"],
            vec!["b"],
            vec!["c"],
            vec!["d"],
            vec!["e", "q\"uote"],
        ]
    );
    assert_eq!(
        cmds[0].env,
        [("A".into(), "1".into()), ("B".into(), "two words".into())]
    );
    assert!(cmds[5].piped && !cmds[4].piped);
    let steps = session("$ rqs cancel x \\\n    --json\nout 1\nout 2\n$ echo $?\n1\n").unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0].command, "rqs cancel x \\\n    --json");
    assert_eq!(steps[0].output, ["out 1", "out 2"]);
    assert_eq!(steps[1].output, ["1"]);
    let md = "text\n  ```sh\n  cargo xtask test\n  ```\n```console\n$ rqs list\n```\n";
    let found = blocks("x.md", md);
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].text, "cargo xtask test\n");
    assert_eq!(found[1].lang, "console");
}

/// The checker knows every subcommand the binary has, so a new one's examples are run as
/// one-shot commands, not waited on as a daemon.
#[test]
fn the_checker_knows_every_subcommand_of_the_binary() {
    let help = Command::new(crate::support::rqs_bin())
        .arg("--help")
        .output()
        .expect("rqs --help");
    let help = String::from_utf8_lossy(&help.stdout);
    let listed: Vec<&str> = help
        .split("Commands:")
        .nth(1)
        .expect("a Commands section")
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .collect();
    let known: Vec<&str> = rqs::SUBCOMMANDS.split(' ').collect();
    assert_eq!(listed, known, "update SUBCOMMANDS in tests/ops/docs/rqs.rs");
}
