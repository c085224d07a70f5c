//! A frontend (or the frontend half of a `listen`) as the runtime graph holds it: its
//! compiled rules and switching, settings, and the counters and limits that a reload
//! carries over by name.

use crate::config::model::{Bind, Mode, Options, StatsCfg, Timeouts};
use crate::rules::{Cond, RuleSet};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Counters and limits of a frontend that outlive one graph (kept by name).
#[derive(Debug)]
pub struct FrontendShared {
    /// The `maxconn` the limit was made for.
    pub maxconn: Option<u32>,
    /// Frontend `maxconn` (None: only the global limit applies).
    pub limit: Option<Arc<Semaphore>>,
    /// Current connections.
    pub cur: AtomicU32,
    /// Total connections accepted.
    pub total: AtomicU64,
    /// HTTP requests.
    pub requests: AtomicU64,
    /// Requests denied by rules.
    pub denied: AtomicU64,
    /// Connections rejected by `tcp-request connection|session` rules.
    pub denied_conn: AtomicU64,
    /// Responses by class 1xx..5xx, other.
    pub status: [AtomicU64; 6],
    /// Bytes from clients.
    pub bytes_in: AtomicU64,
    /// Bytes to clients.
    pub bytes_out: AtomicU64,
    /// Access-log lines written (`%lc`).
    pub log_count: AtomicU64,
    /// TLS handshakes that failed (`bind ... ssl`).
    pub tls_failed: AtomicU64,
}

impl FrontendShared {
    /// New counters with an optional connection limit.
    pub fn new(maxconn: Option<u32>) -> Self {
        FrontendShared {
            maxconn,
            limit: maxconn.map(|m| Arc::new(Semaphore::new(m as usize))),
            cur: AtomicU32::new(0),
            total: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            denied: AtomicU64::new(0),
            denied_conn: AtomicU64::new(0),
            status: Default::default(),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            log_count: AtomicU64::new(0),
            tls_failed: AtomicU64::new(0),
        }
    }

    /// Counts one response status.
    pub fn count_status(&self, status: u16) {
        let idx = match status {
            100..=599 => (status / 100 - 1) as usize,
            _ => 5,
        };
        self.status[idx].fetch_add(1, Relaxed);
    }
}

/// A frontend (or the frontend half of a `listen`) at runtime.
#[derive(Debug)]
pub struct FrontendRt {
    /// Name.
    pub name: String,
    /// Index of the proxy in the config (a `listen` has the same id on both halves).
    pub proxy_id: usize,
    /// `mode`.
    pub mode: Mode,
    /// Addresses to listen on.
    pub binds: Vec<Bind>,
    /// The listener id of each bind, as HAProxy numbers them (`so_id`, `unix:ID`).
    pub listener_ids: Vec<u32>,
    /// Compiled acls and http rules.
    pub rules: RuleSet,
    /// `use_backend` rules: condition and backend index.
    pub switching: Vec<(Cond, Switch)>,
    /// `default_backend` (or the listen's own servers).
    pub default_backend: Option<usize>,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// Options.
    pub options: Options,
    /// Stats page settings.
    pub stats: StatsCfg,
    /// Counters and limits.
    pub shared: Arc<FrontendShared>,
    /// `monitor-uri`.
    pub monitor_uri: Option<String>,
    /// `monitor fail` conditions.
    pub monitor_fail: Vec<Cond>,
    /// Request capture slots in order: a header's name (`capture request header`) or
    /// none (`declare capture request`, `http-request capture ... len`), and the length.
    pub capture_request: Vec<(Option<hyper::header::HeaderName>, usize)>,
    /// Response capture slots likewise.
    pub capture_response: Vec<(Option<hyper::header::HeaderName>, usize)>,
    /// `log` targets.
    pub logs: Vec<crate::log::Target>,
    /// The access-log format (`log-format`, `option httplog|tcplog`): none, no
    /// access log.
    pub log_format: Option<crate::sample::Fmt>,
    /// `unique-id-format`.
    pub unique_id: Option<crate::sample::Fmt>,
    /// `unique-id-header`.
    pub unique_id_header: Option<hyper::header::HeaderName>,
    /// `errorfile` pages by status.
    pub error_pages: crate::config::model::ErrorPages,
}

/// Where a `use_backend` rule sends a request.
#[derive(Debug, Clone)]
pub enum Switch {
    /// A backend, by index.
    To(usize),
    /// `use_backend %[...]`: the backend the evaluated name designates, if any (else
    /// the rule is skipped, as HAProxy does).
    Named(crate::sample::Fmt),
}

impl Switch {
    /// The backend index for this request.
    pub fn pick(&self, graph: &super::Graph, env: &crate::sample::Env<'_>) -> Option<usize> {
        match self {
            Switch::To(i) => Some(*i),
            Switch::Named(f) => {
                let name = f.eval(env);
                graph
                    .be_index
                    .get(std::str::from_utf8(&name).ok()?)
                    .copied()
            }
        }
    }
}

impl FrontendRt {
    /// The listener a client came in on (`so_id`, `so_name`): a unix client by its
    /// listener id, a TCP one by the address it reached (an exact bind first, then a
    /// wildcard one on the same port).
    pub fn listener(
        &self,
        peer: &crate::log::Client,
        local: Option<std::net::SocketAddr>,
    ) -> Option<(u32, Option<&str>)> {
        use crate::config::model::BindAddr;
        let found = match (peer, local) {
            (crate::log::Client::Unix(id), _) => self.listener_ids.iter().position(|i| i == id),
            (_, Some(l)) => {
                let ip = |a: std::net::IpAddr| match a {
                    std::net::IpAddr::V6(v6) => {
                        v6.to_ipv4_mapped().map(std::net::IpAddr::V4).unwrap_or(a)
                    }
                    v4 => v4,
                };
                let inet = |b: &Bind| match &b.addr {
                    BindAddr::Inet(a) => Some(*a),
                    _ => None,
                };
                self.binds
                    .iter()
                    .position(|b| {
                        inet(b).is_some_and(|a| ip(a.ip()) == ip(l.ip()) && a.port() == l.port())
                    })
                    .or_else(|| {
                        self.binds.iter().position(|b| {
                            inet(b).is_some_and(|a| a.ip().is_unspecified() && a.port() == l.port())
                        })
                    })
            }
            _ => None,
        }?;
        Some((self.listener_ids[found], self.binds[found].name.as_deref()))
    }
}
