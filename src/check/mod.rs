//! Health: active checks, passive observation and the messages operators grep for.
//!
//! One task per checked server runs its probe at `inter` (`fastinter` while the health
//! counter is between its ends, `downinter` while fully DOWN), spread randomly so checks
//! never synchronise; a slow or dead server only delays its own task. The data path
//! reports outcomes to `observe`; consecutive errors reaching `error-limit` apply the
//! `on-error` action. Every UP/DOWN change is logged in HAProxy's words.

pub mod health;
pub mod probe;

use crate::backend::state::{Admin, ServerState};
use crate::backend::{Backend, ServerRt};
use crate::config::model::{Observe, OnError};
use crate::graph::{Graph, GraphHandle};
use health::{Health, Transition};
use probe::{Outcome, Probe};
use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Check state of one server (kept in its `ServerState`, so it survives reloads).
#[derive(Debug)]
pub struct CheckCell {
    /// The health counter.
    pub health: Health,
    /// Consecutive errors seen by passive observation.
    pub errors: u32,
    /// `on-error` asked for `fastinter` until the server settles.
    pub force_fast: bool,
    /// The last active check.
    pub last: Option<Outcome>,
    /// When the operational state last changed.
    pub last_change: Instant,
    /// Checks failed in total.
    pub failed_checks: u64,
    /// UP to DOWN transitions.
    pub down_transitions: u64,
    /// Failed checks since the last passed one.
    pub consecutive_failures: u32,
    /// Since when the server is DOWN, if it is.
    pub down_since: Option<Instant>,
    /// Time spent DOWN before `down_since`.
    pub downtime_before: Duration,
    /// Wakes the check task when `on-error` wants the next check within `fastinter`.
    pub hurry: Arc<tokio::sync::Notify>,
}

impl CheckCell {
    /// Books one check result (active, or simulated by `observe`) and the transition
    /// it caused: failure counters, time of the last change, DOWN transitions, downtime.
    pub fn book(&mut self, ok: bool, t: Option<Transition>) {
        if ok {
            self.consecutive_failures = 0;
        } else {
            self.failed_checks += 1;
            self.consecutive_failures += 1;
        }
        if let Some(t) = t {
            let now = Instant::now();
            self.last_change = now;
            match t {
                Transition::Down => {
                    self.down_transitions += 1;
                    self.down_since = Some(now);
                }
                Transition::Up => {
                    if let Some(d) = self.down_since.take() {
                        self.downtime_before += now - d;
                    }
                }
            }
        }
    }

    /// Total time spent DOWN.
    pub fn downtime(&self) -> Duration {
        self.downtime_before + self.down_since.map_or(Duration::ZERO, |d| d.elapsed())
    }

    /// A cell for a server with these settings.
    pub fn new(health: Health) -> Self {
        CheckCell {
            health,
            errors: 0,
            force_fast: false,
            last: None,
            last_change: Instant::now(),
            failed_checks: 0,
            down_transitions: 0,
            consecutive_failures: 0,
            down_since: (!health.is_up()).then(Instant::now),
            downtime_before: Duration::ZERO,
            hurry: Arc::new(tokio::sync::Notify::new()),
        }
    }
}

/// What the data path saw on a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observation {
    /// Connected.
    L4Ok,
    /// Connect refused or failed.
    L4Error,
    /// Connect timed out.
    L4Timeout,
    /// A response HAProxy counts as good.
    L7Ok,
    /// 500, 502, 503, 504 or >= 506.
    L7Status,
    /// Invalid or truncated response.
    L7Invalid,
    /// `timeout server` while waiting for the response.
    L7Timeout,
}

impl Observation {
    /// HAProxy's words for it (`last one was: ...`).
    pub fn text(self) -> &'static str {
        match self {
            Observation::L4Ok => "L4 successful connection",
            Observation::L4Error => "L4 unsuccessful connection",
            // HAProxy reports connect timeouts as connect errors too.
            Observation::L4Timeout => "L4 unsuccessful connection",
            Observation::L7Ok => "Correct http response",
            Observation::L7Status => "Wrong http response",
            Observation::L7Invalid => "Invalid http response",
            Observation::L7Timeout => "Read timeout (http)",
        }
    }

    /// The observation for an HTTP status.
    pub fn for_status(code: u16) -> Self {
        match code {
            500 | 502 | 503 | 504 => Observation::L7Status,
            c if c >= 506 => Observation::L7Status,
            _ => Observation::L7Ok,
        }
    }

    fn is_error(self) -> bool {
        !matches!(self, Observation::L4Ok | Observation::L7Ok)
    }

    fn is_l4(self) -> bool {
        matches!(
            self,
            Observation::L4Ok | Observation::L4Error | Observation::L4Timeout
        )
    }
}

