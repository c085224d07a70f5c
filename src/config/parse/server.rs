//! `server` and `default-server`: the parameter table and its parsers.

use super::srv_tls as t;
use super::{Param, ParamFn, Parser, Target, R};
use crate::config::keywords::{Caps, Keyword};
use crate::config::model::*;
use crate::config::value;
use std::net::SocketAddr;
use std::time::Duration;

const DOC: &str = "server-and-default-server-parameters";

type K = Keyword<ParamFn<ServerSettings>>;
type S = ServerSettings;
type A<'a> = Param<'a>;

const fn kw(name: &'static str, args: u8, parse: ParamFn<S>) -> K {
    Keyword::new(name, Caps::DFBL, parse, DOC).args(args)
}

/// The `server` / `default-server` parameters: supported first (in `did you mean`
/// order), then known ones with the value words an ignored one skips.
pub(crate) static KEYWORDS: &[K] = &[
    kw("check", 0, check),
    kw("no-check", 0, no_check),
    kw("inter", 1, inter),
    kw("fastinter", 1, fastinter),
    kw("downinter", 1, downinter),
    kw("rise", 1, rise),
    kw("fall", 1, fall),
    kw("port", 1, port),
    kw("addr", 1, addr),
    kw("weight", 1, weight),
    kw("backup", 0, backup),
    kw("no-backup", 0, no_backup),
    kw("disabled", 0, disabled),
    kw("enabled", 0, enabled),
    kw("maxconn", 1, maxconn),
    kw("maxqueue", 1, maxqueue),
    kw("slowstart", 1, slowstart),
    kw("observe", 1, observe),
    kw("error-limit", 1, error_limit),
    kw("on-error", 1, on_error),
    kw("on-marked-down", 1, on_marked_down),
    kw("on-marked-up", 1, on_marked_up),
    kw("init-state", 1, init_state),
    kw("cookie", 1, cookie),
    kw("send-proxy", 0, send_proxy),
    kw("send-proxy-v2", 0, send_proxy),
    kw("no-send-proxy", 0, no_send_proxy),
    kw("no-send-proxy-v2", 0, no_send_proxy),
    kw("proxy-v2-options", 1, proxy_v2_options),
    kw("check-send-proxy", 0, check_send_proxy),
    kw("id", 1, id),
    kw("agent-check", 0, agent_check),
    kw("no-agent-check", 0, agent_check),
    kw("agent-port", 1, agent_port),
    kw("agent-addr", 1, agent_addr),
    kw("agent-inter", 1, agent_inter),
    kw("agent-send", 1, agent_send),
    kw("ssl", 0, t::ssl),
    kw("no-ssl", 0, t::ssl),
    kw("verify", 1, t::verify),
    kw("verifyhost", 1, t::verifyhost),
    kw("no-verifyhost", 0, t::verifyhost),
    kw("ca-file", 1, t::file),
    kw("crl-file", 1, t::file),
    kw("crt", 1, t::file),
    kw("sni", 1, t::sni),
    kw("alpn", 1, t::alpn),
    kw("ciphers", 1, t::ciphers),
    kw("ciphersuites", 1, t::ciphers),
    kw("ssl-min-ver", 1, t::versions),
    kw("ssl-max-ver", 1, t::versions),
    kw("no-sslv3", 0, t::versions),
    kw("no-tlsv10", 0, t::versions),
    kw("no-tlsv11", 0, t::versions),
    kw("no-tlsv12", 0, t::versions),
    kw("no-tlsv13", 0, t::versions),
    kw("force-tlsv12", 0, t::versions),
    kw("force-tlsv13", 0, t::versions),
    kw("no-ssl-reuse", 0, t::reuse),
    kw("ssl-reuse", 0, t::reuse),
    kw("check-ssl", 0, t::check_ssl),
    kw("no-check-ssl", 0, t::check_ssl),
    kw("check-sni", 1, t::check_sni),
    kw("check-alpn", 1, t::alpn),
    kw("proto", 1, t::proto),
    kw("resolvers", 1, super::resolvers::resolvers),
    kw("resolve-prefer", 1, super::resolvers::resolve_prefer),
    kw("resolve-net", 1, super::resolvers::resolve_net),
    kw("init-addr", 1, super::resolvers::init_addr),
    kw("track", 1, track),
    K::unsupported("npn"),
    K::unsupported("check-proto"),
    K::unsupported("resolve-opts"),
    K::unsupported("redir"),
    K::unsupported("source"),
    K::unsupported("usesrc"),
    K::unsupported("namespace"),
    K::unsupported("send-proxy-v2-ssl"),
    K::unsupported("send-proxy-v2-ssl-cn"),
    K::unsupported("non-stick"),
    K::unsupported("socks4"),
    K::unsupported("ws"),
    K::unsupported("allow-0rtt"),
    K::unsupported("set-proxy-v2-tlv-fmt"),
    K::unsupported("force-sslv3"),
    K::unsupported("force-tlsv10"),
    K::unsupported("force-tlsv11"),
    K::unsupported("check-via-socks4"),
    K::unsupported("on-marked-down-sessions"),
    K::unsupported("guid"),
    K::unsupported("hash-key"),
    K::unsupported("shard"),
    K::unsupported("max-reuse"),
    K::ignored("tfo"),
    K::ignored("pool-max-conn").args(1),
    K::ignored("pool-purge-delay").args(1),
    K::ignored("pool-low-conn").args(1),
    K::ignored("pool-conn-name").args(1),
    K::ignored("minconn").args(1),
    K::ignored("no-tls-tickets"),
    K::ignored("tls-tickets"),
    K::ignored("log-proto").args(1),
    K::ignored("tcp-ut").args(1),
    K::ignored("curves").args(1),
    K::ignored("sigalgs").args(1),
    K::ignored("client-sigalgs").args(1),
    K::ignored("ws-check"),
    K::ignored("check-pool-conn-name").args(1),
    K::ignored("no-tfo"),
    K::ignored("stick"),
    K::ignored("no-stick"),
];

