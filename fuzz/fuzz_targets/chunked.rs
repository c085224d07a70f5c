//! Chunked request bodies (and, as a third variant, whole requests) through hyper's
//! HTTP/1 server, end to end, in memory.
//!
//! lbd has no chunked decoder of its own: hyper decodes client bodies, and lbd
//! re-encodes what it forwards. So this target serves one connection with
//! `hyper::server::conn::http1::Builder` (lbd's settings: `tune.bufsize` 16384,
//! `tune.http.maxhdr` 101, half-close, no keep-alive) over a `tokio::io::duplex` pipe, with a
//! service that runs lbd's `validate_head` and then reads the whole body.
//!
//! The first input byte picks the variant; the rest is
//! - 0: the body after `Transfer-Encoding: chunked`;
//! - 1: the body after `Content-Length: 5` and `Transfer-Encoding: chunked`;
//! - 2: the whole request, head included.
//!
//! Invariants checked for every input:
//! - nothing panics and the exchange ends (libFuzzer's timeout catches a hang);
//! - the answer, if any, is one of 200, 400, 413, 414, 431, 501 (after any `100
//!   Continue`); 200 means the body was read to its end;
//! - variant 2, for requests under 8000 bytes: lbd's model of the parser
//!   (`check_request_bytes`) agrees with hyper: a head it accepts reaches the service,
//!   a head it refuses gets exactly its status.

#![no_main]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use libfuzzer_sys::fuzz_target;
use std::convert::Infallible;
use std::sync::OnceLock;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const HEADS: [&[u8]; 2] = [
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
];

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
    })
}

fn answer(status: u16, stage: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::from_u16(status).expect("valid status");
    r.headers_mut()
        .insert("x-stage", hyper::header::HeaderValue::from_static(stage));
    r
}

async fn service(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (mut parts, body) = req.into_parts();
    if let Err(s) = lbd::frontend::http::validate_head(&mut parts) {
        return Ok(answer(s, "head"));
    }
    Ok(match body.collect().await {
        Ok(_) => answer(200, "body-ok"),
        Err(_) => answer(400, "body"),
    })
}

/// Serves one connection fed with `input`; returns every byte the server wrote.
async fn exchange(input: Vec<u8>) -> Vec<u8> {
    let (mut client, server) = tokio::io::duplex(64 * 1024);
    let mut b = hyper::server::conn::http1::Builder::new();
    b.max_buf_size(16384)
        .max_headers(101)
        .keep_alive(false)
        .half_close(true)
        .header_read_timeout(None);
    let conn = b.serve_connection(TokioIo::new(server), hyper::service::service_fn(service));
    let talk = async move {
        let _ = client.write_all(&input).await;
        let _ = client.shutdown().await;
        let mut out = Vec::new();
        let _ = client.read_to_end(&mut out).await;
        out
    };
    let (_, out) = tokio::join!(conn, talk);
    out
}

/// (status, x-stage) of the final response in `out`, if there is one.
fn final_response(mut out: &[u8]) -> Option<(u16, Option<String>)> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut resp = httparse::Response::new(&mut headers);
        let n = match resp.parse(out) {
            Ok(httparse::Status::Complete(n)) => n,
            _ => {
                assert!(
                    out.is_empty(),
                    "unparsable answer {:?}",
                    String::from_utf8_lossy(out)
                );
                return None;
            }
        };
        let code = resp.code.expect("complete");
        if code == 100 {
            out = &out[n..];
            continue;
        }
        let stage = resp
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("x-stage"))
            .map(|h| String::from_utf8_lossy(h.value).into_owned());
        return Some((code, stage));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&v, rest)) = data.split_first() else {
        return;
    };
    let variant = v % 3;
    let input = match variant {
        0 | 1 => [HEADS[variant as usize], rest].concat(),
        _ => rest.to_vec(),
    };
    let out = runtime().block_on(exchange(input));
    let got = final_response(&out);
    if let Some((code, stage)) = &got {
        assert!(
            matches!(code, 200 | 400 | 413 | 414 | 431 | 501),
            "status {code}"
        );
        if *code == 200 {
            assert_eq!(stage.as_deref(), Some("body-ok"));
        }
    }
    if variant == 2 && rest.len() < 8000 {
        match lbd::frontend::http::check_request_bytes(rest) {
            Ok(Some(_)) => {
                let stage = got.as_ref().and_then(|(_, s)| s.as_deref());
                assert!(
                    matches!(stage, Some("body-ok" | "body")),
                    "model accepts, hyper answered {got:?}"
                );
            }
            Err(s) => {
                if let Some((code, stage)) = &got {
                    assert_eq!(*code, s, "model says {s}, hyper answered {got:?}");
                    assert!(stage.as_deref().is_none_or(|s| s == "head"), "{got:?}");
                }
            }
            Ok(None) => {}
        }
    }
});
