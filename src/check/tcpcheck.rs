//! The rule engine of `tcp-check`, `http-check` and the protocol checks, evaluated as
//! HAProxy's `tcpcheck_main` does: rules run in order on one connection at a time
//! (`connect` opens a new one), `send` empties the input buffer, an `expect` reads once
//! after a connect or a send and waits for more data (from the head of its chain of
//! expects) while its pattern cannot decide yet.
//!
//! Timeouts: a connect is bounded by `timeout connect` (at most `inter`); once
//! connected, the rest by `timeout check` when set, else by what remains of `inter`.

use super::proto::{self, Verdict};
use crate::backend::status::Outcome;
use crate::backend::stream::{Raw, ServerStream};
use crate::config::model::check::*;
use crate::sample::{Env, Named, Scope, Vars};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The input buffer size of a check (HAProxy's `tune.chksize`/`bufsize`).
pub const BUFSIZE: usize = 16384;

/// The longest info of a check result (HAProxy's `HCHK_DESC_LEN` - 1).
const DESC_LEN: usize = 127;

/// Who is checked: for messages, samples and the `default` connect.
#[derive(Debug, Clone)]
pub struct Target {
    /// The backend's name and id.
    pub be: (String, i64),
    /// The server's name and id.
    pub srv: (String, i64),
    /// The check address (the server's, or its `addr`/`port`).
    pub addr: SocketAddr,
    /// The unix socket checks connect to instead (a unix socket server without
    /// `addr`/`port`): a path, or `abns@NAME`.
    pub unix: Option<String>,
    /// The server's PROXY protocol version (`send-proxy`, `send-proxy-v2`).
    pub send_proxy: Option<u8>,
    /// The value of the `X-Haproxy-Server-State` header (`http-check send-state`).
    pub state_header: Option<String>,
    /// `http-check disable-on-404` and the server is not DOWN: a 404 passes
    /// conditionally.
    pub nolb_404: bool,
    /// TLS of the checks (`check-ssl`, or `ssl` on the server's own address).
    pub tls: Option<super::probe::CheckTls>,
}

/// Check timeouts.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// `inter` of the server.
    pub inter: Duration,
    /// `timeout connect`.
    pub connect: Option<Duration>,
    /// `timeout check`.
    pub check: Option<Duration>,
}

/// What an evaluated step asks for.
pub(super) enum Eval {
    /// Go on with the next rule.
    Continue,
    /// Read more and evaluate again from the head of the chain.
    Wait,
    /// The check is over.
    Stop(Status, String),
}

/// One run of a ruleset.
pub struct Run<'r> {
    pub(super) rules: &'r CheckRules,
    target: &'r Target,
    timing: Timing,
    conn: Option<ServerStream>,
    /// The input buffer.
    pub(super) buf: Vec<u8>,
    eos: bool,
    read_err: Option<std::io::Error>,
    pub(super) vars: Vars,
    /// The status code (`check->code`).
    pub(super) code: i64,
    /// The rule being evaluated (`check->current_step`).
    current: Option<usize>,
    /// The connection of the current `connect` is established.
    connected: bool,
    start: Instant,
    deadline: Instant,
    /// The HTTP response of an http-check, parsed from `buf`.
    pub(super) http: Option<super::httpcheck::Response>,
    /// The agent's reply (agent checks).
    pub agent: Option<crate::backend::agent::AgentReply>,
}

