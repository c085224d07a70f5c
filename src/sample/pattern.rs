//! ACL matching (`-m found|bool|int|ip|bin|str|sub|beg|end|dir|dom|reg|len`, `-i`)
//! and map files, on the same patterns.

use super::value::{Type, Value};
use regex::bytes::{Regex, RegexBuilder};
use std::net::IpAddr;

/// How a sample is compared with the patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The sample exists.
    Found,
    /// The sample is true (a non-zero integer).
    Bool,
    /// Integer ranges and comparisons.
    Int,
    /// Networks.
    Ip,
    /// Hex-encoded bytes.
    Bin,
    /// Exact string.
    Str,
    /// Substring.
    Sub,
    /// Prefix.
    Beg,
    /// Suffix.
    End,
    /// A `/`-delimited component.
    Dir,
    /// A `.`-delimited domain component.
    Dom,
    /// Regular expression.
    Reg,
    /// String length in integer ranges.
    Len,
}

impl Method {
    /// The method called `name` after `-m`.
    pub fn parse(name: &str) -> Option<Method> {
        Some(match name {
            "found" => Method::Found,
            "bool" => Method::Bool,
            "int" => Method::Int,
            "ip" => Method::Ip,
            "bin" => Method::Bin,
            "str" => Method::Str,
            "sub" => Method::Sub,
            "beg" => Method::Beg,
            "end" => Method::End,
            "dir" => Method::Dir,
            "dom" => Method::Dom,
            "reg" => Method::Reg,
            "len" => Method::Len,
            _ => return None,
        })
    }

    /// The method an acl uses when none is given, from the sample's type.
    pub fn default_for(ty: Type) -> Method {
        match ty {
            Type::Bool => Method::Bool,
            Type::Int => Method::Int,
            Type::Ip => Method::Ip,
            Type::Bin => Method::Bin,
            Type::Str | Type::Any => Method::Str,
        }
    }

    /// Whether patterns are needed (`found` and `bool` take none).
    pub fn takes_patterns(self) -> bool {
        !matches!(self, Method::Found | Method::Bool)
    }
}

/// A compiled set of patterns: a sample matches when any pattern does.
#[derive(Debug, Clone)]
pub struct Patterns {
    text: String,
    method: Method,
    icase: bool,
    strs: Vec<Vec<u8>>,
    ints: Vec<(i64, i64)>,
    nets: Vec<(IpAddr, u8)>,
    regs: Vec<Regex>,
}

/// Parses `a:b`, `:b`, `a:`, `N`, and `eq|ne|lt|le|gt|ge N` into inclusive ranges.
fn int_patterns(values: &[String]) -> Result<Vec<(i64, i64)>, String> {
    let mut out = Vec::new();
    let mut op: Option<&str> = None;
    let num = |s: &str| {
        s.parse::<i64>()
            .map_err(|_| format!("'{s}' is not a number nor a range"))
    };
    for v in values {
        if ["eq", "ne", "lt", "le", "gt", "ge"].contains(&v.as_str()) {
            op = Some(v.as_str());
            continue;
        }
        let (lo, hi) = match (op, v.split_once(':')) {
            (Some(o), _) => {
                let n = num(v)?;
                match o {
                    "eq" => (n, n),
                    "lt" => (i64::MIN, n.saturating_sub(1)),
                    "le" => (i64::MIN, n),
                    "gt" => (n.saturating_add(1), i64::MAX),
                    "ge" => (n, i64::MAX),
                    _ => {
                        // `ne N`: two ranges around N.
                        out.push((i64::MIN, n.saturating_sub(1)));
                        (n.saturating_add(1), i64::MAX)
                    }
                }
            }
            (None, Some((a, b))) => (
                if a.is_empty() { i64::MIN } else { num(a)? },
                if b.is_empty() { i64::MAX } else { num(b)? },
            ),
            (None, None) => {
                let n = num(v)?;
                (n, n)
            }
        };
        out.push((lo, hi));
    }
    Ok(out)
}

/// Inline integer patterns as one pattern each (`gt 10` is `11:`), as HAProxy stores
/// them in the acl's pattern reference.
pub fn int_texts(values: &[String]) -> Result<Vec<String>, String> {
    Ok(int_patterns(values)?
        .into_iter()
        .map(|(lo, hi)| match (lo, hi) {
            _ if lo == hi => lo.to_string(),
            (i64::MIN, i64::MAX) => ":".to_string(),
            (i64::MIN, h) => format!(":{h}"),
            (l, i64::MAX) => format!("{l}:"),
            (l, h) => format!("{l}:{h}"),
        })
        .collect())
}

