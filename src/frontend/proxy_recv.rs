//! Receiving the PROXY protocol (`bind ... accept-proxy`, `tcp-request connection
//! expect-proxy layer4`): version 1 (text) and 2 (binary), told apart by their first
//! bytes as HAProxy does. The header is peeked at until it is complete, then exactly
//! its bytes are consumed: what follows belongs to the client's protocol.
//!
//! Validation follows HAProxy 2.6 (`conn_recv_proxy`): a v2 TLV must fit in the
//! header and the TLVs must end with it, `PP2_TYPE_CRC32C` must be 4 bytes and match,
//! `PP2_TYPE_AUTHORITY` is at most 255 bytes and `PP2_TYPE_UNIQUE_ID` at most 128.

use crate::sample::conn::{ProxyHdr, PP2_TYPE_AUTHORITY, PP2_TYPE_CRC32C, PP2_TYPE_UNIQUE_ID};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The PROXY protocol v2 signature.
const SIG: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// The longest v1 line the specification allows (`PROXY TCP6 ...` with CRLF).
const V1_MAX: usize = 107;
/// HAProxy's `PP2_AUTHORITY_MAX`.
const AUTHORITY_MAX: usize = 255;
/// HAProxy's `UNIQUEID_LEN`.
const UNIQUE_ID_MAX: usize = 128;

/// Why a PROXY header was refused; the texts are HAProxy's connection error strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PpError {
    /// The client closed before sending anything.
    Empty,
    /// A socket error.
    Abort,
    /// Nothing complete within `timeout client`.
    Timeout,
    /// The client closed mid-header, or the header cannot fit in a buffer.
    Truncated,
    /// Neither `PROXY ` nor the v2 signature.
    NotHdr,
    /// A malformed header.
    BadHdr,
    /// A v1 protocol other than TCP4, TCP6 or UNKNOWN.
    BadProto,
}

impl PpError {
    /// HAProxy's text for this error (`conn_err_code_str`).
    pub fn text(self) -> &'static str {
        match self {
            PpError::Empty => "Connection closed while waiting for PROXY protocol header",
            PpError::Abort => "Connection error while waiting for PROXY protocol header",
            PpError::Timeout => "Timeout while waiting for PROXY protocol header",
            PpError::Truncated => "Truncated PROXY protocol header received",
            PpError::NotHdr => {
                "Received something which does not look like a PROXY protocol header"
            }
            PpError::BadHdr => "Received an invalid PROXY protocol header",
            PpError::BadProto => "Received an unhandled protocol in the PROXY protocol header",
        }
    }

    /// Errors `option dontlognull` keeps out of the logs (no byte was exchanged).
    pub fn is_null(self) -> bool {
        matches!(self, PpError::Empty | PpError::Abort)
    }
}

/// What the bytes received so far make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A prefix of a header: at least this many bytes are needed.
    Incomplete(usize),
    /// A complete header, and its length in bytes.
    Done(ProxyHdr, usize),
}

/// Parses the start of a connection's bytes; `limit` is the largest header accepted
/// (HAProxy's buffer size).
pub fn parse(buf: &[u8], limit: usize) -> Result<Parsed, PpError> {
    let prefix_of = |full: &[u8]| buf.len() < full.len() && full.starts_with(buf);
    if buf.starts_with(b"PROXY ") {
        return parse_v1(buf);
    }
    if prefix_of(b"PROXY ") || prefix_of(SIG) {
        return Ok(Parsed::Incomplete(buf.len() + 1));
    }
    if !buf.starts_with(SIG) {
        return Err(PpError::NotHdr);
    }
    if buf.len() < 16 {
        if buf.len() > 12 && buf[12] >> 4 != 2 {
            return Err(PpError::NotHdr);
        }
        return Ok(Parsed::Incomplete(16));
    }
    parse_v2(buf, limit)
}

