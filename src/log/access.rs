//! Access-log lines in HAProxy's formats: `option tcplog` and `option httplog`.
//!
//! One builder for both: [`Access`] holds what every line has (client, accept date,
//! frontend, backend/server, connection counts); `tcp` gives a finished tcplog line,
//! `http` an [`HttpLog`] that is sent when the response ends (`%Ta` and `%B` are
//! known only then).

use super::{access_time, send, severity, Target};
use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

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

/// Connection counts at the time of the line: `%ac/%fc/%bc/%sc/%rc`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    /// Current connections of the frontend (lbd runs one process: `%ac` = `%fc`).
    pub frontend: u32,
    /// Current connections or requests of the backend's servers.
    pub backend: u32,
    /// Current connections or requests of the server.
    pub server: u32,
    /// Retries (failed attempts) of this connection or request.
    pub retries: u32,
}

/// What every access-log line says.
#[derive(Debug, Clone, Copy)]
pub struct Access<'a> {
    /// `%ci:%cp`.
    pub client: Client,
    /// `%tr`: when the connection (tcp) or request (http) was accepted.
    pub accepted: SystemTime,
    /// `%ft`.
    pub frontend: &'a str,
    /// `%b`.
    pub backend: &'a str,
    /// `%s`; `None` is `<NOSRV>`.
    pub server: Option<&'a str>,
    /// `%ac/%fc/%bc/%sc/%rc`.
    pub counts: Counts,
}

/// How an http request ended, for its `option httplog` line.
#[derive(Debug, Clone, Copy)]
pub struct HttpEnd<'a> {
    /// `%ST`.
    pub status: u16,
    /// `%tsc`, e.g. `----` or `--NI`.
    pub state: &'a str,
    /// `%hr %hs`: the captured headers (` {a|b} {c}`, with the leading space), or "".
    pub captures: &'a str,
    /// `%r`: the request line.
    pub request: &'a str,
}

/// Captured header values as HAProxy logs them: `{v1|v2}`, each value's control
/// characters and `"`, `#`, `{`, `|`, `}` written `#XX`.
pub fn captures(values: &[Option<&[u8]>]) -> String {
    let mut out = String::from("{");
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push('|');
        }
        for &b in v.unwrap_or_default() {
            if !(32..127).contains(&b) || matches!(b, b'"' | b'#' | b'{' | b'|' | b'}') {
                out.push_str(&format!("#{b:02X}"));
            } else {
                out.push(b as char);
            }
        }
    }
    out.push('}');
    out
}

/// `%Tw/%Tc/%Tr` of an http request in milliseconds; -1 for a step not reached.
#[derive(Debug, Clone, Copy)]
pub struct HttpTimes {
    /// Time in the queue until a server slot was taken.
    pub queue: i64,
    /// Time to connect (or to take a pooled connection).
    pub connect: i64,
    /// Time for the server's response head.
    pub response: i64,
}

impl Access<'_> {
    /// `%ci:%cp [%tr] %ft %b/%s `.
    fn lead(&self) -> String {
        format!(
            "{} [{}] {} {}/{} ",
            self.client,
            access_time(self.accepted),
            self.frontend,
            self.backend,
            self.server.unwrap_or("<NOSRV>")
        )
    }

    /// ` %ac/%fc/%bc/%sc/%rc %sq/%bq`.
    fn counts(&self) -> String {
        let c = &self.counts;
        format!(
            " {}/{}/{}/{}/{} 0/0",
            c.frontend, c.frontend, c.backend, c.server, c.retries
        )
    }

    /// An `option tcplog` line: `... %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq`.
    /// `connect` is -1 when no server connection was made.
    pub fn tcp(&self, connect: i64, total_ms: u128, bytes: u64, term: &str) -> String {
        format!(
            "{}0/{connect}/{total_ms} {bytes} {term}{}",
            self.lead(),
            self.counts()
        )
    }

    /// An `option httplog` line, sent to `targets` when the returned value is dropped
    /// (the end of the response body); `start` is when the request began (for `%Ta`).
    pub fn http(
        &self,
        targets: Vec<Target>,
        times: HttpTimes,
        end: HttpEnd<'_>,
        start: Instant,
    ) -> HttpLog {
        let HttpEnd {
            status,
            state,
            captures,
            request,
        } = end;
        HttpLog {
            targets,
            head: format!(
                "{}0/{}/{}/{}/",
                self.lead(),
                times.queue,
                times.connect,
                times.response
            ),
            status,
            tail: format!(
                " - - {state}{}{captures} \"{}\"",
                self.counts(),
                request.replace('"', "\\\"")
            ),
            start,
            bytes: 0,
        }
    }
}

