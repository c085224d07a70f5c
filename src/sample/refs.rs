//! Pattern references, HAProxy's `pat_ref`: the entries of an acl's inline patterns, of
//! a `-f` pattern file or of a map file, shared by every acl and map converter that
//! names the same file, and changed at run time by the socket's `add|del|set|clear|
//! prepare|commit acl|map` commands.
//!
//! Each user of a reference (an acl with its matching method, a map converter) keeps
//! its compiled set in an `ArcSwap`: a match loads it without taking a lock, a change
//! rebuilds the sets from the entries of the current version and swaps them in. The
//! entries are only touched under the reference's mutex, by the runtime socket.
//!
//! References are collected per configuration load ([`begin`] .. [`finish`] on the
//! parsing thread), numbered like HAProxy numbers them (`#0`, `#1`, .. in order of
//! creation, `-u ID` ids kept), and die with the configuration: a reload starts over
//! from the files.

use super::map::Map;
use super::pattern::{Method, Patterns};
use super::value::Value;
use arc_swap::ArcSwap;
use std::cell::RefCell;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};

/// The reference is used by an acl.
pub const ACL: u8 = 1;
/// The reference is used by a map converter.
pub const MAP: u8 = 2;
/// The reference's entries carry values (map files, `-M`).
pub const SMP: u8 = 4;

/// One entry: a pattern (a map's key), its value in maps, and its version.
#[derive(Debug, Clone)]
pub struct Elt {
    /// The entry's id, shown as `0x..` and accepted back as `#0x..`.
    pub id: u64,
    /// The version (generation) the entry belongs to.
    pub gen: u32,
    /// The pattern or key.
    pub key: String,
    /// The map value.
    pub value: Option<String>,
    /// The line of the file it was read from (0: added at run time or inline).
    pub line: u32,
}

static NEXT_ELT: AtomicU64 = AtomicU64::new(1);

impl Elt {
    fn new(gen: u32, key: &str, value: Option<&str>, line: u32) -> Elt {
        Elt {
            id: NEXT_ELT.fetch_add(1, Relaxed),
            gen,
            key: key.to_string(),
            value: value.map(str::to_string),
            line,
        }
    }
}

/// An acl's compiled patterns from one reference, for one matching method.
#[derive(Debug)]
pub struct AclSet {
    method: Method,
    icase: bool,
    live: ArcSwap<Patterns>,
}

impl AclSet {
    fn build(&self, elts: &[&Elt]) -> Result<Patterns, String> {
        let keys: Vec<String> = elts.iter().map(|e| e.key.clone()).collect();
        Patterns::new(self.method, self.icase, &keys)
    }
}

/// The patterns an acl matches: one set per reference (its inline patterns and each
/// `-f` file), each swapped in as the runtime socket changes it.
#[derive(Debug, Clone)]
pub struct AclPatterns {
    method: Method,
    sets: Vec<Arc<AclSet>>,
}

impl PartialEq for AclPatterns {
    fn eq(&self, o: &Self) -> bool {
        self.method == o.method
            && self.sets.len() == o.sets.len()
            && self
                .sets
                .iter()
                .zip(&o.sets)
                .all(|(a, b)| a.icase == b.icase && *a.live.load_full() == *b.live.load_full())
    }
}
impl Eq for AclPatterns {}

impl AclPatterns {
    /// Patterns outside any reference (tests, predefined uses).
    pub fn fixed(p: Patterns) -> AclPatterns {
        AclPatterns {
            method: p.method(),
            sets: vec![Arc::new(AclSet {
                method: p.method(),
                icase: false,
                live: ArcSwap::from_pointee(p),
            })],
        }
    }

    /// The matching method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// Whether the sample matches a pattern of any of the sets.
    pub fn matches(&self, v: &Value<'_>) -> bool {
        self.sets.iter().any(|s| s.live.load().matches(v))
    }
}

#[derive(Debug, Clone)]
enum User {
    Acl(Arc<AclSet>),
    Map(Arc<Map>),
}

/// A reference's mutable part.
#[derive(Debug, Default)]
pub struct State {
    /// What `show acl|map` says about it (who uses it, where).
    pub display: String,
    /// [`ACL`] | [`MAP`] | [`SMP`].
    pub flags: u8,
    /// Every entry of every version, in insertion order.
    pub elts: Vec<Elt>,
    /// The version in use.
    pub curr_gen: u32,
    /// The last version allocated by `prepare`.
    pub next_gen: u32,
    users: Vec<User>,
}

