//! `tcp-check` and `http-check` rules, and the protocol check options (`redis-check`,
//! `mysql-check`, `pgsql-check`, `smtpchk`, `ldap-check`, `spop-check`,
//! `ssl-hello-chk`) built from the same rules, with HAProxy's messages.

use super::{Parser, Target, R};
use crate::config::model::check::*;
use crate::sample::{Expr, Fmt};

type PR<T> = Result<T, String>;

fn lf(s: &str) -> PR<Fmt> {
    Fmt::parse(s).map_err(|e| format!("'{s}' invalid log-format string ({e})"))
}

pub(super) fn hex(s: &str) -> PR<Vec<u8>> {
    crate::sample::conv::unhex(s.as_bytes())
        .ok_or_else(|| format!("'{s}' invalid binary string (hex digits in pairs expected)"))
}

fn arg<'a>(w: &'a [String], i: usize, what: &str) -> PR<&'a str> {
    w.get(i)
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("'{}' expects {what} as argument", w[i - 1]))
}

pub(super) fn rule(index: usize, comment: Option<String>, act: CheckAct) -> CheckRule {
    CheckRule {
        index,
        comment,
        act,
    }
}

/// `connect [default] [port N] [addr A] [send-proxy] [ssl] [sni S] [alpn A] [linger]
/// [comment C]`; `rules`
/// are those before it (a connect must come first).
fn connect(w: &[String], rules: &[CheckRule], index: usize) -> PR<CheckRule> {
    for r in rules {
        match &r.act {
            CheckAct::Connect(_) => break,
            CheckAct::Comment | CheckAct::SetVar(..) | CheckAct::UnsetVar(_) => {}
            CheckAct::Send(Send::Http(h)) if h.from_opt => {}
            _ => return Err("first step MUST also be a 'connect', optionally preceded by a 'set-var', an 'unset-var' or a 'comment', when there is a 'connect' step in the tcp-check ruleset".into()),
        }
    }
    let mut c = Connect::default();
    let mut comment = None;
    let mut i = 1;
    while i < w.len() {
        match w[i].as_str() {
            "default" => c.default = true,
            "send-proxy" => c.send_proxy = true,
            "linger" => c.linger = true,
            "addr" => {
                let a = arg(w, i + 1, "<ipv4|ipv6>")?;
                c.addr = Some(
                    a.parse::<std::net::SocketAddr>()
                        .or_else(|_| a.parse::<std::net::IpAddr>().map(|ip| (ip, 0).into()))
                        .map_err(|_| format!("'addr' : invalid address: '{a}'."))?,
                );
                i += 1;
            }
            "port" => {
                let p = arg(w, i + 1, "a port number or a sample expression")?;
                match p.parse::<u32>() {
                    Ok(n @ 1..=65535) => c.port = Some(n as u16),
                    Ok(_) => return Err(format!("expects a valid TCP port (from range 1 to 65535) or a sample expression, got {p}.")),
                    Err(_) => return Err(format!("port sample expression '{p}' is not supported by lbd; give a number")),
                }
                i += 1;
            }
            "comment" => {
                comment = Some(arg(w, i + 1, "a string")?.to_string());
                i += 1;
            }
            "ssl" => c.ssl = true,
            "sni" => {
                c.sni = Some(arg(w, i + 1, "a string")?.to_string());
                i += 1;
            }
            "alpn" => {
                let a = arg(w, i + 1, "an ALPN string")?;
                let v: Vec<String> = a
                    .split(',')
                    .filter(|p| !p.is_empty())
                    .map(str::to_string)
                    .collect();
                if v.is_empty() || v.iter().any(|p| p.len() > 255) {
                    return Err(format!("'alpn' : invalid ALPN string '{a}'."));
                }
                c.alpn = Some(v);
                i += 1;
            }
            x @ ("proto" | "via-socks4") => {
                return Err(format!("'{x}' is not supported by lbd"))
            }
            x => return Err(format!("expects 'comment', 'port', 'addr', 'send-proxy', 'ssl', 'sni', 'alpn' or 'via-socks4', 'linger', 'default' but got '{x}' as argument.")),
        }
        i += 1;
    }
    Ok(rule(index, comment, CheckAct::Connect(c)))
}

