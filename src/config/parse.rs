//! Sections and keywords: lines of words in, the typed model and diagnostics out.
//!
//! Follows HAProxy's cfgparse: a section keyword opens a section; every other line
//! belongs to the current one. A proxy starts as a copy of the last `defaults` before it
//! (or the one named with `from`). Errors never stop the parse: every line is checked so
//! that one run reports every problem (up to `MAX_ALERTS`).

use super::acl;
use super::diag::{did_you_mean, Diag, Level, MAX_ALERTS};
use super::keywords::{self, Known};
use super::lex;
use super::model::*;
use super::value;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// One configuration text and the name it is reported under.
#[derive(Debug, Clone)]
pub struct Source {
    /// File name for `parsing [name:line]`.
    pub name: Arc<str>,
    /// The text.
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    None,
    Global,
    /// Index into `proxies`.
    Proxy(usize),
    /// Index into `defaults`.
    Defaults(usize),
    /// A section lbd does not implement; its lines are skipped.
    Skipped,
}

/// Tracks `.if`/`.elif`/`.else`/`.endif` nesting.
#[derive(Debug, Clone, Copy)]
struct CondFrame {
    /// This branch is being read.
    active: bool,
    /// Some branch of this block was already taken.
    taken: bool,
    /// The enclosing block is active.
    parent: bool,
}

/// Per-proxy parse state that does not belong in the model.
#[derive(Default)]
struct ProxyState {
    acl_names: HashSet<String>,
    server_names: HashMap<String, u32>,
}

/// The parser's state across all sources.
pub struct Parser<'e> {
    env: &'e dyn Fn(&str) -> Option<String>,
    env_overrides: HashMap<String, Option<String>>,
    env_cleared: Option<HashSet<String>>,
    diags: Vec<Diag>,
    alerts: usize,
    global: Global,
    proxies: Vec<Proxy>,
    states: Vec<ProxyState>,
    defaults: Vec<Proxy>,
    last_defaults: Option<usize>,
    section: Section,
    conds: Vec<CondFrame>,
    names: HashMap<(String, bool), (bool, Loc)>,
    loc: Loc,
}

type R = Result<(), String>;

/// Parses all sources in order. Returns the model only when no alert was raised.
pub fn parse(
    sources: &[Source],
    env: &dyn Fn(&str) -> Option<String>,
) -> (Option<Config>, Vec<Diag>) {
    let mut p = Parser::new(env);
    for src in sources {
        p.source(src);
        if p.alerts >= MAX_ALERTS {
            break;
        }
    }
    let ok = p.alerts == 0;
    let config = Config {
        global: p.global,
        proxies: p.proxies,
    };
    (ok.then_some(config), p.diags)
}

impl<'e> Parser<'e> {
    fn new(env: &'e dyn Fn(&str) -> Option<String>) -> Self {
        Parser {
            env,
            env_overrides: HashMap::new(),
            env_cleared: None,
            diags: Vec::new(),
            alerts: 0,
            global: Global {
                bufsize: 16384,
                max_headers: 101,
                ..Global::default()
            },
            proxies: Vec::new(),
            states: Vec::new(),
            defaults: Vec::new(),
            last_defaults: None,
            section: Section::None,
            conds: Vec::new(),
            names: HashMap::new(),
            loc: Loc::default(),
        }
    }

    fn getenv(&self, name: &str) -> Option<String> {
        if let Some(v) = self.env_overrides.get(name) {
            return v.clone();
        }
        if let Some(keep) = &self.env_cleared {
            if !keep.contains(name) {
                return None;
            }
        }
        (self.env)(name)
    }

    fn diag(&mut self, level: Level, msg: String) {
        // Words echoed into a message may hold control characters from escapes
        // (`\n` in a quoted value); print them escaped so one diagnostic stays one line.
        let msg = if msg.chars().any(char::is_control) {
            msg.chars()
                .map(|c| {
                    if c.is_control() {
                        c.escape_default().to_string()
                    } else {
                        c.to_string()
                    }
                })
                .collect()
        } else {
            msg
        };
        if level == Level::Alert {
            self.alerts += 1;
            if self.alerts > MAX_ALERTS {
                return;
            }
            if self.alerts == MAX_ALERTS {
                self.diags.push(Diag {
                    level,
                    loc: Some(self.loc.clone()),
                    msg,
                });
                self.diags.push(Diag {
                    level,
                    loc: Some(self.loc.clone()),
                    msg: format!("too many errors ({MAX_ALERTS}), aborting."),
                });
                return;
            }
        }
        self.diags.push(Diag {
            level,
            loc: Some(self.loc.clone()),
            msg,
        });
    }

    fn alert(&mut self, msg: String) {
        self.diag(Level::Alert, msg);
    }

    fn warn(&mut self, msg: String) {
        self.diag(Level::Warning, msg);
    }

    fn source(&mut self, src: &Source) {
        self.section = Section::None;
        self.conds.clear();
        for (n, line) in src.text.split('\n').enumerate() {
            self.loc = Loc {
                file: src.name.clone(),
                line: n as u32 + 1,
            };
            let words = {
                let me = &*self;
                lex::split_line(line, |v| me.getenv(v))
            };
            match words {
                Ok(w) if w.is_empty() => {}
                Ok(w) => self.line(&w),
                Err(e) => self.alert(e.to_string()),
            }
            if self.alerts >= MAX_ALERTS {
                return;
            }
        }
        if !self.conds.is_empty() {
            self.alert("missing '.endif' at end of file".into());
        }
    }

    fn active(&self) -> bool {
        self.conds.last().is_none_or(|c| c.active)
    }

    fn directive(&mut self, w: &[String]) -> R {
        let rest = &w[1..];
        match w[0].as_str() {
            ".if" => {
                let parent = self.active();
                let v = parent && self.eval_cond(rest)?;
                self.conds.push(CondFrame {
                    active: v,
                    taken: v,
                    parent,
                });
            }
            ".elif" => {
                let Some(f) = self.conds.last().copied() else {
                    return Err("'.elif' without a matching '.if'".into());
                };
                let v = f.parent && !f.taken && self.eval_cond(rest)?;
                if let Some(f) = self.conds.last_mut() {
                    f.active = v;
                    f.taken |= v;
                }
            }
            ".else" => {
                let Some(f) = self.conds.last_mut() else {
                    return Err("'.else' without a matching '.if'".into());
                };
                f.active = f.parent && !f.taken;
                f.taken = true;
            }
            ".endif" => {
                if self.conds.pop().is_none() {
                    return Err("'.endif' without a matching '.if'".into());
                }
            }
            _ if !self.active() => {}
            ".notice" => self.diag(Level::Notice, rest.join(" ")),
            ".warning" => self.warn(rest.join(" ")),
            ".alert" => self.alert(rest.join(" ")),
            ".diag" => {}
            d => return Err(format!("unknown directive '{d}'")),
        }
        Ok(())
    }

    /// Evaluates a `.if` condition: terms joined by `&&`/`||` (left to right), each
    /// maybe negated with `!`.
    fn eval_cond(&self, words: &[String]) -> Result<bool, String> {
        let text = words.join(" ");
        let mut result: Option<bool> = None;
        let mut op = "";
        for tok in text.split_whitespace() {
            if tok == "&&" || tok == "||" {
                op = if tok == "&&" { "&&" } else { "||" };
                continue;
            }
            let (neg, t) = match tok.strip_prefix('!') {
                Some(t) => (true, t),
                None => (false, tok),
            };
            let v = self.eval_term(t)? != neg;
            result = Some(match (result, op) {
                (None, _) => v,
                (Some(a), "&&") => a && v,
                (Some(a), _) => a || v,
            });
        }
        result.ok_or_else(|| "missing condition after '.if'".to_string())
    }

