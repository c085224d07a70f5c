//! The data plane's threads: one single-threaded tokio runtime per core ("shard").
//!
//! A client connection lives on one shard from accept to close, with its upstream
//! connections and their idle pool (`backend::pool` keeps one pool per shard), so a
//! keep-alive request never wakes another thread. Listeners are not duplicated: each
//! bind keeps its one socket (reload and soft stop handle exactly that socket), and its
//! accept loop hands new connections to the shards in turn.
//!
//! The control plane (signals, reload, health checks, runtime sockets) runs on its own
//! runtime, started by `lbd::run`.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use tokio::runtime::Handle;

static COUNT: OnceLock<usize> = OnceLock::new();

thread_local! {
    static CURRENT: Cell<usize> = const { Cell::new(0) };
}

/// Number of shards (1 until `start` runs, e.g. in unit tests and fuzzing).
pub fn count() -> usize {
    COUNT.get().copied().unwrap_or(1)
}

/// Index of the shard running the calling thread (0 outside the data plane).
pub fn current() -> usize {
    CURRENT.with(Cell::get)
}

/// The running shards.
#[derive(Debug, Clone)]
pub struct Shards {
    handles: Arc<[Handle]>,
    next: Arc<AtomicUsize>,
}

impl Shards {
    /// Starts `n` shard threads (at least one), each running a current-thread runtime
    /// until the process exits. Can be called once per process.
    pub fn start(n: usize) -> Result<Shards, String> {
        let n = n.max(1);
        if COUNT.set(n).is_err() && count() != n {
            return Err("the data plane was already started".into());
        }
        let mut handles = Vec::with_capacity(n);
        for i in 0..n {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the runtime: {e}"))?;
            handles.push(rt.handle().clone());
            std::thread::Builder::new()
                .name(format!("lbd-shard-{i}"))
                .spawn(move || {
                    CURRENT.with(|c| c.set(i));
                    rt.block_on(std::future::pending::<()>());
                })
                .map_err(|e| format!("cannot start thread: {e}"))?;
        }
        Ok(Shards {
            handles: handles.into(),
            next: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// The shard that runs the accept loop of listener number `i`.
    pub fn for_listener(&self, i: usize) -> &Handle {
        &self.handles[i % self.handles.len()]
    }

    /// Runs the connection `stream` on the next shard in turn: `serve` is called there
    /// with the stream registered on that shard's reactor.
    pub fn dispatch<F, Fut>(&self, stream: tokio::net::TcpStream, serve: F)
    where
        F: FnOnce(tokio::net::TcpStream) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let n = self.handles.len();
        let i = if n == 1 {
            0
        } else {
            self.next.fetch_add(1, Relaxed) % n
        };
        if i == current() {
            tokio::spawn(serve(stream));
            return;
        }
        let Ok(std) = stream.into_std() else { return };
        self.handles[i].spawn(async move {
            if let Ok(stream) = tokio::net::TcpStream::from_std(std) {
                serve(stream).await;
            }
        });
    }
}
