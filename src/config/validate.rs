//! Checks that need the whole configuration: references between proxies, modes,
//! timeouts, listeners. Runs after every line is parsed; adjusts the model where
//! HAProxy would fall back (with a warning) and reports alerts where it would refuse.

use super::diag::{Diag, Level};
use super::model::*;
use std::collections::HashMap;

fn diag(out: &mut Vec<Diag>, level: Level, loc: &Loc, msg: String) {
    out.push(Diag {
        level,
        loc: Some(loc.clone()),
        msg,
    });
}

fn http_only(a: &Acl) -> Option<String> {
    a.expr.needs_http().then(|| {
        let kw = a.text.split([' ', '(', ',']).next().unwrap_or("");
        // The acl keyword as written (`path_beg`), which names a fetch.
        if kw.starts_with(a.expr.fetch_name()) {
            kw.to_string()
        } else {
            a.expr.fetch_name().to_string()
        }
    })
}

/// The HTTP-only fetch a condition uses, if any (named acls looked up in `acls`).
fn cond_http_fetch(cond: &Condition, acls: &[Acl]) -> Option<(String, String)> {
    for term in cond.any_of.iter().flatten() {
        match &term.acl {
            TermAcl::Anonymous(a) => {
                if let Some(f) = http_only(a) {
                    return Some(("anonymous".into(), f));
                }
            }
            TermAcl::Named(n) => {
                for a in acls.iter().filter(|a| &a.name == n) {
                    if let Some(f) = http_only(a) {
                        return Some((n.clone(), f));
                    }
                }
            }
        }
    }
    None
}

/// Names the table of each `track-sc*` rule (this proxy's when none is given) and
/// checks that it exists, in HAProxy's words.
fn track_tables(out: &mut Vec<Diag>, tables: &HashMap<String, bool>, p: &mut Proxy) {
    let http = p
        .http_request
        .iter_mut()
        .chain(p.http_response.iter_mut())
        .filter_map(|r| match &mut r.action {
            HttpAction::Track { slot, table, .. } => Some((*slot, table, &r.loc)),
            _ => None,
        });
    let tcp = p.tcp_rules.iter_mut().filter_map(|r| match &mut r.action {
        TcpAction::Track { slot, table, .. } => Some((*slot, table, &r.loc)),
        _ => None,
    });
    let mut found: Vec<(usize, &mut Option<String>, &Loc)> = http.chain(tcp).collect();
    for (slot, table, loc) in found.iter_mut() {
        let (slot, loc) = (*slot, *loc);
        let name = table.get_or_insert_with(|| p.name.clone()).clone();
        let msg = match tables.get(&name) {
            Some(true) => continue,
            Some(false) => format!(
                "Proxy '{}': table '{name}' used but not configured.",
                p.name
            ),
            None => format!(
                "Proxy '{}': unable to find table '{name}' referenced by track-sc{slot}.",
                p.name
            ),
        };
        diag(out, Level::Alert, loc, msg);
    }
}

