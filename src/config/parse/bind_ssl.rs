//! The TLS parameters of `bind` (`ssl`, `crt`, `crt-list`, `alpn`, versions, ciphers,
//! client certificates), the `crt-list` file format, and the global `crt-base`,
//! `ca-base` and `ssl-default-bind-*` keywords.

use super::bind::BindOpts;
use super::{arg, Param, Parser, R};
use crate::config::model::*;
use std::path::{Path, PathBuf};

/// A path given to `crt`/`crt-list` (`base` = `crt-base`) or `ca-file`/`crl-file`
/// (`ca-base`): relative ones are under the base when there is one.
pub(super) fn based(base: &Option<PathBuf>, p: &str) -> PathBuf {
    match base {
        Some(b) if !p.starts_with('/') => b.join(p),
        _ => PathBuf::from(p),
    }
}

pub(super) fn ssl(_: &mut Parser<'_>, b: &mut BindOpts, _: &Param<'_>) -> R {
    b.ssl = true;
    Ok(())
}

pub(super) fn crt(p: &mut Parser<'_>, b: &mut BindOpts, a: &Param<'_>) -> R {
    let path = based(&p.global.crt_base, a.val);
    b.certs.push(CertSource::Crt(path));
    Ok(())
}

pub(super) fn crt_list(p: &mut Parser<'_>, b: &mut BindOpts, a: &Param<'_>) -> R {
    let path = based(&p.global.crt_base, a.val);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "'{}' : 'crt-list' : unable to open file '{}' : {}",
            a.ctx,
            path.display(),
            crate::config::io_text(&e)
        )
    })?;
    let lines =
        crt_list_lines(p, &text, &path).map_err(|e| format!("'{}' : 'crt-list' : {e}", a.ctx))?;
    b.certs.push(CertSource::List(path, lines));
    Ok(())
}

/// The lines of a `crt-list` file: `PATH [[OPTION ...]] [SNI-FILTER ...]`, `#`
/// comments and blank lines skipped.
fn crt_list_lines(p: &mut Parser<'_>, text: &str, file: &Path) -> Result<Vec<CrtListLine>, String> {
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let at = format!("'{}:{}'", file.display(), n + 1);
        let (path, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim_start();
        let mut words = Vec::new();
        let (opts, filters) = match rest.strip_prefix('[') {
            Some(r) => {
                let (inside, after) = r
                    .split_once(']')
                    .ok_or_else(|| format!("{at} : missing ']' after the options"))?;
                words = inside.split_whitespace().map(str::to_string).collect();
                let mut b = BindOpts::default();
                ssl_params(p, CRT_LIST_OPTS, &words, &at, &mut b)?;
                (Some(b.opts), after)
            }
            None => (None, rest),
        };
        out.push(CrtListLine {
            path: based(&p.global.crt_base, path),
            opts,
            words,
            filters: filters
                .split_whitespace()
                .map(str::to_ascii_lowercase)
                .collect(),
            line: n as u32 + 1,
        });
    }
    Ok(out)
}

/// One `crt-list` line given at run time (`add ssl crt-list`), read as a file's line
/// would be, with `global`'s `crt-base` and `ca-base`; None for a blank line.
pub fn crt_list_line(global: &Global, text: &str) -> Result<Option<CrtListLine>, String> {
    let env = |_: &str| None;
    let mut p = Parser::new(&env);
    p.global = global.clone();
    Ok(crt_list_lines(&mut p, text, Path::new("CLI"))?
        .into_iter()
        .next())
}

/// `allow-0rtt`: accepted; lbd takes no TLS 1.3 early data (a client sends its
/// request after the handshake, as without the option).
pub(super) fn allow_0rtt(_: &mut Parser<'_>, _: &mut BindOpts, _: &Param<'_>) -> R {
    Ok(())
}

/// The options a `crt-list` line may set between brackets.
const CRT_LIST_OPTS: &[&str] = &[
    "alpn",
    "npn",
    "ca-file",
    "ca-verify-file",
    "crl-file",
    "verify",
    "allow-0rtt",
    "ciphers",
    "ciphersuites",
    "ssl-min-ver",
    "ssl-max-ver",
    "no-tlsv12",
    "no-tlsv13",
    "force-tlsv12",
    "force-tlsv13",
];

