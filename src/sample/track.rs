//! The stick-table fetches and converters: `sc_*(N[,T])`, `sc0_*`/`sc1_*`/`sc2_*`
//! (`[T]`) read the entry a `track-scN` rule tracks; `src_*([T])` the client
//! address's entry; `table_cnt`/`table_avl`; the `table_*(T)` converters and
//! `in_table(T)` look the input up as a key. They read `Env::stick`.
//!
//! As in HAProxy: a data type the table does not store gives no sample; a key with
//! no entry gives 0; `sc*_` with no tracked entry gives no sample (`sc*_tracked`:
//! false); a table named in `sc*_` looks up the tracked key in that table.

use super::conv::ConvDef;
use super::expr::{Arg, ArgT, Emit, Env};
use super::fetch::l4a as fd;
use super::fetch::FetchDef;
use super::value::{Type, Value};
use crate::stick::{Data, Entry, Key, KeyType, Table};
use std::sync::Arc;

/// What a fetch does with the entry.
#[derive(Debug, Clone, Copy)]
enum W {
    /// Reads a data type.
    Read(Data),
    /// Reads a byte counter in kilobytes.
    Kbytes(Data),
    /// Increments gpc0/gpc1 (and its rate), gives the new value.
    Inc(Data),
    /// Zeroes gpc0/gpc1, gives the old value.
    Clr(Data),
    /// Whether the slot tracks an entry.
    Tracked,
    /// How many requests track the entry.
    Trackers,
}

/// Where the entry comes from.
#[derive(Debug, Clone, Copy)]
enum From {
    /// `scN_*([T])`.
    Sc(usize),
    /// `sc_*(N[,T])`.
    ScArg,
    /// `src_*([T])`.
    Src,
}

fn table_arg(a: Option<&Arg>) -> Option<&str> {
    a.map(Arg::text).filter(|t| !t.is_empty())
}

/// The table and the entry (None: no such key) a fetch reads; None: no sample.
fn stkctr(from: From, w: W, a: &[Arg], env: &Env<'_>) -> Option<(Arc<Table>, Option<Arc<Entry>>)> {
    let (slot, tname) = match from {
        From::Sc(n) => (n, table_arg(a.first())),
        From::ScArg => (a.first()?.int()? as usize, table_arg(a.get(1))),
        From::Src => {
            let t = env.stick.table(table_arg(a.first()))?;
            let key = t.spec.key.from_ip(env.src?.ip())?;
            let e = match w {
                W::Inc(_) | W::Clr(_) => t.get_or_create(key),
                _ => t.lookup(&key),
            };
            return Some((t.clone(), e));
        }
    };
    let tracked = env.stick.slot(slot)?;
    match tname {
        Some(n) if n != tracked.table.name => {
            let t = env.stick.table(Some(n))?;
            let e = t.lookup(tracked.entry.key());
            Some((t.clone(), e))
        }
        _ => Some((tracked.table.clone(), Some(tracked.entry.clone()))),
    }
}

/// Computes a fetch or converter on an entry.
fn value(w: W, t: &Table, e: Option<&Entry>) -> Option<i64> {
    let n = match w {
        W::Tracked => return Some(1),
        W::Trackers => e.map_or(0, |e| t.trackers(e) as i64),
        W::Read(d) | W::Kbytes(d) if !t.stores(d) => return None,
        W::Read(d) => e.and_then(|e| t.read(e, d)).unwrap_or(0) as i64,
        W::Kbytes(d) => (e.and_then(|e| t.read(e, d)).unwrap_or(0) >> 10) as i64,
        W::Inc(d) => e.and_then(|e| t.add(e, d, 1)).unwrap_or(0) as i64,
        W::Clr(d) => e.and_then(|e| t.set(e, d, 0)).unwrap_or(0) as i64,
    };
    Some(n)
}

fn run<'a>(from: From, w: W, a: &'a [Arg], env: &Env<'a>, e: Emit<'_, 'a>) {
    match (stkctr(from, w, a, env), w) {
        (None, W::Tracked) => {
            e(Value::Bool(false));
        }
        (Some(_), W::Tracked) => {
            e(Value::Bool(true));
        }
        (Some((t, entry)), w) => {
            if let Some(n) = value(w, &t, entry.as_deref()) {
                e(Value::Int(n));
            }
        }
        (None, _) => {}
    }
}

use ArgT::{Int as I, Str as S};
use Data::*;

