//! Certificates changed at run time over the runtime socket (`set ssl cert FILE` with a
//! PEM payload, `commit ssl cert FILE`): reading a payload as HAProxy does, checking the
//! result, and the details `show ssl cert FILE` prints, in HAProxy's words.

use super::{cert_names, provider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use std::sync::Arc;

/// A certificate being built by `set ssl cert` (HAProxy's uncommitted `*FILE`).
#[derive(Debug, Default)]
pub struct Pending {
    /// The leaf first, then its chain (empty: no certificate yet).
    pub chain: Vec<CertificateDer<'static>>,
    /// The private key, if one was given.
    pub key: Option<PrivateKeyDer<'static>>,
}

impl Clone for Pending {
    fn clone(&self) -> Self {
        Pending {
            chain: self.chain.clone(),
            key: self.key.as_ref().map(PrivateKeyDer::clone_key),
        }
    }
}

impl Pending {
    /// A certificate already in use (its key stays with it only once signed for).
    pub fn of(c: &CertifiedKey) -> Pending {
        Pending {
            chain: c.cert.clone(),
            key: None,
        }
    }

    /// Replaces the certificate, chain and key with those of a PEM payload (a key the
    /// payload lacks is gone, as with HAProxy); `name` is the file it stands for.
    pub fn load_pem(&mut self, name: &str, pem: &str) -> Result<(), String> {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem.as_bytes())
            .filter_map(Result::ok)
            .collect();
        let Some(leaf) = chain.first() else {
            return Err(format!(
                "unable to load certificate from file '{name}': no start line.\n"
            ));
        };
        if x509_parser::parse_x509_certificate(leaf.as_ref()).is_err() {
            return Err(format!(
                "unable to load certificate from file '{name}': wrong tag.\n"
            ));
        }
        self.chain = chain;
        self.key = PrivateKeyDer::pem_slice_iter(pem.as_bytes()).find_map(Result::ok);
        Ok(())
    }

    /// Replaces the key with the one of a PEM payload (`set ssl cert FILE.key`).
    pub fn load_key(&mut self, name: &str, pem: &str) -> Result<(), String> {
        match PrivateKeyDer::pem_slice_iter(pem.as_bytes()).find_map(Result::ok) {
            Some(k) => {
                self.key = Some(k);
                Ok(())
            }
            None => Err(format!("unable to load private key from file '{name}'.\n")),
        }
    }

    /// The certificate ready to serve and the names it is valid for; the error as
    /// `commit ssl cert` words it.
    pub fn certified(&self, name: &str) -> Result<(Arc<CertifiedKey>, Vec<String>), String> {
        let Some(key) = &self.key else {
            return Err(
                "The transaction must contain at least a certificate and a private key!\n".into(),
            );
        };
        let bad =
            || format!("inconsistencies between private key and certificate loaded '{name}'.\n");
        let signer = provider()
            .key_provider
            .load_private_key(key.clone_key())
            .map_err(|_| bad())?;
        let c = CertifiedKey::new(self.chain.clone(), signer);
        super::keys_match(&c).map_err(|_| bad())?;
        let names = cert_names(&c.cert[0]);
        Ok((Arc::new(c), names))
    }
}

/// Uppercase hexadecimal, as HAProxy dumps binary values.
pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

/// A time as OpenSSL's `ASN1_TIME_print` writes it: `Sep 10 15:31:47 2020 GMT`.
pub(crate) fn asn1_time(t: x509_parser::time::ASN1Time) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = t.to_datetime();
    format!(
        "{} {:2} {:02}:{:02}:{:02} {} GMT",
        MONTHS[(t.month() as usize).saturating_sub(1) % 12],
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.year()
    )
}

/// The key algorithm and size as HAProxy names them: `RSA2048`, `EC256`, `DSA1024`.
fn algorithm(x: &x509_parser::certificate::X509Certificate<'_>) -> String {
    use x509_parser::public_key::PublicKey;
    let spki = x.public_key();
    match spki.parsed() {
        Ok(PublicKey::RSA(r)) => format!("RSA{}", r.key_size()),
        Ok(PublicKey::EC(p)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|a| a.as_oid().ok())
                .map(|o| o.to_id_string());
            let bits = match curve.as_deref() {
                Some("1.2.840.10045.3.1.7") => 256,
                Some("1.3.132.0.34") => 384,
                Some("1.3.132.0.35") => 521,
                _ => p.key_size(),
            };
            format!("EC{bits}")
        }
        Ok(k @ PublicKey::DSA(_)) => format!("DSA{}", k.key_size()),
        _ => spki.algorithm.algorithm.to_id_string(),
    }
}

