//! The TLS and protocol parameters of `server` / `default-server` (`ssl`, `verify`,
//! `ca-file`, `sni`, `alpn`, `check-ssl`, `proto`...) and the global
//! `ssl-server-verify` / `ssl-default-server-*` lines, with HAProxy's messages.

use super::{Param, Parser, R};
use crate::config::model::{ServerSettings, SrvProto, SrvTlsVer, SrvVerify, TlsVersions};

type S = ServerSettings;
type A<'a> = Param<'a>;

pub(super) fn ssl(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    s.tls.ssl = a.name == "ssl";
    s.tls.no_ssl = !s.tls.ssl;
    s.tls.ssl_ready |= s.tls.ssl;
    Ok(())
}

pub(super) fn check_ssl(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    s.tls.check_ssl = Some(a.name == "check-ssl");
    Ok(())
}

pub(super) fn verify(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    s.tls.verify = Some(match a.val {
        "none" => SrvVerify::None,
        "required" => SrvVerify::Required,
        x => {
            return Err(format!(
                "'{}' : 'verify' : unknown verify method '{x}', only 'none' and 'required' are supported.",
                a.ctx
            ))
        }
    });
    Ok(())
}

pub(super) fn verifyhost(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    s.tls.verifyhost = (a.name == "verifyhost").then(|| a.val.to_ascii_lowercase());
    Ok(())
}

/// `ca-file`, `crl-file` (relative to `ca-base`), `crt` (relative to `crt-base`): the
/// file is read when the TLS context is built (start and reload), where an unreadable
/// one is an error of the configuration.
pub(super) fn file(p: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    use super::bind_ssl::based;
    match a.name {
        "ca-file" => s.tls.ca_file = Some(based(&p.global.ca_base, a.val)),
        "crl-file" => s.tls.crl_file = Some(based(&p.global.ca_base, a.val)),
        _ => s.tls.crt = Some(based(&p.global.crt_base, a.val)),
    }
    Ok(())
}

pub(super) fn sni(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    let e = crate::sample::Expr::parse(a.val).map_err(|e| {
        format!(
            "'{}' : error detected while parsing sni expression : {e}",
            a.ctx
        )
    })?;
    s.tls.sni = Some(e);
    Ok(())
}

pub(super) fn check_sni(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    s.tls.check_sni = Some(a.val.to_string());
    Ok(())
}

/// An ALPN list: comma-separated protocol names of 1 to 255 bytes.
fn alpn_list(a: &A<'_>) -> Result<Vec<String>, String> {
    let v: Vec<String> = a
        .val
        .split(',')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    if v.is_empty() || v.iter().any(|p| p.len() > 255) {
        return Err(format!(
            "'{}' : '{}' : missing the comma-delimited ALPN protocol suite.",
            a.ctx, a.name
        ));
    }
    Ok(v)
}

pub(super) fn alpn(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    let v = alpn_list(a)?;
    if a.name == "alpn" {
        s.tls.alpn = Some(v);
    } else {
        s.tls.check_alpn = Some(v);
    }
    Ok(())
}

pub(super) fn ciphers(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    let v = Some(a.val.to_string());
    if a.name == "ciphers" {
        s.tls.ciphers = v;
    } else {
        s.tls.ciphersuites = v;
    }
    Ok(())
}

/// `ssl-min-ver`, `ssl-max-ver`, `no-tlsv1x`, `force-tlsv1x` into `v`; `ctx` prefixes
/// the messages.
fn version_switch(v: &mut TlsVersions, name: &str, val: &str, ctx: &str) -> R {
    match name {
        "ssl-min-ver" | "ssl-max-ver" => {
            let t = SrvTlsVer::parse(val)
                .ok_or_else(|| format!("{ctx}'{val}' : unknown ssl/tls version."))?;
            if name == "ssl-min-ver" {
                v.min = Some(t);
            } else {
                v.max = Some(t);
            }
        }
        "no-tlsv12" => v.no_tls12 = true,
        "no-tlsv13" => v.no_tls13 = true,
        // Versions rustls never speaks: nothing to disable.
        "no-sslv3" | "no-tlsv10" | "no-tlsv11" => {}
        "force-tlsv12" | "force-tlsv13" => {
            let t = if name == "force-tlsv12" {
                SrvTlsVer::Tls12
            } else {
                SrvTlsVer::Tls13
            };
            v.min = Some(t);
            v.max = Some(t);
        }
        _ => {
            return Err(format!(
                "{ctx}'{name}' is not supported by lbd (rustls speaks only TLSv1.2 and TLSv1.3)."
            ))
        }
    }
    Ok(())
}

