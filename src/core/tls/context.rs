//! The server's secure contexts: the default one (replaced whole by
//! `setSecureContext()`), the ones `addContext()` adds for SNI host names,
//! and the choice between them for each ClientHello.

use std::sync::{Arc, Mutex};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::server::{
    NoServerSessionStorage, ProducesTickets, ServerSessionMemoryCache, StoresServerSessions,
};
use rustls::{ServerConfig, SupportedProtocolVersion};

use crate::core::tls::keys;
use crate::core::tls::options::{ContextOptions, TlsOptions, Version};
use crate::core::tls::tickets::Expiring;
use crate::core::tls::verify::ClientAuth;
use crate::core::tls::ConfigError;

/// One secure context: a rustls configuration and how it judges client
/// certificates.
#[derive(Debug)]
pub struct Context {
    /// What the handshake runs with.
    pub config: Arc<ServerConfig>,
    /// For `authorized` / `authorizationError`.
    pub client_auth: ClientAuth,
}

/// The contexts in force; replaced whole on every change, so a handshake
/// keeps the one it started with.
#[derive(Debug)]
struct Contexts {
    default: Arc<Context>,
    /// `(host name pattern, context)`, newest last: the newest match wins,
    /// as in Node.
    named: Vec<(String, Arc<Context>)>,
}

/// What every context of one server is built with.
#[derive(Debug)]
struct Base {
    options: TlsOptions,
    provider: Arc<CryptoProvider>,
    /// Shared by every context, so a rotation does not end resumption.
    ticketer: Arc<dyn ProducesTickets>,
    sessions: Arc<dyn StoresServerSessions>,
}

/// Everything a secure server needs to accept a connection.
#[derive(Debug)]
pub struct Acceptor {
    base: Base,
    contexts: Mutex<Arc<Contexts>>,
}

