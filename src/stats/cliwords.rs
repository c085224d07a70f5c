//! How HAProxy's CLI reads a line: commands separated by `;`, words by blanks, and a
//! backslash escaping the next character (`Mon\ User\ Agent\;` is one word,
//! `Mon User Agent;`).

/// Splits a line into its commands at each `;` not escaped by a backslash (escapes are
/// kept, for [`words`]).
pub fn commands(line: &str) -> Vec<&str> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b';' => {
                out.push(&line[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&line[start..]);
    out
}

/// Splits a command into words at spaces and tabs; a backslash makes the next
/// character part of the word (`\\` is a backslash).
pub fn words(cmd: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    let mut chars = cmd.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if let Some(w) = cur.take() {
                    out.push(w);
                }
            }
            '\\' => {
                let w = cur.get_or_insert_with(String::new);
                if let Some(n) = chars.next() {
                    w.push(n);
                }
            }
            c => cur.get_or_insert_with(String::new).push(c),
        }
    }
    out.extend(cur);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(
            commands(r"add acl f Mon\ User\ Agent\;;show acl f"),
            [r"add acl f Mon\ User\ Agent\;", "show acl f"]
        );
        assert_eq!(
            words(r"add acl  f Mon\ User\ Agent\;"),
            ["add", "acl", "f", "Mon User Agent;"]
        );
        assert_eq!(words(r"a\\b c\"), [r"a\b", "c"]);
        assert_eq!(commands("show info"), ["show info"]);
        assert!(words("  ").is_empty());
    }
}
