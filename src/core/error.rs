//! The core's one error type. The binding maps each variant to a JS error
//! with Node's `code`.

use std::io;

/// Everything that can go wrong in the core, as data.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Binding or listening failed (`EADDRINUSE`, `EACCES`, …).
    #[error("{syscall} {source}")]
    Listen {
        /// The failing call, as Node names it (`listen`, `bind`).
        syscall: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The host string is not an IP address.
    #[error("invalid host {0:?}: an IP address is expected")]
    InvalidHost(String),
    /// The server is not running (close() twice, or before listen()).
    #[error("Server is not running.")]
    NotRunning,
    /// The I/O thread could not be started.
    #[error("could not start the I/O thread: {0}")]
    Thread(#[source] io::Error),
    /// A response record from JS could not be decoded (a bug in lib/).
    #[error("malformed response record at byte {0}")]
    Wire(usize),
    /// A TLS option cannot be used (a bad key, certificate or version).
    #[error(transparent)]
    Tls(#[from] crate::core::tls::ConfigError),
}

impl Error {
    /// The errno-style code for OS errors, as Node spells it.
    pub fn os_code(&self) -> Option<&'static str> {
        let Error::Listen { source, .. } = self else {
            return None;
        };
        Some(match source.kind() {
            io::ErrorKind::AddrInUse => "EADDRINUSE",
            io::ErrorKind::AddrNotAvailable => "EADDRNOTAVAIL",
            io::ErrorKind::PermissionDenied => "EACCES",
            io::ErrorKind::InvalidInput => "EINVAL",
            _ => return None,
        })
    }

    /// True for `EADDRINUSE`.
    pub fn is_addr_in_use(&self) -> bool {
        self.os_code() == Some("EADDRINUSE")
    }

    /// The OS error number, if any.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Listen { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

/// The core's result type.
pub type Result<T> = std::result::Result<T, Error>;
