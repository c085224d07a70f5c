//! HTTP/2 towards clients: h2c (`bind ... proto h2`, or the connection preface on a
//! clear-text bind) and, once TLS negotiates it, ALPN `h2`.
//!
//! Which protocol a connection speaks is decided once, at its start ([`Start`]): the
//! bind's `proto`, else the ALPN protocol, else its first bytes. An HTTP/2 connection
//! is served by hyper's http2 server with the `tune.h2.*` settings; each stream is one
//! request through the same per-request path as HTTP/1 (`request::handle`), by the
//! same service: only the stream's accounting ([`Stream`]) and the response's
//! connection-specific headers differ.
//!
//! Protections: at most `tune.h2.max-concurrent-streams` streams at once; a header
//! list larger than `tune.bufsize` is refused (which also bounds CONTINUATION frames:
//! the h2 crate ends a connection whose header block needs more than about
//! bufsize / max-frame-size of them, with ENHANCE_YOUR_CALM); streams the client
//! resets before their response (rapid reset, CVE-2023-44487) count against a budget
//! of `max-concurrent-streams` (each answered stream gives one back): past it the
//! connection gets a GOAWAY and is closed, so a client cannot make lbd start an
//! unbounded number of requests towards the servers.

use super::conn::{ClientBody, ConnState};
use crate::config::model::{H2Tune, HttpProto};
use crate::frontend::clientio::{Phase, TrackedIo};
use crate::frontend::stream::ClientStream;
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::time::Instant;

/// The connection preface an HTTP/2 client sends first (RFC 9113 §3.4).
pub(super) const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Streams a client may have reset before their response while being processed
/// before hyper itself answers with GOAWAY (ENHANCE_YOUR_CALM): those still queued
/// for the service (hyper's default).
const PENDING_ACCEPT_RESETS: usize = 20;
/// Streams lbd may reset itself for protocol errors of the client before the
/// connection is closed (hyper's default).
const LOCAL_ERROR_RESETS: usize = 1024;
/// How long a connection told to go away (idle timeout, rapid reset) may still take to
/// flush its GOAWAY before it is closed.
const GOAWAY_GRACE: Duration = Duration::from_secs(1);

/// How a client connection starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// HTTP/1.
    H1,
    /// HTTP/2 at once (prior knowledge, or ALPN `h2`).
    H2,
    /// HTTP/2 when the connection starts with its preface, else HTTP/1.
    Detect,
}

impl Start {
    /// The start of a connection on a bind with `proto`, whose TLS handshake (if any)
    /// negotiated `alpn`. As HAProxy: ALPN `h2` is HTTP/2 and another ALPN protocol
    /// HTTP/1, unless the bind forces one with `proto`; without either, the first
    /// bytes decide.
    pub fn choose(proto: Option<HttpProto>, alpn: Option<&[u8]>) -> Start {
        match (proto, alpn) {
            (Some(HttpProto::H2), _) => Start::H2,
            (Some(HttpProto::H1), _) => Start::H1,
            (None, Some(b"h2")) => Start::H2,
            (None, Some(_)) => Start::H1,
            (None, None) => Start::Detect,
        }
    }
}

/// Whether bytes a client sent first are (so far) the HTTP/2 preface: `Some(true)`
/// when it is complete, `Some(false)` when they differ, `None` when more are needed.
pub(super) fn preface(first: &[u8]) -> Option<bool> {
    let n = first.len().min(PREFACE.len());
    if first[..n] != PREFACE[..n] {
        return Some(false);
    }
    (n == PREFACE.len()).then_some(true)
}

