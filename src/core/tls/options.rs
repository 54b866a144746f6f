//! What a secure context is made of, as the binding hands it over: PEM
//! bytes and plain values, already type-checked by lib/secure.js.

use std::time::Duration;

/// A TLS protocol version, by Node's names (`'TLSv1.2'`, `'TLSv1.3'`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

/// The certificate side of one context: what `setSecureContext()` and
/// `addContext()` take, and the server's own options carry.
#[derive(Debug, Clone, Default)]
pub struct ContextOptions {
    /// Private keys, PEM (plain PKCS#1/PKCS#8/SEC1 or encrypted PKCS#8).
    pub key: Vec<Vec<u8>>,
    /// Certificate chains, PEM: the leaf first.
    pub cert: Vec<Vec<u8>>,
    /// Trusted CAs for client certificates, PEM; `None`: none given.
    pub ca: Option<Vec<Vec<u8>>>,
    /// Passphrase of an encrypted key.
    pub passphrase: Option<String>,
}

/// A secure server's TLS options (Node's names in the comments).
#[derive(Debug, Clone)]
pub struct TlsOptions {
    /// The default context (`key`, `cert`, `ca`, `passphrase`).
    pub context: ContextOptions,
    /// `minVersion`.
    pub min_version: Version,
    /// `maxVersion`.
    pub max_version: Version,
    /// `ALPNProtocols`: what the server offers, in its order of preference.
    pub alpn: Vec<Vec<u8>>,
    /// `allowHTTP1`: serve clients that did not negotiate `h2`.
    pub allow_http1: bool,
    /// `requestCert`: ask clients for a certificate.
    pub request_cert: bool,
    /// `rejectUnauthorized`: with `requestCert`, refuse clients whose
    /// certificate is missing or not signed by `ca`.
    pub reject_unauthorized: bool,
    /// `handshakeTimeout`; `None`: no limit.
    pub handshake_timeout: Option<Duration>,
    /// `sessionTimeout`: how long a session can be resumed.
    pub session_timeout: Duration,
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions {
            context: ContextOptions::default(),
            min_version: Version::Tls12,
            max_version: Version::Tls13,
            alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            allow_http1: true,
            request_cert: false,
            reject_unauthorized: true,
            handshake_timeout: Some(Duration::from_secs(120)),
            session_timeout: Duration::from_secs(300),
        }
    }
}
