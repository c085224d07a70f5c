//! Routing and HTTP rules, compiled once per runtime graph.
//!
//! Named acls become indexes into a matcher table; each matcher is a sample
//! expression and its patterns (`crate::sample`). Header names of rules are parsed
//! into `HeaderName` once, and values without a sample into `HeaderValue`, so a rule
//! that only sets a fixed header allocates nothing.

use crate::config::model::{
    Acl, Condition, HttpAction, HttpRule, Loc, Normalizer, Proxy, ReplyPage, TcpAction, TcpWhen,
    TermAcl, TimeoutArg, TimeoutKind, UriPart,
};
use crate::sample::{AclPatterns, Env, Expr, Fmt, Method, Patterns, Scope, Vars};
use bytes::Bytes;
use hyper::header::{HeaderName, HeaderValue};

pub use crate::sample::pattern::in_net;

/// One compiled acl declaration.
#[derive(Debug, Clone)]
pub struct Matcher {
    expr: Expr,
    patterns: AclPatterns,
}

impl Matcher {
    fn matches(&self, env: &Env<'_>) -> bool {
        if self.patterns.method() == Method::Found {
            return self.expr.eval(env).is_some();
        }
        self.expr.each(env, &mut |v| self.patterns.matches(&v))
    }

    /// The match, or None when it failed on request bytes not received yet (HAProxy's
    /// ACL_TEST_MISS).
    fn matches3(&self, env: &Env<'_>) -> Option<bool> {
        let Some(p) = env.payload else {
            return Some(self.matches(env));
        };
        p.missing.store(false, std::sync::atomic::Ordering::Relaxed);
        let hit = self.matches(env);
        (hit || !p.missing.load(std::sync::atomic::Ordering::Relaxed)).then_some(hit)
    }
}

/// A compiled condition: OR of AND-groups of (negate, OR of matchers).
#[derive(Debug, Clone, Default)]
pub struct Cond {
    unless: bool,
    any_of: Vec<Vec<(bool, Vec<usize>)>>,
}

/// How a request body is read ahead before rules go on (`wait-for-body`, `option
/// http-buffer-request`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyWait {
    /// The most time to wait for it (None: only `timeout client` per read).
    pub time: Option<std::time::Duration>,
    /// Enough bytes to go on (0: the whole body, or a full buffer).
    pub at_least: u64,
}

/// A header value: fixed, or a log-format string evaluated per request.
#[derive(Debug, Clone)]
pub enum HdrVal {
    /// Known at load time.
    Fixed(HeaderValue),
    /// Evaluated per request.
    Fmt(Fmt),
}

impl HdrVal {
    fn new(f: &Fmt) -> Option<HdrVal> {
        Some(match f.literal() {
            Some(l) => HdrVal::Fixed(HeaderValue::from_bytes(l).ok()?),
            None => HdrVal::Fmt(f.clone()),
        })
    }

    /// The value for this request (None when the result is not a valid header value).
    pub fn value(&self, env: &Env<'_>) -> Option<HeaderValue> {
        match self {
            HdrVal::Fixed(v) => Some(v.clone()),
            // The evaluated bytes become the value without a second copy.
            HdrVal::Fmt(f) => HeaderValue::from_maybe_shared(bytes::Bytes::from(f.eval(env))).ok(),
        }
    }
}