/// Waits for the first bytes of a connection to tell HTTP/2 from HTTP/1 (peeked, left
/// on the socket for the protocol's parser). `None`: the client went away, or a soft
/// stop came first. Past `deadline` (the wait for a request head), HTTP/1: its
/// parser answers the timeout as usual.
pub(super) async fn detect(
    s: &ClientStream,
    deadline: Option<Instant>,
    stop: &mut crate::frontend::stop::StopWatch,
) -> Option<bool> {
    let peek = async {
        let mut buf = [0u8; PREFACE.len()];
        let mut seen = 0;
        loop {
            let n = crate::frontend::stream::peek_more(s, &mut buf, seen)
                .await
                .ok()?;
            if n == 0 {
                return None;
            }
            if let Some(h2) = preface(&buf[..n]) {
                return Some(h2);
            }
            if n == seen {
                return Some(false); // the client shut its side mid-preface
            }
            seen = n;
        }
    };
    tokio::pin!(peek);
    let sleep = deadline.map(tokio::time::sleep_until);
    tokio::pin!(sleep);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(r) = peek.as_mut().poll(cx) {
            return Poll::Ready(r);
        }
        if stop.poll_stopped(cx) {
            return Poll::Ready(None);
        }
        if let Some(s) = sleep.as_mut().as_pin_mut() {
            if s.poll(cx).is_ready() {
                return Poll::Ready(Some(false));
            }
        }
        Poll::Pending
    })
    .await
}

/// One HTTP/2 stream in the service: counts it as reset by the client when dropped
/// before its response head (the rapid-reset budget), and its bytes for the log.
pub(super) struct Stream {
    phase: Arc<Phase>,
    /// The request's size: head (as HTTP/1 would write it) and announced body.
    bytes_in: u64,
    answered: bool,
}

impl Stream {
    /// A stream whose request just arrived.
    pub(super) fn new(phase: &Arc<Phase>, req: &Request<Incoming>) -> Stream {
        let line = req.method().as_str().len() + req.uri().to_string().len() + 12;
        let body = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .unwrap_or(0);
        Stream {
            phase: phase.clone(),
            bytes_in: (line + fields_len(req.headers()) + 2) as u64 + body,
            answered: false,
        }
    }

    /// The response head is ready: the stream was not reset. Removes the headers
    /// HTTP/2 forbids (RFC 9113 §8.2.2) and returns the stream's byte counts so far
    /// (request; response head).
    pub(super) fn answered(
        mut self,
        resp: &mut Response<crate::backend::pool::ProxyBody>,
    ) -> (u64, u64) {
        self.answered = true;
        self.phase.stream_answered();
        let h = resp.headers_mut();
        for n in [
            header::CONNECTION,
            header::TRANSFER_ENCODING,
            header::UPGRADE,
            header::TE,
        ] {
            h.remove(n);
        }
        h.remove("keep-alive");
        h.remove("proxy-connection");
        let status = 15 + resp.status().canonical_reason().map_or(0, str::len);
        (
            self.bytes_in,
            (status + fields_len(resp.headers()) + 2) as u64,
        )
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        if !self.answered {
            self.phase.stream_reset();
        }
    }
}

/// The size of header fields written as HTTP/1 lines (`name: value\r\n`).
fn fields_len(h: &HeaderMap) -> usize {
    h.iter().map(|(n, v)| n.as_str().len() + v.len() + 4).sum()
}

/// The connection window: the stream window (at least HTTP/2's 65535). With the
/// defaults, as HAProxy 2.6, no WINDOW_UPDATE follows the SETTINGS.
fn connection_window(t: &H2Tune) -> u32 {
    t.initial_window_size.max(65535)
}

