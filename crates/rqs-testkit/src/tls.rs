//! Certificates made by the test: a private CA that issues server and client certificates,
//! written as PEM files into a temporary directory.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// A certificate and its private key, as PEM files.
#[derive(Debug, Clone)]
pub struct CertFiles {
    /// The certificate.
    pub cert: PathBuf,
    /// Its private key (PKCS #8).
    pub key: PathBuf,
}

/// A throw-away certificate authority.
pub struct TestCa {
    dir: tempfile::TempDir,
    name: String,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa")
            .field("name", &self.name)
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

impl TestCa {
    /// A new CA called `name`; its certificate is [`TestCa::ca_file`].
    ///
    /// # Panics
    /// When the certificate cannot be made or written.
    pub fn new(name: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("rqs-pki-")
            .tempdir()
            .expect("cannot create a temporary directory");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("CA key");
        let issuer = CertifiedIssuer::self_signed(params, key).expect("CA certificate");
        std::fs::write(dir.path().join("ca.pem"), issuer.pem()).expect("cannot write ca.pem");
        Self {
            dir,
            name: name.to_owned(),
            issuer,
        }
    }

    /// The CA certificate (what a client passes as `ssl_ca_certs`).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The directory the files are written to.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A server certificate for `names` (host names or IP addresses), written as
    /// `<file>.pem` and `<file>-key.pem`.
    ///
    /// # Panics
    /// When the certificate cannot be made or written.
    pub fn server(&self, file: &str, names: &[&str]) -> CertFiles {
        self.issue(file, names, ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// A client certificate (for mutual TLS), written as `<file>.pem` and
    /// `<file>-key.pem`.
    ///
    /// # Panics
    /// When the certificate cannot be made or written.
    pub fn client(&self, file: &str) -> CertFiles {
        self.issue(file, &[], ExtendedKeyUsagePurpose::ClientAuth)
    }

    fn issue(&self, file: &str, names: &[&str], usage: ExtendedKeyUsagePurpose) -> CertFiles {
        let sans: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(sans).expect("certificate names");
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{file} ({})", self.name));
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("certificate");
        let files = CertFiles {
            cert: self.dir.path().join(format!("{file}.pem")),
            key: self.dir.path().join(format!("{file}-key.pem")),
        };
        std::fs::write(&files.cert, cert.pem()).expect("cannot write a certificate");
        std::fs::write(&files.key, key.serialize_pem()).expect("cannot write a key");
        files
    }
}
