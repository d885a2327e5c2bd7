//! `cargo xtask image`: the container image of `Containerfile`, from a statically linked
//! `rqs` built here (the image pulls nothing from any registry).
//!
//! The binary is built with the `image` profile (Cargo.toml) for the host's target with
//! glibc linked in (`+crt-static`), into `target/<triple>/image/rqs`, apart from the debug
//! build. `cargo xtask test` builds it too, before the tests run, so that
//! `tests/ops/image.rs` (which runs the same command) finds it built instead of compiling
//! a release build while timing-sensitive tests run beside it.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The flags of the static build; tests/ops/image.rs builds with exactly these (and
/// checks that this file still holds them), or every test run would rebuild from scratch.
/// `+crt-static` links glibc into the binary. getrandom's `linux_getrandom` backend calls
/// glibc's getrandom(2) wrapper directly: the default looks the function up with
/// dlsym(), which a static binary cannot do, and would fall back to reading
/// /dev/urandom, a file an image may not have.
pub(crate) const STATIC_RUSTFLAGS: &str =
    "-C target-feature=+crt-static --cfg getrandom_backend=\"linux_getrandom\"";

/// The host's target triple (`x86_64-unknown-linux-gnu`...), from `rustc -vV`.
pub(crate) fn host_triple() -> Result<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(rustc)
        .arg("-vV")
        .output()
        .context("cannot run rustc -vV")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .context("rustc -vV names no host")
}

/// Builds the static `rqs` and returns its path.
pub(crate) fn build_binary() -> Result<PathBuf> {
    let triple = host_triple()?;
    crate::run(
        crate::cargo()
            .args(["build", "--locked", "--profile", "image", "--target"])
            .arg(&triple)
            .args(["-p", "rqs", "--bin", "rqs"])
            // RUSTFLAGS reaches only the target's crates with --target, not build scripts
            // or proc macros; CARGO_ENCODED_RUSTFLAGS would take precedence over it.
            .env("RUSTFLAGS", STATIC_RUSTFLAGS)
            .env_remove("CARGO_ENCODED_RUSTFLAGS"),
    )?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| crate::project_root().join("target"), PathBuf::from);
    let bin = target.join(&triple).join("image").join("rqs");
    if !bin.is_file() {
        bail!("the build left no binary at {}", bin.display());
    }
    Ok(bin)
}

fn workspace_version() -> Result<String> {
    let manifest = std::fs::read_to_string(crate::project_root().join("Cargo.toml"))?;
    let package = manifest
        .split("[workspace.package]")
        .nth(1)
        .context("Cargo.toml has no [workspace.package]")?;
    package
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .map(str::to_owned)
        .context("Cargo.toml has no workspace version")
}

/// `cargo xtask image [--tag NAME]`.
pub(crate) fn run(args: &[&str]) -> Result<()> {
    let version = workspace_version()?;
    let mut tag = format!("localhost/rqs:{version}");
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match *arg {
            "--tag" => tag = rest.next().context("--tag needs a name")?.to_string(),
            "-h" | "--help" => {
                println!(
                    "cargo xtask image [--tag NAME]\n\n\
                     Builds a statically linked rqs (profile `image`) and the image of\n\
                     Containerfile from it, tagged NAME (default {tag}), with podman, or\n\
                     with the program named by RQS_CONTAINER_ENGINE (docker)."
                );
                return Ok(());
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    let engine = std::env::var("RQS_CONTAINER_ENGINE").unwrap_or_else(|_| "podman".into());
    if engine == "podman" {
        crate::system::ensure_image_prerequisites()?;
    }
    let bin = build_binary()?;
    let triple = host_triple()?;
    // A build context of its own that holds the binary where Containerfile expects it,
    // wherever CARGO_TARGET_DIR is, and nothing else.
    let context = crate::project_root().join("target/rqs-image/context");
    let _ = std::fs::remove_dir_all(&context);
    let staged = context.join("target").join(&triple).join("image");
    std::fs::create_dir_all(&staged)?;
    std::fs::copy(&bin, staged.join("rqs"))
        .with_context(|| format!("cannot copy {}", bin.display()))?;
    crate::run(
        Command::new(&engine)
            .args(["build", "--tag", &tag, "--build-arg"])
            .arg(format!("TARGET={triple}"))
            .arg("--file")
            .arg(crate::project_root().join("Containerfile"))
            .arg(&context),
    )
    .with_context(|| {
        format!("{engine} build failed (Debian: apt-get install -y --no-install-recommends podman)")
    })?;
    let size = Command::new(&engine)
        .args(["image", "inspect", "--format", "{{.Size}}", &tag])
        .output()?;
    println!(
        "xtask: built {tag}, {} bytes, from {} ({} bytes, static)",
        String::from_utf8_lossy(&size.stdout).trim(),
        bin.display(),
        std::fs::metadata(&bin)?.len()
    );
    Ok(())
}
