//! The immutable runtime graph built from a validated `Config`, held in an `ArcSwap`.
//!
//! Building takes the previous graph (if any): a server that still exists with the same
//! backend, name and address keeps its `Arc<ServerState>`; a backend or frontend that
//! still exists keeps its shared counters and limits. Everything else starts fresh.

mod edit;
mod frontend;
pub mod state_file;
mod track;

use crate::backend::balance::Balancer;
use crate::backend::state::{Admin, ServerState};
use crate::backend::{pool::Pool, Backend, BackendShared, ServerRt};
use crate::config::model::{Config, ProxyKind};
use crate::rules::RuleSet;
use arc_swap::ArcSwap;
pub use edit::{edit_servers, runtime_server, with_addr, with_ssl};
pub use frontend::{FrontendRt, FrontendShared, Switch};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// Where the current graph lives.
pub type GraphHandle = Arc<ArcSwap<Graph>>;

static GENERATION: AtomicU64 = AtomicU64::new(1);

/// The runtime graph.
#[derive(Debug)]
pub struct Graph {
    /// Increases with every build.
    pub generation: u64,
    /// Frontends and listens.
    pub frontends: Vec<Arc<FrontendRt>>,
    /// Backends and listens.
    pub backends: Vec<Arc<Backend>>,
    /// Frontend index by name.
    pub fe_index: HashMap<String, usize>,
    /// Backend index by name.
    pub be_index: HashMap<String, usize>,
    /// `tune.bufsize`.
    pub bufsize: usize,
    /// `tune.http.maxhdr`.
    pub max_headers: usize,
    /// `tune.h2.*`.
    pub h2: crate::config::model::H2Tune,
    /// The configuration it was built from.
    pub config: Arc<Config>,
    /// Some proxy has `http-after-response` rules (requests keep their head for them).
    pub after_rules: bool,
    /// `proc.` variables (`set-var` in `global`, then rules).
    pub proc_vars: crate::sample::ProcVars,
    /// Stick tables by proxy name (kept across reloads when unchanged).
    pub tables: crate::stick::Tables,
    /// The TLS side of each `ssl` bind, by (proxy index, bind index).
    pub tls: crate::tls::server::TlsBinds,
    /// The CA and CRL files of its binds and servers (`set ssl ca-file` changes them).
    pub trust_files: Arc<crate::tls::cafile::TrustFiles>,
}

/// Capture slots with their header names parsed once (none for a declared slot).
fn captures(
    c: &[crate::config::model::Capture],
) -> Vec<(Option<hyper::header::HeaderName>, usize)> {
    c.iter()
        .map(|c| {
            (
                hyper::header::HeaderName::from_bytes(c.name.as_bytes()).ok(),
                c.len,
            )
        })
        .collect()
}

/// The stick tables of `cfg`, keeping those of `prev` whose definition is unchanged.
/// A table that `stick` rules use also stores `server_id` and `server_key`, as in
/// HAProxy.
fn tables(cfg: &Config, prev: Option<&Graph>) -> crate::stick::Tables {
    use crate::stick::{Data, Spec};
    let used_by_stick: std::collections::HashSet<&str> = cfg
        .proxies
        .iter()
        .flat_map(|p| {
            p.stick_rules
                .iter()
                .map(|r| r.table.as_deref().unwrap_or(&p.name))
        })
        .collect();
    // Tables of `peers` sections are named `SECTION/NAME`.
    let in_peers: Vec<(String, &crate::config::model::StickTable)> = cfg
        .peers
        .iter()
        .flat_map(|s| {
            s.tables
                .iter()
                .map(move |(t, st)| (format!("{}/{t}", s.name), st))
        })
        .collect();
    let declared = cfg
        .proxies
        .iter()
        .filter_map(|p| Some((p.name.as_str(), p.stick_table.as_ref()?)))
        .chain(in_peers.iter().map(|(n, st)| (n.as_str(), *st)));
    let specs = declared.map(|(name, st)| {
        let mut store = st.store.clone();
        if used_by_stick.contains(name) {
            store.push((Data::ServerId, 0));
            store.push((Data::ServerKey, 0));
        }
        let spec = Spec {
            key: st.key,
            size: st.size,
            expire: st.expire.map(|e| e.as_millis() as u64),
            nopurge: st.nopurge,
            store,
        };
        (name, spec)
    });
    crate::stick::Tables::build(specs, prev.map(|g| &g.tables))
}