/// A compiled `http-request`/`http-response` action.
#[derive(Debug, Clone)]
pub enum Action {
    /// Replace every occurrence.
    SetHeader(HeaderName, HdrVal),
    /// Append one.
    AddHeader(HeaderName, HdrVal),
    /// Remove every occurrence.
    DelHeader(HeaderName),
    /// Remove the headers whose name matches.
    DelHeaders(Patterns),
    /// Rewrite a header's value (or each of its comma-separated items).
    ReplaceHeader {
        /// Header.
        name: HeaderName,
        /// What is replaced.
        regex: regex::Regex,
        /// The replacement, `\1` already turned into `${1}`.
        with: Fmt,
        /// Item by item (`replace-value`).
        items: bool,
    },
    /// Answer directly.
    Return {
        /// Status.
        status: u16,
        /// Content type.
        content_type: Option<HeaderValue>,
        /// Fixed body.
        body: Bytes,
        /// Body evaluated per request.
        body_fmt: Option<Fmt>,
        /// Extra headers.
        headers: Vec<(HeaderName, HdrVal)>,
    },
    /// Refuse with this status (the proxy's error page for it).
    Deny(u16),
    /// Refuse with this answer (a `Return` or an `ErrorPage`).
    DenyWith(Box<Action>),
    /// Answer with this page, else the proxy's page for the status.
    ErrorPage(u16, Option<std::sync::Arc<crate::config::model::ErrorPage>>),
    /// Stop this rule set.
    Allow,
    /// Serve Prometheus metrics.
    Prometheus,
    /// Answer with a redirect.
    Redirect(crate::config::model::Redirect),
    /// Set a variable from a sample.
    SetVar(Scope, String, Expr),
    /// Set a variable from a format string.
    SetVarFmt(Scope, String, Fmt),
    /// Remove a variable.
    UnsetVar(Scope, String),
    /// Rewrite part of the request line.
    SetUri(UriPart, Fmt),
    /// Rewrite part of the request line by regex.
    ReplaceUri(UriPart, regex::Regex, Fmt),
    /// Change the response status.
    SetStatus(u16, Option<String>),
    /// `track-scN KEY table T`: slot, key, the table's proxy.
    Track(usize, Expr, String),
    /// `sc-inc-gpc0(N)`/`sc-inc-gpc1(N)`: the counter (gpc0 or gpc1), the slot.
    ScIncGpc(crate::stick::Data, usize),
    /// `sc-set-gpt0(N) VALUE`.
    ScSetGpt0(usize, Expr),
    /// `auth [realm R]`: answer 401 (realm default: the proxy's name).
    Auth(Option<String>),
    /// `capture EXPR len N|id N`: the sample into capture slot N (of the request in a
    /// request rule, of the response in a response rule).
    Capture(Expr, usize),
    /// `set-src|set-dst|set-src-port|set-dst-port EXPR`: the request's addresses.
    SetAddr(crate::sample::conn::AddrPart, Expr),
    /// `set-timeout server|tunnel TIME|EXPR`.
    SetTimeout(TimeoutKind, TimeoutArg),
    /// `strict-mode on|off`.
    StrictMode(bool),
    /// `reject`: close without an answer.
    Reject,
    /// `silent-drop`: close at once, as if the peer had gone.
    SilentDrop,
    /// `tarpit`: hold the request, then answer as this `Deny`/`DenyWith` does.
    Tarpit(Box<Action>),
    /// `wait-for-body time T [at-least N]`: the request body read ahead.
    WaitForBody(BodyWait),
    /// `normalize-uri NORMALIZER`.
    NormalizeUri(Normalizer),
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Action.
    pub action: Action,
    /// Condition (None: always).
    pub cond: Option<Cond>,
    /// Where it was declared (`last_rule_file`, `last_rule_line`).
    pub loc: Loc,
}

/// The compiled acls and rules of one proxy.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    matchers: Vec<Matcher>,
    names: Vec<String>,
    /// `http-request` rules.
    pub request: Vec<Rule>,
    /// `http-response` rules.
    pub response: Vec<Rule>,
    /// `http-after-response` rules.
    pub after: Vec<Rule>,
    /// `tcp-request connection` rules.
    pub tcp_connection: Vec<TcpRt>,
    /// `tcp-request session` rules.
    pub tcp_session: Vec<TcpRt>,
    /// `tcp-request content` rules.
    pub tcp_content: Vec<TcpRt>,
    /// `tcp-response content` rules.
    pub tcp_response: Vec<TcpRt>,
    /// `tcp-request inspect-delay`: how long content rules wait for request data.
    pub inspect_delay: Option<std::time::Duration>,
    /// `tcp-response inspect-delay`: the same for response data.
    pub res_inspect_delay: Option<std::time::Duration>,
}

/// A compiled `tcp-request`/`tcp-response` rule.
#[derive(Debug, Clone)]
pub struct TcpRt {
    action: TcpAction,
    cond: Option<Cond>,
    loc: Loc,
}