/// `send|send-lf|send-binary|send-binary-lf DATA [comment C]`.
fn send(w: &[String], index: usize) -> PR<CheckRule> {
    let data = arg(
        w,
        1,
        if w[0] == "send-binary" {
            "a binary string"
        } else {
            "a string"
        },
    )?;
    let mut comment = None;
    let mut i = 2;
    while i < w.len() {
        match w[i].as_str() {
            "comment" => {
                comment = Some(arg(w, i + 1, "a string")?.to_string());
                i += 1;
            }
            x => return Err(format!("expects 'comment' but got '{x}' as argument.")),
        }
        i += 1;
    }
    let s = match w[0].as_str() {
        "send" => Send::Bytes(data.as_bytes().to_vec()),
        "send-binary" => Send::Bytes(hex(data)?),
        "send-lf" => Send::StrLf(lf(data)?),
        _ => Send::BinLf(lf(data)?),
    };
    Ok(rule(index, comment, CheckAct::Send(s)))
}

fn status_kw(kind: &str, v: &str) -> PR<Status> {
    let s = match (kind, v.to_ascii_uppercase().as_str()) {
        ("ok-status", "L7OK") => Status::L7Ok,
        ("ok-status", "L7OKC") => Status::L7OkC,
        ("ok-status", "L6OK") => Status::L6Ok,
        ("ok-status", "L4OK") => Status::L4Ok,
        ("ok-status", _) => {
            return Err(format!(
                "'{kind}' only supports 'L4OK', 'L6OK', 'L7OK' or 'L7OKC' status (got '{v}')."
            ))
        }
        ("error-status", "L7RSP") => Status::L7Rsp,
        ("error-status", "L7STS") => Status::L7Sts,
        ("error-status", "L7OKC") => Status::L7OkC,
        ("error-status", "L6RSP") => Status::L6Rsp,
        ("error-status", "L4CON") => Status::L4Con,
        ("error-status", _) => {
            return Err(format!(
                "'{kind}' only supports 'L4CON', 'L6RSP', 'L7RSP' or 'L7STS' status (got '{v}')."
            ))
        }
        (_, "L7TOUT") => Status::L7Tout,
        (_, "L6TOUT") => Status::L6Tout,
        (_, "L4TOUT") => Status::L4Tout,
        _ => {
            return Err(format!(
                "'{kind}' only supports 'L4TOUT', 'L6TOUT' or 'L7TOUT' status (got '{v}')."
            ))
        }
    };
    Ok(s)
}

fn str_match(method: &str, pat: &str, lf_text: bool, orig: &str, what: &str) -> PR<StrMatch> {
    let text = || -> PR<Text> {
        Ok(if lf_text {
            Text::Lf(lf(pat)?)
        } else {
            Text::Plain(pat.to_string())
        })
    };
    Ok(match method {
        "str" => StrMatch::Str(text()?),
        "beg" => StrMatch::Beg(text()?),
        "end" => StrMatch::End(text()?),
        "sub" => StrMatch::Sub(text()?),
        "reg" if lf_text => {
            return Err(format!(
                "'{orig}': log-format string is not supported with a regex matching method"
            ))
        }
        // Header names match without case, values with.
        "reg" if what == "name" => StrMatch::Reg(Re::new(&format!("(?i){pat}"))?),
        "reg" => StrMatch::Reg(Re::new(pat)?),
        x => {
            return Err(format!(
                "'{orig}' : '-m' only supports 'str', 'beg', 'end', 'sub' or 'reg' (got '{x}') for the {what}"
            ))
        }
    })
}

