//! The runtime socket's stick-table commands, in HAProxy 2.6's words:
//! `show table [NAME [data.TYPE OP VALUE]... [key K]]`, `clear table NAME
//! [data.TYPE OP VALUE]... [key K]` (operator level) and `set table NAME key K
//! [data.TYPE VALUE]...` (admin level).

use crate::config::model::StatsLevel;
use crate::graph::Graph;
use crate::stick::{Data, Entry, Table};
use std::sync::Arc;

/// A `data.TYPE OP VALUE` filter.
struct Filter {
    data: Data,
    op: fn(u64, u64) -> bool,
    value: u64,
}

fn data_type(word: &str) -> Option<Data> {
    Data::named(word.strip_prefix("data.")?)
}

/// The entry of `key K` when given: (whether a key was given, its entry if any).
type Keyed = (bool, Option<Arc<Entry>>);

/// Parses the words after the table name: filters and `key K`.
fn parse_args(t: &Table, args: &[&str]) -> Result<(Vec<Filter>, Keyed), String> {
    let mut filters = Vec::new();
    let mut entry = None;
    let mut keyed = false;
    let mut i = 0;
    while i < args.len() {
        match args[i] {
            "key" => {
                let k = args.get(i + 1).ok_or("Key value expected\n")?;
                let key = t.spec.key.parse(k).ok_or("Invalid key\n")?;
                entry = t.lookup(&key);
                keyed = true;
                i += 2;
            }
            w if w.starts_with("data.") => {
                let data = data_type(w).ok_or("Unknown data type\n")?;
                if !t.stores(data) {
                    return Err("Data type not stored in this table\n".into());
                }
                let op: fn(u64, u64) -> bool = match args.get(i + 1).copied() {
                    Some("eq") => |a, b| a == b,
                    Some("ne") => |a, b| a != b,
                    Some("le") => |a, b| a <= b,
                    Some("ge") => |a, b| a >= b,
                    Some("lt") => |a, b| a < b,
                    Some("gt") => |a, b| a > b,
                    _ => return Err("Require a valid filter operator\n".into()),
                };
                let value = args
                    .get(i + 2)
                    .and_then(|v| v.parse::<u64>().ok())
                    .ok_or("Require a valid integer value to compare against\n")?;
                filters.push(Filter { data, op, value });
                i += 3;
            }
            _ => return Err("Optional argument only supports \"data.<store_data_type>\" <operator> <value> and key <key>\n".into()),
        }
    }
    Ok((filters, (keyed, entry)))
}

fn selected(t: &Table, filters: &[Filter], e: &Entry) -> bool {
    filters
        .iter()
        .all(|f| t.read(e, f.data).is_some_and(|v| (f.op)(v, f.value)))
}

/// Runs `show|clear|set table ...` (`words` starts with the verb).
pub fn command(g: &Graph, level: StatsLevel, words: &[&str]) -> String {
    let denied = |need: StatsLevel| (level < need).then(|| "Permission denied\n".to_string());
    let run = || -> Result<String, String> {
        let (verb, name, rest) = match words {
            [v, "table"] => (*v, None, &[][..]),
            [v, "table", n, rest @ ..] => (*v, Some(*n), rest),
            _ => return Ok(String::new()),
        };
        let Some(name) = name else {
            if verb != "show" {
                return Err("Optional table name expected\n".into());
            }
            return Ok(g.tables.all().iter().map(|t| t.show_header()).collect());
        };
        let t = g.tables.get(name).ok_or("No such table\n")?;
        match verb {
            "show" => {
                let (filters, (keyed, entry)) = parse_args(t, rest)?;
                let entries = if keyed {
                    entry.into_iter().collect()
                } else {
                    t.entries()
                };
                // One snapshot for the count and the lines.
                let mut o = if keyed {
                    t.show_header()
                } else {
                    t.show_header_used(entries.len())
                };
                for e in entries.iter().filter(|e| selected(t, &filters, e)) {
                    o.push_str(&t.show_entry(e));
                }
                Ok(o)
            }
            "clear" => {
                if let Some(d) = denied(StatsLevel::Operator) {
                    return Err(d);
                }
                let (filters, (keyed, entry)) = parse_args(t, rest)?;
                match (keyed, entry) {
                    (true, Some(e)) => {
                        t.remove(e.key());
                    }
                    (true, None) => {}
                    (false, _) if filters.is_empty() => t.clear(),
                    (false, _) => {
                        for e in t.entries().iter().filter(|e| selected(t, &filters, e)) {
                            t.remove(e.key());
                        }
                    }
                }
                Ok(String::new())
            }
            "set" => {
                if let Some(d) = denied(StatsLevel::Admin) {
                    return Err(d);
                }
                let ["key", k, data @ ..] = rest else {
                    return Err("Key value expected\n".into());
                };
                let key = t.spec.key.parse(k).ok_or("Invalid key\n")?;
                let mut sets = Vec::new();
                for pair in data.chunks(2) {
                    let d = data_type(pair[0]).ok_or("Unknown data type\n")?;
                    if !t.stores(d) {
                        return Err("Data type not stored in this table\n".into());
                    }
                    let v = pair
                        .get(1)
                        .and_then(|v| v.parse::<i64>().ok())
                        .ok_or("Require a valid integer value to store\n")?;
                    sets.push((d, v as u64));
                }
                let e = t
                    .get_or_create(key)
                    .ok_or("Unable to allocate a new key\n")?;
                for (d, v) in sets {
                    t.set(&e, d, v);
                }
                Ok(String::new())
            }
            _ => Ok(String::new()),
        }
    };
    run().unwrap_or_else(|e| e)
}
