//! Head checks and framing: what a request head must satisfy beyond the HTTP parser
//! (Host, absolute-form targets, `Transfer-Encoding`/`Content-Length` rules), what a
//! response's framing must be, and the hop-by-hop headers removed in both directions.
//! Pure functions over heads; `check_request_bytes` runs them on raw bytes for tests
//! and fuzzing.

use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode, Version};

/// Hop-by-hop headers (RFC 9110 §7.6.1). `Trailer` is not one: it travels with the
/// message so that the trailers it announces can follow the last chunk.
const HOP_BY_HOP: [HeaderName; 6] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// `option http-restrict-req-hdr-names`: a header whose name holds a character outside
/// `[A-Za-z0-9-]` is kept, removed, or makes the request refused (`Err`).
pub(super) fn restrict_names(
    mode: crate::config::model::HdrNames,
    h: &mut HeaderMap,
) -> Result<(), ()> {
    use crate::config::model::HdrNames;
    let odd = |n: &HeaderName| {
        !n.as_str()
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    match mode {
        HdrNames::Preserve => Ok(()),
        HdrNames::Reject if h.keys().any(odd) => Err(()),
        HdrNames::Reject => Ok(()),
        HdrNames::Delete => {
            let names: Vec<HeaderName> = h.keys().filter(|n| odd(n)).cloned().collect();
            for n in names {
                h.remove(n);
            }
            Ok(())
        }
    }
}

/// Position of a hop-by-hop header name in `HOP_BY_HOP`.
fn hop_index(n: &HeaderName) -> Option<usize> {
    Some(match n.as_str() {
        "connection" => 0,
        "keep-alive" => 1,
        "proxy-connection" => 2,
        "te" => 3,
        "transfer-encoding" => 4,
        "upgrade" => 5,
        _ => return None,
    })
}

/// Removes hop-by-hop headers (RFC 9110 §7.6.1), including those named in
/// `Connection`. Returns whether the message asked for an upgrade.
///
/// One pass over the names finds which are present; most messages carry none or only
/// `Connection`, so nothing is looked up or removed for the others.
pub(super) fn strip_hop_by_hop(h: &mut HeaderMap, keep_upgrade: bool) -> bool {
    let mut present = 0u8;
    for k in h.keys() {
        if let Some(i) = hop_index(k) {
            present |= 1 << i;
        }
    }
    if present == 0 {
        return false;
    }
    let mut upgrade = false;
    let mut named: Vec<HeaderName> = Vec::new();
    for v in h.get_all(header::CONNECTION) {
        if let Ok(s) = v.to_str() {
            for tok in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                if tok.eq_ignore_ascii_case("upgrade") {
                    upgrade = true;
                } else if tok.eq_ignore_ascii_case("close")
                    || HOP_BY_HOP
                        .iter()
                        .any(|n| tok.eq_ignore_ascii_case(n.as_str()))
                {
                    // The usual tokens, without parsing them as header names: `close`
                    // names no header, hop-by-hop names are removed below.
                } else if h.contains_key(tok) {
                    // Looked up first: a name is only allocated for a header that is
                    // there. `HeaderName::from_bytes` lowercases.
                    if let Ok(n) = HeaderName::from_bytes(tok.as_bytes()) {
                        if hop_index(&n).is_none() {
                            named.push(n);
                        }
                    }
                }
            }
        }
    }
    upgrade &= present & (1 << 5) != 0;
    for n in named {
        h.remove(n);
    }
    let up = if upgrade && keep_upgrade {
        h.remove(header::UPGRADE)
    } else {
        None
    };
    for (i, n) in HOP_BY_HOP.iter().enumerate() {
        if present & (1 << i) != 0 {
            h.remove(n);
        }
    }
    if let Some(u) = up {
        h.insert(header::UPGRADE, u);
        h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    }
    upgrade
}

/// Whether the request's server may answer with trailers: the client accepts them
/// (`TE: trailers`) or the request is gRPC (`Content-Type: application/grpc...`, whose
/// servers require `TE: trailers`). `TE` itself is hop-by-hop; an HTTP/2 server is sent
/// `TE: trailers` when this holds.
pub(super) fn accepts_trailers(h: &HeaderMap) -> bool {
    h.get_all(header::TE).iter().any(|v| {
        v.to_str().is_ok_and(|s| {
            s.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("trailers"))
        })
    }) || is_grpc(h)
}