/// What a list of tcp rules decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No rule decided: go on.
    Continue,
    /// `accept`: go on, skipping the remaining rules of the list.
    Accept,
    /// `reject` / `silent-drop`: close.
    Reject,
    /// A condition needs request bytes not received yet: run again (from
    /// `TcpRun::next`) once more arrive or the data is final.
    Wait,
}

/// A run of tcp rules: where it is between waits for data, and what it changed.
#[derive(Debug, Clone, Default)]
pub struct TcpRun {
    /// The next rule to run.
    pub next: usize,
    /// The addresses, as `set-src`/`set-dst` rules left them.
    pub addrs: crate::sample::conn::Addrs,
    /// An `expect-proxy layer4` rule matched.
    pub expect_proxy: bool,
    /// A `track-sc*` rule also counts an HTTP request (tcp rules in `mode http`).
    pub http: bool,
    /// The `accept`/`reject` rule that ended the run (`last_rule_file`/`_line`).
    pub last: Option<Loc>,
}

impl TcpRun {
    /// A run starting with the addresses of `env`.
    pub fn of(env: &Env<'_>) -> TcpRun {
        TcpRun {
            addrs: crate::sample::conn::Addrs {
                src: env.src,
                dst: env.dst,
            },
            ..TcpRun::default()
        }
    }
}

/// `track-scN KEY [table T]` from a tcp rule: the key's entry in the table, in the
/// slot if it is free (counting an HTTP request too in `mode http`).
fn track(
    env: &Env<'_>,
    slot: usize,
    key: Option<crate::sample::Value<'_>>,
    table: Option<&str>,
    http: bool,
) {
    let (Some(tr), Some(t)) = (env.stick.tracked, env.stick.table(table)) else {
        return;
    };
    if env.stick.slot(slot).is_some() {
        return;
    }
    if let Some(k) = key.and_then(|v| crate::sample::track::key_of(t, &v)) {
        tr.track_as(slot, t, k, http);
    }
}

fn compile_matcher(a: &Acl) -> Matcher {
    Matcher {
        expr: a.expr.clone(),
        patterns: a.patterns.clone(),
    }
}

/// HAProxy's `\1` back-references as the regex crate writes them (`${1}`).
fn backrefs(f: &Fmt) -> Fmt {
    let t = f.text();
    let mut out = String::with_capacity(t.len());
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('\\', Some(d)) if d.is_ascii_digit() => {
                out.push_str(&format!("${{{d}}}"));
                chars.next();
            }
            ('$', _) => out.push_str("$$"),
            (c, _) => out.push(c),
        }
    }
    Fmt::parse(&out).unwrap_or_else(|_| f.clone())
}

impl RuleSet {
    /// Compiles a proxy's acls and rules.
    pub fn new(acls: &[Acl], request: &[HttpRule], response: &[HttpRule]) -> Self {
        let mut rs = RuleSet::default();
        for a in acls {
            rs.matchers.push(compile_matcher(a));
            rs.names.push(a.name.clone());
        }
        rs.request = request.iter().filter_map(|r| rs.rule(r)).collect();
        rs.response = response.iter().filter_map(|r| rs.rule(r)).collect();
        rs
    }

    /// Compiles all the rules of a proxy: acls, http-request, http-response,
    /// http-after-response, tcp-request and tcp-response.
    pub fn for_proxy(p: &Proxy) -> Self {
        let mut rs = RuleSet::new(&p.acls, &p.http_request, &p.http_response);
        rs.inspect_delay = p.inspect_delay;
        rs.res_inspect_delay = p.res_inspect_delay;
        rs.after = p
            .http_after_response
            .iter()
            .filter_map(|r| rs.rule(r))
            .collect();
        for r in &p.tcp_rules {
            let rt = TcpRt {
                action: r.action.clone(),
                cond: r.cond.as_ref().map(|c| rs.cond(c)),
                loc: r.loc.clone(),
            };
            match r.when {
                TcpWhen::Connection => rs.tcp_connection.push(rt),
                TcpWhen::Session => rs.tcp_session.push(rt),
                TcpWhen::Content => rs.tcp_content.push(rt),
                TcpWhen::Response => rs.tcp_response.push(rt),
            }
        }
        rs
    }