/// Compiles a backend's stick rules against the table they name.
fn stick(
    tables: &crate::stick::Tables,
    p: &crate::config::model::Proxy,
    servers: &[Arc<ServerRt>],
) -> Option<crate::backend::Stick> {
    let first = p.stick_rules.first()?;
    let owner = first.table.as_deref().unwrap_or(&p.name);
    let table = tables.get(owner)?.clone();
    let mut conds = RuleSet::new(&p.acls, &[], &[]);
    let rules = p
        .stick_rules
        .iter()
        .map(|r| {
            (
                r.kind,
                r.expr.clone(),
                r.cond.as_ref().map(|c| conds.cond(c)),
            )
        })
        .collect();
    Some(crate::backend::Stick {
        table,
        servers: servers.iter().map(|s| s.name.clone()).collect(),
        rules,
        conds,
    })
}

/// The runtime backend of proxy `p` (config index `id`) with `servers`: the ones of
/// its `server` lines at a (re)load, or the list a runtime `add server`/`del server`
/// changed (balancer, cookies, `use-server` and stick rules follow the list).
fn assemble(
    p: &crate::config::model::Proxy,
    id: usize,
    servers: Vec<Arc<ServerRt>>,
    tables: &crate::stick::Tables,
    shared: Arc<BackendShared>,
) -> Backend {
    let weights: Vec<u32> = servers.iter().map(|s| s.cfg.weight).collect();
    let names: Vec<&str> = servers.iter().map(|s| s.name.as_str()).collect();
    let rules = if p.kind == ProxyKind::Listen {
        RuleSet::default()
    } else {
        RuleSet::for_proxy(p)
    };
    let mut use_server_acls = RuleSet::new(&p.acls, &[], &[]);
    let use_server = p
        .use_servers
        .iter()
        .filter_map(|(n, c, _)| {
            let i = servers.iter().position(|s| &s.name == n)?;
            Some((i, use_server_acls.cond(c)))
        })
        .collect();
    Backend {
        use_server,
        use_server_acls,
        name: p.name.clone(),
        proxy_id: id,
        mode: p.mode,
        balancer: Balancer::named(&p.balance, p.hash_type, &weights, &names),
        balance: p.balance.clone(),
        retries: p.retries,
        timeouts: p.timeouts.clone(),
        options: p.options.clone(),
        rules,
        logs: crate::log::targets(&p.logs),
        cookie: p.cookie.clone(),
        cookie_index: servers
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((s.cfg.cookie.clone()?, i)))
            .collect(),
        stick: stick(tables, p, &servers),
        error_pages: p.error_pages.clone(),
        stats: p.stats.clone(),
        dispatch: p.dispatch.map(|addr| {
            let settings = crate::config::model::ServerSettings::default();
            Arc::new(ServerRt {
                name: String::new(),
                backend: p.name.clone(),
                addr,
                config_addr: addr,
                dynamic: false,
                unix: None,
                state: Arc::new(ServerState::for_settings(&settings)),
                cfg: settings,
                pool: Pool::default(),
                tls: None,
            })
        }),
        servers,
        shared,
    }
}

impl Graph {
    /// HAProxy's proxy id (`iid`, `be_id`) of the proxy at `proxy_id` in the config:
    /// proxies are numbered from 1 in declaration order (a listen's two halves share
    /// one), after the internal proxy of the runtime sockets, which takes 1 when the
    /// `global` section declares a `stats socket`.
    pub fn uuid(&self, proxy_id: usize) -> usize {
        proxy_id + 1 + usize::from(!self.config.global.stats_sockets.is_empty())
    }

    /// Builds a graph, carrying state over from `prev`, loading the TLS material of
    /// its `ssl` binds (one that fails to load refuses its connections: the daemon
    /// checks the material first and uses [`Graph::build_with`]).
    pub fn build(cfg: Config, prev: Option<&Graph>) -> Graph {
        let tls = crate::tls::server::load(&cfg).unwrap_or_default();
        Graph::build_with(cfg, prev, tls)
    }