/// `Content-Type: application/grpc`, `application/grpc+proto`...
fn is_grpc(h: &HeaderMap) -> bool {
    h.get(header::CONTENT_TYPE).is_some_and(|v| {
        let v = v.as_bytes();
        v.len() >= 16
            && v[..16].eq_ignore_ascii_case(b"application/grpc")
            && matches!(v.get(16), None | Some(b'+' | b';'))
    })
}

/// The gRPC trailers HTTP/1 needs announced: a gRPC response that is not
/// "trailers-only" (no `grpc-status` in its head) and announces no `Trailer` gets
/// `Trailer: grpc-status, grpc-message, grpc-status-details-bin`, since an HTTP/1
/// chunked response only carries the trailer fields its head named.
pub(super) fn announce_grpc_trailers(h: &mut HeaderMap) {
    if is_grpc(h) && !h.contains_key(header::TRAILER) && !h.contains_key("grpc-status") {
        h.insert(
            header::TRAILER,
            HeaderValue::from_static("grpc-status, grpc-message, grpc-status-details-bin"),
        );
    }
}

/// A message body's length as its `Content-Length` gives it (what tracked
/// `bytes_in`/`bytes_out` counters count).
pub(super) fn body_len(h: &HeaderMap) -> u64 {
    h.get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(0)
}

/// Whether the request asks for a protocol upgrade (`Connection: upgrade` and
/// `Upgrade`).
pub(super) fn wants_upgrade(h: &HeaderMap) -> bool {
    h.contains_key(header::UPGRADE)
        && h.get_all(header::CONNECTION).iter().any(|v| {
            v.to_str().is_ok_and(|s| {
                s.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
            })
        })
}

/// Whether a request has no body to forward.
pub(super) fn body_is_empty(b: &Incoming, h: &HeaderMap) -> bool {
    use hyper::body::Body;
    b.is_end_stream()
        || (b.size_hint().exact() == Some(0) && !h.contains_key(header::TRANSFER_ENCODING))
}

/// Checks a request head beyond what the HTTP parser enforces: the framing rules of
/// [`check_request_framing`]; an HTTP/1.1 request needs exactly one `Host` (RFC 9112
/// §3.2); an absolute-form target routes on its authority, which replaces `Host`.
/// Returns the status to answer on failure.
pub fn validate_head(parts: &mut hyper::http::request::Parts) -> Result<(), u16> {
    check_request_framing(parts.version, &mut parts.headers)?;
    let hosts = parts.headers.get_all(header::HOST).iter().count();
    if let Some(auth) = parts.uri.authority() {
        if parts
            .uri
            .scheme_str()
            .is_some_and(|s| !s.eq_ignore_ascii_case("http") && !s.eq_ignore_ascii_case("https"))
            || auth.as_str().contains('@')
        {
            return Err(400);
        }
        let v = HeaderValue::from_str(auth.as_str()).map_err(|_| 400u16)?;
        parts.headers.insert(header::HOST, v);
        return Ok(());
    }
    match (parts.version, hosts) {
        (Version::HTTP_11, 1) | (Version::HTTP_10 | Version::HTTP_09 | Version::HTTP_2, 0 | 1) => {}
        _ => return Err(400),
    }
    if parts.headers.get(header::HOST).is_some_and(|h| {
        h.as_bytes()
            .iter()
            .any(|b| b.is_ascii_whitespace() || *b == b'/' || *b == b'@')
    }) {
        return Err(400);
    }
    Ok(())
}

