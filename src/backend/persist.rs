//! Persistence: keep a user on one server.
//!
//! Cookies (`cookie NAME insert|rewrite|prefix|(passive) ...` with `server ... cookie V`)
//! carry the server's value in the client, so every lbd with the same config routes the
//! same cookie to the same server without shared state. With `maxidle`/`maxlife` the
//! value is `V|LAST|FIRST`, both dates in base 32 seconds since the epoch; an expired
//! cookie is ignored. Stick tables (`stick on src`) are `crate::stick` tables storing
//! `server_id` and `server_key` (see `backend::Stick`).

use crate::config::model::{CookieCfg, CookieMode};
use hyper::header::{self, HeaderMap, HeaderValue};

/// Seconds since the epoch.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

const B32: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";

fn b32(mut n: u64) -> String {
    let mut v = Vec::new();
    loop {
        v.push(B32[(n % 32) as usize]);
        n /= 32;
        if n == 0 {
            break;
        }
    }
    v.reverse();
    String::from_utf8(v).unwrap_or_default()
}

fn unb32(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 13 {
        return None;
    }
    s.bytes().try_fold(0u64, |acc, c| {
        let d = B32.iter().position(|&x| x == c.to_ascii_lowercase())? as u64;
        acc.checked_mul(32)?.checked_add(d)
    })
}

/// A persistence cookie read from a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The server value it names.
    pub server: String,
    /// When it was first set (maxlife), if encoded.
    pub first: Option<u64>,
    /// The cookie is past `maxidle`/`maxlife`.
    pub expired: bool,
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn find<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k.trim() == name).then(|| v.trim())
        })
}

/// Decodes our cookie's value for `cfg` at time `now`.
pub fn decode(cfg: &CookieCfg, value: &str, now: u64) -> Option<Seen> {
    let raw = match cfg.mode {
        CookieMode::Prefix => value.split_once('~')?.0,
        _ => value,
    };
    let mut parts = raw.split('|');
    let server = parts.next().filter(|s| !s.is_empty())?.to_string();
    let last = parts.next().and_then(unb32);
    let first = parts.next().and_then(unb32);
    let mut expired = false;
    if let Some(idle) = cfg.maxidle {
        expired |= last.is_none_or(|l| l + idle.as_secs() < now || l > now + 86400);
    }
    if let Some(life) = cfg.maxlife {
        expired |= first.is_none_or(|f| f + life.as_secs() < now || f > now + 86400);
    }
    Some(Seen {
        server,
        first,
        expired,
    })
}

/// Rewrites the request's cookies before forwarding: `indirect` insert mode removes our
/// cookie; prefix mode strips `SRV~` from its value.
pub fn strip_request(cfg: &CookieCfg, headers: &mut HeaderMap) {
    let strip = (cfg.mode == CookieMode::Insert && cfg.indirect) || cfg.mode == CookieMode::Prefix;
    if !strip || find(headers, &cfg.name).is_none() {
        return;
    }
    let values: Vec<String> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .filter_map(|kv| {
                    let t = kv.trim();
                    match t.split_once('=') {
                        Some((k, val)) if k.trim() == cfg.name => match cfg.mode {
                            CookieMode::Prefix => Some(format!(
                                "{}={}",
                                k.trim(),
                                val.split_once('~').map_or(val, |(_, a)| a)
                            )),
                            _ => None,
                        },
                        _ if t.is_empty() => None,
                        _ => Some(t.to_string()),
                    }
                })
                .collect::<Vec<_>>()
                .join("; ")
        })
        .filter(|v| !v.is_empty())
        .collect();
    headers.remove(header::COOKIE);
    for v in values {
        if let Ok(h) = HeaderValue::from_str(&v) {
            headers.append(header::COOKIE, h);
        }
    }
}

/// The `Set-Cookie` lbd inserts for a server whose cookie value is `server`.
pub fn set_cookie(
    cfg: &CookieCfg,
    server: &str,
    now: u64,
    first: Option<u64>,
) -> Option<HeaderValue> {
    let mut v = format!("{}={server}", cfg.name);
    if cfg.maxidle.is_some() || cfg.maxlife.is_some() {
        v.push_str(&format!("|{}|{}", b32(now), b32(first.unwrap_or(now))));
    }
    v.push_str("; path=/");
    if let Some(d) = cfg.domains.first() {
        v.push_str(&format!("; domain={d}"));
    }
    if let Some(life) = cfg.maxlife.or(cfg.maxidle) {
        // A browser keeps it no longer than lbd would honour it.
        v.push_str(&format!("; Max-Age={}", life.as_secs()));
    }
    if cfg.httponly {
        v.push_str("; HttpOnly");
    }
    if cfg.secure {
        v.push_str("; Secure");
    }
    for a in &cfg.attrs {
        v.push_str("; ");
        v.push_str(a);
    }
    HeaderValue::from_str(&v).ok()
}

/// True when the response already sets our cookie.
pub fn response_sets(cfg: &CookieCfg, headers: &HeaderMap) -> bool {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split_once('=').is_some_and(|(k, _)| k.trim() == cfg.name))
}

/// Insert mode without `preserve`: removes the server's own `Set-Cookie: NAME=...`
/// (as HAProxy does), so the client never receives two values for our cookie.
pub fn remove_response_cookie(cfg: &CookieCfg, headers: &mut HeaderMap) {
    if !response_sets(cfg, headers) {
        return;
    }
    let keep: Vec<HeaderValue> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter(|v| {
            v.to_str()
                .ok()
                .and_then(|s| s.split_once('='))
                .is_none_or(|(k, _)| k.trim() != cfg.name)
        })
        .cloned()
        .collect();
    headers.remove(header::SET_COOKIE);
    for v in keep {
        headers.append(header::SET_COOKIE, v);
    }
}

