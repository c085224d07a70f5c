//! `http-request` and `http-response` actions as a request or response meets them:
//! headers, variables, the request line, `deny`, `allow`, `return`, `redirect`,
//! `set-status`, `use-service prometheus-exporter`.

use super::reply::{page_response_in, reply_response, Pages};
use crate::backend::pool::ProxyBody;
use crate::graph::{FrontendRt, Graph};
use crate::rules::{Action, Rule, RuleSet, Verdict};
use crate::sample::conn::Addrs;
use crate::sample::{Env, HttpReq, HttpRes, Named, ProcVars, Scope, Stats, Vars};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::http::{request, response};
use hyper::{Method, Response, StatusCode, Uri, Version};
use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// What every rule of a request reads besides the message it acts on.
#[derive(Clone, Copy)]
pub(super) struct Ctx<'a> {
    /// The client's address (none for a unix socket client).
    pub src: Option<SocketAddr>,
    /// The address it connected to (none on a unix socket).
    pub dst: Option<SocketAddr>,
    /// The frontend.
    pub fe: Named<'a>,
    /// The backend, once chosen.
    pub be: Option<Named<'a>>,
    /// The server, once chosen.
    pub srv: Option<Named<'a>>,
    /// The listener the client came in on (a context is only made for rules).
    pub so: Option<Named<'a>>,
    /// Counters fetches read.
    pub stats: &'a dyn Stats,
    /// `proc.` variables.
    pub proc_vars: &'a ProcVars,
    /// The graph (services) and frontend (counters).
    pub graph: &'a Graph,
    /// The frontend that took the request.
    pub fe_rt: &'a FrontendRt,
    /// The error pages `deny` and `return` use.
    pub pages: Pages<'a>,
    /// The request's tracked stick-table entries (`track-sc*`).
    pub track: Option<&'a crate::stick::Trackers>,
    /// The request's capture slots (`capture` rules, `capture.req.hdr`).
    pub captures: Option<&'a super::capture::Captures>,
    /// The client connection (`fc_*` fetches).
    pub conn: Option<&'a crate::sample::conn::ConnInfo>,
    /// The entries the connection tracks (tcp connection and session rules).
    pub session_track: Option<&'a crate::stick::Trackers>,
    /// The request's unique id (`unique-id-format`).
    pub unique_id: Option<&'a str>,
    /// The backend's timeouts, once it is chosen.
    pub be_timeouts: Option<&'a crate::config::model::Timeouts>,
    /// What rules changed besides the message (`strict-mode`, `set-timeout`).
    pub state: Option<&'a RuleState>,
    /// The request body read ahead (`wait-for-body`, `option http-buffer-request`):
    /// what `req.body` reads. None until it is read.
    pub body: Option<&'a [u8]>,
    /// The response body was read ahead (a response `wait-for-body` was met).
    pub res_read: bool,
    /// What TLS negotiated on the server connection (`ssl_bc*`).
    pub srv_tls: Option<&'a crate::sample::conn::SrvTls>,
}

pub(super) use super::state::{ReadAhead, RuleState, SavedReq, Tarpit};

/// The message rules act on.
pub(super) enum Msg<'m> {
    /// A request.
    Req(&'m mut request::Parts),
    /// A response, with the request it answers.
    Res(&'m SavedReq, &'m mut response::Parts),
}

/// `1.0`, `1.1`, `2.0`.
pub(super) fn version_str(v: Version) -> &'static str {
    match v {
        Version::HTTP_10 => "1.0",
        Version::HTTP_2 => "2.0",
        Version::HTTP_09 => "0.9",
        _ => "1.1",
    }
}

/// The request target as received (the whole URI in absolute form).
pub(super) fn target(uri: &Uri) -> Cow<'_, str> {
    if uri.scheme().is_some() {
        return Cow::Owned(uri.to_string());
    }
    match uri.path_and_query() {
        Some(pq) => Cow::Borrowed(pq.as_str()),
        None => Cow::Owned(uri.to_string()),
    }
}