/// Scheme-based normalization of an absolute target (RFC 3986 §6.2.3, as HAProxy
/// 2.5+): the scheme's default port (`http` 80, `https` 443) is dropped from the
/// authority, which `validate_head` then copies to `Host`. HTTP/2 requests carry
/// their `:authority` this way.
pub(super) fn normalize_scheme(uri: &mut hyper::Uri) {
    let (Some(scheme), Some(auth)) = (uri.scheme_str(), uri.authority()) else {
        return;
    };
    let default = match scheme {
        s if s.eq_ignore_ascii_case("http") => 80,
        s if s.eq_ignore_ascii_case("https") => 443,
        _ => return,
    };
    if auth.port_u16() != Some(default) {
        return;
    }
    let host = auth
        .as_str()
        .rsplit_once(':')
        .map_or(auth.as_str(), |(h, _)| h);
    let Ok(host) = hyper::http::uri::Authority::try_from(host) else {
        return;
    };
    let mut parts = uri.clone().into_parts();
    parts.authority = Some(host);
    if let Ok(u) = hyper::Uri::from_parts(parts) {
        *uri = u;
    }
}

/// Request framing (RFC 9112 §6.1–6.3), also enforced when the HTTP parser already did:
/// `Transfer-Encoding` only in HTTP/1.1 and only as exactly one `chunked` (its final
/// coding not `chunked`, or `chunked` twice: 400; another coding before it: 501, since
/// lbd forwards the body de-chunked and could not keep that coding); with it, any
/// `Content-Length` is removed. Without it, every `Content-Length` is `1*DIGIT`
/// (fitting 64 bits) and all are equal (400 otherwise); one copy is kept.
pub fn check_request_framing(version: Version, h: &mut HeaderMap) -> Result<(), u16> {
    if h.contains_key(header::TRANSFER_ENCODING) {
        if version != Version::HTTP_11 {
            return Err(400);
        }
        te_is_chunked(h)?;
        h.remove(header::CONTENT_LENGTH);
        return Ok(());
    }
    let mut len = None;
    for v in h.get_all(header::CONTENT_LENGTH) {
        let n = content_length(v.as_bytes()).ok_or(400u16)?;
        if len.is_some_and(|l| l != n) {
            return Err(400);
        }
        len = Some(n);
    }
    if let Some(n) = len {
        if h.get_all(header::CONTENT_LENGTH).iter().count() > 1 {
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
        }
    }
    Ok(())
}

