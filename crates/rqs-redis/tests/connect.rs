//! `RedisConnection` against real servers: TLS with certificates made here, ACL users and
//! their errors, passwords, replicas, and stalls.

#![allow(clippy::print_stderr)] // Figures for the test log.

use std::time::{Duration, Instant};

use rqs_redis::redis::{self, AsyncCommands};
use rqs_redis::{ConnectError, RedisConfig, RedisConnection};
use rqs_testkit::tls::TestCa;
use rqs_testkit::{RedisServer, ServerOptions, TlsServer};

async fn config(url: &str) -> RedisConfig {
    let parsed = RedisConfig::from_url(url).unwrap_or_else(|e| panic!("{url}: {e}"));
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    parsed.config
}

async fn works(url: &str) {
    let mut conn = RedisConnection::connect(&config(url).await)
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let () = conn.set("rq:probe", "1").await.unwrap();
    let value: String = conn.get("rq:probe").await.unwrap();
    assert_eq!(value, "1");
}

async fn fails(url: &str) -> ConnectError {
    let started = Instant::now();
    let err = RedisConnection::connect(&config(url).await)
        .await
        .expect_err(url);
    eprintln!("{url}: refused in {:?}: {err}", started.elapsed());
    err
}

struct TlsSetup {
    ca: TestCa,
    server: RedisServer,
}

fn tls_server(names: &[&str], auth_clients: bool) -> TlsSetup {
    let ca = TestCa::new("rqs test CA");
    let cert = ca.server("server", names);
    let server = RedisServer::start_with(ServerOptions::default().tls(TlsServer {
        cert,
        ca: ca.ca_file(),
        auth_clients,
    }));
    TlsSetup { ca, server }
}

impl TlsSetup {
    fn url(&self, host: &str, query: &str) -> String {
        format!(
            "rediss://{host}:{}/0?{query}",
            self.server.tls_port().unwrap()
        )
    }

    fn ca(&self) -> String {
        format!("ssl_ca_certs={}", self.ca.ca_file().display())
    }
}

#[tokio::test]
async fn tls_verified_by_the_ca_and_the_host_name() {
    let setup = tls_server(&["localhost", "127.0.0.1"], false);
    works(&setup.url("127.0.0.1", &setup.ca())).await;
    works(&setup.url("localhost", &setup.ca())).await;
    works(&setup.url(
        "127.0.0.1",
        &format!("{}&ssl_cert_reqs=required", setup.ca()),
    ))
    .await;
    works(&setup.url(
        "127.0.0.1",
        &format!("{}&ssl_cert_reqs=optional", setup.ca()),
    ))
    .await;
}

#[tokio::test]
async fn tls_with_a_certificate_for_another_name() {
    let setup = tls_server(&["redis.internal.example"], false);
    let err = fails(&setup.url("127.0.0.1", &setup.ca())).await;
    let text = err.to_string();
    assert!(matches!(err, ConnectError::Tls { .. }), "{text}");
    assert!(text.contains("does not name the host"), "{text}");
    assert!(text.contains("ssl_check_hostname=false"), "{text}");
    // The CA still vouches for it: without the host name check it is accepted.
    works(&setup.url(
        "127.0.0.1",
        &format!("{}&ssl_check_hostname=false", setup.ca()),
    ))
    .await;
}

#[tokio::test]
async fn tls_without_verification() {
    let setup = tls_server(&["redis.internal.example"], false);
    works(&setup.url("127.0.0.1", "ssl_cert_reqs=none")).await;
}

