//! Backends and servers at runtime: which server takes a connection or request.
//!
//! A server takes new traffic only when it is UP, `Ready` (not drained nor in
//! maintenance), weighted above 0 and under its `maxconn`. Backup servers are used only
//! when no active server is usable (only the first one unless `option allbackups`).
//! When every usable server is at its `maxconn`, the request waits in the backend queue
//! (bounded by `maxqueue` and `timeout queue`) for the first slot to free up.

pub mod agent;
pub mod balance;
pub mod connect;
pub mod health;
pub mod persist;
pub mod pool;
pub mod proxy_proto;
pub mod rate;
pub mod state;
pub mod status;
pub mod stream;
pub mod track;

use crate::config::model::{self, Mode, Options, ServerSettings, Timeouts};
use balance::{Balancer, View};
use state::ServerState;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// One server of a backend.
#[derive(Debug)]
pub struct ServerRt {
    /// Name.
    pub name: String,
    /// Backend name (for messages).
    pub backend: String,
    /// Address; port 0 means "the port the client connected to". The one set at run
    /// time (`set server addr`) when there is one.
    pub addr: SocketAddr,
    /// The address the configuration (or `add server`) gave.
    pub config_addr: SocketAddr,
    /// Added at run time (`add server`): a reload drops it, as HAProxy does.
    pub dynamic: bool,
    /// A unix socket server: its path, or `abns@NAME` (`addr` is then unused).
    pub unix: Option<String>,
    /// Settings from the config.
    pub cfg: ServerSettings,
    /// Shared runtime state (kept across reloads).
    pub state: Arc<ServerState>,
    /// Idle upstream HTTP connections.
    pub pool: pool::Pool,
    /// TLS contexts (`ssl`, `check-ssl`); None without TLS, or when they could not be
    /// built (then an `ssl` server fails every handshake rather than speak clear text).
    pub tls: Option<Arc<crate::tls::client::ServerTls>>,
}

impl ServerRt {
    /// The connection limit: the one an agent set (`maxconn:N`), else `maxconn`.
    pub fn maxconn(&self) -> u32 {
        self.state.runtime_maxconn().unwrap_or(self.cfg.maxconn)
    }

    /// The address as HAProxy shows it (stats `addr`, `show servers state`): `unix`
    /// for a unix socket server, else the IP and port.
    pub fn addr_text(&self) -> (String, u16) {
        match self.unix {
            Some(_) => ("unix".into(), 0),
            None => (self.addr.ip().to_string(), self.addr.port()),
        }
    }

    /// Where active checks connect (`addr`/`port` override the server's).
    pub fn check_target(&self) -> SocketAddr {
        SocketAddr::new(
            self.cfg.check_addr.unwrap_or(self.addr.ip()),
            self.cfg.check_port.unwrap_or(self.addr.port()),
        )
    }

    /// The address to connect to for a client that reached `local`: a server without
    /// a port takes the client's destination port, one without an IP (`:PORT`,
    /// `0.0.0.0`) the client's destination address; a unix client has neither, so
    /// those stay 0.0.0.0 / port 0.
    pub fn target(&self, local: Option<SocketAddr>) -> SocketAddr {
        let ip = match local {
            Some(l) if self.addr.ip().is_unspecified() => l.ip(),
            _ => self.addr.ip(),
        };
        let port = match local {
            Some(l) if self.addr.port() == 0 => l.port(),
            _ => self.addr.port(),
        };
        SocketAddr::new(ip, port)
    }
}

/// State of a backend that outlives one runtime graph (kept by name across reloads).
#[derive(Debug, Default)]
pub struct BackendShared {
    /// Wakes queued requests when a slot frees.
    notify: Notify,
    /// Requests waiting in the queue.
    pub queued: AtomicU32,
    /// Total connections or requests handled.
    pub total: AtomicU64,
    /// Requests answered 503 because no server was available.
    pub no_server: AtomicU64,
}

