//! OpenSSL's cipher and version words mapped to rustls: `ciphers` (TLSv1.2 cipher
//! lists, OpenSSL syntax), `ciphersuites` (TLSv1.3) and `ssl-min-ver`/`ssl-max-ver`.
//!
//! As OpenSSL, a list is refused only when nothing in it can be used: names rustls
//! lacks (DHE, CBC, CCM...) are skipped when the list has others.

use crate::config::model::{SrvTlsVer, TlsVersions};
use rustls::crypto::ring::cipher_suite as cs;
use rustls::SupportedCipherSuite;

/// The TLSv1.2 suites rustls has, by their OpenSSL names.
const TLS12: &[(&str, SupportedCipherSuite)] = &[
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "ECDHE-RSA-AES128-GCM-SHA256",
        cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "ECDHE-RSA-AES256-GCM-SHA384",
        cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "ECDHE-RSA-CHACHA20-POLY1305",
        cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
];

/// The TLSv1.3 suites rustls has, by their (OpenSSL and IANA) names.
const TLS13: &[(&str, SupportedCipherSuite)] = &[
    ("TLS_AES_128_GCM_SHA256", cs::TLS13_AES_128_GCM_SHA256),
    ("TLS_AES_256_GCM_SHA384", cs::TLS13_AES_256_GCM_SHA384),
    (
        "TLS_CHACHA20_POLY1305_SHA256",
        cs::TLS13_CHACHA20_POLY1305_SHA256,
    ),
];

/// Whether the OpenSSL cipher `name` belongs to the OpenSSL group word `word`
/// (`HIGH`, `ECDHE`, `AESGCM`, `aRSA`...); None: not a group word lbd knows.
fn in_group(word: &str, name: &str) -> Option<bool> {
    Some(match word {
        "ALL" | "DEFAULT" | "HIGH" | "TLSv1.2" | "ECDHE" | "EECDH" | "kEECDH" | "kECDHE"
        | "AEAD" => true,
        "AESGCM" => name.contains("GCM"),
        "CHACHA20" => name.contains("CHACHA20"),
        "AES" => name.contains("AES"),
        "AES128" => name.contains("AES128"),
        "AES256" => name.contains("AES256"),
        "ECDSA" | "aECDSA" => name.contains("ECDSA"),
        "RSA" | "aRSA" => name.contains("-RSA-"),
        "SHA256" => name.ends_with("SHA256") || name.ends_with("POLY1305"),
        "SHA384" => name.ends_with("SHA384"),
        // Families rustls has none of: they select nothing.
        "aNULL" | "eNULL" | "NULL" | "MD5" | "RC4" | "DES" | "3DES" | "EXP" | "EXPORT" | "LOW"
        | "MEDIUM" | "PSK" | "SRP" | "DSS" | "aDSS" | "DHE" | "EDH" | "kDHE" | "kEDH"
        | "CAMELLIA" | "SEED" | "IDEA" | "CBC" | "SHA1" | "SHA" | "CCM" | "CCM8" | "ARIA"
        | "kRSA" | "aPSK" | "ADH" | "AECDH" => false,
        _ => return None,
    })
}

/// Whether `name` matches a term: a cipher name, a group word, or `A+B` (all of them).
fn term_matches(term: &str, name: &str) -> bool {
    term == name
        || term
            .split('+')
            .all(|w| in_group(w, name).unwrap_or(w == name))
}

/// The TLSv1.2 suites of an OpenSSL cipher list (`ciphers`,
/// `ssl-default-server-ciphers`), in rustls's order of preference. Err: the list
/// selects none of them.
pub fn tls12(list: &str) -> Result<Vec<SupportedCipherSuite>, String> {
    let mut chosen: Vec<&str> = Vec::new();
    let mut banned: Vec<&str> = Vec::new();
    for term in list.split([':', ',', ' ']).filter(|t| !t.is_empty()) {
        if term.starts_with('@') || term.starts_with('+') {
            continue;
        }
        let (ban, term) = match term.strip_prefix(['!', '-']) {
            Some(t) => (true, t),
            None => (false, term),
        };
        for (name, _) in TLS12.iter().filter(|(n, _)| term_matches(term, n)) {
            if ban {
                banned.push(name);
            } else if !chosen.contains(name) {
                chosen.push(name);
            }
        }
    }
    let v: Vec<SupportedCipherSuite> = TLS12
        .iter()
        .filter(|(n, _)| chosen.contains(n) && !banned.contains(n))
        .map(|(_, s)| *s)
        .collect();
    if v.is_empty() {
        return Err(format!(
            "unable to set SSL cipher list to '{list}' (lbd's TLS library has none of these; it has {}).",
            TLS12.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(":")
        ));
    }
    Ok(v)
}

