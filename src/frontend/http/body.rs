//! A request body read ahead of the rules: `http-request wait-for-body` and `option
//! http-buffer-request`. The proxy waits until the body is complete, `at-least` bytes
//! are in, or the buffer (`tune.bufsize`) is full, whichever comes first; then the
//! rules go on with `req.body` readable, and the server gets the bytes read ahead
//! followed by the rest of the body, untouched.

use crate::backend::pool::{AheadBody, BodyTimer, ProxyBody};
use crate::rules::BodyWait;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use std::time::Duration;
use tokio::time::Instant;

/// A client's request body, as much of it as was read ahead.
pub(super) struct ClientBody {
    /// What the client still sends.
    pub rest: Incoming,
    /// What was read ahead (None: nothing was waited for).
    pub ahead: Option<Ahead>,
}

/// The part of a body read ahead.
#[derive(Default)]
pub(super) struct Ahead {
    /// The bytes.
    pub data: Bytes,
    /// The trailers, when the body ended with them.
    pub trailers: Option<hyper::HeaderMap>,
    /// Whether the whole body is in.
    pub ended: bool,
}

/// Why reading ahead stopped short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Short {
    /// `time` (or `timeout client` between two reads) passed: 408, `cD`.
    Timeout,
    /// The client closed before the end of its body: no answer, `CR`.
    Aborted,
    /// The body was malformed (a bad chunk): 400, `CD`.
    Invalid,
}

impl ClientBody {
    /// A body not read ahead yet.
    pub fn new(rest: Incoming) -> Self {
        ClientBody { rest, ahead: None }
    }

    /// The bytes read ahead (what `req.body` reads), once waited for.
    pub fn bytes(&self) -> Option<&[u8]> {
        self.ahead.as_ref().map(|a| &a.data[..])
    }

    /// Reads the body ahead as `wait` says, each read bounded by `per_read` (`timeout
    /// client`), at most `limit` bytes. A second wait finds the body already read.
    pub async fn read_ahead(
        &mut self,
        wait: BodyWait,
        per_read: Option<Duration>,
        limit: usize,
    ) -> Result<(), Short> {
        if self.ahead.is_some() {
            return Ok(());
        }
        let (ahead, short) = read_ahead(&mut self.rest, wait, per_read, limit, |e| {
            if e.is_incomplete_message() || e.is_canceled() {
                Short::Aborted
            } else {
                Short::Invalid
            }
        })
        .await;
        self.ahead = Some(ahead);
        short.map_or(Ok(()), Err)
    }

    /// The body to send to the server: what was read ahead, then the rest.
    pub fn into_proxy(self, timer: Option<Box<BodyTimer>>) -> ProxyBody {
        match self.ahead {
            None => ProxyBody::Request(self.rest, timer),
            Some(a) => a.before(ProxyBody::Request(self.rest, timer)),
        }
    }
}

impl Ahead {
    /// A body of these bytes read ahead, then `rest`.
    pub fn before(self, rest: ProxyBody) -> ProxyBody {
        ProxyBody::Ahead(Box::new(AheadBody {
            data: (!self.data.is_empty()).then_some(self.data),
            trailers: self.trailers,
            ended: self.ended,
            rest,
        }))
    }
}

