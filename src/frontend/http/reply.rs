//! Answers lbd gives itself: the configured error pages (`errorfile`, `errorloc`,
//! `errorfiles`), else HAProxy-style ones (or JSON when the client prefers it).

use crate::backend::pool::ProxyBody;
use crate::config::model::{ErrorPage, ErrorPages};
use crate::sample::Env;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Response, StatusCode};
use std::sync::Arc;

/// The error pages that apply to a request: the backend's once it is chosen, then the
/// frontend's (HAProxy's order), then lbd's own.
#[derive(Clone, Copy)]
pub(super) struct Pages<'a> {
    /// The backend's pages, once it is chosen.
    pub be: Option<&'a ErrorPages>,
    /// The frontend's pages.
    pub fe: &'a ErrorPages,
}

impl<'a> Pages<'a> {
    /// The configured page for `status`.
    pub fn get(&self, status: u16) -> Option<&'a Arc<ErrorPage>> {
        self.be
            .and_then(|p| p.get(&status))
            .or_else(|| self.fe.get(&status))
    }

    /// `http-request auth`'s answer: the 401 page (a configured `errorfile 401`, else
    /// HAProxy's) with `WWW-Authenticate: Basic realm="REALM"` replacing any the page has.
    pub fn unauthorized(&self, realm: &str) -> Response<ProxyBody> {
        let mut resp = match self.get(401) {
            Some(p) => page_response(401, p),
            None => {
                let mut r = Response::new(ProxyBody::full(
                    "<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n",
                ));
                *r.status_mut() = StatusCode::UNAUTHORIZED;
                let h = r.headers_mut();
                h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
                r
            }
        };
        let h = resp.headers_mut();
        h.remove(header::WWW_AUTHENTICATE);
        if let Ok(v) = HeaderValue::from_str(&format!("Basic realm=\"{realm}\"")) {
            h.insert(header::WWW_AUTHENTICATE, v);
        }
        resp
    }

    /// The configured page for `status`, else lbd's page (`backend` named in it).
    pub fn response(&self, status: u16, backend: Option<&str>, json: bool) -> Response<ProxyBody> {
        self.response_in(status, backend, json, &Env::default())
    }

    /// The same, an `http-error` answer evaluated against the request's `env`.
    pub fn response_in(
        &self,
        status: u16,
        backend: Option<&str>,
        json: bool,
        env: &Env<'_>,
    ) -> Response<ProxyBody> {
        match self.get(status) {
            Some(p) => page_response_in(status, p, env),
            None => error_response(status, backend, json),
        }
    }
}

/// An answer with `status`, `body`, and the content type when the body is not empty
/// (as HAProxy's `return` and `http-error`).
pub(super) fn reply_response(
    status: u16,
    content_type: Option<HeaderValue>,
    body: bytes::Bytes,
) -> Response<ProxyBody> {
    let has_body = !body.is_empty();
    let mut resp = Response::new(ProxyBody::full(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    if let Some(ct) = content_type.filter(|_| has_body) {
        resp.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    resp
}

/// A page as a response, an `http-error` answer evaluated against `env`.
pub(super) fn page_response_in(
    status: u16,
    page: &ErrorPage,
    env: &Env<'_>,
) -> Response<ProxyBody> {
    let Some(r) = &page.reply else {
        return page_response(status, page);
    };
    let body = r.body.as_ref().map(|b| b.eval(env)).unwrap_or_default();
    let ct = r
        .content_type
        .as_ref()
        .and_then(|c| HeaderValue::from_str(c).ok());
    let mut resp = reply_response(page.status, ct, body.into());
    for (n, v) in &r.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(n.as_bytes()),
            HeaderValue::from_bytes(&v.eval(env)),
        ) {
            resp.headers_mut().append(n, v);
        }
    }
    resp
}

/// A configured page as a response: its status line, headers and body as written (the
/// body's length decides `content-length`). An empty page gives a response whose body
/// fails at once: hyper then closes the connection without writing anything.
pub(super) fn page_response(status: u16, page: &ErrorPage) -> Response<ProxyBody> {
    if page.is_empty() {
        let mut resp = Response::new(ProxyBody::Abort);
        *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
        return resp;
    }
    let mut resp = Response::new(ProxyBody::full(page.body.clone()));
    *resp.status_mut() = StatusCode::from_u16(page.status).unwrap_or(StatusCode::OK);
    if let Ok(r) = hyper::ext::ReasonPhrase::try_from(page.reason.as_bytes().to_vec()) {
        if !page.reason.is_empty() {
            resp.extensions_mut().insert(r);
        }
    }
    let h = resp.headers_mut();
    for (n, v) in &page.headers {
        let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(n.as_bytes()),
            HeaderValue::from_bytes(v),
        ) else {
            continue;
        };
        if n != header::CONTENT_LENGTH && n != header::TRANSFER_ENCODING {
            h.append(n, v);
        }
    }
    resp
}

