//! `tcp-request connection|session|content ...`, `tcp-request inspect-delay`,
//! `tcp-response content ...` and `tcp-response inspect-delay`.

use super::{Parser, Target, R};
use crate::config::model::*;
use crate::config::value;
use crate::sample::{Expr, Fmt, Scope};

/// The actions lbd performs in tcp rules.
const SUPPORTED: &[&str] = &[
    "accept",
    "reject",
    "silent-drop",
    "set-var",
    "set-var-fmt",
    "unset-var",
    "set-src",
    "set-dst",
    "set-src-port",
    "set-dst-port",
    "track-sc0",
    "track-sc1",
    "track-sc2",
    "expect-proxy",
    "sc-inc-gpc0",
    "sc-inc-gpc1",
];

/// HAProxy's other tcp rule actions, refused by name.
const KNOWN: &[&str] = &[
    "expect-netscaler-cip",
    "capture",
    "sc-inc-gpc",
    "sc-set-gpt0",
    "sc-set-gpt",
    "sc-add-gpc",
    "set-mark",
    "set-tos",
    "set-nice",
    "set-log-level",
    "set-priority-class",
    "set-priority-offset",
    "switch-mode",
    "use-service",
    "do-resolve",
    "send-spoe-group",
    "lua",
    "close",
    "set-bandwidth-limit",
    "set-fc-mark",
    "set-fc-tos",
    "attach-srv",
];

impl<'e> Parser<'e> {
    /// `tcp-request ...` / `tcp-response ...`.
    pub(super) fn tcp_rule(&mut self, w: &[String], t: Target) -> R {
        let kw = w[0].as_str();
        let Some(sub) = w.get(1).map(String::as_str) else {
            return Err(format!(
                "'{kw}' expects 'inspect-delay', 'connection', 'session' or 'content'."
            ));
        };
        let response = kw == "tcp-response";
        if sub == "inspect-delay" {
            let Some(v) = w.get(2) else {
                return Err(format!("'{kw} inspect-delay' expects a timeout value."));
            };
            let d = value::time(v).map_err(|e| format!("'{kw} inspect-delay' : {e}"))?;
            if response {
                self.px(t).res_inspect_delay = Some(d);
            } else {
                self.px(t).inspect_delay = Some(d);
            }
            return Ok(());
        }
        super::defaults_rules::anonymous(self.px(t), &format!("'{kw} {sub}'"))?;
        super::defaults_rules::explicit_args(self.px(t), w)?;
        let when = match (response, sub) {
            (false, "connection") => TcpWhen::Connection,
            (false, "session") => TcpWhen::Session,
            (false, "content") => TcpWhen::Content,
            (true, "content") => TcpWhen::Response,
            _ => {
                return Err(format!(
                    "'{kw}' expects 'inspect-delay'{}, got '{sub}'.",
                    if response {
                        " or 'content'"
                    } else {
                        ", 'connection', 'session' or 'content'"
                    }
                ))
            }
        };
        let is_backend = match t {
            Target::Proxy(i) => !self.proxies[i].kind.is_frontend(),
            Target::Defaults(_) => false,
        };
        if is_backend && matches!(when, TcpWhen::Connection | TcpWhen::Session) {
            return Err(format!(
                "'{kw} {sub}' is not allowed in a backend (a frontend or listen only)."
            ));
        }
        let Some(action) = w.get(2).map(String::as_str) else {
            return Err(format!("'{kw} {sub}' expects an action."));
        };
        let cond_at = w
            .iter()
            .skip(3)
            .position(|x| x == "if" || x == "unless")
            .map(|p| p + 3);
        let args = &w[3..cond_at.unwrap_or(w.len())];
        let ctx = format!("a '{kw} {sub}' condition");
        let cond = match cond_at {
            Some(c) => Some(self.cond(t, w[c] == "unless", &w[c + 1..], &ctx)?),
            None => None,
        };
        let name = action.split('(').next().unwrap_or(action);
        let action = match name {
            "accept" | "reject" | "silent-drop" => {
                if let Some(x) = args.first() {
                    return Err(format!(
                        "'{kw} {sub} {action}' : unexpected argument '{x}'."
                    ));
                }
                match name {
                    "accept" => TcpAction::Accept,
                    "reject" => TcpAction::Reject,
                    _ => TcpAction::SilentDrop,
                }
            }
            "set-var" | "set-var-fmt" | "unset-var" => var_action(kw, sub, action, args)?,
            "set-src" | "set-dst" | "set-src-port" | "set-dst-port" => {
                let (part, e) = addr_action(kw, sub, name, args)?;
                TcpAction::SetAddr(part, e)
            }
            "track-sc0" | "track-sc1" | "track-sc2" => {
                let ctx = format!("{kw} {sub}");
                match super::stick::track_sc(&ctx, name, args)? {
                    HttpAction::Track { slot, key, table } => TcpAction::Track { slot, key, table },
                    _ => unreachable!("track_sc gives a Track action"),
                }
            }
            "sc-inc-gpc0" | "sc-inc-gpc1" => {
                match super::stick::sc_action(&format!("{kw} {sub}"), action, args)? {
                    HttpAction::ScIncGpc { gpc, slot } => TcpAction::ScIncGpc { gpc, slot },
                    _ => unreachable!("sc_action gives an ScIncGpc for sc-inc-gpc*"),
                }
            }
            "expect-proxy" => {
                if when != TcpWhen::Connection {
                    return Err(format!(
                        "'{kw} {sub} expect-proxy' : only 'tcp-request connection' rules can expect a PROXY header."
                    ));
                }
                match args {
                    [l] if l == "layer4" => TcpAction::ExpectProxy,
                    _ => return Err(format!("'{kw} {sub} expect-proxy' expects 'layer4'.")),
                }
            }
            _ if KNOWN.contains(&name) || name.starts_with("lua.") => {
                return Err(format!("'{kw} {sub} {name}' is not supported by lbd."))
            }
            _ => {
                return Err(format!(
                    "'{kw} {sub}' : unknown action '{action}'{}",
                    crate::config::diag::did_you_mean(name, SUPPORTED.iter().copied())
                ))
            }
        };
        if when == TcpWhen::Response
            && matches!(
                action,
                TcpAction::SetAddr(..) | TcpAction::Track { .. } | TcpAction::ExpectProxy
            )
        {
            return Err(format!(
                "'{kw} {sub} {name}' : this action applies to requests only."
            ));
        }
        // Connection and session rules run before any request exists.
        if matches!(when, TcpWhen::Connection | TcpWhen::Session) {
            if let TcpAction::SetVar(_, _, e)
            | TcpAction::SetAddr(_, e)
            | TcpAction::Track { key: e, .. } = &action
            {
                if e.needs_http() {
                    return Err(format!(
                        "'{kw} {sub} {name}' : fetch method '{}' needs an HTTP request, which '{kw} {sub}' rules run before.",
                        e.fetch_name()
                    ));
                }
            }
        }
        let loc = self.loc.clone();
        self.px(t).tcp_rules.push(TcpRule {
            when,
            action,
            cond,
            loc,
        });
        Ok(())
    }
}

