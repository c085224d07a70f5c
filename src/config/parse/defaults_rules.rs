//! HAProxy 2.5+'s rules for `defaults` sections that define TCP/HTTP rules: only a
//! named one may, and only frontends or only backends (never a `listen`, never another
//! `defaults`) inherit from it; the server and table its rules name must be explicit.

use crate::config::model::{Proxy, ProxyKind, TcpWhen};

/// The rules of a `defaults` section: `http-request`, `http-response`,
/// `http-after-response`, `tcp-request` or `tcp-response` ones.
fn has_rules(d: &Proxy) -> bool {
    !d.http_request.is_empty()
        || !d.http_response.is_empty()
        || !d.http_after_response.is_empty()
        || !d.tcp_rules.is_empty()
}

/// A rule in `px`: refused in an anonymous `defaults` section (`what` names it as
/// HAProxy's message does).
pub(super) fn anonymous(px: &Proxy, what: &str) -> Result<(), String> {
    if px.kind == ProxyKind::Defaults && px.name.is_empty() {
        return Err(format!(
            "{what} not allowed in anonymous 'defaults' section."
        ));
    }
    Ok(())
}

/// A rule line of a named `defaults` section: the server of `srv_*` fetches and the
/// table of `track-sc*` must be named, there being no proxy to take them from.
pub(super) fn explicit_args(px: &Proxy, words: &[String]) -> Result<(), String> {
    if px.kind != ProxyKind::Defaults {
        return Ok(());
    }
    for w in words {
        let mut rest = w.as_str();
        while let Some(at) = rest.find("srv_") {
            let tail = &rest[at..];
            let name_end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(tail.len());
            let (name, after) = tail.split_at(name_end);
            if let Some(args) = after.strip_prefix('(') {
                let arg = &args[..args.find(')').unwrap_or(args.len())];
                if !arg.is_empty() && !arg.contains('/') {
                    return Err(format!(
                        "fetch method '{name}' : server '{arg}' must be written 'backend/server' in a 'defaults' section (no backend to find it in)."
                    ));
                }
            }
            rest = &tail[name_end..];
        }
    }
    let track = words
        .iter()
        .position(|w| w.starts_with("track-sc"))
        .filter(|&i| words.get(i + 2).map(String::as_str) != Some("table"));
    if let Some(i) = track {
        return Err(format!(
            "'{}' : a 'table' must be named in a 'defaults' section (no stick-table to track in).",
            words[i]
        ));
    }
    Ok(())
}

/// A section of `kind` starting from defaults `d` (declared at its `loc`), whose users
/// so far were of kind `used_by`.
pub(super) fn inherit(
    d: &Proxy,
    kind: ProxyKind,
    used_by: Option<ProxyKind>,
) -> Result<(), String> {
    if !has_rules(d) {
        return Ok(());
    }
    let at = &d.loc;
    match kind {
        ProxyKind::Defaults => Err(format!(
            "a defaults section cannot inherit from a defaults section defining TCP/HTTP rules (defaults section at {at})."
        )),
        ProxyKind::Listen => Err(
            "a listen section cannot inherit from a defaults section defining TCP/HTTP rules."
                .into(),
        ),
        _ if used_by.is_some_and(|u| u != kind) => Err(format!(
            "frontends and backends cannot inherit from the same defaults section if it defines TCP/HTTP rules (defaults section at {at})."
        )),
        ProxyKind::Backend
            if d.tcp_rules
                .iter()
                .any(|r| matches!(r.when, TcpWhen::Connection | TcpWhen::Session)) =>
        {
            Err(format!(
                "a backend section cannot inherit from a defaults section defining 'tcp-request connection' or 'tcp-request session' rules (defaults section at {at})."
            ))
        }
        ProxyKind::Frontend if d.tcp_rules.iter().any(|r| r.when == TcpWhen::Response) => {
            Err(format!(
                "a frontend section cannot inherit from a defaults section defining 'tcp-response content' rules (defaults section at {at})."
            ))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn servers_and_tables_must_be_named_in_defaults() {
        let d = Proxy {
            name: "d".into(),
            ..Proxy::default()
        };
        assert!(explicit_args(&d, &words("http-request set-header x %[srv_conn(www)]")).is_err());
        assert!(explicit_args(&d, &words("http-request set-header x %[srv_conn(be/www)]")).is_ok());
        assert!(explicit_args(&d, &words("http-request track-sc0 src")).is_err());
        assert!(explicit_args(&d, &words("http-request track-sc0 src table be")).is_ok());
        let be = Proxy {
            kind: ProxyKind::Backend,
            ..Proxy::default()
        };
        assert!(explicit_args(&be, &words("http-request track-sc0 src")).is_ok());
    }
}
