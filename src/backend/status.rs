//! A server's health as checks and traffic see it: the check cell kept in its
//! `ServerState`, the results that feed it (active check outcomes and passive
//! observations) and the one place that applies a result: the health counter, the
//! counters shown by `show stat`, and the UP/DOWN lines operators grep for, in
//! HAProxy's words.
//!
//! Active checks (`check::run`) and passive observation (`observe`, called by the data
//! path) both end in [`record`], so a transition is booked and logged the same way
//! whichever noticed it.

use super::health::{Health, Transition};
use super::state::{Admin, ServerState};
use super::{Backend, ServerRt};
use crate::config::model::{Observe, OnError};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The reason of a result simulated by passive observation (`on-error`).
pub const HEALTH_ANALYZE: &str = "Health analyze";

/// The reason of a 404 under `http-check disable-on-404`: the server stays UP but
/// takes no new traffic (NOLB).
pub const CONDPASS: &str = "Layer7 check conditionally passed";

/// The result of one check (active, or simulated by passive observation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Passed.
    pub ok: bool,
    /// HAProxy's reason, e.g. `Layer4 connection problem`.
    pub reason: &'static str,
    /// HTTP status, for http checks that got one; an external check's exit code.
    pub code: Option<i32>,
    /// Detail, e.g. `Connection refused` or the reason phrase.
    pub info: Option<String>,
    /// How long the check took.
    pub duration: Duration,
}

impl Outcome {
    /// `reason: X, code: N, info: "Y", check duration: Nms` as in HAProxy's messages.
    pub fn describe(&self) -> String {
        let mut s = format!("reason: {}", self.reason);
        if let Some(c) = self.code {
            s.push_str(&format!(", code: {c}"));
        }
        if let Some(i) = &self.info {
            s.push_str(&format!(", info: \"{i}\""));
        }
        // A passive result (`Health analyze`) has no duration in HAProxy's lines.
        if self.reason != HEALTH_ANALYZE {
            s.push_str(&format!(
                ", check duration: {}ms",
                self.duration.as_millis()
            ));
        }
        s
    }
}

/// HAProxy's check status code (`enum healthcheck_status`: `srv_check_status` in
/// `show servers state`) of a result's reason.
pub fn check_status_code(reason: &str) -> u8 {
    match reason {
        HEALTH_ANALYZE => 4,
        "Socket error" => 5,
        "Layer4 check passed" => 6,
        "Layer4 timeout" => 7,
        "Layer4 connection problem" => 8,
        "Layer7 timeout" => 12,
        "Layer7 invalid response" => 13,
        "Layer7 check passed" => 15,
        CONDPASS => 16,
        "Layer7 wrong status" => 17,
        "External check error" => 18,
        "External check timeout" => 19,
        "External check passed" => 20,
        _ => 0,
    }
}

/// Check state of one server (kept in its `ServerState`, so it survives reloads).
#[derive(Debug)]
pub struct CheckCell {
    /// The health counter.
    pub health: Health,
    /// Consecutive errors seen by passive observation.
    pub errors: u32,
    /// `on-error` asked for `fastinter` until the server settles.
    pub force_fast: bool,
    /// The last result.
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
    /// The agent check (`agent-check`).
    pub agent: super::agent::AgentCell,
}

impl CheckCell {
    /// A cell for a server with this counter.
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
            agent: Default::default(),
        }
    }

    /// Books one result and the transition it caused: failure counters, time of the
    /// last change, DOWN transitions, downtime.
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
}

/// The check cell of a server, locked (a poisoned lock is still usable: the cell holds
/// plain counters).
pub fn cell(state: &ServerState) -> std::sync::MutexGuard<'_, CheckCell> {
    state.check.lock().unwrap_or_else(|e| e.into_inner())
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

/// How a result moves the health counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// An active check passed (`true`) or failed.
    Check(bool),
    /// Passive observation reached `error-limit`: `on-error fail-check`,
    /// `sudden-death` or `mark-down` (`fastinter` never gets here).
    OnError(OnError),
}

/// The cell after [`record`]: what the check task needs to plan its next check.
#[derive(Debug, Clone, Copy)]
pub struct Recorded {
    /// The counter.
    pub health: Health,
    /// `on-error` asked for `fastinter`.
    pub force_fast: bool,
}

