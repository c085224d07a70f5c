//! The `global` section: its keyword table and parsers.

use super::{arg, Parser, R};
use crate::config::diag::did_you_mean;
use crate::config::keywords::{self, Caps, How, Keyword};
use crate::config::model::VarInit;
use crate::config::value;
use std::collections::HashSet;

/// A `global` keyword's parser: the words of the line, keyword first.
pub(crate) type GlobalFn = fn(&mut Parser<'_>, &[String]) -> R;

const DOC: &str = "global-keywords";
/// The README section of the TLS keywords.
const TLS: &str = "tls-global-keywords";

const fn kw(name: &'static str, parse: GlobalFn) -> Keyword<GlobalFn> {
    Keyword::new(name, Caps::DFBL, parse, DOC)
}

type K = Keyword<GlobalFn>;

/// The `global` keywords: supported first (in `did you mean` order), then known ones.
pub(crate) static KEYWORDS: &[K] = &[
    kw("log", log),
    kw("maxconn", maxconn),
    kw("nbthread", nbthread),
    kw("cpu-map", cpu_map),
    kw("pidfile", pidfile),
    kw("server-state-file", server_state),
    kw("server-state-base", server_state),
    kw("hard-stop-after", hard_stop_after),
    kw("spread-checks", spread_checks),
    kw("stats", stats),
    kw("tune.bufsize", bufsize),
    kw("tune.http.maxhdr", maxhdr),
    kw("tune.h2.max-concurrent-streams", h2_tune),
    kw("tune.h2.header-table-size", h2_tune),
    kw("tune.h2.initial-window-size", h2_tune),
    kw("tune.h2.max-frame-size", h2_tune),
    kw("log-tag", log_tag),
    kw("localpeer", |p, w| {
        p.global.localpeer = Some(arg(w, 1)?.to_string());
        Ok(())
    }),
    kw("set-var", set_var),
    kw("set-var-fmt", set_var),
    kw("setenv", setenv),
    kw("presetenv", setenv),
    kw("unsetenv", unsetenv),
    kw("resetenv", resetenv),
    kw("description", nothing),
    kw("node", nothing),
    kw("expose-experimental-directives", |p, _| {
        p.global.experimental = true;
        Ok(())
    }),
    kw("external-check", external_check),
    kw("ssl-server-verify", super::srv_tls::global_verify),
    kw("ssl-default-server-ciphers", super::srv_tls::global_ciphers),
    kw(
        "ssl-default-server-ciphersuites",
        super::srv_tls::global_ciphers,
    ),
    kw("ssl-default-server-options", super::srv_tls::global_options),
    Keyword::new("crt-base", Caps::DFBL, super::bind_ssl::crt_base, TLS),
    Keyword::new("ca-base", Caps::DFBL, super::bind_ssl::ca_base, TLS),
    Keyword::new(
        "ssl-load-extra-del-ext",
        Caps::DFBL,
        super::bind_ssl::del_ext,
        TLS,
    ),
    Keyword::new(
        "ssl-default-bind-options",
        Caps::DFBL,
        super::bind_ssl::default_bind,
        TLS,
    ),
    Keyword::new(
        "ssl-default-bind-ciphers",
        Caps::DFBL,
        super::bind_ssl::default_bind,
        TLS,
    ),
    Keyword::new(
        "ssl-default-bind-ciphersuites",
        Caps::DFBL,
        super::bind_ssl::default_bind,
        TLS,
    ),
    K::unsupported("lua-load"),
    K::unsupported("lua-load-per-thread"),
    K::unsupported("lua-prepend-path"),
    K::unsupported("ssl-engine"),
    K::unsupported("ssl-mode-async"),
    K::unsupported("set-dumpable"),
    K::unsupported("httpclient.resolvers.id"),
    K::unsupported("wurfl-data-file"),
    K::unsupported("51degrees-data-file"),
    K::unsupported("deviceatlas-json-file"),
    K::unsupported("h1-case-adjust"),
    K::unsupported("h1-case-adjust-file"),
    K::ignored("daemon"),
    K::ignored("chroot"),
    K::ignored("user"),
    K::ignored("group"),
    K::ignored("uid"),
    K::ignored("gid"),
    K::ignored("ulimit-n"),
    K::ignored("nbproc"),
    K::ignored("master-worker"),
    K::ignored("quiet"),
    K::ignored("zero-warning"),
    K::ignored("ssl-dh-param-file"),
    K::ignored("default-path"),
    K::ignored("log-send-hostname"),
    K::ignored("noepoll"),
    K::ignored("nopoll"),
    K::ignored("nosplice"),
    K::ignored("nogetaddrinfo"),
    K::ignored("noreuseport"),
    K::ignored("maxsslconn"),
    K::ignored("maxconnrate"),
    K::ignored("maxsessrate"),
    K::ignored("maxcomprate"),
    K::ignored("maxpipes"),
    K::ignored("maxzlibmem"),
    K::ignored("busy-polling"),
    K::ignored("max-spread-checks"),
    K::ignored("stats-file"),
    K::ignored("numa-cpu-mapping"),
    K::ignored("thread-groups"),
    K::ignored("thread-group"),
    K::ignored("pp2-never-send-local"),
    K::ignored("unix-bind"),
    K::ignored("strict-limits"),
    K::ignored("hash-balance-factor"),
    K::ignored("profiling.tasks"),
    K::ignored("grace"),
    K::ignored("description-file"),
    K::ignored("ssl-load-extra-files"),
    K::ignored("ssl-propquery"),
    K::ignored("ssl-provider"),
    K::ignored("ssl-skip-self-issued-ca"),
    K::ignored("issuers-chain-path"),
    K::ignored("log-format"),
    K::ignored("mworker-max-reloads"),
    K::ignored("localpeer-name"),
    K::ignored("cluster-secret"),
    K::ignored("ssl-default-sigalgs"),
    K::ignored("ssl-default-client-sigalgs"),
    K::ignored("ssl-default-bind-curves"),
    K::ignored("ssl-default-server-curves"),
    K::ignored("limited-quic"),
    K::ignored("numa"),
    K::ignored("node-id"),
    // lbd never forbids forking (external checks run programs anyway).
    K::ignored("insecure-fork-wanted"),
    K::ignored("tune.*"),
    // lbd has no internal HTTP client (HAProxy's serves Lua and ACME).
    K::ignored("httpclient.*"),
    K::removed(
        "debug",
        "The 'debug' directive is not supported; use '-d' on the command line instead.",
    ),
];

impl<'e> Parser<'e> {
    /// One line of the `global` section.
    pub(super) fn global_kw(&mut self, w: &[String]) -> R {
        let kw = w[0].as_str();
        match keywords::find(KEYWORDS, kw) {
            Some(Keyword {
                how: How::Parse(parse),
                ..
            }) => parse(self, w),
            Some(k) => self.refuse("", kw, &k.how),
            None => Err(format!(
                "unknown keyword '{kw}' in 'global' section{}",
                did_you_mean(kw, keywords::hints(KEYWORDS, Caps::DFBL))
            )),
        }
    }
}

fn maxconn(p: &mut Parser<'_>, w: &[String]) -> R {
    p.global.maxconn = Some(value::int_in(arg(w, 1)?, 1, u32::MAX as u64, "'maxconn'")? as u32);
    Ok(())
}

fn nbthread(p: &mut Parser<'_>, w: &[String]) -> R {
    p.global.nbthread = Some(value::int_in(arg(w, 1)?, 1, 4096, "'nbthread'")? as u32);
    Ok(())
}

fn cpu_map(p: &mut Parser<'_>, w: &[String]) -> R {
    match value::cpu_map(&w[1..])? {
        Some(m) => p.global.cpu_map.push(m),
        None => p.warn(format!(
            "'cpu-map {}': lbd runs one process with one thread group; \
             this line maps another one and is ignored.",
            w[1]
        )),
    }
    Ok(())
}

fn pidfile(p: &mut Parser<'_>, w: &[String]) -> R {
    p.global.pidfile = Some(arg(w, 1)?.to_string());
    Ok(())
}

/// `server-state-file FILE` and `server-state-base DIR`.
fn server_state(p: &mut Parser<'_>, w: &[String]) -> R {
    let v = Some(arg(w, 1)?.to_string());
    if w[0] == "server-state-file" {
        p.global.server_state_file = v;
    } else {
        p.global.server_state_base = v;
    }
    Ok(())
}

fn hard_stop_after(p: &mut Parser<'_>, w: &[String]) -> R {
    p.global.hard_stop_after =
        Some(value::time(arg(w, 1)?).map_err(|e| format!("'{}': {e}", w[0]))?);
    Ok(())
}

fn spread_checks(p: &mut Parser<'_>, w: &[String]) -> R {
    p.global.spread_checks = value::int_in(arg(w, 1)?, 0, 50, "'spread-checks'")? as u32;
    Ok(())
}

fn bufsize(p: &mut Parser<'_>, w: &[String]) -> R {
    let kw = &w[0];
    let v = value::size(arg(w, 1)?).map_err(|e| format!("'{kw}': {e}"))?;
    if !(1024..=1 << 30).contains(&v) {
        return Err(format!(
            "'{kw}' must be between 1024 and 1073741824 (got '{v}')"
        ));
    }
    p.global.bufsize = v as usize;
    Ok(())
}

fn maxhdr(p: &mut Parser<'_>, w: &[String]) -> R {
    p.global.max_headers = value::int_in(arg(w, 1)?, 1, 32767, "'tune.http.maxhdr'")? as usize;
    Ok(())
}

/// `tune.h2.*`: the HTTP/2 settings announced to clients, in HAProxy's ranges.
fn h2_tune(p: &mut Parser<'_>, w: &[String]) -> R {
    let kw = w[0].as_str();
    let (lo, hi) = match kw {
        "tune.h2.max-concurrent-streams" => (1, u32::MAX as u64),
        "tune.h2.header-table-size" => (0, 65536),
        "tune.h2.initial-window-size" => (0, i32::MAX as u64),
        _ => (16384, 16777215),
    };
    let v = value::int_in(arg(w, 1)?, lo, hi, &format!("'{kw}'"))? as u32;
    let t = &mut p.global.h2;
    match kw {
        "tune.h2.max-concurrent-streams" => t.max_concurrent_streams = v,
        "tune.h2.header-table-size" => t.header_table_size = v,
        "tune.h2.initial-window-size" => t.initial_window_size = v,
        _ => t.max_frame_size = v,
    }
    Ok(())
}

fn log_tag(p: &mut Parser<'_>, w: &[String]) -> R {
    p.global.log_tag = Some(arg(w, 1)?.to_string());
    Ok(())
}

/// `set-var proc.NAME EXPR` / `set-var-fmt proc.NAME FMT`: evaluated once at start,
/// where only fetches that need no request find a value.
fn set_var(p: &mut Parser<'_>, w: &[String]) -> R {
    let kw = w[0].as_str();
    let (name, v) = (arg(w, 1)?, arg(w, 2)?);
    if let Some(x) = w.get(3) {
        return Err(format!(
            "'{kw}' : unexpected argument '{x}' (quote an expression with spaces)."
        ));
    }
    let (scope, n) = crate::sample::Scope::split(name).map_err(|e| format!("'{kw}' : {e}"))?;
    if scope != crate::sample::Scope::Proc {
        return Err(format!(
            "'{kw}' : only 'proc.' variables can be set in 'global' (got '{name}')."
        ));
    }
    let init = if kw == "set-var" {
        let e = crate::sample::Expr::parse(v)
            .map_err(|e| format!("'{kw}' : failed to parse sample expression <{v}> : {e}"))?;
        if e.needs_http() {
            return Err(format!(
                "'{kw}' : fetch method '{}' needs a request and cannot be used in 'global'.",
                e.fetch_name()
            ));
        }
        VarInit::Expr(e)
    } else {
        VarInit::Fmt(crate::sample::Fmt::parse(v).map_err(|e| format!("'{kw}' : {e}"))?)
    };
    p.global.set_vars.push((scope, n.to_string(), init));
    Ok(())
}

/// `external-check [preserve-env]`.
fn external_check(p: &mut Parser<'_>, w: &[String]) -> R {
    if let Some(x) = w.get(2) {
        return Err(format!(
            "'{}' cannot handle unexpected argument '{x}'.",
            w[0]
        ));
    }
    p.global.external_check = match w.get(1).map(String::as_str) {
        None => crate::config::model::ExternalCheck::On,
        Some("preserve-env") => crate::config::model::ExternalCheck::PreserveEnv,
        Some(x) => {
            return Err(format!(
                "'{}' only supports 'preserve-env' as an argument, found '{x}'.",
                w[0]
            ))
        }
    };
    Ok(())
}

fn nothing(_: &mut Parser<'_>, _: &[String]) -> R {
    Ok(())
}

fn log(p: &mut Parser<'_>, w: &[String]) -> R {
    if w.get(1).map(String::as_str) == Some("global") {
        return Err("'log global' is only allowed in proxies, not in 'global'.".into());
    }
    if let Some(t) = p.log_target(&w[1..])? {
        p.global.logs.push(t);
    }
    Ok(())
}

fn stats(p: &mut Parser<'_>, w: &[String]) -> R {
    p.global_stats(w)
}

/// `setenv` and `presetenv`.
fn setenv(p: &mut Parser<'_>, w: &[String]) -> R {
    let (name, val) = (arg(w, 1)?.to_string(), arg(w, 2)?.to_string());
    if w[0] == "setenv" || p.getenv(&name).is_none() {
        p.env_overrides.insert(name, Some(val));
    }
    Ok(())
}

fn unsetenv(p: &mut Parser<'_>, w: &[String]) -> R {
    for n in &w[1..] {
        p.env_overrides.insert(n.clone(), None);
    }
    Ok(())
}

fn resetenv(p: &mut Parser<'_>, w: &[String]) -> R {
    let keep: HashSet<String> = w[1..].iter().cloned().collect();
    p.env_overrides.retain(|k, _| keep.contains(k));
    p.env_cleared = Some(keep);
    Ok(())
}
