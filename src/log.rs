//! Operator-visible messages in HAProxy's form: `[WARNING]  (pid) : text`.
//!
//! Every message lbd prints about its own life (start, state changes, failures) goes
//! through here, so their wording lives in one place.

use std::io::Write;

/// Severity of a process message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `[NOTICE]`.
    Notice,
    /// `[WARNING]`.
    Warning,
    /// `[ALERT]`.
    Alert,
}

impl Level {
    fn label(self) -> &'static str {
        match self {
            Level::Notice => "NOTICE",
            Level::Warning => "WARNING",
            Level::Alert => "ALERT",
        }
    }
}

/// Formats a message line (without newline).
pub fn format(level: Level, msg: &str) -> String {
    format!(
        "{} : {msg}",
        crate::config::prefix(level.label(), std::process::id())
    )
}

/// Emits one message to stderr.
pub fn emit(level: Level, msg: &str) {
    let line = format(level, msg);
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
}

/// `[NOTICE]` message.
pub fn notice(msg: &str) {
    emit(Level::Notice, msg);
}

/// `[WARNING]` message.
pub fn warning(msg: &str) {
    emit(Level::Warning, msg);
}

/// `[ALERT]` message.
pub fn alert(msg: &str) {
    emit(Level::Alert, msg);
}

/// The current UTC time as RFC 3339 (`2026-11-20T22:08:39Z`).
pub fn rfc3339_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

/// Formats seconds since the epoch as RFC 3339 UTC.
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_212_519), "2026-11-20T22:08:39Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn label_padding() {
        let pid = std::process::id();
        assert_eq!(
            format(Level::Warning, "x"),
            format!("[WARNING]  ({pid}) : x")
        );
        assert_eq!(format(Level::Alert, "x"), format!("[ALERT]    ({pid}) : x"));
        assert_eq!(
            format(Level::Notice, "x"),
            format!("[NOTICE]   ({pid}) : x")
        );
    }
}
