//! The `json_query(PATH[,int])` converter: a value out of a JSON text by a JSON path
//! (`$`, `.key`, `['key']`, `[N]`; `\.` is a dot inside a key), as HAProxy's (mjson's).

use super::expr::Arg;
use super::{Env, Value};
use serde_json::Value as J;
use std::borrow::Cow;

/// Load-time check: the output type can only be `int`, the path must start with `$`.
pub fn check(_: &str, args: &mut [Arg]) -> Result<(), String> {
    if let Some(t) = args.get(1).map(Arg::text).filter(|t| !t.is_empty()) {
        if t != "int" {
            return Err("output_type only supports \"int\" as argument".into());
        }
    }
    path(args[0].text()).map(|_| ())
}

/// One step of a path.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

fn path(p: &str) -> Result<Vec<Step>, String> {
    let bad = || format!("invalid json path '{p}'");
    let rest = p.strip_prefix('$').ok_or_else(bad)?;
    let b: Vec<char> = rest.chars().collect();
    let mut steps = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            '.' => {
                let mut key = String::new();
                i += 1;
                while i < b.len() && b[i] != '.' && b[i] != '[' {
                    if b[i] == '\\' && i + 1 < b.len() {
                        i += 1;
                    }
                    key.push(b[i]);
                    i += 1;
                }
                if key.is_empty() {
                    return Err(bad());
                }
                steps.push(Step::Key(key));
            }
            '[' => {
                let end = b[i..].iter().position(|&c| c == ']').ok_or_else(bad)? + i;
                let inner: String = b[i + 1..end].iter().collect();
                let quoted = inner
                    .strip_prefix('\'')
                    .and_then(|s| s.strip_suffix('\''))
                    .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
                steps.push(match quoted {
                    Some(k) => Step::Key(k.to_string()),
                    None => Step::Index(inner.trim().parse().map_err(|_| bad())?),
                });
                i = end + 1;
            }
            _ => return Err(bad()),
        }
    }
    Ok(steps)
}

/// The converter: a string, an integer (`int`, or an integral number with it), a
/// boolean; a number without `int` is its text; an object or array its JSON text;
/// `null`, a missing path or a text that is not JSON give nothing.
pub fn json_query<'a>(a: &'a [Arg], v: Value<'a>, _: &Env<'a>) -> Option<Value<'a>> {
    let steps = path(a.first()?.text()).ok()?;
    let want_int = a.get(1).is_some_and(|t| t.text() == "int");
    let doc: J = serde_json::from_slice(&v.into_bytes()).ok()?;
    let mut cur = &doc;
    for s in &steps {
        cur = match s {
            Step::Key(k) => cur.as_object()?.get(k)?,
            Step::Index(n) => cur.as_array()?.get(*n)?,
        };
    }
    Some(match cur {
        J::String(s) if want_int => Value::Int(s.parse().ok()?),
        J::String(s) => Value::Str(Cow::Owned(s.clone().into_bytes())),
        J::Number(n) if want_int => Value::Int(n.as_i64()?),
        J::Number(n) => Value::string(n.to_string()),
        J::Bool(b) => Value::Bool(*b),
        J::Null => return None,
        other => Value::string(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_as_mjson_reads_them() {
        assert_eq!(
            path("$.a.b[2]['c.d']").unwrap(),
            vec![
                Step::Key("a".into()),
                Step::Key("b".into()),
                Step::Index(2),
                Step::Key("c.d".into())
            ]
        );
        assert_eq!(
            path("$.my\\.key").unwrap(),
            vec![Step::Key("my.key".into())]
        );
        assert!(path("a.b").is_err());
        assert!(path("$.").is_err());
    }
}