/// A pattern reference: a file, or an acl's inline patterns.
#[derive(Debug)]
pub struct PatRef {
    id: AtomicI64,
    user_id: Option<i64>,
    file: Option<String>,
    st: Mutex<State>,
}

impl PatRef {
    fn new(file: Option<&str>, user_id: Option<i64>, display: String, flags: u8) -> PatRef {
        PatRef {
            id: AtomicI64::new(user_id.unwrap_or(-1)),
            user_id,
            file: file.map(str::to_string),
            st: Mutex::new(State {
                display,
                flags,
                ..State::default()
            }),
        }
    }

    /// The unique id (`#N`).
    pub fn id(&self) -> i64 {
        self.id.load(Relaxed)
    }

    /// The file name, None for an acl's inline patterns.
    pub fn file(&self) -> Option<&str> {
        self.file.as_deref()
    }

    /// Locks the entries.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The compiled set of an acl using this reference with `method` and `-i`.
    pub fn attach_acl(&self, method: Method, icase: bool) -> Result<Arc<AclSet>, String> {
        let mut st = self.lock();
        for u in &st.users {
            if let User::Acl(a) = u {
                if a.method == method && a.icase == icase {
                    return Ok(a.clone());
                }
            }
        }
        let set = AclSet {
            method,
            icase,
            live: ArcSwap::from_pointee(Patterns::new(method, icase, &[])?),
        };
        let cur = st.current();
        let p = set
            .build(&cur)
            .map_err(|e| self.located(&cur, e, |k| set.check(k)))?;
        set.live.store(Arc::new(p));
        let set = Arc::new(set);
        st.users.push(User::Acl(set.clone()));
        Ok(set)
    }

    /// The map of converter `name` (`map_beg_int`) on this reference.
    pub fn attach_map(&self, name: &str) -> Result<Arc<Map>, String> {
        let mut st = self.lock();
        let map = Map::new(name);
        for u in &st.users {
            if let User::Map(m) = u {
                if m.same_kind(&map) {
                    return Ok(m.clone());
                }
            }
        }
        let cur = st.current();
        map.rebuild(&cur, self.file.as_deref().unwrap_or(""))?;
        let map = Arc::new(map);
        st.users.push(User::Map(map.clone()));
        Ok(map)
    }

    /// An error on the entries of the file: which line, when a single entry fails.
    fn located(
        &self,
        cur: &[&Elt],
        e: String,
        check: impl Fn(&str) -> Result<(), String>,
    ) -> String {
        let Some(file) = &self.file else { return e };
        match cur.iter().find(|x| check(&x.key).is_err()) {
            Some(x) => format!("{e} at line {} of file '{file}'", x.line),
            None => e,
        }
    }
}

impl AclSet {
    fn check(&self, key: &str) -> Result<(), String> {
        Patterns::new(self.method, self.icase, &[key.to_string()]).map(|_| ())
    }
}

/// The name of a matching method in `get acl|map` (HAProxy's `pat_match_names`).
fn match_name(m: Method) -> &'static str {
    match m {
        Method::Found => "found",
        Method::Bool => "bool",
        Method::Int => "int",
        Method::Ip => "ip",
        Method::Bin => "bin",
        Method::Len => "len",
        Method::Str => "str",
        Method::Beg => "beg",
        Method::Sub => "sub",
        Method::Dir => "dir",
        Method::Dom => "dom",
        Method::End => "end",
        Method::Reg => "reg",
    }
}

/// HAProxy indexes exact and prefix strings (case-sensitive) and addresses in trees.
fn idx(m: Method, icase: bool) -> &'static str {
    match m {
        Method::Str | Method::Beg if !icase => "tree",
        Method::Ip => "tree",
        _ => "list",
    }
}

/// Whether version `gen` lies in `from..=to`, versions wrapping around.
fn in_range(gen: u32, from: u32, to: u32) -> bool {
    gen.wrapping_sub(from) <= to.wrapping_sub(from)
}

impl State {
    /// The entries of the version in use.
    pub fn current(&self) -> Vec<&Elt> {
        self.elts
            .iter()
            .filter(|e| e.gen == self.curr_gen)
            .collect()
    }

    /// Recompiles every user's set from the current version and swaps it in.
    fn rebuild(&self) {
        let cur = self.current();
        for u in &self.users {
            match u {
                // Entries are checked before they are stored: rebuilding cannot fail.
                User::Acl(a) => {
                    if let Ok(p) = a.build(&cur) {
                        a.live.store(Arc::new(p));
                    }
                }
                User::Map(m) => {
                    let _ = m.rebuild(&cur, "");
                }
            }
        }
    }

