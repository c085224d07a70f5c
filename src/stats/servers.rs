//! Runtime server management on the socket, in HAProxy 2.6's words: `add server`,
//! `del server`, `set server ... addr|fqdn`, `enable|disable health|agent`.
//!
//! Adding, deleting or moving a server swaps in a graph whose backend has the new
//! server list (`graph::edit_servers`); the other servers keep their state. A server
//! added here is not in the configuration: a reload drops it, as HAProxy loses its
//! dynamic servers on reload.

use crate::backend::state::Admin;
use crate::backend::{Backend, ServerRt};
use crate::config::model::{Balance, HashType, Mode, SrvProto};
use crate::graph::{Graph, GraphHandle};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The server `BACKEND/SERVER` names, with HAProxy's messages when there is none.
pub fn find(g: &Graph, spec: &str) -> Result<(Arc<Backend>, Arc<ServerRt>), String> {
    let Some((b, s)) = spec.split_once('/') else {
        return Err("Require 'backend/server'.\n".into());
    };
    let Some(&bi) = g.be_index.get(b) else {
        return Err("No such backend.\n".into());
    };
    let be = &g.backends[bi];
    match be.servers.iter().find(|x| x.name == s) {
        Some(s) => Ok((be.clone(), s.clone())),
        None => Err("No such server.\n".into()),
    }
}

/// Runs one of this module's commands (`words` is the whole line); `changed` is told
/// when the server lists changed (the daemon then starts and stops check tasks).
pub fn command(handle: &GraphHandle, words: &[&str], changed: &dyn Fn()) -> String {
    let g = handle.load_full();
    let out = match words {
        ["add", "server", spec, rest @ ..] => add(handle, spec, rest),
        ["add", "server"] => Err("Require 'backend/server'.\n".into()),
        ["del", "server", spec] => del(handle, &g, spec),
        ["del", "server", ..] => Err("Require 'backend/server'.\n".into()),
        ["set", "server", spec, "addr", rest @ ..] => set_addr(handle, &g, spec, rest),
        ["set", "server", spec, "ssl", rest @ ..] => set_ssl(handle, &g, spec, rest),
        ["set", "server", spec, "fqdn", rest @ ..] => {
            find(&g, spec).and_then(|(be, s)| set_fqdn(&g, &be, &s, rest))
        }
        [verb @ ("enable" | "disable"), what @ ("health" | "agent"), spec] => {
            find(&g, spec).and_then(|(_, s)| checks(&s, *verb == "enable", *what == "health"))
        }
        _ => Err(format!("Unknown command: '{}'\n", words.join(" "))),
    };
    match out {
        Ok((msg, true)) => {
            changed();
            msg
        }
        Ok((msg, false)) => msg,
        Err(e) => e,
    }
}

/// Whether `be` balances with a dynamic algorithm (HAProxy's `BE_LB_PROP_DYN`): not
/// `static-rr`, and hashing only with `hash-type consistent`.
fn dynamic_lb(g: &Graph, be: &Backend) -> bool {
    let consistent = g
        .config
        .proxies
        .get(be.proxy_id)
        .is_some_and(|p| p.hash_type == HashType::Consistent);
    match &be.balance {
        Balance::StaticRr => false,
        b if b.is_hash() => consistent,
        _ => be.dispatch.is_none(),
    }
}

type Done = Result<(String, bool), String>;