/// An `option httplog` line waiting for its response to end (`%Ta` and `%B` are known
/// only then). Sent when dropped.
pub struct HttpLog {
    /// Where it goes.
    pub targets: Vec<Target>,
    /// `%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/`.
    pub head: String,
    /// `%ST`.
    pub status: u16,
    /// ` %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq "%r"` (with the leading space).
    pub tail: String,
    /// When the request started.
    pub start: Instant,
    /// `%B`: bytes sent to the client.
    pub bytes: u64,
}

impl std::fmt::Debug for HttpLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HttpLog({})", self.head)
    }
}

impl Drop for HttpLog {
    fn drop(&mut self) {
        let line = format!(
            "{}{} {} {}{}",
            self.head,
            self.start.elapsed().as_millis(),
            self.status,
            self.bytes,
            self.tail
        );
        send(&self.targets, severity::INFO, &line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(server: Option<&str>) -> Access<'_> {
        Access {
            client: Client::Inet("192.0.2.7:40000".parse().unwrap()),
            accepted: SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_123),
            frontend: "fe",
            backend: "be",
            server,
            counts: Counts {
                frontend: 3,
                backend: 2,
                server: 1,
                retries: 0,
            },
        }
    }

    #[test]
    fn a_unix_client_is_its_listener_id() {
        let mut a = access(Some("s1"));
        a.client = Client::Unix(3);
        assert_eq!(
            a.tcp(2, 15, 512, "--"),
            "unix:3 [14/Nov/2023:22:13:20.123] fe be/s1 0/2/15 512 -- 3/3/2/1/0 0/0"
        );
        assert_eq!(a.client.ip(), None);
    }

    #[test]
    fn tcplog_line_has_haproxys_fields_in_order() {
        assert_eq!(
            access(Some("s1")).tcp(2, 15, 512, "--"),
            "192.0.2.7:40000 [14/Nov/2023:22:13:20.123] fe be/s1 0/2/15 512 -- 3/3/2/1/0 0/0"
        );
        assert_eq!(
            access(None).tcp(-1, 0, 0, "SC"),
            "192.0.2.7:40000 [14/Nov/2023:22:13:20.123] fe be/<NOSRV> 0/-1/0 0 SC 3/3/2/1/0 0/0"
        );
    }

    #[test]
    fn httplog_head_and_tail_frame_status_and_bytes() {
        let times = HttpTimes {
            queue: 0,
            connect: 1,
            response: 4,
        };
        let end = HttpEnd {
            status: 200,
            state: "----",
            captures: "",
            request: "GET /a\"b HTTP/1.1",
        };
        let mut l = access(Some("s1")).http(Vec::new(), times, end, Instant::now());
        assert_eq!(
            l.head,
            "192.0.2.7:40000 [14/Nov/2023:22:13:20.123] fe be/s1 0/0/1/4/"
        );
        assert_eq!(l.tail, " - - ---- 3/3/2/1/0 0/0 \"GET /a\\\"b HTTP/1.1\"");
        l.targets.clear();
    }

    #[test]
    fn captures_are_braced_piped_and_escaped() {
        assert_eq!(
            captures(&[Some(b"abc"), None, Some(b"a|b{\"#\n")]),
            "{abc||a#7Cb#7B#22#23#0A}"
        );
        assert_eq!(captures(&[]), "{}");
    }
}
