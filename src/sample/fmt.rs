//! Log-format strings where HAProxy takes them in rules (header values, `return
//! lf-string`, `set-var-fmt`, redirects): literal text, `%[expr]` samples and the `%`
//! variables that a request knows.

use super::expr::{Env, Expr};
use super::logvars::{self, Flags, LogInfo, LogVar};
use super::value::Value;

#[derive(Debug, Clone)]
enum Part {
    Lit(Vec<u8>),
    /// Spaces: one space, unless the line is at its start or after another space.
    Sep,
    Expr(Expr, Flags),
    Var(LogVar, Flags),
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

/// Applies `%{+Q,-X}` style options to `flags`.
fn options(opts: &str, flags: &mut Flags, s: &str) -> Result<(), String> {
    let mut on = true;
    let mut name = String::new();
    let mut apply = |name: &mut String, on: bool| -> Result<(), String> {
        match name.as_str() {
            "" => {}
            "Q" => flags.quote = on,
            "X" => flags.hex = on,
            "E" => flags.escape = on,
            "M" => flags.mandatory = on,
            o => {
                return Err(format!(
                    "log-format option '{o}' is not supported by lbd (in '{s}')"
                ))
            }
        }
        name.clear();
        Ok(())
    };
    for c in opts.chars() {
        match c {
            '+' | '-' | ',' => {
                apply(&mut name, on)?;
                if c != ',' {
                    on = c == '+';
                }
            }
            c => name.push(c),
        }
    }
    apply(&mut name, on)
}

impl Fmt {
    /// Parses a log-format string of a rule (header values, `lf-string`): a missing
    /// value is written as nothing.
    pub fn parse(s: &str) -> Result<Fmt, String> {
        Fmt::parse_with(s, Flags::default())
    }

    /// Parses an access-log format (`log-format`, `unique-id-format`): a missing
    /// value is written `-`.
    pub fn parse_log(s: &str) -> Result<Fmt, String> {
        Fmt::parse_with(
            s,
            Flags {
                mandatory: true,
                ..Flags::default()
            },
        )
    }

    fn parse_with(s: &str, mut defaults: Flags) -> Result<Fmt, String> {
        let mut parts = Vec::new();
        let mut lit = Vec::new();
        let b = s.as_bytes();
        let mut i = 0;
        let flush = |lit: &mut Vec<u8>, parts: &mut Vec<Part>| {
            if !lit.is_empty() {
                let l = std::mem::take(lit);
                let l = super::value::raw_bytes(&l).into_owned();
                parts.push(Part::Lit(l));
            }
        };
        while i < b.len() {
            if b[i] == b' ' {
                flush(&mut lit, &mut parts);
                if !matches!(parts.last(), Some(Part::Sep)) {
                    parts.push(Part::Sep);
                }
                i += 1;
                continue;
            }
            if b[i] != b'%' {
                lit.push(b[i]);
                i += 1;
                continue;
            }
            i += 1;
            // `%{+Q}` options before a sample or variable.
            let mut flags = defaults;
            if b.get(i) == Some(&b'{') {
                let end = s[i..]
                    .find('}')
                    .ok_or_else(|| format!("missing '}}' after '%{{' in '{s}'"))?;
                options(&s[i + 1..i + end], &mut flags, s)?;
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
                    flush(&mut lit, &mut parts);
                    parts.push(Part::Expr(expr, flags));
                    i = end + 1;
                }
                Some(c) if c.is_ascii_alphabetic() => {
                    let len = b[i..]
                        .iter()
                        .take_while(|c| c.is_ascii_alphanumeric())
                        .count();
                    let name = &s[i..i + len];
                    let var = LogVar::named(name).ok_or_else(|| {
                        format!("no such format variable '{name}'. If you wanted to emit the '%' character verbatim, you need to use '%%' (in '{s}')")
                    })?;
                    i += len;
                    if var == LogVar::Defaults {
                        defaults = flags;
                        continue;
                    }
                    flush(&mut lit, &mut parts);
                    parts.push(Part::Var(var, flags));
                }
                _ => return Err(format!("a literal '%' must be written '%%' (in '{s}')")),
            }
        }
        flush(&mut lit, &mut parts);
        Ok(Fmt {
            text: s.to_string(),
            parts: settle(parts),
        })
    }

