//! Sample expressions: `fetch(args),converter(args),...`, parsed once at config load
//! against the fetch and converter tables, then evaluated per request.

use super::conv::{ConvDef, CONVS};
use super::fetch::{FetchDef, FETCHES};
use super::map::Map;
use super::value::{Type, Value};
use super::vars::{ProcVars, Scope, Vars};
use hyper::header::HeaderMap;
use regex::bytes::Regex;
use std::net::SocketAddr;
use std::sync::Arc;

/// The kind of an argument, as a fetch or converter declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgT {
    /// Any text.
    Str,
    /// A signed integer.
    Int,
    /// An integer, or a variable name holding one (`add(txn.x)`).
    IntOrVar,
    /// A variable name (`txn.x`).
    Var,
    /// Text, or a variable name holding it (`hmac(sha1,txn.key)`).
    StrOrVar,
    /// A regular expression.
    Reg,
    /// An IPv4 mask (`24` or `255.255.255.0`).
    Mask4,
    /// An IPv6 prefix length.
    Mask6,
    /// A map file (the converter's name says how keys match).
    MapFile,
}

/// A parsed argument.
#[derive(Debug, Clone)]
pub enum Arg {
    /// An argument left empty (`add_item(',',,x)`).
    Empty,
    /// Text.
    Str(String),
    /// An integer.
    Int(i64),
    /// A variable.
    Var(Scope, String),
    /// A compiled regular expression.
    Reg(Box<Regex>),
    /// A mask's bits (an IPv4 one in the low 32).
    Mask(u128),
    /// A loaded map.
    Map(Arc<Map>),
}

impl Arg {
    /// The text of a `Str` argument ("" otherwise).
    pub fn text(&self) -> &str {
        match self {
            Arg::Str(s) => s,
            _ => "",
        }
    }

    /// The value of an `Int` argument.
    pub fn int(&self) -> Option<i64> {
        match self {
            Arg::Int(i) => Some(*i),
            _ => None,
        }
    }
}

/// A name and numeric id (frontend, backend, server, listener).
#[derive(Debug, Clone, Copy)]
pub struct Named<'a> {
    /// The name.
    pub name: &'a str,
    /// The id (HAProxy's uuid / puid).
    pub id: i64,
}

/// The request as the HTTP fetches see it.
#[derive(Debug, Clone, Copy)]
pub struct HttpReq<'a> {
    /// The method.
    pub method: &'a str,
    /// The request target as received (`/path?query`, or absolute form).
    pub uri: &'a str,
    /// `1.0` or `1.1`.
    pub version: &'a str,
    /// The headers.
    pub headers: &'a HeaderMap,
    /// The body when it was buffered (`req.body`).
    pub body: Option<&'a [u8]>,
}

/// The response as the HTTP fetches see it.
#[derive(Debug, Clone, Copy)]
pub struct HttpRes<'a> {
    /// The status code.
    pub status: u16,
    /// `1.0` or `1.1`.
    pub version: &'a str,
    /// The headers.
    pub headers: &'a HeaderMap,
}

/// Counters of the running configuration that fetches read (`nbsrv`, `be_conn`, ...).
pub trait Stats: Sync {
    /// A backend figure: `be` by name, or the current backend when None.
    fn backend(&self, be: Option<&str>, what: BeStat) -> Option<i64>;
    /// A server figure, `be/srv` by name.
    fn server(&self, be: &str, srv: &str, what: SrvStat) -> Option<i64>;
    /// A frontend's current connections (`fe_conn`), by name.
    fn frontend_conn(&self, _fe: &str) -> Option<i64> {
        None
    }
}

/// The backend figures fetches read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeStat {
    /// Usable servers.
    NbSrv,
    /// Current connections.
    Conn,
    /// Queued requests.
    Queue,
    /// Queued requests per usable server.
    AvgQueue,
    /// Free connection slots (maxconn + maxqueue - current), -1 if unlimited.
    ConnSlots,
}

/// The server figures fetches read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SrvStat {
    /// 1 when the server is UP.
    IsUp,
    /// Current connections.
    Conn,
    /// Queued requests.
    Queue,
    /// Sessions per second.
    SessRate,
}

