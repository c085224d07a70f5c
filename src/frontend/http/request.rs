//! One request through the proxy, in named steps around one context ([`Req`]):
//!
//! 1. head checks and framing (`head`), the client's upgrade wish;
//! 2. the frontend's `http-request` rules, then the stats page;
//! 3. the backend (`use_backend`, `default_backend`, a listen's own servers) and its
//!    `http-request` rules;
//! 4. persistence (cookie, stick table) and the balancing key ([`Route`]);
//! 5. the upstream request: hop-by-hop headers, `forwardfor`, connection mode;
//! 6. pick + connect + retry (`upstream`), then the response (`response`);
//! 7. the access-log line, sent when the response body ends.

use super::actions::{self, Ctx, Msg, SavedReq};
use super::conn::ConnCtx;
use super::head::{self, body_is_empty, strip_hop_by_hop, validate_head, wants_upgrade};
use super::reply::{prefers_json, Pages};
use super::upstream::{self, Upstream};
use crate::backend::connect::Attempts;
use crate::backend::pool::{self, ProxyBody};
use crate::backend::{persist, Backend, NoServer};
use crate::config::model::HttpConnMode;
use crate::frontend::clientio::{Done, ReqTimes};
use crate::graph::StatsView;
use crate::graph::{FrontendRt, Graph};
use crate::rules::in_net;
use crate::sample::Vars;
use hyper::body::Incoming;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, Request, Response, Version};
use std::net::IpAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// Why a request got no response from a server.
#[derive(Debug, thiserror::Error)]
pub(super) enum ProxyError {
    /// No server could be given (none usable, queue full or queue timeout).
    #[error("{0}")]
    NoServer(NoServer),
    /// Every connect attempt failed.
    #[error("connection to the server failed after the last retry")]
    Connect,
    /// `timeout server` expired before the response head.
    #[error("server timeout")]
    ServerTimeout,
    /// The server's response was invalid or cut, or it closed without one.
    #[error("invalid or missing response from the server")]
    BadResponse,
    /// The client's own request body was malformed or cut (e.g. a bad chunk).
    #[error("invalid request body")]
    ClientBody,
    /// The client's request body stalled for `timeout client`.
    #[error("client timeout while sending the body")]
    ClientTimeout,
}

impl ProxyError {
    /// The termination state HAProxy logs for it (`%ts`).
    fn term(&self) -> [u8; 2] {
        match self {
            ProxyError::NoServer(NoServer::QueueTimeout) => *b"sQ",
            ProxyError::NoServer(_) | ProxyError::Connect => *b"SC",
            ProxyError::ServerTimeout => *b"sH",
            ProxyError::BadResponse => *b"SH",
            ProxyError::ClientBody => *b"CD",
            ProxyError::ClientTimeout => *b"cD",
        }
    }

    /// The status lbd answers with, and whether the error page names the backend.
    fn status(&self) -> (u16, bool) {
        match self {
            ProxyError::NoServer(_) | ProxyError::Connect => (503, true),
            ProxyError::ServerTimeout => (504, true),
            ProxyError::BadResponse => (502, true),
            ProxyError::ClientBody => (400, false),
            ProxyError::ClientTimeout => (408, false),
        }
    }
}

/// On a response: there is none (the client left first); the log says status -1.
#[derive(Debug, Clone, Copy)]
pub(super) struct NoResponse;

/// What the access log needs to know about how a request was served.
#[derive(Default)]
pub(super) struct Trace {
    /// Whether the access log wants timings (else only what statistics need is read).
    pub timed: bool,
    /// The backend chosen.
    pub backend: Option<Arc<Backend>>,
    /// Index of the server in `backend`.
    pub server: Option<usize>,
    /// Slot acquired (end of queue wait); only when `timed`.
    pub picked: Option<std::time::Instant>,
    /// Connection ready.
    pub connected: Option<std::time::Instant>,
    /// Response head received.
    pub responded: Option<std::time::Instant>,
    /// Failed attempts before the last one.
    pub retries: u32,
    /// `%tsc`'s cookie characters: the client's persistence cookie (`N`one, `I`nvalid,
    /// `D`own server, `V`alid, `E`xpired) and what the response did with it
    /// (`N`othing, `I`nserted, `U`pdated, `P`rovided by the server, `R`ewritten);
    /// `-` without `cookie` in the backend.
    pub cookie: [u8; 2],
    /// `%ts`: why the request ended and in which phase (`--`: normally).
    pub term: [u8; 2],
    /// `%rt`: the process's request counter when the request came.
    pub counter: u64,
    /// What TLS negotiated on the server connection that served it (`ssl_bc*`).
    pub srv_tls: Option<Arc<crate::backend::stream::SrvTls>>,
}

