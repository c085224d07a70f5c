//! `http-request` and `http-response` rules (the action table and its parsers),
//! `redirect`, and `http-check`.

use super::{Parser, Target};
use crate::config::diag::did_you_mean;
use crate::config::keywords::{self, Caps, How, Keyword};
use crate::config::model::*;
use crate::config::value;
use crate::sample::{Expr, Fmt, Method, Scope};

/// The rule an action parser reads: `http-request` or `http-response`, the action name.
pub(crate) struct Rule<'a> {
    pub(super) kw: &'a str,
    pub(super) action: &'a str,
    response: bool,
}

/// An action's parser: the rule and the words between the action and the condition.
pub(crate) type ActionFn = fn(&Rule<'_>, &[String]) -> Result<HttpAction, String>;

const DOC: &str = "http-request-and-http-response-actions";

type K = Keyword<ActionFn>;

const fn kw(name: &'static str, caps: Caps, parse: ActionFn) -> K {
    Keyword::new(name, caps, parse, DOC)
}

/// The actions: supported first (in `did you mean` order), each for requests and/or
/// responses, then known ones (all refused).
pub(crate) static ACTIONS: &[K] = &[
    kw("set-header", Caps::RULES, set_add_header),
    kw("add-header", Caps::RULES, set_add_header),
    kw("del-header", Caps::RULES, del_header),
    kw("deny", Caps::RULES, deny),
    kw("return", Caps::RULES, return_),
    kw("use-service", Caps::REQUEST, use_service),
    kw("redirect", Caps::RULES.no_hint(), redirect),
    kw("allow", Caps::RULES, |_, a| no_args(a, HttpAction::Allow)),
    kw("replace-header", Caps::RULES, replace_header),
    kw("replace-value", Caps::RULES, replace_header),
    kw("set-path", Caps::REQUEST, set_uri),
    kw("set-pathq", Caps::REQUEST, set_uri),
    kw("set-query", Caps::REQUEST, set_uri),
    kw("set-uri", Caps::REQUEST, set_uri),
    kw("set-method", Caps::REQUEST, set_uri),
    kw("replace-path", Caps::REQUEST, replace_uri),
    kw("replace-pathq", Caps::REQUEST, replace_uri),
    kw("replace-uri", Caps::REQUEST, replace_uri),
    kw("set-status", Caps::RESPONSE, set_status),
    kw("set-var-fmt(*", Caps::RULES.no_hint(), set_var),
    kw("set-var(*", Caps::RULES.no_hint(), set_var),
    kw("unset-var(*", Caps::RULES.no_hint(), set_var),
    kw("track-sc0", Caps::REQUEST, track_sc),
    kw("track-sc1", Caps::REQUEST, track_sc),
    kw("track-sc2", Caps::REQUEST, track_sc),
    kw("sc-inc-gpc0(*", Caps::RULES.no_hint(), sc_action),
    kw("sc-inc-gpc1(*", Caps::RULES.no_hint(), sc_action),
    kw("sc-set-gpt0(*", Caps::RULES.no_hint(), sc_action),
    kw("auth", Caps::REQUEST, auth),
    kw("set-src", Caps::REQUEST, set_addr),
    kw("set-dst", Caps::REQUEST, set_addr),
    kw("set-src-port", Caps::REQUEST, set_addr),
    kw("set-dst-port", Caps::REQUEST, set_addr),
    kw("capture", Caps::RULES, |r, a| {
        super::capture::parse(r.kw, r.response, a)
    }),
    kw(
        "set-timeout",
        Caps::REQUEST,
        super::http_actions::set_timeout,
    ),
    kw("strict-mode", Caps::RULES, super::http_actions::strict_mode),
    kw("reject", Caps::REQUEST, super::http_actions::close),
    kw("silent-drop", Caps::RULES, super::http_actions::close),
    kw("tarpit", Caps::REQUEST, super::http_actions::tarpit),
    kw(
        "normalize-uri",
        Caps::REQUEST,
        super::http_actions::normalize_uri,
    ),
    kw(
        "wait-for-body",
        Caps::RULES,
        super::http_actions::wait_for_body,
    ),
    K::unsupported("set-log-level").caps(Caps::RULES),
    K::unsupported("set-tos").caps(Caps::RULES),
    K::unsupported("set-mark").caps(Caps::RULES),
    K::unsupported("set-nice").caps(Caps::RULES),
    K::unsupported("cache-use").caps(Caps::RULES),
    K::unsupported("cache-store").caps(Caps::RULES),
    K::unsupported("send-spoe-group").caps(Caps::RULES),
    K::unsupported("wait-for-handshake").caps(Caps::RULES),
    K::unsupported("early-hint").caps(Caps::RULES),
    K::unsupported("do-resolve").caps(Caps::RULES),
    K::unsupported("add-acl").caps(Caps::RULES),
    K::unsupported("del-acl").caps(Caps::RULES),
    K::unsupported("set-map").caps(Caps::RULES),
    K::unsupported("del-map").caps(Caps::RULES),
    K::unsupported("set-bandwidth-limit").caps(Caps::RULES),
    K::unsupported("disable-l7-retry").caps(Caps::RULES),
    // In a request, `use-service` is the supported entry above.
    K::unsupported("use-service").caps(Caps::RESPONSE),
    K::unsupported("set-fc-mark").caps(Caps::RULES),
    K::unsupported("set-fc-tos").caps(Caps::RULES),
    K::unsupported("set-priority-class").caps(Caps::RULES),
    K::unsupported("set-priority-offset").caps(Caps::RULES),
    K::unsupported("sc-add-gpc").caps(Caps::RULES),
    K::unsupported("sc-inc-gpc").caps(Caps::RULES),
    K::unsupported("sc-set-gpt").caps(Caps::RULES),
    K::unsupported("set-retries").caps(Caps::RULES),
    K::unsupported("pause").caps(Caps::RULES),
    K::unsupported("unset-header").caps(Caps::RULES),
    K::unsupported("set-var-fmt").caps(Caps::RULES),
    K::unsupported("set-var").caps(Caps::RULES),
    K::unsupported("unset-var").caps(Caps::RULES),
    K::unsupported("lua.*").caps(Caps::RULES),
];

/// `auth [realm REALM]`.
fn auth(_: &Rule<'_>, args: &[String]) -> Result<HttpAction, String> {
    match args {
        [] => Ok(HttpAction::Auth(None)),
        [k, realm] if k == "realm" => Ok(HttpAction::Auth(Some(realm.clone()))),
        _ => Err("'http-request auth' expects 'realm' followed by a realm name.".into()),
    }
}

fn track_sc(r: &Rule<'_>, args: &[String]) -> Result<HttpAction, String> {
    super::stick::track_sc(r.kw, r.action, args)
}

/// `set-src|set-dst|set-src-port|set-dst-port EXPR`.
fn set_addr(r: &Rule<'_>, args: &[String]) -> Result<HttpAction, String> {
    let (part, e) = super::tcp_rules::addr_action(r.kw, "", r.action, args)?;
    Ok(HttpAction::SetAddr(part, e))
}

fn sc_action(r: &Rule<'_>, args: &[String]) -> Result<HttpAction, String> {
    super::stick::sc_action(r.kw, r.action, args)
}

impl Rule<'_> {
    /// Header values, `lf-string` and the like are HAProxy log-format strings: `%%`
    /// is a literal `%`, `%[...]` a sample expression, `%ci` and friends variables.
    fn fmt(&self, v: &str) -> Result<Fmt, String> {
        Fmt::parse(v).map_err(|e| format!("'{} {}' : {e}.", self.kw, self.action))
    }
}

