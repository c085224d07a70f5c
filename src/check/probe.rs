//! Active probes: one connection per check, tcp (connect) or http (request, status and
//! `http-check expect`), with HAProxy's reasons.
//!
//! Timeouts: the connect is bounded by `timeout connect` (at most `inter`); the
//! response by `timeout check` when set, else by what remains of `inter`.

use crate::backend::status::Outcome;
use crate::config::model::{Expect, ExpectKind, HttpCheck};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A compiled `http-check expect`.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// 2xx and 3xx pass (no expect).
    Default,
    /// Status ranges.
    Status(Vec<(u16, u16)>, bool),
    /// Regex on the status code.
    RStatus(regex::Regex, bool),
    /// Substring of the body.
    Body(String, bool),
    /// Regex on the body (`rstring`).
    RBody(regex::bytes::Regex, bool),
}

/// What a check does.
#[derive(Debug, Clone)]
pub enum Probe {
    /// Connect only.
    Tcp,
    /// Send a request, check the response.
    Http {
        /// The request bytes.
        request: Vec<u8>,
        /// The expectation.
        matcher: Matcher,
        /// `http-check disable-on-404`: a 404 passes conditionally.
        nolb_404: bool,
    },
}

/// The largest response read for a check (HAProxy's tune.bufsize for checks).
const MAX_READ: usize = 16384;

impl Probe {
    /// Builds a probe from the backend's settings; `host` fills `Host` for HTTP/1.1
    /// when the config sets none.
    pub fn new(http: &HttpCheck, host: &str) -> Result<Probe, String> {
        if !http.enabled {
            return Ok(Probe::Tcp);
        }
        let mut req = format!("{} {} {}\r\n", http.method, http.uri, http.version);
        let mut has_host = false;
        for (n, v) in &http.headers {
            has_host |= n.eq_ignore_ascii_case("host");
            req.push_str(&format!("{n}: {v}\r\n"));
        }
        if !has_host && http.version.eq_ignore_ascii_case("HTTP/1.1") {
            req.push_str(&format!("host: {host}\r\n"));
        }
        if let Some(b) = &http.body {
            req.push_str(&format!("content-length: {}\r\n", b.len()));
        }
        req.push_str("connection: close\r\n\r\n");
        if let Some(b) = &http.body {
            req.push_str(b);
        }
        let matcher = match &http.expect {
            None => Matcher::Default,
            Some(Expect { negate, kind }) => match kind {
                ExpectKind::Status(r) => Matcher::Status(r.clone(), *negate),
                ExpectKind::RStatus(re) => Matcher::RStatus(
                    regex::Regex::new(re)
                        .map_err(|e| format!("invalid 'rstatus' regex '{re}': {e}"))?,
                    *negate,
                ),
                ExpectKind::String(s) => Matcher::Body(s.clone(), *negate),
                ExpectKind::RString(re) => Matcher::RBody(
                    regex::bytes::Regex::new(re)
                        .map_err(|e| format!("invalid 'rstring' regex '{re}': {e}"))?,
                    *negate,
                ),
            },
        };
        Ok(Probe::Http {
            request: req.into_bytes(),
            matcher,
            nolb_404: http.disable_on_404,
        })
    }

