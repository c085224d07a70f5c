//! `resolvers NAME` sections, the server keywords that use them (`resolvers`,
//! `resolve-prefer`, `resolve-net`, `init-addr`) and `server-template`.

use super::{Param, Parser, Section, Target, R};
use crate::config::model::{Family, InitAddr, Resolvers, ServerSettings};
use crate::config::value;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

type A<'a> = Param<'a>;

/// `resolvers NAME`.
pub(super) fn resolvers(_: &mut Parser<'_>, s: &mut ServerSettings, a: &A<'_>) -> R {
    s.dns.resolvers = Some(a.val.to_string());
    Ok(())
}

/// `resolve-prefer ipv4|ipv6`.
pub(super) fn resolve_prefer(_: &mut Parser<'_>, s: &mut ServerSettings, a: &A<'_>) -> R {
    s.dns.prefer = match a.val {
        "ipv4" => Family::V4,
        "ipv6" => Family::V6,
        v => {
            return Err(format!(
                "'{}' : '{}' expects either ipv4 or ipv6 as argument (got '{v}').",
                a.ctx, a.name
            ))
        }
    };
    Ok(())
}

/// `resolve-net NET[,NET...]`.
pub(super) fn resolve_net(_: &mut Parser<'_>, s: &mut ServerSettings, a: &A<'_>) -> R {
    s.dns.nets = a
        .val
        .split(',')
        .map(|n| {
            value::network(n).map_err(|_| {
                format!(
                    "'{}' : '{}' : bad network '{n}' (expects a comma-separated list of networks).",
                    a.ctx, a.name
                )
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(())
}

/// `init-addr last|libc|none|IP[,...]`.
pub(super) fn init_addr(_: &mut Parser<'_>, s: &mut ServerSettings, a: &A<'_>) -> R {
    let mut v = Vec::new();
    for m in a.val.split(',') {
        v.push(match m {
            "last" => InitAddr::Last,
            "libc" => InitAddr::Libc,
            "none" => InitAddr::None,
            ip => InitAddr::Ip(ip.parse().map_err(|_| {
                format!(
                    "'{}' : '{}' : unsupported method '{ip}' (expects 'last', 'libc', 'none' or an IP address).",
                    a.ctx, a.name
                )
            })?),
        });
    }
    s.dns.init_addr = Some(v);
    Ok(())
}

/// Whether `host` is an SRV record name (`_service._proto.name`).
pub fn is_srv(host: &str) -> bool {
    host.starts_with('_')
}

/// The address a server whose name DNS resolves at run time starts with, per its
/// `init-addr` methods (`last` is the server-state file's, applied when the graph is
/// built). `None` when it starts without one (`init-addr none`, or an SRV record).
pub(super) fn initial_addr(
    host: &str,
    port: u16,
    s: &ServerSettings,
) -> Result<Option<SocketAddr>, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(Some(SocketAddr::new(ip, port)));
    }
    if is_srv(host) {
        return Ok(None);
    }
    let mut err = format!("could not resolve address '{host}'");
    for m in s.dns.init_addr() {
        match m {
            InitAddr::Last => {}
            InitAddr::Libc => match value::resolve(host, port) {
                Ok(a) => return Ok(Some(a)),
                Err(e) => err = e,
            },
            InitAddr::None => return Ok(None),
            InitAddr::Ip(ip) => return Ok(Some(SocketAddr::new(ip, port))),
        }
    }
    Err(err)
}

/// The address of a server without one yet: nothing is sent to it.
pub(super) fn no_addr(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port)
}

/// `NUM` (names PREFIX1..PREFIXNUM) or `LOW-HIGH` of `server-template`.
fn template_range(v: &str) -> Result<(u32, u32), String> {
    let bad = || {
        format!("'server-template' : invalid range '{v}' (expects <num> or <low>-<high> with 0 < low <= high).")
    };
    let (lo, hi) = match v.split_once('-') {
        Some((l, h)) => (l.parse().map_err(|_| bad())?, h.parse().map_err(|_| bad())?),
        None => (1, v.parse().map_err(|_| bad())?),
    };
    if lo == 0 || hi < lo || hi - lo >= 65536 {
        return Err(bad());
    }
    Ok((lo, hi))
}

impl<'e> Parser<'e> {
    /// `resolvers NAME`.
    pub(super) fn start_resolvers(&mut self, w: &[String]) -> R {
        self.section = Section::Skipped;
        let Some(name) = w.get(1) else {
            return Err("missing name for resolvers section.".into());
        };
        if self.resolvers.iter().any(|r| r.name == *name) {
            return Err(format!(
                "resolvers '{name}' has the same name as another resolvers section."
            ));
        }
        self.resolvers.push(Resolvers::new(name));
        self.section = Section::Resolvers(self.resolvers.len() - 1);
        Ok(())
    }

    /// A line of a `resolvers` section.
    pub(super) fn resolvers_kw(&mut self, w: &[String], i: usize) -> R {
        let arg = |n: usize| {
            w.get(n)
                .map(String::as_str)
                .ok_or_else(|| format!("'{}' expects an argument.", w[0]))
        };
        let time = |n: usize| -> Result<std::time::Duration, String> {
            let v = arg(n)?;
            value::time(v).map_err(|e| format!("'{}' : {e}", w[..n].join(" ")))
        };
        let r = &mut self.resolvers[i];
        match w[0].as_str() {
            "nameserver" => {
                let (Some(name), Some(addr)) = (w.get(1), w.get(2)) else {
                    return Err("'nameserver' expects <name> and <addr>[:<port>] as arguments."
                        .into());
                };
                if r.nameservers.iter().any(|(n, _)| n == name) {
                    return Err(format!(
                        "'nameserver' : '{name}' already used in resolvers '{}'.",
                        r.name
                    ));
                }
                let (host, port) = value::split_host_port(addr);
                let port = match port {
                    None | Some("") => 53,
                    Some(p) => p
                        .parse()
                        .ok()
                        .filter(|&p| p != 0)
                        .ok_or_else(|| format!("'nameserver' : invalid port '{p}' in '{addr}'."))?,
                };
                let ip: IpAddr = host.parse().map_err(|_| {
                    format!("'nameserver' : invalid address '{addr}' (expects an IP address).")
                })?;
                r.nameservers
                    .push((name.clone(), SocketAddr::new(ip, port)));
            }
            "parse-resolv-conf" => {
                let text = std::fs::read_to_string("/etc/resolv.conf").map_err(|e| {
                    format!("'parse-resolv-conf' : failed to open /etc/resolv.conf: {e}")
                })?;
                for (n, line) in text.lines().enumerate() {
                    let mut f = line.split_whitespace();
                    if f.next() != Some("nameserver") {
                        continue;
                    }
                    // A scoped IPv6 address (`fe80::1%eth0`) is left out.
                    if let Some(Ok(ip)) = f.next().map(str::parse::<IpAddr>) {
                        r.nameservers
                            .push(((n + 1).to_string(), SocketAddr::new(ip, 53)));
                    }
                }
            }
            "resolve_retries" => {
                r.retries = arg(1)?
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or("'resolve_retries' expects <nb> as argument (a positive integer).")?;
            }
            "accepted_payload_size" => {
                r.payload_size = arg(1)?
                    .parse()
                    .ok()
                    .filter(|&n| n >= 512)
                    .ok_or("'accepted_payload_size' expects a value between 512 and 65535.")?;
            }
            "timeout" => {
                let d = time(2)?;
                match arg(1)? {
                    "resolve" => r.timeout_resolve = d,
                    "retry" => r.timeout_retry = d,
                    k => {
                        return Err(format!(
                            "'timeout' : '{k}' is not a valid timeout in a resolvers section (expects 'resolve' or 'retry')."
                        ))
                    }
                }
                if d.is_zero() {
                    return Err(format!("'timeout {}' : expects a positive time.", w[1]));
                }
            }
            "hold" => {
                let d = time(2)?;
                let h = &mut self.resolvers[i].hold;
                match arg(1)? {
                    "valid" => h.valid = d,
                    "nx" => h.nx = d,
                    "timeout" => h.timeout = d,
                    "refused" => h.refused = d,
                    "other" => h.other = d,
                    "obsolete" => h.obsolete = d,
                    k => {
                        return Err(format!(
                            "'hold' : '{k}' unknown status (expects 'valid', 'nx', 'timeout', 'refused', 'other' or 'obsolete')."
                        ))
                    }
                }
            }
            k => {
                return Err(format!(
                    "unknown keyword '{k}' in 'resolvers' section (expects 'nameserver', 'parse-resolv-conf', 'resolve_retries', 'timeout', 'hold' or 'accepted_payload_size')."
                ))
            }
        }
        Ok(())
    }

    /// `server-template PREFIX NUM|LOW-HIGH FQDN[:PORT] [params]`: servers PREFIXn
    /// sharing one name that DNS resolves.
    pub(super) fn server_template(&mut self, w: &[String], t: Target) -> R {
        let (Some(prefix), Some(range), Some(fqdn)) = (w.get(1), w.get(2), w.get(3)) else {
            return Err(
                "'server-template' expects <prefix> <nb | range> <addr>[:<port>] as arguments."
                    .into(),
            );
        };
        let (lo, hi) = template_range(range)?;
        for n in lo..=hi {
            let mut line = vec!["server".to_string(), format!("{prefix}{n}"), fqdn.clone()];
            line.extend(w[4..].iter().cloned());
            self.server(&line, t)?;
            if let Some(s) = self.px(t).servers.last_mut() {
                s.settings.dns.template = true;
            }
        }
        Ok(())
    }

    /// Every server's `resolvers` names a section (HAProxy's check after parsing).
    pub(super) fn check_resolvers_refs(&mut self) {
        let mut errs = Vec::new();
        for p in &self.proxies {
            for s in &p.servers {
                if let Some(r) = &s.settings.dns.resolvers {
                    if !self.resolvers.iter().any(|x| x.name == *r) {
                        errs.push((
                            s.loc.clone(),
                            format!(
                                "{} '{}', server '{}': unable to find required resolvers '{r}'",
                                p.kind.keyword(),
                                p.name,
                                s.name
                            ),
                        ));
                    }
                }
            }
        }
        for (loc, e) in errs {
            self.loc = loc;
            self.alert(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::model::*;
    use std::time::Duration;

    fn parse(text: &str) -> Result<Config, String> {
        let out = crate::config::parse_str("t.cfg", text);
        out.config.ok_or_else(|| {
            out.diags
                .iter()
                .map(|d| d.msg.clone())
                .collect::<Vec<_>>()
                .join("\n")
        })
    }

    #[test]
    fn a_resolvers_section_and_a_template() {
        let c = parse(
            "resolvers dns\n nameserver ns1 127.0.0.1:5353\n nameserver ns2 10.0.0.1\n resolve_retries 2\n timeout resolve 200ms\n timeout retry 100ms\n hold valid 3s\n hold obsolete 1s\n accepted_payload_size 8192\nbackend web\n server-template app 2-3 _http._tcp.svc.local resolvers dns init-addr none resolve-prefer ipv4 resolve-net 10.0.0.0/8\n server s1 db.invalid:80 resolvers dns init-addr none,127.0.0.1\n",
        )
        .unwrap();
        let r = &c.resolvers[0];
        assert_eq!(r.nameservers[1].1, "10.0.0.1:53".parse().unwrap());
        assert_eq!((r.retries, r.payload_size), (2, 8192));
        assert_eq!(r.timeout_resolve, Duration::from_millis(200));
        assert_eq!(r.hold.valid, Duration::from_secs(3));
        assert_eq!(r.hold.nx, Duration::from_secs(30));
        let s = &c.proxies[0].servers;
        assert_eq!(
            s.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            ["app2", "app3", "s1"]
        );
        assert_eq!(s[0].host, "_http._tcp.svc.local");
        assert!(s[0].settings.dns.template && s[0].addr.ip().is_unspecified());
        assert_eq!(s[0].settings.dns.prefer, Family::V4);
        // `none` comes first: the server starts without an address.
        assert!(s[2].addr.ip().is_unspecified());
        assert_eq!(s[2].addr.port(), 80);
    }

    #[test]
    fn refusals() {
        for (cfg, want) in [
            (
                "backend b\n server s1 x.invalid resolvers nope init-addr none\n",
                "unable to find required resolvers 'nope'",
            ),
            ("resolvers d\n hold bogus 1s\n", "unknown status"),
            (
                "resolvers d\n nameserver a localhost\n",
                "expects an IP address",
            ),
            (
                "resolvers d\n foo\n",
                "unknown keyword 'foo' in 'resolvers' section",
            ),
            (
                "backend b\n server-template s 0 x.invalid:80\n",
                "invalid range '0'",
            ),
            (
                "backend b\n server s x.invalid:80 init-addr bogus\n",
                "unsupported method 'bogus'",
            ),
            (
                "backend b\n server s x.invalid:80 init-addr none,libc resolve-prefer ipv5\n",
                "expects either ipv4 or ipv6",
            ),
        ] {
            let e = parse(cfg).unwrap_err();
            assert!(e.contains(want), "{cfg}: {e}");
        }
    }
}
