//! A stick table: keys (ip, ipv6, integer, string, binary) to entries of the data
//! types the table stores, with expiry and a size bound.
//!
//! The table's map sits behind one mutex, held only to find, add or remove an entry;
//! an entry's values sit behind its own mutex. An entry in use (tracked by a request,
//! `use=` in `show table`) is never evicted. A touched entry (tracked, updated) lives
//! `expire` longer. Times are milliseconds of the process clock (`now_ms`).

use super::data::{Data, Val, ALL};
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// Milliseconds since the process started (never 0).
pub fn now_ms() -> u64 {
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_millis() as u64
        + 1
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The type of a table's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// IPv4 addresses (`type ip`).
    Ip,
    /// IPv6 addresses.
    Ipv6,
    /// 32-bit integers.
    Integer,
    /// Text of at most `len` bytes.
    String(usize),
    /// Binary of exactly `len` bytes (zero-padded).
    Binary(usize),
}

impl KeyType {
    /// HAProxy's name for it.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::Ip => "ip",
            KeyType::Ipv6 => "ipv6",
            KeyType::Integer => "integer",
            KeyType::String(_) => "string",
            KeyType::Binary(_) => "binary",
        }
    }
}

/// A key of a table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// An IPv4 address.
    V4([u8; 4]),
    /// An IPv6 address.
    V6([u8; 16]),
    /// An integer.
    Int(u32),
    /// Text or binary.
    Bytes(Vec<u8>),
}

impl KeyType {
    /// The key for an address (IPv4-mapped addresses fit an `ip` table).
    pub fn from_ip(self, ip: IpAddr) -> Option<Key> {
        match (self, ip) {
            (KeyType::Ip, IpAddr::V4(a)) => Some(Key::V4(a.octets())),
            (KeyType::Ip, IpAddr::V6(a)) => a.to_ipv4_mapped().map(|a| Key::V4(a.octets())),
            (KeyType::Ipv6, IpAddr::V4(a)) => Some(Key::V6(a.to_ipv6_mapped().octets())),
            (KeyType::Ipv6, IpAddr::V6(a)) => Some(Key::V6(a.octets())),
            (KeyType::Integer, IpAddr::V4(a)) => Some(Key::Int(u32::from(a))),
            (KeyType::String(_) | KeyType::Binary(_), ip) => {
                self.from_bytes(ip.to_string().as_bytes())
            }
            _ => None,
        }
    }

    /// The key for an integer.
    pub fn from_int(self, i: i64) -> Option<Key> {
        match self {
            KeyType::Integer => Some(Key::Int(i as u32)),
            KeyType::Ip => Some(Key::V4((i as u32).to_be_bytes())),
            KeyType::Ipv6 => None,
            _ => self.from_bytes(i.to_string().as_bytes()),
        }
    }

    /// The key for text or binary (text holding an address or a number fits those
    /// tables).
    pub fn from_bytes(self, b: &[u8]) -> Option<Key> {
        match self {
            KeyType::String(len) => Some(Key::Bytes(b[..b.len().min(len)].to_vec())),
            KeyType::Binary(len) => {
                let mut v = b[..b.len().min(len)].to_vec();
                v.resize(len, 0);
                Some(Key::Bytes(v))
            }
            KeyType::Integer => {
                let s = std::str::from_utf8(b).ok()?.trim();
                s.parse::<u32>()
                    .ok()
                    .or_else(|| s.parse::<i64>().ok().map(|i| i as u32))
                    .map(Key::Int)
            }
            KeyType::Ip | KeyType::Ipv6 => {
                let ip: IpAddr = std::str::from_utf8(b).ok()?.trim().parse().ok()?;
                self.from_ip(ip)
            }
        }
    }

    /// The key written on the runtime socket (`key K`).
    pub fn parse(self, s: &str) -> Option<Key> {
        match self {
            KeyType::Binary(_) => {
                let hex = (0..s.len() / 2)
                    .map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
                    .collect::<Option<Vec<u8>>>()?;
                (s.len() % 2 == 0).then_some(())?;
                self.from_bytes(&hex)
            }
            KeyType::Integer => s.parse::<u32>().ok().map(Key::Int),
            _ => self.from_bytes(s.as_bytes()),
        }
    }
}

