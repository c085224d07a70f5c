//! Error pages: the proxy keywords `errorfile`, `errorloc`, `errorloc302`,
//! `errorloc303` and `errorfiles`, the `http-errors` section (its keyword table), and
//! the resolution, once every section is read, of `errorfiles NAME` (in proxies and in
//! `http-request return|deny` rules) against the sections, as HAProxy's
//! `proxy_check_errors` does.

use super::{Parser, Section, Target, R};
use crate::config::diag::{Diag, Level};
use crate::config::keywords::{Caps, Keyword};
use crate::config::model::*;
use std::sync::Arc;

/// An `http-errors` keyword's parser: the words of the line and the section's index.
pub(crate) type SectionFn = fn(&mut Parser<'_>, &[String], usize) -> R;

/// The keywords of an `http-errors` section.
pub(crate) static KEYWORDS: &[Keyword<SectionFn>] = &[Keyword::new(
    "errorfile",
    Caps::DFBL,
    section_errorfile,
    "http-errors-sections",
)];

/// HAProxy's `atol`: the leading digits, 0 when there are none.
fn status_of(w: &str) -> u16 {
    let d: String = w.chars().take_while(char::is_ascii_digit).collect();
    d.parse::<u32>()
        .map_or(0, |n| n.min(u16::MAX as u32) as u16)
}

/// `errorfile STATUS FILE` (also in `http-errors` sections): the page, or the message.
fn errorfile_page(w: &[String]) -> Result<(u16, Arc<ErrorPage>), String> {
    let kw = &w[0];
    let (Some(code), Some(file)) = (w.get(1), w.get(2)) else {
        return Err(format!(
            "{kw} : expects <status_code> and <file> as arguments."
        ));
    };
    let status = status_of(code);
    let page = ErrorPage::load(status, file).map_err(|e| format!("{kw} : {e}"))?;
    Ok((status, Arc::new(page)))
}

fn section_errorfile(p: &mut Parser<'_>, w: &[String], i: usize) -> R {
    let (status, page) = errorfile_page(w)?;
    p.http_errors[i].pages.insert(status, page);
    Ok(())
}

/// `errorfile STATUS FILE` in a proxy.
pub(super) fn errorfile(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    let (status, page) = errorfile_page(w)?;
    p.px(t).errors.push(ErrorConf::Page(status, page));
    Ok(())
}

/// `errorloc|errorloc302|errorloc303 STATUS URL`.
pub(super) fn errorloc(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    let kw = &w[0];
    let (Some(code), Some(url)) = (w.get(1), w.get(2)) else {
        return Err(format!(
            "{kw} : expects <status_code> and <url> as arguments."
        ));
    };
    let status = status_of(code);
    let redirect = if kw == "errorloc303" { 303 } else { 302 };
    let page = ErrorPage::redirect(redirect, status, url).map_err(|e| format!("{kw} : {e}"))?;
    p.px(t).errors.push(ErrorConf::Page(status, Arc::new(page)));
    Ok(())
}

/// `http-error status N [content-type T] [default-errorfiles | errorfile FILE |
/// errorfiles NAME | file FILE | lf-file FILE | string S | lf-string FMT] [hdr NAME
/// FMT]...`: the answer lbd gives for status N (HAProxy's `http_parse_http_error`).
pub(super) fn http_error(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    if w.get(1).map(String::as_str) != Some("status") {
        return Err("http-error : expects 'status' <code> followed by the answer.".into());
    }
    let action = super::http_rules::reply_of("http-error", &w[1..])?;
    let (status, conf) = match action {
        HttpAction::ErrorPage(s, ReplyPage::Proxy) => (s, ErrorConf::Builtin(s)),
        HttpAction::ErrorPage(s, ReplyPage::File(page)) => (s, ErrorConf::Page(s, page)),
        HttpAction::ErrorPage(s, ReplyPage::Section(name, _)) => (
            s,
            ErrorConf::Section {
                name,
                codes: vec![s],
                loc: p.loc.clone(),
            },
        ),
        HttpAction::Return {
            status,
            content_type,
            body,
            headers,
        } => {
            let reply = LfReply {
                content_type,
                body,
                headers,
            };
            (
                status,
                ErrorConf::Page(status, Arc::new(ErrorPage::lf_reply(status, reply))),
            )
        }
        _ => unreachable!("reply_of gives an answer"),
    };
    if !ERROR_CODES.contains(&status) {
        return Err(format!("http-error : status code '{status}' not handled."));
    }
    p.px(t).errors.push(conf);
    Ok(())
}

/// `errorfiles NAME [STATUS...]`.
pub(super) fn errorfiles(p: &mut Parser<'_>, w: &[String], t: Target) -> R {
    let kw = &w[0];
    let Some(name) = w.get(1) else {
        return Err(format!("{kw} : expects <name> as argument."));
    };
    let mut codes = Vec::new();
    for c in &w[2..] {
        let status = status_of(c);
        if !ERROR_CODES.contains(&status) {
            return Err(format!("{kw} : status code '{status}' not handled."));
        }
        codes.push(status);
    }
    let loc = p.loc.clone();
    p.px(t).errors.push(ErrorConf::Section {
        name: name.clone(),
        codes,
        loc,
    });
    Ok(())
}

impl Parser<'_> {
    /// `http-errors NAME`: opens the section.
    pub(super) fn start_http_errors(&mut self, w: &[String]) -> R {
        self.section = Section::Skipped;
        let Some(name) = w.get(1) else {
            return Err("missing name for http-errors section.".into());
        };
        if let Some(bad) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
        {
            return Err(format!(
                "character '{bad}' is not permitted in 'http-errors' name '{name}'."
            ));
        }
        if let Some(prev) = self.http_errors.iter().find(|e| e.name == *name) {
            return Err(format!(
                "http-errors section '{name}' already exists (declared at {}).",
                prev.loc
            ));
        }
        self.http_errors.push(HttpErrors {
            name: name.clone(),
            loc: self.loc.clone(),
            pages: ErrorPages::new(),
        });
        self.section = Section::HttpErrors(self.http_errors.len() - 1);
        Ok(())
    }

    /// A line of an `http-errors` section.
    pub(super) fn http_errors_kw(&mut self, w: &[String], i: usize) -> R {
        match KEYWORDS.iter().find(|k| k.name == w[0]) {
            Some(Keyword {
                how: crate::config::keywords::How::Parse(f),
                ..
            }) => f(self, w, i),
            _ => Err(format!(
                "unknown keyword '{}' in 'http-errors' section",
                w[0]
            )),
        }
    }

    /// Resolves every proxy's error lines into its pages and the `errorfiles NAME` of
    /// its rules, with HAProxy's messages for unknown sections and missing statuses.
    pub(super) fn resolve_errors(&mut self) {
        let mut diags = Vec::new();
        let diag = |level, msg| Diag {
            level,
            loc: None,
            msg,
        };
        for px in &mut self.proxies {
            let mut pages = ErrorPages::new();
            for e in &px.errors {
                match e {
                    ErrorConf::Page(status, page) => {
                        pages.insert(*status, page.clone());
                    }
                    ErrorConf::Builtin(status) => {
                        pages.remove(status);
                    }
                    ErrorConf::Section { name, codes, loc } => {
                        let Some(sec) = self.http_errors.iter().find(|s| s.name == *name) else {
                            diags.push(diag(
                                Level::Alert,
                                format!(
                                    "proxy '{}': unknown http-errors section '{name}' (at {loc}).",
                                    px.name
                                ),
                            ));
                            continue;
                        };
                        if codes.is_empty() {
                            pages.extend(sec.pages.iter().map(|(s, p)| (*s, p.clone())));
                        }
                        for c in codes {
                            match sec.pages.get(c) {
                                Some(page) => {
                                    pages.insert(*c, page.clone());
                                }
                                None => diags.push(diag(
                                    Level::Warning,
                                    format!(
                                        "config: proxy '{}' : status '{c}' not declared in http-errors section '{name}' (at {loc}).",
                                        px.name
                                    ),
                                )),
                            }
                        }
                    }
                }
            }
            px.error_pages = pages;
            let rules = px
                .http_request
                .iter_mut()
                .chain(px.http_response.iter_mut());
            for rule in rules {
                let action = match &mut rule.action {
                    HttpAction::DenyWith(inner) => &mut **inner,
                    a => a,
                };
                let HttpAction::ErrorPage(status, ReplyPage::Section(name, page)) = action else {
                    continue;
                };
                let Some(sec) = self.http_errors.iter().find(|s| s.name == *name) else {
                    diags.push(diag(
                        Level::Alert,
                        format!(
                            "Proxy '{}': unknown http-errors section '{name}' referenced by an http reply .",
                            px.name
                        ),
                    ));
                    continue;
                };
                *page = sec.pages.get(status).cloned();
                if page.is_none() {
                    diags.push(diag(
                        Level::Warning,
                        format!(
                            "Proxy '{}': status '{status}' referenced by an http reply not declared in http-errors section '{name}'.",
                            px.name
                        ),
                    ));
                }
            }
        }
        for d in diags {
            if d.level == Level::Alert {
                self.alerts += 1;
            }
            self.diags.push(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::parse_str;

    fn run(text: &str) -> (Vec<String>, Option<crate::config::Config>) {
        let l = parse_str("t.cfg", text);
        let msgs = l
            .diags
            .iter()
            .map(|d| match &d.loc {
                Some(loc) => format!("{:?} [{loc}] {}", d.level, d.msg),
                None => format!("{:?} {}", d.level, d.msg),
            })
            .collect();
        (msgs, l.config)
    }

    #[test]
    fn pages_resolve_in_order_from_defaults_sections_and_own_lines() {
        let dir = std::env::temp_dir().join(format!("lbd-ef-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = |n: &str, code: &str| {
            let p = dir.join(n);
            std::fs::write(&p, format!("HTTP/1.0 {code} X\r\nX-N: {n}\r\n\r\n")).unwrap();
            p.display().to_string()
        };
        let (a400, b400, s403, s404) = (
            f("a400", "400"),
            f("b400", "400"),
            f("s403", "403"),
            f("s404", "404"),
        );
        let text = format!(
            "defaults\n    mode http\n    errorfiles late\n    errorfile 400 {a400}\n\
             frontend fe\n    errorfile 400 {b400}\n    errorfiles late 403\n    errorloc 503 /down\n\
             backend be\n    errorfiles late 404 400\n\
             http-errors late\n    errorfile 403 {s403}\n    errorfile 404 {s404}\n"
        );
        let (msgs, cfg) = run(&text);
        let cfg = cfg.unwrap_or_else(|| panic!("{msgs:?}"));
        assert_eq!(
            msgs[0],
            "Warning config: proxy 'be' : status '400' not declared in http-errors section 'late' (at t.cfg:10)."
        );
        assert!(
            msgs[1..].iter().all(|m| !m.contains("http-errors")),
            "{msgs:?}"
        );
        let marker = |px: usize, code: u16| {
            let p = &cfg.proxies[px].error_pages[&code];
            String::from_utf8_lossy(&p.headers[0].1).into_owned()
        };
        assert_eq!(marker(0, 400), "b400");
        assert_eq!(marker(0, 403), "s403");
        assert_eq!(marker(0, 404), "s404");
        assert_eq!(cfg.proxies[0].error_pages[&503].status, 302);
        assert_eq!(marker(1, 400), "a400");
        assert_eq!(marker(1, 404), "s404");
    }

    #[test]
    fn bad_pages_and_unknown_sections_are_alerts_with_their_line() {
        let (msgs, cfg) = run(
            "http-errors e\n    errorfile 999 /dev/null\n    frob 1\n\
             http-errors e\n\
             defaults\n    mode http\n    errorfile 503\n    errorfile 503 /nonexistent/x.http\n    errorloc 599 /x\n\
             frontend fe\n    errorfiles nosuch\n    errorfiles e 302\n\
             http-request deny deny_status 302 if TRUE\n    http-request return status 403 errorfiles nope2 if TRUE\n",
        );
        assert!(cfg.is_none());
        assert_eq!(
            msgs,
            [
                "Alert [t.cfg:2] errorfile : status code '999' not handled.",
                "Alert [t.cfg:3] unknown keyword 'frob' in 'http-errors' section",
                "Alert [t.cfg:4] http-errors section 'e' already exists (declared at t.cfg:1).",
                "Alert [t.cfg:7] errorfile : expects <status_code> and <file> as arguments.",
                "Alert [t.cfg:8] errorfile : error opening file '/nonexistent/x.http'.",
                "Alert [t.cfg:9] errorloc : status code '599' not handled.",
                "Alert [t.cfg:12] errorfiles : status code '302' not handled.",
                "Alert [t.cfg:13] 'http-request deny' : status code '302' not handled by default with 'default-errorfiles' argument.",
                "Alert proxy 'fe': unknown http-errors section 'nosuch' (at t.cfg:11).",
                "Alert Proxy 'fe': unknown http-errors section 'nope2' referenced by an http reply .",
            ]
        );
    }
}
