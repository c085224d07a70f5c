//! Frontends at runtime: listeners, accept loops with `maxconn`, and the tcp and http
//! proxies.
//!
//! `maxconn` is enforced before `accept()`: at the limit lbd simply stops accepting and
//! new connections wait in the kernel backlog. Accept errors such as EMFILE are logged
//! once per burst and backed off, never spun on.

pub mod access;
pub mod clientio;
pub mod http;
pub mod listener;
pub mod proxy_recv;
pub mod session;
pub mod stop;
pub mod stream;
pub mod tcp;
pub mod unix;

use crate::config::model::Mode;
use crate::graph::{FrontendShared, Graph, GraphHandle};
use crate::log::Client;
use std::future::Future;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Connection limits shared by every listener.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Global `maxconn`.
    pub global: Arc<Semaphore>,
    /// Raised at soft stop: idle keep-alive connections close.
    pub stopping: Arc<stop::Stopper>,
    /// The runtimes that serve connections.
    pub shards: crate::shard::Shards,
}

/// Accepts connections on one listener for the frontend named `name`, for as long as
/// the listener lives. Each connection runs on the graph current at accept time. `id`
/// is the listener's id, which names a unix client (`unix:ID`).
pub async fn accept_loop(
    listener: Arc<listener::Listening>,
    (name, id): (String, u32),
    handle: GraphHandle,
    limits: Limits,
) {
    let mut backoff_logged = false;
    // A listener bound to one address accepts on that address: its connections' local
    // address is known without a getsockname() each (a wildcard bind still asks).
    let bound = listener.local_inet().filter(|a| !a.ip().is_unspecified());
    // The graph and this frontend's index in it, looked up again only when a reload
    // has swapped the graph.
    let Some(mut cur) = resolve(&handle, &name) else {
        return;
    };
    loop {
        if !refresh(&handle, &name, &mut cur) {
            return; // the frontend is gone from the config
        }
        let fe = cur.0.frontends[cur.1].clone();
        let fe_permit = match &fe.shared.limit {
            Some(s) => match s.clone().acquire_owned().await {
                Ok(p) => Some(p),
                Err(_) => return,
            },
            None => None,
        };
        let Ok(global_permit) = limits.global.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener::accept(&listener).await {
            Ok(x) => {
                backoff_logged = false;
                x
            }
            // The listener was shut down (removed by a reload, or soft stop), or the
            // peer of a `sockpair@` closed its end.
            Err(e)
                if e.raw_os_error() == Some(libc::EINVAL)
                    || e.kind() == std::io::ErrorKind::UnexpectedEof =>
            {
                return
            }
            Err(e) => {
                if !backoff_logged {
                    crate::log::alert(&format!(
                        "Proxy {name}: accept() failed: {}; backing off.",
                        crate::config::io_text(&e)
                    ));
                    backoff_logged = true;
                }
                drop((fe_permit, global_permit));
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // TCP_NODELAY comes from the listening socket. A unix client has no IP
        // address on either side.
        let (peer, local) = match (&stream, peer) {
            (stream::Accepted::Tcp(s), Some(p)) => (
                Client::Inet(p),
                Some(bound.unwrap_or_else(|| s.local_addr().unwrap_or(p))),
            ),
            _ => (Client::Unix(id), None),
        };
        // The newest graph (a reload may have happened while waiting in accept); if it
        // no longer has this frontend, the connection is served on the one it came in on.
        refresh(&handle, &name, &mut cur);
        let (graph, idx) = cur.clone();
        let fe = graph.frontends[idx].clone();
        fe.shared.total.fetch_add(1, Relaxed);
        // Counted until the connection ends, however it ends (even if it never gets to
        // be served: the slots and the count go with this closure).
        let slot = (Current::new(&fe.shared), fe_permit, global_permit);
        let handle = handle.clone();
        let stopping = limits.stopping.watch();
        // `accept-proxy` on the bind the connection came in on.
        let bind = fe
            .listener_ids
            .iter()
            .position(|&i| i == id)
            .and_then(|i| fe.binds.get(i));
        let accept_proxy = bind.is_some_and(|b| b.accept_proxy);
        // HTTP/1 or HTTP/2: the bind's `proto`, else the first bytes.
        let start = http::Start::choose(bind.and_then(|b| b.proto), None);
        limits.shards.dispatch(stream, move |mut stream| {
            // `tcp-request connection` rules: a rejected client is closed before
            // anything is read.
            let Some(pending) = session::connect(&graph, &fe, peer, local, accept_proxy) else {
                return crate::shard::Guarded::new(Conn::Done, slot);
            };
            if pending.expect_proxy {
                // Boxed: only connections with a PROXY header wait for it.
                let fut = Box::pin(async move {
                    let Some(p) = pending.handshake(&mut stream, &graph, &fe).await else {
                        return;
                    };
                    let Some(sess) = p.session(&graph, &fe) else {
                        return;
                    };
                    match fe.mode {
                        Mode::Http => {
                            http::serve(stream, sess, (graph, idx), handle, stopping, start).await
                        }
                        Mode::Tcp => tcp::serve(stream, sess, graph, idx).await,
                    }
                });
                return crate::shard::Guarded::new(Conn::Proxied { fut }, slot);
            }
            let Some(sess) = pending.session(&graph, &fe) else {
                return crate::shard::Guarded::new(Conn::Done, slot);
            };
            let conn = match fe.mode {
                Mode::Http => Conn::Http {
                    fut: http::serve(stream, sess, (graph, idx), handle, stopping, start),
                },
                // Boxed: a task is as large as its largest future, and idle http
                // connections are the ones to keep small.
                Mode::Tcp => Conn::Tcp {
                    fut: Box::pin(tcp::serve(stream, sess, graph, idx)),
                },
            };
            crate::shard::Guarded::new(conn, slot)
        });
    }
}

pin_project_lite::pin_project! {
    /// One connection's future, by mode (an enum, not an `async` block awaiting one,
    /// which would store it twice).
    #[project = ConnProj]
    enum Conn<H, T> {
        Http { #[pin] fut: H },
        Tcp { fut: std::pin::Pin<Box<T>> },
        Proxied { fut: std::pin::Pin<Box<dyn Future<Output = ()> + Send>> },
        Done,
    }
}

impl<H: Future<Output = ()>, T: Future<Output = ()>> Future for Conn<H, T> {
    type Output = ();
    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
        match self.project() {
            ConnProj::Http { fut } => fut.poll(cx),
            ConnProj::Tcp { fut } => fut.as_mut().poll(cx),
            ConnProj::Proxied { fut } => fut.as_mut().poll(cx),
            ConnProj::Done => Poll::Ready(()),
        }
    }
}

/// One current connection of a frontend, counted until dropped.
struct Current(Arc<FrontendShared>);

impl Current {
    fn new(shared: &Arc<FrontendShared>) -> Current {
        shared.cur.fetch_add(1, Relaxed);
        Current(shared.clone())
    }
}

impl Drop for Current {
    fn drop(&mut self) {
        self.0.cur.fetch_sub(1, Relaxed);
    }
}

/// Moves `cur` to the newest graph when a reload has swapped it. False when the newest
/// graph has no frontend `name` (then `cur` is left as it was).
fn refresh(handle: &GraphHandle, name: &str, cur: &mut (Arc<Graph>, usize)) -> bool {
    if handle.load().generation == cur.0.generation {
        return true;
    }
    match resolve(handle, name) {
        Some(x) => {
            *cur = x;
            true
        }
        None => false,
    }
}

fn resolve(handle: &GraphHandle, name: &str) -> Option<(Arc<Graph>, usize)> {
    let g = handle.load_full();
    let idx = *g.fe_index.get(name)?;
    Some((g, idx))
}

/// The layer-4 sample environment of a client of `fe`: addresses, names, counters.
pub fn l4_env<'a>(
    graph: &'a Graph,
    fe: &'a crate::graph::FrontendRt,
    peer: &Client,
    local: Option<std::net::SocketAddr>,
    stats: &'a crate::graph::StatsView<'a>,
) -> crate::sample::Env<'a> {
    crate::sample::Env {
        src: peer.inet(),
        dst: local,
        fe: Some(crate::sample::Named {
            name: &fe.name,
            id: graph.uuid(fe.proxy_id) as i64,
        }),
        so: fe
            .listener(peer, local)
            .map(|(id, name)| crate::sample::Named {
                name: name.unwrap_or(""),
                id: id as i64,
            }),
        proc_vars: Some(&graph.proc_vars),
        stats: Some(stats),
        ..Default::default()
    }
}
