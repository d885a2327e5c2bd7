//! A DNS server of the test's own, for the image's files under chroot: glibc's built-in
//! `dns` source of the static binary, as a cluster's DNS serves a Service's name.

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// A DNS server on a loopback address that answers for one name (A: 127.0.0.1), as a
/// cluster's DNS answers for a Service, and refuses every other name (NXDOMAIN).
pub(super) struct Dns {
    addr: Ipv4Addr,
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Dns {
    pub(super) const NAME: &str = "redis.rqs-image.test";

    /// Listens on port 53 (resolv.conf names no port) of the first free address among
    /// 127.0.0.2-127.0.0.40, so that test runs side by side do not collide.
    pub(super) fn start() -> Self {
        let (socket, addr) = (2..=40)
            .map(|last| Ipv4Addr::new(127, 0, 0, last))
            .find_map(|ip| {
                UdpSocket::bind(SocketAddrV4::new(ip, 53))
                    .ok()
                    .map(|s| (s, ip))
            })
            .expect("no loopback address 127.0.0.2-40 has port 53 free for the test's DNS");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicUsize::new(0));
        let (stopping, counting) = (stop.clone(), answered.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while !stopping.load(Ordering::Relaxed) {
                let Ok((n, peer)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                if let Some((reply, answered)) = Self::reply(&buf[..n]) {
                    if answered {
                        counting.fetch_add(1, Ordering::Relaxed);
                    }
                    let _ = socket.send_to(&reply, peer);
                }
            }
        });
        Self {
            addr,
            stop,
            answered,
            thread: Some(thread),
        }
    }

    /// The reply to one query: the question repeated, and an A record for `NAME`; and
    /// whether it holds that record.
    fn reply(query: &[u8]) -> Option<(Vec<u8>, bool)> {
        let mut at = 12;
        let mut labels = Vec::new();
        while *query.get(at)? != 0 {
            let len = usize::from(query[at]);
            labels.push(String::from_utf8_lossy(query.get(at + 1..at + 1 + len)?).into_owned());
            at += 1 + len;
        }
        let end = at + 5;
        let qtype = u16::from_be_bytes([*query.get(at + 1)?, *query.get(at + 2)?]);
        let known = labels.join(".").eq_ignore_ascii_case(Self::NAME);
        let answer = known && qtype == 1;
        let mut reply = query.get(..2)?.to_vec();
        // A response to a recursive query; NXDOMAIN for any other name.
        reply.extend_from_slice(&[0x81, if known { 0x80 } else { 0x83 }]);
        reply.extend_from_slice(&[0, 1, 0, u8::from(answer), 0, 0, 0, 0]);
        reply.extend_from_slice(query.get(12..end)?);
        if answer {
            // The name (a pointer to the question), A, IN, TTL 60, 127.0.0.1.
            reply.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]);
        }
        Some((reply, answer))
    }

    /// The address to name in resolv.conf.
    pub(super) fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    pub(super) fn answered(&self) -> usize {
        self.answered.load(Ordering::Relaxed)
    }
}

impl Drop for Dns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
