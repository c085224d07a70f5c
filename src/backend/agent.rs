//! Agent checks (`agent-check`): the agent's reply line and how it changes a server,
//! as HAProxy 2.6 applies it (`tcpcheck_agent_expect_reply`, `set_server_check_status`,
//! `check_notify_*`).
//!
//! The reply is a list of words separated by spaces, tabs or commas, then an optional
//! `#description`: a weight (`75%`: that share of the configured weight), an admin
//! state (`ready`, `drain`, `maint`), an operational state (`up`, `down`, `stopped`,
//! `fail`) and `maxconn:N`. The admin state is applied first, then the weight and the
//! maxconn, then the operational state.
//!
//! An agent has its own health counter (rise 1, fall 1). Only an explicit `down`,
//! `stopped` or `fail` brings it (and the server) DOWN: an agent that cannot be
//! reached, times out or answers garbage is logged and otherwise ignored. The server
//! is UP when both its health check (if any) and its agent are.

use super::health::{Health, Transition};
use super::state::Admin;
use super::status::{self, Outcome};
use super::{Backend, ServerRt};
use crate::config::model::InitState;

/// HAProxy's `HCHK_STATUS_CHECKED` (`No status change`): a reply without an
/// operational state.
pub const NO_CHANGE: &str = "No status change";

/// The agent side of a server's check cell.
#[derive(Debug, Clone)]
pub struct AgentCell {
    /// The agent's health counter (rise 1, fall 1: UP until the agent says otherwise).
    pub health: Health,
    /// The last result.
    pub last: Option<Outcome>,
}

impl Default for AgentCell {
    fn default() -> Self {
        AgentCell {
            health: Health::new(1, 1, InitState::Up),
            last: None,
        }
    }
}

/// The words of an agent's reply line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentReply {
    /// `up`, `down`, `stopped` or `fail` as written (the last one).
    pub health: Option<String>,
    /// `ready`, `drain` or `maint` (the last one).
    pub admin: Option<String>,
    /// `N%` (the last one).
    pub weight: Option<String>,
    /// `maxconn:N` (the number).
    pub maxconn: Option<String>,
    /// The first word that is none of these.
    pub error: Option<String>,
    /// The text after `#`.
    pub desc: String,
    /// The line was not complete when the agent closed.
    pub incomplete: bool,
}

/// Parses an agent's reply: None while its line is not complete.
pub fn parse_reply(b: &[u8], last_read: bool) -> Option<AgentReply> {
    let end = b.iter().position(|&c| c == b'\n' || c == b'\r' || c == 0);
    let Some(end) = end else {
        if !last_read {
            return None;
        }
        return Some(AgentReply {
            incomplete: true,
            ..AgentReply::default()
        });
    };
    let line = String::from_utf8_lossy(&b[..end]).into_owned();
    let mut r = AgentReply::default();
    let mut rest = line.as_str();
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            break;
        }
        if let Some(d) = rest.strip_prefix('#') {
            r.desc = d.trim_start_matches([' ', '\t']).to_string();
            break;
        }
        let n = rest.find([' ', '\t', ',']).unwrap_or(rest.len());
        let word = &rest[..n];
        rest = &rest[n..];
        let lw = word.to_ascii_lowercase();
        match lw.as_str() {
            "up" | "down" | "stopped" | "fail" => r.health = Some(word.to_string()),
            "ready" | "drain" | "maint" => r.admin = Some(lw),
            _ if word.starts_with(|c: char| c.is_ascii_digit()) && word.contains('%') => {
                r.weight = Some(word.to_string())
            }
            _ if lw.starts_with("maxconn:") => {
                r.maxconn = Some(word["maxconn:".len()..].to_string())
            }
            _ => {
                if r.error.is_none() {
                    r.error = Some(word.to_string());
                }
            }
        }
    }
    Some(r)
}

