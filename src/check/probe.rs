//! Active probes: a connect-only check, or a run of the backend's check ruleset
//! (`tcp-check`, `http-check`, the protocol checks) by the rule engine.
//!
//! Timeouts: the connect is bounded by `timeout connect` (at most `inter`); the
//! rest by `timeout check` when set, else by what remains of `inter`.

use super::tcpcheck::{Run, Target, Timing};
use crate::backend::agent::AgentReply;
use crate::backend::status::Outcome;
use crate::backend::stream::Raw;
use crate::config::model::check::{CheckRules, Status};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// What a check does.
#[derive(Debug, Clone)]
pub enum Probe {
    /// Connect only.
    Tcp,
    /// Run a ruleset.
    Rules(Arc<CheckRules>),
    /// Run a program (`option external-check`).
    External(Arc<super::external::External>),
}

impl Probe {
    /// Runs one check against `target`.
    pub async fn run(&self, target: &Target, timing: Timing) -> (Outcome, Option<AgentReply>) {
        match self {
            Probe::Rules(rules) => Run::new(rules, target, timing).run().await,
            Probe::Tcp => (connect_only(target, timing).await, None),
            Probe::External(e) => (e.run(timing).await, None),
        }
    }
}

/// TLS of a server's checks: its check context and the name sent (`check-sni`, else
/// no SNI). `config` is None when the context could not be built: every handshake
/// fails rather than check in clear text.
#[derive(Debug, Clone)]
pub struct CheckTls {
    /// The rustls configuration (with its own session cache).
    pub config: Option<Arc<rustls::ClientConfig>>,
    /// `check-sni`, else the server's address.
    pub name: rustls::pki_types::ServerName<'static>,
    /// The server's address (no SNI).
    addr: rustls::pki_types::ServerName<'static>,
    /// The server's `alpn`.
    alpn: Vec<Vec<u8>>,
    /// The server's own checks use TLS (`check-ssl`, or `ssl` on its own address):
    /// connect-only checks and `connect default` rules. Else only `connect ssl` rules
    /// do.
    pub default: bool,
}

impl CheckTls {
    /// The check TLS of a server, when its checks (or its `tcp-check connect ssl`
    /// rules) use TLS.
    pub fn of(s: &crate::backend::ServerRt) -> Option<CheckTls> {
        let t = s.tls.as_deref();
        let default = s.cfg.check_tls();
        if !default && t.is_none_or(|t| t.check.is_none()) {
            return None;
        }
        let addr = rustls::pki_types::ServerName::IpAddress(s.addr.ip().into());
        Some(CheckTls {
            config: t.and_then(|t| t.check.clone()),
            name: t.map_or(addr.clone(), |t| {
                t.check_sni.clone().unwrap_or_else(|| t.addr.clone())
            }),
            alpn: t.map(|t| t.alpn.clone()).unwrap_or_default(),
            addr,
            default,
        })
    }

    /// The context and name of a `connect ssl` rule: its `sni` (else with `default`
    /// `check-sni`, else none) and `alpn` (else with `default` `check-alpn`, else the
    /// server's `alpn`), as HAProxy picks them.
    pub(super) fn for_rule(&self, c: &crate::config::model::check::Connect) -> CheckTls {
        let name = match &c.sni {
            Some(n) => rustls::pki_types::ServerName::try_from(n.to_ascii_lowercase())
                .unwrap_or_else(|_| self.addr.clone()),
            None if c.default => self.name.clone(),
            None => self.addr.clone(),
        };
        let alpn = match &c.alpn {
            Some(v) => Some(crate::tls::client::alpn_bytes(Some(v))),
            None if c.default => None,
            None => Some(self.alpn.clone()),
        };
        let config = match (&self.config, alpn) {
            (Some(cfg), Some(a)) if cfg.alpn_protocols != a => {
                let mut own = (**cfg).clone();
                own.alpn_protocols = a;
                Some(Arc::new(own))
            }
            (cfg, _) => cfg.clone(),
        };
        CheckTls {
            config,
            name,
            ..self.clone()
        }
    }

    /// The handshake over a connected check socket within `left`: a failure is
    /// HAProxy's `Layer6 invalid response` (or `Layer6 timeout`).
    pub(super) async fn handshake(
        &self,
        tcp: Raw,
        left: Duration,
    ) -> Result<crate::backend::stream::ServerStream, (Status, String)> {
        use crate::backend::pool::ConnectError;
        let Some(config) = self.config.clone() else {
            return Err((Status::L6Rsp, "SSL handshake failure".into()));
        };
        match crate::backend::stream::tls_handshake(config, self.name.clone(), tcp, Some(left))
            .await
        {
            Ok(s) => Ok(s),
            Err(ConnectError::Timeout) => Err((Status::L6Tout, String::new())),
            Err(e) => Err((Status::L6Rsp, e.to_string())),
        }
    }
}

