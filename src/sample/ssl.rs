//! What the `ssl_fc*`, `ssl_c_*` and `ssl_f_*` fetches read of a TLS connection lbd
//! terminated (`bind ... ssl`), in HAProxy's formats: distinguished names as
//! `/C=FR/O=Example/CN=www.example.com`, serials as binary, validity dates as their
//! ASN.1 text (`YYMMDDhhmmssZ`, `YYYYMMDDhhmmssZ` from 2050).

use super::expr::{Arg, ArgT, Emit, Env};
use super::fetch::{l4a, FetchDef};
use super::value::{Type, Value};
use std::borrow::Cow;
use std::sync::Arc;

/// The TLS side of a client connection, filled in once the handshake is over.
#[derive(Debug, Clone, Default)]
pub struct TlsInfo {
    /// The server name the client sent (SNI).
    pub sni: Option<String>,
    /// The protocol ALPN selected.
    pub alpn: Option<Vec<u8>>,
    /// `TLSv1.2`, `TLSv1.3`.
    pub version: &'static str,
    /// The suite, by its OpenSSL name.
    pub cipher: &'static str,
    /// The suite's symmetric key size in bits.
    pub keysize: i64,
    /// The client's certificate (DER), when it sent one.
    pub client_cert: Option<Vec<u8>>,
    /// The rest of the chain the client sent after its certificate (DER, one after
    /// the other).
    pub client_chain: Option<Vec<u8>>,
    /// The verification result of it (0: valid, or none asked for).
    pub verify: i64,
    /// The certificate lbd presented (DER).
    pub own_cert: Option<Arc<[u8]>>,
    /// The session was resumed (no full handshake).
    pub resumed: bool,
    /// How long the handshake took, in milliseconds (`%Th` of the first request).
    pub handshake_ms: i64,
}

/// The TLS side of the connection of `env`.
fn tls<'a>(env: &Env<'a>) -> Option<&'a TlsInfo> {
    env.conn?.tls.as_deref()
}

fn s<'a>(v: &'a str) -> Value<'a> {
    Value::Str(Cow::Borrowed(v.as_bytes()))
}

/// Whose certificate a fetch reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Whose {
    /// The client's (`ssl_c_*`).
    Client,
    /// lbd's own on the bind (`ssl_f_*`).
    Front,
    /// The server's, on a TLS connection to it (`ssl_s_*`).
    Server,
}

/// A certificate of the connection.
fn cert<'a>(env: &Env<'a>, whose: Whose) -> Option<&'a [u8]> {
    match whose {
        Whose::Client => tls(env)?.client_cert.as_deref(),
        Whose::Front => tls(env)?.own_cert.as_deref(),
        Whose::Server => env.srv_tls?.cert(),
    }
}

/// OpenSSL's short name of a name attribute.
fn short_name(oid: &str) -> Cow<'static, str> {
    Cow::Borrowed(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.4" => "SN",
        "2.5.4.5" => "serialNumber",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "street",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "title",
        "2.5.4.42" => "GN",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        "1.2.840.113549.1.9.1" => "emailAddress",
        other => return Cow::Owned(other.to_string()),
    })
}

/// A name's attributes: OpenSSL's short name and the value.
fn attributes(name: &x509_parser::x509::X509Name<'_>) -> Vec<(Cow<'static, str>, String)> {
    name.iter_attributes()
        .map(|a| {
            let v = a
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|_| String::from_utf8_lossy(a.as_slice()).into_owned());
            (short_name(&a.attr_type().to_id_string()), v)
        })
        .collect()
}

/// A name as HAProxy prints one: `/K=V/K=V`.
pub fn oneline(name: &x509_parser::x509::X509Name<'_>) -> String {
    attributes(name)
        .iter()
        .map(|(k, v)| format!("/{k}={v}"))
        .collect()
}

/// A subject (`issuer` false) or issuer DN: the whole of it as `/K=V/K=V`, or with
/// `entry` the `occ`th value of that attribute (1 = first, -1 = last).
pub fn dn(der: &[u8], issuer: bool, entry: Option<&str>, occ: i64) -> Option<String> {
    let (_, x) = x509_parser::parse_x509_certificate(der).ok()?;
    let name = if issuer { x.issuer() } else { x.subject() };
    let attrs = attributes(name);
    match entry {
        None => Some(oneline(name)),
        Some(e) => {
            let matching: Vec<&String> = attrs
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(e))
                .map(|(_, v)| v)
                .collect();
            let i = match occ {
                0 => return None,
                n if n > 0 => n as usize - 1,
                n => matching.len().checked_sub(n.unsigned_abs() as usize)?,
            };
            matching.get(i).map(|v| v.to_string())
        }
    }
}

