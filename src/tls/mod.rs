//! TLS material as HAProxy reads it: PEM files holding a certificate chain and its key
//! (`bind ... ssl crt FILE`, `server ... crt FILE`), CA bundles (`ca-file`) and CRLs
//! (`crl-file`), on rustls with the `ring` provider.
//!
//! Files are read when a configuration is built (start and every reload), so a bad
//! file is an error of that configuration and the running one keeps serving.

pub mod cafile;
pub mod client;
pub mod pkix;
pub mod runtime;
pub mod server;
pub mod srvcert;
pub mod suites;
pub mod verify;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a TLS file could not be used, worded for `[ALERT]` lines and `-c`.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file could not be read.
    #[error("unable to load SSL certificate file '{path}': {reason}")]
    Read { path: PathBuf, reason: String },
    /// The file has no certificate.
    #[error("unable to load SSL certificate from PEM file '{}'.", path.display())]
    NoCert { path: PathBuf },
    /// Neither the file nor FILE.key has a private key.
    #[error("unable to load SSL private key from PEM file '{}'.", path.display())]
    NoKey { path: PathBuf },
    /// The key is not one rustls can sign with, or does not match the certificate.
    #[error("inconsistencies between private key and certificate loaded from PEM file '{}': {reason}", path.display())]
    BadKey { path: PathBuf, reason: String },
    /// A CA or CRL file without a usable entry.
    #[error("unable to load {what} file '{}': {reason}", path.display())]
    Bundle {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
}

/// The provider every lbd TLS configuration uses.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate chain with its key, ready for a rustls server or client config, and
/// the names the leaf certificate is valid for.
#[derive(Debug, Clone)]
pub struct CertKey {
    /// The file it was read from.
    pub path: PathBuf,
    /// The chain and signing key.
    pub certified: Arc<rustls::sign::CertifiedKey>,
    /// The names of the leaf: its subjectAltName DNS entries, then its CNs
    /// (lowercase; wildcards as `*.example.com`).
    pub names: Vec<String>,
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError::Read {
        path: path.to_path_buf(),
        reason: e.kind().to_string(),
    })
}

/// The private key found in PEM bytes, if any.
fn find_key(pem: &[u8]) -> Option<PrivateKeyDer<'static>> {
    PrivateKeyDer::pem_slice_iter(pem).find_map(Result::ok)
}

/// Loads a HAProxy `crt` file: the leaf certificate first, its chain after it, and
/// the key in the same file or else in `FILE.key`.
pub fn load_cert_key(path: &Path) -> Result<CertKey, TlsError> {
    load_cert_key_ext(path, false)
}

/// Where the key of a certificate file without one is: `FILE.key`, or with
/// `ssl-load-extra-del-ext` (`del_ext`) `NAME.key` for `NAME.crt`.
pub fn key_path(path: &Path, del_ext: bool) -> PathBuf {
    let base = match path.to_str().and_then(|p| p.strip_suffix(".crt")) {
        Some(b) if del_ext => std::ffi::OsString::from(b),
        _ => path.as_os_str().to_owned(),
    };
    let mut kp = base;
    kp.push(".key");
    PathBuf::from(kp)
}

/// [`load_cert_key`], with `ssl-load-extra-del-ext` when `del_ext`.
pub fn load_cert_key_ext(path: &Path, del_ext: bool) -> Result<CertKey, TlsError> {
    let pem = read(path)?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(TlsError::NoCert {
            path: path.to_path_buf(),
        });
    }
    let key = match find_key(&pem) {
        Some(k) => k,
        None => {
            let kp = key_path(path, del_ext);
            std::fs::read(&kp)
                .ok()
                .and_then(|b| find_key(&b))
                .ok_or_else(|| TlsError::NoKey {
                    path: path.to_path_buf(),
                })?
        }
    };
    let bad = |reason: String| TlsError::BadKey {
        path: path.to_path_buf(),
        reason,
    };
    let signer = provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| bad(e.to_string()))?;
    let certified = rustls::sign::CertifiedKey::new(chain, signer);
    keys_match(&certified).map_err(bad)?;
    let names = cert_names(&certified.cert[0]);
    Ok(CertKey {
        path: path.to_path_buf(),
        certified: Arc::new(certified),
        names,
    })
}

/// Whether the key signs for the leaf certificate: the same public key. Read with
/// x509-parser, which (as OpenSSL) also takes X.509 v1 certificates, where rustls'
/// own check refuses them.
pub fn keys_match(c: &rustls::sign::CertifiedKey) -> Result<(), String> {
    let Some(spki) = c.key.public_key() else {
        // A key that cannot tell its public half: rustls' check is all there is.
        return c.keys_match().map_err(|e| e.to_string());
    };
    let leaf = c.end_entity_cert().map_err(|e| e.to_string())?;
    let (_, x) = x509_parser::parse_x509_certificate(leaf.as_ref())
        .map_err(|e| format!("invalid certificate: {e}"))?;
    if x.tbs_certificate.subject_pki.raw == spki.as_ref() {
        Ok(())
    } else {
        Err("the private key does not match the certificate".into())
    }
}

