//! HAProxy's line rules: one statement per line split into words.
//!
//! Rules (cfgparse.c `parse_line`): leading blanks are skipped; words are separated by
//! spaces and tabs; `#` starts a comment anywhere unless escaped or quoted; `\` escapes
//! (`\ ` `\#` `\\` `\'` `\"` `\$` `\n` `\r` `\t` `\xNN`; any other backslash is kept);
//! `"..."` protects blanks and `#`, processes escapes and expands `$VAR`, `${VAR}` and
//! `${VAR-default}`; `'...'` is fully literal; adjacent pieces join into one word.
//! An unset variable expands to nothing. There is no line continuation.
//!
//! The lexer is pure: the environment comes in as a lookup function.

/// Why a line could not be split into words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexError {
    /// A quote opened at this 1-based column is never closed.
    UnmatchedQuote(usize),
    /// `\x` not followed by two hex digits, at this 1-based column.
    BadHexEscape(usize),
    /// `${` without its closing brace, at this 1-based column.
    UnterminatedVar(usize),
}

impl std::fmt::Display for LexError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LexError::UnmatchedQuote(p) => write!(f, "unmatched quote at position {p}"),
            LexError::BadHexEscape(p) => {
                write!(
                    f,
                    "truncated or invalid hexadecimal sequence at position {p}"
                )
            }
            LexError::UnterminatedVar(p) => {
                write!(f, "unterminated environment variable at position {p}")
            }
        }
    }
}

fn is_var_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Splits one line into words. A line that is blank or only a comment gives no words.
pub fn split_line<F>(line: &str, env: F) -> Result<Vec<String>, LexError>
where
    F: Fn(&str) -> Option<String>,
{
    let chars: Vec<char> = line.chars().collect();
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    // Quote state: None, Some('"') or Some('\'') with the 1-based column of the opener.
    let mut quote: Option<(char, usize)> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match quote {
            Some(('\'', _)) => {
                if c == '\'' {
                    quote = None;
                } else {
                    cur.push(c);
                }
                i += 1;
            }
            Some(('"', _)) if c == '"' => {
                quote = None;
                i += 1;
            }
            _ => {
                let weak = quote.is_some();
                if c == '\\' {
                    in_word = true;
                    i += escape(&chars, i, &mut cur)?;
                } else if c == '$' && weak {
                    i += expand(&chars, i, &mut cur, &env)?;
                } else if weak {
                    cur.push(c);
                    i += 1;
                } else if c == '#' {
                    break;
                } else if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
                    if in_word {
                        words.push(std::mem::take(&mut cur));
                        in_word = false;
                    }
                    i += 1;
                } else if c == '"' || c == '\'' {
                    quote = Some((c, i + 1));
                    in_word = true;
                    i += 1;
                } else {
                    cur.push(c);
                    in_word = true;
                    i += 1;
                }
            }
        }
    }
    if let Some((_, pos)) = quote {
        return Err(LexError::UnmatchedQuote(pos));
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Handles a backslash at `chars[i]`; returns how many chars were consumed.
fn escape(chars: &[char], i: usize, out: &mut String) -> Result<usize, LexError> {
    let Some(&n) = chars.get(i + 1) else {
        out.push('\\');
        return Ok(1);
    };
    let simple = match n {
        ' ' | '#' | '\\' | '\'' | '"' | '$' => Some(n),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        _ => None,
    };
    if let Some(c) = simple {
        out.push(c);
        return Ok(2);
    }
    if n == 'x' {
        let hex: String = chars.iter().skip(i + 2).take(2).collect();
        if hex.len() == 2 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            let v = u8::from_str_radix(&hex, 16).map_err(|_| LexError::BadHexEscape(i + 1))?;
            // A byte over 0x7f is no character: it is kept as its stand-in, turned
            // back into the byte where the text becomes bytes.
            out.push(if v < 0x80 {
                char::from(v)
            } else {
                crate::sample::value::raw_byte_char(v)
            });
            return Ok(4);
        }
        return Err(LexError::BadHexEscape(i + 1));
    }
    out.push('\\');
    Ok(1)
}