impl Key {
    /// The key as `show table` prints it.
    pub fn show(&self) -> String {
        match self {
            Key::V4(a) => Ipv4Addr::from(*a).to_string(),
            Key::V6(a) => Ipv6Addr::from(*a).to_string(),
            Key::Int(i) => i.to_string(),
            Key::Bytes(b) => b
                .iter()
                .map(|&c| match c {
                    0x21..=0x7e if c != b'\\' => (c as char).to_string(),
                    b' ' => "\\ ".into(),
                    b'\\' => "\\\\".into(),
                    _ => format!("\\x{c:02x}"),
                })
                .collect(),
        }
    }

    /// A binary key in hexadecimal, as `show table` prints it.
    pub fn show_hex(&self) -> String {
        match self {
            Key::Bytes(b) => b.iter().map(|c| format!("{c:02X}")).collect(),
            k => k.show(),
        }
    }
}

/// What a table is: `stick-table type ... size ... [expire] [nopurge] [store ...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// Key type.
    pub key: KeyType,
    /// Maximum entries.
    pub size: u64,
    /// Lifetime of an untouched entry (ms).
    pub expire: Option<u64>,
    /// When full, refuse new keys rather than evict the oldest.
    pub nopurge: bool,
    /// Stored data types with their periods (ms; 0 for counters), in HAProxy's order.
    pub store: Vec<(Data, u64)>,
}

/// An entry's values, one per stored data type.
#[derive(Debug)]
struct Values {
    vals: Vec<Val>,
    expire: Option<u64>,
    refs: u32,
}

/// One key's entry.
#[derive(Debug)]
pub struct Entry {
    id: u64,
    key: Key,
    v: Mutex<Values>,
}

impl Entry {
    /// Its key.
    pub fn key(&self) -> &Key {
        &self.key
    }
}

/// A stick table.
#[derive(Debug)]
pub struct Table {
    /// The proxy that declares it.
    pub name: String,
    /// What it is.
    pub spec: Spec,
    /// Position of each data type in an entry's values (`ALL` order).
    slot: [Option<u8>; ALL.len()],
    map: Mutex<Map>,
    ids: AtomicU64,
    /// Set once the table is shared with peers: its local updates, numbered.
    shared: OnceLock<Updates>,
}

/// The local updates of a shared table, numbered in order (HAProxy's update tree):
/// each key appears once, under the number of its last update. A peer session
/// pushes the keys past the last number it sent.
#[derive(Debug, Default)]
pub struct Updates {
    log: Mutex<Log>,
    /// Woken at each local update.
    pub notify: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct Log {
    seq: u64,
    by_seq: BTreeMap<u64, Key>,
    by_key: HashMap<Key, u64>,
}

impl Updates {
    fn mark(&self, key: &Key) {
        {
            let mut l = lock(&self.log);
            l.seq += 1;
            let seq = l.seq;
            if let Some(old) = l.by_key.insert(key.clone(), seq) {
                l.by_seq.remove(&old);
            }
            l.by_seq.insert(seq, key.clone());
        }
        self.notify.notify_waiters();
    }

    /// The number of the last local update.
    pub fn last(&self) -> u64 {
        lock(&self.log).seq
    }

    /// Up to `max` keys updated after number `after`, with their numbers.
    pub fn after(&self, after: u64, max: usize) -> Vec<(u64, Key)> {
        lock(&self.log)
            .by_seq
            .range(after + 1..)
            .take(max)
            .map(|(n, k)| (*n, k.clone()))
            .collect()
    }

    /// Forgets a key no longer in the table.
    pub fn forget(&self, key: &Key) {
        let mut l = lock(&self.log);
        if let Some(n) = l.by_key.remove(key) {
            l.by_seq.remove(&n);
        }
    }
}

#[derive(Debug, Default)]
struct Map {
    entries: HashMap<Key, Arc<Entry>>,
    purged: u64,
}

impl Table {
    /// A new, empty table.
    pub fn new(name: &str, mut spec: Spec) -> Table {
        spec.store.sort();
        spec.store.dedup_by_key(|(d, _)| *d);
        let mut slot = [None; ALL.len()];
        for (i, (d, _)) in spec.store.iter().enumerate() {
            slot[d.index()] = Some(i as u8);
        }
        Table {
            name: name.to_string(),
            spec,
            slot,
            map: Mutex::new(Map::default()),
            ids: AtomicU64::new(0),
            shared: OnceLock::new(),
        }
    }

    /// Shares the table with peers: from now on its local updates are numbered.
    pub fn share(&self) -> &Updates {
        self.shared.get_or_init(Updates::default)
    }