impl<'r> Run<'r> {
    /// Prepares a run of `rules` against `target`.
    pub fn new(rules: &'r CheckRules, target: &'r Target, timing: Timing) -> Run<'r> {
        let mut vars = Vars::default();
        for (n, v) in &rules.vars {
            vars.set(Scope::Check, n, v.clone());
        }
        let start = Instant::now();
        Run {
            rules,
            target,
            timing,
            conn: None,
            buf: Vec::new(),
            eos: false,
            read_err: None,
            vars,
            code: 0,
            current: None,
            connected: false,
            start,
            deadline: start + timing.inter,
            http: None,
            agent: None,
        }
    }

    /// The sample environment of the check: its variables, the backend and server,
    /// the bytes received (and the HTTP response of an http-check).
    pub(super) fn env(&self) -> Env<'_> {
        Env {
            be: Some(Named {
                name: &self.target.be.0,
                id: self.target.be.1,
            }),
            srv: Some(Named {
                name: &self.target.srv.0,
                id: self.target.srv.1,
            }),
            dst: Some(self.target.addr),
            vars: Some(&self.vars),
            // What the server sent: final (a check does not wait on a fetch).
            payload: Some(crate::sample::conn::Payload::settled(&self.buf, true)),
            res: self.http.as_ref().map(|h| h.sample()),
            ..Env::default()
        }
    }

    fn is_tcp_check(&self) -> bool {
        self.rules.proto == CheckProto::TcpCheck
    }

    /// Runs every rule and gives the result.
    pub async fn run(mut self) -> (Outcome, Option<crate::backend::agent::AgentReply>) {
        let (status, info) = self.rules_loop().await;
        let agent = self.agent.take();
        let outcome = self.outcome(status, info);
        if outcome.ok {
            if let Some(conn) = self.conn.take() {
                // A check that passed on the first lines of a reply (`250-` of a
                // multi-line SMTP answer) would reset the connection while the server
                // is still writing the rest, and the server sees a broken pipe. Read
                // what it still sends for a moment, in the background, then close.
                tokio::spawn(drain(conn));
            }
        }
        (outcome, agent)
    }

    /// The result as the status layer takes it. The info is a C string of at most 127
    /// bytes in HAProxy (`check->desc`): cut at a NUL byte and at that length.
    fn outcome(&self, status: Status, mut info: String) -> Outcome {
        if let Some(p) = info.find('\0') {
            info.truncate(p);
        }
        if info.len() > DESC_LEN {
            let mut end = DESC_LEN;
            while !info.is_char_boundary(end) {
                end -= 1;
            }
            info.truncate(end);
        }
        Outcome {
            ok: status.passed(),
            reason: status.reason(),
            code: status
                .shows_code()
                .then(|| self.code.clamp(0, u16::MAX as i64) as i32),
            info: (!info.is_empty()).then_some(info),
            duration: self.start.elapsed(),
        }
    }

    async fn rules_loop(&mut self) -> (Status, String) {
        let rules = &self.rules.rules;
        let mut must_read = true;
        let mut i = 0;
        while i < rules.len() {
            self.code = 0;
            match &rules[i].act {
                CheckAct::Connect(c) => {
                    self.current = Some(i);
                    // Delayed ACKs unless the server speaks first (HAProxy's
                    // CONNECT_DELACK_ALWAYS when no expect follows).
                    let next = rules[i + 1..].iter().find(|r| {
                        !matches!(
                            r.act,
                            CheckAct::Comment | CheckAct::SetVar(..) | CheckAct::UnsetVar(_)
                        )
                    });
                    let delack = !matches!(next.map(|r| &r.act), Some(CheckAct::Expect(_)));
                    if let Err(e) = self.connect(c, delack).await {
                        return e;
                    }
                    must_read = true;
                }
                CheckAct::Send(s) => {
                    self.current = Some(i);
                    if let Err(e) = self.send(i, s).await {
                        return e;
                    }
                    must_read = true;
                }
                CheckAct::Expect(e) => {
                    self.current = Some(i);
                    if must_read {
                        if let Err(e) = self.read(i).await {
                            return e;
                        }
                        must_read = false;
                    }
                    let last = self.eos || self.buf.len() >= BUFSIZE;
                    let r = if self.rules.proto == CheckProto::Http {
                        self.expect_http(i, e, last)
                    } else {
                        self.expect(i, e, last)
                    };
                    match r {
                        Eval::Continue => {}
                        Eval::Wait => {
                            self.current = Some(e.head);
                            if let Err(e) = self.read(i).await {
                                return e;
                            }
                            i = e.head;
                            continue;
                        }
                        Eval::Stop(st, info) => return (st, info),
                    }
                }
                CheckAct::SetVar(name, expr) => {
                    let v = expr.eval(&self.env()).map(|v| v.into_owned());
                    if let (Some(v), Ok((scope, n))) = (v, Scope::split(name)) {
                        self.vars.set(scope, n, v);
                    }
                }
                CheckAct::UnsetVar(name) => {
                    if let Ok((scope, n)) = Scope::split(name) {
                        self.vars.unset(scope, n);
                    }
                }
                CheckAct::Comment => {}
            }
            i += 1;
        }
        self.success()
    }

    /// All rules passed: the result of the last evaluated one.
    fn success(&mut self) -> (Status, String) {
        let Some(i) = self.current else {
            return (Status::L7Ok, "(tcp-check)".into());
        };
        match &self.rules.rules[i].act {
            CheckAct::Expect(e) => {
                if self.rules.proto == CheckProto::Http && self.code == 404 && self.nolb_404() {
                    return (Status::L7OkC, String::new());
                }
                let msg = self.on_success(e);
                (e.ok.unwrap_or(Status::L7Ok), msg)
            }
            CheckAct::Connect(c) => (
                Status::L4Ok,
                if c.implicit {
                    String::new()
                } else {
                    "(tcp-check)".into()
                },
            ),
            _ => (Status::L7Ok, "(tcp-check)".into()),
        }
    }

    async fn connect(&mut self, c: &Connect, delack: bool) -> Result<(), (Status, String)> {
        self.conn = None;
        self.buf.clear();
        self.eos = false;
        self.read_err = None;
        self.connected = false;
        let t = self.target.addr;
        let ip = c.addr.map_or(t.ip(), |a| a.ip());
        let port = c
            .port
            .or(c.addr.map(|a| a.port()).filter(|p| *p != 0))
            .unwrap_or(t.port());
        let addr = SocketAddr::new(ip, port);
        // A `connect` rule with its own `addr`/`port` goes over TCP.
        let unix = (c.addr.is_none() && c.port.is_none())
            .then_some(self.target.unix.as_deref())
            .flatten();
        let ctimeout = self
            .timing
            .connect
            .map_or(self.timing.inter, |x| x.min(self.timing.inter));
        let open = super::probe::open(unix, addr, delack, c.linger);
        let stream = match tokio::time::timeout(ctimeout, open).await {
            Err(_) => return Err((Status::L4Tout, self.where_())),
            Ok(Err(e)) => return Err((Status::L4Con, self.io_info(&e))),
            Ok(Ok(s)) => s,
        };
        self.connected = true;
        self.conn = Some(stream.plain());
        if let Some(check) = self.timing.check {
            self.deadline = Instant::now() + check;
        }
        let pp = if c.send_proxy {
            Some(1)
        } else if c.default {
            self.target.send_proxy
        } else {
            None
        };
        if let Some(v) = pp {
            let local = self.conn.as_ref().and_then(|s| s.tcp()?.local_addr().ok());
            let hdr = match (v, local) {
                (2, Some(l)) => crate::backend::proxy_proto::v2(l, addr),
                (_, Some(l)) => crate::backend::proxy_proto::v1(l, addr),
                _ => crate::backend::proxy_proto::unknown(v),
            };
            self.write(&hdr).await?;
        }
        // `connect ssl`, or the server's own check TLS on a default connect.
        let tls = match &self.target.tls {
            Some(t) if c.ssl => Some(t.for_rule(c)),
            Some(t) if t.default && (c.default || c.implicit) => Some(t.clone()),
            _ => None,
        };
        if c.ssl && tls.is_none() {
            return Err((
                Status::L6Rsp,
                format!("SSL handshake failure{}", self.where_()),
            ));
        }
        if let Some(tls) = tls {
            let tcp = match self.conn.take() {
                Some(ServerStream::Plain(s)) => Raw::Tcp(s),
                Some(ServerStream::Unix(s)) => Raw::Unix(s),
                _ => return Err((Status::SockErr, self.where_())),
            };
            let left = self.deadline.saturating_duration_since(Instant::now());
            match tls.handshake(tcp, left).await {
                Ok(s) => self.conn = Some(s),
                Err((st, info)) => return Err((st, format!("{info}{}", self.where_()))),
            }
        }
        Ok(())
    }

    async fn send(&mut self, i: usize, s: &Send) -> Result<(), (Status, String)> {
        self.buf.clear();
        self.http = None;
        let data = match s {
            Send::Bytes(b) => b.clone(),
            Send::StrLf(f) => f.eval(&self.env()),
            Send::BinLf(f) => {
                let text = f.eval(&self.env());
                if text.is_empty() {
                    Vec::new()
                } else {
                    match crate::sample::conv::unhex(&text) {
                        Some(b) => b,
                        None => {
                            return Err((
                                Status::L7Rsp,
                                format!(
                                    "tcp-check send : failed to build log-format string at step {}",
                                    self.rules.step(i)
                                ),
                            ))
                        }
                    }
                }
            }
            Send::Http(h) => self.http_request(h),
        };
        if data.len() >= BUFSIZE {
            return Err((
                Status::L7Rsp,
                format!(
                    "tcp-check send : string too large ({}) for buffer size ({BUFSIZE}) at step {}",
                    data.len(),
                    self.rules.step(i)
                ),
            ));
        }
        if data.is_empty() {
            return Ok(());
        }
        self.write(&data).await
    }

    async fn write(&mut self, data: &[u8]) -> Result<(), (Status, String)> {
        let Some(conn) = self.conn.as_mut() else {
            return Err((Status::SockErr, self.where_()));
        };
        match tokio::time::timeout_at(self.deadline.into(), conn.write_all(data)).await {
            Err(_) => Err(self.timed_out()),
            Ok(Err(e)) => Err((Status::SockErr, self.io_info(&e))),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Reads what is available (waiting for at least one byte, the end or an error).
    async fn read(&mut self, i: usize) -> Result<(), (Status, String)> {
        if !self.eos && self.buf.len() < BUFSIZE {
            let Some(conn) = self.conn.as_mut() else {
                return Err((Status::SockErr, self.where_()));
            };
            let mut chunk = vec![0u8; BUFSIZE - self.buf.len()];
            match tokio::time::timeout_at(self.deadline.into(), conn.read(&mut chunk)).await {
                Err(_) => return Err(self.timed_out()),
                Ok(Ok(0)) => self.eos = true,
                Ok(Ok(n)) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    if self.rules.proto == CheckProto::Http {
                        self.parse_http();
                    }
                    return Ok(());
                }
                Ok(Err(e)) => {
                    self.eos = true;
                    self.read_err = Some(e);
                }
            }
        }
        if self.buf.is_empty() {
            if let Some(e) = &self.read_err {
                let info = self.io_info(e);
                return Err((Status::SockErr, info));
            }
            let mut info = format!(
                "TCPCHK got an empty response at step {}",
                self.rules.step(i)
            );
            if let Some(c) = &self.rules.rules[i].comment {
                info.push_str(&format!(" comment: '{c}'"));
            }
            let st = match &self.rules.rules[i].act {
                CheckAct::Expect(e) => e.err.unwrap_or(Status::L7Rsp),
                _ => Status::L7Rsp,
            };
            return Err((st, info));
        }
        if self.rules.proto == CheckProto::Http {
            self.parse_http();
        }
        Ok(())
    }

    /// The check expired: where it was.
    fn timed_out(&self) -> (Status, String) {
        let st = if !self.connected {
            Status::L4Tout
        } else {
            match self.current.map(|i| &self.rules.rules[i].act) {
                Some(CheckAct::Expect(e)) => e.tout.unwrap_or(Status::L7Tout),
                _ => Status::L7Tout,
            }
        };
        (st, self.where_())
    }

    fn io_info(&self, e: &std::io::Error) -> String {
        let text = if e.raw_os_error() == Some(libc::ENETUNREACH) {
            "General socket error (Network is unreachable)".to_string()
        } else {
            crate::config::io_text(e)
        };
        format!("{text}{}", self.where_())
    }

    /// HAProxy's ` at step N of tcp-check (...)` of connection errors and timeouts
    /// (pure `tcp-check` rulesets only).
    fn where_(&self) -> String {
        if !self.is_tcp_check() {
            return String::new();
        }
        let Some(i) = self.current else {
            return " at step 1 of tcp-check".into();
        };
        let step = self.rules.step(i);
        if step == 0 {
            return " at initial connection step of tcp-check".into();
        }
        let r = &self.rules.rules[i];
        let mut s = format!(" at step {step} of tcp-check");
        match &r.act {
            CheckAct::Connect(c) => match c.port {
                Some(p) => s.push_str(&format!(" (connect port {p})")),
                None => s.push_str(" (connect)"),
            },
            CheckAct::Expect(e) => s.push_str(&match &e.kind {
                ExpectKind::String(d) => {
                    format!(" (expect string '{}')", String::from_utf8_lossy(d))
                }
                ExpectKind::Binary(d) => {
                    format!(" (expect binary '{}')", String::from_utf8_lossy(d))
                }
                ExpectKind::RString(_) => " (expect regex)".into(),
                ExpectKind::RBinary(_) => " (expect binary regex)".into(),
                ExpectKind::StringLf(_) => " (expect log-format string)".into(),
                ExpectKind::BinaryLf(_) => " (expect log-format binary)".into(),
                ExpectKind::Status(_) => " (expect HTTP status codes)".into(),
                ExpectKind::RStatus(_) => " (expect HTTP status regex)".into(),
                ExpectKind::Hdr(_) => " (expect HTTP header pattern)".into(),
                ExpectKind::Body(d) => format!(
                    " (expect HTTP body content '{}')",
                    String::from_utf8_lossy(d)
                ),
                ExpectKind::RBody(_) => " (expect HTTP body regex)".into(),
                ExpectKind::BodyLf(_) => " (expect log-format HTTP body)".into(),
                ExpectKind::Custom(_) => " (expect custom function)".into(),
            }),
            CheckAct::Send(_) => s.push_str(" (send)"),
            _ => {}
        }
        if let Some(c) = &r.comment {
            s.push_str(&format!(" comment: '{c}'"));
        }
        s
    }

    /// Evaluates a tcp-check expect rule.
    fn expect(&mut self, i: usize, e: &Expect, last: bool) -> Eval {
        if !last {
            if let ExpectKind::String(d) | ExpectKind::Binary(d) = &e.kind {
                if self.buf.len() < d.len() {
                    return Eval::Wait;
                }
            }
            if e.min_recv > 0 && (self.buf.len() as i64) < e.min_recv {
                return Eval::Wait;
            }
        }
        let status = e.err.unwrap_or(Status::L7Rsp);
        let matched = match &e.kind {
            ExpectKind::String(d) | ExpectKind::Binary(d) => memfind(&self.buf, d),
            ExpectKind::RString(re) => re.0.is_match(&self.buf[..self.buf.len().min(BUFSIZE - 1)]),
            ExpectKind::RBinary(re) => re.0.is_match(hex_dump(&self.buf).as_bytes()),
            ExpectKind::StringLf(f) | ExpectKind::BinaryLf(f) => {
                let mut pat = f.eval(&self.env());
                if pat.is_empty() {
                    return Eval::Stop(
                        Status::L7Rsp,
                        self.on_error(
                            i,
                            e,
                            false,
                            "log-format string evaluated to an empty string",
                        ),
                    );
                }
                if matches!(e.kind, ExpectKind::BinaryLf(_)) {
                    match crate::sample::conv::unhex(&pat) {
                        Some(b) => pat = b,
                        None => {
                            return Eval::Stop(
                                Status::L7Rsp,
                                self.on_error(i, e, false, "Failed to parse hexastring resulting of eval of a log-format string"),
                            )
                        }
                    }
                }
                if self.buf.len() < pat.len() {
                    if !last {
                        return Eval::Wait;
                    }
                    false
                } else {
                    memfind(&self.buf, &pat)
                }
            }
            ExpectKind::Custom(c) => return self.custom(i, e, *c, last),
            _ => return Eval::Stop(Status::L7Rsp, String::new()),
        };
        if !matched && !last && e.min_recv == -1 {
            return Eval::Wait;
        }
        if matched != e.inverse {
            return Eval::Continue;
        }
        Eval::Stop(status, self.on_error(i, e, matched, ""))
    }

    fn custom(&mut self, i: usize, e: &Expect, c: Custom, last: bool) -> Eval {
        let is_last_rule = !self.rules.rules[i + 1..].iter().any(|r| {
            !matches!(
                r.act,
                CheckAct::Comment | CheckAct::SetVar(..) | CheckAct::UnsetVar(_)
            )
        });
        let v = match c {
            Custom::MysqlInit => proto::mysql(&self.buf, 0, last, is_last_rule),
            Custom::MysqlOk => {
                let hs = 4
                    + self.buf.first().map_or(0, |&b| b as usize)
                    + (self.buf.get(1).map_or(0, |&b| b as usize) << 8)
                    + (self.buf.get(2).map_or(0, |&b| b as usize) << 16);
                proto::mysql(&self.buf, hs, last, is_last_rule)
            }
            Custom::LdapBind => proto::ldap(&self.buf, last),
            Custom::SpopHello => proto::spop(&self.buf, last),
            Custom::Agent => match crate::backend::agent::parse_reply(&self.buf, last) {
                None => Verdict::Wait,
                // The agent task applies the reply and words the result.
                Some(reply) => {
                    self.agent = Some(reply);
                    Verdict::Continue
                }
            },
        };
        match v {
            Verdict::Wait => Eval::Wait,
            Verdict::Continue => Eval::Continue,
            Verdict::Ok(msg) => Eval::Stop(e.ok.unwrap_or(Status::L7Ok), msg),
            Verdict::Done(st, msg) => Eval::Stop(st, msg),
            Verdict::Fail(st, code, desc) => {
                self.code = code;
                Eval::Stop(st, self.on_error(i, e, false, &desc))
            }
        }
    }

    /// HAProxy's `tcpcheck_expect_onerror_message`.
    pub(super) fn on_error(&mut self, i: usize, e: &Expect, matched: bool, info: &str) -> String {
        let mut msg = if !info.is_empty() {
            info.to_string()
        } else if let Some(f) = &e.on_error {
            String::from_utf8_lossy(&f.eval(&self.env())).into_owned()
        } else if !self.is_tcp_check() {
            String::new()
        } else {
            let step = self.rules.step(i);
            let head = if matched {
                "TCPCHK matched unwanted content"
            } else {
                "TCPCHK did not match content"
            };
            let what = match &e.kind {
                ExpectKind::Status(_) => format!("(status codes) at step {step}"),
                ExpectKind::String(d) | ExpectKind::Body(d) => {
                    format!(" '{}' at step {step}", String::from_utf8_lossy(d))
                }
                ExpectKind::Binary(_) => format!(" (binary) at step {step}"),
                ExpectKind::RString(_) | ExpectKind::RStatus(_) | ExpectKind::RBody(_) => {
                    format!(" (regex) at step {step}")
                }
                ExpectKind::RBinary(_) => format!(" (binary regex) at step {step}"),
                ExpectKind::StringLf(_) | ExpectKind::BodyLf(_) => {
                    format!(" (log-format string) at step {step}")
                }
                ExpectKind::BinaryLf(_) => format!(" (log-format binary) at step {step}"),
                ExpectKind::Custom(_) => format!(" (custom function) at step {step}"),
                // HAProxy stops here for header patterns: no comment, no status code.
                ExpectKind::Hdr(_) => return format!("{head} (header pattern) at step {step}"),
            };
            format!("{head}{what}")
        };
        if let Some(c) = &self.rules.rules[i].comment {
            msg.push_str(" comment: ");
            msg.push_str(c);
        }
        self.status_code(e);
        msg
    }

    /// HAProxy's `tcpcheck_expect_onsuccess_message`.
    pub(super) fn on_success(&mut self, e: &Expect) -> String {
        let msg = if let Some(f) = &e.on_success {
            String::from_utf8_lossy(&f.eval(&self.env())).into_owned()
        } else if self.is_tcp_check() {
            "(tcp-check)".into()
        } else {
            String::new()
        };
        self.status_code(e);
        msg
    }

    fn status_code(&mut self, e: &Expect) {
        if let Some(x) = &e.status_code {
            let v = x
                .eval(&self.env())
                .and_then(|v| v.cast(crate::sample::Type::Str));
            if let Some(n) = v.and_then(|v| v.to_int()) {
                self.code = n;
            }
        }
    }

    pub(super) fn nolb_404(&self) -> bool {
        self.target.nolb_404
    }

    pub(super) fn target_addr(&self) -> SocketAddr {
        self.target.addr
    }

    pub(super) fn state_header(&self) -> Option<&str> {
        self.target.state_header.as_deref()
    }
}

/// The first `needle` in `hay` (an empty needle is found).
pub(super) fn memfind(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// HAProxy's `dump_binary`: upper-case hex digits.
fn hex_dump(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for c in b {
        s.push_str(&format!("{c:02X}"));
    }
    s
}

/// Reads and drops what the server still sends, until it closes or 100 ms pass.
async fn drain(mut conn: ServerStream) {
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_millis(100);
    while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, conn.read(&mut buf)).await {
        if n == 0 {
            break;
        }
    }
}
