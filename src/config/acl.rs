//! `acl` declarations and `if`/`unless` conditions.
//!
//! Conditions follow HAProxy: terms are ANDed, `or`/`||` separates alternatives, `!`
//! negates one term, `{ criterion [flags] values }` declares an anonymous acl in
//! place. A named acl must be declared before the condition that uses it.

use super::model::{Acl, AclValue, Condition, Criterion, Loc, Term, TermAcl};
use super::value;

/// Fetches HAProxy has that lbd does not evaluate (so a condition using one is refused).
const KNOWN_FETCHES: &[&str] = &[
    "ssl_fc_sni",
    "ssl_c_used",
    "ssl_c_verify",
    "req.ssl_sni",
    "req_ssl_sni",
    "req.ssl_hello_type",
    "req_ssl_hello_type",
    "req.len",
    "req_len",
    "url",
    "url_beg",
    "url_end",
    "url_sub",
    "url_dir",
    "url_dom",
    "url_reg",
    "url_param",
    "urlp",
    "url_ip",
    "dst",
    "dst_port",
    "src_port",
    "dst_conn",
    "nbsrv",
    "be_conn",
    "fe_conn",
    "connslots",
    "queue",
    "avg_queue",
    "srv_is_up",
    "http_auth",
    "http_auth_group",
    "cook",
    "cook_beg",
    "cook_sub",
    "req.cook",
    "req.hdr",
    "req.hdr_cnt",
    "hdr_cnt",
    "hdr_reg",
    "hdr_len",
    "hdr_ip",
    "path_reg",
    "path_len",
    "base",
    "base_beg",
    "base_sub",
    "status",
    "res.hdr",
    "shdr",
    "var",
    "src_conn_rate",
    "sc0_conn_rate",
    "sc1_conn_rate",
    "sc_http_req_rate",
    "sc0_http_req_rate",
    "sc1_http_req_rate",
    "src_http_req_rate",
    "sc0_gpc0",
    "sc_get_gpc0",
    "src_get_gpc0",
    "table_cnt",
    "req.payload",
    "req.rdp_cookie",
    "rdp_cookie",
    "payload",
    "wait_end",
    "stopping",
    "env",
    "query",
    "capture.req.hdr",
    "req.body",
    "req.body_size",
    "req.ver",
    "req_ver",
    "req.proto_http",
    "req_proto_http",
    "http_first_req",
    "lua",
    "path_end_reg",
    "src_is_local",
    "so_id",
    "ssl_c_s_dn",
    "ssl_f_sni",
    "fc_http_major",
    "int",
    "str",
    "bool",
    "map",
    "req.fhdr",
    "hdr_val",
    "rep_ssl_hello_type",
    "acl",
    "url32",
    "base32",
    "cookie",
];