    /// Adds an entry to version `gen` (checked against every user first).
    pub fn add(&mut self, gen: u32, key: &str, value: Option<&str>) -> Result<(), String> {
        for u in &self.users {
            match u {
                User::Acl(a) => a.check(key)?,
                User::Map(m) => m.check(key, value.unwrap_or(""))?,
            }
        }
        self.elts.push(Elt::new(gen, key, value, 0));
        if gen == self.curr_gen {
            self.rebuild();
        }
        Ok(())
    }

    /// Deletes the entries whose pattern is `key` (every version); false if none.
    pub fn delete(&mut self, key: &str) -> bool {
        self.delete_where(|e| e.key == key)
    }

    /// Deletes the entry with id `id`; false if there is none.
    pub fn delete_id(&mut self, id: u64) -> bool {
        self.delete_where(|e| e.id == id)
    }

    fn delete_where(&mut self, f: impl Fn(&Elt) -> bool) -> bool {
        let before = self.elts.len();
        let curr = self.curr_gen;
        let mut touched = false;
        self.elts.retain(|e| {
            let gone = f(e);
            touched |= gone && e.gen == curr;
            !gone
        });
        if touched {
            self.rebuild();
        }
        self.elts.len() != before
    }

    /// Sets the value of the entries with pattern `key` (or id); false if none.
    pub fn set(&mut self, key: Result<&str, u64>, value: &str) -> Result<(), String> {
        let hit = |e: &Elt| match key {
            Ok(k) => e.key == k,
            Err(id) => e.id == id,
        };
        let Some(first) = self.elts.iter().find(|e| hit(e)) else {
            return Err(match key {
                Ok(_) => "entry not found".into(),
                Err(_) => "key or pattern not found".into(),
            });
        };
        for u in &self.users {
            if let User::Map(m) = u {
                m.check(&first.key, value)
                    .map_err(|_| format!("unable to parse '{value}'"))?;
            }
        }
        for e in self.elts.iter_mut().filter(|e| hit(e)) {
            e.value = Some(value.to_string());
        }
        self.rebuild();
        Ok(())
    }

    /// Removes the entries of versions `from..=to`.
    pub fn purge(&mut self, from: u32, to: u32) {
        let curr = self.curr_gen;
        let mut touched = false;
        self.elts.retain(|e| {
            let gone = in_range(e.gen, from, to);
            touched |= gone && e.gen == curr;
            !gone
        });
        if touched {
            self.rebuild();
        }
    }

    /// Allocates a new version (`prepare`).
    pub fn new_gen(&mut self) -> u32 {
        self.next_gen = self.next_gen.wrapping_add(1);
        self.next_gen
    }

    /// Makes version `gen` current and drops the older ones; false if `gen` is not
    /// between the current version (excluded) and the last allocated one.
    pub fn commit(&mut self, gen: u32) -> bool {
        if gen.wrapping_sub(self.curr_gen.wrapping_add(1))
            >= self.next_gen.wrapping_sub(self.curr_gen)
        {
            return false;
        }
        self.curr_gen = gen;
        let prev = gen.wrapping_sub(1);
        self.elts
            .retain(|e| !in_range(e.gen, prev.wrapping_sub(u32::MAX >> 1), prev));
        self.rebuild();
        true
    }

    /// `get acl|map`: one line per user, on how `sample` matches its set.
    pub fn get(&self, sample: &str, map: bool) -> String {
        let v = Value::str(sample);
        let mut out = String::new();
        let cur = self.current();
        for u in &self.users {
            let (method, icase, name) = match u {
                User::Acl(a) => (a.method, a.icase, match_name(a.method)),
                User::Map(m) => (m.method(), false, m.match_name()),
            };
            let case = if icase { "insensitive" } else { "sensitive" };
            out.push_str(&format!("type={name}, case={case}"));
            let hit: Option<(String, Option<(String, &str)>)> = match u {
                User::Acl(a) => cur
                    .iter()
                    .find(|e| {
                        Patterns::new(a.method, a.icase, std::slice::from_ref(&e.key))
                            .is_ok_and(|p| p.matches(&v))
                    })
                    .map(|e| (e.key.clone(), None)),
                User::Map(m) => m.find(&v).map(|(k, val, ty)| (k, Some((val, ty)))),
            };
            let (yes, no) = if map {
                ("found=yes", "found=no")
            } else {
                ("match=yes", "match=no")
            };
            match hit {
                None => out.push_str(&format!(", {no}")),
                Some((key, val)) => {
                    out.push_str(&format!(", {yes}, idx={}", idx(method, icase)));
                    if map {
                        out.push_str(&format!(", key=\"{key}\""));
                        match val {
                            Some((v, ty)) => {
                                out.push_str(&format!(", value=\"{v}\", type=\"{ty}\""))
                            }
                            None => out.push_str(", value=none"),
                        }
                    } else {
                        out.push_str(&format!(", pattern=\"{key}\""));
                    }
                }
            }
            out.push('\n');
        }
        out
    }
}