/// Parses `ADDR`, `ADDR/LEN` or `ADDR/MASK`.
pub fn network(s: &str) -> Result<(IpAddr, u8), String> {
    let (a, m) = s.split_once('/').unwrap_or((s, ""));
    let ip: IpAddr = a
        .parse()
        .map_err(|_| format!("'{s}' is not a valid IPv4 or IPv6 address"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = if m.is_empty() {
        max
    } else if let Ok(n) = m.parse::<u8>() {
        n
    } else if let Ok(std::net::Ipv4Addr { .. }) = m.parse::<std::net::Ipv4Addr>() {
        let bits = u32::from(m.parse::<std::net::Ipv4Addr>().expect("parsed"));
        if bits.leading_ones() + bits.trailing_zeros() != 32 {
            return Err(format!("'{s}' has an invalid mask"));
        }
        bits.leading_ones() as u8
    } else {
        return Err(format!("'{s}' has an invalid mask"));
    };
    if len > max {
        return Err(format!("'{s}' has an invalid mask"));
    }
    Ok((ip, len))
}

/// True when `ip` is inside `net/len` (IPv4-mapped IPv6 addresses match IPv4 networks).
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

/// Whole-component match: `pat` occurs in `s` bounded by its ends or a delimiter.
fn component(s: &[u8], pat: &[u8], delims: &[u8]) -> bool {
    if pat.is_empty() || pat.len() > s.len() {
        return false;
    }
    (0..=s.len() - pat.len()).any(|start| {
        let end = start + pat.len();
        &s[start..end] == pat
            && (start == 0 || delims.contains(&s[start - 1]))
            && (end == s.len() || delims.contains(&s[end]))
    })
}

impl PartialEq for Patterns {
    fn eq(&self, o: &Self) -> bool {
        self.text == o.text
    }
}
impl Eq for Patterns {}

impl Patterns {
    /// Compiles `values` for `method`.
    pub fn new(method: Method, icase: bool, values: &[String]) -> Result<Patterns, String> {
        let mut p = Patterns {
            text: format!("{method:?} {icase} {}", values.join(" ")),
            method,
            icase,
            strs: vec![],
            ints: vec![],
            nets: vec![],
            regs: vec![],
        };
        match method {
            Method::Found | Method::Bool => {
                if let Some(v) = values.first() {
                    return Err(format!(
                        "matching method '{}' takes no pattern (got '{v}')",
                        if method == Method::Found {
                            "found"
                        } else {
                            "bool"
                        }
                    ));
                }
            }
            Method::Int | Method::Len => p.ints = int_patterns(values)?,
            Method::Ip => {
                p.nets = values
                    .iter()
                    .map(|v| network(v))
                    .collect::<Result<_, _>>()?
            }
            Method::Bin => {
                p.strs = values
                    .iter()
                    .map(|v| {
                        super::conv::unhex(v.as_bytes())
                            .ok_or_else(|| format!("'{v}' is not a valid hex string"))
                    })
                    .collect::<Result<_, _>>()?
            }
            Method::Reg => {
                p.regs = values
                    .iter()
                    .map(|v| {
                        RegexBuilder::new(v)
                            .case_insensitive(icase)
                            .build()
                            .map_err(|e| format!("regex '{v}' is invalid : {e}"))
                    })
                    .collect::<Result<_, _>>()?
            }
            _ => {
                p.strs = values
                    .iter()
                    .map(|v| {
                        if icase {
                            v.to_ascii_lowercase().into_bytes()
                        } else {
                            v.clone().into_bytes()
                        }
                    })
                    .collect()
            }
        }
        Ok(p)
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The prefix length of the first network (map_ip picks the longest).
    pub(super) fn first_net_len(&self) -> u8 {
        self.nets.first().map(|n| n.1).unwrap_or(0)
    }

    /// The first regular expression (map_regm substitutes its groups).
    pub(super) fn first_regex(&self) -> Option<&Regex> {
        self.regs.first()
    }

    /// Whether the sample matches one of the patterns.
    pub fn matches(&self, v: &Value<'_>) -> bool {
        match self.method {
            Method::Found => true,
            Method::Bool => v.to_bool().unwrap_or(false),
            Method::Int => v
                .to_int()
                .is_some_and(|n| self.ints.iter().any(|(lo, hi)| (*lo..=*hi).contains(&n))),
            Method::Len => {
                let n = v.to_bytes().len() as i64;
                self.ints.iter().any(|(lo, hi)| (*lo..=*hi).contains(&n))
            }
            Method::Ip => v
                .to_ip()
                .is_some_and(|ip| self.nets.iter().any(|(n, l)| in_net(ip, *n, *l))),
            Method::Bin => {
                let b = v.to_bytes();
                self.strs.iter().any(|p| p[..] == b[..])
            }
            Method::Reg => {
                let b = v.to_bytes();
                self.regs.iter().any(|r| r.is_match(&b))
            }
            m => {
                let raw = v.to_bytes();
                let lowered;
                let s: &[u8] = if self.icase {
                    lowered = raw.to_ascii_lowercase();
                    &lowered
                } else {
                    &raw
                };
                self.strs.iter().any(|p| str_match(m, s, p))
            }
        }
    }
}

fn str_match(m: Method, s: &[u8], p: &[u8]) -> bool {
    match m {
        Method::Str => s == p,
        Method::Beg => s.starts_with(p),
        Method::End => s.ends_with(p),
        Method::Sub => !p.is_empty() && s.windows(p.len()).any(|w| w == p),
        Method::Dir => component(s, p, b"/?"),
        Method::Dom => component(s, p, b"/?.:"),
        _ => false,
    }
}

/// Reads a pattern or map file: one entry per line with its line number, `#` comments
/// and blank lines skipped, leading and trailing blanks removed.
pub fn read_numbered(path: &str) -> Result<Vec<(u32, String)>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("failed to open pattern file <{path}> : {e}"))?;
    Ok(text
        .lines()
        .enumerate()
        .map(|(n, l)| (n as u32 + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .map(|(n, l)| (n, l.to_string()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pats(m: &str, icase: bool, v: &[&str]) -> Patterns {
        let v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
        Patterns::new(Method::parse(m).unwrap(), icase, &v).unwrap()
    }

    #[test]
    fn string_methods() {
        let s = |x: &'static str| Value::str(x);
        assert!(pats("str", true, &["Abc"]).matches(&s("aBC")));
        assert!(!pats("str", false, &["Abc"]).matches(&s("aBC")));
        assert!(pats("beg", false, &["/st"]).matches(&s("/static")));
        assert!(pats("end", false, &[".png"]).matches(&s("/a.png")));
        assert!(pats("sub", false, &["at"]).matches(&s("/static")));
        assert!(pats("dir", false, &["img"]).matches(&s("/a/img/b")));
        assert!(!pats("dir", false, &["img"]).matches(&s("/a/imgs/b")));
        assert!(pats("dom", false, &["example.org"]).matches(&s("www.example.org:80")));
        assert!(!pats("dom", false, &["example.org"]).matches(&s("notexample.org")));
        assert!(pats("reg", false, &["^/a+$"]).matches(&s("/aaa")));
        assert!(pats("reg", true, &["^x.reg.$"]).matches(&s("x-reg1")));
        assert!(pats("len", false, &["3:"]).matches(&s("abc")));
        assert!(pats("found", false, &[]).matches(&s("")));
    }

    #[test]
    fn ints_and_nets() {
        let p = pats("int", false, &["gt", "10"]);
        assert!(p.matches(&Value::Int(11)) && !p.matches(&Value::Int(10)));
        let p = pats("int", false, &["1:3", "7"]);
        assert!(
            p.matches(&Value::Int(2)) && p.matches(&Value::Int(7)) && !p.matches(&Value::Int(5))
        );
        let p = pats("ip", false, &["10.0.0.0/8", "192.168.0.0/255.255.0.0"]);
        assert!(p.matches(&Value::Ip("10.1.1.1".parse().unwrap())));
        assert!(p.matches(&Value::Ip("::ffff:192.168.3.3".parse().unwrap())));
        assert!(!p.matches(&Value::Ip("11.1.1.1".parse().unwrap())));
        assert!(Patterns::new(Method::Int, false, &["x".into()]).is_err());
    }
}