impl Acceptor {
    /// Checks `options` and builds the default context; every mistake in
    /// them is reported here, before the server listens.
    pub fn new(options: TlsOptions) -> Result<Acceptor, ConfigError> {
        if options.min_version > options.max_version {
            return Err(ConfigError::new(
                "ERR_TLS_PROTOCOL_VERSION_CONFLICT",
                "options.minVersion is above options.maxVersion",
            ));
        }
        if options.alpn.is_empty() {
            return Err(ConfigError::new(
                "ERR_INVALID_ARG_VALUE",
                "options.ALPNProtocols must name h2 or http/1.1",
            ));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let inner = rustls::crypto::ring::Ticketer::new()
            .map_err(|e| ConfigError::new("ERR_LASTCALL_TLS", format!("session tickets: {e}")))?;
        let lifetime = u32::try_from(options.session_timeout.as_secs()).unwrap_or(u32::MAX);
        let ticketer: Arc<dyn ProducesTickets> = Arc::new(Expiring::new(inner, lifetime));
        let sessions: Arc<dyn StoresServerSessions> = if lifetime > 0 {
            ServerSessionMemoryCache::new(1024)
        } else {
            Arc::new(NoServerSessionStorage {})
        };
        let base = Base {
            options,
            provider,
            ticketer,
            sessions,
        };
        let default = Arc::new(base.build(&base.options.context)?);
        Ok(Acceptor {
            base,
            contexts: Mutex::new(Arc::new(Contexts {
                default,
                named: Vec::new(),
            })),
        })
    }

    /// The server's options.
    pub fn options(&self) -> &TlsOptions {
        &self.base.options
    }

    /// `setSecureContext()`: new handshakes use `ctx`; connections already
    /// made keep the context they started with. What `ctx` leaves out
    /// (`ca`, `passphrase`) is taken from the server's options.
    pub fn set_default(&self, ctx: &ContextOptions) -> Result<(), ConfigError> {
        let built = Arc::new(self.base.build(ctx)?);
        let mut slot = self.lock();
        *slot = Arc::new(Contexts {
            default: built,
            named: slot.named.clone(),
        });
        Ok(())
    }

    /// `addContext(hostname, ctx)`: clients asking for `hostname` (SNI;
    /// `*` matches within one label, as in Node) get `ctx`.
    pub fn add_context(&self, hostname: &str, ctx: &ContextOptions) -> Result<(), ConfigError> {
        let built = Arc::new(self.base.build(ctx)?);
        let mut slot = self.lock();
        let mut named = slot.named.clone();
        named.push((hostname.to_ascii_lowercase(), built));
        *slot = Arc::new(Contexts {
            default: slot.default.clone(),
            named,
        });
        Ok(())
    }

    /// The context for a ClientHello that asked for `server_name`.
    pub fn select(&self, server_name: Option<&str>) -> Arc<Context> {
        let contexts = self.lock().clone();
        if let Some(name) = server_name {
            let name = name.to_ascii_lowercase();
            if let Some((_, ctx)) = contexts
                .named
                .iter()
                .rev()
                .find(|(pattern, _)| matches(pattern.as_bytes(), name.as_bytes()))
            {
                return ctx.clone();
            }
        }
        contexts.default.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Arc<Contexts>> {
        self.contexts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Base {
    fn build(&self, ctx: &ContextOptions) -> Result<Context, ConfigError> {
        let o = &self.options;
        let passphrase = ctx
            .passphrase
            .as_deref()
            .or(o.context.passphrase.as_deref());
        if ctx.key.is_empty() || ctx.cert.is_empty() {
            return Err(ConfigError::new(
                "ERR_MISSING_ARGS",
                "options.key and options.cert are required",
            ));
        }
        let key = keys::private_key(&ctx.key, passphrase)?;
        let chain = keys::certificates(&ctx.cert, "cert")?;
        let ca = match ctx.ca.as_ref().or(o.context.ca.as_ref()) {
            Some(pems) => keys::certificates(pems, "ca")?,
            None => Vec::<CertificateDer<'static>>::new(),
        };
        let client_auth =
            ClientAuth::new(ca, o.request_cert, o.reject_unauthorized, &self.provider)?;
        let mut config = ServerConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&versions(o.min_version, o.max_version))
            .map_err(|e| ConfigError::new("ERR_TLS_INVALID_PROTOCOL_VERSION", e.to_string()))?
            .with_client_cert_verifier(client_auth.verifier.clone())
            .with_single_cert(chain, key)
            .map_err(key_error)?;
        config.alpn_protocols = o.alpn.clone();
        if !o.allow_http1 && !config.alpn_protocols.iter().any(|p| p == b"http/1.1") {
            // Node completes the handshake of an HTTP/1.1-only client and
            // then refuses it ('unknownProtocol'); rustls would fail the
            // handshake on a protocol it does not offer, so it offers
            // http/1.1 and the connection is refused after the handshake.
            config.alpn_protocols.push(b"http/1.1".to_vec());
        }
        config.ticketer = self.ticketer.clone();
        config.session_storage = self.sessions.clone();
        Ok(Context {
            config: Arc::new(config),
            client_auth,
        })
    }
}

fn versions(min: Version, max: Version) -> Vec<&'static SupportedProtocolVersion> {
    let mut out = Vec::new();
    if min <= Version::Tls13 && max >= Version::Tls13 {
        out.push(&rustls::version::TLS13);
    }
    if min <= Version::Tls12 && max >= Version::Tls12 {
        out.push(&rustls::version::TLS12);
    }
    out
}

fn key_error(e: rustls::Error) -> ConfigError {
    match e {
        rustls::Error::InconsistentKeys(_) => ConfigError::new(
            "ERR_OSSL_X509_KEY_VALUES_MISMATCH",
            "options.key does not match the certificate in options.cert",
        ),
        rustls::Error::InvalidCertificate(e) => ConfigError::new(
            "ERR_OSSL_X509_INVALID_CERTIFICATE",
            format!("options.cert: not a usable certificate ({e:?})"),
        ),
        e => ConfigError::new(
            "ERR_OSSL_UNSUPPORTED",
            format!("options.key: not a usable private key ({e})"),
        ),
    }
}

/// Node's SNI match: the pattern as a whole name, `*` standing for any run
/// of characters other than a dot. Both sides are lower case already.
pub fn matches(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => {
            let label = name.iter().position(|&c| c == b'.').unwrap_or(name.len());
            (0..=label).any(|skip| matches(rest, &name[skip..]))
        }
        Some((c, rest)) => name.first() == Some(c) && matches(rest, &name[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn sni_patterns_match_as_node_does() {
        let matches = |p: &str, n: &str| matches(p.as_bytes(), n.as_bytes());
        assert!(matches("a.example.com", "a.example.com"));
        assert!(!matches("a.example.com", "b.example.com"));
        assert!(matches("*.example.com", "a.example.com"));
        assert!(!matches("*.example.com", "a.b.example.com"));
        assert!(!matches("*.example.com", "example.com"));
        assert!(matches("*.example.com", ".example.com"));
        assert!(matches("api-*.example.com", "api-eu.example.com"));
        assert!(!matches("example.com", "example.com.evil"));
    }
}
