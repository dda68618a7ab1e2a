//! TLS beyond the URL (feature `tls`): which CA to trust for `rediss://` servers, and what a
//! failed handshake tells the user.
//!
//! Without a CA of its own, a `rediss://` connection trusts the web's public CAs (webpki-roots),
//! which suits a managed Redis with a public certificate. A server whose certificate comes from a
//! private CA (the usual case for a self-run `redis-server --tls-port`) needs that CA:
//! [`ServerBuilder::tls_ca_cert`](crate::ServerBuilder::tls_ca_cert) or
//! [`tls_ca_cert_file`](crate::ServerBuilder::tls_ca_cert_file). Certificates are always
//! verified, host name included: there is no switch to skip it.

use std::fmt;
use std::path::PathBuf;

use redis::{RedisError, TlsCertificates};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{CertificateError, RootCertStore};

use crate::RedisStoreError;
use crate::url::ConnectionUrl;

/// The CA certificates a [`ServerBuilder`](crate::ServerBuilder) was given, not read yet.
#[derive(Clone)]
pub(crate) enum CaSource {
    Pem(Vec<u8>),
    File(PathBuf),
}

impl fmt::Debug for CaSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaSource::Pem(pem) => write!(f, "Pem({} bytes)", pem.len()),
            CaSource::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

impl CaSource {
    /// The certificates for redis-rs, read and checked here so that a missing file or a PEM
    /// without a usable certificate is a [`RedisStoreError::Tls`] that says so.
    pub(crate) fn certificates(
        &self,
        url: &ConnectionUrl,
    ) -> Result<TlsCertificates, RedisStoreError> {
        let fail = |reason: String| RedisStoreError::Tls {
            url: url.redacted.clone(),
            reason,
        };
        let (pem, what) = match self {
            CaSource::Pem(pem) => (pem.clone(), "the CA certificate given".to_string()),
            CaSource::File(path) => {
                let what = format!("the CA certificate file {}", path.display());
                let pem =
                    std::fs::read(path).map_err(|e| fail(format!("cannot read {what}: {e}")))?;
                (pem, what)
            }
        };
        // The same checks redis-rs makes, with messages that name the input.
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| fail(format!("{what} is not valid PEM: {e}")))?;
            roots.add(cert).map_err(|e| {
                fail(format!(
                    "{what} holds a certificate that cannot be a CA: {e}"
                ))
            })?;
        }
        if roots.is_empty() {
            return Err(fail(format!(
                "{what} holds no certificate (expected PEM: -----BEGIN CERTIFICATE-----)"
            )));
        }
        Ok(TlsCertificates {
            client_tls: None,
            root_cert: Some(pem),
        })
    }
}

/// Makes `ring` the process's rustls crypto provider unless the program installed one. rustls
/// picks a provider by itself only when exactly one is compiled in; a program that also links
/// rustls with `aws-lc-rs` (through reqwest, say) would otherwise panic at its first `rediss://`
/// handshake, on the caller's thread or the near cache's. A provider the program installed
/// itself is kept.
pub(crate) fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Err: another thread installed one first, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// What went wrong, in the user's terms, when `e` is a failed TLS handshake; `None` otherwise.
pub(crate) fn failure(e: &RedisError) -> Option<String> {
    if let Some(tls) = rustls_error(e) {
        return Some(format!("{} ({tls})", Refusal::of(tls).advice()));
    }
    // The cluster clients keep only the text of each node's failure.
    let text = e.to_string();
    let refusal = Refusal::of_text(&text)?;
    Some(format!("{} ({text})", refusal.advice()))
}

/// Why a handshake failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    UnknownCa,
    OtherHost,
    Expired,
    NotYetValid,
    OtherCertificate,
    NotTls,
    Handshake,
}

impl Refusal {
    fn of(e: &rustls::Error) -> Self {
        match e {
            rustls::Error::InvalidCertificate(cert) => match cert {
                CertificateError::UnknownIssuer => Self::UnknownCa,
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => Self::OtherHost,
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    Self::Expired
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    Self::NotYetValid
                }
                _ => Self::OtherCertificate,
            },
            rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
                Self::NotTls
            }
            _ => Self::Handshake,
        }
    }

    /// From the text of a certificate error (rustls's `Display` of the variants above).
    fn of_text(text: &str) -> Option<Self> {
        let (_, cert) = text.split_once("invalid peer certificate: ")?;
        Some(if cert.starts_with("UnknownIssuer") {
            Self::UnknownCa
        } else if cert.starts_with("certificate not valid for name")
            || cert.starts_with("NotValidForName")
        {
            Self::OtherHost
        } else if cert.starts_with("certificate expired") || cert.starts_with("Expired") {
            Self::Expired
        } else if cert.starts_with("certificate not valid yet") || cert.starts_with("NotValidYet") {
            Self::NotYetValid
        } else {
            Self::OtherCertificate
        })
    }

    fn advice(self) -> &'static str {
        match self {
            Self::UnknownCa => {
                "the server's certificate is not signed by a CA this client trusts; give the CA \
                 that signed it with ServerBuilder::tls_ca_cert or tls_ca_cert_file"
            }
            Self::OtherHost => "the server's certificate does not name the host of the URL",
            Self::Expired => "the server's certificate has expired",
            Self::NotYetValid => "the server's certificate is not valid yet",
            Self::OtherCertificate => "the server's certificate was refused",
            Self::NotTls => {
                "the server does not speak TLS on this port (is it the server's --tls-port?)"
            }
            Self::Handshake => "the TLS handshake failed",
        }
    }
}

/// The rustls error somewhere in `e`'s chain of causes: redis-rs keeps the I/O error that carries
/// it behind an `Arc`, whose `source` skips both, so each link is unwrapped by hand.
fn rustls_error(e: &RedisError) -> Option<&rustls::Error> {
    type Shared = std::sync::Arc<dyn std::error::Error + Send + Sync>;
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(c) = cause {
        if let Some(tls) = c.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        cause = if let Some(shared) = c.downcast_ref::<Shared>() {
            Some(&**shared)
        } else if let Some(io) = c.downcast_ref::<std::io::Error>() {
            io.get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static))
        } else {
            c.source()
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text of each certificate error, as a cluster client reports it, names the same
    /// refusal as the error itself.
    #[test]
    fn a_certificate_error_reads_the_same_from_its_text() {
        let errors = [
            (CertificateError::UnknownIssuer, Refusal::UnknownCa),
            (CertificateError::NotValidForName, Refusal::OtherHost),
            (CertificateError::Expired, Refusal::Expired),
            (CertificateError::NotValidYet, Refusal::NotYetValid),
            (CertificateError::BadSignature, Refusal::OtherCertificate),
        ];
        for (cert, refusal) in errors {
            let e = rustls::Error::InvalidCertificate(cert);
            assert_eq!(Refusal::of(&e), refusal, "{e}");
            let text = format!("Failed to connect to each cluster node (h:1: {e}; h:2: {e})");
            assert_eq!(Refusal::of_text(&text), Some(refusal), "{text}");
        }
        assert_eq!(Refusal::of_text("Connection refused (os error 111)"), None);
    }
}
