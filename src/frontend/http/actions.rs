//! `http-request` and `http-response` actions as a request or response meets them:
//! header changes, `deny`, `return`, `redirect`, `use-service prometheus-exporter`.

use super::reply::error_response;
use crate::backend::pool::ProxyBody;
use crate::graph::{FrontendRt, Graph};
use crate::rules::{Action, ReqInfo, Rule, RuleSet};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Response, StatusCode};
use std::net::IpAddr;
use std::sync::atomic::Ordering::Relaxed;

/// What rule conditions and actions read of the request.
#[derive(Clone, Copy)]
pub(super) struct RuleInput<'a> {
    /// The request method.
    pub method: &'a Method,
    /// The request path.
    pub path: &'a str,
    /// The query string (redirects keep it).
    pub query: Option<&'a str>,
    /// The client's address (none for a unix socket client).
    pub src: Option<IpAddr>,
    /// The headers conditions test when they are not the ones the rules change
    /// (response rules test the request's headers).
    pub cond_headers: Option<&'a HeaderMap>,
}

/// Where rules run: the graph and frontend of the request (counters, services).
#[derive(Clone, Copy)]
pub(super) struct RuleSite<'a> {
    /// The runtime graph.
    pub graph: &'a Graph,
    /// The frontend that took the request.
    pub fe: &'a FrontendRt,
}

/// Applies `rules` of `rs` in order to `target` headers; returns a response when a
/// rule answers.
pub(super) fn apply(
    rs: &RuleSet,
    rules: &[Rule],
    input: RuleInput<'_>,
    target: &mut HeaderMap,
    site: RuleSite<'_>,
) -> Option<Response<ProxyBody>> {
    let RuleInput {
        method,
        path,
        query,
        src,
        cond_headers,
    } = input;
    let RuleSite { graph, fe } = site;
    for r in rules {
        let hit = match &r.cond {
            None => true,
            Some(c) => {
                let info = ReqInfo {
                    method: method.as_str(),
                    path,
                    headers: cond_headers.unwrap_or(target),
                    src,
                };
                rs.eval(c, &info)
            }
        };
        if !hit {
            continue;
        }
        match &r.action {
            Action::SetHeader(n, v) => {
                target.insert(n.clone(), v.clone());
            }
            Action::AddHeader(n, v) => {
                target.append(n.clone(), v.clone());
            }
            Action::DelHeader(n) => {
                target.remove(n);
            }
            Action::Deny(status) => {
                fe.shared.denied.fetch_add(1, Relaxed);
                return Some(error_response(*status, None, false));
            }
            Action::Return {
                status,
                content_type,
                body,
                headers,
            } => {
                let mut resp = Response::new(ProxyBody::full(body.clone()));
                *resp.status_mut() = StatusCode::from_u16(*status).unwrap_or(StatusCode::OK);
                if let Some(ct) = content_type {
                    resp.headers_mut().insert(header::CONTENT_TYPE, ct.clone());
                }
                for (n, v) in headers {
                    resp.headers_mut().append(n.clone(), v.clone());
                }
                return Some(resp);
            }
            Action::Redirect(r) => return Some(redirect(r, path, query, target)),
            Action::Prometheus => {
                let mut resp = Response::new(ProxyBody::full(crate::stats::prometheus(graph)));
                resp.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                );
                return Some(resp);
            }
        }
    }
    None
}

/// Builds a redirect response as HAProxy does (empty body, `Cache-Control: no-cache`).
fn redirect(
    r: &crate::config::model::Redirect,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Response<ProxyBody> {
    use crate::config::model::RedirectKind;
    let mut tail = path.to_string();
    if r.append_slash && !tail.ends_with('/') {
        tail.push('/');
    }
    if let (Some(q), false) = (query, r.drop_query) {
        tail.push('?');
        tail.push_str(q);
    }
    let location = match r.kind {
        RedirectKind::Location => {
            let mut l = r.to.clone();
            if r.append_slash && !l.ends_with('/') {
                l.push('/');
            }
            l
        }
        RedirectKind::Prefix if r.to == "/" => tail,
        RedirectKind::Prefix => format!("{}{tail}", r.to.trim_end_matches('/')),
        RedirectKind::Scheme => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            format!("{}://{host}{tail}", r.to)
        }
    };
    let mut resp = Response::new(ProxyBody::empty());
    *resp.status_mut() = StatusCode::from_u16(r.code).unwrap_or(StatusCode::FOUND);
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&location) {
        h.insert(header::LOCATION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    if let Some(c) = &r.set_cookie {
        let v = if c.contains('=') {
            format!("{c}; path=/")
        } else {
            format!("{c}=; path=/")
        };
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.append(header::SET_COOKIE, v);
        }
    }
    if let Some(c) = &r.clear_cookie {
        if let Ok(v) = HeaderValue::from_str(&format!("{c}=; Max-Age=0; path=/")) {
            h.append(header::SET_COOKIE, v);
        }
    }
    resp
}