/// HAProxy's title and text of an error page.
fn status_text(status: u16) -> (&'static str, &'static str) {
    match status {
        200 => ("OK", "Service ready."),
        400 => ("Bad request", "Your browser sent an invalid request."),
        403 => ("Forbidden", "Request forbidden by administrative rules."),
        408 => (
            "Request Time-out",
            "Your browser didn't send a complete request in time.",
        ),
        500 => (
            "Internal Server Error",
            "An internal server error occurred.",
        ),
        502 => (
            "Bad Gateway",
            "The server returned an invalid or incomplete response.",
        ),
        503 => (
            "Service Unavailable",
            "No server is available to handle this request.",
        ),
        504 => ("Gateway Time-out", "The server didn't respond in time."),
        _ => ("Error", "The request could not be served."),
    }
}

/// An error page in HAProxy's style, or JSON when the client prefers it.
pub fn error_response(status: u16, backend: Option<&str>, json: bool) -> Response<ProxyBody> {
    let (title, text) = status_text(status);
    let (ct, body) = if json {
        let be = match backend {
            Some(b) => format!("\"{}\"", b.replace('\\', "\\\\").replace('"', "\\\"")),
            None => "null".into(),
        };
        (
            "application/json",
            format!(
                "{{\"status\":{status},\"backend\":{be},\"time\":\"{}\"}}\n",
                crate::log::rfc3339_now()
            ),
        )
    } else {
        let extra = backend
            .map(|b| format!("\n<p>backend: {b}</p>"))
            .unwrap_or_default();
        (
            "text/html",
            format!("<html><body><h1>{status} {title}</h1>\n{text}{extra}\n</body></html>\n"),
        )
    };
    let mut resp = Response::new(ProxyBody::full(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// True when the client's `Accept` prefers JSON over HTML.
pub(super) fn prefers_json(h: &HeaderMap) -> bool {
    let Some(a) = h.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let q = |media: &str| -> f32 {
        a.split(',')
            .filter_map(|part| {
                let mut it = part.split(';');
                let m = it.next()?.trim();
                if !m.eq_ignore_ascii_case(media) {
                    return None;
                }
                let q = it
                    .filter_map(|p| p.trim().strip_prefix("q="))
                    .find_map(|v| v.parse::<f32>().ok())
                    .unwrap_or(1.0);
                Some(q)
            })
            .fold(0.0, f32::max)
    };
    let j = q("application/json");
    j > 0.0 && j >= q("text/html")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_preference() {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, "application/json".parse().unwrap());
        assert!(prefers_json(&h));
        h.insert(
            header::ACCEPT,
            "text/html,application/json;q=0.9".parse().unwrap(),
        );
        assert!(!prefers_json(&h));
        h.insert(header::ACCEPT, "*/*".parse().unwrap());
        assert!(!prefers_json(&h));
    }
}
