//! Configuration diagnostics in HAProxy's words.
//!
//! A `Diag` renders as the text after `[ALERT]    (pid) : config : `, for example
//! `parsing [lb.cfg:12] : unknown keyword 'blance' in 'backend' section; did you mean
//! 'balance' maybe ?`. The prefix with the label and pid is added where the message is
//! printed (see `crate::log`).

use super::model::Loc;

/// Severity of a diagnostic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Informational (`.notice`).
    Notice,
    /// The configuration still loads.
    Warning,
    /// The configuration is rejected.
    Alert,
}

impl Level {
    /// HAProxy's label, e.g. `ALERT`.
    pub fn label(self) -> &'static str {
        match self {
            Level::Notice => "NOTICE",
            Level::Warning => "WARNING",
            Level::Alert => "ALERT",
        }
    }
}

/// One message about the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diag {
    /// Severity.
    pub level: Level,
    /// Where, when it concerns a line.
    pub loc: Option<Loc>,
    /// The message text, without location.
    pub msg: String,
}

impl std::fmt::Display for Diag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.loc {
            Some(loc) => write!(f, "parsing [{loc}] : {}", self.msg),
            None => f.write_str(&self.msg),
        }
    }
}

impl Diag {
    /// The full stderr line: `[ALERT]    (pid) : config : parsing [f:l] : msg`.
    pub fn line(&self, pid: u32) -> String {
        format!(
            "{} : config : {self}",
            crate::config::prefix(self.level.label(), pid)
        )
    }
}

/// The most errors reported in one run, as HAProxy stops after too many.
pub const MAX_ALERTS: usize = 50;

pub use crate::sample::hint::{did_you_mean, distance, suggest};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_with_and_without_location() {
        let d = Diag {
            level: Level::Alert,
            loc: Some(Loc {
                file: "lb.cfg".into(),
                line: 12,
            }),
            msg: "unknown keyword 'x' in 'backend' section".into(),
        };
        assert_eq!(
            d.to_string(),
            "parsing [lb.cfg:12] : unknown keyword 'x' in 'backend' section"
        );
        assert_eq!(
            d.line(4494),
            "[ALERT]    (4494) : config : parsing [lb.cfg:12] : unknown keyword 'x' in 'backend' section"
        );
    }
}
