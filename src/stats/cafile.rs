//! The runtime socket's CA and CRL file commands, as HAProxy 2.6 has them: `show ssl
//! ca-file [FILE[:INDEX]]`, `new ssl ca-file FILE`, `set ssl ca-file FILE <<` + PEM
//! payload (a transaction on `*FILE`), `commit ssl ca-file FILE`, `abort ssl ca-file
//! FILE`, `del ssl ca-file FILE`, and the same six for `crl-file`.
//!
//! The files are those of the running configuration ([`TrustFiles`]), shared by every
//! bind, crt-list line and server naming them. A commit swaps a file's content: the
//! next handshakes verify with it (the binds' configurations are rebuilt so their
//! certificate requests name the new CAs, and the servers' TLS sessions are dropped so
//! their next connection is verified again); established connections keep theirs.
//! Like a new HAProxy worker, a reload reads the files again and forgets the
//! transactions and the files created here.

use crate::config::model::{SslOpts, StatsLevel};
use crate::graph::Graph;
use crate::tls::cafile::{crl_detail, TrustFiles};
use crate::tls::pkix::{pem_certs, pem_crls, Crl};
use crate::tls::runtime::detail;
use rustls::pki_types::CertificateDer;
use std::path::Path;
use std::sync::{Arc, Mutex, Weak};

/// Which kind of file a command is about.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ca,
    Crl,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Ca => "ca-file",
            Kind::Crl => "crl-file",
        }
    }
    /// How messages name a file of this kind.
    fn label(self) -> &'static str {
        match self {
            Kind::Ca => "CA",
            Kind::Crl => "CRL",
        }
    }
}

/// The content of a file: certificates or CRLs.
#[derive(Clone)]
enum Content {
    Ca(Arc<Vec<CertificateDer<'static>>>),
    Crl(Arc<Vec<Crl>>),
}

impl Content {
    fn is_empty(&self) -> bool {
        match self {
            Content::Ca(c) => c.is_empty(),
            Content::Crl(c) => c.is_empty(),
        }
    }
}

/// An uncommitted `*FILE`.
struct Tx {
    path: String,
    new: Content,
}

/// What the commands keep between calls, for one configuration's files.
struct State {
    files: Weak<TrustFiles>,
    ca: Option<Tx>,
    crl: Option<Tx>,
}

impl State {
    fn tx(&mut self, k: Kind) -> &mut Option<Tx> {
        match k {
            Kind::Ca => &mut self.ca,
            Kind::Crl => &mut self.crl,
        }
    }
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

/// The current content of file `name` of kind `k`, if there is one.
fn current(files: &TrustFiles, k: Kind, name: &str) -> Option<Content> {
    match k {
        Kind::Ca => files
            .cas()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, f)| Content::Ca(f.certs.load_full())),
        Kind::Crl => files
            .crls()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, f)| Content::Crl(f.crls.load_full())),
    }
}

/// Whether TLS options name `name` as a file of kind `k`.
fn names(o: &SslOpts, k: Kind, name: &str) -> bool {
    let is = |p: &Option<std::path::PathBuf>| p.as_deref() == Some(Path::new(name));
    match k {
        Kind::Ca => is(&o.ca_file) || is(&o.ca_verify_file),
        Kind::Crl => is(&o.crl_file),
    }
}

/// The servers verifying with file `name`.
fn servers<'a>(
    g: &'a Graph,
    k: Kind,
    name: &'a str,
) -> impl Iterator<Item = &'a Arc<crate::backend::ServerRt>> {
    g.backends.iter().flat_map(|b| &b.servers).filter(move |s| {
        let t = &s.cfg.tls;
        let p = match k {
            Kind::Ca => &t.ca_file,
            Kind::Crl => &t.crl_file,
        };
        s.tls.is_some() && p.as_deref() == Some(Path::new(name))
    })
}

/// How many bind configurations (with a certificate using them) and servers verify
/// with file `name`.
fn uses(g: &Graph, k: Kind, name: &str) -> usize {
    let binds: usize = g
        .tls
        .values()
        .map(|b| {
            let sets = b.sets.load();
            let store = b.resolver.store.load();
            sets.iter()
                .enumerate()
                .filter(|(i, s)| {
                    names(&s.opts, k, name)
                        && (*i == 0 || store.entries.iter().any(|e| e.config == *i))
                })
                .count()
        })
        .sum();
    binds + servers(g, k, name).count()
}

