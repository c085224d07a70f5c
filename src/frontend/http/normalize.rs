//! `http-request normalize-uri`: HAProxy 2.6's URI normalizers on a request's path and
//! query (`uri_normalizer.c`).

use crate::config::model::Normalizer;

/// The normalized path and query (`None`: unchanged); `Err` for an invalid `%`
/// sequence under a `strict` normalizer.
pub(super) fn apply(n: Normalizer, pq: &str) -> Result<Option<String>, ()> {
    let out = match n {
        Normalizer::FragmentEncode => pq.replace('#', "%23"),
        Normalizer::FragmentStrip => pq.split('#').next().unwrap_or("").to_string(),
        Normalizer::PathMergeSlashes => on_path(pq, merge_slashes),
        Normalizer::PathStripDot => on_path(pq, |p| segments(p, false, false)),
        Normalizer::PathStripDotdot(full) => on_path(pq, |p| segments(p, true, full)),
        Normalizer::PercentDecodeUnreserved(strict) => percent(pq, strict, true)?,
        Normalizer::PercentToUppercase(strict) => percent(pq, strict, false)?,
        Normalizer::QuerySortByName => match pq.split_once('?') {
            Some((path, q)) if !q.is_empty() => {
                let mut params: Vec<&str> = q.split('&').collect();
                params.sort_by_key(|p| p.split('=').next().unwrap_or(""));
                format!("{path}?{}", params.join("&"))
            }
            _ => pq.to_string(),
        },
    };
    Ok((out != pq).then_some(out))
}

/// `f` on the path (before `?`), the query kept; `*` and other targets that are not
/// paths are left alone.
fn on_path(pq: &str, f: impl Fn(&str) -> String) -> String {
    if !pq.starts_with('/') {
        return pq.to_string();
    }
    match pq.find('?') {
        Some(i) => format!("{}{}", f(&pq[..i]), &pq[i..]),
        None => f(pq),
    }
}

fn merge_slashes(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if !(c == '/' && out.ends_with('/')) {
            out.push(c);
        }
    }
    out
}

/// `.` segments removed; with `dotdot`, `..` segments remove the one before them
/// (`full`: also those above the root, else they are kept). A removed last segment
/// leaves the path ending with `/`.
fn segments(path: &str, dotdot: bool, full: bool) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let segs: Vec<&str> = path[1..].split('/').collect();
    let mut dir = false;
    for (i, s) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        match *s {
            "." if !dotdot => dir = last,
            ".." if dotdot => {
                if kept.last().is_some_and(|k| *k != "..") {
                    kept.pop();
                } else if !full {
                    kept.push("..");
                }
                dir = last;
            }
            s => kept.push(s),
        }
    }
    let mut out = format!("/{}", kept.join("/"));
    if dir && !out.ends_with('/') {
        out.push('/');
    }
    out
}

/// `%XX` sequences: decoded when they encode an unreserved character (`decode`), else
/// their hex digits upper-cased. An invalid sequence is kept, or refused (`strict`).
fn percent(pq: &str, strict: bool, decode: bool) -> Result<String, ()> {
    let b = pq.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'%' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let hex = b
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit));
        let Some(hex) = hex else {
            if strict {
                return Err(());
            }
            out.push(b'%');
            i += 1;
            continue;
        };
        let v =
            u8::from_str_radix(std::str::from_utf8(hex).map_err(|_| ())?, 16).map_err(|_| ())?;
        if decode && (v.is_ascii_alphanumeric() || b"-._~".contains(&v)) {
            out.push(v);
        } else if decode {
            out.extend_from_slice(&b[i..i + 3]);
        } else {
            out.push(b'%');
            out.extend(hex.iter().map(u8::to_ascii_uppercase));
        }
        i += 3;
    }
    String::from_utf8(out).map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Normalizer::*;

    fn n(x: Normalizer, s: &str) -> String {
        apply(x, s).unwrap().unwrap_or_else(|| s.to_string())
    }

    #[test]
    fn paths_as_haproxy_normalizes_them() {
        for (i, o) in [
            ("/foo//bar", "/foo/bar"),
            ("///foo///bar///", "/foo/bar/"),
            ("///", "/"),
            ("//foo?bar=///", "/foo?bar=///"),
            ("*", "*"),
        ] {
            assert_eq!(n(PathMergeSlashes, i), o, "{i}");
        }
        for (i, o, full) in [
            ("/foo/..", "/", "/"),
            ("/foo/bar/../", "/foo/", "/foo/"),
            ("/foo/../bar", "/bar", "/bar"),
            ("/foo/../../bar/", "/../bar/", "/bar/"),
            ("/foo//../../bar/", "/bar/", "/bar/"),
            ("/foo/../?bar=/foo/../", "/?bar=/foo/../", "/?bar=/foo/../"),
        ] {
            assert_eq!(n(PathStripDotdot(false), i), o, "{i}");
            assert_eq!(n(PathStripDotdot(true), i), full, "{i} full");
        }
        for (i, o) in [
            ("/.", "/"),
            ("/./", "/"),
            ("/a/.", "/a/"),
            ("/a.", "/a."),
            ("/.a", "/.a"),
            ("/a/./a", "/a/a"),
            ("/a/../", "/a/../"),
            ("/?a=/./", "/?a=/./"),
        ] {
            assert_eq!(n(PathStripDot, i), o, "{i}");
        }
    }

    #[test]
    fn percent_sequences_and_queries() {
        assert_eq!(n(PercentToUppercase(false), "/%aa?a=%aa"), "/%AA?a=%AA");
        assert_eq!(n(PercentToUppercase(false), "/%zz?a=%zz"), "/%zz?a=%zz");
        assert_eq!(apply(PercentToUppercase(true), "/%zz"), Err(()));
        assert_eq!(n(PercentDecodeUnreserved(false), "/%61?%61=%61"), "/a?a=a");
        assert_eq!(
            n(PercentDecodeUnreserved(false), "/%3F?foo=bar"),
            "/%3F?foo=bar"
        );
        assert_eq!(n(PercentDecodeUnreserved(false), "/%%36%36"), "/%66");
        assert_eq!(apply(PercentDecodeUnreserved(true), "/%%36%36"), Err(()));
        assert_eq!(n(QuerySortByName, "/?c&b&a&z&x&y"), "/?a&b&c&x&y&z");
        assert_eq!(
            n(QuerySortByName, "/?a=5&b=3&a=1&a=2&b=4"),
            "/?a=5&a=1&a=2&b=3&b=4"
        );
        assert_eq!(n(QuerySortByName, "/?"), "/?");
        assert_eq!(n(FragmentEncode, "/#foo/#foo"), "/%23foo/%23foo");
        assert_eq!(n(FragmentStrip, "/#foo"), "/");
    }
}
