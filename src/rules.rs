//! Routing and HTTP rules, compiled once per runtime graph.
//!
//! Named acls become indexes into a matcher table, patterns are lower-cased ahead of
//! time for `-i`, header names and values of `http-request`/`http-response` rules are
//! parsed into `HeaderName`/`HeaderValue` once: evaluating a request allocates nothing.

use crate::config::model::{Acl, AclValue, Condition, Criterion, HttpAction, HttpRule, TermAcl};
use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use std::net::IpAddr;

/// What rules can look at in a request.
#[derive(Debug, Clone, Copy)]
pub struct ReqInfo<'a> {
    /// Method.
    pub method: &'a str,
    /// Path without the query string.
    pub path: &'a str,
    /// Request headers.
    pub headers: &'a HeaderMap,
    /// Client address (none for a unix socket client: `src` matches nothing).
    pub src: Option<IpAddr>,
}

/// One compiled acl declaration.
#[derive(Debug, Clone)]
pub struct Matcher {
    criterion: Criterion,
    header: Option<HeaderName>,
    ignore_case: bool,
    values: Vec<String>,
    nets: Vec<(IpAddr, u8)>,
}

/// A compiled condition: OR of AND-groups of (negate, OR of matchers).
#[derive(Debug, Clone, Default)]
pub struct Cond {
    unless: bool,
    any_of: Vec<Vec<(bool, Vec<usize>)>>,
}

/// A compiled `http-request`/`http-response` action.
#[derive(Debug, Clone)]
pub enum Action {
    /// Replace every occurrence.
    SetHeader(HeaderName, HeaderValue),
    /// Append one.
    AddHeader(HeaderName, HeaderValue),
    /// Remove every occurrence.
    DelHeader(HeaderName),
    /// Answer directly.
    Return {
        /// Status.
        status: u16,
        /// Content type.
        content_type: Option<HeaderValue>,
        /// Body.
        body: Bytes,
        /// Extra headers.
        headers: Vec<(HeaderName, HeaderValue)>,
    },
    /// Refuse with this status.
    Deny(u16),
    /// Serve Prometheus metrics.
    Prometheus,
    /// Answer with a redirect.
    Redirect(crate::config::model::Redirect),
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Action.
    pub action: Action,
    /// Condition (None: always).
    pub cond: Option<Cond>,
}

/// The compiled acls and rules of one proxy.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    matchers: Vec<Matcher>,
    names: Vec<String>,
    /// `http-request` rules.
    pub request: Vec<Rule>,
    /// `http-response` rules.
    pub response: Vec<Rule>,
}

fn compile_matcher(a: &Acl) -> Matcher {
    let header = match &a.criterion {
        Criterion::Hdr(h)
        | Criterion::HdrBeg(h)
        | Criterion::HdrEnd(h)
        | Criterion::HdrDom(h)
        | Criterion::HdrSub(h) => HeaderName::from_bytes(h.as_bytes()).ok(),
        _ => None,
    };
    let mut values = Vec::new();
    let mut nets = Vec::new();
    for v in &a.values {
        match v {
            AclValue::Str(s) => values.push(if a.ignore_case {
                s.to_ascii_lowercase()
            } else {
                s.clone()
            }),
            AclValue::Net(ip, len) => nets.push((*ip, *len)),
        }
    }
    Matcher {
        criterion: a.criterion.clone(),
        header,
        ignore_case: a.ignore_case,
        values,
        nets,
    }
}

impl RuleSet {
    /// Compiles a proxy's acls and rules.
    pub fn new(acls: &[Acl], request: &[HttpRule], response: &[HttpRule]) -> Self {
        let mut rs = RuleSet::default();
        for a in acls {
            rs.matchers.push(compile_matcher(a));
            rs.names.push(a.name.clone());
        }
        rs.request = request.iter().filter_map(|r| rs.rule(r)).collect();
        rs.response = response.iter().filter_map(|r| rs.rule(r)).collect();
        rs
    }

    fn rule(&mut self, r: &HttpRule) -> Option<Rule> {
        let hn = |n: &str| HeaderName::from_bytes(n.as_bytes()).ok();
        let hv = |v: &str| HeaderValue::from_str(v).ok();
        let action = match &r.action {
            HttpAction::SetHeader(n, v) => Action::SetHeader(hn(n)?, hv(v)?),
            HttpAction::AddHeader(n, v) => Action::AddHeader(hn(n)?, hv(v)?),
            HttpAction::DelHeader(n) => Action::DelHeader(hn(n)?),
            HttpAction::Deny(s) => Action::Deny(*s),
            HttpAction::UseServicePrometheus => Action::Prometheus,
            HttpAction::Redirect(r) => Action::Redirect(r.clone()),
            HttpAction::Return {
                status,
                content_type,
                body,
                headers,
            } => Action::Return {
                status: *status,
                content_type: content_type.as_deref().and_then(hv),
                body: Bytes::from(body.clone().unwrap_or_default()),
                headers: headers
                    .iter()
                    .filter_map(|(n, v)| Some((hn(n)?, hv(v)?)))
                    .collect(),
            },
        };
        let cond = r.cond.as_ref().map(|c| self.cond(c));
        Some(Rule { action, cond })
    }