/// A backend (or the backend half of a `listen`).
#[derive(Debug)]
pub struct Backend {
    /// Name.
    pub name: String,
    /// Index of the proxy in the config.
    pub proxy_id: usize,
    /// `mode`.
    pub mode: Mode,
    /// Servers in config order.
    pub servers: Vec<Arc<ServerRt>>,
    /// The algorithm.
    pub balancer: Balancer,
    /// `balance` as configured (to extract hash keys).
    pub balance: model::Balance,
    /// `retries`.
    pub retries: u32,
    /// `timeout ...`.
    pub timeouts: Timeouts,
    /// `option ...`.
    pub options: Options,
    /// Compiled acls and `http-request`/`http-response` rules (empty for a listen,
    /// whose rules run in its frontend half).
    pub rules: crate::rules::RuleSet,
    /// Kept across reloads.
    pub shared: Arc<BackendShared>,
    /// `log` targets of this backend.
    pub logs: Vec<crate::log::Target>,
    /// `cookie` persistence (http mode).
    pub cookie: Option<model::CookieCfg>,
    /// Server index by cookie value.
    pub cookie_index: std::collections::HashMap<String, usize>,
    /// `stick on|match|store-request src`.
    pub stick: Option<Stick>,
    /// `errorfile` pages by status (used before the frontend's once the backend is
    /// chosen).
    pub error_pages: model::ErrorPages,
    /// `stats enable` / `stats uri` in a `backend`: the stats page, served once the
    /// backend's `http-request` rules have run (a `listen` serves it as a frontend).
    pub stats: model::StatsCfg,
    /// `dispatch ADDR` (without `balance`): the address every balanced connection
    /// goes to, as a server no list, check or statistic shows.
    pub dispatch: Option<Arc<ServerRt>>,
    /// `use-server NAME if|unless COND`: server index and condition, in order; the
    /// conditions are compiled against `use_server_acls`.
    pub use_server: Vec<(usize, crate::rules::Cond)>,
    /// The acls of the `use-server` conditions.
    pub use_server_acls: crate::rules::RuleSet,
}

/// The slot index of the `dispatch` address (no server of the backend's list).
pub const DISPATCH: usize = usize::MAX;

/// Stick rules of a backend and the table they use.
#[derive(Debug)]
pub struct Stick {
    /// The table (kept across reloads when unchanged).
    pub table: Arc<crate::stick::Table>,
    /// The backend's servers' names, by position (`server_id` is the position + 1).
    pub servers: Vec<String>,
    /// Rules in order: kind, pattern and optional condition.
    pub rules: Vec<(
        model::StickKind,
        crate::sample::Expr,
        Option<crate::rules::Cond>,
    )>,
    /// Acls for the conditions.
    pub conds: crate::rules::RuleSet,
}

impl Stick {
    /// The keys of the rules of `kinds` whose condition holds and whose pattern gives
    /// a key for the table, in order.
    fn keys(
        &self,
        env: &crate::sample::Env<'_>,
        kinds: &[model::StickKind],
    ) -> Vec<crate::stick::Key> {
        self.rules
            .iter()
            .filter(|(k, _, c)| kinds.contains(k) && self.conds.eval_opt(c, env))
            .filter_map(|(_, e, _)| crate::sample::track::key_of(&self.table, &e.eval(env)?))
            .collect()
    }

    /// The server stored for the first `stick on`/`stick match` key that has one.
    pub fn lookup(&self, env: &crate::sample::Env<'_>) -> Option<String> {
        use model::StickKind::{Match, On};
        self.keys(env, &[On, Match]).into_iter().find_map(|key| {
            let e = self.table.lookup(&key)?;
            let id = self.table.read(&e, crate::stick::Data::ServerId)?;
            let by_key = self.table.read_text(&e, crate::stick::Data::ServerKey);
            by_key
                .filter(|k| !k.is_empty())
                .or_else(|| self.servers.get((id as usize).checked_sub(1)?).cloned())
        })
    }

    /// The keys `stick on`/`stick store-request` store the request's server under.
    pub fn stores(&self, env: &crate::sample::Env<'_>) -> Vec<crate::stick::Key> {
        use model::StickKind::{On, StoreRequest};
        self.keys(env, &[On, StoreRequest])
    }

    /// Whether `stick store-response` rules read the response.
    pub fn stores_on_response(&self) -> bool {
        self.rules
            .iter()
            .any(|(k, _, _)| *k == model::StickKind::StoreResponse)
    }

    /// The keys `stick store-response` rules store the server under, read with the
    /// response in `env`.
    pub fn response_stores(&self, env: &crate::sample::Env<'_>) -> Vec<crate::stick::Key> {
        self.keys(env, &[model::StickKind::StoreResponse])
    }