    /// The values of an entry (in store order) and its remaining lifetime (ms).
    pub fn snapshot(&self, e: &Entry) -> (Vec<(Data, Val)>, Option<u64>) {
        let now = now_ms();
        let v = lock(&e.v);
        let vals = self
            .spec
            .store
            .iter()
            .zip(&v.vals)
            .map(|((d, _), val)| (*d, val.clone()))
            .collect();
        (vals, v.expire.map(|x| x.saturating_sub(now)))
    }

    /// Applies an update learned from a peer: the values it carries replace the
    /// entry's (but `conn_cur`, which counts this process's own connections), and
    /// the entry lives `expire` ms (the table's lifetime when not given). Not a
    /// local update: it is not pushed to the other peers.
    pub fn apply_remote(&self, key: Key, vals: Vec<(Data, Val)>, expire: Option<u64>) {
        let now = now_ms();
        let Some(e) = self.get_or_create_at(key, now) else {
            return;
        };
        let mut v = lock(&e.v);
        for (d, val) in vals {
            if d == Data::ConnCur {
                continue;
            }
            let Some(i) = self.slot[d.index()] else {
                continue;
            };
            let slot = &mut v.vals[i as usize];
            if std::mem::discriminant(slot) == std::mem::discriminant(&val) {
                *slot = val;
            }
        }
        if self.spec.expire.is_some() {
            v.expire = expire.or(self.spec.expire).map(|x| now + x);
        }
    }

    /// Whether it stores `d`.
    pub fn stores(&self, d: Data) -> bool {
        self.slot[d.index()].is_some()
    }

    fn period(&self, d: Data) -> u64 {
        self.slot[d.index()].map_or(0, |i| self.spec.store[i as usize].1)
    }

    fn expired(v: &Values, now: u64) -> bool {
        v.refs == 0 && v.expire.is_some_and(|e| e <= now)
    }

    /// Removes expired entries (at most once per 100 ms unless `force`).
    fn purge(&self, m: &mut Map, now: u64, force: bool) {
        if self.spec.expire.is_none() || (!force && now < m.purged + 100) {
            return;
        }
        m.purged = now;
        let shared = self.shared.get();
        m.entries.retain(|k, e| {
            let keep = !Self::expired(&lock(&e.v), now);
            if let (false, Some(u)) = (keep, shared) {
                // A shared table's update log forgets the keys that go.
                u.forget(k);
            }
            keep
        });
    }

    /// The live entry of `key`.
    pub fn lookup(&self, key: &Key) -> Option<Arc<Entry>> {
        self.lookup_at(key, now_ms())
    }

    fn lookup_at(&self, key: &Key, now: u64) -> Option<Arc<Entry>> {
        let mut m = lock(&self.map);
        let e = m.entries.get(key)?.clone();
        if Self::expired(&lock(&e.v), now) {
            m.entries.remove(key);
            return None;
        }
        Some(e)
    }

    /// The entry of `key`, created when missing (None when the table is full of
    /// entries in use, or full under `nopurge`).
    pub fn get_or_create(&self, key: Key) -> Option<Arc<Entry>> {
        self.get_or_create_at(key, now_ms())
    }

    fn get_or_create_at(&self, key: Key, now: u64) -> Option<Arc<Entry>> {
        let mut m = lock(&self.map);
        if let Some(e) = m.entries.get(&key) {
            let e = e.clone();
            let mut v = lock(&e.v);
            if !Self::expired(&v, now) {
                drop(v);
                return Some(e);
            }
            // Expired: starts again from zero.
            v.vals = self.spec.store.iter().map(|(d, _)| Val::new(*d)).collect();
            v.expire = self.spec.expire.map(|x| now + x);
            drop(v);
            return Some(e);
        }
        self.purge(&mut m, now, false);
        if m.entries.len() as u64 >= self.spec.size {
            self.purge(&mut m, now, true);
        }
        if m.entries.len() as u64 >= self.spec.size {
            if self.spec.nopurge {
                return None;
            }
            // Evict the unused entry that expires first (or was created first).
            let victim = m
                .entries
                .values()
                .filter_map(|e| {
                    let v = lock(&e.v);
                    (v.refs == 0).then(|| (v.expire.unwrap_or(0), e.id, e.key.clone()))
                })
                .min()?;
            m.entries.remove(&victim.2);
            if let Some(u) = self.shared.get() {
                u.forget(&victim.2);
            }
        }
        let e = Arc::new(Entry {
            id: self.ids.fetch_add(1, Relaxed) + 1,
            key: key.clone(),
            v: Mutex::new(Values {
                vals: self.spec.store.iter().map(|(d, _)| Val::new(*d)).collect(),
                expire: self.spec.expire.map(|x| now + x),
                refs: 0,
            }),
        });
        m.entries.insert(key, e.clone());
        Some(e)
    }

