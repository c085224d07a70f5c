//! The sample fetches: one table entry per fetch (name, arguments, output type, what
//! it needs) plus its function.

use super::expr::{Arg, ArgT, BeStat, Emit, Env, SrvStat};
use super::hash::{full_hash, sdbm_step};
use super::value::{Type, Value};
use hyper::header::HeaderMap;
use std::borrow::Cow;
use std::net::IpAddr;

/// A fetch function: emits each value it finds.
pub type FetchFn = for<'a> fn(&'a [Arg], &Env<'a>, Emit<'_, 'a>);

/// One fetch of the table.
#[derive(Debug)]
pub struct FetchDef {
    /// Its name (`req.hdr`).
    pub name: &'static str,
    /// Its arguments' kinds.
    pub args: &'static [ArgT],
    /// How many are mandatory.
    pub min: usize,
    /// The type it gives.
    pub out: Type,
    /// It needs an HTTP request.
    pub http: bool,
    /// It reads the response.
    pub response: bool,
    /// In an expression, the first value counts (cookies), not the last (headers).
    pub first: bool,
    /// The function.
    pub f: FetchFn,
}

/// A fetch whose first value is the value of an expression.
const fn first(mut d: FetchDef) -> FetchDef {
    d.first = true;
    d
}

/// A fetch that needs neither a request nor a response.
pub(super) const fn l4a(
    name: &'static str,
    args: &'static [ArgT],
    min: usize,
    out: Type,
    f: FetchFn,
) -> FetchDef {
    FetchDef {
        name,
        args,
        min,
        out,
        http: false,
        response: false,
        first: false,
        f,
    }
}

/// The same without arguments.
const fn l4(name: &'static str, out: Type, f: FetchFn) -> FetchDef {
    l4a(name, &[], 0, out, f)
}

/// A fetch that reads the HTTP request.
pub(super) const fn l7(
    name: &'static str,
    args: &'static [ArgT],
    min: usize,
    out: Type,
    f: FetchFn,
) -> FetchDef {
    let mut d = l4a(name, args, min, out, f);
    d.http = true;
    d
}

/// A fetch that reads the response.
const fn res(
    name: &'static str,
    args: &'static [ArgT],
    min: usize,
    out: Type,
    f: FetchFn,
) -> FetchDef {
    let mut d = l7(name, args, min, out, f);
    d.response = true;
    d
}

use ArgT::{Int as I, Str as S, Var as V};
use Type::{Bin, Bool, Int, Ip, Str};