    /// Runs one check against `addr`.
    pub async fn run(
        &self,
        addr: SocketAddr,
        inter: Duration,
        connect_to: Option<Duration>,
        check_to: Option<Duration>,
    ) -> Outcome {
        let start = Instant::now();
        let ctimeout = connect_to.map_or(inter, |c| c.min(inter));
        let l7 = matches!(self, Probe::Http { .. });
        let out = |ok, reason, code, info: Option<String>| Outcome {
            ok,
            reason,
            code,
            info,
            duration: start.elapsed(),
        };
        let mut stream = match tokio::time::timeout(ctimeout, connect(addr)).await {
            Err(_) => return out(false, "Layer4 timeout", None, None),
            Ok(Err(e)) => {
                return out(
                    false,
                    "Layer4 connection problem",
                    None,
                    Some(crate::config::io_text(&e)),
                )
            }
            Ok(Ok(s)) => s,
        };
        // Closed with a reset, as HAProxy closes its checks: no FIN exchange and no
        // TIME_WAIT socket left behind for each of thousands of checks a second.
        let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
        let (request, matcher) = match self {
            Probe::Tcp => return out(true, "Layer4 check passed", None, None),
            Probe::Http {
                request, matcher, ..
            } => (request, matcher),
        };
        let _ = l7;
        let rtimeout = check_to.unwrap_or_else(|| {
            inter
                .saturating_sub(start.elapsed())
                .max(Duration::from_millis(1))
        });
        let exchange = async {
            stream.write_all(request).await?;
            let mut buf = Vec::with_capacity(1024);
            let mut chunk = [0u8; 4096];
            loop {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                // Status-only matchers can stop at the first line.
                if !matches!(matcher, Matcher::Body(..) | Matcher::RBody(..))
                    && buf.contains(&b'\n')
                {
                    break;
                }
                if buf.len() >= MAX_READ {
                    break;
                }
            }
            Ok::<_, std::io::Error>(buf)
        };
        let buf = match tokio::time::timeout(rtimeout, exchange).await {
            Err(_) => return out(false, "Layer7 timeout", None, None),
            Ok(Err(e)) => {
                return out(
                    false,
                    "Layer4 connection problem",
                    None,
                    Some(crate::config::io_text(&e)),
                )
            }
            Ok(Ok(b)) => b,
        };
        let Some((code, phrase, body)) = parse_status(&buf) else {
            let info = if buf.is_empty() {
                "Connection closed without a response".to_string()
            } else {
                "Invalid HTTP status line".to_string()
            };
            return out(false, "Layer7 invalid response", None, Some(info));
        };
        if code == 404 && matches!(self, Probe::Http { nolb_404: true, .. }) {
            return out(
                true,
                crate::backend::status::CONDPASS,
                Some(code),
                Some(phrase),
            );
        }
        let status_fail = || {
            out(
                false,
                "Layer7 wrong status",
                Some(code),
                Some(phrase.clone()),
            )
        };
        match matcher {
            Matcher::Default if (200..400).contains(&code) => {}
            Matcher::Status(ranges, neg)
                if ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&code)) != *neg => {}
            Matcher::RStatus(re, neg) if re.is_match(&code.to_string()) != *neg => {}
            Matcher::Default | Matcher::Status(..) | Matcher::RStatus(..) => return status_fail(),
            // Body checks fail as HAProxy's: `Layer7 invalid response`, no code.
            Matcher::Body(_, neg) | Matcher::RBody(_, neg) => {
                let found = match matcher {
                    Matcher::RBody(re, _) => re.is_match(body),
                    Matcher::Body(s, _) => memfind(body, s.as_bytes()),
                    _ => false,
                };
                let info = if body.is_empty() {
                    Some("HTTP content check could not find a response body")
                } else if found == *neg {
                    Some(if *neg {
                        "HTTP check matched unwanted content"
                    } else {
                        "HTTP content check did not match"
                    })
                } else {
                    None
                };
                if let Some(i) = info {
                    return out(false, "Layer7 invalid response", None, Some(i.into()));
                }
            }
        }
        out(true, "Layer7 check passed", Some(code), None)
    }
}

