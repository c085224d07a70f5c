//! The converters: one table entry per converter (name, arguments, input and output
//! types) plus its function.

use super::expr::{Arg, ArgT, Env};
use super::value::{Type, Value};
use super::{digest, hash};
use base64::Engine as _;
use std::borrow::Cow;
use std::net::IpAddr;

/// A converter function.
pub type ConvFn = for<'a> fn(&'a [Arg], Value<'a>, &Env<'a>) -> Option<Value<'a>>;

/// Checks and completes the arguments at load time (loads a map, compiles a regex).
pub type CheckFn = fn(&str, &mut [Arg]) -> Result<(), String>;

/// One converter of the table.
#[derive(Debug)]
pub struct ConvDef {
    /// Its name.
    pub name: &'static str,
    /// Its arguments' kinds.
    pub args: &'static [ArgT],
    /// How many are mandatory.
    pub min: usize,
    /// The type its input is cast to.
    pub input: Type,
    /// The type it gives (`Any`: the input's).
    pub out: Type,
    /// The function.
    pub f: ConvFn,
    /// The load-time check.
    pub check: Option<CheckFn>,
}

const fn c(name: &'static str, input: Type, out: Type, f: ConvFn) -> ConvDef {
    ConvDef {
        name,
        args: &[],
        min: 0,
        input,
        out,
        f,
        check: None,
    }
}

pub(super) const fn ca(
    name: &'static str,
    args: &'static [ArgT],
    min: usize,
    input: Type,
    out: Type,
    f: ConvFn,
) -> ConvDef {
    ConvDef {
        name,
        args,
        min,
        input,
        out,
        f,
        check: None,
    }
}

pub(super) const fn checked(mut d: ConvDef, check: CheckFn) -> ConvDef {
    d.check = Some(check);
    d
}

use ArgT::{Int as I, IntOrVar as IV, Str as S, StrOrVar as SV, Var as V};
use Type::{Any, Bin, Bool, Int, Ip, Str};

/// A map converter: how keys match (`map_beg`), the value type (`map_str_int`).
macro_rules! map_conv {
    ($name:literal, $out:expr) => {
        checked(
            ca($name, &[ArgT::MapFile, S], 1, Type::Any, $out, map_lookup),
            super::map::load_map_arg,
        )
    };
}

