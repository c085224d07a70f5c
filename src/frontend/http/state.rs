//! What a request's rules leave besides the messages they change: the rule state
//! (`strict-mode`, `set-timeout`), the markers a rule puts on its answer (`tarpit`,
//! `wait-for-body`), and the request as sent, for the rules of its response.

use hyper::header::HeaderMap;
use hyper::{Method, Version};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// What rules change about a request besides its messages.
#[derive(Debug, Default)]
pub(super) struct RuleState {
    /// `strict-mode off` was met by the request's rules, by the response's.
    pub soft: [AtomicBool; 2],
    /// `set-timeout server`, in milliseconds (0: none).
    pub server_timeout: AtomicU64,
    /// `set-timeout tunnel`, in milliseconds (0: none).
    pub tunnel_timeout: AtomicU64,
    /// The last rule that ended its rule set (`last_rule_file`, `last_rule_line`).
    pub last_rule: std::sync::Mutex<Option<crate::config::model::Loc>>,
}

impl RuleState {
    /// `set-timeout server`, else `t`.
    pub fn server(&self, t: Option<Duration>) -> Option<Duration> {
        Self::or(&self.server_timeout, t)
    }

    /// `set-timeout tunnel`, else `t`.
    pub fn tunnel(&self, t: Option<Duration>) -> Option<Duration> {
        Self::or(&self.tunnel_timeout, t)
    }

    /// Notes the rule that ended its rule set.
    pub fn ended_by(&self, loc: &crate::config::model::Loc) {
        *self.last_rule.lock().unwrap_or_else(|e| e.into_inner()) = Some(loc.clone());
    }

    /// The last rule that ended its rule set.
    pub fn last_rule(&self) -> Option<crate::config::model::Loc> {
        self.last_rule
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn or(a: &AtomicU64, t: Option<Duration>) -> Option<Duration> {
        match a.load(Relaxed) {
            0 => t,
            ms => Some(Duration::from_millis(ms)),
        }
    }
}

/// On a response of [`apply`]: not an answer, but a `wait-for-body` rule met before
/// the body was read. The caller reads it, then runs the rules from `next` on.
#[derive(Debug, Clone, Copy)]
pub(super) struct ReadAhead {
    /// The wait.
    pub wait: crate::rules::BodyWait,
    /// The index of the rule after the `wait-for-body` one.
    pub next: usize,
}

/// On a response: `tarpit` held the request; it is sent after this long.
#[derive(Debug, Clone, Copy)]
pub(super) struct Tarpit(pub Duration);

/// The request as it was when sent, for response rules.
pub(super) struct SavedReq {
    /// Method.
    pub method: Method,
    /// Request target.
    pub uri: String,
    /// Version.
    pub version: Version,
    /// Headers.
    pub headers: HeaderMap,
}

impl SavedReq {
    /// The head of `req`, kept for rules that run on its response.
    pub fn of<B>(req: &hyper::Request<B>) -> SavedReq {
        SavedReq {
            method: req.method().clone(),
            uri: super::actions::target(req.uri()).into_owned(),
            version: req.version(),
            headers: req.headers().clone(),
        }
    }
}
