//! `option NAME` and `no option NAME`: the option table and its parsers.

use super::{Parser, Target, R};
use crate::config::diag::did_you_mean;
use crate::config::keywords::{self, Caps, How, Keyword};
use crate::config::model::*;
use crate::config::value;

/// An option's parser: the words after `option` (the name first), and on/off (`no`).
pub(crate) type OptionFn = fn(&mut Parser<'_>, &[String], Target, bool) -> R;

const DOC: &str = "options";

type K = Keyword<OptionFn>;

const fn kw(name: &'static str, caps: Caps, parse: OptionFn) -> K {
    Keyword::new(name, caps, parse, DOC)
}

/// The options: supported first (in `did you mean` order), then known ones. An option
/// in the wrong kind of proxy is ignored with a warning.
pub(crate) static KEYWORDS: &[K] = &[
    kw("httpchk", Caps::DBL, httpchk),
    kw("tcp-check", Caps::DBL, tcp_check),
    kw("spop-check", Caps::DBL, spop_check),
    kw("ldap-check", Caps::DBL, ldap_check),
    kw("smtpchk", Caps::DBL, smtpchk),
    kw("redis-check", Caps::DBL, redis_check),
    kw("pgsql-check", Caps::DBL, pgsql_check),
    kw("mysql-check", Caps::DBL, mysql_check),
    kw("ssl-hello-chk", Caps::DBL, ssl_hello_chk),
    kw("external-check", Caps::DBL, external_check),
    kw("forwardfor", Caps::DFBL, forwardfor),
    kw("originalto", Caps::DFBL, originalto),
    kw("redispatch", Caps::DBL, redispatch),
    kw("allbackups", Caps::DBL, allbackups),
    kw("httplog", Caps::DFL, httplog),
    kw("tcplog", Caps::DFL, tcplog),
    kw("httpslog", Caps::DFL, httpslog),
    kw("http-server-close", Caps::DFBL, http_server_close),
    kw("httpclose", Caps::DFBL, httpclose),
    kw("http-keep-alive", Caps::DFBL, http_keep_alive),
    kw("log-health-checks", Caps::DBL, log_health_checks),
    kw("dontlognull", Caps::DFL, dontlognull),
    kw("forceclose", Caps::DFBL, httpclose),
    kw("http-tunnel", Caps::DFBL, http_tunnel),
    kw("http-buffer-request", Caps::DFBL, buffer_request),
    kw(
        "http-restrict-req-hdr-names",
        Caps::DFBL,
        restrict_hdr_names,
    ),
    K::unsupported("persist"),
    K::unsupported("forwarded"),
    K::unsupported("accept-invalid-http-request"),
    K::unsupported("accept-invalid-http-response"),
    K::unsupported("accept-unsafe-violations-in-http-request"),
    K::unsupported("accept-unsafe-violations-in-http-response"),
    K::unsupported("http-use-proxy-header"),
    K::unsupported("transparent"),
    K::unsupported("prefer-last-server"),
    K::unsupported("h1-case-adjust-bogus-client"),
    K::unsupported("h1-case-adjust-bogus-server"),
    K::unsupported("disable-h2-upgrade"),
    K::unsupported("http-drop-request-trailers"),
    K::unsupported("http-drop-response-trailers"),
    K::ignored("clitcpka"),
    K::ignored("srvtcpka"),
    K::ignored("tcpka"),
    K::ignored("logasap"),
    K::ignored("dontlog-normal"),
    K::ignored("log-separate-errors"),
    K::ignored("contstats"),
    K::ignored("socket-stats"),
    K::ignored("checkcache"),
    K::ignored("tcp-smart-accept"),
    K::ignored("tcp-smart-connect"),
    K::ignored("splice-auto"),
    K::ignored("splice-request"),
    K::ignored("splice-response"),
    K::ignored("http-pretend-keepalive"),
    K::ignored("abortonclose"),
    K::ignored("http-ignore-probes"),
    K::ignored("http-use-htx"),
    K::ignored("nolinger"),
    K::ignored("independent-streams"),
    K::ignored("http-no-delay"),
    K::ignored("idle-close-on-response"),
    K::ignored("http_proxy"),
    K::ignored("http-proxy"),
    K::ignored("log-health-check"),
    K::ignored("allbackup"),
];

impl<'e> Parser<'e> {
    /// `option NAME [args]` (`on`) or `no option NAME`.
    pub(super) fn option(&mut self, w: &[String], t: Target, on: bool) -> R {
        let Some(name) = w.first() else {
            return Err("'option' expects an option name.".into());
        };
        let name = name.as_str();
        let Some(k) = keywords::find(KEYWORDS, name) else {
            return Err(format!(
                "unknown option '{name}'{}",
                did_you_mean(name, keywords::hints(KEYWORDS, Caps::DFBL))
            ));
        };
        let what = format!("option {name}");
        match k.how {
            How::Parse(parse) => {
                if self.cap(t, &what, k.caps)? {
                    parse(self, w, t, on)?;
                }
                Ok(())
            }
            ref how => self.refuse("", &what, how),
        }
    }
}

fn opts<'p>(p: &'p mut Parser<'_>, t: Target) -> &'p mut Options {
    &mut p.px(t).options
}

fn redispatch(p: &mut Parser<'_>, _: &[String], t: Target, on: bool) -> R {
    opts(p, t).redispatch = on;
    Ok(())
}

fn allbackups(p: &mut Parser<'_>, _: &[String], t: Target, on: bool) -> R {
    opts(p, t).allbackups = on;
    Ok(())
}

fn httplog(p: &mut Parser<'_>, w: &[String], t: Target, on: bool) -> R {
    opts(p, t).httplog = on;
    let mut f = LogFormat::Http;
    if let Some(x) = w.get(1) {
        if x != "clf" {
            return Err(format!(
                "'option httplog' : unknown argument '{x}' (only 'clf' is accepted)."
            ));
        }
        f = LogFormat::HttpClf;
    }
    set_format(p, t, on, f);
    Ok(())
}

fn httpslog(p: &mut Parser<'_>, _: &[String], t: Target, on: bool) -> R {
    opts(p, t).httplog = on;
    set_format(p, t, on, LogFormat::Https);
    Ok(())
}

fn tcplog(p: &mut Parser<'_>, _: &[String], t: Target, on: bool) -> R {
    opts(p, t).tcplog = on;
    set_format(p, t, on, LogFormat::Tcp);
    Ok(())
}

/// `option httplog|httpslog|tcplog` set the access-log format (the last of these and
/// `log-format` wins); `no option ...` drops it.
fn set_format(p: &mut Parser<'_>, t: Target, on: bool, f: LogFormat) {
    let px = p.px(t);
    if on {
        px.log_format = Some(f);
    } else if px.log_format.as_ref() == Some(&f) {
        px.log_format = None;
    }
}

fn log_health_checks(p: &mut Parser<'_>, _: &[String], t: Target, on: bool) -> R {
    opts(p, t).log_health_checks = on;
    Ok(())
}

/// `option http-restrict-req-hdr-names preserve|delete|reject`.
fn restrict_hdr_names(p: &mut Parser<'_>, w: &[String], t: Target, on: bool) -> R {
    let bad = || {
        "'option http-restrict-req-hdr-names' expects 'preserve', 'delete' or 'reject' as argument."
            .to_string()
    };
    if !on {
        return Err("'no option http-restrict-req-hdr-names' is not supported.".into());
    }
    let mode = match (w.get(1).map(String::as_str), w.get(2)) {
        (Some("preserve"), None) => HdrNames::Preserve,
        (Some("delete"), None) => HdrNames::Delete,
        (Some("reject"), None) => HdrNames::Reject,
        _ => return Err(bad()),
    };
    opts(p, t).restrict_hdr_names = mode;
    Ok(())
}

fn buffer_request(p: &mut Parser<'_>, _: &[String], t: Target, on: bool) -> R {
    opts(p, t).buffer_request = on;
    Ok(())
}

fn dontlognull(p: &mut Parser<'_>, _: &[String], t: Target, on: bool) -> R {
    opts(p, t).dontlognull = on;
    Ok(())
}

fn http_keep_alive(p: &mut Parser<'_>, _: &[String], t: Target, _: bool) -> R {
    opts(p, t).http_conn = HttpConnMode::KeepAlive;
    Ok(())
}

fn http_server_close(p: &mut Parser<'_>, _: &[String], t: Target, on: bool) -> R {
    opts(p, t).http_conn = if on {
        HttpConnMode::ServerClose
    } else {
        HttpConnMode::KeepAlive
    };
    Ok(())
}

/// `httpclose` and `forceclose`.
fn httpclose(p: &mut Parser<'_>, _: &[String], t: Target, on: bool) -> R {
    opts(p, t).http_conn = if on {
        HttpConnMode::Close
    } else {
        HttpConnMode::KeepAlive
    };
    Ok(())
}

fn http_tunnel(p: &mut Parser<'_>, _: &[String], _: Target, _: bool) -> R {
    p.warn("'option http-tunnel' is deprecated in HAProxy and ignored by lbd; WebSocket upgrades are tunnelled anyway.".into());
    Ok(())
}

fn tcp_check(p: &mut Parser<'_>, _: &[String], t: Target, on: bool) -> R {
    let px = p.px(t);
    px.options.tcp_check = on;
    if on {
        px.check.proto = check::CheckProto::TcpCheck;
        px.check.builtin = None;
    } else if px.check.proto == check::CheckProto::TcpCheck {
        px.check.proto = check::CheckProto::Connect;
    }
    Ok(())
}

/// A protocol check option: its ruleset replaces the section's check.
fn builtin(
    p: &mut Parser<'_>,
    w: &[String],
    t: Target,
    on: bool,
    rules: Result<check::CheckRules, String>,
) -> R {
    if !on {
        return Err(format!(
            "negation/default is not supported for option '{}'.",
            w[0]
        ));
    }
    let rules = rules?;
    p.px(t).options.tcp_check = false;
    p.set_builtin(t, rules);
    Ok(())
}

fn no_args(w: &[String]) -> Result<(), String> {
    match w.get(1) {
        Some(x) => Err(format!("'option {}' : unexpected argument '{x}'.", w[0])),
        None => Ok(()),
    }
}

fn redis_check(p: &mut Parser<'_>, w: &[String], t: Target, on: bool) -> R {
    no_args(w)?;
    builtin(p, w, t, on, Ok(super::check_protos::redis()))
}

fn ssl_hello_chk(p: &mut Parser<'_>, w: &[String], t: Target, on: bool) -> R {
    no_args(w)?;
    builtin(p, w, t, on, Ok(super::check_protos::ssl_hello()))
}

fn ldap_check(p: &mut Parser<'_>, w: &[String], t: Target, on: bool) -> R {
    no_args(w)?;
    builtin(p, w, t, on, Ok(super::check_protos::ldap()))
}

fn spop_check(p: &mut Parser<'_>, w: &[String], t: Target, on: bool) -> R {
    no_args(w)?;
    builtin(p, w, t, on, Ok(super::check_protos::spop()))
}

fn smtpchk(p: &mut Parser<'_>, w: &[String], t: Target, on: bool) -> R {
    if let Some(x) = w.get(3) {
        return Err(format!("'option smtpchk' : unexpected argument '{x}'."));
    }
    builtin(p, w, t, on, Ok(super::check_protos::smtp(w)))
}

fn pgsql_check(p: &mut Parser<'_>, w: &[String], t: Target, on: bool) -> R {
    if let Some(x) = w.get(3) {
        return Err(format!("'option pgsql-check' : unexpected argument '{x}'."));
    }
    builtin(p, w, t, on, super::check_protos::pgsql(w))
}

fn mysql_check(p: &mut Parser<'_>, w: &[String], t: Target, on: bool) -> R {
    if let Some(x) = w.get(4) {
        return Err(format!("'option mysql-check' : unexpected argument '{x}'."));
    }
    builtin(p, w, t, on, super::check_protos::mysql(w))
}

/// `option external-check`: checks run `external-check command` (the last check option
/// wins).
fn external_check(p: &mut Parser<'_>, w: &[String], t: Target, on: bool) -> R {
    if !on {
        return Err("negation/default is not supported for option 'external-check'.".into());
    }
    if let Some(x) = w.get(1) {
        return Err(format!(
            "'option external-check' cannot handle unexpected argument '{x}'."
        ));
    }
    let px = p.px(t);
    px.options.tcp_check = false;
    px.check.proto = check::CheckProto::External;
    px.check.builtin = None;
    Ok(())
}

fn forwardfor(p: &mut Parser<'_>, w: &[String], t: Target, on: bool) -> R {
    let ff = if on {
        Some(added_header(w, "X-Forwarded-For", true)?)
    } else {
        None
    };
    opts(p, t).forwardfor = ff;
    Ok(())
}

/// `option originalto [except NET] [header NAME]`: the destination address in
/// `X-Original-To`.
fn originalto(p: &mut Parser<'_>, w: &[String], t: Target, on: bool) -> R {
    let ot = if on {
        Some(added_header(w, "X-Original-To", false)?)
    } else {
        None
    };
    opts(p, t).originalto = ot;
    Ok(())
}

/// The arguments of `option forwardfor` (`if_none`: it takes `if-none`) and `option
/// originalto`.
fn added_header(w: &[String], header: &str, if_none: bool) -> Result<ForwardFor, String> {
    let name = &w[0];
    let mut ff = ForwardFor {
        except: None,
        header: header.into(),
        if_none: false,
    };
    let mut i = 1;
    while i < w.len() {
        match (w[i].as_str(), w.get(i + 1)) {
            ("except", Some(n)) => {
                ff.except =
                    Some(value::network(n).map_err(|e| format!("'option {name} except' : {e}"))?);
                i += 1;
            }
            ("header", Some(h)) => {
                ff.header = h.clone();
                i += 1;
            }
            ("if-none", _) if if_none => ff.if_none = true,
            (x, _) => {
                let expects = if if_none {
                    "'except', 'header' or 'if-none'"
                } else {
                    "'except' or 'header'"
                };
                return Err(format!(
                    "'option {name}' : unknown or incomplete argument '{x}'; expects {expects}."
                ));
            }
        }
        i += 1;
    }
    Ok(ff)
}

fn httpchk(p: &mut Parser<'_>, w: &[String], t: Target, on: bool) -> R {
    if !on {
        let px = p.px(t);
        if px.check.proto == check::CheckProto::Http {
            px.check.proto = check::CheckProto::Connect;
        }
        return Ok(());
    }
    p.own_http_check(t);
    p.px(t).options.tcp_check = false;
    p.httpchk_send(w, t)
}