/// `expect ...` of a tcp-check (`http` false) or an http-check ruleset.
pub(super) fn expect(w: &[String], index: usize, http: bool) -> PR<CheckRule> {
    if w.len() < 2 {
        return Err("expects at least a matching pattern as arguments".into());
    }
    let mut e = Expect::new(ExpectKind::Custom(Custom::Agent));
    let mut kind: Option<ExpectKind> = None;
    let mut comment = None;
    let mut i = 1;
    let once = |k: &Option<ExpectKind>| -> PR<()> {
        if k.is_some() {
            Err("only on pattern expected".into())
        } else {
            Ok(())
        }
    };
    while i < w.len() {
        let mut word = w[i].as_str();
        let mut in_pattern = false;
        if word.starts_with('!') {
            in_pattern = true;
            while let Some(rest) = word.strip_prefix('!') {
                e.inverse = !e.inverse;
                word = rest;
            }
            if word.is_empty() {
                i += 1;
                word = w.get(i).map_or("", String::as_str);
            }
        }
        let no_bang = |k: &str| -> PR<()> {
            if in_pattern {
                Err(format!("[!] not supported with '{k}'"))
            } else {
                Ok(())
            }
        };
        let value = |j: usize| -> PR<&str> {
            w.get(j)
                .map(String::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| format!("'{word}' expects a <pattern> as argument"))
        };
        match word {
            "min-recv" => {
                no_bang(word)?;
                let n = w
                    .get(i + 1)
                    .ok_or_else(|| format!("'{word}' expects a integer as argument"))?;
                e.min_recv = n
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (-1..=i32::MAX as i64).contains(n))
                    .ok_or_else(|| {
                        format!("'{word}' expects -1 or an integer from 0 to INT_MAX")
                    })?;
                i += 1;
            }
            "string" | "rstring" | "binary" | "rbinary" | "string-lf" | "binary-lf" | "status"
            | "rstatus" => {
                once(&kind)?;
                let p = value(i + 1)?;
                kind = Some(match (word, http) {
                    ("string", false) => ExpectKind::String(p.as_bytes().to_vec()),
                    ("string", true) => ExpectKind::Body(p.as_bytes().to_vec()),
                    ("rstring", false) => ExpectKind::RString(Re::new(p)?),
                    ("rstring", true) => ExpectKind::RBody(Re::new(p)?),
                    ("binary", false) => ExpectKind::Binary(
                        hex(p).map_err(|e| format!("invalid binary string ({e})"))?,
                    ),
                    ("rbinary", false) => ExpectKind::RBinary(Re::new(p)?),
                    ("string-lf", false) => ExpectKind::StringLf(lf(p)?),
                    ("string-lf", true) => ExpectKind::BodyLf(lf(p)?),
                    ("binary-lf", false) => ExpectKind::BinaryLf(lf(p)?),
                    ("status", true) => ExpectKind::Status(status_codes(p)?),
                    ("rstatus", true) => ExpectKind::RStatus(Re::new(p)?),
                    _ => return Err(bad_kw(word, http)),
                });
                i += 1;
            }
            "hdr" | "fhdr" if http => {
                once(&kind)?;
                let orig = word;
                let name_kw = w.get(i + 1).map_or("", String::as_str);
                if !matches!(name_kw, "name" | "name-lf")
                    || w.get(i + 2).is_none_or(|s| s.is_empty())
                {
                    return Err(format!("'{orig}' expects at the name keyword as first argument followed by a pattern"));
                }
                i += 2;
                let mut method = "str";
                if w[i] == "-m" {
                    method = w.get(i + 1).map(String::as_str).filter(|s| !s.is_empty()).ok_or_else(|| format!("'{orig}' : '-m' expects at a matching pattern ('str', 'beg', 'end', 'sub' or 'reg')"))?;
                    i += 2;
                }
                let npat = w.get(i).map_or("", String::as_str);
                let name = str_match(method, npat, name_kw == "name-lf", orig, "name")?;
                let mut value = None;
                if let Some(vk @ ("value" | "value-lf")) = w.get(i + 1).map(String::as_str) {
                    let mut vm = "str";
                    if w.get(i + 2).map(String::as_str) == Some("-m") {
                        i += 2;
                        vm = w.get(i + 1).map(String::as_str).filter(|s| !s.is_empty()).ok_or_else(|| format!("'{orig}' : '-m' expects at a matching pattern ('str', 'beg', 'end', 'sub' or 'reg')"))?;
                    }
                    let vpat = w
                        .get(i + 2)
                        .map(String::as_str)
                        .filter(|s| !s.is_empty())
                        .ok_or_else(|| {
                            format!("'{orig}' expect a pattern with the value keyword")
                        })?;
                    value = Some(str_match(vm, vpat, vk == "value-lf", orig, "value")?);
                    i += 2;
                }
                kind = Some(ExpectKind::Hdr(HdrMatch {
                    full: orig == "fhdr",
                    name,
                    value,
                }));
            }
            "comment" => {
                no_bang(word)?;
                comment = Some(
                    value(i + 1)
                        .map_err(|_| format!("'{word}' expects a string as argument"))?
                        .to_string(),
                );
                i += 1;
            }
            "on-success" | "on-error" => {
                no_bang(word)?;
                let f =
                    lf(value(i + 1)
                        .map_err(|_| format!("'{word}' expects a string as argument"))?)?;
                if word == "on-success" {
                    e.on_success = Some(f);
                } else {
                    e.on_error = Some(f);
                }
                i += 1;
            }
            "ok-status" | "error-status" | "tout-status" => {
                no_bang(word)?;
                let s = status_kw(
                    word,
                    value(i + 1).map_err(|_| format!("'{word}' expects a string as argument"))?,
                )?;
                match word {
                    "ok-status" => e.ok = Some(s),
                    "error-status" => e.err = Some(s),
                    _ => e.tout = Some(s),
                }
                i += 1;
            }
            "status-code" => {
                no_bang(word)?;
                let x = value(i + 1)
                    .map_err(|_| format!("'{word}' expects an expression as argument"))?;
                e.status_code = Some(Expr::parse(x).map_err(|m| {
                    format!("error detected while parsing status-code expression : {m}")
                })?);
                i += 1;
            }
            x => return Err(bad_kw(x, http)),
        }
        i += 1;
    }
    e.kind = kind.ok_or("pattern not found")?;
    Ok(rule(index, comment, CheckAct::Expect(Box::new(e))))
}

