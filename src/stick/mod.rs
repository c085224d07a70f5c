//! Stick tables: HAProxy's per-key counters (`stick-table ... store ...`), the
//! entries a request tracks (`track-sc0/1/2`), and what the sample fetches read.
//!
//! Pure data, no sockets: `freq` (sliding rates), `data` (the data types), `table`
//! (keys, entries, expiry, `show table` lines). The runtime graph owns a [`Tables`]
//! built from the configuration; a reload keeps every table whose definition did not
//! change, with its entries. A request owns a [`Trackers`]; the sample engine sees
//! both through a [`View`] in its `Env`.

pub mod data;
pub mod freq;
pub mod peers;
pub mod table;

pub use data::Data;
pub use table::{now_ms, Entry, Key, KeyType, Spec, Table};

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// The tables of a running configuration, by the name of the proxy declaring them.
#[derive(Debug, Default)]
pub struct Tables {
    by_name: HashMap<String, Arc<Table>>,
}

impl Tables {
    /// The tables of `specs`, keeping those of `prev` whose definition is unchanged.
    pub fn build<'s>(
        specs: impl IntoIterator<Item = (&'s str, Spec)>,
        prev: Option<&Tables>,
    ) -> Tables {
        let mut by_name = HashMap::new();
        for (name, spec) in specs {
            let mut sorted = spec.clone();
            sorted.store.sort();
            sorted.store.dedup_by_key(|(d, _)| *d);
            let t = match prev.and_then(|p| p.by_name.get(name)) {
                Some(old) if old.spec == sorted => old.clone(),
                _ => Arc::new(Table::new(name, spec)),
            };
            by_name.insert(name.to_string(), t);
        }
        Tables { by_name }
    }

    /// The table declared by proxy `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Table>> {
        self.by_name.get(name)
    }

    /// Every table, in name order.
    pub fn all(&self) -> Vec<&Arc<Table>> {
        let mut v: Vec<_> = self.by_name.values().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }
}

/// An entry a request tracks; dropping it ends the tracking (`conn_cur` falls).
#[derive(Debug)]
pub struct Tracked {
    /// The table.
    pub table: Arc<Table>,
    /// The entry.
    pub entry: Arc<Entry>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.table.untrack(&self.entry);
    }
}

/// The request's three tracking slots (sc0, sc1, sc2). A slot is set once: as in
/// HAProxy, only the first `track-scN` that finds a key applies.
#[derive(Debug, Default)]
pub struct Trackers {
    sc: [OnceLock<Tracked>; 3],
}

impl Trackers {
    /// Tracks `key` of `table` in slot `n` (counting a connection and a request);
    /// does nothing when the slot is taken or the table is full.
    pub fn track(&self, n: usize, table: &Arc<Table>, key: Key) {
        self.track_as(n, table, key, true)
    }

    /// The same, counting an HTTP request only when `http` (`track-sc*` in tcp rules
    /// of a `mode tcp` proxy counts a connection alone).
    pub fn track_as(&self, n: usize, table: &Arc<Table>, key: Key, http: bool) {
        let Some(slot) = self.sc.get(n) else { return };
        if slot.get().is_some() {
            return;
        }
        let Some(entry) = table.get_or_create(key) else {
            return;
        };
        table.track(&entry);
        if http {
            table.add(&entry, Data::HttpReqCnt, 1);
        }
        let _ = slot.set(Tracked {
            table: table.clone(),
            entry,
        });
    }

    /// The entry tracked in slot `n`.
    pub fn get(&self, n: usize) -> Option<&Tracked> {
        self.sc.get(n)?.get()
    }

    /// Each tracked entry.
    pub fn each(&self) -> impl Iterator<Item = &Tracked> {
        self.sc.iter().filter_map(|s| s.get())
    }

    /// Counts a response: a 4xx is an error; a 5xx other than 501 and 505 is a
    /// failure when a server was involved (`server`), not when lbd answered alone
    /// (no backend, a rule).
    pub fn response(&self, status: u16, server: bool) {
        let d = match status {
            400..=499 => Data::HttpErrCnt,
            501 | 505 => return,
            500..=599 if server => Data::HttpFailCnt,
            _ => return,
        };
        for t in self.each() {
            t.table.add(&t.entry, d, 1);
        }
    }