    /// Stores `server` under each of `keys`.
    pub fn store(&self, keys: &[crate::stick::Key], server: &str) {
        let id = self
            .servers
            .iter()
            .position(|s| s == server)
            .map_or(0, |i| i as u64 + 1);
        for k in keys {
            if let Some(e) = self.table.get_or_create(k.clone()) {
                self.table.set_server(&e, id, server);
            }
        }
    }
}

impl Backend {
    /// Whether a server sends an SNI from an `sni` expression (`ssl sni EXPR`).
    pub fn has_sni(&self) -> bool {
        self.servers
            .iter()
            .any(|s| s.cfg.tls.ssl && s.cfg.tls.sni.is_some())
    }

    /// The SNI each server's `sni` expression gives on `env` (by server index; empty
    /// when no server has one).
    pub fn sni_values(&self, env: &crate::sample::Env<'_>) -> Vec<Option<String>> {
        if !self.has_sni() {
            return Vec::new();
        }
        self.servers
            .iter()
            .map(|s| {
                let e = s.cfg.tls.sni.as_ref().filter(|_| s.cfg.tls.ssl)?;
                let v = e.eval(env)?;
                let v = String::from_utf8_lossy(&v.to_bytes()).into_owned();
                (!v.is_empty()).then_some(v)
            })
            .collect()
    }

    /// The server of the first `use-server` rule whose condition holds and whose
    /// server is UP and not in maintenance (a rule naming another server goes on to
    /// the next, as in HAProxy).
    pub fn use_server(&self, env: &crate::sample::Env<'_>) -> Option<usize> {
        self.use_server.iter().find_map(|(i, c)| {
            let st = &self.servers.get(*i)?.state;
            let usable = st.is_up() && st.admin() != state::Admin::Maint;
            (usable && self.use_server_acls.eval(c, env)).then_some(*i)
        })
    }

    /// The index of the server named `name`.
    pub fn server_index(&self, name: &str) -> Option<usize> {
        self.servers.iter().position(|s| s.name == name)
    }
}

/// Why no server could be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NoServer {
    /// No server is usable at all.
    #[error("no server available")]
    Unavailable,
    /// Every usable server is full and the queue is full.
    #[error("queue full")]
    QueueFull,
    /// The request waited `timeout queue` without a free slot.
    #[error("timeout in queue")]
    QueueTimeout,
}

/// A held connection slot on a server; released on drop.
#[derive(Debug)]
pub struct Slot {
    /// The server.
    pub server: Arc<ServerRt>,
    /// Its index in the backend.
    pub index: usize,
    shared: Arc<BackendShared>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.server.state.release();
        if self.shared.queued.load(Relaxed) > 0 {
            self.shared.notify.notify_one();
        }
    }
}

struct PickView<'a> {
    b: &'a Backend,
    backup: bool,
    only: Option<usize>,
    exclude: Option<usize>,
    ignore_full: bool,
}

impl View for PickView<'_> {
    fn len(&self) -> usize {
        self.b.servers.len()
    }
    fn weight(&self, i: usize) -> u32 {
        let s = &self.b.servers[i];
        if s.cfg.backup != self.backup || self.exclude == Some(i) {
            return 0;
        }
        if self.only.is_some_and(|o| o != i) {
            return 0;
        }
        if !self.ignore_full && s.maxconn() != 0 && s.state.cur.load(Relaxed) >= s.maxconn() {
            return 0;
        }
        s.state.eligible_weight()
    }
    fn active(&self, i: usize) -> u32 {
        self.b.servers[i].state.cur.load(Relaxed)
    }
}