/// A `Content-Length` value: `1*DIGIT` that fits in 64 bits (no sign, no spaces, no
/// list).
fn content_length(v: &[u8]) -> Option<u64> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter().try_fold(0u64, |n, d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// Whether the `Transfer-Encoding` fields (all lines, comma lists, empty elements
/// ignored) say exactly `chunked`. Err(400): the final coding is not `chunked` or it is
/// there twice; Err(501): another coding comes before it.
fn te_is_chunked(h: &HeaderMap) -> Result<(), u16> {
    let mut codings = 0usize;
    let mut chunked = 0usize;
    let mut last_chunked = false;
    for v in h.get_all(header::TRANSFER_ENCODING) {
        let s = v.to_str().map_err(|_| 400u16)?;
        for t in s.split(',').map(|t| t.trim_matches([' ', '\t'])) {
            if t.is_empty() {
                continue;
            }
            codings += 1;
            last_chunked = t.eq_ignore_ascii_case("chunked");
            chunked += usize::from(last_chunked);
        }
    }
    match (last_chunked, chunked, codings) {
        (true, 1, 1) => Ok(()),
        (true, 1, _) => Err(501),
        _ => Err(400),
    }
}

/// Checks a server's response framing beyond the HTTP parser (RFC 9112 §6.3), for a
/// response that has a body: a `Transfer-Encoding` other than exactly `chunked` is
/// refused (the parser would read a close-delimited body, and lbd would forward it
/// without its coding); with `chunked`, any `Content-Length` is removed so that the
/// client never sees both.
pub(super) fn check_response_framing(
    method: &Method,
    status: StatusCode,
    h: &mut HeaderMap,
) -> Result<(), BadFraming> {
    let bodyless = method == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    if bodyless || !h.contains_key(header::TRANSFER_ENCODING) {
        return Ok(());
    }
    te_is_chunked(h).map_err(|_| BadFraming)?;
    h.remove(header::CONTENT_LENGTH);
    Ok(())
}

/// A response whose `Transfer-Encoding` lbd cannot forward.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid Transfer-Encoding in the server's response")]
pub(super) struct BadFraming;

/// The longest request target the HTTP parser accepts (longer: 414).
const MAX_URI_LEN: usize = (u16::MAX - 1) as usize;

/// Runs on raw bytes the checks a request head meets in lbd, without a connection: the
/// `httparse` parse hyper's server uses (with the default `tune.bufsize` 16384 and
/// `tune.http.maxhdr` 101), the parser's own framing rules, then [`validate_head`].
/// `Ok(None)`: the head is not complete yet. Err: the status lbd answers. For tests and
/// fuzzing; the server itself runs hyper.
pub fn check_request_bytes(bytes: &[u8]) -> Result<Option<hyper::http::request::Parts>, u16> {
    const BUFSIZE: usize = 16384;
    const MAX_HEADERS: usize = 101;
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(bytes) {
        Ok(httparse::Status::Complete(n)) if n > BUFSIZE => return Err(431),
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) if bytes.len() >= BUFSIZE => return Err(431),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(431),
        Err(_) => return Err(400),
    }
    let (Some(m), Some(path), Some(v)) = (req.method, req.path, req.version) else {
        return Err(400);
    };
    if path.len() > MAX_URI_LEN {
        return Err(414);
    }
    let method = Method::from_bytes(m.as_bytes()).map_err(|_| 400u16)?;
    let uri: hyper::Uri = path.parse().map_err(|_| 400u16)?;
    let version = if v == 1 {
        Version::HTTP_11
    } else {
        Version::HTTP_10
    };
    // The parser's framing: `Transfer-Encoding` drops any `Content-Length` (before it:
    // removed; after it: skipped unread); differing lengths are refused.
    let mut map = HeaderMap::new();
    let (mut te, mut te_chunked, mut cl) = (false, false, None);
    for hd in req.headers.iter() {
        let name = HeaderName::from_bytes(hd.name.as_bytes()).map_err(|_| 400u16)?;
        let value = HeaderValue::from_bytes(hd.value).map_err(|_| 400u16)?;
        if name == header::TRANSFER_ENCODING {
            if version != Version::HTTP_11 {
                return Err(400);
            }
            te = true;
            if cl.take().is_some() {
                map.remove(header::CONTENT_LENGTH);
            }
            te_chunked = value
                .to_str()
                .ok()
                .and_then(|s| s.rsplit(',').next())
                .is_some_and(|c| c.trim().eq_ignore_ascii_case("chunked"));
        } else if name == header::CONTENT_LENGTH {
            if te {
                continue;
            }
            let n = content_length(value.as_bytes()).ok_or(400u16)?;
            match cl {
                Some(prev) if prev != n => return Err(400),
                Some(_) => continue,
                // The parser keeps the two top values as markers (chunked, close).
                None if n > u64::MAX - 2 => return Err(431),
                None => cl = Some(n),
            }
        }
        map.append(name, value);
    }
    if te && !te_chunked {
        return Err(400);
    }
    let mut b = Request::builder().method(method).uri(uri).version(version);
    if let Some(h) = b.headers_mut() {
        *h = map;
    }
    let mut parts = b.body(()).map_err(|_| 400u16)?.into_parts().0;
    validate_head(&mut parts)?;
    Ok(Some(parts))
}

#[cfg(test)]
mod tests {
    #[test]
    fn default_ports_are_dropped_by_scheme() {
        let norm = |s: &str| {
            let mut u: hyper::Uri = s.parse().unwrap();
            super::normalize_scheme(&mut u);
            u.to_string()
        };
        assert_eq!(norm("http://h:80/a?b"), "http://h/a?b");
        assert_eq!(norm("https://h:443/"), "https://h/");
        assert_eq!(norm("http://h:8080/"), "http://h:8080/");
        assert_eq!(norm("https://h:80/"), "https://h:80/");
        assert_eq!(norm("http://[::1]:80/"), "http://[::1]/");
        assert_eq!(norm("/x"), "/x");
    }

    use super::*;

