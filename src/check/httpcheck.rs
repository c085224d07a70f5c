//! The HTTP side of the check engine (`option httpchk`, `http-check send|expect`):
//! the request a `send` rule builds, the response parsed from the input buffer and
//! HAProxy's `tcpcheck_eval_expect_http`.

use super::tcpcheck::{memfind, Eval, Run};
use crate::config::model::check::*;
use crate::sample::HttpRes;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};

/// A response head (and the body received so far).
#[derive(Debug)]
pub struct Response {
    status: u16,
    reason: String,
    version: &'static str,
    headers: HeaderMap,
    /// The headers in order, as received.
    list: Vec<(String, Vec<u8>)>,
    /// The body (de-chunked).
    body: Vec<u8>,
    /// The whole message arrived (its length reached, or a bodyless status).
    complete: bool,
    /// The response could not be parsed.
    invalid: bool,
}

impl Response {
    /// The response as the sample fetches see it (`res.hdr`, `res.fhdr`, `status`).
    pub fn sample(&self) -> HttpRes<'_> {
        HttpRes {
            status: self.status,
            version: self.version,
            headers: &self.headers,
        }
    }

    fn parse(buf: &[u8]) -> Option<Response> {
        let mut hdrs = [httparse::EMPTY_HEADER; 101];
        let mut r = httparse::Response::new(&mut hdrs);
        let head = match r.parse(buf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return None,
            Err(_) => {
                return Some(Response {
                    status: 0,
                    reason: String::new(),
                    version: "1.0",
                    headers: HeaderMap::new(),
                    list: Vec::new(),
                    body: Vec::new(),
                    complete: true,
                    invalid: true,
                })
            }
        };
        let status = r.code.unwrap_or(0);
        let mut headers = HeaderMap::new();
        let mut list = Vec::new();
        let mut clen = None;
        let mut chunked = false;
        for h in r.headers.iter() {
            if h.name.eq_ignore_ascii_case("content-length") {
                clen = std::str::from_utf8(h.value)
                    .ok()
                    .and_then(|v| v.trim().parse::<usize>().ok());
            }
            if h.name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = String::from_utf8_lossy(h.value)
                    .to_ascii_lowercase()
                    .contains("chunked");
            }
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(h.name.as_bytes()),
                HeaderValue::from_bytes(h.value),
            ) {
                headers.append(n, v);
            }
            list.push((h.name.to_string(), h.value.to_vec()));
        }
        let raw = &buf[head..];
        let bodyless = (100..200).contains(&status) || status == 204 || status == 304;
        let (body, complete) = if bodyless {
            (Vec::new(), true)
        } else if chunked {
            dechunk(raw)
        } else if let Some(n) = clen {
            (raw[..raw.len().min(n)].to_vec(), raw.len() >= n)
        } else {
            (raw.to_vec(), false)
        };
        Some(Response {
            status,
            reason: r.reason.unwrap_or("").to_string(),
            version: if r.version == Some(1) { "1.1" } else { "1.0" },
            headers,
            list,
            body,
            complete,
            invalid: false,
        })
    }

    /// The values of the headers whose name matches, split on commas unless `full`.
    fn values<'s>(&'s self, name_ok: &dyn Fn(&str) -> bool, full: bool) -> Vec<&'s [u8]> {
        let mut out = Vec::new();
        for (n, v) in &self.list {
            if !name_ok(n) {
                continue;
            }
            if full {
                out.push(v.trim_ascii());
            } else {
                out.extend(v.split(|&c| c == b',').map(<[u8]>::trim_ascii));
            }
        }
        out
    }
}