    /// Runs tcp rules in order against `env` (whose `vars` are ignored: the rules read
    /// and change `vars`). The first `accept` or `reject` decides.
    pub fn run_tcp(&self, rules: &[TcpRt], env: &Env<'_>, vars: &mut Vars) -> Verdict {
        self.run_tcp_from(rules, env, vars, &mut TcpRun::of(env))
    }

    /// The same, from rule `run.next`, with the addresses of `run` (which `set-src`
    /// and friends change). `Wait`: a condition needs request bytes not there yet
    /// (`run.next` is that rule's).
    pub fn run_tcp_from(
        &self,
        rules: &[TcpRt],
        env: &Env<'_>,
        vars: &mut Vars,
        run: &mut TcpRun,
    ) -> Verdict {
        while let Some(r) = rules.get(run.next) {
            let value = {
                let env = Env {
                    vars: Some(&*vars),
                    src: run.addrs.src,
                    dst: run.addrs.dst,
                    ..*env
                };
                match self.eval3_opt(&r.cond, &env) {
                    None => return Verdict::Wait,
                    Some(false) => {
                        run.next += 1;
                        continue;
                    }
                    Some(true) => {}
                }
                match &r.action {
                    TcpAction::Accept => {
                        run.last = Some(r.loc.clone());
                        return Verdict::Accept;
                    }
                    TcpAction::Reject | TcpAction::SilentDrop => {
                        run.last = Some(r.loc.clone());
                        return Verdict::Reject;
                    }
                    TcpAction::SetVar(_, _, e) => e.eval(&env).map(|v| v.into_owned()),
                    TcpAction::SetVarFmt(_, _, f) => {
                        Some(crate::sample::Value::Str(f.eval(&env).into()))
                    }
                    TcpAction::SetAddr(part, e) => {
                        if let Some(v) = e.eval(&env) {
                            run.addrs.set(*part, &v);
                        }
                        None
                    }
                    TcpAction::Track { slot, key, table } => {
                        // A key that needs bytes not received yet (an HTTP fetch
                        // before the request head is complete) waits for them.
                        if let Some(p) = env.payload {
                            p.missing.store(false, std::sync::atomic::Ordering::Relaxed);
                        }
                        let v = key.eval(&env);
                        if v.is_none()
                            && env.payload.is_some_and(|p| {
                                p.missing.load(std::sync::atomic::Ordering::Relaxed)
                            })
                        {
                            return Verdict::Wait;
                        }
                        track(&env, *slot, v, table.as_deref(), run.http);
                        None
                    }
                    TcpAction::ExpectProxy => {
                        run.expect_proxy = true;
                        None
                    }
                    TcpAction::ScIncGpc { gpc, slot } => {
                        if let Some(t) = env.stick.slot(*slot) {
                            let d = if *gpc == 0 {
                                crate::stick::Data::Gpc0
                            } else {
                                crate::stick::Data::Gpc1
                            };
                            t.table.add(&t.entry, d, 1);
                        }
                        None
                    }
                    TcpAction::UnsetVar(..) => None,
                }
            };
            match &r.action {
                TcpAction::SetVar(s, n, _) | TcpAction::SetVarFmt(s, n, _) if value.is_some() => {
                    crate::sample::vars::store(vars, env.proc_vars, *s, n, value);
                }
                TcpAction::UnsetVar(s, n) => {
                    crate::sample::vars::store(vars, env.proc_vars, *s, n, None)
                }
                _ => {}
            }
            run.next += 1;
        }
        Verdict::Continue
    }

