//! The runtime socket's certificate commands, as HAProxy 2.6 has them: `show ssl cert
//! [FILE]`, `set ssl cert FILE <<` + PEM payload (a transaction on `*FILE`), `commit
//! ssl cert FILE`, `abort ssl cert FILE`, `new ssl cert FILE`, `del ssl cert FILE`.
//!
//! The certificates are those of the `ssl` binds of the running graph, named by the
//! file they were loaded from. A commit swaps the certificate in the store of every
//! bind using it: new handshakes get the new one, established connections keep theirs.
//! Like a new HAProxy worker, a reload reads the files again and forgets the
//! transaction and the certificates created here.

use crate::config::model::StatsLevel;
use crate::graph::Graph;
use crate::tls::runtime::{detail, Pending};
use rustls::sign::CertifiedKey;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, Weak};

/// The uncommitted `*FILE`.
struct Tx {
    path: String,
    new: Pending,
}

/// What the commands keep between calls, for one graph.
struct State {
    graph: Weak<Graph>,
    tx: Option<Tx>,
    /// `new ssl cert` stores, used by no bind (None: still empty).
    created: BTreeMap<String, Option<Arc<CertifiedKey>>>,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

/// The client certificates of servers (`server ... crt`) loaded from `path`.
fn server_certs<'a>(
    g: &'a Graph,
    path: &'a str,
) -> impl Iterator<
    Item = (
        &'a crate::backend::ServerRt,
        &'a crate::tls::srvcert::ClientCert,
    ),
> {
    g.backends
        .iter()
        .flat_map(|b| &b.servers)
        .filter_map(move |s| {
            let c = s.tls.as_ref()?.client_cert.as_deref()?;
            (c.path == Path::new(path)).then_some((&**s, c))
        })
}

/// The certificate a bind serves, or a server presents, for `path`, if one uses it.
fn in_use(g: &Graph, path: &str) -> Option<Arc<CertifiedKey>> {
    if let Some((_, c)) = server_certs(g, path).next() {
        return Some(c.cert.load_full());
    }
    g.tls.values().find_map(|b| {
        b.resolver
            .store
            .load()
            .entries
            .iter()
            .find(|e| e.path == Path::new(path))
            .map(|e| e.cert.clone())
    })
}

/// Every certificate name, sorted as HAProxy's tree lists them.
fn names(g: &Graph, st: &State) -> Vec<String> {
    let mut v: Vec<String> = g
        .tls
        .values()
        .flat_map(|b| {
            b.resolver
                .store
                .load()
                .entries
                .iter()
                .map(|e| e.path.display().to_string())
                .collect::<Vec<_>>()
        })
        .chain(st.created.keys().cloned())
        .chain(g.backends.iter().flat_map(|b| &b.servers).filter_map(|s| {
            let c = s.tls.as_ref()?.client_cert.as_deref()?;
            Some(c.path.display().to_string())
        }))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The store named `path`: Some(its certificate, None when empty), None when unknown.
fn lookup(g: &Graph, st: &State, path: &str) -> Option<Option<Arc<CertifiedKey>>> {
    match in_use(g, path) {
        Some(c) => Some(Some(c)),
        None => st.created.get(path).cloned(),
    }
}

/// The commands' state for graph `g` (a new graph starts afresh).
fn state<'a>(guard: &'a mut Option<State>, g: &Arc<Graph>) -> &'a mut State {
    let fresh = || State {
        graph: Arc::downgrade(g),
        tx: None,
        created: BTreeMap::new(),
    };
    let st = guard.get_or_insert_with(fresh);
    if !Weak::ptr_eq(&st.graph, &Arc::downgrade(g)) {
        *st = fresh();
    }
    st
}

/// The certificate stored as `path` (used by a bind, or made by `new ssl cert`):
/// Some(None) while still empty, None when there is none.
pub fn stored(g: &Arc<Graph>, path: &str) -> Option<Option<Arc<CertifiedKey>>> {
    let mut guard = STATE.lock().unwrap_or_else(|e| e.into_inner());
    let st = state(&mut guard, g);
    lookup(g, st, path)
}

/// `Permission denied` unless `level` allows an `ssl` store command: `show` needs
/// operator, the others admin.
pub(super) fn denied(level: StatsLevel, words: &[&str]) -> Option<String> {
    let need = match words.first() {
        Some(&"show") => StatsLevel::Operator,
        _ => StatsLevel::Admin,
    };
    (level < need).then(|| "Permission denied\n".to_string())
}

/// Runs one `... ssl cert ...` command.
pub fn command(g: &Arc<Graph>, level: StatsLevel, words: &[&str], payload: Option<&str>) -> String {
    if let Some(no) = denied(level, words) {
        return no;
    }
    let mut guard = STATE.lock().unwrap_or_else(|e| e.into_inner());
    let st = state(&mut guard, g);
    let file = words.get(3).copied();
    match (words[0], file) {
        ("show", None) => show_list(g, st),
        ("show", Some(f)) => show(g, st, f),
        ("set", f) => match (f, payload) {
            (Some(f), Some(p)) => set(g, st, f, p),
            _ => "'set ssl cert' expects a filename and a certificate as a payload\n".into(),
        },
        ("commit", None) => "'commit ssl cert' expects a filename\n".into(),
        ("commit", Some(f)) => commit(g, st, f),
        ("abort", None) => "'abort ssl cert' expects a filename\n".into(),
        ("abort", Some(f)) => match &st.tx {
            None => "No ongoing transaction!\n".into(),
            Some(t) if t.path != f => format!(
                "The ongoing transaction is about '{}' but you are trying to abort a transaction for '{f}'\n",
                t.path
            ),
            Some(_) => {
                st.tx = None;
                format!("Transaction aborted for certificate '{f}'!\n")
            }
        },
        ("new", None) => "'new ssl cert' expects a filename\n".into(),
        ("new", Some(f)) => {
            if lookup(g, st, f).is_some() {
                format!("Certificate '{f}' already exists!\n")
            } else {
                st.created.insert(f.to_string(), None);
                format!("New empty certificate store '{f}'!\n")
            }
        }
        ("del", None) => "'del ssl cert' expects a certificate name\n".into(),
        ("del", Some(f)) => {
            let why = if st.tx.as_ref().is_some_and(|t| t.path == f) {
                format!("ongoing transaction for the certificate '{f}'")
            } else if in_use(g, f).is_some() {
                format!("certificate '{f}' in use, can't be deleted!\n")
            } else if st.created.remove(f).is_none() {
                format!("certificate '{f}' doesn't exist!\n")
            } else {
                return format!("Certificate '{f}' deleted!\n");
            };
            format!("Can't remove the certificate: {why}\n")
        }
        _ => String::new(),
    }
}