/// One request and what its steps share.
pub(super) struct Req<'a> {
    /// The client connection.
    pub conn: &'a ConnCtx,
    /// The graph the request runs on.
    pub graph: &'a Graph,
    /// The frontend that took it.
    pub fe: &'a FrontendRt,
    /// The client's address (none for a unix socket client).
    pub src: Option<IpAddr>,
    /// The request's addresses (the connection's, until `set-src` and friends).
    pub addrs: crate::sample::conn::Addrs,
    /// Error pages in JSON (the client's `Accept` prefers it).
    pub json: bool,
    /// For the access log.
    pub trace: Trace,
    /// The transaction's variables (`txn.`, `req.`, `res.`, and `sess.` for now).
    pub vars: Vars,
    /// The stick-table entries the request tracks (released when it ends).
    pub track: crate::stick::Trackers,
    /// Capture slots (headers, `http-request capture`, `http-response capture`).
    pub captures: super::capture::Captures,
    /// The unique id (`unique-id-format`).
    pub unique_id: Option<String>,
    /// What rules changed besides the messages (`strict-mode`, `set-timeout`).
    pub state: actions::RuleState,
    /// The client closed while its body was read ahead: no server is contacted.
    pub client_gone: bool,
}

/// The backend a request goes to and how its server is chosen.
pub(super) struct Route {
    /// The backend.
    pub be: Arc<Backend>,
    /// The backend is the other half of the frontend's `listen` (its rules are the
    /// frontend's).
    pub same_proxy: bool,
    /// A persisted server (cookie or stick table).
    pub pinned: Option<usize>,
    /// The persistence cookie the client sent, decoded.
    pub seen: Option<persist::Seen>,
    /// The keys stick rules store the request's server under.
    pub stick_store: Vec<crate::stick::Key>,
    /// The balancing key (hash algorithms).
    pub key: Option<u64>,
}

/// What the response step needs of the request once it is sent.
pub(super) struct Sent {
    /// The request method (framing of the response, `postonly` cookies).
    pub method: Method,
    /// The request as sent, for response rules.
    pub saved: Option<SavedReq>,
    /// The server connection is not kept (`http-server-close`, `httpclose`).
    pub server_close: bool,
    /// The request is an upgrade both sides may agree to.
    pub is_upgrade: bool,
    /// The client's side of an upgrade.
    pub client_upgrade: Option<hyper::upgrade::OnUpgrade>,
}

/// The request for the server and what goes with it.
struct Outgoing {
    /// The request.
    up: Request<ProxyBody>,
    /// What the response step needs.
    sent: Sent,
    /// The client's upload progress (`timeout server` waits on it).
    upload: Option<Arc<pool::BodyProgress>>,
    /// A bodiless request's head, for a replay.
    head: Option<upstream::Replay>,
}