/// Runs one `... ssl ca-file ...` or `... ssl crl-file ...` command.
pub fn command(g: &Arc<Graph>, level: StatsLevel, words: &[&str], payload: Option<&str>) -> String {
    if let Some(no) = super::certs::denied(level, words) {
        return no;
    }
    let k = if words.get(2) == Some(&"crl-file") {
        Kind::Crl
    } else {
        Kind::Ca
    };
    let files = &g.trust_files;
    let mut guard = STATE.lock().unwrap_or_else(|e| e.into_inner());
    let fresh = || State {
        files: Arc::downgrade(files),
        ca: None,
        crl: None,
    };
    let st = guard.get_or_insert_with(fresh);
    if !Weak::ptr_eq(&st.files, &Arc::downgrade(files)) {
        *st = fresh();
    }
    let file = words.get(3).copied().filter(|f| !f.is_empty());
    let (w, l) = (k.word(), k.label());
    match (words[0], file) {
        ("show", None) => show_list(files, st, k),
        ("show", Some(f)) => show(g, st, k, f),
        ("new", None) => format!("'new ssl {w}' expects a filename\n"),
        ("new", Some(f)) => {
            if files.exists(f) {
                return format!("{l} file '{f}' already exists!\n");
            }
            match k {
                Kind::Ca => files.add_ca(f),
                Kind::Crl => files.add_crl(f),
            }
            format!("New {l} file created '{f}'!\n")
        }
        ("set", f) => match (f, payload) {
            (Some(f), Some(p)) => set(files, st, k, f, p),
            _ => format!("'set ssl {w} expects a filename and CAs as a payload\n"),
        },
        ("commit", None) => "'commit ssl ca-file expects a filename\n".into(),
        ("commit", Some(f)) => commit(g, st, k, f),
        ("abort", None) => format!("'abort ssl {w}' expects a filename\n"),
        ("abort", Some(f)) => match st.tx(k) {
            None => "No ongoing transaction!\n".into(),
            Some(t) if t.path != f => format!(
                "The ongoing transaction is about '{}' but you are trying to abort a transaction for '{f}'\n",
                t.path
            ),
            tx => {
                *tx = None;
                format!("Transaction aborted for certificate '{f}'!\n")
            }
        },
        ("del", None) => format!("'del ssl {w}' expects a {l} file name\n"),
        ("del", Some(f)) => {
            let why = if k == Kind::Crl && current(files, Kind::Ca, f).is_some() {
                "'del ssl crl-file' does not work on CA files!\n".to_string()
            } else if current(files, k, f).is_none() {
                format!("{l} file '{f}' doesn't exist!\n")
            } else if uses(g, k, f) > 0 {
                format!("{l} file '{f}' in use, can't be deleted!\n")
            } else {
                match k {
                    Kind::Ca => files.remove_ca(f),
                    Kind::Crl => files.remove_crl(f),
                };
                return format!("{l} file '{f}' deleted!\n");
            };
            format!("Can't remove the {l} file: {why}\n")
        }
        _ => String::new(),
    }
}

/// ` - N certificate(s)` after a CA file's name (nothing for a CRL file).
fn count(c: &Content) -> String {
    match c {
        Content::Ca(c) => format!(" - {} certificate(s)", c.len()),
        Content::Crl(_) => String::new(),
    }
}

fn show_list(files: &TrustFiles, st: &mut State, k: Kind) -> String {
    let mut o = String::new();
    if let Some(t) = st.tx(k) {
        o.push_str(&format!("# transaction\n*{}{}\n", t.path, count(&t.new)));
    }
    o.push_str("# filename\n");
    let list: Vec<(String, Content)> = match k {
        Kind::Ca => files
            .cas()
            .into_iter()
            .map(|(n, f)| (n, Content::Ca(f.certs.load_full())))
            .collect(),
        Kind::Crl => files
            .crls()
            .into_iter()
            .map(|(n, f)| (n, Content::Crl(f.crls.load_full())))
            .collect(),
    };
    for (n, c) in list {
        o.push_str(&format!("{n}{}\n", count(&c)));
    }
    o
}