/// A self-signed certificate (`openssl req -x509 -newkey ec -nodes -days 36500 -subj
/// '/CN=rqs self-signed test' -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1'`): a CA
/// certificate, valid until 2126. Made for this test only.
const SELF_SIGNED: &str = "-----BEGIN CERTIFICATE-----
MIIBsTCCAVegAwIBAgIUR+71SzCgFTFRQp9kYTlOtFpkQ7wwCgYIKoZIzj0EAwIw
HzEdMBsGA1UEAwwUcnFzIHNlbGYtc2lnbmVkIHRlc3QwIBcNMjYxMjA3MTgyMjEz
WhgPMjEyNjExMTMxODIyMTNaMB8xHTAbBgNVBAMMFHJxcyBzZWxmLXNpZ25lZCB0
ZXN0MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEWCgKVrKT00UrL40HN2HTsdvG
50O51nqkuA4+eQ/FVEfgbHS6nLSwW9Hm+EALDxDk51yI/vjX8id2IB01WoTq+qNv
MG0wHQYDVR0OBBYEFOmUzGooSWnLXC6GD17HuimicxZHMB8GA1UdIwQYMBaAFOmU
zGooSWnLXC6GD17HuimicxZHMA8GA1UdEwEB/wQFMAMBAf8wGgYDVR0RBBMwEYIJ
bG9jYWxob3N0hwR/AAABMAoGCCqGSM49BAMCA0gAMEUCIQDfqT3MU3pHkNKvOTg7
FC0nrKcTdlzhiOfJCZuTnP+l6QIgETB/kQIyZqEUET5C42wJcQIb+5e2fxR9X5Jk
PJh+sS4=
-----END CERTIFICATE-----
";

/// The private key of [`SELF_SIGNED`], a throw-away test key.
const SELF_SIGNED_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg3DJbtgzwzerZfaIH
l5m/hsPilov97UPL69na7wYFBrmhRANCAARYKApWspPTRSsvjQc3YdOx28bnQ7nW
eqS4Dj55D8VUR+BsdLqctLBb0eb4QAsPEOTnXIj++NfyJ3YgHTVahOr6
-----END PRIVATE KEY-----
";

/// rustls refuses a CA certificate as the server's own, even when it is the CA given:
/// the error says so in words, not as `Other(OtherError(CaUsedAsEndEntity))`.
#[tokio::test]
async fn a_self_signed_server_certificate_is_explained_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("self-signed.pem");
    let key = dir.path().join("self-signed-key.pem");
    std::fs::write(&cert, SELF_SIGNED).unwrap();
    std::fs::write(&key, SELF_SIGNED_KEY).unwrap();
    let server = RedisServer::start_with(ServerOptions::default().tls(TlsServer {
        cert: rqs_testkit::tls::CertFiles {
            cert: cert.clone(),
            key,
        },
        ca: cert.clone(),
        auth_clients: false,
    }));
    let port = server.tls_port().unwrap();
    let err = fails(&format!(
        "rediss://localhost:{port}/0?ssl_ca_certs={}",
        cert.display()
    ))
    .await;
    let text = err.to_string();
    assert!(matches!(err, ConnectError::Tls { .. }), "{text}");
    assert!(text.contains("is a CA certificate"), "{text}");
    assert!(text.contains("self-signed"), "{text}");
    assert!(!text.contains("OtherError"), "{text}");
    // Unverified, it works.
    works(&format!("rediss://localhost:{port}/0?ssl_cert_reqs=none")).await;
}

