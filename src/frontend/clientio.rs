//! Client-side HTTP timers: which phase a client connection is in, so that `timeout
//! http-request` (time to receive a request head, answered with 408) and `timeout
//! http-keep-alive` (idle time between requests, closed silently) apply as in HAProxy.
//!
//! The IO wrapper marks the start of a head when bytes arrive on an idle connection;
//! the service marks a request in flight; the response body's guard marks the end.
//! The wrapper also notes when a write to the client blocks and when one makes
//! progress again, so that `timeout client` can close a client that stops reading.
//!
//! The phase also tells when hyper's state for a connection can be dropped while it
//! waits (`Phase::parkable`): before the first byte, or between requests once the last
//! response is flushed and no request body or upgrade may still be in progress. A
//! parked connection keeps only its socket; hyper's read and write buffers (8 KiB
//! each) are allocated again when the next request arrives.

use crate::frontend::stream::ClientStream;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// Waiting for the first request (no byte yet).
pub const FIRST: u8 = 0;
/// Idle between requests.
pub const IDLE: u8 = 1;
/// Receiving a request head.
pub const HEAD: u8 = 2;
/// A request is being served.
pub const BUSY: u8 = 3;

/// Shared phase of one client connection.
#[derive(Debug)]
pub struct Phase {
    state: AtomicU8,
    since_ms: AtomicU64,
    inflight: AtomicU32,
    /// HTTP/2: streams the client reset before their response, less those answered
    /// (never below 0); the rapid-reset budget.
    resets: AtomicU32,
    /// Since when (ms since `start`, plus 1) writes to the client are blocked; 0: not.
    blocked_ms: AtomicU64,
    /// The last request had a body or asked for an upgrade (or the stream was shut
    /// down): hyper may still own bytes of it, so the connection is not parked.
    sticky: AtomicBool,
    /// The last response has been flushed to the socket entirely.
    flushed: AtomicBool,
    /// When the connection last became idle (ms since `start`): `%Ti` starts there.
    idle_ms: AtomicU64,
    /// Bytes read from and written to the client on this connection.
    read: AtomicU64,
    written: AtomicU64,
    /// What the last finished request took of `read` and `written`.
    accounted: std::sync::Mutex<(u64, u64)>,
    /// The end of a finished request, run once its response is flushed (or the
    /// connection is gone) with the bytes it read and wrote.
    done: DoneSlot,
    start: Instant,
}

/// The pending end of a request.
#[derive(Default)]
struct DoneSlot(std::sync::Mutex<Option<Done>>);

impl std::fmt::Debug for DoneSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DoneSlot")
    }
}

/// The end of a request: given the bytes received and sent for it, headers included.
pub type Done = Box<dyn FnOnce(u64, u64) + Send>;

/// When a request began: `%Ti` (idle before its first byte) and `%TR` (from the first
/// byte to the complete head), in milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct ReqTimes {
    /// `%Ti`.
    pub idle: i64,
    /// `%TR`.
    pub head: i64,
}

impl Phase {
    /// A new connection, waiting for its first request.
    pub fn new() -> Arc<Self> {
        Arc::new(Phase {
            state: AtomicU8::new(FIRST),
            since_ms: AtomicU64::new(0),
            inflight: AtomicU32::new(0),
            resets: AtomicU32::new(0),
            blocked_ms: AtomicU64::new(0),
            sticky: AtomicBool::new(false),
            flushed: AtomicBool::new(true),
            idle_ms: AtomicU64::new(0),
            read: AtomicU64::new(0),
            written: AtomicU64::new(0),
            accounted: Default::default(),
            done: Default::default(),
            start: Instant::now(),
        })
    }

    /// `%Ti` and `%TR` of the request whose head was just parsed.
    pub fn request_times(&self) -> ReqTimes {
        let now = self.start.elapsed().as_millis() as i64;
        let idle = self.idle_ms.load(Relaxed) as i64;
        let head = match self.state.load(Relaxed) {
            HEAD => self.since_ms.load(Relaxed) as i64,
            _ => now,
        };
        ReqTimes {
            idle: (head - idle).max(0),
            head: (now - head).max(0),
        }
    }