/// Counts of usable servers for messages, looked up in the newest graph.
fn counts(handle: Option<&GraphHandle>, be: &Backend) -> (usize, usize, u32) {
    if let Some(h) = handle {
        let g = h.load();
        if let Some(&i) = g.be_index.get(&be.name) {
            let b = &g.backends[i];
            let (a, k) = b.usable_counts();
            return (a, k, b.shared.queued.load(Relaxed));
        }
    }
    let (a, k) = be.usable_counts();
    (a, k, be.shared.queued.load(Relaxed))
}

/// Applies a transition to the server and logs HAProxy's lines. `what` is the cause
/// (`reason: ...`); HAProxy leaves it out when `option log-health-checks` already
/// logged the check that caused the change.
fn transition(
    be: &Backend,
    s: &ServerRt,
    t: Transition,
    what: Option<&str>,
    handle: Option<&GraphHandle>,
) {
    let state = &s.state;
    state.set_up(t == Transition::Up);
    if t == Transition::Down && s.cfg.shutdown_on_down {
        state.kill.fire();
    }
    if t == Transition::Up && s.cfg.shutdown_backup_on_up && !s.cfg.backup {
        for b in be.servers.iter().filter(|b| b.cfg.backup) {
            b.state.kill.fire();
        }
    }
    let kind = if s.cfg.backup {
        "Backup Server"
    } else {
        "Server"
    };
    let what = what.map(|w| format!(", {w}")).unwrap_or_default();
    let (act, bck, queued) = counts(handle, be);
    let on_backup = if act == 0 && bck > 0 {
        " Running on backup."
    } else {
        ""
    };
    match t {
        Transition::Down => {
            let msg = format!(
                "{kind} {}/{} is DOWN{what}. {act} active and {bck} backup servers left.{on_backup} {} sessions active, 0 requeued, {queued} remaining in queue.",
                be.name,
                s.name,
                state.cur.load(Relaxed)
            );
            crate::log::warning(&msg);
            crate::log::send(&be.logs, crate::log::severity::ALERT, &msg);
            if act == 0 && bck == 0 {
                crate::log::alert(&format!("backend '{}' has no server available!", be.name));
                // HAProxy's syslog form has no quotes.
                crate::log::send(
                    &be.logs,
                    crate::log::severity::EMERG,
                    &format!("backend {} has no server available!", be.name),
                );
            }
        }
        Transition::Up => {
            let msg = format!(
                "{kind} {}/{} is UP{what}. {act} active and {bck} backup servers online.{on_backup} 0 sessions requeued, {queued} total in queue.",
                be.name, s.name
            );
            crate::log::warning(&msg);
            crate::log::send(&be.logs, crate::log::severity::NOTICE, &msg);
        }
    }
}

/// `option log-health-checks`: `Health check for server web/s1 failed, reason: ...,
/// status: 2/3 UP.` HAProxy logs a check only when it changed the health or the kind
/// of result (`reason`), so steady checks stay quiet.
fn log_check(be: &Backend, s: &ServerRt, outcome: &Outcome, health: &Health) {
    let state = if !health.is_up() {
        "DOWN"
    } else if s.state.weight() == 0 {
        "DRAIN"
    } else {
        "UP"
    };
    let (n, of) = if health.is_up() {
        (health.value() - health.rise() + 1, health.fall())
    } else {
        (health.value(), health.rise())
    };
    let msg = format!(
        "Health check for {}server {}/{} {}, {}, status: {n}/{of} {state}.",
        if s.cfg.backup { "backup " } else { "" },
        be.name,
        s.name,
        if outcome.ok { "succeeded" } else { "failed" },
        outcome.describe(),
    );
    crate::log::warning(&msg);
    crate::log::send(&be.logs, crate::log::severity::NOTICE, &msg);
}

fn cell(state: &ServerState) -> std::sync::MutexGuard<'_, CheckCell> {
    state.check.lock().unwrap_or_else(|e| e.into_inner())
}