/// TLS to a port that speaks plain Redis: the handshake never completes. The whole
/// connection, retries included, is bounded by the connect timeout (5 s by default; it
/// took 15 to 21 s), and the error says what is likely wrong.
#[tokio::test]
async fn tls_to_a_plaintext_port_fails_within_the_connect_timeout() {
    let server = RedisServer::start();
    let url = format!("rediss://127.0.0.1:{}/0?ssl_cert_reqs=none", server.port());
    let started = Instant::now();
    let err = fails(&url).await;
    let elapsed = started.elapsed();
    let text = err.to_string();
    assert!(matches!(err, ConnectError::Tls { .. }), "{text}");
    assert!(text.contains("is this the server's TLS port?"), "{text}");
    assert!(text.contains("5 s"), "{text}");
    // 5 s and a little; three attempts of 5 s each were 15 s at least.
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_clear_error_within_seconds() {
    let setup = tls_server(&["localhost", "127.0.0.1"], false);
    let other = TestCa::new("some other CA");
    let url = setup.url(
        "127.0.0.1",
        &format!("ssl_ca_certs={}", other.ca_file().display()),
    );
    let started = Instant::now();
    let err = fails(&url).await;
    let text = err.to_string();
    assert!(matches!(err, ConnectError::Tls { .. }), "{text}");
    assert!(text.contains("not signed by a trusted CA"), "{text}");
    assert!(text.contains("UnknownIssuer"), "{text}");
    // "Within seconds": the connect timeout, not a retry loop, bounds it.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn mutual_tls() {
    let setup = tls_server(&["localhost", "127.0.0.1"], true);
    let client = setup.ca.client("client");
    let with_cert = format!(
        "{}&ssl_certfile={}&ssl_keyfile={}",
        setup.ca(),
        client.cert.display(),
        client.key.display()
    );
    works(&setup.url("127.0.0.1", &with_cert)).await;
    // A client certificate from a CA the server does not trust, and none at all.
    let stranger_ca = TestCa::new("stranger CA");
    let stranger = stranger_ca.client("stranger");
    let wrong = format!(
        "{}&ssl_certfile={}&ssl_keyfile={}",
        setup.ca(),
        stranger.cert.display(),
        stranger.key.display()
    );
    for url in [
        setup.url("127.0.0.1", &wrong),
        setup.url("127.0.0.1", &setup.ca()),
    ] {
        let err = fails(&url).await;
        assert!(matches!(err, ConnectError::Tls { .. }), "{err}");
    }
}

#[tokio::test]
async fn unreadable_certificate_files_are_settings_errors() {
    let setup = tls_server(&["127.0.0.1"], false);
    let err = fails(&setup.url("127.0.0.1", "ssl_ca_certs=/nonexistent/ca.pem")).await;
    assert!(err.is_settings(), "{err}");
    assert!(
        err.to_string()
            .contains("cannot read ssl_ca_certs /nonexistent/ca.pem"),
        "{err}"
    );
}

/// An empty or non-PEM certificate file is read fine but holds nothing: it is bad
/// settings that name the file, found before connecting (it used to give an empty trust
/// store, and an "untrusted certificate" failure later).
#[tokio::test]
async fn empty_or_non_pem_certificate_files_are_settings_errors() {
    let setup = tls_server(&["127.0.0.1"], false);
    let dir = tempfile::tempdir().unwrap();
    let client = setup.ca.client("client");
    let files = [
        ("empty.pem", ""),
        ("text.pem", "not a certificate\n"),
        ("der.pem", "0\u{82}\u{1}\n"),
        (
            "broken.pem",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        ),
    ];
    for (name, content) in files {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let path = path.display();
        for (query, param) in [
            (format!("ssl_ca_certs={path}"), "ssl_ca_certs"),
            (
                format!(
                    "{}&ssl_certfile={path}&ssl_keyfile={}",
                    setup.ca(),
                    client.key.display()
                ),
                "ssl_certfile",
            ),
            (
                format!(
                    "{}&ssl_certfile={}&ssl_keyfile={path}",
                    setup.ca(),
                    client.cert.display()
                ),
                "ssl_keyfile",
            ),
        ] {
            let err = fails(&setup.url("127.0.0.1", &query)).await;
            assert!(err.is_settings(), "{name} as {param}: {err}");
            assert!(
                err.to_string().contains(&format!("{param} {path}")),
                "{name} as {param}: {err}"
            );
        }
    }
}

async fn admin(server: &RedisServer) -> redis::aio::ConnectionManager {
    server.connection().await
}

#[tokio::test]
async fn passwords_and_acl_users() {
    let server = RedisServer::start();
    let mut admin = admin(&server).await;
    let () = redis::cmd("ACL")
        .arg(&["SETUSER", "rq", "on", ">p@ss:w0rd", "~rq:*", "+@all"])
        .query_async(&mut admin)
        .await
        .unwrap();
    let port = server.port();
    works(&format!("redis://rq:p%40ss:w0rd@127.0.0.1:{port}/0")).await;
    works(&format!(
        "redis://127.0.0.1:{port}/0?username=rq&password=p%40ss:w0rd"
    ))
    .await;
    let err = fails(&format!("redis://rq:wrong@127.0.0.1:{port}/0")).await;
    let text = err.to_string();
    assert!(
        matches!(err, ConnectError::AuthenticationFailed { .. }),
        "{text}"
    );
    assert!(
        text.contains("refused the password of user \"rq\""),
        "{text}"
    );
    assert!(
        !text.contains("wrong"),
        "the password is never shown: {text}"
    );

    // A default user with a password: none given is NOAUTH.
    let () = redis::cmd("CONFIG")
        .arg(&["SET", "requirepass", "hunter2"])
        .query_async(&mut admin)
        .await
        .unwrap();
    let err = fails(&format!("redis://127.0.0.1:{port}/0")).await;
    assert!(
        matches!(err, ConnectError::PasswordRequired { .. }),
        "{err}"
    );
    works(&format!("redis://:hunter2@127.0.0.1:{port}/0")).await;
    let err = fails(&format!("redis://:hunter3@127.0.0.1:{port}/0")).await;
    assert!(!err.to_string().contains("hunter"), "{err}");
}

#[tokio::test]
async fn a_unix_socket_with_password_and_db_in_the_query() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("redis.sock");
    let socket_arg = socket.to_str().unwrap().to_owned();
    let server = RedisServer::start_with(ServerOptions::default().args(&[
        "--unixsocket",
        &socket_arg,
        "--requirepass",
        "s3cret",
    ]));
    let url = format!("unix://{}?db=4&password=s3cret", socket.display());
    let mut conn = RedisConnection::connect(&config(&url).await)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let () = conn.set("rq:in-db-4", "1").await.unwrap();
    let mut check = rqs_redis::connect(
        format!("redis://:s3cret@127.0.0.1:{}/4", server.port()),
        &Default::default(),
    )
    .await
    .unwrap();
    let found: Option<String> = check.get("rq:in-db-4").await.unwrap();
    assert_eq!(found.as_deref(), Some("1"), "written to db 4");
}