    fn parts(raw: &str) -> hyper::http::request::Parts {
        let mut lines = raw.lines();
        let mut first = lines.next().unwrap().split(' ');
        let mut b = Request::builder()
            .method(first.next().unwrap())
            .uri(first.next().unwrap());
        b = b.version(if first.next() == Some("HTTP/1.0") {
            Version::HTTP_10
        } else {
            Version::HTTP_11
        });
        for l in lines {
            let (k, v) = l.split_once(':').unwrap();
            b = b.header(k.trim(), v.trim());
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn hop_by_hop_headers_and_those_connection_names_are_removed() {
        let h = |raw: &str| parts(&format!("GET / HTTP/1.1\n{raw}")).headers;
        let mut m = h(
            "Connection: Keep-Alive, X-Secret, close\nKeep-Alive: timeout=5\n\
                       X-Secret: 1\nX-Other: 2\nTE: trailers\nConnection: x-gone",
        );
        assert!(!strip_hop_by_hop(&mut m, true));
        assert_eq!(m.len(), 1, "{m:?}");
        assert_eq!(m["x-other"], "2");
        // `Trailer` is end to end.
        let mut m = h("TE: trailers\nTrailer: grpc-status\nTransfer-Encoding: chunked");
        assert!(!strip_hop_by_hop(&mut m, true));
        assert_eq!(m.len(), 1, "{m:?}");
        assert_eq!(m["trailer"], "grpc-status");
        let mut m = h("Connection: Upgrade\nUpgrade: websocket\nX-A: 1");
        assert!(strip_hop_by_hop(&mut m, true));
        assert_eq!(m["upgrade"], "websocket");
        assert_eq!(m["connection"], "upgrade");
        let mut m = h("Connection: Upgrade\nUpgrade: websocket\nX-A: 1");
        assert!(strip_hop_by_hop(&mut m, false));
        assert_eq!(m.len(), 1);
        let mut m = h("X-A: 1\nContent-Length: 3");
        assert!(!strip_hop_by_hop(&mut m, true));
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn trailers_accepted_and_grpc_trailers_announced() {
        let h = |raw: &str| parts(&format!("GET / HTTP/1.1\n{raw}")).headers;
        assert!(accepts_trailers(&h("TE: gzip, Trailers")));
        assert!(!accepts_trailers(&h("TE: gzip")));
        assert!(accepts_trailers(&h("Content-Type: application/grpc+proto")));
        assert!(!accepts_trailers(&h("Content-Type: application/grpcx")));
        let mut m = h("Content-Type: application/grpc");
        announce_grpc_trailers(&mut m);
        assert_eq!(
            m["trailer"],
            "grpc-status, grpc-message, grpc-status-details-bin"
        );
        // Trailers-only, already announced, or not gRPC: unchanged.
        for raw in [
            "Content-Type: application/grpc\ngrpc-status: 12",
            "Content-Type: application/grpc\nTrailer: x-a",
            "Content-Type: text/plain",
        ] {
            let mut m = h(raw);
            let before = m.clone();
            announce_grpc_trailers(&mut m);
            assert_eq!(m, before);
        }
    }

    #[test]
    fn host_rules() {
        assert_eq!(validate_head(&mut parts("GET / HTTP/1.1\nHost: a")), Ok(()));
        assert_eq!(validate_head(&mut parts("GET / HTTP/1.1")), Err(400));
        assert_eq!(
            validate_head(&mut parts("GET / HTTP/1.1\nHost: a\nHost: b")),
            Err(400)
        );
        assert_eq!(validate_head(&mut parts("GET / HTTP/1.0")), Ok(()));
        assert_eq!(
            validate_head(&mut parts("GET / HTTP/1.1\nHost: a/b")),
            Err(400)
        );
    }

    #[test]
    fn absolute_form_routes_on_its_authority() {
        let mut p = parts("GET http://api.example:8080/x HTTP/1.1\nHost: other");
        assert_eq!(validate_head(&mut p), Ok(()));
        assert_eq!(p.headers.get(header::HOST).unwrap(), "api.example:8080");
        assert_eq!(
            validate_head(&mut parts("GET ftp://x/y HTTP/1.1\nHost: x")),
            Err(400)
        );
    }

    /// The status lbd answers for a raw head (`Ok(200)`: accepted).
    fn check(raw: &str) -> Result<u16, u16> {
        check_request_bytes(raw.as_bytes()).map(|p| if p.is_some() { 200 } else { 0 })
    }

    #[test]
    fn request_framing() {
        let ok = |h: &str| check(&format!("POST / HTTP/1.1\r\nHost: a\r\n{h}\r\n"));
        assert_eq!(ok("Content-Length: 5\r\n"), Ok(200));
        assert_eq!(ok("Content-Length: 5\r\nContent-Length: 5\r\n"), Ok(200));
        for bad in [
            "+5",
            "-5",
            "0x10",
            "5 5",
            "5, 5",
            "",
            "99999999999999999999",
            "5a",
        ] {
            assert_eq!(
                ok(&format!("Content-Length: {bad}\r\n")),
                Err(400),
                "{bad:?}"
            );
        }
        assert_eq!(ok("Content-Length: 5\r\nContent-Length: 6\r\n"), Err(400));
        // Found by the `chunked` fuzz target: hyper refuses the two top values with 431.
        assert_eq!(ok("Content-Length: 18446744073709551613\r\n"), Ok(200));
        assert_eq!(ok("Content-Length: 18446744073709551614\r\n"), Err(431));
        assert_eq!(
            ok("Content-Length:000000000000000018446744073709551615\r\n"),
            Err(431)
        );
        assert_eq!(ok("Transfer-Encoding: chunked\r\n"), Ok(200));
        assert_eq!(ok("Transfer-Encoding: Chunked\r\n"), Ok(200));
        for bad in [
            "gzip",
            "xchunked",
            "chunked, gzip",
            "chunked;x",
            "",
            "chunked, chunked",
        ] {
            assert_eq!(
                ok(&format!("Transfer-Encoding: {bad}\r\n")),
                Err(400),
                "{bad:?}"
            );
        }
        assert_eq!(
            ok("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"),
            Err(400)
        );
        assert_eq!(ok("Transfer-Encoding: gzip, chunked\r\n"), Err(501));
        assert_eq!(ok("Transfer-Encoding: chun\x01ked\r\n"), Err(400));
        assert_eq!(
            check("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(400)
        );
        // CL and TE: Content-Length is dropped whichever comes first.
        for h in [
            "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
            "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        ] {
            let raw = format!("POST / HTTP/1.1\r\nHost: a\r\n{h}\r\n");
            let p = check_request_bytes(raw.as_bytes()).unwrap().unwrap();
            assert!(!p.headers.contains_key(header::CONTENT_LENGTH));
        }
    }

    #[test]
    fn request_syntax() {
        for bad in [
            "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nX(y): 1\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nX: a\nb\r\n\r\n",
            "GET / HTTP/2.0\r\nHost: a\r\n\r\n",
            "GET / HTTP/1.2\r\nHost: a\r\n\r\n",
            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            "GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n",
        ] {
            assert_eq!(check(bad), Err(400), "{bad:?}");
        }
        assert_eq!(check("GET / HTTP/1.1\r\nHost: a\r\n"), Ok(0));
        let long = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(20000));
        assert_eq!(check(&long), Err(431));
        let many: String = (0..102).map(|i| format!("X-{i}: 1\r\n")).collect();
        assert_eq!(check(&format!("GET / HTTP/1.1\r\n{many}\r\n")), Err(431));
    }

    #[test]
    fn response_framing() {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("3"));
        h.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        assert_eq!(
            check_response_framing(&Method::GET, StatusCode::OK, &mut h),
            Ok(())
        );
        assert!(!h.contains_key(header::CONTENT_LENGTH));
        for bad in [
            "garbage",
            "gzip, chunked",
            "chunked, chunked",
            "chunked, gzip",
        ] {
            h.insert(header::TRANSFER_ENCODING, HeaderValue::from_static(bad));
            assert_eq!(
                check_response_framing(&Method::GET, StatusCode::OK, &mut h),
                Err(BadFraming)
            );
            assert_eq!(
                check_response_framing(&Method::HEAD, StatusCode::OK, &mut h),
                Ok(())
            );
            assert_eq!(
                check_response_framing(&Method::GET, StatusCode::NOT_MODIFIED, &mut h),
                Ok(())
            );
        }
    }
}
