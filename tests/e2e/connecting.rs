//! How the binary reaches Redis: URLs as redis-py reads them, TLS, ACL users, passwords
//! that never show, a replica refused.

use std::time::{Duration, Instant};

use rqs_testkit::tls::TestCa;
use rqs_testkit::{RedisServer, ServerOptions, TlsServer};
use rqs_testkit::{client_job, client_job_with};

use crate::support::{Daemon, Jobs, instance_field, now_secs, q, queue};

const T: Duration = Duration::from_secs(60);

async fn acl(server: &RedisServer, rules: &[&str]) {
    let conn = server.connection().await;
    let mut cmd = redis::cmd("ACL");
    cmd.arg("SETUSER").arg(rules);
    let () = q(&conn, &mut cmd).await;
}

/// The reproduction: `?db=3` was ignored and rqs worked on db 0, moving another
/// application's job and never its own.
#[tokio::test]
async fn db_in_the_url_query_selects_the_database() {
    let server = RedisServer::start();
    let db0 = Jobs::new(server.connection_db(0).await);
    let db3 = Jobs::new(server.connection_db(3).await);
    let past = (now_secs() - 10) as f64;
    db0.schedule("other-app", &client_job("default"), past)
        .await
        .unwrap();
    db3.schedule("ours", &client_job("default"), past)
        .await
        .unwrap();
    let url = format!("redis://127.0.0.1:{}?db=3", server.port());
    let mut d = Daemon::start(&["-b", "-u", &url]);
    assert_eq!(d.exit_code(T), 0, "{}", d.log());
    assert_eq!(
        queue(&server.connection_db(3).await, "default").await,
        ["ours"]
    );
    assert!(
        queue(&server.connection_db(0).await, "default")
            .await
            .is_empty()
    );
    assert_eq!(db0.list().await.unwrap().len(), 1, "db 0 untouched");
}

#[tokio::test]
async fn a_unix_socket_url_takes_password_and_db_from_the_query() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("redis.sock");
    let socket_arg = socket.to_str().unwrap().to_owned();
    let server = RedisServer::start_with(ServerOptions::default().args(&[
        "--unixsocket",
        &socket_arg,
        "--requirepass",
        "Un1xSecret",
    ]));
    let url = |db: u8| format!("redis://:Un1xSecret@127.0.0.1:{}/{db}", server.port());
    let conn = rqs_redis::connect(url(2), &Default::default())
        .await
        .unwrap();
    let jobs = Jobs::new(conn.clone());
    jobs.schedule("via-socket", &client_job("default"), 1.0)
        .await
        .unwrap();
    let unix = format!("unix://{}?db=2&password=Un1xSecret", socket.display());
    let mut d = Daemon::start(&["-b", "-u", &unix]);
    assert_eq!(d.exit_code(T), 0, "{}", d.log());
    assert_eq!(queue(&conn, "default").await, ["via-socket"]);
    assert!(!d.log().contains("Un1xSecret"), "{}", d.log());
}