    /// Compiles a condition against this proxy's acls.
    pub fn cond(&mut self, c: &Condition) -> Cond {
        let mut any_of = Vec::new();
        for group in &c.any_of {
            let mut g = Vec::new();
            for t in group {
                let idxs = match &t.acl {
                    TermAcl::Named(n) => self
                        .names
                        .iter()
                        .enumerate()
                        .filter(|(_, m)| *m == n)
                        .map(|(i, _)| i)
                        .collect(),
                    TermAcl::Anonymous(a) => {
                        self.matchers.push(compile_matcher(a));
                        self.names.push(String::new());
                        vec![self.matchers.len() - 1]
                    }
                };
                g.push((t.negate, idxs));
            }
            any_of.push(g);
        }
        Cond {
            unless: c.unless,
            any_of,
        }
    }

    /// Evaluates a compiled condition.
    pub fn eval(&self, c: &Cond, r: &ReqInfo) -> bool {
        let hit = c.any_of.iter().any(|group| {
            group
                .iter()
                .all(|(neg, idxs)| idxs.iter().any(|&i| self.matchers[i].matches(r)) != *neg)
        });
        hit != c.unless
    }

    /// Evaluates an optional condition (None is true).
    pub fn eval_opt(&self, c: &Option<Cond>, r: &ReqInfo) -> bool {
        c.as_ref().is_none_or(|c| self.eval(c, r))
    }
}

