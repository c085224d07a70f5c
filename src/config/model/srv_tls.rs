//! TLS and the protocol towards servers: `server ... ssl`, `verify`, `ca-file`, `sni`,
//! `alpn`, `crt`, `check-ssl`, `proto h2`..., and the global
//! `ssl-default-server-*` / `ssl-server-verify` defaults they fall back to.

use std::path::PathBuf;

/// `verify none|required`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SrvVerify {
    /// The server's certificate is not checked.
    None,
    /// The chain must lead to a `ca-file` certificate (HAProxy's default).
    #[default]
    Required,
}

/// A TLS protocol version as `ssl-min-ver`/`ssl-max-ver` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SrvTlsVer {
    /// `SSLv3`.
    Ssl3,
    /// `TLSv1.0`.
    Tls10,
    /// `TLSv1.1`.
    Tls11,
    /// `TLSv1.2`.
    Tls12,
    /// `TLSv1.3`.
    Tls13,
}

impl SrvTlsVer {
    /// The version named `s` (`SSLv3`, `TLSv1.0` ... `TLSv1.3`).
    pub fn parse(s: &str) -> Option<SrvTlsVer> {
        Some(match s {
            "SSLv3" => SrvTlsVer::Ssl3,
            "TLSv1.0" => SrvTlsVer::Tls10,
            "TLSv1.1" => SrvTlsVer::Tls11,
            "TLSv1.2" => SrvTlsVer::Tls12,
            "TLSv1.3" => SrvTlsVer::Tls13,
            _ => return None,
        })
    }
}

/// The versions a TLS context allows: `ssl-min-ver`, `ssl-max-ver` and the
/// `no-tlsv1x` / `force-tlsv1x` switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TlsVersions {
    /// `ssl-min-ver`.
    pub min: Option<SrvTlsVer>,
    /// `ssl-max-ver`.
    pub max: Option<SrvTlsVer>,
    /// `no-tlsv12`.
    pub no_tls12: bool,
    /// `no-tlsv13`.
    pub no_tls13: bool,
}

impl TlsVersions {
    /// Whether `v` is allowed.
    pub fn allows(&self, v: SrvTlsVer) -> bool {
        self.min.is_none_or(|m| v >= m)
            && self.max.is_none_or(|m| v <= m)
            && !(v == SrvTlsVer::Tls12 && self.no_tls12)
            && !(v == SrvTlsVer::Tls13 && self.no_tls13)
    }

    /// Whether any switch is set (a server's own ones replace the global defaults).
    pub fn is_set(&self) -> bool {
        *self != TlsVersions::default()
    }
}

/// `proto NAME`: the protocol spoken to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SrvProto {
    /// Not forced: HTTP/1.1, or what ALPN negotiated over TLS.
    #[default]
    Auto,
    /// `proto h1`.
    H1,
    /// `proto h2`: HTTP/2 (h2c in clear text).
    H2,
}

/// The TLS and protocol settings of a `server` line (also `default-server`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SrvTls {
    /// `ssl` (`no-ssl` clears it).
    pub ssl: bool,
    /// `no-ssl` was the last word on TLS (HAProxy's `use_ssl` -1).
    pub no_ssl: bool,
    /// `ssl` was given on the line or its `default-server`: HAProxy then prepares the
    /// server's TLS settings, which `set server ... ssl on|off` needs.
    pub ssl_ready: bool,
    /// `check-ssl` (Some(true)) or `no-check-ssl` (Some(false)); None: the checks use
    /// TLS when the server does and no check `port`/`addr` is set.
    pub check_ssl: Option<bool>,
    /// `verify` (None: the global `ssl-server-verify`).
    pub verify: Option<SrvVerify>,
    /// `verifyhost NAME` (`no-verifyhost` clears it).
    pub verifyhost: Option<String>,
    /// `ca-file`.
    pub ca_file: Option<PathBuf>,
    /// `crl-file`.
    pub crl_file: Option<PathBuf>,
    /// `crt`: the client certificate presented to the server.
    pub crt: Option<PathBuf>,
    /// `sni EXPR`, evaluated per connection.
    pub sni: Option<crate::sample::Expr>,
    /// `alpn LIST`.
    pub alpn: Option<Vec<String>>,
    /// `ciphers` (None: `ssl-default-server-ciphers`).
    pub ciphers: Option<String>,
    /// `ciphersuites` (None: `ssl-default-server-ciphersuites`).
    pub ciphersuites: Option<String>,
    /// `ssl-min-ver`, `ssl-max-ver`, `no-tlsv1x`, `force-tlsv1x` (unset: the global
    /// `ssl-default-server-options`).
    pub versions: TlsVersions,
    /// `no-ssl-reuse`: a full handshake for every connection.
    pub no_reuse: bool,
    /// `check-sni NAME`.
    pub check_sni: Option<String>,
    /// `check-alpn LIST`.
    pub check_alpn: Option<Vec<String>>,
    /// `proto`.
    pub proto: SrvProto,
}

/// The global defaults of server TLS: `ssl-server-verify`, `ssl-default-server-*`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SrvTlsDefaults {
    /// `ssl-server-verify none|required` (required by default).
    pub verify: SrvVerify,
    /// `ssl-default-server-ciphers`.
    pub ciphers: Option<String>,
    /// `ssl-default-server-ciphersuites`.
    pub ciphersuites: Option<String>,
    /// `ssl-default-server-options`: the version switches.
    pub versions: TlsVersions,
}
