//! The container image (`Containerfile`) and the Kubernetes manifests
//! (`deploy/kubernetes/`).
//!
//! The image is built with podman from the statically linked `rqs` (the `image` profile,
//! as `cargo xtask image` builds it) into a private, throwaway podman store. Containers
//! cannot run here (the sandbox refuses setrlimit), so the image is checked from outside:
//! its configuration, every file of its one layer, and the binary taken out of it, which
//! must have no interpreter and no library to load, and must run: `--version`, a burst
//! against a private Redis, and, with nothing but the image's own files under a chroot,
//! as the image's user.
//!
//! The manifests are validated against the Kubernetes schemas of every version from 1.27
//! on (`kubernetes-validate` from PyPI bundles them, so this works offline; it is pinned
//! in a virtualenv under `target/rqs-python/`), checked against each other and against
//! rqs (ports, probes, names, the Secret, the grace period), and the Deployment's command
//! line is run as two pods would run it.

mod dns;
mod kubernetes;

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Instant;

use rqs_testkit::tls::TestCa;
use rqs_testkit::{RedisServer, ServerOptions, TlsServer};
use serde_json::Value;

use self::dns::Dns;
use crate::support::root;

/// The static build's flags: those of `cargo xtask image` (xtask/src/image.rs), so that
/// the binary `cargo xtask test` built before the tests is found fresh here.
const STATIC_RUSTFLAGS: &str =
    "-C target-feature=+crt-static --cfg getrandom_backend=\"linux_getrandom\"";

const PODMAN_HINT: &str = "install Debian's podman (apt-get install -y --no-install-recommends \
     podman), or run the README's test command (`cargo xtask test`), which installs it";

/// The tag the test gives its image, in a podman store of its own.
const TAG: &str = "localhost/rqs-image-test:latest";

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn output(cmd: &mut Command, what: &str) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot {what}: {e} ({cmd:?})"));
    assert!(
        out.status.success(),
        "cannot {what}: {cmd:?} failed ({})\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A `KEY = "value"` line of Cargo.toml's `[workspace.package]`.
fn workspace_field(key: &str) -> String {
    let manifest = read("Cargo.toml");
    let package = manifest.split("[workspace.package]").nth(1).unwrap();
    package
        .lines()
        .take_while(|l| !l.starts_with('['))
        .find_map(|l| l.strip_prefix(&format!("{key} = \"")))
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or_else(|| panic!("no {key} in [workspace.package]"))
        .to_owned()
}

fn host_triple() -> String {
    let out = output(Command::new("rustc").arg("-vV"), "ask rustc for its host");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names its host")
        .to_owned()
}

/// The statically linked `rqs` of the `image` profile, built on first use (a no-op after
/// `cargo xtask test`, which builds it before the tests).
fn static_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let xtask = read("xtask/src/image.rs");
        assert!(
            xtask.contains(&format!("{STATIC_RUSTFLAGS:?}")),
            "xtask/src/image.rs builds with other flags than {STATIC_RUSTFLAGS:?}: keep them \
             the same, or every run rebuilds"
        );
        let triple = host_triple();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        output(
            Command::new(cargo)
                .args(["build", "--quiet", "--locked", "--profile", "image"])
                .args(["--target", &triple, "-p", "rqs", "--bin", "rqs"])
                .env("RUSTFLAGS", STATIC_RUSTFLAGS)
                .env_remove("CARGO_ENCODED_RUSTFLAGS")
                .current_dir(root()),
            "build the static rqs",
        );
        // target/debug/deps/<this test> → target
        let exe = std::env::current_exe().unwrap();
        let target = exe.ancestors().nth(3).unwrap();
        let bin = target.join(&triple).join("image").join("rqs");
        assert!(bin.is_file(), "no static rqs at {}", bin.display());
        bin
    })
}

/// The image's user, `UID:GID`, as the Containerfile's `USER` line gives it.
fn containerfile_user() -> (u32, u32) {
    let file = read("Containerfile");
    let user = file
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER line");
    let (uid, gid) = user.trim().split_once(':').expect("USER UID:GID, numeric");
    (uid.parse().unwrap(), gid.parse().unwrap())
}