/// The references of one configuration, by id.
#[derive(Debug, Default)]
pub struct PatRefs {
    refs: Vec<Arc<PatRef>>,
}

impl PatRefs {
    /// Every reference, by id.
    pub fn all(&self) -> &[Arc<PatRef>] {
        &self.refs
    }

    /// The reference named `#ID` or by its file name.
    pub fn find(&self, name: &str) -> Option<Arc<PatRef>> {
        if let Some(id) = name.strip_prefix('#') {
            let id: i64 = id.parse().ok()?;
            return self.refs.iter().find(|r| r.id() == id).cloned();
        }
        self.refs
            .iter()
            .find(|r| r.file.as_deref() == Some(name))
            .cloned()
    }
}

/// References made while a configuration is parsed, and the config line being read.
#[derive(Default)]
struct Loading {
    refs: Vec<Arc<PatRef>>,
    file: Option<Arc<str>>,
    line: u32,
}

thread_local! {
    static LOADING: RefCell<Option<Loading>> = const { RefCell::new(None) };
}

/// Starts collecting the references made by the configuration parsed on this thread.
pub fn begin() {
    LOADING.with(|l| *l.borrow_mut() = Some(Loading::default()));
}

/// Tells which configuration line is being parsed (for `show acl|map` descriptions).
pub fn at(file: &Arc<str>, line: u32) {
    LOADING.with(|l| {
        if let Some(l) = l.borrow_mut().as_mut() {
            if l.file.as_ref() != Some(file) {
                l.file = Some(file.clone());
            }
            l.line = line;
        }
    });
}

/// Ends the collection and numbers the references as HAProxy does: `-u` ids are
/// kept, the others take the lowest free ids in order of creation.
pub fn finish() -> PatRefs {
    let refs = LOADING
        .with(|l| l.borrow_mut().take())
        .map(|l| l.refs)
        .unwrap_or_default();
    let taken: std::collections::HashSet<i64> = refs.iter().filter_map(|r| r.user_id).collect();
    let mut next = 0;
    for r in refs.iter().filter(|r| r.user_id.is_none()) {
        while taken.contains(&next) {
            next += 1;
        }
        r.id.store(next, Relaxed);
        next += 1;
    }
    let mut refs = refs;
    refs.sort_by_key(|r| r.id());
    PatRefs { refs }
}

/// `file 'F' line N` of the config line being parsed.
fn where_() -> (String, u32) {
    LOADING.with(|l| match l.borrow().as_ref() {
        Some(Loading {
            file: Some(f),
            line,
            ..
        }) => (f.to_string(), *line),
        _ => ("(null)".to_string(), 0),
    })
}

fn register(r: &Arc<PatRef>) {
    LOADING.with(|l| {
        if let Some(l) = l.borrow_mut().as_mut() {
            l.refs.push(r.clone());
        }
    });
}

/// The reference of pattern or map file `path` used by an acl (`kind` [`ACL`]) or a
/// map ([`MAP`]); `smp`: its lines are `KEY VALUE` (maps, `-M`). A file already
/// loaded by this configuration is shared.
pub fn file_ref(path: &str, kind: u8, smp: bool) -> Result<Arc<PatRef>, String> {
    let (cfg, line) = where_();
    let user = if kind == MAP { "map" } else { "acl" };
    let known = LOADING.with(|l| {
        l.borrow().as_ref().and_then(|l| {
            l.refs
                .iter()
                .find(|r| r.file.as_deref() == Some(path))
                .cloned()
        })
    });
    if let Some(r) = known {
        {
            let mut st = r.lock();
            if smp && st.flags & SMP == 0 {
                return Err(format!("The file \"{path}\" is already used as one column file and cannot be used by as two column file."));
            }
            if !smp && st.flags & SMP != 0 {
                return Err(format!("The file \"{path}\" is already used as two column file and cannot be used by as one column file."));
            }
            st.display
                .push_str(&format!(", by {user} at file '{cfg}' line {line}"));
            st.flags |= kind;
        }
        return Ok(r);
    }
    let lines = super::pattern::read_numbered(path).map_err(|e| {
        if kind == MAP {
            e.replace("pattern file", "map file")
        } else {
            e
        }
    })?;
    let display =
        format!("pattern loaded from file '{path}' used by {user} at file '{cfg}' line {line}");
    let flags = kind | if smp { SMP } else { 0 };
    let r = Arc::new(PatRef::new(Some(path), None, display, flags));
    {
        let mut st = r.lock();
        for (n, text) in lines {
            let (k, v) = if smp {
                let (k, v) = text
                    .split_once([' ', '\t'])
                    .map(|(k, v)| (k, v.trim()))
                    .unwrap_or((&text, ""));
                (k, Some(v))
            } else {
                (text.as_str(), None)
            };
            st.elts.push(Elt::new(0, k, v, n));
        }
    }
    register(&r);
    Ok(r)
}

