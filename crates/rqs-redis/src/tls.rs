//! TLS for `rediss://`: the settings ([`TlsOptions`], redis-py's `ssl_*` parameters), the
//! crypto provider, the certificate files read and checked before a connection is opened,
//! and TLS errors told in plain words.

use std::path::{Path, PathBuf};

use redis::{ClientTlsConfig, TlsCertificates};

/// redis-py's `ssl_cert_reqs`: whether the server's certificate is verified.
///
/// For a client, Python's `CERT_OPTIONAL` means the same as `CERT_REQUIRED` (a server
/// always presents a certificate), so rqs treats the two alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CertReqs {
    /// No verification at all (`ssl_cert_reqs=none`): encryption without authentication.
    None,
    /// Verified, as `Required`.
    Optional,
    /// The certificate must chain to a trusted CA (the default).
    #[default]
    Required,
}

impl CertReqs {
    /// Whether the certificate is verified.
    pub fn verifies(self) -> bool {
        self != CertReqs::None
    }
}

/// TLS settings (`rediss://`), redis-py's `ssl_*` parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsOptions {
    /// `ssl_cert_reqs`.
    pub cert_reqs: CertReqs,
    /// `ssl_ca_certs`: a PEM file of trusted CA certificates; without it, the system's.
    pub ca_certs: Option<PathBuf>,
    /// `ssl_certfile`: the client certificate (PEM), for mutual TLS.
    pub certfile: Option<PathBuf>,
    /// `ssl_keyfile`: the client key (PEM); without it, the key is read from `certfile`.
    pub keyfile: Option<PathBuf>,
    /// `ssl_check_hostname`: whether the certificate must name the host connected to.
    /// Ignored (off) when `cert_reqs` is `None`, as in redis-py.
    pub check_hostname: bool,
}

impl Default for TlsOptions {
    /// redis-py's defaults: a verified certificate for the host name.
    fn default() -> Self {
        Self {
            cert_reqs: CertReqs::Required,
            ca_certs: None,
            certfile: None,
            keyfile: None,
            check_hostname: true,
        }
    }
}

impl TlsOptions {
    /// Whether the host name is checked: only when the certificate is verified at all.
    pub fn checks_hostname(&self) -> bool {
        self.cert_reqs.verifies() && self.check_hostname
    }
}

/// Makes rustls use the `ring` crypto provider, unless the process chose one already.
/// Called by [`RedisConnection::connect`](crate::RedisConnection::connect) for TLS;
/// binaries may call it at start.
pub fn install_tls_provider() {
    // rustls 0.23.48 deprecates its ring provider because ring has no post-quantum key
    // exchange (only the aws-lc-rs provider has X25519MLKEM768), and names no ring
    // replacement within 0.23; 0.24 moves ring to its own crate, rustls-ring. rqs keeps
    // ring on purpose: aws-lc-rs is a large C build. `allow`, not `expect`: the rustls
    // of Cargo.lock may predate the deprecation.
    #[allow(deprecated)]
    let ring = rustls::crypto::ring::default_provider();
    // An error means a provider is installed already: keep it.
    let _ = ring.install_default();
}

/// The CA and client certificates that `tls` names, read and checked. A file that is
/// there but holds no usable PEM is as wrong as a missing one: the error says which.
pub(crate) fn certificates(tls: &TlsOptions) -> Result<TlsCertificates, String> {
    let read = |what: &str, path: &Path| {
        std::fs::read(path).map_err(|e| format!("cannot read {what} {}: {e}", path.display()))
    };
    let root_cert = match tls.ca_certs.as_deref() {
        Some(path) => {
            let pem = read("ssl_ca_certs", path)?;
            check_certificates("ssl_ca_certs", path, &pem)?;
            Some(pem)
        }
        None => None,
    };
    let client_tls = match (&tls.certfile, &tls.keyfile) {
        (Some(cert), key) => {
            let client_cert = read("ssl_certfile", cert)?;
            check_certificates("ssl_certfile", cert, &client_cert)?;
            let client_key = match key {
                Some(key) => read("ssl_keyfile", key)?,
                None => client_cert.clone(),
            };
            let (param, path) = key
                .as_ref()
                .map_or(("ssl_certfile", cert), |k| ("ssl_keyfile", k));
            check_private_key(param, path, &client_key)?;
            Some(ClientTlsConfig {
                client_cert,
                client_key,
            })
        }
        (None, Some(_)) => {
            return Err("ssl_keyfile needs ssl_certfile (the client certificate) too".into());
        }
        (None, None) => None,
    };
    Ok(TlsCertificates {
        client_tls,
        root_cert,
    })
}

