//! DNS service discovery: servers with `resolvers NAME` (and `server-template` slots)
//! take their addresses from that section's nameservers at run time.
//!
//! One task per `resolvers` section asks each name its servers use every `timeout
//! resolve` once the last answer is older than its TTL or `hold valid`, keeps the
//! answers (a record missing from a new answer goes after `hold obsolete`), and hands
//! them out to the servers sharing the name (`assign`). A server that moves gets the
//! address as `set server addr` gives one (a graph with the new address is swapped in;
//! its state and counters stay), one without an answer is put in maintenance
//! (HAProxy's RMAINT), and the messages are HAProxy's. A resolution that fails keeps
//! the last good answers for the `hold` of its status after the last valid one. The
//! data path does no DNS work: it reads the graph it loaded.

mod assign;
pub mod query;

use crate::backend::{Backend, ServerRt};
use crate::config::model::{Family, Resolvers};
use crate::graph::{Graph, GraphHandle};
use assign::{Act, Slot};
use query::{Answer, Item, Status};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Told when server addresses changed (the daemon restarts their checks).
pub type Changed = Arc<dyn Fn() + Send + Sync>;

/// The running resolver tasks, one per `resolvers` section servers use.
#[derive(Default)]
pub struct Dns {
    tasks: Mutex<HashMap<String, tokio::task::JoinHandle<()>>>,
}

impl Dns {
    /// Starts a task for each section of `g` that servers use, keeps the running ones
    /// whose section is unchanged, and stops the others.
    pub fn sync(&self, g: &Graph, handle: &GraphHandle, changed: &Changed) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        let used = |r: &Resolvers| {
            g.config.proxies.iter().any(|p| {
                p.servers
                    .iter()
                    .any(|s| s.settings.dns.resolvers.as_deref() == Some(&r.name))
            })
        };
        let wanted: HashMap<String, &Resolvers> = g
            .config
            .resolvers
            .iter()
            .filter(|r| used(r) && !r.nameservers.is_empty())
            .map(|r| (format!("{r:?}"), r))
            .collect();
        tasks.retain(|k, h| {
            let keep = wanted.contains_key(k) && !h.is_finished();
            if !keep {
                h.abort();
            }
            keep
        });
        for (k, r) in wanted {
            tasks.entry(k).or_insert_with(|| {
                tokio::spawn(run(Arc::new(r.clone()), handle.clone(), changed.clone()))
            });
        }
    }
}

/// A name asked, and how: (name, SRV, preferred family).
type Key = (String, bool, Family);

/// What is known of one name.
struct Res {
    /// The answers kept, with when each was last seen.
    items: Vec<(Item, Instant)>,
    /// How the last resolution ended (None: not asked yet).
    status: Option<Status>,
    /// When the last valid answer came.
    last_valid: Option<Instant>,
    /// When to ask again.
    due: Instant,
    /// The nameserver of the last valid answer.
    by: String,
}

impl Res {
    fn update(&mut self, a: Answer, r: &Resolvers, now: Instant) {
        self.status = Some(a.status);
        if a.status != Status::Valid {
            self.due = now + r.timeout_resolve;
            return;
        }
        self.due = now + query::refresh_after(r, &a.items);
        for it in a.items {
            match self
                .items
                .iter_mut()
                .find(|(x, _)| x.ip == it.ip && x.srv == it.srv)
            {
                Some(x) => *x = (it, now),
                None => self.items.push((it, now)),
            }
        }
        self.items
            .retain(|(_, seen)| *seen == now || now.duration_since(*seen) < r.hold.obsolete);
        self.last_valid = Some(now);
        self.by = a.by;
    }

    /// The answers to hand out, or the reason there are none: after a failure, the
    /// last good ones stay for the `hold` of its status.
    fn current(&self, r: &Resolvers, now: Instant) -> Option<Result<Vec<Item>, Status>> {
        let status = self.status?;
        let hold = match status {
            Status::Valid => None,
            Status::Nx => Some(r.hold.nx),
            Status::Timeout => Some(r.hold.timeout),
            Status::Refused => Some(r.hold.refused),
            Status::Other => Some(r.hold.other),
        };
        let keep = match (hold, self.last_valid) {
            (None, _) => true,
            (Some(h), Some(t)) => now.duration_since(t) < h,
            (Some(_), None) => false,
        };
        Some(if keep {
            Ok(self.items.iter().map(|(i, _)| i.clone()).collect())
        } else {
            Err(status)
        })
    }
}

