//! Health: active checks, passive observation and the messages operators grep for.
//!
//! One task per checked server runs its probe at `inter` (`fastinter` while the health
//! counter is between its ends, `downinter` while fully DOWN), spread randomly so checks
//! never synchronise; a slow or dead server only delays its own task. Results are
//! applied by `backend::status::record`, the same function passive observation
//! (`backend::status::observe`, fed by the data path) ends in, which logs every UP/DOWN
//! change in HAProxy's words.

mod agent;
pub mod dns;
pub mod external;
pub mod httpcheck;
pub mod probe;
pub mod proto;
pub mod tcpcheck;

use crate::backend::state::Admin;
use crate::backend::status::{self, Step};
use crate::backend::{Backend, ServerRt};
use crate::config::model::check::CheckProto;
use crate::graph::{Graph, GraphHandle};
use probe::Probe;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tcpcheck::{Target, Timing};

/// (backend, server, address, check settings).
type TaskKey = (String, String, std::net::SocketAddr, String);

/// The running check tasks, keyed by (backend, server, address, settings).
#[derive(Default)]
pub struct Checks {
    tasks: Mutex<HashMap<TaskKey, tokio::task::JoinHandle<()>>>,
}

impl Checks {
    /// Starts checks for servers of `graph` that need one and stops those of servers
    /// that are gone. Tasks of kept servers go on without a reset of their schedule.
    pub fn sync(&self, graph: &Arc<Graph>, handle: &GraphHandle) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        let mut wanted = HashMap::new();
        for be in &graph.backends {
            for s in &be.servers {
                // A tracking server takes the health of the server it tracks.
                if s.cfg.track.is_none() && (s.cfg.check || s.cfg.observe.is_some()) {
                    // Changed check settings restart the task; the health counter lives
                    // in the server state and carries over either way.
                    let spec = graph
                        .config
                        .backend(&be.name)
                        .map(|p| (&p.check, p.timeouts.check, p.options.log_health_checks));
                    let ext = graph.config.global.external_check;
                    let settings = format!(
                        "{:?}{:?}{:?}{ext:?}{:?}",
                        s.cfg, spec, be.timeouts.connect, s.unix
                    );
                    wanted.insert(
                        (be.name.clone(), s.name.clone(), s.addr, settings),
                        (be.clone(), s.clone()),
                    );
                }
                if s.cfg.agent.enabled {
                    // The agent check: its own task, beside the health check.
                    let check_to = graph.config.backend(&be.name).map(|p| p.timeouts.check);
                    let settings = format!(
                        "agent {:?}{check_to:?}{:?}{:?}",
                        s.cfg, be.options.log_health_checks, be.timeouts.connect
                    );
                    wanted.insert(
                        (be.name.clone(), s.name.clone(), agent::addr(s), settings),
                        (be.clone(), s.clone()),
                    );
                }
            }
        }
        tasks.retain(|k, h| {
            let keep = wanted.contains_key(k) && !h.is_finished();
            if !keep {
                h.abort();
            }
            keep
        });
        let spread = graph.config.global.spread_checks;
        for (k, (be, s)) in wanted {
            if tasks.contains_key(&k) {
                continue;
            }
            let p = graph.config.backend(&be.name);
            let check_to = p.and_then(|p| p.timeouts.check);
            if k.3.starts_with("agent ") {
                let h = tokio::spawn(agent::run(be, s, check_to, spread, handle.clone()));
                tasks.insert(k, h);
                continue;
            }
            let spec = p.map(|p| p.check.clone()).unwrap_or_default();
            let ext = p.and_then(|p| {
                let id = be.servers.iter().position(|x| Arc::ptr_eq(x, &s))? as i64 + 1;
                let (uuid, mode) = (graph.uuid(be.proxy_id), graph.config.global.external_check);
                external::External::new(p, uuid, &be, &s, id, mode)
            });
            let probe = match (spec.ruleset(), ext) {
                (Some(r), _) => Probe::Rules(Arc::new(r)),
                (None, Some(e)) if spec.proto == CheckProto::External => {
                    Probe::External(Arc::new(e))
                }
                (None, _) => Probe::Tcp,
            };
            let opts = (check_to, spec.send_state, spec.disable_on_404);
            let h = tokio::spawn(run(be, s, probe, opts, spread, handle.clone()));
            tasks.insert(k, h);
        }
    }

    /// Stops every task.
    pub fn stop(&self) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        for (_, h) in tasks.drain() {
            h.abort();
        }
    }
}

fn jitter(d: Duration, spread_pct: u32) -> Duration {
    if spread_pct == 0 {
        return d;
    }
    let span = d.as_millis() as u64 * spread_pct as u64 / 100;
    if span == 0 {
        return d;
    }
    let r = crate::sample::hash::random_u64() % (span + 1);
    (d + Duration::from_millis(r)).saturating_sub(Duration::from_millis(span / 2))
}