/// Every fetch lbd evaluates.
pub static FETCHES: &[FetchDef] = &[
    // constants and the process
    l4("always_true", Bool, |_, _, e| {
        e(Value::Bool(true));
    }),
    l4("always_false", Bool, |_, _, e| {
        e(Value::Bool(false));
    }),
    l4a("int", &[I], 1, Int, |a, _, e| {
        e(Value::Int(a[0].int().unwrap_or(0)));
    }),
    l4a("str", &[S], 1, Str, |a, _, e| {
        e(Value::literal(a[0].text()));
    }),
    l4a("bool", &[I], 1, Bool, |a, _, e| {
        e(Value::Bool(a[0].int().unwrap_or(0) != 0));
    }),
    l4a("ipv4", &[S], 1, Ip, literal_ip),
    l4a("ipv6", &[S], 1, Ip, literal_ip),
    l4a("bin", &[S], 1, Bin, |a, _, e| {
        if let Some(b) = super::conv::unhex(a[0].text().as_bytes()) {
            e(Value::Bin(Cow::Owned(b)));
        }
    }),
    l4a("env", &[S], 1, Str, |a, _, e| {
        if let Ok(v) = std::env::var(a[0].text()) {
            e(Value::string(v));
        }
    }),
    l4a("date", &[I, S], 0, Int, |a, _, e| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let off = a.first().and_then(Arg::int).unwrap_or(0);
        let v = match a.get(1).map(Arg::text) {
            Some("ms") => now.as_millis() as i64 + off,
            Some("us") => now.as_micros() as i64 + off,
            _ => now.as_secs() as i64 + off,
        };
        e(Value::Int(v));
    }),
    l4a("rand", &[I], 0, Int, |a, _, e| {
        let r = super::hash::random_u32() as i64;
        e(Value::Int(match a.first().and_then(Arg::int) {
            Some(range) => (r * range) >> 32,
            None => r,
        }));
    }),
    l4a("uuid", &[I], 0, Str, |a, _, e| {
        // Version 4 (random) is the only one HAProxy 2.6 has.
        if a.first().and_then(Arg::int).is_none_or(|v| v == 4) {
            let b = super::hash::random_u64().to_be_bytes();
            let c = super::hash::random_u64().to_be_bytes();
            let mut u = [0u8; 16];
            u[..8].copy_from_slice(&b);
            u[8..].copy_from_slice(&c);
            u[6] = (u[6] & 0x0f) | 0x40;
            u[8] = (u[8] & 0x3f) | 0x80;
            let h: String = u.iter().map(|x| format!("{x:02x}")).collect();
            e(Value::string(format!(
                "{}-{}-{}-{}-{}",
                &h[..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..]
            )));
        }
    }),
    l4("pid", Int, |_, _, e| {
        e(Value::Int(std::process::id() as i64));
    }),
    l4("nbproc", Int, |_, _, e| {
        e(Value::Int(1));
    }),
    l4("hostname", Str, |_, _, e| {
        if let Some(h) = super::hash::hostname() {
            e(Value::str(h));
        }
    }),
    l4a("var", &[V, S], 1, Type::Any, |a, env, e| {
        if let Arg::Var(s, n) = &a[0] {
            match (env.var(*s, n), a.get(1)) {
                (Some(v), _) => {
                    e(v);
                }
                (None, Some(Arg::Str(d))) => {
                    e(Value::str(d));
                }
                _ => {}
            }
        }
    }),
    // the connection and the configuration
    l4("src", Ip, |_, env, e| {
        if let Some(a) = env.src {
            e(Value::Ip(canonical(a.ip())));
        }
    }),
    l4("src_port", Int, |_, env, e| {
        if let Some(a) = env.src {
            e(Value::Int(a.port() as i64));
        }
    }),
    l4("dst", Ip, |_, env, e| {
        if let Some(a) = env.dst {
            e(Value::Ip(canonical(a.ip())));
        }
    }),
    l4("dst_port", Int, |_, env, e| {
        if let Some(a) = env.dst {
            e(Value::Int(a.port() as i64));
        }
    }),
    l4("fe_name", Str, |_, env, e| {
        if let Some(n) = env.fe {
            e(Value::str(n.name));
        }
    }),
    l4("fe_id", Int, |_, env, e| {
        if let Some(n) = env.fe {
            e(Value::Int(n.id));
        }
    }),
    l4("be_name", Str, |_, env, e| {
        if let Some(n) = env.be {
            e(Value::str(n.name));
        }
    }),
    l4("fe_client_timeout", Int, |_, env, e| {
        timeout(env, e, |t| t.fe_client)
    }),
    l4("be_server_timeout", Int, |_, env, e| {
        timeout(env, e, |t| t.be_server)
    }),
    l4("be_tunnel_timeout", Int, |_, env, e| {
        timeout(env, e, |t| t.be_tunnel)
    }),
    l4("cur_server_timeout", Int, |_, env, e| {
        timeout(env, e, |t| t.cur_server)
    }),
    l4("cur_tunnel_timeout", Int, |_, env, e| {
        timeout(env, e, |t| t.cur_tunnel)
    }),
    l4("be_id", Int, |_, env, e| {
        if let Some(n) = env.be {
            e(Value::Int(n.id));
        }
    }),
    l4("srv_name", Str, |_, env, e| {
        if let Some(n) = env.srv {
            e(Value::str(n.name));
        }
    }),
    l4("srv_id", Int, |_, env, e| {
        if let Some(n) = env.srv {
            e(Value::Int(n.id));
        }
    }),
    l4("so_name", Str, |_, env, e| {
        if let Some(n) = env.so.filter(|n| !n.name.is_empty()) {
            e(Value::str(n.name));
        }
    }),
    l4("so_id", Int, |_, env, e| {
        if let Some(n) = env.so {
            e(Value::Int(n.id));
        }
    }),
    l4a("nbsrv", &[S], 0, Int, |a, env, e| {
        be_stat(a, env, e, BeStat::NbSrv)
    }),
    l4a("be_conn", &[S], 0, Int, |a, env, e| {
        be_stat(a, env, e, BeStat::Conn)
    }),
    l4a("fe_conn", &[S], 0, Int, |a, env, e| {
        let name = a.first().map(Arg::text).filter(|n| !n.is_empty());
        let name = name.or(env.fe.map(|f| f.name));
        if let Some(v) = name.and_then(|n| env.stats?.frontend_conn(n)) {
            e(Value::Int(v));
        }
    }),
    l4a("queue", &[S], 0, Int, |a, env, e| {
        be_stat(a, env, e, BeStat::Queue)
    }),
    l4a("avg_queue", &[S], 0, Int, |a, env, e| {
        be_stat(a, env, e, BeStat::AvgQueue)
    }),
    l4a("connslots", &[S], 0, Int, |a, env, e| {
        be_stat(a, env, e, BeStat::ConnSlots)
    }),
    l4a("srv_is_up", &[S], 1, Bool, |a, env, e| {
        if let Some(v) = srv_stat(a, env, SrvStat::IsUp) {
            e(Value::Bool(v != 0));
        }
    }),
    l4a("srv_conn", &[S], 1, Int, |a, env, e| {
        if let Some(v) = srv_stat(a, env, SrvStat::Conn) {
            e(Value::Int(v));
        }
    }),
    l4a("srv_queue", &[S], 1, Int, |a, env, e| {
        if let Some(v) = srv_stat(a, env, SrvStat::Queue) {
            e(Value::Int(v));
        }
    }),
    l4a("srv_sess_rate", &[S], 1, Int, |a, env, e| {
        if let Some(v) = srv_stat(a, env, SrvStat::SessRate) {
            e(Value::Int(v));
        }
    }),
    l4("unique-id", Str, |_, env, e| {
        if let Some(id) = env.unique_id {
            e(Value::Str(id.as_bytes().into()));
        }
    }),
    // The rule that ended its rule set last (known to log formats).
    l4("last_rule_file", Str, |_, env, e| {
        if let Some((f, _)) = env.log.and_then(|l| l.last_rule) {
            e(Value::Str(f.as_bytes().into()));
        }
    }),
    l4("last_rule_line", Int, |_, env, e| {
        if let Some((_, n)) = env.log.and_then(|l| l.last_rule) {
            e(Value::Int(i64::from(n)));
        }
    }),
    l4("fc_http_major", Int, |_, env, e| {
        if env.req.is_some() {
            e(Value::Int(1));
        }
    }),
    // the request line
    l7("method", &[], 0, Str, |_, env, e| {
        if let Some(r) = env.req {
            e(Value::str(r.method));
        }
    }),
    l7("path", &[], 0, Str, |_, env, e| {
        if let Some(p) = env.req.and_then(|r| path_q(r.uri)) {
            e(Value::str(super::urlp::before_byte(p, b'?')));
        }
    }),
    l7("pathq", &[], 0, Str, |_, env, e| {
        if let Some(p) = env.req.and_then(|r| path_q(r.uri)) {
            e(Value::str(p));
        }
    }),
    l7("query", &[], 0, Str, |_, env, e| {
        if let Some((_, q)) = env
            .req
            .and_then(|r| super::urlp::split_at_byte(r.uri, b'?'))
        {
            e(Value::str(q));
        }
    }),
    l7("url", &[], 0, Str, |_, env, e| {
        if let Some(r) = env.req {
            e(Value::str(r.uri));
        }
    }),
    l7("base", &[], 0, Str, |_, env, e| {
        let Some(r) = env.req else { return };
        let host = r
            .headers
            .get(hyper::header::HOST)
            .map(|h| h.as_bytes())
            .unwrap_or(b"");
        let path = path_q(r.uri).map(|p| super::urlp::before_byte(p, b'?'));
        let mut v = host.to_vec();
        v.extend_from_slice(path.unwrap_or("").as_bytes());
        e(Value::Str(Cow::Owned(v)));
    }),
    l7("base32", &[], 0, Int, |_, env, e| {
        let Some(r) = env.req else { return };
        let mut h = 0u32;
        if let Some(host) = r.headers.get(hyper::header::HOST) {
            h = host.as_bytes().iter().fold(h, |h, &c| sdbm_step(h, c));
        }
        if let Some(p) = path_q(r.uri).map(|p| super::urlp::before_byte(p, b'?')) {
            h = p.bytes().fold(h, sdbm_step);
        }
        e(Value::Int(full_hash(h) as i64));
    }),
    // HAProxy: "the first occurrence of the parameter".
    first(l7("url_param", &[S, S], 0, Str, super::urlp::url_param)),
    first(l7("urlp", &[S, S], 0, Str, super::urlp::url_param)),
    l7("req.ver", &[], 0, Str, |_, env, e| {
        if let Some(r) = env.req {
            e(Value::str(r.version));
        }
    }),
    l7("req_ver", &[], 0, Str, |_, env, e| {
        if let Some(r) = env.req {
            e(Value::str(r.version));
        }
    }),
    l7("req.body", &[], 0, Bin, |_, env, e| {
        if let Some(b) = env.req.and_then(|r| r.body) {
            e(Value::Bin(Cow::Borrowed(b)));
        }
    }),
    l7("req.body_len", &[], 0, Int, |_, env, e| {
        if let Some(b) = env.req.and_then(|r| r.body) {
            e(Value::Int(b.len() as i64));
        }
    }),
    // The whole body's size (its `Content-Length`), even when only part was read.
    l7("req.body_size", &[], 0, Int, |_, env, e| {
        if let Some(r) = env.req.filter(|r| r.body.is_some()) {
            let cl = r
                .headers
                .get("content-length")
                .and_then(|v| v.to_str().ok());
            let n = cl.and_then(|v| v.trim().parse::<i64>().ok());
            e(Value::Int(
                n.unwrap_or(r.body.map_or(0, |b| b.len() as i64)),
            ));
        }
    }),
    // request headers and cookies
    l7("hdr", &[S, I], 0, Str, |a, env, e| {
        hdr(a, either(env), e, true)
    }),
    l7("req.hdr", &[S, I], 0, Str, |a, env, e| {
        hdr(a, env.req.map(|r| r.headers), e, true)
    }),
    l7("req.fhdr", &[S, I], 0, Str, |a, env, e| {
        hdr(a, env.req.map(|r| r.headers), e, false)
    }),
    l7("hdr_cnt", &[S], 0, Int, |a, env, e| {
        hdr_cnt(a, either(env), e, true)
    }),
    l7("req.hdr_cnt", &[S], 0, Int, |a, env, e| {
        hdr_cnt(a, env.req.map(|r| r.headers), e, true)
    }),
    l7("req.fhdr_cnt", &[S], 0, Int, |a, env, e| {
        hdr_cnt(a, env.req.map(|r| r.headers), e, false)
    }),
    l7("hdr_ip", &[S, I], 1, Ip, |a, env, e| {
        hdr_ip(a, either(env), e)
    }),
    l7("req.hdr_ip", &[S, I], 1, Ip, |a, env, e| {
        hdr_ip(a, env.req.map(|r| r.headers), e)
    }),
    l7("hdr_val", &[S, I], 1, Int, |a, env, e| {
        hdr_val(a, either(env), e)
    }),
    l7("req.hdr_val", &[S, I], 1, Int, |a, env, e| {
        hdr_val(a, env.req.map(|r| r.headers), e)
    }),
    first(l7("cook", &[S], 0, Str, |a, env, e| {
        cook(a, env.req.map(|r| r.headers), e)
    })),
    first(l7("req.cook", &[S], 0, Str, |a, env, e| {
        cook(a, env.req.map(|r| r.headers), e)
    })),
    l7("cook_cnt", &[S], 0, Int, |a, env, e| {
        cook_cnt(a, env.req.map(|r| r.headers), e)
    }),
    l7("req.cook_cnt", &[S], 0, Int, |a, env, e| {
        cook_cnt(a, env.req.map(|r| r.headers), e)
    }),
    first(l7("cook_val", &[S], 0, Int, |a, env, e| {
        cook(a, env.req.map(|r| r.headers), &mut |v| {
            e(Value::Int(v.to_int().unwrap_or(0)))
        })
    })),
    first(l7("req.cook_val", &[S], 0, Int, |a, env, e| {
        cook(a, env.req.map(|r| r.headers), &mut |v| {
            e(Value::Int(v.to_int().unwrap_or(0)))
        })
    })),
    l7("capture.req.hdr", &[I], 1, Str, |a, env, e| {
        capture(a, env.req_captures, e)
    }),
    l7("capture.req.method", &[], 0, Str, |_, env, e| {
        if let Some(r) = env.req {
            e(Value::str(r.method));
        }
    }),
    l7("capture.req.uri", &[], 0, Str, |_, env, e| {
        if let Some(r) = env.req {
            e(Value::str(r.uri));
        }
    }),
    l7("capture.req.ver", &[], 0, Str, |_, env, e| {
        if let Some(r) = env.req {
            e(Value::string(format!("HTTP/{}", r.version)));
        }
    }),
    // the response
    res("status", &[], 0, Int, |_, env, e| {
        if let Some(r) = env.res {
            e(Value::Int(r.status as i64));
        }
    }),
    res("res.ver", &[], 0, Str, |_, env, e| {
        if let Some(r) = env.res {
            e(Value::str(r.version));
        }
    }),
    res("res.hdr", &[S, I], 0, Str, |a, env, e| {
        hdr(a, env.res.map(|r| r.headers), e, true)
    }),
    res("shdr", &[S, I], 0, Str, |a, env, e| {
        hdr(a, env.res.map(|r| r.headers), e, true)
    }),
    res("res.fhdr", &[S, I], 0, Str, |a, env, e| {
        hdr(a, env.res.map(|r| r.headers), e, false)
    }),
    res("res.hdr_cnt", &[S], 0, Int, |a, env, e| {
        hdr_cnt(a, env.res.map(|r| r.headers), e, true)
    }),
    res("res.fhdr_cnt", &[S], 0, Int, |a, env, e| {
        hdr_cnt(a, env.res.map(|r| r.headers), e, false)
    }),
    res("res.hdr_ip", &[S, I], 1, Ip, |a, env, e| {
        hdr_ip(a, env.res.map(|r| r.headers), e)
    }),
    res("res.hdr_val", &[S, I], 1, Int, |a, env, e| {
        hdr_val(a, env.res.map(|r| r.headers), e)
    }),
    first(res("res.cook", &[S], 0, Str, |a, env, e| {
        set_cook(a, env.res.map(|r| r.headers), e)
    })),
    first(res("scook", &[S], 0, Str, |a, env, e| {
        set_cook(a, env.res.map(|r| r.headers), e)
    })),
    res("res.cook_cnt", &[S], 0, Int, |a, env, e| {
        let mut n = 0;
        set_cook(a, env.res.map(|r| r.headers), &mut |_| {
            n += 1;
            false
        });
        e(Value::Int(n));
    }),
    res("capture.res.hdr", &[I], 1, Str, |a, env, e| {
        capture(a, env.res_captures, e)
    }),
];