    fn eval_term(&self, t: &str) -> Result<bool, String> {
        if let Ok(n) = t.parse::<i64>() {
            return Ok(n != 0);
        }
        let (f, arg) = match t.split_once('(') {
            Some((f, a)) => (f, a.strip_suffix(')').unwrap_or(a)),
            None => (t, ""),
        };
        let two = || arg.split_once(',').map(|(a, b)| (a.trim(), b.trim()));
        Ok(match f {
            "defined" => self.getenv(arg).is_some(),
            "feature" | "enabled" | "openssl_version_atleast" => false,
            "openssl_version_before" => true,
            "streq" => two().is_some_and(|(a, b)| a == b),
            "strneq" => two().is_some_and(|(a, b)| a != b),
            "version_atleast" => version_cmp(arg) != std::cmp::Ordering::Greater,
            "version_before" => version_cmp(arg) == std::cmp::Ordering::Greater,
            _ => return Err(format!("unknown term '{t}' in '.if' condition")),
        })
    }

    fn line(&mut self, w: &[String]) {
        if w[0].starts_with('.') {
            if let Err(e) = self.directive(w) {
                self.alert(e);
            }
            return;
        }
        if !self.active() {
            return;
        }
        let kw = w[0].as_str();
        let res = if keywords::SECTIONS.contains(&kw) {
            self.start_section(w)
        } else if keywords::OTHER_SECTIONS.contains(&kw) {
            self.section = Section::Skipped;
            self.warn(format!(
                "'{kw}' sections are not supported by lbd; section '{}' is ignored.",
                w.get(1).map_or("", String::as_str)
            ));
            Ok(())
        } else {
            match self.section {
                Section::None => Err(format!(
                    "unknown keyword '{kw}' out of section{}",
                    match did_you_mean(kw, keywords::SECTIONS.iter().copied()) {
                        s if s.is_empty() => ".".to_string(),
                        s => s,
                    }
                )),
                Section::Skipped => Ok(()),
                Section::Global => self.global_kw(w),
                Section::Proxy(i) => self.proxy_kw(w, Target::Proxy(i)),
                Section::Defaults(i) => self.proxy_kw(w, Target::Defaults(i)),
            }
        };
        if let Err(e) = res {
            self.alert(e);
        }
    }

    fn start_section(&mut self, w: &[String]) -> R {
        let kw = w[0].as_str();
        let kind = match kw {
            "global" => {
                self.section = Section::Global;
                if w.len() > 1 {
                    self.warn(format!(
                        "'global' takes no argument; '{}' is ignored.",
                        w[1]
                    ));
                }
                return Ok(());
            }
            "defaults" => ProxyKind::Defaults,
            "frontend" => ProxyKind::Frontend,
            "backend" => ProxyKind::Backend,
            _ => ProxyKind::Listen,
        };
        // Keep later lines out of the previous section even if this header is bad.
        self.section = Section::Skipped;
        let mut name = String::new();
        let mut from: Option<&str> = None;
        let mut legacy_bind: Option<String> = None;
        let mut i = 1;
        if let Some(n) = w.get(1) {
            if n != "from" {
                name = n.clone();
                i = 2;
            }
        }
        match w.get(i).map(String::as_str) {
            Some("from") => match w.get(i + 1) {
                Some(f) => from = Some(f),
                None => {
                    return Err(format!(
                        "'{kw}': missing defaults section name after 'from'"
                    ))
                }
            },
            Some(x) if kind.is_frontend() && i == 2 && x.contains(':') => {
                // The old form `listen NAME ADDR:PORT` is a bind on the section line.
                legacy_bind = Some(x.to_string());
            }
            Some(x) => return Err(format!("'{kw} {name}': unexpected argument '{x}'")),
            None => {}
        }
        let extra_at = if legacy_bind.is_some() { i + 1 } else { i + 2 };
        if let Some(extra) = w.get(extra_at) {
            return Err(format!("'{kw} {name}': unexpected argument '{extra}'"));
        }
        if kind != ProxyKind::Defaults && name.is_empty() {
            return Err(format!("'{kw}' expects <name> as an argument."));
        }
        if let Some(bad) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
        {
            return Err(format!(
                "character '{bad}' is not permitted in '{kw}' name '{name}'."
            ));
        }
        let base = match from {
            Some(f) => match self.defaults.iter().rposition(|d| d.name == f) {
                Some(idx) => Some(idx),
                None => {
                    return Err(format!(
                        "'{kw} {name}': unable to find defaults section '{f}'"
                    ))
                }
            },
            // Only regular proxies inherit from the previous defaults section; a new
            // `defaults` without `from` starts from scratch (HAProxy's cfg_parse_listen).
            None if kind == ProxyKind::Defaults => None,
            None => self.last_defaults,
        };
        let mut p = match base {
            Some(idx) => self.defaults[idx].clone(),
            None => Proxy {
                retries: 3,
                http_check: HttpCheck {
                    method: "OPTIONS".into(),
                    uri: "/".into(),
                    version: "HTTP/1.0".into(),
                    ..HttpCheck::default()
                },
                ..Proxy::default()
            },
        };
        p.name = name.clone();
        p.kind = kind;
        p.loc = self.loc.clone();
        if kind == ProxyKind::Defaults {
            if !name.is_empty() {
                if let Some(prev) = self.defaults.iter().find(|d| d.name == name) {
                    self.warn(format!(
                        "defaults section '{name}' has the same name as another defaults section declared at {}.",
                        prev.loc
                    ));
                }
            }
            self.defaults.push(p);
            let idx = self.defaults.len() - 1;
            self.last_defaults = Some(idx);
            self.section = Section::Defaults(idx);
            return Ok(());
        }
        // Frontends and backends may share a name; a listen conflicts with both.
        for (cap_be, has) in [(false, kind.is_frontend()), (true, kind.is_backend())] {
            if !has {
                continue;
            }
            if let Some((_, prev)) = self.names.get(&(name.clone(), cap_be)) {
                let prev_kind = self
                    .proxies
                    .iter()
                    .find(|q| q.name == name && q.loc == *prev)
                    .map_or("proxy", |q| q.kind.keyword());
                return Err(format!(
                    "{kw} '{name}' has the same name as {prev_kind} '{name}' declared at {prev}."
                ));
            }
        }
        for (cap_be, has) in [(false, kind.is_frontend()), (true, kind.is_backend())] {
            if has {
                self.names
                    .insert((name.clone(), cap_be), (true, self.loc.clone()));
            }
        }
        self.proxies.push(p);
        self.states.push(ProxyState::default());
        let idx = self.proxies.len() - 1;
        self.section = Section::Proxy(idx);
        if let Some(addr) = legacy_bind {
            self.bind(&["bind".to_string(), addr], Target::Proxy(idx))?;
        }
        Ok(())
    }