/// HAProxy's list of status codes and ranges (`200,300-399`).
fn status_codes(p: &str) -> PR<Vec<(u16, u16)>> {
    let mut out = Vec::new();
    let b = p.as_bytes();
    let mut i = 0;
    let num = |i: &mut usize| -> u32 {
        let mut n = 0u32;
        while *i < b.len() && b[*i].is_ascii_digit() {
            n = n.saturating_mul(10).saturating_add((b[*i] - b'0') as u32);
            *i += 1;
        }
        n
    };
    loop {
        let c1 = num(&mut i);
        let mut c2 = c1;
        if b.get(i) == Some(&b'-') {
            i += 1;
            c2 = num(&mut i);
        }
        if c1 > c2 {
            return Err(format!("invalid range of status codes '{p}'"));
        }
        out.push((
            c1.min(u16::MAX as u32) as u16,
            c2.min(u16::MAX as u32) as u16,
        ));
        match b.get(i) {
            None => return Ok(out),
            Some(b',') => i += 1,
            Some(&c) => {
                return Err(format!(
                    "invalid character '{}' in the list of status codes",
                    c as char
                ))
            }
        }
    }
}

fn bad_kw(x: &str, http: bool) -> String {
    if http {
        format!("'only supports min-recv, [!]string', '[!]rstring', '[!]string-lf', '[!]status', '[!]rstatus', [!]hdr, [!]fhdr or comment but got '{x}' as argument.")
    } else {
        format!("'only supports min-recv, '[!]binary', '[!]string', '[!]rstring', '[!]string-lf''[!]rbinary', '[!]binary-lf' or comment but got '{x}' as argument.")
    }
}

/// `set-var(check.x) EXPR` / `unset-var(check.x)`.
fn var_rule(w: &[String], index: usize) -> PR<Option<CheckRule>> {
    let head = w[0].as_str();
    let (set, inner) = if let Some(r) = head.strip_prefix("set-var(") {
        (true, r)
    } else if let Some(r) = head.strip_prefix("unset-var(") {
        (false, r)
    } else {
        return Ok(None);
    };
    let name = inner
        .strip_suffix(')')
        .ok_or_else(|| format!("'{head}' : missing ')'"))?;
    let (scope, _) = crate::sample::Scope::split(name)?;
    if scope != crate::sample::Scope::Check && scope != crate::sample::Scope::Proc {
        return Err(format!(
            "'{head}' : only the 'check' and 'proc' scopes are available in health checks"
        ));
    }
    let act = if set {
        let e = w
            .get(1)
            .ok_or_else(|| format!("'{head}' : expects a sample expression"))?;
        if let Some(x) = w.get(2) {
            return Err(format!("'{head}' : unexpected argument '{x}'"));
        }
        CheckAct::SetVar(name.to_string(), Expr::parse(e)?)
    } else {
        CheckAct::UnsetVar(name.to_string())
    };
    Ok(Some(rule(index, None, act)))
}