fn parse_v1(buf: &[u8]) -> Result<Parsed, PpError> {
    let window = &buf[..buf.len().min(V1_MAX)];
    let Some(lf) = window.iter().position(|&b| b == b'\n') else {
        if buf.len() >= V1_MAX {
            return Err(PpError::BadHdr);
        }
        return Ok(Parsed::Incomplete(buf.len() + 1));
    };
    if lf < 7 || buf[lf - 1] != b'\r' {
        return Err(PpError::BadHdr);
    }
    let line = std::str::from_utf8(&buf[6..lf - 1]).map_err(|_| PpError::BadHdr)?;
    let (proto, rest) = line.split_once(' ').unwrap_or((line, ""));
    let addrs = match proto {
        // The specification lets a sender put anything after UNKNOWN.
        "UNKNOWN" => None,
        "TCP4" | "TCP6" => {
            let f: Vec<&str> = rest.split(' ').collect();
            let [s, d, sp, dp] = f[..] else {
                return Err(PpError::BadHdr);
            };
            let ip = |t: &str| -> Result<IpAddr, PpError> {
                let a = if proto == "TCP4" {
                    t.parse::<Ipv4Addr>().map(IpAddr::V4)
                } else {
                    t.parse::<Ipv6Addr>().map(IpAddr::V6)
                };
                a.map_err(|_| PpError::BadHdr)
            };
            let port = |t: &str| -> Result<u16, PpError> {
                if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(PpError::BadHdr);
                }
                t.parse().map_err(|_| PpError::BadHdr)
            };
            Some((
                SocketAddr::new(ip(s)?, port(sp)?),
                SocketAddr::new(ip(d)?, port(dp)?),
            ))
        }
        _ => return Err(PpError::BadProto),
    };
    Ok(Parsed::Done(
        ProxyHdr {
            version: 1,
            addrs,
            tlvs: Vec::new(),
        },
        lf + 1,
    ))
}

fn parse_v2(buf: &[u8], limit: usize) -> Result<Parsed, PpError> {
    let ver_cmd = buf[12];
    if ver_cmd >> 4 != 2 {
        return Err(PpError::NotHdr);
    }
    let len = u16::from_be_bytes([buf[14], buf[15]]) as usize;
    let total = 16 + len;
    if total > limit {
        return Err(PpError::Truncated);
    }
    if buf.len() < total {
        return Ok(Parsed::Incomplete(total));
    }
    let local = |tlvs| {
        Ok(Parsed::Done(
            ProxyHdr {
                version: 2,
                addrs: None,
                tlvs,
            },
            total,
        ))
    };
    match ver_cmd & 0x0f {
        0x0 => return local(Vec::new()), // LOCAL: the real addresses stay
        0x1 => {}
        _ => return Err(PpError::BadHdr),
    }
    let fam = buf[13];
    // The address block's length by address family (UNSPEC, INET, INET6, UNIX).
    let alen = match fam >> 4 {
        0x0 => 0,
        0x1 => 12,
        0x2 => 36,
        0x3 => 216,
        _ => return Err(PpError::BadHdr),
    };
    if len < alen {
        return Err(PpError::BadHdr);
    }
    let a = &buf[16..16 + alen];
    let port = |i: usize| u16::from_be_bytes([a[i], a[i + 1]]);
    let addrs = match fam {
        0x11 => {
            let ip = |i: usize| IpAddr::V4(Ipv4Addr::new(a[i], a[i + 1], a[i + 2], a[i + 3]));
            Some((
                SocketAddr::new(ip(0), port(8)),
                SocketAddr::new(ip(4), port(10)),
            ))
        }
        0x21 => {
            let ip = |i: usize| {
                let mut o = [0u8; 16];
                o.copy_from_slice(&a[i..i + 16]);
                IpAddr::V6(Ipv6Addr::from(o))
            };
            Some((
                SocketAddr::new(ip(0), port(32)),
                SocketAddr::new(ip(16), port(34)),
            ))
        }
        // Another transport or family: the real addresses stay.
        _ => None,
    };
    let tlvs = tlvs(&buf[..total], 16 + alen)?;
    if addrs.is_none() {
        return local(tlvs);
    }
    Ok(Parsed::Done(
        ProxyHdr {
            version: 2,
            addrs,
            tlvs,
        },
        total,
    ))
}