    /// Reads `d` of an entry: counters as they are, rates over their period; None
    /// when the table does not store it.
    pub fn read(&self, e: &Entry, d: Data) -> Option<u64> {
        self.read_at(e, d, now_ms())
    }

    fn read_at(&self, e: &Entry, d: Data, now: u64) -> Option<u64> {
        let i = self.slot[d.index()]? as usize;
        let v = lock(&e.v);
        Some(match &v.vals[i] {
            Val::Num(n) => *n,
            Val::Rate(f) => u64::from(f.read(now, self.period(d))),
            Val::Text(_) => 0,
        })
    }

    /// The text of a `server_key`.
    pub fn read_text(&self, e: &Entry, d: Data) -> Option<String> {
        let i = self.slot[d.index()]? as usize;
        match &lock(&e.v).vals[i] {
            Val::Text(t) => Some(t.clone()),
            _ => None,
        }
    }

    /// How many requests track the entry.
    pub fn trackers(&self, e: &Entry) -> u32 {
        lock(&e.v).refs
    }

    /// Applies `f` to the entry's values and renews its expiry.
    fn update(
        &self,
        e: &Entry,
        now: u64,
        f: impl FnOnce(&mut Values, &dyn Fn(Data) -> Option<usize>),
    ) {
        {
            let mut v = lock(&e.v);
            let slot = |d: Data| self.slot[d.index()].map(usize::from);
            f(&mut v, &slot);
            if let Some(x) = self.spec.expire {
                v.expire = Some(now + x);
            }
        }
        if let Some(u) = self.shared.get() {
            u.mark(&e.key);
        }
    }

    /// Adds `n` to a counter and to its rate; gives the counter's new value (None
    /// when neither is stored).
    pub fn add(&self, e: &Entry, counter: Data, n: u64) -> Option<u64> {
        self.add_at(e, counter, n, now_ms())
    }

    fn add_at(&self, e: &Entry, counter: Data, n: u64, now: u64) -> Option<u64> {
        let mut out = None;
        let rate = counter.rate_of();
        let period = rate.map_or(0, |r| self.period(r));
        self.update(e, now, |v, slot| {
            if let Some(Val::Num(c)) = slot(counter).map(|i| &mut v.vals[i]) {
                *c = c.wrapping_add(n);
                out = Some(*c);
            }
            if let Some(Val::Rate(f)) = rate.and_then(slot).map(|i| &mut v.vals[i]) {
                f.add(now, period, n.min(u64::from(u32::MAX)) as u32);
                out = out.or(Some(0));
            }
        });
        out
    }

    /// Sets a counter or tag (`set table`, `sc-set-gpt0`, `clr_gpc0`); gives the old
    /// value (None when not stored). A rate is restarted with `n` events now.
    pub fn set(&self, e: &Entry, d: Data, n: u64) -> Option<u64> {
        let now = now_ms();
        let mut old = None;
        let period = self.period(d);
        self.update(e, now, |v, slot| match slot(d).map(|i| &mut v.vals[i]) {
            Some(Val::Num(c)) => old = Some(std::mem::replace(c, n)),
            Some(Val::Rate(f)) => {
                old = Some(u64::from(f.read(now, period)));
                *f = Default::default();
                f.add(now, period, n.min(u64::from(u32::MAX)) as u32);
            }
            _ => {}
        });
        old
    }

    /// Stores the server of a `stick` rule (`server_id`, `server_key`).
    pub fn set_server(&self, e: &Entry, id: u64, name: &str) {
        self.update(e, now_ms(), |v, slot| {
            if let Some(Val::Num(c)) = slot(Data::ServerId).map(|i| &mut v.vals[i]) {
                *c = id;
            }
            if let Some(Val::Text(t)) = slot(Data::ServerKey).map(|i| &mut v.vals[i]) {
                name.clone_into(t);
            }
        });
    }