    fn global_kw(&mut self, w: &[String]) -> R {
        let kw = w[0].as_str();
        let arg = |n: usize| -> Result<&str, String> {
            w.get(n)
                .map(String::as_str)
                .ok_or_else(|| format!("'{kw}' expects an argument."))
        };
        match kw {
            "maxconn" => {
                self.global.maxconn =
                    Some(value::int_in(arg(1)?, 1, u32::MAX as u64, "'maxconn'")? as u32)
            }
            "nbthread" => {
                self.global.nbthread = Some(value::int_in(arg(1)?, 1, 4096, "'nbthread'")? as u32)
            }
            "cpu-map" => match value::cpu_map(&w[1..])? {
                Some(m) => self.global.cpu_map.push(m),
                None => self.warn(format!(
                    "'cpu-map {}': lbd runs one process with one thread group; \
                     this line maps another one and is ignored.",
                    w[1]
                )),
            },
            "pidfile" => self.global.pidfile = Some(arg(1)?.to_string()),
            "hard-stop-after" => {
                self.global.hard_stop_after =
                    Some(value::time(arg(1)?).map_err(|e| format!("'{kw}': {e}"))?)
            }
            "spread-checks" => {
                self.global.spread_checks = value::int_in(arg(1)?, 0, 50, "'spread-checks'")? as u32
            }
            "tune.bufsize" => {
                let v = value::size(arg(1)?).map_err(|e| format!("'{kw}': {e}"))?;
                if !(1024..=1 << 30).contains(&v) {
                    return Err(format!(
                        "'{kw}' must be between 1024 and 1073741824 (got '{v}')"
                    ));
                }
                self.global.bufsize = v as usize;
            }
            "tune.http.maxhdr" => {
                self.global.max_headers =
                    value::int_in(arg(1)?, 1, 32767, "'tune.http.maxhdr'")? as usize
            }
            "log-tag" => self.global.log_tag = Some(arg(1)?.to_string()),
            "description" | "node" => {}
            "log" => {
                if w.get(1).map(String::as_str) == Some("global") {
                    return Err("'log global' is only allowed in proxies, not in 'global'.".into());
                }
                if let Some(t) = self.log_target(&w[1..])? {
                    self.global.logs.push(t);
                }
            }
            "stats" => self.global_stats(w)?,
            "setenv" | "presetenv" => {
                let (name, val) = (arg(1)?.to_string(), arg(2)?.to_string());
                if kw == "setenv" || self.getenv(&name).is_none() {
                    self.env_overrides.insert(name, Some(val));
                }
            }
            "unsetenv" => {
                for n in &w[1..] {
                    self.env_overrides.insert(n.clone(), None);
                }
            }
            "resetenv" => {
                let keep: HashSet<String> = w[1..].iter().cloned().collect();
                self.env_overrides.retain(|k, _| keep.contains(k));
                self.env_cleared = Some(keep);
            }
            _ => return self.unknown(kw, "global", keywords::global_known(kw), keywords::GLOBAL),
        }
        Ok(())
    }

    fn unknown(&mut self, kw: &str, section: &str, known: Option<Known>, supported: &[&str]) -> R {
        match known {
            Some(Known::Unsupported) => Err(format!("'{kw}' is not supported by lbd.")),
            Some(Known::Ignored) => {
                self.warn(format!("'{kw}' is not supported by lbd and is ignored."));
                Ok(())
            }
            Some(Known::Removed(why)) => Err(format!("'{kw}' : {why}")),
            None => Err(format!(
                "unknown keyword '{kw}' in '{section}' section{}",
                did_you_mean(kw, supported.iter().copied())
            )),
        }
    }

    fn global_stats(&mut self, w: &[String]) -> R {
        match w.get(1).map(String::as_str) {
            Some("socket") => {
                let Some(path) = w.get(2) else {
                    return Err("'stats socket' expects a path or an address.".into());
                };
                let mut s = StatsSocket {
                    path: path.clone(),
                    mode: 0o600,
                    level: StatsLevel::Operator,
                    loc: self.loc.clone(),
                };
                let mut i = 3;
                while i < w.len() {
                    let v = w.get(i + 1).map(String::as_str);
                    match (w[i].as_str(), v) {
                        ("mode", Some(m)) => {
                            s.mode = u32::from_str_radix(m, 8)
                                .ok()
                                .filter(|m| *m <= 0o777)
                                .ok_or_else(|| format!("'stats socket' : invalid mode '{m}'"))?;
                        }
                        ("level", Some(l)) => {
                            s.level = match l {
                                "user" => StatsLevel::User,
                                "operator" => StatsLevel::Operator,
                                "admin" => StatsLevel::Admin,
                                _ => {
                                    return Err(format!(
                                        "'stats socket' : 'level' only supports 'user', 'operator', and 'admin' (got '{l}')."
                                    ))
                                }
                            };
                        }
                        ("user" | "group" | "uid" | "gid" | "name" | "process" | "thread"
                        | "severity-output" | "maxconn" | "backlog", Some(_)) => {
                            self.warn(format!(
                                "'stats socket' : '{}' is not supported by lbd and is ignored.",
                                w[i]
                            ));
                        }
                        ("expose-fd", Some(_)) => {}
                        (k, _) => {
                            return Err(format!(
                                "'stats socket' : unknown or incomplete keyword '{k}'."
                            ))
                        }
                    }
                    i += 2;
                }
                self.global.stats_sockets.push(s);
                Ok(())
            }
            Some("timeout" | "maxconn" | "bind-process") => {
                self.warn(format!("'stats {}' is not supported by lbd and is ignored.", w[1]));
                Ok(())
            }
            Some(x) => Err(format!(
                "'stats {x}' : unknown keyword in 'global' section; expects 'socket', 'timeout' or 'maxconn'."
            )),
            None => Err("'stats' expects 'socket', 'timeout' or 'maxconn'.".into()),
        }
    }

    fn log_target(&mut self, w: &[String]) -> Result<Option<LogTarget>, String> {
        let Some(dest) = w.first() else {
            return Err(
                "'log' expects either <address[:port]> and <facility> or 'global' as arguments."
                    .into(),
            );
        };
        let dest = dest.as_str();
        let dest = if let Some(p) = dest.strip_prefix("ring@") {
            self.warn(format!(
                "'log ring@{p}' is not supported by lbd and is ignored."
            ));
            return Ok(None);
        } else if dest == "stdout" || dest == "fd@1" {
            LogDest::Stdout
        } else if dest == "stderr" || dest == "fd@2" {
            LogDest::Stderr
        } else if let Some(p) = dest.strip_prefix("unix@") {
            LogDest::Path(p.to_string())
        } else if dest.starts_with('/') {
            LogDest::Path(dest.to_string())
        } else if dest.starts_with("tcp@") || dest.starts_with("fd@") {
            return Err(format!(
                "'log {dest}' : this log target is not supported by lbd."
            ));
        } else {
            let d = dest
                .strip_prefix("udp@")
                .or_else(|| dest.strip_prefix("udp4@"))
                .or_else(|| dest.strip_prefix("udp6@"))
                .or_else(|| dest.strip_prefix("ipv4@"))
                .or_else(|| dest.strip_prefix("ipv6@"))
                .unwrap_or(dest);
            let (host, has_port_addr) = match value::server_addr(d) {
                Ok((_, a, true)) => (a, true),
                Ok((_, a, false)) => (a, false),
                Err(e) => return Err(format!("'log' : {e}")),
            };
            let mut a = host;
            if !has_port_addr {
                a.set_port(514);
            }
            LogDest::Udp(a)
        };
        let mut i = 1;
        while i < w.len() && matches!(w[i].as_str(), "len" | "format" | "sample" | "profile") {
            if w[i] == "format" {
                if let Some(f) = w.get(i + 1) {
                    if !matches!(f.as_str(), "rfc3164" | "local" | "raw" | "short") {
                        self.warn(format!(
                            "'log ... format {f}' is not supported by lbd; rfc3164 is used."
                        ));
                    }
                }
            }
            i += 2;
        }
        let Some(fac) = w.get(i) else {
            return Err(format!(
                "'log {}' : missing facility (e.g. 'local0').",
                w[0]
            ));
        };
        let facility = value::facility(fac).ok_or_else(|| {
            format!(
                "'log' : unknown log facility '{fac}'{}",
                did_you_mean(fac, ["local0", "local1", "local2", "daemon", "user"])
            )
        })?;
        let max_level = match w.get(i + 1) {
            Some(l) => value::level(l)
                .ok_or_else(|| format!("'log' : unknown optional log level '{l}'"))?,
            None => 7,
        };
        if let Some(minl) = w.get(i + 2) {
            value::level(minl)
                .ok_or_else(|| format!("'log' : unknown optional minimum log level '{minl}'"))?;
        }
        Ok(Some(LogTarget {
            dest,
            facility,
            max_level,
            loc: self.loc.clone(),
        }))
    }
}

/// Where a proxy keyword lands.
#[derive(Debug, Clone, Copy)]
enum Target {
    Proxy(usize),
    Defaults(usize),
}

fn version_cmp(v: &str) -> std::cmp::Ordering {
    // lbd reads configs written for HAProxy 2.6 to 3.x; it answers version tests as 2.8.
    let parse =
        |s: &str| -> Vec<u32> { s.split(['.', '-']).filter_map(|p| p.parse().ok()).collect() };
    parse(v).cmp(&vec![2, 8])
}