fn show(g: &Graph, st: &mut State, k: Kind, arg: &str) -> String {
    let not_found = "Can't display the CA file : Not found!\n";
    let (name, index) = match arg.split_once(':') {
        None => (arg, 0),
        Some((n, i)) => match i.parse::<usize>() {
            Ok(i) if i > 0 => (n, i),
            _ => {
                let what = if k == Kind::Ca { "CA" } else { "CRL" };
                return format!("wrong {what} index after colons in '{arg}'!\n");
            }
        },
    };
    let (content, status) = match name.strip_prefix('*') {
        Some(p) => match st.tx(k) {
            Some(t) if t.path == p => (t.new.clone(), "Unused"),
            _ => return not_found.into(),
        },
        None => match current(&g.trust_files, k, name) {
            None => return not_found.into(),
            Some(c) => {
                let used = uses(g, k, name) > 0;
                (c, if used { "Used" } else { "Unused" })
            }
        },
    };
    let status = if content.is_empty() { "Empty" } else { status };
    let mut o = format!("Filename: {name}\nStatus: {status}\n");
    let wanted = |i: usize| index == 0 || index == i + 1;
    match &content {
        Content::Ca(certs) => {
            for (i, c) in certs.iter().enumerate().filter(|(i, _)| wanted(*i)) {
                o.push_str(&format!("\nCertificate #{}:\n", i + 1));
                o.push_str(&detail(std::slice::from_ref(c)));
            }
        }
        Content::Crl(crls) => {
            for (i, c) in crls.iter().enumerate().filter(|(i, _)| wanted(*i)) {
                o.push_str(&format!("\nCertificate Revocation List #{}:\n", i + 1));
                o.push_str(&crl_detail(&c.der));
            }
        }
    }
    o
}

/// The content of a payload: at least one certificate (or CRL), each readable.
fn parse(k: Kind, payload: &str) -> Option<Content> {
    match k {
        Kind::Ca => {
            let certs = pem_certs(payload.as_bytes());
            let readable = certs
                .iter()
                .all(|c| x509_parser::parse_x509_certificate(c).is_ok());
            (readable && !certs.is_empty()).then(|| Content::Ca(Arc::new(certs)))
        }
        Kind::Crl => match pem_crls(payload.as_bytes()) {
            Ok(crls) if !crls.is_empty() => Some(Content::Crl(Arc::new(crls))),
            _ => None,
        },
    }
}

fn set(files: &TrustFiles, st: &mut State, k: Kind, f: &str, payload: &str) -> String {
    let fail = |why: String| format!("{why}Can't update {f}!\n");
    let created = match st.tx(k) {
        Some(t) if t.path != f => {
            return fail(format!(
                "The ongoing transaction is about '{}' but you are trying to set '{f}'\n",
                t.path
            ))
        }
        Some(_) => false,
        None if current(files, k, f).is_none() => {
            return fail(format!(
                "Can't replace a {} file which is not referenced by the configuration!\n",
                k.label()
            ))
        }
        None => true,
    };
    let Some(new) = parse(k, payload) else {
        return fail("Invalid payload\n".into());
    };
    *st.tx(k) = Some(Tx {
        path: f.to_string(),
        new,
    });
    let how = if created { "created" } else { "updated" };
    format!("transaction {how} for CA {f}!\n")
}

fn commit(g: &Graph, st: &mut State, k: Kind, f: &str) -> String {
    let fail = |why: String| format!("{why}Can't commit {f}!\n");
    let new = match st.tx(k) {
        None => return fail("No ongoing transaction! !\n".into()),
        Some(t) if t.path != f => {
            return fail(format!(
                "The ongoing transaction is about '{}' but you are trying to set '{f}'\n",
                t.path
            ))
        }
        Some(t) => t.new.clone(),
    };
    let files = &g.trust_files;
    match &new {
        Content::Ca(c) => {
            if let Some((_, file)) = files.cas().into_iter().find(|(n, _)| n == f) {
                file.certs.store(c.clone());
            }
        }
        Content::Crl(c) => {
            if let Some((_, file)) = files.crls().into_iter().find(|(n, _)| n == f) {
                file.crls.store(c.clone());
            }
        }
    }
    // The binds' configurations naming the file are rebuilt: their certificate
    // requests list the new CAs, and no session made before is resumed.
    let dots = uses(g, k, f);
    for b in g.tls.values() {
        let sets = b.sets.load();
        if !sets.iter().any(|s| names(&s.opts, k, f)) {
            continue;
        }
        let rebuilt: Vec<_> = sets
            .iter()
            .map(|s| {
                if !names(&s.opts, k, f) {
                    return s.clone();
                }
                match crate::tls::server::OptConfig::build(&s.opts, b.resolver.clone(), &b.files) {
                    Ok(n) => Arc::new(n),
                    Err(_) => s.clone(),
                }
            })
            .collect();
        b.sets.store(Arc::new(rebuilt));
    }
    // Servers verifying with it: their next connection is a full handshake.
    for srv in servers(g, k, f) {
        for s in srv.tls.iter().flat_map(|t| &t.sessions) {
            s.clear();
        }
        srv.pool.clear();
    }
    *st.tx(k) = None;
    format!("Committing {f}{}\nSuccess!\n", ".".repeat(dots))
}
