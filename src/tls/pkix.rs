//! Certificate chains verified as OpenSSL verifies them for HAProxy's `ca-file`,
//! `ca-verify-file` and `crl-file`, for client certificates on `bind ... verify` and
//! for servers' certificates with `server ... verify required`.
//!
//! webpki (rustls' verifier) refuses what OpenSSL takes and HAProxy's own tests use:
//! X.509 v1 certificates (no version field, no extensions) and v1 CRLs (webpki
//! requires the v2 version field and the CRL extensions RFC 5280's profile asks for,
//! and fails their parse). This verifier reads both with x509-parser and checks them
//! with ring:
//! - the chain is built from the leaf, issuer by subject name, through the peer's
//!   certificates, up to a trusted certificate; each link's signature is checked, and
//!   each issuer must be a CA (v3 `CA:TRUE` within its `pathlen`, or a v1
//!   self-signed certificate) allowed to sign certificates by its key usage;
//! - every certificate of the chain must be valid now, and the leaf's extended key
//!   usage, if it has one, must allow the use (client or server authentication);
//! - with a `crl-file`, the leaf needs a CRL from its issuer (else OpenSSL's error 3,
//!   "unable to get certificate CRL"); a CRL found for a higher certificate is
//!   applied too. A CRL counts when its signature is its issuer's and it has not
//!   passed its nextUpdate.
//!
//! Errors are rustls' `CertificateError`s, which `verify::x509_code` turns into
//! OpenSSL's numbers (`ssl_c_verify`): 20 no trusted issuer, 7 bad signature, 9/10
//! not yet/no longer valid, 23 revoked, 3 no CRL, 12 CRL expired, 26 wrong purpose.

use super::cafile::{CaFile, CrlFile, TrustFiles};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, UnixTime};
use rustls::CertificateError as C;
use std::path::Path;
use std::sync::Arc;
use x509_parser::certificate::X509Certificate;
use x509_parser::time::ASN1Time;

/// The longest chain followed (OpenSSL's default verify depth is 100; HAProxy's
/// chains are short).
const MAX_DEPTH: usize = 10;

/// One revocation list.
#[derive(Debug, Clone)]
pub struct Crl {
    /// Its DER bytes.
    pub der: Vec<u8>,
}

/// The trusted certificates and revocation lists one verifier uses: the shared CA
/// and CRL files, read at each verification (a committed `set ssl ca-file` applies
/// to the next handshake).
#[derive(Debug, Clone)]
pub struct Trust {
    /// `ca-file`: the certificates a server's certificate request names.
    pub ca: Arc<CaFile>,
    /// `ca-verify-file`: trusted too, but not named.
    pub verify_ca: Option<Arc<CaFile>>,
    /// `crl-file`: None when there is none (no revocation check).
    pub crl: Option<Arc<CrlFile>>,
}

/// The use a leaf certificate is checked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A client certificate (bind side).
    Client,
    /// A server certificate (server side).
    Server,
}

/// The certificates of PEM bytes (what a `ca-file` holds).
pub fn pem_certs(pem: &[u8]) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem)
        .filter_map(Result::ok)
        .collect()
}

/// The CRLs of PEM bytes, each checked to parse (x509-parser reads v1 and v2 CRLs);
/// Err names the first that does not.
pub fn pem_crls(pem: &[u8]) -> Result<Vec<Crl>, String> {
    let mut out = Vec::new();
    for c in CertificateRevocationListDer::pem_slice_iter(pem) {
        let c = c.map_err(|e| e.to_string())?;
        x509_parser::parse_x509_crl(c.as_ref()).map_err(|e| e.to_string())?;
        out.push(Crl {
            der: c.as_ref().to_vec(),
        });
    }
    Ok(out)
}

impl Trust {
    /// The trust of `ca-file` (plus `ca-verify-file`) and `crl-file`, as `files`
    /// knows them (read from disk the first time).
    pub fn load(
        files: &TrustFiles,
        ca: &Path,
        verify_ca: Option<&Path>,
        crl: Option<&Path>,
    ) -> Result<Trust, String> {
        let ca = files.ca(ca).map_err(|e| format!("'ca-file' : {e}"))?;
        let verify_ca = match verify_ca {
            Some(v) => Some(files.ca(v).map_err(|e| format!("'ca-verify-file' : {e}"))?),
            None => None,
        };
        let crl = match crl {
            Some(p) => Some(files.crl(p).map_err(|e| format!("'crl-file' : {e}"))?),
            None => None,
        };
        Ok(Trust { ca, verify_ca, crl })
    }

