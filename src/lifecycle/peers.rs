//! The `peers` sections of the running configuration: started with the daemon,
//! kept across a reload when nothing about them changed, restarted otherwise.

use crate::config::model::{Bind, BindAddr, Config};
use crate::stick::peers::{self, Section, Spec};
use crate::stick::Tables;
use crate::{frontend, log};
use std::collections::HashMap;

/// This process's peer name: `-L`, else `localpeer`, else the host name.
fn local_name(cfg: &Config, arg: Option<&str>) -> String {
    arg.map(str::to_string)
        .or_else(|| cfg.global.localpeer.clone())
        .unwrap_or_else(|| {
            crate::sample::hash::hostname()
                .unwrap_or("localhost")
                .to_string()
        })
}

/// Starts, keeps or stops the sections of `cfg` sharing `tables`.
pub(super) fn sync(cfg: &Config, tables: &Tables, arg: Option<&str>) {
    let local = local_name(cfg, arg);
    let mut wanted = Vec::new();
    let mut binds: HashMap<String, Bind> = HashMap::new();
    for sec in cfg.peers.iter().filter(|s| !s.disabled) {
        let Some(me) = sec.peers.iter().find(|p| p.name == local) else {
            log::warning(&format!(
                "Removing incomplete section 'peers {}' (no peer named '{local}').",
                sec.name
            ));
            continue;
        };
        // The stick-tables of proxies that name the section, then its own tables.
        let mut shared = Vec::new();
        for p in &cfg.proxies {
            if p.stick_table.as_ref().and_then(|t| t.peers.as_ref()) == Some(&sec.name) {
                if let Some(t) = tables.get(&p.name) {
                    shared.push((p.name.clone(), t.clone()));
                }
            }
        }
        for (name, _) in &sec.tables {
            if let Some(t) = tables.get(&format!("{}/{name}", sec.name)) {
                shared.push((name.clone(), t.clone()));
            }
        }
        let listen = sec.bind.clone().or_else(|| {
            me.addr.map(|a| Bind {
                addr: BindAddr::Inet(a),
                fd: None,
                id: None,
                perms: Default::default(),
                v6only: None,
                backlog: None,
                name: None,
                accept_proxy: false,
                proto: None,
                ssl: None,
                loc: me.loc.clone(),
            })
        });
        if let Some(b) = listen {
            binds.insert(sec.name.clone(), b);
        }
        wanted.push(Spec {
            name: sec.name.clone(),
            local: local.clone(),
            remotes: sec
                .peers
                .iter()
                .filter(|p| p.name != local)
                .filter_map(|p| Some((p.name.clone(), p.addr?)))
                .collect(),
            tables: shared,
        });
    }
    let errors = peers::sync(wanted, |spec| {
        let listener = match binds.get(&spec.name) {
            Some(b) => {
                let opened = frontend::listener::open(b).map_err(|e| {
                    format!("Binding [{}] for peers section {}: {e}", b.loc, spec.name)
                })?;
                Some(std::net::TcpListener::from(opened.sock))
            }
            None => None,
        };
        Ok(Section::start(spec, listener))
    });
    for e in errors {
        log::alert(&e);
    }
}
