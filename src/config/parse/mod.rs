//! Sections and keywords: lines of words in, the typed model and diagnostics out.
//!
//! Follows HAProxy's cfgparse: a section keyword opens a section; every other line
//! belongs to the current one. A proxy starts as a copy of the last `defaults` before it
//! (or the one named with `from`). Errors never stop the parse: every line is checked so
//! that one run reports every problem (up to `MAX_ALERTS`).
//!
//! Each kind of keyword has one table, in the file that parses it: `global::KEYWORDS`,
//! `proxy::KEYWORDS`, `options::KEYWORDS`, `server::KEYWORDS` (`server` and
//! `default-server` parameters), `bind::KEYWORDS`, `timeouts::KEYWORDS` and
//! `http_rules::ACTIONS`. An entry ([`keywords::Keyword`]) names the keyword, where it
//! may appear ([`keywords::Caps`]: the proxy kinds, and whether the wrong one is an
//! alert or a warning), its parser or its support class (unsupported: ALERT, ignored:
//! WARNING, removed: ALERT naming the replacement), how many value words it takes and
//! the README section that documents it. Dispatch, `unknown keyword`, `did you mean`,
//! the capability messages and the unsupported/ignored/removed messages are all read
//! from the tables.
//!
//! How to add a keyword: write its parser fn next to the table, add one entry to the
//! table, and add a row for it to README.md's configuration reference (in the section
//! the entry's `doc` names; a known but unsupported keyword goes in "Known but
//! unsupported keywords"). `tests/config_table.rs` fails until the README has it.

use super::acl;
use super::diag::{did_you_mean, Diag, Level, MAX_ALERTS};
use super::keywords::{self, How};
use super::lex;
use super::model::*;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

pub(crate) mod bind;
mod bind_ssl;
pub use bind_ssl::crt_list_line;
mod capture;
mod check_protos;
mod checks;
mod cond;
mod defaults_rules;
pub(crate) mod errors;
pub(crate) mod global;
mod http_actions;
pub(crate) mod http_rules;
mod log;
mod logformat;
pub(crate) mod options;
mod peers;
pub(crate) mod proxy;
mod resolvers;
pub(crate) mod server;
mod srv_tls;
mod stats;
mod stick;
mod tcp_rules;
pub(crate) mod timeouts;
pub(crate) mod userlist;

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
    /// Index into `http_errors`.
    HttpErrors(usize),
    /// Index into `userlists`.
    Userlist(usize),
    /// Index into `resolvers`.
    Resolvers(usize),
    /// Index into `peers`.
    Peers(usize),
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
    /// This section has set its own check request (`option httpchk`, `http-check`):
    /// what `defaults` gave is no longer inherited.
    http_check_own: bool,
    /// This section has its own `tcp-check` rules (those of `defaults` go).
    tcp_check_own: bool,
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
    http_errors: Vec<HttpErrors>,
    userlists: Vec<userlist::RawUserlist>,
    resolvers: Vec<crate::config::model::Resolvers>,
    peers: Vec<PeersSection>,
    last_defaults: Option<usize>,
    /// The kind of the sections that inherit from each defaults section (by index).
    defaults_used: HashMap<usize, ProxyKind>,
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
    crate::sample::refs::begin();
    for src in sources {
        p.source(src);
        if p.alerts >= MAX_ALERTS {
            break;
        }
    }
    p.resolve_errors();
    let userlists = p.resolve_userlists();
    p.check_userlist_refs(&userlists);
    p.check_capture_ids();
    p.check_resolvers_refs();
    p.check_peers_refs();
    let ok = p.alerts == 0;
    let config = Config {
        global: p.global,
        proxies: p.proxies,
        userlists,
        pat_refs: std::sync::Arc::new(crate::sample::refs::finish()),
        resolvers: p.resolvers,
        peers: p.peers,
    };
    (ok.then_some(config), p.diags)
}