/// `add server BACKEND/NAME ADDR[:PORT] [params]`.
fn add(handle: &GraphHandle, spec: &str, rest: &[&str]) -> Done {
    let Some((b, name)) = spec.split_once('/') else {
        return Err("Require 'backend/server'.\n".into());
    };
    let g = handle.load_full();
    let Some(&bi) = g.be_index.get(b) else {
        return Err("No such backend.\n".into());
    };
    if !dynamic_lb(&g, &g.backends[bi]) {
        return Err(
            "Backend must use a dynamic load balancing to support dynamic servers.\n".into(),
        );
    }
    let mut words = vec![name.to_string()];
    words.extend(rest.iter().map(|w| unquote(w)));
    let s = crate::config::parse::server::dynamic_server(b, &words).map_err(|e| e + "\n")?;
    if s.settings.tls.proto == SrvProto::H2 && g.backends[bi].mode == Mode::Tcp {
        return Err("MUX protocol is not usable for server.\n".into());
    }
    if let Some(spec) = &s.settings.track {
        let find = |bn: &str, sn: &str| {
            let x = g.backends[*g.be_index.get(bn)?]
                .servers
                .iter()
                .find(|x| x.name == sn)?;
            Some(crate::config::track::Tracked {
                dynamic: x.dynamic,
                checked: x.cfg.check || x.cfg.check_no_port || x.cfg.agent.enabled,
                track: x.cfg.track.clone(),
            })
        };
        crate::config::track::check(b, name, spec, |x| g.be_index.contains_key(x), find)
            .map_err(|e| e + "\n")?;
    }
    crate::graph::edit_servers(handle, b, |g, servers| {
        if servers.iter().any(|x| x.name == s.name) {
            return Err("Already exists a server with the same name in backend.".into());
        }
        let be = &g.backends[g.be_index[b]];
        let new = crate::graph::runtime_server(g, be, &s)?;
        let mut list = servers.to_vec();
        list.push(Arc::new(new));
        Ok((list, ()))
    })
    .map_err(|e| e + "\n")?;
    crate::log::notice("New server registered.");
    Ok(("New server registered.\n".into(), true))
}

/// A quoted socket argument (`agent-send 'hello'`) without its quotes.
fn unquote(w: &str) -> String {
    for q in ['\'', '"'] {
        if let Some(inner) = w.strip_prefix(q).and_then(|x| x.strip_suffix(q)) {
            return inner.to_string();
        }
    }
    w.to_string()
}

/// Whether something of the configuration names server `s` of `be`: a `use-server`
/// rule, a `srv_*` fetch of an acl, a server tracking it (HAProxy's non-purgeable
/// servers).
fn referenced(g: &Graph, be: &Backend, s: &ServerRt) -> bool {
    if !crate::backend::track::trackers(&s.state).is_empty() {
        return true;
    }
    let Some(p) = g.config.proxies.get(be.proxy_id) else {
        return false;
    };
    if p.use_servers.iter().any(|(n, _, _)| *n == s.name) {
        return true;
    }
    let full = format!("{}/{}", be.name, s.name);
    g.config.proxies.iter().any(|px| {
        px.acls.iter().any(|a| {
            a.text.match_indices("srv_").any(|(i, _)| {
                let t = &a.text[i..];
                let Some(open) = t.find('(').filter(|&o| !t[..o].contains(' ')) else {
                    return false;
                };
                let arg = t[open + 1..].split(')').next().unwrap_or("");
                arg == full || (px.name == be.name && arg == s.name)
            })
        })
    })
}

/// `del server BACKEND/NAME`: only in maintenance and without connections.
fn del(handle: &GraphHandle, g: &Graph, spec: &str) -> Done {
    let (be, s) = find(g, spec)?;
    if referenced(g, &be, &s) {
        return Err("This server cannot be removed at runtime due to other configuration elements pointing to it.\n".into());
    }
    if s.state.admin() != Admin::Maint {
        return Err("Only servers in maintenance mode can be deleted.\n".into());
    }
    if s.state.cur.load(std::sync::atomic::Ordering::Relaxed) > 0
        || s.state.queued.load(std::sync::atomic::Ordering::Relaxed) > 0
    {
        return Err("Server still has connections attached to it, cannot remove it.\n".into());
    }
    crate::graph::edit_servers(handle, &be.name, |_, servers| {
        let list = servers
            .iter()
            .filter(|x| x.name != s.name)
            .cloned()
            .collect();
        Ok((list, ()))
    })
    .map_err(|e| e + "\n")?;
    crate::log::notice("Server deleted.");
    Ok(("Server deleted.\n".into(), true))
}