fn no_args(args: &[String], a: HttpAction) -> Result<HttpAction, String> {
    match args.first() {
        None => Ok(a),
        Some(x) => Err(format!("unexpected argument '{x}'.")),
    }
}

/// `replace-header NAME REGEX FMT` and `replace-value ...`.
fn replace_header(r: &Rule<'_>, args: &[String]) -> Result<HttpAction, String> {
    let [name, regex, with] = args else {
        return Err(format!(
            "'{} {}' expects exactly 3 arguments.",
            r.kw, r.action
        ));
    };
    regex::Regex::new(regex)
        .map_err(|e| format!("'{} {}' : invalid regex '{regex}' : {e}", r.kw, r.action))?;
    Ok(HttpAction::ReplaceHeader {
        name: name.clone(),
        regex: regex.clone(),
        with: r.fmt(with)?,
        items: r.action == "replace-value",
    })
}

fn uri_part(action: &str) -> UriPart {
    match action.split_once('-').map(|x| x.1).unwrap_or("") {
        "path" => UriPart::Path,
        "pathq" => UriPart::PathQ,
        "query" => UriPart::Query,
        "method" => UriPart::Method,
        _ => UriPart::Uri,
    }
}

/// `set-path|set-pathq|set-query|set-uri|set-method FMT`.
fn set_uri(r: &Rule<'_>, args: &[String]) -> Result<HttpAction, String> {
    let [v] = args else {
        return Err(format!(
            "'{} {}' expects exactly 1 argument.",
            r.kw, r.action
        ));
    };
    Ok(HttpAction::SetUri(uri_part(r.action), r.fmt(v)?))
}