/// A positive time: `inter`, `fastinter`, `downinter`.
fn time(a: &A<'_>) -> Result<Duration, String> {
    let d = value::time(a.val).map_err(|e| format!("'{}' : '{}' : {e}", a.ctx, a.name))?;
    if d.is_zero() {
        return Err(format!(
            "'{}' : '{}' must be greater than zero.",
            a.ctx, a.name
        ));
    }
    Ok(d)
}

/// An integer in `lo..=hi`.
fn int(a: &A<'_>, lo: u64, hi: u64) -> Result<u64, String> {
    value::int_in(a.val, lo, hi, &format!("'{}' : '{}'", a.ctx, a.name))
}

fn check(_: &mut Parser<'_>, s: &mut S, _: &A<'_>) -> R {
    s.check = true;
    Ok(())
}

fn no_check(_: &mut Parser<'_>, s: &mut S, _: &A<'_>) -> R {
    s.check = false;
    Ok(())
}

/// `track [BACKEND/]SERVER` (checked once the whole configuration is known).
fn track(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    s.track = Some(a.val.to_string());
    Ok(())
}

fn backup(_: &mut Parser<'_>, s: &mut S, _: &A<'_>) -> R {
    s.backup = true;
    Ok(())
}

fn no_backup(_: &mut Parser<'_>, s: &mut S, _: &A<'_>) -> R {
    s.backup = false;
    Ok(())
}

fn disabled(_: &mut Parser<'_>, s: &mut S, _: &A<'_>) -> R {
    s.disabled = true;
    Ok(())
}

fn enabled(_: &mut Parser<'_>, s: &mut S, _: &A<'_>) -> R {
    s.disabled = false;
    Ok(())
}

/// `send-proxy` and `send-proxy-v2`.
fn send_proxy(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    s.send_proxy = Some(if a.name == "send-proxy" { 1 } else { 2 });
    Ok(())
}