impl<'a> Ctx<'a> {
    /// The context of a request on `fe` over `conn`, with the request's addresses.
    pub fn new(
        conn: &'a super::conn::ConnCtx,
        addrs: Addrs,
        graph: &'a Graph,
        fe: &'a FrontendRt,
        stats: &'a dyn Stats,
    ) -> Self {
        Ctx {
            so: conn.listener(fe),
            src: addrs.src,
            dst: addrs.dst,
            conn: Some(&conn.info),
            session_track: Some(&conn.track),
            fe: Named {
                name: &fe.name,
                id: graph.uuid(fe.proxy_id) as i64,
            },
            be: None,
            srv: None,
            stats,
            proc_vars: &graph.proc_vars,
            graph,
            fe_rt: fe,
            pages: Pages {
                be: None,
                fe: &fe.error_pages,
            },
            track: None,
            captures: None,
            unique_id: None,
            be_timeouts: None,
            state: None,
            body: None,
            res_read: false,
            srv_tls: None,
        }
    }

    /// The same, with the request's rule state.
    pub fn with_state(mut self, s: &'a RuleState) -> Self {
        self.state = Some(s);
        self
    }

    /// The same, with the request body read ahead.
    pub fn with_body(mut self, b: Option<&'a [u8]>) -> Self {
        self.body = b;
        self
    }

    /// The same, with the request's capture slots.
    pub fn with_captures(mut self, c: &'a super::capture::Captures) -> Self {
        self.captures = Some(c);
        self
    }

    /// The same, with the request's unique id.
    pub fn with_unique_id(mut self, id: Option<&'a str>) -> Self {
        self.unique_id = id;
        self
    }

    /// The same, with the request's tracked entries.
    pub fn with_track(mut self, t: &'a crate::stick::Trackers) -> Self {
        self.track = Some(t);
        self
    }

    /// The same, once the backend is chosen.
    pub fn with_be(mut self, be: &'a crate::backend::Backend) -> Self {
        self.be = Some(Named {
            name: &be.name,
            id: self.graph.uuid(be.proxy_id) as i64,
        });
        self.pages.be = Some(&be.error_pages);
        self.be_timeouts = Some(&be.timeouts);
        self
    }

    /// The same, once the server is chosen (`id`: its position, from 1).
    pub fn with_srv(mut self, name: &'a str, id: i64) -> Self {
        self.srv = Some(Named { name, id });
        self
    }

    /// The same, with the server connection's TLS details.
    pub fn with_srv_tls(mut self, t: Option<&'a crate::sample::conn::SrvTls>) -> Self {
        self.srv_tls = t;
        self
    }

    /// The sample environment of a request.
    pub fn env<'b>(&'b self, vars: &'b Vars, parts: &'b request::Parts, uri: &'b str) -> Env<'b>
    where
        'a: 'b,
    {
        let addrs = parts.extensions.get::<Addrs>();
        Env {
            src: addrs.map_or(self.src, |a| a.src),
            dst: addrs.map_or(self.dst, |a| a.dst),
            req: Some(HttpReq {
                method: parts.method.as_str(),
                uri,
                version: version_str(parts.version),
                headers: &parts.headers,
                body: self.body,
            }),
            ..self.base(vars)
        }
    }

    fn base<'b>(&'b self, vars: &'b Vars) -> Env<'b>
    where
        'a: 'b,
    {
        Env {
            src: self.src,
            dst: self.dst,
            fe: Some(self.fe),
            be: self.be,
            srv: self.srv,
            so: self.so,
            vars: Some(vars),
            proc_vars: Some(self.proc_vars),
            stats: Some(self.stats),
            stick: crate::stick::View {
                tables: Some(&self.graph.tables),
                tracked: self.track,
                proxy: Some(self.be.map_or(self.fe.name, |b| b.name)),
                session: self.session_track,
            },
            conn: self.conn,
            userlists: Some(&self.graph.config.userlists),
            unique_id: self.unique_id,
            timeouts: Some(self),
            srv_tls: self.srv_tls,
            ..Env::default()
        }
    }

    pub fn res_env<'b>(
        &'b self,
        vars: &'b Vars,
        req: &'b SavedReq,
        res: &'b response::Parts,
    ) -> Env<'b>
    where
        'a: 'b,
    {
        Env {
            req: Some(HttpReq {
                method: req.method.as_str(),
                uri: &req.uri,
                version: version_str(req.version),
                headers: &req.headers,
                body: self.body,
            }),
            res: Some(HttpRes {
                status: res.status.as_u16(),
                version: version_str(res.version),
                headers: &res.headers,
            }),
            ..self.base(vars)
        }
    }
}

