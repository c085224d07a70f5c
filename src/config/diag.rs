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

/// Edit distance (Damerau-Levenshtein, optimal string alignment) between two words.
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// The closest candidate to `word`, if close enough to be a likely typo.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let len = word.chars().count();
    let limit = (len / 3).clamp(1, 3);
    candidates
        .into_iter()
        // The distance is at least the difference in length: skip the table for those.
        .filter(|c| c.chars().count().abs_diff(len) <= limit)
        .map(|c| (distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `; did you mean 'x' maybe ?` or nothing.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    match suggest(word, candidates) {
        Some(s) => format!("; did you mean '{s}' maybe ?"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("balance", "balance"), 0);
        assert_eq!(distance("blance", "balance"), 1);
        assert_eq!(distance("balnace", "balance"), 1);
        assert_eq!(distance("abc", ""), 3);
    }

    #[test]
    fn suggestions() {
        let kws = ["balance", "bind", "backlog", "server"];
        assert_eq!(suggest("blance", kws), Some("balance"));
        assert_eq!(suggest("sever", kws), Some("server"));
        assert_eq!(suggest("frobnicate", kws), None);
        assert_eq!(did_you_mean("bnd", kws), "; did you mean 'bind' maybe ?");
    }

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