/// The options `ssl-default-bind-options` may set.
const DEFAULT_OPTS: &[&str] = &[
    "ssl-min-ver",
    "ssl-max-ver",
    "no-sslv3",
    "no-tlsv10",
    "no-tlsv11",
    "no-tlsv12",
    "no-tlsv13",
    "force-tlsv12",
    "force-tlsv13",
    "no-tls-tickets",
    "prefer-client-ciphers",
];

/// Reads `words` as bind TLS parameters restricted to `allowed`.
fn ssl_params(
    p: &mut Parser<'_>,
    allowed: &[&str],
    words: &[String],
    ctx: &str,
    b: &mut BindOpts,
) -> R {
    let mut i = 0;
    while i < words.len() {
        let name = words[i].as_str();
        let kw = super::bind::KEYWORDS
            .iter()
            .find(|k| k.name == name)
            .filter(|_| allowed.contains(&name))
            .ok_or_else(|| format!("{ctx} : unknown or unsupported option '{name}'"))?;
        let crate::config::keywords::How::Parse(f) = kw.how else {
            return Err(format!("{ctx} : '{name}' is not supported by lbd."));
        };
        let val = match kw.args {
            0 => "",
            _ => words
                .get(i + 1)
                .map(String::as_str)
                .ok_or_else(|| format!("{ctx} : '{name}' expects an argument."))?,
        };
        f(p, b, &Param { ctx, name, val })?;
        i += 1 + kw.args as usize;
    }
    Ok(())
}

pub(super) fn strict_sni(_: &mut Parser<'_>, b: &mut BindOpts, _: &Param<'_>) -> R {
    b.strict_sni = true;
    Ok(())
}

/// `alpn LIST`: comma-separated protocol names.
pub(super) fn alpn(_: &mut Parser<'_>, b: &mut BindOpts, a: &Param<'_>) -> R {
    let list: Vec<String> = a.val.split(',').map(str::to_string).collect();
    if list.iter().any(|p| p.is_empty() || p.len() > 255) {
        return Err(format!(
            "'{}' : '{}' : invalid protocol list '{}'",
            a.ctx, a.name, a.val
        ));
    }
    b.opts.alpn = Some(list);
    Ok(())
}

/// `npn LIST`: checked; rustls has no NPN (only ALPN is negotiated).
pub(super) fn npn(_: &mut Parser<'_>, _: &mut BindOpts, a: &Param<'_>) -> R {
    if a.val.split(',').any(str::is_empty) {
        return Err(format!(
            "'{}' : '{}' : invalid protocol list '{}'",
            a.ctx, a.name, a.val
        ));
    }
    Ok(())
}

fn version(a: &Param<'_>) -> Result<TlsVer, String> {
    match TlsVer::parse(a.val) {
        Some(Some(v)) => Ok(v),
        Some(None) => Err(format!(
            "'{}' : '{}' : {} is not supported by lbd (rustls implements TLSv1.2 and TLSv1.3 only).",
            a.ctx, a.name, a.val
        )),
        None => Err(format!(
            "'{}' : '{}' : unknown version '{}' (expects SSLv3, TLSv1.0, TLSv1.1, TLSv1.2 or TLSv1.3)",
            a.ctx, a.name, a.val
        )),
    }
}

/// `ssl-min-ver V`: an older version than lbd speaks (SSLv3 to TLSv1.1) leaves the
/// range at TLSv1.2, its lowest, as on `server` lines.
pub(super) fn min_ver(_: &mut Parser<'_>, b: &mut BindOpts, a: &Param<'_>) -> R {
    b.opts.min_ver = Some(match TlsVer::parse(a.val) {
        Some(None) => TlsVer::V12,
        _ => version(a)?,
    });
    Ok(())
}

pub(super) fn max_ver(_: &mut Parser<'_>, b: &mut BindOpts, a: &Param<'_>) -> R {
    b.opts.max_ver = Some(version(a)?);
    Ok(())
}

