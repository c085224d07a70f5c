//! Health-check rulesets as HAProxy builds them: the `tcp-check` and `http-check`
//! rules of a section, and the protocol checks (`option redis-check`, `mysql-check`,
//! `smtpchk`, ...) that are fixed rulesets of the same rules. The check layer runs them.

use crate::sample::{Expr, Fmt, Owned};
use std::net::SocketAddr;

/// Which ruleset a backend's checks run (the last `option` naming a check wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CheckProto {
    /// No check option: a connect-only check.
    #[default]
    Connect,
    /// `option tcp-check`.
    TcpCheck,
    /// `option httpchk`.
    Http,
    /// `option redis-check`.
    Redis,
    /// `option ssl-hello-chk`.
    SslHello,
    /// `option smtpchk`.
    Smtp,
    /// `option pgsql-check`.
    Pgsql,
    /// `option mysql-check`.
    Mysql,
    /// `option ldap-check`.
    Ldap,
    /// `option spop-check`.
    Spop,
    /// `option external-check`: a program run by `check::external`.
    External,
    /// An `agent-check` (per server, beside the backend's check).
    Agent,
}

/// HAProxy's check statuses (`enum healthcheck_status`) a rule can end on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `Socket error`.
    SockErr,
    /// `L4OK`.
    L4Ok,
    /// `L4TOUT`.
    L4Tout,
    /// `L4CON`.
    L4Con,
    /// `L6OK`.
    L6Ok,
    /// `L6TOUT`.
    L6Tout,
    /// `L6RSP`.
    L6Rsp,
    /// `L7TOUT`.
    L7Tout,
    /// `L7RSP`.
    L7Rsp,
    /// `L7OK`.
    L7Ok,
    /// `L7OKC`: conditionally passed.
    L7OkC,
    /// `L7STS`.
    L7Sts,
}

impl Status {
    /// The reason of the log lines.
    pub fn reason(self) -> &'static str {
        match self {
            Status::SockErr => "Socket error",
            Status::L4Ok => "Layer4 check passed",
            Status::L4Tout => "Layer4 timeout",
            Status::L4Con => "Layer4 connection problem",
            Status::L6Ok => "Layer6 check passed",
            Status::L6Tout => "Layer6 timeout",
            Status::L6Rsp => "Layer6 invalid response",
            Status::L7Tout => "Layer7 timeout",
            Status::L7Rsp => "Layer7 invalid response",
            Status::L7Ok => "Layer7 check passed",
            Status::L7OkC => "Layer7 check conditionally passed",
            Status::L7Sts => "Layer7 wrong status",
        }
    }

    /// The check passed.
    pub fn passed(self) -> bool {
        matches!(
            self,
            Status::L4Ok | Status::L6Ok | Status::L7Ok | Status::L7OkC
        )
    }

    /// HAProxy prints the code for the layer-7 data statuses only.
    pub fn shows_code(self) -> bool {
        matches!(self, Status::L7Ok | Status::L7OkC | Status::L7Sts)
    }
}

/// A compiled regex that compares by its text (rulesets are compared to restart checks).
#[derive(Clone)]
pub struct Re(pub regex::bytes::Regex);

impl std::fmt::Debug for Re {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Re({:?})", self.0.as_str())
    }
}

impl Re {
    /// Compiles `s`; HAProxy's message on error.
    pub fn new(s: &str) -> Result<Re, String> {
        regex::bytes::Regex::new(s)
            .map(Re)
            .map_err(|e| format!("regex '{s}' is invalid: {e}"))
    }
}

/// Text taken as written or as a log-format string (`uri-lf`, `body-lf`, `name-lf`).
#[derive(Debug, Clone)]
pub enum Text {
    /// As written.
    Plain(String),
    /// A log-format string.
    Lf(Fmt),
}

/// One rule of a ruleset, with its position (`at step N` counts from `index + 1`).
#[derive(Debug, Clone)]
pub struct CheckRule {
    /// Position among the section's rules (comments count).
    pub index: usize,
    /// `comment` (its own or that of a preceding `comment` rule).
    pub comment: Option<String>,
    /// What it does.
    pub act: CheckAct,
}