    /// Verifies a peer's chain (`leaf`, then the other certificates it sent) at `now`:
    /// Err is the first error found.
    pub fn verify(
        &self,
        leaf: &CertificateDer<'_>,
        rest: &[CertificateDer<'_>],
        now: UnixTime,
        purpose: Purpose,
    ) -> Result<(), rustls::Error> {
        match self.errors(leaf, rest, now, purpose).into_iter().next() {
            Some(e) => Err(rustls::Error::InvalidCertificate(e)),
            None => Ok(()),
        }
    }

    /// Every error of a peer's chain, in the order OpenSSL meets them (the last one is
    /// what it reports when a verify callback lets them all through): the chain, the
    /// issuers, the leaf's purpose, revocation, then each certificate's signature and
    /// dates from the top down. Empty: the chain is good.
    pub fn errors(
        &self,
        leaf: &CertificateDer<'_>,
        rest: &[CertificateDer<'_>],
        now: UnixTime,
        purpose: Purpose,
    ) -> Vec<C> {
        let mut errs = Vec::new();
        let named = self.ca.certs.load_full();
        let unnamed = self.verify_ca.as_ref().map(|v| v.certs.load_full());
        let crls = self.crl.as_ref().map(|c| c.crls.load_full());
        let cas: Vec<X509Certificate<'_>> = named
            .iter()
            .chain(unnamed.iter().flat_map(|v| v.iter()))
            .filter_map(|c| parse(c))
            .collect();
        let sent: Vec<X509Certificate<'_>> = rest.iter().filter_map(|c| parse(c)).collect();
        let Some(leaf) = parse(leaf) else {
            return vec![C::BadEncoding];
        };
        let Ok(now) = ASN1Time::from_timestamp(now.as_secs() as i64) else {
            return vec![C::Expired];
        };

        // The chain, from the leaf up to a trusted certificate.
        let mut chain: Vec<&X509Certificate<'_>> = vec![&leaf];
        let mut trusted = false;
        while chain.len() <= MAX_DEPTH {
            let cur = chain[chain.len() - 1];
            if cas.iter().any(|c| c.as_ref() == cur.as_ref()) {
                trusted = true;
                break;
            }
            let issued_by = |c: &&X509Certificate<'_>| {
                c.subject().as_raw() == cur.issuer().as_raw()
                    && !chain.iter().any(|d| d.as_ref() == c.as_ref())
            };
            // A trusted issuer first (whose signature holds), then one the peer sent.
            let signs =
                |c: &&X509Certificate<'_>| cur.verify_signature(Some(c.public_key())).is_ok();
            let found = cas
                .iter()
                .filter(issued_by)
                .find(signs)
                .or_else(|| sent.iter().filter(issued_by).find(signs))
                .or_else(|| cas.iter().chain(&sent).find(issued_by));
            match found {
                Some(i) => chain.push(i),
                None => break,
            }
        }
        if !trusted {
            errs.push(C::UnknownIssuer);
        }

        // Issuers: CAs allowed to sign, within their path length.
        for (depth, c) in chain.iter().enumerate().skip(1) {
            let ca_ok = match c.basic_constraints() {
                Ok(Some(bc)) => {
                    bc.value.ca
                        && bc
                            .value
                            .path_len_constraint
                            .is_none_or(|n| (depth - 1) as u32 <= n)
                }
                Ok(None) => c.version().0 == 0 && c.subject() == c.issuer(),
                Err(_) => false,
            };
            let signs = match c.key_usage() {
                Ok(Some(ku)) => ku.value.key_cert_sign(),
                Ok(None) => true,
                Err(_) => false,
            };
            if !ca_ok || !signs {
                errs.push(C::UnknownIssuer);
            }
        }

        // The leaf's purpose.
        if let Ok(Some(eku)) = leaf.extended_key_usage() {
            let e = eku.value;
            let ok = e.any
                || match purpose {
                    Purpose::Client => e.client_auth,
                    Purpose::Server => e.server_auth,
                };
            if !ok {
                errs.push(C::InvalidPurpose);
            }
        }

        // Revocation.
        if let Some(crls) = &crls {
            for (depth, c) in chain.iter().enumerate() {
                let Some(issuer) = chain.get(depth + 1) else {
                    break;
                };
                let parsed: Vec<_> = crls
                    .iter()
                    .filter_map(|l| x509_parser::parse_x509_crl(&l.der).ok().map(|(_, x)| x))
                    .filter(|l| l.issuer().as_raw() == issuer.subject().as_raw())
                    .filter(|l| l.verify_signature(issuer.public_key()).is_ok())
                    .collect();
                if parsed.is_empty() {
                    if depth == 0 {
                        errs.push(C::UnknownRevocationStatus);
                    }
                    continue;
                }
                if parsed
                    .iter()
                    .all(|l| l.next_update().is_some_and(|n| n < now))
                {
                    errs.push(C::ExpiredRevocationList);
                }
                let serial = trim(c.raw_serial());
                if parsed
                    .iter()
                    .flat_map(|l| l.iter_revoked_certificates())
                    .any(|r| trim(r.raw_serial()) == serial)
                {
                    errs.push(C::Revoked);
                }
            }
        }

        // Signatures and validity, from the top down as OpenSSL's internal_verify.
        for depth in (0..chain.len()).rev() {
            let c = chain[depth];
            if let Some(issuer) = chain.get(depth + 1) {
                if c.verify_signature(Some(issuer.public_key())).is_err() {
                    errs.push(C::BadSignature);
                }
            }
            let v = c.validity();
            if now < v.not_before {
                errs.push(C::NotValidYet);
            }
            if now > v.not_after {
                errs.push(C::Expired);
            }
        }
        errs
    }

    /// The subjects of the `ca-file` certificates, as a server's certificate request
    /// lists them.
    pub fn subjects(&self) -> Vec<rustls::DistinguishedName> {
        self.ca
            .certs
            .load()
            .iter()
            .filter_map(|c| x509_parser::parse_x509_certificate(c).ok())
            .map(|(_, x)| rustls::DistinguishedName::from(x.subject().as_raw().to_vec()))
            .collect()
    }
}

fn parse(d: &[u8]) -> Option<X509Certificate<'_>> {
    x509_parser::parse_x509_certificate(d).ok().map(|(_, x)| x)
}