/// A validity date as ASN.1 writes it.
fn date(der: &[u8], after: bool) -> Option<String> {
    // The time as the certificate encodes it, as HAProxy returns it: a UTCTime
    // (`YYMMDDhhmmssZ`) as is, a GeneralizedTime of the 2000s (`20YYMMDDhhmmssZ`)
    // without its century, any other none. The validity sequence follows the issuer
    // name in the DER.
    let (_, x) = x509_parser::parse_x509_certificate(der).ok()?;
    let issuer = x.issuer().as_raw();
    let off = (issuer.as_ptr() as usize).checked_sub(der.as_ptr() as usize)? + issuer.len();
    let validity = der.get(off..)?;
    if validity.first() != Some(&0x30) || *validity.get(1)? >= 0x80 {
        return None;
    }
    let mut rest = validity.get(2..)?;
    let mut times = Vec::new();
    for _ in 0..2 {
        let (&tag, &len) = (rest.first()?, rest.get(1)?);
        if !(tag == 0x17 || tag == 0x18) || len >= 0x80 {
            return None;
        }
        times.push((tag, rest.get(2..2 + len as usize)?));
        rest = &rest[2 + len as usize..];
    }
    let t = match times[after as usize] {
        (0x17, t) => t,
        (_, t) => t.strip_prefix(b"20")?,
    };
    String::from_utf8(t.to_vec()).ok()
}

fn serial(der: &[u8]) -> Option<Vec<u8>> {
    let (_, x) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(x.raw_serial().to_vec())
}

/// OpenSSL's short name of a signature or key algorithm.
fn alg_name(oid: String) -> String {
    match oid.as_str() {
        "1.2.840.113549.1.1.1" => "rsaEncryption",
        "1.2.840.113549.1.1.5" => "RSA-SHA1",
        "1.2.840.113549.1.1.10" => "RSASSA-PSS",
        "1.2.840.113549.1.1.11" => "RSA-SHA256",
        "1.2.840.113549.1.1.12" => "RSA-SHA384",
        "1.2.840.113549.1.1.13" => "RSA-SHA512",
        "1.2.840.113549.1.1.14" => "RSA-SHA224",
        "1.2.840.10045.2.1" => "id-ecPublicKey",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.3.101.112" => "ED25519",
        _ => return oid,
    }
    .to_string()
}

/// The signature (`key` false) or public key algorithm of a certificate.
fn alg(der: &[u8], key: bool) -> Option<String> {
    let (_, x) = x509_parser::parse_x509_certificate(der).ok()?;
    let oid = match key {
        true => x.public_key().algorithm.algorithm.to_id_string(),
        false => x.signature_algorithm.algorithm.to_id_string(),
    };
    Some(alg_name(oid))
}

fn version(der: &[u8]) -> Option<i64> {
    let (_, x) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(x.version().0 as i64 + 1)
}

/// `ssl_c_s_dn`, `ssl_c_i_dn`, `ssl_f_s_dn`, `ssl_f_i_dn`.
fn dn_fetch<'a>(a: &'a [Arg], env: &Env<'a>, e: Emit<'_, 'a>, whose: Whose, issuer: bool) {
    let Some(der) = cert(env, whose) else { return };
    let entry = a.first().map(|x| x.text()).filter(|t| !t.is_empty());
    let occ = a.get(1).and_then(|x| x.int()).unwrap_or(-1);
    if let Some(v) = dn(der, issuer, entry, occ) {
        e(Value::Str(Cow::Owned(v.into_bytes())));
    }
}

use ArgT::{Int as I, Str as S};