fn eq(a: &str, b: &str, ic: bool) -> bool {
    if ic {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

fn lower_if<'a>(s: &'a str, ic: bool, buf: &'a mut String) -> &'a str {
    if ic && s.bytes().any(|b| b.is_ascii_uppercase()) {
        buf.clear();
        buf.push_str(s);
        buf.make_ascii_lowercase();
        buf
    } else {
        s
    }
}

/// Whole-component match: `pat` occurs in `s` bounded by start/end or a delimiter.
fn component(s: &str, pat: &str, delims: &[u8]) -> bool {
    if pat.is_empty() {
        return false;
    }
    let sb = s.as_bytes();
    let mut from = 0;
    while let Some(p) = s[from..].find(pat) {
        let start = from + p;
        let end = start + pat.len();
        let before = start == 0 || delims.contains(&sb[start - 1]);
        let after = end == sb.len() || delims.contains(&sb[end]);
        if before && after {
            return true;
        }
        from = start + 1;
        if from >= s.len() {
            break;
        }
    }
    false
}

impl Matcher {
    fn str_match(&self, s: &str) -> bool {
        let ic = self.ignore_case;
        let mut buf = String::new();
        let v = lower_if(s, ic, &mut buf);
        self.values.iter().any(|p| match &self.criterion {
            Criterion::Hdr(_) | Criterion::Path => v == p,
            Criterion::Method => eq(s, p, ic),
            Criterion::HdrBeg(_) | Criterion::PathBeg => v.starts_with(p.as_str()),
            Criterion::HdrEnd(_) | Criterion::PathEnd => v.ends_with(p.as_str()),
            Criterion::HdrSub(_) | Criterion::PathSub => v.contains(p.as_str()),
            Criterion::HdrDom(_) => component(v, p, b"/?.:"),
            Criterion::PathDir => component(v, p, b"/?"),
            _ => false,
        })
    }

    fn matches(&self, r: &ReqInfo) -> bool {
        match &self.criterion {
            Criterion::AlwaysTrue => true,
            Criterion::AlwaysFalse | Criterion::SslFc => false,
            Criterion::Src => r
                .src
                .is_some_and(|ip| self.nets.iter().any(|(net, len)| in_net(ip, *net, *len))),
            Criterion::Method => self.str_match(r.method),
            Criterion::Path
            | Criterion::PathBeg
            | Criterion::PathEnd
            | Criterion::PathDir
            | Criterion::PathSub => self.str_match(r.path),
            _ => {
                let Some(h) = &self.header else { return false };
                r.headers.get_all(h).iter().any(|v| {
                    let Ok(v) = v.to_str() else { return false };
                    v.split(',').any(|item| self.str_match(item.trim()))
                })
            }
        }
    }
}

/// True when `ip` is inside `net/len` (IPv4-mapped IPv6 clients match IPv4 networks).
pub fn in_net(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if len == 0 {
                0
            } else {
                u32::MAX << (32 - len as u32)
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len as u32)
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_str;

    fn ruleset(acls: &str) -> (RuleSet, Vec<Cond>) {
        let cfg = format!(
            "defaults\n mode http\n timeout client 1s\n timeout connect 1s\n timeout server 1s\nfrontend f\n bind 127.0.0.1:1\n{acls}\nbackend b\n"
        );
        let loaded = parse_str("t.cfg", &cfg);
        let c = loaded
            .config
            .unwrap_or_else(|| panic!("{:?}", loaded.diags));
        let p = &c.proxies[0];
        let mut rs = RuleSet::new(&p.acls, &[], &[]);
        let conds = p.use_backends.iter().map(|u| rs.cond(&u.cond)).collect();
        (rs, conds)
    }

    fn req<'a>(method: &'a str, path: &'a str, headers: &'a HeaderMap, src: &str) -> ReqInfo<'a> {
        ReqInfo {
            method,
            path,
            headers,
            src: Some(src.parse().unwrap()),
        }
    }

    fn host(h: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert("host", h.parse().unwrap());
        m
    }

    #[test]
    fn host_and_path_criteria() {
        let (rs, c) = ruleset(
            " acl h hdr(host) -i api.example.com\n acl d hdr_dom(host) example.org\n acl p path_beg /static\n acl e path_end .png\n acl dir path_dir img\n use_backend b if h\n use_backend b if d\n use_backend b if p or e\n use_backend b if dir",
        );
        let h = host("API.Example.com");
        assert!(rs.eval(&c[0], &req("GET", "/", &h, "1.1.1.1")));
        assert!(!rs.eval(
            &c[0],
            &req("GET", "/", &host("api.example.com.evil"), "1.1.1.1")
        ));
        assert!(rs.eval(
            &c[1],
            &req("GET", "/", &host("www.example.org:8080"), "1.1.1.1")
        ));
        assert!(!rs.eval(&c[1], &req("GET", "/", &host("notexample.org"), "1.1.1.1")));
        let none = HeaderMap::new();
        assert!(rs.eval(&c[2], &req("GET", "/static/x", &none, "1.1.1.1")));
        assert!(rs.eval(&c[2], &req("GET", "/a/b.png", &none, "1.1.1.1")));
        assert!(!rs.eval(&c[2], &req("GET", "/a/b.jpg", &none, "1.1.1.1")));
        assert!(rs.eval(&c[3], &req("GET", "/a/img/b", &none, "1.1.1.1")));
        assert!(!rs.eval(&c[3], &req("GET", "/a/imgs/b", &none, "1.1.1.1")));
    }

    #[test]
    fn negation_unless_src_method_and_anonymous() {
        let (rs, c) = ruleset(
            " acl lan src 10.0.0.0/8 192.168.0.0/16\n acl post method POST\n use_backend b if lan !post\n use_backend b unless lan\n use_backend b if { path /x } || { method -i delete }",
        );
        let h = HeaderMap::new();
        assert!(rs.eval(&c[0], &req("GET", "/", &h, "10.1.2.3")));
        assert!(!rs.eval(&c[0], &req("POST", "/", &h, "10.1.2.3")));
        assert!(!rs.eval(&c[0], &req("GET", "/", &h, "11.1.2.3")));
        assert!(rs.eval(&c[0], &req("GET", "/", &h, "::ffff:192.168.1.1")));
        assert!(rs.eval(&c[1], &req("GET", "/", &h, "8.8.8.8")));
        assert!(!rs.eval(&c[1], &req("GET", "/", &h, "10.0.0.1")));
        assert!(rs.eval(&c[2], &req("GET", "/x", &h, "8.8.8.8")));
        assert!(rs.eval(&c[2], &req("DELETE", "/y", &h, "8.8.8.8")));
        assert!(!rs.eval(&c[2], &req("GET", "/y", &h, "8.8.8.8")));
    }

    #[test]
    fn repeated_acl_names_or_together() {
        let (rs, c) = ruleset(" acl s path /a\n acl s path /b\n use_backend b if s");
        let h = HeaderMap::new();
        assert!(rs.eval(&c[0], &req("GET", "/a", &h, "1.1.1.1")));
        assert!(rs.eval(&c[0], &req("GET", "/b", &h, "1.1.1.1")));
        assert!(!rs.eval(&c[0], &req("GET", "/c", &h, "1.1.1.1")));
    }

    #[test]
    fn networks() {
        assert!(in_net(
            "10.1.2.3".parse().unwrap(),
            "10.0.0.0".parse().unwrap(),
            8
        ));
        assert!(!in_net(
            "11.1.2.3".parse().unwrap(),
            "10.0.0.0".parse().unwrap(),
            8
        ));
        assert!(in_net(
            "2001:db8::1".parse().unwrap(),
            "2001:db8::".parse().unwrap(),
            32
        ));
        assert!(in_net(
            "1.2.3.4".parse().unwrap(),
            "0.0.0.0".parse().unwrap(),
            0
        ));
    }
}