/// `set-src|set-dst|set-src-port|set-dst-port EXPR` (tcp and http rules).
pub(super) fn addr_action(
    kw: &str,
    sub: &str,
    action: &str,
    args: &[String],
) -> Result<(AddrPart, Expr), String> {
    let rule = if sub.is_empty() {
        format!("{kw} {action}")
    } else {
        format!("{kw} {sub} {action}")
    };
    let part = AddrPart::of_action(action).ok_or_else(|| format!("'{rule}' : unknown action."))?;
    let [v] = args else {
        return Err(format!(
            "'{rule}' expects exactly one sample expression (quote it if it has spaces)."
        ));
    };
    let e = Expr::parse(v)
        .map_err(|e| format!("'{rule}' : failed to parse sample expression <{v}> : {e}"))?;
    Ok((part, e))
}

fn var_action(kw: &str, sub: &str, action: &str, args: &[String]) -> Result<TcpAction, String> {
    let (verb, rest) = action.split_once('(').unwrap_or((action, ""));
    let Some(inner) = rest.strip_suffix(')') else {
        return Err(format!(
            "'{kw} {sub} {verb}' : missing ')' after the variable name."
        ));
    };
    if inner.contains(',') {
        return Err(format!(
            "'{kw} {sub} {action}' : conditions on the variable are not supported by lbd."
        ));
    }
    let (scope, name) = Scope::split(inner).map_err(|e| format!("'{kw} {sub} {verb}' : {e}"))?;
    let name = name.to_string();
    if verb == "unset-var" {
        if let Some(x) = args.first() {
            return Err(format!("'{kw} {sub} {verb}' : unexpected argument '{x}'."));
        }
        return Ok(TcpAction::UnsetVar(scope, name));
    }
    let [v] = args else {
        return Err(format!(
            "'{kw} {sub} {verb}' expects exactly one {} (quote it if it has spaces).",
            if verb == "set-var" {
                "sample expression"
            } else {
                "format string"
            }
        ));
    };
    if verb == "set-var-fmt" {
        let f = Fmt::parse(v).map_err(|e| format!("'{kw} {sub} {verb}' : {e}."))?;
        return Ok(TcpAction::SetVarFmt(scope, name, f));
    }
    let e = Expr::parse(v).map_err(|e| {
        format!("'{kw} {sub} {verb}' : failed to parse sample expression <{v}> : {e}")
    })?;
    Ok(TcpAction::SetVar(scope, name, e))
}
