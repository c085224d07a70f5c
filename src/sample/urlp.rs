//! `url_param(NAME[,DELIM])` / `urlp`: a parameter of the request's query string.

use super::expr::{Arg, Emit, Env};
use super::value::Value;

/// `s` split at the first byte `b` (an ASCII byte): a plain byte scan, cheaper on
/// short URIs than the generic `str` searcher's set-up.
pub(super) fn split_at_byte(s: &str, b: u8) -> Option<(&str, &str)> {
    let i = s.bytes().position(|c| c == b)?;
    Some((&s[..i], &s[i + 1..]))
}

/// `s` up to the first byte `b` (all of it without one).
pub(super) fn before_byte(s: &str, b: u8) -> &str {
    split_at_byte(s, b).map_or(s, |(h, _)| h)
}

/// Emits the value of each `NAME=` item of the query (every item without NAME), the
/// first one first, until the consumer has enough.
pub(super) fn url_param<'a>(a: &'a [Arg], env: &Env<'a>, e: Emit<'_, 'a>) {
    let Some((_, q)) = env.req.and_then(|r| split_at_byte(r.uri, b'?')) else {
        return;
    };
    let name = a.first().map(Arg::text).unwrap_or("");
    let delim = a
        .get(1)
        .map(Arg::text)
        .and_then(|d| d.chars().next())
        .unwrap_or('&');
    let q = before_byte(q, b'#');
    if !delim.is_ascii() {
        q.split(delim).any(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (name.is_empty() || k == name) && e(Value::str(v))
        });
        return;
    }
    // The usual case, an ASCII delimiter: a plain byte scan (queries are short, and
    // the generic `str` searcher costs more to set up than to run here).
    let (d, mut rest) = (delim as u8, q);
    loop {
        let (kv, more) = match rest.bytes().position(|b| b == d) {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        let (k, v) = match kv.bytes().position(|b| b == b'=') {
            Some(i) => (&kv[..i], &kv[i + 1..]),
            None => (kv, ""),
        };
        if (name.is_empty() || k == name) && e(Value::str(v)) {
            return;
        }
        match more {
            Some(m) => rest = m,
            None => return,
        }
    }
}