/// Applies one result to server `s` of `be`: moves its health counter per `step`,
/// books it, logs it under `option log-health-checks` (only when the health or the
/// kind of result changed), and applies and logs an UP/DOWN transition.
/// `counts` is the backend whose usable servers the messages count (the newest graph's
/// version of `be` when a reload happened meanwhile).
pub fn record(
    be: &Backend,
    s: &ServerRt,
    outcome: Outcome,
    step: Step,
    counts: &Backend,
) -> Recorded {
    // A conditional pass counts only for a server that is UP; for another it is a
    // failed check (a 404 never brings a server UP).
    let nolb = outcome.reason == CONDPASS;
    let step = match step {
        Step::Check(true) if nolb && !s.state.is_up() => Step::Check(false),
        st => st,
    };
    let (t, report, rec) = {
        let mut c = cell(&s.state);
        let prev = (c.health.value(), c.last.as_ref().map(|o| o.reason));
        let t = match step {
            Step::Check(true) => {
                c.errors = 0;
                c.health.success()
            }
            Step::Check(false) | Step::OnError(OnError::FailCheck | OnError::FastInter) => {
                c.health.failure()
            }
            Step::OnError(OnError::SuddenDeath) => c.health.sudden_death(),
            Step::OnError(OnError::MarkDown) => c.health.mark_down(),
        };
        c.book(outcome.ok, t);
        if matches!(step, Step::Check(_)) && c.health.is_settled() {
            c.force_fast = false;
        }
        let report = prev != (c.health.value(), Some(outcome.reason));
        c.last = Some(outcome.clone());
        let rec = Recorded {
            health: c.health,
            force_fast: c.force_fast,
        };
        (t, report, rec)
    };
    let log_checks = be.options.log_health_checks;
    if log_checks && report {
        log_check(be, s, "Health", &outcome, &rec.health);
    }
    // A server whose agent holds it DOWN stays DOWN whatever its health check finds
    // (and is not reported DOWN twice).
    let t = t.filter(|&t| match t {
        Transition::Up => super::agent::agent_is_up(s),
        Transition::Down => !s.cfg.agent.enabled || s.state.is_up(),
    });
    if let Some(t) = t {
        let what = outcome.describe();
        transition(be, s, t, (!log_checks).then_some(what.as_str()), counts);
    }
    let up = s.state.is_up();
    if s.state.set_nolb(nolb && up) != (nolb && up) && up {
        stopping(be, s, &outcome, counts);
    }
    rec
}

/// Logs entering (`is stopping`) or leaving (`is UP`) NOLB, in HAProxy's words.
fn stopping(be: &Backend, s: &ServerRt, outcome: &Outcome, counts: &Backend) {
    let kind = if s.cfg.backup {
        "Backup Server"
    } else {
        "Server"
    };
    let (act, bck) = counts.usable_counts();
    let queued = counts.shared.queued.load(Relaxed);
    let msg = format!(
        "{kind} {}/{} is {}, {}. {act} active and {bck} backup servers online. 0 sessions requeued, {queued} total in queue.",
        be.name,
        s.name,
        if s.state.is_nolb() { "stopping" } else { "UP" },
        outcome.describe()
    );
    crate::log::warning(&msg);
    crate::log::send(&be.logs, crate::log::severity::NOTICE, &msg);
}

/// Reports a data-path outcome for `observe`: consecutive errors reaching
/// `error-limit` apply `on-error`.
pub fn observe(be: &Backend, s: &ServerRt, obs: Observation) {
    let Some(mode) = s.cfg.observe else { return };
    if mode == Observe::Layer4 && !obs.is_l4() {
        return;
    }
    if mode == Observe::Layer7 && obs == Observation::L4Ok {
        return;
    }
    let n = {
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
        // Every action forces `fastinter` and wakes the check task so that the next
        // check comes within `fastinter`, not after the rest of `inter` (HAProxy does
        // the same).
        c.force_fast = true;
        c.hurry.notify_one();
        n
    };
    if s.cfg.on_error == OnError::FastInter {
        return;
    }
    // The other actions simulate a failed check with status `Health analyze`.
    let outcome = Outcome {
        ok: false,
        reason: HEALTH_ANALYZE,
        code: None,
        info: Some(format!(
            "Detected {n} consecutive errors, last one was: {}",
            obs.text()
        )),
        duration: Duration::ZERO,
    };
    record(be, s, outcome, Step::OnError(s.cfg.on_error), be);
}

/// Applies a transition to the server and logs HAProxy's lines. `what` is the cause
/// (`reason: ...`); HAProxy leaves it out when `option log-health-checks` already
/// logged the check that caused the change.
pub(super) fn transition(
    be: &Backend,
    s: &ServerRt,
    t: Transition,
    what: Option<&str>,
    counts: &Backend,
) {
    let what = what.map(|w| format!(", {w}")).unwrap_or_default();
    transition_as(be, s, t, &what, counts);
}

