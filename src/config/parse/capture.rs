//! Sample captures: `declare capture request|response len N` and the slots of
//! `http-request capture SAMPLE len N|id N` / `http-response capture SAMPLE id N`.
//! A frontend's request slots are its `capture request header` lines, its `declare
//! capture request` lines and its `http-request capture ... len` rules, numbered from 0
//! in the order they are read (HAProxy's order); response slots likewise.

use super::{Parser, Target, R};
use crate::config::model::{Capture, HttpAction, HttpRule};
use crate::config::value;

/// `declare capture request|response len N` (frontend and listen).
pub(super) fn declare(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    let words: Vec<&str> = w[1..].iter().map(String::as_str).collect();
    let (dir, len) = match words.as_slice() {
        ["capture", d @ ("request" | "response"), "len", len] => (*d, *len),
        ["capture", ..] => {
            return Err(
                "'declare capture' expects 'request' or 'response' followed by 'len <length>'."
                    .into(),
            )
        }
        _ => return Err("'declare' only supports 'capture'.".into()),
    };
    let len = value::int_in(len, 1, 65535, "'declare capture ... len'")? as usize;
    let c = Capture {
        name: String::new(),
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

/// `http-request capture SAMPLE len N`/`id N` and `http-response capture SAMPLE id N`:
/// (the expression, `id`'s slot or `len`'s length).
pub(super) fn parse(kw: &str, response: bool, args: &[String]) -> Result<HttpAction, String> {
    let usage = if response {
        format!("'{kw} capture' expects <expression> id <idx>.")
    } else {
        format!("'{kw} capture' expects <expression> [ 'len' <length> | id <idx> ].")
    };
    let [e, k, n] = args else {
        return Err(usage);
    };
    let expr = crate::sample::Expr::parse(e).map_err(|err| format!("'{kw} capture' : {err}"))?;
    if expr.needs_response() && !response {
        return Err(format!(
            "'{kw} capture' : fetch method '{}' reads the response, not available in a request rule.",
            expr.fetch_name()
        ));
    }
    let n = value::int_in(n, 0, 65535, &format!("'{kw} capture {k}'"))? as usize;
    match (k.as_str(), response) {
        ("len", false) if n > 0 => Ok(HttpAction::Capture {
            expr,
            id: usize::MAX,
            len: Some(n),
        }),
        ("id", _) => Ok(HttpAction::Capture {
            expr,
            id: n,
            len: None,
        }),
        _ => Err(usage),
    }
}

impl Parser<'_> {
    /// Gives a `capture ... len N` rule a new request slot of this frontend.
    pub(super) fn capture_slot(&mut self, rule: &mut HttpRule, t: Target) -> R {
        let HttpAction::Capture {
            id, len: Some(len), ..
        } = &mut rule.action
        else {
            return Ok(());
        };
        // A `defaults` section's slots and rules are copied into the proxies that
        // inherit it (HAProxy numbers them there too).
        let px = self.px(t);
        if matches!(t, Target::Proxy(_)) && !px.kind.is_frontend() {
            return Err(format!(
                "'http-request capture ... len' : proxy '{}' has no frontend capability.",
                px.name
            ));
        }
        *id = px.capture_request.len();
        px.capture_request.push(Capture {
            name: String::new(),
            len: *len,
        });
        Ok(())
    }

    /// Every `capture ... id N` must name a slot its proxy declares (once every
    /// section is read, as HAProxy checks).
    pub(super) fn check_capture_ids(&mut self) {
        let mut bad = Vec::new();
        for px in &self.proxies {
            let rules = px
                .http_request
                .iter()
                .map(|r| (r, px.capture_request.len(), "request"))
                .chain(
                    px.http_response
                        .iter()
                        .map(|r| (r, px.capture_response.len(), "response")),
                );
            for (r, slots, kind) in rules {
                if let HttpAction::Capture { id, len: None, .. } = r.action {
                    if id >= slots {
                        bad.push((
                            r.loc.clone(),
                            format!(
                                "proxy '{}': unable to find capture id '{id}' referenced by http-{kind} capture rule.",
                                px.name
                            ),
                        ));
                    }
                }
            }
        }
        for (loc, msg) in bad {
            self.loc = loc;
            self.alert(msg);
        }
    }
}
