//! `deploy/`: the systemd unit's command line and environment file run rqs as the unit
//! would (JSON logs, pid file, metrics), the unit keeps its hardening, and the Prometheus
//! alerting rules are valid and pass their own unit tests.

use std::process::Command;

use nix::sys::signal::Signal;
use rqs_testkit::RedisServer;

use crate::common::{T, http_get};
use crate::support::{Daemon, eventually, root};

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_unit_is_hardened() {
    let unit = read("deploy/rqs.service");
    let lines: Vec<&str> = unit.lines().map(str::trim).collect();
    for directive in [
        "DynamicUser=yes",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "CapabilityBoundingSet=",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
        "MemoryDenyWriteExecute=yes",
        "RuntimeDirectory=rqs",
        "EnvironmentFile=/etc/rqs/rqs.env",
        "KillSignal=SIGTERM",
        // The exit codes of bad flags and of a name clash (src/exit.rs).
        "RestartPreventExitStatus=2 3",
        // rqs reports readiness and pings the watchdog itself (src/notify.rs).
        "Type=notify",
        "NotifyAccess=main",
        "WatchdogSec=30",
        "LimitNOFILE=65536",
    ] {
        assert!(
            lines.contains(&directive),
            "{directive} missing from deploy/rqs.service"
        );
    }
    let types = lines.iter().filter(|l| l.starts_with("Type=")).count();
    assert_eq!(types, 1, "one Type= line");
    // Writable paths would undo ProtectSystem=strict.
    assert!(
        !unit.contains("ReadWritePaths"),
        "the unit writes nowhere but /run/rqs"
    );
}

#[test]
fn the_units_metrics_port_is_on_loopback_and_clear_of_exporters() {
    let unit = read("deploy/rqs.service");
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("an ExecStart line");
    let addr: std::net::SocketAddr = exec
        .split_whitespace()
        .skip_while(|w| *w != "--metrics-addr")
        .nth(1)
        .expect("--metrics-addr")
        .parse()
        .unwrap();
    assert!(
        addr.ip().is_loopback(),
        "{addr}: metrics stay on the machine"
    );
    // Prometheus's own ports start at 9090, and its list of default exporter ports has
    // used up 9100-9999: a port there is some exporter's (9187 is postgres_exporter's).
    assert!(
        !(9090..=9999).contains(&addr.port()),
        "{addr}: a port Prometheus's list gives to another program"
    );
    // Below the kernel's default ephemeral range, where an outgoing connection could
    // already hold it.
    assert!(addr.port() < 32768, "{addr}");
    // Lines wrap anywhere in Markdown: compare with the text's spaces collapsed.
    let guide = read("docs/deploy.md")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        guide.contains(&format!(
            "`rqs {}`",
            exec.trim_start_matches("/usr/local/bin/rqs ")
        )),
        "docs/deploy.md's systemd section quotes the unit's command line"
    );
}

#[test]
fn the_alerting_rules_are_valid_and_pass_their_unit_tests() {
    let dir = root().join("deploy/prometheus");
    for args in [
        ["check", "rules", "rqs-rules.yml"],
        ["test", "rules", "rqs-rules.test.yml"],
    ] {
        let out = Command::new("promtool")
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run promtool: {e}; install Debian's prometheus, which ships it \
                     (apt-get install -y --no-install-recommends prometheus), or run \
                     `cargo xtask test`, which does"
                )
            });
        assert!(
            out.status.success(),
            "promtool {} failed ({}):\n{}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The first JSON log line whose message holds `message`; every line must be JSON.
async fn logged(d: &Daemon, message: &str) -> serde_json::Value {
    eventually(T, message, || {
        let log = d.log();
        async move {
            // A line still being written is read next time.
            log.split_inclusive('\n')
                .filter(|l| l.ends_with('\n'))
                .map(|l| {
                    serde_json::from_str::<serde_json::Value>(l)
                        .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}"))
                })
                .find(|l| l["message"].as_str().is_some_and(|m| m.contains(message)))
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_units_command_line_runs_with_json_logs_and_a_pid_file() {
    let server = RedisServer::start();
    let unit = read("deploy/rqs.service");
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("an ExecStart line");
    let mut words = exec.split_whitespace();
    assert_eq!(words.next(), Some("/usr/local/bin/rqs"));
    let dir = tempfile::tempdir().unwrap();
    let pid = dir.path().join("rqs.pid");
    // The unit's flags, with the two paths of this machine swapped in.
    let mut args: Vec<String> = Vec::new();
    while let Some(word) = words.next() {
        args.push(word.to_owned());
        match word {
            "--pid" => {
                assert_eq!(
                    words.next(),
                    Some("/run/rqs/rqs.pid"),
                    "in RuntimeDirectory"
                );
                args.push(pid.display().to_string());
            }
            "--metrics-addr" => {
                words.next();
                args.push("127.0.0.1:0".into());
            }
            _ => {}
        }
    }
    // The example environment file, pointed at this test's server.
    let mut env: Vec<(String, String)> = Vec::new();
    for line in read("deploy/rqs.env.example").lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (var, value) = line.split_once('=').expect("VAR=value");
        assert!(
            var.starts_with("RQ_REDIS_") || var == "RUST_LOG",
            "{var} is not a variable rqs reads"
        );
        let value = if var == "RQ_REDIS_URL" {
            server.url()
        } else {
            value.to_owned()
        };
        env.push((var.to_owned(), value));
    }
    assert!(env.iter().any(|(v, _)| v == "RQ_REDIS_URL"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut d = Daemon::start_env(&args, &env);

    let active = logged(&d, "became the active instance").await;
    assert_eq!(active["level"], "INFO");
    assert!(
        active["scheduled"].is_number() && active.get("next_due").is_some(),
        "{active}"
    );
    let serving = logged(&d, "status page on http://").await;
    let addr = serving["message"]
        .as_str()
        .unwrap()
        .split("http://")
        .nth(1)
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    assert_eq!(http_get(&addr, "/healthz").unwrap().0, 200);
    let written = std::fs::read_to_string(&pid).expect("the pid file is written at start");
    assert_eq!(written.trim(), d.pid().to_string());

    d.signal(Signal::SIGTERM);
    assert_eq!(d.exit_code(T), 0, "{}", d.log());
    assert!(!pid.exists(), "the pid file is removed at exit");
    logged(&d, "registered death").await;
}