    /// Starts tracking the entry: one more user, a connection counted.
    pub fn track(&self, e: &Entry) {
        let now = now_ms();
        self.update(e, now, |v, _| v.refs += 1);
        self.add_at(e, Data::ConnCnt, 1, now);
        self.add_at(e, Data::ConnCur, 1, now);
    }

    /// Ends a tracking started with `track`.
    pub fn untrack(&self, e: &Entry) {
        self.update(e, now_ms(), |v, slot| {
            v.refs = v.refs.saturating_sub(1);
            if let Some(Val::Num(c)) = slot(Data::ConnCur).map(|i| &mut v.vals[i]) {
                *c = c.saturating_sub(1);
            }
        });
    }

    /// Live entries.
    pub fn used(&self) -> usize {
        let now = now_ms();
        let mut m = lock(&self.map);
        self.purge(&mut m, now, true);
        m.entries.len()
    }

    /// Live entries, oldest first.
    pub fn entries(&self) -> Vec<Arc<Entry>> {
        let now = now_ms();
        let mut m = lock(&self.map);
        self.purge(&mut m, now, true);
        let mut v: Vec<_> = m.entries.values().cloned().collect();
        v.sort_by_key(|e| e.id);
        v
    }

    /// Removes an entry not in use (true when removed).
    pub fn remove(&self, key: &Key) -> bool {
        let mut m = lock(&self.map);
        match m.entries.get(key) {
            Some(e) if lock(&e.v).refs == 0 => {
                m.entries.remove(key);
                true
            }
            _ => false,
        }
    }

    /// Removes every entry not in use.
    pub fn clear(&self) {
        lock(&self.map).entries.retain(|_, e| lock(&e.v).refs > 0);
    }

    /// `show table`'s header line.
    pub fn show_header(&self) -> String {
        self.show_header_used(self.used())
    }

    /// The same with `used` counted by the caller (from the entries it lists, so that
    /// an entry expiring in between is neither counted nor listed).
    pub fn show_header_used(&self, used: usize) -> String {
        format!(
            "# table: {}, type: {}, size:{}, used:{}\n",
            self.name,
            self.spec.key.name(),
            self.spec.size,
            used
        )
    }

    /// `show table`'s line for an entry.
    pub fn show_entry(&self, e: &Entry) -> String {
        self.show_entry_at(e, now_ms())
    }