/// A connect-only check: passes on the server's SYN-ACK (with TLS: on the end of the
/// handshake, `Layer6 check passed`).
async fn connect_only(target: &Target, timing: Timing) -> Outcome {
    let addr = target.addr;
    let start = Instant::now();
    let ctimeout = timing.connect.map_or(timing.inter, |c| c.min(timing.inter));
    let out = |ok, reason, info: Option<String>| Outcome {
        ok,
        reason,
        code: None,
        info,
        duration: start.elapsed(),
    };
    let unix = target.unix.as_deref();
    match tokio::time::timeout(ctimeout, open(unix, addr, true, false)).await {
        Err(_) => out(false, "Layer4 timeout", None),
        Ok(Err(e)) => {
            let info = if e.raw_os_error() == Some(libc::ENETUNREACH) {
                "General socket error (Network is unreachable)".to_string()
            } else {
                crate::config::io_text(&e)
            };
            out(false, "Layer4 connection problem", Some(info))
        }
        Ok(Ok(stream)) => {
            let Some(tls) = target.tls.as_ref().filter(|t| t.default) else {
                return out(true, "Layer4 check passed", None);
            };
            let left = timing.check.unwrap_or(timing.inter);
            match tls.handshake(stream, left).await {
                Ok(_) => out(true, Status::L6Ok.reason(), None),
                Err((st, info)) => out(false, st.reason(), (!info.is_empty()).then_some(info)),
            }
        }
    }
}

/// Opens a check connection: to the `unix` socket when given, else over TCP to `addr`
/// (see [`connect`]). Without `linger` a TCP connection is closed with a reset, as
/// HAProxy closes its checks: no FIN exchange and no TIME_WAIT socket left behind for
/// each of thousands of checks a second.
pub(super) async fn open(
    unix: Option<&str>,
    addr: SocketAddr,
    delack: bool,
    linger: bool,
) -> std::io::Result<Raw> {
    if let Some(path) = unix {
        return crate::backend::pool::open_unix(path).await.map(Raw::Unix);
    }
    let stream = connect(addr, delack).await?;
    if !linger {
        let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    }
    Ok(Raw::Tcp(stream))
}

/// Connects as HAProxy's checks do: with delayed ACKs (`TCP_QUICKACK` off), so the last
/// ACK of the handshake travels with the first request bytes, or never for a tcp check,
/// which succeeds on the server's SYN-ACK and closes with a reset: the server's kernel
/// never completes the connection and its application never accepts it. A check whose
/// server speaks first (`delack` false: an expect follows the connect) acknowledges at
/// once.
pub(super) async fn connect(addr: SocketAddr, delack: bool) -> std::io::Result<TcpStream> {
    let sock = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    if delack {
        let _ = socket2::SockRef::from(&sock).set_quickack(false);
    }
    sock.connect(addr).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing() -> Timing {
        Timing {
            inter: Duration::from_secs(2),
            connect: None,
            check: None,
        }
    }

    fn target(addr: SocketAddr) -> Target {
        Target {
            be: ("be".into(), 1),
            srv: ("srv".into(), 1),
            addr,
            unix: None,
            send_proxy: None,
            state_header: None,
            nolb_404: false,
            tls: None,
        }
    }

    #[tokio::test]
    async fn a_tcp_check_succeeds_on_the_syn_ack_and_the_server_never_accepts_it() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap();
        let (out, _) = Probe::Tcp.run(&target(addr), timing()).await;
        assert!(out.ok, "{out:?}");
        // The reset went out before any ACK: nothing reaches the accept queue, even
        // after the longest a delayed handshake ACK waits (200 ms, TCP_DELACK_MAX).
        tokio::time::sleep(Duration::from_millis(500)).await;
        let e = l.accept().expect_err("no connection to accept");
        assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
    }

    // Multi-threaded: a check that passed closes from a background task (after
    // reading what the server still sends), which must run while this thread waits.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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
        let spec = crate::config::model::check::CheckSpec {
            proto: crate::config::model::check::CheckProto::Http,
            http: vec![],
            ..Default::default()
        };
        let mut spec = spec;
        spec.http.push(crate::config::model::check::CheckRule {
            index: 0,
            comment: None,
            act: crate::config::model::check::CheckAct::Send(
                crate::config::model::check::Send::Http(Default::default()),
            ),
        });
        let probe = Probe::Rules(Arc::new(spec.ruleset().unwrap()));
        let (out, _) = probe.run(&target(addr), timing()).await;
        assert!(out.ok, "{out:?}");
        assert_eq!(out.code, Some(200));
        let e = server
            .join()
            .unwrap()
            .expect_err("a reset, not an orderly close");
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset);
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
}