/// `http-check send meth M uri U|uri-lf U ver V hdr N V body B|body-lf B comment C`.
fn http_send(w: &[String], from_opt: bool) -> PR<HttpSend> {
    let mut h = HttpSend {
        from_opt,
        ..HttpSend::default()
    };
    let mut i = 1;
    while i < w.len() {
        let k = w[i].as_str();
        match k {
            "meth" => h.meth = Some(arg(w, i + 1, "a string")?.to_string()),
            "uri" => h.uri = Some(Text::Plain(arg(w, i + 1, "a string")?.to_string())),
            "uri-lf" => h.uri = Some(Text::Lf(lf(arg(w, i + 1, "a string")?)?)),
            "ver" => h.ver = Some(arg(w, i + 1, "a string")?.to_string()),
            "body" => h.body = Some(Text::Plain(arg(w, i + 1, "a string")?.to_string())),
            "body-lf" => h.body = Some(Text::Lf(lf(arg(w, i + 1, "a string")?)?)),
            "comment" => {}
            "hdr" => {
                let (Some(n), Some(v)) = (w.get(i + 1).filter(|s| !s.is_empty()), w.get(i + 2).filter(|s| !s.is_empty())) else {
                    return Err(format!("'{k}' expects <name> and <value> as arguments"));
                };
                if n.eq_ignore_ascii_case("host") {
                    if let Some((_, prev)) = h.hdrs.iter().find(|(x, _)| x.eq_ignore_ascii_case("host")) {
                        return Err(format!("'{n}' header already defined (previous value is '{}')", prev.text()));
                    }
                }
                if !n.eq_ignore_ascii_case("content-length") && !n.eq_ignore_ascii_case("transfer-encoding") {
                    h.hdrs.push((n.clone(), lf(v)?));
                }
                i += 1;
            }
            x => return Err(format!("expects 'comment', 'meth', 'uri', 'uri-lf', 'ver', 'hdr', 'body' or 'body-lf' but got '{x}' as argument.")),
        }
        i += 2;
    }
    Ok(h)
}

fn first_rule(rules: &[CheckRule], from: usize) -> Option<usize> {
    (from..rules.len()).find(|&i| {
        !matches!(
            rules[i].act,
            CheckAct::Comment | CheckAct::SetVar(..) | CheckAct::UnsetVar(_)
        )
    })
}

/// Overwrites the fields of an http send rule with those the new one sets (HAProxy's
/// `tcpcheck_overwrite_send_http_rule`): the headers are always replaced.
fn merge_send(old: &mut HttpSend, new: HttpSend) {
    if new.meth.is_some() {
        old.meth = new.meth;
    }
    if new.uri.is_some() {
        old.uri = new.uri;
    }
    if new.ver.is_some() {
        old.ver = new.ver;
    }
    old.hdrs = new.hdrs;
    if new.body.is_some() {
        old.body = new.body;
    }
}

