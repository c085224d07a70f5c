//! The runtime socket's `crt-list` commands, as HAProxy 2.6 has them: `show ssl
//! crt-list [-n] [FILE]`, `add ssl crt-list FILE CERT` or `add ssl crt-list FILE <<`
//! + one crt-list line, `del ssl crt-list FILE CERT[:LINE]`.
//!
//! A crt-list is a file named by a bind's `crt-list`; its lines are the entries of
//! the certificate stores of the binds using it. An added line takes a certificate
//! the runtime already has (a bind's, or one made with `new ssl cert` + `commit ssl
//! cert`): no file is read at run time, so a `ca-file`/`ca-verify-file`/`crl-file`
//! no configuration loaded is refused, as HAProxy does. A reload reads the files
//! again and forgets the changes.

use crate::config::model::{CertSource, StatsLevel};
use crate::graph::Graph;
use crate::tls::server::{BindTls, CertStore, Entry, ListLine};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The options `show ssl crt-list` prints, in HAProxy's order; the ones taking a
/// value.
const ORDER: &[(&str, bool)] = &[
    ("npn", true),
    ("alpn", true),
    ("verify", true),
    ("no-ca-names", false),
    ("allow-0rtt", false),
    ("ca-file", true),
    ("ca-verify-file", true),
    ("crl-file", true),
    ("ciphers", true),
    ("ciphersuites", true),
    ("curves", true),
    ("ecdhe", true),
    ("ssl-min-ver", true),
    ("ssl-max-ver", true),
];

/// The binds (with their bind options) using crt-list `file`, in configuration order.
fn users<'a>(
    g: &'a Graph,
    file: &Path,
) -> Vec<(&'a Arc<BindTls>, &'a crate::config::model::SslOpts)> {
    let mut out = Vec::new();
    for (pi, p) in g.config.proxies.iter().enumerate() {
        for (bi, b) in p.binds.iter().enumerate() {
            let Some(ssl) = &b.ssl else { continue };
            let uses = ssl
                .certs
                .iter()
                .any(|c| matches!(c, CertSource::List(f, _) if f == file));
            if let (true, Some(t)) = (uses, g.tls.get(&(pi, bi))) {
                out.push((t, &ssl.opts));
            }
        }
    }
    out
}

