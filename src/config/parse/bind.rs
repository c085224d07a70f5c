//! `bind ADDR [params]`: the bind parameter table and its parsers.

use super::{bind_ssl, Param, ParamFn, Parser, Target, R};
use crate::config::keywords::{Caps, Keyword};
use crate::config::model::*;
use crate::config::value;

/// What the parameters of one `bind` line set.
#[derive(Default)]
pub(crate) struct BindOpts {
    v6only: Option<bool>,
    backlog: Option<u32>,
    name: Option<String>,
    id: Option<u32>,
    perms: UnixPerms,
    accept_proxy: bool,
    proto: Option<HttpProto>,
    pub(super) ssl: bool,
    pub(super) certs: Vec<CertSource>,
    pub(super) strict_sni: bool,
    pub(super) opts: SslOpts,
}

const DOC: &str = "bind-addresses-and-parameters";
/// The README section of the TLS parameters.
const TLS: &str = "tls-bind-parameters";

type K = Keyword<ParamFn<BindOpts>>;

const fn kw(name: &'static str, args: u8, parse: ParamFn<BindOpts>) -> K {
    Keyword::new(name, Caps::DFBL, parse, DOC).args(args)
}

/// A TLS parameter (documented in the TLS section).
const fn tls(name: &'static str, args: u8, parse: ParamFn<BindOpts>) -> K {
    Keyword::new(name, Caps::DFBL, parse, TLS).args(args)
}

/// The `bind` parameters: supported first (in `did you mean` order), then known ones
/// with the value words an ignored one skips.
pub(crate) static KEYWORDS: &[K] = &[
    kw("v4v6", 0, v4v6),
    kw("v6only", 0, v6only),
    kw("name", 1, name),
    kw("backlog", 1, backlog),
    kw("id", 1, id),
    kw("maxconn", 1, maxconn),
    kw("mode", 1, mode),
    kw("uid", 1, uid),
    kw("gid", 1, gid),
    kw("user", 1, user),
    kw("group", 1, group),
    kw("accept-proxy", 0, accept_proxy),
    kw("proto", 1, proto),
    tls("ssl", 0, bind_ssl::ssl),
    tls("crt", 1, bind_ssl::crt),
    tls("crt-list", 1, bind_ssl::crt_list),
    tls("strict-sni", 0, bind_ssl::strict_sni),
    tls("alpn", 1, bind_ssl::alpn),
    tls("npn", 1, bind_ssl::npn),
    tls("ssl-min-ver", 1, bind_ssl::min_ver),
    tls("ssl-max-ver", 1, bind_ssl::max_ver),
    tls("no-sslv3", 0, bind_ssl::no_ver),
    tls("no-tlsv10", 0, bind_ssl::no_ver),
    tls("no-tlsv11", 0, bind_ssl::no_ver),
    tls("no-tlsv12", 0, bind_ssl::no_ver),
    tls("no-tlsv13", 0, bind_ssl::no_ver),
    tls("force-tlsv12", 0, bind_ssl::force_ver),
    tls("force-tlsv13", 0, bind_ssl::force_ver),
    tls("force-sslv3", 0, bind_ssl::force_old),
    tls("force-tlsv10", 0, bind_ssl::force_old),
    tls("force-tlsv11", 0, bind_ssl::force_old),
    tls("ciphers", 1, bind_ssl::ciphers),
    tls("ciphersuites", 1, bind_ssl::ciphersuites),
    tls("prefer-client-ciphers", 0, bind_ssl::prefer_client_ciphers),
    tls("no-tls-tickets", 0, bind_ssl::flag_noop),
    tls("ca-file", 1, bind_ssl::ca_file),
    tls("ca-verify-file", 1, bind_ssl::ca_verify_file),
    tls("allow-0rtt", 0, bind_ssl::allow_0rtt),
    tls("verify", 1, bind_ssl::verify),
    tls("crl-file", 1, bind_ssl::crl_file),
    tls("ca-ignore-err", 1, bind_ssl::ignore_err),
    tls("crt-ignore-err", 1, bind_ssl::ignore_err),
    K::unsupported("transparent"),
    K::unsupported("interface"),
    K::unsupported("namespace"),
    K::unsupported("quic-cc-algo"),
    K::unsupported("accept-netscaler-cip"),
    K::unsupported("generate-certificates"),
    K::unsupported("ecdhe"),
    K::unsupported("curves"),
    K::unsupported("no-ca-names"),
    K::unsupported("ca-sign-file"),
    K::unsupported("no-alpn"),
    K::unsupported("mss"),
    K::unsupported("ssl_fc"),
    K::unsupported("ssl-passphrase"),
    K::unsupported("guid-prefix"),
    K::unsupported("shards"),
    K::ignored("tfo"),
    K::ignored("defer-accept"),
    K::ignored("nice").args(1),
    K::ignored("process").args(1),
    K::ignored("thread").args(1),
    K::ignored("level").args(1),
    K::ignored("severity-output").args(1),
    K::ignored("tls-ticket-keys").args(1),
    K::ignored("expose-fd").args(1),
    K::ignored("tcp-ut").args(1),
    K::ignored("idle-ping").args(1),
    K::ignored("label").args(1),
];