/// Every converter lbd evaluates.
pub static CONVS: &[ConvDef] = &[
    c("lower", Str, Str, |_, v, _| {
        Some(Value::Str(Cow::Owned(v.into_bytes().to_ascii_lowercase())))
    }),
    c("upper", Str, Str, |_, v, _| {
        Some(Value::Str(Cow::Owned(v.into_bytes().to_ascii_uppercase())))
    }),
    c("length", Str, Int, |_, v, _| {
        Some(Value::Int(v.into_bytes().len() as i64))
    }),
    ca("field", &[I, S, I], 2, Str, Str, |a, v, _| {
        fields(a, v, false)
    }),
    ca("word", &[I, S, I], 2, Str, Str, |a, v, _| {
        fields(a, v, true)
    }),
    checked(
        ca("regsub", &[ArgT::Str, S, S], 2, Str, Str, regsub),
        check_regsub,
    ),
    ca("ltrim", &[S], 1, Str, Str, |a, v, _| {
        let set = a[0].text().as_bytes();
        Some(Value::Str(trim_cow(v.into_bytes(), set, true)))
    }),
    ca("rtrim", &[S], 1, Str, Str, |a, v, _| {
        let set = a[0].text().as_bytes();
        Some(Value::Str(trim_cow(v.into_bytes(), set, false)))
    }),
    c("cut_crlf", Str, Str, |_, v, _| {
        let b = v.into_bytes();
        let end = b
            .iter()
            .position(|&c| c == b'\r' || c == b'\n')
            .unwrap_or(b.len());
        Some(Value::Str(match b {
            Cow::Borrowed(s) => Cow::Borrowed(&s[..end]),
            Cow::Owned(mut s) => {
                s.truncate(end);
                Cow::Owned(s)
            }
        }))
    }),
    // arithmetic
    ca("add", &[IV], 1, Int, Int, |a, v, e| {
        Some(Value::Int(int(&v)?.wrapping_add(iarg(&a[0], e)?)))
    }),
    ca("sub", &[IV], 1, Int, Int, |a, v, e| {
        Some(Value::Int(int(&v)?.wrapping_sub(iarg(&a[0], e)?)))
    }),
    ca("mul", &[IV], 1, Int, Int, |a, v, e| {
        Some(Value::Int(int(&v)?.wrapping_mul(iarg(&a[0], e)?)))
    }),
    ca("div", &[IV], 1, Int, Int, |a, v, e| {
        let d = iarg(&a[0], e)?;
        Some(Value::Int(if d == 0 {
            i64::MAX
        } else {
            int(&v)?.wrapping_div(d)
        }))
    }),
    ca("mod", &[IV], 1, Int, Int, |a, v, e| {
        let d = iarg(&a[0], e)?;
        Some(Value::Int(if d == 0 {
            0
        } else {
            int(&v)?.wrapping_rem(d)
        }))
    }),
    ca("and", &[IV], 1, Int, Int, |a, v, e| {
        Some(Value::Int(int(&v)? & iarg(&a[0], e)?))
    }),
    ca("or", &[IV], 1, Int, Int, |a, v, e| {
        Some(Value::Int(int(&v)? | iarg(&a[0], e)?))
    }),
    ca("xor", &[IV], 1, Int, Int, |a, v, e| {
        Some(Value::Int(int(&v)? ^ iarg(&a[0], e)?))
    }),
    c("neg", Int, Int, |_, v, _| {
        Some(Value::Int(int(&v)?.wrapping_neg()))
    }),
    c("cpl", Int, Int, |_, v, _| Some(Value::Int(!int(&v)?))),
    c("not", Int, Bool, |_, v, _| Some(Value::Bool(int(&v)? == 0))),
    c("bool", Int, Bool, |_, v, _| {
        Some(Value::Bool(int(&v)? != 0))
    }),
    c("odd", Int, Bool, |_, v, _| {
        Some(Value::Bool(int(&v)? & 1 == 1))
    }),
    c("even", Int, Bool, |_, v, _| {
        Some(Value::Bool(int(&v)? & 1 == 0))
    }),
    ca("iif", &[S, S], 2, Bool, Str, |a, v, _| {
        let t = matches!(v, Value::Bool(true));
        Some(Value::str(a[if t { 0 } else { 1 }].text()))
    }),
    // encodings
    ca("json", &[S], 0, Str, Str, json),
    checked(
        ca("json_query", &[S, S], 1, Str, Any, super::json::json_query),
        super::json::check,
    ),
    ca("url_enc", &[S], 0, Str, Str, |_, v, _| {
        let b = v.into_bytes();
        let mut out = Vec::with_capacity(b.len());
        for &ch in b.iter() {
            if ch.is_ascii_alphanumeric() || b"-._~".contains(&ch) {
                out.push(ch);
            } else {
                out.extend_from_slice(format!("%{ch:02X}").as_bytes());
            }
        }
        Some(Value::Str(Cow::Owned(out)))
    }),
    ca("url_dec", &[I], 0, Str, Str, |a, v, _| {
        let in_form = a.first().and_then(Arg::int).unwrap_or(0) != 0;
        url_dec(&v.into_bytes(), in_form).map(|d| Value::Str(Cow::Owned(d)))
    }),
    c("base64", Bin, Str, |_, v, _| {
        Some(Value::string(b64().encode(v.into_bin())))
    }),
    c("b64dec", Str, Bin, |_, v, _| {
        b64()
            .decode(v.into_bytes())
            .ok()
            .map(|d| Value::Bin(Cow::Owned(d)))
    }),
    c("ub64enc", Bin, Str, |_, v, _| {
        Some(Value::string(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.into_bin()),
        ))
    }),
    c("ub64dec", Str, Bin, |_, v, _| {
        let s = v.into_bytes();
        let trimmed: Vec<u8> = s.iter().copied().filter(|&c| c != b'=').collect();
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(trimmed)
            .ok()
            .map(|d| Value::Bin(Cow::Owned(d)))
    }),
    c("htonl", Int, Bin, |_, v, _| {
        let n = v.to_int()? as u32;
        Some(Value::Bin(Cow::Owned(n.to_be_bytes().to_vec())))
    }),
    c("hex", Bin, Str, |_, v, _| {
        let b = v.into_bin();
        let mut s = String::with_capacity(b.len() * 2);
        for ch in b.iter() {
            s.push_str(&format!("{ch:02X}"));
        }
        Some(Value::string(s))
    }),
    c("hex2i", Str, Int, |_, v, _| {
        let s = v.into_bytes();
        let digits: &[u8] = s.as_ref();
        let mut n: i64 = 0;
        for &ch in digits {
            let d = (ch as char).to_digit(16)?;
            n = n.wrapping_shl(4) | d as i64;
        }
        Some(Value::Int(n))
    }),
    ca("bytes", &[I, I], 1, Bin, Bin, |a, v, _| {
        let b = v.into_bin();
        let off = usize::try_from(a[0].int()?).ok()?;
        if off >= b.len() && !b.is_empty() {
            return None;
        }
        let len = match a.get(1).and_then(Arg::int) {
            Some(l) => usize::try_from(l).ok()?,
            None => b.len().saturating_sub(off),
        };
        let end = (off + len).min(b.len());
        Some(Value::Bin(match b {
            Cow::Borrowed(s) => Cow::Borrowed(&s[off.min(end)..end]),
            Cow::Owned(s) => Cow::Owned(s[off.min(end)..end].to_vec()),
        }))
    }),
    ca("be2dec", &[S, I, I], 2, Bin, Str, be2dec),
    ca("be2hex", &[S, I, I], 0, Bin, Str, be2hex),
    // hashes
    c("sha1", Bin, Bin, |_, v, _| {
        Some(Value::Bin(Cow::Owned(digest::digest(
            "sha1",
            &v.into_bin(),
        )?)))
    }),
    ca("sha2", &[I], 0, Bin, Bin, |a, v, _| {
        let alg = match a.first().and_then(Arg::int).unwrap_or(256) {
            224 => "sha224",
            256 => "sha256",
            384 => "sha384",
            512 => "sha512",
            _ => return None,
        };
        Some(Value::Bin(Cow::Owned(digest::digest(alg, &v.into_bin())?)))
    }),
    checked(
        ca("digest", &[S], 1, Bin, Bin, |a, v, _| {
            Some(Value::Bin(Cow::Owned(digest::digest(
                a[0].text(),
                &v.into_bin(),
            )?)))
        }),
        digest::check,
    ),
    checked(
        ca("hmac", &[S, SV], 2, Bin, Bin, digest::hmac),
        digest::check,
    ),
    ca("crc32", &[I], 0, Bin, Int, |a, v, _| {
        hashed(a, hash::crc32(&v.into_bin()))
    }),
    ca("crc32c", &[I], 0, Bin, Int, |a, v, _| {
        hashed(a, crc32c::crc32c(&v.into_bin()))
    }),
    ca("djb2", &[I], 0, Bin, Int, |a, v, _| {
        hashed(a, hash::djb2(&v.into_bin()))
    }),
    ca("sdbm", &[I], 0, Bin, Int, |a, v, _| {
        hashed(a, hash::sdbm(&v.into_bin()))
    }),
    ca("wt6", &[I], 0, Bin, Int, |a, v, _| {
        hashed(a, hash::wt6(&v.into_bin()))
    }),
    ca("xxh3", &[I], 0, Bin, Int, |a, v, _| {
        let seed = a.first().and_then(Arg::int).unwrap_or(0) as u64;
        Some(Value::Int(
            xxhash_rust::xxh3::xxh3_64_with_seed(&v.into_bin(), seed) as i64,
        ))
    }),
    ca("xxh32", &[I], 0, Bin, Int, |a, v, _| {
        let seed = a.first().and_then(Arg::int).unwrap_or(0) as u32;
        Some(Value::Int(
            xxhash_rust::xxh32::xxh32(&v.into_bin(), seed) as i64
        ))
    }),
    ca("xxh64", &[I], 0, Bin, Int, |a, v, _| {
        let seed = a.first().and_then(Arg::int).unwrap_or(0) as u64;
        Some(Value::Int(
            xxhash_rust::xxh64::xxh64(&v.into_bin(), seed) as i64
        ))
    }),
    // strings and variables
    ca("concat", &[S, V, S], 0, Str, Str, |a, v, e| {
        let mut out = v.into_bytes().into_owned();
        out.extend_from_slice(a.first().map(Arg::text).unwrap_or("").as_bytes());
        if let Some(Arg::Var(s, n)) = a.get(1) {
            if let Some(x) = e.var(*s, n) {
                out.extend_from_slice(&x.to_bytes());
            }
        }
        out.extend_from_slice(a.get(2).map(Arg::text).unwrap_or("").as_bytes());
        Some(Value::Str(Cow::Owned(out)))
    }),
    ca("add_item", &[S, V, S], 1, Str, Str, |a, v, e| {
        let mut out = v.into_bytes().into_owned();
        let var = match a.get(1) {
            Some(Arg::Var(s, n)) => e.var(*s, n).map(|x| x.to_bytes().into_owned()),
            _ => None,
        };
        let suffix = a.get(2).map(Arg::text).unwrap_or("");
        let var = var.unwrap_or_default();
        if !out.is_empty() && (!var.is_empty() || !suffix.is_empty()) {
            out.extend_from_slice(a[0].text().as_bytes());
        }
        out.extend_from_slice(&var);
        out.extend_from_slice(suffix.as_bytes());
        Some(Value::Str(Cow::Owned(out)))
    }),
    ca("strcmp", &[V], 1, Str, Int, |a, v, e| {
        let Arg::Var(s, n) = &a[0] else { return None };
        let other = e.var(*s, n)?;
        let (x, y) = (v.into_bytes(), other.to_bytes().into_owned());
        Some(Value::Int(match x.as_ref().cmp(&y[..]) {
            std::cmp::Ordering::Less => -1,
            std::cmp::Ordering::Equal => 0,
            std::cmp::Ordering::Greater => 1,
        }))
    }),
    ca("secure_memcmp", &[V], 1, Bin, Bool, |a, v, e| {
        let Arg::Var(s, n) = &a[0] else { return None };
        let other = e.var(*s, n)?;
        let (x, y) = (v.into_bin(), other.into_bin());
        if x.len() != y.len() {
            return Some(Value::Bool(false));
        }
        let diff = x.iter().zip(y.iter()).fold(0u8, |d, (p, q)| d | (p ^ q));
        Some(Value::Bool(diff == 0))
    }),
    // addresses
    ca(
        "ipmask",
        &[ArgT::Mask4, ArgT::Mask6],
        1,
        Ip,
        Ip,
        |a, v, _| {
            let Value::Ip(ip) = v else { return None };
            // An IPv4-mapped address takes the IPv4 mask (HAProxy's `c_ipv62ipv4`).
            let ip = match ip {
                IpAddr::V6(x) => x.to_ipv4_mapped().map_or(ip, IpAddr::V4),
                v4 => v4,
            };
            Some(Value::Ip(match ip {
                IpAddr::V4(x) => {
                    let Arg::Mask(m) = a[0] else { return None };
                    IpAddr::V4((u32::from(x) & m as u32).into())
                }
                IpAddr::V6(x) => {
                    let Some(Arg::Mask(m)) = a.get(1) else {
                        return None;
                    };
                    IpAddr::V6((u128::from(x) & m).into())
                }
            }))
        },
    ),
    // time
    ca("ltime", &[S, I], 1, Int, Str, |a, v, _| {
        strftime(a, v, true)
    }),
    ca("utime", &[S, I], 1, Int, Str, |a, v, _| {
        strftime(a, v, false)
    }),
    ca("http_date", &[I, S], 0, Int, Str, |a, v, _| {
        let t = int(&v)? + a.first().and_then(Arg::int).unwrap_or(0);
        let secs = match a.get(1).map(Arg::text) {
            Some("ms") => t / 1000,
            Some("us") => t / 1_000_000,
            _ => t,
        };
        strftime_at("%a, %d %b %Y %T GMT", secs, false).map(Value::string)
    }),
    // maps
    map_conv!("map", Type::Str),
    map_conv!("map_str", Type::Str),
    map_conv!("map_beg", Type::Str),
    map_conv!("map_sub", Type::Str),
    map_conv!("map_dir", Type::Str),
    map_conv!("map_dom", Type::Str),
    map_conv!("map_end", Type::Str),
    map_conv!("map_reg", Type::Str),
    map_conv!("map_regm", Type::Str),
    map_conv!("map_ip", Type::Str),
    map_conv!("map_int", Type::Str),
    map_conv!("map_str_int", Type::Int),
    map_conv!("map_beg_int", Type::Int),
    map_conv!("map_sub_int", Type::Int),
    map_conv!("map_dir_int", Type::Int),
    map_conv!("map_dom_int", Type::Int),
    map_conv!("map_end_int", Type::Int),
    map_conv!("map_reg_int", Type::Int),
    map_conv!("map_ip_int", Type::Int),
    map_conv!("map_int_int", Type::Int),
    map_conv!("map_str_ip", Type::Ip),
    map_conv!("map_beg_ip", Type::Ip),
    map_conv!("map_sub_ip", Type::Ip),
    map_conv!("map_reg_ip", Type::Ip),
    map_conv!("map_ip_ip", Type::Ip),
    map_conv!("map_int_ip", Type::Ip),
];