/// Checks a handshake signature with the public key of `cert` read by x509-parser,
/// which takes X.509 v1 certificates (webpki refuses them): how a `verify none`
/// server's v1 certificate is used, as OpenSSL does. Every algorithm rustls maps the
/// scheme to is tried.
pub fn verify_with_cert_key(
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &rustls::DigitallySignedStruct,
    algs: &rustls::crypto::WebPkiSupportedAlgorithms,
) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
    let bad = || rustls::Error::InvalidCertificate(rustls::CertificateError::BadSignature);
    let (_, x) = x509_parser::parse_x509_certificate(cert.as_ref()).map_err(|_| bad())?;
    let key = x
        .tbs_certificate
        .subject_pki
        .subject_public_key
        .data
        .as_ref();
    let candidates = algs
        .mapping
        .iter()
        .filter(|(s, _)| *s == dss.scheme)
        .flat_map(|(_, a)| a.iter());
    for alg in candidates {
        if alg.verify_signature(key, message, dss.signature()).is_ok() {
            return Ok(rustls::client::danger::HandshakeSignatureValid::assertion());
        }
    }
    Err(bad())
}

/// The names a certificate is chosen for by SNI, as HAProxy takes them: its
/// subjectAltName DNS entries, then its subject's CNs (lowercase).
pub fn cert_names(cert: &CertificateDer<'_>) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let Ok((_, x)) = x509_parser::parse_x509_certificate(cert.as_ref()) else {
        return Vec::new();
    };
    let mut names: Vec<String> = match x.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                GeneralName::DNSName(d) => Some(d.to_ascii_lowercase()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    // As HAProxy, the subject's CNs serve too, SAN or not.
    for cn in x
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok())
        .map(str::to_ascii_lowercase)
    {
        if !names.contains(&cn) {
            names.push(cn);
        }
    }
    names
}

/// Whether `name` (an SNI, lowercase) is covered by certificate name `pattern`
/// (`*.example.com` covers exactly one label).
pub fn name_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => name
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
        None => pattern == name,
    }
}

/// The certificates of a `ca-file` (PEM bundle).
pub fn load_ca_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = pkix::pem_certs(&read(path)?);
    if certs.is_empty() {
        return Err(TlsError::Bundle {
            what: "CA",
            path: path.to_path_buf(),
            reason: "no certificate found".into(),
        });
    }
    Ok(certs)
}

/// The certificates of a `ca-file` as a rustls root store (what a rustls client
/// trusting them takes).
pub fn load_ca(path: &Path) -> Result<rustls::RootCertStore, TlsError> {
    let mut store = rustls::RootCertStore::empty();
    for c in load_ca_certs(path)? {
        store.add(c).map_err(|e| TlsError::Bundle {
            what: "CA",
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    }
    Ok(store)
}

/// The revocation lists of a `crl-file` (PEM, one or more `X509 CRL` sections, v1 or
/// v2).
pub fn load_crl_list(path: &Path) -> Result<Vec<pkix::Crl>, TlsError> {
    let bundle = |reason: String| TlsError::Bundle {
        what: "CRL",
        path: path.to_path_buf(),
        reason,
    };
    let crls = pkix::pem_crls(&read(path)?).map_err(bundle)?;
    if crls.is_empty() {
        return Err(bundle("no CRL found".into()));
    }
    Ok(crls)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/tls")
            .join(name)
    }

    #[test]
    fn loads_chain_and_key_from_one_file() {
        let ck = load_cert_key(&data("www.example.test.pem")).expect("loads");
        assert_eq!(ck.names, ["www.example.test", "*.example.test"]);
        assert_eq!(ck.certified.cert.len(), 1);
    }

    #[test]
    fn an_x509_v1_certificate_loads_with_its_cn() {
        let ck = load_cert_key(&data("v1.pem")).expect("v1 loads, as with OpenSSL");
        assert_eq!(ck.names, ["v1.example.test"]);
    }

    #[test]
    fn sni_names_are_the_sans_then_the_cn() {
        let ck = load_cert_key(&data("cn-not-in-san.pem")).expect("loads");
        assert_eq!(ck.names, ["alt.example.test", "cn.example.test"]);
    }

    #[test]
    fn key_paths_with_and_without_del_ext() {
        let p = Path::new("/c/site.crt");
        assert_eq!(key_path(p, false), Path::new("/c/site.crt.key"));
        assert_eq!(key_path(p, true), Path::new("/c/site.key"));
        assert_eq!(
            key_path(Path::new("/c/a.pem"), true),
            Path::new("/c/a.pem.key")
        );
    }

    #[test]
    fn key_in_dot_key_file() {
        let ck = load_cert_key(&data("split.pem")).expect("loads with split.pem.key");
        assert_eq!(ck.names, ["split.example.test"]);
    }

    #[test]
    fn missing_key_and_mismatched_key_are_errors() {
        let e = load_cert_key(&data("nokey.pem")).unwrap_err();
        assert!(
            e.to_string().contains("unable to load SSL private key"),
            "{e}"
        );
        let e = load_cert_key(&data("mismatch.pem")).unwrap_err();
        assert!(e.to_string().starts_with("inconsistencies"), "{e}");
        let e = load_cert_key(&data("absent.pem")).unwrap_err();
        assert!(e.to_string().contains("absent.pem"), "{e}");
    }

    #[test]
    fn wildcards_cover_one_label() {
        assert!(name_matches("*.example.test", "a.example.test"));
        assert!(!name_matches("*.example.test", "a.b.example.test"));
        assert!(!name_matches("*.example.test", "example.test"));
        assert!(name_matches("example.test", "example.test"));
    }

    #[test]
    fn ca_bundle_loads() {
        assert_eq!(load_ca_certs(&data("ca.crt")).expect("ca").len(), 1);
        assert!(load_ca_certs(&data("nokey.pem.crt-absent")).is_err());
    }
}