impl Backend {
    /// The view of servers that may take traffic now (actives, else backups).
    fn view(&self, exclude: Option<usize>, ignore_full: bool) -> Option<PickView<'_>> {
        let usable = |s: &ServerRt| s.state.eligible_weight() > 0;
        if self.servers.iter().any(|s| !s.cfg.backup && usable(s)) {
            return Some(PickView {
                b: self,
                backup: false,
                only: None,
                exclude,
                ignore_full,
            });
        }
        let first = self
            .servers
            .iter()
            .position(|s| s.cfg.backup && usable(s))?;
        Some(PickView {
            b: self,
            backup: true,
            only: (!self.options.allbackups).then_some(first),
            exclude,
            ignore_full,
        })
    }

    /// Number of usable active and backup servers.
    pub fn usable_counts(&self) -> (usize, usize) {
        let mut act = 0;
        let mut bck = 0;
        for s in &self.servers {
            if s.state.eligible_weight() > 0 {
                if s.cfg.backup {
                    bck += 1;
                } else {
                    act += 1;
                }
            }
        }
        (act, bck)
    }

    /// Tries to take a slot now. `Ok(None)`: usable servers exist but all are full.
    pub fn try_pick(
        self: &Arc<Self>,
        key: Option<u64>,
        exclude: Option<usize>,
    ) -> Result<Option<Slot>, NoServer> {
        if let Some(d) = &self.dispatch {
            if !d.state.try_acquire(0) {
                return Ok(None);
            }
            self.shared.total.fetch_add(1, Relaxed);
            return Ok(Some(Slot {
                server: d.clone(),
                index: DISPATCH,
                shared: self.shared.clone(),
            }));
        }
        let Some(view) = self.view(exclude, false) else {
            if exclude.is_some() {
                return self.try_pick(key, None);
            }
            return Err(NoServer::Unavailable);
        };
        for _ in 0..4 {
            let idx = match self.balancer.pick(&view, key) {
                Some(i) => i,
                None => {
                    // Everyone usable is full, or the only other server was excluded.
                    let any = self
                        .view(exclude, true)
                        .and_then(|v| (0..v.len()).find(|&i| v.weight(i) > 0));
                    return match any {
                        Some(_) => Ok(None),
                        None if exclude.is_some() => self.try_pick(key, None),
                        None => Err(NoServer::Unavailable),
                    };
                }
            };
            let server = &self.servers[idx];
            if server.state.try_acquire(server.maxconn()) {
                self.shared.total.fetch_add(1, Relaxed);
                return Ok(Some(Slot {
                    server: server.clone(),
                    index: idx,
                    shared: self.shared.clone(),
                }));
            }
        }
        Ok(None)
    }

    fn queue_limit(&self) -> Option<u32> {
        let mut total = 0u32;
        for s in &self.servers {
            if s.cfg.maxqueue == 0 {
                return None;
            }
            total = total.saturating_add(s.cfg.maxqueue);
        }
        Some(total)
    }

    /// Takes a slot on server `idx` for a persistent client (cookie or stick table) when
    /// that server may still serve it: UP and ready, or UP and draining (existing users
    /// finish there); never in maintenance. `None`: balance normally instead.
    pub fn try_persist(self: &Arc<Self>, idx: usize) -> Option<Slot> {
        let server = self.servers.get(idx)?;
        let st = &server.state;
        if !st.is_up() || st.admin() == state::Admin::Maint {
            return None;
        }
        if !st.try_acquire(server.maxconn()) {
            return None;
        }
        self.shared.total.fetch_add(1, Relaxed);
        Some(Slot {
            server: server.clone(),
            index: idx,
            shared: self.shared.clone(),
        })
    }

    /// Takes a slot, waiting in the queue when every usable server is full.
    pub async fn acquire(
        self: &Arc<Self>,
        key: Option<u64>,
        exclude: Option<usize>,
    ) -> Result<Slot, NoServer> {
        if let Some(slot) = self.try_pick(key, exclude)? {
            return Ok(slot);
        }
        // Checked and taken in one step: two threads must not both take the last place.
        let limit = self.queue_limit();
        let entered = self
            .shared
            .queued
            .fetch_update(Relaxed, Relaxed, |q| match limit {
                Some(l) if q >= l => None,
                _ => Some(q + 1),
            });
        if entered.is_err() {
            return Err(NoServer::QueueFull);
        }
        let _dequeue = Dequeue(&self.shared);
        let deadline = self
            .timeouts
            .queue()
            .map(|d| tokio::time::Instant::now() + d);
        loop {
            let notified = self.shared.notify.notified();
            if let Some(slot) = self.try_pick(key, exclude)? {
                return Ok(slot);
            }
            // Re-check now and then: slots can also free on a graph swapped in by a reload.
            let wait = Duration::from_millis(200);
            let until = match deadline {
                Some(d) if d <= tokio::time::Instant::now() => return Err(NoServer::QueueTimeout),
                Some(d) => d.min(tokio::time::Instant::now() + wait),
                None => tokio::time::Instant::now() + wait,
            };
            let _ = tokio::time::timeout_at(until, notified).await;
        }
    }
}

struct Dequeue<'a>(&'a BackendShared);

impl Drop for Dequeue<'_> {
    fn drop(&mut self) {
        self.0.queued.fetch_sub(1, Relaxed);
    }
}