fn int(v: &Value<'_>) -> Option<i64> {
    v.to_int()
}

/// An integer argument, or the integer in the variable it names.
fn iarg(a: &Arg, e: &Env<'_>) -> Option<i64> {
    match a {
        Arg::Int(i) => Some(*i),
        Arg::Var(s, n) => e.var(*s, n)?.to_int(),
        _ => None,
    }
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// Decodes hex text (`bin()` literals).
pub fn unhex(s: &[u8]) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    s.chunks(2)
        .map(|p| {
            let hi = (p[0] as char).to_digit(16)?;
            let lo = (p[1] as char).to_digit(16)?;
            Some((hi * 16 + lo) as u8)
        })
        .collect()
}

fn hashed(a: &[Arg], h: u32) -> Option<Value<'static>> {
    let h = if a.first().and_then(Arg::int).unwrap_or(0) != 0 {
        hash::full_hash(h)
    } else {
        h
    };
    Some(Value::Int(h as i64))
}

fn trim_cow<'a>(b: Cow<'a, [u8]>, set: &[u8], left: bool) -> Cow<'a, [u8]> {
    let (s, e) = if left {
        (
            b.iter().position(|c| !set.contains(c)).unwrap_or(b.len()),
            b.len(),
        )
    } else {
        (
            0,
            b.iter()
                .rposition(|c| !set.contains(c))
                .map_or(0, |p| p + 1),
        )
    };
    match b {
        Cow::Borrowed(x) => Cow::Borrowed(&x[s..e]),
        Cow::Owned(x) => Cow::Owned(x[s..e].to_vec()),
    }
}

