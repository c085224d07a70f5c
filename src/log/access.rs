//! Access-log lines: a `log-format` string (HAProxy's `option httplog` and `tcplog`
//! are such strings, see `config::model::LogFormat`) rendered by the sample engine.
//! A tcp line is rendered whole at the end of its connection; an http line is
//! rendered when the response head is known and completed when the response has
//! been sent ([`AccessLine`]).

use super::{send, severity, Target};
use crate::sample::{Env, Fmt, LogEnd, LogInfo, Pending};
use std::net::SocketAddr;

/// Who a client is: an IP address and port, or a connection on a unix socket, which
/// HAProxy knows by the id of the listener it came in on (`%ci:%cp` is `unix:ID`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// A TCP client.
    Inet(SocketAddr),
    /// A client of a unix socket listener with this id.
    Unix(u32),
}

impl Client {
    /// The IP address and port (none for a unix client: `src` fetches nothing).
    pub fn inet(&self) -> Option<SocketAddr> {
        match self {
            Client::Inet(a) => Some(*a),
            Client::Unix(_) => None,
        }
    }

    /// The IP address (none for a unix client).
    pub fn ip(&self) -> Option<std::net::IpAddr> {
        self.inet().map(|a| a.ip())
    }
}

impl std::fmt::Display for Client {
    /// `%ci:%cp` as HAProxy logs it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Client::Inet(a) => write!(f, "{}:{}", a.ip(), a.port()),
            Client::Unix(id) => write!(f, "unix:{id}"),
        }
    }
}

/// An access-log line evaluated when the response head was known, waiting for the
/// end of its request (`%B`, `%U`, `%Ta`, `%Tt`, `%ts` are known only then).
pub struct AccessLine {
    targets: Vec<Target>,
    line: Pending,
    info: LogInfo<'static>,
}

impl std::fmt::Debug for AccessLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AccessLine({:?})", self.line)
    }
}

impl AccessLine {
    /// Evaluates `fmt` against `env` (whose `log` holds the timers and counts so far).
    pub fn new(fmt: &Fmt, env: &Env<'_>, targets: Vec<Target>) -> AccessLine {
        AccessLine {
            targets,
            line: fmt.eval_pending(env),
            info: env.log.map(LogInfo::numbers).unwrap_or_default(),
        }
    }

    /// Sends the line with the request's end.
    pub fn finish(mut self, end: LogEnd) {
        self.info.end = end;
        line(&self.targets, &self.line.finish(&self.info));
    }
}

/// Sends a finished access-log line (at `info` severity).
pub fn line(targets: &[Target], line: &[u8]) {
    send(targets, severity::INFO, &String::from_utf8_lossy(line));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unix_client_shows_its_listener() {
        assert_eq!(Client::Unix(3).to_string(), "unix:3");
        assert_eq!(Client::Unix(3).ip(), None);
        let a: SocketAddr = "192.0.2.7:40000".parse().unwrap();
        assert_eq!(Client::Inet(a).to_string(), "192.0.2.7:40000");
    }

    #[test]
    fn a_pending_line_is_completed_with_its_end() {
        let fmt = Fmt::parse_log("%ci %B/%U %Tt %ts").unwrap();
        let info = LogInfo::default();
        let env = Env {
            src: Some("192.0.2.7:40000".parse().unwrap()),
            log: Some(&info),
            ..Env::default()
        };
        let l = AccessLine::new(&fmt, &env, Vec::new());
        let end = LogEnd {
            bytes_out: 120,
            bytes_in: 80,
            total: 7,
            term: *b"CD--",
        };
        let mut info = l.info;
        info.end = end;
        assert_eq!(l.line.finish(&info), b"192.0.2.7 120/80 7 CD");
    }
}