/// Serves one request: the steps above, the status counted, the access log armed.
/// `times` says how long the connection was idle and the head took to arrive. The
/// returned end, run once the response is sent, counts its bytes (headers included)
/// into the server and sends the access-log line.
pub(super) async fn handle(
    conn: Arc<ConnCtx>,
    mut req: Request<Incoming>,
    times: ReqTimes,
) -> (Response<ProxyBody>, Done) {
    head::normalize_scheme(req.uri_mut());
    let (graph, fe_idx) = conn.current();
    let fe = &graph.frontends[fe_idx];
    fe.shared.requests.fetch_add(1, Relaxed);
    let counter = crate::frontend::access::next_request();
    let logging = fe.log_format.is_some() && !fe.logs.is_empty();
    // Clocks and the request line only when an access log line will be written.
    let timing = logging.then(|| {
        (
            std::time::Instant::now(),
            std::time::SystemTime::now(),
            format!("{} {} {:?}", req.method(), req.uri(), req.version()),
        )
    });
    let captures = super::capture::Captures::new(fe, req.headers());
    let mut r = Req {
        conn: &conn,
        graph: &graph,
        fe,
        src: conn.peer.ip(),
        addrs: crate::sample::conn::Addrs {
            src: conn.peer.inet(),
            dst: conn.local,
        },
        json: prefers_json(req.headers()),
        trace: Trace {
            timed: logging,
            cookie: *b"--",
            term: *b"--",
            counter,
            ..Trace::default()
        },
        vars: conn.sess_vars(),
        track: Default::default(),
        captures,
        unique_id: None,
        state: Default::default(),
        client_gone: false,
    };
    // The entries the connection tracks count each of its requests.
    conn.track.request();
    let bytes_in = head::body_len(req.headers());
    let saved = (graph.after_rules || logging).then(|| actions::SavedReq::of(&req));
    let mut resp = r.proxy(req).await;
    // `http-request tarpit`: the answer waits `timeout tarpit`.
    if let Some(actions::Tarpit(hold)) = resp.extensions_mut().remove::<actions::Tarpit>() {
        tokio::time::sleep(hold).await;
    }
    if let Some(saved) = saved.as_ref().filter(|_| graph.after_rules) {
        resp = r.after_response(saved, resp);
    }
    conn.keep_sess_vars(&r.vars);
    let status = resp.status().as_u16();
    fe.shared.count_status(status);
    let bytes_out = std::cell::OnceCell::new();
    for t in [&r.track, &conn.track] {
        t.response(status, r.trace.server.is_some());
        t.bytes(bytes_in, || {
            *bytes_out.get_or_init(|| head::body_len(resp.headers()))
        });
    }
    let mut line = None;
    if let (Some((start, at, request_line)), Some(saved)) = (timing, &saved) {
        let (parts, body) = resp.into_parts();
        line = r.log_line(&parts, saved, times, (start, at), &request_line);
        resp = Response::from_parts(parts, body);
    }
    let server = r
        .trace
        .backend
        .as_ref()
        .zip(r.trace.server)
        .map(|(b, i)| b.servers[i].state.clone());
    let (term, cookie) = (r.trace.term, r.trace.cookie);
    let done: Done = Box::new(move |bytes_in, bytes_out| {
        if let Some(st) = server {
            st.bytes_in.fetch_add(bytes_in, Relaxed);
            st.bytes_out.fetch_add(bytes_out, Relaxed);
        }
        if let Some((line, start)) = line {
            line.finish(crate::sample::LogEnd {
                bytes_out,
                bytes_in,
                total: times.idle + times.head + start.elapsed().as_millis() as i64,
                term: [term[0], term[1], cookie[0], cookie[1]],
            });
        }
    });
    (resp, done)
}

impl<'a> Req<'a> {
    /// The error pages of the frontend, and of the backend once chosen.
    pub(super) fn pages<'p>(&'p self, be: Option<&'p Backend>) -> Pages<'p> {
        Pages {
            be: be.map(|b| &b.error_pages),
            fe: &self.fe.error_pages,
        }
    }

    /// `http-after-response` rules (the backend's, then the frontend's) on any
    /// response, lbd's own included.
    fn after_response(
        &mut self,
        saved: &actions::SavedReq,
        resp: Response<ProxyBody>,
    ) -> Response<ProxyBody> {
        let (mut parts, body) = resp.into_parts();
        let be = self.trace.backend.clone();
        let sv = self.stats_view(be.as_deref());
        let mut ctx = Ctx::new(self.conn, self.addrs, self.graph, self.fe, &sv)
            .with_track(&self.track)
            .with_captures(&self.captures)
            .with_unique_id(self.unique_id.as_deref())
            .with_state(&self.state);
        let srv = be
            .as_ref()
            .zip(self.trace.server)
            .map(|(b, i)| b.servers[i].clone());
        if let Some(b) = &be {
            ctx = ctx.with_be(b);
        }
        if let (Some(s), Some(i)) = (&srv, self.trace.server) {
            ctx = ctx.with_srv(&s.name, i as i64 + 1);
        }
        let fe_rules = &self.fe.rules;
        let sets: Vec<&crate::rules::RuleSet> = match &be {
            Some(b) if b.proxy_id != self.fe.proxy_id => vec![&b.rules, fe_rules],
            _ => vec![fe_rules],
        };
        for rs in sets {
            actions::apply(
                rs,
                &rs.after,
                &ctx,
                &mut self.vars,
                Msg::Res(saved, &mut parts),
            );
        }
        Response::from_parts(parts, body)
    }

