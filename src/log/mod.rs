//! Operator-visible messages in HAProxy's form: `[WARNING]  (pid) : text`, and the
//! `log` targets: stdout, stderr, files, unix datagram sockets (`/dev/log`) and UDP
//! syslog (RFC 3164).
//!
//! Every message lbd prints about its own life (start, state changes, failures) goes
//! through here, so their wording lives in one place. Process messages always go to
//! stderr (journald under systemd); proxies also send them, and their access logs, to
//! their `log` targets. A file target notices when logrotate moved or removed its file
//! (checked at most once a second) and reopens the path, so no signal is needed.

mod access;

pub use access::{line, AccessLine, Client};

use crate::config::model::{LogDest, LogTarget};
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

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

/// Syslog severities.
pub mod severity {
    /// emerg
    pub const EMERG: u8 = 0;
    /// alert
    pub const ALERT: u8 = 1;
    /// warning
    pub const WARNING: u8 = 4;
    /// notice
    pub const NOTICE: u8 = 5;
    /// info
    pub const INFO: u8 = 6;
}

enum Out {
    Stdout,
    Stderr,
    File {
        path: String,
        file: Option<std::fs::File>,
        id: Option<(u64, u64)>,
        checked: Instant,
    },
    Unix {
        path: String,
        sock: Option<std::os::unix::net::UnixDatagram>,
    },
    Udp(Option<std::net::UdpSocket>, std::net::SocketAddr),
}

/// One open log destination, shared by every target that names it.
pub struct Sink {
    out: Mutex<Out>,
}

fn file_id(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

fn open_append(path: &str) -> Option<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .ok()
}

impl Sink {
    fn new(dest: &LogDest) -> Sink {
        let out = match dest {
            LogDest::Stdout => Out::Stdout,
            LogDest::Stderr => Out::Stderr,
            LogDest::Udp(a) => {
                let bind = if a.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
                Out::Udp(std::net::UdpSocket::bind(bind).ok(), *a)
            }
            LogDest::Path(p) => {
                use std::os::unix::fs::FileTypeExt;
                let is_socket = std::fs::metadata(p).is_ok_and(|m| m.file_type().is_socket());
                if is_socket {
                    Out::Unix {
                        path: p.clone(),
                        sock: std::os::unix::net::UnixDatagram::unbound().ok(),
                    }
                } else {
                    let file = open_append(p);
                    let id = file
                        .as_ref()
                        .and_then(|f| f.metadata().ok())
                        .map(|m| file_id(&m));
                    Out::File {
                        path: p.clone(),
                        file,
                        id,
                        checked: Instant::now(),
                    }
                }
            }
        };
        Sink {
            out: Mutex::new(out),
        }
    }

    /// Writes one line; syslog destinations get the `<PRI>` header.
    fn write(&self, pri: u8, line: &str) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        match &mut *out {
            Out::Stdout => {
                let _ = writeln!(std::io::stdout().lock(), "{line}");
            }
            Out::Stderr => {
                let _ = writeln!(std::io::stderr().lock(), "{line}");
            }
            Out::File {
                path,
                file,
                id,
                checked,
            } => {
                if checked.elapsed() >= Duration::from_secs(1) || file.is_none() {
                    *checked = Instant::now();
                    let now = std::fs::metadata(&*path).ok().map(|m| file_id(&m));
                    if now.is_none() || now != *id {
                        *file = open_append(path);
                        *id = file
                            .as_ref()
                            .and_then(|f| f.metadata().ok())
                            .map(|m| file_id(&m));
                    }
                }
                if let Some(f) = file {
                    let _ = writeln!(f, "{line}");
                }
            }
            Out::Unix { path, sock } => {
                if let Some(s) = sock {
                    let _ = s.send_to(format!("<{pri}>{line}").as_bytes(), &*path);
                }
            }
            Out::Udp(sock, addr) => {
                if let Some(s) = sock {
                    let _ = s.send_to(format!("<{pri}>{line}").as_bytes(), *addr);
                }
            }
        }
    }
}

/// A configured target: a shared sink plus facility and level filter.
#[derive(Clone)]
pub struct Target {
    sink: Arc<Sink>,
    facility: u8,
    max_level: u8,
    sample: Option<Arc<Sampler>>,
}