/// `field(n,delims[,count])` and `word(...)`: 1-based, negative from the end; `word`
/// skips empty items.
fn fields<'a>(a: &'a [Arg], v: Value<'a>, words: bool) -> Option<Value<'a>> {
    let n = a[0].int()?;
    let delims = a[1].text().as_bytes();
    let count = a.get(2).and_then(Arg::int).unwrap_or(1).max(0) as usize;
    let s = v.into_bytes();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut start = 0;
    for (i, ch) in s.iter().enumerate() {
        if delims.contains(ch) {
            spans.push((start, i));
            start = i + 1;
        }
    }
    spans.push((start, s.len()));
    if words {
        spans.retain(|(a, b)| b > a);
    }
    if n == 0 || spans.is_empty() {
        return None;
    }
    let count = if count == 0 { spans.len() } else { count };
    let (first, last) = if n > 0 {
        let f = (n - 1) as usize;
        if f >= spans.len() {
            return None;
        }
        (f, (f + count - 1).min(spans.len() - 1))
    } else {
        let l = spans.len() as i64 + n;
        if l < 0 {
            return None;
        }
        let l = l as usize;
        (l.saturating_sub(count - 1), l)
    };
    let (from, to) = (spans[first].0, spans[last].1);
    Some(Value::Str(match s {
        Cow::Borrowed(x) => Cow::Borrowed(&x[from..to]),
        Cow::Owned(x) => Cow::Owned(x[from..to].to_vec()),
    }))
}