/// Evaluates a condition given on the command line (`lbd -cc EXPR`): read like a
/// config line (quotes, `$VAR` expansion), then as a `.if` condition. Empty is false.
pub fn condition(expr: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<bool, String> {
    let words = lex::split_line(expr, env).map_err(|e| e.to_string())?;
    if words.is_empty() {
        return Ok(false);
    }
    cond::eval(&words.join(" "), env)
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
            http_errors: Vec::new(),
            userlists: Vec::new(),
            resolvers: Vec::new(),
            peers: Vec::new(),
            last_defaults: None,
            defaults_used: HashMap::new(),
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
            crate::sample::refs::at(&src.name, n as u32 + 1);
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

    /// Evaluates a `.if` condition (the words of the line after the directive).
    fn eval_cond(&self, words: &[String]) -> Result<bool, String> {
        if words.is_empty() {
            return Err("missing condition after '.if'".into());
        }
        cond::eval(&words.join(" "), &|v| self.getenv(v))
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
        let res = if kw == "http-errors" {
            self.start_http_errors(w)
        } else if kw == "userlist" {
            self.start_userlist(w)
        } else if kw == "resolvers" {
            self.start_resolvers(w)
        } else if kw == "peers" {
            self.start_peers(w)
        } else if keywords::SECTIONS.contains(&kw) {
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
                Section::HttpErrors(i) => self.http_errors_kw(w, i),
                Section::Userlist(i) => self.userlist_kw(w, i),
                Section::Resolvers(i) => self.resolvers_kw(w, i),
                Section::Peers(i) => self.peers_kw(w, i),
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
        if let Some(idx) = base {
            let used = self.defaults_used.get(&idx).copied();
            defaults_rules::inherit(&self.defaults[idx], kind, used)?;
            if kind != ProxyKind::Defaults {
                self.defaults_used.insert(idx, kind);
            }
        }
        let mut p = match base {
            Some(idx) => self.defaults[idx].clone(),
            None => Proxy {
                retries: 3,
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

    /// The message for a known keyword lbd does not implement: an ALERT (`Err`) when
    /// ignoring it would change traffic, a WARNING otherwise. `at` prefixes the
    /// message (`'server s1' : `) for parameters on a line.
    fn refuse<P>(&mut self, at: &str, what: &str, how: &How<P>) -> R {
        match how {
            // A supported keyword never gets here; refusing it is the safe answer.
            How::Parse(_) | How::Unsupported => {
                Err(format!("{at}'{what}' is not supported by lbd."))
            }
            How::Ignored => {
                self.warn(format!(
                    "{at}'{what}' is not supported by lbd and is ignored."
                ));
                Ok(())
            }
            How::Removed(why) => Err(format!("{at}'{what}' : {why}")),
        }
    }
}

/// One parameter on a `server`, `default-server` or `bind` line.
pub(crate) struct Param<'a> {
    /// The line for messages: `server s1`, `default-server`, `bind :80`.
    ctx: &'a str,
    /// The parameter.
    name: &'a str,
    /// Its value word, when the table says it takes one (else empty).
    val: &'a str,
}

/// A parameter's parser: the parser, what the line builds, the parameter.
pub(crate) type ParamFn<S> = fn(&mut Parser<'_>, &mut S, &Param<'_>) -> R;

impl<'e> Parser<'e> {
    /// Reads parameters (`check inter 2s ...`) with a table into `s`.
    fn params<S>(
        &mut self,
        table: &[keywords::Keyword<ParamFn<S>>],
        w: &[String],
        ctx: &str,
        s: &mut S,
    ) -> R {
        let mut i = 0;
        while i < w.len() {
            let name = w[i].as_str();
            let Some(kw) = keywords::find(table, name) else {
                return Err(format!(
                    "'{ctx}' unknown keyword '{name}'{}",
                    did_you_mean(name, keywords::hints(table, keywords::Caps::DFBL))
                ));
            };
            match kw.how {
                How::Parse(parse) => {
                    let val = match (kw.args, w.get(i + 1)) {
                        (0, _) => "",
                        (_, Some(v)) => v.as_str(),
                        (_, None) => {
                            return Err(format!("'{ctx}' : '{name}' expects an argument."))
                        }
                    };
                    parse(self, s, &Param { ctx, name, val })?;
                }
                ref how => self.refuse(&format!("'{ctx}' : "), name, how)?,
            }
            i += 1 + kw.args as usize;
        }
        Ok(())
    }
}

/// The `n`th word, or `'kw' expects an argument.`.
fn arg(w: &[String], n: usize) -> Result<&str, String> {
    w.get(n)
        .map(String::as_str)
        .ok_or_else(|| format!("'{}' expects an argument.", w[0]))
}

/// Where a proxy keyword lands.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target {
    /// A frontend, backend or listen: index into `proxies`.
    Proxy(usize),
    /// A defaults section: index into `defaults`.
    Defaults(usize),
}

impl<'e> Parser<'e> {
    /// Before a proxy's first own check-request line (`option httpchk`, `http-check
    /// send|expect`): HAProxy drops the check rules inherited from `defaults`, so the
    /// request starts again from `OPTIONS / HTTP/1.0`.
    /// The first `tcp-check` rule of a section replaces those inherited from `defaults`.
    fn own_tcp_check(&mut self, t: Target) {
        if let Target::Proxy(i) = t {
            if !self.states[i].tcp_check_own {
                self.states[i].tcp_check_own = true;
                self.proxies[i].check.tcp.clear();
            }
        }
    }

    fn own_http_check(&mut self, t: Target) {
        if let Target::Proxy(i) = t {
            if !self.states[i].http_check_own {
                self.states[i].http_check_own = true;
                self.proxies[i].check.http.clear();
            }
        }
    }

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

    /// Parses an `if`/`unless` condition against the ACLs declared so far.
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
}
