//! A network namespace joined to the test's own by a veth pair, so a test can run a
//! server behind a link it cuts and restores: a network partition on one machine.
//!
//! Needs root (or `CAP_NET_ADMIN`) and `ip` from iproute2. Everything is created under
//! names unique to this process and removed on drop.

use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// A network namespace with a veth link to the host namespace: the host end is
/// [`host_ip`](Self::host_ip), the namespace end [`ip`](Self::ip).
#[derive(Debug)]
pub struct NetNamespace {
    name: String,
    host_if: String,
    ns_if: String,
    subnet: u8,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `ip` (iproute2): {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl NetNamespace {
    /// Creates the namespace, the veth pair and their addresses (a /30 in
    /// 10.213.0.0/16, different for each namespace of this process).
    ///
    /// # Errors
    /// The failing `ip` command and its message (no permission, no iproute2...).
    pub fn create() -> Result<Self, String> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        // Interface names are at most 15 bytes.
        let tag = format!("{:x}{n:x}", pid % 0xfffff);
        let ns = Self {
            name: format!("rqs-test-{pid}-{n}"),
            host_if: format!("rqh{tag}"),
            ns_if: format!("rqn{tag}"),
            subnet: ((pid.wrapping_mul(7).wrapping_add(n)) % 250) as u8,
        };
        ns.set_up().inspect_err(|_| ns.tear_down())?;
        Ok(ns)
    }

    fn set_up(&self) -> Result<(), String> {
        let (host, inner) = (self.host_ip().to_string(), self.ip().to_string());
        ip(&["netns", "add", &self.name])?;
        ip(&[
            "link",
            "add",
            &self.host_if,
            "type",
            "veth",
            "peer",
            "name",
            &self.ns_if,
        ])?;
        ip(&["link", "set", &self.ns_if, "netns", &self.name])?;
        ip(&["addr", "add", &format!("{host}/30"), "dev", &self.host_if])?;
        ip(&["link", "set", &self.host_if, "up"])?;
        self.in_ns(&["addr", "add", &format!("{inner}/30"), "dev", &self.ns_if])?;
        self.in_ns(&["link", "set", &self.ns_if, "up"])?;
        self.in_ns(&["link", "set", "lo", "up"])
    }

    fn in_ns(&self, args: &[&str]) -> Result<(), String> {
        let mut all = vec!["netns", "exec", &self.name, "ip"];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// The namespace's name, for `ip netns exec`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The address inside the namespace.
    pub fn ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 213, self.subnet, 2)
    }

    /// The address of the host end.
    pub fn host_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 213, self.subnet, 1)
    }

    /// Cuts the link: the namespace end goes down, so packets are dropped silently (the
    /// host keeps its route, as across a real partition; nobody sends a reset).
    ///
    /// # Errors
    /// The failing `ip` command.
    pub fn cut(&self) -> Result<(), String> {
        self.in_ns(&["link", "set", &self.ns_if, "down"])
    }

    /// Restores the link.
    ///
    /// # Errors
    /// The failing `ip` command.
    pub fn restore(&self) -> Result<(), String> {
        self.in_ns(&["link", "set", &self.ns_if, "up"])
    }

    fn tear_down(&self) {
        let _ = ip(&["link", "del", &self.host_if]);
        let _ = ip(&["netns", "del", &self.name]);
    }
}

impl Drop for NetNamespace {
    fn drop(&mut self) {
        self.tear_down();
    }
}
