//! What the fetches know of the client connection itself, apart from the stream's
//! addresses (`src`, `dst`): the connection's own addresses (`fc_src`, `fc_dst`,
//! which only `tcp-request connection` rules change) and the PROXY protocol header
//! it came with (`fc_rcvd_proxy`, `fc_pp_authority`, `fc_pp_unique_id`); and what the
//! TLS connection to the server negotiated (`ssl_bc*`).

use std::net::SocketAddr;

/// PP2_TYPE_AUTHORITY.
pub const PP2_TYPE_AUTHORITY: u8 = 0x02;
/// PP2_TYPE_CRC32C.
pub const PP2_TYPE_CRC32C: u8 = 0x03;
/// PP2_TYPE_UNIQUE_ID.
pub const PP2_TYPE_UNIQUE_ID: u8 = 0x05;

/// A PROXY protocol header as received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyHdr {
    /// 1 (text) or 2 (binary).
    pub version: u8,
    /// The addresses it gives (None: `UNKNOWN`, the v2 LOCAL command, or a family
    /// other than TCP over IPv4/IPv6: the connection's real addresses are kept).
    pub addrs: Option<(SocketAddr, SocketAddr)>,
    /// The v2 TLVs, in order (type, value).
    pub tlvs: Vec<(u8, Vec<u8>)>,
}

impl ProxyHdr {
    /// The value of the first TLV of type `t`.
    pub fn tlv(&self, t: u8) -> Option<&[u8]> {
        self.tlvs
            .iter()
            .find(|(ty, _)| *ty == t)
            .map(|(_, v)| v.as_slice())
    }
}

/// The client connection as the fetches see it.
#[derive(Debug, Clone, Default)]
pub struct ConnInfo {
    /// `fc_src`: the connection's source (the PROXY header's, unless a
    /// `tcp-request connection set-src` rule changed it).
    pub src: Option<SocketAddr>,
    /// `fc_dst`.
    pub dst: Option<SocketAddr>,
    /// The PROXY header the connection started with.
    pub proxy: Option<ProxyHdr>,
    /// The TLS side, when lbd terminated TLS on it (`bind ... ssl`).
    pub tls: Option<Box<super::ssl::TlsInfo>>,
}

impl ConnInfo {
    /// The protocol ALPN selected on a TLS connection lbd terminated.
    pub fn alpn(&self) -> Option<&[u8]> {
        self.tls.as_ref()?.alpn.as_deref()
    }
}

/// What a TLS connection to a server negotiated, recorded when it was opened (the
/// `ssl_bc*` fetches of `http-response` rules and logs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SrvTls {
    /// The ALPN protocol, if one was chosen.
    pub alpn: Option<String>,
    /// `TLSv1.2` or `TLSv1.3`.
    pub protocol: &'static str,
    /// The cipher suite, by its OpenSSL name.
    pub cipher: &'static str,
    /// The suite's symmetric key size in bits.
    pub keysize: i64,
    /// The session was resumed.
    pub resumed: bool,
    /// The certificates the server presented (DER, the leaf first, one after the
    /// other), for the `ssl_s_*` fetches.
    pub chain: Option<std::sync::Arc<[u8]>>,
    /// The length of the leaf at the start of `chain`.
    pub leaf_len: usize,
}

impl SrvTls {
    /// The server's certificate (DER).
    pub fn cert(&self) -> Option<&[u8]> {
        self.chain
            .as_deref()
            .map(|c| &c[..self.leaf_len.min(c.len())])
    }
}

/// What `set-src`, `set-dst`, `set-src-port` and `set-dst-port` change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrPart {
    /// The source address (its port kept).
    Src,
    /// The destination address (its port kept).
    Dst,
    /// The source port.
    SrcPort,
    /// The destination port.
    DstPort,
}

impl AddrPart {
    /// The part an action name changes (`set-src`, ...).
    pub fn of_action(name: &str) -> Option<AddrPart> {
        Some(match name {
            "set-src" => AddrPart::Src,
            "set-dst" => AddrPart::Dst,
            "set-src-port" => AddrPart::SrcPort,
            "set-dst-port" => AddrPart::DstPort,
            _ => return None,
        })
    }
}

/// The addresses `set-src`, `set-dst`, `set-src-port` and `set-dst-port` change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Addrs {
    /// The source (None: a unix socket client).
    pub src: Option<SocketAddr>,
    /// The destination.
    pub dst: Option<SocketAddr>,
}