/// `accept-proxy`: each connection starts with a PROXY protocol header (v1 or v2).
fn accept_proxy(_: &mut Parser<'_>, b: &mut BindOpts, _: &Param<'_>) -> R {
    b.accept_proxy = true;
    Ok(())
}

/// `proto h1|h2`: the HTTP protocol of the bind (`h2`: HTTP/2 with prior knowledge).
fn proto(_: &mut Parser<'_>, b: &mut BindOpts, a: &Param<'_>) -> R {
    b.proto = Some(match a.val {
        "h1" => HttpProto::H1,
        "h2" => HttpProto::H2,
        v => return Err(format!("'{}' : unknown MUX protocol '{v}'", a.ctx)),
    });
    Ok(())
}

fn v4v6(_: &mut Parser<'_>, b: &mut BindOpts, _: &Param<'_>) -> R {
    b.v6only = Some(false);
    Ok(())
}

fn v6only(_: &mut Parser<'_>, b: &mut BindOpts, _: &Param<'_>) -> R {
    b.v6only = Some(true);
    Ok(())
}

fn name(_: &mut Parser<'_>, b: &mut BindOpts, a: &Param<'_>) -> R {
    b.name = Some(a.val.to_string());
    Ok(())
}

fn backlog(_: &mut Parser<'_>, b: &mut BindOpts, a: &Param<'_>) -> R {
    b.backlog = Some(value::int_in(a.val, 1, i32::MAX as u64, "'backlog'")? as u32);
    Ok(())
}

/// `id N`: the listener's id (a unix client is logged as `unix:N`).
fn id(_: &mut Parser<'_>, b: &mut BindOpts, a: &Param<'_>) -> R {
    let n = value::int_in(a.val, 0, i32::MAX as u64, "'id'")? as u32;
    if n == 0 {
        return Err(format!("'{}' : custom id has to be > 0", a.ctx));
    }
    b.id = Some(n);
    Ok(())
}

/// `maxconn`: checked, not used (with a warning).
fn maxconn(p: &mut Parser<'_>, _: &mut BindOpts, a: &Param<'_>) -> R {
    value::int_in(a.val, 0, u32::MAX as u64, a.name)?;
    p.warn(format!("'{}' : per-bind 'maxconn' is not supported by lbd and is ignored; use the frontend's 'maxconn'.", a.ctx));
    Ok(())
}

/// `mode OCTAL`: the permissions of a unix socket file.
fn mode(_: &mut Parser<'_>, b: &mut BindOpts, a: &Param<'_>) -> R {
    let m = u32::from_str_radix(a.val, 8)
        .ok()
        .filter(|m| (1..=0o7777).contains(m))
        .ok_or_else(|| {
            format!(
                "'{}' : missing or invalid mode '{}' (octal integer expected)",
                a.ctx, a.val
            )
        })?;
    b.perms.mode = Some(m);
    Ok(())
}

fn numeric_id(a: &Param<'_>) -> Result<u32, String> {
    a.val
        .parse::<u32>()
        .ok()
        .filter(|n| *n != u32::MAX)
        .ok_or_else(|| {
            format!(
                "'{}' : '{}' expects a numeric id, got '{}'",
                a.ctx, a.name, a.val
            )
        })
}

