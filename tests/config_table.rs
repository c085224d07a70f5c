//! The keyword tables against the parser and the README: every keyword a table declares
//! parses as that table says (supported, refused, ignored, removed), a made-up one is an
//! unknown keyword, every supported keyword has a row in the README section its entry
//! names (with the same proxy kinds), every README row names a keyword of the table,
//! and every known but unsupported keyword is listed under "Known but unsupported
//! keywords", in the right list; and the other way round, every word of those lists
//! (table keywords, tcp actions, fetches, other directives, sections) is one the parser
//! refuses or ignores, and the code refuses nothing the lists leave out.

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

/// One list of "Known but unsupported keywords": whether it is under ALERT (refused) or
/// WARNING (ignored), its label (the bullet's text up to its first `:`) and its words
/// (the backticked spans). Parenthesized text is a remark: neither label nor words.
struct List {
    alert: bool,
    label: String,
    words: Vec<String>,
}

/// `text` without its parenthesized parts (backticked parentheses are text).
fn without_remarks(text: &str) -> String {
    let (mut out, mut depth, mut code) = (String::new(), 0usize, false);
    for c in text.chars() {
        match c {
            '`' => code = !code,
            '(' if !code => depth += 1,
            ')' if !code && depth > 0 => {
                depth -= 1;
                continue;
            }
            _ => {}
        }
        if depth == 0 {
            out.push(c);
        }
    }
    out
}

fn known_lists() -> Vec<List> {
    let text = readme();
    let secs = sections(&text);
    let known = &secs[keywords::KNOWN_DOC];
    let (alert, warning) = known
        .split_once("**WARNING: ignored**")
        .expect("the WARNING list");
    let mut lists = Vec::new();
    for (is_alert, part) in [(true, alert), (false, warning)] {
        for b in bullets(part) {
            let b = without_remarks(&b);
            let (label, items) = b.split_once(':').unwrap_or((b.as_str(), ""));
            lists.push(List {
                alert: is_alert,
                label: label.trim().to_string(),
                words: spans(items).iter().map(|s| s.to_string()).collect(),
            });
        }
    }
    lists
}

/// The table behind a README list label.
fn table_of(label: &str) -> Option<&'static str> {
    Some(match label {
        "global" => "global",
        "proxy" => "proxy",
        "options" => "option",
        "server parameters" => "server",
        "bind parameters" => "bind",
        "timeouts" => "timeout",
        "`http-request`/`http-response` actions" => "http-request",
        _ => return None,
    })
}

const REMOVED: &str = "removed from HAProxy itself";
const TCP_ACTIONS: &str = "`tcp-request`/`tcp-response` actions";
const FETCHES: &str = "fetches";
const OTHER: &str = "other directives";
const SECTIONS: &str = "sections";

