//! Proxy sections (`defaults`, `frontend`, `backend`, `listen`): the keyword table, the
//! capability check and the parsers of the keywords that fit on their line (`balance`
//! and `cookie` included); the others live in their own files.

use super::{arg, Parser, Target, R};
use crate::config::acl;
use crate::config::diag::did_you_mean;
use crate::config::keywords::{self, Caps, How, Keyword};
use crate::config::model::*;
use crate::config::value;

/// A proxy keyword's parser: the words of the line (keyword first) and the proxy.
pub(crate) type ProxyFn = fn(&mut Parser<'_>, &[String], Target) -> R;

const DOC: &str = "proxy-keywords";

type K = Keyword<ProxyFn>;

const fn kw(name: &'static str, caps: Caps, parse: ProxyFn) -> K {
    Keyword::new(name, caps, parse, DOC)
}

const REQ: &str =
    "This directive is not supported anymore since HAProxy 2.1. Use 'http-request' instead.";
const RSP: &str =
    "This directive is not supported anymore since HAProxy 2.1. Use 'http-response' instead.";

/// The proxy keywords: supported first (in `did you mean` order), then known ones. A
/// `hard` keyword in the wrong proxy is an alert; the others are ignored with a warning.
pub(crate) static KEYWORDS: &[K] = &[
    kw("mode", Caps::DFBL, mode),
    kw("bind", Caps::FL.hard(), bind),
    kw("default_backend", Caps::DFL, default_backend),
    kw("use_backend", Caps::FL.hard(), use_backend),
    kw("acl", Caps::FBL.hard(), acl),
    kw("balance", Caps::DBL, balance),
    kw("hash-type", Caps::DBL, hash_type),
    kw("server", Caps::BL.hard(), server),
    kw("server-template", Caps::BL.hard(), |p, w, t| p.server_template(w, t)),
    kw("default-server", Caps::DBL, default_server),
    kw("timeout", Caps::DFBL, timeout),
    kw("maxconn", Caps::DFL, maxconn),
    kw("retries", Caps::DBL, retries),
    kw("option", Caps::DFBL, option),
    kw("http-check", Caps::DBL, http_check),
    kw("tcp-check", Caps::DBL, tcp_check),
    kw("external-check", Caps::DBL, external_check),
    kw("http-request", Caps::DFBL, http_rule),
    kw("http-response", Caps::DFBL, http_rule),
    kw("http-after-response", Caps::DFBL, http_rule),
    kw("tcp-request", Caps::DFBL, |p, w, t| p.tcp_rule(w, t)),
    kw("tcp-response", Caps::DBL, |p, w, t| p.tcp_rule(w, t)),
    kw("cookie", Caps::DBL, cookie),
    kw("dispatch", Caps::BL, dispatch),
    kw("stick-table", Caps::FBL.hard(), stick_table),
    kw("stick", Caps::BL.hard(), stick),
    kw("use-server", Caps::BL.hard(), use_server),
    kw("stats", Caps::DFBL, stats),
    kw("capture", Caps::FL.hard(), capture),
    kw("monitor-uri", Caps::DFL, monitor_uri),
    kw("monitor", Caps::FL.hard(), monitor),
    kw("log", Caps::DFBL, log),
    kw("description", Caps::DFBL, description),
    kw("no", Caps::DFBL, no),
    kw("disabled", Caps::DFBL, disabled),
    kw("enabled", Caps::DFBL, enabled),
    kw("id", Caps::DFBL, id),
    // `redirect ...` is `http-request redirect ...`.
    kw("redirect", Caps::DFBL.no_hint(), redirect),
    kw("errorfile", Caps::DFBL, super::errors::errorfile),
    kw("errorfiles", Caps::DFBL, super::errors::errorfiles),
    kw("errorloc", Caps::DFBL, super::errors::errorloc),
    kw("errorloc302", Caps::DFBL, super::errors::errorloc),
    kw("errorloc303", Caps::DFBL, super::errors::errorloc),
    kw("http-error", Caps::DFBL, super::errors::http_error),
    K::unsupported("compression"),
    K::unsupported("filter"),
    K::unsupported("source"),
    K::unsupported("force-persist"),
    K::unsupported("ignore-persist"),
    K::unsupported("persist"),
    K::unsupported("dynamic-cookie-key"),
    kw("http-reuse", Caps::DBL, http_reuse),
    K::unsupported("http-send-name-header"),
    K::unsupported("rate-limit"),
    K::unsupported("hash-balance-factor"),
    kw("load-server-state-from-file", Caps::DBL, load_server_state),
    kw("server-state-file-name", Caps::DBL, server_state_file_name),
    K::unsupported("email-alert"),
    kw("declare", Caps::FL.hard(), super::capture::declare),
    kw("unique-id-format", Caps::DFL, super::logformat::unique_id_format),
    kw("unique-id-header", Caps::DFL, super::logformat::unique_id_header),
    K::unsupported("use-fcgi-app"),
    K::unsupported("http-restrict-req-hdr-names"),
    K::unsupported("max-keep-alive-queue"),
    K::unsupported("max-session-srv-conns"),
    K::unsupported("guid"),
    K::unsupported("retry-on"),
    K::unsupported("stick-table-expire"),
    K::unsupported("appsession"),
    K::unsupported("transparent"),
    kw("log-format", Caps::DFL, super::logformat::log_format),
    kw("log-format-sd", Caps::DFL, super::logformat::log_format_sd),
    kw("error-log-format", Caps::DFL, super::logformat::error_log_format),
    K::ignored("log-tag"),
    K::ignored("bind-process"),
    K::ignored("grace"),
    K::ignored("backlog"),
    K::ignored("clitcpka-cnt"),
    K::ignored("clitcpka-idle"),
    K::ignored("clitcpka-intvl"),
    K::ignored("srvtcpka-cnt"),
    K::ignored("srvtcpka-idle"),
    K::ignored("srvtcpka-intvl"),
    K::ignored("minconn"),
    K::ignored("log-steps"),
    K::ignored("fullconn"),
    K::removed("block", "The 'block' directive is not supported anymore since HAProxy 2.2. Use 'http-request deny' which uses the exact same syntax."),
    K::removed("reqadd", REQ),
    K::removed("reqrep", REQ),
    K::removed("reqirep", REQ),
    K::removed("reqdel", REQ),
    K::removed("reqidel", REQ),
    K::removed("reqdeny", REQ),
    K::removed("reqideny", REQ),
    K::removed("reqpass", REQ),
    K::removed("reqipass", REQ),
    K::removed("reqallow", REQ),
    K::removed("reqiallow", REQ),
    K::removed("reqtarpit", REQ),
    K::removed("reqitarpit", REQ),
    K::removed("reqsetbe", REQ),
    K::removed("reqisetbe", REQ),
    K::removed("rspadd", RSP),
    K::removed("rsprep", RSP),
    K::removed("rspirep", RSP),
    K::removed("rspdel", RSP),
    K::removed("rspidel", RSP),
    K::removed("rspdeny", RSP),
    K::removed("rspideny", RSP),
    K::removed(
        "contimeout",
        "This directive is not supported anymore since HAProxy 2.1. Use 'timeout connect' instead.",
    ),
    K::removed(
        "clitimeout",
        "This directive is not supported anymore since HAProxy 2.1. Use 'timeout client' instead.",
    ),
    K::removed(
        "srvtimeout",
        "This directive is not supported anymore since HAProxy 2.1. Use 'timeout server' instead.",
    ),
    K::removed(
        "redispatch",
        "This directive is not supported anymore since HAProxy 2.1. Use 'option redispatch' instead.",
    ),
    K::removed(
        "reqtimeout",
        "This directive is not supported anymore since HAProxy 2.1. Use 'timeout http-request' instead.",
    ),
];

impl<'e> Parser<'e> {
    /// Checks that a keyword fits the proxy's capabilities. `hard` keywords are alerts in
    /// the wrong section (they cannot work there); others are warnings and ignored.
    pub(super) fn cap(&mut self, t: Target, kw: &str, caps: Caps) -> Result<bool, String> {
        let p = self.px_ref(t);
        let kind = p.kind;
        if caps.allows(kind) {
            return Ok(true);
        }
        if caps.is_hard() || kind == ProxyKind::Defaults {
            return Err(format!(
                "'{kw}' not allowed in '{}' section.",
                kind.keyword()
            ));
        }
        let name = p.name.clone();
        let missing = if caps.frontend() {
            "frontend"
        } else {
            "backend"
        };
        self.warn(format!(
            "'{kw}' ignored because {} '{name}' has no {missing} capability.",
            kind.keyword()
        ));
        Ok(false)
    }

    /// One line of a proxy section.
    pub(super) fn proxy_kw(&mut self, w: &[String], t: Target) -> R {
        let kw = w[0].as_str();
        match keywords::find(KEYWORDS, kw) {
            Some(&Keyword {
                how: How::Parse(parse),
                caps,
                ..
            }) => {
                if self.cap(t, kw, caps)? {
                    parse(self, w, t)?;
                }
                Ok(())
            }
            Some(k) => self.refuse("", kw, &k.how),
            None => Err(format!(
                "unknown keyword '{kw}' in '{}' section{}",
                self.px_ref(t).kind.keyword(),
                did_you_mean(kw, keywords::hints(KEYWORDS, Caps::DFBL))
            )),
        }
    }
}

fn mode(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    let m = match arg(w, 1)? {
        "http" => Mode::Http,
        "tcp" => Mode::Tcp,
        "health" => {
            return Err("'mode health' is not supported by lbd (removed in HAProxy 2.4).".into())
        }
        m => {
            return Err(format!(
                "unknown proxy mode '{m}'{}",
                match did_you_mean(m, ["http", "tcp"]) {
                    s if s.is_empty() => ".".to_string(),
                    s => s,
                }
            ))
        }
    };
    p.px(t).mode = m;
    Ok(())
}

fn bind(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    p.bind(w, t)
}

fn default_backend(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    let name = arg(w, 1)?.to_string();
    if name.contains("%[") {
        return Err("'default_backend' with a dynamic name is not supported by lbd.".into());
    }
    let loc = p.loc.clone();
    p.px(t).default_backend = Some(Named { name, loc });
    Ok(())
}

fn use_backend(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    let name = arg(w, 1)?.to_string();
    let dynamic = if name.contains('%') {
        Some(crate::sample::Fmt::parse(&name).map_err(|e| format!("'use_backend {name}' : {e}."))?)
            .filter(|f| f.literal().is_none())
    } else {
        None
    };
    let cond = match w.get(2).map(String::as_str) {
        Some(k @ ("if" | "unless")) => p.cond(t, k == "unless", &w[3..], "switching rule")?,
        Some(x) => {
            return Err(format!(
            "'use_backend {name}' expects 'if' or 'unless' followed by a condition (got '{x}')."
        ))
        }
        None => Condition {
            unless: false,
            any_of: vec![vec![]],
        },
    };
    let loc = p.loc.clone();
    p.px(t).use_backends.push(UseBackend {
        backend: name,
        dynamic,
        cond,
        loc,
    });
    Ok(())
}

fn acl(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    let name = arg(w, 1)?.to_string();
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
    {
        return Err(format!(
            "character '{bad}' is not permitted in acl name '{name}'."
        ));
    }
    let acl = acl::parse_acl(&name, &w[2..], &p.loc)
        .map_err(|e| format!("error detected while parsing ACL '{name}' : {e}"))?;
    if let Target::Proxy(i) = t {
        p.states[i].acl_names.insert(name);
    }
    p.px(t).acls.push(acl);
    Ok(())
}

fn balance(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    let b = parse_balance(&w[1..])?;
    p.px(t).balance = b;
    p.px(t).balance_set = true;
    Ok(())
}

/// `dispatch ADDR:PORT` (the port is mandatory).
fn dispatch(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    let a = arg(w, 1)?;
    if let Some(x) = w.get(2) {
        return Err(format!("'dispatch' : unexpected argument '{x}'."));
    }
    let (_, addr, has_port) = value::server_addr(a).map_err(|e| format!("'dispatch' : {e}"))?;
    if !has_port || addr.port() == 0 {
        return Err(format!("'dispatch' : missing port number: '{a}'"));
    }
    p.px(t).dispatch = Some(addr);
    Ok(())
}

fn hash_type(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    let h = match arg(w, 1)? {
        "map-based" => HashType::MapBased,
        "consistent" => HashType::Consistent,
        x => {
            return Err(format!(
                "'hash-type' expects 'map-based' or 'consistent' (got '{x}')."
            ))
        }
    };
    for f in &w[2..] {
        if !matches!(
            f.as_str(),
            "sdbm" | "djb2" | "wt6" | "crc32" | "none" | "avalanche"
        ) {
            return Err(format!("'hash-type' : unknown hash function '{f}'."));
        }
    }
    p.px(t).hash_type = h;
    Ok(())
}

fn server(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    p.server(w, t)
}

fn default_server(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    let mut s = p.px_ref(t).default_server.clone();
    p.server_params(&w[1..], &mut s, "default-server")?;
    p.px(t).default_server = s;
    Ok(())
}

fn timeout(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    p.timeout(w, t)
}

fn maxconn(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    let v = value::int_in(arg(w, 1)?, 0, u32::MAX as u64, "'maxconn'")? as u32;
    p.px(t).maxconn = if v == 0 { None } else { Some(v) };
    Ok(())
}

/// `load-server-state-from-file global|local|none`.
fn load_server_state(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    p.px(t).load_server_state = match w.get(1).map(String::as_str) {
        Some("global") => LoadServerState::Global,
        Some("local") => LoadServerState::Local,
        Some("none") => LoadServerState::None,
        x => {
            return Err(format!(
                "'load-server-state-from-file' expects 'global', 'local' or 'none'. Got '{}'",
                x.unwrap_or("")
            ))
        }
    };
    Ok(())
}

/// `server-state-file-name [use-backend-name|FILE]`.
fn server_state_file_name(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    if w.len() > 2 {
        return Err("'server-state-file-name' expects only one argument.".into());
    }
    p.px(t).server_state_file_name = match w.get(1).map(String::as_str) {
        None | Some("use-backend-name") => None,
        Some(f) => Some(f.to_string()),
    };
    Ok(())
}

fn retries(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    p.px(t).retries = value::int_in(arg(w, 1)?, 0, 1000, "'retries'")? as u32;
    Ok(())
}

/// `http-reuse never|safe|aggressive|always`.
fn http_reuse(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    let mode = match (w.get(1).map(String::as_str), w.get(2)) {
        (Some("never"), None) => HttpReuse::Never,
        (Some("safe"), None) => HttpReuse::Safe,
        (Some("aggressive"), None) => HttpReuse::Aggressive,
        (Some("always"), None) => HttpReuse::Always,
        _ => {
            return Err(
                "'http-reuse' expects one of 'never', 'safe', 'aggressive', 'always'.".into(),
            )
        }
    };
    p.px(t).options.http_reuse = mode;
    Ok(())
}

fn option(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    p.option(&w[1..], t, true)
}

/// `no option NAME` and `no log`.
fn no(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    match w.get(1).map(String::as_str) {
        Some("option") => p.option(&w[2..], t, false),
        Some("log") => {
            let px = p.px(t);
            px.logs.clear();
            px.log_global = false;
            Ok(())
        }
        Some(x) => Err(format!(
            "'no {x}' is not supported; 'no' applies to 'option' and 'log'."
        )),
        None => Err("'no' expects 'option' or 'log'.".into()),
    }
}

fn http_check(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    p.http_check(&w[1..], t)
}

fn tcp_check(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    p.tcp_check(&w[1..], t)
}

/// `external-check command PATH` / `external-check path PATHS`.
fn external_check(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    let kw = &w[0];
    let Some(what) = w.get(1) else {
        return Err(format!("missing argument after '{kw}'."));
    };
    if !matches!(what.as_str(), "command" | "path") {
        return Err(format!(
            "'{kw}' only supports 'command' and 'path'. but got '{what}'."
        ));
    }
    if let Some(x) = w.get(3) {
        return Err(format!("'{kw}' cannot handle unexpected argument '{x}'."));
    }
    let v = match w.get(2) {
        Some(v) if !v.is_empty() => v.clone(),
        _ => return Err(format!("missing argument after '{what}'.")),
    };
    let c = &mut p.px(t).check;
    if what == "command" {
        c.ext_command = Some(v);
    } else {
        c.ext_path = Some(v);
    }
    Ok(())
}

/// `redirect ...`, the same as `http-request redirect ...`.
fn redirect(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    let mut words = vec!["http-request".to_string()];
    words.extend(w.iter().cloned());
    if let Some(rule) = p.http_rule(&words, t)? {
        p.px(t).http_request.push(rule);
    }
    Ok(())
}

/// `http-request` and `http-response`.
fn http_rule(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    super::defaults_rules::anonymous(p.px(t), &format!("'{}'", w[0]))?;
    super::defaults_rules::explicit_args(p.px(t), w)?;
    if let Some(mut rule) = p.http_rule(w, t)? {
        p.capture_slot(&mut rule, t)?;
        let px = p.px(t);
        match w[0].as_str() {
            "http-request" => px.http_request.push(rule),
            "http-response" => px.http_response.push(rule),
            _ => px.http_after_response.push(rule),
        }
    }
    Ok(())
}

fn cookie(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    let c = parse_cookie(&w[1..])?;
    p.px(t).cookie = Some(c);
    Ok(())
}

fn stick_table(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    let st = p.stick_table(&w[1..])?;
    p.px(t).stick_table = Some(st);
    Ok(())
}

/// `monitor-uri URI`.
fn monitor_uri(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    let uri = arg(w, 1)?.to_string();
    p.px(t).monitor_uri = Some(uri);
    Ok(())
}

/// `monitor fail if|unless COND`.
fn monitor(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    let words: Vec<&str> = w[1..].iter().map(String::as_str).collect();
    let cond = match words.as_slice() {
        ["fail", k @ ("if" | "unless"), ..] => {
            p.cond(t, *k == "unless", &w[3..], "monitor fail")?
        }
        _ => {
            return Err(
                "'monitor' expects 'fail' followed by 'if' or 'unless' and a condition.".into(),
            )
        }
    };
    p.px(t).monitor_fail.push(cond);
    Ok(())
}

/// `capture request header NAME len N` / `capture response header NAME len N`
/// (`capture cookie` is not supported).
fn capture(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    let usage = "'capture' expects 'request header <name> len <length>' or 'response header <name> len <length>'.";
    let words: Vec<&str> = w[1..].iter().map(String::as_str).collect();
    let (dir, name, len) = match words.as_slice() {
        [d @ ("request" | "response"), "header", name, "len", len] => (*d, *name, *len),
        ["cookie", ..] => return Err("'capture cookie' is not supported by lbd.".into()),
        _ => return Err(usage.into()),
    };
    let len = value::int_in(len, 1, 65535, "'capture ... len'")? as usize;
    let c = Capture {
        name: name.to_ascii_lowercase(),
        len,
    };
    let px = p.px(t);
    if dir == "request" {
        px.capture_request.push(c);
    } else {
        px.capture_response.push(c);
    }
    Ok(())
}

fn stick(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    let r = p.stick_rule(w, t)?;
    p.px(t).stick_rules.push(r);
    Ok(())
}

/// `use-server NAME if|unless COND`.
fn use_server(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    let Some(name) = w.get(1) else {
        return Err("'use-server' expects a server name.".into());
    };
    let unless = match w.get(2).map(String::as_str) {
        Some("if") => false,
        Some("unless") => true,
        _ => {
            return Err(
                "'use-server' requires either 'if' or 'unless' followed by a condition.".into(),
            )
        }
    };
    if name.contains("%[") {
        return Err("'use-server' with a log-format server name is not supported by lbd.".into());
    }
    let cond = p.cond(t, unless, &w[3..], "a 'use-server' rule")?;
    let loc = p.loc.clone();
    p.px(t).use_servers.push((name.clone(), cond, loc));
    Ok(())
}

fn stats(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    p.stats(w, t)
}

fn log(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    match w.get(1).map(String::as_str) {
        Some("global") => p.px(t).log_global = true,
        _ => {
            if let Some(target) = p.log_target(&w[1..])? {
                p.px(t).logs.push(target);
            }
        }
    }
    Ok(())
}

fn description(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    p.px(t).description = Some(w[1..].join(" "));
    Ok(())
}

fn disabled(p: &mut Parser<'_>, _: &[String], t: Target) -> R {
    p.px(t).disabled = true;
    Ok(())
}

fn enabled(p: &mut Parser<'_>, _: &[String], t: Target) -> R {
    p.px(t).disabled = false;
    Ok(())
}

fn id(_: &mut Parser<'_>, w: &[String], _: Target) -> R {
    value::int_in(arg(w, 1)?, 1, i32::MAX as u64, "'id'")?;
    Ok(())
}

fn parse_balance(w: &[String]) -> Result<Balance, String> {
    let Some(algo) = w.first() else {
        return Err("'balance' expects an algorithm name.".into());
    };
    let rest = &w[1..];
    let (name, arg) =
        value::call(algo).ok_or_else(|| format!("'balance' : invalid algorithm '{algo}'."))?;
    let no_args = |b: Balance| -> Result<Balance, String> {
        if let Some(x) = rest.first() {
            return Err(format!("'balance {name}' : unexpected argument '{x}'."));
        }
        Ok(b)
    };
    match (name, arg) {
        ("roundrobin", None) => no_args(Balance::RoundRobin),
        ("static-rr", None) => no_args(Balance::StaticRr),
        ("leastconn", None) => no_args(Balance::LeastConn),
        ("first", None) => no_args(Balance::First),
        ("source", None) => no_args(Balance::Source),
        ("random", a) => {
            let n = match a {
                None => 2,
                Some(n) => value::int_in(n, 1, 100, "'balance random' draws")? as u32,
            };
            no_args(Balance::Random(n))
        }
        ("uri", None) => {
            let (mut whole, mut len, mut depth) = (false, 0, 0);
            let mut i = 0;
            while i < rest.len() {
                match (rest[i].as_str(), rest.get(i + 1)) {
                    ("whole", _) => whole = true,
                    ("len", Some(n)) => {
                        len = value::int_in(n, 1, 1 << 20, "'balance uri len'")? as usize;
                        i += 1;
                    }
                    ("depth", Some(n)) => {
                        depth = value::int_in(n, 1, 1 << 20, "'balance uri depth'")? as usize;
                        i += 1;
                    }
                    ("path-only", _) => {}
                    (x, _) => return Err(format!("'balance uri' : unknown or incomplete option '{x}'.")),
                }
                i += 1;
            }
            Ok(Balance::Uri { whole, len, depth })
        }
        ("url_param", None) => {
            let Some(p) = rest.first() else {
                return Err("'balance url_param' requires a URL parameter name.".into());
            };
            if let Some(x) = rest.get(1) {
                return Err(format!("'balance url_param' : option '{x}' is not supported by lbd."));
            }
            Ok(Balance::UrlParam(p.clone()))
        }
        ("hdr", Some(h)) if !h.is_empty() => {
            let domain_only = match rest.first().map(String::as_str) {
                Some("use_domain_only") => true,
                Some(x) => return Err(format!("'balance hdr()' : unknown option '{x}'.")),
                None => false,
            };
            Ok(Balance::Hdr { name: h.to_ascii_lowercase(), domain_only })
        }
        ("rdp-cookie" | "hash" | "sticky" | "log-hash" | "log-sticky", _) => {
            Err(format!("'balance {name}' is not supported by lbd."))
        }
        _ => Err(format!(
            "'balance' only supports 'roundrobin', 'static-rr', 'leastconn', 'first', 'source', 'uri', 'url_param', 'hdr(name)' and 'random' options (got '{algo}'){}",
            did_you_mean(name, ["roundrobin", "static-rr", "leastconn", "first", "source", "uri", "url_param", "random"])
        )),
    }
}

fn parse_cookie(w: &[String]) -> Result<CookieCfg, String> {
    let Some(name) = w.first() else {
        return Err("'cookie' expects <cookie_name> as argument.".into());
    };
    let mut c = CookieCfg {
        name: name.clone(),
        mode: CookieMode::Passive,
        indirect: false,
        nocache: false,
        postonly: false,
        preserve: false,
        httponly: false,
        secure: false,
        domains: Vec::new(),
        maxidle: None,
        maxlife: None,
        attrs: Vec::new(),
    };
    let mut i = 1;
    while i < w.len() {
        let val = w.get(i + 1);
        let need = || val.ok_or_else(|| format!("'cookie' : '{}' expects an argument.", w[i]));
        match w[i].as_str() {
            "insert" => c.mode = CookieMode::Insert,
            "rewrite" => c.mode = CookieMode::Rewrite,
            "prefix" => c.mode = CookieMode::Prefix,
            "indirect" => c.indirect = true,
            "nocache" => c.nocache = true,
            "postonly" => c.postonly = true,
            "preserve" => c.preserve = true,
            "httponly" => c.httponly = true,
            "secure" => c.secure = true,
            "domain" => {
                c.domains.push(need()?.clone());
                i += 1;
            }
            "maxidle" => {
                c.maxidle = Some(value::time(need()?).map_err(|e| format!("'cookie maxidle' : {e}"))?);
                i += 1;
            }
            "maxlife" => {
                c.maxlife = Some(value::time(need()?).map_err(|e| format!("'cookie maxlife' : {e}"))?);
                i += 1;
            }
            "attr" => {
                c.attrs.push(need()?.clone());
                i += 1;
            }
            "dynamic" => return Err("'cookie ... dynamic' is not supported by lbd.".into()),
            x => {
                return Err(format!(
                    "'cookie' supports 'rewrite', 'insert', 'prefix', 'indirect', 'nocache', 'postonly', 'preserve', 'httponly', 'secure', 'domain', 'maxidle', 'maxlife' and 'attr' options (got '{x}')."
                ))
            }
        }
        i += 1;
    }
    if c.indirect && c.mode == CookieMode::Passive {
        c.mode = CookieMode::Rewrite;
    }
    Ok(c)
}