/// The fetch called `name` (HAProxy's older names included).
pub fn find(name: &str) -> Option<&'static FetchDef> {
    FETCHES.iter().find(|f| f.name == name)
}

/// IPv4-mapped IPv6 clients are IPv4 clients, as HAProxy sees them.
pub(super) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// A `*_timeout` fetch: one of the request's timeouts, in milliseconds.
fn timeout<'a>(env: &Env<'a>, e: Emit<'_, 'a>, pick: fn(&super::TimeoutView) -> u64) {
    if let Some(t) = env.timeouts {
        e(Value::Int(pick(&t.view()) as i64));
    }
}

fn literal_ip<'a>(a: &'a [Arg], _: &Env<'a>, e: Emit<'_, 'a>) {
    if let Ok(ip) = a[0].text().parse() {
        e(Value::Ip(ip));
    }
}

fn be_stat<'a>(a: &'a [Arg], env: &Env<'a>, e: Emit<'_, 'a>, what: BeStat) {
    let name = a.first().map(Arg::text).filter(|n| !n.is_empty());
    if let Some(v) = env.stats.and_then(|s| s.backend(name, what)) {
        e(Value::Int(v));
    }
}

/// A server figure: `BE/SRV`, or `SRV` of the current backend.
fn srv_stat(a: &[Arg], env: &Env<'_>, what: SrvStat) -> Option<i64> {
    let t = a[0].text();
    let (be, srv) = match t.split_once('/') {
        Some(p) => p,
        None => (env.be?.name, t),
    };
    env.stats?.server(be, srv, what)
}

