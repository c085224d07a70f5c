//! `url_param(NAME[,DELIM])` / `urlp`: a parameter of the request's query string.

use super::expr::{Arg, Emit, Env};
use super::value::Value;

/// Emits the value of each `NAME=` item of the query (every item without NAME), the
/// first one first, until the consumer has enough.
pub(super) fn url_param<'a>(a: &'a [Arg], env: &Env<'a>, e: Emit<'_, 'a>) {
    let Some((_, q)) = env.req.and_then(|r| r.uri.split_once('?')) else {
        return;
    };
    let name = a.first().map(Arg::text).unwrap_or("");
    let delim = a
        .get(1)
        .map(Arg::text)
        .and_then(|d| d.chars().next())
        .unwrap_or('&');
    let q = q.split('#').next().unwrap_or(q);
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