fn memfind(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// Parses `HTTP/1.x NNN phrase` and returns (code, phrase, body after the head).
fn parse_status(buf: &[u8]) -> Option<(u16, String, &[u8])> {
    let line_end = buf.iter().position(|&b| b == b'\n')?;
    let line = std::str::from_utf8(&buf[..line_end])
        .ok()?
        .trim_end_matches('\r');
    let mut it = line.splitn(3, ' ');
    let ver = it.next()?;
    if !ver.starts_with("HTTP/") {
        return None;
    }
    let code_s = it.next()?;
    if code_s.len() != 3 {
        return None;
    }
    let code: u16 = code_s.parse().ok().filter(|c| (100..=999).contains(c))?;
    let phrase = it.next().unwrap_or("").to_string();
    let body = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(&buf[buf.len()..], |p| &buf[p + 4..]);
    Some((code, phrase, body))
}

/// Connects as HAProxy's checks do: with delayed ACKs (`TCP_QUICKACK` off), so the last
/// ACK of the handshake travels with the first request bytes, or never for a tcp check,
/// which succeeds on the server's SYN-ACK and closes with a reset: the server's kernel
/// never completes the connection and its application never accepts it.
async fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let sock = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    let _ = socket2::SockRef::from(&sock).set_quickack(false);
    sock.connect(addr).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_tcp_check_succeeds_on_the_syn_ack_and_the_server_never_accepts_it() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap();
        let out = Probe::Tcp
            .run(addr, Duration::from_secs(1), None, None)
            .await;
        assert!(out.ok, "{out:?}");
        // The reset went out before any ACK: nothing reaches the accept queue, even
        // after the longest a delayed handshake ACK waits (200 ms, TCP_DELACK_MAX).
        tokio::time::sleep(Duration::from_millis(500)).await;
        let e = l.accept().expect_err("no connection to accept");
        assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
    }

    #[tokio::test]
    async fn a_check_that_sent_bytes_is_closed_with_a_reset() {
        use std::io::{Read, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut head = Vec::new();
            let mut b = [0u8; 512];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut b).unwrap();
                assert!(n > 0, "the request arrives");
                head.extend_from_slice(&b[..n]);
            }
            s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .unwrap();
            s.read(&mut b)
        });
        let probe = Probe::Http {
            request: b"GET / HTTP/1.0\r\n\r\n".to_vec(),
            matcher: Matcher::Default,
            nolb_404: false,
        };
        let out = probe.run(addr, Duration::from_secs(2), None, None).await;
        assert!(out.ok, "{out:?}");
        let e = server
            .join()
            .unwrap()
            .expect_err("a reset, not an orderly close");
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset);
    }

    #[test]
    fn status_lines() {
        let (c, p, b) =
            parse_status(b"HTTP/1.1 503 Service Unavailable\r\nx: y\r\n\r\nbody").unwrap();
        assert_eq!(
            (c, p.as_str(), b),
            (503, "Service Unavailable", &b"body"[..])
        );
        assert!(parse_status(b"SSH-2.0-OpenSSH\r\n").is_none());
        assert!(parse_status(b"HTTP/1.0 20 OK\r\n").is_none());
    }

    #[test]
    fn describe_matches_haproxy() {
        let o = Outcome {
            ok: false,
            reason: "Layer7 wrong status",
            code: Some(503),
            info: Some("Service Unavailable".into()),
            duration: Duration::from_millis(2),
        };
        assert_eq!(o.describe(), "reason: Layer7 wrong status, code: 503, info: \"Service Unavailable\", check duration: 2ms");
    }

    #[test]
    fn requests() {
        let hc = HttpCheck {
            enabled: true,
            method: "GET".into(),
            uri: "/health".into(),
            version: "HTTP/1.1".into(),
            headers: vec![("X-A".into(), "1".into())],
            body: None,
            expect: None,
            disable_on_404: false,
        };
        let Probe::Http { request, .. } = Probe::new(&hc, "10.0.0.1:80").unwrap() else {
            panic!()
        };
        assert_eq!(
            String::from_utf8(request).unwrap(),
            "GET /health HTTP/1.1\r\nX-A: 1\r\nhost: 10.0.0.1:80\r\nconnection: close\r\n\r\n"
        );
        let bad = HttpCheck {
            expect: Some(Expect {
                negate: false,
                kind: ExpectKind::RStatus("(".into()),
            }),
            ..hc
        };
        assert!(Probe::new(&bad, "h").is_err());
    }
}