/// A request or response that tcp rules rejected: the connection closes without a
/// word, as HAProxy's `reject` does.
fn rejected(ctx: &Ctx<'_>) -> Response<ProxyBody> {
    ctx.fe_rt.shared.denied.fetch_add(1, Relaxed);
    let mut resp = Response::new(ProxyBody::Abort);
    *resp.status_mut() = StatusCode::FORBIDDEN;
    resp
}

/// The timeouts as the `*_timeout` fetches read them.
impl crate::sample::Timeouts for Ctx<'_> {
    fn view(&self) -> crate::sample::TimeoutView {
        let ms = |d: Option<Duration>| d.map_or(0, |d| d.as_millis() as u64);
        let px = self.be_timeouts.unwrap_or(&self.fe_rt.timeouts);
        crate::sample::TimeoutView {
            fe_client: ms(self.fe_rt.timeouts.client),
            be_server: ms(px.server),
            be_tunnel: ms(px.tunnel),
            cur_server: ms(self.state.map_or(px.server, |s| s.server(px.server))),
            cur_tunnel: ms(self.state.map_or(px.tunnel, |s| s.tunnel(px.tunnel))),
        }
    }
}

/// `tcp-request content` rules of `rs` on a request (each request in `mode http`);
/// `set-src` and friends change the request's addresses.
pub(super) fn content_rules(
    rs: &RuleSet,
    ctx: &Ctx<'_>,
    vars: &mut Vars,
    parts: &mut request::Parts,
) -> Option<Response<ProxyBody>> {
    if rs.tcp_content.is_empty() {
        return None;
    }
    let none = Vars::default();
    let uri = target(&parts.uri);
    let env = ctx.env(&none, parts, &uri);
    let mut run = crate::rules::TcpRun::of(&env);
    run.http = true;
    let before = run.addrs;
    let v = rs.run_tcp_from(&rs.tcp_content, &env, vars, &mut run);
    drop(uri);
    if let (Some(s), Some(l)) = (ctx.state, &run.last) {
        s.ended_by(l);
    }
    if run.addrs != before {
        parts.extensions.insert(run.addrs);
    }
    (v == Verdict::Reject).then(|| rejected(ctx))
}

/// `tcp-response content` rules of `rs` on a response.
pub(super) fn response_content_rules(
    rs: &RuleSet,
    ctx: &Ctx<'_>,
    vars: &mut Vars,
    req: &SavedReq,
    res: &response::Parts,
) -> Option<Response<ProxyBody>> {
    if rs.tcp_response.is_empty() {
        return None;
    }
    let none = Vars::default();
    let env = ctx.res_env(&none, req, res);
    let mut run = crate::rules::TcpRun::of(&env);
    let v = rs.run_tcp_from(&rs.tcp_response, &env, vars, &mut run);
    if let (Some(s), Some(l)) = (ctx.state, &run.last) {
        s.ended_by(l);
    }
    (v == Verdict::Reject).then(|| rejected(ctx))
}

/// What a rule computed before it changes the message.
enum Effect {
    None,
    Answer(Response<ProxyBody>),
    Stop,
    Header(Option<HeaderValue>),
    Var(Option<crate::sample::Owned>),
    Text(Vec<u8>),
    Addr(Addrs),
    Timeout(Option<Duration>),
}