/// `/path?query` of a request target (the origin form, or the path of an absolute one).
fn path_q(uri: &str) -> Option<&str> {
    if uri.starts_with('/') {
        return Some(uri);
    }
    let rest = &uri[uri.find("://")? + 3..];
    rest.find('/').map(|i| &rest[i..])
}

/// `hdr()` reads the response in response rules, the request otherwise.
fn either<'a>(env: &Env<'a>) -> Option<&'a HeaderMap> {
    env.res.map(|r| r.headers).or(env.req.map(|r| r.headers))
}

/// Calls `f` with each value of header `name` (every header when no name), split at
/// commas when `split`; returns true when `f` stopped the walk.
fn each_value<'a>(
    headers: &'a HeaderMap,
    name: &str,
    split: bool,
    f: &mut dyn FnMut(&'a [u8]) -> bool,
) -> bool {
    let mut one = |v: &'a [u8]| -> bool {
        if !split {
            return f(trim(v));
        }
        v.split(|&c| c == b',').any(|item| f(trim(item)))
    };
    if name.is_empty() {
        return headers.values().any(|v| one(v.as_bytes()));
    }
    headers.get_all(name).iter().any(|v| one(v.as_bytes()))
}

fn trim(v: &[u8]) -> &[u8] {
    let s = v
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(v.len());
    let e = v
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(s, |p| p + 1);
    &v[s..e]
}