/// `no-tlsv12`, `no-tlsv13`; `no-sslv3`, `no-tlsv10`, `no-tlsv11` change nothing
/// (rustls never offers those).
pub(super) fn no_ver(_: &mut Parser<'_>, b: &mut BindOpts, a: &Param<'_>) -> R {
    let mut no = b.opts.no.unwrap_or_default();
    match a.name {
        "no-tlsv12" => no[0] = true,
        "no-tlsv13" => no[1] = true,
        _ => return Ok(()),
    }
    b.opts.no = Some(no);
    Ok(())
}

/// `force-tlsv12`, `force-tlsv13`.
pub(super) fn force_ver(_: &mut Parser<'_>, b: &mut BindOpts, a: &Param<'_>) -> R {
    b.opts.force = Some(match a.name {
        "force-tlsv12" => TlsVer::V12,
        _ => TlsVer::V13,
    });
    Ok(())
}

/// `force-sslv3`, `force-tlsv10`, `force-tlsv11`: versions rustls lacks.
pub(super) fn force_old(_: &mut Parser<'_>, _: &mut BindOpts, a: &Param<'_>) -> R {
    Err(format!(
        "'{}' : '{}' is not supported by lbd (rustls implements TLSv1.2 and TLSv1.3 only).",
        a.ctx, a.name
    ))
}

/// A flag lbd's TLS already behaves as: `no-tls-tickets` (no stateless tickets are
/// issued; resumption uses a server-side cache).
pub(super) fn flag_noop(_: &mut Parser<'_>, _: &mut BindOpts, _: &Param<'_>) -> R {
    Ok(())
}

pub(super) fn prefer_client_ciphers(_: &mut Parser<'_>, b: &mut BindOpts, _: &Param<'_>) -> R {
    b.opts.prefer_client_ciphers = Some(true);
    Ok(())
}

/// Reads a cipher list, warning about the names rustls lacks.
fn ciphers_of(p: &mut Parser<'_>, a: &Param<'_>, tls13: bool) -> Result<Vec<&'static str>, String> {
    let at = match a.ctx == a.name {
        true => format!("'{}'", a.name),
        false => format!("'{}' : '{}'", a.ctx, a.name),
    };
    let (kept, dropped) = cipher_list(a.val, tls13).map_err(|e| format!("{at} : {e}"))?;
    if !dropped.is_empty() {
        p.warn(format!(
            "{at} : rustls does not implement {}: ignored (kept: {}).",
            dropped.join(", "),
            kept.join(":")
        ));
    }
    Ok(kept)
}

pub(super) fn ciphers(p: &mut Parser<'_>, b: &mut BindOpts, a: &Param<'_>) -> R {
    b.opts.ciphers = Some(ciphers_of(p, a, false)?);
    Ok(())
}

pub(super) fn ciphersuites(p: &mut Parser<'_>, b: &mut BindOpts, a: &Param<'_>) -> R {
    b.opts.ciphersuites = Some(ciphers_of(p, a, true)?);
    Ok(())
}

pub(super) fn ca_file(p: &mut Parser<'_>, b: &mut BindOpts, a: &Param<'_>) -> R {
    b.opts.ca_file = Some(based(&p.global.ca_base, a.val));
    Ok(())
}

pub(super) fn ca_verify_file(p: &mut Parser<'_>, b: &mut BindOpts, a: &Param<'_>) -> R {
    b.opts.ca_verify_file = Some(based(&p.global.ca_base, a.val));
    Ok(())
}

pub(super) fn crl_file(p: &mut Parser<'_>, b: &mut BindOpts, a: &Param<'_>) -> R {
    b.opts.crl_file = Some(based(&p.global.ca_base, a.val));
    Ok(())
}