/// `set server BACKEND/NAME ssl on|off`: only on a server whose line or
/// `default-server` has `ssl` (HAProxy prepares its TLS settings then).
fn set_ssl(handle: &GraphHandle, g: &Graph, spec: &str, rest: &[&str]) -> Done {
    let (be, s) = find(g, spec)?;
    if s.dynamic {
        return Err("'set server <srv> ssl' not supported on dynamic servers\n".into());
    }
    if !s.cfg.tls.ssl_ready {
        return Err(
            "'set server <srv> ssl' cannot be set.  default-server should define ssl settings\n"
                .into(),
        );
    }
    let on = match rest {
        ["on"] => true,
        ["off"] => false,
        _ => return Err("'set server <srv> ssl' expects 'on' or 'off'.\n".into()),
    };
    crate::graph::edit_servers(handle, &be.name, |g, servers| {
        let be = &g.backends[g.be_index[&be.name]];
        let list = servers
            .iter()
            .map(|x| match x.name == s.name {
                true => crate::graph::with_ssl(g, be, x, on).map(Arc::new),
                false => Ok(x.clone()),
            })
            .collect::<Result<_, String>>()?;
        Ok((list, ()))
    })
    .map_err(|e| e + "\n")?;
    Ok(("server ssl setting updated.\n".into(), true))
}

/// `set server BACKEND/NAME addr IP [port PORT]`: HAProxy's report of what changed.
fn set_addr(handle: &GraphHandle, g: &Graph, spec: &str, rest: &[&str]) -> Done {
    let (be, s) = find(g, spec)?;
    let (ip, port) = match rest {
        [ip] => (*ip, None),
        [ip, "port", p] => (*ip, Some(*p)),
        _ => {
            return Err(
                "set server <b>/<s> addr requires an address and optionally a port.\n".into(),
            )
        }
    };
    if s.unix.is_some() {
        return Err("Update for the current server address family is only supported through configuration file\n".into());
    }
    let Ok(ip) = ip.parse::<IpAddr>() else {
        return Err(format!("Invalid addr '{ip}'\n"));
    };
    let mut msg = if ip == s.addr.ip() {
        "no need to change the addr".to_string()
    } else {
        format!("IP changed from '{}' to '{ip}'", s.addr.ip())
    };
    let mut to = SocketAddr::new(ip, s.addr.port());
    if let Some(p) = port {
        let Ok(p) = p.parse::<u16>() else {
            return Err(format!("{msg}, failed to parse port '{p}'\n"));
        };
        if p == s.addr.port() {
            msg.push_str(", no need to change the port");
        } else {
            msg.push_str(&format!(", port changed from '{}' to '{p}'", s.addr.port()));
        }
        to.set_port(p);
    }
    msg.push_str(" by 'stats socket command'\n");
    // A server started without an address (`init-addr none`) is out of maintenance
    // once given one, unless its resolvers decide (they do on their next answer).
    let no_resolvers =
        config_server(g, &be, &s).is_some_and(|c| c.settings.dns.resolvers.is_none());
    if no_resolvers && !ip.is_unspecified() {
        s.state.set_resolution_maint(false);
    }
    if to != s.addr {
        s.state
            .set_addr_override((to != s.config_addr).then_some(to));
        crate::graph::edit_servers(handle, &be.name, |_, servers| {
            let list = servers
                .iter()
                .map(|x| match x.name == s.name {
                    true => Arc::new(crate::graph::with_addr(x, to)),
                    false => x.clone(),
                })
                .collect();
            Ok((list, ()))
        })
        .map_err(|e| e + "\n")?;
        crate::log::notice(&format!("{}/{}: {}", be.name, s.name, msg.trim_end()));
        return Ok((msg, true));
    }
    Ok((msg, false))
}

/// The configured `server` line of `s`, if it has one (not an `add server` one).
fn config_server<'g>(
    g: &'g Graph,
    be: &Backend,
    s: &ServerRt,
) -> Option<&'g crate::config::model::Server> {
    let p = g.config.proxies.get(be.proxy_id)?;
    p.servers.iter().find(|x| x.name == s.name && !s.dynamic)
}

/// `srv_fqdn` and `srvrecord` of `show servers state` for a server DNS resolves
/// (`-` otherwise): the name it resolves, and the SRV record of a template slot.
pub fn dns_names(g: &Graph, be: &Backend, s: &ServerRt) -> (String, String) {
    let Some(c) = config_server(g, be, s).filter(|c| c.settings.dns.resolvers.is_some()) else {
        return ("-".into(), "-".into());
    };
    let srv = c.host.starts_with('_');
    let fqdn = s
        .state
        .hostname()
        .or_else(|| (!srv).then(|| c.host.clone()))
        .unwrap_or_else(|| "-".into());
    (fqdn, if srv { c.host.clone() } else { "-".into() })
}

