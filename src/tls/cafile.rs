//! The CA and CRL files of one configuration (`ca-file`, `ca-verify-file`,
//! `crl-file` of binds, crt-list lines and servers), each loaded once and shared by
//! every verifier naming it: HAProxy's CA file tree. The runtime socket's `set ssl
//! ca-file` / `commit ssl ca-file` (and `crl-file`) swap a file's content, which the
//! verifiers read at each handshake; `new ssl ca-file` adds an empty one a crt-list
//! line added later can name.

use super::pkix::Crl;
use super::TlsError;
use arc_swap::ArcSwap;
use rustls::pki_types::CertificateDer;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The certificates of one CA file.
#[derive(Debug, Default)]
pub struct CaFile {
    /// Its certificates, in file order (empty: created by `new ssl ca-file`, not set).
    pub certs: ArcSwap<Vec<CertificateDer<'static>>>,
}

/// The revocation lists of one CRL file.
#[derive(Debug, Default)]
pub struct CrlFile {
    /// Its CRLs, in file order (empty: created by `new ssl crl-file`, not set).
    pub crls: ArcSwap<Vec<Crl>>,
}

/// Every CA and CRL file of a configuration, by the name the configuration gives it.
#[derive(Debug, Default)]
pub struct TrustFiles {
    cas: Mutex<BTreeMap<String, Arc<CaFile>>>,
    crls: Mutex<BTreeMap<String, Arc<CrlFile>>>,
}

fn key(path: &Path) -> String {
    path.display().to_string()
}

impl TrustFiles {
    /// The CA file `path`: the one already known by that name, else read from disk.
    pub fn ca(&self, path: &Path) -> Result<Arc<CaFile>, TlsError> {
        let mut m = self.cas.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = m.get(&key(path)) {
            return Ok(f.clone());
        }
        let f = Arc::new(CaFile {
            certs: ArcSwap::from_pointee(super::load_ca_certs(path)?),
        });
        m.insert(key(path), f.clone());
        Ok(f)
    }

    /// The CRL file `path`: the one already known by that name, else read from disk.
    pub fn crl(&self, path: &Path) -> Result<Arc<CrlFile>, TlsError> {
        let mut m = self.crls.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = m.get(&key(path)) {
            return Ok(f.clone());
        }
        let f = Arc::new(CrlFile {
            crls: ArcSwap::from_pointee(super::load_crl_list(path)?),
        });
        m.insert(key(path), f.clone());
        Ok(f)
    }

    /// The CA files, sorted by name.
    pub fn cas(&self) -> Vec<(String, Arc<CaFile>)> {
        let m = self.cas.lock().unwrap_or_else(|e| e.into_inner());
        m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// The CRL files, sorted by name.
    pub fn crls(&self) -> Vec<(String, Arc<CrlFile>)> {
        let m = self.crls.lock().unwrap_or_else(|e| e.into_inner());
        m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// Whether a CA or CRL file has this name (they share one namespace).
    pub fn exists(&self, name: &str) -> bool {
        let cas = self.cas.lock().unwrap_or_else(|e| e.into_inner());
        let crls = self.crls.lock().unwrap_or_else(|e| e.into_inner());
        cas.contains_key(name) || crls.contains_key(name)
    }

    /// Adds an empty CA file (`new ssl ca-file`).
    pub fn add_ca(&self, name: &str) {
        let mut m = self.cas.lock().unwrap_or_else(|e| e.into_inner());
        m.insert(name.to_string(), Arc::default());
    }

    /// Adds an empty CRL file (`new ssl crl-file`).
    pub fn add_crl(&self, name: &str) {
        let mut m = self.crls.lock().unwrap_or_else(|e| e.into_inner());
        m.insert(name.to_string(), Arc::default());
    }

    /// Forgets a CA file (`del ssl ca-file`); false: there is none by that name.
    pub fn remove_ca(&self, name: &str) -> bool {
        let mut m = self.cas.lock().unwrap_or_else(|e| e.into_inner());
        m.remove(name).is_some()
    }

    /// Forgets a CRL file (`del ssl crl-file`); false: there is none by that name.
    pub fn remove_crl(&self, name: &str) -> bool {
        let mut m = self.crls.lock().unwrap_or_else(|e| e.into_inner());
        m.remove(name).is_some()
    }
}

/// The long name OpenSSL gives a signature algorithm (its dotted OID for others).
fn sig_name(oid: &str) -> String {
    match oid {
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.113549.1.1.14" => "sha224WithRSAEncryption",
        "1.2.840.113549.1.1.10" => "rsassaPss",
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.3.101.112" => "ED25519",
        other => other,
    }
    .to_string()
}

/// What `show ssl crl-file FILE` prints of one CRL, as HAProxy words it after
/// `openssl crl -text`: version, signature algorithm, issuer, updates, and each
/// revoked serial with its date.
pub fn crl_detail(der: &[u8]) -> String {
    use std::fmt::Write;
    let Ok((_, c)) = x509_parser::parse_x509_crl(der) else {
        return String::new();
    };
    let mut o = String::new();
    let version = c.version().map_or(0, |v| v.0);
    let _ = writeln!(o, "Version {}", version + 1);
    let _ = writeln!(
        o,
        "Signature Algorithm: {}",
        sig_name(&c.signature_algorithm.algorithm.to_id_string())
    );
    let _ = writeln!(o, "Issuer: {}", crate::sample::ssl::oneline(c.issuer()));
    let _ = writeln!(
        o,
        "Last Update: {}",
        super::runtime::asn1_time(c.last_update())
    );
    let next = c.next_update().map(super::runtime::asn1_time);
    let _ = writeln!(o, "Next Update: {}", next.as_deref().unwrap_or("NONE"));
    let revoked: Vec<_> = c.iter_revoked_certificates().collect();
    if revoked.is_empty() {
        o.push_str("No Revoked Certificates.\n");
    } else {
        o.push_str("Revoked Certificates:\n");
    }
    for r in revoked {
        let serial = r.raw_serial();
        let serial = match serial {
            [0, rest @ ..] if !rest.is_empty() => rest,
            s => s,
        };
        let _ = writeln!(o, "    Serial Number: {}", super::runtime::hex(serial));
        let _ = writeln!(
            o,
            "        Revocation Date: {}",
            super::runtime::asn1_time(r.revocation_date)
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_file_is_loaded_once_and_shared() {
        let ca = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tls/ca.crt");
        let files = TrustFiles::default();
        let a = files.ca(&ca).unwrap();
        let b = files.ca(&ca).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.certs.load().len(), 1);
        // A swap is seen through every holder.
        a.certs.store(Arc::new(Vec::new()));
        assert!(b.certs.load().is_empty());
        assert!(files.exists(&ca.display().to_string()));
        files.add_crl("new.crl");
        assert!(files.exists("new.crl"));
        assert!(files.crls()[0].1.crls.load().is_empty());
        assert!(files.remove_crl("new.crl"));
        assert!(!files.remove_crl("new.crl"));
        assert!(files.crl(Path::new("/nonexistent.crl")).is_err());
    }

    #[test]
    fn signature_algorithms_by_openssl_long_name() {
        assert_eq!(sig_name("1.2.840.113549.1.1.11"), "sha256WithRSAEncryption");
        assert_eq!(sig_name("1.2.840.10045.4.3.2"), "ecdsa-with-SHA256");
        assert_eq!(sig_name("1.2.3"), "1.2.3");
    }
}
