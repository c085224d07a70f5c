//! PROXY protocol headers sent to servers (`send-proxy`, `send-proxy-v2`).

use std::net::SocketAddr;

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