/// `hdr(name[,occ])`: every value, or the occ-th (negative: from the last).
fn hdr<'a>(a: &'a [Arg], headers: Option<&'a HeaderMap>, e: Emit<'_, 'a>, split: bool) {
    let Some(h) = headers else { return };
    let name = a.first().map(Arg::text).unwrap_or("");
    match a.get(1).and_then(Arg::int) {
        None | Some(0) => {
            each_value(h, name, split, &mut |v| e(Value::Str(Cow::Borrowed(v))));
        }
        Some(occ) if occ > 0 => {
            let mut n = 0;
            each_value(h, name, split, &mut |v| {
                n += 1;
                n == occ && {
                    e(Value::Str(Cow::Borrowed(v)));
                    true
                }
            });
        }
        Some(occ) => {
            let mut all = Vec::new();
            each_value(h, name, split, &mut |v| {
                all.push(v);
                false
            });
            let back = (-occ) as usize;
            if back <= all.len() {
                e(Value::Str(Cow::Borrowed(all[all.len() - back])));
            }
        }
    }
}

fn hdr_cnt<'a>(a: &'a [Arg], headers: Option<&'a HeaderMap>, e: Emit<'_, 'a>, split: bool) {
    let Some(h) = headers else { return };
    let mut n = 0;
    each_value(
        h,
        a.first().map(Arg::text).unwrap_or(""),
        split,
        &mut |_| {
            n += 1;
            false
        },
    );
    e(Value::Int(n));
}

