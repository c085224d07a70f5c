//! `acl` declarations and `if`/`unless` conditions.
//!
//! Conditions follow HAProxy: terms are ANDed, `or`/`||` separates alternatives, `!`
//! negates one term, `{ criterion [flags] values }` declares an anonymous acl in
//! place. A named acl must be declared before the condition that uses it.

use super::model::{Acl, Condition, Loc, Term, TermAcl};
use crate::sample::{self, Expr, Method};

/// ACL keywords that name a fetch and a matching method at once (`path_beg` is
/// `path -m beg`), as HAProxy's acl keyword table has them.
const SUFFIXES: &[(&str, Method)] = &[
    ("_beg", Method::Beg),
    ("_end", Method::End),
    ("_sub", Method::Sub),
    ("_dir", Method::Dir),
    ("_dom", Method::Dom),
    ("_reg", Method::Reg),
    ("_len", Method::Len),
    ("_found", Method::Found),
];

/// Fetches whose acl keywords take a suffix.
const SUFFIXED: &[&str] = &[
    "hdr",
    "req.hdr",
    "req.fhdr",
    "shdr",
    "res.hdr",
    "path",
    "pathq",
    "url",
    "base",
    "query",
    "cook",
    "req.cook",
    "scook",
    "res.cook",
    "urlp",
    "url_param",
    "method",
    "var",
];

/// Fetches whose plain acl keyword matches as integers (`hdr_val(x) gt 1`).
fn val_alias(name: &str) -> Option<&str> {
    Some(match name {
        "urlp_val" => "urlp",
        "url_param_val" => "url_param",
        _ => return None,
    })
}

/// HAProxy's predefined acls, as the acl text they stand for.
fn predefined_text(name: &str) -> Option<&'static str> {
    Some(match name {
        "TRUE" => "always_true",
        "FALSE" => "always_false",
        "LOCALHOST" => "src 127.0.0.1/8 ::1",
        "HTTP" => "req.proto_http",
        "HTTP_1.0" => "req.ver 1.0",
        "HTTP_1.1" => "req.ver 1.1",
        "HTTP_2.0" => "req.ver 2.0",
        "HTTP_CONTENT" => "hdr_val(content-length) gt 0",
        "HTTP_URL_ABS" => "url_reg ^[^/:]*://",
        "HTTP_URL_SLASH" => "url_beg /",
        "HTTP_URL_STAR" => "url *",
        "WAIT_END" => "wait_end",
        "METH_CONNECT" => "method CONNECT",
        "METH_DELETE" => "method DELETE",
        "METH_GET" => "method GET HEAD",
        "METH_HEAD" => "method HEAD",
        "METH_OPTIONS" => "method OPTIONS",
        "METH_POST" => "method POST",
        "METH_PUT" => "method PUT",
        "METH_TRACE" => "method TRACE",
        _ => return None,
    })
}

/// Splits an acl keyword into its sample expression and implied matching method:
/// `hdr_beg(host),lower` is `hdr(host),lower` matched with `-m beg`.
fn keyword(text: &str) -> (String, Option<Method>) {
    let name_end = text.find([',', '(']).unwrap_or(text.len());
    let (name, rest) = text.split_at(name_end);
    if let Some(base) = val_alias(name) {
        return (format!("{base}{rest}"), Some(Method::Int));
    }
    if sample::fetch::find(name).is_some() {
        return (text.to_string(), None);
    }
    if let Some(base) = name.strip_suffix("_val") {
        if SUFFIXED.contains(&base) {
            return (format!("{base}{rest}"), Some(Method::Int));
        }
    }
    if let Some(base) = name.strip_suffix("_cnt") {
        if sample::fetch::find(&format!("{base}_cnt")).is_some() {
            return (text.to_string(), None);
        }
    }
    for (suffix, m) in SUFFIXES {
        if let Some(base) = name.strip_suffix(suffix) {
            if SUFFIXED.contains(&base) {
                return (format!("{base}{rest}"), Some(*m));
            }
        }
    }
    if let Some(base) = name.strip_suffix("_ip") {
        if SUFFIXED.contains(&base) {
            return (format!("{base}{rest}"), Some(Method::Ip));
        }
    }
    (text.to_string(), None)
}