/// `replace-path|replace-pathq|replace-uri REGEX FMT`.
fn replace_uri(r: &Rule<'_>, args: &[String]) -> Result<HttpAction, String> {
    let [regex, with] = args else {
        return Err(format!(
            "'{} {}' expects exactly 2 arguments.",
            r.kw, r.action
        ));
    };
    regex::Regex::new(regex)
        .map_err(|e| format!("'{} {}' : invalid regex '{regex}' : {e}", r.kw, r.action))?;
    Ok(HttpAction::ReplaceUri(
        uri_part(r.action),
        regex.clone(),
        r.fmt(with)?,
    ))
}

/// `set-status CODE [reason STR]`.
fn set_status(r: &Rule<'_>, args: &[String]) -> Result<HttpAction, String> {
    let Some(code) = args.first() else {
        return Err(format!("'{} set-status' expects a status code.", r.kw));
    };
    let code = value::int_in(code, 100, 999, "'set-status'")? as u16;
    let reason = match (args.get(1).map(String::as_str), args.get(2)) {
        (None, _) => None,
        (Some("reason"), Some(x)) if args.len() == 3 => Some(x.clone()),
        _ => {
            return Err(format!(
                "'{} set-status' expects a code and optionally 'reason' STRING.",
                r.kw
            ))
        }
    };
    Ok(HttpAction::SetStatus(code, reason))
}

/// `set-var(NAME) EXPR`, `set-var-fmt(NAME) FMT`, `unset-var(NAME)`, with HAProxy's
/// optional condition words after the variable (`ifexists`, `ifnotexists`, ...) refused.
fn set_var(r: &Rule<'_>, args: &[String]) -> Result<HttpAction, String> {
    let (verb, rest) = r.action.split_once('(').unwrap_or((r.action, ""));
    let Some(inner) = rest.strip_suffix(')') else {
        return Err(format!(
            "'{} {verb}' : missing ')' after the variable name.",
            r.kw
        ));
    };
    if inner.contains(',') {
        return Err(format!(
            "'{} {}' : conditions on the variable ('{}') are not supported by lbd.",
            r.kw,
            r.action,
            inner.split_once(',').map(|x| x.1).unwrap_or("")
        ));
    }
    let (scope, name) = Scope::split(inner).map_err(|e| format!("'{} {verb}' : {e}", r.kw))?;
    let name = name.to_string();
    match verb {
        "unset-var" => no_args(args, HttpAction::UnsetVar(scope, name)),
        _ => {
            let Some(v) = args.first() else {
                return Err(format!(
                    "'{} {verb}' expects {}.",
                    r.kw,
                    if verb == "set-var" {
                        "a sample expression"
                    } else {
                        "a format string"
                    }
                ));
            };
            if args.len() > 1 {
                return Err(format!(
                    "'{} {verb}' : unexpected argument '{}' (quote an expression with spaces).",
                    r.kw, args[1]
                ));
            }
            if verb == "set-var-fmt" {
                return Ok(HttpAction::SetVarFmt(scope, name, r.fmt(v)?));
            }
            let expr = Expr::parse(v).map_err(|e| {
                format!(
                    "'{} {verb}' : failed to parse sample expression <{v}> : {e}",
                    r.kw
                )
            })?;
            Ok(HttpAction::SetVar(scope, name, expr))
        }
    }
}