/// Builds the fetch table: each `both` name as sc_, sc0_, sc1_, sc2_ and src_; each
/// `sc` name without src_.
macro_rules! fetches {
    (both: [$(($n:literal, $w:expr)),* $(,)?], sc: [$(($m:literal, $v:expr, $t:expr)),* $(,)?]) => {
        &[
            $(
                fd(concat!("sc_", $n), &[I, S], 1, Type::Int, |a, env, e| run(From::ScArg, $w, a, env, e)),
                fd(concat!("sc0_", $n), &[S], 0, Type::Int, |a, env, e| run(From::Sc(0), $w, a, env, e)),
                fd(concat!("sc1_", $n), &[S], 0, Type::Int, |a, env, e| run(From::Sc(1), $w, a, env, e)),
                fd(concat!("sc2_", $n), &[S], 0, Type::Int, |a, env, e| run(From::Sc(2), $w, a, env, e)),
                fd(concat!("src_", $n), &[S], 0, Type::Int, |a, env, e| run(From::Src, $w, a, env, e)),
            )*
            $(
                fd(concat!("sc_", $m), &[I, S], 1, $t, |a, env, e| run(From::ScArg, $v, a, env, e)),
                fd(concat!("sc0_", $m), &[S], 0, $t, |a, env, e| run(From::Sc(0), $v, a, env, e)),
                fd(concat!("sc1_", $m), &[S], 0, $t, |a, env, e| run(From::Sc(1), $v, a, env, e)),
                fd(concat!("sc2_", $m), &[S], 0, $t, |a, env, e| run(From::Sc(2), $v, a, env, e)),
            )*
            fd("table_cnt", &[S], 0, Type::Int, |a, env, e| {
                if let Some(t) = env.stick.table(table_arg(a.first())) {
                    e(Value::Int(t.used() as i64));
                }
            }),
            fd("table_avl", &[S], 0, Type::Int, |a, env, e| {
                if let Some(t) = env.stick.table(table_arg(a.first())) {
                    e(Value::Int(t.spec.size.saturating_sub(t.used() as u64) as i64));
                }
            }),
        ]
    };
}

/// The stick-table fetches.
pub static FETCHES: &[FetchDef] = fetches!(
    both: [
        ("conn_cnt", W::Read(ConnCnt)),
        ("conn_cur", W::Read(ConnCur)),
        ("conn_rate", W::Read(ConnRate)),
        ("sess_cnt", W::Read(SessCnt)),
        ("sess_rate", W::Read(SessRate)),
        ("http_req_cnt", W::Read(HttpReqCnt)),
        ("http_req_rate", W::Read(HttpReqRate)),
        ("http_err_cnt", W::Read(HttpErrCnt)),
        ("http_err_rate", W::Read(HttpErrRate)),
        ("http_fail_cnt", W::Read(HttpFailCnt)),
        ("http_fail_rate", W::Read(HttpFailRate)),
        ("bytes_in_rate", W::Read(BytesInRate)),
        ("bytes_out_rate", W::Read(BytesOutRate)),
        ("kbytes_in", W::Kbytes(BytesInCnt)),
        ("kbytes_out", W::Kbytes(BytesOutCnt)),
        ("get_gpc0", W::Read(Gpc0)),
        ("get_gpc1", W::Read(Gpc1)),
        ("gpc0_rate", W::Read(Gpc0Rate)),
        ("gpc1_rate", W::Read(Gpc1Rate)),
        ("get_gpt0", W::Read(Gpt0)),
        ("inc_gpc0", W::Inc(Gpc0)),
        ("inc_gpc1", W::Inc(Gpc1)),
        ("clr_gpc0", W::Clr(Gpc0)),
        ("clr_gpc1", W::Clr(Gpc1)),
    ],
    sc: [
        ("tracked", W::Tracked, Type::Bool),
        ("trackers", W::Trackers, Type::Int),
    ]
);

/// The fetch of this table called `name`.
pub fn find(name: &str) -> Option<&'static FetchDef> {
    FETCHES.iter().find(|f| f.name == name)
}

/// The key a sample gives in table `t` (a converter's input, a `track-sc` key).
pub fn key_of(t: &Table, v: &Value<'_>) -> Option<Key> {
    let k: KeyType = t.spec.key;
    match v {
        Value::Ip(ip) => k.from_ip(*ip),
        Value::Int(i) => k.from_int(*i),
        Value::Bool(b) => k.from_int(i64::from(*b)),
        Value::Str(s) | Value::Bin(s) => k.from_bytes(s),
    }
}

fn conv<'a>(w: W, a: &'a [Arg], v: Value<'a>, env: &Env<'a>) -> Option<Value<'a>> {
    let t = env.stick.table(table_arg(a.first()))?;
    let key = key_of(t, &v)?;
    let e = t.lookup(&key);
    value(w, t, e.as_deref()).map(Value::Int)
}

const fn cd(name: &'static str, out: Type, f: super::conv::ConvFn) -> ConvDef {
    ConvDef {
        name,
        args: &[S],
        min: 1,
        input: Type::Any,
        out,
        f,
        check: None,
    }
}

/// Builds the `table_*` converters.
macro_rules! convs {
    ($(($n:literal, $w:expr)),* $(,)?) => {
        &[
            cd("in_table", Type::Bool, |a, v, env| {
                let t = env.stick.table(table_arg(a.first()))?;
                let key = key_of(t, &v)?;
                Some(Value::Bool(t.lookup(&key).is_some()))
            }),
            $( cd(concat!("table_", $n), Type::Int, |a, v, env| conv($w, a, v, env)), )*
        ]
    };
}

