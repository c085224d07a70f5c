//! PROXY protocol headers sent to servers (`send-proxy`, `send-proxy-v2`, and the
//! TLVs of `proxy-v2-options`).

use std::net::SocketAddr;

pub use crate::config::model::ProxyV2Opts as V2Opts;

/// What the optional TLVs carry for one connection.
#[derive(Debug, Clone, Copy, Default)]
pub struct TlvSource<'a> {
    /// The authority (`PP2_TYPE_AUTHORITY`) received from the client's PROXY header.
    pub authority: Option<&'a [u8]>,
    /// The stream's unique id.
    pub unique_id: Option<&'a [u8]>,
}

/// TLV types (HAProxy's `PP2_TYPE_*`).
const PP2_TYPE_AUTHORITY: u8 = 0x02;
const PP2_TYPE_CRC32C: u8 = 0x03;
const PP2_TYPE_UNIQUE_ID: u8 = 0x05;

/// The v2 header for a client `src` that reached `dst` (None: the LOCAL command, as
/// for a unix socket client), then the TLVs `opts` ask for, in HAProxy's order
/// (CRC32C first, computed last over the whole header; then authority, unique id).
pub fn v2_with(
    addrs: Option<(SocketAddr, SocketAddr)>,
    opts: V2Opts,
    tlv: TlvSource<'_>,
) -> Vec<u8> {
    let mut out = match addrs {
        Some((s, d)) => v2(s, d),
        None => unknown(2),
    };
    let push = |out: &mut Vec<u8>, t: u8, v: &[u8]| {
        let len = v.len().min(u16::MAX as usize - 3);
        out.push(t);
        out.extend_from_slice(&(len as u16).to_be_bytes());
        out.extend_from_slice(&v[..len]);
    };
    let crc_at = opts.crc32c.then(|| {
        push(&mut out, PP2_TYPE_CRC32C, &[0; 4]);
        out.len() - 4
    });
    if opts.authority {
        if let Some(a) = tlv.authority {
            push(&mut out, PP2_TYPE_AUTHORITY, a);
        }
    }
    if opts.unique_id {
        // Sent even when empty, as HAProxy does.
        push(&mut out, PP2_TYPE_UNIQUE_ID, tlv.unique_id.unwrap_or(b""));
    }
    let len = (out.len() - 16).min(u16::MAX as usize) as u16;
    out[14..16].copy_from_slice(&len.to_be_bytes());
    if let Some(at) = crc_at {
        let crc = crc32c::crc32c(&out);
        out[at..at + 4].copy_from_slice(&crc.to_be_bytes());
    }
    out
}

/// The PROXY protocol v2 signature.
const SIG: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

/// The PROXY header for a client with no IP address (a unix socket client), as
/// HAProxy sends it: `PROXY UNKNOWN` in v1, the LOCAL command in v2.
pub fn unknown(version: u8) -> Vec<u8> {
    if version == 2 {
        let mut h = SIG.to_vec();
        h.extend_from_slice(&[0x20, 0x00, 0x00, 0x00]);
        h
    } else {
        b"PROXY UNKNOWN\r\n".to_vec()
    }
}

/// The PROXY protocol v1 line for a client `src` that reached `dst`.
pub fn v1(src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
    let (src, dst) = same_family(src, dst);
    let fam = if src.is_ipv4() { "TCP4" } else { "TCP6" };
    format!(
        "PROXY {fam} {} {} {} {}\r\n",
        src.ip(),
        dst.ip(),
        src.port(),
        dst.port()
    )
    .into_bytes()
}

/// The PROXY protocol v2 binary header.
pub fn v2(src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
    let (src, dst) = same_family(src, dst);
    let mut out = SIG.to_vec();
    out.push(0x21); // version 2, PROXY command
    match (src, dst) {
        (SocketAddr::V4(s), SocketAddr::V4(d)) => {
            out.push(0x11); // TCP over IPv4
            out.extend_from_slice(&12u16.to_be_bytes());
            out.extend_from_slice(&s.ip().octets());
            out.extend_from_slice(&d.ip().octets());
            out.extend_from_slice(&s.port().to_be_bytes());
            out.extend_from_slice(&d.port().to_be_bytes());
        }
        (s, d) => {
            let ip6 = |a: SocketAddr| match a {
                SocketAddr::V6(v) => v.ip().octets(),
                SocketAddr::V4(v) => v.ip().to_ipv6_mapped().octets(),
            };
            out.push(0x21); // TCP over IPv6
            out.extend_from_slice(&36u16.to_be_bytes());
            out.extend_from_slice(&ip6(s));
            out.extend_from_slice(&ip6(d));
            out.extend_from_slice(&s.port().to_be_bytes());
            out.extend_from_slice(&d.port().to_be_bytes());
        }
    }
    out
}