/// Serves an HTTP/2 connection until it ends: a GOAWAY on soft stop (streams in
/// progress finish), on the idle timeout (`timeout http-keep-alive`, else
/// `http-request`, else `client`, with no stream open) and when the client has reset
/// too many streams; the connection is closed when the client stops reading for
/// `timeout client`.
pub(super) async fn serving<S>(
    io: TrackedIo,
    svc: S,
    state: &mut ConnState<'_, '_>,
    tune: H2Tune,
    bufsize: usize,
) where
    S: hyper::service::Service<
            Request<Incoming>,
            Response = Response<ClientBody>,
            Error = Infallible,
        > + Send
        + 'static,
    S::Future: Send + 'static,
{
    let ConnState {
        phase,
        settings,
        timer,
        stop,
        ..
    } = state;
    let (phase, settings) = (*phase, *settings);
    let mut b = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    b.timer(TokioTimer::new())
        .max_concurrent_streams(tune.max_concurrent_streams)
        .header_table_size(tune.header_table_size)
        .initial_stream_window_size(tune.initial_window_size)
        .initial_connection_window_size(connection_window(&tune))
        .max_frame_size(tune.max_frame_size)
        .max_header_list_size(bufsize.min(u32::MAX as usize) as u32)
        .max_pending_accept_reset_streams(PENDING_ACCEPT_RESETS)
        .max_local_error_reset_streams(LOCAL_ERROR_RESETS);
    let mut conn = b.serve_connection(TokioIo::new(io), svc);
    let budget = tune.max_concurrent_streams.max(10);
    // Set once the connection was told to go away for a reason of its own.
    let mut close_at: Option<Instant> = None;
    let mut draining = stop.is_stopped();
    if draining {
        std::pin::Pin::new(&mut conn).graceful_shutdown();
    }
    enum Event {
        Done,
        Timer,
        Stop,
        Calm,
    }
    loop {
        let event = std::future::poll_fn(|cx| {
            if std::pin::Pin::new(&mut conn).poll(cx).is_ready() {
                return Poll::Ready(Event::Done);
            }
            if close_at.is_none() && phase.resets() > budget {
                return Poll::Ready(Event::Calm);
            }
            if !draining && stop.poll_stopped(cx) {
                return Poll::Ready(Event::Stop);
            }
            let want = close_at.or_else(|| settings.limits.next(phase));
            if timer.poll(want, cx) {
                return Poll::Ready(Event::Timer);
            }
            Poll::Pending
        })
        .await;
        let now = Instant::now();
        match event {
            Event::Done => return,
            Event::Stop => {
                std::pin::Pin::new(&mut conn).graceful_shutdown();
                draining = true;
            }
            Event::Calm => {
                std::pin::Pin::new(&mut conn).graceful_shutdown();
                draining = true;
                close_at = Some(now + GOAWAY_GRACE);
            }
            Event::Timer => {
                if close_at.is_some_and(|c| c <= now)
                    || settings.limits.write(phase).is_some_and(|d| d <= now)
                {
                    return;
                }
                if close_at.is_none() && settings.limits.next(phase).is_some_and(|d| d <= now) {
                    std::pin::Pin::new(&mut conn).graceful_shutdown();
                    draining = true;
                    close_at = Some(now + GOAWAY_GRACE);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preface_is_recognized_byte_by_byte() {
        assert_eq!(preface(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), Some(true));
        assert_eq!(preface(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0"), Some(true));
        assert_eq!(preface(b"PRI * HT"), None);
        assert_eq!(preface(b"P"), None);
        assert_eq!(preface(b"POST / HTTP/1.1\r\n"), Some(false));
        assert_eq!(preface(b"GET"), Some(false));
    }

    #[test]
    fn the_bind_then_alpn_then_the_bytes_choose() {
        assert_eq!(Start::choose(Some(HttpProto::H2), None), Start::H2);
        assert_eq!(Start::choose(Some(HttpProto::H1), Some(b"h2")), Start::H1);
        assert_eq!(Start::choose(None, Some(b"h2")), Start::H2);
        assert_eq!(Start::choose(None, Some(b"http/1.1")), Start::H1);
        assert_eq!(Start::choose(None, None), Start::Detect);
    }

    #[test]
    fn the_connection_window_follows_the_stream_window() {
        let t = H2Tune::default();
        assert_eq!(connection_window(&t), 65535);
        let wide = H2Tune {
            initial_window_size: 1 << 20,
            ..t
        };
        assert_eq!(connection_window(&wide), 1 << 20);
        let small = H2Tune {
            initial_window_size: 1024,
            ..t
        };
        assert_eq!(connection_window(&small), 65535);
    }
}
