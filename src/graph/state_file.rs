//! The server-state file (`server-state-file`, `server-state-base`,
//! `load-server-state-from-file global|local`, `server-state-file-name`): what
//! `show servers state` wrote before a restart, applied to the servers that start
//! afresh, as HAProxy applies it at startup (`srv_state_srv_update`): the operational
//! state of checked servers, the admin state (a `disabled` changed in the
//! configuration wins), the weight (unless the configured one changed), stopped
//! health/agent checks, and the address (its IP only for a server configured by host
//! name, HAProxy's `init-addr last`; the port always). A reload keeps the in-memory
//! state of the servers it keeps, newer than any file; only new ones read the file.

use crate::backend::state::{Admin, ServerState};
use crate::config::model::{Config, InitAddr, LoadServerState, Server};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering::Relaxed;

/// HAProxy's `srv_admin_state` bits.
const FMAINT: u32 = 0x01;
const CMAINT: u32 = 0x04;
const FDRAIN: u32 = 0x08;
const RMAINT: u32 = 0x20;
/// `srv_check_state`/`srv_agent_state` bits.
const CONFIGURED: u32 = 0x02;
const ENABLED: u32 = 0x04;

/// One saved server: the fields lbd applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    addr: Option<IpAddr>,
    op: u32,
    admin: u32,
    uweight: u32,
    iweight: u32,
    check_state: u32,
    agent_state: u32,
    port: u16,
    /// `srv_fqdn`: the name DNS resolved for it (`-`: none).
    fqdn: Option<String>,
}

/// Saved servers by (backend, server) name.
#[derive(Debug, Default)]
pub struct Saved {
    lines: HashMap<(String, String), Line>,
}

/// Parses a file's text: version `1`, then lines of at least 19 fields (HAProxy's
/// version 1), `#` comments skipped. Lines with a bad field are skipped with a
/// warning, as HAProxy does.
pub fn parse(text: &str, file: &str) -> Result<Vec<(String, String, Line)>, String> {
    let mut lines = text.lines();
    if lines.next().map(str::trim) != Some("1") {
        return Err(format!(
            "Can't get version of the server state file '{file}'."
        ));
    }
    let mut out = Vec::new();
    for l in lines {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.is_empty() || f[0].starts_with('#') {
            continue;
        }
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<u32>().ok());
        let line = (|| {
            Some(Line {
                addr: match *f.get(4)? {
                    "-" => None,
                    a => Some(a.parse().ok()?),
                },
                op: num(5).filter(|&v| v <= 3)?,
                admin: num(6)?,
                uweight: num(7).filter(|&v| v <= 256)?,
                iweight: num(8).filter(|&v| v <= 256)?,
                check_state: num(13)?,
                agent_state: num(14)?,
                port: f.get(18).and_then(|v| v.parse().ok())?,
                fqdn: f.get(17).filter(|v| **v != "-").map(|v| v.to_string()),
            })
        })();
        match line {
            Some(line) if f.len() >= 19 => out.push((f[1].to_string(), f[3].to_string(), line)),
            _ => crate::log::warning(&format!(
                "server-state file '{file}': invalid line skipped: '{l}'"
            )),
        }
    }
    Ok(out)
}

/// `DIR/FILE` for a relative `FILE` under `server-state-base DIR`.
fn path(cfg: &Config, file: &str) -> String {
    match &cfg.global.server_state_base {
        Some(base) if !file.starts_with('/') => format!("{}/{file}", base.trim_end_matches('/')),
        _ => file.to_string(),
    }
}

impl Saved {
    /// Reads the files the backends of `cfg` load from (missing or unreadable ones are
    /// warned about and skipped: the servers start from the configuration).
    pub fn load(cfg: &Config) -> Saved {
        let mut saved = Saved::default();
        let mut global: Option<Vec<(String, String, Line)>> = None;
        for p in cfg.proxies.iter().filter(|p| p.kind.is_backend()) {
            let lines = match p.load_server_state {
                LoadServerState::None => continue,
                LoadServerState::Global => {
                    let Some(f) = &cfg.global.server_state_file else {
                        crate::log::warning(&format!(
                            "backend '{}': 'load-server-state-from-file global' but no global 'server-state-file' is set.",
                            p.name
                        ));
                        continue;
                    };
                    global.get_or_insert_with(|| read(&path(cfg, f))).clone()
                }
                LoadServerState::Local => {
                    let name = p.server_state_file_name.as_deref().unwrap_or(&p.name);
                    read(&path(cfg, name))
                }
            };
            for (b, s, l) in lines.into_iter().filter(|(b, _, _)| *b == p.name) {
                saved.lines.insert((b, s), l);
            }
        }
        saved
    }

    /// Applies the saved state of server `s` of backend `be` to its fresh state `st`.
    pub fn apply(&self, be: &str, s: &Server, st: &ServerState) {
        if let Some(l) = self.lines.get(&(be.to_string(), s.name.clone())) {
            apply(l, s, st);
        }
    }
}

