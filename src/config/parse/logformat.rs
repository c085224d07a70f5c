//! `log-format`, `log-format-sd`, `error-log-format`, `unique-id-format` and
//! `unique-id-header`: the format strings of access logs and unique ids.

use super::{Parser, Target, R};
use crate::config::model::LogFormat;
use crate::sample::Fmt;

/// The one argument of a format keyword, compiled as a log format.
fn one_fmt(w: &[String]) -> Result<Fmt, String> {
    let kw = &w[0];
    let Some(s) = w.get(1) else {
        return Err(format!("{kw} expects an argument."));
    };
    if w.len() > 2 {
        return Err(format!(
            "{kw} expects only one argument, don't forget to escape spaces!"
        ));
    }
    Fmt::parse_log(s).map_err(|e| format!("'{kw}' : {e}."))
}

/// `log-format FMT`: replaces `option httplog`/`tcplog` (the last one wins).
pub(super) fn log_format(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    let f = one_fmt(w)?;
    p.px(t).log_format = Some(LogFormat::Custom(f));
    Ok(())
}

/// `log-format-sd FMT`: the structured-data part of RFC 5424 lines.
pub(super) fn log_format_sd(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    let f = one_fmt(w)?;
    p.px(t).log_format_sd = Some(f);
    Ok(())
}

/// `error-log-format FMT`: the line of a connection that failed before a request.
pub(super) fn error_log_format(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    let f = one_fmt(w)?;
    p.px(t).error_log_format = Some(f);
    Ok(())
}

/// `unique-id-format FMT`.
pub(super) fn unique_id_format(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    let f = one_fmt(w)?;
    p.px(t).unique_id_format = Some(f);
    Ok(())
}

/// `unique-id-header NAME`.
pub(super) fn unique_id_header(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    let Some(name) = w.get(1) else {
        return Err(format!("{} expects an argument.", w[0]));
    };
    hyper::header::HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("'{}' : invalid header name '{name}'.", w[0]))?;
    p.px(t).unique_id_header = Some(name.to_ascii_lowercase());
    Ok(())
}