    /// Builds a graph with the TLS material `tls::server::check` loaded for `cfg`.
    pub fn build_with(
        cfg: Config,
        prev: Option<&Graph>,
        tls: crate::tls::server::TlsBinds,
    ) -> Graph {
        let mut old_servers: HashMap<(&str, &str), &ServerRt> = HashMap::new();
        let mut old_be: HashMap<&str, &Arc<BackendShared>> = HashMap::new();
        let mut old_fe: HashMap<&str, &Arc<FrontendShared>> = HashMap::new();
        if let Some(p) = prev {
            for b in &p.backends {
                old_be.insert(&b.name, &b.shared);
                for s in &b.servers {
                    old_servers.insert((&b.name, &s.name), s);
                }
            }
            for f in &p.frontends {
                old_fe.insert(&f.name, &f.shared);
            }
        }
        let tables = tables(&cfg, prev);
        // The CA and CRL files the binds loaded, which the servers share.
        let trust_files = tls
            .values()
            .next()
            .map(|b| b.files.clone())
            .unwrap_or_default();
        // The server-state file: what the servers that start afresh take over.
        let saved = state_file::Saved::load(&cfg);
        let mut backends = Vec::new();
        let mut be_index = HashMap::new();
        let mut be_of_proxy = HashMap::new();
        for (id, p) in cfg.proxies.iter().enumerate() {
            if !p.kind.is_backend() || p.disabled {
                continue;
            }
            // Admin states the new config changes on kept servers, logged once the
            // backend exists (the messages count its usable servers).
            let mut admin_changes = Vec::new();
            let servers: Vec<Arc<ServerRt>> = p
                .servers
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let old = old_servers.get(&(p.name.as_str(), s.name.as_str()));
                    let state = match old {
                        Some(o) if !o.dynamic && o.config_addr == s.addr && o.unix == s.unix => {
                            let st = o.state.clone();
                            // A weight changed in the config replaces the old one.
                            if st.config_weight.load(Relaxed) != s.settings.weight {
                                st.config_weight.store(s.settings.weight, Relaxed);
                                st.set_weight(s.settings.weight);
                            }
                            // So does `disabled` added or removed in the config.
                            if st.config_disabled.swap(s.settings.disabled, Relaxed)
                                != s.settings.disabled
                            {
                                let from = st.admin();
                                let to = if s.settings.disabled {
                                    Admin::Maint
                                } else if from == Admin::Maint {
                                    Admin::Ready
                                } else {
                                    from
                                };
                                st.set_admin(to);
                                admin_changes.push((i, from, to));
                            }
                            st
                        }
                        _ => {
                            let st = Arc::new(ServerState::for_settings(&s.settings));
                            // No address yet: in maintenance until DNS gives one.
                            st.set_resolution_maint(s.settings.dns.no_addr);
                            saved.apply(&p.name, s, &st);
                            st
                        }
                    };
                    Arc::new(ServerRt {
                        name: s.name.clone(),
                        backend: p.name.clone(),
                        addr: state.addr_override().unwrap_or(s.addr),
                        config_addr: s.addr,
                        dynamic: false,
                        unix: s.unix.clone(),
                        cfg: s.settings.clone(),
                        state,
                        pool: Pool::default(),
                        tls: server_tls(&cfg.global.srv_tls, p, s, &trust_files),
                    })
                })
                .collect();
            let shared = old_be
                .get(p.name.as_str())
                .map(|s| (*s).clone())
                .unwrap_or_default();
            let b = assemble(p, id, servers, &tables, shared);
            for (i, from, to) in admin_changes {
                crate::backend::status::admin_change(&b, &b.servers[i], from, to);
            }
            be_of_proxy.insert(id, backends.len());
            be_index.insert(p.name.clone(), backends.len());
            backends.push(Arc::new(b));
        }
        let mut frontends = Vec::new();
        let mut fe_index = HashMap::new();
        for (id, p) in cfg.proxies.iter().enumerate() {
            if !p.kind.is_frontend() || p.disabled {
                continue;
            }
            let mut rules = RuleSet::for_proxy(p);
            let switching = p
                .use_backends
                .iter()
                .filter_map(|u| {
                    let to = match &u.dynamic {
                        Some(f) => Switch::Named(f.clone()),
                        None => Switch::To(*be_index.get(&u.backend)?),
                    };
                    Some((rules.cond(&u.cond), to))
                })
                .collect();
            let monitor_fail = p.monitor_fail.iter().map(|c| rules.cond(c)).collect();
            let default_backend = match &p.default_backend {
                Some(n) => be_index.get(&n.name).copied(),
                None if p.kind == ProxyKind::Listen => be_of_proxy.get(&id).copied(),
                None => None,
            };
            let shared = match old_fe.get(p.name.as_str()) {
                Some(s) if s.maxconn == p.maxconn => (*s).clone(),
                _ => Arc::new(FrontendShared::new(p.maxconn)),
            };
            fe_index.insert(p.name.clone(), frontends.len());
            frontends.push(Arc::new(FrontendRt {
                name: p.name.clone(),
                proxy_id: id,
                mode: p.mode,
                binds: p.binds.clone(),
                listener_ids: crate::config::model::listener_ids(&p.binds),
                rules,
                switching,
                default_backend,
                timeouts: p.timeouts.clone(),
                options: p.options.clone(),
                stats: p.stats.clone(),
                monitor_uri: p.monitor_uri.clone(),
                monitor_fail,
                capture_request: captures(&p.capture_request),
                capture_response: captures(&p.capture_response),
                logs: crate::log::targets(&p.logs),
                log_format: p.log_format.as_ref().map(|f| f.compile(p.mode)),
                unique_id: p.unique_id_format.clone(),
                unique_id_header: p
                    .unique_id_header
                    .as_ref()
                    .filter(|_| p.unique_id_format.is_some())
                    .and_then(|h| hyper::header::HeaderName::from_bytes(h.as_bytes()).ok()),
                error_pages: p.error_pages.clone(),
                shared,
            }));
        }
        // `set-var` lines of `global`, in order: each sees the ones before it.
        let proc_vars = crate::sample::ProcVars::default();
        for (scope, name, v) in &cfg.global.set_vars {
            let env = crate::sample::Env {
                proc_vars: Some(&proc_vars),
                ..Default::default()
            };
            if let Some(v) = v.value(&env) {
                let mut none = crate::sample::Vars::default();
                crate::sample::vars::store(&mut none, Some(&proc_vars), *scope, name, Some(v));
            }
        }
        let after_rules = frontends.iter().any(|f| !f.rules.after.is_empty())
            || backends.iter().any(|b| !b.rules.after.is_empty());
        track::link(&backends);
        Graph {
            tls,
            trust_files,
            after_rules,
            proc_vars,
            tables,
            generation: GENERATION.fetch_add(1, Relaxed),
            frontends,
            backends,
            fe_index,
            be_index,
            bufsize: cfg.global.bufsize,
            max_headers: cfg.global.max_headers,
            h2: cfg.global.h2,
            config: Arc::new(cfg),
        }
    }
}