fn check_regsub(_: &str, args: &mut [Arg]) -> Result<(), String> {
    let flags = args.get(2).map(Arg::text).unwrap_or("").to_string();
    let icase = flags.contains('i');
    if let Some(bad) = flags.chars().find(|c| !matches!(c, 'i' | 'g')) {
        return Err(format!(
            "invalid regex flag '{bad}', only 'i' and 'g' are supported"
        ));
    }
    let re = regex::bytes::RegexBuilder::new(args[0].text())
        .case_insensitive(icase)
        .build()
        .map_err(|e| format!("invalid regex '{}' : {e}", args[0].text()))?;
    args[0] = Arg::Reg(Box::new(re));
    // `\1` in HAProxy's substitution is `${1}` for the regex crate.
    let mut subst = String::new();
    let mut chars = args[1].text().chars().peekable();
    while let Some(ch) = chars.next() {
        match (ch, chars.peek()) {
            ('\\', Some(d)) if d.is_ascii_digit() => {
                subst.push_str(&format!("${{{d}}}"));
                chars.next();
            }
            ('$', _) => subst.push_str("$$"),
            (ch, _) => subst.push(ch),
        }
    }
    args[1] = Arg::Str(subst);
    Ok(())
}

fn regsub<'a>(a: &'a [Arg], v: Value<'a>, _: &Env<'a>) -> Option<Value<'a>> {
    let Arg::Reg(re) = &a[0] else { return None };
    let subst = a[1].text().as_bytes();
    let global = a.get(2).map(Arg::text).unwrap_or("").contains('g');
    let s = v.into_bytes();
    let out = if global {
        re.replace_all(&s, subst)
    } else {
        re.replace(&s, subst)
    };
    Some(Value::Str(Cow::Owned(out.into_owned())))
}