/// A rule's action.
#[derive(Debug, Clone)]
pub enum CheckAct {
    /// `connect`.
    Connect(Connect),
    /// `send*`.
    Send(Send),
    /// `expect`.
    Expect(Box<Expect>),
    /// `set-var(check.x) expr`: scope and name, and the expression.
    SetVar(String, Expr),
    /// `unset-var(check.x)`.
    UnsetVar(String),
    /// `comment`: dropped when the ruleset is finished.
    Comment,
}

/// `connect [port N] [addr IP[:port]] [send-proxy] [ssl] [sni S] [alpn A] [linger]
/// [default]`.
#[derive(Debug, Clone, Default)]
pub struct Connect {
    /// `ssl`: TLS with the server's check settings (`verify`, `ca-file`, `crt`...).
    pub ssl: bool,
    /// `sni`: the name sent (else, with `default`, `check-sni`; else none).
    pub sni: Option<String>,
    /// `alpn`: the protocols offered (else, with `default`, `check-alpn`; else the
    /// server's `alpn`).
    pub alpn: Option<Vec<String>>,
    /// `port`.
    pub port: Option<u16>,
    /// `addr` (its port is used when no `port` is given).
    pub addr: Option<SocketAddr>,
    /// `send-proxy`.
    pub send_proxy: bool,
    /// `linger`: close with a FIN, not a reset.
    pub linger: bool,
    /// `default`: the server's check settings (`send-proxy` of the server).
    pub default: bool,
    /// Added by lbd (no explicit `connect` first): step 0.
    pub implicit: bool,
}

/// What a `send` rule sends.
#[derive(Debug, Clone)]
pub enum Send {
    /// `send` / `send-binary`: fixed bytes.
    Bytes(Vec<u8>),
    /// `send-lf`.
    StrLf(Fmt),
    /// `send-binary-lf`: a log-format string giving hex digits.
    BinLf(Fmt),
    /// `http-check send` (with the implicit one from `option httpchk`).
    Http(HttpSend),
}

/// An HTTP check request.
#[derive(Debug, Clone, Default)]
pub struct HttpSend {
    /// `meth` (OPTIONS).
    pub meth: Option<String>,
    /// `uri` / `uri-lf` (/).
    pub uri: Option<Text>,
    /// `ver` (HTTP/1.0).
    pub ver: Option<String>,
    /// `hdr name value` (values are log-format strings).
    pub hdrs: Vec<(String, Fmt)>,
    /// `body` / `body-lf`.
    pub body: Option<Text>,
    /// Comes from `option httpchk` (merged with the first `http-check send`).
    pub from_opt: bool,
}

/// `expect [min-recv N] [!] MATCH PATTERN [options]`.
#[derive(Debug, Clone)]
pub struct Expect {
    /// The match.
    pub kind: ExpectKind,
    /// `!`.
    pub inverse: bool,
    /// `min-recv` (-1: none).
    pub min_recv: i64,
    /// `ok-status`.
    pub ok: Option<Status>,
    /// `error-status`.
    pub err: Option<Status>,
    /// `tout-status`.
    pub tout: Option<Status>,
    /// `on-success`.
    pub on_success: Option<Fmt>,
    /// `on-error`.
    pub on_error: Option<Fmt>,
    /// `status-code`.
    pub status_code: Option<Expr>,
    /// The position (in the finished ruleset) of the first inverted expect of the
    /// chain of expects this one ends: waiting for more data evaluates from there.
    pub head: usize,
}

impl Expect {
    /// An expect rule matching `kind`, without options.
    pub fn new(kind: ExpectKind) -> Expect {
        Expect {
            kind,
            inverse: false,
            min_recv: -1,
            ok: None,
            err: None,
            tout: None,
            on_success: None,
            on_error: None,
            status_code: None,
            head: 0,
        }
    }
}

/// The matches of an `expect`.
#[derive(Debug, Clone)]
pub enum ExpectKind {
    /// `string` (tcp-check).
    String(Vec<u8>),
    /// `rstring` (tcp-check).
    RString(Re),
    /// `binary`.
    Binary(Vec<u8>),
    /// `rbinary`: a regex on the hex dump.
    RBinary(Re),
    /// `string-lf`.
    StringLf(Fmt),
    /// `binary-lf`.
    BinaryLf(Fmt),
    /// `status` (http-check).
    Status(Vec<(u16, u16)>),
    /// `rstatus`.
    RStatus(Re),
    /// `hdr` / `fhdr`.
    Hdr(HdrMatch),
    /// `string` (http-check): the body.
    Body(Vec<u8>),
    /// `rstring` (http-check).
    RBody(Re),
    /// `string-lf` (http-check).
    BodyLf(Fmt),
    /// A protocol's own parser.
    Custom(Custom),
}