async fn run(
    be: Arc<Backend>,
    s: Arc<ServerRt>,
    probe: Probe,
    (check_to, send_state, disable_on_404): (Option<Duration>, bool, bool),
    spread: u32,
    handle: GraphHandle,
) {
    let cfg = s.cfg.clone();
    let mut target = Target {
        be: (be.name.clone(), be.proxy_id as i64),
        srv: (s.name.clone(), srv_id(&be, &s)),
        addr: s.check_target(),
        unix: s
            .unix
            .clone()
            .filter(|_| cfg.check_addr.is_none() && cfg.check_port.is_none()),
        send_proxy: check_proxy(&s),
        state_header: None,
        nolb_404: false,
        tls: probe::CheckTls::of(&s),
    };
    let timing = Timing {
        inter: cfg.inter,
        connect: be.timeouts.connect,
        check: check_to,
    };
    // The first check comes at a random point of the first interval.
    let first = cfg.inter.as_millis() as u64;
    let first = crate::sample::hash::random_u64() % first.max(1);
    pause(&s, Duration::from_millis(first), cfg.fastinter()).await;
    loop {
        let admin = s.state.admin();
        let passive_only = !cfg.check;
        // `disable health` pauses the probes as maintenance does.
        let stopped = admin == Admin::Maint || (cfg.check && !s.state.check_enabled());
        if stopped || (passive_only && s.state.is_up()) {
            pause(&s, jitter(cfg.inter, spread), cfg.fastinter()).await;
            continue;
        }
        target.nolb_404 = disable_on_404 && s.state.is_up();
        target.state_header = send_state.then(|| state_header(&be, &s));
        let (outcome, _) = probe.run(&target, timing).await;
        let ok = outcome.ok;
        let r = with_counts(&handle, &be, |counts| {
            status::record(&be, &s, outcome, Step::Check(ok), counts)
        });
        let next = if r.force_fast || !r.health.is_settled() {
            cfg.fastinter()
        } else if r.health.value() == 0 {
            cfg.downinter()
        } else {
            cfg.inter
        };
        pause(&s, jitter(next, spread), cfg.fastinter()).await;
    }
}

/// The PROXY header version checks send: the server's with `check-send-proxy` (v1
/// without `send-proxy*`); else the server's for a configured server, none for one
/// added at run time (HAProxy sets the traffic's one on checks at config time only).
fn check_proxy(s: &ServerRt) -> Option<u8> {
    if s.cfg.check_send_proxy {
        Some(s.cfg.send_proxy.unwrap_or(1))
    } else if s.dynamic {
        None
    } else {
        s.cfg.send_proxy
    }
}

/// The server's id in its backend (1-based position).
fn srv_id(be: &Backend, s: &Arc<ServerRt>) -> i64 {
    be.servers
        .iter()
        .position(|x| Arc::ptr_eq(x, s))
        .map_or(0, |i| i as i64 + 1)
}

/// Runs `f` with the backend whose servers messages count: the newest graph's version
/// of `be` (a reload may have changed the backend's servers since a task started).
fn with_counts<T>(handle: &GraphHandle, be: &Arc<Backend>, f: impl FnOnce(&Backend) -> T) -> T {
    let newest = handle.load();
    let counts = newest
        .be_index
        .get(&be.name)
        .map_or(&**be, |&i| &*newest.backends[i]);
    f(counts)
}

/// The `X-Haproxy-Server-State` header of `http-check send-state` (HAProxy's
/// `httpchk_build_status_header`).
fn state_header(be: &Backend, s: &ServerRt) -> String {
    let c = status::cell(&s.state);
    let (h, rise, fall) = (c.health.value(), c.health.rise(), c.health.fall());
    drop(c);
    let up = s.state.is_up();
    let mut out = if !s.cfg.check {
        "no check".to_string()
    } else if up {
        let word = if s.state.is_nolb() { "NOLB" } else { "UP" };
        if h == rise + fall - 1 {
            word.to_string()
        } else {
            format!("{word} {}/{fall}", h + 1 - rise.min(h + 1))
        }
    } else if h > 0 {
        format!("DOWN {h}/{rise}")
    } else {
        "DOWN".to_string()
    };
    let total: u32 = be
        .servers
        .iter()
        .filter(|x| x.state.is_up())
        .map(|x| x.state.weight())
        .sum();
    let scur: u32 = be
        .servers
        .iter()
        .map(|x| x.state.cur.load(std::sync::atomic::Ordering::Relaxed))
        .sum();
    out.push_str(&format!(
        "; address={}; port={}; name={}/{}; node={}; weight={}/{total}; scur={}/{scur}; qcur={}",
        s.addr.ip(),
        s.addr.port(),
        be.name,
        s.name,
        crate::sample::hash::hostname().unwrap_or(""),
        s.state.weight(),
        s.state.cur.load(std::sync::atomic::Ordering::Relaxed),
        s.state.queued.load(std::sync::atomic::Ordering::Relaxed),
    ));
    out
}

/// Sleeps `d`, or less when passive observation hurries the next check: it then comes
/// `fastinter` after the hurry at the latest.
async fn pause(s: &ServerRt, d: Duration, fast: Duration) {
    let hurry = status::cell(&s.state).hurry.clone();
    let mut until = tokio::time::Instant::now() + d;
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(until) => return,
            () = hurry.notified() => {
                until = until.min(tokio::time::Instant::now() + fast);
            }
        }
    }
}
