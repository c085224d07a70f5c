//! Client certificates with `ca-ignore-err` / `crt-ignore-err`: a verifier that lets
//! the listed errors through (the handshake goes on), and the OpenSSL error numbers
//! `ssl_c_verify` and `ssl_c_err` give for them.

use crate::config::model::IgnoreErr;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError as C, DigitallySignedStruct, DistinguishedName, Error};
use std::sync::Arc;

/// OpenSSL's `X509_V_ERR_*` number for a verification error (1, unspecified, for one
/// it has no closer number for).
pub fn x509_code(e: &Error) -> i64 {
    match e {
        Error::InvalidCertificate(c) => match c {
            C::NotValidYet | C::NotValidYetContext { .. } => 9,
            C::Expired | C::ExpiredContext { .. } => 10,
            C::UnknownIssuer => 20,
            C::BadSignature => 7,
            C::Revoked => 23,
            C::UnknownRevocationStatus => 3,
            C::ExpiredRevocationList | C::ExpiredRevocationListContext { .. } => 12,
            C::InvalidPurpose | C::InvalidPurposeContext { .. } => 26,
            C::BadEncoding => 4,
            _ => 1,
        },
        _ => 1,
    }
}

/// A verifier that accepts a certificate whose error is ignored.
#[derive(Debug)]
pub struct Lenient {
    /// The verifier that says what is wrong.
    pub inner: Arc<dyn ClientCertVerifier>,
    /// The errors let through: `ca-ignore-err` and `crt-ignore-err` together (rustls
    /// does not tell at which depth of the chain an error is).
    pub ignore: IgnoreErr,
}

impl ClientCertVerifier for Lenient {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }
    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }
    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        match self
            .inner
            .verify_client_cert(end_entity, intermediates, now)
        {
            Err(e) if self.ignore.covers(x509_code(&e)) => Ok(ClientCertVerified::assertion()),
            r => r,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The error number of a client's chain (0: valid) by `verifier`.
pub fn verify_code(verifier: &dyn ClientCertVerifier, chain: &[CertificateDer<'_>]) -> i64 {
    let Some((leaf, rest)) = chain.split_first() else {
        return 0;
    };
    match verifier.verify_client_cert(leaf, rest, UnixTime::now()) {
        Ok(_) => 0,
        Err(e) => x509_code(&e),
    }
}