fn json<'a>(a: &'a [Arg], v: Value<'a>, _: &Env<'a>) -> Option<Value<'a>> {
    let mode = a
        .first()
        .map(Arg::text)
        .filter(|m| !m.is_empty())
        .unwrap_or("utf8");
    let s = v.into_bytes();
    let mut out = String::with_capacity(s.len());
    let (ascii, skip) = match mode {
        "ascii" => (true, false),
        "utf8" | "utf8p" => (false, false),
        "utf8s" | "utf8ps" => (false, true),
        _ => return None,
    };
    let mut push = |c: char| match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '/' => out.push_str("\\/"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\r' => out.push_str("\\r"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x20 || c as u32 > 0x7e => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push(c),
    };
    if ascii {
        s.iter().for_each(|&b| push(b as char));
    } else {
        let mut rest: &[u8] = &s;
        while !rest.is_empty() {
            match std::str::from_utf8(rest) {
                Ok(t) => {
                    t.chars().for_each(&mut push);
                    break;
                }
                Err(e) => {
                    let (good, bad) = rest.split_at(e.valid_up_to());
                    std::str::from_utf8(good).ok()?.chars().for_each(&mut push);
                    if !skip {
                        return None;
                    }
                    rest = &bad[e.error_len().unwrap_or(bad.len()).max(1)..];
                }
            }
        }
    }
    Some(Value::string(out))
}