/// Adds an http-check rule to a ruleset that `option httpchk` uses, as HAProxy's
/// `tcpcheck_add_http_rule`: the implicit send of the option merges with the first
/// explicit one, and rules must follow connect, send, expect.
fn add_http_rule(rules: &mut Vec<CheckRule>, mut r: CheckRule) -> PR<()> {
    let is_opt_send = |r: &CheckRule| matches!(&r.act, CheckAct::Send(Send::Http(h)) if h.from_opt);
    if is_opt_send(&r) {
        let mut f = first_rule(rules, 0);
        if let Some(i) = f.filter(|&i| matches!(rules[i].act, CheckAct::Connect(_))) {
            f = first_rule(rules, i + 1);
        }
        match f {
            Some(i) if is_opt_send(&rules[i]) => {
                rules.remove(i);
                rules.insert(0, r);
            }
            Some(i) if matches!(rules[i].act, CheckAct::Send(_)) => {
                if let (CheckAct::Send(Send::Http(old)), CheckAct::Send(Send::Http(new))) =
                    (&mut rules[i].act, r.act)
                {
                    merge_send(old, new);
                }
            }
            _ => rules.insert(0, r),
        }
        return Ok(());
    }
    let last = (0..rules.len()).rev().find(|&i| {
        !matches!(
            rules[i].act,
            CheckAct::Comment | CheckAct::SetVar(..) | CheckAct::UnsetVar(_)
        )
    });
    if let Some(l) = last.filter(|&l| !is_opt_send(&rules[l])) {
        let step = r.index + 1;
        match (&rules[l].act, &r.act) {
            (CheckAct::Connect(_), CheckAct::Send(_)) => {}
            (_, CheckAct::Send(_)) => {
                return Err(format!(
                    "unable to add http-check send rule at step {step} (missing connect rule)"
                ))
            }
            (CheckAct::Send(_) | CheckAct::Expect(_), CheckAct::Expect(_)) => {}
            (_, CheckAct::Expect(_)) => {
                return Err(format!(
                    "unable to add http-check expect rule at step {step} (missing send rule)"
                ))
            }
            (CheckAct::Expect(_), CheckAct::Connect(_)) => {}
            (_, CheckAct::Connect(_)) => {
                return Err(format!(
                    "unable to add http-check connect rule at step {step} (missing expect rule)"
                ))
            }
            _ => {}
        }
    }
    if matches!(r.act, CheckAct::Send(_)) {
        if let Some(f) = first_rule(rules, 0).filter(|&f| is_opt_send(&rules[f])) {
            let mut old = rules.remove(f);
            if let (CheckAct::Send(Send::Http(o)), CheckAct::Send(Send::Http(new))) =
                (&mut old.act, r.act)
            {
                merge_send(o, new);
                o.from_opt = false;
            }
            old.index = r.index;
            old.comment = r.comment.take();
            r = old;
        }
    }
    rules.push(r);
    Ok(())
}

fn next_index(rules: &[CheckRule]) -> usize {
    rules.last().map_or(0, |r| r.index + 1)
}

impl<'e> Parser<'e> {
    /// `tcp-check connect|send*|expect|comment|set-var|unset-var ...`.
    pub(super) fn tcp_check(&mut self, w: &[String], t: Target) -> R {
        let Some(sub) = w.first() else {
            return Err("'tcp-check' only supports 'comment', 'connect', 'send', 'send-binary', 'expect', 'set-var', 'unset-var'. but got ''".into());
        };
        self.own_tcp_check(t);
        let rules = &self.px(t).check.tcp;
        let index = next_index(rules);
        let r = match sub.as_str() {
            "connect" => connect(w, rules, index),
            "send" | "send-lf" | "send-binary" | "send-binary-lf" => send(w, index),
            "expect" => expect(w, index, false),
            "comment" => arg(w, 1, "a string").map(|c| rule(index, Some(c.to_string()), CheckAct::Comment)).map_err(|_| "expects a string as argument".into()),
            _ => match var_rule(w, index) {
                Ok(Some(r)) => Ok(r),
                Ok(None) => return Err(format!("'tcp-check' only supports 'comment', 'connect', 'send', 'send-binary', 'expect', 'set-var', 'unset-var'. but got '{sub}'")),
                Err(e) => Err(e),
            },
        }
        .map_err(|e| format!("'tcp-check {sub}' : {}.", e.trim_end_matches('.')))?;
        self.px(t).check.tcp.push(r);
        Ok(())
    }

