//! Log-format strings where HAProxy takes them in rules (header values, `return
//! lf-string`, `set-var-fmt`, redirects): literal text, `%[expr]` samples and the `%`
//! variables that a request knows.

use super::expr::{Env, Expr};

/// A `%` variable of the custom log format that rules can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LogVar {
    ClientIp,
    ClientPort,
    FrontendIp,
    FrontendPort,
    Frontend,
    Backend,
    Server,
    Method,
    Uri,
    Path,
    Query,
    Version,
    Status,
    Hostname,
    Pid,
}

const LOG_VARS: &[(&str, LogVar)] = &[
    ("ci", LogVar::ClientIp),
    ("cp", LogVar::ClientPort),
    ("fi", LogVar::FrontendIp),
    ("fp", LogVar::FrontendPort),
    ("ft", LogVar::Frontend),
    ("f", LogVar::Frontend),
    ("b", LogVar::Backend),
    ("s", LogVar::Server),
    ("HM", LogVar::Method),
    ("HU", LogVar::Uri),
    ("HP", LogVar::Path),
    ("HQ", LogVar::Query),
    ("HV", LogVar::Version),
    ("ST", LogVar::Status),
    ("H", LogVar::Hostname),
    ("pid", LogVar::Pid),
];

#[derive(Debug, Clone)]
enum Part {
    Lit(Vec<u8>),
    Expr(Expr, bool),
    Var(LogVar, bool),
}

/// A compiled log-format string.
#[derive(Clone)]
pub struct Fmt {
    text: String,
    parts: Vec<Part>,
}

impl std::fmt::Debug for Fmt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fmt({:?})", self.text)
    }
}

impl PartialEq for Fmt {
    fn eq(&self, o: &Self) -> bool {
        self.text == o.text
    }
}
impl Eq for Fmt {}

/// A string taken as it is (tests and built-in values): see [`Fmt::literal_text`].
impl From<&str> for Fmt {
    fn from(s: &str) -> Fmt {
        Fmt::literal_text(s)
    }
}

impl Fmt {
    /// Parses a log-format string.
    pub fn parse(s: &str) -> Result<Fmt, String> {
        let mut parts = Vec::new();
        let mut lit = Vec::new();
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] != b'%' {
                lit.push(b[i]);
                i += 1;
                continue;
            }
            i += 1;
            // `%{+Q}` options before a sample or variable.
            let mut quote = false;
            if b.get(i) == Some(&b'{') {
                let end = s[i..]
                    .find('}')
                    .ok_or_else(|| format!("missing '}}' after '%{{' in '{s}'"))?;
                for opt in s[i + 1..i + end].split(',') {
                    match opt {
                        "+Q" => quote = true,
                        "-Q" | "+M" | "-M" | "" => {}
                        o => {
                            return Err(format!(
                                "log-format option '{o}' is not supported by lbd (in '{s}')"
                            ))
                        }
                    }
                }
                i += end + 1;
            }
            match b.get(i) {
                Some(b'%') => {
                    lit.push(b'%');
                    i += 1;
                }
                Some(b'[') => {
                    let mut depth = 0;
                    let mut end = None;
                    for (j, &c) in b.iter().enumerate().skip(i) {
                        match c {
                            b'[' => depth += 1,
                            b']' => {
                                depth -= 1;
                                if depth == 0 {
                                    end = Some(j);
                                    break;
                                }
                            }
                            _ => {}
                        }
                    }
                    let end = end.ok_or_else(|| {
                        format!("missing closing ']' in sample expression of '{s}'")
                    })?;
                    let expr = Expr::parse(&s[i + 1..end]).map_err(|e| {
                        format!(
                            "failed to parse sample expression <{}> : {e}",
                            &s[i + 1..end]
                        )
                    })?;
                    if !lit.is_empty() {
                        parts.push(Part::Lit(std::mem::take(&mut lit)));
                    }
                    parts.push(Part::Expr(expr, quote));
                    i = end + 1;
                }
                Some(c) if c.is_ascii_alphabetic() => {
                    let len = b[i..]
                        .iter()
                        .take_while(|c| c.is_ascii_alphanumeric())
                        .count();
                    let name = &s[i..i + len];
                    let var = LOG_VARS
                        .iter()
                        .filter(|(n, _)| name.starts_with(n))
                        .max_by_key(|(n, _)| n.len())
                        .filter(|(n, _)| n.len() == name.len())
                        .map(|(_, v)| *v)
                        .ok_or_else(|| {
                            format!("log-format variable '%{name}' is not supported by lbd here (in '{s}')")
                        })?;
                    if !lit.is_empty() {
                        parts.push(Part::Lit(std::mem::take(&mut lit)));
                    }
                    parts.push(Part::Var(var, quote));
                    i += len;
                }
                _ => return Err(format!("a literal '%' must be written '%%' (in '{s}')")),
            }
        }
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Ok(Fmt {
            text: s.to_string(),
            parts,
        })
    }

    /// A string taken as it is (`return string`): no `%` is special.
    pub fn literal_text(s: &str) -> Fmt {
        Fmt {
            text: s.replace('%', "%%"),
            parts: vec![Part::Lit(s.as_bytes().to_vec())],
        }
    }

    /// The string as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The bytes when the string has no sample nor variable (evaluated once).
    pub fn literal(&self) -> Option<&[u8]> {
        match self.parts.as_slice() {
            [] => Some(b""),
            [Part::Lit(l)] => Some(l),
            _ => None,
        }
    }

    /// Whether a part reads the response.
    pub fn needs_response(&self) -> bool {
        self.parts.iter().any(|p| match p {
            Part::Expr(e, _) => e.needs_response(),
            Part::Var(v, _) => *v == LogVar::Status,
            Part::Lit(_) => false,
        })
    }

    /// Whether a part needs an HTTP request.
    pub fn needs_http(&self) -> bool {
        self.parts.iter().any(|p| match p {
            Part::Expr(e, _) => e.needs_http(),
            _ => false,
        })
    }

    /// Appends the evaluated string to `out`; a missing sample writes nothing.
    pub fn eval_into(&self, env: &Env<'_>, out: &mut Vec<u8>) {
        for p in &self.parts {
            match p {
                Part::Lit(l) => out.extend_from_slice(l),
                Part::Expr(e, quote) => {
                    if *quote {
                        out.push(b'"');
                    }
                    if let Some(v) = e.eval(env) {
                        v.write_bytes(out);
                    }
                    if *quote {
                        out.push(b'"');
                    }
                }
                Part::Var(v, quote) => {
                    if *quote {
                        out.push(b'"');
                    }
                    var(*v, env, out);
                    if *quote {
                        out.push(b'"');
                    }
                }
            }
        }
    }

    /// The evaluated string.
    pub fn eval(&self, env: &Env<'_>) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.eval_into(env, &mut out);
        out
    }
}

