//! Client certificates: the verifier of a bind's `ca-file`/`crl-file`, which lets the
//! errors of `ca-ignore-err` / `crt-ignore-err` through (the handshake goes on), and
//! the OpenSSL error numbers `ssl_c_verify` and `ssl_c_err` give for them.

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

/// The error number of a client's chain (0: valid) as OpenSSL reports it after a
/// verify callback let every error through: the last one.
pub fn verify_code(verifier: &ClientVerifier, chain: &[CertificateDer<'_>]) -> i64 {
    let Some((leaf, rest)) = chain.split_first() else {
        return 0;
    };
    let errs = verifier
        .trust
        .errors(leaf, rest, UnixTime::now(), super::pkix::Purpose::Client);
    errs.last()
        .map_or(0, |c| x509_code(&Error::InvalidCertificate(c.clone())))
}

/// Client certificates checked against a bind's `ca-file`/`ca-verify-file`/`crl-file`
/// by [`super::pkix`] (X.509 v1 certificates and CRLs included, as with OpenSSL).
#[derive(Debug)]
pub struct ClientVerifier {
    /// The trusted certificates and CRLs.
    pub trust: Arc<super::pkix::Trust>,
    /// The subjects of `ca-file` (not `ca-verify-file`), sent in the request.
    pub hints: Vec<DistinguishedName>,
    /// `verify required` (else `optional`).
    pub mandatory: bool,
    /// `ca-ignore-err` and `crt-ignore-err` together: the errors let through (rustls
    /// does not tell at which depth of the chain an error is).
    pub ignore: Option<IgnoreErr>,
    /// The handshake signature algorithms.
    pub algs: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for ClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }
    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        let errs = self
            .trust
            .errors(end_entity, intermediates, now, super::pkix::Purpose::Client);
        let let_through = |c: &C| {
            self.ignore
                .as_ref()
                .is_some_and(|i| i.covers(x509_code(&Error::InvalidCertificate(c.clone()))))
        };
        match errs.into_iter().find(|c| !let_through(c)) {
            Some(c) => Err(Error::InvalidCertificate(c)),
            None => Ok(ClientCertVerified::assertion()),
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
            .or_else(|e| super::verify_with_cert_key(message, cert, dss, &self.algs).map_err(|_| e))
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
            .or_else(|e| super::verify_with_cert_key(message, cert, dss, &self.algs).map_err(|_| e))
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algs.supported_schemes()
    }
}