    /// The stats rules read: the graph, and the backend once chosen.
    pub(super) fn stats_view(&self, be: Option<&'a Backend>) -> StatsView<'a> {
        StatsView {
            graph: self.graph,
            be,
        }
    }

    /// What rules read besides the message.
    pub(super) fn ctx<'s>(&'s self, stats: &'s StatsView<'s>) -> Ctx<'s>
    where
        'a: 's,
    {
        Ctx::new(self.conn, self.addrs, self.graph, self.fe, stats)
            .with_track(&self.track)
            .with_captures(&self.captures)
            .with_unique_id(self.unique_id.as_deref())
            .with_state(&self.state)
    }

    /// Evaluates a condition of the frontend's rule set against the request.
    fn fe_cond(&self, c: &crate::rules::Cond, parts: &Parts) -> bool {
        let sv = self.stats_view(None);
        let ctx = self.ctx(&sv);
        let uri = actions::target(&parts.uri);
        self.fe.rules.eval(c, &ctx.env(&self.vars, parts, &uri))
    }

    /// Takes the addresses request rules gave the request (`set-src`...), for what
    /// follows: rules, `balance source`, stick tables, `forwardfor`, the log, the
    /// server's PROXY header.
    pub(super) fn sync_addrs(&mut self, parts: &Parts) {
        if let Some(a) = parts.extensions.get::<crate::sample::conn::Addrs>() {
            self.addrs = *a;
            self.src = a.src.map(|s| s.ip());
        }
    }

    /// The request's client as logs and PROXY headers name it.
    pub(super) fn client(&self) -> crate::log::Client {
        self.addrs
            .src
            .map_or(self.conn.peer, crate::log::Client::Inet)
    }

