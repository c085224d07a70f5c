//! `.if` / `.elif` conditions and `lbd -cc EXPR`, with HAProxy's grammar:
//!
//! ```text
//! expr := and ('||' and)*        and := unary ('&&' unary)*
//! unary := '!' unary | '(' expr ')' | term
//! term := INTEGER | NAME '(' [arg (',' arg)*] ')'
//! ```
//!
//! Spaces may separate tokens. An integer is true when it is not zero. The predicates:
//! `defined(VAR)`, `feature(NAME)` (lbd's `-vv` list), `streq(a,b)`, `strneq(a,b)`,
//! `version_atleast(V)`, `version_before(V)` (lbd answers as HAProxy 2.8), and the TLS
//! library tests `openssl_version_atleast`, `openssl_version_before`,
//! `ssllib_name_startswith`, all false (lbd has no TLS library yet).

use std::cmp::Ordering;

/// Evaluates `text`; `env` answers `defined()`.
pub(crate) fn eval(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<bool, String> {
    let mut c = Cursor {
        s: text.as_bytes(),
        i: 0,
        env,
        text,
    };
    let v = c.expr()?;
    c.skip_ws();
    if c.i < c.s.len() {
        return Err(format!(
            "unexpected character '{}' at the end of conditional expression '{text}'",
            c.s[c.i] as char
        ));
    }
    Ok(v)
}

/// Compares a version with the one lbd answers as (2.8): `2.5-dev0` reads as 2.5.0.
fn version_cmp(v: &str) -> Ordering {
    // lbd reads configs written for HAProxy 2.6 to 3.x; it answers version tests as 2.8.
    let parse =
        |s: &str| -> Vec<u32> { s.split(['.', '-']).filter_map(|p| p.parse().ok()).collect() };
    parse(v).cmp(&vec![2, 8])
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
    env: &'a dyn Fn(&str) -> Option<String>,
    text: &'a str,
}

impl Cursor<'_> {
    fn skip_ws(&mut self) {
        while self.s.get(self.i).is_some_and(|b| b.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn eat(&mut self, tok: &str) -> bool {
        self.skip_ws();
        if self.s[self.i..].starts_with(tok.as_bytes()) {
            self.i += tok.len();
            true
        } else {
            false
        }
    }

    fn expr(&mut self) -> Result<bool, String> {
        let mut v = self.and()?;
        while self.eat("||") {
            let r = self.and()?;
            v = v || r;
        }
        Ok(v)
    }

    fn and(&mut self) -> Result<bool, String> {
        let mut v = self.unary()?;
        while self.eat("&&") {
            let r = self.unary()?;
            v = v && r;
        }
        Ok(v)
    }

    fn unary(&mut self) -> Result<bool, String> {
        if self.eat("!") {
            return Ok(!self.unary()?);
        }
        if self.eat("(") {
            let v = self.expr()?;
            if !self.eat(")") {
                return Err(format!(
                    "expected ')' in conditional expression '{}'",
                    self.text
                ));
            }
            return Ok(v);
        }
        self.term()
    }

    fn term(&mut self) -> Result<bool, String> {
        self.skip_ws();
        let start = self.i;
        if self.s.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        while self
            .s
            .get(self.i)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            self.i += 1;
        }
        let word = &self.text[start..self.i];
        if word.is_empty() {
            return Err(format!(
                "missing term in conditional expression '{}'",
                self.text
            ));
        }
        if let Ok(n) = word.parse::<i64>() {
            return Ok(n != 0);
        }
        if self.s.get(self.i) != Some(&b'(') {
            return Err(format!(
                "unknown term '{word}' in conditional expression '{}'",
                self.text
            ));
        }
        self.i += 1;
        let args = self.args()?;
        let arg = |n: usize| args.get(n).map_or("", String::as_str);
        let two = || -> Result<(&str, &str), String> {
            match args.len() {
                2 => Ok((arg(0), arg(1))),
                _ => Err(format!("'{word}' expects two arguments")),
            }
        };
        Ok(match word {
            "defined" => (self.env)(arg(0)).is_some(),
            "feature" => crate::config::has_feature(arg(0)),
            "streq" => {
                let (a, b) = two()?;
                a == b
            }
            "strneq" => {
                let (a, b) = two()?;
                a != b
            }
            "version_atleast" => version_cmp(arg(0)) != Ordering::Greater,
            "version_before" => version_cmp(arg(0)) == Ordering::Greater,
            "openssl_version_atleast" | "openssl_version_before" | "ssllib_name_startswith" => {
                false
            }
            _ => {
                return Err(format!(
                    "unknown term '{word}(...)' in conditional expression '{}'",
                    self.text
                ))
            }
        })
    }

    /// Arguments up to the closing parenthesis; quotes (single or double) keep commas
    /// and parentheses.
    fn args(&mut self) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        let mut cur = String::new();
        let mut quote: Option<u8> = None;
        loop {
            let Some(&b) = self.s.get(self.i) else {
                return Err(format!(
                    "missing ')' in conditional expression '{}'",
                    self.text
                ));
            };
            self.i += 1;
            match (quote, b) {
                (Some(q), b) if b == q => quote = None,
                (Some(_), _) => cur.push(b as char),
                (None, b'"' | b'\'') => quote = Some(b),
                (None, b',') => out.push(std::mem::take(&mut cur)),
                (None, b')') => {
                    if !cur.is_empty() || !out.is_empty() {
                        out.push(cur);
                    }
                    return Ok(out);
                }
                (None, b) => cur.push(b as char),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(s: &str) -> Result<bool, String> {
        eval(s, &|v| (v == "TESTVAR").then(|| "1".to_string()))
    }

    /// The expressions of HAProxy's reg-test startup/check_condition.vtc.
    #[test]
    fn haproxys_check_condition_cases() {
        assert_eq!(ev("version_atleast(2.4)"), Ok(true));
        assert_eq!(ev("version_atleast(1024)"), Ok(false));
        assert_eq!(ev("version_atleast(2.5-dev0)"), Ok(true));
        assert_eq!(ev("streq(foo,'foo')"), Ok(true));
        assert_eq!(ev("streq(\"foo bar\",'foo bar')"), Ok(true));
        assert_eq!(ev("streq(foo,bar)"), Ok(false));
        assert_eq!(ev("defined(TESTVAR) && streq(\"1\",\"1\")"), Ok(true));
        assert_eq!(ev("feature(OPENSSL) || !feature(OPENSSL)"), Ok(true));
        assert_eq!(
            ev("1&&!0&&!((streq(a,b)||!streq(a,a)&&1)||strneq(a,a))"),
            Ok(true)
        );
        assert_eq!(
            ev("1   &&!   0&&    !((streq(a,b)||!streq(a,a)&&1)||strneq(a,a))"),
            Ok(true)
        );
        assert_eq!(
            ev("1 && !0 && !((streq(a,b) || !streq(a,a) && 1) || strneq(a,b))"),
            Ok(false)
        );
        assert_eq!(
            ev("1 && !0 && !((streq(a,a) || !streq(a,a) && 1) || strneq(a,a))"),
            Ok(false)
        );
        assert_eq!(ev("-1000 && 200"), Ok(true));
        assert!(ev("200rrr").is_err());
        assert!(ev("!(0))").is_err());
        assert!(ev("streq(a,\"a)").is_err());
        assert!(ev("nosuch(1)").is_err());
        assert_eq!(ev("ssllib_name_startswith(OpenSSL)"), Ok(false));
        assert_eq!(ev("(feature(PCRE) || feature(PROMEX))"), Ok(true));
    }
}