fn hdr_ip<'a>(a: &'a [Arg], headers: Option<&'a HeaderMap>, e: Emit<'_, 'a>) {
    hdr(
        a,
        headers,
        &mut |v| {
            let s = std::str::from_utf8(&v.to_bytes()).unwrap_or("").to_string();
            // `1.2.3.4:80` is an IPv4 address with a port.
            let ip = s.parse::<IpAddr>().ok().or_else(|| {
                let (h, p) = s.rsplit_once(':')?;
                p.parse::<u16>().ok()?;
                h.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
            });
            match ip {
                Some(ip) => e(Value::Ip(ip)),
                None => false,
            }
        },
        true,
    )
}

fn hdr_val<'a>(a: &'a [Arg], headers: Option<&'a HeaderMap>, e: Emit<'_, 'a>) {
    hdr(
        a,
        headers,
        &mut |v| e(Value::Int(v.to_int().unwrap_or(0))),
        true,
    )
}

/// Cookies of the `Cookie` headers: `name=value` pairs separated by `;` (and `,`).
fn each_cookie<'a>(h: &'a HeaderMap, f: &mut dyn FnMut(&'a [u8], &'a [u8]) -> bool) -> bool {
    h.get_all("cookie").iter().any(|v| {
        v.as_bytes().split(|&c| c == b';' || c == b',').any(|kv| {
            let kv = trim(kv);
            match kv.iter().position(|&c| c == b'=') {
                Some(i) => f(trim(&kv[..i]), trim(&kv[i + 1..])),
                None => false,
            }
        })
    })
}