/// Decodes a chunked body: the data so far and whether the last chunk arrived.
fn dechunk(mut raw: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    loop {
        let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") else {
            return (out, false);
        };
        let size_txt = String::from_utf8_lossy(&raw[..eol]);
        let size_txt = size_txt.split(';').next().unwrap_or("").trim().to_string();
        let Ok(size) = usize::from_str_radix(&size_txt, 16) else {
            return (out, true);
        };
        raw = &raw[eol + 2..];
        if size == 0 {
            return (out, true);
        }
        if raw.len() < size + 2 {
            out.extend_from_slice(&raw[..raw.len().min(size)]);
            return (out, false);
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

impl Run<'_> {
    /// Parses the input buffer as an HTTP response once its head arrived.
    pub(super) fn parse_http(&mut self) {
        self.http = Response::parse(&self.buf);
    }

    /// The bytes of an HTTP check request.
    pub(super) fn http_request(&self, h: &HttpSend) -> Vec<u8> {
        let env = self.env();
        let text = |t: &Text| match t {
            Text::Plain(s) => s.as_bytes().to_vec(),
            Text::Lf(f) => f.eval(&env),
        };
        let meth = h.meth.as_deref().unwrap_or("OPTIONS");
        let mut uri = h.uri.as_ref().map(text).unwrap_or_default();
        if uri.is_empty() {
            uri = b"/".to_vec();
        }
        let ver = h.ver.as_deref().unwrap_or("HTTP/1.0");
        let mut req = format!("{meth} ").into_bytes();
        req.extend_from_slice(&uri);
        req.extend_from_slice(format!(" {ver}\r\n").as_bytes());
        let (mut has_host, mut has_conn) = (false, false);
        for (n, v) in &h.hdrs {
            let v = v.eval(&env);
            if v.is_empty() {
                continue;
            }
            has_host |= n.eq_ignore_ascii_case("host");
            has_conn |= n.eq_ignore_ascii_case("connection");
            req.extend_from_slice(format!("{n}: ").as_bytes());
            req.extend_from_slice(&v);
            req.extend_from_slice(b"\r\n");
        }
        if !has_host && ver.eq_ignore_ascii_case("HTTP/1.1") {
            req.extend_from_slice(format!("host: {}\r\n", self.target_addr()).as_bytes());
        }
        if let Some(s) = self.state_header() {
            req.extend_from_slice(format!("x-haproxy-server-state: {s}\r\n").as_bytes());
        }
        if !has_conn {
            req.extend_from_slice(b"connection: close\r\n");
        }
        let body = h.body.as_ref().map(text).unwrap_or_default();
        if !body.is_empty() {
            req.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
        }
        req.extend_from_slice(b"\r\n");
        req.extend_from_slice(&body);
        req
    }

    /// Evaluates an http-check expect rule.
    pub(super) fn expect_http(&mut self, i: usize, e: &Expect, last: bool) -> Eval {
        let Some(res) = self.http.as_ref() else {
            if last {
                return Eval::Stop(Status::L7Rsp, self.on_error(i, e, false, ""));
            }
            return Eval::Wait;
        };
        if res.invalid {
            return Eval::Stop(Status::L7Rsp, self.on_error(i, e, false, ""));
        }
        let last = last || res.complete;
        self.code = res.status as i64;
        if self.code == 404 && self.nolb_404() {
            return Eval::Continue;
        }
        let reason = res.reason.clone();
        let own_msg = e.on_error.is_none();
        let (matched, status, desc) = match &e.kind {
            ExpectKind::Status(ranges) => (
                ranges
                    .iter()
                    .any(|(lo, hi)| (*lo..=*hi).contains(&res.status)),
                e.err.unwrap_or(Status::L7Sts),
                reason,
            ),
            ExpectKind::RStatus(re) => (
                re.0.is_match(res.status.to_string().as_bytes()),
                e.err.unwrap_or(Status::L7Sts),
                reason,
            ),
            ExpectKind::Hdr(h) => {
                let m = match self.hdr_match(h) {
                    Ok(m) => m,
                    Err(d) => return Eval::Stop(Status::L7Rsp, self.on_error(i, e, false, d)),
                };
                (m, e.err.unwrap_or(Status::L7Sts), reason)
            }
            ExpectKind::Body(_) | ExpectKind::RBody(_) | ExpectKind::BodyLf(_) => {
                if res.body.is_empty() {
                    if !last {
                        return Eval::Wait;
                    }
                    let d = if own_msg {
                        "HTTP content check could not find a response body"
                    } else {
                        ""
                    };
                    return Eval::Stop(
                        e.err.unwrap_or(Status::L7Rsp),
                        self.on_error(i, e, false, d),
                    );
                }
                let pat = match &e.kind {
                    ExpectKind::BodyLf(f) => {
                        let p = f.eval(&self.env());
                        if p.is_empty() {
                            return Eval::Stop(
                                Status::L7Rsp,
                                self.on_error(
                                    i,
                                    e,
                                    false,
                                    "log-format string evaluated to an empty string",
                                ),
                            );
                        }
                        Some(p)
                    }
                    ExpectKind::Body(d) => Some(d.clone()),
                    _ => None,
                };
                let Some(res) = self.http.as_ref() else {
                    return Eval::Wait;
                };
                let short = pat.as_ref().is_some_and(|p| res.body.len() < p.len())
                    || (e.min_recv > 0 && (res.body.len() as i64) < e.min_recv);
                if !last && short {
                    return Eval::Wait;
                }
                let m = match (&e.kind, &pat) {
                    (ExpectKind::RBody(re), _) => re.0.is_match(&res.body),
                    (_, Some(p)) => memfind(&res.body, p),
                    _ => false,
                };
                if !m && !last && e.min_recv == -1 {
                    return Eval::Wait;
                }
                let d = if e.inverse {
                    "HTTP check matched unwanted content"
                } else {
                    "HTTP content check did not match"
                };
                (m, e.err.unwrap_or(Status::L7Rsp), d.to_string())
            }
            _ => {
                return Eval::Stop(
                    e.err.unwrap_or(Status::L7Rsp),
                    self.on_error(i, e, false, ""),
                )
            }
        };
        if matched != e.inverse {
            return Eval::Continue;
        }
        let desc = if own_msg { desc } else { String::new() };
        Eval::Stop(status, self.on_error(i, e, false, &desc))
    }

    fn hdr_match(&self, h: &HdrMatch) -> Result<bool, &'static str> {
        let env = self.env();
        let pat = |t: &Text| -> Result<Vec<u8>, &'static str> {
            match t {
                Text::Plain(s) => Ok(s.as_bytes().to_vec()),
                Text::Lf(f) => {
                    let v = f.eval(&env);
                    if v.is_empty() {
                        Err("log-format string evaluated to an empty string")
                    } else {
                        Ok(v)
                    }
                }
            }
        };
        let npat = match &h.name {
            StrMatch::Reg(_) => Vec::new(),
            StrMatch::Str(t) | StrMatch::Beg(t) | StrMatch::End(t) | StrMatch::Sub(t) => pat(t)?,
        };
        let vpat = match &h.value {
            Some(StrMatch::Str(t) | StrMatch::Beg(t) | StrMatch::End(t) | StrMatch::Sub(t)) => {
                pat(t)?
            }
            _ => Vec::new(),
        };
        let Some(res) = self.http.as_ref() else {
            return Ok(false);
        };
        let lower = |b: &[u8]| b.to_ascii_lowercase();
        let np = lower(&npat);
        let name_ok = |n: &str| -> bool {
            let n = lower(n.as_bytes());
            match &h.name {
                StrMatch::Str(_) => n == np,
                StrMatch::Beg(_) => n.starts_with(&np),
                StrMatch::End(_) => n.ends_with(&np),
                StrMatch::Sub(_) => memfind(&n, &np),
                StrMatch::Reg(re) => re.0.is_match(&n),
            }
        };
        // Without a value pattern, a matching name is enough (and values are not split).
        let Some(vm) = &h.value else {
            return Ok(res.list.iter().any(|(n, _)| name_ok(n)));
        };
        Ok(res.values(&name_ok, h.full).into_iter().any(|v| match vm {
            StrMatch::Str(_) => v == vpat.as_slice(),
            StrMatch::Beg(_) => v.starts_with(&vpat),
            StrMatch::End(_) => v.ends_with(&vpat),
            StrMatch::Sub(_) => memfind(v, &vpat),
            StrMatch::Reg(re) => re.0.is_match(v),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses() {
        let r = Response::parse(b"HTTP/1.1 200 OK\r\nx-a: 1, 2\r\ncontent-length: 4\r\n\r\nbo")
            .unwrap();
        assert_eq!(
            (r.status, r.complete, r.body.as_slice()),
            (200, false, &b"bo"[..])
        );
        let r = Response::parse(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((r.complete, r.body.as_slice()), (true, &b"ab"[..]));
        assert!(Response::parse(b"HTTP/1.1 200 OK\r\n").is_none());
        assert!(Response::parse(b"SSH-2.0\r\n\r\n").unwrap().invalid);
        let r = Response::parse(b"HTTP/1.0 204 No Content\r\nx-a: 1, 2\r\n\r\n").unwrap();
        assert!(r.complete);
        assert_eq!(r.values(&|n| n == "x-a", false), vec![&b"1"[..], &b"2"[..]]);
        assert_eq!(r.values(&|n| n == "x-a", true), vec![&b"1, 2"[..]]);
    }
}