/// `%XX` decoded; `+` is a space in the query string (everywhere with `in_form`).
fn url_dec(s: &[u8], in_form: bool) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    let mut in_form = in_form;
    while i < s.len() {
        match s[i] {
            b'?' => {
                in_form = true;
                out.push(b'?');
            }
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(unhex(hex)?[0]);
                i += 3;
                continue;
            }
            b'+' if in_form => out.push(b' '),
            ch => out.push(ch),
        }
        i += 1;
    }
    Some(out)
}

fn be_chunks(b: &[u8], chunk: usize, truncate: bool) -> impl Iterator<Item = &[u8]> {
    let full = if truncate {
        b.len() / chunk * chunk
    } else {
        b.len()
    };
    b[..full].chunks(chunk)
}

fn be2dec<'a>(a: &'a [Arg], v: Value<'a>, _: &Env<'a>) -> Option<Value<'a>> {
    let sep = a[0].text();
    let chunk = usize::try_from(a[1].int()?)
        .ok()
        .filter(|c| (1..=8).contains(c))?;
    let truncate = a.get(2).and_then(Arg::int).unwrap_or(0) != 0;
    let b = v.into_bin();
    let parts: Vec<String> = be_chunks(&b, chunk, truncate)
        .map(|c| c.iter().fold(0u64, |n, &x| n << 8 | x as u64).to_string())
        .collect();
    Some(Value::string(parts.join(sep)))
}

fn be2hex<'a>(a: &'a [Arg], v: Value<'a>, _: &Env<'a>) -> Option<Value<'a>> {
    let sep = a.first().map(Arg::text).unwrap_or("");
    let chunk = a.get(1).and_then(Arg::int).unwrap_or(1).max(1) as usize;
    let truncate = a.get(2).and_then(Arg::int).unwrap_or(0) != 0;
    let b = v.into_bin();
    let parts: Vec<String> = be_chunks(&b, chunk, truncate)
        .map(|c| c.iter().map(|x| format!("{x:02X}")).collect())
        .collect();
    Some(Value::string(parts.join(sep)))
}

fn strftime<'a>(a: &'a [Arg], v: Value<'a>, local: bool) -> Option<Value<'a>> {
    let secs = int(&v)? + a.get(1).and_then(Arg::int).unwrap_or(0);
    strftime_at(a[0].text(), secs, local).map(Value::string)
}

fn strftime_at(fmt: &str, secs: i64, local: bool) -> Option<String> {
    let t = secs as libc::time_t;
    // SAFETY: `tm` is plain data filled by localtime_r/gmtime_r; strftime writes at
    // most `buf.len()` bytes and the format is NUL-terminated.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        let ok = if local {
            libc::localtime_r(&t, &mut tm)
        } else {
            libc::gmtime_r(&t, &mut tm)
        };
        if ok.is_null() {
            return None;
        }
        let f = std::ffi::CString::new(fmt).ok()?;
        let mut buf = [0u8; 256];
        let n = libc::strftime(buf.as_mut_ptr().cast(), buf.len(), f.as_ptr(), &tm);
        String::from_utf8(buf[..n].to_vec()).ok()
    }
}