/// `set server BACKEND/NAME fqdn FQDN`: the name the server's resolvers ask from
/// then on (at their next resolution).
fn set_fqdn(g: &Graph, be: &Backend, s: &ServerRt, rest: &[&str]) -> Done {
    let [fqdn] = rest else {
        return Err("set server <b>/<s> fqdn requires a FQDN.\n".into());
    };
    let Some(c) = config_server(g, be, s).filter(|c| c.settings.dns.resolvers.is_some()) else {
        return Err("set server <b>/<s> fqdn failed because no resolution is configured.\n".into());
    };
    if c.host.starts_with('_') {
        return Err(
            "set server <b>/<s> fqdn failed because SRV resolution is configured.\n".into(),
        );
    }
    let valid = fqdn.len() <= 255
        && fqdn.trim_end_matches('.').split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !valid {
        return Err(format!(
            "{}/{}, failed to parse FQDN '{fqdn}'. \n",
            be.name, s.name
        ));
    }
    let to = (*fqdn != c.host).then(|| fqdn.to_string());
    s.state.set_hostname(to);
    Ok((String::new(), false))
}

/// `enable|disable health|agent`.
fn checks(s: &ServerRt, on: bool, health: bool) -> Done {
    if health {
        if !s.cfg.check {
            let verb = if on { "enable" } else { "disable" };
            return Err(format!(
                "Health checks are not configured on this server, cannot {verb}.\n"
            ));
        }
        s.state.set_check_enabled(on);
    } else {
        if !s.cfg.agent.enabled {
            let verb = if on { "enable" } else { "disable" };
            return Err(format!(
                "Agent was not configured on this server, cannot {verb}.\n"
            ));
        }
        s.state.set_agent_enabled(on);
    }
    Ok((String::new(), false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::StatsLevel;
    use crate::stats::socket::execute;

    fn handle(balance: &str) -> GraphHandle {
        let cfg = crate::config::parse_str(
            "t.cfg",
            &format!("defaults\n mode http\nfrontend f\n bind 127.0.0.1:1\n default_backend web\nbackend web\n balance {balance}\n use-server s1 if {{ always_false }}\n server s1 127.0.0.1:2 weight 10 check\n server s2 127.0.0.1:3\n"),
        )
        .config
        .unwrap();
        Arc::new(arc_swap::ArcSwap::from_pointee(Graph::build(cfg, None)))
    }

    fn run(h: &GraphHandle, line: &str) -> String {
        execute(line, StatsLevel::Admin, h, None)
    }

    #[test]
    fn add_then_delete_a_server() {
        let h = handle("roundrobin");
        let s2 = h.load().backends[0].servers[1].state.clone();
        assert_eq!(
            run(&h, "add server web/s3 127.0.0.1:4 weight 5 check inter 1s"),
            "New server registered.\n"
        );
        let g = h.load();
        let s3 = &g.backends[0].servers[2];
        assert_eq!((s3.name.as_str(), s3.cfg.weight), ("s3", 5));
        assert!(s3.dynamic);
        // In maintenance, checks stopped; the other servers keep their state.
        assert_eq!(s3.state.admin(), Admin::Maint);
        assert!(!s3.state.check_enabled());
        assert!(Arc::ptr_eq(&g.backends[0].servers[1].state, &s2));
        assert_eq!(
            run(&h, "add server web/s3 127.0.0.1:4"),
            "Already exists a server with the same name in backend.\n"
        );
        assert_eq!(run(&h, "enable health web/s3"), "");
        assert!(s3.state.check_enabled());
        assert_eq!(
            run(&h, "enable agent web/s3"),
            "Agent was not configured on this server, cannot enable.\n"
        );
        assert_eq!(run(&h, "enable server web/s3"), "");
        assert_eq!(
            run(&h, "del server web/s3"),
            "Only servers in maintenance mode can be deleted.\n"
        );
        assert_eq!(run(&h, "disable server web/s3"), "");
        assert_eq!(run(&h, "del server web/s3"), "Server deleted.\n");
        assert_eq!(h.load().backends[0].servers.len(), 2);
        assert_eq!(run(&h, "del server web/s3"), "No such server.\n");
        // s1 is named by a use-server rule.
        assert_eq!(
            run(&h, "del server web/s1"),
            "This server cannot be removed at runtime due to other configuration elements pointing to it.\n"
        );
    }

    #[test]
    fn refusals_in_haproxys_words() {
        assert_eq!(
            run(&handle("static-rr"), "add server web/s3 127.0.0.1:4"),
            "Backend must use a dynamic load balancing to support dynamic servers.\n"
        );
        let h = handle("roundrobin");
        assert_eq!(
            run(&h, "add server web/s3"),
            "'server' expects <name> and <addr>[:<port>] as arguments.\n"
        );
        assert_eq!(
            run(&h, "add server web/s3 127.0.0.1:4 cookie x"),
            "'cookie' option is not accepted for dynamic server\n"
        );
        assert_eq!(run(&h, "add server nope/s3 1.2.3.4"), "No such backend.\n");
        assert_eq!(
            execute("add server web/s3 1.2.3.4", StatsLevel::Operator, &h, None),
            "Permission denied\n"
        );
        assert_eq!(
            run(&h, "set server web/s1 fqdn foo.example"),
            "set server <b>/<s> fqdn failed because no resolution is configured.\n"
        );
    }

    #[test]
    fn an_address_brings_an_init_addr_none_server_out_of_maintenance() {
        let cfg = crate::config::parse_str(
            "t.cfg",
            "resolvers dns\n nameserver ns1 127.0.0.1:53\nbackend web\n server s1 a.invalid:80 init-addr none\n server s2 b.invalid:80 init-addr none resolvers dns\n",
        )
        .config
        .unwrap();
        let h: GraphHandle = Arc::new(arc_swap::ArcSwap::from_pointee(Graph::build(cfg, None)));
        let st = |i: usize| h.load().backends[0].servers[i].state.clone();
        assert!(st(0).resolution_maint() && st(0).admin() == Admin::Maint);
        assert!(run(&h, "show servers state web").contains(" s1 0.0.0.0 0 32 "));
        run(&h, "set server web/s1 addr 127.0.0.2");
        assert!(!st(0).resolution_maint());
        assert_eq!(st(0).admin(), Admin::Ready);
        // With resolvers, DNS decides.
        run(&h, "set server web/s2 addr 127.0.0.3");
        assert!(st(1).resolution_maint());
        assert_eq!(run(&h, "set server web/s2 fqdn b2.example"), "");
        assert_eq!(st(1).hostname().as_deref(), Some("b2.example"));
        assert_eq!(
            run(&h, "set server web/s1 fqdn b2.example"),
            "set server <b>/<s> fqdn failed because no resolution is configured.\n"
        );
    }

    #[test]
    fn set_addr_moves_the_server_and_survives_a_reload() {
        let h = handle("roundrobin");
        assert_eq!(
            run(&h, "set server web/s2 addr 127.0.0.9 port 8080"),
            "IP changed from '127.0.0.1' to '127.0.0.9', port changed from '3' to '8080' by 'stats socket command'\n"
        );
        let addr: SocketAddr = "127.0.0.9:8080".parse().unwrap();
        assert_eq!(h.load().backends[0].servers[1].addr, addr);
        assert_eq!(
            run(&h, "set server web/s2 addr 127.0.0.9"),
            "no need to change the addr by 'stats socket command'\n"
        );
        assert!(run(&h, "show servers state web").contains(" s2 127.0.0.9 "));
        // A reload with the same configured address keeps the runtime one.
        let cfg = (*h.load().config).clone();
        let g = Graph::build(cfg, Some(&h.load()));
        assert_eq!(g.backends[0].servers[1].addr, addr);
        assert_eq!(
            run(&h, "set server web/s2 addr"),
            "set server <b>/<s> addr requires an address and optionally a port.\n"
        );
    }
}
