//! TLS settings of a `bind ... ssl` line, of `ssl-default-bind-*` in `global`, and of
//! one `crt-list` line; and the names lbd knows for protocol versions and cipher
//! suites (OpenSSL's, as HAProxy's configurations spell them). Pure data: the `tls`
//! module turns them into rustls configurations.

use std::path::PathBuf;

/// A TLS protocol version rustls implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVer {
    /// TLSv1.2.
    V12,
    /// TLSv1.3.
    V13,
}

impl TlsVer {
    /// HAProxy's name (`ssl_fc_protocol`, `%sslv`).
    pub fn name(self) -> &'static str {
        match self {
            TlsVer::V12 => "TLSv1.2",
            TlsVer::V13 => "TLSv1.3",
        }
    }

    /// A version named in `ssl-min-ver`/`ssl-max-ver`: Some(None) for one rustls
    /// does not implement (SSLv3, TLSv1.0, TLSv1.1), None for an unknown word.
    pub fn parse(s: &str) -> Option<Option<TlsVer>> {
        match s {
            "TLSv1.2" => Some(Some(TlsVer::V12)),
            "TLSv1.3" => Some(Some(TlsVer::V13)),
            "SSLv3" | "TLSv1.0" | "TLSv1.1" => Some(None),
            _ => None,
        }
    }
}

/// `verify none|optional|required`: client certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verify {
    /// No certificate is asked for.
    #[default]
    None,
    /// Asked for; a client without one is served, one with a bad one refused.
    Optional,
    /// A valid certificate is required.
    Required,
}

/// Options of a bind, of `ssl-default-bind-options` and of a `crt-list` line; None:
/// not set there (the bind's, then the global default, then rustls' own applies).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SslOpts {
    /// `ssl-min-ver`.
    pub min_ver: Option<TlsVer>,
    /// `ssl-max-ver`.
    pub max_ver: Option<TlsVer>,
    /// `no-tlsv12`, `no-tlsv13`.
    pub no: Option<[bool; 2]>,
    /// `force-tlsv12`, `force-tlsv13`.
    pub force: Option<TlsVer>,
    /// `ciphers`: the TLSv1.2 suites kept, as OpenSSL names, in preference order.
    pub ciphers: Option<Vec<&'static str>>,
    /// `ciphersuites`: the TLSv1.3 suites, likewise.
    pub ciphersuites: Option<Vec<&'static str>>,
    /// `alpn`: the protocols offered, in preference order.
    pub alpn: Option<Vec<String>>,
    /// `prefer-client-ciphers`: the client's order wins (else lbd's).
    pub prefer_client_ciphers: Option<bool>,
    /// `ca-file`: the CAs client certificates are verified with.
    pub ca_file: Option<PathBuf>,
    /// `ca-verify-file`: more CAs for verifying client certificates, not named in
    /// the certificate request.
    pub ca_verify_file: Option<PathBuf>,
    /// `verify`.
    pub verify: Option<Verify>,
    /// `crl-file`: revocation lists for client certificates.
    pub crl_file: Option<PathBuf>,
    /// `ca-ignore-err` and `crt-ignore-err` together.
    pub ignore_err: Option<IgnoreErr>,
}

/// Client certificate errors a bind lets through (`ca-ignore-err`, `crt-ignore-err`),
/// by OpenSSL's `X509_V_ERR_*` numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IgnoreErr {
    /// `all`.
    All,
    /// These numbers.
    Ids(Vec<i64>),
}

impl IgnoreErr {
    /// Whether error `code` is let through.
    pub fn covers(&self, code: i64) -> bool {
        match self {
            IgnoreErr::All => true,
            IgnoreErr::Ids(ids) => ids.contains(&code),
        }
    }

    /// Both lists together.
    pub fn union(a: Option<&IgnoreErr>, b: IgnoreErr) -> IgnoreErr {
        match (a, b) {
            (Some(IgnoreErr::All), _) | (_, IgnoreErr::All) => IgnoreErr::All,
            (Some(IgnoreErr::Ids(x)), IgnoreErr::Ids(mut y)) => {
                y.extend(x);
                IgnoreErr::Ids(y)
            }
            (None, b) => b,
        }
    }
}

impl SslOpts {
    /// These options, each unset one taken from `under`.
    pub fn over(&self, under: &SslOpts) -> SslOpts {
        fn or<T: Clone>(a: &Option<T>, b: &Option<T>) -> Option<T> {
            a.clone().or_else(|| b.clone())
        }
        SslOpts {
            min_ver: or(&self.min_ver, &under.min_ver),
            max_ver: or(&self.max_ver, &under.max_ver),
            no: or(&self.no, &under.no),
            force: or(&self.force, &under.force),
            ciphers: or(&self.ciphers, &under.ciphers),
            ciphersuites: or(&self.ciphersuites, &under.ciphersuites),
            alpn: or(&self.alpn, &under.alpn),
            prefer_client_ciphers: or(&self.prefer_client_ciphers, &under.prefer_client_ciphers),
            ca_file: or(&self.ca_file, &under.ca_file),
            ca_verify_file: or(&self.ca_verify_file, &under.ca_verify_file),
            verify: or(&self.verify, &under.verify),
            crl_file: or(&self.crl_file, &under.crl_file),
            ignore_err: or(&self.ignore_err, &under.ignore_err),
        }
    }

