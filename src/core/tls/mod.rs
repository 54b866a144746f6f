//! TLS, terminated below the protocol split (DESIGN §8): a connection
//! completes its handshake here, ALPN says whether hyper speaks HTTP/2 or
//! HTTP/1.1 on it, and the close() rules hold unchanged inside TLS, with a
//! close_notify before the FIN.
//!
//! rustls with the `ring` crypto provider: it builds for every prebuilt
//! target with a C compiler alone (no CMake, no NASM, no Go), where
//! aws-lc-rs needs NASM (or prebuilt objects) on Windows x86-64 and
//! compiles ~1.5 M lines of C on every build.
//!
//! - [`options`]: what a secure context is made of (PEM bytes, versions, …);
//! - [`keys`]: PEM → certificates and keys (encrypted PKCS#8 included);
//! - [`context`]: the rustls configurations, SNI, rotation ([`Acceptor`]);
//! - [`verify`]: client certificates (`requestCert`, `rejectUnauthorized`);
//! - [`tickets`]: session tickets that expire after `sessionTimeout`;
//! - [`handshake`]: one connection's handshake, bounded, and what JS hears;
//! - [`stream`]: the socket hyper reads and writes, plain or TLS.

pub mod context;
pub mod handshake;
pub mod keys;
pub mod options;
pub mod stream;
pub mod tickets;
pub mod verify;

pub use context::Acceptor;
pub use options::{ContextOptions, TlsOptions, Version};
pub use stream::Stream;

/// A TLS configuration that cannot be used, as data: `code` is the Node
/// code of the nearest OpenSSL error (`ERR_OSSL_PEM_NO_START_LINE`, …).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    /// Node's error code for the same mistake.
    pub code: &'static str,
    /// What is wrong, naming the option.
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        ConfigError {
            code,
            message: message.into(),
        }
    }
}