/// podman with a store of its own in a temporary directory, so the test neither needs
/// nor touches the machine's images (vfs: no mounts to clean up).
struct Podman {
    dir: tempfile::TempDir,
}

impl Podman {
    fn new() -> Self {
        let probe = Command::new("podman").arg("--version").output();
        assert!(
            probe.as_ref().is_ok_and(|o| o.status.success()),
            "podman does not run ({probe:?}): {PODMAN_HINT}"
        );
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn run(&self, args: &[&str], what: &str) -> Output {
        let store = self.dir.path();
        output(
            Command::new("podman")
                .arg("--root")
                .arg(store.join("root"))
                .arg("--runroot")
                .arg(store.join("run"))
                .args(["--storage-driver", "vfs", "--events-backend", "none"])
                .args(args),
            what,
        )
    }
}

/// A built image, saved and unpacked: its configuration, its layer's listing and its
/// files.
struct Image {
    dir: tempfile::TempDir,
    /// The OCI image configuration (`config.User`, `config.Entrypoint`...).
    config: Value,
    /// `tar -tv --numeric-owner` of each layer.
    listings: Vec<String>,
    /// The layers as stored (compressed), in bytes.
    compressed: u64,
}

impl Image {
    fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    fn config(&self, key: &str) -> &Value {
        &self.config["config"][key]
    }
}

fn blob(oci: &Path, digest: &Value) -> PathBuf {
    let digest = digest.as_str().expect("a digest");
    let hex = digest.strip_prefix("sha256:").expect("a sha256 digest");
    oci.join("blobs/sha256").join(hex)
}

fn json_file(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Builds the Containerfile's image from the static binary and unpacks it.
fn build_image() -> Image {
    let podman = Podman::new();
    let bin = static_binary();
    let triple = host_triple();
    let dir = tempfile::tempdir().unwrap();
    // The build context holds the binary where the Containerfile looks for it, and
    // nothing else (what .containerignore leaves of the repository).
    let context = dir.path().join("context");
    let staged = context.join("target").join(&triple).join("image");
    std::fs::create_dir_all(&staged).unwrap();
    std::fs::copy(bin, staged.join("rqs")).unwrap();
    let containerfile = root().join("Containerfile");
    let started = Instant::now();
    podman.run(
        &[
            "build",
            "--quiet",
            "--tag",
            TAG,
            "--build-arg",
            &format!("TARGET={triple}"),
            "--file",
            containerfile.to_str().unwrap(),
            context.to_str().unwrap(),
        ],
        "build the image",
    );
    let archive = dir.path().join("image.tar");
    podman.run(
        &[
            "save",
            "--quiet",
            "--format",
            "oci-archive",
            "--output",
            archive.to_str().unwrap(),
            TAG,
        ],
        "save the image",
    );
    eprintln!("image: built and saved in {:?}", started.elapsed());
    let oci = dir.path().join("oci");
    std::fs::create_dir_all(&oci).unwrap();
    output(
        Command::new("tar")
            .arg("-xf")
            .arg(&archive)
            .arg("-C")
            .arg(&oci),
        "unpack the saved image",
    );
    let index = json_file(&oci.join("index.json"));
    let manifests = index["manifests"].as_array().expect("manifests");
    assert_eq!(manifests.len(), 1, "{index}");
    let manifest = json_file(&blob(&oci, &manifests[0]["digest"]));
    let config = json_file(&blob(&oci, &manifest["config"]["digest"]));
    let rootfs = dir.path().join("rootfs");
    std::fs::create_dir_all(&rootfs).unwrap();
    let mut listings = Vec::new();
    let mut compressed = 0;
    for layer in manifest["layers"].as_array().expect("layers") {
        let path = blob(&oci, &layer["digest"]);
        compressed += std::fs::metadata(&path).unwrap().len();
        // GNU tar recognises the compression itself.
        let listing = output(
            Command::new("tar")
                .args(["--numeric-owner", "-tvf"])
                .arg(&path),
            "list a layer",
        );
        listings.push(String::from_utf8(listing.stdout).unwrap());
        output(
            Command::new("tar")
                .args(["--numeric-owner", "-xpf"])
                .arg(&path)
                .arg("-C")
                .arg(&rootfs),
            "unpack a layer",
        );
    }
    Image {
        dir,
        config,
        listings,
        compressed,
    }
}

/// Why an ELF executable would need anything from the machine it runs on: a program
/// interpreter (the dynamic loader) or `DT_NEEDED` libraries. Empty for a static binary.
fn dynamic_needs(elf: &[u8]) -> Vec<String> {
    assert_eq!(&elf[..4], b"\x7fELF", "not an ELF file");
    assert_eq!(elf[4], 2, "not a 64-bit ELF file");
    assert_eq!(elf[5], 1, "not a little-endian ELF file");
    let u16_at = |at: usize| u16::from_le_bytes(elf[at..at + 2].try_into().unwrap());
    let u32_at = |at: usize| u32::from_le_bytes(elf[at..at + 4].try_into().unwrap());
    let u64_at = |at: usize| u64::from_le_bytes(elf[at..at + 8].try_into().unwrap());
    let phoff = u64_at(0x20) as usize;
    let phentsize = usize::from(u16_at(0x36));
    let phnum = usize::from(u16_at(0x38));
    let mut needs = Vec::new();
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        let (offset, size) = (u64_at(ph + 8) as usize, u64_at(ph + 32) as usize);
        match u32_at(ph) {
            // PT_INTERP
            3 => needs.push(format!(
                "interpreter {}",
                String::from_utf8_lossy(&elf[offset..offset + size]).trim_end_matches('\0')
            )),
            // PT_DYNAMIC: (tag, value) pairs up to DT_NULL; DT_NEEDED is 1.
            2 => {
                for entry in (offset..offset + size).step_by(16) {
                    match u64_at(entry) {
                        0 => break,
                        1 => needs.push("a DT_NEEDED library".to_owned()),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    needs
}

/// The process runs as root (the chroot needs it, as CI has it).
fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn which(program: &str) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{program} is not on PATH"))
}

const PASSWORD: &str = "Image-Test-Pw";

/// A private Redis that wants a password, and a file holding it.
fn redis_with_password() -> (RedisServer, tempfile::NamedTempFile) {
    let server =
        RedisServer::start_with(ServerOptions::default().args(&["--requirepass", PASSWORD]));
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), format!("{PASSWORD}\n")).unwrap();
    (server, file)
}

/// The ids in `rq:queue:<name>` of `server`.
fn queued(server: &RedisServer, name: &str) -> Vec<String> {
    let url = format!("redis://:{PASSWORD}@127.0.0.1:{}/0", server.port());
    let mut conn = redis::Client::open(url)
        .unwrap()
        .get_connection()
        .expect("connect to the test's Redis");
    redis::cmd("LRANGE")
        .arg(format!("rq:queue:{name}"))
        .arg(0)
        .arg(-1)
        .query(&mut conn)
        .unwrap()
}

/// Runs an rqs command line with `args` added, without the caller's `RQ_REDIS_*`
/// settings: its exit code and everything it printed.
fn rqs_with(cmd: &mut Command, args: &[&str]) -> (i32, String) {
    for (var, _) in std::env::vars_os() {
        if var.to_string_lossy().starts_with("RQ_REDIS_") {
            cmd.env_remove(var);
        }
    }
    let out = cmd
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("cannot run rqs");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Schedules a job due long ago with `rqs schedule`, runs `rqs --burst` and checks that
/// the burst moved it, both through `url` (whose host is `localhost`, which the static
/// binary resolves with glibc's own `files` source, /etc/hosts) with the password from a
/// file.
fn schedule_and_burst(
    rqs: &dyn Fn() -> Command,
    url: &str,
    password_file: &Path,
    server: &RedisServer,
) {
    let password_file = password_file.to_str().unwrap();
    let connection = ["-u", url, "--password-file", password_file];
    let (code, out) = rqs_with(
        &mut rqs(),
        &[
            &["schedule"][..],
            &connection,
            &["--at", "2000-01-01T00:00:00Z", "--id", "image-job"],
            &["--queue", "image", "os.getcwd"],
        ]
        .concat(),
    );
    assert_eq!(code, 0, "rqs schedule: {out}");
    assert_eq!(out.trim(), "image-job");
    let (code, out) = rqs_with(&mut rqs(), &[&["--burst"][..], &connection].concat());
    assert_eq!(code, 0, "rqs --burst: {out}");
    assert!(out.contains("burst done"), "{out}");
    assert_eq!(queued(server, "image"), ["image-job"], "{out}");
}

#[test]
fn the_image_holds_the_static_binary_alone_and_runs_as_a_user() {
    let image = build_image();
    let version = workspace_field("version");

    // The configuration: the binary as the entry point, `run` with the metrics server on
    // every address of the container, a numeric user that is not root, no shell.
    let (uid, gid) = containerfile_user();
    assert_ne!(uid, 0, "the image must not run as root");
    assert_eq!(image.config("User"), &format!("{uid}:{gid}"));
    assert_eq!(image.config("Entrypoint"), &serde_json::json!(["rqs"]));
    assert_eq!(
        image.config("Cmd"),
        &serde_json::json!(["run", "--metrics-addr", "0.0.0.0:12187"])
    );
    assert_eq!(
        image.config("Env"),
        &serde_json::json!(["PATH=/usr/local/bin"])
    );
    assert!(
        image.config("ExposedPorts").get("12187/tcp").is_some(),
        "{}",
        image.config
    );
    assert_eq!(image.config("StopSignal"), "SIGTERM");
    assert_eq!(image.config["os"], "linux");
    let labels = image.config("Labels");
    for (label, want) in [
        ("version", version.clone()),
        ("licenses", workspace_field("license")),
        ("source", workspace_field("repository")),
    ] {
        assert_eq!(
            labels[format!("org.opencontainers.image.{label}")],
            want.as_str(),
            "label {label}: {labels}"
        );
    }

    // One layer with the binary, owned by root and not writable by the user, and nothing
    // else: no shell, no libraries, no /etc.
    assert_eq!(image.listings.len(), 1, "{:?}", image.listings);
    let mut names = BTreeSet::new();
    for line in image.listings[0].lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert!(fields.len() >= 6, "{line}");
        let (mode, owner, name) = (fields[0], fields[1], fields[5]);
        assert_eq!(owner, "0/0", "{line}");
        if name == "usr/local/bin/rqs" {
            assert_eq!(mode, "-rwxr-xr-x", "{line}");
        } else {
            assert!(mode.starts_with('d'), "only directories beside rqs: {line}");
        }
        names.insert(name.trim_end_matches('/').to_owned());
    }
    let want: BTreeSet<String> = ["usr", "usr/local", "usr/local/bin", "usr/local/bin/rqs"]
        .map(str::to_owned)
        .into();
    assert_eq!(names, want, "the image holds more than the binary");

    // The binary in the image is the one built here, and static.
    let inside = image.rootfs().join("usr/local/bin/rqs");
    let bytes = std::fs::read(&inside).unwrap();
    assert!(
        bytes == std::fs::read(static_binary()).unwrap(),
        "the image's rqs is not the static build"
    );
    let needs = dynamic_needs(&bytes);
    assert!(needs.is_empty(), "the image's rqs is not static: {needs:?}");
    let size = bytes.len() as u64;
    eprintln!(
        "image: one layer, {size} bytes unpacked ({:.1} MB), {} bytes compressed ({:.1} MB); \
         rqs is static (no interpreter, no DT_NEEDED)",
        size as f64 / 1e6,
        image.compressed,
        image.compressed as f64 / 1e6
    );
    assert!(
        size < 20_000_000,
        "the image's binary grew to {size} bytes: debug symbols (strip = true in \
         [profile.image])?"
    );

    // Taken out of the image, it runs here.
    let (code, out) = rqs_with(&mut Command::new(&inside), &["--version"]);
    assert_eq!((code, out.trim()), (0, format!("rqs {version}").as_str()));
    let (server, password_file) = redis_with_password();
    let url = format!("redis://localhost:{}/0", server.port());
    schedule_and_burst(
        &|| Command::new(&inside),
        &url,
        password_file.path(),
        &server,
    );
}

#[test]
fn the_images_own_files_run_rqs_as_the_images_user() {
    assert!(
        is_root(),
        "this test runs the image's files under chroot(8) as the image's user, which needs \
         root (CI runs as root): run the suite as root"
    );
    let image = build_image();
    let rootfs = image.rootfs();
    // What a container runtime adds to the image's files: /etc/hosts and
    // /etc/resolv.conf, here naming a DNS server of the test's own that knows one name,
    // as a cluster's DNS knows a Service's. No /dev, /proc or /tmp: rqs needs none of
    // them. The environment is the image's alone (a CA path of this machine's,
    // SSL_CERT_DIR for one, would not exist in a container).
    let dns = Dns::start();
    std::fs::create_dir_all(rootfs.join("etc")).unwrap();
    std::fs::write(
        rootfs.join("etc/hosts"),
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
    )
    .unwrap();
    std::fs::write(
        rootfs.join("etc/resolv.conf"),
        format!("nameserver {}\noptions timeout:1 attempts:2\n", dns.addr()),
    )
    .unwrap();
    // A Redis over TLS, with a password: the image holds no CA certificates, so its CA
    // is mounted (from a ConfigMap or a Secret) and named with ssl_ca_certs.
    let ca = TestCa::new("rqs image test CA");
    let server = RedisServer::start_with(
        ServerOptions::default()
            .tls(TlsServer {
                cert: ca.server("server", &["localhost", "127.0.0.1", Dns::NAME]),
                ca: ca.ca_file(),
                auth_clients: false,
            })
            .args(&["--requirepass", PASSWORD]),
    );
    std::fs::create_dir_all(rootfs.join("etc/rqs/ca")).unwrap();
    std::fs::copy(ca.ca_file(), rootfs.join("etc/rqs/ca/ca.pem")).unwrap();
    // The password where the Deployment mounts its Secret: group-readable by the pod's
    // fsGroup, the image's group.
    let (uid, gid) = containerfile_user();
    let password_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(password_file.path(), format!("{PASSWORD}\n")).unwrap();
    let secret = rootfs.join("etc/rqs/redis");
    std::fs::create_dir_all(&secret).unwrap();
    std::fs::copy(password_file.path(), secret.join("password")).unwrap();
    std::os::unix::fs::chown(secret.join("password"), Some(0), Some(gid)).unwrap();
    std::fs::set_permissions(
        secret.join("password"),
        std::os::unix::fs::PermissionsExt::from_mode(0o440),
    )
    .unwrap();
    // The image's entry point and environment, as its user, with its files only.
    let user = image.config("User").as_str().unwrap().to_owned();
    assert_eq!(user, format!("{uid}:{gid}"));
    let entrypoint: Vec<String> =
        serde_json::from_value(image.config("Entrypoint").clone()).unwrap();
    let env: Vec<String> = serde_json::from_value(image.config("Env").clone()).unwrap();
    let chroot = which("chroot");
    let in_image = || {
        let mut cmd = Command::new(&chroot);
        cmd.env_clear();
        for pair in &env {
            let (k, v) = pair.split_once('=').unwrap();
            cmd.env(k, v);
        }
        cmd.arg(format!("--userspec={user}"))
            .arg(&rootfs)
            .args(&entrypoint);
        cmd
    };
    let (code, out) = rqs_with(&mut in_image(), &["--version"]);
    assert_eq!(code, 0, "{out}");
    let port = server.tls_port().unwrap();
    let password = Path::new("/etc/rqs/redis/password");
    // Without the CA there is nothing to trust: a clear error, exit 1. (`localhost`:
    // glibc's `files` source, /etc/hosts.)
    let (code, out) = rqs_with(
        &mut in_image(),
        &["--burst", "-u", &format!("rediss://localhost:{port}/0")],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("UnknownIssuer"), "{out}");
    // With it, through a name only the DNS server knows: glibc's `dns` source.
    let url = format!(
        "rediss://{}:{port}/0?ssl_ca_certs=/etc/rqs/ca/ca.pem",
        Dns::NAME
    );
    schedule_and_burst(&in_image, &url, password, &server);
    assert!(
        dns.answered() > 0,
        "{} was not resolved through DNS",
        Dns::NAME
    );
}