/// Reads `body` ahead: until it ends, `wait.at_least` bytes (0: `limit`) are in, or
/// `wait.time` passes (`Short::Timeout`), each read bounded by `per_read`. Returns what
/// was read, and why it stopped short (`classify` names a body error).
pub(super) async fn read_ahead<B>(
    body: &mut B,
    wait: BodyWait,
    per_read: Option<Duration>,
    limit: usize,
    classify: impl Fn(&B::Error) -> Short,
) -> (Ahead, Option<Short>)
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let deadline = wait.time.map(|t| Instant::now() + t);
    let enough = if wait.at_least == 0 {
        limit
    } else {
        (wait.at_least as usize).min(limit)
    };
    let mut data = BytesMut::new();
    let mut ahead = Ahead::default();
    let mut short = None;
    while !ahead.ended && data.len() < enough {
        if body.is_end_stream() {
            ahead.ended = true;
            break;
        }
        let until = match (deadline, per_read.map(|t| Instant::now() + t)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let next = body.frame();
        let frame = match until {
            Some(u) => match tokio::time::timeout_at(u, next).await {
                Ok(f) => f,
                Err(_) => {
                    short = Some(Short::Timeout);
                    break;
                }
            },
            None => next.await,
        };
        match frame {
            None => ahead.ended = true,
            Some(Ok(f)) => match f.into_data() {
                Ok(d) => data.extend_from_slice(&d),
                Err(f) => {
                    ahead.trailers = f.into_trailers().ok();
                    ahead.ended = true;
                }
            },
            Some(Err(e)) => {
                short = Some(classify(&e));
                break;
            }
        }
    }
    ahead.data = data.freeze();
    (ahead, short)
}

impl super::request::Req<'_> {
    /// The `tcp-request content` and `http-request` rules of the frontend (`be`: None)
    /// or of the backend once chosen. The body is read ahead first under `option
    /// http-buffer-request`, and where a `wait-for-body` rule is met; its rules then
    /// go on after it.
    pub(super) async fn request_rules(
        &mut self,
        be: Option<&crate::backend::Backend>,
        parts: &mut hyper::http::request::Parts,
        body: &mut ClientBody,
    ) -> Option<hyper::Response<ProxyBody>> {
        let (fe, graph) = (self.fe, self.graph);
        let (rs, opts) = match be {
            Some(b) => (&b.rules, &b.options),
            None => (&fe.rules, &fe.options),
        };
        let (per_read, limit) = (fe.timeouts.client, graph.bufsize);
        if opts.buffer_request {
            let wait = BodyWait {
                time: fe.timeouts.http_request,
                at_least: 0,
            };
            if let Err(s) = Box::pin(body.read_ahead(wait, per_read, limit)).await {
                if let Some(r) = self.short(s, be) {
                    return Some(r);
                }
            }
        }
        if rs.request.is_empty() && rs.tcp_content.is_empty() {
            return None;
        }
        let mut start = 0;
        loop {
            let sv = self.stats_view(be);
            let mut ctx = super::actions::Ctx::new(self.conn, self.addrs, graph, fe, &sv)
                .with_track(&self.track)
                .with_captures(&self.captures)
                .with_unique_id(self.unique_id.as_deref())
                .with_state(&self.state)
                .with_body(body.bytes());
            if let Some(b) = be {
                ctx = ctx.with_be(b);
            }
            let vars = &mut self.vars;
            let answer = if start == 0 {
                super::actions::content_rules(rs, &ctx, vars, parts)
            } else {
                None
            }
            .or_else(|| {
                super::actions::apply(
                    rs,
                    &rs.request[start..],
                    &ctx,
                    vars,
                    super::actions::Msg::Req(parts),
                )
            });
            self.sync_addrs(parts);
            let mut resp = answer?;
            let Some(ra) = resp.extensions_mut().remove::<super::actions::ReadAhead>() else {
                return Some(resp);
            };
            start += ra.next;
            if let Err(s) = Box::pin(body.read_ahead(ra.wait, per_read, limit)).await {
                if let Some(r) = self.short(s, be) {
                    return Some(r);
                }
            }
        }
    }

    /// The answer to a body read ahead that stopped short: 408 (`cD`) when time ran
    /// out, 400 (`CD`) for a malformed body; none for a client that left (the rules
    /// go on with what came, and the request ends as `CR` before any server).
    fn short(
        &mut self,
        s: Short,
        be: Option<&crate::backend::Backend>,
    ) -> Option<hyper::Response<ProxyBody>> {
        let (status, term) = match s {
            Short::Timeout => (408, *b"cD"),
            Short::Invalid => (400, *b"CD"),
            Short::Aborted => {
                self.client_gone = true;
                return None;
            }
        };
        self.trace.term = term;
        Some(self.pages(be).response(status, None, self.json))
    }
}