fn map_lookup<'a>(a: &'a [Arg], v: Value<'a>, _: &Env<'a>) -> Option<Value<'a>> {
    let Arg::Map(m) = &a[0] else { return None };
    match m.lookup(&v) {
        Some(out) => Some(out),
        None => match a.get(1) {
            Some(Arg::Str(d)) => m.out_value(d.as_bytes()),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::expr::Expr;
    use super::*;

    fn run(expr: &str) -> Option<String> {
        let e = Expr::parse(expr).unwrap_or_else(|err| panic!("{expr}: {err}"));
        let env = Env::default();
        e.eval(&env)
            .map(|v| String::from_utf8_lossy(&v.to_bytes()).into_owned())
    }

    #[test]
    fn strings() {
        assert_eq!(run("str(/a/b/c),field(3,/)").as_deref(), Some("b"));
        assert_eq!(run("str(/a/b/c),field(-1,/)").as_deref(), Some("c"));
        assert_eq!(run("str(/a/b/c),field(2,/,2)").as_deref(), Some("a/b"));
        assert_eq!(run("str(//a//b),word(2,/)").as_deref(), Some("b"));
        assert_eq!(run("str(AbC),lower").as_deref(), Some("abc"));
        assert_eq!(run("str(abc),length").as_deref(), Some("3"));
        assert_eq!(run("str(a-b-c),regsub(-,_,g)").as_deref(), Some("a_b_c"));
        assert_eq!(run("str(a-b-c),regsub(-,_)").as_deref(), Some("a_b-c"));
        assert_eq!(run(r"str(ab),regsub((a)(b),\\2\\1)").as_deref(), Some("ba"));
        assert_eq!(
            run("str(foo=bar+42 42 ),url_enc").as_deref(),
            Some("foo%3Dbar%2B42%2042%20")
        );
        assert_eq!(run("str(a%20b+c),url_dec").as_deref(), Some("a b+c"));
        assert_eq!(run("str(/a+?b+c),url_dec").as_deref(), Some("/a+?b c"));
        assert_eq!(run("str(/a/b),field(4,/)"), None);
        assert_eq!(run("str(a%20b+c),url_dec(1)").as_deref(), Some("a b c"));
        assert_eq!(run("str(foo 1/2),json").as_deref(), Some("foo 1\\/2"));
        assert_eq!(
            run("str(0123456789),be2dec(-,3)").as_deref(),
            Some("3158322-3355701-3553080-57")
        );
        assert_eq!(
            run("str(0123456789),be2dec(::,3,1)").as_deref(),
            Some("3158322::3355701::3553080")
        );
        assert_eq!(run("str(ab),be2hex(:,1)").as_deref(), Some("61:62"));
        assert_eq!(run("str(abc),bytes(1,1)").as_deref(), Some("b"));
    }

    #[test]
    fn numbers_and_hashes() {
        assert_eq!(
            run("int(7),add(3),mul(2),sub(1),div(4)").as_deref(),
            Some("4")
        );
        assert_eq!(run("int(7),mod(0)").as_deref(), Some("0"));
        assert_eq!(run("int(5),and(3),or(8),xor(1)").as_deref(), Some("8"));
        assert_eq!(run("int(0),not").as_deref(), Some("1"));
        assert_eq!(run("int(1),iif(yes,no)").as_deref(), Some("yes"));
        assert_eq!(
            run("str(abc),sha1,hex").as_deref(),
            Some("A9993E364706816ABA3E25717850C26C9CD0D89D")
        );
        assert_eq!(
            run("str(abc),digest(md5),hex,lower").as_deref(),
            Some("900150983cd24fb0d6963f7d28e17f72")
        );
        assert_eq!(
            run("str(1),hmac(sha1,a2V5),hex,lower").as_deref(),
            Some("e23feb105f9622241bf23db1638cd2b4208b1f53")
        );
        assert_eq!(run("str(abc),base64").as_deref(), Some("YWJj"));
        assert_eq!(run("str(YWJj),b64dec").as_deref(), Some("abc"));
        assert_eq!(run("str(ff),hex2i").as_deref(), Some("255"));
        assert_eq!(run("str(123456789),crc32").as_deref(), Some("3421780262"));
        assert_eq!(
            run("ipv4(10.1.2.3),ipmask(16)").as_deref(),
            Some("10.1.0.0")
        );
        // Masks need not be contiguous; a mapped address takes the IPv4 mask.
        assert_eq!(
            run("ipv6(2001:db8::ffff),ipmask(8,ffff::fee0)").as_deref(),
            Some("2001::fee0")
        );
        assert_eq!(
            run("ipv6(::ffff:10.1.2.3),ipmask(255.0.255.0,64)").as_deref(),
            Some("10.0.2.0")
        );
        assert_eq!(run("int(0),utime(%Y-%m-%d)").as_deref(), Some("1970-01-01"));
        assert_eq!(
            run("int(0),http_date").as_deref(),
            Some("Thu, 01 Jan 1970 00:00:00 GMT")
        );
    }
}