/// What fetches read of the running configuration (`nbsrv`, `be_conn`, `srv_is_up`,
/// ...) for one request; `be` is the request's backend once chosen.
pub struct StatsView<'a> {
    /// The graph.
    pub graph: &'a Graph,
    /// The request's backend.
    pub be: Option<&'a Backend>,
}

impl crate::sample::Stats for StatsView<'_> {
    fn backend(&self, name: Option<&str>, what: crate::sample::BeStat) -> Option<i64> {
        use crate::sample::BeStat;
        let be: &Backend = match name {
            Some(n) => self.graph.backends.get(*self.graph.be_index.get(n)?)?,
            None => self.be?,
        };
        let (act, bck) = be.usable_counts();
        let usable = if act > 0 { act } else { bck };
        let up = || be.servers.iter().filter(|s| s.state.eligible_weight() > 0);
        let queued = be.shared.queued.load(Relaxed) as i64
            + be.servers
                .iter()
                .map(|s| s.state.queued.load(Relaxed) as i64)
                .sum::<i64>();
        Some(match what {
            BeStat::NbSrv => usable as i64,
            BeStat::Conn => be
                .servers
                .iter()
                .map(|s| s.state.cur.load(Relaxed) as i64)
                .sum(),
            BeStat::Queue => queued,
            BeStat::AvgQueue => queued.checked_div(usable as i64).unwrap_or(queued),
            BeStat::ConnSlots => {
                if up().any(|s| s.maxconn() == 0) {
                    -1
                } else {
                    up().map(|s| (s.maxconn() as i64 - s.state.cur.load(Relaxed) as i64).max(0))
                        .sum()
                }
            }
        })
    }

    fn server(&self, be: &str, srv: &str, what: crate::sample::SrvStat) -> Option<i64> {
        use crate::sample::SrvStat;
        let b = self.graph.backends.get(*self.graph.be_index.get(be)?)?;
        let s = b.servers.iter().find(|s| s.name == srv)?;
        Some(match what {
            SrvStat::IsUp => i64::from(s.state.is_up()),
            SrvStat::Conn => s.state.cur.load(Relaxed) as i64,
            SrvStat::Queue => s.state.queued.load(Relaxed) as i64,
            SrvStat::SessRate => s.state.sess_rate.read() as i64,
        })
    }

    fn frontend_conn(&self, fe: &str) -> Option<i64> {
        let f = self.graph.frontends.get(*self.graph.fe_index.get(fe)?)?;
        Some(i64::from(f.shared.cur.load(Relaxed)))
    }
}

/// The TLS contexts of a server (the configuration was checked with
/// `tls::client::check`; a file that went bad since is logged, and the server's
/// handshakes fail).
fn server_tls(
    g: &crate::config::model::SrvTlsDefaults,
    p: &crate::config::model::Proxy,
    s: &crate::config::model::Server,
    files: &crate::tls::cafile::TrustFiles,
) -> Option<Arc<crate::tls::client::ServerTls>> {
    let connects = p.check.connects_with_tls();
    match crate::tls::client::build(&s.settings, g, s.addr.ip(), connects, files) {
        Ok(t) => t.map(Arc::new),
        Err(e) => {
            crate::log::alert(&format!("'server {}/{}' : {e}", p.name, s.name));
            None
        }
    }
}