#[test]
fn known_keywords_are_listed_as_refused_or_ignored() {
    let lists = known_lists();
    let mut problems = Vec::new();
    for r in rows().iter().filter(|r| r.class != Class::Supported) {
        assert_eq!(r.doc, keywords::KNOWN_DOC, "{} {}", r.section, r.name);
        let want = documented_name(r.name);
        let found = lists.iter().any(|l| {
            let right_list = match r.class {
                Class::Removed => l.alert && l.label == REMOVED,
                Class::Ignored => !l.alert && table_of(&l.label) == Some(r.section),
                _ => l.alert && table_of(&l.label) == Some(r.section),
            };
            right_list && l.words.iter().any(|w| w == want)
        });
        if !found {
            problems.push(format!(
                "{} `{want}` is {:?} but not in the README's matching list of \"Known but unsupported keywords\"",
                r.section, r.class
            ));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// The strings of a `const NAME: &[&str] = &[...]` in a source file: the lists of
/// refused names that have no public accessor.
fn source_list(file: &str, name: &str) -> Vec<String> {
    let path = format!("{}/{file}", env!("CARGO_MANIFEST_DIR"));
    let src = std::fs::read_to_string(&path).expect(file);
    let head = format!("const {name}: &[&str] = &[");
    let start = src
        .find(&head)
        .unwrap_or_else(|| panic!("{head} in {file}"))
        + head.len();
    let body = &src[start..start + src[start..].find("];").expect("the list's end")];
    let v: Vec<String> = body
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    assert!(!v.is_empty(), "{name} in {file} is empty");
    v
}

/// The settings the README's "other directives" lists name, each with the lines that
/// use it in a proxy (or a whole configuration, from `global`).
const OTHER_ALERTS: &[(&str, &str)] = &[
    ("mode health", "mode health"),
    ("balance rdp-cookie", "balance rdp-cookie"),
    ("balance hash", "balance hash"),
    ("balance sticky", "balance sticky"),
    ("balance log-hash", "balance log-hash"),
    ("balance log-sticky", "balance log-sticky"),
    (
        "balance url_param NAME OPTION",
        "balance url_param p check_post",
    ),
    ("cookie ... dynamic", "cookie C insert dynamic"),
    ("capture cookie", "capture cookie c len 10"),
    (
        "stick-table ... srvkey",
        "stick-table type ip size 1 srvkey name",
    ),
    (
        "stick-table ... write-to",
        "stick-table type ip size 1 write-to t",
    ),
    (
        "stick-table ... recv-only",
        "stick-table type ip size 1 recv-only",
    ),
    (
        "stats http-request",
        "stats enable\n    stats http-request deny",
    ),
    (
        "tcp-check connect proto",
        "option tcp-check\n    tcp-check connect proto h2",
    ),
    (
        "tcp-check connect via-socks4",
        "option tcp-check\n    tcp-check connect via-socks4",
    ),
    (
        "tcp-check connect port EXPR",
        "option tcp-check\n    tcp-check connect port hdr(x)",
    ),
    (
        "http-check connect proto",
        "option httpchk\n    http-check connect proto h2",
    ),
    (
        "server ... proxy-v2-options ssl",
        "server s 127.0.0.1:80 proxy-v2-options ssl",
    ),
    ("log tcp@...", "log tcp@127.0.0.1:514 local0"),
];

const OTHER_WARNINGS: &[(&str, &str)] = &[
    ("log ring@...", "log ring@r local0"),
    (
        "log ... format NAME",
        "log 127.0.0.1:514 format rfc5424 local0",
    ),
    ("stats timeout", "stats timeout 1s"),
    ("stats maxconn", "stats maxconn 1"),
    ("stats bind-process", "stats bind-process 1"),
    ("stats hide-version", "stats hide-version"),
    ("stats show-node", "stats show-node"),
    ("stats show-legends", "stats show-legends"),
    ("stats show-desc", "stats show-desc d"),
    ("stats show-modules", "stats show-modules"),
    ("stats scope", "stats scope x"),
    ("bind ... maxconn N", "bind 127.0.0.1:8001 maxconn 1"),
    ("option http-tunnel", "option http-tunnel"),
];

fn in_a_proxy(lines: &str) -> String {
    format!(
        "defaults\n    mode http\n    timeout client 1s\n    timeout server 1s\n    timeout connect 1s\nlisten l\n    bind 127.0.0.1:8000\n    {lines}\n"
    )
}

/// The messages of `text` at `level`.
fn messages(text: &str, level: Level) -> Vec<String> {
    parse_str("known.cfg", text)
        .diags
        .into_iter()
        .filter(|d| d.level == level)
        .map(|d| d.msg)
        .collect()
}

/// Compares a README list with the code's, both ways.
fn same_set(what: &str, readme: &[String], code: &[String], problems: &mut Vec<String>) {
    for w in readme.iter().filter(|w| !code.contains(w)) {
        problems.push(format!(
            "README lists {what} `{w}`, which the code does not refuse"
        ));
    }
    for w in code.iter().filter(|w| !readme.contains(w)) {
        problems.push(format!(
            "the code refuses {what} `{w}`, which the README does not list"
        ));
    }
}

#[test]
fn every_word_of_the_unsupported_lists_is_refused_or_ignored_by_the_parser() {
    let all = rows();
    let mut problems = Vec::new();
    let mut seen = Vec::new();
    for l in known_lists() {
        seen.push((l.alert, l.label.clone()));
        if let Some(section) = table_of(&l.label) {
            let class = if l.alert {
                Class::Unsupported
            } else {
                Class::Ignored
            };
            for w in &l.words {
                let classes: Vec<Class> = all
                    .iter()
                    .filter(|r| r.section == section && r.name == w.as_str())
                    .map(|r| r.class)
                    .collect();
                if !classes.contains(&class) {
                    problems.push(format!(
                        "README lists {section} `{w}` as {class:?}, the table says {classes:?}"
                    ));
                }
            }
            continue;
        }
        match (l.alert, l.label.as_str()) {
            (true, REMOVED) => {
                for w in &l.words {
                    if !all
                        .iter()
                        .any(|r| r.name == w.as_str() && r.class == Class::Removed)
                    {
                        problems.push(format!("README lists `{w}` as removed, no table does"));
                    }
                }
            }
            (true, TCP_ACTIONS) => {
                let mut code = source_list("src/config/parse/tcp_rules.rs", "KNOWN");
                code.push("lua.*".into());
                same_set("the tcp action", &l.words, &code, &mut problems);
                for w in &l.words {
                    let word = w.replace('*', "x");
                    let text = format!("frontend f\n    tcp-request content {word}\n");
                    let want = format!("'tcp-request content {word}' is not supported by lbd.");
                    if !messages(&text, Level::Alert).contains(&want) {
                        problems.push(format!("tcp action `{w}` is not refused as unsupported"));
                    }
                }
            }
            (true, FETCHES) => {
                let mut code: Vec<String> = lbd::sample::hint::UNSUPPORTED
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                for p in source_list("src/sample/hint.rs", "UNSUPPORTED_PREFIXES") {
                    code.push(match p.strip_suffix('.') {
                        Some(p) => format!("{p}.*"),
                        None => format!("{p}*"),
                    });
                }
                same_set("the fetch", &l.words, &code, &mut problems);
                for w in &l.words {
                    let name = w.replace('*', "unknown_zz");
                    match lbd::sample::expr::Expr::parse(&name) {
                        Err(e) if e == format!("fetch method '{name}' is not supported by lbd") => {
                        }
                        other => problems.push(format!("fetch `{w}`: {:?}", other.err())),
                    }
                }
            }
            (alert, OTHER) => {
                let fixtures = if alert { OTHER_ALERTS } else { OTHER_WARNINGS };
                let code: Vec<String> = fixtures.iter().map(|f| f.0.to_string()).collect();
                same_set("the directive", &l.words, &code, &mut problems);
                for (w, lines) in fixtures {
                    let level = if alert { Level::Alert } else { Level::Warning };
                    let msgs = messages(&in_a_proxy(lines), level);
                    let ok = msgs.iter().any(|m| {
                        m.contains("not supported by lbd") || (!alert && m.contains("ignored"))
                    });
                    if !ok {
                        problems.push(format!("`{w}` ({lines}) gave {level:?}s {msgs:?}"));
                    }
                }
            }
            (false, SECTIONS) => {
                let code: Vec<String> = keywords::OTHER_SECTIONS
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                same_set("the section", &l.words, &code, &mut problems);
                for w in &l.words {
                    let want =
                        format!("'{w}' sections are not supported by lbd; section 'x' is ignored.");
                    if !messages(&format!("{w} x\n"), Level::Warning).contains(&want) {
                        problems.push(format!("section `{w}` is not ignored with a warning"));
                    }
                }
            }
            (alert, label) => problems.push(format!(
                "README list '{label}' ({}) has no check here",
                if alert { "ALERT" } else { "WARNING" }
            )),
        }
    }
    // Every list the code has is in the README.
    for want in [
        (true, REMOVED),
        (true, TCP_ACTIONS),
        (true, FETCHES),
        (true, OTHER),
        (false, OTHER),
        (false, SECTIONS),
    ] {
        if !seen.iter().any(|(a, l)| *a == want.0 && l == want.1) {
            problems.push(format!("the README has no list '{}'", want.1));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn remarks_are_neither_labels_nor_words() {
    assert_eq!(
        without_remarks("a (`b`, c) `d` (e (f)) `g(h)`"),
        "a  `d`  `g(h)`"
    );
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
