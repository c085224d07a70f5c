//! A microbenchmark of the request path's rule evaluation: the first frontend's
//! `http-request` rules (and content rules) applied to one request head, as
//! `request.rs` applies them, without sockets. `cargo bench --bench rules` reports it;
//! the unit test below only checks that the rules ran.

use super::actions::{self, Ctx, Msg};
use super::conn::ConnCtx;
use crate::graph::{Graph, StatsView};
use crate::log::Client;
use crate::sample::conn::Addrs;
use crate::sample::Vars;
use hyper::http::request;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// What one measurement found.
#[derive(Debug)]
pub struct RulesRun {
    /// Time per request: the rules, with the per-request copy of the head subtracted.
    pub per_request: Duration,
    /// Time per request of that copy alone (what the rules' time excludes).
    pub copy: Duration,
    /// The request head after one pass of the rules (to check what they did).
    pub head: request::Parts,
    /// Whether a rule answered the request itself (deny, return, redirect...).
    pub answered: bool,
}

/// Parses `config`, builds its graph, and applies the first frontend's request rules
/// to `head` (a request line and headers, CRLF-terminated) `iterations` times.
pub fn request_rules(config: &str, head: &[u8], iterations: u32) -> Result<RulesRun, String> {
    let loaded = crate::config::parse_str("bench.cfg", config);
    let cfg = loaded.config.ok_or_else(|| {
        let msgs: Vec<String> = loaded.diags.iter().map(|d| d.msg.clone()).collect();
        msgs.join("\n")
    })?;
    let graph = std::sync::Arc::new(Graph::build(cfg, None));
    let fe = graph.frontends.first().ok_or("no frontend")?.clone();
    let parts = parse_head(head)?;
    let peer = Client::Inet("192.0.2.10:40000".parse::<SocketAddr>().expect("addr"));
    let local: Option<SocketAddr> = Some("192.0.2.1:80".parse().expect("addr"));
    let conn = ConnCtx::detached(graph.clone(), 0, peer, local);
    let addrs = Addrs {
        src: peer.inet(),
        dst: local,
    };
    let sv = StatsView {
        graph: &graph,
        be: None,
    };
    let one = |p: &mut request::Parts| {
        let ctx = Ctx::new(&conn, addrs, &graph, &fe, &sv);
        let mut vars = Vars::default();
        if actions::content_rules(&fe.rules, &ctx, &mut vars, p).is_some() {
            return true;
        }
        actions::apply(&fe.rules, &fe.rules.request, &ctx, &mut vars, Msg::Req(p)).is_some()
    };
    let mut first = copy_parts(&parts);
    let answered = one(&mut first);
    let n = iterations.max(1);

    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(copy_parts(std::hint::black_box(&parts)));
    }
    let copy = t.elapsed() / n;

    let t = Instant::now();
    for _ in 0..n {
        let mut p = copy_parts(std::hint::black_box(&parts));
        std::hint::black_box(one(&mut p));
    }
    let total = t.elapsed() / n;
    Ok(RulesRun {
        per_request: total.saturating_sub(copy),
        copy,
        head: first,
        answered,
    })
}

fn parse_head(head: &[u8]) -> Result<request::Parts, String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut r = httparse::Request::new(&mut headers);
    match r.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err("the request head is incomplete or invalid".into()),
    }
    let mut b = hyper::Request::builder()
        .method(r.method.unwrap_or("GET"))
        .uri(r.path.unwrap_or("/"));
    for h in r.headers.iter() {
        b = b.header(h.name, h.value);
    }
    Ok(b.body(()).map_err(|e| e.to_string())?.into_parts().0)
}

fn copy_parts(p: &request::Parts) -> request::Parts {
    let mut b = hyper::Request::builder()
        .method(p.method.clone())
        .uri(p.uri.clone())
        .version(p.version);
    // A map with the capacity hyper's parser gives it (`reserve` of the header count),
    // not a clone's exact fit, so inserting rules pay what they pay in the proxy.
    if let Some(h) = b.headers_mut() {
        h.reserve(p.headers.len());
        for (n, v) in &p.headers {
            h.append(n.clone(), v.clone());
        }
    }
    b.body(()).expect("copy").into_parts().0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_run_on_the_head() {
        let cfg = "frontend fe\n    mode http\n    bind 127.0.0.1:8080\n    \
                   http-request set-header X-A %[req.hdr(host),lower]\n    \
                   http-request deny if { path_beg /admin }\n    \
                   default_backend be\nbackend be\n    mode http\n    server s1 127.0.0.1:1\n";
        let r = request_rules(cfg, b"GET /x HTTP/1.1\r\nHost: WWW.Example\r\n\r\n", 3).unwrap();
        assert!(!r.answered);
        assert_eq!(r.head.headers["x-a"], "www.example");
        let r = request_rules(cfg, b"GET /admin HTTP/1.1\r\nHost: a\r\n\r\n", 3).unwrap();
        assert!(r.answered);
        assert!(request_rules("frontend fe\n    bogus\n", b"GET / HTTP/1.1\r\n\r\n", 1).is_err());
    }
}