/// Both addresses in one family (IPv4-mapped IPv6 becomes IPv4 when both allow it).
fn same_family(src: SocketAddr, dst: SocketAddr) -> (SocketAddr, SocketAddr) {
    let canon = |a: SocketAddr| match a {
        SocketAddr::V6(v) => match v.ip().to_ipv4_mapped() {
            Some(ip) => SocketAddr::new(ip.into(), v.port()),
            None => a,
        },
        _ => a,
    };
    let (s, d) = (canon(src), canon(dst));
    if s.is_ipv4() == d.is_ipv4() {
        return (s, d);
    }
    let to6 = |a: SocketAddr| match a {
        SocketAddr::V4(v) => SocketAddr::new(v.ip().to_ipv6_mapped().into(), v.port()),
        _ => a,
    };
    (to6(s), to6(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_line() {
        let h = v1(
            "10.0.0.1:5000".parse().unwrap(),
            "10.0.0.2:80".parse().unwrap(),
        );
        assert_eq!(h, b"PROXY TCP4 10.0.0.1 10.0.0.2 5000 80\r\n");
        let h = v1("[::1]:5000".parse().unwrap(), "[::2]:80".parse().unwrap());
        assert_eq!(h, b"PROXY TCP6 ::1 ::2 5000 80\r\n");
    }

    #[test]
    fn unknown_client() {
        assert_eq!(unknown(1), b"PROXY UNKNOWN\r\n");
        let h = unknown(2);
        assert_eq!(&h[..12], SIG);
        assert_eq!(&h[12..], [0x20, 0, 0, 0]);
    }

    #[test]
    fn v2_tlvs() {
        let (src, dst) = (
            "10.0.0.1:5000".parse().unwrap(),
            "10.0.0.2:80".parse().unwrap(),
        );
        let a = Some((src, dst));
        let opts = V2Opts {
            authority: true,
            crc32c: true,
            unique_id: true,
        };
        let tlv = TlvSource {
            authority: Some(b"example.com"),
            unique_id: Some(b"ID-1"),
        };
        let h = v2_with(a, opts, tlv);
        // 16 + 12 address bytes, then CRC32C (3+4), authority (3+11), unique id (3+4).
        assert_eq!(h.len(), 28 + 7 + 14 + 7);
        assert_eq!(&h[14..16], &((h.len() - 16) as u16).to_be_bytes());
        assert_eq!(&h[28..31], &[0x03, 0, 4]);
        assert_eq!(&h[35..38], &[0x02, 0, 11]);
        assert_eq!(&h[38..49], b"example.com");
        assert_eq!(&h[49..52], &[0x05, 0, 4]);
        assert_eq!(&h[52..], b"ID-1");
        // The checksum is of the header with its own field zeroed.
        let mut zeroed = h.clone();
        zeroed[31..35].copy_from_slice(&[0; 4]);
        assert_eq!(&h[31..35], &crc32c::crc32c(&zeroed).to_be_bytes());
        // No options: the plain header; LOCAL keeps its TLVs.
        assert_eq!(v2_with(a, V2Opts::default(), tlv), v2(src, dst));
        let only_id = V2Opts {
            unique_id: true,
            ..V2Opts::default()
        };
        let h = v2_with(None, only_id, TlvSource::default());
        assert_eq!(&h[12..16], &[0x20, 0x00, 0x00, 0x03]);
        assert_eq!(&h[16..], &[0x05, 0, 0]);
    }

    #[test]
    fn v2_header() {
        let h = v2(
            "10.0.0.1:5000".parse().unwrap(),
            "10.0.0.2:80".parse().unwrap(),
        );
        assert_eq!(&h[..12], b"\r\n\r\n\0\r\nQUIT\n");
        assert_eq!(h[12], 0x21);
        assert_eq!(h[13], 0x11);
        assert_eq!(&h[14..16], &[0, 12]);
        assert_eq!(&h[16..20], &[10, 0, 0, 1]);
        assert_eq!(h.len(), 28);
    }
}
