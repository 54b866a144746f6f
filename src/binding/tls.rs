//! `NativeSecureContext`: a secure server's TLS configuration, built (and
//! checked) when `createSecureServer()` runs, handed to `NativeServer.listen`,
//! and changed in place by `addContext()` / `setSecureContext()`.

use std::sync::Arc;

use napi::bindgen_prelude::Buffer;
use napi::Env;
use napi_derive::napi;

use crate::binding::error::to_js;
use crate::core::config;
use crate::core::tls::{Acceptor, ContextOptions, TlsOptions, Version};

/// Certificates and key of one context, as lib/secure.js normalised them:
/// every PEM a Buffer.
#[napi(object)]
pub struct NativeContextOptions {
    /// Private keys (PEM).
    pub key: Vec<Buffer>,
    /// Certificate chains (PEM).
    pub cert: Vec<Buffer>,
    /// Trusted CAs for client certificates (PEM).
    pub ca: Option<Vec<Buffer>>,
    /// Passphrase of an encrypted PKCS#8 key.
    pub passphrase: Option<String>,
}

/// A secure server's TLS options, checked by lib/secure.js.
#[napi(object)]
pub struct NativeTlsOptions {
    /// The default context.
    pub context: NativeContextOptions,
    /// `'TLSv1.2'` or `'TLSv1.3'`.
    pub min_version: String,
    /// `'TLSv1.2'` or `'TLSv1.3'`.
    pub max_version: String,
    /// Protocols offered by ALPN, in order of preference.
    pub alpn_protocols: Vec<String>,
    /// Serve clients that did not negotiate `h2`.
    pub allow_http1: bool,
    /// Ask clients for a certificate.
    pub request_cert: bool,
    /// With `requestCert`: refuse clients without a certificate signed by `ca`.
    pub reject_unauthorized: bool,
    /// Milliseconds; 0: no limit.
    pub handshake_timeout: f64,
    /// Seconds a TLS session can be resumed.
    pub session_timeout: f64,
}

impl From<&NativeContextOptions> for ContextOptions {
    fn from(o: &NativeContextOptions) -> Self {
        let pems = |v: &Vec<Buffer>| v.iter().map(|b| b.to_vec()).collect::<Vec<_>>();
        ContextOptions {
            key: pems(&o.key),
            cert: pems(&o.cert),
            ca: o.ca.as_ref().map(pems),
            passphrase: o.passphrase.clone(),
        }
    }
}

fn version(name: &str, option: &str) -> napi::Result<Version> {
    match name {
        "TLSv1.2" => Ok(Version::Tls12),
        "TLSv1.3" => Ok(Version::Tls13),
        _ => Err(napi::Error::from_reason(format!(
            "ERR_TLS_INVALID_PROTOCOL_VERSION||{name:?} is not a supported TLS protocol version \
             for {option} (lastcall speaks TLSv1.2 and TLSv1.3)"
        ))),
    }
}

/// A secure server's TLS state. Used only through lib/secure.js.
#[napi]
pub struct NativeSecureContext {
    inner: Arc<Acceptor>,
}

#[napi]
impl NativeSecureContext {
    /// Builds the TLS configuration; throws if a key, certificate or
    /// option cannot be used.
    #[napi(constructor, catch_unwind)]
    pub fn new(env: Env, options: NativeTlsOptions) -> napi::Result<Self> {
        let o = &options;
        let tls = TlsOptions {
            context: ContextOptions::from(&o.context),
            min_version: version(&o.min_version, "minVersion")?,
            max_version: version(&o.max_version, "maxVersion")?,
            alpn: o
                .alpn_protocols
                .iter()
                .map(|p| p.as_bytes().to_vec())
                .collect(),
            allow_http1: o.allow_http1,
            request_cert: o.request_cert,
            reject_unauthorized: o.reject_unauthorized,
            handshake_timeout: config::millis(o.handshake_timeout),
            session_timeout: std::time::Duration::from_secs_f64(o.session_timeout.clamp(0.0, 1e9)),
        };
        let inner = Acceptor::new(tls).map_err(|e| to_js(&env, e.into()))?;
        Ok(NativeSecureContext {
            inner: Arc::new(inner),
        })
    }

    /// New handshakes use this key and certificate; open connections keep
    /// theirs.
    #[napi(catch_unwind)]
    pub fn set_default(&self, env: Env, options: NativeContextOptions) -> napi::Result<()> {
        self.inner
            .set_default(&ContextOptions::from(&options))
            .map_err(|e| to_js(&env, e.into()))
    }

    /// Clients asking for `hostname` by SNI (`*` for one label) get this
    /// key and certificate.
    #[napi(catch_unwind)]
    pub fn add_context(
        &self,
        env: Env,
        hostname: String,
        options: NativeContextOptions,
    ) -> napi::Result<()> {
        self.inner
            .add_context(&hostname, &ContextOptions::from(&options))
            .map_err(|e| to_js(&env, e.into()))
    }
}

impl NativeSecureContext {
    /// The acceptor a listening server shares.
    pub fn acceptor(&self) -> Arc<Acceptor> {
        self.inner.clone()
    }
}