pub(super) fn versions(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    version_switch(
        &mut s.tls.versions,
        a.name,
        a.val,
        &format!("'{}' : ", a.ctx),
    )
}

pub(super) fn reuse(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    s.tls.no_reuse = a.name == "no-ssl-reuse";
    Ok(())
}

pub(super) fn proto(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    s.tls.proto = match a.val {
        "h2" => SrvProto::H2,
        "h1" => SrvProto::H1,
        "fcgi" => {
            return Err(format!(
                "'{}' : 'proto fcgi' is not supported by lbd.",
                a.ctx
            ))
        }
        x => {
            return Err(format!(
                "'{}' : 'proto' :  unknown MUX protocol '{x}'.",
                a.ctx
            ))
        }
    };
    Ok(())
}

/// `ssl-server-verify none|required`.
pub(super) fn global_verify(p: &mut Parser<'_>, w: &[String]) -> R {
    p.global.srv_tls.verify = match w.get(1).map(String::as_str) {
        Some("none") => SrvVerify::None,
        Some("required") => SrvVerify::Required,
        _ => return Err("'ssl-server-verify' expects 'none' or 'required' as argument.".into()),
    };
    Ok(())
}

/// `ssl-default-server-ciphers` and `ssl-default-server-ciphersuites`.
pub(super) fn global_ciphers(p: &mut Parser<'_>, w: &[String]) -> R {
    let v = super::arg(w, 1)?.to_string();
    if w[0] == "ssl-default-server-ciphers" {
        p.global.srv_tls.ciphers = Some(v);
    } else {
        p.global.srv_tls.ciphersuites = Some(v);
    }
    Ok(())
}

/// `ssl-default-server-options`: the version switches (the options about sessions
/// and tickets are accepted and have no effect on lbd).
pub(super) fn global_options(p: &mut Parser<'_>, w: &[String]) -> R {
    let mut v = p.global.srv_tls.versions;
    let mut i = 1;
    while i < w.len() {
        let name = w[i].as_str();
        match name {
            "ssl-min-ver" | "ssl-max-ver" => {
                let val = w.get(i + 1).ok_or_else(|| {
                    format!("'{name}' : missing the ssl/tls version ('SSLv3', 'TLSv1.0', 'TLSv1.1', 'TLSv1.2' or 'TLSv1.3').")
                })?;
                version_switch(&mut v, name, val, "")?;
                i += 1;
            }
            "no-tls-tickets" | "tls-tickets" => {}
            n if n.starts_with("no-") || n.starts_with("force-") => {
                let known = [
                    "no-sslv3",
                    "no-tlsv10",
                    "no-tlsv11",
                    "no-tlsv12",
                    "no-tlsv13",
                    "force-sslv3",
                    "force-tlsv10",
                    "force-tlsv11",
                    "force-tlsv12",
                    "force-tlsv13",
                ];
                if !known.contains(&n) {
                    return Err(format!(
                        "unknown option '{n}' on global statement '{}'.",
                        w[0]
                    ));
                }
                version_switch(&mut v, n, "", "")?;
            }
            n => {
                return Err(format!(
                    "unknown option '{n}' on global statement '{}'.",
                    w[0]
                ))
            }
        }
        i += 1;
    }
    p.global.srv_tls.versions = v;
    Ok(())
}