/// Parses the words after `acl NAME` (criterion, flags, values) into an acl.
pub fn parse_acl(name: &str, words: &[String], loc: &Loc) -> Result<Acl, String> {
    let Some(fetch) = words.first() else {
        return Err("missing ACL expression".to_string());
    };
    let fetch = fetch.as_str();
    let (fname, arg) = value::call(fetch).ok_or_else(|| {
        // `hdr(host),lower`: a valid fetch followed by converters, which lbd lacks.
        let mut depth = 0i32;
        let comma = fetch.char_indices().find_map(|(i, c)| {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                ',' if depth == 0 => return Some(i),
                _ => {}
            }
            None
        });
        match comma {
            Some(i) if value::call(&fetch[..i]).is_some() => format!(
                "converters ('{}') in ACL expression '{fetch}' are not supported by lbd",
                &fetch[i + 1..]
            ),
            _ => format!("invalid ACL expression '{fetch}'"),
        }
    })?;
    let mut ignore_case = false;
    let mut method: Option<String> = None;
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
                method = Some(m.clone());
            }
            "-f" => {
                return Err(
                    "loading patterns from a file ('-f') is not supported by lbd".to_string(),
                )
            }
            "-n" | "-u" => {}
            f => {
                if f.len() > 1 && f[1..].chars().all(|c| c.is_ascii_digit() || c == '.') {
                    break; // a negative number value
                }
                return Err(format!("unknown flag '{f}'"));
            }
        }
        i += 1;
    }
    let hdr = |arg: Option<&str>| -> Result<String, String> {
        match arg {
            Some(a) if !a.is_empty() => Ok(a.split(',').next().unwrap_or(a).to_ascii_lowercase()),
            _ => Err(format!(
                "fetch method '{fname}' expects a header name argument"
            )),
        }
    };
    let base = match fname {
        "hdr" | "req.hdr" | "req.fhdr" if arg.is_some() => Criterion::Hdr(hdr(arg)?),
        "hdr_beg" => Criterion::HdrBeg(hdr(arg)?),
        "hdr_end" => Criterion::HdrEnd(hdr(arg)?),
        "hdr_dom" => Criterion::HdrDom(hdr(arg)?),
        "hdr_sub" => Criterion::HdrSub(hdr(arg)?),
        "path" => Criterion::Path,
        "path_beg" => Criterion::PathBeg,
        "path_end" => Criterion::PathEnd,
        "path_dir" => Criterion::PathDir,
        "path_sub" => Criterion::PathSub,
        "src" => Criterion::Src,
        "method" => Criterion::Method,
        "always_true" => Criterion::AlwaysTrue,
        "always_false" => Criterion::AlwaysFalse,
        "ssl_fc" => Criterion::SslFc,
        f if KNOWN_FETCHES.contains(&f)
            || [
                "sc", "lua.", "src_", "ssl_", "req.", "res.", "fc_", "bc_", "txn.",
            ]
            .iter()
            .any(|p| f.starts_with(p)) =>
        {
            return Err(format!("fetch method '{f}' is not supported by lbd"))
        }
        f => {
            let supported = [
                "hdr", "hdr_beg", "hdr_end", "hdr_dom", "hdr_sub", "path", "path_beg", "path_end",
                "path_dir", "path_sub", "src", "method",
            ];
            return Err(format!(
                "unknown fetch method '{f}' in ACL expression '{fetch}'{}",
                super::diag::did_you_mean(f, supported)
            ));
        }
    };
    let criterion = match method.as_deref() {
        None | Some("str") => base,
        Some(m) => apply_method(base, m).ok_or_else(|| match m {
            "reg" => "regex matching ('-m reg') is not supported by lbd".to_string(),
            _ => format!("matching method '-m {m}' is not supported by lbd for '{fname}'"),
        })?,
    };
    let raw: Vec<String> = words[i..].to_vec();
    let values = match criterion {
        Criterion::Src => raw
            .iter()
            .map(|v| value::network(v).map(|(ip, len)| AclValue::Net(ip, len)))
            .collect::<Result<Vec<_>, _>>()?,
        _ => raw.into_iter().map(AclValue::Str).collect(),
    };
    if matches!(criterion, Criterion::SslFc) && !values.is_empty() {
        return Err("fetch method 'ssl_fc' is a boolean and takes no pattern".to_string());
    }
    if values.is_empty()
        && !matches!(
            criterion,
            Criterion::AlwaysTrue | Criterion::AlwaysFalse | Criterion::SslFc
        )
    {
        return Err("no pattern to match".to_string());
    }
    Ok(Acl {
        name: name.to_string(),
        criterion,
        ignore_case,
        values,
        loc: loc.clone(),
    })
}

/// `hdr(x) -m beg` and friends map onto the dedicated criteria.
fn apply_method(base: Criterion, m: &str) -> Option<Criterion> {
    use Criterion::*;
    Some(match (base, m) {
        (Hdr(h), "beg") => HdrBeg(h),
        (Hdr(h), "end") => HdrEnd(h),
        (Hdr(h), "dom") => HdrDom(h),
        (Hdr(h), "sub") => HdrSub(h),
        (Path, "beg") => PathBeg,
        (Path, "end") => PathEnd,
        (Path, "dir") => PathDir,
        (Path, "sub") => PathSub,
        _ => return None,
    })
}

