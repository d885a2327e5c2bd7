//! Flags, exit codes and start-up errors of the binary.

use std::time::Duration;

use rqs_testkit::RedisServer;

use crate::support::{Daemon, instance_field};

const T: Duration = Duration::from_secs(30);

#[test]
fn a_bad_flag_is_a_usage_error() {
    let mut d = Daemon::start(&["--no-such-flag"]);
    assert_eq!(d.exit_code(T), 2);
    assert!(d.log().contains("--no-such-flag"), "{}", d.log());
    let mut d = Daemon::start(&["--interval", "-5"]);
    assert_eq!(d.exit_code(T), 2);
    assert!(
        d.log()
            .contains("--interval must be a number of seconds from 0.05 up"),
        "{}",
        d.log()
    );
}

#[test]
fn an_unreachable_redis_is_a_clear_error() {
    // Port 1: a port test servers never get (bind(0) hands out ephemeral ports only), so
    // nobody listens there, whatever else runs in parallel.
    let port = "1";
    let mut d = Daemon::start(&["--burst", "-H", "127.0.0.1", "-p", port]);
    assert_eq!(d.exit_code(T), 1);
    assert!(
        d.log()
            .contains(&format!("cannot reach Redis at 127.0.0.1:{port}")),
        "{}",
        d.log()
    );
}

#[tokio::test]
async fn environment_variables_select_the_database() {
    let server = RedisServer::start();
    let conn = server.connection_db(5).await;
    let port = server.port().to_string();
    let mut d = Daemon::start_env(
        &["--burst", "--name", "env-test"],
        &[
            ("RQ_REDIS_HOST", "127.0.0.1"),
            ("RQ_REDIS_PORT", &port),
            ("RQ_REDIS_DB", "5"),
        ],
    );
    assert_eq!(d.exit_code(T), 0, "{}", d.log());
    let death: Option<String> = instance_field(&conn, "env-test", "death").await;
    assert!(death.is_some(), "the instance registered in db 5");
}

#[tokio::test]
async fn python_only_flags_are_accepted_with_a_warning() {
    let server = RedisServer::start();
    let mut d = Daemon::start(&[
        "--burst",
        "-u",
        &server.url(),
        "--path",
        "/app",
        "-j",
        "app.Job",
        "-q",
        "app.Queue",
        "--pid",
        "/nonexistent-dir/rqs.pid",
    ]);
    // The pid file cannot be written: a clear error after the warnings.
    assert_eq!(d.exit_code(T), 1);
    let log = d.log();
    assert!(log.contains("--path \"/app\" is ignored"), "{log}");
    assert!(log.contains("--job-class \"app.Job\" is ignored"), "{log}");
    assert!(
        log.contains("--queue-class \"app.Queue\" is ignored"),
        "{log}"
    );
    assert!(
        log.contains(
            "cannot create the pid file /nonexistent-dir/rqs.pid: No such file or directory"
        ),
        "{log}"
    );
}

#[tokio::test]
async fn a_live_name_is_refused() {
    let server = RedisServer::start();
    let url = server.url();
    let mut first = Daemon::start(&["-u", &url, "--name", "twin", "-i", "1"]);
    let conn = server.connection().await;
    crate::support::eventually(T, "the first instance's birth", || async {
        let birth: Option<String> = instance_field(&conn, "twin", "birth").await;
        birth
    })
    .await;
    let mut second = Daemon::start(&["-u", &url, "--name", "twin", "--burst"]);
    assert_eq!(second.exit_code(T), 3, "{}", second.log());
    assert!(
        second
            .log()
            .contains("already an active rq scheduler named \"twin\"")
    );
    assert!(
        first.wait(Duration::ZERO).is_none(),
        "the first one keeps running"
    );
}

#[test]
fn an_invalid_url_is_a_usage_error() {
    let mut d = Daemon::start(&["--burst", "-u", "http://nowhere"]);
    assert_eq!(d.exit_code(T), 2, "{}", d.log());
    assert!(d.log().contains("invalid --url"), "{}", d.log());
}