/// The protocol parsers HAProxy's protocol checks use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Custom {
    /// The MySQL initial handshake.
    MysqlInit,
    /// The MySQL OK packet after the authentication.
    MysqlOk,
    /// The LDAP bind response.
    LdapBind,
    /// The SPOP agent HELLO frame.
    SpopHello,
    /// The reply of an `agent-check`.
    Agent,
}

/// `hdr|fhdr name [-m M] PAT [value [-m M] PAT]`.
#[derive(Debug, Clone)]
pub struct HdrMatch {
    /// `fhdr`: values are not split on commas.
    pub full: bool,
    /// The name pattern.
    pub name: StrMatch,
    /// The value pattern.
    pub value: Option<StrMatch>,
}

/// A string match method and its pattern.
#[derive(Debug, Clone)]
pub enum StrMatch {
    /// `-m str`.
    Str(Text),
    /// `-m beg`.
    Beg(Text),
    /// `-m end`.
    End(Text),
    /// `-m sub`.
    Sub(Text),
    /// `-m reg`.
    Reg(Re),
}

/// A finished ruleset with its preset `check.` variables.
#[derive(Debug, Clone, Default)]
pub struct CheckRules {
    /// What built it.
    pub proto: CheckProto,
    /// The rules, comments removed, a `connect` first.
    pub rules: Vec<CheckRule>,
    /// Variables set before the first rule (name without the `check.` scope).
    pub vars: Vec<(String, Owned)>,
}

impl CheckSpec {
    /// Whether a `tcp-check connect` or `http-check connect` rule has `ssl`: the
    /// servers then need a TLS context for their checks.
    pub fn connects_with_tls(&self) -> bool {
        self.tcp
            .iter()
            .chain(&self.http)
            .any(|r| matches!(&r.act, CheckAct::Connect(c) if c.ssl))
    }
}

/// A section's check settings as parsed.
#[derive(Debug, Clone, Default)]
pub struct CheckSpec {
    /// The ruleset kind in use.
    pub proto: CheckProto,
    /// The section's `tcp-check` rules.
    pub tcp: Vec<CheckRule>,
    /// The section's `http-check` rules (and the implicit send of `option httpchk`).
    pub http: Vec<CheckRule>,
    /// The ruleset of a protocol option.
    pub builtin: Option<CheckRules>,
    /// `http-check send-state`.
    pub send_state: bool,
    /// `http-check disable-on-404`: a 404 puts an UP server in NOLB (no new traffic).
    pub disable_on_404: bool,
    /// `external-check command PATH`.
    pub ext_command: Option<String>,
    /// `external-check path PATHS`: the PATH of the program (default `/bin:/usr/bin`).
    pub ext_path: Option<String>,
}

impl CheckSpec {
    /// The ruleset the checks run; None for a connect-only check.
    pub fn ruleset(&self) -> Option<CheckRules> {
        match self.proto {
            CheckProto::Connect | CheckProto::External => None,
            CheckProto::TcpCheck => Some(CheckRules::finish(
                CheckProto::TcpCheck,
                self.tcp.clone(),
                vec![],
            )),
            CheckProto::Http => {
                let mut rules = self.http.clone();
                let real = |r: &CheckRule| {
                    !matches!(
                        r.act,
                        CheckAct::Comment | CheckAct::SetVar(..) | CheckAct::UnsetVar(_)
                    )
                };
                // The implicit send of `option httpchk` goes after a first connect.
                if let Some(f) = rules.iter().position(real) {
                    let opt = matches!(&rules[f].act, CheckAct::Send(Send::Http(h)) if h.from_opt);
                    if let Some(n) = (f + 1..rules.len()).find(|&i| real(&rules[i])) {
                        if opt && matches!(rules[n].act, CheckAct::Connect(_)) {
                            let mut s = rules.remove(f);
                            s.index = rules[n - 1].index;
                            rules.insert(n, s);
                        }
                    }
                }
                // A last send gets the implicit `expect status 200-399`.
                if let Some(l) = rules.iter().rposition(real) {
                    if matches!(rules[l].act, CheckAct::Send(_)) {
                        let index = rules[l].index;
                        rules.push(CheckRule {
                            index,
                            comment: None,
                            act: CheckAct::Expect(Box::new(Expect::new(ExpectKind::Status(vec![
                                (200, 399),
                            ])))),
                        });
                    }
                }
                Some(CheckRules::finish(CheckProto::Http, rules, vec![]))
            }
            _ => self.builtin.clone(),
        }
    }
}