/// The servers of one backend sharing a name.
struct Group {
    be: Arc<Backend>,
    key: Key,
    servers: Vec<(Arc<ServerRt>, Slot)>,
    nets: Vec<(std::net::IpAddr, u8)>,
}

/// The servers of `g` that section `name` resolves, by backend and name.
fn groups(g: &Graph, name: &str) -> Vec<Group> {
    let mut out: Vec<Group> = Vec::new();
    for be in &g.backends {
        let Some(p) = g.config.proxies.get(be.proxy_id) else {
            continue;
        };
        for s in be.servers.iter().filter(|s| !s.dynamic) {
            let Some(c) = p.servers.iter().find(|c| c.name == s.name) else {
                continue;
            };
            if c.settings.dns.resolvers.as_deref() != Some(name) {
                continue;
            }
            let srv = c.host.starts_with('_');
            let host = match srv {
                true => c.host.clone(),
                false => s.state.hostname().unwrap_or_else(|| c.host.clone()),
            };
            if host.parse::<std::net::IpAddr>().is_ok() {
                continue;
            }
            let key = (host.to_ascii_lowercase(), srv, c.settings.dns.prefer);
            let slot = Slot {
                addr: s.addr,
                port: c.addr.port(),
                rmaint: s.state.resolution_maint(),
                target: if srv { s.state.hostname() } else { None },
            };
            match out
                .iter_mut()
                .find(|x| x.key == key && Arc::ptr_eq(&x.be, be))
            {
                Some(grp) => grp.servers.push((s.clone(), slot)),
                None => out.push(Group {
                    be: be.clone(),
                    key,
                    servers: vec![(s.clone(), slot)],
                    nets: c.settings.dns.nets.clone(),
                }),
            }
        }
    }
    out
}

/// The task of one `resolvers` section.
async fn run(r: Arc<Resolvers>, handle: GraphHandle, changed: Changed) {
    let mut cache: HashMap<Key, Res> = HashMap::new();
    loop {
        let g = handle.load_full();
        let groups = groups(&g, &r.name);
        let now = Instant::now();
        cache.retain(|k, _| groups.iter().any(|x| x.key == *k));
        let mut asks = tokio::task::JoinSet::new();
        for grp in &groups {
            let e = cache.entry(grp.key.clone()).or_insert(Res {
                items: Vec::new(),
                status: None,
                last_valid: None,
                due: now,
                by: String::new(),
            });
            if e.due <= now {
                // Asked once per round, whatever the number of servers using it.
                e.due = now + r.timeout_resolve;
                let (r, key) = (r.clone(), grp.key.clone());
                asks.spawn(async move {
                    let a = match key.1 {
                        true => query::resolve_srv(&r, &key.0, key.2).await,
                        false => query::resolve_addrs(&r, &key.0, key.2).await,
                    };
                    (key, a)
                });
            }
        }
        while let Some(Ok((key, a))) = asks.join_next().await {
            if let Some(e) = cache.get_mut(&key) {
                e.update(a, &r, Instant::now());
            }
        }
        if apply(&handle, &r, &groups, &cache) {
            changed();
        }
        tokio::time::sleep(r.timeout_resolve).await;
    }
}