    /// The steps, in order; each may answer the request itself.
    async fn proxy(&mut self, mut req: Request<Incoming>) -> Response<ProxyBody> {
        let client_upgrade = wants_upgrade(req.headers()).then(|| hyper::upgrade::on(&mut req));
        let (mut parts, body) = req.into_parts();
        let mut body = super::body::ClientBody::new(body);
        if let Err(status) = validate_head(&mut parts) {
            self.trace.term = *b"PR";
            return self.pages(None).response(status, None, self.json);
        }
        self.unique_id(&mut parts);
        if let Some(r) = self.monitor(&parts) {
            return r;
        }
        let fe = self.fe;
        if let Some(r) = self.request_rules(None, &mut parts, &mut body).await {
            return r;
        }
        if let Some(r) = self.stats_page(&fe.stats, &parts) {
            return r;
        }
        let Some(be) = self.choose_backend(&parts) else {
            return self.pages(None).response(503, None, self.json);
        };
        self.trace.backend = Some(be.clone());
        let same_proxy = be.proxy_id == fe.proxy_id;
        if !same_proxy {
            if let Some(r) = self.request_rules(Some(&be), &mut parts, &mut body).await {
                return r;
            }
            if let Some(r) = self.stats_page(&be.stats, &parts) {
                return r;
            }
        }
        // The client left while its body was read ahead: no server is contacted, and
        // nothing is answered (HAProxy's `CR`, status -1).
        if self.client_gone {
            self.trace.term = *b"CR";
            let mut r = Response::new(ProxyBody::Abort);
            r.extensions_mut().insert(NoResponse);
            return r;
        }
        // `option http-restrict-req-hdr-names`, the frontend's then the backend's.
        let restrict = [fe.options.restrict_hdr_names, be.options.restrict_hdr_names];
        for mode in &restrict[..if same_proxy { 1 } else { 2 }] {
            if head::restrict_names(*mode, &mut parts.headers).is_err() {
                // As HAProxy, the connection stays open for the next request.
                fe.shared.denied.fetch_add(1, Relaxed);
                let mut r = self.pages(Some(&be)).response(403, None, self.json);
                r.headers_mut().remove(hyper::header::CONNECTION);
                return r;
            }
        }
        let route = self.persistence(be, same_proxy, &mut parts);
        // The servers' `sni` expressions (if any), on the request as the rules left it.
        let sni = if !route.be.has_sni() {
            Vec::new()
        } else {
            let sv = self.stats_view(Some(&route.be));
            let ctx = Ctx::new(self.conn, self.addrs, self.graph, fe, &sv)
                .with_be(&route.be)
                .with_unique_id(self.unique_id.as_deref());
            let target = actions::target(&parts.uri);
            route.be.sni_values(&ctx.env(&self.vars, &parts, &target))
        };
        let Outgoing {
            up,
            mut sent,
            upload,
            head,
        } = self.upstream_request(&route, parts, body, client_upgrade);
        let mut attempts = Attempts::new(route.be.clone(), route.key, route.pinned);
        let how = Upstream {
            no_pool: sent.server_close,
            upgrade: sent.is_upgrade,
            head,
            upload: upload.as_deref(),
            addrs: (self.client(), self.addrs.dst),
            tlv: crate::backend::proxy_proto::TlvSource {
                authority: self.conn.info.proxy.as_ref().and_then(|p| p.tlv(0x02)),
                unique_id: self.unique_id.as_deref().map(str::as_bytes),
            },
            server_timeout: self.state.server(route.be.timeouts.server),
            sni,
        };
        match upstream::exchange(&mut attempts, up, &how, &mut self.trace).await {
            Ok(x) => self.respond(&route, &mut sent, x).await,
            Err(e) => {
                if let ProxyError::NoServer(_) = e {
                    route.be.shared.no_server.fetch_add(1, Relaxed);
                }
                let (status, named) = e.status();
                self.trace.term = e.term();
                let be = named.then_some(route.be.name.as_str());
                self.pages(Some(&route.be)).response(status, be, self.json)
            }
        }
    }

    /// `monitor-uri`: a request for it is answered here, before any rule: 200, or 503
    /// when a `monitor fail` condition matches. A URI starting with `/` is compared
    /// with the request's path, another with the whole target (absolute form).
    fn monitor(&self, parts: &Parts) -> Option<Response<ProxyBody>> {
        let m = self.fe.monitor_uri.as_deref()?;
        let hit = if m.starts_with('/') {
            parts.uri.path() == m
        } else {
            parts.uri == m
        };
        if !hit {
            return None;
        }
        let failing = self.fe.monitor_fail.iter().any(|c| self.fe_cond(c, parts));
        Some(
            self.pages(None)
                .response(if failing { 503 } else { 200 }, None, self.json),
        )
    }

    /// The stats page of the frontend (before any backend is chosen) or of the backend
    /// (after its request rules), when the request is for it.
    fn stats_page(
        &self,
        stats: &crate::config::model::StatsCfg,
        parts: &Parts,
    ) -> Option<Response<ProxyBody>> {
        let pq = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        if !crate::stats::page::matches(stats, pq) {
            return None;
        }
        let pq = pq.to_string();
        Some(crate::stats::page::serve(
            stats,
            &pq,
            &parts.headers,
            &self.conn.handle,
        ))
    }

    /// `use_backend` rules in order, then `default_backend` (a listen: its own).
    fn choose_backend(&self, parts: &Parts) -> Option<Arc<Backend>> {
        let fe = self.fe;
        if fe.switching.is_empty() {
            return Some(self.graph.backends[fe.default_backend?].clone());
        }
        let sv = self.stats_view(None);
        let ctx = self.ctx(&sv);
        let uri = actions::target(&parts.uri);
        let env = ctx.env(&self.vars, parts, &uri);
        let idx = fe
            .switching
            .iter()
            .filter(|(c, _)| fe.rules.eval(c, &env))
            .find_map(|(_, to)| to.pick(self.graph, &env))
            .or(fe.default_backend)?;
        Some(self.graph.backends[idx].clone())
    }

