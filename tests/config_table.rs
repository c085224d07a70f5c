//! The keyword tables against the parser and the README: every keyword a table declares
//! parses as that table says (supported, refused, ignored, removed), a made-up one is an
//! unknown keyword, every supported keyword has a row in the README section its entry
//! names (with the same proxy kinds), every README row names a keyword of the table,
//! and every known but unsupported keyword is listed under "Known but unsupported
//! keywords", in the right list.

use lbd::config::keywords::{self, Class, Row};
use lbd::config::{parse_str, Level};
use std::collections::HashMap;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README.md")
}

/// GitHub's anchor for a heading: `### \`global\` keywords` -> `global-keywords`.
fn anchor(heading: &str) -> String {
    heading
        .trim_start_matches('#')
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The README's sections by anchor (each heading's text up to the next heading).
fn sections(text: &str) -> HashMap<String, String> {
    let mut map = HashMap::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        if line.starts_with('#') {
            if let Some((a, body)) = current.take() {
                map.insert(a, body);
            }
            current = Some((anchor(line), String::new()));
        } else if let Some((_, body)) = current.as_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    if let Some((a, body)) = current {
        map.insert(a, body);
    }
    map
}

/// The cells of a table row (`\|` inside a cell is not a separator).
fn cells(line: &str) -> Vec<String> {
    line.replace("\\|", "\u{0}")
        .trim()
        .trim_matches('|')
        .split('|')
        .map(|c| c.replace('\u{0}', "|").trim().to_string())
        .collect()
}

/// The backticked spans of a text.
fn spans(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// The table rows of a section.
fn table_rows(section: &str) -> Vec<Vec<String>> {
    section
        .lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("|---"))
        .skip(1)
        .map(cells)
        .collect()
}

/// The keyword a span in a row's first cell documents: its first word, without the
/// argument of a call form (`set-var(SCOPE.NAME)` documents `set-var`).
fn first_word(span: &str) -> &str {
    let w = span.split_whitespace().next().unwrap_or("");
    match w.find('(') {
        Some(i) if w.ends_with(')') => &w[..i],
        _ => w,
    }
}

/// `lua.*` stays as is; `set-var(*` (a call form) is documented as `set-var`.
fn documented_name(name: &str) -> &str {
    name.strip_suffix("(*").unwrap_or(name)
}

fn rows() -> Vec<Row> {
    keywords::all()
}

