//! Health: active checks, passive observation and the messages operators grep for.
//!
//! One task per checked server runs its probe at `inter` (`fastinter` while the health
//! counter is between its ends, `downinter` while fully DOWN), spread randomly so checks
//! never synchronise; a slow or dead server only delays its own task. Results are
//! applied by `backend::status::record`, the same function passive observation
//! (`backend::status::observe`, fed by the data path) ends in, which logs every UP/DOWN
//! change in HAProxy's words.

pub mod probe;

use crate::backend::state::Admin;
use crate::backend::status::{self, Step};
use crate::backend::{Backend, ServerRt};
use crate::graph::{Graph, GraphHandle};
use probe::Probe;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
                if s.cfg.check || s.cfg.observe.is_some() {
                    // Changed check settings restart the task; the health counter lives
                    // in the server state and carries over either way.
                    let http = graph
                        .config
                        .backend(&be.name)
                        .map(|p| (&p.http_check, p.timeouts.check, p.options.log_health_checks));
                    let settings = format!("{:?}{:?}{:?}", s.cfg, http, be.timeouts.connect);
                    wanted.insert(
                        (be.name.clone(), s.name.clone(), s.addr, settings),
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
            let http = p.map(|p| p.http_check.clone()).unwrap_or_default();
            let check_to = p.and_then(|p| p.timeouts.check);
            let probe = match Probe::new(&http, &s.addr.to_string()) {
                Ok(p) => p,
                Err(e) => {
                    crate::log::alert(&format!(
                        "Server {}/{}: {e}; checks disabled.",
                        be.name, s.name
                    ));
                    continue;
                }
            };
            let h = tokio::spawn(run(be, s, probe, check_to, spread, handle.clone()));
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
    check_to: Option<Duration>,
    spread: u32,
    handle: GraphHandle,
) {
    let cfg = s.cfg.clone();
    let target = s.check_target();
    // The first check comes at a random point of the first interval.
    let first = cfg.inter.as_millis() as u64;
    let first = crate::sample::hash::random_u64() % first.max(1);
    pause(&s, Duration::from_millis(first), cfg.fastinter()).await;
    loop {
        let admin = s.state.admin();
        let passive_only = !cfg.check;
        if admin == Admin::Maint || (passive_only && s.state.is_up()) {
            pause(&s, jitter(cfg.inter, spread), cfg.fastinter()).await;
            continue;
        }
        let outcome = probe
            .run(target, cfg.inter, be.timeouts.connect, check_to)
            .await;
        // Counts in messages come from the newest graph (a reload may have changed
        // the backend's servers since this task started).
        let newest = handle.load();
        let counts = newest
            .be_index
            .get(&be.name)
            .map_or(&*be, |&i| &*newest.backends[i]);
        let ok = outcome.ok;
        let r = status::record(&be, &s, outcome, Step::Check(ok), counts);
        drop(newest);
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