/// [`transition`] with the cause as it follows `is UP`/`is DOWN` (`, reason: ...`, or
/// ` via be1/s1` for a tracking server); passes it on to the servers tracking `s`.
pub(super) fn transition_as(
    be: &Backend,
    s: &ServerRt,
    t: Transition,
    what: &str,
    counts: &Backend,
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
    let (act, bck) = counts.usable_counts();
    let queued = counts.shared.queued.load(Relaxed);
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
    super::track::propagate_health(be, s, t);
}

/// Logs an administrative state change of server `s` in HAProxy's words: entering
/// maintenance (`is going DOWN for maintenance` with the servers left, or `was DOWN and
/// now enters maintenance`), leaving it (`is UP/READY (leaving forced maintenance)`),
/// entering or leaving drain.
pub fn admin_change(be: &Backend, s: &ServerRt, from: Admin, to: Admin) {
    admin_change_as(be, s, from, to, None);
}

/// [`admin_change`]; `via` (` via be1/s1`) when the maintenance is inherited from the
/// server tracked. Passes maintenance on to the servers tracking `s`; a tracking
/// server leaving maintenance takes the health of the server it tracks.
pub(super) fn admin_change_as(
    be: &Backend,
    s: &ServerRt,
    from: Admin,
    to: Admin,
    via: Option<&str>,
) {
    if from == to {
        return;
    }
    if from == Admin::Maint {
        if let Some(up) = super::track::tracked_up(&s.state) {
            s.state.set_up(up);
        }
    }
    let kind = if s.cfg.backup {
        "Backup Server"
    } else {
        "Server"
    };
    let (act, bck) = be.usable_counts();
    let up = s.state.is_up();
    let cur = s.state.cur.load(Relaxed);
    let queued = be.shared.queued.load(Relaxed);
    let (msg, level) = match to {
        Admin::Maint if up => (
            format!(
                "{kind} {}/{} is going DOWN for maintenance{}. {act} active and {bck} backup servers left. {cur} sessions active, 0 requeued, {queued} remaining in queue.",
                be.name, s.name, via.unwrap_or("")
            ),
            crate::log::severity::ALERT,
        ),
        Admin::Maint => (
            format!(
                "{kind} {}/{} was DOWN and now enters maintenance. {act} active and {bck} backup servers left. {cur} sessions active, 0 requeued, {queued} remaining in queue.",
                be.name, s.name
            ),
            crate::log::severity::NOTICE,
        ),
        Admin::Drain => (
            format!(
                "{kind} {}/{} enters drain state. {act} active and {bck} backup servers online. 0 sessions requeued, {queued} total in queue.",
                be.name, s.name
            ),
            crate::log::severity::NOTICE,
        ),
        Admin::Ready => (
            format!(
                "{kind} {}/{} is {}/READY (leaving {}).",
                be.name,
                s.name,
                if up { "UP" } else { "DOWN" },
                if from == Admin::Maint && via.is_some() {
                    "maintenance"
                } else if from == Admin::Maint {
                    "forced maintenance"
                } else {
                    "forced drain"
                }
            ),
            crate::log::severity::NOTICE,
        ),
    };
    crate::log::warning(&msg);
    crate::log::send(&be.logs, level, &msg);
    if (from == Admin::Maint) != (to == Admin::Maint) {
        super::track::propagate_maint(be, s, to == Admin::Maint);
    }
    if to == Admin::Maint && up && act == 0 && bck == 0 {
        crate::log::alert(&format!("backend '{}' has no server available!", be.name));
        crate::log::send(
            &be.logs,
            crate::log::severity::EMERG,
            &format!("backend {} has no server available!", be.name),
        );
    }
}

/// `option log-health-checks`: `Health check for server web/s1 failed, reason: ...,
/// status: 2/3 UP.` (`Agent check ...` for an agent, with its own counter). HAProxy
/// logs a check only when it changed the health or the kind of result (`reason`), so
/// steady checks stay quiet.
pub(super) fn log_check(
    be: &Backend,
    s: &ServerRt,
    kind: &str,
    outcome: &Outcome,
    health: &Health,
) {
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
        "{kind} check for {}server {}/{} {}, {}, status: {n}/{of} {state}.",
        if s.cfg.backup { "backup " } else { "" },
        be.name,
        s.name,
        if outcome.ok { "succeeded" } else { "failed" },
        outcome.describe(),
    );
    crate::log::warning(&msg);
    crate::log::send(&be.logs, crate::log::severity::NOTICE, &msg);
}

#[cfg(test)]
mod tests {
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