/// What teams grant `rqscheduler`: a user limited to `~rq:*` (and no dangerous
/// commands). Every key rqs writes, quarantine included, is under `rq:`; the old
/// `rqs:quarantine` it cannot reach is left alone without a fuss.
#[tokio::test]
async fn an_acl_user_limited_to_rq_keys_runs_everything() {
    let server = RedisServer::start();
    acl(
        &server,
        &["rqs", "on", ">Acl-Pw-1", "~rq:*", "+@all", "-@dangerous"],
    )
    .await;
    let admin = server.connection().await;
    // A quarantine record of an older rqs, outside the user's key space.
    let () = q(
        &admin,
        redis::cmd("HSET")
            .arg("rqs:quarantine")
            .arg("old")
            .arg("{}"),
    )
    .await;
    let jobs = Jobs::new(admin.clone());
    let past = (now_secs() - 10) as f64;
    jobs.schedule("plain", &client_job("default"), past)
        .await
        .unwrap();
    // `{'interval': 600}` as rq-scheduler pickles it: re-armed.
    let interval_meta: Vec<u8> = (0..58)
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(
                &"80059512000000000000007d948c08696e74657276616c944d5802732e"[i..i + 2],
                16,
            )
            .unwrap()
        })
        .collect();
    jobs.schedule(
        "periodic",
        &client_job_with("default", &[("meta", &interval_meta)]),
        past,
    )
    .await
    .unwrap();
    jobs.schedule(
        "broken",
        &client_job_with("default", &[("meta", b"\x80\x05garbage")]),
        past,
    )
    .await
    .unwrap();

    let url = format!("redis://rqs:Acl-Pw-1@127.0.0.1:{}/0", server.port());
    let mut burst = Daemon::start(&["-b", "-u", &url, "--name", "acl-burst"]);
    assert_eq!(burst.exit_code(T), 0, "{}", burst.log());
    assert_eq!(queue(&admin, "default").await, ["periodic", "plain"]);
    let quarantined = jobs.quarantined().await.unwrap();
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    assert!(jobs.score("periodic").await.unwrap().is_some(), "re-armed");
    let log = burst.log();
    assert!(
        !log.contains("NOPERM") && !log.contains("permission"),
        "{log}"
    );
    assert!(!log.contains("Acl-Pw-1"), "{log}");

    // The daemon too: lock, heartbeat, death.
    let mut d = Daemon::start(&["-u", &url, "--name", "acl-daemon", "-i", "1"]);
    jobs.schedule("later", &client_job("default"), (now_secs() + 1) as f64)
        .await
        .unwrap();
    crate::support::eventually(T, "the daemon moving a job", || async {
        queue(&admin, "default")
            .await
            .contains(&"later".to_owned())
            .then_some(())
    })
    .await;
    d.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(d.exit_code(T), 0, "{}", d.log());
    assert!(
        instance_field(&admin, "acl-daemon", "death")
            .await
            .is_some()
    );
    let log = d.log();
    // Warnings other than a lease lost to a stalled machine.
    let warnings = log
        .lines()
        .filter(|l| l.contains("WARN") && !l.contains("standing by"))
        .count();
    assert!(!log.contains("NOPERM") && warnings == 0, "{log}");
    let keys: Vec<String> = q(&admin, redis::cmd("KEYS").arg("*")).await;
    let outside: Vec<&String> = keys
        .iter()
        .filter(|k| !k.starts_with("rq:") && *k != "rqs:quarantine")
        .collect();
    assert!(outside.is_empty(), "keys outside rq:*: {outside:?}");
}

/// A user who may not touch the queues: the burst stops with an error that names the
/// key and the command, and exits non-zero.
#[tokio::test]
async fn a_permission_error_names_key_and_command_and_fails_a_burst() {
    let server = RedisServer::start();
    acl(
        &server,
        &[
            "narrow",
            "on",
            ">pw",
            "~rq:scheduler*",
            "~rq:job:*",
            "~rq:rqs:*",
            "~rq:queues",
            "+@all",
            "-@dangerous",
        ],
    )
    .await;
    let admin = server.connection().await;
    Jobs::new(admin.clone())
        .schedule("j", &client_job("default"), 1.0)
        .await
        .unwrap();
    let url = format!("redis://narrow:pw@127.0.0.1:{}/0", server.port());
    let mut d = Daemon::start(&["-b", "-u", &url]);
    assert_eq!(d.exit_code(T), 1, "{}", d.log());
    let log = d.log();
    assert!(
        log.contains("the ACL refuses TYPE on key rq:queue:default"),
        "{log}"
    );
    assert!(queue(&admin, "default").await.is_empty());
}

#[tokio::test]
async fn a_wrong_password_is_a_clear_error_that_never_shows_it() {
    let server =
        RedisServer::start_with(ServerOptions::default().args(&["--requirepass", "Right-Pw"]));
    let port = server.port().to_string();
    let url = format!("redis://:Wr0ng-Pw-In-Url@127.0.0.1:{port}/0");
    let runs = [
        Daemon::start(&["-b", "-u", &url]),
        Daemon::start(&["-b", "-H", "127.0.0.1", "-p", &port, "-P", "Wr0ng-Pw-Flag"]),
        Daemon::start_env(
            &["-b", "-H", "127.0.0.1", "-p", &port],
            &[("RQ_REDIS_PASSWORD", "Wr0ng-Pw-Env")],
        ),
        Daemon::start_env(&["-b"], &[("RQ_REDIS_URL", url.as_str())]),
    ];
    for mut d in runs {
        assert_eq!(d.exit_code(T), 1, "{}", d.log());
        let log = d.log();
        assert!(
            log.contains("refused the password of user \"default\""),
            "{log}"
        );
        assert!(!log.contains("Wr0ng"), "the password shows: {log}");
    }
    let mut d = Daemon::start(&["-b", "-H", "127.0.0.1", "-p", &port]);
    assert_eq!(d.exit_code(T), 1, "{}", d.log());
    assert!(
        d.log().contains("requires a password (NOAUTH)"),
        "{}",
        d.log()
    );
    let mut d = Daemon::start(&["-b", "-H", "127.0.0.1", "-p", &port, "-P", "Right-Pw"]);
    assert_eq!(d.exit_code(T), 0, "{}", d.log());
    assert!(!d.log().contains("Right-Pw"), "{}", d.log());
}