    fn rule(&mut self, r: &HttpRule) -> Option<Rule> {
        let hn = |n: &str| HeaderName::from_bytes(n.as_bytes()).ok();
        let hv = |v: &str| HeaderValue::from_str(v).ok();
        let action = match &r.action {
            HttpAction::SetHeader(n, v) => Action::SetHeader(hn(n)?, HdrVal::new(v)?),
            HttpAction::AddHeader(n, v) => Action::AddHeader(hn(n)?, HdrVal::new(v)?),
            HttpAction::DelHeader(n, Method::Str) => Action::DelHeader(hn(n)?),
            HttpAction::DelHeader(n, m) => {
                Action::DelHeaders(Patterns::new(*m, true, std::slice::from_ref(n)).ok()?)
            }
            HttpAction::ReplaceHeader {
                name,
                regex,
                with,
                items,
            } => Action::ReplaceHeader {
                name: hn(name)?,
                regex: regex::Regex::new(regex).ok()?,
                with: backrefs(with),
                items: *items,
            },
            HttpAction::Deny(s) => Action::Deny(*s),
            HttpAction::DenyWith(a) => {
                let inner = HttpRule {
                    action: (**a).clone(),
                    cond: None,
                    loc: r.loc.clone(),
                };
                Action::DenyWith(Box::new(self.rule(&inner)?.action))
            }
            HttpAction::ErrorPage(s, p) => Action::ErrorPage(
                *s,
                match p {
                    ReplyPage::Proxy => None,
                    ReplyPage::File(p) => Some(p.clone()),
                    ReplyPage::Section(_, p) => p.clone(),
                },
            ),
            HttpAction::Allow => Action::Allow,
            HttpAction::UseServicePrometheus => Action::Prometheus,
            HttpAction::Redirect(r) => Action::Redirect(r.clone()),
            HttpAction::Return {
                status,
                content_type,
                body,
                headers,
            } => {
                let fixed = body.as_ref().and_then(|b| b.literal()).unwrap_or(b"");
                Action::Return {
                    status: *status,
                    content_type: content_type.as_deref().and_then(hv),
                    body: Bytes::copy_from_slice(fixed),
                    body_fmt: body.as_ref().filter(|b| b.literal().is_none()).cloned(),
                    headers: headers
                        .iter()
                        .filter_map(|(n, v)| Some((hn(n)?, HdrVal::new(v)?)))
                        .collect(),
                }
            }
            HttpAction::SetVar(s, n, e) => Action::SetVar(*s, n.clone(), e.clone()),
            HttpAction::SetVarFmt(s, n, f) => Action::SetVarFmt(*s, n.clone(), f.clone()),
            HttpAction::UnsetVar(s, n) => Action::UnsetVar(*s, n.clone()),
            HttpAction::SetUri(p, f) => Action::SetUri(*p, f.clone()),
            HttpAction::ReplaceUri(p, re, f) => {
                Action::ReplaceUri(*p, regex::Regex::new(re).ok()?, backrefs(f))
            }
            HttpAction::SetStatus(c, r) => Action::SetStatus(*c, r.clone()),
            // The validation names the table (this proxy's when none is given).
            HttpAction::Track { slot, key, table } => {
                Action::Track(*slot, key.clone(), table.clone()?)
            }
            HttpAction::ScIncGpc { gpc, slot } => Action::ScIncGpc(
                if *gpc == 0 {
                    crate::stick::Data::Gpc0
                } else {
                    crate::stick::Data::Gpc1
                },
                *slot,
            ),
            HttpAction::ScSetGpt0 { slot, value } => Action::ScSetGpt0(*slot, value.clone()),
            HttpAction::Auth(realm) => Action::Auth(realm.clone()),
            HttpAction::Capture { expr, id, .. } => Action::Capture(expr.clone(), *id),
            HttpAction::SetAddr(part, e) => Action::SetAddr(*part, e.clone()),
            HttpAction::SetTimeout(k, a) => Action::SetTimeout(*k, a.clone()),
            HttpAction::StrictMode(on) => Action::StrictMode(*on),
            HttpAction::Reject => Action::Reject,
            HttpAction::SilentDrop => Action::SilentDrop,
            HttpAction::WaitForBody { time, at_least } => Action::WaitForBody(BodyWait {
                time: Some(*time),
                at_least: *at_least,
            }),
            HttpAction::Tarpit(a) => {
                let inner = HttpRule {
                    action: (**a).clone(),
                    cond: None,
                    loc: r.loc.clone(),
                };
                Action::Tarpit(Box::new(self.rule(&inner)?.action))
            }
            HttpAction::NormalizeUri(n) => Action::NormalizeUri(*n),
        };
        let cond = r.cond.as_ref().map(|c| self.cond(c));
        Some(Rule {
            action,
            cond,
            loc: r.loc.clone(),
        })
    }