    /// Counts an HTTP request on every tracked entry.
    pub fn request(&self) {
        for t in self.each() {
            t.table.add(&t.entry, Data::HttpReqCnt, 1);
        }
    }

    /// Counts the bytes of an exchange (client → server, server → client).
    pub fn bytes(&self, bytes_in: u64, bytes_out: u64) {
        for t in self.each() {
            t.table.add(&t.entry, Data::BytesInCnt, bytes_in);
            t.table.add(&t.entry, Data::BytesOutCnt, bytes_out);
        }
    }
}

/// What the `sc_*`, `src_*` and `table_*` fetches and converters read: the running
/// tables, the request's tracked entries, and the proxy whose table is the default.
#[derive(Debug, Clone, Copy, Default)]
pub struct View<'a> {
    /// The tables by name.
    pub tables: Option<&'a Tables>,
    /// The request's tracked entries.
    pub tracked: Option<&'a Trackers>,
    /// The proxy the rule belongs to (its table serves `src_*` without a table).
    pub proxy: Option<&'a str>,
    /// The entries the connection tracks (`tcp-request connection|session
    /// track-sc*` in `mode http`), for the slots the request leaves free.
    pub session: Option<&'a Trackers>,
}

impl<'a> View<'a> {
    /// The table named `name`, or the current proxy's.
    pub fn table(&self, name: Option<&str>) -> Option<&'a Arc<Table>> {
        self.tables?.get(name.or(self.proxy)?)
    }

    /// The entry tracked in slot `n`: the request's, else the connection's.
    pub fn slot(&self, n: usize) -> Option<&'a Tracked> {
        self.tracked
            .and_then(|t| t.get(n))
            .or_else(|| self.session?.get(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(store: Vec<(Data, u64)>) -> Spec {
        Spec {
            key: KeyType::Ip,
            size: 100,
            expire: Some(10_000),
            nopurge: false,
            store,
        }
    }

    #[test]
    fn tracking_counts_and_ends() {
        let tables = Tables::build(
            [(
                "per_ip",
                spec(vec![
                    (Data::ConnCur, 0),
                    (Data::ConnCnt, 0),
                    (Data::HttpReqCnt, 0),
                    (Data::HttpErrCnt, 0),
                ]),
            )],
            None,
        );
        let t = tables.get("per_ip").unwrap();
        let key = KeyType::Ip.from_bytes(b"10.0.0.9").unwrap();
        let tr = Trackers::default();
        tr.track(0, t, key.clone());
        tr.track(0, t, key.clone());
        tr.response(404, false);
        tr.response(503, false);
        let e = t.lookup(&key).unwrap();
        assert_eq!(t.read(&e, Data::ConnCur), Some(1));
        assert_eq!(
            t.read(&e, Data::HttpReqCnt),
            Some(1),
            "a taken slot is kept"
        );
        assert_eq!(t.read(&e, Data::HttpErrCnt), Some(1));
        assert_eq!(t.trackers(&e), 1);
        drop(tr);
        assert_eq!(t.read(&e, Data::ConnCur), Some(0));
        assert_eq!(t.read(&e, Data::ConnCnt), Some(1));
        assert_eq!(t.trackers(&e), 0);
    }

    #[test]
    fn a_reload_keeps_unchanged_tables() {
        let a = Tables::build([("t", spec(vec![(Data::Gpc0, 0)]))], None);
        let b = Tables::build([("t", spec(vec![(Data::Gpc0, 0)]))], Some(&a));
        assert!(Arc::ptr_eq(a.get("t").unwrap(), b.get("t").unwrap()));
        let c = Tables::build([("t", spec(vec![(Data::Gpc1, 0)]))], Some(&b));
        assert!(!Arc::ptr_eq(b.get("t").unwrap(), c.get("t").unwrap()));
    }
}
