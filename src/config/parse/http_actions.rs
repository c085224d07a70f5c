//! More `http-request`/`http-response` actions: `set-timeout`, `strict-mode`,
//! `reject`, `silent-drop`, `tarpit`, `normalize-uri` and `wait-for-body`.

use super::http_rules::Rule;
use crate::config::model::*;
use crate::config::value;
use crate::sample::Expr;

/// `set-timeout server|tunnel TIME|EXPR`.
pub(super) fn set_timeout(r: &Rule<'_>, args: &[String]) -> Result<HttpAction, String> {
    let usage = || {
        format!(
            "'{} set-timeout' expects exactly 2 arguments: 'server' or 'tunnel', then a time or a sample expression.",
            r.kw
        )
    };
    let [kind, v] = args else {
        return Err(usage());
    };
    let kind = match kind.as_str() {
        "server" => TimeoutKind::Server,
        "tunnel" => TimeoutKind::Tunnel,
        x => {
            return Err(format!(
            "'{} set-timeout' : '{x}' is not a valid timeout name; expects 'server' or 'tunnel'.",
            r.kw
        ))
        }
    };
    // A time when it reads as one, else a sample expression (as HAProxy).
    let arg = match value::time(v) {
        Ok(d) => TimeoutArg::Fixed(d),
        Err(_) => TimeoutArg::Expr(Expr::parse(v).map_err(|e| {
            format!(
                "'{} set-timeout' : failed to parse sample expression <{v}> : {e}",
                r.kw
            )
        })?),
    };
    Ok(HttpAction::SetTimeout(kind, arg))
}

/// `strict-mode on|off`.
pub(super) fn strict_mode(r: &Rule<'_>, args: &[String]) -> Result<HttpAction, String> {
    match args {
        [v] if v == "on" => Ok(HttpAction::StrictMode(true)),
        [v] if v == "off" => Ok(HttpAction::StrictMode(false)),
        _ => Err(format!("'{} strict-mode' expects 'on' or 'off'.", r.kw)),
    }
}

/// `reject` and `silent-drop` take nothing.
pub(super) fn close(r: &Rule<'_>, args: &[String]) -> Result<HttpAction, String> {
    if let Some(x) = args.first() {
        return Err(format!(
            "'{} {}' : unexpected argument '{x}'.",
            r.kw, r.action
        ));
    }
    Ok(if r.action == "reject" {
        HttpAction::Reject
    } else {
        HttpAction::SilentDrop
    })
}

/// `tarpit [deny_status N] [ANSWER]`: `deny`'s words, 500 by default.
pub(super) fn tarpit(r: &Rule<'_>, args: &[String]) -> Result<HttpAction, String> {
    Ok(HttpAction::Tarpit(Box::new(
        super::http_rules::deny_answer(r, "tarpit", args, 500)?,
    )))
}

/// `normalize-uri NORMALIZER [full|strict]`.
pub(super) fn normalize_uri(r: &Rule<'_>, args: &[String]) -> Result<HttpAction, String> {
    let kw = r.kw;
    let Some(name) = args.first() else {
        return Err(format!("'{kw} normalize-uri' expects a normalizer name."));
    };
    let opt = args.get(1).map(String::as_str);
    let flag = |word: &str| -> Result<bool, String> {
        match opt {
            None => Ok(false),
            Some(o) if o == word => Ok(true),
            Some(o) => Err(format!(
                "'{kw} normalize-uri {name}' : unexpected argument '{o}'{}.",
                if word.is_empty() {
                    String::new()
                } else {
                    format!("; expects '{word}'")
                }
            )),
        }
    };
    if args.len() > 2 {
        return Err(format!(
            "'{kw} normalize-uri {name}' : unexpected argument '{}'.",
            args[2]
        ));
    }
    let n = match name.as_str() {
        "fragment-encode" => flag("").map(|_| Normalizer::FragmentEncode)?,
        "fragment-strip" => flag("").map(|_| Normalizer::FragmentStrip)?,
        "path-merge-slashes" => flag("").map(|_| Normalizer::PathMergeSlashes)?,
        "path-strip-dot" => flag("").map(|_| Normalizer::PathStripDot)?,
        "path-strip-dotdot" => Normalizer::PathStripDotdot(flag("full")?),
        "percent-decode-unreserved" => Normalizer::PercentDecodeUnreserved(flag("strict")?),
        "percent-to-uppercase" => Normalizer::PercentToUppercase(flag("strict")?),
        "query-sort-by-name" => flag("").map(|_| Normalizer::QuerySortByName)?,
        x => return Err(format!(
            "'{kw} normalize-uri' : unknown normalizer '{x}'; expects 'fragment-encode', 'fragment-strip', 'path-merge-slashes', 'path-strip-dot', 'path-strip-dotdot', 'percent-decode-unreserved', 'percent-to-uppercase' or 'query-sort-by-name'."
        )),
    };
    Ok(HttpAction::NormalizeUri(n))
}

/// `wait-for-body time TIME [at-least BYTES]`.
pub(super) fn wait_for_body(r: &Rule<'_>, args: &[String]) -> Result<HttpAction, String> {
    let usage = || {
        format!(
            "'{} wait-for-body' expects 'time <time>' and optionally 'at-least <bytes>'.",
            r.kw
        )
    };
    let (mut time, mut at_least) = (None, 0);
    let mut it = args.iter();
    while let Some(w) = it.next() {
        let v = it.next().ok_or_else(usage)?;
        match w.as_str() {
            "time" => {
                time =
                    Some(value::time(v).map_err(|e| {
                        format!("'{} wait-for-body' : invalid time '{v}' : {e}", r.kw)
                    })?)
            }
            "at-least" => {
                at_least = value::size(v)
                    .map_err(|e| format!("'{} wait-for-body' : invalid size '{v}' : {e}", r.kw))?
            }
            _ => return Err(usage()),
        }
    }
    Ok(HttpAction::WaitForBody {
        time: time.ok_or_else(usage)?,
        at_least,
    })
}