    /// `http-check connect|send|expect|comment|set-var|unset-var|send-state|disable-on-404 ...`.
    pub(super) fn http_check(&mut self, w: &[String], t: Target) -> R {
        let Some(sub) = w.first() else {
            return Err("'http-check' only supports 'disable-on-404', 'send-state', 'comment', 'connect', 'send', 'expect', 'set-var', 'unset-var'. but got ''".into());
        };
        match sub.as_str() {
            "disable-on-404" | "send-state" => {
                if let Some(x) = w.get(1) {
                    return Err(format!(
                        "'http-check {sub}' cannot handle unexpected argument '{x}'."
                    ));
                }
                let c = &mut self.px(t).check;
                if sub == "send-state" {
                    c.send_state = true;
                } else {
                    c.disable_on_404 = true;
                }
                return Ok(());
            }
            _ => {}
        }
        self.own_http_check(t);
        let c = &self.px(t).check;
        let index = match c.http.last() {
            Some(r) if matches!(&r.act, CheckAct::Send(Send::Http(h)) if h.from_opt) => r.index,
            Some(r) => r.index + 1,
            None => 0,
        };
        let r = match sub.as_str() {
            "connect" => connect(w, &c.http, index),
            "send" => http_send(w, false).map(|h| rule(index, None, CheckAct::Send(Send::Http(h)))),
            "expect" => expect(w, index, true),
            "comment" => arg(w, 1, "a string").map(|c| rule(index, Some(c.to_string()), CheckAct::Comment)).map_err(|_| "expects a string as argument".into()),
            _ => match var_rule(w, index) {
                Ok(Some(r)) => Ok(r),
                Ok(None) => return Err(format!("'http-check' only supports 'disable-on-404', 'send-state', 'comment', 'connect', 'send', 'expect', 'set-var', 'unset-var'. but got '{sub}'")),
                Err(e) => Err(e),
            },
        }
        .map_err(|e| format!("'http-check {sub}' : {}.", e.trim_end_matches('.')))?;
        // With `option httpchk` in force, HAProxy checks the order of the rules now.
        let active = c.proto == CheckProto::Http;
        let c = &mut self.px(t).check;
        if active {
            add_http_rule(&mut c.http, r).map_err(|e| format!("'http-check {sub}' : {e}."))
        } else {
            c.http.push(r);
            Ok(())
        }
    }

    /// `option httpchk [[METH] URI [VERSION]]`: the implicit `http-check send`.
    pub(super) fn httpchk_send(&mut self, w: &[String], t: Target) -> R {
        let mut h = HttpSend {
            from_opt: true,
            ..HttpSend::default()
        };
        match w.len() {
            1 => {}
            2 => h.uri = Some(Text::Plain(w[1].clone())),
            _ => {
                h.meth = Some(w[1].clone());
                h.uri = Some(Text::Plain(w[2].clone()));
            }
        }
        if let Some(v) = w.get(3) {
            // The old trick: "HTTP/1.1\r\nHost:\ example.com", headers after the version.
            let (head, body) = v.split_once("\r\n\r\n").unwrap_or((v.as_str(), ""));
            let (ver, rest) = head.split_once("\r\n").unwrap_or((head, ""));
            h.ver = Some(ver.to_string());
            for line in rest.split("\r\n").filter(|l| !l.is_empty()) {
                let (n, val) = line.split_once(':').ok_or_else(|| {
                    format!("'option httpchk' : unable to parse the request '{line}'.")
                })?;
                h.hdrs.push((n.trim().to_string(), lf(val.trim())?));
            }
            if !body.is_empty() {
                h.body = Some(Text::Plain(body.to_string()));
            }
            if head.len() < v.len() || !rest.is_empty() {
                self.warn("'option httpchk' : hiding headers or body at the end of the version string is deprecated. Please, consider to use 'http-check send' directive instead.".into());
            }
        }
        if let Some(x) = w.get(4) {
            return Err(format!("'option httpchk' : unexpected argument '{x}'."));
        }
        let c = &mut self.px(t).check;
        c.proto = CheckProto::Http;
        c.builtin = None;
        add_http_rule(&mut c.http, rule(0, None, CheckAct::Send(Send::Http(h))))
            .map_err(|e| format!("'option httpchk' : {e}."))
    }

    /// Applies a protocol check option: its ruleset replaces the section's.
    pub(super) fn set_builtin(&mut self, t: Target, rules: CheckRules) {
        let c = &mut self.px(t).check;
        c.proto = rules.proto;
        c.builtin = Some(rules);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn expect_words() {
        let r = expect(
            &words(&[
                "expect", "min-recv", "5", "!rstring", "^error", "comment", "neg",
            ]),
            3,
            false,
        )
        .unwrap();
        let CheckAct::Expect(e) = r.act else { panic!() };
        assert!(e.inverse && e.min_recv == 5);
        assert_eq!(r.comment.as_deref(), Some("neg"));
        assert!(expect(&words(&["expect", "status", "200"]), 0, false).is_err());
        assert!(expect(
            &words(&["expect", "hdr", "name", "x", "value", "-m", "reg", "^a"]),
            0,
            true
        )
        .is_ok());
    }
}