/// Parses the words after `acl NAME` (criterion, flags, values) into an acl.
pub fn parse_acl(name: &str, words: &[String], loc: &Loc) -> Result<Acl, String> {
    let Some(fetch) = words.first() else {
        return Err("missing ACL expression".to_string());
    };
    let (text, implied) = keyword(fetch);
    let expr = Expr::parse(&text).map_err(|e| {
        if !e.starts_with("unknown fetch method") {
            return e;
        }
        // The hint draws on acl keywords (`hdr_beg`) as well as fetches.
        let name = &fetch[..fetch.find([',', '(']).unwrap_or(fetch.len())];
        let fetches = sample::fetch::FETCHES.iter().map(|f| f.name.to_string());
        let keywords = SUFFIXED
            .iter()
            .flat_map(|b| SUFFIXES.iter().map(move |(s, _)| format!("{b}{s}")));
        let all: Vec<String> = fetches.chain(keywords).collect();
        format!(
            "unknown fetch method '{name}' in ACL expression '{fetch}'{}",
            super::diag::did_you_mean(name, all.iter().map(String::as_str))
        )
    })?;
    let mut ignore_case = false;
    let mut method: Option<Method> = None;
    let mut files: Vec<String> = Vec::new();
    // Pattern files are read as their flag comes, before the inline patterns' own
    // reference is made, so they take the lower ids as in HAProxy.
    let mut refs = Vec::new();
    let mut as_map = false;
    let mut unique_id = None;
    let mut i = 1;
    while i < words.len() && words[i].starts_with('-') {
        match words[i].as_str() {
            "-i" => ignore_case = true,
            "--" => {
                i += 1;
                break;
            }
            "-m" => {
                i += 1;
                let Some(m) = words.get(i) else {
                    return Err("missing matching method after '-m'".to_string());
                };
                method = Some(Method::parse(m).ok_or_else(|| {
                    format!(
                        "unknown matching method '{m}'{}",
                        super::diag::did_you_mean(
                            m,
                            [
                                "found", "bool", "int", "ip", "bin", "str", "sub", "beg", "end",
                                "dir", "dom", "reg", "len"
                            ]
                        )
                    )
                })?);
            }
            "-f" => {
                i += 1;
                let Some(f) = words.get(i) else {
                    return Err("missing file name after '-f'".to_string());
                };
                refs.push(sample::refs::file_ref(f, sample::refs::ACL, as_map)?);
                files.push(f.clone());
            }
            // `-M`: the next -f files are maps (only their keys are patterns).
            "-M" => as_map = true,
            // `-n`: no DNS resolution of patterns (lbd never resolves them).
            "-n" => {}
            "-u" => {
                i += 1;
                let id = words.get(i).and_then(|w| w.parse::<i64>().ok());
                unique_id = Some(id.ok_or("the argument of -u must be an integer")?);
            }
            f => {
                if f.len() > 1 && f[1..].chars().all(|c| c.is_ascii_digit() || c == '.') {
                    break; // a negative number value
                }
                return Err(format!("unknown flag '{f}'"));
            }
        }
        i += 1;
    }
    let method = method
        .or(implied)
        .unwrap_or_else(|| Method::default_for(expr.out_type()));
    let mut values: Vec<String> = words[i..].to_vec();
    if values.is_empty() && files.is_empty() && method.takes_patterns() {
        return Err("no pattern to match".to_string());
    }
    if matches!(method, Method::Int | Method::Len) {
        values = sample::pattern::int_texts(&values)?;
    }
    let kw = &fetch[..fetch.find([',', '(']).unwrap_or(fetch.len())];
    refs.push(sample::refs::inline_ref(kw, &values, unique_id)?);
    let patterns = sample::refs::acl_patterns(&refs, method, ignore_case)?;
    Ok(Acl {
        name: name.to_string(),
        text: words.join(" "),
        expr,
        patterns,
        loc: loc.clone(),
    })
}