/// `log ... sample RANGES:SIZE`: counts the target's messages and keeps those whose
/// position in the cycle is in a range.
struct Sampler {
    ranges: Vec<(u32, u32)>,
    size: u32,
    seen: std::sync::atomic::AtomicU64,
}

impl Sampler {
    /// Whether the next message goes out.
    fn take(&self) -> bool {
        let n = self.seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let pos = (n % u64::from(self.size)) as u32 + 1;
        self.ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&pos))
    }
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Target(facility {}, max {})",
            self.facility, self.max_level
        )
    }
}

fn registry() -> &'static Mutex<HashMap<String, Arc<Sink>>> {
    static R: OnceLock<Mutex<HashMap<String, Arc<Sink>>>> = OnceLock::new();
    R.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Opens (or reuses) the sinks for configured targets.
pub fn targets(cfg: &[LogTarget]) -> Vec<Target> {
    let mut reg = registry().lock().unwrap_or_else(|e| e.into_inner());
    cfg.iter()
        .map(|t| {
            let key = format!("{:?}", t.dest);
            let sink = reg
                .entry(key)
                .or_insert_with(|| Arc::new(Sink::new(&t.dest)))
                .clone();
            Target {
                sink,
                facility: t.facility,
                max_level: t.max_level,
                sample: t.sample.as_ref().map(|s| {
                    Arc::new(Sampler {
                        ranges: s.ranges.clone(),
                        size: s.size,
                        seen: Default::default(),
                    })
                }),
            }
        })
        .collect()
}

fn hostname() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| {
        let mut buf = [0u8; 256];
        // SAFETY: gethostname writes at most buf.len() bytes into buf.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if rc != 0 {
            return "localhost".into();
        }
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end]).into_owned()
    })
}

/// Sends one message at `level` to targets: RFC 3164 `Mmm dd hh:mm:ss host lbd[pid]: msg`.
pub fn send(targets: &[Target], level: u8, msg: &str) {
    if targets.is_empty() {
        return;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let line = format!(
        "{} {} lbd[{}]: {msg}",
        syslog_time(now),
        hostname(),
        std::process::id()
    );
    for t in targets {
        if level <= t.max_level && t.sample.as_ref().is_none_or(|s| s.take()) {
            t.sink.write(t.facility * 8 + level, &line);
        }
    }
}

use crate::sample::logvars::MONTHS;

use crate::sample::logvars::civil;

/// `Nov 20 22:08:39` (UTC).
pub fn syslog_time(secs: u64) -> String {
    let (_, m, d, rem) = civil(secs);
    format!(
        "{} {d:>2} {:02}:{:02}:{:02}",
        MONTHS[m as usize - 1],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
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
    // Howard Hinnant's civil_from_days.
    let (y, m, d, rem) = civil(secs);
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
    fn sampling_keeps_the_positions_of_each_cycle() {
        let s = Sampler {
            ranges: vec![(1, 1), (3, 4)],
            size: 5,
            seen: Default::default(),
        };
        let kept: Vec<bool> = (0..10).map(|_| s.take()).collect();
        assert_eq!(
            kept,
            [true, false, true, true, false, true, false, true, true, false]
        );
    }

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_212_519), "2026-11-20T22:08:39Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn syslog_and_access_times() {
        assert_eq!(syslog_time(1_795_212_519), "Nov 20 22:08:39");
        assert_eq!(syslog_time(1_794_528_000), "Nov 13 00:00:00");
    }

    #[test]
    fn file_target_reopens_after_rotation() {
        let dir = std::env::temp_dir().join(format!("lbd-logtest-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("a.log");
        let p = path.to_string_lossy().into_owned();
        let sink = Sink::new(&LogDest::Path(p.clone()));
        sink.write(0, "one");
        std::fs::rename(&path, dir.join("a.log.1")).unwrap();
        if let Out::File { checked, .. } = &mut *sink.out.lock().unwrap() {
            *checked = Instant::now() - Duration::from_secs(2);
        }
        sink.write(0, "two");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two\n");
        assert_eq!(
            std::fs::read_to_string(dir.join("a.log.1")).unwrap(),
            "one\n"
        );
        let _ = std::fs::remove_dir_all(&dir);
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