/// Everything a sample can be fetched from; absent parts make their fetches find nothing.
#[derive(Default, Clone, Copy)]
pub struct Env<'a> {
    /// The client's address (None for a unix socket client).
    pub src: Option<SocketAddr>,
    /// The address the client connected to.
    pub dst: Option<SocketAddr>,
    /// The frontend.
    pub fe: Option<Named<'a>>,
    /// The backend, once chosen.
    pub be: Option<Named<'a>>,
    /// The server, once chosen.
    pub srv: Option<Named<'a>>,
    /// The listener (`bind ... name N id I`).
    pub so: Option<Named<'a>>,
    /// The request.
    pub req: Option<HttpReq<'a>>,
    /// The response.
    pub res: Option<HttpRes<'a>>,
    /// The connection's and transaction's variables.
    pub vars: Option<&'a Vars>,
    /// The process's variables.
    pub proc_vars: Option<&'a ProcVars>,
    /// Counters of the running configuration.
    pub stats: Option<&'a dyn Stats>,
    /// `capture request header` slots.
    pub req_captures: &'a [Option<String>],
    /// `capture response header` slots.
    pub res_captures: &'a [Option<String>],
    /// Stick tables and the request's tracked entries (`sc_*`, `src_*`, `table_*`).
    pub stick: crate::stick::View<'a>,
    /// The configuration's `userlist` sections (`http_auth(L)`, `http_auth_group(L)`).
    pub userlists: Option<&'a super::auth::Userlists>,
    /// The client connection (`fc_*`, the PROXY header it came with).
    pub conn: Option<&'a super::conn::ConnInfo>,
    /// The request bytes buffered by `tcp-request content` rules (`req.payload`...).
    pub payload: Option<super::conn::Payload<'a>>,
    /// The request's unique id (`unique-id-format`), for `unique-id` and `%ID`.
    pub unique_id: Option<&'a str>,
    /// What an access-log line knows besides the messages (timers, counts, bytes).
    pub log: Option<&'a super::logvars::LogInfo<'a>>,
    /// The timeouts the request runs with (`be_server_timeout`, `cur_server_timeout`...).
    pub timeouts: Option<&'a (dyn Timeouts + Sync)>,
    /// What the TLS connection to the server negotiated (`ssl_bc*`).
    pub srv_tls: Option<&'a super::conn::SrvTls>,
}

/// What gives a request's timeouts to the `*_timeout` fetches, when they read them
/// (not on every sample environment built).
pub trait Timeouts {
    /// The timeouts now.
    fn view(&self) -> TimeoutView;
}

/// The timeouts of a request in milliseconds (0: not set), as the `*_timeout` fetches
/// give them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TimeoutView {
    /// The frontend's `timeout client`.
    pub fe_client: u64,
    /// The backend's `timeout server` (the frontend's before one is chosen).
    pub be_server: u64,
    /// The backend's `timeout tunnel`.
    pub be_tunnel: u64,
    /// `timeout server` as `set-timeout` left it.
    pub cur_server: u64,
    /// `timeout tunnel` as `set-timeout` left it.
    pub cur_tunnel: u64,
}

impl<'a> Env<'a> {
    /// A variable's value.
    pub fn var(&self, scope: Scope, name: &str) -> Option<Value<'a>> {
        if scope == Scope::Proc {
            let pv = self.proc_vars?.read().ok()?;
            return pv.get(scope, name).cloned().map(|v| v as Value<'a>);
        }
        self.vars?.get(scope, name).map(|v| v.borrowed())
    }
}

/// What a fetch emits its values to; returns true to stop (an acl matched).
pub type Emit<'e, 'a> = &'e mut dyn FnMut(Value<'a>) -> bool;

/// One converter of an expression.
#[derive(Debug, Clone)]
pub struct Conv {
    def: &'static ConvDef,
    args: Vec<Arg>,
}

/// A compiled sample expression.
#[derive(Clone)]
pub struct Expr {
    text: String,
    fetch: &'static FetchDef,
    args: Vec<Arg>,
    convs: Vec<Conv>,
}

impl std::fmt::Debug for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Expr({})", self.text)
    }
}

impl PartialEq for Expr {
    fn eq(&self, o: &Self) -> bool {
        self.text == o.text
    }
}
impl Eq for Expr {}

/// Splits `name(args)` at the parenthesis: (name, args text, rest after `)`).
fn split_call(s: &str) -> Result<(&str, Option<&str>, &str), String> {
    let name_end = s.find([',', '(']).unwrap_or(s.len());
    let name = &s[..name_end];
    if !s[name_end..].starts_with('(') {
        return Ok((name, None, &s[name_end..]));
    }
    // Find the closing parenthesis, skipping quoted text.
    let b = s.as_bytes();
    let (mut i, mut quote, mut depth) = (name_end + 1, None::<u8>, 1);
    while i < b.len() {
        match (quote, b[i]) {
            (_, b'\\') => i += 1,
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, c @ (b'\'' | b'"')) => quote = Some(c),
            (None, b'(') => depth += 1,
            (None, b')') => {
                depth -= 1;
                if depth == 0 {
                    return Ok((name, Some(&s[name_end + 1..i]), &s[i + 1..]));
                }
            }
            _ => {}
        }
        i += 1;
    }
    Err(format!("missing closing ')' after arguments to '{name}'"))
}