    /// Compiles a condition against this proxy's acls.
    pub fn cond(&mut self, c: &Condition) -> Cond {
        let mut any_of = Vec::new();
        for group in &c.any_of {
            let mut g = Vec::new();
            for t in group {
                let idxs = match &t.acl {
                    TermAcl::Named(n) => self
                        .names
                        .iter()
                        .enumerate()
                        .filter(|(_, m)| *m == n)
                        .map(|(i, _)| i)
                        .collect(),
                    TermAcl::Anonymous(a) => {
                        self.matchers.push(compile_matcher(a));
                        self.names.push(String::new());
                        vec![self.matchers.len() - 1]
                    }
                };
                g.push((t.negate, idxs));
            }
            any_of.push(g);
        }
        Cond {
            unless: c.unless,
            any_of,
        }
    }

    /// Evaluates a compiled condition.
    pub fn eval(&self, c: &Cond, env: &Env<'_>) -> bool {
        let hit = c.any_of.iter().any(|group| {
            group
                .iter()
                .all(|(neg, idxs)| idxs.iter().any(|&i| self.matchers[i].matches(env)) != *neg)
        });
        hit != c.unless
    }

    /// Evaluates a condition in three states (HAProxy's PASS, FAIL and MISS): None
    /// when request bytes not received yet could change the answer.
    pub fn eval3(&self, c: &Cond, env: &Env<'_>) -> Option<bool> {
        // An OR of ANDs: a passing group decides; else a group waiting on data waits.
        let mut miss = false;
        for group in &c.any_of {
            let mut g = Some(true);
            for (neg, idxs) in group {
                let mut term = Some(false);
                for &i in idxs {
                    match self.matchers[i].matches3(env) {
                        Some(true) => {
                            term = Some(true);
                            break;
                        }
                        None => term = None,
                        Some(false) => {}
                    }
                }
                match term.map(|t| t != *neg) {
                    Some(false) => {
                        g = Some(false);
                        break;
                    }
                    None => g = None,
                    Some(true) => {}
                }
            }
            match g {
                Some(true) => return Some(!c.unless),
                None => miss = true,
                Some(false) => {}
            }
        }
        (!miss).then_some(c.unless)
    }

    fn eval3_opt(&self, c: &Option<Cond>, env: &Env<'_>) -> Option<bool> {
        match c {
            Some(c) => self.eval3(c, env),
            None => Some(true),
        }
    }