#[test]
fn an_unparsable_url_is_never_echoed() {
    for url in [
        "redis://user:Hunter2-Secret@host:port/0",
        "redis://host:Hunter2-Secret",
        "http://user:Hunter2-Secret@host",
    ] {
        for mut d in [
            Daemon::start(&["-b", "-u", url]),
            Daemon::start_env(&["-b"], &[("RQ_REDIS_URL", url)]),
        ] {
            assert_eq!(d.exit_code(T), 2, "{}", d.log());
            let log = d.log();
            assert!(log.contains("invalid --url / RQ_REDIS_URL"), "{log}");
            assert!(!log.contains("Hunter2"), "{url}: {log}");
        }
    }
}

#[tokio::test]
async fn a_password_file_keeps_the_password_off_the_command_line() {
    let server =
        RedisServer::start_with(ServerOptions::default().args(&["--requirepass", "F1le-Pw"]));
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "F1le-Pw\n").unwrap();
    let path = file.path().to_str().unwrap();
    let port = server.port().to_string();
    for mut d in [
        Daemon::start(&[
            "-b",
            "-H",
            "127.0.0.1",
            "-p",
            &port,
            "--password-file",
            path,
        ]),
        Daemon::start_env(
            &["-b", "-u", &format!("redis://127.0.0.1:{port}/0")],
            &[("RQ_REDIS_PASSWORD_FILE", path)],
        ),
    ] {
        assert_eq!(d.exit_code(T), 0, "{}", d.log());
        assert!(!d.log().contains("F1le-Pw"), "{}", d.log());
    }
}

#[tokio::test]
async fn unknown_url_parameters_are_warnings() {
    let server = RedisServer::start();
    let url = format!(
        "{}?health_check_interval=10&socket_keepalive=true&socket_timeout=5",
        server.url()
    );
    let mut d = Daemon::start(&["-b", "-u", &url]);
    assert_eq!(d.exit_code(T), 0, "{}", d.log());
    let log = d.log();
    assert!(
        log.contains("\"health_check_interval\" is not used by rqs"),
        "{log}"
    );
    assert!(
        log.contains("\"socket_keepalive\" is not used by rqs"),
        "{log}"
    );
    assert!(!log.contains("socket_timeout"), "{log}");
}

#[tokio::test]
async fn a_replica_is_refused_and_nothing_is_written() {
    let master = RedisServer::start();
    let replica = RedisServer::start_with(ServerOptions::default().replica_of(master.port()));
    let admin = master.connection().await;
    Jobs::new(admin.clone())
        .schedule("j", &client_job("default"), 1.0)
        .await
        .unwrap();
    let url = replica.url();
    for args in [
        &["-b", "-u", &url][..],
        &["-u", &url, "--name", "on-replica"],
    ] {
        let mut d = Daemon::start(args);
        assert_eq!(d.exit_code(T), 1, "{}", d.log());
        assert!(
            d.log().contains("is a read-only replica of 127.0.0.1"),
            "{}",
            d.log()
        );
    }
    let mut keys: Vec<String> = q(&admin, redis::cmd("KEYS").arg("*")).await;
    keys.sort();
    assert_eq!(
        keys,
        ["rq:job:j", "rq:scheduler:scheduled_jobs"],
        "nothing written"
    );
}

struct Tls {
    ca: TestCa,
    server: RedisServer,
}

fn tls_server(auth_clients: bool) -> Tls {
    let ca = TestCa::new("rqs e2e CA");
    let cert = ca.server("server", &["localhost", "127.0.0.1"]);
    let server = RedisServer::start_with(ServerOptions::default().tls(TlsServer {
        cert,
        ca: ca.ca_file(),
        auth_clients,
    }));
    Tls { ca, server }
}