/// Validates and finalizes the proxies; returns the diagnostics.
/// `peer_tables` names the tables of `peers` sections (`SECTION/NAME`).
pub fn check(global: &Global, proxies: &mut [Proxy], peer_tables: &[String]) -> Vec<Diag> {
    let mut out = Vec::new();
    let backends: HashMap<&str, (Mode, Loc)> = proxies
        .iter()
        .filter(|p| p.kind.is_backend())
        .map(|p| (p.name.as_str(), (p.mode, p.loc.clone())))
        .collect();
    let tables: HashMap<String, bool> = proxies
        .iter()
        .map(|p| (p.name.clone(), p.stick_table.is_some()))
        .chain(peer_tables.iter().map(|t| (t.clone(), true)))
        .collect();
    let mut binds: HashMap<BindAddr, (String, Loc)> = HashMap::new();
    let mut late: Vec<(Level, Loc, String)> = Vec::new();

    for p in proxies.iter() {
        let kw = p.kind.keyword();
        if p.kind.is_frontend() {
            // HAProxy resolves the default backend before the switching rules.
            let mut refs: Vec<(&str, &Loc, &str)> = p
                .default_backend
                .iter()
                .map(|d| (d.name.as_str(), &d.loc, "default_backend"))
                .collect();
            refs.extend(
                p.use_backends
                    .iter()
                    .filter(|u| u.dynamic.is_none())
                    .map(|u| (u.backend.as_str(), &u.loc, "use_backend")),
            );
            for (name, loc, rule) in refs {
                match backends.get(name) {
                    None => diag(
                        &mut out,
                        Level::Alert,
                        loc,
                        format!(
                            "Proxy '{}': unable to find required {rule}: '{name}'{}",
                            p.name,
                            match super::diag::did_you_mean(name, backends.keys().copied()) {
                                s if s.is_empty() => ".".to_string(),
                                s => s,
                            }
                        ),
                    ),
                    Some((Mode::Tcp, bloc)) if p.mode == Mode::Http => diag(
                        &mut out,
                        Level::Alert,
                        loc,
                        format!(
                            "http {kw} '{}' ({}) tries to use incompatible tcp backend '{name}' ({bloc}) in a '{rule}' rule (see 'mode').",
                            p.name, p.loc
                        ),
                    ),
                    _ => {}
                }
            }
            if p.mode == Mode::Tcp {
                for u in &p.use_backends {
                    if let Some((acl, fetch)) = cond_http_fetch(&u.cond, &p.acls) {
                        diag(&mut out, Level::Alert, &u.loc, format!(
                            "acl '{acl}' uses '{fetch}', which needs 'mode http'; {kw} '{}' is in 'mode tcp' so this 'use_backend' rule could never match.",
                            p.name
                        ));
                    }
                }
            }
            if p.binds.is_empty() && !p.disabled {
                diag(&mut out, Level::Warning, &p.loc, format!(
                    "Proxy '{}' has no 'bind' directive. Please declare it as a backend if this was intended.",
                    p.name
                ));
            }
            for b in &p.binds {
                if b.proto == Some(HttpProto::H2) && p.mode == Mode::Tcp {
                    // As HAProxy: the h2 mux needs `mode http`.
                    diag(
                        &mut out,
                        Level::Alert,
                        &b.loc,
                        format!(
                            "MUX protocol 'h2' is not usable for 'bind {}' at [{}] in {kw} '{}'.",
                            b.addr, b.loc, p.name
                        ),
                    );
                }
                if let Some((other, oloc)) = binds.get(&b.addr) {
                    diag(&mut out, Level::Alert, &b.loc, format!(
                        "{kw} '{}' binds {} which {other} already binds at {oloc}; lbd cannot share one address between proxies.",
                        p.name, b.addr
                    ));
                } else if !p.disabled {
                    binds.insert(
                        b.addr.clone(),
                        (format!("{kw} '{}'", p.name), b.loc.clone()),
                    );
                }
            }
        }
        let fe_missing = p.kind.is_frontend() && p.timeouts.client.is_none();
        let be_missing = p.kind.is_backend()
            && !p.servers.is_empty()
            && (p.timeouts.connect.is_none() || p.timeouts.server.is_none());
        if (fe_missing || be_missing) && !p.disabled {
            late.push((Level::Warning, p.loc.clone(), format!(
                "missing timeouts for {kw} '{}'.\n   | While not properly invalid, you will certainly encounter various problems\n   | with such a configuration. To fix this, please ensure that all following\n   | timeouts are set to a non-zero value: 'client', 'connect', 'server'.",
                p.name
            )));
        }
        if p.mode == Mode::Tcp
            && (!p.http_request.is_empty()
                || !p.http_response.is_empty()
                || !p.http_after_response.is_empty())
        {
            let rule = p
                .http_request
                .first()
                .or(p.http_response.first())
                .or(p.http_after_response.first())
                .map(|r| &r.loc)
                .unwrap_or(&p.loc);
            diag(&mut out, Level::Warning, rule, format!(
                "'http-request'/'http-response' rules ignored for {kw} '{}' as they require HTTP mode.",
                p.name
            ));
            if let Some(r) = p
                .http_request
                .iter()
                .find(|r| r.action == HttpAction::UseServicePrometheus)
            {
                diag(&mut out, Level::Alert, &r.loc, format!(
                    "'http-request use-service prometheus-exporter' needs 'mode http' but {kw} '{}' is in 'mode tcp'.",
                    p.name
                ));
            }
        }
        if p.mode == Mode::Tcp {
            // In `mode tcp` only request content rules find an HTTP request (the head
            // the client's bytes start with): a response rule reading it never would.
            for r in p.tcp_rules.iter().filter(|r| r.when == TcpWhen::Response) {
                let cond_http = r
                    .cond
                    .as_ref()
                    .and_then(|c| cond_http_fetch(c, &p.acls))
                    .map(|(_, f)| f);
                let expr_http = match &r.action {
                    TcpAction::SetVar(_, _, e) if e.needs_http() => {
                        Some(e.fetch_name().to_string())
                    }
                    _ => None,
                };
                if let Some(f) = cond_http.or(expr_http) {
                    diag(&mut out, Level::Alert, &r.loc, format!(
                        "this tcp rule uses '{f}', which needs 'mode http'; {kw} '{}' is in 'mode tcp'.",
                        p.name
                    ));
                }
            }
        }
        for (name, _, loc) in &p.use_servers {
            if !p.servers.iter().any(|s| &s.name == name) {
                diag(
                    &mut out,
                    Level::Alert,
                    loc,
                    format!(
                    "{} '{}' : unable to find server '{name}' referenced in a 'use-server' rule.",
                    p.kind.keyword(),
                    p.name
                ),
                );
            }
        }
        for r in &p.stick_rules {
            if r.kind == crate::config::model::StickKind::StoreResponse && p.mode == Mode::Tcp {
                diag(&mut out, Level::Alert, &r.loc, format!(
                    "Proxy '{}': 'stick store-response' in 'mode tcp' is not supported by lbd (it reads http responses).",
                    p.name
                ));
            }
            let (tname, has) = match &r.table {
                Some(t) => (t.as_str(), tables.get(t).copied()),
                None => (p.name.as_str(), Some(p.stick_table.is_some())),
            };
            match has {
                Some(true) => {}
                Some(false) if r.table.is_none() => diag(&mut out, Level::Alert, &r.loc, format!(
                    "Proxy '{}': 'stick' rule needs a 'stick-table' in this proxy or a 'table' argument.",
                    p.name
                )),
                _ => diag(&mut out, Level::Alert, &r.loc, format!(
                    "Proxy '{}': unable to find stick-table '{tname}'.",
                    p.name
                )),
            }
        }
        if p.kind.is_backend() && p.check.proto == check::CheckProto::External {
            let missing = [
                (
                    global.external_check == ExternalCheck::Off,
                    "global.external-check",
                ),
                (p.check.ext_command.is_none(), "external-check command"),
            ];
            for (_, what) in missing.iter().filter(|m| m.0) {
                out.push(Diag {
                    level: Level::Alert,
                    loc: None,
                    msg: format!(
                        "Proxy '{}' : 'option external-check' unable to find required '{what}'.",
                        p.name
                    ),
                });
            }
        }
        for s in &p.servers {
            if s.settings.check && !s.has_port && s.settings.check_port.is_none() {
                late.push((Level::Warning, s.loc.clone(), format!(
                    "Server {}/{} has neither service port nor check port. Check has been disabled.",
                    p.name, s.name
                )));
            }
            if let Some(msg) = srv_tls_error(global, &p.name, s) {
                late.push((Level::Alert, s.loc.clone(), msg));
            }
            if (s.settings.tls.ssl || s.unix.is_some())
                && p.tcp_rules.iter().any(|r| r.when == TcpWhen::Response)
            {
                let what = if s.settings.tls.ssl {
                    "a server with 'ssl'"
                } else {
                    "a unix socket server"
                };
                late.push((Level::Alert, s.loc.clone(), format!(
                    "'server {}/{}' : 'tcp-response content' rules towards {what} are not supported by lbd.",
                    p.name, s.name
                )));
            }
        }
    }
    for (pi, si, msg) in super::track::errors(proxies) {
        let (p, s) = (&proxies[pi], &proxies[pi].servers[si]);
        late.push((
            Level::Alert,
            s.loc.clone(),
            format!("'server {}/{}' : {msg}", p.name, s.name),
        ));
    }
    for (level, loc, msg) in late {
        diag(&mut out, level, &loc, msg);
    }

    // Fallbacks HAProxy applies with a warning.
    for p in proxies.iter_mut() {
        track_tables(&mut out, &tables, p);
        let kw = p.kind.keyword();
        if p.dispatch.is_some() && p.balance_set {
            diag(
                &mut out,
                Level::Warning,
                &p.loc,
                format!(
                    "dispatch address of {kw} '{}' will be ignored in balance mode.",
                    p.name
                ),
            );
            p.dispatch = None;
        }
        if p.kind.is_backend() && p.mode == Mode::Tcp {
            if matches!(
                p.balance,
                Balance::Uri { .. } | Balance::Hdr { .. } | Balance::UrlParam(_)
            ) {
                diag(&mut out, Level::Warning, &p.loc, format!(
                    "Layer 7 hash not possible for {kw} '{}' (needs 'mode http'). Falling back to round robin.",
                    p.name
                ));
                p.balance = Balance::RoundRobin;
            }
            if p.cookie.is_some() {
                diag(
                    &mut out,
                    Level::Warning,
                    &p.loc,
                    format!("'cookie' statement ignored for tcp {kw} '{}'.", p.name),
                );
                p.cookie = None;
            }
        }
        if p.mode == Mode::Tcp && p.stats.enabled {
            diag(
                &mut out,
                Level::Warning,
                &p.loc,
                format!(
                    "'stats' ignored for {kw} '{}' as it requires HTTP mode.",
                    p.name
                ),
            );
            p.stats.enabled = false;
        }
        for s in p.servers.iter_mut() {
            if s.settings.check && !s.has_port && s.settings.check_port.is_none() {
                s.settings.check = false;
                s.settings.check_no_port = true;
            }
        }
        if p.log_global {
            let mut logs = global.logs.clone();
            logs.append(&mut p.logs);
            p.logs = logs;
        }
    }
    out
}