    /// A string taken as it is (`return string`): no `%` is special.
    pub fn literal_text(s: &str) -> Fmt {
        Fmt {
            text: s.replace('%', "%%"),
            parts: vec![Part::Lit(
                super::value::raw_bytes(s.as_bytes()).into_owned(),
            )],
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
            Part::Var(v, _) => v.needs_response(),
            Part::Lit(_) | Part::Sep => false,
        })
    }

    /// Whether a part needs an HTTP request.
    pub fn needs_http(&self) -> bool {
        self.parts.iter().any(|p| match p {
            Part::Expr(e, _) => e.needs_http(),
            _ => false,
        })
    }

    /// Whether the string uses variable `v`.
    pub fn uses(&self, v: LogVar) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Var(x, _) if *x == v))
    }

    /// Renders the parts; `late` variables are left to `pending` when given.
    fn render(&self, env: &Env<'_>, out: &mut Vec<u8>, mut pending: Option<&mut Vec<Piece>>) {
        let mut last_space = true;
        for p in &self.parts {
            match p {
                Part::Lit(l) => {
                    out.extend_from_slice(l);
                    // A trailing space is a settled separator.
                    last_space = l.ends_with(b" ");
                }
                Part::Sep => {
                    if !last_space {
                        out.push(b' ');
                        last_space = true;
                    }
                }
                Part::Expr(e, f) => {
                    match e.eval(env) {
                        // Digits, dots and colons: nothing to escape, no copy to make.
                        Some(v @ (Value::Int(_) | Value::Ip(_))) => {
                            if f.quote {
                                out.push(b'"');
                            }
                            v.write_bytes(out);
                            if f.quote {
                                out.push(b'"');
                            }
                        }
                        v => {
                            let b = v.as_ref().map(|v| v.to_bytes());
                            logvars::text(out, b.as_deref(), *f, None);
                        }
                    }
                    last_space = false;
                }
                Part::Var(v, f) => match pending.as_deref_mut() {
                    Some(pieces) if v.is_late() => {
                        pieces.push(Piece::Text(std::mem::take(out)));
                        pieces.push(Piece::Late(*v, *f));
                        last_space = false;
                    }
                    _ => {
                        if logvars::write_var(*v, env, *f, out) {
                            last_space = false;
                        }
                    }
                },
            }
        }
    }

    /// Appends the evaluated string to `out`.
    pub fn eval_into(&self, env: &Env<'_>, out: &mut Vec<u8>) {
        self.render(env, out, None);
    }

    /// The evaluated string.
    pub fn eval(&self, env: &Env<'_>) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.eval_into(env, &mut out);
        out
    }

    /// Evaluates everything but the values known only at the end (`%B`, `%U`, `%Ta`,
    /// `%Tt`, `%Td`, `%Tu`, `%ts`, `%tsc`): [`Pending::finish`] writes those.
    pub fn eval_pending(&self, env: &Env<'_>) -> Pending {
        let mut pieces = Vec::new();
        let mut out = Vec::new();
        self.render(env, &mut out, Some(&mut pieces));
        pieces.push(Piece::Text(out));
        Pending(pieces)
    }
}

/// Resolves the separators whose output is known at parse time (none at the start,
/// one space after text or a sample) and joins adjacent text: only a separator after
/// a variable, which may write nothing, is left for evaluation.
fn settle(parts: Vec<Part>) -> Vec<Part> {
    let mut out: Vec<Part> = Vec::new();
    for p in parts {
        match (p, out.last_mut()) {
            (Part::Sep, None) => {}
            (Part::Sep, Some(Part::Lit(l))) => l.push(b' '),
            (Part::Sep, Some(Part::Expr(..))) => out.push(Part::Lit(b" ".to_vec())),
            (Part::Lit(t), Some(Part::Lit(l))) => l.extend_from_slice(&t),
            (p, _) => out.push(p),
        }
    }
    out
}

#[derive(Debug, Clone)]
enum Piece {
    Text(Vec<u8>),
    Late(LogVar, Flags),
}

/// A log line evaluated but for its end values.
#[derive(Debug, Clone)]
pub struct Pending(Vec<Piece>);

impl Pending {
    /// The line with the end values of `log`.
    pub fn finish(&self, log: &LogInfo<'_>) -> Vec<u8> {
        let env = Env {
            log: Some(log),
            ..Env::default()
        };
        let mut out = Vec::new();
        for p in &self.0 {
            match p {
                Piece::Text(t) => out.extend_from_slice(t),
                Piece::Late(v, f) => {
                    logvars::write_var(*v, &env, *f, &mut out);
                }
            }
        }
        out
    }
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
        assert!(Fmt::parse("%Tx").is_err());
        assert_eq!(Fmt::parse("%Tq").unwrap().eval(&env), b"-1");
    }

    #[test]
    fn spaces_are_separators_as_in_haproxy() {
        // Leading and repeated spaces collapse; `%o` sets the flags of what follows.
        let f = Fmt::parse_log("%{+X}o  TEST-%[str(a)]  x").unwrap();
        assert_eq!(f.eval(&Env::default()), b"TEST-a x");
        let env = Env {
            src: Some("127.0.0.1:80".parse().unwrap()),
            ..Env::default()
        };
        let f = Fmt::parse_log("%{+X}o %ci:%cp %{-X}cp").unwrap();
        assert_eq!(f.eval(&env), b"7F000001:0050 80");
        // A variable that writes nothing leaves the separator after it unwritten.
        let f = Fmt::parse_log("a %hr %hs b").unwrap();
        assert_eq!(f.eval(&env), b"a b");
    }

    #[test]
    fn missing_values_and_quotes() {
        let env = Env::default();
        assert_eq!(
            Fmt::parse_log("%[req.hdr(x)]|%{+Q}[req.hdr(x)]|%{+Q}s")
                .unwrap()
                .eval(&env),
            b"-|\"\"|\"<NOSRV>\""
        );
        assert_eq!(
            Fmt::parse("%[req.hdr(x)]|%{+Q}[req.hdr(x)]")
                .unwrap()
                .eval(&env),
            b"|\"\""
        );
        assert_eq!(
            Fmt::parse_log("%{+Q,+E}[str(x)]").unwrap().eval(&env),
            b"\"x\""
        );
    }
}
