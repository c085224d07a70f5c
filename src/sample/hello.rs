//! Fetches that read a TLS ClientHello in the buffered request bytes, without
//! terminating TLS (`tcp-request inspect-delay` + `req.ssl_sni`: SNI routing of TLS
//! passthrough), as HAProxy's `payload.c` reads it: only the first record counts,
//! and a fetch waits for more bytes while the record is incomplete.

use super::conn::Payload;
use super::expr::{Arg, Emit, Env};
use super::fetch::{l4a, FetchDef};
use super::{Type, Value};
use std::borrow::Cow;

/// What reading the start of the buffer found.
#[derive(Debug, PartialEq, Eq)]
enum Read<T> {
    /// The answer.
    Found(T),
    /// More bytes could give an answer.
    Short,
    /// Not a TLS handshake (or not the part asked for).
    No,
}

/// `req.ssl_hello_type`: the handshake type of the first record (1: ClientHello)
/// once the whole handshake message is in, for records of SSLv3 and later.
fn hello_type(d: &[u8]) -> Read<u8> {
    let Some(&ct) = d.first() else {
        return Read::Short;
    };
    if !((0x14..=0x17).contains(&ct) || ct == 0xff) {
        return Read::No;
    }
    if d.len() < 9 {
        return Read::Short;
    }
    if (u32::from(d[1]) << 16) + u32::from(d[2]) < 0x0003_0000 {
        return Read::No;
    }
    if (usize::from(d[3]) << 8) + usize::from(d[4]) < 4 {
        return Read::No;
    }
    let hs_len = (usize::from(d[6]) << 16) + (usize::from(d[7]) << 8) + usize::from(d[8]);
    if d.len() < hs_len + 9 {
        return Read::Short;
    }
    Read::Found(d[5])
}

/// The extensions block of the ClientHello in the first record.
fn extensions(d: &[u8]) -> Read<&[u8]> {
    if d.len() < 5 {
        return if d.first().is_some_and(|&b| b != 0x16) {
            Read::No
        } else {
            Read::Short
        };
    }
    // A handshake record of TLS (3.x), holding a ClientHello.
    if d[0] != 0x16 || d[1] != 3 {
        return Read::No;
    }
    let rec_len = (usize::from(d[3]) << 8) | usize::from(d[4]);
    if d.len() < 5 + rec_len {
        return Read::Short;
    }
    let r = &d[5..5 + rec_len];
    if r.len() < 4 || r[0] != 1 {
        return Read::No;
    }
    let hs_len = (usize::from(r[1]) << 16) | (usize::from(r[2]) << 8) | usize::from(r[3]);
    let Some(h) = r.get(4..4 + hs_len) else {
        // A ClientHello spread over several records: HAProxy reads the first only.
        return Read::No;
    };
    // version (2), random (32), session id, cipher suites, compression methods.
    let mut at = 34;
    for width in [1usize, 2, 1] {
        let Some(len) = h.get(at..at + width) else {
            return Read::No;
        };
        let n = len.iter().fold(0usize, |n, &b| n << 8 | usize::from(b));
        at += width + n;
    }
    let Some(ext_len) = h.get(at..at + 2) else {
        return Read::No;
    };
    let n = (usize::from(ext_len[0]) << 8) | usize::from(ext_len[1]);
    match h.get(at + 2..at + 2 + n) {
        Some(e) => Read::Found(e),
        None => Read::No,
    }
}

/// The data of extension `ty`.
fn extension(d: &[u8], ty: u16) -> Read<&[u8]> {
    let exts = match extensions(d) {
        Read::Found(e) => e,
        Read::Short => return Read::Short,
        Read::No => return Read::No,
    };
    let mut rest = exts;
    while rest.len() >= 4 {
        let t = u16::from_be_bytes([rest[0], rest[1]]);
        let n = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
        let Some(body) = rest.get(4..4 + n) else {
            return Read::No;
        };
        if t == ty {
            return Read::Found(body);
        }
        rest = &rest[4 + n..];
    }
    Read::No
}

/// The host name of the server_name extension.
fn sni(d: &[u8]) -> Read<&[u8]> {
    let body = match extension(d, 0) {
        Read::Found(b) => b,
        Read::Short => return Read::Short,
        Read::No => return Read::No,
    };
    // list length (2), then entries: type (1; 0 = host_name), length (2), name.
    let mut rest = body.get(2..).unwrap_or_default();
    while rest.len() >= 3 {
        let n = usize::from(u16::from_be_bytes([rest[1], rest[2]]));
        let Some(name) = rest.get(3..3 + n) else {
            return Read::No;
        };
        if rest[0] == 0 {
            return Read::Found(name);
        }
        rest = &rest[3 + n..];
    }
    Read::No
}

/// The first protocol of the ALPN extension.
fn alpn(d: &[u8]) -> Read<&[u8]> {
    let body = match extension(d, 16) {
        Read::Found(b) => b,
        Read::Short => return Read::Short,
        Read::No => return Read::No,
    };
    let n = body.get(2).map_or(0, |&n| usize::from(n));
    match body.get(3..3 + n) {
        Some(p) if n > 0 => Read::Found(p),
        _ => Read::No,
    }
}