/// Reports a data-path outcome for `observe`.
pub fn observe(be: &Backend, s: &ServerRt, obs: Observation) {
    let Some(mode) = s.cfg.observe else { return };
    if mode == Observe::Layer4 && !obs.is_l4() {
        return;
    }
    if mode == Observe::Layer7 && obs == Observation::L4Ok {
        return;
    }
    let mut c = cell(&s.state);
    if !obs.is_error() {
        c.errors = 0;
        return;
    }
    c.errors += 1;
    if c.errors < s.cfg.error_limit {
        return;
    }
    let n = c.errors;
    c.errors = 0;
    // Every action forces `fastinter` and wakes the check task so that the next check
    // comes within `fastinter`, not after the rest of `inter` (HAProxy does the same).
    c.force_fast = true;
    c.hurry.notify_one();
    // The other actions simulate a failed check with status `Health analyze`.
    let prev = (c.health.value(), c.last.as_ref().map(|o| o.reason));
    let t = match s.cfg.on_error {
        OnError::FastInter => return,
        OnError::FailCheck => c.health.failure(),
        OnError::SuddenDeath => c.health.sudden_death(),
        OnError::MarkDown => c.health.mark_down(),
    };
    let outcome = Outcome {
        ok: false,
        reason: probe::HEALTH_ANALYZE,
        code: None,
        info: Some(format!(
            "Detected {n} consecutive errors, last one was: {}",
            obs.text()
        )),
        duration: Duration::ZERO,
    };
    c.book(false, t);
    let report = prev != (c.health.value(), Some(outcome.reason));
    let health = c.health;
    c.last = Some(outcome.clone());
    drop(c);
    let log_checks = be.options.log_health_checks;
    if log_checks && report {
        log_check(be, s, &outcome, &health);
    }
    if let Some(t) = t {
        let what = outcome.describe();
        transition(be, s, t, (!log_checks).then_some(what.as_str()), None);
    }
}

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
            let log_checks = p.is_some_and(|p| p.options.log_health_checks);
            let h = tokio::spawn(run(
                be,
                s,
                probe,
                check_to,
                spread,
                log_checks,
                handle.clone(),
            ));
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
    let r = crate::backend::balance::random_u64() % (span + 1);
    (d + Duration::from_millis(r)).saturating_sub(Duration::from_millis(span / 2))
}

async fn run(
    be: Arc<Backend>,
    s: Arc<ServerRt>,
    probe: Probe,
    check_to: Option<Duration>,
    spread: u32,
    log_checks: bool,
    handle: GraphHandle,
) {
    let cfg = s.cfg.clone();
    let target = s.check_target();
    // The first check comes at a random point of the first interval.
    let first = cfg.inter.as_millis() as u64;
    let first = crate::backend::balance::random_u64() % first.max(1);
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
        let (t, report, health, next) = {
            let mut c = cell(&s.state);
            let prev = (c.health.value(), c.last.as_ref().map(|o| o.reason));
            let t = if outcome.ok {
                c.errors = 0;
                c.health.success()
            } else {
                c.health.failure()
            };
            c.book(outcome.ok, t);
            if c.health.is_settled() {
                c.force_fast = false;
            }
            let report = prev != (c.health.value(), Some(outcome.reason));
            c.last = Some(outcome.clone());
            let next = if c.force_fast || !c.health.is_settled() {
                cfg.fastinter()
            } else if c.health.value() == 0 {
                cfg.downinter()
            } else {
                cfg.inter
            };
            (t, report, c.health, next)
        };
        if log_checks && report {
            log_check(&be, &s, &outcome, &health);
        }
        if let Some(t) = t {
            let what = outcome.describe();
            transition(
                &be,
                &s,
                t,
                (!log_checks).then_some(what.as_str()),
                Some(&handle),
            );
        }
        pause(&s, jitter(next, spread), cfg.fastinter()).await;
    }
}

/// Sleeps `d`, or less when passive observation hurries the next check: it then comes
/// `fastinter` after the hurry at the latest.
async fn pause(s: &ServerRt, d: Duration, fast: Duration) {
    let hurry = cell(&s.state).hurry.clone();
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

#[cfg(test)]
mod book_tests {
    use super::*;
    use crate::config::model::InitState;

    #[test]
    fn booking_counts_failures_transitions_and_downtime() {
        let mut c = CheckCell::new(Health::new(2, 3, InitState::Up));
        assert_eq!(c.downtime(), Duration::ZERO);
        c.book(false, None);
        c.book(false, Some(Transition::Down));
        assert_eq!(
            (c.failed_checks, c.consecutive_failures, c.down_transitions),
            (2, 2, 1)
        );
        std::thread::sleep(Duration::from_millis(20));
        assert!(c.downtime() >= Duration::from_millis(20));
        c.book(true, Some(Transition::Up));
        assert_eq!(c.consecutive_failures, 0);
        let d = c.downtime();
        std::thread::sleep(Duration::from_millis(10));
        assert_eq!(c.downtime(), d, "no downtime while UP");
        assert!(CheckCell::new(Health::new(2, 3, InitState::FullyDown))
            .down_since
            .is_some());
    }
}