fn var(v: LogVar, env: &Env<'_>, out: &mut Vec<u8>) {
    use std::io::Write;
    let _ = match v {
        LogVar::ClientIp => env.src.map(|a| write!(out, "{}", a.ip())),
        LogVar::ClientPort => env.src.map(|a| write!(out, "{}", a.port())),
        LogVar::FrontendIp => env.dst.map(|a| write!(out, "{}", a.ip())),
        LogVar::FrontendPort => env.dst.map(|a| write!(out, "{}", a.port())),
        LogVar::Frontend => env.fe.map(|n| write!(out, "{}", n.name)),
        LogVar::Backend => env.be.map(|n| write!(out, "{}", n.name)),
        LogVar::Server => env.srv.map(|n| write!(out, "{}", n.name)),
        LogVar::Method => env.req.map(|r| write!(out, "{}", r.method)),
        LogVar::Uri => env.req.map(|r| write!(out, "{}", r.uri)),
        LogVar::Path => env
            .req
            .map(|r| write!(out, "{}", r.uri.split('?').next().unwrap_or(r.uri))),
        LogVar::Query => env
            .req
            .and_then(|r| r.uri.find('?').map(|i| write!(out, "{}", &r.uri[i..]))),
        LogVar::Version => env.req.map(|r| write!(out, "HTTP/{}", r.version)),
        LogVar::Status => env.res.map(|r| write!(out, "{}", r.status)),
        LogVar::Hostname => super::hash::hostname().map(|h| write!(out, "{h}")),
        LogVar::Pid => Some(write!(out, "{}", std::process::id())),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_samples_and_vars() {
        let f = Fmt::parse("a %% b").unwrap();
        assert_eq!(f.literal(), Some(&b"a % b"[..]));
        let f = Fmt::parse("x=%[str(1),add(1)] y=%{+Q}[str(z)] %ci").unwrap();
        let env = Env {
            src: Some("1.2.3.4:5".parse().unwrap()),
            ..Env::default()
        };
        assert_eq!(f.eval(&env), b"x=2 y=\"z\" 1.2.3.4");
        assert!(Fmt::parse("100%").is_err());
        assert!(Fmt::parse("%[nosuch]")
            .unwrap_err()
            .contains("unknown fetch"));
        assert!(Fmt::parse("%Tq").is_err());
    }
}
