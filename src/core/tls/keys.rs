//! PEM → certificates and private keys, with errors that name the option.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::core::tls::ConfigError;

const ENCRYPTED_BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
const ENCRYPTED_END: &str = "-----END ENCRYPTED PRIVATE KEY-----";

/// Every certificate in `pems`, in order. `option` names the option in
/// errors (`cert`, `ca`).
pub fn certificates(
    pems: &[Vec<u8>],
    option: &str,
) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let mut out = Vec::new();
    for pem in pems {
        let before = out.len();
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| {
                ConfigError::new(
                    "ERR_OSSL_PEM_BAD_BASE64_DECODE",
                    format!("options.{option}: unreadable PEM certificate ({e})"),
                )
            })?;
            out.push(cert);
        }
        if out.len() == before {
            return Err(ConfigError::new(
                "ERR_OSSL_PEM_NO_START_LINE",
                format!("options.{option}: no PEM certificate (-----BEGIN CERTIFICATE-----) found"),
            ));
        }
    }
    Ok(out)
}

/// The one private key in `pems`, decrypted with `passphrase` if it is an
/// encrypted PKCS#8 key.
pub fn private_key(
    pems: &[Vec<u8>],
    passphrase: Option<&str>,
) -> Result<PrivateKeyDer<'static>, ConfigError> {
    let [pem] = pems else {
        return Err(ConfigError::new(
            "ERR_INVALID_ARG_VALUE",
            format!(
                "options.key: one private key is supported per context, got {}",
                pems.len()
            ),
        ));
    };
    let text = String::from_utf8_lossy(pem);
    if text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(ConfigError::new(
            "ERR_LASTCALL_TLS_UNSUPPORTED",
            "options.key: legacy OpenSSL-encrypted PEM keys (Proc-Type: 4,ENCRYPTED) are not \
             supported; convert the key to encrypted PKCS#8: \
             openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -out key.p8.pem",
        ));
    }
    if let Some(block) = encrypted_block(&text) {
        return decrypt(block, passphrase);
    }
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => ConfigError::new(
            "ERR_OSSL_PEM_NO_START_LINE",
            "options.key: no PEM private key (-----BEGIN PRIVATE KEY-----) found",
        ),
        e => ConfigError::new(
            "ERR_OSSL_PEM_BAD_BASE64_DECODE",
            format!("options.key: unreadable PEM private key ({e})"),
        ),
    })
}

/// The body of the first `ENCRYPTED PRIVATE KEY` block, if any.
fn encrypted_block(text: &str) -> Option<&str> {
    let start = text.find(ENCRYPTED_BEGIN)?;
    let rest = &text[start..];
    let end = rest.find(ENCRYPTED_END)? + ENCRYPTED_END.len();
    Some(&rest[..end])
}

fn decrypt(block: &str, passphrase: Option<&str>) -> Result<PrivateKeyDer<'static>, ConfigError> {
    use pkcs8::der::pem::PemLabel;
    use pkcs8::EncryptedPrivateKeyInfo;

    let Some(passphrase) = passphrase else {
        return Err(ConfigError::new(
            "ERR_OSSL_BAD_DECRYPT",
            "options.key is an encrypted private key and options.passphrase is missing",
        ));
    };
    let bad = |what: String| ConfigError::new("ERR_OSSL_PEM_BAD_BASE64_DECODE", what);
    let (label, der) = pkcs8::Document::from_pem(block)
        .map_err(|e| bad(format!("options.key: unreadable encrypted PEM key ({e})")))?;
    EncryptedPrivateKeyInfo::validate_pem_label(label)
        .map_err(|e| bad(format!("options.key: unexpected PEM label ({e})")))?;
    let info = EncryptedPrivateKeyInfo::try_from(der.as_bytes()).map_err(|e| {
        bad(format!(
            "options.key: unreadable encrypted PKCS#8 key ({e})"
        ))
    })?;
    let plain = info.decrypt(passphrase).map_err(|e| {
        ConfigError::new(
            "ERR_OSSL_BAD_DECRYPT",
            format!("options.key could not be decrypted with options.passphrase ({e})"),
        )
    })?;
    Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        plain.as_bytes().to_vec(),
    )))
}