fn cook<'a>(a: &'a [Arg], headers: Option<&'a HeaderMap>, e: Emit<'_, 'a>) {
    let Some(h) = headers else { return };
    let name = a.first().map(Arg::text).unwrap_or("");
    each_cookie(h, &mut |k, v| {
        (name.is_empty() || k == name.as_bytes()) && e(Value::Str(Cow::Borrowed(v)))
    });
}

fn cook_cnt<'a>(a: &'a [Arg], headers: Option<&'a HeaderMap>, e: Emit<'_, 'a>) {
    let Some(h) = headers else { return };
    let name = a.first().map(Arg::text).unwrap_or("");
    let mut n = 0;
    each_cookie(h, &mut |k, _| {
        if name.is_empty() || k == name.as_bytes() {
            n += 1;
        }
        false
    });
    e(Value::Int(n));
}

/// Cookies the server sets: the first `name=value` of each `Set-Cookie` header.
fn set_cook<'a>(a: &'a [Arg], headers: Option<&'a HeaderMap>, e: Emit<'_, 'a>) {
    let Some(h) = headers else { return };
    let name = a.first().map(Arg::text).unwrap_or("");
    h.get_all("set-cookie").iter().any(|v| {
        let first = v.as_bytes().split(|&c| c == b';').next().unwrap_or(b"");
        let Some(i) = first.iter().position(|&c| c == b'=') else {
            return false;
        };
        (name.is_empty() || trim(&first[..i]) == name.as_bytes())
            && e(Value::Str(Cow::Borrowed(trim(&first[i + 1..]))))
    });
}

fn capture<'a>(a: &'a [Arg], slots: &'a [Option<String>], e: Emit<'_, 'a>) {
    let idx = a[0].int().unwrap_or(-1);
    if let Some(Some(v)) = usize::try_from(idx).ok().and_then(|i| slots.get(i)) {
        e(Value::str(v));
    }
}

#[cfg(test)]
mod tests {
    use super::super::expr::{Expr, HttpReq};
    use super::*;