/// HAProxy's `server_parse_weight_change_request` for an agent's `N%`: the new user
/// weight, or the warning HAProxy reports.
pub fn weight_change(iweight: u32, dynamic: bool, w: &str) -> Result<u32, &'static str> {
    let digits = w.find(|c: char| !c.is_ascii_digit()).unwrap_or(w.len());
    if digits == 0 {
        return Err("Empty weight string empty or preceded by garbage");
    }
    let n: u64 = w[..digits].parse().unwrap_or(u64::MAX);
    let v = match &w[digits..] {
        "%" => (iweight as u64 * n.min(25600) / 100).min(256) as u32,
        "" if n <= 256 => n as u32,
        "" => return Err("Absolute weight can only be between 0 and 256 inclusive.\n"),
        _ => return Err("Trailing garbage in weight string"),
    };
    if v != 0 && v != iweight && !dynamic {
        return Err(
            "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.\n",
        );
    }
    Ok(v)
}

/// HAProxy's `server_parse_maxconn_change_request`.
fn maxconn_change(m: &str) -> Result<u32, &'static str> {
    let sign = usize::from(m.starts_with(['-', '+']));
    let digits = m[sign..]
        .find(|c: char| !c.is_ascii_digit())
        .map_or(m.len(), |i| i + sign);
    if digits == sign {
        return Err("maxconn string empty or preceded by garbage");
    }
    if digits != m.len() {
        return Err("Trailing garbage in maxconn string");
    }
    // 0 is no limit; so is a negative one in HAProxy (it compares it unsigned).
    Ok(m.parse::<i64>()
        .map_or(0, |v| u32::try_from(v).unwrap_or(0)))
}

/// Applies one agent check to server `s` of `be`: the reply when the agent answered,
/// else the failed probe (`outcome`). `counts` is the backend whose usable servers
/// the messages count (the newest graph's version of `be`).
pub fn record(
    be: &Backend,
    s: &ServerRt,
    mut outcome: Outcome,
    reply: Option<AgentReply>,
    counts: &Backend,
) {
    let mut forced: Option<bool> = None;
    if let Some(r) = reply {
        if r.incomplete {
            // HAProxy keeps the previous status: nothing changes, nothing is logged.
            let mut c = status::cell(&s.state);
            if let Some(last) = c.agent.last.as_mut() {
                last.info = Some("Ignoring incomplete line from agent".into());
            }
            return;
        }
        let (o, f) = apply_reply(be, s, &r, outcome.duration);
        outcome = o;
        forced = f;
    }
    let (prev, health) = {
        let mut c = status::cell(&s.state);
        let prev = c.agent.last.as_ref().map(|o| o.reason);
        if let Some(up) = forced {
            c.agent.health = Health::new(
                1,
                1,
                if up {
                    InitState::Up
                } else {
                    InitState::FullyDown
                },
            );
        }
        c.agent.last = Some(outcome.clone());
        (prev, c.agent.health)
    };
    // `No status change` is neutral: no log, no notification.
    if outcome.reason == NO_CHANGE {
        return;
    }
    let log_checks = be.options.log_health_checks;
    if log_checks && prev != Some(outcome.reason) {
        status::log_check(be, s, "Agent", &outcome, &health);
    }
    // Only an explicit down/stopped/fail stops the server; an up starts it when its
    // health check agrees.
    let what = outcome.describe();
    let what = (!log_checks).then_some(what.as_str());
    match forced {
        Some(false) if s.state.admin() != Admin::Maint && s.state.is_up() => {
            status::transition(be, s, Transition::Down, what, counts);
        }
        Some(true) if s.state.admin() != Admin::Maint && !s.state.is_up() && check_is_up(s) => {
            status::transition(be, s, Transition::Up, what, counts);
        }
        _ => {}
    }
}

/// The server's health check lets it be UP (no check, or its counter is UP).
fn check_is_up(s: &ServerRt) -> bool {
    !s.cfg.check || status::cell(&s.state).health.is_up()
}

/// The agent lets the server be UP (no agent, or its counter is UP).
pub fn agent_is_up(s: &ServerRt) -> bool {
    !s.cfg.agent.enabled || status::cell(&s.state).agent.health.is_up()
}