impl Addrs {
    /// Applies `set-src|set-dst` (an address, the port kept; 0 when there was none)
    /// or `set-src-port|set-dst-port` (a port, on 0.0.0.0 when there was no address),
    /// as HAProxy does; a value that is not an address (or an integer) changes nothing.
    pub fn set(&mut self, part: AddrPart, v: &super::Value<'_>) {
        let (slot, port) = match part {
            AddrPart::Src => (&mut self.src, false),
            AddrPart::Dst => (&mut self.dst, false),
            AddrPart::SrcPort => (&mut self.src, true),
            AddrPart::DstPort => (&mut self.dst, true),
        };
        if port {
            if let Some(p) = v.to_int() {
                let ip = slot.map_or(std::net::Ipv4Addr::UNSPECIFIED.into(), |a| a.ip());
                *slot = Some(SocketAddr::new(ip, p as u16));
            }
        } else if let Some(ip) = v.to_ip() {
            *slot = Some(SocketAddr::new(ip, slot.map_or(0, |a| a.port())));
        }
    }
}

/// The request's buffered bytes as the payload fetches see them (`req.len`,
/// `req.payload`, `req.payload_lv`, `req.proto_http`). Until the data is final (the
/// inspect delay is over, the buffer is full, the client shut its side), a fetch that
/// needs bytes not there yet raises `missing`: a rule then waits for more.
#[derive(Debug, Clone, Copy)]
pub struct Payload<'a> {
    /// The bytes received so far.
    pub data: &'a [u8],
    /// No more bytes will be waited for.
    pub last: bool,
    /// Set by a fetch that found too few bytes while more may come.
    pub missing: &'a std::sync::atomic::AtomicBool,
    /// The server's bytes (`tcp-response content`: `res.*`), not the client's.
    pub response: bool,
}

/// A final payload never notes a miss: one flag serves them all.
static SETTLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

impl<'a> Payload<'a> {
    /// Bytes that are all there will be (a health check's answer, the request bytes
    /// once inspection is over): fetches decide on them and never wait.
    pub fn settled(data: &'a [u8], response: bool) -> Payload<'a> {
        Payload {
            data,
            last: true,
            missing: &SETTLED,
            response,
        }
    }

    /// `len` bytes at `off`, or None (noting the miss unless the data is final).
    pub fn get(&self, off: usize, len: usize) -> Option<&'a [u8]> {
        let end = off.checked_add(len)?;
        if end > self.data.len() {
            self.miss();
            return None;
        }
        Some(&self.data[off..end])
    }

    /// Notes that more bytes could change the answer.
    pub fn miss(&self) {
        if !self.last {
            self.missing
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

use super::expr::{Arg, ArgT, Emit, Env};
use super::fetch::{l4a, FetchDef};
use super::value::{Type, Value};
use std::borrow::Cow;

/// The connection's address: `fc_src`/`fc_dst` (the stream's when the connection's
/// was never changed).
fn fc(env: &Env<'_>, dst: bool) -> Option<SocketAddr> {
    match (env.conn, dst) {
        (Some(c), false) => c.src.or(env.src),
        (Some(c), true) => c.dst.or(env.dst),
        (None, false) => env.src,
        (None, true) => env.dst,
    }
}

fn fc_ip<'a>(env: &Env<'a>, dst: bool, e: Emit<'_, 'a>) {
    if let Some(a) = fc(env, dst) {
        e(Value::Ip(super::fetch::canonical(a.ip())));
    }
}

fn fc_port<'a>(env: &Env<'a>, dst: bool, e: Emit<'_, 'a>) {
    if let Some(a) = fc(env, dst) {
        e(Value::Int(a.port() as i64));
    }
}

fn pp_tlv<'a>(env: &Env<'a>, t: u8, e: Emit<'_, 'a>) {
    if let Some(v) = env.conn.and_then(|c| c.proxy.as_ref()?.tlv(t)) {
        e(Value::Str(Cow::Borrowed(v)));
    }
}

/// An integer argument as an offset or length (negative ones are refused).
fn size(a: Option<&Arg>) -> Option<usize> {
    usize::try_from(a?.int()?).ok()
}

/// The client's bytes (`res`: the server's) when the rule reads them.
fn side<'a>(env: &Env<'a>, res: bool) -> Option<Payload<'a>> {
    env.payload.filter(|p| p.response == res)
}

