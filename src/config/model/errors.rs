//! Error pages: `errorfile`, `errorloc302/303`, `http-errors` sections, `errorfiles`.
//!
//! A page is a complete HTTP response read (and checked) when the configuration is
//! loaded, as HAProxy does: its status line, headers and body are kept, and the raw
//! bytes too (sent as they are where lbd writes to the socket itself). An empty file
//! is a page too: lbd then closes the connection without answering.

use super::Loc;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The status codes HAProxy has error pages for (`errorfile`, `errorloc`, `errorfiles`).
pub const ERROR_CODES: [u16; 17] = [
    200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 425, 429, 500, 501, 502, 503, 504,
];

/// One error page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorPage {
    /// The status line's code.
    pub status: u16,
    /// The status line's reason phrase.
    pub reason: String,
    /// The headers, in order, as written.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Everything after the blank line.
    pub body: Vec<u8>,
    /// The message as read.
    pub raw: Vec<u8>,
    /// `http-error status N` with an answer of its own: evaluated at each answer
    /// (`raw` is its evaluation without a request, for lbd's own early answers).
    pub reply: Option<Arc<LfReply>>,
}

/// The answer of `http-error status N [content-type T] [string S|lf-string FMT|file F|
/// lf-file F] [hdr NAME FMT]...` (a body needs a content type; none: an empty answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LfReply {
    /// `content-type` (sent with a non-empty body only, as HAProxy).
    pub content_type: Option<String>,
    /// The body.
    pub body: Option<crate::sample::Fmt>,
    /// Extra headers.
    pub headers: Vec<(String, crate::sample::Fmt)>,
}

impl ErrorPage {
    /// An empty page: the connection is closed without a response.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Reads a raw HTTP response as HAProxy's `http_str_to_htx` does: a status line
    /// `HTTP/x.y CODE [REASON]`, `name: value` header lines, a blank line, the body.
    /// Lines end with CRLF or LF. An empty text is the empty page.
    pub fn parse(raw: &[u8]) -> Result<ErrorPage, String> {
        let mut page = ErrorPage {
            raw: raw.to_vec(),
            ..ErrorPage::default()
        };
        if raw.is_empty() {
            return Ok(page);
        }
        let bad = |at: usize| format!("unable to parse headers (error offset: {at})");
        let mut pos = 0;
        let mut line_no = 0;
        loop {
            let Some(nl) = raw[pos..].iter().position(|&b| b == b'\n') else {
                return Err(bad(raw.len()));
            };
            let end = pos + nl;
            let line = raw[pos..end].strip_suffix(b"\r").unwrap_or(&raw[pos..end]);
            if line_no == 0 {
                page.status_line(line).map_err(|off| bad(pos + off))?;
            } else if line.is_empty() {
                page.body = raw[end + 1..].to_vec();
                break;
            } else {
                let token = |b: &u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b);
                let n = line.iter().take_while(|b| token(b)).count();
                if n == 0 || line.get(n) != Some(&b':') {
                    return Err(bad(pos + n));
                }
                let value = line[n + 1..].trim_ascii();
                if value.iter().any(|&b| b == b'\r' || b == 0) {
                    return Err(bad(pos + n + 1));
                }
                let name = String::from_utf8_lossy(&line[..n]).into_owned();
                page.headers.push((name, value.to_vec()));
            }
            pos = end + 1;
            line_no += 1;
        }
        if page.status < 200 && page.status != 101 {
            return Err(format!(
                "invalid http status code for an error message ({})",
                page.status
            ));
        }
        Ok(page)
    }

    /// `HTTP/x.y CODE [REASON]`; Err is the offset of the first bad byte.
    fn status_line(&mut self, line: &[u8]) -> Result<(), usize> {
        let v = line.get(..8).ok_or(0usize)?;
        if !(v.starts_with(b"HTTP/")
            && v[5].is_ascii_digit()
            && v[6] == b'.'
            && v[7].is_ascii_digit())
        {
            return Err(0);
        }
        if line.get(8) != Some(&b' ') {
            return Err(8);
        }
        let code = &line[9..];
        let digits = code.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits != 3 || !matches!(code.get(3), None | Some(b' ')) {
            return Err(9 + digits);
        }
        self.status = std::str::from_utf8(&code[..3])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(9usize)?;
        self.reason = String::from_utf8_lossy(code.get(4..).unwrap_or(b"")).into_owned();
        Ok(())
    }

    /// Reads `file` as the page for `status` (`errorfile STATUS FILE`), with
    /// HAProxy's messages.
    pub fn load(status: u16, file: &str) -> Result<ErrorPage, String> {
        if !ERROR_CODES.contains(&status) {
            return Err(format!("status code '{status}' not handled."));
        }
        let raw = std::fs::read(file).map_err(|_| format!("error opening file '{file}'."))?;
        ErrorPage::parse(&raw).map_err(|e| format!("'{file}': {e}"))
    }

    /// The page of `http-error status N` with an answer of its own.
    pub fn lf_reply(status: u16, reply: LfReply) -> ErrorPage {
        let env = crate::sample::Env::default();
        let body = reply
            .body
            .as_ref()
            .map(|b| b.eval(&env))
            .unwrap_or_default();
        let reason = hyper::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        let mut raw = format!("HTTP/1.1 {status} {reason}\r\n").into_bytes();
        let mut headers = Vec::new();
        if let Some(ct) = reply.content_type.as_ref().filter(|_| !body.is_empty()) {
            headers.push(("content-type".to_string(), ct.as_bytes().to_vec()));
        }
        for (n, v) in &reply.headers {
            headers.push((n.clone(), v.eval(&env)));
        }
        for (n, v) in &headers {
            raw.extend_from_slice(format!("{n}: ").as_bytes());
            raw.extend_from_slice(v);
            raw.extend_from_slice(b"\r\n");
        }
        raw.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
        raw.extend_from_slice(&body);
        ErrorPage {
            status,
            reason: reason.to_string(),
            headers,
            body,
            raw,
            reply: Some(Arc::new(reply)),
        }
    }

    /// The page of `errorloc302|errorloc303 STATUS URL`: a redirect to `url`.
    pub fn redirect(code: u16, status: u16, url: &str) -> Result<ErrorPage, String> {
        if !ERROR_CODES.contains(&status) {
            return Err(format!("status code '{status}' not handled."));
        }
        let line = if code == 303 {
            "HTTP/1.1 303 See Other"
        } else {
            "HTTP/1.1 302 Found"
        };
        let raw = format!(
            "{line}\r\nCache-Control: no-cache\r\nContent-length: 0\r\nLocation: {url}\r\n\r\n"
        );
        ErrorPage::parse(raw.as_bytes())
    }
}