    /// Persistence: a valid cookie or a stick-table entry pins the server; the
    /// balancing key for hash algorithms. The persistence cookie is removed from the
    /// request.
    fn persistence(&mut self, be: Arc<Backend>, same_proxy: bool, parts: &mut Parts) -> Route {
        let mut pinned: Option<usize> = None;
        let mut seen: Option<persist::Seen> = None;
        if let Some(ck) = &be.cookie {
            let sent = persist::find(&parts.headers, &ck.name);
            if let Some(v) = sent {
                seen = persist::decode(ck, v, persist::now_secs());
            }
            if let Some(sn) = seen.as_ref().filter(|s| !s.expired) {
                pinned = be.cookie_index.get(&sn.server).copied();
            }
            self.trace.cookie[0] = match (&sent, &seen, pinned) {
                (None, ..) => b'N',
                (_, Some(sn), _) if sn.expired => b'E',
                (_, _, Some(i)) if be.servers[i].state.is_up() => b'V',
                (_, _, Some(_)) => b'D',
                _ => b'I',
            };
            persist::strip_request(ck, &mut parts.headers);
        }
        // `use-server` rules, unless a valid cookie named a server that is UP.
        if !be.use_server.is_empty() && !pinned.is_some_and(|i| be.servers[i].state.is_up()) {
            let sv = self.stats_view(Some(&be));
            let ctx = self.ctx(&sv).with_be(&be);
            let uri = actions::target(&parts.uri);
            if let Some(i) = be.use_server(&ctx.env(&self.vars, parts, &uri)) {
                pinned = Some(i);
            }
        }
        let mut stick_store = Vec::new();
        if let Some(st) = &be.stick {
            let sv = self.stats_view(Some(&be));
            let ctx = self.ctx(&sv).with_be(&be);
            let uri = actions::target(&parts.uri);
            let env = ctx.env(&self.vars, parts, &uri);
            if pinned.is_none() {
                pinned = st.lookup(&env).and_then(|n| be.server_index(&n));
            }
            stick_store = st.stores(&env);
        }
        let key = if be.balancer.wants_key() {
            crate::backend::balance::request_key(&be.balance, &parts.uri, &parts.headers, self.src)
        } else {
            None
        };
        Route {
            be,
            same_proxy,
            pinned,
            seen,
            stick_store,
            key,
        }
    }

