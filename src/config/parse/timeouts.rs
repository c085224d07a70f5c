//! `timeout NAME TIME`: the timeout table and its parser.

use super::{Parser, Target, R};
use crate::config::diag::did_you_mean;
use crate::config::keywords::{self, Caps, How, Keyword};
use crate::config::model::Timeouts;
use crate::config::value;
use std::time::Duration;

/// The field a timeout sets.
pub(crate) type TimeoutFn = fn(&mut Timeouts) -> &mut Option<Duration>;

const DOC: &str = "timeouts";

const fn kw(name: &'static str, caps: Caps, field: TimeoutFn) -> Keyword<TimeoutFn> {
    Keyword::new(name, caps, field, DOC)
}

type K = Keyword<TimeoutFn>;

/// The `timeout` names, supported first (in the order messages list them). A timeout in
/// the wrong kind of proxy is ignored with a warning.
pub(crate) static KEYWORDS: &[K] = &[
    kw("connect", Caps::DBL, |t| &mut t.connect),
    kw("client", Caps::DFL, |t| &mut t.client),
    kw("server", Caps::DBL, |t| &mut t.server),
    kw("http-request", Caps::DFL, |t| &mut t.http_request),
    kw("http-keep-alive", Caps::DFL, |t| &mut t.http_keep_alive),
    kw("queue", Caps::DBL, |t| &mut t.queue),
    kw("tunnel", Caps::DBL, |t| &mut t.tunnel),
    kw("check", Caps::DBL, |t| &mut t.check),
    kw("client-fin", Caps::DFL, |t| &mut t.client_fin),
    kw("server-fin", Caps::DBL, |t| &mut t.server_fin),
    kw("tarpit", Caps::DFBL, |t| &mut t.tarpit),
    K::ignored("retry"),
    K::ignored("resolve"),
    K::unsupported("clitimeout"),
    K::unsupported("srvtimeout"),
    K::unsupported("contimeout"),
    K::unsupported("appsession"),
];

/// `'connect', 'client', ...`: the supported names, quoted.
fn supported() -> String {
    keywords::hints(KEYWORDS, Caps::DFBL)
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl<'e> Parser<'e> {
    /// `timeout NAME TIME`.
    pub(super) fn timeout(&mut self, w: &[String], t: Target) -> R {
        let Some(name) = w.get(1) else {
            return Err(format!("'timeout' expects one of {}.", supported()));
        };
        let name = name.as_str();
        let (caps, field) = match keywords::find(KEYWORDS, name) {
            Some(Keyword {
                how: How::Parse(field),
                caps,
                ..
            }) => (*caps, *field),
            Some(k) => return self.refuse("", &format!("timeout {name}"), &k.how),
            None => {
                return Err(format!(
                    "'timeout' supports {} (got '{name}'){}",
                    supported(),
                    did_you_mean(name, keywords::hints(KEYWORDS, Caps::DFBL))
                ))
            }
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
        if !self.cap(t, &format!("timeout {name}"), caps)? {
            return Ok(());
        }
        *field(&mut self.px(t).timeouts) = if d.is_zero() { None } else { Some(d) };
        Ok(())
    }
}