/// The reference of an acl's inline patterns (`kw`: the acl keyword, `-u ID`).
pub fn inline_ref(kw: &str, keys: &[String], user_id: Option<i64>) -> Result<Arc<PatRef>, String> {
    if let Some(id) = user_id {
        let used = LOADING.with(|l| {
            l.borrow()
                .as_ref()
                .is_some_and(|l| l.refs.iter().any(|r| r.user_id == Some(id)))
        });
        if used {
            return Err("the id is already used".into());
        }
    }
    let (cfg, line) = where_();
    let display = format!("acl '{kw}' file '{cfg}' line {line}");
    let r = Arc::new(PatRef::new(None, user_id, display, ACL));
    {
        let mut st = r.lock();
        for k in keys {
            st.elts.push(Elt::new(0, k, None, 0));
        }
    }
    register(&r);
    Ok(r)
}

/// An acl's patterns from its references, compiled for `method` and `-i`.
pub fn acl_patterns(
    refs: &[Arc<PatRef>],
    method: Method,
    icase: bool,
) -> Result<AclPatterns, String> {
    let sets = refs
        .iter()
        .map(|r| r.attach_acl(method, icase))
        .collect::<Result<_, _>>()?;
    Ok(AclPatterns { method, sets })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(keys: &[&str], m: Method) -> (Arc<PatRef>, AclPatterns) {
        let keys: Vec<String> = keys.iter().map(|s| s.to_string()).collect();
        let r = inline_ref("path", &keys, None).unwrap();
        let p = acl_patterns(std::slice::from_ref(&r), m, false).unwrap();
        (r, p)
    }

    #[test]
    fn runtime_changes_reach_the_compiled_set() {
        let (r, p) = acl(&["/a"], Method::Str);
        assert!(!p.matches(&Value::str("/b")));
        r.lock().add(0, "/b", None).unwrap();
        assert!(p.matches(&Value::str("/b")));
        assert!(r.lock().delete("/a"));
        assert!(!p.matches(&Value::str("/a")));
        assert!(!r.lock().delete("/a"));
        let (r, p) = acl(&["10.0.0.0/8"], Method::Ip);
        assert!(r.lock().add(0, "nope", None).is_err());
        assert_eq!(r.lock().elts.len(), 1);
        assert!(p.matches(&Value::str("10.1.2.3")));
    }

    #[test]
    fn versions_prepare_commit_and_clear() {
        let (r, p) = acl(&["/a"], Method::Str);
        let mut st = r.lock();
        let g = st.new_gen();
        assert_eq!(g, 1);
        st.add(g, "/new", None).unwrap();
        assert!(!p.matches(&Value::str("/new")));
        assert!(!st.commit(2));
        assert!(st.commit(g));
        assert!(p.matches(&Value::str("/new")) && !p.matches(&Value::str("/a")));
        assert_eq!(st.elts.len(), 1);
        assert!(!st.commit(g));
        st.purge(g, g);
        assert!(!p.matches(&Value::str("/new")));
    }

    #[test]
    fn get_reports_the_matching_pattern() {
        let (r, _p) = acl(&["/a", "/b"], Method::Str);
        assert_eq!(
            r.lock().get("/b", false),
            "type=str, case=sensitive, match=yes, idx=tree, pattern=\"/b\"\n"
        );
        assert_eq!(
            r.lock().get("/c", false),
            "type=str, case=sensitive, match=no\n"
        );
    }

    #[test]
    fn ids_follow_creation_order_around_user_ids() {
        begin();
        let a = inline_ref("path", &[], None).unwrap();
        let b = inline_ref("path", &[], Some(0)).unwrap();
        let c = inline_ref("path", &[], None).unwrap();
        assert!(inline_ref("path", &[], Some(0)).is_err());
        let refs = finish();
        assert_eq!((a.id(), b.id(), c.id()), (1, 0, 2));
        assert_eq!(refs.find("#2").map(|r| r.id()), Some(2));
    }
}
