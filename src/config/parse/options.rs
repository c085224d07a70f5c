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
    kw("forwardfor", Caps::DFBL, forwardfor),
    kw("originalto", Caps::DFBL, originalto),
    kw("redispatch", Caps::DBL, redispatch),
    kw("allbackups", Caps::DBL, allbackups),
    kw("httplog", Caps::DFL, httplog),
    kw("tcplog", Caps::DFL, tcplog),
    kw("http-server-close", Caps::DFBL, http_server_close),
    kw("httpclose", Caps::DFBL, httpclose),
    kw("http-keep-alive", Caps::DFBL, http_keep_alive),
    kw("log-health-checks", Caps::DBL, log_health_checks),
    kw("dontlognull", Caps::DFL, dontlognull),
    kw("forceclose", Caps::DFBL, httpclose),
    kw("http-tunnel", Caps::DFBL, http_tunnel),
    K::unsupported("ssl-hello-chk"),
    K::unsupported("mysql-check"),
    K::unsupported("pgsql-check"),
    K::unsupported("redis-check"),
    K::unsupported("smtpchk"),
    K::unsupported("ldap-check"),
    K::unsupported("spop-check"),
    K::unsupported("external-check"),
    K::unsupported("persist"),
    K::unsupported("forwarded"),
    K::unsupported("accept-invalid-http-request"),
    K::unsupported("accept-invalid-http-response"),
    K::unsupported("accept-unsafe-violations-in-http-request"),
    K::unsupported("accept-unsafe-violations-in-http-response"),
    K::unsupported("http-use-proxy-header"),
    K::unsupported("http-restrict-req-hdr-names"),
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
    K::ignored("http-buffer-request"),
    K::ignored("http-ignore-probes"),
    K::ignored("http-use-htx"),
    K::ignored("nolinger"),
    K::ignored("independent-streams"),
    K::ignored("http-no-delay"),
    K::ignored("idle-close-on-response"),
    K::ignored("httpslog"),
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
    if let Some(x) = w.get(1) {
        if x != "clf" {
            return Err(format!(
                "'option httplog' : unknown argument '{x}' (only 'clf' is accepted)."
            ));
        }
    }
    Ok(())
}

fn tcplog(p: &mut Parser<'_>, _: &[String], t: Target, on: bool) -> R {
    opts(p, t).tcplog = on;
    Ok(())
}

fn log_health_checks(p: &mut Parser<'_>, _: &[String], t: Target, on: bool) -> R {
    opts(p, t).log_health_checks = on;
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
        px.http_check.enabled = false;
    }
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
    if on {
        p.own_http_check(t);
    }
    let px = p.px(t);
    let hc = &mut px.http_check;
    hc.enabled = on;
    if !on {
        return Ok(());
    }
    px.options.tcp_check = false;
    // `option httpchk` defines the whole check request again (HAProxy's implicit
    // `http-check send` rule): earlier headers and body go.
    let hc = &mut px.http_check;
    let expect = hc.expect.take();
    hc.reset_request();
    hc.expect = expect;
    match w.len() {
        1 => {}
        2 => hc.uri = w[1].clone(),
        _ => {
            hc.method = w[1].clone();
            hc.uri = w[2].clone();
            if let Some(v) = w.get(3) {
                // The old trick: "HTTP/1.1\r\nHost:\ example.com".
                let mut parts = v.split("\r\n");
                hc.version = parts.next().unwrap_or_default().to_string();
                for h in parts.filter(|h| !h.is_empty()) {
                    let (n, val) = h.split_once(':').ok_or_else(|| {
                        format!("'option httpchk' : invalid header '{h}' in version string.")
                    })?;
                    hc.headers
                        .push((n.trim().to_string(), val.trim().to_string()));
                }
            }
            if w.len() > 4 {
                return Err(format!(
                    "'option httpchk' : unexpected argument '{}'.",
                    w[4]
                ));
            }
        }
    }
    Ok(())
}