/// Expands a `$` inside double quotes at `chars[i]`; returns how many chars were consumed.
fn expand<F>(chars: &[char], i: usize, out: &mut String, env: &F) -> Result<usize, LexError>
where
    F: Fn(&str) -> Option<String>,
{
    if chars.get(i + 1) == Some(&'{') {
        let start = i + 2;
        let Some(rel_end) = chars[start..].iter().position(|&c| c == '}') else {
            return Err(LexError::UnterminatedVar(i + 1));
        };
        let inner: String = chars[start..start + rel_end].iter().collect();
        let (name, default) = match inner.find('-') {
            Some(p) => (&inner[..p], Some(&inner[p + 1..])),
            None => (inner.as_str(), None),
        };
        match (env(name), default) {
            (Some(v), _) => out.push_str(&v),
            (None, Some(d)) => out.push_str(d),
            (None, None) => {}
        }
        return Ok(rel_end + 3);
    }
    let name: String = chars[i + 1..]
        .iter()
        .take_while(|c| is_var_char(**c))
        .collect();
    if name.is_empty() {
        out.push('$');
        return Ok(1);
    }
    if let Some(v) = env(&name) {
        out.push_str(&v);
    }
    Ok(1 + name.chars().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/home/op".into()),
            "PORT" => Some("8080".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn split(s: &str) -> Vec<String> {
        split_line(s, env).unwrap()
    }

    #[test]
    fn blanks_separate_words_and_leading_blanks_are_skipped() {
        assert_eq!(
            split("  server\ts1   127.0.0.1:80  "),
            ["server", "s1", "127.0.0.1:80"]
        );
    }

    #[test]
    fn blank_and_comment_lines_give_no_words() {
        assert!(split("").is_empty());
        assert!(split("    \t ").is_empty());
        assert!(split("# a comment").is_empty());
        assert!(split("   # indented comment").is_empty());
    }

    #[test]
    fn comment_starts_anywhere_even_inside_a_word() {
        assert_eq!(
            split("server s1 1.2.3.4:80 check#x"),
            ["server", "s1", "1.2.3.4:80", "check"]
        );
        assert_eq!(split("mode http # trailing"), ["mode", "http"]);
    }

    #[test]
    fn escaped_hash_and_space_are_literal() {
        assert_eq!(split(r"a\#b c\ d"), ["a#b", "c d"]);
    }

    #[test]
    fn escapes_are_processed() {
        assert_eq!(
            split(r#"a\\b \'x\' \"y\" \n\r\t"#),
            ["a\\b", "'x'", "\"y\"", "\n\r\t"]
        );
        assert_eq!(split(r"\x41\x62"), ["Ab"]);
        // A byte over 0x7f keeps its value: a stand-in character, turned back into
        // the byte where the text becomes bytes.
        let w = split(r"a\xE0\xffb");
        assert_eq!(
            crate::sample::value::raw_bytes(w[0].as_bytes()),
            &b"a\xe0\xffb"[..]
        );
    }

    #[test]
    fn unknown_escape_keeps_the_backslash() {
        assert_eq!(split(r"^/api\.v1\d+$"), [r"^/api\.v1\d+$"]);
    }

    #[test]
    fn bad_hex_escape_is_an_error() {
        assert_eq!(split_line(r"a \xZZ", env), Err(LexError::BadHexEscape(3)));
        assert_eq!(split_line(r"a \x4", env), Err(LexError::BadHexEscape(3)));
    }

    #[test]
    fn double_quotes_protect_blanks_and_hash() {
        assert_eq!(
            split(r#"http-request return "a b # c""#),
            ["http-request", "return", "a b # c"]
        );
    }

    #[test]
    fn single_quotes_are_literal() {
        assert_eq!(split(r#"x '$HOME \n # "q"'"#), ["x", r#"$HOME \n # "q""#]);
    }

    #[test]
    fn escapes_work_inside_double_quotes() {
        assert_eq!(split(r#""a\"b" "c\\d" "\x41""#), ["a\"b", "c\\d", "A"]);
    }

    #[test]
    fn adjacent_pieces_join() {
        assert_eq!(split(r#"a"b c"'d e'f"#), ["ab cd ef"]);
        assert_eq!(split(r#""" x"#), ["", "x"]);
    }

    #[test]
    fn variables_expand_only_inside_double_quotes() {
        assert_eq!(
            split(r#"bind "*:$PORT" $PORT '$PORT'"#),
            ["bind", "*:8080", "$PORT", "$PORT"]
        );
        assert_eq!(split(r#""${HOME}/x""#), ["/home/op/x"]);
    }

    #[test]
    fn variable_defaults_apply_only_when_unset() {
        assert_eq!(split(r#""${NOPE-9000}""#), ["9000"]);
        assert_eq!(split(r#""${PORT-9000}""#), ["8080"]);
        assert_eq!(split(r#""${EMPTY-9000}""#), [""]);
    }

    #[test]
    fn unset_variable_expands_to_nothing() {
        assert_eq!(split(r#""a${NOPE}b" "$NOPE""#), ["ab", ""]);
    }

    #[test]
    fn lone_dollar_is_kept() {
        assert_eq!(split(r#""cost $ 5" "$""#), ["cost $ 5", "$"]);
    }

    #[test]
    fn variable_name_stops_at_non_word_char() {
        assert_eq!(split(r#""$PORT.x""#), ["8080.x"]);
    }

    #[test]
    fn unterminated_braced_variable_is_an_error() {
        assert_eq!(
            split_line(r#"x "${PORT""#, env),
            Err(LexError::UnterminatedVar(4))
        );
    }

    #[test]
    fn unmatched_quote_reports_its_position() {
        assert_eq!(
            split_line(r#"bind "127.0.0.1:80"#, env),
            Err(LexError::UnmatchedQuote(6))
        );
        assert_eq!(split_line("a 'b", env), Err(LexError::UnmatchedQuote(3)));
        assert_eq!(
            LexError::UnmatchedQuote(6).to_string(),
            "unmatched quote at position 6"
        );
    }

    #[test]
    fn no_line_continuation() {
        assert_eq!(split(r"server s1 \"), ["server", "s1", "\\"]);
    }

    #[test]
    fn quote_inside_other_quote_is_literal() {
        assert_eq!(split(r#""it's" 'say "hi"'"#), ["it's", r#"say "hi""#]);
    }
}