/// Splits an argument list at top-level commas, removing quotes and backslashes.
pub fn split_args(s: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = s.chars();
    let mut quote = None::<char>;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (_, '\\') => {
                if let Some(n) = chars.next() {
                    out.last_mut().expect("one").push(n);
                }
            }
            (Some(q), c) if c == q => quote = None,
            (None, '\'' | '"') => quote = Some(c),
            (None, ',') => out.push(String::new()),
            (_, c) => out.last_mut().expect("one").push(c),
        }
    }
    out
}

/// Parses the arguments of `what` (`fetch method 'x'` / `converter 'x'`) by kind.
fn parse_args(
    what: &str,
    name: &str,
    spec: &[ArgT],
    min: usize,
    text: Option<&str>,
) -> Result<Vec<Arg>, String> {
    let raw = match text {
        None => vec![],
        Some("") if min == 0 => vec![],
        Some(t) => split_args(t),
    };
    if raw.len() < min {
        return Err(format!(
            "missing args for {what} '{name}' : expects at least {min} argument(s)"
        ));
    }
    if raw.len() > spec.len() {
        return Err(format!(
            "{what} '{name}' : expects at most {} argument(s), got {}",
            spec.len(),
            raw.len()
        ));
    }
    raw.into_iter()
        .zip(spec)
        .enumerate()
        .map(|(i, (a, t))| {
            if a.is_empty() && i >= min && *t != ArgT::Str {
                return Ok(Arg::Empty);
            }
            parse_arg(&a, *t).map_err(|e| format!("invalid arg {} in {what} '{name}' : {e}", i + 1))
        })
        .collect()
}

fn parse_int(a: &str) -> Result<i64, String> {
    a.trim()
        .parse::<i64>()
        .map_err(|_| format!("expects an integer, not '{a}'"))
}

fn parse_arg(a: &str, t: ArgT) -> Result<Arg, String> {
    Ok(match t {
        ArgT::Str => Arg::Str(a.to_string()),
        ArgT::Int => Arg::Int(parse_int(a)?),
        ArgT::IntOrVar => match parse_int(a) {
            Ok(i) => Arg::Int(i),
            Err(_) => {
                let (s, n) = Scope::split(a)?;
                Arg::Var(s, n.to_string())
            }
        },
        ArgT::StrOrVar => match Scope::split(a) {
            Ok((s, n)) => Arg::Var(s, n.to_string()),
            Err(_) => Arg::Str(a.to_string()),
        },
        ArgT::Var => {
            let (s, n) = Scope::split(a)?;
            Arg::Var(s, n.to_string())
        }
        ArgT::Reg => Arg::Reg(Box::new(
            Regex::new(a).map_err(|e| format!("invalid regex '{a}' : {e}"))?,
        )),
        // A prefix length or a mask written as an address, contiguous or not (as
        // HAProxy's `str2mask`/`str2mask6`).
        ArgT::Mask4 => Arg::Mask(match a.parse::<u8>() {
            Ok(n) if n <= 32 => u128::from(u32::MAX.checked_shl(32 - n as u32).unwrap_or(0)),
            _ => {
                let m: std::net::Ipv4Addr =
                    a.parse().map_err(|_| format!("invalid IPv4 mask '{a}'"))?;
                u128::from(u32::from(m))
            }
        }),
        ArgT::Mask6 => Arg::Mask(match a.parse::<u8>() {
            Ok(n) if n <= 128 => u128::MAX.checked_shl(128 - n as u32).unwrap_or(0),
            _ => {
                let m: std::net::Ipv6Addr =
                    a.parse().map_err(|_| format!("invalid IPv6 mask '{a}'"))?;
                u128::from(m)
            }
        }),
        ArgT::MapFile => Arg::Str(a.to_string()),
    })
}