impl<'e> Parser<'e> {
    fn px(&mut self, t: Target) -> &mut Proxy {
        match t {
            Target::Proxy(i) => &mut self.proxies[i],
            Target::Defaults(i) => &mut self.defaults[i],
        }
    }

    fn px_ref(&self, t: Target) -> &Proxy {
        match t {
            Target::Proxy(i) => &self.proxies[i],
            Target::Defaults(i) => &self.defaults[i],
        }
    }

    /// Checks that a keyword fits the proxy's capabilities. `hard` keywords are alerts in
    /// the wrong section (they cannot work there); others are warnings and ignored.
    fn cap(
        &mut self,
        t: Target,
        kw: &str,
        fe: bool,
        be: bool,
        defaults: bool,
        hard: bool,
    ) -> Result<bool, String> {
        let p = self.px_ref(t);
        let kind = p.kind;
        let ok = match kind {
            ProxyKind::Defaults => defaults,
            ProxyKind::Frontend => fe,
            ProxyKind::Backend => be,
            ProxyKind::Listen => fe || be,
        };
        if ok {
            return Ok(true);
        }
        if hard || kind == ProxyKind::Defaults {
            return Err(format!(
                "'{kw}' not allowed in '{}' section.",
                kind.keyword()
            ));
        }
        let (name, missing) = (p.name.clone(), if fe { "frontend" } else { "backend" });
        self.warn(format!(
            "'{kw}' ignored because {} '{name}' has no {missing} capability.",
            kind.keyword()
        ));
        Ok(false)
    }