    /// The versions these options leave enabled, lowest first (may be empty).
    pub fn versions(&self) -> Vec<TlsVer> {
        let no = self.no.unwrap_or_default();
        [TlsVer::V12, TlsVer::V13]
            .into_iter()
            .filter(|v| match self.force {
                Some(f) => f == *v,
                None => {
                    self.min_ver.is_none_or(|m| *v >= m)
                        && self.max_ver.is_none_or(|m| *v <= m)
                        && !no[*v as usize]
                }
            })
            .collect()
    }
}

/// Where a bind's certificates come from, in the order given (the first certificate
/// loaded is the default one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertSource {
    /// `crt FILE|DIR`.
    Crt(PathBuf),
    /// `crt-list FILE`, read at parse time.
    List(PathBuf, Vec<CrtListLine>),
}

/// One line of a `crt-list` file: `PATH [[OPTIONS]] [FILTER...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrtListLine {
    /// The certificate file (or directory).
    pub path: PathBuf,
    /// The bracketed options (over the bind's).
    pub opts: Option<SslOpts>,
    /// The same as written (`show ssl crt-list` prints them).
    pub words: Vec<String>,
    /// SNI filters: names (`*.` wildcards) and `!`negations; empty: the certificate's
    /// own names.
    pub filters: Vec<String>,
    /// The line in the file.
    pub line: u32,
}

/// The TLS side of a `bind ... ssl` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindSsl {
    /// `bind ADDR`, for messages.
    pub arg: String,
    /// `crt` and `crt-list`, in order.
    pub certs: Vec<CertSource>,
    /// `strict-sni`: a client whose SNI matches no certificate is refused.
    pub strict_sni: bool,
    /// The bind's options over the global `ssl-default-bind-*` ones.
    pub opts: SslOpts,
}

/// TLSv1.2 suites rustls implements, by their OpenSSL names.
pub const TLS12_SUITES: &[&str] = &[
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-RSA-CHACHA20-POLY1305",
];

/// TLSv1.3 suites rustls implements, by their (IANA = OpenSSL) names.
pub const TLS13_SUITES: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
];

/// Reads a `ciphers` (TLSv1.2, `tls13` false) or `ciphersuites` list: `:`-separated
/// names, `!NAME`/`-NAME` removing one. Returns the suites kept and the names dropped
/// because rustls does not implement them (OpenSSL too skips names it lacks); an
/// error when no suite is left.
pub fn cipher_list(list: &str, tls13: bool) -> Result<(Vec<&'static str>, Vec<String>), String> {
    let known = if tls13 { TLS13_SUITES } else { TLS12_SUITES };
    let mut kept: Vec<&'static str> = Vec::new();
    let mut dropped = Vec::new();
    for word in list.split([':', ',', ' ']).filter(|w| !w.is_empty()) {
        let (remove, name) = match word.strip_prefix(['!', '-']) {
            Some(n) => (true, n),
            None => (false, word.strip_prefix('+').unwrap_or(word)),
        };
        match known.iter().find(|k| k.eq_ignore_ascii_case(name)) {
            Some(k) if remove => kept.retain(|x| x != k),
            Some(k) if !kept.contains(k) => kept.push(k),
            Some(_) => {}
            None if remove => {}
            None => dropped.push(name.to_string()),
        }
    }
    if kept.is_empty() {
        return Err(format!(
            "unable to set SSL cipher list to '{list}': none of these is a cipher suite rustls implements (lbd knows {})",
            known.join(", ")
        ));
    }
    Ok((kept, dropped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_follow_min_max_no_and_force() {
        let mut o = SslOpts::default();
        assert_eq!(o.versions(), [TlsVer::V12, TlsVer::V13]);
        o.min_ver = Some(TlsVer::V13);
        assert_eq!(o.versions(), [TlsVer::V13]);
        o.min_ver = None;
        o.no = Some([false, true]);
        assert_eq!(o.versions(), [TlsVer::V12]);
        o.force = Some(TlsVer::V13);
        assert_eq!(o.versions(), [TlsVer::V13]);
        o = SslOpts {
            min_ver: Some(TlsVer::V13),
            max_ver: Some(TlsVer::V12),
            ..Default::default()
        };
        assert!(o.versions().is_empty());
    }

    #[test]
    fn cipher_lists_keep_what_rustls_has() {
        let (k, d) = cipher_list(
            "ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384",
            false,
        )
        .unwrap();
        assert_eq!(
            k,
            [
                "ECDHE-RSA-AES128-GCM-SHA256",
                "ECDHE-ECDSA-AES256-GCM-SHA384"
            ]
        );
        assert_eq!(d, ["DHE-RSA-AES128-GCM-SHA256"]);
        assert!(cipher_list("AES128-SHA", false).is_err());
        let (k, _) = cipher_list("TLS_AES_256_GCM_SHA384", true).unwrap();
        assert_eq!(k, ["TLS_AES_256_GCM_SHA384"]);
        assert!(cipher_list("ECDHE-RSA-AES128-GCM-SHA256", true).is_err());
    }

    #[test]
    fn options_inherit_unset_fields() {
        let g = SslOpts {
            min_ver: Some(TlsVer::V12),
            alpn: Some(vec!["http/1.1".into()]),
            ..Default::default()
        };
        let b = SslOpts {
            alpn: Some(vec!["h2".into()]),
            ..Default::default()
        };
        let m = b.over(&g);
        assert_eq!(m.min_ver, Some(TlsVer::V12));
        assert_eq!(m.alpn, Some(vec!["h2".to_string()]));
    }
}