#[tokio::test]
async fn a_replica_is_refused_with_a_clear_error() {
    let master = RedisServer::start();
    let replica = RedisServer::start_with(ServerOptions::default().replica_of(master.port()));
    let err = fails(&replica.url()).await;
    let text = err.to_string();
    assert!(
        matches!(err, ConnectError::ReadOnlyReplica { .. }),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "is a read-only replica of 127.0.0.1:{}",
            master.port()
        )),
        "{text}"
    );
}

/// A command the ACL refuses names the command and the key, whether it is refused at the
/// top level or inside a Lua script, and whatever the user may read of `ACL LOG`.
#[tokio::test]
async fn permission_errors_name_the_command_and_the_key() {
    use rqs_lock::LockProvider;
    use rqs_store::{JobAdmin, JobStore};

    let server = RedisServer::start();
    let mut admin = admin(&server).await;
    // May touch the schedule and job hashes, not the queues; no ACL LOG either.
    let () = redis::cmd("ACL")
        .arg(&[
            "SETUSER",
            "narrow",
            "on",
            ">pw",
            "~rq:scheduler*",
            "~rq:job:*",
            "~rq:queues",
            "~rq:rqs:*",
            "+@all",
            "-@dangerous",
        ])
        .query_async(&mut admin)
        .await
        .unwrap();
    let () = redis::cmd("ACL")
        .arg(&["SETUSER", "nolock", "on", ">pw", "~rq:job:*", "+@all"])
        .query_async(&mut admin)
        .await
        .unwrap();
    let url = |user: &str| format!("redis://{user}:pw@127.0.0.1:{}/0", server.port());

    let conn = RedisConnection::connect(&config(&url("narrow")).await)
        .await
        .unwrap();
    let store = rqs_redis::RedisJobStore::new(conn.clone());
    let job = rqs_testkit::client_job("default");
    store.schedule(&"j1".into(), &job, 1.0).await.unwrap();
    let due = store.due(10.0, 0, 10).await.unwrap();
    let batch: Vec<_> = due
        .iter()
        .map(|j| {
            let sink = rqs_sink::RqQueueSink::new();
            let now = chrono::Utc::now();
            rqs_core::plan::decide(j, now, &rqs_core::plan::LocalZone::System, |j| {
                rqs_sink::QueueSink::prepare(&sink, j, now)
            })
            .0
        })
        .collect();
    let err = store.commit(&batch).await.unwrap_err();
    let text = err.to_string();
    eprintln!("{text}");
    assert!(
        matches!(err, rqs_core::BackendError::PermissionDenied(_)),
        "{text}"
    );
    assert!(text.contains("rq:queue:default"), "names the key: {text}");
    assert!(text.contains("TYPE"), "names the command: {text}");
    assert!(
        text.contains("Applies a batch of hand-offs"),
        "names the script: {text}"
    );
    assert!(!text.contains(" script: "), "no digest: {text}");
    assert_eq!(store.count(None).await.unwrap(), 1, "nothing moved");

    // Refused at the top level: a plain command, and a script's declared key.
    let conn = RedisConnection::connect(&config(&url("nolock")).await)
        .await
        .unwrap();
    let lock = rqs_redis::RedisLockProvider::new(conn.clone());
    let err = lock
        .acquire("t", Duration::from_secs(5))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("command SET, key rq:scheduler_lock"), "{err}");
    let err = lock
        .renew("t", Duration::from_secs(5))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("EVALSHA of the script"), "{err}");
    assert!(err.contains("keys rq:scheduler_lock"), "{err}");
}