/// Applies `rules` of `rs` in order to the message; returns a response when a rule
/// answers. `allow` ends this rule set.
pub(super) fn apply(
    rs: &RuleSet,
    rules: &[Rule],
    ctx: &Ctx<'_>,
    vars: &mut Vars,
    mut msg: Msg<'_>,
) -> Option<Response<ProxyBody>> {
    if rules.is_empty() {
        return None;
    }
    let mut next = rules.iter();
    loop {
        // Evaluate conditions, and whatever the first matching rule's action computes,
        // with the message as it is (one sample environment for the rules that do not
        // match), then change the message.
        let (r, effect) = {
            let uri_s;
            let slots = ctx.captures.map(|c| c.lock());
            let mut env = match &msg {
                Msg::Req(p) => {
                    uri_s = target(&p.uri);
                    ctx.env(vars, p, &uri_s)
                }
                Msg::Res(q, p) => ctx.res_env(vars, q, p),
            };
            if let Some(s) = &slots {
                (env.req_captures, env.res_captures) = (&s.req, &s.res);
            }
            let r = next.by_ref().find(|r| rs.eval_opt(&r.cond, &env))?;
            let read = match msg {
                Msg::Req(_) => ctx.body.is_some(),
                Msg::Res(..) => ctx.res_read,
            };
            if let (Action::WaitForBody(wait), false) = (&r.action, read) {
                let mut resp = Response::new(ProxyBody::empty());
                resp.extensions_mut().insert(ReadAhead {
                    wait: *wait,
                    next: rules.len() - next.len(),
                });
                return Some(resp);
            }
            (r, compute(&r.action, &env, ctx, &msg))
        };
        let ended = |ctx: &Ctx<'_>| {
            if let Some(s) = ctx.state {
                s.ended_by(&r.loc);
            }
        };
        match effect {
            Effect::Answer(resp) => {
                ended(ctx);
                return Some(resp);
            }
            Effect::Stop => {
                ended(ctx);
                return None;
            }
            e => {
                // A rewrite that failed: in strict mode (the default), the message
                // is answered with 500 (as HAProxy).
                let side = matches!(msg, Msg::Res(..)) as usize;
                let strict = ctx.state.is_none_or(|s| !s.soft[side].load(Relaxed));
                if !change(&r.action, e, ctx, vars, &mut msg) && strict {
                    ended(ctx);
                    return Some(ctx.pages.response(500, None, false));
                }
            }
        }
    }
}