/// The stick-table converters.
pub static CONVS: &[ConvDef] = convs!(
    ("bytes_in_rate", W::Read(BytesInRate)),
    ("bytes_out_rate", W::Read(BytesOutRate)),
    ("conn_cnt", W::Read(ConnCnt)),
    ("conn_cur", W::Read(ConnCur)),
    ("conn_rate", W::Read(ConnRate)),
    ("gpt0", W::Read(Gpt0)),
    ("gpc0", W::Read(Gpc0)),
    ("gpc0_rate", W::Read(Gpc0Rate)),
    ("gpc1", W::Read(Gpc1)),
    ("gpc1_rate", W::Read(Gpc1Rate)),
    ("http_err_cnt", W::Read(HttpErrCnt)),
    ("http_err_rate", W::Read(HttpErrRate)),
    ("http_fail_cnt", W::Read(HttpFailCnt)),
    ("http_fail_rate", W::Read(HttpFailRate)),
    ("http_req_cnt", W::Read(HttpReqCnt)),
    ("http_req_rate", W::Read(HttpReqRate)),
    ("kbytes_in", W::Kbytes(BytesInCnt)),
    ("kbytes_out", W::Kbytes(BytesOutCnt)),
    ("server_id", W::Read(ServerId)),
    ("sess_cnt", W::Read(SessCnt)),
    ("sess_rate", W::Read(SessRate)),
    ("trackers", W::Trackers),
);

#[cfg(test)]
mod tests {
    use super::super::Expr;
    use super::*;
    use crate::stick::{Spec, Tables, Trackers, View};

    fn tables() -> Tables {
        Tables::build(
            [(
                "per_ip",
                Spec {
                    key: KeyType::Ip,
                    size: 10,
                    expire: None,
                    nopurge: false,
                    store: vec![(HttpReqRate, 1000), (Gpc0, 0), (ConnCur, 0)],
                },
            )],
            None,
        )
    }

    fn eval(expr: &str, env: &Env<'_>) -> Option<String> {
        let e = Expr::parse(expr).unwrap();
        e.eval(env)
            .map(|v| String::from_utf8_lossy(&v.to_bytes()).into_owned())
    }

    #[test]
    fn tracked_counters_and_tables() {
        let tables = tables();
        let tr = Trackers::default();
        let t = tables.get("per_ip").unwrap();
        tr.track(0, t, KeyType::Ip.from_bytes(b"10.0.0.1").unwrap());
        let env = Env {
            src: Some("10.0.0.1:5000".parse().unwrap()),
            stick: View {
                tables: Some(&tables),
                tracked: Some(&tr),
                session: None,
                proxy: Some("per_ip"),
            },
            ..Env::default()
        };
        assert_eq!(eval("sc_http_req_rate(0)", &env).as_deref(), Some("1"));
        assert_eq!(
            eval("sc0_http_req_rate(per_ip)", &env).as_deref(),
            Some("1")
        );
        assert_eq!(
            eval("sc1_http_req_rate", &env),
            None,
            "slot 1 is not tracked"
        );
        assert_eq!(eval("sc1_tracked", &env).as_deref(), Some("0"));
        assert_eq!(eval("sc0_tracked", &env).as_deref(), Some("1"));
        assert_eq!(eval("sc0_http_err_cnt", &env), None, "not stored");
        assert_eq!(eval("sc0_inc_gpc0", &env).as_deref(), Some("1"));
        assert_eq!(eval("src_get_gpc0", &env).as_deref(), Some("1"));
        assert_eq!(eval("src_conn_cur(per_ip)", &env).as_deref(), Some("1"));
        assert_eq!(eval("sc_trackers(0)", &env).as_deref(), Some("1"));
        assert_eq!(eval("table_cnt", &env).as_deref(), Some("1"));
        assert_eq!(eval("table_avl(per_ip)", &env).as_deref(), Some("9"));
        assert_eq!(
            eval("src,table_http_req_rate(per_ip)", &env).as_deref(),
            Some("1")
        );
        assert_eq!(
            eval("str(10.9.9.9),table_gpc0(per_ip)", &env).as_deref(),
            Some("0")
        );
        assert_eq!(
            eval("str(10.0.0.1),in_table(per_ip)", &env).as_deref(),
            Some("1")
        );
        assert_eq!(
            eval("str(10.9.9.9),in_table(per_ip)", &env).as_deref(),
            Some("0")
        );
        assert_eq!(eval("src_clr_gpc0", &env).as_deref(), Some("1"));
        assert_eq!(eval("src_get_gpc0", &env).as_deref(), Some("0"));
        assert_eq!(eval("src,table_http_req_rate(nosuch)", &env), None);
    }
}
