//! Feeds arbitrary bytes to `lbd::frontend::proxy_recv::parse`, the PROXY protocol
//! header parser behind `bind ... accept-proxy` and `expect-proxy layer4`.
//!
//! Invariants checked for every input:
//! - nothing panics;
//! - a decision is final: more bytes after the input never change a complete header
//!   nor a refusal (the header is self-delimiting), and a header parses the same from
//!   exactly its own bytes;
//! - "incomplete" asks for more bytes than there are, never more than the limit, and
//!   every shorter prefix is incomplete too;
//! - a v1 header starts with `PROXY ` and ends with CRLF; a v2 one starts with the
//!   signature and is as long as its length field says;
//! - addresses lbd's own sender (`backend::proxy_proto`) writes for a parsed header
//!   parse back to the same addresses.

#![no_main]

use lbd::backend::proxy_proto;
use lbd::frontend::proxy_recv::{parse, Parsed};
use libfuzzer_sys::fuzz_target;
use std::net::SocketAddr;

const LIMIT: usize = 16384;

fn canon(a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V6(v) => match v.ip().to_ipv4_mapped() {
            Some(ip) => SocketAddr::new(ip.into(), v.port()),
            None => a,
        },
        _ => a,
    }
}

fuzz_target!(|data: &[u8]| {
    let got = parse(data, LIMIT);
    let mut longer = data.to_vec();
    longer.extend_from_slice(b"\r\nGET / HTTP/1.1\r\n\r\n");
    match &got {
        Ok(Parsed::Done(h, n)) => {
            let n = *n;
            assert!(n <= data.len() && n >= 15, "{n}");
            assert_eq!(parse(&data[..n], LIMIT), got);
            assert_eq!(parse(&longer, LIMIT), got);
            match h.version {
                1 => {
                    assert!(data.starts_with(b"PROXY "));
                    assert_eq!(&data[n - 2..n], b"\r\n");
                    assert!(h.tlvs.is_empty());
                }
                2 => {
                    assert_eq!(n, 16 + u16::from_be_bytes([data[14], data[15]]) as usize);
                }
                v => panic!("version {v}"),
            }
            if let Some((src, dst)) = h.addrs {
                assert_eq!(src.is_ipv4(), dst.is_ipv4());
                let back = if h.version == 1 {
                    proxy_proto::v1(src, dst)
                } else {
                    proxy_proto::v2(src, dst)
                };
                match parse(&back, LIMIT) {
                    Ok(Parsed::Done(b, len)) => {
                        assert_eq!(len, back.len());
                        // The sender writes IPv4-mapped addresses as IPv4.
                        let canon = |a: Option<(SocketAddr, SocketAddr)>| {
                            a.map(|(s, d)| (canon(s), canon(d)))
                        };
                        assert_eq!(canon(b.addrs), canon(h.addrs));
                    }
                    x => panic!("lbd's own header {back:?} parsed as {x:?}"),
                }
            }
        }
        Ok(Parsed::Incomplete(need)) => {
            assert!(*need > data.len() && *need <= LIMIT, "{need}");
            if let Some((_, head)) = data.split_last() {
                assert!(matches!(parse(head, LIMIT), Ok(Parsed::Incomplete(_))));
            }
        }
        Err(_) => assert_eq!(parse(&longer, LIMIT), got),
    }
});