/// `set-header` and `add-header`.
fn set_add_header(r: &Rule<'_>, args: &[String]) -> Result<HttpAction, String> {
    let (kw, action_name) = (r.kw, r.action);
    let (Some(n), Some(v)) = (args.first(), args.get(1)) else {
        return Err(format!("'{kw} {action_name}' expects exactly 2 arguments."));
    };
    let v = r.fmt(v)?;
    if args.len() > 2 {
        return Err(format!("'{kw} {action_name}' expects exactly 2 arguments."));
    }
    Ok(if action_name == "set-header" {
        HttpAction::SetHeader(n.clone(), v)
    } else {
        HttpAction::AddHeader(n.clone(), v)
    })
}

fn del_header(r: &Rule<'_>, args: &[String]) -> Result<HttpAction, String> {
    let kw = r.kw;
    let Some(n) = args.first() else {
        return Err(format!("'{kw} del-header' expects at least 1 argument."));
    };
    let method = match (args.get(1).map(String::as_str), args.get(2)) {
        (None, _) => Method::Str,
        (Some("-m"), Some(m)) if args.len() == 3 => match m.as_str() {
            "str" => Method::Str,
            "beg" => Method::Beg,
            "end" => Method::End,
            "sub" => Method::Sub,
            "reg" => Method::Reg,
            _ => return Err(format!("'{kw} del-header' : '-m {m}' is not a valid matching method; expects 'str', 'beg', 'end', 'sub' or 'reg'.")),
        },
        _ => return Err(format!("'{kw} del-header' expects a name and optionally '-m METHOD'.")),
    };
    if method == Method::Reg {
        regex::Regex::new(n)
            .map_err(|e| format!("'{kw} del-header' : invalid regex '{n}' : {e}"))?;
    }
    Ok(HttpAction::DelHeader(n.clone(), method))
}

fn deny(r: &Rule<'_>, args: &[String]) -> Result<HttpAction, String> {
    let status = if r.response { 502 } else { 403 };
    deny_answer(r, "deny", args, status)
}

/// The answer of `deny` (and `tarpit`): `deny_status N`, `return`'s words.
pub(super) fn deny_answer(
    r: &Rule<'_>,
    act: &str,
    args: &[String],
    status: u16,
) -> Result<HttpAction, String> {
    Ok(match reply(r, act, args, status)? {
        // No answer of its own: the proxy's error page for the status.
        HttpAction::ErrorPage(s, ReplyPage::Proxy) => HttpAction::Deny(s),
        a => HttpAction::DenyWith(Box::new(a)),
    })
}

fn return_(r: &Rule<'_>, args: &[String]) -> Result<HttpAction, String> {
    reply(r, "return", args, 200)
}