    /// Runs `done` once the response in progress is flushed (at once if the
    /// connection has nothing left to flush).
    pub fn when_flushed(&self, done: Done) {
        let prev = self
            .done
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(done);
        // A pipelined request's end may still wait: it takes what was sent so far.
        if let Some(prev) = prev {
            self.run_done(prev);
        }
    }

    fn run_done(&self, done: Done) {
        let (r, w) = (self.read.load(Relaxed), self.written.load(Relaxed));
        let (dr, dw) = {
            let mut acc = self.accounted.lock().unwrap_or_else(|e| e.into_inner());
            let d = (r - acc.0, w - acc.1);
            *acc = (r, w);
            d
        };
        done(dr, dw);
    }

    /// Runs the pending end of a request, if any.
    fn flush_done(&self) {
        let d = self.done.0.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(d) = d {
            self.run_done(d);
        }
    }

    fn set(&self, s: u8) {
        // Only waiting phases have a deadline, so only they need the clock.
        if s != BUSY {
            let ms = self.start.elapsed().as_millis() as u64;
            self.since_ms.store(ms, Relaxed);
            if s == IDLE {
                self.idle_ms.store(ms, Relaxed);
            }
        }
        self.state.store(s, Relaxed);
    }

    /// (phase, when it began).
    pub fn snapshot(&self) -> (u8, Instant) {
        let s = self.state.load(Relaxed);
        (
            s,
            self.start + Duration::from_millis(self.since_ms.load(Relaxed)),
        )
    }

    /// Since when writes to the client have been blocked (the client does not read).
    pub fn blocked_since(&self) -> Option<Instant> {
        match self.blocked_ms.load(Relaxed) {
            0 => None,
            ms => Some(self.start + Duration::from_millis(ms - 1)),
        }
    }

    fn write_blocked(&self) {
        if self.blocked_ms.load(Relaxed) == 0 {
            self.blocked_ms
                .store(self.start.elapsed().as_millis() as u64 + 1, Relaxed);
        }
    }

    fn write_progress(&self) {
        if self.blocked_ms.load(Relaxed) != 0 {
            self.blocked_ms.store(0, Relaxed);
        }
    }

    /// A request head was parsed: the request is in flight until the guard drops.
    /// `sticky`: the request has a body or asks for an upgrade.
    pub fn begin(self: &Arc<Self>, sticky: bool) -> InFlight {
        self.inflight.fetch_add(1, Relaxed);
        self.sticky.store(sticky, Relaxed);
        self.set(BUSY);
        InFlight(self.clone())
    }

    /// An HTTP/2 stream was reset by the client (or lost with its connection) before
    /// its response.
    pub fn stream_reset(&self) {
        self.resets.fetch_add(1, Relaxed);
    }

    /// An HTTP/2 stream got its response head: one reset less counts.
    pub fn stream_answered(&self) {
        let _ = self
            .resets
            .fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1));
    }

    /// The streams reset before their response, less those answered.
    pub fn resets(&self) -> u32 {
        self.resets.load(Relaxed)
    }

    /// Whether the connection waits for a request with nothing of the previous one left
    /// in hyper: no byte read yet, or idle after a flushed response to a request that
    /// had no body and no upgrade.
    pub fn parkable(&self) -> bool {
        match self.state.load(Relaxed) {
            FIRST => !self.sticky.load(Relaxed),
            IDLE => self.flushed.load(Relaxed) && !self.sticky.load(Relaxed),
            _ => false,
        }
    }
}

/// Held by a response body; its drop ends the request.
#[derive(Debug)]
pub struct InFlight(Arc<Phase>);

impl InFlight {
    /// The connection's phase.
    pub fn phase(&self) -> &Phase {
        &self.0
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.inflight.fetch_sub(1, Relaxed) == 1 {
            self.0.flushed.store(false, Relaxed);
            self.0.set(IDLE);
        }
    }
}

/// The client stream, reporting when a new request starts arriving.
pub struct TrackedIo {
    inner: ClientStream,
    phase: Arc<Phase>,
    counters: Arc<crate::graph::FrontendShared>,
    /// Bytes hyper had read but not parsed when its state was dropped; read first.
    prefix: bytes::Bytes,
}