macro_rules! cert_fetches {
    ($whose:expr, $sdn:literal, $idn:literal, $serial:literal, $nb:literal, $na:literal, $der:literal, $ver:literal, $sha1:literal, $sig:literal, $key:literal) => {
        [
            l4a($sha1, &[], 0, Type::Bin, |_, env, e| {
                if let Some(d) = cert(env, $whose) {
                    e(Value::Str(Cow::Owned(
                        super::digest::digest("sha1", d).unwrap_or_default(),
                    )));
                }
            }),
            l4a($sig, &[], 0, Type::Str, |_, env, e| {
                if let Some(v) = cert(env, $whose).and_then(|d| alg(d, false)) {
                    e(Value::Str(Cow::Owned(v.into_bytes())));
                }
            }),
            l4a($key, &[], 0, Type::Str, |_, env, e| {
                if let Some(v) = cert(env, $whose).and_then(|d| alg(d, true)) {
                    e(Value::Str(Cow::Owned(v.into_bytes())));
                }
            }),
            l4a($sdn, &[S, I], 0, Type::Str, |a, env, e| {
                dn_fetch(a, env, e, $whose, false)
            }),
            l4a($idn, &[S, I], 0, Type::Str, |a, env, e| {
                dn_fetch(a, env, e, $whose, true)
            }),
            l4a($serial, &[], 0, Type::Bin, |_, env, e| {
                if let Some(v) = cert(env, $whose).and_then(serial) {
                    e(Value::Str(Cow::Owned(v)));
                }
            }),
            l4a($nb, &[], 0, Type::Str, |_, env, e| {
                if let Some(v) = cert(env, $whose).and_then(|d| date(d, false)) {
                    e(Value::Str(Cow::Owned(v.into_bytes())));
                }
            }),
            l4a($na, &[], 0, Type::Str, |_, env, e| {
                if let Some(v) = cert(env, $whose).and_then(|d| date(d, true)) {
                    e(Value::Str(Cow::Owned(v.into_bytes())));
                }
            }),
            l4a($der, &[], 0, Type::Bin, |_, env, e| {
                if let Some(d) = cert(env, $whose) {
                    e(Value::Str(Cow::Borrowed(d)));
                }
            }),
            l4a($ver, &[], 0, Type::Int, |_, env, e| {
                if let Some(v) = cert(env, $whose).and_then(version) {
                    e(Value::Int(v));
                }
            }),
        ]
    };
}

static C: [FetchDef; 10] = cert_fetches!(
    Whose::Client,
    "ssl_c_s_dn",
    "ssl_c_i_dn",
    "ssl_c_serial",
    "ssl_c_notbefore",
    "ssl_c_notafter",
    "ssl_c_der",
    "ssl_c_version",
    "ssl_c_sha1",
    "ssl_c_sig_alg",
    "ssl_c_key_alg"
);
static F: [FetchDef; 10] = cert_fetches!(
    Whose::Front,
    "ssl_f_s_dn",
    "ssl_f_i_dn",
    "ssl_f_serial",
    "ssl_f_notbefore",
    "ssl_f_notafter",
    "ssl_f_der",
    "ssl_f_version",
    "ssl_f_sha1",
    "ssl_f_sig_alg",
    "ssl_f_key_alg"
);

static SRV: [FetchDef; 10] = cert_fetches!(
    Whose::Server,
    "ssl_s_s_dn",
    "ssl_s_i_dn",
    "ssl_s_serial",
    "ssl_s_notbefore",
    "ssl_s_notafter",
    "ssl_s_der",
    "ssl_s_version",
    "ssl_s_sha1",
    "ssl_s_sig_alg",
    "ssl_s_key_alg"
);