/// The answer of `return` and `deny`: `[status N] [content-type T] [default-errorfiles
/// | errorfile FILE | errorfiles NAME | file FILE | lf-file FILE | string S |
/// lf-string FMT] [hdr NAME FMT]...` (`deny_status` is `deny`'s name for `status`).
/// Without a body, `deny` answers with the proxy's error page, `return` with nothing.
fn reply(r: &Rule<'_>, act: &str, args: &[String], mut status: u16) -> Result<HttpAction, String> {
    let kw = r.kw;
    let mut content_type = None;
    let mut body: Option<(&str, Option<Fmt>)> = None;
    let mut page = None;
    let mut headers = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let need = |n: usize| {
            args.get(i + n)
                .cloned()
                .ok_or_else(|| format!("'{kw} {act}' : '{}' expects an argument.", args[i]))
        };
        let word = args[i].as_str();
        if let Some(prev) = body.as_ref().map(|(b, _)| *b).filter(|_| {
            matches!(
                word,
                "default-errorfiles"
                    | "errorfile"
                    | "errorfiles"
                    | "file"
                    | "lf-file"
                    | "string"
                    | "lf-string"
            )
        }) {
            return Err(format!(
                "'{kw} {act}' : unexpected '{word}' argument, '{prev}' already defined."
            ));
        }
        let mut step = 2;
        match word {
            "status" => status = value::int_in(&need(1)?, 200, 599, "'return status'")? as u16,
            "deny_status" if act == "deny" || act == "tarpit" => {
                status = value::int_in(&need(1)?, 200, 599, "'deny_status'")? as u16
            }
            "content-type" => content_type = Some(need(1)?),
            "string" => body = Some(("string", Some(Fmt::literal_text(&need(1)?)))),
            "lf-string" => body = Some(("lf-string", Some(r.fmt(&need(1)?)?))),
            "file" | "lf-file" => {
                let f = need(1)?;
                let text = std::fs::read(&f).map_err(|e| {
                    format!(
                        "'{kw} {act}' : failed to open file '{f}' : {}.",
                        crate::config::io_text(&e)
                    )
                })?;
                let text = String::from_utf8_lossy(&text);
                let fmt = if word == "file" {
                    Fmt::literal_text(&text)
                } else {
                    r.fmt(&text)?
                };
                body = Some((if word == "file" { "file" } else { "lf-file" }, Some(fmt)));
            }
            "default-errorfiles" => {
                body = Some(("default-errorfiles", None));
                page = Some(ReplyPage::Proxy);
                step = 1;
            }
            "errorfile" => {
                let f = need(1)?;
                let p = ErrorPage::parse(
                    &std::fs::read(&f).map_err(|_| format!("'{kw} {act}' : error opening file '{f}'."))?,
                )
                .map_err(|e| format!("'{kw} {act}' : '{f}': {e}"))?;
                body = Some(("errorfile", None));
                page = Some(ReplyPage::File(std::sync::Arc::new(p)));
            }
            "errorfiles" => {
                body = Some(("errorfiles", None));
                page = Some(ReplyPage::Section(need(1)?, None));
            }
            "hdr" => {
                headers.push((need(1)?, r.fmt(&need(2)?)?));
                step = 3;
            }
            x => return Err(format!("'{kw} {act}' : unknown argument '{x}'; expects 'status', 'content-type', 'string', 'lf-string', 'file', 'lf-file', 'errorfile', 'errorfiles', 'default-errorfiles' or 'hdr'.")),
        }
        i += step;
    }
    // `deny` without a body of its own answers with the error page for its status.
    if (act == "deny" || act == "tarpit")
        && body.is_none()
        && content_type.is_none()
        && headers.is_empty()
    {
        page = Some(ReplyPage::Proxy);
        body = Some(("default-errorfiles", None));
    }
    if let Some(page) = page {
        let from = body.as_ref().map_or("default-errorfiles", |(b, _)| *b);
        if !matches!(page, ReplyPage::File(_)) && !ERROR_CODES.contains(&status) {
            return Err(format!(
                "'{kw} {act}' : status code '{status}' not handled by default with '{from}' argument."
            ));
        }
        return Ok(HttpAction::ErrorPage(status, page));
    }
    let body = body.and_then(|(_, b)| b);
    if body.is_some() && content_type.is_none() {
        return Err(format!(
            "'{kw} {act}' : a 'content-type' is required with a body."
        ));
    }
    Ok(HttpAction::Return {
        status,
        content_type,
        body,
        headers,
    })
}

/// `http-error status N ...`'s answer, read as `return`'s.
pub(super) fn reply_of(kw: &str, args: &[String]) -> Result<HttpAction, String> {
    let r = Rule {
        kw,
        action: "status",
        response: false,
    };
    reply(&r, "status", args, 200)
}

fn redirect(r: &Rule<'_>, args: &[String]) -> Result<HttpAction, String> {
    Ok(HttpAction::Redirect(parse_redirect(r.kw, args)?))
}

fn use_service(_: &Rule<'_>, args: &[String]) -> Result<HttpAction, String> {
    match args.first().map(String::as_str) {
        Some("prometheus-exporter") => Ok(HttpAction::UseServicePrometheus),
        Some(s) => Err(format!("'http-request use-service {s}' is not supported by lbd; only 'prometheus-exporter' is.")),
        None => Err("'http-request use-service' expects a service name.".into()),
    }
}