    /// Builds the request sent to the server: origin-form target, hop-by-hop headers
    /// removed, `forwardfor`, the connection mode; the client's body streamed with
    /// `timeout client` per wait. Also returns the upload progress and, for a bodiless
    /// request, its head for a replay.
    fn upstream_request(
        &self,
        route: &Route,
        mut parts: Parts,
        body: super::body::ClientBody,
        client_upgrade: Option<hyper::upgrade::OnUpgrade>,
    ) -> Outgoing {
        let (fe, be, src) = (self.fe, &route.be, self.src);
        let needs_resp_info = [&fe.rules, &be.rules]
            .iter()
            .any(|rs| !rs.response.is_empty() || !rs.tcp_response.is_empty())
            || be.stick.as_ref().is_some_and(|s| s.stores_on_response());
        let saved = needs_resp_info.then(|| SavedReq {
            method: parts.method.clone(),
            uri: actions::target(&parts.uri).into_owned(),
            version: parts.version,
            headers: parts.headers.clone(),
        });
        let version = parts.version;
        let uri: hyper::Uri = match parts.uri.path_and_query() {
            Some(pq) if parts.uri.scheme().is_some() || parts.uri.authority().is_some() => pq
                .as_str()
                .parse()
                .unwrap_or_else(|_| hyper::Uri::from_static("/")),
            Some(_) => std::mem::take(&mut parts.uri),
            None => hyper::Uri::from_static("/"),
        };
        let mut headers = std::mem::take(&mut parts.headers);
        let trailers = head::accepts_trailers(&headers);
        let is_upgrade = strip_hop_by_hop(&mut headers, true) && client_upgrade.is_some();
        // A unix client has no address to forward: HAProxy adds no header for it.
        if let (Some(ff), Some(src)) = (
            fe.options
                .forwardfor
                .as_ref()
                .or(be.options.forwardfor.as_ref()),
            src,
        ) {
            let skip = (ff.if_none && headers.contains_key(ff.header.as_str()))
                || ff.except.is_some_and(|(net, len)| in_net(src, net, len));
            if !skip {
                if let (Ok(n), Ok(v)) = (
                    HeaderName::from_bytes(ff.header.as_bytes()),
                    HeaderValue::from_str(&src.to_string()),
                ) {
                    headers.append(n, v);
                }
            }
        }
        // `option originalto`: the address the client reached (none on a unix socket).
        if let (Some(ot), Some(dst)) = (
            fe.options
                .originalto
                .as_ref()
                .or(be.options.originalto.as_ref()),
            self.addrs.dst.map(|d| d.ip()),
        ) {
            if !ot.except.is_some_and(|(net, len)| in_net(dst, net, len)) {
                if let (Ok(n), Ok(v)) = (
                    HeaderName::from_bytes(ot.header.as_bytes()),
                    HeaderValue::from_str(&dst.to_string()),
                ) {
                    headers.append(n, v);
                }
            }
        }
        // `http-reuse never`: the server connection is nobody else's either.
        let server_close = fe.options.http_conn != HttpConnMode::KeepAlive
            || be.options.http_conn != HttpConnMode::KeepAlive
            || be.options.http_reuse == crate::config::model::HttpReuse::Never;
        if server_close && !is_upgrade {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        } else if version == Version::HTTP_10 && !is_upgrade {
            headers.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
        }
        if trailers {
            // `TE: trailers`, with the `te` connection option HTTP/1 wants beside it
            // (an HTTP/2 server gets the `TE` alone).
            headers.insert(header::TE, HeaderValue::from_static("trailers"));
            let c = match headers
                .get(header::CONNECTION)
                .and_then(|v| v.to_str().ok())
            {
                Some(v) => HeaderValue::from_str(&format!("{v}, te")).ok(),
                None => Some(HeaderValue::from_static("te")),
            };
            if let Some(c) = c {
                headers.insert(header::CONNECTION, c);
            }
        }
        let bodyless = match &body.ahead {
            None => body_is_empty(&body.rest, &headers),
            Some(a) => a.ended && a.data.is_empty() && a.trailers.is_none(),
        };
        // A body of unknown length (HTTP/1.1 chunked, HTTP/2 without content-length)
        // goes chunked, whatever the method (hyper sends none on a GET otherwise).
        if !bodyless && version != Version::HTTP_10 && !headers.contains_key(header::CONTENT_LENGTH)
        {
            headers.insert(
                header::TRANSFER_ENCODING,
                HeaderValue::from_static("chunked"),
            );
        }
        let method = parts.method;
        // What can be sent again when a reused connection fails: a request without
        // body, or one whose whole body was read ahead.
        let replay_body = match &body.ahead {
            _ if bodyless => Some(bytes::Bytes::new()),
            Some(a) if a.ended && a.trailers.is_none() => Some(a.data.clone()),
            _ => None,
        };
        let head = replay_body.map(|b| (method.clone(), uri.clone(), headers.clone(), b));
        // `timeout client` bounds each wait for the client's body bytes.
        let (timer, progress) = match fe.timeouts.client.filter(|_| !bodyless) {
            Some(t) => {
                let (timer, progress) = pool::BodyTimer::new(t);
                (Some(timer), Some(progress))
            }
            None => (None, None),
        };
        let mut up = Request::new(body.into_proxy(timer));
        *up.method_mut() = method.clone();
        *up.uri_mut() = uri;
        *up.version_mut() = if version == Version::HTTP_10 {
            Version::HTTP_10
        } else {
            Version::HTTP_11
        };
        *up.headers_mut() = headers;
        let sent = Sent {
            method,
            saved,
            server_close,
            is_upgrade,
            client_upgrade,
        };
        Outgoing {
            up,
            sent,
            upload: progress,
            head,
        }
    }