impl TrackedIo {
    /// Wraps a client stream; bytes read and written count into the frontend.
    pub fn new(
        inner: ClientStream,
        phase: Arc<Phase>,
        counters: Arc<crate::graph::FrontendShared>,
    ) -> Self {
        TrackedIo {
            inner,
            phase,
            counters,
            prefix: bytes::Bytes::new(),
        }
    }

    /// The socket.
    pub fn stream(&self) -> &ClientStream {
        &self.inner
    }

    /// Bytes to hand out before reading the socket again.
    pub fn set_prefix(&mut self, prefix: bytes::Bytes) {
        self.prefix = prefix;
    }

    /// Whether bytes read ahead are waiting.
    pub fn has_prefix(&self) -> bool {
        !self.prefix.is_empty()
    }
}

impl TrackedIo {
    /// Counts bytes written and notes whether writing is blocked.
    fn wrote(&self, r: &Poll<io::Result<usize>>) {
        match r {
            Poll::Ready(Ok(n)) => {
                self.counters.bytes_out.fetch_add(*n as u64, Relaxed);
                self.phase.written.fetch_add(*n as u64, Relaxed);
                self.phase.write_progress();
            }
            Poll::Pending => self.phase.write_blocked(),
            Poll::Ready(Err(_)) => {}
        }
    }
}

impl AsyncRead for TrackedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            // Already counted when first read: the start of the next request.
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix.split_to(n));
            let s = self.phase.state.load(Relaxed);
            if s == FIRST || s == IDLE {
                self.phase.set(HEAD);
            }
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            let n = (buf.filled().len() - before) as u64;
            self.counters.bytes_in.fetch_add(n, Relaxed);
            self.phase.read.fetch_add(n, Relaxed);
            let s = self.phase.state.load(Relaxed);
            if s == FIRST || s == IDLE {
                self.phase.set(HEAD);
            }
        }
        r
    }
}

impl AsyncWrite for TrackedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.wrote(&r);
        r
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.wrote(&r);
        r
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_flush(cx);
        // hyper flushes the socket only once its own buffer is empty.
        if matches!(r, Poll::Ready(Ok(()))) {
            self.phase.flush_done();
            if self.phase.state.load(Relaxed) == IDLE {
                self.phase.flushed.store(true, Relaxed);
            }
        }
        r
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.phase.sticky.store(true, Relaxed);
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl Drop for TrackedIo {
    /// A request whose response could not be flushed ends with the connection.
    fn drop(&mut self) {
        self.phase.flush_done();
    }
}

/// HAProxy's 408 response.
pub const RESPONSE_408: &[u8] = b"HTTP/1.1 408 Request Time-out\r\ncontent-length: 110\r\ncache-control: no-cache\r\nconnection: close\r\ncontent-type: text/html\r\n\r\n<html><body><h1>408 Request Time-out</h1>\nYour browser didn't send a complete request in time.\n</body></html>\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_408_body_length_is_right() {
        let text = std::str::from_utf8(RESPONSE_408).unwrap();
        let (_, body) = text.split_once("\r\n\r\n").unwrap();
        assert_eq!(body.len(), 110);
    }

    #[tokio::test]
    async fn phases() {
        let p = Phase::new();
        assert_eq!(p.snapshot().0, FIRST);
        let g = p.begin(false);
        assert_eq!(p.snapshot().0, BUSY);
        drop(g);
        assert_eq!(p.snapshot().0, IDLE);
        assert_eq!(p.blocked_since(), None);
        p.write_blocked();
        let since = p.blocked_since().unwrap();
        p.write_blocked();
        assert_eq!(p.blocked_since(), Some(since), "the first block counts");
        p.write_progress();
        assert_eq!(p.blocked_since(), None);
    }

    #[tokio::test]
    async fn parkable_only_when_nothing_is_pending() {
        let p = Phase::new();
        assert!(p.parkable(), "no byte yet");
        let g = p.begin(false);
        assert!(!p.parkable(), "a request is being served");
        drop(g);
        assert!(!p.parkable(), "not before the response is flushed");
        p.flushed.store(true, Relaxed);
        assert!(p.parkable());
        drop(p.begin(true));
        p.flushed.store(true, Relaxed);
        assert!(!p.parkable(), "a request body may still be unread");
        drop(p.begin(false));
        p.flushed.store(true, Relaxed);
        assert!(p.parkable(), "the next request had no body");
    }
}
