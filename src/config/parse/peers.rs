//! `peers` sections: `peer`/`server` lines, `bind`, `table` declarations,
//! `disabled`/`enabled`; and the checks of `stick-table ... peers NAME`.

use super::{Parser, Section, R};
use crate::config::model::*;
use crate::config::value;

/// The keywords of a `peers` section (HAProxy 2.6).
const KEYWORDS: &[&str] = &[
    "bind",
    "default-bind",
    "default-server",
    "disabled",
    "enabled",
    "log",
    "peer",
    "server",
    "table",
];

impl<'e> Parser<'e> {
    pub(super) fn start_peers(&mut self, w: &[String]) -> R {
        self.section = Section::Skipped;
        let Some(name) = w.get(1) else {
            return Err("'peers' expects <name> as an argument.".into());
        };
        if let Some(bad) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
        {
            return Err(format!(
                "character '{bad}' is not permitted in 'peers' name '{name}'."
            ));
        }
        if let Some(prev) = self.peers.iter().find(|p| p.name == *name) {
            return Err(format!(
                "peers section '{name}' has the same name as another peers section declared at {}.",
                prev.loc
            ));
        }
        self.peers.push(PeersSection {
            name: name.clone(),
            loc: self.loc.clone(),
            ..PeersSection::default()
        });
        self.section = Section::Peers(self.peers.len() - 1);
        Ok(())
    }

    pub(super) fn peers_kw(&mut self, w: &[String], i: usize) -> R {
        let kw = w[0].as_str();
        match kw {
            "disabled" => self.peers[i].disabled = true,
            "enabled" => self.peers[i].disabled = false,
            "peer" | "server" => {
                let Some(name) = w.get(1) else {
                    return Err(format!("'{kw}' expects <name> as an argument."));
                };
                let addr = match w.get(2) {
                    Some(a) => Some(
                        value::server_addr(a)
                            .and_then(|(_, sa, port)| {
                                port.then_some(sa)
                                    .ok_or_else(|| format!("missing port in '{a}'"))
                            })
                            .map_err(|e| format!("'{kw} {name}' : {e}."))?,
                    ),
                    None if kw == "peer" => {
                        return Err(format!(
                            "'peer {name}' expects <addr>:<port> as an argument."
                        ))
                    }
                    None => None,
                };
                if let Some(x) = w.get(3) {
                    return Err(format!(
                        "'{kw} {name}' : parameter '{x}' is not supported by lbd on peers."
                    ));
                }
                if self.peers[i].peers.iter().any(|p| p.name == *name) {
                    return Err(format!(
                        "peers section '{}': peer '{name}' is declared twice.",
                        self.peers[i].name
                    ));
                }
                let loc = self.loc.clone();
                self.peers[i].peers.push(PeerLine {
                    name: name.clone(),
                    addr,
                    loc,
                });
            }
            "bind" => {
                let Some(spec) = w.get(1) else {
                    return Err("'bind' expects <addr>:<port> as an argument.".into());
                };
                if let Some(x) = w.get(2) {
                    return Err(format!(
                        "'bind {spec}' : parameter '{x}' is not supported by lbd on peers."
                    ));
                }
                let mut addrs = self
                    .bind_spec(spec)
                    .map_err(|e| format!("'bind {spec}' : {e}"))?;
                if addrs.len() != 1 || !matches!(addrs[0].0, BindAddr::Inet(_)) {
                    return Err(format!(
                        "'bind {spec}' : a peers section listens on exactly one TCP address."
                    ));
                }
                let (addr, fd) = addrs.remove(0);
                self.peers[i].bind = Some(Bind {
                    addr,
                    fd,
                    id: None,
                    perms: Default::default(),
                    v6only: None,
                    backlog: None,
                    name: None,
                    accept_proxy: false,
                    proto: None,
                    ssl: None,
                    loc: self.loc.clone(),
                });
            }
            "table" => {
                let Some(name) = w.get(1) else {
                    return Err("'table' expects <name> as an argument.".into());
                };
                if self.peers[i].tables.iter().any(|(n, _)| n == name) {
                    return Err(format!(
                        "peers section '{}': table '{name}' is declared twice.",
                        self.peers[i].name
                    ));
                }
                let mut st = self
                    .stick_table(&w[2..])
                    .map_err(|e| e.replacen("'stick-table", "'table", 1))?;
                if st.peers.is_some() {
                    return Err(format!(
                        "'table {name}' : 'peers' is not allowed in a peers section (the table is shared with this one)."
                    ));
                }
                st.peers = Some(self.peers[i].name.clone());
                self.peers[i].tables.push((name.clone(), st));
            }
            "log" | "default-bind" | "default-server" => {
                return Err(format!(
                    "'{kw}' in a 'peers' section is not supported by lbd."
                ))
            }
            _ => {
                return Err(format!(
                    "unknown keyword '{kw}' in 'peers' section{}",
                    match crate::config::diag::did_you_mean(kw, KEYWORDS.iter().copied()) {
                        s if s.is_empty() => ".".to_string(),
                        s => s,
                    }
                ))
            }
        }
        Ok(())
    }

    /// Checks the `peers NAME` of each stick-table against the sections declared.
    pub(super) fn check_peers_refs(&mut self) {
        let mut bad = Vec::new();
        for p in &self.proxies {
            if let Some(st) = &p.stick_table {
                if let Some(n) = &st.peers {
                    if !self.peers.iter().any(|s| s.name == *n) {
                        bad.push((
                            st.loc.clone(),
                            format!("Proxy '{}': unable to find sync peers '{n}'.", p.name),
                        ));
                    }
                }
            }
        }
        for (loc, msg) in bad {
            self.loc = loc;
            self.alert(msg);
        }
    }
}