/// Checks the content of a certificate file (`ssl_ca_certs`, `ssl_certfile`): one PEM
/// certificate at least, each readable. An empty or non-PEM CA file would otherwise give
/// an empty trust store, and every server certificate would fail later as untrusted.
fn check_certificates(param: &str, path: &Path, pem: &[u8]) -> Result<(), String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let bad = |why: String| format!("{param} {}: {why}", path.display());
    let mut roots = rustls::RootCertStore::empty();
    let mut found = 0;
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| bad(format!("not a readable PEM file ({e})")))?;
        // Read as the TLS library reads a CA: this parses the certificate itself.
        roots
            .add(cert)
            .map_err(|e| bad(format!("a certificate in it cannot be read ({e})")))?;
        found += 1;
    }
    if found == 0 {
        return Err(bad(
            "no PEM certificate in it (a \"-----BEGIN CERTIFICATE-----\" block)".into(),
        ));
    }
    Ok(())
}

/// Checks `ssl_keyfile` (or the certificate file that holds the key): one PEM private key.
fn check_private_key(param: &str, path: &Path, pem: &[u8]) -> Result<(), String> {
    use rustls::pki_types::PrivateKeyDer;
    use rustls::pki_types::pem::PemObject;
    PrivateKeyDer::from_pem_slice(pem).map(drop).map_err(|e| {
        format!(
            "{param} {}: no readable PEM private key in it ({e})",
            path.display()
        )
    })
}

/// The certificate problem in a TLS error, in plain words.
pub(crate) fn tls_problem(text: &str) -> Option<String> {
    let known = [
        (
            "UnknownIssuer",
            "the server's certificate is not signed by a trusted CA (UnknownIssuer): give \
             its CA with ssl_ca_certs=/path/ca.pem, or skip verification with \
             ssl_cert_reqs=none",
        ),
        (
            "not valid for name",
            "the server's certificate does not name the host connected to \
             (NotValidForName): connect by a name the certificate holds, or skip this \
             check with ssl_check_hostname=false",
        ),
        ("Expired", "the server's certificate has expired (Expired)"),
        (
            "NotValidYet",
            "the server's certificate is not valid yet (NotValidYet): check the clocks",
        ),
        (
            "BadSignature",
            "the server's certificate has a bad signature (BadSignature)",
        ),
        ("Revoked", "the server's certificate is revoked (Revoked)"),
        (
            "CertificateRequired",
            "the server requires a client certificate (CertificateRequired): give one \
             with ssl_certfile and ssl_keyfile",
        ),
        (
            "alert: UnknownCA",
            "the server does not trust our client certificate (UnknownCA)",
        ),
        (
            "alert: BadCertificate",
            "the server refused our client certificate (BadCertificate)",
        ),
        (
            "InvalidContentType",
            "the server did not answer with TLS: is this its TLS port?",
        ),
        (
            "CaUsedAsEndEntity",
            "the server's certificate is a CA certificate, as a self-signed one made with \
             `openssl req -x509` is (CaUsedAsEndEntity): give the server a certificate \
             issued by a CA and that CA with ssl_ca_certs, or skip verification with \
             ssl_cert_reqs=none",
        ),
        (
            "UnsupportedCertVersion",
            "the server's certificate is not an X.509 v3 certificate \
             (UnsupportedCertVersion): issue it again as v3",
        ),
    ];
    if let Some((_, words)) = known.iter().find(|(k, _)| text.contains(k)) {
        return Some((*words).to_owned());
    }
    let lower = text.to_ascii_lowercase();
    (lower.contains("invalid peer certificate")
        || lower.contains("received fatal alert")
        || lower.contains("tls"))
    .then(|| format!("TLS error: {}", unwrap_debug(text)))
}

/// `Other(OtherError(Name))`, rustls's debug form of a certificate error it has no
/// variant for, as `Name`.
fn unwrap_debug(text: &str) -> String {
    let mut text = text.to_owned();
    for wrapper in ["Other(OtherError(", "OtherError("] {
        while let Some(start) = text.find(wrapper) {
            let inner = start + wrapper.len();
            let depth = wrapper.matches('(').count();
            match text[inner..].find(&")".repeat(depth)) {
                Some(end) => {
                    text.replace_range(inner + end..inner + end + depth, "");
                    text.replace_range(start..inner, "");
                }
                None => break,
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_problems_in_plain_words() {
        let unknown = tls_problem("invalid peer certificate: UnknownIssuer").unwrap();
        assert!(unknown.contains("not signed by a trusted CA"), "{unknown}");
        let name = tls_problem(
            "invalid peer certificate: certificate not valid for name \"h\"; certificate is only valid for DnsName(\"x\")",
        )
        .unwrap();
        assert!(name.contains("ssl_check_hostname=false"), "{name}");
        assert_eq!(tls_problem("connection refused"), None);
        let own =
            tls_problem("invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))").unwrap();
        assert!(own.contains("is a CA certificate"), "{own}");
        assert!(!own.contains("OtherError"), "{own}");
        let other =
            tls_problem("invalid peer certificate: Other(OtherError(SomethingNew))").unwrap();
        assert_eq!(other, "TLS error: invalid peer certificate: SomethingNew");
    }
}