fn compute(a: &Action, env: &Env<'_>, ctx: &Ctx<'_>, msg: &Msg<'_>) -> Effect {
    match a {
        Action::SetHeader(_, v) | Action::AddHeader(_, v) => Effect::Header(v.value(env)),
        Action::Allow => Effect::Stop,
        // Met once the body is read: nothing more to do.
        Action::WaitForBody(_) => Effect::None,
        Action::Deny(status) => {
            ctx.fe_rt.shared.denied.fetch_add(1, Relaxed);
            // As HAProxy, a denied request leaves the client connection open for the
            // next one (the request was read whole).
            let mut resp = ctx.pages.response_in(*status, None, false, env);
            resp.headers_mut().remove(header::CONNECTION);
            Effect::Answer(resp)
        }
        Action::DenyWith(answer) => {
            ctx.fe_rt.shared.denied.fetch_add(1, Relaxed);
            compute(answer, env, ctx, msg)
        }
        Action::ErrorPage(status, page) => Effect::Answer(match page {
            Some(p) => page_response_in(*status, p, env),
            None => ctx.pages.response_in(*status, None, false, env),
        }),
        Action::Return {
            status,
            content_type,
            body,
            body_fmt,
            headers,
        } => {
            let body = match body_fmt {
                Some(f) => bytes::Bytes::from(f.eval(env)),
                None => body.clone(),
            };
            // Without a payload, the content type is not sent (as HAProxy).
            let mut resp = reply_response(*status, content_type.clone(), body);
            for (n, v) in headers {
                if let Some(v) = v.value(env).filter(|v| !v.is_empty()) {
                    resp.headers_mut().append(n.clone(), v);
                }
            }
            Effect::Answer(resp)
        }
        Action::Redirect(r) => match msg {
            Msg::Req(p) => Effect::Answer(redirect(r, p.uri.path(), p.uri.query(), &p.headers)),
            // `http-response redirect`: from the request that got this response.
            Msg::Res(q, _) => {
                let (path, query) = match q.uri.split_once('?') {
                    Some((p, q)) => (p, Some(q)),
                    None => (q.uri.as_str(), None),
                };
                Effect::Answer(redirect(r, path, query, &q.headers))
            }
        },
        Action::Prometheus => {
            let mut resp = Response::new(ProxyBody::full(crate::stats::prometheus(ctx.graph)));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            Effect::Answer(resp)
        }
        Action::SetVar(_, _, e) => Effect::Var(e.eval(env).map(|v| v.into_owned())),
        Action::SetVarFmt(_, _, f) => {
            Effect::Var(Some(crate::sample::Value::Str(Cow::Owned(f.eval(env)))))
        }
        Action::SetUri(_, f) | Action::ReplaceUri(_, _, f) => Effect::Text(f.eval(env)),
        Action::ReplaceHeader { with, .. } => Effect::Text(with.eval(env)),
        Action::Auth(realm) => {
            let realm = realm.as_deref();
            let name = ctx.be.map_or(ctx.fe.name, |b| b.name);
            Effect::Answer(ctx.pages.unauthorized(realm.unwrap_or(name)))
        }
        Action::Capture(e, _) => match e.eval(env) {
            Some(v) => Effect::Text(v.into_bytes().into_owned()),
            None => Effect::None,
        },
        Action::Track(..) | Action::ScIncGpc(..) | Action::ScSetGpt0(..) => {
            track(a, env, ctx);
            Effect::None
        }
        Action::SetAddr(part, e) => {
            let mut addrs = Addrs {
                src: env.src,
                dst: env.dst,
            };
            if let Some(v) = e.eval(env) {
                addrs.set(*part, &v);
            }
            Effect::Addr(addrs)
        }
        Action::SetTimeout(_, arg) => Effect::Timeout(match arg {
            crate::config::model::TimeoutArg::Fixed(d) => Some(*d),
            // An integer in milliseconds; none, or not positive: no change.
            crate::config::model::TimeoutArg::Expr(e) => e
                .eval(env)
                .and_then(|v| v.to_int())
                .filter(|&ms| ms > 0 && ms <= i32::MAX as i64)
                .map(|ms| Duration::from_millis(ms as u64)),
        }),
        Action::Reject | Action::SilentDrop => Effect::Answer(rejected(ctx)),
        Action::Tarpit(answer) => match compute(answer, env, ctx, msg) {
            Effect::Answer(mut resp) => {
                let t = ctx.be_timeouts.unwrap_or(&ctx.fe_rt.timeouts);
                let hold = t.tarpit.or(t.connect).unwrap_or_default();
                resp.extensions_mut().insert(Tarpit(hold));
                Effect::Answer(resp)
            }
            e => e,
        },
        Action::NormalizeUri(n) => match msg {
            Msg::Req(p) => match super::normalize::apply(
                *n,
                p.uri.path_and_query().map_or("", |pq| pq.as_str()),
            ) {
                Ok(Some(t)) => Effect::Text(t.into_bytes()),
                Ok(None) => Effect::None,
                // `strict`: an invalid `%` sequence is a bad request.
                Err(()) => Effect::Answer(ctx.pages.response_in(400, None, false, env)),
            },
            Msg::Res(..) => Effect::None,
        },
        Action::DelHeader(_)
        | Action::DelHeaders(_)
        | Action::UnsetVar(..)
        | Action::StrictMode(_)
        | Action::SetStatus(..) => Effect::None,
    }
}

/// `track-sc*`, `sc-inc-gpc*`, `sc-set-gpt0`: they change stick-table entries, not
/// the message.
fn track(a: &Action, env: &Env<'_>, ctx: &Ctx<'_>) {
    let Some(tr) = ctx.track else { return };
    match a {
        Action::Track(slot, key, table) => {
            let Some(t) = ctx.graph.tables.get(table) else {
                return;
            };
            if tr.get(*slot).is_some() {
                return;
            }
            if let Some(k) = key
                .eval(env)
                .and_then(|v| crate::sample::track::key_of(t, &v))
            {
                tr.track(*slot, t, k);
            }
        }
        Action::ScIncGpc(gpc, slot) => {
            if let Some(t) = tr.get(*slot) {
                t.table.add(&t.entry, *gpc, 1);
            }
        }
        Action::ScSetGpt0(slot, value) => {
            if let (Some(t), Some(v)) = (tr.get(*slot), value.eval(env).and_then(|v| v.to_int())) {
                t.table.set(&t.entry, crate::stick::Data::Gpt0, v as u64);
            }
        }
        _ => {}
    }
}

fn headers_of<'m>(msg: &'m mut Msg<'_>) -> &'m mut HeaderMap {
    match msg {
        Msg::Req(p) => &mut p.headers,
        Msg::Res(_, p) => &mut p.headers,
    }
}