    fn with_req<R>(uri: &str, hdrs: &[(&str, &str)], f: impl FnOnce(&Env<'_>) -> R) -> R {
        let mut h = HeaderMap::new();
        for (k, v) in hdrs {
            h.append(
                hyper::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        let env = Env {
            src: Some("[::ffff:10.0.0.1]:4000".parse().unwrap()),
            req: Some(HttpReq {
                method: "GET",
                uri,
                version: "1.1",
                headers: &h,
                body: None,
            }),
            ..Env::default()
        };
        f(&env)
    }

    fn eval(expr: &str, uri: &str, hdrs: &[(&str, &str)]) -> Option<String> {
        let e = Expr::parse(expr).unwrap();
        with_req(uri, hdrs, |env| {
            e.eval(env)
                .map(|v| String::from_utf8_lossy(&v.to_bytes()).into_owned())
        })
    }

    #[test]
    fn request_line_fetches() {
        let u = "/a/b?x=1&y=2";
        assert_eq!(eval("path", u, &[]).as_deref(), Some("/a/b"));
        assert_eq!(eval("pathq", u, &[]).as_deref(), Some("/a/b?x=1&y=2"));
        assert_eq!(eval("query", u, &[]).as_deref(), Some("x=1&y=2"));
        assert_eq!(eval("url_param(y)", u, &[]).as_deref(), Some("2"));
        let q = "/p?a=1&flag&b=&a=2#frag=9";
        assert_eq!(eval("urlp(a)", q, &[]).as_deref(), Some("1"));
        assert_eq!(eval("urlp(flag)", q, &[]).as_deref(), Some(""));
        assert_eq!(eval("urlp(b)", q, &[]).as_deref(), Some(""));
        assert_eq!(eval("urlp(frag)", q, &[]), None);
        assert_eq!(eval("urlp(c)", q, &[]), None);
        assert_eq!(eval("urlp(b,;)", "/p?a=1;b=2", &[]).as_deref(), Some("2"));
        assert_eq!(eval("urlp(b,é)", "/p?a=1éb=2", &[]).as_deref(), Some("2"));
        assert_eq!(eval("path", "http://h/p?q", &[]).as_deref(), Some("/p"));
        assert_eq!(
            eval("base", u, &[("host", "ex.com")]).as_deref(),
            Some("ex.com/a/b")
        );
        assert_eq!(eval("src", u, &[]).as_deref(), Some("10.0.0.1"));
        assert_eq!(eval("src_port", u, &[]).as_deref(), Some("4000"));
    }

    #[test]
    fn header_occurrences_and_cookies() {
        let h = [("x", "a, b"), ("x", "c"), ("cookie", "s=1; t=2")];
        assert_eq!(eval("req.hdr(x)", "/", &h).as_deref(), Some("c"));
        assert_eq!(eval("req.hdr(x,1)", "/", &h).as_deref(), Some("a"));
        assert_eq!(eval("req.hdr(x,-2)", "/", &h).as_deref(), Some("b"));
        assert_eq!(eval("req.fhdr(x,1)", "/", &h).as_deref(), Some("a, b"));
        assert_eq!(eval("req.hdr_cnt(x)", "/", &h).as_deref(), Some("3"));
        assert_eq!(eval("req.fhdr_cnt(x)", "/", &h).as_deref(), Some("2"));
        assert_eq!(eval("req.cook(t)", "/", &h).as_deref(), Some("2"));
        assert_eq!(eval("req.cook_cnt", "/", &h).as_deref(), Some("2"));
        assert_eq!(eval("req.hdr(nope)", "/", &h), None);
        let mut all = vec![];
        let e = Expr::parse("req.hdr(x)").unwrap();
        with_req("/", &h, |env| {
            e.each(env, &mut |v| {
                all.push(String::from_utf8_lossy(&v.to_bytes()).into_owned());
                false
            })
        });
        assert_eq!(all, ["a", "b", "c"]);
    }
}