/// What HAProxy refuses in a server's TLS settings once the line is complete: `verify
/// required` (the default) without a `ca-file`, and a version range with nothing in it.
fn srv_tls_error(global: &Global, backend: &str, s: &Server) -> Option<String> {
    let t = &s.settings.tls;
    if !t.ssl && !s.settings.check_tls() {
        return None;
    }
    let who = format!("'server {backend}/{}'", s.name);
    let verify = t.verify.unwrap_or(global.srv_tls.verify);
    if verify == SrvVerify::Required && t.ca_file.is_none() {
        return Some(if global.srv_tls.verify == SrvVerify::Required {
            format!("{who} : verify is enabled by default but no CA file specified. If you're running on a LAN where you're certain to trust the server's certificate, please set an explicit 'verify none' statement on the 'server' line, or use 'ssl-server-verify none' in the global section to disable server-side verifications by default.")
        } else {
            format!("{who} : verify is enabled but no CA file specified.")
        });
    }
    let v = if t.versions.is_set() {
        t.versions
    } else {
        global.srv_tls.versions
    };
    if !v.allows(SrvTlsVer::Tls12) && !v.allows(SrvTlsVer::Tls13) {
        return Some(format!(
            "{who} : backend '{backend}': all SSL/TLS versions are disabled for server '{}' (lbd speaks TLSv1.2 and TLSv1.3).",
            s.name
        ));
    }
    None
}