    /// The unique id (`unique-id-format`), made once the head is in, and its
    /// `unique-id-header` added to the request.
    fn unique_id(&mut self, parts: &mut Parts) {
        let Some(f) = &self.fe.unique_id else { return };
        let sv = self.stats_view(None);
        let uri = actions::target(&parts.uri);
        let now = std::time::SystemTime::now();
        let info = crate::sample::LogInfo {
            unix_id: match self.conn.peer {
                crate::log::Client::Unix(id) => Some(id),
                crate::log::Client::Inet(_) => None,
            },
            accept: now,
            request: now,
            req_counter: self.trace.counter,
            ..Default::default()
        };
        let ctx = self.ctx(&sv);
        let env = crate::sample::Env {
            log: Some(&info),
            ..ctx.env(&self.vars, parts, &uri)
        };
        let id = f.eval(&env);
        let id = String::from_utf8_lossy(&id).into_owned();
        if let (Some(h), Ok(v)) = (&self.fe.unique_id_header, HeaderValue::from_str(&id)) {
            parts.headers.insert(h.clone(), v);
        }
        self.unique_id = Some(id);
    }

    /// The access-log line of the request, evaluated now that the response head is
    /// known; `start` is when the request was handed over (an `Instant` for the
    /// timers and its date).
    fn log_line(
        &self,
        res: &hyper::http::response::Parts,
        saved: &actions::SavedReq,
        times: ReqTimes,
        (start, at): (std::time::Instant, std::time::SystemTime),
        request_line: &str,
    ) -> Option<(crate::log::AccessLine, std::time::Instant)> {
        let fmt = self.fe.log_format.as_ref()?;
        let t = &self.trace;
        let ms = |a: Option<std::time::Instant>, b: std::time::Instant| {
            a.map_or(-1, |a| a.saturating_duration_since(b).as_millis() as i64)
        };
        let be = t.backend.as_deref();
        let server = be.zip(t.server).and_then(|(b, i)| b.servers.get(i));
        let ms_ago = |n: i64| std::time::Duration::from_millis(n as u64);
        let request = at.checked_sub(ms_ago(times.head)).unwrap_or(at);
        let th = self.conn.take_th();
        let mut info = crate::frontend::access::info(
            self.fe,
            be,
            server.map(|s| &**s),
            self.client(),
            request
                .checked_sub(ms_ago(times.idle + th))
                .unwrap_or(request),
            (t.counter, t.retries),
        );
        info.request = request;
        info.th = th;
        info.ti = times.idle;
        info.treq = times.head;
        info.tw = ms(t.picked, start);
        info.tc = match (t.connected, t.picked) {
            (Some(c), Some(p)) => c.saturating_duration_since(p).as_millis() as i64,
            _ => -1,
        };
        info.tr = match (t.responded, t.connected) {
            (Some(r), Some(c)) => r.saturating_duration_since(c).as_millis() as i64,
            _ => -1,
        };
        info.status = res.status.as_u16();
        info.no_response = res.extensions.get::<NoResponse>().is_some();
        info.request_line = Some(request_line);
        info.req_slots = !self.fe.capture_request.is_empty();
        info.res_slots = !self.fe.capture_response.is_empty();
        info.end.term = [t.term[0], t.term[1], t.cookie[0], t.cookie[1]];
        let last_rule = self.state.last_rule();
        info.last_rule = last_rule.as_ref().map(|l| (&*l.file, l.line));
        let sv = self.stats_view(be);
        let mut ctx = self.ctx(&sv);
        if let Some(b) = be {
            ctx = ctx.with_be(b);
        }
        if let (Some(s), Some(i)) = (server, t.server) {
            ctx = ctx
                .with_srv(&s.name, i as i64 + 1)
                .with_srv_tls(t.srv_tls.as_deref());
        }
        let slots = self.captures.lock();
        let env = crate::sample::Env {
            log: Some(&info),
            req_captures: &slots.req,
            res_captures: &slots.res,
            ..ctx.res_env(&self.vars, saved, res)
        };
        let line = crate::log::AccessLine::new(fmt, &env, self.fe.logs.clone());
        Some((line, start))
    }
}