    fn proxy_kw(&mut self, w: &[String], t: Target) -> R {
        let kw = w[0].as_str();
        let arg1 = || -> Result<&str, String> {
            w.get(1)
                .map(String::as_str)
                .ok_or_else(|| format!("'{kw}' expects an argument."))
        };
        match kw {
            "mode" => {
                let m = match arg1()? {
                    "http" => Mode::Http,
                    "tcp" => Mode::Tcp,
                    "health" => {
                        return Err(
                            "'mode health' is not supported by lbd (removed in HAProxy 2.4)."
                                .into(),
                        )
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
                self.px(t).mode = m;
            }
            "bind" => {
                self.cap(t, kw, true, false, false, true)?;
                self.bind(w, t)?;
            }
            "default_backend" => {
                if self.cap(t, kw, true, false, true, false)? {
                    let name = arg1()?.to_string();
                    if name.contains("%[") {
                        return Err(
                            "'default_backend' with a dynamic name is not supported by lbd.".into(),
                        );
                    }
                    let loc = self.loc.clone();
                    self.px(t).default_backend = Some(Named { name, loc });
                }
            }
            "use_backend" => {
                self.cap(t, kw, true, false, false, true)?;
                let name = arg1()?.to_string();
                if name.contains("%[") {
                    return Err(
                        "'use_backend' with a dynamic name ('%[...]') is not supported by lbd."
                            .into(),
                    );
                }
                let cond = match w.get(2).map(String::as_str) {
                    Some(k @ ("if" | "unless")) => self.cond(t, k == "unless", &w[3..], "switching rule")?,
                    Some(x) => return Err(format!("'use_backend {name}' expects 'if' or 'unless' followed by a condition (got '{x}').")),
                    None => Condition {
                        unless: false,
                        any_of: vec![vec![]],
                    },
                };
                let loc = self.loc.clone();
                self.px(t).use_backends.push(UseBackend {
                    backend: name,
                    cond,
                    loc,
                });
            }
            "acl" => {
                self.cap(t, kw, true, true, false, true)?;
                let name = arg1()?.to_string();
                if let Some(bad) = name
                    .chars()
                    .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
                {
                    return Err(format!(
                        "character '{bad}' is not permitted in acl name '{name}'."
                    ));
                }
                let acl = acl::parse_acl(&name, &w[2..], &self.loc)
                    .map_err(|e| format!("error detected while parsing ACL '{name}' : {e}"))?;
                if let Target::Proxy(i) = t {
                    self.states[i].acl_names.insert(name);
                }
                self.px(t).acls.push(acl);
            }
            "balance" => {
                if self.cap(t, kw, false, true, true, false)? {
                    let b = parse_balance(&w[1..])?;
                    self.px(t).balance = b;
                }
            }
            "hash-type" => {
                if self.cap(t, kw, false, true, true, false)? {
                    let h = match arg1()? {
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
                    self.px(t).hash_type = h;
                }
            }
            "server" => {
                self.cap(t, kw, false, true, false, true)?;
                self.server(w, t)?;
            }
            "default-server" => {
                if self.cap(t, kw, false, true, true, false)? {
                    let mut s = self.px_ref(t).default_server.clone();
                    self.server_params(&w[1..], &mut s, "default-server")?;
                    self.px(t).default_server = s;
                }
            }
            "timeout" => self.timeout(w, t)?,
            "maxconn" => {
                if self.cap(t, kw, true, false, true, false)? {
                    let v = value::int_in(arg1()?, 0, u32::MAX as u64, "'maxconn'")? as u32;
                    self.px(t).maxconn = if v == 0 { None } else { Some(v) };
                }
            }
            "retries" => {
                if self.cap(t, kw, false, true, true, false)? {
                    self.px(t).retries = value::int_in(arg1()?, 0, 1000, "'retries'")? as u32;
                }
            }
            "option" => self.option(&w[1..], t, true)?,
            "no" => match w.get(1).map(String::as_str) {
                Some("option") => self.option(&w[2..], t, false)?,
                Some("log") => {
                    let p = self.px(t);
                    p.logs.clear();
                    p.log_global = false;
                }
                Some(x) => {
                    return Err(format!(
                        "'no {x}' is not supported; 'no' applies to 'option' and 'log'."
                    ))
                }
                None => return Err("'no' expects 'option' or 'log'.".into()),
            },
            "http-check" => {
                if self.cap(t, kw, false, true, true, false)? {
                    self.http_check(&w[1..], t)?;
                }
            }
            "redirect" => {
                // `redirect ...` is `http-request redirect ...`.
                let mut words = vec!["http-request".to_string()];
                words.extend(w.iter().cloned());
                let rule = self.http_rule(&words, t)?;
                self.px(t).http_request.push(rule);
            }
            "http-request" | "http-response" => {
                let rule = self.http_rule(w, t)?;
                let p = self.px(t);
                if kw == "http-request" {
                    p.http_request.push(rule);
                } else {
                    p.http_response.push(rule);
                }
            }
            "cookie" => {
                if self.cap(t, kw, false, true, true, false)? {
                    let c = parse_cookie(&w[1..])?;
                    self.px(t).cookie = Some(c);
                }
            }
            "stick-table" => {
                self.cap(t, kw, true, true, false, true)?;
                let st = self.stick_table(&w[1..])?;
                self.px(t).stick_table = Some(st);
            }
            "stick" => {
                self.cap(t, kw, false, true, false, true)?;
                let r = self.stick_rule(w, t)?;
                self.px(t).stick_rules.push(r);
            }
            "stats" => self.stats(w, t)?,
            "log" => match w.get(1).map(String::as_str) {
                Some("global") => self.px(t).log_global = true,
                _ => {
                    if let Some(target) = self.log_target(&w[1..])? {
                        self.px(t).logs.push(target);
                    }
                }
            },
            "description" => self.px(t).description = Some(w[1..].join(" ")),
            "disabled" => self.px(t).disabled = true,
            "enabled" => self.px(t).disabled = false,
            "id" => {
                value::int_in(arg1()?, 1, i32::MAX as u64, "'id'")?;
            }
            _ => {
                let section = self.px_ref(t).kind.keyword();
                return self.unknown(kw, section, keywords::proxy_known(kw), keywords::PROXY);
            }
        }
        Ok(())
    }

    fn cond(
        &mut self,
        t: Target,
        unless: bool,
        words: &[String],
        ctx: &str,
    ) -> Result<Condition, String> {
        let empty = HashSet::new();
        let declared = match t {
            Target::Proxy(i) => &self.states[i].acl_names,
            Target::Defaults(_) => &empty,
        };
        acl::parse_condition(unless, words, declared, &self.loc, ctx)
    }

    fn bind<'a>(&mut self, w: &'a [String], t: Target) -> R {
        let Some(spec) = w.get(1) else {
            return Err(
                "'bind' expects [addr1]:port1[-end1]{,[addr]:port[-end]}... as arguments.".into(),
            );
        };
        let addrs = value::bind_addrs(spec).map_err(|e| format!("'bind {spec}' : {e}"))?;
        let mut v6only = None;
        let mut backlog = None;
        let mut name = None;
        let mut i = 2;
        while i < w.len() {
            let k = w[i].as_str();
            let val: Option<&'a str> = w.get(i + 1).map(String::as_str);
            let need = |v: Option<&'a str>| {
                v.ok_or_else(|| format!("'bind {spec}' : '{k}' expects an argument."))
            };
            match k {
                "v4v6" => v6only = Some(false),
                "v6only" => v6only = Some(true),
                "name" => {
                    name = Some(need(val)?.to_string());
                    i += 1;
                }
                "backlog" => {
                    backlog =
                        Some(value::int_in(need(val)?, 1, i32::MAX as u64, "'backlog'")? as u32);
                    i += 1;
                }
                "id" | "maxconn" => {
                    value::int_in(need(val)?, 0, u32::MAX as u64, k)?;
                    if k == "maxconn" {
                        self.warn(format!("'bind {spec}' : per-bind 'maxconn' is not supported by lbd and is ignored; use the frontend's 'maxconn'."));
                    }
                    i += 1;
                }
                _ => match keywords::bind_known(k) {
                    Some(Known::Unsupported) => {
                        return Err(format!("'bind {spec}' : '{k}' is not supported by lbd."))
                    }
                    Some(_) => {
                        self.warn(format!(
                            "'bind {spec}' : '{k}' is not supported by lbd and is ignored."
                        ));
                        if matches!(
                            k,
                            "nice"
                                | "process"
                                | "thread"
                                | "level"
                                | "severity-output"
                                | "mode"
                                | "user"
                                | "group"
                                | "uid"
                                | "gid"
                                | "tcp-ut"
                                | "tls-ticket-keys"
                                | "expose-fd"
                                | "label"
                                | "idle-ping"
                        ) {
                            i += 1;
                        }
                    }
                    None => {
                        return Err(format!(
                            "'bind {spec}' unknown keyword '{k}'{}",
                            did_you_mean(k, keywords::BIND.iter().copied())
                        ))
                    }
                },
            }
            i += 1;
        }
        let loc = self.loc.clone();
        let p = self.px(t);
        for addr in addrs {
            p.binds.push(Bind {
                addr,
                v6only,
                backlog,
                name: name.clone(),
                loc: loc.clone(),
            });
        }
        Ok(())
    }

    fn server(&mut self, w: &[String], t: Target) -> R {
        let (Some(name), Some(addr)) = (w.get(1), w.get(2)) else {
            return Err("'server' expects <name> and <addr>[:<port>] as arguments.".into());
        };
        let mut settings = self.px_ref(t).default_server.clone();
        self.server_params(&w[3..], &mut settings, &format!("server {name}"))?;
        let (host, resolved, has_port) =
            value::server_addr(addr).map_err(|e| format!("'server {name}' : {e}"))?;
        let line = self.loc.line;
        if let Target::Proxy(i) = t {
            if let Some(first) = self.states[i].server_names.get(name) {
                let p = &self.proxies[i];
                return Err(format!(
                    "{} '{}' : duplicate server name '{name}' (first defined at line {first}).",
                    p.kind.keyword(),
                    p.name
                ));
            }
            self.states[i].server_names.insert(name.clone(), line);
        }
        let loc = self.loc.clone();
        self.px(t).servers.push(Server {
            name: name.clone(),
            host,
            addr: resolved,
            has_port,
            settings,
            loc,
        });
        Ok(())
    }

    fn server_params(&mut self, w: &[String], s: &mut ServerSettings, ctx: &str) -> R {
        let mut i = 0;
        while i < w.len() {
            let k = w[i].as_str();
            let val = w.get(i + 1).map(String::as_str);
            let need = || val.ok_or_else(|| format!("'{ctx}' : '{k}' expects an argument."));
            let time = || -> Result<std::time::Duration, String> {
                let d = value::time(need()?).map_err(|e| format!("'{ctx}' : '{k}' : {e}"))?;
                if d.is_zero() {
                    return Err(format!("'{ctx}' : '{k}' must be greater than zero."));
                }
                Ok(d)
            };
            let mut takes_value = true;
            match k {
                "check" => {
                    s.check = true;
                    takes_value = false;
                }
                "no-check" => {
                    s.check = false;
                    takes_value = false;
                }
                "backup" => {
                    s.backup = true;
                    takes_value = false;
                }
                "no-backup" => {
                    s.backup = false;
                    takes_value = false;
                }
                "disabled" => {
                    s.disabled = true;
                    takes_value = false;
                }
                "enabled" => {
                    s.disabled = false;
                    takes_value = false;
                }
                "send-proxy" => {
                    s.send_proxy = Some(1);
                    takes_value = false;
                }
                "send-proxy-v2" => {
                    s.send_proxy = Some(2);
                    takes_value = false;
                }
                "no-send-proxy" | "no-send-proxy-v2" => {
                    s.send_proxy = None;
                    takes_value = false;
                }
                "inter" => s.inter = time()?,
                "fastinter" => s.fastinter = Some(time()?),
                "downinter" => s.downinter = Some(time()?),
                "slowstart" => s.slowstart = Some(value::time(need()?).map_err(|e| format!("'{ctx}' : '{k}' : {e}"))?),
                "rise" => s.rise = value::int_in(need()?, 1, 1_000_000, &format!("'{ctx}' : 'rise'"))? as u32,
                "fall" => s.fall = value::int_in(need()?, 1, 1_000_000, &format!("'{ctx}' : 'fall'"))? as u32,
                "port" => s.check_port = Some(value::int_in(need()?, 1, 65535, &format!("'{ctx}' : 'port'"))? as u16),
                "addr" => {
                    let a = need()?;
                    s.check_addr = Some(value::resolve(a, 0).map_err(|e| format!("'{ctx}' : 'addr' : {e}"))?.ip());
                }
                "weight" => s.weight = value::int_in(need()?, 0, 256, &format!("'{ctx}' : 'weight'"))? as u32,
                "maxconn" => s.maxconn = value::int_in(need()?, 0, u32::MAX as u64, &format!("'{ctx}' : 'maxconn'"))? as u32,
                "maxqueue" => s.maxqueue = value::int_in(need()?, 0, u32::MAX as u64, &format!("'{ctx}' : 'maxqueue'"))? as u32,
                "error-limit" => s.error_limit = value::int_in(need()?, 1, 1_000_000, &format!("'{ctx}' : 'error-limit'"))? as u32,
                "id" => {
                    value::int_in(need()?, 1, i32::MAX as u64, &format!("'{ctx}' : 'id'"))?;
                }
                "cookie" => s.cookie = Some(need()?.to_string()),
                "observe" => {
                    s.observe = Some(match need()? {
                        "layer4" => Observe::Layer4,
                        "layer7" => Observe::Layer7,
                        "none" => {
                            s.observe = None;
                            i += 2;
                            continue;
                        }
                        x => return Err(format!("'{ctx}' : 'observe' expects one of 'none', 'layer4', 'layer7' but got '{x}'.")),
                    })
                }
                "on-error" => {
                    s.on_error = match need()? {
                        "fastinter" => OnError::FastInter,
                        "fail-check" => OnError::FailCheck,
                        "sudden-death" => OnError::SuddenDeath,
                        "mark-down" => OnError::MarkDown,
                        x => return Err(format!("'{ctx}' : 'on-error' expects one of 'fastinter', 'fail-check', 'sudden-death' or 'mark-down' but got '{x}'.")),
                    }
                }
                "on-marked-down" => match need()? {
                    "shutdown-sessions" => s.shutdown_on_down = true,
                    x => return Err(format!("'{ctx}' : 'on-marked-down' expects 'shutdown-sessions' but got '{x}'.")),
                },
                "on-marked-up" => match need()? {
                    "shutdown-backup-sessions" => s.shutdown_backup_on_up = true,
                    x => return Err(format!("'{ctx}' : 'on-marked-up' expects 'shutdown-backup-sessions' but got '{x}'.")),
                },
                "init-state" => {
                    s.init_state = match need()? {
                        "fully-up" => InitState::FullyUp,
                        "up" => InitState::Up,
                        "down" => InitState::Down,
                        "fully-down" => InitState::FullyDown,
                        x => return Err(format!("'{ctx}' : 'init-state' expects one of 'fully-up', 'up', 'down' or 'fully-down' but got '{x}'.")),
                    }
                }
                _ => match keywords::server_known(k) {
                    Some(Known::Unsupported) => return Err(format!("'{ctx}' : '{k}' is not supported by lbd.")),
                    Some(_) => {
                        self.warn(format!("'{ctx}' : '{k}' is not supported by lbd and is ignored."));
                        takes_value = matches!(
                            k,
                            "pool-max-conn" | "pool-purge-delay" | "pool-low-conn" | "pool-conn-name" | "minconn"
                                | "log-proto" | "tcp-ut" | "curves" | "sigalgs" | "client-sigalgs" | "check-pool-conn-name"
                        );
                    }
                    None => {
                        return Err(format!(
                            "'{ctx}' unknown keyword '{k}'{}",
                            did_you_mean(k, keywords::SERVER.iter().copied())
                        ))
                    }
                },
            }
            i += if takes_value { 2 } else { 1 };
        }
        Ok(())
    }

    fn timeout(&mut self, w: &[String], t: Target) -> R {
        let Some(name) = w.get(1) else {
            return Err(format!(
                "'timeout' expects one of {}.",
                keywords::TIMEOUTS
                    .iter()
                    .map(|t| format!("'{t}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        };
        let name = name.as_str();
        let (fe, be) = match name {
            "client" | "http-request" | "http-keep-alive" | "client-fin" => (true, false),
            "connect" | "server" | "queue" | "check" | "server-fin" => (false, true),
            "tunnel" => (false, true),
            _ => match keywords::timeout_known(name) {
                Some(Known::Ignored) => {
                    self.warn(format!(
                        "'timeout {name}' is not supported by lbd and is ignored."
                    ));
                    return Ok(());
                }
                Some(_) => return Err(format!("'timeout {name}' is not supported by lbd.")),
                None => {
                    return Err(format!(
                        "'timeout' supports {} (got '{name}'){}",
                        keywords::TIMEOUTS
                            .iter()
                            .map(|t| format!("'{t}'"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        did_you_mean(name, keywords::TIMEOUTS.iter().copied())
                    ))
                }
            },
        };
        let Some(v) = w.get(2) else {
            return Err(format!(
                "'timeout {name}' expects an integer value (in milliseconds)."
            ));
        };
        let d = value::time(v).map_err(|e| format!("'timeout {name}' : {e}"))?;
        if w.len() > 3 {
            return Err(format!(
                "'timeout {name}' : unexpected argument '{}'.",
                w[3]
            ));
        }
        if !self.cap(t, &format!("timeout {name}"), fe, be, true, false)? {
            return Ok(());
        }
        let d = if d.is_zero() { None } else { Some(d) };
        let to = &mut self.px(t).timeouts;
        match name {
            "connect" => to.connect = d,
            "client" => to.client = d,
            "server" => to.server = d,
            "http-request" => to.http_request = d,
            "http-keep-alive" => to.http_keep_alive = d,
            "queue" => to.queue = d,
            "tunnel" => to.tunnel = d,
            "check" => to.check = d,
            "client-fin" => to.client_fin = d,
            _ => to.server_fin = d,
        }
        Ok(())
    }

    fn option(&mut self, w: &[String], t: Target, on: bool) -> R {
        let Some(name) = w.first() else {
            return Err("'option' expects an option name.".into());
        };
        let name = name.as_str();
        let be_only = matches!(
            name,
            "httpchk" | "tcp-check" | "redispatch" | "allbackups" | "log-health-checks"
        );
        let fe_only = matches!(name, "dontlognull" | "httplog" | "tcplog");
        if !self.cap(
            t,
            &format!("option {name}"),
            !be_only,
            !fe_only,
            true,
            false,
        )? {
            return Ok(());
        }
        let p = self.px(t);
        let o = &mut p.options;
        match name {
            "redispatch" => o.redispatch = on,
            "allbackups" | "allbackup" if name == "allbackups" => o.allbackups = on,
            "httplog" => {
                o.httplog = on;
                if let Some(x) = w.get(1) {
                    if x != "clf" {
                        return Err(format!(
                            "'option httplog' : unknown argument '{x}' (only 'clf' is accepted)."
                        ));
                    }
                }
            }
            "tcplog" => o.tcplog = on,
            "log-health-checks" => o.log_health_checks = on,
            "dontlognull" => o.dontlognull = on,
            "http-keep-alive" => o.http_conn = HttpConnMode::KeepAlive,
            "http-server-close" => {
                o.http_conn = if on {
                    HttpConnMode::ServerClose
                } else {
                    HttpConnMode::KeepAlive
                }
            }
            "httpclose" | "forceclose" => {
                o.http_conn = if on {
                    HttpConnMode::Close
                } else {
                    HttpConnMode::KeepAlive
                }
            }
            "http-tunnel" => {
                self.warn("'option http-tunnel' is deprecated in HAProxy and ignored by lbd; WebSocket upgrades are tunnelled anyway.".into());
            }
            "tcp-check" => {
                o.tcp_check = on;
                if on {
                    p.http_check.enabled = false;
                }
            }
            "forwardfor" => {
                if !on {
                    o.forwardfor = None;
                    return Ok(());
                }
                let mut ff = ForwardFor {
                    except: None,
                    header: "X-Forwarded-For".into(),
                    if_none: false,
                };
                let mut i = 1;
                while i < w.len() {
                    match (w[i].as_str(), w.get(i + 1)) {
                        ("except", Some(n)) => {
                            ff.except = Some(value::network(n).map_err(|e| format!("'option forwardfor except' : {e}"))?);
                            i += 1;
                        }
                        ("header", Some(h)) => {
                            ff.header = h.clone();
                            i += 1;
                        }
                        ("if-none", _) => ff.if_none = true,
                        (x, _) => return Err(format!("'option forwardfor' : unknown or incomplete argument '{x}'; expects 'except', 'header' or 'if-none'.")),
                    }
                    i += 1;
                }
                o.forwardfor = Some(ff);
            }
            "httpchk" => {
                let hc = &mut p.http_check;
                hc.enabled = on;
                if on {
                    p.options.tcp_check = false;
                }
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
                                let (n, val) = h.split_once(':').ok_or_else(|| format!("'option httpchk' : invalid header '{h}' in version string."))?;
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
            }
            _ => match keywords::option_known(name) {
                Some(Known::Unsupported) => {
                    return Err(format!("'option {name}' is not supported by lbd."))
                }
                Some(_) => self.warn(format!(
                    "'option {name}' is not supported by lbd and is ignored."
                )),
                None => {
                    return Err(format!(
                        "unknown option '{name}'{}",
                        did_you_mean(name, keywords::OPTIONS.iter().copied())
                    ))
                }
            },
        }
        Ok(())
    }

    fn http_check(&mut self, w: &[String], t: Target) -> R {
        let Some(sub) = w.first() else {
            return Err("'http-check' expects 'send', 'expect', 'connect' or 'comment'.".into());
        };
        match sub.as_str() {
            "send" => {
                let hc = &mut self.px(t).http_check;
                let mut i = 1;
                while i < w.len() {
                    let val = w.get(i + 1).cloned();
                    let need = || val.clone().ok_or_else(|| format!("'http-check send' : '{}' expects an argument.", w[i]));
                    match w[i].as_str() {
                        "meth" => hc.method = need()?,
                        "uri" => hc.uri = need()?,
                        "ver" => hc.version = need()?,
                        "body" => hc.body = Some(need()?),
                        "hdr" => {
                            let n = need()?;
                            let v = w.get(i + 2).cloned().ok_or_else(|| "'http-check send' : 'hdr' expects a name and a value.".to_string())?;
                            hc.headers.push((n, v));
                            i += 1;
                        }
                        x @ ("uri-lf" | "body-lf" | "comment") => {
                            return Err(format!("'http-check send {x}' is not supported by lbd."))
                        }
                        x => return Err(format!("'http-check send' : unknown argument '{x}'; expects 'meth', 'uri', 'ver', 'hdr' or 'body'.")),
                    }
                    i += 2;
                }
            }
            "expect" => {
                let mut i = 1;
                while i < w.len() && matches!(w[i].as_str(), "min-recv" | "ok-status" | "error-status" | "tout-status" | "on-success" | "on-error" | "status-code" | "comment") {
                    if w[i] != "comment" {
                        self.warn(format!("'http-check expect {}' is not supported by lbd and is ignored.", w[i]));
                    }
                    i += 2;
                }
                let mut negate = false;
                if w.get(i).map(String::as_str) == Some("!") {
                    negate = true;
                    i += 1;
                }
                let (Some(kind), Some(pat)) = (w.get(i), w.get(i + 1)) else {
                    return Err("'http-check expect' expects [!] 'status', 'rstatus' or 'string' followed by a pattern.".into());
                };
                let kind = match kind.as_str() {
                    "status" => ExpectKind::Status(value::status_list(pat).map_err(|e| format!("'http-check expect status' : {e}"))?),
                    "rstatus" => ExpectKind::RStatus(pat.clone()),
                    "string" => ExpectKind::String(pat.clone()),
                    x @ ("rstring" | "hdr" | "fhdr" | "string-lf" | "status-lf") => {
                        return Err(format!("'http-check expect {x}' is not supported by lbd."))
                    }
                    x => return Err(format!("'http-check expect' : unknown matching method '{x}'; expects 'status', 'rstatus' or 'string'.")),
                };
                if let Some(extra) = w.get(i + 2) {
                    return Err(format!("'http-check expect' : unexpected argument '{extra}'."));
                }
                self.px(t).http_check.expect = Some(Expect { negate, kind });
            }
            "comment" => {}
            "connect" => {
                if w.len() > 1 {
                    return Err("'http-check connect' with options is not supported by lbd.".into());
                }
            }
            "disable-on-404" | "send-state" | "set-var" | "unset-var" => {
                return Err(format!("'http-check {sub}' is not supported by lbd."))
            }
            x => return Err(format!("'http-check' : unknown keyword '{x}'; expects 'send', 'expect', 'connect' or 'comment'.")),
        }
        Ok(())
    }

    fn http_rule(&mut self, w: &[String], t: Target) -> Result<HttpRule, String> {
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
        let response = kw == "http-response";
        // Header values and `lf-string` are HAProxy log-format strings: `%%` is a
        // literal `%`; `%[...]`, `%{...}` and `%var` are expressions lbd does not
        // evaluate; any other `%` is an error in HAProxy too.
        let check_value = |v: &str| -> Result<String, String> {
            let mut out = String::with_capacity(v.len());
            let mut chars = v.chars().peekable();
            while let Some(c) = chars.next() {
                if c != '%' {
                    out.push(c);
                    continue;
                }
                match chars.peek() {
                    Some('%') => {
                        chars.next();
                        out.push('%');
                    }
                    Some(n) if *n == '[' || *n == '{' || n.is_ascii_alphabetic() => {
                        return Err(format!("'{kw} {action_name}' : log-format expressions ('%[...]') in values are not supported by lbd (in '{v}')."));
                    }
                    _ => {
                        return Err(format!(
                            "'{kw} {action_name}' : a literal '%' must be written '%%' (in '{v}')."
                        ));
                    }
                }
            }
            Ok(out)
        };
        let action = match action_name {
            "set-header" | "add-header" => {
                let (Some(n), Some(v)) = (args.first(), args.get(1)) else {
                    return Err(format!("'{kw} {action_name}' expects exactly 2 arguments."));
                };
                let v = check_value(v)?;
                if args.len() > 2 {
                    return Err(format!("'{kw} {action_name}' expects exactly 2 arguments."));
                }
                if action_name == "set-header" {
                    HttpAction::SetHeader(n.clone(), v)
                } else {
                    HttpAction::AddHeader(n.clone(), v)
                }
            }
            "del-header" => {
                let Some(n) = args.first() else {
                    return Err(format!("'{kw} del-header' expects at least 1 argument."));
                };
                if args.len() > 1 {
                    if args.len() == 3 && args[1] == "-m" && args[2] == "str" {
                    } else {
                        return Err(format!("'{kw} del-header' : matching methods other than '-m str' are not supported by lbd."));
                    }
                }
                HttpAction::DelHeader(n.clone())
            }
            "deny" => {
                let mut status = if response { 502 } else { 403 };
                let mut i = 0;
                while i < args.len() {
                    match (args[i].as_str(), args.get(i + 1)) {
                        ("deny_status" | "status", Some(s)) => {
                            status = value::int_in(s, 200, 599, "'deny_status'")? as u16;
                        }
                        (x, _) => return Err(format!("'{kw} deny' : '{x}' is not supported by lbd; only 'deny_status' is.")),
                    }
                    i += 2;
                }
                HttpAction::Deny(status)
            }
            "return" => {
                let mut status = 200;
                let mut content_type = None;
                let mut body = None;
                let mut headers = Vec::new();
                let mut i = 0;
                while i < args.len() {
                    let need = |n: usize| args.get(i + n).cloned().ok_or_else(|| format!("'{kw} return' : '{}' expects an argument.", args[i]));
                    match args[i].as_str() {
                        "status" => status = value::int_in(&need(1)?, 200, 599, "'return status'")? as u16,
                        "content-type" => content_type = Some(need(1)?),
                        "string" => body = Some(need(1)?),
                        "lf-string" => {
                            body = Some(check_value(&need(1)?)?);
                        }
                        "hdr" => {
                            headers.push((need(1)?, check_value(&need(2)?)?));
                            i += 1;
                        }
                        x @ ("file" | "lf-file" | "errorfile" | "errorfiles" | "default-errorfiles") => {
                            return Err(format!("'{kw} return {x}' is not supported by lbd; use 'string'."))
                        }
                        x => return Err(format!("'{kw} return' : unknown argument '{x}'; expects 'status', 'content-type', 'string', 'lf-string' or 'hdr'.")),
                    }
                    i += 2;
                }
                if body.is_some() && content_type.is_none() {
                    return Err(format!("'{kw} return' : a 'content-type' is required with a body."));
                }
                HttpAction::Return { status, content_type, body, headers }
            }
            "redirect" if !response => HttpAction::Redirect(parse_redirect(kw, args)?),
            "use-service" if !response => match args.first().map(String::as_str) {
                Some("prometheus-exporter") => HttpAction::UseServicePrometheus,
                Some(s) => return Err(format!("'http-request use-service {s}' is not supported by lbd; only 'prometheus-exporter' is.")),
                None => return Err("'http-request use-service' expects a service name.".into()),
            },
            a => {
                const KNOWN: &[&str] = &[
                    "set-path", "set-pathq", "set-query", "set-uri", "set-method", "set-var",
                    "unset-var", "set-log-level", "set-tos", "set-mark", "set-src", "set-dst", "set-nice",
                    "replace-header", "replace-value", "replace-path", "replace-pathq", "replace-uri",
                    "track-sc0", "track-sc1", "track-sc2", "sc-inc-gpc0", "sc-inc-gpc1", "sc-set-gpt0",
                    "tarpit", "silent-drop", "reject", "auth", "allow", "capture", "cache-use", "cache-store",
                    "send-spoe-group", "wait-for-body", "wait-for-handshake", "early-hint", "normalize-uri",
                    "set-status", "strict-mode", "do-resolve", "add-acl", "del-acl", "set-map", "del-map",
                    "set-timeout", "set-bandwidth-limit", "disable-l7-retry", "use-service", "set-fc-mark",
                    "set-fc-tos", "set-priority-class", "set-priority-offset", "sc-add-gpc", "sc-inc-gpc",
                    "sc-set-gpt", "set-retries", "pause", "unset-header", "set-var-fmt",
                ];
                if KNOWN.contains(&a) || a.starts_with("lua.") || a.starts_with("set-var(") || a.starts_with("unset-var(") || a.starts_with("track-sc") || a.starts_with("set-var-fmt(") {
                    return Err(format!("'{kw} {a}' is not supported by lbd."));
                }
                let supported: &[&str] = if response {
                    &["set-header", "add-header", "del-header", "deny", "return"]
                } else {
                    &["set-header", "add-header", "del-header", "deny", "return", "use-service"]
                };
                return Err(format!(
                    "'{kw}' : unknown action '{a}'{}",
                    did_you_mean(a, supported.iter().copied())
                ));
            }
        };
        Ok(HttpRule {
            action,
            cond,
            loc: self.loc.clone(),
        })
    }

    fn stick_table(&mut self, w: &[String]) -> Result<StickTable, String> {
        let mut size = None;
        let mut expire = None;
        let mut ty = None;
        let mut i = 0;
        while i < w.len() {
            let val = w.get(i + 1);
            let need =
                || val.ok_or_else(|| format!("'stick-table' : '{}' expects an argument.", w[i]));
            match w[i].as_str() {
                "type" => {
                    let t = need()?;
                    if t != "ip" {
                        return Err(format!(
                            "'stick-table type {t}' is not supported by lbd; only 'type ip' is."
                        ));
                    }
                    ty = Some(t);
                }
                "size" => {
                    size = Some(
                        value::size(need()?).map_err(|e| format!("'stick-table size' : {e}"))?,
                    )
                }
                "expire" => {
                    expire = Some(
                        value::time(need()?).map_err(|e| format!("'stick-table expire' : {e}"))?,
                    )
                }
                "nopurge" => {
                    i += 1;
                    continue;
                }
                "store" => {
                    self.warn(format!(
                        "'stick-table store {}' is not supported by lbd and is ignored.",
                        need()?
                    ));
                }
                "peers" => {
                    self.warn("'stick-table peers' is not supported by lbd and is ignored: tables stay local.".into());
                }
                "srvkey" | "write-to" | "recv-only" => {
                    return Err(format!("'stick-table {}' is not supported by lbd.", w[i]));
                }
                x => return Err(format!("'stick-table' : unknown argument '{x}'.")),
            }
            i += 2;
        }
        if ty.is_none() {
            return Err("'stick-table' : missing 'type'.".into());
        }
        let Some(size) = size else {
            return Err("'stick-table' : missing 'size'.".into());
        };
        Ok(StickTable {
            size,
            expire,
            loc: self.loc.clone(),
        })
    }

    fn stick_rule(&mut self, w: &[String], t: Target) -> Result<StickRule, String> {
        let kind = match w.get(1).map(String::as_str) {
            Some("on") => StickKind::On,
            Some("match") => StickKind::Match,
            Some("store-request") => StickKind::StoreRequest,
            Some("store-response") => {
                return Err("'stick store-response' is not supported by lbd.".into())
            }
            Some(x) => {
                return Err(format!(
                    "'stick' : unknown keyword '{x}'; expects 'on', 'match' or 'store-request'."
                ))
            }
            None => return Err("'stick' expects 'on', 'match' or 'store-request'.".into()),
        };
        match w.get(2).map(String::as_str) {
            Some("src") => {}
            Some(x) => {
                return Err(format!(
                    "'stick {}' : pattern '{x}' is not supported by lbd; only 'src' is.",
                    w[1]
                ))
            }
            None => return Err(format!("'stick {}' expects a pattern ('src').", w[1])),
        }
        let mut table = None;
        let mut i = 3;
        if w.get(i).map(String::as_str) == Some("table") {
            table = Some(
                w.get(i + 1)
                    .cloned()
                    .ok_or_else(|| "'stick ... table' expects a table name.".to_string())?,
            );
            i += 2;
        }
        let cond = match w.get(i).map(String::as_str) {
            Some(k @ ("if" | "unless")) => {
                Some(self.cond(t, k == "unless", &w[i + 1..], "a 'stick' rule")?)
            }
            Some(x) => return Err(format!("'stick' : unexpected argument '{x}'.")),
            None => None,
        };
        Ok(StickRule {
            kind,
            table,
            cond,
            loc: self.loc.clone(),
        })
    }

    fn stats(&mut self, w: &[String], t: Target) -> R {
        let Some(sub) = w.get(1).map(String::as_str) else {
            return Err("'stats' expects 'enable', 'uri', 'refresh', 'auth', 'realm', 'admin' or 'hide-version'.".into());
        };
        let arg = w.get(2).cloned();
        let need = || {
            arg.clone()
                .ok_or_else(|| format!("'stats {sub}' expects an argument."))
        };
        match sub {
            "enable" => self.px(t).stats.enabled = true,
            "uri" => {
                let u = need()?;
                let s = &mut self.px(t).stats;
                s.uri = Some(u);
                s.enabled = true;
            }
            "refresh" => {
                let d = value::time(&need()?).map_err(|e| format!("'stats refresh' : {e}"))?;
                let s = &mut self.px(t).stats;
                s.refresh = Some(d);
                s.enabled = true;
            }
            "auth" => {
                let a = need()?;
                let Some((u, p)) = a.split_once(':') else {
                    return Err("'stats auth' expects <user>:<password>.".into());
                };
                let s = &mut self.px(t).stats;
                s.auth.push((u.to_string(), p.to_string()));
                s.enabled = true;
            }
            "realm" => self.px(t).stats.realm = Some(w[2..].join(" ")).filter(|r| !r.is_empty()),
            "admin" => {
                if let Some(k @ ("if" | "unless")) = w.get(2).map(String::as_str) {
                    self.cond(t, k == "unless", &w[3..], "a 'stats admin' rule")?;
                    self.px(t).stats.admin = true;
                    self.warn("'stats admin' is accepted but lbd's stats page is read-only; use the stats socket to change servers.".into());
                } else {
                    return Err(
                        "'stats admin' requires either 'if' or 'unless' followed by a condition."
                            .into(),
                    );
                }
            }
            "disable" => self.px(t).stats.enabled = false,
            "hide-version" | "show-node" | "show-legends" | "show-desc" | "show-modules"
            | "scope" | "bind-process" | "maxconn" | "timeout" => {
                self.warn(format!(
                    "'stats {sub}' is not supported by lbd and is ignored."
                ));
            }
            "socket" => {
                return Err("'stats socket' is only allowed in the 'global' section.".into())
            }
            "http-request" => return Err("'stats http-request' is not supported by lbd.".into()),
            x => {
                return Err(format!(
                    "'stats' : unknown keyword '{x}'{}",
                    did_you_mean(
                        x,
                        [
                            "enable",
                            "uri",
                            "refresh",
                            "auth",
                            "realm",
                            "admin",
                            "hide-version"
                        ]
                    )
                ))
            }
        }
        Ok(())
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