/// `proxy-v2-options OPT[,OPT...]`: TLVs of the v2 header (HAProxy: they imply
/// `send-proxy-v2`). The TLS ones (`ssl`, `cert-cn`, ...) need TLS, which lbd lacks.
fn proxy_v2_options(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    for o in a.val.split(',') {
        match o {
            "authority" => s.pp_opts.authority = true,
            "crc32c" => s.pp_opts.crc32c = true,
            "unique-id" => s.pp_opts.unique_id = true,
            "ssl" | "cert-cn" | "ssl-cipher" | "cert-sig" | "cert-key" => {
                return Err(format!(
                    "'proxy-v2-options {o}' is not supported by lbd (it needs TLS)."
                ))
            }
            _ => {
                return Err(format!(
                    "'proxy-v2-options' : bad PROXY protocol v2 option '{o}' (expected 'ssl', 'cert-cn', 'ssl-cipher', 'cert-sig', 'cert-key', 'authority', 'crc32c' or 'unique-id')."
                ))
            }
        }
    }
    s.send_proxy = Some(2);
    Ok(())
}

fn check_send_proxy(_: &mut Parser<'_>, s: &mut S, _: &A<'_>) -> R {
    s.check_send_proxy = true;
    Ok(())
}

fn no_send_proxy(_: &mut Parser<'_>, s: &mut S, _: &A<'_>) -> R {
    s.send_proxy = None;
    Ok(())
}

fn inter(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    s.inter = time(a)?;
    Ok(())
}

fn fastinter(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    s.fastinter = Some(time(a)?);
    Ok(())
}

fn downinter(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    s.downinter = Some(time(a)?);
    Ok(())
}

fn slowstart(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    s.slowstart =
        Some(value::time(a.val).map_err(|e| format!("'{}' : '{}' : {e}", a.ctx, a.name))?);
    Ok(())
}

fn rise(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    s.rise = int(a, 1, 1_000_000)? as u32;
    Ok(())
}

fn fall(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    s.fall = int(a, 1, 1_000_000)? as u32;
    Ok(())
}

fn port(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    s.check_port = Some(int(a, 1, 65535)? as u16);
    Ok(())
}

fn addr(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    let ip = value::resolve(a.val, 0).map_err(|e| format!("'{}' : 'addr' : {e}", a.ctx))?;
    s.check_addr = Some(ip.ip());
    Ok(())
}

/// `agent-check` and `no-agent-check`.
fn agent_check(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    s.agent.enabled = a.name == "agent-check";
    Ok(())
}

fn agent_port(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    s.agent.port = Some(int(a, 1, 65535)? as u16);
    Ok(())
}

fn agent_addr(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    let ip = value::resolve(a.val, 0).map_err(|e| format!("'{}' : 'agent-addr' : {e}", a.ctx))?;
    s.agent.addr = Some(ip.ip());
    Ok(())
}

fn agent_inter(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    s.agent.inter = Some(time(a)?);
    Ok(())
}

fn agent_send(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    s.agent.send = Some(a.val.to_string());
    Ok(())
}

fn weight(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    s.weight = int(a, 0, 256)? as u32;
    Ok(())
}

fn maxconn(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    s.maxconn = int(a, 0, u32::MAX as u64)? as u32;
    Ok(())
}

fn maxqueue(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    s.maxqueue = int(a, 0, u32::MAX as u64)? as u32;
    Ok(())
}

fn error_limit(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    s.error_limit = int(a, 1, 1_000_000)? as u32;
    Ok(())
}

fn id(_: &mut Parser<'_>, _: &mut S, a: &A<'_>) -> R {
    int(a, 1, i32::MAX as u64)?;
    Ok(())
}

fn cookie(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    s.cookie = Some(a.val.to_string());
    Ok(())
}

fn observe(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    s.observe = match a.val {
        "layer4" => Some(Observe::Layer4),
        "layer7" => Some(Observe::Layer7),
        "none" => None,
        x => {
            return Err(format!(
                "'{}' : 'observe' expects one of 'none', 'layer4', 'layer7' but got '{x}'.",
                a.ctx
            ))
        }
    };
    Ok(())
}

fn on_error(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    s.on_error = match a.val {
        "fastinter" => OnError::FastInter,
        "fail-check" => OnError::FailCheck,
        "sudden-death" => OnError::SuddenDeath,
        "mark-down" => OnError::MarkDown,
        x => return Err(format!("'{}' : 'on-error' expects one of 'fastinter', 'fail-check', 'sudden-death' or 'mark-down' but got '{x}'.", a.ctx)),
    };
    Ok(())
}