/// The TLSv1.3 suites of a `ciphersuites` list. Err: the list names none of them.
pub fn tls13(list: &str) -> Result<Vec<SupportedCipherSuite>, String> {
    let names: Vec<&str> = list.split(':').collect();
    let v: Vec<SupportedCipherSuite> = TLS13
        .iter()
        .filter(|(n, _)| names.contains(n))
        .map(|(_, s)| *s)
        .collect();
    if v.is_empty() {
        return Err(format!(
            "unable to set TLS 1.3 cipher suites to '{list}' (lbd's TLS library has {}).",
            TLS13.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(":")
        ));
    }
    Ok(v)
}

/// The rustls suite an OpenSSL name stands for.
pub fn by_name(name: &str) -> Option<rustls::CipherSuite> {
    TLS12
        .iter()
        .chain(TLS13)
        .find(|(n, _)| *n == name)
        .map(|(_, s)| s.suite())
}

/// The OpenSSL name of a negotiated suite (`TLS13_AES_128_GCM_SHA256` is
/// `TLS_AES_128_GCM_SHA256`), as `ssl_fc_cipher`/`ssl_bc_cipher` give it.
pub fn openssl_name(suite: rustls::CipherSuite) -> Option<&'static str> {
    TLS12
        .iter()
        .chain(TLS13)
        .find(|(_, s)| s.suite() == suite)
        .map(|(n, _)| *n)
}

/// The symmetric key size of a suite in bits (`ssl_bc_alg_keysize`): 128 for the
/// AES-128 ones, 256 for AES-256 and ChaCha20.
pub fn key_bits(suite: rustls::CipherSuite) -> i64 {
    if format!("{suite:?}").contains("_128_") {
        128
    } else {
        256
    }
}

/// The rustls protocol versions a range allows (rustls speaks only TLSv1.2 and 1.3).
pub fn versions(v: &TlsVersions) -> Vec<&'static rustls::SupportedProtocolVersion> {
    let mut out = Vec::new();
    if v.allows(SrvTlsVer::Tls13) {
        out.push(&rustls::version::TLS13);
    }
    if v.allows(SrvTlsVer::Tls12) {
        out.push(&rustls::version::TLS12);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cipher_lists_as_openssl_reads_them() {
        assert_eq!(tls12("ECDHE-RSA-AES128-GCM-SHA256").unwrap().len(), 1);
        // Mozilla's intermediate list: the DHE ones are skipped.
        let moz =
            "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES128-GCM-SHA256";
        assert_eq!(tls12(moz).unwrap().len(), 2);
        assert_eq!(tls12("HIGH:!aNULL:!MD5").unwrap().len(), 6);
        assert_eq!(tls12("ECDHE+AESGCM:!ECDSA").unwrap().len(), 2);
        assert!(tls12("FOO").is_err());
        assert!(tls12("DHE-RSA-AES128-GCM-SHA256").is_err());
        assert_eq!(tls13("FOO:TLS_AES_128_GCM_SHA256").unwrap().len(), 1);
        assert!(tls13("TLS_AES_128_CCM_SHA256").is_err());
        use rustls::CipherSuite as C;
        assert_eq!(
            openssl_name(C::TLS13_AES_128_GCM_SHA256),
            Some("TLS_AES_128_GCM_SHA256")
        );
        assert_eq!(
            openssl_name(C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256),
            Some("ECDHE-RSA-AES128-GCM-SHA256")
        );
        assert_eq!(key_bits(C::TLS13_AES_128_GCM_SHA256), 128);
        assert_eq!(key_bits(C::TLS13_AES_256_GCM_SHA384), 256);
        assert_eq!(key_bits(C::TLS13_CHACHA20_POLY1305_SHA256), 256);
    }

    #[test]
    fn version_ranges() {
        let only12 = TlsVersions {
            max: Some(SrvTlsVer::Tls12),
            ..Default::default()
        };
        assert_eq!(versions(&only12), vec![&rustls::version::TLS12]);
        assert_eq!(versions(&TlsVersions::default()).len(), 2);
    }
}