/// Emits what `read` found in the payload, or notes that more bytes may answer.
fn emit<'a, T>(p: Payload<'a>, read: Read<T>, e: Emit<'_, 'a>, v: impl FnOnce(T) -> Value<'a>) {
    match read {
        Read::Found(x) => {
            e(v(x));
        }
        Read::Short => p.miss(),
        Read::No => {}
    }
}

fn ssl_sni<'a>(_: &'a [Arg], env: &Env<'a>, e: Emit<'_, 'a>) {
    if let Some(p) = env.payload.filter(|p| !p.response) {
        emit(p, sni(p.data), e, |s| Value::Str(Cow::Borrowed(s)));
    }
}

fn ssl_hello_type<'a>(_: &'a [Arg], env: &Env<'a>, e: Emit<'_, 'a>) {
    if let Some(p) = env.payload.filter(|p| !p.response) {
        emit(p, hello_type(p.data), e, |t| Value::Int(i64::from(t)));
    }
}

fn ssl_alpn<'a>(_: &'a [Arg], env: &Env<'a>, e: Emit<'_, 'a>) {
    if let Some(p) = env.payload.filter(|p| !p.response) {
        emit(p, alpn(p.data), e, |s| Value::Str(Cow::Borrowed(s)));
    }
}

/// The ClientHello fetches (with HAProxy's older `req_ssl_*` names).
pub static FETCHES: &[FetchDef] = &[
    l4a("req.ssl_sni", &[], 0, Type::Str, ssl_sni),
    l4a("req_ssl_sni", &[], 0, Type::Str, ssl_sni),
    l4a("req.ssl_hello_type", &[], 0, Type::Int, ssl_hello_type),
    l4a("req_ssl_hello_type", &[], 0, Type::Int, ssl_hello_type),
    l4a("req.ssl_alpn", &[], 0, Type::Str, ssl_alpn),
];

/// The fetch called `name`.
pub fn find(name: &str) -> Option<&'static FetchDef> {
    FETCHES.iter().find(|f| f.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ClientHello record with SNI `name` and ALPN `h2`, `http/1.1`.
    pub(crate) fn client_hello(name: &str) -> Vec<u8> {
        let mut ext = Vec::new();
        // server_name
        let n = name.as_bytes();
        ext.extend_from_slice(&0u16.to_be_bytes());
        ext.extend_from_slice(&((n.len() + 5) as u16).to_be_bytes());
        ext.extend_from_slice(&((n.len() + 3) as u16).to_be_bytes());
        ext.push(0);
        ext.extend_from_slice(&(n.len() as u16).to_be_bytes());
        ext.extend_from_slice(n);
        // ALPN
        let protos: &[&[u8]] = &[b"h2", b"http/1.1"];
        let list: Vec<u8> = protos
            .iter()
            .flat_map(|p| std::iter::once(p.len() as u8).chain(p.iter().copied()))
            .collect();
        ext.extend_from_slice(&16u16.to_be_bytes());
        ext.extend_from_slice(&((list.len() + 2) as u16).to_be_bytes());
        ext.extend_from_slice(&(list.len() as u16).to_be_bytes());
        ext.extend_from_slice(&list);
        let mut hello = vec![3, 3];
        hello.extend_from_slice(&[7; 32]); // random
        hello.push(0); // session id
        hello.extend_from_slice(&[0, 2, 0x13, 0x01]); // one cipher suite
        hello.extend_from_slice(&[1, 0]); // null compression
        hello.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        hello.extend_from_slice(&ext);
        let mut hs = vec![1];
        hs.extend_from_slice(&(hello.len() as u32).to_be_bytes()[1..]);
        hs.extend_from_slice(&hello);
        let mut rec = vec![0x16, 3, 1];
        rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        rec.extend_from_slice(&hs);
        rec
    }

    #[test]
    fn reads_sni_alpn_and_type() {
        let h = client_hello("www.example.com");
        assert_eq!(sni(&h), Read::Found(&b"www.example.com"[..]));
        assert_eq!(alpn(&h), Read::Found(&b"h2"[..]));
        assert_eq!(hello_type(&h), Read::Found(1));
        // Every prefix asks for more; nothing is invented.
        for cut in 0..h.len() {
            assert_eq!(sni(&h[..cut]), Read::Short, "cut at {cut}");
            assert_eq!(hello_type(&h[..cut]), Read::Short, "cut at {cut}");
        }
    }

    #[test]
    fn other_bytes_are_not_a_hello() {
        assert_eq!(sni(b"GET / HTTP/1.1\r\n\r\n"), Read::No);
        assert_eq!(hello_type(b"GET / HTTP/1.1\r\n\r\n"), Read::No);
        let mut h = client_hello("a");
        h[5] = 2; // a ServerHello
        assert_eq!(sni(&h), Read::No);
        assert_eq!(hello_type(&h), Read::Found(2));
    }
}
