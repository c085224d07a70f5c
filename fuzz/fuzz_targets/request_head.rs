//! Feeds arbitrary bytes to `lbd::frontend::http::check_request_bytes`: the `httparse`
//! parse hyper's server runs, the parser's framing rules, then lbd's `validate_head`.
//!
//! Invariants checked for every input:
//! - nothing panics;
//! - a refusal is one of 400, 414, 431, 501; an incomplete head is shorter than
//!   `tune.bufsize`;
//! - an accepted head has unambiguous framing: never both `Transfer-Encoding` and
//!   `Content-Length`; `Transfer-Encoding` only in HTTP/1.1 and only as `chunked`;
//!   every `Content-Length` is digits and there is one; HTTP/1.1 has exactly one
//!   `Host`, and a Host never holds whitespace, `/` or `@`;
//! - `validate_head` is idempotent on an accepted head;
//! - every field name and value `httparse` accepts converts to the `http` types (hyper
//!   would panic in a debug build otherwise).

#![no_main]

use hyper::header::{self, HeaderName, HeaderValue};
use hyper::Version;
use lbd::frontend::http::{check_request_bytes, validate_head};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut headers = [httparse::EMPTY_HEADER; 101];
    let mut req = httparse::Request::new(&mut headers);
    if let Ok(httparse::Status::Complete(_)) = req.parse(data) {
        for h in req.headers.iter() {
            assert!(HeaderName::from_bytes(h.name.as_bytes()).is_ok(), "{h:?}");
            assert!(HeaderValue::from_bytes(h.value).is_ok(), "{h:?}");
        }
    }

    match check_request_bytes(data) {
        Err(s) => assert!(matches!(s, 400 | 414 | 431 | 501), "status {s}"),
        Ok(None) => assert!(data.len() < 16384),
        Ok(Some(mut parts)) => {
            let h = &parts.headers;
            let te: Vec<_> = h.get_all(header::TRANSFER_ENCODING).iter().collect();
            let cl: Vec<_> = h.get_all(header::CONTENT_LENGTH).iter().collect();
            assert!(te.is_empty() || cl.is_empty(), "both TE and CL: {h:?}");
            if !te.is_empty() {
                assert_eq!(parts.version, Version::HTTP_11);
                let codings: Vec<String> = te
                    .iter()
                    .flat_map(|v| v.to_str().unwrap().split(','))
                    .map(|t| t.trim_matches([' ', '\t']).to_ascii_lowercase())
                    .filter(|t| !t.is_empty())
                    .collect();
                assert_eq!(codings, ["chunked"], "{te:?}");
            }
            assert!(cl.len() <= 1, "{cl:?}");
            for v in &cl {
                assert!(!v.is_empty() && v.as_bytes().iter().all(u8::is_ascii_digit));
            }
            let hosts: Vec<_> = h.get_all(header::HOST).iter().collect();
            if parts.version == Version::HTTP_11 {
                assert_eq!(hosts.len(), 1, "{h:?}");
            }
            for v in hosts {
                if parts.uri.authority().is_none() {
                    assert!(!v
                        .as_bytes()
                        .iter()
                        .any(|b| b.is_ascii_whitespace() || *b == b'/' || *b == b'@'));
                }
            }
            let before = parts.headers.clone();
            assert_eq!(validate_head(&mut parts), Ok(()));
            assert_eq!(parts.headers, before);
        }
    }
});