/// What `show ssl cert FILE` prints of a certificate after its `Filename:` and
/// `Status:` lines: serial, validity, names, key, fingerprint, subject, issuer, and
/// the subject and issuer of each certificate of its chain.
pub fn detail(chain: &[CertificateDer<'_>]) -> String {
    use std::fmt::Write;
    let Some(leaf) = chain.first() else {
        return String::new();
    };
    let Ok((_, x)) = x509_parser::parse_x509_certificate(leaf.as_ref()) else {
        return String::new();
    };
    let mut o = String::new();
    // OpenSSL keeps a serial's magnitude without DER's sign padding.
    let serial = x.raw_serial();
    let serial = match serial {
        [0, rest @ ..] if !rest.is_empty() => rest,
        s => s,
    };
    let _ = writeln!(o, "Serial: {}", hex(serial));
    let _ = writeln!(o, "notBefore: {}", asn1_time(x.validity().not_before));
    let _ = writeln!(o, "notAfter: {}", asn1_time(x.validity().not_after));
    let san: Vec<String> = match x.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .map(|n| match n {
                x509_parser::extensions::GeneralName::DNSName(d) => format!("DNS:{d}"),
                _ => String::new(),
            })
            .collect(),
        _ => Vec::new(),
    };
    let _ = writeln!(o, "Subject Alternative Name: {}", san.join(", "));
    let _ = writeln!(o, "Algorithm: {}", algorithm(&x));
    let sha1 = <sha1::Sha1 as sha1::Digest>::digest(leaf.as_ref());
    let _ = writeln!(o, "SHA1 FingerPrint: {}", hex(&sha1));
    let dn = |c: &CertificateDer<'_>, issuer: bool| {
        crate::sample::ssl::dn(c.as_ref(), issuer, None, 0).unwrap_or_default()
    };
    let _ = writeln!(o, "Subject: {}", dn(leaf, false));
    let _ = writeln!(o, "Issuer: {}", dn(leaf, true));
    for c in &chain[1..] {
        let _ = writeln!(o, "Chain Subject: {}", dn(c, false));
        let _ = writeln!(o, "Chain Issuer: {}", dn(c, true));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(name: &str) -> String {
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data/tls")
                .join(name),
        )
        .expect("test data")
    }

    #[test]
    fn payloads_build_a_certificate_or_say_why_not() {
        let mut p = Pending::default();
        let e = p.load_pem("/x.pem", "garbage").unwrap_err();
        assert_eq!(
            e,
            "unable to load certificate from file '/x.pem': no start line.\n"
        );
        assert!(p.chain.is_empty(), "a bad payload changes nothing");
        p.load_pem("/x.pem", &data("nokey.pem")).unwrap();
        assert!(p.key.is_none());
        assert_eq!(
            p.certified("/x.pem").unwrap_err(),
            "The transaction must contain at least a certificate and a private key!\n"
        );
        // nokey.pem is other.test's certificate: the key of another one.
        p.load_key("/x", &data("www.example.test.pem")).unwrap();
        assert_eq!(
            p.certified("/x.pem").unwrap_err(),
            "inconsistencies between private key and certificate loaded '/x.pem'.\n"
        );
        assert_eq!(
            p.load_key("/x", "nothing").unwrap_err(),
            "unable to load private key from file '/x'.\n"
        );
        p.load_pem("/x.pem", &data("www.example.test.pem")).unwrap();
        let (c, names) = p.certified("/x.pem").unwrap();
        assert_eq!(names, ["www.example.test", "*.example.test"]);
        let d = detail(&c.cert);
        assert!(
            d.contains("\nSubject Alternative Name: DNS:www.example.test, DNS:*.example.test\n"),
            "{d}"
        );
        assert!(d.contains(" GMT\nnotAfter: "), "{d}");
        let fp = d
            .lines()
            .find_map(|l| l.strip_prefix("SHA1 FingerPrint: "))
            .unwrap();
        assert_eq!(fp.len(), 40);
        assert!(fp
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()));
    }

    #[test]
    fn times_as_openssl_prints_them() {
        let t = x509_parser::time::ASN1Time::from_timestamp(1_599_751_907).unwrap();
        assert_eq!(asn1_time(t), "Sep 10 15:31:47 2020 GMT");
        let t = x509_parser::time::ASN1Time::from_timestamp(1_614_945_600).unwrap();
        assert_eq!(asn1_time(t), "Mar  5 12:00:00 2021 GMT");
    }
}