impl Expr {
    /// Parses `fetch[(args)][,conv[(args)]]...`.
    pub fn parse(text: &str) -> Result<Expr, String> {
        let (name, args, mut rest) = split_call(text)?;
        if name.is_empty() {
            return Err(format!(
                "missing fetch method in sample expression '{text}'"
            ));
        }
        let fetch = super::fetch::find(name)
            .or_else(|| super::track::find(name))
            .or_else(|| super::auth::find(name))
            .or_else(|| super::conn::find(name))
            .or_else(|| super::hello::find(name))
            .or_else(|| super::ssl::find(name))
            .ok_or_else(|| {
                if super::hint::unsupported(name) {
                    return format!("fetch method '{name}' is not supported by lbd");
                }
                format!(
                    "unknown fetch method '{name}'{}",
                    super::did_you_mean(
                        name,
                        FETCHES
                            .iter()
                            .chain(super::track::FETCHES)
                            .chain(super::auth::FETCHES)
                            .chain(super::conn::FETCHES)
                            .chain(super::ssl::all())
                            .map(|f| f.name)
                    )
                )
            })?;
        let args = parse_args("fetch method", name, fetch.args, fetch.min, args)?;
        let mut convs = Vec::new();
        while !rest.is_empty() {
            let Some(r) = rest.strip_prefix(',') else {
                return Err(format!(
                    "syntax error: missing comma before '{rest}' in sample expression '{text}'"
                ));
            };
            let (cname, cargs, r) = split_call(r)?;
            let all = || {
                CONVS
                    .iter()
                    .chain(super::track::CONVS)
                    .chain(super::fix::CONVS)
                    .chain(super::mqtt::CONVS)
            };
            let def = all().find(|c| c.name == cname).ok_or_else(|| {
                format!(
                    "unknown converter '{cname}'{}",
                    super::did_you_mean(cname, all().map(|c| c.name))
                )
            })?;
            let mut args = parse_args("converter", cname, def.args, def.min, cargs)?;
            if let Some(check) = def.check {
                check(cname, &mut args)?;
            }
            convs.push(Conv { def, args });
            rest = r;
        }
        Ok(Expr {
            text: text.to_string(),
            fetch,
            args,
            convs,
        })
    }

    /// The expression as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The fetch's name.
    pub fn fetch_name(&self) -> &'static str {
        self.fetch.name
    }

    /// The type of the values it gives.
    pub fn out_type(&self) -> Type {
        let mut t = self.fetch.out;
        for c in &self.convs {
            t = match c.def.out {
                Type::Any => t,
                o => o,
            };
        }
        t
    }

    /// Whether it needs an HTTP request (refused in `mode tcp`).
    pub fn needs_http(&self) -> bool {
        self.fetch.http
    }

    /// Whether it reads the response (refused in request rules).
    pub fn needs_response(&self) -> bool {
        self.fetch.response
    }

    fn convert<'a>(&'a self, mut v: Value<'a>, env: &Env<'a>) -> Option<Value<'a>> {
        for c in &self.convs {
            v = v.cast(c.def.input)?;
            v = (c.def.f)(&c.args, v, env)?;
        }
        Some(v)
    }

    /// Calls `f` with each value (a header may occur several times) until it returns
    /// true; returns whether it did.
    pub fn each<'a>(&'a self, env: &Env<'a>, f: Emit<'_, 'a>) -> bool {
        let mut stop = false;
        (self.fetch.f)(&self.args, env, &mut |v| {
            if let Some(v) = self.convert(v, env) {
                stop = f(v);
            }
            stop
        });
        stop
    }

    /// The value (the last one when the fetch finds several).
    pub fn eval<'a>(&'a self, env: &Env<'a>) -> Option<Value<'a>> {
        if self.fetch.http && env.req.is_none() {
            // `mode tcp` content rules: the bytes may still become a request head
            // (nothing yet, or the start of one); other bytes never will.
            let maybe = |p: &super::conn::Payload<'_>| {
                !p.response && p.data.first().is_none_or(u8::is_ascii_uppercase)
            };
            if let Some(p) = env.payload.filter(maybe) {
                p.miss();
            }
        }
        let mut last = None;
        let first = self.fetch.first;
        (self.fetch.f)(&self.args, env, &mut |v| {
            last = Some(v);
            first
        });
        self.convert(last?, env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_split_with_quotes() {
        assert_eq!(split_args("',',,_suff_"), [",", "", "_suff_"]);
        assert_eq!(split_args(r#""a\"b",c"#), [r#"a"b"#, "c"]);
        assert_eq!(
            split_call("f(a,(b)),x").unwrap(),
            ("f", Some("a,(b)"), ",x")
        );
        assert!(split_call("f(a").is_err());
    }

    #[test]
    fn parse_errors_name_the_culprit() {
        assert!(Expr::parse("nosuch")
            .unwrap_err()
            .contains("unknown fetch method 'nosuch'"));
        assert!(Expr::parse("path,nosuch")
            .unwrap_err()
            .contains("unknown converter 'nosuch'"));
        assert!(Expr::parse("srv_is_up")
            .unwrap_err()
            .contains("missing args"));
        assert!(Expr::parse("path,lower(1)")
            .unwrap_err()
            .contains("at most 0"));
        assert!(Expr::parse("path,field(x,/)")
            .unwrap_err()
            .contains("integer"));
        assert_eq!(Expr::parse("path,lower").unwrap().out_type(), Type::Str);
    }
}