/// `req.payload(off,len)`: `len` bytes at `off` (0: up to the end of the data).
fn payload<'a>(a: &'a [Arg], env: &Env<'a>, e: Emit<'_, 'a>) {
    payload_of(a, side(env, false), e)
}

fn payload_of<'a>(a: &'a [Arg], p: Option<Payload<'a>>, e: Emit<'_, 'a>) {
    let (Some(p), Some(off), Some(len)) = (p, size(a.first()), size(a.get(1))) else {
        return;
    };
    let got = if len == 0 {
        // Everything from `off`: more bytes would make it longer.
        p.miss();
        p.data.get(off..)
    } else {
        p.get(off, len)
    };
    if let Some(b) = got {
        e(Value::Bin(Cow::Borrowed(b)));
    }
}

/// `req.payload_lv(off1,len[,off2])`: a block whose length is the `len`-byte big-endian
/// number at `off1`, starting at `off2` (`+N`/`-N`: relative to the end of the length
/// field), else right after the length.
fn payload_lv<'a>(a: &'a [Arg], env: &Env<'a>, e: Emit<'_, 'a>) {
    payload_lv_of(a, side(env, false), e)
}

fn payload_lv_of<'a>(a: &'a [Arg], p: Option<Payload<'a>>, e: Emit<'_, 'a>) {
    let (Some(p), Some(off), Some(len)) = (p, size(a.first()), size(a.get(1))) else {
        return;
    };
    if !(1..=4).contains(&len) {
        return;
    }
    let Some(field) = p.get(off, len) else { return };
    let block = field.iter().fold(0usize, |n, &b| n << 8 | b as usize);
    let after = off + len;
    let start = match a.get(2).map(Arg::text).filter(|t| !t.is_empty()) {
        None => Some(after),
        Some(t) if t.starts_with(['+', '-']) => t
            .parse::<i64>()
            .ok()
            .and_then(|r| usize::try_from(after as i64 + r).ok()),
        Some(t) => t.parse().ok(),
    };
    if let Some(b) = start.and_then(|s| p.get(s, block)) {
        e(Value::Bin(Cow::Borrowed(b)));
    }
}

/// `req.proto_http`: an HTTP request (in `mode tcp`: the buffered bytes start with a
/// complete, valid HTTP/1 request head).
fn proto_http<'a>(_: &'a [Arg], env: &Env<'a>, e: Emit<'_, 'a>) {
    if env.req.is_some() {
        e(Value::Bool(true));
        return;
    }
    let Some(p) = side(env, false) else {
        e(Value::Bool(false));
        return;
    };
    let mut headers = [httparse::EMPTY_HEADER; 100];
    match httparse::Request::new(&mut headers).parse(p.data) {
        Ok(httparse::Status::Complete(_)) => {
            e(Value::Bool(true));
        }
        Ok(httparse::Status::Partial) if !p.last => p.miss(),
        _ => {
            e(Value::Bool(false));
        }
    }
}

/// The HTTP/1 request head at the start of a `mode tcp` client's bytes, for the HTTP
/// fetches of `tcp-request content` rules (HAProxy parses it too); its headers go to
/// `headers`. None until the head is complete.
pub fn http_head<'b>(
    buf: &'b [u8],
    headers: &'b mut hyper::HeaderMap,
) -> Option<super::HttpReq<'b>> {
    if !buf.first().is_some_and(u8::is_ascii_uppercase) {
        return None;
    }
    let mut raw = [httparse::EMPTY_HEADER; 100];
    let mut r = httparse::Request::new(&mut raw);
    if !matches!(r.parse(buf), Ok(httparse::Status::Complete(_))) {
        return None;
    }
    for h in r.headers.iter() {
        if let (Ok(n), Ok(v)) = (
            hyper::header::HeaderName::from_bytes(h.name.as_bytes()),
            hyper::header::HeaderValue::from_bytes(h.value),
        ) {
            headers.append(n, v);
        }
    }
    Some(super::HttpReq {
        method: r.method?,
        uri: r.path?,
        version: if r.version == Some(0) { "1.0" } else { "1.1" },
        headers,
        body: None,
    })
}

/// `req.len` / `res.len`: the bytes there so far (more may come).
fn len<'a>(p: Option<Payload<'a>>, e: Emit<'_, 'a>) {
    if let Some(p) = p {
        p.miss();
        e(Value::Int(p.data.len() as i64));
    }
}