#[test]
fn supported_keywords_have_a_readme_row_with_their_proxy_kinds() {
    let text = readme();
    let secs = sections(&text);
    let mut problems = Vec::new();
    for r in rows().iter().filter(|r| r.class == Class::Supported) {
        let Some(sec) = secs.get(r.doc) else {
            problems.push(format!(
                "{} {}: no README section '#{}'",
                r.section, r.name, r.doc
            ));
            continue;
        };
        let row = table_rows(sec).into_iter().find(|cells| {
            spans(&cells[0])
                .iter()
                .any(|s| first_word(s) == documented_name(r.name))
        });
        let Some(row) = row else {
            problems.push(format!(
                "{} '{}': no table row in README section '#{}' documents it",
                r.section, r.name, r.doc
            ));
            continue;
        };
        // The proxy, option and timeout tables have a sections column (`d f b l`).
        if matches!(r.section, "proxy" | "option" | "timeout") {
            let col = row.get(1).map(String::as_str).unwrap_or("");
            if !col.is_empty() && !col.starts_with("see") && col != r.caps.letters() {
                problems.push(format!(
                    "{} '{}': README says sections '{col}', the table '{}'",
                    r.section,
                    r.name,
                    r.caps.letters()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn every_readme_row_names_a_supported_keyword() {
    let text = readme();
    let secs = sections(&text);
    let all = rows();
    let mut problems = Vec::new();
    let docs: Vec<(&str, &str)> = {
        let mut v: Vec<(&str, &str)> = all
            .iter()
            .filter(|r| r.class == Class::Supported)
            .map(|r| (r.section, r.doc))
            .collect();
        v.sort();
        v.dedup();
        v
    };
    for (section, doc) in docs {
        for cells in table_rows(&secs[doc]) {
            for span in spans(&cells[0]) {
                let word = first_word(span);
                let known = all.iter().any(|r| {
                    r.section == section
                        && documented_name(r.name) == word
                        && r.class == Class::Supported
                });
                if !known {
                    problems.push(format!(
                        "README '#{doc}' documents `{span}` but the {section} table has no supported '{word}'"
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// The bullets of a list: `- label: items...`, continuation lines joined.
fn bullets(text: &str) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for line in text.lines() {
        if let Some(b) = line.strip_prefix("- ") {
            v.push(b.to_string());
        } else if line.starts_with("  ") {
            if let Some(last) = v.last_mut() {
                last.push(' ');
                last.push_str(line.trim());
            }
        }
    }
    v
}

#[test]
fn known_keywords_are_listed_as_refused_or_ignored() {
    let text = readme();
    let secs = sections(&text);
    let known = &secs[keywords::KNOWN_DOC];
    let (alert, warning) = known
        .split_once("**WARNING: ignored**")
        .expect("the WARNING list");
    let (alert, warning) = (bullets(alert), bullets(warning));
    let mut problems = Vec::new();
    for r in rows().iter().filter(|r| r.class != Class::Supported) {
        assert_eq!(r.doc, keywords::KNOWN_DOC, "{} {}", r.section, r.name);
        let label = match (r.class, r.section) {
            (Class::Removed, _) => "removed from HAProxy itself",
            (_, "global") => "global:",
            (_, "proxy") => "proxy:",
            (_, "option") => "options:",
            (_, "server") => "server parameters:",
            (_, "bind") => "bind parameters:",
            (_, "timeout") => "timeouts:",
            (_, "http-request") => "`http-request`/`http-response` actions:",
            (_, s) => panic!("no README list for the {s} table"),
        };
        let (list, which) = match r.class {
            Class::Ignored => (&warning, "WARNING"),
            _ => (&alert, "ALERT"),
        };
        let want = format!("`{}`", documented_name(r.name));
        let found = list
            .iter()
            .any(|b| b.starts_with(label) && b.contains(&want));
        if !found {
            problems.push(format!(
                "{} {want} is {:?} but not in the README's {which} list '- {label}'",
                r.section, r.class
            ));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// A config line that uses `word` as a keyword of `r.section`'s table.
fn config(section: &str, word: &str, request: bool) -> String {
    match section {
        "global" => format!("global\n    {word} 1\n"),
        "proxy" => format!("listen l\n    {word} 1\n"),
        "option" => format!("listen l\n    option {word}\n"),
        "server" => format!("backend b\n    server s 127.0.0.1:80 {word} 1\n"),
        "bind" => format!("frontend f\n    bind 127.0.0.1:8080 {word} 1\n"),
        "timeout" => format!("defaults\n    timeout {word} 1s\n"),
        "http-request" if request => format!("frontend f\n    http-request {word} x\n"),
        "http-request" => format!("frontend f\n    http-response {word} x\n"),
        "http-errors" => format!("http-errors e\n    {word} 1\n"),
        "userlist" => format!("userlist u\n    {word} 1\n"),
        s => panic!("no config for the {s} table"),
    }
}

/// The parser's words for an unknown keyword of each table.
fn is_unknown(section: &str, word: &str, msg: &str) -> bool {
    match section {
        "option" => msg.starts_with(&format!("unknown option '{word}'")),
        "timeout" => msg.starts_with("'timeout' supports"),
        "http-request" => msg.contains(&format!("unknown action '{word}'")),
        _ => msg.contains(&format!("unknown keyword '{word}'")),
    }
}

#[test]
fn every_table_keyword_parses_as_its_class_says_and_a_made_up_one_is_unknown() {
    let mut problems = Vec::new();
    for r in rows() {
        let word = match r.name.strip_suffix('*') {
            Some(prefix) => format!("{prefix}x"),
            None => r.name.to_string(),
        };
        let text = config(r.section, &word, r.caps.request());
        let diags = parse_str("table.cfg", &text).diags;
        let has = |level: Level, f: &dyn Fn(&str) -> bool| {
            diags.iter().any(|d| d.level == level && f(&d.msg))
        };
        if diags.iter().any(|d| is_unknown(r.section, &word, &d.msg)) {
            problems.push(format!(
                "{} '{word}' is in the table but unknown to the parser",
                r.section
            ));
            continue;
        }
        let ok = match r.class {
            Class::Supported => !has(Level::Alert, &|m| m.contains("is not supported by lbd.")),
            Class::Unsupported => has(Level::Alert, &|m| m.ends_with("is not supported by lbd.")),
            Class::Ignored => has(Level::Warning, &|m| {
                m.ends_with("is not supported by lbd and is ignored.")
            }),
            Class::Removed => has(Level::Alert, &|m| m.starts_with(&format!("'{word}' : "))),
        };
        if !ok {
            problems.push(format!(
                "{} '{word}' ({:?}) gave {:?}",
                r.section,
                r.class,
                diags.iter().map(|d| &d.msg).collect::<Vec<_>>()
            ));
        }
    }
    let mut sections: Vec<&str> = rows().iter().map(|r| r.section).collect();
    sections.dedup();
    for section in sections {
        for request in [true, false] {
            let word = "frobnicate-xyz";
            let diags = parse_str("table.cfg", &config(section, word, request)).diags;
            if !diags
                .iter()
                .any(|d| d.level == Level::Alert && is_unknown(section, word, &d.msg))
            {
                problems.push(format!(
                    "{section}: a made-up keyword is not unknown: {diags:?}"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn anchors_and_cells_read_the_readme_as_github_does() {
    assert_eq!(anchor("### `global` keywords"), "global-keywords");
    assert_eq!(
        anchor("### server and default-server parameters"),
        "server-and-default-server-parameters"
    );
    assert_eq!(
        cells("| `mode tcp\\|http` | d f b l | x |"),
        ["`mode tcp|http`", "d f b l", "x"]
    );
    assert_eq!(spans("`a b` / `c`"), ["a b", "c"]);
    assert_eq!(documented_name("set-var(*"), "set-var");
    assert_eq!(documented_name("lua.*"), "lua.*");
}