fn read(file: &str) -> Vec<(String, String, Line)> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            crate::log::warning(&format!(
                "Can't open server state file '{file}': {}",
                crate::config::io_text(&e)
            ));
            return Vec::new();
        }
    };
    parse(&text, file).unwrap_or_else(|e| {
        crate::log::warning(&e);
        Vec::new()
    })
}

/// HAProxy's `srv_state_srv_update`, on lbd's state.
fn apply(l: &Line, s: &Server, st: &ServerState) {
    let cfg = &s.settings;
    // Operational state: only checks move a server's health in lbd (an unchecked
    // server is always UP), so it applies to checked servers.
    if cfg.check {
        let mut c = crate::backend::status::cell(st);
        let (rise, fall) = (cfg.rise, cfg.fall);
        let h = match l.op {
            0 => 0,
            1 if rise == 1 => rise + fall - 1,
            1 => rise - 1,
            3 if fall == 1 => 0,
            3 => rise,
            _ => rise + fall - 1,
        };
        c.health = crate::backend::health::Health::at(rise, fall, h);
        drop(c);
        st.set_up(h >= rise);
    }
    // Admin state: a `disabled` added or removed in the configuration wins.
    let cmaint = cfg.disabled;
    if (l.admin & CMAINT != 0) == cmaint {
        if l.admin & FMAINT != 0 && !cmaint {
            st.set_admin(Admin::Maint);
        } else if l.admin & FMAINT == 0 && cmaint {
            st.set_admin(Admin::Ready);
        }
    }
    if st.admin() != Admin::Maint && l.admin & FDRAIN != 0 && (l.iweight > 0 || cfg.weight == 0) {
        st.set_admin(Admin::Drain);
    }
    let stopped = |state: u32| state & CONFIGURED != 0 && state & ENABLED == 0;
    if cfg.check && stopped(l.check_state) {
        st.set_check_enabled(false);
    }
    if cfg.agent.enabled && stopped(l.agent_state) {
        st.set_agent_enabled(false);
    }
    // The weight set at run time, unless the configured one changed since.
    if l.iweight == st.config_weight.load(Relaxed) {
        st.set_weight(l.uweight);
    }
    if s.unix.is_none() {
        let by_name = s.host.parse::<IpAddr>().is_err();
        let ip = match l.addr {
            Some(ip) if by_name => ip,
            _ => s.addr.ip(),
        };
        let a = SocketAddr::new(ip, l.port);
        if a != s.addr {
            st.set_addr_override(Some(a));
        }
    }
    // A server DNS resolves: the name it resolved (an SRV slot's target), and with
    // `init-addr last`, the address it had, out of maintenance (HAProxy's RMAINT
    // saved in the admin state keeps it in).
    if cfg.dns.resolvers.is_some() {
        if let Some(f) = l.fqdn.as_ref().filter(|f| **f != s.host) {
            st.set_hostname(Some(f.clone()));
        }
        let last = cfg.dns.init_addr().contains(&InitAddr::Last);
        let has = l.addr.is_some_and(|a| !a.is_unspecified());
        if last && has && l.admin & RMAINT == 0 {
            st.set_resolution_maint(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n2 web 1 s1 127.0.0.1 0 1 7 10 5 1 0 2 6 0 0 0 - 8080 - 0 0 - - 0\n2 web 2 s2 10.0.0.9 2 8 3 3 5 1 0 2 2 0 0 0 - 81 - 0 0 - - 0\n2 web 3 bad x 2\n";

    fn config(text: &str) -> Config {
        crate::config::parse_str("t.cfg", text).config.unwrap()
    }

    #[test]
    fn parses_haproxys_version_1_lines() {
        let l = parse(FILE, "f").unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!((l[0].0.as_str(), l[0].1.as_str()), ("web", "s1"));
        assert_eq!(l[0].2.uweight, 7);
        assert_eq!(l[1].2.admin, FDRAIN);
        assert!(parse("2\n", "f").is_err());
    }

    #[test]
    fn applies_admin_weight_checks_and_addresses() {
        let dir = std::env::temp_dir().join(format!("lbd-ssf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("state"), FILE).unwrap();
        let cfg = config(&format!(
            "global\n server-state-base {}\n server-state-file state\ndefaults\n mode http\n load-server-state-from-file global\nbackend web\n server s1 127.0.0.1:8080 weight 10 check\n server s2 localhost:80 weight 3\n",
            dir.display()
        ));
        let saved = Saved::load(&cfg);
        let p = cfg.backend("web").unwrap();
        let s1 = ServerState::for_settings(&p.servers[0].settings);
        saved.apply("web", &p.servers[0], &s1);
        assert_eq!(s1.admin(), Admin::Maint);
        assert_eq!(s1.weight(), 7);
        assert!(!s1.is_up());
        assert!(s1.check_enabled());
        assert_eq!(s1.addr_override(), None);
        let s2 = ServerState::for_settings(&p.servers[1].settings);
        saved.apply("web", &p.servers[1], &s2);
        assert_eq!(s2.admin(), Admin::Drain);
        // Configured by name: the saved IP and port.
        assert_eq!(s2.addr_override(), Some("10.0.0.9:81".parse().unwrap()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