use ArgT::{Int as I, Str as S};

/// The connection and payload fetches.
pub static FETCHES: &[FetchDef] = &[
    l4a("fc_src", &[], 0, Type::Ip, |_, env, e| fc_ip(env, false, e)),
    l4a("fc_dst", &[], 0, Type::Ip, |_, env, e| fc_ip(env, true, e)),
    l4a("fc_src_port", &[], 0, Type::Int, |_, env, e| {
        fc_port(env, false, e)
    }),
    l4a("fc_dst_port", &[], 0, Type::Int, |_, env, e| {
        fc_port(env, true, e)
    }),
    l4a("fc_rcvd_proxy", &[], 0, Type::Bool, |_, env, e| {
        e(Value::Bool(env.conn.is_some_and(|c| c.proxy.is_some())));
    }),
    l4a("fc_pp_authority", &[], 0, Type::Str, |_, env, e| {
        pp_tlv(env, PP2_TYPE_AUTHORITY, e)
    }),
    l4a("fc_pp_unique_id", &[], 0, Type::Str, |_, env, e| {
        pp_tlv(env, PP2_TYPE_UNIQUE_ID, e)
    }),
    l4a("req.len", &[], 0, Type::Int, |_, env, e| {
        len(side(env, false), e)
    }),
    l4a("req_len", &[], 0, Type::Int, |_, env, e| {
        len(side(env, false), e)
    }),
    l4a("res.len", &[], 0, Type::Int, |_, env, e| {
        len(side(env, true), e)
    }),
    l4a("res.payload", &[I, I], 2, Type::Bin, |a, env, e| {
        payload_of(a, side(env, true), e)
    }),
    l4a("res.payload_lv", &[I, I, S], 2, Type::Bin, |a, env, e| {
        payload_lv_of(a, side(env, true), e)
    }),
    l4a("req.payload", &[I, I], 2, Type::Bin, payload),
    l4a("payload", &[I, I], 2, Type::Bin, payload),
    l4a("req.payload_lv", &[I, I, S], 2, Type::Bin, payload_lv),
    l4a("payload_lv", &[I, I, S], 2, Type::Bin, payload_lv),
    // True once content rules wait no more (the inspect delay is over...).
    l4a("wait_end", &[], 0, Type::Bool, |_, env, e| {
        match env.payload {
            Some(p) if !p.last => p.miss(),
            _ => {
                e(Value::Bool(true));
            }
        }
    }),
    l4a("req.proto_http", &[], 0, Type::Bool, proto_http),
    l4a("req_proto_http", &[], 0, Type::Bool, proto_http),
    // The TLS connection to the server (none before one is open, or in clear text).
    l4a("ssl_bc", &[], 0, Type::Bool, |_, env, e| {
        e(Value::Bool(env.srv_tls.is_some()));
    }),
    l4a("ssl_bc_alpn", &[], 0, Type::Str, |_, env, e| {
        if let Some(a) = env.srv_tls.and_then(|t| t.alpn.as_deref()) {
            e(Value::str(a));
        }
    }),
    l4a("ssl_bc_protocol", &[], 0, Type::Str, |_, env, e| {
        if let Some(t) = env.srv_tls {
            e(Value::str(t.protocol));
        }
    }),
    l4a("ssl_bc_cipher", &[], 0, Type::Str, |_, env, e| {
        if let Some(t) = env.srv_tls {
            e(Value::str(t.cipher));
        }
    }),
    l4a("ssl_bc_is_resumed", &[], 0, Type::Bool, |_, env, e| {
        if let Some(t) = env.srv_tls {
            e(Value::Bool(t.resumed));
        }
    }),
    l4a("ssl_bc_alg_keysize", &[], 0, Type::Int, srv_keysize),
    l4a("ssl_bc_use_keysize", &[], 0, Type::Int, srv_keysize),
];

/// `ssl_bc_alg_keysize`, `ssl_bc_use_keysize` (the same with the suites rustls has).
fn srv_keysize<'a>(_: &'a [Arg], env: &Env<'a>, e: Emit<'_, 'a>) {
    if let Some(t) = env.srv_tls {
        e(Value::Int(t.keysize));
    }
}

/// The fetch called `name`.
pub fn find(name: &str) -> Option<&'static FetchDef> {
    FETCHES.iter().find(|f| f.name == name)
}