/// HAProxy's predefined acls.
fn predefined(name: &str, loc: &Loc) -> Option<Acl> {
    let text = predefined_text(name)?;
    let words: Vec<String> = text.split(' ').map(String::from).collect();
    let mut acl = parse_acl(name, &words, loc).ok()?;
    acl.name = name.to_string();
    Some(acl)
}

/// Parses the words after `if`/`unless` against the acls declared so far.
pub fn parse_condition(
    unless: bool,
    words: &[String],
    declared: &std::collections::HashSet<String>,
    loc: &Loc,
    ctx: &str,
) -> Result<Condition, String> {
    if words.is_empty() {
        return Err(format!(
            "error detected while parsing {ctx} : missing condition after '{}'",
            if unless { "unless" } else { "if" }
        ));
    }
    let mut any_of: Vec<Vec<Term>> = vec![Vec::new()];
    let mut i = 0;
    while i < words.len() {
        let w = words[i].as_str();
        // HAProxy compares `or` without regard to case (`OR` is common).
        if w.eq_ignore_ascii_case("or") || w == "||" {
            if any_of.last().is_some_and(|g| g.is_empty()) {
                return Err(format!(
                    "error detected while parsing {ctx} : '{w}' without a term before it"
                ));
            }
            any_of.push(Vec::new());
            i += 1;
            continue;
        }
        let mut negate = false;
        let mut w = w;
        while let Some(rest) = w.strip_prefix('!') {
            negate = !negate;
            if rest.is_empty() {
                i += 1;
                w = match words.get(i) {
                    Some(n) => n.as_str(),
                    None => {
                        return Err(format!(
                            "error detected while parsing {ctx} : '!' without a term"
                        ))
                    }
                };
            } else {
                w = rest;
            }
        }
        let acl = if w == "{" {
            let Some(close) = words[i + 1..].iter().position(|x| x == "}") else {
                return Err(format!(
                    "error detected while parsing {ctx} : missing closing '}}' in condition"
                ));
            };
            let inner = &words[i + 1..i + 1 + close];
            let acl = parse_acl("", inner, loc)
                .map_err(|e| format!("error detected while parsing {ctx} : {e}"))?;
            i += close + 1;
            TermAcl::Anonymous(Box::new(acl))
        } else if w == "}" {
            return Err(format!(
                "error detected while parsing {ctx} : unexpected '}}' in condition"
            ));
        } else if declared.contains(w) {
            TermAcl::Named(w.to_string())
        } else if let Some(acl) = predefined(w, loc) {
            TermAcl::Anonymous(Box::new(acl))
        } else {
            return Err(format!(
                "error detected while parsing {ctx} : no such ACL : '{w}'{}",
                super::diag::did_you_mean(w, declared.iter().map(String::as_str))
            ));
        };
        if let Some(g) = any_of.last_mut() {
            g.push(Term { negate, acl });
        }
        i += 1;
    }
    if any_of.last().is_some_and(|g| g.is_empty()) {
        return Err(format!(
            "error detected while parsing {ctx} : condition ends with 'or'"
        ));
    }
    Ok(Condition { unless, any_of })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn loc() -> Loc {
        Loc {
            file: "t.cfg".into(),
            line: 1,
        }
    }

    fn method_of(expr: &str) -> (String, Method) {
        let a = parse_acl("a", &w(expr), &loc()).unwrap();
        (a.expr.text().to_string(), a.patterns.method())
    }

    #[test]
    fn acl_keywords_imply_methods() {
        for (expr, fetch, m) in [
            ("hdr(Host) a", "hdr(Host)", Method::Str),
            ("hdr_beg(host) a", "hdr(host)", Method::Beg),
            ("hdr_dom(host) a", "hdr(host)", Method::Dom),
            ("path_dir api", "path", Method::Dir),
            ("path_reg ^/a", "path", Method::Reg),
            ("url_len 3", "url", Method::Len),
            ("hdr_val(x) gt 1", "hdr_val(x)", Method::Int),
            ("src 10.0.0.0/8", "src", Method::Ip),
            ("dst_port 80", "dst_port", Method::Int),
            ("hdr_cnt(x) 1", "hdr_cnt(x)", Method::Int),
            (
                "var(txn.a),field(3,/) -m found",
                "var(txn.a),field(3,/)",
                Method::Found,
            ),
            ("path -m beg /a", "path", Method::Beg),
            ("ssl_fc", "ssl_fc", Method::Bool),
        ] {
            assert_eq!(method_of(expr), (fetch.to_string(), m), "{expr}");
        }
    }

    #[test]
    fn bad_acls() {
        assert!(parse_acl("a", &w("nosuch x"), &loc())
            .unwrap_err()
            .contains("unknown fetch method 'nosuch'"));
        assert!(parse_acl("a", &w("path"), &loc())
            .unwrap_err()
            .contains("no pattern"));
        assert!(parse_acl("a", &w("src nope"), &loc()).is_err());
        assert!(parse_acl("a", &w("path -z x"), &loc())
            .unwrap_err()
            .contains("unknown flag"));
        assert!(parse_acl("a", &w("path -m nope x"), &loc())
            .unwrap_err()
            .contains("unknown matching method"));
        assert!(parse_acl("a", &w("path -f /nonexistent/x.lst"), &loc())
            .unwrap_err()
            .contains("/nonexistent/x.lst"));
    }

    fn declared() -> std::collections::HashSet<String> {
        ["is_api".to_string(), "is_admin".to_string()].into()
    }

    fn named(n: &str, negate: bool) -> Term {
        Term {
            negate,
            acl: TermAcl::Named(n.into()),
        }
    }

    #[test]
    fn and_or_not() {
        let c = parse_condition(
            false,
            &w("is_api !is_admin or is_admin"),
            &declared(),
            &loc(),
            "x",
        )
        .unwrap();
        assert_eq!(
            c.any_of,
            vec![
                vec![named("is_api", false), named("is_admin", true)],
                vec![named("is_admin", false)]
            ]
        );
        let c =
            parse_condition(true, &w("is_api || ! is_admin"), &declared(), &loc(), "x").unwrap();
        assert!(c.unless);
        assert_eq!(
            c.any_of,
            vec![vec![named("is_api", false)], vec![named("is_admin", true)]]
        );
    }

    #[test]
    fn anonymous_acls() {
        let c = parse_condition(
            false,
            &w("{ path_beg /x } !{ src 10.0.0.0/8 }"),
            &Default::default(),
            &loc(),
            "x",
        )
        .unwrap();
        assert_eq!(c.any_of[0].len(), 2);
        assert!(c.any_of[0][1].negate);
        assert!(
            matches!(&c.any_of[0][0].acl, TermAcl::Anonymous(a) if a.patterns.method() == Method::Beg)
        );
    }

    #[test]
    fn predefined_acls() {
        let c = parse_condition(false, &w("METH_GET"), &Default::default(), &loc(), "x").unwrap();
        assert!(
            matches!(&c.any_of[0][0].acl, TermAcl::Anonymous(a) if a.expr.fetch_name() == "method")
        );
    }

    #[test]
    fn bad_conditions() {
        let d = declared();
        assert!(parse_condition(false, &w("nope"), &d, &loc(), "x")
            .unwrap_err()
            .contains("no such ACL : 'nope'"));
        assert!(parse_condition(false, &w("is_apii"), &d, &loc(), "x")
            .unwrap_err()
            .contains("did you mean 'is_api'"));
        assert!(parse_condition(false, &w("{ path /x"), &d, &loc(), "x")
            .unwrap_err()
            .contains("missing closing"));
        assert!(parse_condition(false, &w("is_api or"), &d, &loc(), "x").is_err());
        assert!(parse_condition(false, &w("or is_api"), &d, &loc(), "x").is_err());
        assert!(parse_condition(false, &[], &d, &loc(), "x").is_err());
    }
}