    fn show_entry_at(&self, e: &Entry, now: u64) -> String {
        let key = match self.spec.key {
            KeyType::Binary(_) => e.key.show_hex(),
            _ => e.key.show(),
        };
        let v = lock(&e.v);
        let exp = v.expire.map_or(0, |x| x.saturating_sub(now));
        let mut o = format!("0x{:x}: key={key} use={} exp={exp}", e.id, v.refs);
        for (i, (d, period)) in self.spec.store.iter().enumerate() {
            o.push(' ');
            o.push_str(d.name());
            if d.is_rate() {
                o.push_str(&format!("({period})"));
            }
            o.push('=');
            match &v.vals[i] {
                Val::Num(n) if *d == Data::Gpt0 || *d == Data::ServerId => {
                    o.push_str(&(*n as u32 as i32).to_string())
                }
                Val::Num(n) if matches!(d, Data::BytesInCnt | Data::BytesOutCnt) => {
                    o.push_str(&n.to_string())
                }
                Val::Num(n) => o.push_str(&(*n as u32).to_string()),
                Val::Rate(f) => o.push_str(&f.read(now, *period).to_string()),
                Val::Text(t) => o.push_str(t),
            }
        }
        o.push('\n');
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(size: u64, expire: Option<u64>, nopurge: bool) -> Table {
        Table::new(
            "t",
            Spec {
                key: KeyType::Ip,
                size,
                expire,
                nopurge,
                store: vec![
                    (Data::HttpReqRate, 1000),
                    (Data::ConnCur, 0),
                    (Data::Gpc0, 0),
                ],
            },
        )
    }

    fn ip(s: &str) -> Key {
        KeyType::Ip.from_bytes(s.as_bytes()).unwrap()
    }

    #[test]
    fn entries_expire_unless_in_use() {
        let t = table(10, Some(100), false);
        let a = t.get_or_create_at(ip("10.0.0.1"), 1000).unwrap();
        assert!(t.lookup_at(&ip("10.0.0.1"), 1099).is_some());
        assert!(t.lookup_at(&ip("10.0.0.1"), 1100).is_none(), "expired");
        let b = t.get_or_create_at(ip("10.0.0.2"), 2000).unwrap();
        t.update(&b, 2000, |v, _| v.refs += 1);
        assert!(t.lookup_at(&ip("10.0.0.2"), 5000).is_some(), "tracked");
        drop(a);
    }

    #[test]
    fn a_full_table_evicts_the_oldest_or_refuses_under_nopurge() {
        let t = table(2, Some(10_000), false);
        t.get_or_create_at(ip("10.0.0.1"), 1000).unwrap();
        t.get_or_create_at(ip("10.0.0.2"), 1001).unwrap();
        t.get_or_create_at(ip("10.0.0.3"), 1002).unwrap();
        assert!(
            t.lookup_at(&ip("10.0.0.1"), 1003).is_none(),
            "oldest evicted"
        );
        assert!(t.lookup_at(&ip("10.0.0.3"), 1003).is_some());
        let n = table(1, None, true);
        n.get_or_create_at(ip("10.0.0.1"), 0).unwrap();
        assert!(n.get_or_create_at(ip("10.0.0.2"), 0).is_none());
    }

    #[test]
    fn counters_rates_and_the_show_line() {
        let t = table(10, None, false);
        let e = t.get_or_create_at(ip("127.0.0.1"), 5).unwrap();
        for i in 0..3 {
            t.add_at(&e, Data::HttpReqCnt, 1, 10 + i);
        }
        assert_eq!(t.read_at(&e, Data::HttpReqRate, 20), Some(3));
        assert_eq!(t.read_at(&e, Data::HttpReqCnt, 20), None, "not stored");
        assert_eq!(t.add_at(&e, Data::Gpc0, 2, 20), Some(2));
        assert_eq!(
            t.show_entry_at(&e, 20),
            "0x1: key=127.0.0.1 use=0 exp=0 gpc0=2 conn_cur=0 http_req_rate(1000)=3\n"
        );
        assert_eq!(t.show_header(), "# table: t, type: ip, size:10, used:1\n");
    }

    #[test]
    fn a_shared_table_numbers_local_updates_not_remote_ones() {
        let t = table(10, Some(10_000), false);
        let a = t.get_or_create(ip("10.0.0.1")).unwrap();
        t.add(&a, Data::Gpc0, 1);
        let u = t.share();
        assert_eq!(u.last(), 0, "updates before sharing are not numbered");
        t.add(&a, Data::Gpc0, 1);
        let b = t.get_or_create(ip("10.0.0.2")).unwrap();
        t.add(&b, Data::Gpc0, 1);
        t.add(&a, Data::Gpc0, 1);
        // Each key once, under its last update.
        assert_eq!(
            u.after(0, 10),
            vec![(2, ip("10.0.0.2")), (3, ip("10.0.0.1"))]
        );
        assert_eq!(u.after(2, 10), vec![(3, ip("10.0.0.1"))]);
        // A peer's update is applied, not numbered; conn_cur stays local.
        t.apply_remote(
            ip("10.0.0.3"),
            vec![(Data::Gpc0, Val::Num(7)), (Data::ConnCur, Val::Num(5))],
            Some(500),
        );
        assert_eq!(u.last(), 3);
        let c = t.lookup(&ip("10.0.0.3")).unwrap();
        assert_eq!(t.read(&c, Data::Gpc0), Some(7));
        assert_eq!(t.read(&c, Data::ConnCur), Some(0));
        let (_, exp) = t.snapshot(&c);
        assert!(exp.is_some_and(|e| e <= 500), "{exp:?}");
        u.forget(&ip("10.0.0.1"));
        assert_eq!(u.after(0, 10), vec![(2, ip("10.0.0.2"))]);
    }

    #[test]
    fn keys_of_each_type() {
        assert_eq!(
            KeyType::Ip.from_ip("::ffff:10.1.2.3".parse().unwrap()),
            Some(Key::V4([10, 1, 2, 3]))
        );
        assert_eq!(KeyType::Integer.parse("42"), Some(Key::Int(42)));
        assert_eq!(
            KeyType::String(3).parse("abcdef"),
            Some(Key::Bytes(b"abc".to_vec()))
        );
        assert_eq!(
            KeyType::Binary(4).parse("0A0b"),
            Some(Key::Bytes(vec![10, 11, 0, 0]))
        );
        assert_eq!(KeyType::Binary(2).parse("0A0"), None);
        assert_eq!(Key::Bytes(b"a b".to_vec()).show(), "a\\ b");
    }
}