/// Changes the message (or the request's state); false when a rewrite failed.
fn change(a: &Action, e: Effect, ctx: &Ctx<'_>, vars: &mut Vars, msg: &mut Msg<'_>) -> bool {
    match (a, e) {
        (Action::SetHeader(..) | Action::AddHeader(..), Effect::Header(None)) => return false,
        (Action::SetHeader(n, _), Effect::Header(Some(v))) => {
            headers_of(msg).insert(n.clone(), v);
        }
        (Action::AddHeader(n, _), Effect::Header(Some(v))) => {
            headers_of(msg).append(n.clone(), v);
        }
        (Action::DelHeader(n), _) => {
            headers_of(msg).remove(n);
        }
        (Action::DelHeaders(p), _) => {
            let h = headers_of(msg);
            let names: Vec<_> = h
                .keys()
                .filter(|k| p.matches(&crate::sample::Value::str(k.as_str())))
                .cloned()
                .collect();
            for n in names {
                h.remove(n);
            }
        }
        (
            Action::ReplaceHeader {
                name, regex, items, ..
            },
            Effect::Text(with),
        ) => replace_header(headers_of(msg), name, regex, *items, &with),
        (Action::SetVar(s, n, _) | Action::SetVarFmt(s, n, _), Effect::Var(v)) => {
            if let Some(v) = v {
                set_var(ctx, vars, *s, n, Some(v));
            }
        }
        (Action::UnsetVar(s, n), _) => set_var(ctx, vars, *s, n, None),
        (Action::SetUri(part, _), Effect::Text(t)) => {
            if let Msg::Req(p) = msg {
                return set_uri(p, *part, &String::from_utf8_lossy(&t));
            }
        }
        (Action::ReplaceUri(part, re, _), Effect::Text(t)) => {
            if let Msg::Req(p) = msg {
                let cur = match part {
                    crate::config::model::UriPart::Path => p.uri.path().to_string(),
                    crate::config::model::UriPart::PathQ => p
                        .uri
                        .path_and_query()
                        .map_or("/", |pq| pq.as_str())
                        .to_string(),
                    _ => target(&p.uri).into_owned(),
                };
                if let Some(caps) = re.captures(&cur) {
                    let mut out = String::new();
                    caps.expand(&String::from_utf8_lossy(&t), &mut out);
                    return set_uri(p, *part, &out);
                }
            }
        }
        (Action::Capture(_, id), Effect::Text(t)) => {
            if let Some(c) = ctx.captures {
                let v = String::from_utf8_lossy(&t).into_owned();
                c.set(ctx.fe_rt, matches!(msg, Msg::Res(..)), *id, v);
            }
        }
        // The request's addresses from now on: its later rules, the backend's, the
        // log, `forwardfor`, `balance source` and the server's PROXY header.
        (Action::SetAddr(..), Effect::Addr(addrs)) => {
            if let Msg::Req(p) = msg {
                p.extensions.insert(addrs);
            }
        }
        (Action::NormalizeUri(_), Effect::Text(t)) => {
            if let Msg::Req(p) = msg {
                use crate::config::model::UriPart;
                return set_uri(p, UriPart::PathQ, &String::from_utf8_lossy(&t));
            }
        }
        (Action::SetTimeout(kind, _), Effect::Timeout(Some(d))) => {
            use crate::config::model::TimeoutKind;
            if let Some(st) = ctx.state {
                let ms = d.as_millis().max(1) as u64;
                match kind {
                    TimeoutKind::Server => st.server_timeout.store(ms, Relaxed),
                    TimeoutKind::Tunnel => st.tunnel_timeout.store(ms, Relaxed),
                }
            }
        }
        (Action::StrictMode(on), _) => {
            if let Some(st) = ctx.state {
                st.soft[matches!(msg, Msg::Res(..)) as usize].store(!on, Relaxed);
            }
        }
        (Action::SetStatus(code, _), _) => {
            if let (Msg::Res(_, p), Ok(s)) = (msg, StatusCode::from_u16(*code)) {
                p.status = s;
            }
        }
        _ => {}
    }
    true
}

