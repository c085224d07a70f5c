//! The connect path shared by tcp and http mode: which server an attempt goes to
//! (a persisted server first, then the balancer, waiting in the queue when all are
//! full), the connection itself (`timeout connect`, the PROXY header of `send-proxy`),
//! and what a failure does (`retries`, `option redispatch`, passive observation).
//!
//! HAProxy's rules: after a failed attempt the same server is tried again until
//! `retries` failures; with `option redispatch` the last retry goes to another server
//! (the one that failed is excluded once). A connect failure is observed as a layer-4
//! error; a fresh connection the server closes before reading the request counts as a
//! failed attempt too, but says nothing about layer 4.

use super::pool::{self, ConnectError};
use super::status::{self, Observation};
use super::stream::{Raw, ServerStream};
use super::{proxy_proto, Backend, NoServer, Slot};
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// The attempts to reach a server for one connection (tcp) or request (http).
#[derive(Debug)]
pub struct Attempts {
    be: Arc<Backend>,
    key: Option<u64>,
    pinned: Option<usize>,
    exclude: Option<usize>,
    again: Option<Slot>,
    failures: u32,
}

/// What follows a failed attempt.
#[derive(Debug)]
pub enum Retry {
    /// Another attempt will be made: call [`Attempts::slot`] again.
    Again,
    /// `retries` are exhausted; the slot of the last attempt.
    Exhausted(Slot),
}

/// Why an attempt failed, as far as `retries` are concerned.
#[derive(Debug)]
pub enum Failure<'a> {
    /// The connection could not be made (observed as a layer-4 error).
    Connect(&'a ConnectError),
    /// A fresh connection was closed before the request was read.
    Closed,
}

impl Attempts {
    /// Attempts on `be` for a balancing `key` (hash algorithms), starting on the
    /// `pinned` server (cookie or stick table) when it may still serve.
    pub fn new(be: Arc<Backend>, key: Option<u64>, pinned: Option<usize>) -> Self {
        Attempts {
            be,
            key,
            pinned,
            exclude: None,
            again: None,
            failures: 0,
        }
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<Backend> {
        &self.be
    }

    /// Failed attempts so far (`%rc` in logs).
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The slot for the next attempt: the server to retry, else the pinned server,
    /// else the balancer's pick (queueing when every usable server is full).
    pub async fn slot(&mut self) -> Result<Slot, NoServer> {
        if let Some(s) = self.again.take() {
            return Ok(s);
        }
        if let Some(s) = self.pinned.take().and_then(|i| self.be.try_persist(i)) {
            return Ok(s);
        }
        self.be.acquire(self.key, self.exclude).await
    }

    /// Tries the same slot again without counting a failure (an idle pooled
    /// connection that closed under lbd costs nothing).
    pub fn again(&mut self, slot: Slot) {
        self.again = Some(slot);
    }

    /// Books a failed attempt on the slot's server and applies `retries` and
    /// `option redispatch`.
    pub fn failed(&mut self, slot: Slot, why: Failure<'_>) -> Retry {
        let st = &slot.server.state;
        if let Failure::Connect(err) = why {
            let obs = match err {
                ConnectError::Timeout => Observation::L4Timeout,
                ConnectError::Io(_) | ConnectError::Tls(_) => Observation::L4Error,
            };
            status::observe(&self.be, &slot.server, obs);
        }
        st.conn_errors.fetch_add(1, Relaxed);
        self.failures += 1;
        if self.failures > self.be.retries {
            return Retry::Exhausted(slot);
        }
        st.retries.fetch_add(1, Relaxed);
        if self.be.options.redispatch && self.failures == self.be.retries.max(1) {
            st.redispatches.fetch_add(1, Relaxed);
            self.exclude = Some(slot.index);
            return Retry::Again;
        }
        self.again = Some(slot);
        Retry::Again
    }
}

/// Connects to the slot's server for a client `peer` that reached `local`: `timeout
/// connect`, then the PROXY header when the server has `send-proxy[-v2]`, then the TLS
/// handshake of an `ssl` server (SNI `sni`, the value of its `sni` expression). A
/// success is observed as a layer-4 success. `tlv` feeds the `proxy-v2-options` TLVs.
pub async fn connect(
    be: &Backend,
    slot: &Slot,
    peer: crate::log::Client,
    local: Option<SocketAddr>,
    tlv: proxy_proto::TlvSource<'_>,
    sni: Option<&str>,
) -> Result<ServerStream, ConnectError> {
    let server = &slot.server;
    let mut c = match &server.unix {
        Some(path) => Raw::Unix(pool::connect_unix(path, be.timeouts.connect).await?),
        None => Raw::Tcp(pool::connect(server.target(local), be.timeouts.connect).await?),
    };
    if let Some(v) = server.cfg.send_proxy {
        let addrs = peer.inet().zip(local);
        let h = match addrs {
            _ if v == 2 => proxy_proto::v2_with(addrs, server.cfg.pp_opts, tlv),
            Some((p, l)) => proxy_proto::v1(p, l),
            None => proxy_proto::unknown(v),
        };
        c.write_all(&h).await.map_err(ConnectError::Io)?;
    }
    let c = if server.cfg.tls.ssl {
        // A server whose TLS context could not be built never gets clear text.
        let tls = server
            .tls
            .as_ref()
            .ok_or(ConnectError::Tls("SSL handshake failure"))?;
        let config = tls
            .traffic
            .clone()
            .ok_or(ConnectError::Tls("SSL handshake failure"))?;
        super::stream::tls_handshake(config, tls.name(sni), c, be.timeouts.connect).await?
    } else {
        c.plain()
    };
    status::observe(be, server, Observation::L4Ok);
    Ok(c)
}