/// Every crt-list file of the configuration, sorted.
fn lists(g: &Graph) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = g
        .config
        .proxies
        .iter()
        .flat_map(|p| &p.binds)
        .filter_map(|b| b.ssl.as_ref())
        .flat_map(|s| &s.certs)
        .filter_map(|c| match c {
            CertSource::List(f, _) => Some(f.clone()),
            CertSource::Crt(_) => None,
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// A path without its trailing slashes, as HAProxy looks crt-lists up.
fn strip(f: &str) -> &str {
    let t = f.trim_end_matches('/');
    if t.is_empty() {
        f
    } else {
        t
    }
}

/// The entries of crt-list `file` in the first bind using it (every bind holds the
/// same lines), deduplicated by line (a directory line gives several entries).
fn lines(g: &Graph, file: &Path) -> Vec<Entry> {
    let Some((b, _)) = users(g, file).into_iter().next() else {
        return Vec::new();
    };
    let store = b.resolver.store.load();
    let mut out: Vec<Entry> = Vec::new();
    for e in &store.entries {
        let Some(l) = &e.list else { continue };
        if l.file == file
            && !out
                .iter()
                .any(|o| o.path == e.path && o.list.as_ref().is_some_and(|x| x.line == l.line))
        {
            out.push(e.clone());
        }
    }
    out
}

/// A crt-list line's options between brackets, in HAProxy's order.
fn options(words: &[String]) -> String {
    let mut pairs: Vec<(usize, String)> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = words[i].as_str();
        let (rank, takes) = ORDER
            .iter()
            .position(|(n, _)| *n == w)
            .map_or((ORDER.len(), false), |r| (r, ORDER[r].1));
        if takes && i + 1 < words.len() {
            pairs.push((rank, format!("{w} {}", words[i + 1])));
            i += 2;
        } else {
            pairs.push((rank, w.to_string()));
            i += 1;
        }
    }
    pairs.sort_by_key(|(r, _)| *r);
    let v: Vec<String> = pairs.into_iter().map(|(_, s)| s).collect();
    format!(" [{}]", v.join(" "))
}

/// Runs one `... ssl crt-list ...` command.
pub fn command(g: &Arc<Graph>, level: StatsLevel, words: &[&str], payload: Option<&str>) -> String {
    if level < StatsLevel::Admin {
        return "Permission denied\n".into();
    }
    match words[0] {
        "show" => show(g, &words[3..]),
        "add" => add(g, words.get(3).copied(), words.get(4).copied(), payload),
        "del" => del(g, words.get(3).copied(), words.get(4).copied()),
        _ => String::new(),
    }
}

fn show(g: &Graph, args: &[&str]) -> String {
    let (numbered, file) = match args {
        ["-n", f, ..] => (true, Some(*f)),
        ["-n"] => return "'show ssl crt-list -n' expects a filename or a directory\n".into(),
        [f, ..] => (false, Some(*f)),
        [] => (false, None),
    };
    let Some(file) = file else {
        return lists(g)
            .iter()
            .map(|f| format!("{}\n", f.display()))
            .collect();
    };
    let file = Path::new(strip(file));
    if !lists(g).iter().any(|f| f == file) {
        return "didn't find the specified filename\n".into();
    }
    let mut o = format!("# {}\n", file.display());
    for e in lines(g, file) {
        let Some(l) = &e.list else { continue };
        o.push_str(&e.path.display().to_string());
        if numbered {
            o.push_str(&format!(":{}", l.line));
        }
        if !l.words.is_empty() {
            o.push_str(&options(&l.words));
        }
        for f in &l.filters {
            o.push(' ');
            o.push_str(f);
        }
        o.push('\n');
    }
    o
}

fn add(g: &Arc<Graph>, file: Option<&str>, cert: Option<&str>, payload: Option<&str>) -> String {
    let (Some(file), true) = (file, payload.is_some() || cert.is_some()) else {
        return "'add ssl crtlist' expects a filename and a certificate name\n".into();
    };
    let fail = |why: String| format!("Can't edit the crt-list: {why}\n");
    let file = PathBuf::from(strip(file));
    let users = users(g, &file);
    if users.is_empty() {
        return fail(format!("crt-list '{}' does not exist!", file.display()));
    }
    let global = &g.config.global;
    let line = match payload {
        Some(p) => {
            let p = p.trim_end_matches('\n');
            if p.contains('\n') {
                return fail("only one line of payload is supported!".into());
            }
            match crate::config::parse::crt_list_line(global, p) {
                Ok(Some(l)) => l,
                Ok(None) => {
                    return fail(
                        "'add ssl crtlist' should contain the certificate name in the payload"
                            .into(),
                    )
                }
                Err(e) => return fail(e),
            }
        }
        None => match crate::config::parse::crt_list_line(global, cert.unwrap_or_default()) {
            Ok(Some(l)) => l,
            Ok(None) | Err(_) => return fail("'add ssl crtlist' expects a certificate".into()),
        },
    };
    let path = line.path.display().to_string();
    let cert = match super::certs::stored(g, &path) {
        None => return fail(format!("certificate '{path}' does not exist!")),
        Some(None) => return fail(format!("certificate '{path}' is empty!")),
        Some(Some(c)) => c,
    };
    // No file is read at run time: the CA and CRL files must be known already.
    if let Some(o) = &line.opts {
        // Those of the configuration, or made by `new ssl ca-file`/`crl-file`.
        let loaded = |p: &Path| g.trust_files.exists(&p.display().to_string());
        for (kw, f) in [
            ("ca-file", &o.ca_file),
            ("ca-verify-file", &o.ca_verify_file),
            ("crl-file", &o.crl_file),
        ] {
            if let Some(f) = f.as_deref().filter(|f| !loaded(f)) {
                return fail(format!(
                    "parsing [CLI:1] : '{kw}' : unable to load {}",
                    f.display()
                ));
            }
        }
    }
    let number = lines(g, &file)
        .iter()
        .filter_map(|e| e.list.as_ref().map(|l| l.line))
        .max()
        .unwrap_or(0)
        + 1;
    let origin = Arc::new(ListLine {
        file: file.clone(),
        line: number,
        words: line.words.clone(),
        filters: line.filters.clone(),
    });
    let (neg, pos): (Vec<&String>, Vec<&String>) =
        line.filters.iter().partition(|f| f.starts_with('!'));
    let names: Vec<String> = if pos.is_empty() {
        crate::tls::cert_names(&cert.cert[0])
    } else {
        pos.iter().map(|s| s.to_string()).collect()
    };
    let (exact, wild) = names
        .iter()
        .map(|n| n.to_ascii_lowercase())
        .partition(|n| !n.starts_with("*."));
    let mut dots = 0;
    for (b, bind_opts) in &users {
        let opts = match &line.opts {
            Some(o) => o.over(bind_opts),
            None => (*bind_opts).clone(),
        };
        let config = match b.set_for(&opts) {
            Ok(i) => i,
            Err(e) => return format!("\n{e}\nFailed!\n"),
        };
        let cur = b.resolver.store.load();
        let mut entries = cur.entries.clone();
        entries.push(Entry {
            cert: cert.clone(),
            path: line.path.clone(),
            exact: Vec::clone(&exact),
            wild: Vec::clone(&wild),
            negated: neg.iter().map(|f| f[1..].to_string()).collect(),
            filtered: !pos.is_empty(),
            config,
            list: Some(origin.clone()),
        });
        b.resolver.store.store(Arc::new(CertStore {
            entries,
            strict: cur.strict,
        }));
        dots += 1;
    }
    format!(
        "Inserting certificate '{path}' in crt-list '{}'{}\nSuccess!\n",
        file.display(),
        ".".repeat(dots)
    )
}

fn del(g: &Graph, file: Option<&str>, cert: Option<&str>) -> String {
    let (Some(file), Some(cert)) = (file, cert) else {
        return "'del ssl crtlist' expects a filename and a certificate name\n".into();
    };
    let fail = |why: String| format!("Can't delete the entry: {why}\n");
    let (cert, number) = match cert.split_once(':') {
        Some((c, n)) => match n.parse::<u32>() {
            Ok(n) => (c, Some(n)),
            Err(_) => return fail(format!("wrong line number after colons in '{cert}'!")),
        },
        None => (cert, None),
    };
    let file = PathBuf::from(strip(file));
    let users = users(g, &file);
    if users.is_empty() {
        return fail(format!("crt-list '{}' does not exist!", file.display()));
    }
    let found: Vec<u32> = lines(g, &file)
        .iter()
        .filter(|e| e.path == Path::new(cert))
        .filter_map(|e| e.list.as_ref().map(|l| l.line))
        .collect();
    if found.is_empty() {
        return fail(format!(
            "certificate '{cert}' can't be found in crt-list '{}'!",
            file.display()
        ));
    }
    let all = found
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let line = match number {
        Some(n) if found.contains(&n) => n,
        Some(_) => return fail(format!(
            "found a certificate '{cert}' but the line number is incorrect, please specify a correct line number preceded by colons ({all})!"
        )),
        None if found.len() > 1 => return fail(format!(
            "found the certificate '{cert}' in several entries, please specify a line number preceded by colons ({all})!"
        )),
        None => found[0],
    };
    let is_it = |e: &Entry| {
        e.path == Path::new(cert)
            && e.list
                .as_ref()
                .is_some_and(|l| l.file == file && l.line == line)
    };
    // The default certificate (the first) of a bind without strict-sni stays.
    let defaults: Vec<String> = users
        .iter()
        .filter(|(b, _)| {
            let s = b.resolver.store.load();
            !s.strict && s.entries.first().is_some_and(is_it)
        })
        .map(|(b, _)| format!("\t- {}:{}\n", b.loc.file, b.loc.line))
        .collect();
    if !defaults.is_empty() {
        return fail(format!(
            "certificate '{cert}' cannot be deleted, it is used as default certificate by the following frontends:\n{}",
            defaults.concat()
        ));
    }
    for (b, _) in &users {
        let cur = b.resolver.store.load();
        let entries = cur.entries.iter().filter(|e| !is_it(e)).cloned().collect();
        b.resolver.store.store(Arc::new(CertStore {
            entries,
            strict: cur.strict,
        }));
    }
    format!("Entry '{cert}' deleted in crtlist '{}'!\n", file.display())
}