impl<'e> Parser<'e> {
    /// `http-request ACTION ...` or `http-response ACTION ...`, with its condition; `None`
    /// for an action that is ignored.
    pub(super) fn http_rule(
        &mut self,
        w: &[String],
        t: Target,
    ) -> Result<Option<HttpRule>, String> {
        let kw = w[0].as_str();
        let Some(action) = w.get(1) else {
            return Err(format!("'{kw}' expects an action."));
        };
        let action_name = action.as_str();
        // Split off the condition.
        let cond_at = w
            .iter()
            .skip(2)
            .position(|x| x == "if" || x == "unless")
            .map(|p| p + 2);
        let args = &w[2..cond_at.unwrap_or(w.len())];
        let ctx = format!("an '{kw} {action_name}' condition");
        let cond = match cond_at {
            Some(c) => Some(self.cond(t, w[c] == "unless", &w[c + 1..], &ctx)?),
            None => None,
        };
        let response = kw != "http-request";
        // `http-after-response` runs on every response, lbd's own included, and can
        // only change it.
        const AFTER: &[&str] = &[
            "set-header",
            "add-header",
            "del-header",
            "replace-header",
            "replace-value",
            "set-status",
            "set-var",
            "set-var-fmt",
            "unset-var",
            "allow",
        ];
        let base = action_name.split('(').next().unwrap_or(action_name);
        if kw == "http-after-response" && !AFTER.contains(&base) {
            return Err(format!(
                "'http-after-response {action_name}' is not supported by lbd; it takes {}.",
                AFTER.join(", ")
            ));
        }
        let place = if response {
            Caps::RESPONSE
        } else {
            Caps::REQUEST
        };
        let action = match keywords::find_in(ACTIONS, action_name, place) {
            Some(Keyword {
                how: How::Parse(parse),
                ..
            }) => parse(
                &Rule {
                    kw,
                    action: action_name,
                    response,
                },
                args,
            )?,
            // An ignored action drops the rule (with its warning).
            Some(k) => {
                return self
                    .refuse("", &format!("{kw} {action_name}"), &k.how)
                    .map(|_| None)
            }
            None => {
                return Err(format!(
                    "'{kw}' : unknown action '{action_name}'{}",
                    did_you_mean(action_name, keywords::hints(ACTIONS, place))
                ))
            }
        };
        if matches!(action, HttpAction::NormalizeUri(_)) && !self.global.experimental {
            return Err("'normalize-uri' directive is experimental, must be allowed via a global 'expose-experimental-directives'".into());
        }
        Ok(Some(HttpRule {
            action,
            cond,
            loc: self.loc.clone(),
        }))
    }
}

fn parse_redirect(kw: &str, args: &[String]) -> Result<Redirect, String> {
    let (kind, to) = match (args.first().map(String::as_str), args.get(1)) {
        (Some("location"), Some(t)) => (RedirectKind::Location, t.clone()),
        (Some("prefix"), Some(t)) => (RedirectKind::Prefix, t.clone()),
        (Some("scheme"), Some(t)) => (RedirectKind::Scheme, t.clone()),
        _ => {
            return Err(format!(
                "'{kw} redirect' expects 'location', 'prefix' or 'scheme' followed by a value."
            ))
        }
    };
    if to.contains("%[") {
        return Err(format!(
            "'{kw} redirect' : log-format expressions are not supported by lbd (in '{to}')."
        ));
    }
    let mut r = Redirect {
        kind,
        to,
        code: 302,
        drop_query: false,
        append_slash: false,
        set_cookie: None,
        clear_cookie: None,
    };
    let mut i = 2;
    while i < args.len() {
        let v = args.get(i + 1);
        match (args[i].as_str(), v) {
            ("code", Some(c)) => {
                r.code = match c.parse::<u16>() {
                    Ok(c @ (301 | 302 | 303 | 307 | 308)) => c,
                    _ => return Err(format!("'{kw} redirect' : unsupported HTTP code '{c}' (expects 301, 302, 303, 307 or 308).")),
                };
                i += 1;
            }
            ("drop-query", _) => r.drop_query = true,
            ("append-slash", _) => r.append_slash = true,
            ("set-cookie", Some(c)) => {
                r.set_cookie = Some(c.clone());
                i += 1;
            }
            ("clear-cookie", Some(c)) => {
                r.clear_cookie = Some(c.trim_end_matches('=').to_string());
                i += 1;
            }
            (x, _) => {
                return Err(format!(
                    "'{kw} redirect' : unknown or incomplete option '{x}'."
                ))
            }
        }
        i += 1;
    }
    Ok(r)
}