fn on_marked_down(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    match a.val {
        "shutdown-sessions" => s.shutdown_on_down = true,
        x => {
            return Err(format!(
                "'{}' : 'on-marked-down' expects 'shutdown-sessions' but got '{x}'.",
                a.ctx
            ))
        }
    }
    Ok(())
}

fn on_marked_up(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    match a.val {
        "shutdown-backup-sessions" => s.shutdown_backup_on_up = true,
        x => {
            return Err(format!(
                "'{}' : 'on-marked-up' expects 'shutdown-backup-sessions' but got '{x}'.",
                a.ctx
            ))
        }
    }
    Ok(())
}

fn init_state(_: &mut Parser<'_>, s: &mut S, a: &A<'_>) -> R {
    s.init_state = match a.val {
        "fully-up" => InitState::FullyUp,
        "up" => InitState::Up,
        "down" => InitState::Down,
        "fully-down" => InitState::FullyDown,
        x => return Err(format!("'{}' : 'init-state' expects one of 'fully-up', 'up', 'down' or 'fully-down' but got '{x}'.", a.ctx)),
    };
    Ok(())
}

/// The parameters `add server` accepts: HAProxy 2.6's dynamic-server keywords (its
/// `SRV_KWF_DYNAMIC` ones) that lbd supports.
const DYNAMIC: &[&str] = &[
    "agent-addr",
    "agent-check",
    "agent-inter",
    "agent-port",
    "agent-send",
    "alpn",
    "addr",
    "backup",
    "ca-file",
    "check",
    "check-alpn",
    "check-send-proxy",
    "check-sni",
    "check-ssl",
    "ciphers",
    "ciphersuites",
    "crl-file",
    "crt",
    "disabled",
    "downinter",
    "enabled",
    "error-limit",
    "fall",
    "fastinter",
    "force-tlsv12",
    "force-tlsv13",
    "id",
    "inter",
    "maxconn",
    "maxqueue",
    "minconn",
    "no-send-proxy",
    "no-send-proxy-v2",
    "no-ssl-reuse",
    "no-sslv3",
    "no-tlsv10",
    "no-tlsv11",
    "no-tlsv12",
    "no-tlsv13",
    "no-tls-tickets",
    "observe",
    "on-error",
    "on-marked-down",
    "on-marked-up",
    "pool-low-conn",
    "pool-max-conn",
    "pool-purge-delay",
    "port",
    "proto",
    "proxy-v2-options",
    "rise",
    "send-proxy",
    "send-proxy-v2",
    "slowstart",
    "sni",
    "ssl",
    "ssl-max-ver",
    "ssl-min-ver",
    "tfo",
    "tls-tickets",
    "track",
    "verify",
    "verifyhost",
    "weight",
];

/// Parses `NAME ADDR [params]` of `add server BACKEND/NAME ADDR [params]` into a
/// server of `backend` (HAProxy's dynamic servers: `default-server` does not apply,
/// and only the [`DYNAMIC`] keywords are accepted).
pub fn dynamic_server(backend: &str, words: &[String]) -> Result<Server, String> {
    let mut i = 2;
    while let Some(w) = words.get(i) {
        let kw = crate::config::keywords::find(KEYWORDS, w);
        if kw.is_some() && !DYNAMIC.contains(&w.as_str()) {
            return Err(format!("'{w}' option is not accepted for dynamic server"));
        }
        i += 1 + kw.map_or(0, |k| k.args as usize);
    }
    let env = |_: &str| None;
    let mut p = Parser::new(&env);
    p.proxies.push(Proxy {
        name: backend.to_string(),
        kind: ProxyKind::Backend,
        ..Proxy::default()
    });
    p.states.push(Default::default());
    let mut line = vec!["server".to_string()];
    line.extend(words.iter().cloned());
    p.server(&line, Target::Proxy(0))?;
    let s = p.proxies[0].servers.pop().ok_or("no server")?;
    if s.settings.agent.enabled && s.settings.agent.port.is_none() {
        return Err(format!(
            "server {} does not have agent port. Agent check has been disabled.",
            s.name
        ));
    }
    Ok(s)
}