impl CheckRules {
    /// The ruleset of an `agent-check`: connect, send `agent-send` (if any), read the
    /// agent's reply line (HAProxy's `agent-check` ruleset).
    pub fn agent(send: Option<&str>) -> CheckRules {
        let rule = |act| CheckRule {
            index: 0,
            comment: None,
            act,
        };
        let mut rules = Vec::new();
        if let Some(s) = send {
            rules.push(rule(CheckAct::Send(Send::Bytes(s.as_bytes().to_vec()))));
        }
        rules.push(rule(CheckAct::Expect(Box::new(Expect::new(
            ExpectKind::Custom(Custom::Agent),
        )))));
        CheckRules::finish(CheckProto::Agent, rules, vec![])
    }

    /// Finishes rules as HAProxy does after parsing: a `connect` first (an implicit
    /// one when missing), comments moved onto the rules that follow them, each expect
    /// pointing at the head of its chain.
    pub fn finish(
        proto: CheckProto,
        mut rules: Vec<CheckRule>,
        vars: Vec<(String, Owned)>,
    ) -> CheckRules {
        let first = rules.iter().find(|r| {
            !matches!(
                r.act,
                CheckAct::Comment | CheckAct::SetVar(..) | CheckAct::UnsetVar(_)
            )
        });
        if !matches!(first.map(|r| &r.act), Some(CheckAct::Connect(_))) {
            rules.insert(
                0,
                CheckRule {
                    index: 0,
                    comment: None,
                    act: CheckAct::Connect(Connect {
                        default: true,
                        implicit: true,
                        ..Connect::default()
                    }),
                },
            );
        }
        let mut out: Vec<CheckRule> = Vec::with_capacity(rules.len());
        let mut comment: Option<String> = None;
        let mut prev: Option<std::mem::Discriminant<CheckAct>> = None;
        for mut r in rules {
            let d = std::mem::discriminant(&r.act);
            if prev.is_some_and(|p| p != d && p != std::mem::discriminant(&CheckAct::Comment)) {
                comment = None;
            }
            prev = Some(d);
            match &r.act {
                CheckAct::Comment => {
                    comment = r.comment.take();
                    continue;
                }
                CheckAct::Connect(_) => {
                    if r.comment.is_none() {
                        r.comment = comment.take();
                    }
                    comment = None;
                }
                CheckAct::SetVar(..) | CheckAct::UnsetVar(_) => comment = None,
                CheckAct::Send(_) | CheckAct::Expect(_) => {
                    if r.comment.is_none() {
                        r.comment.clone_from(&comment);
                    }
                }
            }
            out.push(r);
        }
        // Each expect points back to the first inverted expect of its chain.
        for i in 0..out.len() {
            if !matches!(out[i].act, CheckAct::Expect(_)) {
                continue;
            }
            let mut head = i;
            for j in (0..i).rev() {
                match &out[j].act {
                    CheckAct::Expect(e) => {
                        if e.inverse {
                            head = j;
                        }
                    }
                    CheckAct::SetVar(..) | CheckAct::UnsetVar(_) => {}
                    _ => break,
                }
            }
            if let CheckAct::Expect(e) = &mut out[i].act {
                e.head = head;
            }
        }
        CheckRules {
            proto,
            rules: out,
            vars,
        }
    }

    /// The step number of rule `i` in messages (0 for the implicit first connect).
    pub fn step(&self, i: usize) -> usize {
        match &self.rules[i].act {
            CheckAct::Connect(c) if c.implicit => 0,
            _ => self.rules[i].index + 1,
        }
    }
}