/// `ca-ignore-err all|ID[,ID...]`, `crt-ignore-err ...`: OpenSSL error numbers.
pub(super) fn ignore_err(_: &mut Parser<'_>, b: &mut BindOpts, a: &Param<'_>) -> R {
    let set = match a.val {
        "all" => IgnoreErr::All,
        v => IgnoreErr::Ids(
            v.split(',')
                .map(|id| id.parse::<i64>().ok().filter(|n| *n >= 0))
                .collect::<Option<_>>()
                .ok_or_else(|| {
                    format!(
                        "'{}' : '{}' : invalid error list '{v}' (expects 'all' or comma-separated numbers)",
                        a.ctx, a.name
                    )
                })?,
        ),
    };
    b.opts.ignore_err = Some(IgnoreErr::union(b.opts.ignore_err.as_ref(), set));
    Ok(())
}

pub(super) fn verify(_: &mut Parser<'_>, b: &mut BindOpts, a: &Param<'_>) -> R {
    b.opts.verify = Some(match a.val {
        "none" => Verify::None,
        "optional" => Verify::Optional,
        "required" => Verify::Required,
        v => {
            return Err(format!(
                "'{}' : '{}' : unknown verify method '{v}', only 'none', 'optional', and 'required' are supported",
                a.ctx, a.name
            ))
        }
    });
    Ok(())
}

impl Parser<'_> {
    /// The TLS side of a bind line once its parameters are read: None without `ssl`
    /// (with a warning when TLS parameters were given anyway).
    pub(super) fn bind_ssl(
        &mut self,
        spec: &str,
        b: &mut BindOpts,
    ) -> Result<Option<Box<BindSsl>>, String> {
        let arg = format!("bind {spec}");
        if !b.ssl {
            if !b.certs.is_empty() {
                self.warn(format!(
                    "'{arg}' : 'crt' and 'crt-list' are ignored without 'ssl' on the same line."
                ));
            }
            return Ok(None);
        }
        if b.certs.is_empty() {
            return Err(format!(
                "'{arg}' : no SSL certificate specified for bind '{spec}' (use 'crt')."
            ));
        }
        let opts = b.opts.over(&self.global.ssl_bind);
        if opts.versions().is_empty() {
            return Err(format!(
                "'{arg}' : all SSL/TLS versions are disabled for bind '{spec}'."
            ));
        }
        if opts.verify.is_some_and(|v| v != Verify::None) && opts.ca_file.is_none() {
            return Err(format!(
                "'{arg}' : verify is enabled but no CA file specified."
            ));
        }
        Ok(Some(Box::new(BindSsl {
            arg,
            certs: std::mem::take(&mut b.certs),
            strict_sni: b.strict_sni,
            opts,
        })))
    }
}

/// `crt-base DIR`.
pub(super) fn crt_base(p: &mut Parser<'_>, w: &[String]) -> R {
    p.global.crt_base = Some(PathBuf::from(arg(w, 1)?));
    Ok(())
}

/// `ssl-load-extra-del-ext`.
pub(super) fn del_ext(p: &mut Parser<'_>, _: &[String]) -> R {
    p.global.ssl_del_ext = true;
    Ok(())
}

/// `ca-base DIR`.
pub(super) fn ca_base(p: &mut Parser<'_>, w: &[String]) -> R {
    p.global.ca_base = Some(PathBuf::from(arg(w, 1)?));
    Ok(())
}

/// `ssl-default-bind-options OPT...`, `ssl-default-bind-ciphers LIST`,
/// `ssl-default-bind-ciphersuites LIST`: defaults for every `bind ... ssl` after them.
pub(super) fn default_bind(p: &mut Parser<'_>, w: &[String]) -> R {
    let mut b = BindOpts::default();
    let ctx = w[0].clone();
    match w[0].as_str() {
        "ssl-default-bind-options" => {
            ssl_params(p, DEFAULT_OPTS, &w[1..], &format!("'{ctx}'"), &mut b)?
        }
        kw => {
            let val = arg(w, 1)?;
            let a = Param {
                ctx: &ctx,
                name: kw,
                val,
            };
            if !kw.ends_with("ciphersuites") {
                ciphers(p, &mut b, &a)?;
            } else {
                ciphersuites(p, &mut b, &a)?;
            }
        }
    }
    p.global.ssl_bind = b.opts.over(&p.global.ssl_bind);
    Ok(())
}