async fn burst_moves_a_job(server: &RedisServer, url: &str) {
    let conn = server.connection().await;
    let jobs = Jobs::new(conn.clone());
    let id = format!("tls-{}", now_secs());
    let _: i64 = q(&conn, redis::cmd("DEL").arg("rq:queue:default")).await;
    jobs.schedule(&id, &client_job("default"), 1.0)
        .await
        .unwrap();
    let mut d = Daemon::start(&["-b", "-u", url]);
    assert_eq!(d.exit_code(T), 0, "{url}: {}", d.log());
    assert_eq!(queue(&conn, "default").await, [id]);
}

#[tokio::test]
async fn tls_as_redis_py_takes_it() {
    let tls = tls_server(false);
    let port = tls.server.tls_port().unwrap();
    let ca = tls.ca.ca_file();
    let ca = ca.display();
    burst_moves_a_job(
        &tls.server,
        &format!("rediss://localhost:{port}/0?ssl_ca_certs={ca}"),
    )
    .await;
    burst_moves_a_job(
        &tls.server,
        &format!("rediss://127.0.0.1:{port}/0?ssl_cert_reqs=none"),
    )
    .await;

    let mutual = tls_server(true);
    let port = mutual.server.tls_port().unwrap();
    let client = mutual.ca.client("client");
    burst_moves_a_job(
        &mutual.server,
        &format!(
            "rediss://127.0.0.1:{port}/0?ssl_ca_certs={}&ssl_certfile={}&ssl_keyfile={}",
            mutual.ca.ca_file().display(),
            client.cert.display(),
            client.key.display()
        ),
    )
    .await;
}

/// An untrusted certificate: a clear error naming the problem, and a non-zero exit,
/// within seconds (the elapsed time is printed; the test's own bound is generous).
#[tokio::test]
async fn an_untrusted_certificate_exits_with_a_clear_error() {
    let tls = tls_server(false);
    let port = tls.server.tls_port().unwrap();
    crate::support::rqs_bin();
    let started = Instant::now();
    // No ssl_ca_certs: the system's CAs do not know the test CA.
    let mut d = Daemon::start(&["-b", "-u", &format!("rediss://127.0.0.1:{port}/0")]);
    assert_eq!(d.exit_code(Duration::from_secs(30)), 1, "{}", d.log());
    eprintln!(
        "untrusted certificate: exit 1 after {:?}",
        started.elapsed()
    );
    let log = d.log();
    assert!(
        log.contains("not signed by a trusted CA (UnknownIssuer)"),
        "{log}"
    );
    assert!(log.contains("ssl_ca_certs"), "{log}");
}

/// `ssl_cert_reqs=none` leaves the server unauthenticated: rqs says so as a warning,
/// which `--quiet` keeps (an info line would be hidden).
#[tokio::test]
async fn unverified_tls_is_a_warning_that_quiet_keeps() {
    let tls = tls_server(false);
    let port = tls.server.tls_port().unwrap();
    let url = format!("rediss://127.0.0.1:{port}/0?ssl_cert_reqs=none");
    let mut d = Daemon::start(&["-b", "--quiet", "-u", &url]);
    assert_eq!(d.exit_code(T), 0, "{}", d.log());
    let log = d.log();
    let line = log
        .lines()
        .find(|l| l.contains("ssl_cert_reqs=none"))
        .unwrap_or_else(|| panic!("no warning about ssl_cert_reqs=none in:\n{log}"));
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("not verified"), "{line}");
    // A verified connection has no such line.
    let ca = tls.ca.ca_file();
    let url = format!("rediss://127.0.0.1:{port}/0?ssl_ca_certs={}", ca.display());
    let mut d = Daemon::start(&["-b", "--quiet", "-u", &url]);
    assert_eq!(d.exit_code(T), 0, "{}", d.log());
    assert!(!d.log().contains("not verified"), "{}", d.log());
}

/// An empty or non-PEM `ssl_ca_certs` file is bad configuration: exit 2 with the file
/// named, not exit 1 later as an untrusted certificate.
#[tokio::test]
async fn a_ca_file_without_a_certificate_exits_2_naming_it() {
    let tls = tls_server(false);
    let port = tls.server.tls_port().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in [("empty.pem", ""), ("notes.pem", "our CA is on the wiki\n")] {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let url = format!(
            "rediss://127.0.0.1:{port}/0?ssl_ca_certs={}",
            path.display()
        );
        let mut d = Daemon::start(&["-b", "-u", &url]);
        assert_eq!(d.exit_code(T), 2, "{name}: {}", d.log());
        assert!(
            d.log()
                .contains(&format!("ssl_ca_certs {}", path.display())),
            "{}",
            d.log()
        );
    }
}