/// HAProxy's predefined acls that lbd can evaluate.
fn predefined(name: &str, loc: &Loc) -> Option<Acl> {
    let (criterion, values): (Criterion, Vec<AclValue>) = match name {
        "TRUE" => (Criterion::AlwaysTrue, vec![]),
        "FALSE" => (Criterion::AlwaysFalse, vec![]),
        "LOCALHOST" => (
            Criterion::Src,
            vec![
                AclValue::Net("127.0.0.0".parse().ok()?, 8),
                AclValue::Net("::1".parse().ok()?, 128),
            ],
        ),
        m if m.starts_with("METH_") => {
            let meth = &m[5..];
            if ![
                "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT", "TRACE",
            ]
            .contains(&meth)
            {
                return None;
            }
            let mut v = vec![AclValue::Str(meth.to_string())];
            if meth == "GET" {
                v.push(AclValue::Str("HEAD".into()));
            }
            (Criterion::Method, v)
        }
        _ => return None,
    };
    Some(Acl {
        name: name.to_string(),
        criterion,
        ignore_case: false,
        values,
        loc: loc.clone(),
    })
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

    #[test]
    fn every_criterion_parses() {
        for (expr, want) in [
            ("hdr(Host) a", Criterion::Hdr("host".into())),
            ("hdr_beg(host) a", Criterion::HdrBeg("host".into())),
            ("hdr_end(host) a", Criterion::HdrEnd("host".into())),
            ("hdr_dom(host) a", Criterion::HdrDom("host".into())),
            ("hdr_sub(x-a) a", Criterion::HdrSub("x-a".into())),
            ("path /a", Criterion::Path),
            ("path_beg /a", Criterion::PathBeg),
            ("path_end .jpg", Criterion::PathEnd),
            ("path_dir api", Criterion::PathDir),
            ("path_sub x", Criterion::PathSub),
            ("method GET", Criterion::Method),
            ("src 10.0.0.0/8", Criterion::Src),
            ("hdr(host) -m beg a", Criterion::HdrBeg("host".into())),
            ("path -m beg /a", Criterion::PathBeg),
        ] {
            assert_eq!(
                parse_acl("a", &w(expr), &loc()).unwrap().criterion,
                want,
                "{expr}"
            );
        }
    }

    #[test]
    fn ignore_case_and_values() {
        let a = parse_acl("h", &w("hdr(host) -i a.com b.com"), &loc()).unwrap();
        assert!(a.ignore_case);
        assert_eq!(
            a.values,
            [AclValue::Str("a.com".into()), AclValue::Str("b.com".into())]
        );
        let s = parse_acl("s", &w("src 10.0.0.0/8 192.168.1.1"), &loc()).unwrap();
        assert_eq!(
            s.values[1],
            AclValue::Net("192.168.1.1".parse().unwrap(), 32)
        );
    }

    #[test]
    fn bad_acls() {
        assert!(parse_acl("a", &w("nosuch x"), &loc())
            .unwrap_err()
            .contains("unknown fetch method 'nosuch'"));
        assert_eq!(
            parse_acl("a", &w("ssl_fc"), &loc()).unwrap().criterion,
            Criterion::SslFc
        );
        assert!(parse_acl("a", &w("ssl_fc_sni x"), &loc())
            .unwrap_err()
            .contains("not supported by lbd"));
        assert!(parse_acl("a", &w("path -m reg ^/x"), &loc())
            .unwrap_err()
            .contains("regex"));
        assert!(parse_acl("a", &w("path"), &loc())
            .unwrap_err()
            .contains("no pattern"));
        assert!(parse_acl("a", &w("src nope"), &loc()).is_err());
        assert!(parse_acl("a", &w("path -z x"), &loc())
            .unwrap_err()
            .contains("unknown flag"));
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
            matches!(&c.any_of[0][0].acl, TermAcl::Anonymous(a) if a.criterion == Criterion::PathBeg)
        );
    }

    #[test]
    fn predefined_acls() {
        let c = parse_condition(false, &w("METH_GET"), &Default::default(), &loc(), "x").unwrap();
        assert!(
            matches!(&c.any_of[0][0].acl, TermAcl::Anonymous(a) if a.criterion == Criterion::Method)
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