/// Rewrite and prefix modes: changes the server's own `Set-Cookie: NAME=...`.
pub fn rewrite_response(cfg: &CookieCfg, headers: &mut HeaderMap, server: &str) {
    if !matches!(cfg.mode, CookieMode::Rewrite | CookieMode::Prefix) || !response_sets(cfg, headers)
    {
        return;
    }
    let all: Vec<HeaderValue> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .cloned()
        .collect();
    headers.remove(header::SET_COOKIE);
    for v in all {
        let new = v.to_str().ok().and_then(|s| {
            let (k, rest) = s.split_once('=')?;
            if k.trim() != cfg.name {
                return None;
            }
            let (val, attrs) = match rest.split_once(';') {
                Some((a, b)) => (a, format!(";{b}")),
                None => (rest, String::new()),
            };
            let nv = match cfg.mode {
                CookieMode::Prefix => format!("{}={server}~{}{attrs}", k.trim(), val.trim()),
                _ => format!("{}={server}{attrs}", k.trim()),
            };
            HeaderValue::from_str(&nv).ok()
        });
        headers.append(header::SET_COOKIE, new.unwrap_or(v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn cfg(mode: CookieMode) -> CookieCfg {
        CookieCfg {
            name: "SRV".into(),
            mode,
            indirect: false,
            nocache: false,
            postonly: false,
            preserve: false,
            httponly: false,
            secure: false,
            domains: vec![],
            maxidle: None,
            maxlife: None,
            attrs: vec![],
        }
    }

    fn hm(cookie: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, cookie.parse().unwrap());
        h
    }

    #[test]
    fn base32_round_trip() {
        for n in [0u64, 1, 31, 32, 1_795_212_519] {
            assert_eq!(unb32(&b32(n)), Some(n));
        }
        assert_eq!(unb32("zz"), None);
    }

    #[test]
    fn finds_the_cookie_among_others() {
        let h = hm("a=1; SRV=s2; b=2");
        assert_eq!(find(&h, "SRV"), Some("s2"));
        assert_eq!(find(&h, "SR"), None);
    }

    #[test]
    fn insert_cookie_attributes() {
        let mut c = cfg(CookieMode::Insert);
        c.httponly = true;
        c.secure = true;
        c.domains = vec![".example.com".into()];
        c.attrs = vec!["SameSite=Lax".into()];
        let v = set_cookie(&c, "s1", 100, None).unwrap();
        assert_eq!(
            v,
            "SRV=s1; path=/; domain=.example.com; HttpOnly; Secure; SameSite=Lax"
        );
    }

    #[test]
    fn dated_cookies_expire() {
        let mut c = cfg(CookieMode::Insert);
        c.maxidle = Some(Duration::from_secs(60));
        c.maxlife = Some(Duration::from_secs(3600));
        let v = set_cookie(&c, "s1", 1000, Some(900)).unwrap();
        let val = v
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .split_once('=')
            .unwrap()
            .1
            .to_string();
        let seen = decode(&c, &val, 1030).unwrap();
        assert_eq!(
            (seen.server.as_str(), seen.first, seen.expired),
            ("s1", Some(900), false)
        );
        assert!(decode(&c, &val, 1061).unwrap().expired, "idle too long");
        let fresh = set_cookie(&c, "s1", 4499, Some(900)).unwrap();
        let val = fresh
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .split_once('=')
            .unwrap()
            .1
            .to_string();
        assert!(decode(&c, &val, 4501).unwrap().expired, "lived too long");
        assert!(
            decode(&c, "s1", 1000).unwrap().expired,
            "undated cookie with maxidle"
        );
    }

    #[test]
    fn indirect_and_prefix_strip_the_request() {
        let mut c = cfg(CookieMode::Insert);
        c.indirect = true;
        let mut h = hm("a=1; SRV=s2; b=2");
        strip_request(&c, &mut h);
        assert_eq!(h.get(header::COOKIE).unwrap(), "a=1; b=2");
        let mut h = hm("SRV=s2");
        strip_request(&c, &mut h);
        assert!(h.get(header::COOKIE).is_none());
        let p = cfg(CookieMode::Prefix);
        let mut h = hm("SRV=s1~abc; x=y");
        assert_eq!(decode(&p, "s1~abc", 0).unwrap().server, "s1");
        strip_request(&p, &mut h);
        assert_eq!(h.get(header::COOKIE).unwrap(), "SRV=abc; x=y");
    }

    #[test]
    fn rewrite_and_prefix_responses() {
        let mut h = HeaderMap::new();
        h.append(header::SET_COOKIE, "SRV=app123; Path=/".parse().unwrap());
        h.append(header::SET_COOKIE, "other=1".parse().unwrap());
        rewrite_response(&cfg(CookieMode::Rewrite), &mut h, "s1");
        let all: Vec<_> = h
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        assert_eq!(all, ["SRV=s1; Path=/", "other=1"]);
        let mut h = HeaderMap::new();
        h.append(header::SET_COOKIE, "SRV=app123".parse().unwrap());
        rewrite_response(&cfg(CookieMode::Prefix), &mut h, "s1");
        assert_eq!(h.get(header::SET_COOKIE).unwrap(), "SRV=s1~app123");
    }

    #[test]
    fn insert_mode_removes_the_servers_own_cookie() {
        let mut h = HeaderMap::new();
        h.append(header::SET_COOKIE, "SRV=mine; Path=/".parse().unwrap());
        h.append(header::SET_COOKIE, "other=1".parse().unwrap());
        remove_response_cookie(&cfg(CookieMode::Insert), &mut h);
        let all: Vec<_> = h.get_all(header::SET_COOKIE).iter().collect();
        assert_eq!(all, ["other=1"]);
    }
}