fn show_list(g: &Graph, st: &State) -> String {
    let mut o = String::new();
    if let Some(t) = &st.tx {
        o.push_str(&format!("# transaction\n*{}\n", t.path));
    }
    o.push_str("# filename\n");
    for n in names(g, st) {
        o.push_str(&n);
        o.push('\n');
    }
    o
}

fn show(g: &Graph, st: &State, f: &str) -> String {
    let not_found = "Can't display the certificate: Not found or the certificate is a bundle!\n";
    let (name, chain, status) = match f.strip_prefix('*') {
        Some(p) => match &st.tx {
            // A transaction's certificate serves no bind yet.
            Some(t) if t.path == p => (f.to_string(), t.new.chain.clone(), "Unused"),
            _ => return not_found.into(),
        },
        None => match lookup(g, st, f) {
            None => return not_found.into(),
            Some(None) => (f.to_string(), Vec::new(), "Empty"),
            Some(Some(c)) => {
                let used = in_use(g, f).is_some();
                (
                    f.to_string(),
                    c.cert.clone(),
                    if used { "Used" } else { "Unused" },
                )
            }
        },
    };
    let status = if chain.is_empty() { "Empty" } else { status };
    format!("Filename: {name}\nStatus: {status}\n{}", detail(&chain))
}

fn set(g: &Graph, st: &mut State, arg: &str, payload: &str) -> String {
    let fail = |why: String| format!("{why}Can't update {arg}!\n");
    // `FILE.key` updates the key of FILE; OCSP, SCTL and issuer files are not kept.
    let (name, key) = match arg.rsplit_once('.') {
        Some((base, "key")) => (base, true),
        Some((_, ext @ ("ocsp" | "sctl" | "issuer"))) => {
            return fail(format!(
                "lbd does not load '.{ext}' files (no OCSP stapling, SCTs or issuer files).\n"
            ))
        }
        _ => (arg, false),
    };
    // With `ssl-load-extra-del-ext`, NAME.key is the key of NAME.crt.
    let crt = format!("{name}.crt");
    let del_ext = key && g.config.global.ssl_del_ext;
    let name = match &st.tx {
        Some(t) if del_ext && t.path == crt => crt.as_str(),
        None if del_ext && lookup(g, st, name).is_none() && lookup(g, st, &crt).is_some() => {
            crt.as_str()
        }
        _ => name,
    };
    let mut new =
        match &st.tx {
            Some(t) if t.path != name => {
                return fail(format!(
                    "The ongoing transaction is about '{}' but you are trying to set '{name}'\n",
                    t.path
                ))
            }
            Some(t) => t.new.clone(),
            None => match lookup(g, st, name) {
                None => return fail(
                    "Can't replace a certificate which is not referenced by the configuration!\n"
                        .into(),
                ),
                Some(c) => c.as_deref().map(Pending::of).unwrap_or_default(),
            },
        };
    let loaded = if key {
        new.load_key(name, payload)
    } else {
        new.load_pem(name, payload)
    };
    if let Err(e) = loaded {
        return fail(format!("{e}Can't load the payload\n"));
    }
    let msg = if st.tx.is_some() {
        format!("Transaction updated for certificate {name}!\n")
    } else {
        format!("Transaction created for certificate {name}!\n")
    };
    st.tx = Some(Tx {
        path: name.to_string(),
        new,
    });
    msg
}

fn commit(g: &Graph, st: &mut State, f: &str) -> String {
    let fail = |why: String| format!("{why}Can't commit {f}!\n");
    let t = match &st.tx {
        None => return fail("No ongoing transaction! !\n".into()),
        Some(t) if t.path != f => {
            return fail(format!(
                "The ongoing transaction is about '{}' but you are trying to set '{f}'\n",
                t.path
            ))
        }
        Some(t) => t,
    };
    let (cert, names) = match t.new.certified(f) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    // One dot per certificate instance rebuilt, as HAProxy prints them.
    let mut dots = 0;
    let path = Path::new(f);
    for b in g.tls.values() {
        let cur = b.resolver.store.load();
        if let Some((store, n)) = cur.replaced(path, &cert, &names) {
            b.resolver.store.store(Arc::new(store));
            dots += n;
        }
    }
    // Servers presenting it: new connections (without resuming a session made
    // with the old one) present the new certificate.
    for (srv, c) in server_certs(g, f) {
        c.cert.store(cert.clone());
        for s in srv.tls.iter().flat_map(|t| &t.sessions) {
            s.clear();
        }
        srv.pool.clear();
        dots += 1;
    }
    if let Some(c) = st.created.get_mut(f) {
        *c = Some(cert);
    }
    st.tx = None;
    format!("Committing {f}{}\nSuccess!\n", ".".repeat(dots))
}