/// A DER integer's magnitude (without the sign byte).
fn trim(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|&&x| x == 0).count();
    &b[n.min(b.len().saturating_sub(1))..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn data(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/tls")
            .join(name)
    }

    fn chain(name: &str) -> Vec<CertificateDer<'static>> {
        pem_certs(&std::fs::read(data(name)).unwrap())
    }

    #[test]
    fn chains_to_the_ca_and_checks_dates_and_issuers() {
        let t = Trust::load(&TrustFiles::default(), &data("ca.crt"), None, None).unwrap();
        let now = UnixTime::now();
        let c = chain("client.pem");
        t.verify(&c[0], &c[1..], now, Purpose::Client).unwrap();
        // The v1 certificate is taken, as OpenSSL does.
        let v1 = chain("v1.pem");
        t.verify(&v1[0], &[], now, Purpose::Client).unwrap();
        let w = chain("wrongca.pem");
        assert_eq!(
            t.verify(&w[0], &[], now, Purpose::Client).unwrap_err(),
            rustls::Error::InvalidCertificate(C::UnknownIssuer)
        );
        let past = UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_000_000_000));
        assert_eq!(
            t.verify(&c[0], &[], past, Purpose::Client).unwrap_err(),
            rustls::Error::InvalidCertificate(C::NotValidYet)
        );
    }

    #[test]
    fn serials_compare_without_sign_bytes() {
        assert_eq!(trim(&[0, 0x80]), &[0x80]);
        assert_eq!(trim(&[0]), &[0]);
        assert_eq!(trim(&[3]), &[3]);
    }
}
