//! The rule language's sample engine: arbitrary expression, log-format and acl text,
//! compiled and evaluated against an arbitrary request.
//!
//! The input (lossy UTF-8) is split on NUL bytes: an expression, a log-format string,
//! acl words (matching method first), then the request head (method and target on the
//! first line, `Name: value` header lines after).
//!
//! Invariants checked for every input:
//! - nothing panics: parsing, evaluation of every value, the converters' casts,
//!   pattern compilation and matching, log-format evaluation;
//! - evaluation is deterministic for fetches that do not read the clock or a random
//!   source: evaluating twice gives the same value;
//! - `each` stops at the first value its callback accepts, and finds one exactly when
//!   some value matches.

#![no_main]

use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use lbd::sample::{Env, Expr, Fmt, HttpReq, Method, Patterns, Vars};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let (expr, fmt, acl, head) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let mut lines = head.lines();
    let first = lines.next().unwrap_or("GET /");
    let (method, uri) = first.split_once(' ').unwrap_or((first, "/"));
    let mut headers = HeaderMap::new();
    for l in lines.take(50) {
        if let Some((n, v)) = l.split_once(':') {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(n.trim().as_bytes()),
                HeaderValue::from_str(v.trim()),
            ) {
                headers.append(n, v);
            }
        }
    }
    let mut vars = Vars::default();
    vars.set(lbd::sample::Scope::Txn, "a", lbd::sample::Value::str("x/y,z"));
    let env = Env {
        src: Some("10.1.2.3:4567".parse().unwrap()),
        dst: Some("[::1]:80".parse().unwrap()),
        req: Some(HttpReq {
            method,
            uri,
            version: "1.1",
            headers: &headers,
            body: Some(head.as_bytes()),
        }),
        vars: Some(&vars),
        ..Env::default()
    };
    // Map converters would read files named by the input: keep them out.
    let reads_files = |s: &str| s.contains("map") || s.contains("-f");
    if !reads_files(expr) {
        if let Ok(e) = Expr::parse(expr) {
            let a = e.eval(&env).map(|v| v.into_owned());
            let volatile = ["rand", "date", "uuid", "var(proc"].iter().any(|f| expr.contains(f));
            if !volatile {
                assert_eq!(a, e.eval(&env).map(|v| v.into_owned()), "{expr}");
            }
            let mut seen = 0;
            e.each(&env, &mut |_| {
                seen += 1;
                false
            });
            let mut calls = 0;
            let stopped = e.each(&env, &mut |_| {
                calls += 1;
                true
            });
            assert!(calls <= 1 && stopped == (calls == 1) && (seen > 0) == stopped);
            let words: Vec<String> = acl.split_whitespace().map(String::from).collect();
            if let Some(m) = words.first().and_then(|m| Method::parse(m)) {
                if let Ok(p) = Patterns::new(m, words.len() % 2 == 0, &words[1..]) {
                    e.each(&env, &mut |v| p.matches(&v));
                }
            }
        }
    }
    if !reads_files(fmt) {
        if let Ok(f) = Fmt::parse(fmt) {
            let _ = f.eval(&env);
        }
    }
});