static FC: [FetchDef; 16] = [
    // The certificates the client sent after its own (HAProxy's
    // SSL_get_peer_cert_chain on a server connection, without the leaf).
    l4a("ssl_c_chain_der", &[], 0, Type::Bin, |_, env, e| {
        if let Some(c) = tls(env).and_then(|t| t.client_chain.as_deref()) {
            e(Value::Str(Cow::Borrowed(c)));
        }
    }),
    // Every certificate the server presented, the leaf first.
    l4a("ssl_s_chain_der", &[], 0, Type::Bin, |_, env, e| {
        if let Some(c) = env.srv_tls.and_then(|t| t.chain.as_deref()) {
            e(Value::Str(Cow::Borrowed(c)));
        }
    }),
    l4a("ssl_fc_is_resumed", &[], 0, Type::Bool, |_, env, e| {
        if let Some(t) = tls(env) {
            e(Value::Bool(t.resumed));
        }
    }),
    l4a("ssl_fc_has_crt", &[], 0, Type::Bool, |_, env, e| {
        if let Some(t) = tls(env) {
            e(Value::Bool(t.client_cert.is_some()));
        }
    }),
    // A certificate error ends the handshake, unless `*-ignore-err` let it through
    // (then it is counted as the leaf's: rustls does not tell the depth).
    l4a("ssl_c_err", &[], 0, Type::Int, |_, env, e| {
        if let Some(t) = tls(env) {
            e(Value::Int(t.verify));
        }
    }),
    l4a("ssl_c_ca_err", &[], 0, Type::Int, |_, env, e| {
        if tls(env).is_some() {
            e(Value::Int(0));
        }
    }),
    l4a("ssl_fc", &[], 0, Type::Bool, |_, env, e| {
        e(Value::Bool(tls(env).is_some()));
    }),
    l4a("ssl_fc_sni", &[], 0, Type::Str, |_, env, e| {
        if let Some(v) = tls(env).and_then(|t| t.sni.as_deref()) {
            e(s(v));
        }
    }),
    l4a("ssl_fc_has_sni", &[], 0, Type::Bool, |_, env, e| {
        e(Value::Bool(tls(env).is_some_and(|t| t.sni.is_some())));
    }),
    l4a("ssl_fc_alpn", &[], 0, Type::Str, |_, env, e| {
        if let Some(v) = tls(env).and_then(|t| t.alpn.as_deref()) {
            e(Value::Str(Cow::Borrowed(v)));
        }
    }),
    l4a("ssl_fc_protocol", &[], 0, Type::Str, |_, env, e| {
        if let Some(t) = tls(env) {
            e(s(t.version));
        }
    }),
    l4a("ssl_fc_cipher", &[], 0, Type::Str, |_, env, e| {
        if let Some(t) = tls(env) {
            e(s(t.cipher));
        }
    }),
    l4a("ssl_fc_use_keysize", &[], 0, Type::Int, |_, env, e| {
        if let Some(t) = tls(env) {
            e(Value::Int(t.keysize));
        }
    }),
    l4a("ssl_fc_alg_keysize", &[], 0, Type::Int, |_, env, e| {
        if let Some(t) = tls(env) {
            e(Value::Int(t.keysize));
        }
    }),
    l4a("ssl_c_used", &[], 0, Type::Bool, |_, env, e| {
        if let Some(t) = tls(env) {
            e(Value::Bool(t.client_cert.is_some()));
        }
    }),
    l4a("ssl_c_verify", &[], 0, Type::Int, |_, env, e| {
        if let Some(t) = tls(env) {
            e(Value::Int(t.verify));
        }
    }),
];

/// The TLS fetches.
pub fn all() -> impl Iterator<Item = &'static FetchDef> {
    FC.iter().chain(C.iter()).chain(F.iter()).chain(SRV.iter())
}

/// The fetch called `name`.
pub fn find(name: &str) -> Option<&'static FetchDef> {
    all().find(|f| f.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_der() -> Vec<u8> {
        use rustls::pki_types::pem::PemObject;
        let pem = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tls/client.pem"),
        )
        .unwrap();
        rustls::pki_types::CertificateDer::pem_slice_iter(&pem)
            .next()
            .unwrap()
            .unwrap()
            .to_vec()
    }

    #[test]
    fn dns_in_haproxys_format() {
        let d = client_der();
        assert_eq!(dn(&d, false, None, 0).unwrap(), "/CN=client.example.test");
        assert_eq!(dn(&d, true, None, 0).unwrap(), "/CN=lbd test CA");
        assert_eq!(dn(&d, false, Some("CN"), 1).unwrap(), "client.example.test");
        assert_eq!(dn(&d, false, Some("O"), 1), None);
        let nb = date(&d, false).unwrap();
        assert_eq!(nb.len(), 13, "{nb}");
        assert!(nb.ends_with('Z'));
        // 2126: a GeneralizedTime outside the 2000s, which HAProxy does not return.
        assert_eq!(date(&d, true), None);
        assert_eq!(version(&d), Some(3));
        assert_eq!(alg(&d, false).as_deref(), Some("RSA-SHA256"));
        assert_eq!(alg(&d, true).as_deref(), Some("rsaEncryption"));
        assert!(!serial(&d).unwrap().is_empty());
    }

    #[test]
    fn every_fetch_is_in_the_table_once() {
        let mut names: Vec<_> = all().map(|f| f.name).collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n);
        assert!(names.iter().all(|n| super::super::fetch::find(n).is_none()));
    }
}