impl<'e> Parser<'e> {
    /// `server NAME ADDR [params]`.
    pub(super) fn server(&mut self, w: &[String], t: Target) -> R {
        let (Some(name), Some(addr)) = (w.get(1), w.get(2)) else {
            return Err("'server' expects <name> and <addr>[:<port>] as arguments.".into());
        };
        let mut settings = self.px_ref(t).default_server.clone();
        self.server_params(&w[3..], &mut settings, &format!("server {name}"))?;
        if settings.agent.enabled && settings.agent.port.is_none() {
            return Err(format!(
                "server {name} does not have agent port. Agent check has been disabled."
            ));
        }
        // `:PORT` and `*:PORT` have no IP: the server is reached at the address the
        // client connected to (HAProxy's transparent-style empty address).
        let addr = value::env_expand(addr, &|n| self.getenv(n));
        if addr.is_empty() {
            return Err(format!(
                "'server {name}' : '{}' resolves to an empty address (environment variable missing?)",
                w[2]
            ));
        }
        let addr = match addr.strip_prefix('*').unwrap_or(&addr) {
            a if a.starts_with(':') && !a[1..].contains(':') => format!("0.0.0.0{a}"),
            a => a.to_string(),
        };
        let unix = value::server_unix(&addr)
            .transpose()
            .map_err(|e| format!("'server {name}' : {e}"))?;
        let dns = settings.dns.resolvers.is_some()
            || settings.dns.init_addr.is_some()
            || super::resolvers::is_srv(&addr);
        let parsed = match &unix {
            Some(path) => Ok((path.clone(), SocketAddr::from(([0, 0, 0, 0], 0)), true)),
            // A name DNS resolves at run time: `init-addr` says where it starts.
            None if dns => self.dns_server_addr(&addr, &mut settings),
            None => value::server_addr(&addr),
        };
        let (host, resolved, has_port) = parsed.map_err(|e| {
            // A name that does not resolve is reported as HAProxy does, with the
            // backend: `'server web/s1' : could not resolve address 'x'`.
            if e.starts_with("could not resolve") {
                format!("'server {}/{name}' : {e}", self.px_ref(t).name)
            } else {
                format!("'server {name}' : {e}")
            }
        })?;
        let line = self.loc.line;
        if let Target::Proxy(i) = t {
            if let Some(first) = self.states[i].server_names.get(name) {
                let p = &self.proxies[i];
                return Err(format!(
                    "{} '{}' : duplicate server name '{name}' (first defined at line {first}).",
                    p.kind.keyword(),
                    p.name
                ));
            }
            self.states[i].server_names.insert(name.clone(), line);
        }
        let loc = self.loc.clone();
        self.px(t).servers.push(Server {
            name: name.clone(),
            host,
            addr: resolved,
            has_port,
            unix,
            settings,
            loc,
        });
        Ok(())
    }

    /// `host[:port]` of a server with `resolvers` or `init-addr`: (host, address,
    /// has_port); a server that starts without an address is marked so.
    fn dns_server_addr(
        &mut self,
        addr: &str,
        s: &mut S,
    ) -> Result<(String, SocketAddr, bool), String> {
        let (host, port) = value::split_host_port(addr);
        let port = match port {
            None | Some("") => None,
            Some(p) => Some(
                p.parse::<u16>()
                    .ok()
                    .filter(|&p| p != 0)
                    .ok_or_else(|| format!("invalid port '{p}' in server address '{addr}'"))?,
            ),
        };
        let p = port.unwrap_or(0);
        let a = super::resolvers::initial_addr(host, p, s)?;
        s.dns.no_addr = a.is_none();
        Ok((
            host.to_string(),
            a.unwrap_or(super::resolvers::no_addr(p)),
            port.is_some(),
        ))
    }

    /// The parameters of a `server` or `default-server` line.
    pub(super) fn server_params(&mut self, w: &[String], s: &mut S, ctx: &str) -> R {
        self.params(KEYWORDS, w, ctx, s)
    }
}
