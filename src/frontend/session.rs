//! The connection phase of a client, before either proxy serves it: `tcp-request
//! connection` rules on the real addresses, then the PROXY protocol header when the
//! bind has `accept-proxy` or a rule said `expect-proxy layer4`, then `tcp-request
//! session` rules. The header's addresses replace the client's for everything after
//! (acls, logs, `balance source`, stick tables, `forwardfor`, `send-proxy`); as in
//! HAProxy, only `tcp-request connection` rules see the real ones.

use super::proxy_recv::{self, PpError};
use super::stream::ClientStream;
use crate::graph::{FrontendRt, Graph, StatsView};
use crate::log::Client;
use crate::rules::{TcpRun, Verdict};
use crate::sample::conn::{Addrs, ConnInfo};
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// A client past its connection phase.
pub struct Session {
    /// The client, as the session sees it (PROXY header, `tcp-request session set-src`).
    pub peer: Client,
    /// The address it reached, likewise.
    pub local: Option<SocketAddr>,
    /// The client and address as accepted (which listener it came in on).
    pub accepted: (Client, Option<SocketAddr>),
    /// What `fc_*` fetches read.
    pub conn: Arc<ConnInfo>,
    /// The variables connection and session rules set.
    pub vars: crate::sample::Vars,
    /// The entries `track-sc*` connection and session rules track, for the connection.
    pub track: crate::stick::Trackers,
}

/// The connection phase up to the PROXY header.
pub struct Pending {
    sess: Session,
    /// A PROXY header is expected (`accept-proxy`, `expect-proxy layer4`).
    pub expect_proxy: bool,
}

/// The layer-4 sample environment of a client of `fe` with addresses `addrs`.
pub fn env<'a>(
    graph: &'a Graph,
    fe: &'a FrontendRt,
    sess: &'a Session,
    addrs: Addrs,
    stats: &'a StatsView<'a>,
) -> crate::sample::Env<'a> {
    crate::sample::Env {
        src: addrs.src,
        dst: addrs.dst,
        conn: Some(&sess.conn),
        stick: crate::stick::View {
            tables: Some(&graph.tables),
            tracked: Some(&sess.track),
            proxy: Some(&fe.name),
            session: None,
        },
        ..super::l4_env(graph, fe, &sess.accepted.0, sess.accepted.1, stats)
    }
}

/// Runs `fe`'s `tcp-request connection` rules for a new client; None when one rejects
/// it (the caller closes the connection at once).
pub fn connect(
    graph: &Graph,
    fe: &FrontendRt,
    peer: Client,
    local: Option<SocketAddr>,
    accept_proxy: bool,
) -> Option<Pending> {
    let mut sess = Session {
        peer,
        local,
        accepted: (peer, local),
        conn: Arc::new(ConnInfo {
            src: peer.inet(),
            dst: local,
            proxy: None,
            tls: None,
        }),
        vars: Default::default(),
        track: Default::default(),
    };
    let rs = &fe.rules;
    let mut run = TcpRun {
        addrs: Addrs {
            src: peer.inet(),
            dst: local,
        },
        ..TcpRun::default()
    };
    if !rs.tcp_connection.is_empty() {
        let stats = StatsView { graph, be: None };
        let mut vars = std::mem::take(&mut sess.vars);
        let v = {
            let env = env(graph, fe, &sess, run.addrs, &stats);
            rs.run_tcp_from(&rs.tcp_connection, &env, &mut vars, &mut run)
        };
        sess.vars = vars;
        if v == Verdict::Reject {
            fe.shared.denied_conn.fetch_add(1, Relaxed);
            return None;
        }
        // `set-src`/`set-dst` here change the connection's addresses (`fc_src`).
        sess.conn = Arc::new(ConnInfo {
            src: run.addrs.src,
            dst: run.addrs.dst,
            proxy: None,
            tls: None,
        });
        sess.peer = run.addrs.src.map_or(peer, Client::Inet);
        sess.local = run.addrs.dst;
    }
    Some(Pending {
        sess,
        expect_proxy: accept_proxy || run.expect_proxy,
    })
}

