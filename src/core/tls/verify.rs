//! Client certificates (`requestCert`, `rejectUnauthorized`), as Node
//! treats them: with `rejectUnauthorized` a client without a certificate
//! signed by `ca` fails the handshake; without it the handshake goes on and
//! the request sees `authorized: false` and an `authorizationError` in
//! Node's words.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, RootCertStore};

use crate::core::tls::ConfigError;

/// How one context treats client certificates.
#[derive(Debug, Clone)]
pub struct ClientAuth {
    /// Handed to rustls.
    pub verifier: Arc<dyn ClientCertVerifier>,
    /// Checks a certificate against `ca` after the handshake, for
    /// `authorized`; `None` without `requestCert` or without `ca`.
    chain: Option<Arc<dyn ClientCertVerifier>>,
    requested: bool,
}

impl ClientAuth {
    /// Builds the verifier for `ca` (DER). `request`: `requestCert`;
    /// `reject`: `rejectUnauthorized`.
    pub fn new(
        ca: Vec<CertificateDer<'static>>,
        request: bool,
        reject: bool,
        provider: &Arc<CryptoProvider>,
    ) -> Result<ClientAuth, ConfigError> {
        if !request {
            return Ok(ClientAuth {
                verifier: WebPkiClientVerifier::no_client_auth(),
                chain: None,
                requested: false,
            });
        }
        let chain = if ca.is_empty() {
            None
        } else {
            let mut roots = RootCertStore::empty();
            for cert in ca {
                roots.add(cert).map_err(|e| {
                    ConfigError::new(
                        "ERR_OSSL_X509_INVALID_CERTIFICATE",
                        format!("options.ca: not a usable CA certificate ({e})"),
                    )
                })?;
            }
            let built =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .allow_unauthenticated()
                    .build()
                    .map_err(|e| {
                        ConfigError::new(
                            "ERR_OSSL_X509_INVALID_CERTIFICATE",
                            format!("options.ca: {e}"),
                        )
                    })?;
            Some(built)
        };
        let verifier = Arc::new(Requesting {
            chain: chain.clone(),
            reject,
            algorithms: provider.signature_verification_algorithms,
        });
        Ok(ClientAuth {
            verifier,
            chain,
            requested: true,
        })
    }

    /// `authorized` / `authorizationError` for a finished handshake whose
    /// client presented `peer`. `None` when no certificate was requested
    /// (Node leaves `authorized` false and gives no error then).
    pub fn authorize(
        &self,
        peer: Option<&[CertificateDer<'static>]>,
    ) -> Option<Result<(), String>> {
        if !self.requested {
            return None;
        }
        let Some((leaf, intermediates)) = peer.and_then(|p| p.split_first()) else {
            return Some(Err("UNABLE_TO_GET_ISSUER_CERT".into()));
        };
        let verdict = match &self.chain {
            Some(chain) => chain
                .verify_client_cert(leaf, intermediates, UnixTime::now())
                .map(|_| ()),
            None => Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            )),
        };
        Some(verdict.map_err(|e| node_reason(&e, leaf, intermediates).to_string()))
    }
}

/// OpenSSL's name for why a client certificate is not trusted, as Node
/// reports it in `authorizationError`.
fn node_reason(
    err: &rustls::Error,
    leaf: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
) -> &'static str {
    let rustls::Error::InvalidCertificate(e) = err else {
        return "CERT_REJECTED";
    };
    if intermediates.is_empty() && self_issued(leaf) {
        // OpenSSL reports this before anything else about such a
        // certificate (webpki may say "CA used as end entity" first).
        return "DEPTH_ZERO_SELF_SIGNED_CERT";
    }
    match e {
        CertificateError::UnknownIssuer => "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => "CERT_HAS_EXPIRED",
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "CERT_NOT_YET_VALID"
        }
        CertificateError::BadSignature => "CERT_SIGNATURE_FAILURE",
        CertificateError::Revoked => "CERT_REVOKED",
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "INVALID_PURPOSE"
        }
        _ => "CERT_REJECTED",
    }
}

/// Whether a certificate names itself as its issuer (a self-signed one).
/// A small DER walk: Certificate ::= SEQUENCE { tbs SEQUENCE { [0] version
/// OPTIONAL, serial, signature, issuer, validity, subject, … } … }.
fn self_issued(cert: &[u8]) -> bool {
    fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = b.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |a, &x| (a << 8) | usize::from(x));
            (len, &rest[n..])
        };
        (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
    }
    let inner = || {
        let (_, certificate, _) = tlv(cert)?;
        let (_, mut tbs, _) = tlv(certificate)?;
        let mut fields = Vec::with_capacity(5);
        while fields.len() < 5 {
            let (tag, body, rest) = tlv(tbs)?;
            if !(fields.is_empty() && tag == 0xa0) {
                fields.push(body);
            }
            tbs = rest;
        }
        // serial, signature, issuer, validity, subject
        Some(fields[2] == fields[4])
    };
    inner().unwrap_or(false)
}

/// Asks for a certificate; with `reject`, the chain must lead to `ca`.
/// Without it, any certificate whose holder proves its key is let through
/// and judged after the handshake ([`ClientAuth::authorize`]).
#[derive(Debug)]
struct Requesting {
    chain: Option<Arc<dyn ClientCertVerifier>>,
    reject: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for Requesting {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.reject
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.chain
            .as_deref()
            .map_or(&[], |c| c.root_hint_subjects())
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        match (&self.chain, self.reject) {
            (_, false) => Ok(ClientCertVerified::assertion()),
            (Some(chain), true) => chain.verify_client_cert(end_entity, intermediates, now),
            (None, true) => Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