/// Applies the admin state, weight and maxconn of a reply; gives the check result
/// and the operational state the agent forces (`Some(true)` for `up`).
fn apply_reply(
    be: &Backend,
    s: &ServerRt,
    r: &AgentReply,
    duration: std::time::Duration,
) -> (Outcome, Option<bool>) {
    if let Some(a) = &r.admin {
        let from = s.state.admin();
        let to = match a.as_str() {
            "maint" => Admin::Maint,
            // A server in maintenance stays there (HAProxy's drain flag adds to it).
            "drain" if from == Admin::Maint => Admin::Maint,
            "drain" => Admin::Drain,
            _ => Admin::Ready,
        };
        if from != to {
            if from == Admin::Maint {
                // Leaving maintenance: UP when both the check and the agent say so.
                s.state.set_up(check_is_up(s) && agent_is_up(s));
            }
            s.state.set_admin(to);
            status::admin_change(be, s, from, to);
        }
    }
    let mut warning: Option<&'static str> = None;
    if let Some(w) = &r.weight {
        let iweight = s
            .state
            .config_weight
            .load(std::sync::atomic::Ordering::Relaxed);
        match weight_change(iweight, be.balancer.is_dynamic(), w) {
            Ok(v) => s.state.set_weight(v),
            Err(e) => warning = Some(e),
        }
    }
    if let Some(m) = &r.maxconn {
        match maxconn_change(m) {
            Ok(v) => s.state.set_maxconn(v),
            Err(e) => {
                warning.get_or_insert(e);
            }
        }
    }
    let error = r.error.as_deref().filter(|e| !e.is_empty());
    let out = |ok, reason, code, info: String| Outcome {
        ok,
        reason,
        code,
        info: (!info.is_empty()).then_some(info),
        duration,
    };
    if let Some(hs) = &r.health {
        let up = hs.eq_ignore_ascii_case("up");
        let mut msg = r.desc.as_str();
        if msg.is_empty() || up {
            if let Some(e) = error {
                msg = e;
            } else if let Some(w) = warning {
                msg = w;
            }
        }
        let info = if msg.is_empty() {
            format!("via agent : {hs}")
        } else {
            format!("via agent : {hs} ({msg})")
        };
        let reason = if up {
            "Layer7 check passed"
        } else {
            "Layer7 wrong status"
        };
        (out(up, reason, Some(0), info), Some(up))
    } else if let Some(e) = error {
        let info = format!("agent reports an error : {e}");
        (out(true, NO_CHANGE, None, info), None)
    } else if let Some(w) = warning {
        (
            out(true, NO_CHANGE, None, format!("agent warns : {w}")),
            None,
        )
    } else {
        (out(true, NO_CHANGE, None, String::new()), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_words() {
        let r = parse_reply(b"75%,maxconn:30,maint,DOWN # going away\n", false).unwrap();
        assert_eq!(r.weight.as_deref(), Some("75%"));
        assert_eq!(r.maxconn.as_deref(), Some("30"));
        assert_eq!(r.admin.as_deref(), Some("maint"));
        assert_eq!(r.health.as_deref(), Some("DOWN"));
        assert_eq!(r.desc, "going away");
        assert!(parse_reply(b"up", false).is_none());
        assert!(parse_reply(b"up", true).unwrap().incomplete);
        assert_eq!(
            parse_reply(b"bogus up\r\n", false)
                .unwrap()
                .error
                .as_deref(),
            Some("bogus")
        );
    }

    #[test]
    fn weights_as_haproxy_parses_them() {
        assert_eq!(weight_change(100, true, "75%"), Ok(75));
        assert_eq!(weight_change(10, true, "50%"), Ok(5));
        assert_eq!(weight_change(200, true, "300%"), Ok(256));
        assert_eq!(weight_change(1, true, "0%"), Ok(0));
        assert_eq!(
            weight_change(10, true, "5%x"),
            Err("Trailing garbage in weight string")
        );
        assert_eq!(weight_change(10, false, "100%"), Ok(10));
        assert_eq!(weight_change(10, false, "0%"), Ok(0));
        assert!(weight_change(10, false, "50%")
            .unwrap_err()
            .contains("static LB"));
    }

    #[test]
    fn maxconn_as_haproxy_parses_it() {
        assert_eq!(maxconn_change("30"), Ok(30));
        assert_eq!(maxconn_change("0"), Ok(0));
        assert_eq!(maxconn_change("-5"), Ok(0));
        assert_eq!(
            maxconn_change("x"),
            Err("maxconn string empty or preceded by garbage")
        );
        assert_eq!(
            maxconn_change("3x"),
            Err("Trailing garbage in maxconn string")
        );
    }
}