/// The TLVs of header `h` from offset `off`, validated.
fn tlvs(h: &[u8], mut off: usize) -> Result<Vec<(u8, Vec<u8>)>, PpError> {
    let mut out = Vec::new();
    while off < h.len() {
        if off + 3 > h.len() {
            return Err(PpError::BadHdr);
        }
        let ty = h[off];
        let len = u16::from_be_bytes([h[off + 1], h[off + 2]]) as usize;
        let start = off + 3;
        off = start + len;
        if off > h.len() {
            return Err(PpError::BadHdr);
        }
        let v = &h[start..off];
        match ty {
            PP2_TYPE_CRC32C => {
                if len != 4 {
                    return Err(PpError::BadHdr);
                }
                let mut zeroed = h.to_vec();
                zeroed[start..off].fill(0);
                if crc32c::crc32c(&zeroed).to_be_bytes() != v {
                    return Err(PpError::BadHdr);
                }
            }
            PP2_TYPE_AUTHORITY if len > AUTHORITY_MAX => return Err(PpError::BadHdr),
            PP2_TYPE_UNIQUE_ID if len > UNIQUE_ID_MAX => return Err(PpError::BadHdr),
            _ => {}
        }
        out.push((ty, v.to_vec()));
    }
    Ok(out)
}

/// Reads a PROXY header from the start of `stream`, consuming exactly its bytes.
/// `limit` is the largest header accepted.
pub async fn receive(
    stream: &mut super::stream::ClientStream,
    limit: usize,
) -> Result<ProxyHdr, PpError> {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; 232];
    let mut seen = 0;
    loop {
        let n = super::stream::peek_more(&*stream, &mut buf, seen)
            .await
            .map_err(|_| PpError::Abort)?;
        if n == 0 {
            return Err(PpError::Empty);
        }
        match parse(&buf[..n], limit)? {
            Parsed::Done(h, len) => {
                stream
                    .read_exact(&mut buf[..len])
                    .await
                    .map_err(|_| PpError::Abort)?;
                return Ok(h);
            }
            // The client ended its side before the header was complete.
            Parsed::Incomplete(_) if n == seen => return Err(PpError::Truncated),
            Parsed::Incomplete(need) => {
                if need > buf.len() {
                    buf.resize(need, 0);
                }
                seen = n;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2(fam: u8, body: &[u8]) -> Vec<u8> {
        let mut h = SIG.to_vec();
        h.push(0x21);
        h.push(fam);
        h.extend_from_slice(&(body.len() as u16).to_be_bytes());
        h.extend_from_slice(body);
        h
    }

    const ADDR4: [u8; 12] = [127, 0, 0, 1, 10, 0, 0, 2, 0, 42, 5, 57];

    fn done(b: &[u8]) -> (ProxyHdr, usize) {
        match parse(b, 16384) {
            Ok(Parsed::Done(h, n)) => (h, n),
            x => panic!("{x:?}"),
        }
    }

    #[test]
    fn v1_lines() {
        let (h, n) = done(b"PROXY TCP4 192.168.0.1 10.0.0.2 56324 443\r\nGET /");
        assert_eq!(n, 43);
        assert_eq!(
            h.addrs,
            Some((
                "192.168.0.1:56324".parse().unwrap(),
                "10.0.0.2:443".parse().unwrap()
            ))
        );
        let (h, _) = done(b"PROXY TCP6 ::1 2001:db8::2 1 65535\r\n");
        assert_eq!(h.addrs.unwrap().1, "[2001:db8::2]:65535".parse().unwrap());
        assert_eq!(
            done(b"PROXY UNKNOWN\r\n"),
            (
                ProxyHdr {
                    version: 1,
                    ..Default::default()
                },
                15
            )
        );
        assert_eq!(done(b"PROXY UNKNOWN ::1 ::1 1 2\r\n").0.addrs, None);
    }

    #[test]
    fn v1_refusals() {
        let e = |b: &[u8]| parse(b, 16384).unwrap_err();
        assert_eq!(e(b"GET / HTTP/1.1\r\n"), PpError::NotHdr);
        assert_eq!(e(b"PROXY UDP4 1.1.1.1 1.1.1.1 1 1\r\n"), PpError::BadProto);
        assert_eq!(
            e(b"PROXY TCP4 1.1.1.1 1.1.1.1 1 70000\r\n"),
            PpError::BadHdr
        );
        assert_eq!(e(b"PROXY TCP4 1.1.1.1  1.1.1.1 1 1\r\n"), PpError::BadHdr);
        assert_eq!(e(b"PROXY TCP4 ::1 1.1.1.1 1 1\r\n"), PpError::BadHdr);
        assert_eq!(e(b"PROXY TCP4 1.1.1.1 1.1.1.1 1 1\n"), PpError::BadHdr);
        assert_eq!(e(b"PROXY TCP4 1.1.1.1 1.1.1.1 +1 1\r\n"), PpError::BadHdr);
        assert_eq!(e(&[b'P'; 200][..]), PpError::NotHdr);
        let mut long = b"PROXY TCP4 ".to_vec();
        long.resize(150, b'1');
        assert_eq!(e(&long), PpError::BadHdr);
    }

    #[test]
    fn prefixes_wait() {
        for b in [
            &b"PRO"[..],
            b"PROXY TCP4 1.2",
            &SIG[..5],
            &v2(0x11, &ADDR4)[..20],
        ] {
            assert!(
                matches!(parse(b, 16384), Ok(Parsed::Incomplete(_))),
                "{b:?}"
            );
        }
    }

    #[test]
    fn v2_tlvs_are_validated() {
        let mut body = ADDR4.to_vec();
        body.extend_from_slice(&[2, 0, 5, b'1', b'2', b'3', b'4', b'5']);
        let (h, n) = done(&v2(0x11, &body));
        assert_eq!(n, 16 + 20);
        assert_eq!(h.tlv(PP2_TYPE_AUTHORITY), Some(&b"12345"[..]));
        assert_eq!(h.addrs.unwrap().0, "127.0.0.1:42".parse().unwrap());
        // A TLV longer than the header, one that does not end with it, a cut header.
        let mut long = ADDR4.to_vec();
        long.extend_from_slice(&[2, 0, 10, b'1', b'2']);
        assert_eq!(parse(&v2(0x11, &long), 16384), Err(PpError::BadHdr));
        let mut cut = ADDR4.to_vec();
        cut.extend_from_slice(&[2, 0]);
        assert_eq!(parse(&v2(0x11, &cut), 16384), Err(PpError::BadHdr));
        let mut big = ADDR4.to_vec();
        big.extend_from_slice(&[2, 1, 0]);
        big.extend_from_slice(&[b'a'; 256]);
        assert_eq!(parse(&v2(0x11, &big), 16384), Err(PpError::BadHdr));
        let mut uid = ADDR4.to_vec();
        uid.extend_from_slice(&[5, 0, 129]);
        uid.extend_from_slice(&[b'a'; 129]);
        assert_eq!(parse(&v2(0x11, &uid), 16384), Err(PpError::BadHdr));
        assert_eq!(parse(&v2(0x11, &ADDR4[..8]), 16384), Err(PpError::BadHdr));
        assert_eq!(parse(&v2(0x11, &[0; 100]), 50), Err(PpError::Truncated));
    }

    #[test]
    fn v2_crc_local_and_families() {
        let mut body = ADDR4.to_vec();
        body.extend_from_slice(&[3, 0, 4, 0, 0, 0, 0]);
        let mut h = v2(0x11, &body);
        let crc = crc32c::crc32c(&h).to_be_bytes();
        let at = h.len() - 4;
        h[at..].copy_from_slice(&crc);
        assert!(done(&h).0.addrs.is_some());
        h[at] ^= 1;
        assert_eq!(parse(&h, 16384), Err(PpError::BadHdr));
        let mut local = v2(0x11, &ADDR4);
        local[12] = 0x20;
        assert_eq!(done(&local).0.addrs, None);
        local[12] = 0x22;
        assert_eq!(parse(&local, 16384), Err(PpError::BadHdr));
        local[12] = 0x11;
        assert_eq!(parse(&local, 16384), Err(PpError::NotHdr));
        let udp = v2(0x12, &ADDR4);
        assert_eq!(done(&udp).0.addrs, None);
        let mut six = vec![0u8; 36];
        six[15] = 1;
        six[33] = 7;
        assert_eq!(
            done(&v2(0x21, &six)).0.addrs.unwrap().0,
            "[::1]:7".parse().unwrap()
        );
    }
}