/// `uid N`: the owner of a unix socket file.
fn uid(_: &mut Parser<'_>, b: &mut BindOpts, a: &Param<'_>) -> R {
    b.perms.uid = Some(numeric_id(a)?);
    Ok(())
}

/// `gid N`: the group of a unix socket file.
fn gid(_: &mut Parser<'_>, b: &mut BindOpts, a: &Param<'_>) -> R {
    b.perms.gid = Some(numeric_id(a)?);
    Ok(())
}

/// `user NAME`: the owner of a unix socket file, by name.
fn user(_: &mut Parser<'_>, b: &mut BindOpts, a: &Param<'_>) -> R {
    let id = value::user_id(a.val)
        .ok_or_else(|| format!("'{}' : unknown user name '{}'", a.ctx, a.val))?;
    b.perms.uid = Some(id);
    Ok(())
}

/// `group NAME`: the group of a unix socket file, by name.
fn group(_: &mut Parser<'_>, b: &mut BindOpts, a: &Param<'_>) -> R {
    let id = value::group_id(a.val)
        .ok_or_else(|| format!("'{}' : unknown group name '{}'", a.ctx, a.val))?;
    b.perms.gid = Some(id);
    Ok(())
}

impl<'e> Parser<'e> {
    /// `bind ADDR[,ADDR...] [params]`: one listener per address and port.
    pub(super) fn bind(&mut self, w: &[String], t: Target) -> R {
        let Some(spec) = w.get(1) else {
            return Err(
                "'bind' expects [addr1]:port1[-end1]{,[addr]:port[-end]}... as arguments.".into(),
            );
        };
        let addrs: Vec<(BindAddr, Option<i32>)> = self
            .bind_spec(spec)
            .map_err(|e| format!("'bind {spec}' : {e}"))?;
        let mut b = BindOpts::default();
        self.params(KEYWORDS, &w[2..], &format!("bind {spec}"), &mut b)?;
        let ssl = self.bind_ssl(spec, &mut b)?;
        if b.id.is_some() && addrs.len() > 1 {
            return Err(format!(
                "'bind {spec}' : 'id' can only be used with a single socket."
            ));
        }
        let loc = self.loc.clone();
        let p = self.px(t);
        for (addr, fd) in addrs {
            p.binds.push(Bind {
                addr,
                fd,
                id: b.id,
                perms: b.perms,
                v6only: b.v6only,
                backlog: b.backlog,
                name: b.name.clone(),
                accept_proxy: b.accept_proxy,
                proto: b.proto,
                ssl: ssl.clone(),
                loc: loc.clone(),
            });
        }
        Ok(())
    }

    /// The addresses of a `bind` argument: IP ones (`[addr]:port[-port][,...]`), or
    /// one unix socket (`/path`, `unix@path`, `abns@NAME`), `sockpair@N`, or an
    /// inherited listening socket (`fd@N`).
    pub(super) fn bind_spec(&self, spec: &str) -> Result<Vec<(BindAddr, Option<i32>)>, String> {
        if let Some(n) = spec.strip_prefix("fd@") {
            return Ok(match value::inherited_fd(n, &|v| self.getenv(v))? {
                (fd, value::Inherited::Tcp(a)) => vec![(BindAddr::Inet(a), Some(fd))],
                (fd, value::Inherited::Unix(p)) => match p.strip_prefix("abns@") {
                    Some(n) => vec![(BindAddr::Abns(n.to_string()), Some(fd))],
                    None => vec![(BindAddr::Unix(p), Some(fd))],
                },
            });
        }
        if let Some(n) = spec.strip_prefix("sockpair@") {
            return Ok(vec![(BindAddr::SockPair(value::sockpair_fd(n)?), None)]);
        }
        if let Some(n) = spec.strip_prefix("abns@") {
            return Ok(vec![(BindAddr::Abns(value::abns_name(n)?), None)]);
        }
        if spec.starts_with('/') || spec.starts_with("unix@") {
            return Ok(vec![(BindAddr::Unix(value::unix_path(spec)?), None)]);
        }
        Ok(value::bind_addrs(spec)?
            .into_iter()
            .map(|a| (BindAddr::Inet(a), None))
            .collect())
    }
}