impl Pending {
    /// Reads the PROXY header when one is expected, within `timeout client`; on a
    /// failure, logs HAProxy's line for it and gives None.
    pub async fn handshake(
        mut self,
        stream: &mut ClientStream,
        graph: &Graph,
        fe: &FrontendRt,
    ) -> Option<Pending> {
        if !self.expect_proxy {
            return Some(self);
        }
        let accepted = std::time::SystemTime::now();
        let read = proxy_recv::receive(stream, graph.bufsize);
        let got = match fe.timeouts.client {
            Some(t) => tokio::time::timeout(t, read)
                .await
                .unwrap_or(Err(PpError::Timeout)),
            None => read.await,
        };
        let hdr = match got {
            Ok(h) => h,
            Err(e) => {
                self.log_failure(fe, (e.text(), e.is_null()), accepted);
                return None;
            }
        };
        let c = &self.sess.conn;
        // The header's addresses are the session's; the connection's stay those a
        // `tcp-request connection set-src|set-dst` rule gave, if one did.
        let (src, dst) = match hdr.addrs {
            Some((s, d)) => (Some(s), Some(d)),
            None => (self.sess.peer.inet(), self.sess.local),
        };
        let changed = |now: Option<SocketAddr>, accepted: Option<SocketAddr>| now != accepted;
        self.sess.conn = Arc::new(ConnInfo {
            src: if changed(c.src, self.sess.accepted.0.inet()) {
                c.src
            } else {
                src
            },
            dst: if changed(c.dst, self.sess.accepted.1) {
                c.dst
            } else {
                dst
            },
            proxy: Some(hdr),
            tls: None,
        });
        if let Some(s) = src {
            self.sess.peer = Client::Inet(s);
        }
        self.sess.local = dst;
        Some(self)
    }

    /// HAProxy's line for a connection dropped during its handshake:
    /// `IP:PORT [DATE] FRONTEND/LISTENER: ERROR` (INFO, or ERR with `option
    /// log-separate-errors`), not for a silent client with `option dontlognull`.
    fn log_failure(
        &self,
        fe: &FrontendRt,
        (text, null): (&str, bool),
        accepted: std::time::SystemTime,
    ) {
        if fe.logs.is_empty() || (fe.options.dontlognull && null) {
            return;
        }
        let (peer, local) = self.sess.accepted;
        let listener = match fe.listener(&peer, local) {
            Some((_, Some(name))) => name.to_string(),
            Some((id, None)) => id.to_string(),
            None => "?".into(),
        };
        let client = match peer {
            Client::Inet(a) => format!("{}:{}", a.ip(), a.port()),
            Client::Unix(id) => format!("unix:{id}"),
        };
        let line = format!(
            "{client} [{}] {}/{listener}: {}",
            crate::sample::logvars::date_text(accepted, true),
            fe.name,
            text
        );
        crate::log::send(&fe.logs, crate::log::severity::INFO, &line);
    }

    /// The TLS handshake of an `ssl` bind's client, within `timeout client`; on a
    /// failure, counts it, logs HAProxy's line for it and gives None.
    pub async fn tls(
        &mut self,
        stream: ClientStream,
        bind: &crate::tls::server::BindTls,
        fe: &FrontendRt,
    ) -> Option<ClientStream> {
        let accepted = std::time::SystemTime::now();
        match super::tls::handshake(stream, bind, fe.timeouts.client).await {
            Ok((s, info)) => {
                self.sess.conn = Arc::new(ConnInfo {
                    tls: Some(Box::new(info)),
                    ..(*self.sess.conn).clone()
                });
                Some(s)
            }
            Err(e) => {
                fe.shared.tls_failed.fetch_add(1, Relaxed);
                self.log_failure(fe, (e.text(), e.is_null()), accepted);
                None
            }
        }
    }

    /// Runs `fe`'s `tcp-request session` rules; None when one rejects the client.
    pub fn session(self, graph: &Graph, fe: &FrontendRt) -> Option<Session> {
        let mut sess = self.sess;
        let rs = &fe.rules;
        if rs.tcp_session.is_empty() {
            return Some(sess);
        }
        let stats = StatsView { graph, be: None };
        let mut run = TcpRun {
            addrs: Addrs {
                src: sess.peer.inet(),
                dst: sess.local,
            },
            ..TcpRun::default()
        };
        let mut vars = std::mem::take(&mut sess.vars);
        let v = {
            let env = env(graph, fe, &sess, run.addrs, &stats);
            rs.run_tcp_from(&rs.tcp_session, &env, &mut vars, &mut run)
        };
        sess.vars = vars;
        if v == Verdict::Reject {
            fe.shared.denied_conn.fetch_add(1, Relaxed);
            return None;
        }
        if let Some(s) = run.addrs.src {
            sess.peer = Client::Inet(s);
        }
        sess.local = run.addrs.dst;
        Some(sess)
    }
}