/// The pages of a proxy (or of an `http-errors` section) by status.
pub type ErrorPages = BTreeMap<u16, Arc<ErrorPage>>;

/// One error-page line of a proxy, kept in order: a proxy starts with its `defaults`
/// section's lines, and later lines override earlier ones when they are resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorConf {
    /// `errorfile STATUS FILE` or `errorloc* STATUS URL`.
    Page(u16, Arc<ErrorPage>),
    /// `http-error status N default-errorfiles`: HAProxy's own page for N.
    Builtin(u16),
    /// `errorfiles NAME [STATUS...]` (no status: every page of the section).
    Section {
        /// The `http-errors` section.
        name: String,
        /// The statuses imported; empty for all.
        codes: Vec<u16>,
        /// Where the line is.
        loc: Loc,
    },
}

/// An `http-errors NAME` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpErrors {
    /// Its name.
    pub name: String,
    /// Where it starts.
    pub loc: Loc,
    /// Its `errorfile` pages.
    pub pages: ErrorPages,
}

/// Where the answer of `http-request return|deny` with an error page comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyPage {
    /// `default-errorfiles` (or none given to `deny`): the proxy's page for the status.
    Proxy,
    /// `errorfile FILE`.
    File(Arc<ErrorPage>),
    /// `errorfiles NAME`: the section's page for the status, resolved once every
    /// section is read (none: the proxy's page).
    Section(String, Option<Arc<ErrorPage>>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raw_response_is_read_with_its_headers_and_body() {
        let p = ErrorPage::parse(b"HTTP/1.0 503 Service Unavailable\r\nCache-Control: no-cache\r\nX-A:b \r\n\r\n<html>\n").unwrap();
        assert_eq!(p.status, 503);
        assert_eq!(p.reason, "Service Unavailable");
        assert_eq!(
            p.headers,
            vec![
                ("Cache-Control".to_string(), b"no-cache".to_vec()),
                ("X-A".to_string(), b"b".to_vec())
            ]
        );
        assert_eq!(p.body, b"<html>\n");
        let lf = ErrorPage::parse(b"HTTP/1.1 404\nA: b\n\n").unwrap();
        assert_eq!((lf.status, lf.reason.as_str(), lf.body.len()), (404, "", 0));
        assert!(ErrorPage::parse(b"").unwrap().is_empty());
    }

    #[test]
    fn malformed_responses_are_refused_with_haproxys_words() {
        let e = |raw: &[u8]| ErrorPage::parse(raw).unwrap_err();
        assert_eq!(e(b"garbage\n"), "unable to parse headers (error offset: 0)");
        assert_eq!(
            e(b"HTTP/1.0 503 X\r\nfoo\r\n\r\n"),
            "unable to parse headers (error offset: 19)"
        );
        assert_eq!(
            e(b"HTTP/1.0 503 X\r\nA: b\r\n"),
            "unable to parse headers (error offset: 22)"
        );
        assert_eq!(
            e(b"HTTP/1.0 5x3 X\r\n\r\n"),
            "unable to parse headers (error offset: 10)"
        );
        assert_eq!(
            e(b"HTTP/1.1 100 Continue\r\n\r\n"),
            "invalid http status code for an error message (100)"
        );
    }

    #[test]
    fn only_haproxys_codes_take_a_page() {
        assert_eq!(
            ErrorPage::redirect(302, 599, "/x").unwrap_err(),
            "status code '599' not handled."
        );
        let r = ErrorPage::redirect(303, 503, "http://example.com/down").unwrap();
        assert_eq!(r.status, 303);
        assert_eq!(
            r.raw,
            b"HTTP/1.1 303 See Other\r\nCache-Control: no-cache\r\nContent-length: 0\r\nLocation: http://example.com/down\r\n\r\n"
        );
        assert_eq!(
            ErrorPage::load(503, "/nonexistent/503.http").unwrap_err(),
            "error opening file '/nonexistent/503.http'."
        );
    }
}