/// Hands the answers out to the servers; true when addresses changed.
fn apply(handle: &GraphHandle, r: &Resolvers, groups: &[Group], cache: &HashMap<Key, Res>) -> bool {
    let now = Instant::now();
    let mut moves: HashMap<String, Vec<(String, SocketAddr)>> = HashMap::new();
    let mut ready = Vec::new();
    for grp in groups {
        let Some(res) = cache.get(&grp.key) else {
            continue;
        };
        let Some(cur) = res.current(r, now) else {
            continue;
        };
        let slots: Vec<Slot> = grp.servers.iter().map(|(_, s)| s.clone()).collect();
        let acts = match cur {
            Ok(items) if grp.key.1 => assign::srv(&items, &slots),
            Ok(items) => assign::addrs(&items, &slots, grp.key.2, &grp.nets),
            Err(st) => vec![Act::Clear(st.reason()); slots.len()],
        };
        for ((s, slot), act) in grp.servers.iter().zip(acts) {
            match act {
                Act::Set { addr, srv } => {
                    if let Some((target, w)) = srv {
                        if s.state.hostname().as_deref() != Some(&target) {
                            s.state.set_hostname(Some(target));
                        }
                        if s.state.weight() != w {
                            s.state.set_weight(w);
                        }
                    }
                    if addr != s.addr {
                        if addr.ip() != s.addr.ip() {
                            let msg = format!(
                                "{}/{} changed its IP from {} to {} by {}.",
                                grp.be.name,
                                s.name,
                                s.addr.ip(),
                                addr.ip(),
                                res.by
                            );
                            crate::log::warning(&msg);
                            crate::log::send(&grp.be.logs, crate::log::severity::NOTICE, &msg);
                        }
                        moves
                            .entry(grp.be.name.clone())
                            .or_default()
                            .push((s.name.clone(), addr));
                    }
                    if slot.rmaint {
                        ready.push((grp.be.clone(), s.clone(), grp.key.1));
                    }
                }
                Act::Clear(reason) => {
                    if reason == "entry removed from SRV record" {
                        s.state.set_hostname(None);
                    }
                    if !s.state.set_resolution_maint(true) {
                        enters_maint(&grp.be, s, reason);
                    }
                }
            }
        }
    }
    let moved = !moves.is_empty();
    for (be, list) in moves {
        let res = crate::graph::edit_servers(handle, &be, |_, servers| {
            let list = servers
                .iter()
                .map(|x| match list.iter().find(|(n, _)| *n == x.name) {
                    Some((_, a)) => {
                        // Kept by a reload, as a `set server addr` one is.
                        x.state
                            .set_addr_override((*a != x.config_addr).then_some(*a));
                        Arc::new(crate::graph::with_addr(x, *a))
                    }
                    None => x.clone(),
                })
                .collect();
            Ok((list, ()))
        });
        if let Err(e) = res {
            crate::log::alert(&format!("resolvers '{}': {e}", r.name));
        }
    }
    // Out of maintenance once the graph has the address.
    for (be, s, srv) in ready {
        s.state.set_resolution_maint(false);
        let msg = match srv {
            true => format!(
                "Server {}/{} ('{}') is {}/READY (resolves again).",
                be.name,
                s.name,
                s.state.hostname().unwrap_or_default(),
                if s.state.is_up() { "UP" } else { "DOWN" }
            ),
            false => format!(
                "Server {}/{} administratively READY thanks to valid DNS answer.",
                be.name, s.name
            ),
        };
        crate::log::warning(&msg);
        crate::log::send(&be.logs, crate::log::severity::NOTICE, &msg);
    }
    moved
}

/// Logs server `s` entering the resolution maintenance, in HAProxy's words.
fn enters_maint(be: &Backend, s: &ServerRt, reason: &str) {
    let kind = if s.cfg.backup {
        "Backup Server"
    } else {
        "Server"
    };
    let (act, bck) = be.usable_counts();
    let cur = s.state.cur.load(std::sync::atomic::Ordering::Relaxed);
    let queued = be.shared.queued.load(std::sync::atomic::Ordering::Relaxed);
    let how = if s.state.is_up() {
        "is going DOWN for maintenance"
    } else {
        "was DOWN and now enters maintenance"
    };
    let msg = format!(
        "{kind} {}/{} {how} ({reason}). {act} active and {bck} backup servers left. {cur} sessions active, 0 requeued, {queued} remaining in queue.",
        be.name, s.name
    );
    crate::log::warning(&msg);
    crate::log::send(&be.logs, crate::log::severity::ALERT, &msg);
}