fn set_var(ctx: &Ctx<'_>, vars: &mut Vars, s: Scope, n: &str, v: Option<crate::sample::Owned>) {
    crate::sample::vars::store(vars, Some(ctx.proc_vars), s, n, v);
}

/// `replace-header`: a value the regex matches is replaced by the expansion;
/// `replace-value`: the same on each comma-separated item.
fn replace_header(
    h: &mut HeaderMap,
    name: &header::HeaderName,
    re: &regex::Regex,
    items: bool,
    with: &[u8],
) {
    let template = String::from_utf8_lossy(with);
    let one = |v: &str| -> String {
        match re.captures(v) {
            Some(c) => {
                let mut out = String::new();
                c.expand(&template, &mut out);
                out
            }
            None => v.to_string(),
        }
    };
    let old: Vec<HeaderValue> = h.get_all(name).iter().cloned().collect();
    if old.is_empty() {
        return;
    }
    h.remove(name);
    for v in old {
        let Ok(s) = v.to_str() else {
            h.append(name.clone(), v);
            continue;
        };
        let new = if items {
            s.split(',')
                .map(|i| one(i.trim()))
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            one(s)
        };
        match HeaderValue::from_str(&new) {
            Ok(nv) => h.append(name.clone(), nv),
            Err(_) => h.append(name.clone(), v),
        };
    }
}

/// Rewrites part of the request line; an invalid result leaves it unchanged (false).
fn set_uri(p: &mut request::Parts, part: crate::config::model::UriPart, v: &str) -> bool {
    use crate::config::model::UriPart;
    if part == UriPart::Method {
        let Ok(m) = Method::from_bytes(v.as_bytes()) else {
            return false;
        };
        p.method = m;
        return true;
    }
    let query = p.uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    let path = p.uri.path().to_string();
    let new = match part {
        UriPart::Path => format!("{v}{query}"),
        UriPart::PathQ | UriPart::Uri => v.to_string(),
        UriPart::Query if v.is_empty() => path,
        UriPart::Query => format!("{path}?{v}"),
        UriPart::Method => return false,
    };
    let keep_authority = part != UriPart::Uri && p.uri.scheme().is_some();
    let new = if keep_authority {
        let mut b = Uri::builder();
        if let (Some(s), Some(a)) = (p.uri.scheme(), p.uri.authority()) {
            b = b.scheme(s.clone()).authority(a.clone());
        }
        b.path_and_query(new.as_str()).build().ok()
    } else {
        new.parse::<Uri>().ok()
    };
    match new {
        Some(u) => {
            p.uri = u;
            true
        }
        None => false,
    }
}

/// Builds a redirect response as HAProxy does (empty body, `Cache-Control: no-cache`).
fn redirect(
    r: &crate::config::model::Redirect,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Response<ProxyBody> {
    use crate::config::model::RedirectKind;
    let mut tail = path.to_string();
    if r.append_slash && !tail.ends_with('/') {
        tail.push('/');
    }
    if let (Some(q), false) = (query, r.drop_query) {
        tail.push('?');
        tail.push_str(q);
    }
    let location = match r.kind {
        RedirectKind::Location => {
            let mut l = r.to.clone();
            if r.append_slash && !l.ends_with('/') {
                l.push('/');
            }
            l
        }
        RedirectKind::Prefix if r.to == "/" => tail,
        RedirectKind::Prefix => format!("{}{tail}", r.to.trim_end_matches('/')),
        RedirectKind::Scheme => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            format!("{}://{host}{tail}", r.to)
        }
    };
    let mut resp = Response::new(ProxyBody::empty());
    *resp.status_mut() = StatusCode::from_u16(r.code).unwrap_or(StatusCode::FOUND);
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&location) {
        h.insert(header::LOCATION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    if let Some(c) = &r.set_cookie {
        let v = if c.contains('=') {
            format!("{c}; path=/")
        } else {
            format!("{c}=; path=/")
        };
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.append(header::SET_COOKIE, v);
        }
    }
    if let Some(c) = &r.clear_cookie {
        if let Ok(v) = HeaderValue::from_str(&format!("{c}=; Max-Age=0; path=/")) {
            h.append(header::SET_COOKIE, v);
        }
    }
    resp
}