/// Redis stalls (`CLIENT PAUSE`) longer than the response timeout: calls time out, and
/// after two timeouts in a row the connection is replaced, so it serves again as soon as
/// Redis does.
#[tokio::test]
async fn a_stalled_server_times_out_and_the_connection_recovers() {
    let server = RedisServer::start();
    let mut conn =
        RedisConnection::connect(&config(&format!("{}?socket_timeout=0.3", server.url())).await)
            .await
            .unwrap();
    let mut admin = admin(&server).await;
    // The pause is in place once its reply is back: no guess at when the stall begins.
    let () = redis::cmd("CLIENT")
        .arg(&["PAUSE", "4000", "ALL"])
        .query_async(&mut admin)
        .await
        .unwrap();
    let mut timeouts = 0;
    let started = Instant::now();
    loop {
        match redis::cmd("PING").query_async::<String>(&mut conn).await {
            Ok(_) => break,
            Err(e) => {
                assert!(e.is_timeout(), "{e}");
                timeouts += 1;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never recovered"
        );
    }
    eprintln!(
        "{timeouts} timeouts, serving again {:?} after the stall began",
        started.elapsed()
    );
    assert!(timeouts >= 2, "the stall was seen: {timeouts} timeouts");
    let () = conn.set("rq:after", "1").await.unwrap();
}

/// The master through a sentinel that wants a password of its own; a wrong sentinel
/// password or an unknown master name is a clear error that shows no password.
#[tokio::test]
async fn sentinels_with_a_password_name_the_master() {
    use rqs_redis::{Secret, SentinelOptions};
    use rqs_testkit::RedisSentinel;

    let master = RedisServer::start_with(ServerOptions::default().args(&["--requirepass", "M-pw"]));
    let sentinel = RedisSentinel::start_with(
        "main",
        master.port(),
        1,
        Duration::from_secs(5),
        &["sentinel auth-pass main M-pw", "requirepass S-pw"],
    );
    let nodes = vec![("127.0.0.1".to_owned(), sentinel.port())];
    let config = |name: &str, password: &str| {
        RedisConfig::tcp("unused", 1)
            .db(2)
            .password(Some(Secret::new("M-pw")))
            .sentinel(Some(
                SentinelOptions::new(nodes.clone(), name).password(Some(Secret::new(password))),
            ))
    };
    let mut conn = RedisConnection::connect(&config("main", "S-pw"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        conn.address(),
        rqs_redis::Address::Tcp {
            host: "127.0.0.1".into(),
            port: master.port()
        }
    );
    let () = conn.set("rq:via-sentinel", "1").await.unwrap();
    let mut check = rqs_redis::connect(
        format!("redis://:M-pw@127.0.0.1:{}/2", master.port()),
        &Default::default(),
    )
    .await
    .unwrap();
    let found: Option<String> = check.get("rq:via-sentinel").await.unwrap();
    assert_eq!(found.as_deref(), Some("1"), "db 2 of the master");

    for (name, password) in [("main", "wrong-S-pw"), ("nosuch", "S-pw")] {
        let err = RedisConnection::connect(&config(name, password))
            .await
            .unwrap_err();
        let text = err.to_string();
        eprintln!("{text}");
        assert!(matches!(err, ConnectError::NoMaster { .. }), "{text}");
        assert!(
            text.contains(&format!("127.0.0.1:{}", sentinel.port())),
            "{text}"
        );
        assert!(!text.contains("S-pw") && !text.contains("M-pw"), "{text}");
    }
}