    /// Evaluates an optional condition (None is true).
    pub fn eval_opt(&self, c: &Option<Cond>, env: &Env<'_>) -> bool {
        c.as_ref().is_none_or(|c| self.eval(c, env))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_str;
    use hyper::header::HeaderMap;

    fn ruleset(acls: &str) -> (RuleSet, Vec<Cond>) {
        let cfg = format!(
            "defaults\n mode http\n timeout client 1s\n timeout connect 1s\n timeout server 1s\nfrontend f\n bind 127.0.0.1:1\n{acls}\nbackend b\n"
        );
        let loaded = parse_str("t.cfg", &cfg);
        let c = loaded
            .config
            .unwrap_or_else(|| panic!("{:?}", loaded.diags));
        let p = &c.proxies[0];
        let mut rs = RuleSet::new(&p.acls, &[], &[]);
        let conds = p.use_backends.iter().map(|u| rs.cond(&u.cond)).collect();
        (rs, conds)
    }

    fn req<'a>(method: &'a str, path: &'a str, headers: &'a HeaderMap, src: &str) -> Env<'a> {
        Env {
            src: Some(std::net::SocketAddr::new(src.parse().unwrap(), 1000)),
            req: Some(crate::sample::HttpReq {
                method,
                uri: path,
                version: "1.1",
                headers,
                body: None,
            }),
            ..Env::default()
        }
    }

    fn host(h: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert("host", h.parse().unwrap());
        m
    }

    #[test]
    fn host_and_path_criteria() {
        let (rs, c) = ruleset(
            " acl h hdr(host) -i api.example.com\n acl d hdr_dom(host) example.org\n acl p path_beg /static\n acl e path_end .png\n acl dir path_dir img\n use_backend b if h\n use_backend b if d\n use_backend b if p or e\n use_backend b if dir",
        );
        let h = host("API.Example.com");
        assert!(rs.eval(&c[0], &req("GET", "/", &h, "1.1.1.1")));
        assert!(!rs.eval(
            &c[0],
            &req("GET", "/", &host("api.example.com.evil"), "1.1.1.1")
        ));
        assert!(rs.eval(
            &c[1],
            &req("GET", "/", &host("www.example.org:8080"), "1.1.1.1")
        ));
        assert!(!rs.eval(&c[1], &req("GET", "/", &host("notexample.org"), "1.1.1.1")));
        let none = HeaderMap::new();
        assert!(rs.eval(&c[2], &req("GET", "/static/x", &none, "1.1.1.1")));
        assert!(rs.eval(&c[2], &req("GET", "/a/b.png", &none, "1.1.1.1")));
        assert!(!rs.eval(&c[2], &req("GET", "/a/b.jpg", &none, "1.1.1.1")));
        assert!(rs.eval(&c[3], &req("GET", "/a/img/b", &none, "1.1.1.1")));
        assert!(!rs.eval(&c[3], &req("GET", "/a/imgs/b", &none, "1.1.1.1")));
    }

    #[test]
    fn negation_unless_src_method_and_anonymous() {
        let (rs, c) = ruleset(
            " acl lan src 10.0.0.0/8 192.168.0.0/16\n acl post method POST\n use_backend b if lan !post\n use_backend b unless lan\n use_backend b if { path /x } || { method -i delete }",
        );
        let h = HeaderMap::new();
        assert!(rs.eval(&c[0], &req("GET", "/", &h, "10.1.2.3")));
        assert!(!rs.eval(&c[0], &req("POST", "/", &h, "10.1.2.3")));
        assert!(!rs.eval(&c[0], &req("GET", "/", &h, "11.1.2.3")));
        assert!(rs.eval(&c[0], &req("GET", "/", &h, "::ffff:192.168.1.1")));
        assert!(rs.eval(&c[1], &req("GET", "/", &h, "8.8.8.8")));
        assert!(!rs.eval(&c[1], &req("GET", "/", &h, "10.0.0.1")));
        assert!(rs.eval(&c[2], &req("GET", "/x", &h, "8.8.8.8")));
        assert!(rs.eval(&c[2], &req("DELETE", "/y", &h, "8.8.8.8")));
        assert!(!rs.eval(&c[2], &req("GET", "/y", &h, "8.8.8.8")));
    }

    #[test]
    fn repeated_acl_names_or_together() {
        let (rs, c) = ruleset(" acl s path /a\n acl s path /b\n use_backend b if s");
        let h = HeaderMap::new();
        assert!(rs.eval(&c[0], &req("GET", "/a", &h, "1.1.1.1")));
        assert!(rs.eval(&c[0], &req("GET", "/b", &h, "1.1.1.1")));
        assert!(!rs.eval(&c[0], &req("GET", "/c", &h, "1.1.1.1")));
    }

    #[test]
    fn networks() {
        assert!(in_net(
            "10.1.2.3".parse().unwrap(),
            "10.0.0.0".parse().unwrap(),
            8
        ));
        assert!(!in_net(
            "11.1.2.3".parse().unwrap(),
            "10.0.0.0".parse().unwrap(),
            8
        ));
        assert!(in_net(
            "2001:db8::1".parse().unwrap(),
            "2001:db8::".parse().unwrap(),
            32
        ));
        assert!(in_net(
            "1.2.3.4".parse().unwrap(),
            "0.0.0.0".parse().unwrap(),
            0
        ));
    }
}
