//! Map files for the `map_*` converters: keys matched like acl patterns, values of the
//! converter's output type. The compiled map is swapped in whole when the runtime
//! socket changes the file's entries (see `refs`), so a lookup takes no lock.

use super::expr::Arg;
use super::pattern::{Method, Patterns};
use super::refs::Elt;
use super::value::{Owned, Type, Value};
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::sync::Arc;

/// A map file loaded for a `map_*` converter.
#[derive(Debug)]
pub struct Map {
    method: Method,
    out: Type,
    regm: bool,
    live: ArcSwap<MapSet>,
}

/// The compiled entries of the version in use.
#[derive(Debug, Default)]
struct MapSet {
    exact: HashMap<Vec<u8>, usize>,
    keys: Vec<Patterns>,
    names: Vec<String>,
    values: Vec<Owned>,
    raw: Vec<String>,
}

impl Map {
    /// An empty map for the converter `name` (`map_beg_int`: prefix keys, int values).
    pub fn new(name: &str) -> Map {
        let mut parts = name.split('_').skip(1);
        let kind = parts.next().unwrap_or("str");
        let out = match parts.next() {
            Some("int") => Type::Int,
            Some("ip") => Type::Ip,
            _ => Type::Str,
        };
        let (method, regm) = match kind {
            "regm" => (Method::Reg, true),
            k => (Method::parse(k).unwrap_or(Method::Str), false),
        };
        Map {
            method,
            out,
            regm,
            live: ArcSwap::from_pointee(MapSet::default()),
        }
    }

    /// Loads `path` for the converter `name`, sharing the file's entries with the
    /// other users of the same file in this configuration.
    pub fn load(name: &str, path: &str) -> Result<Arc<Map>, String> {
        super::refs::file_ref(path, super::refs::MAP, true)?.attach_map(name)
    }

    /// Whether `o` compiles entries the same way (then one map serves both).
    pub(super) fn same_kind(&self, o: &Map) -> bool {
        (self.method, self.out, self.regm) == (o.method, o.out, o.regm)
    }

    /// How keys match.
    pub(super) fn method(&self) -> Method {
        self.method
    }

    /// The method's name in `get map` (HAProxy's `pat_match_names`).
    pub(super) fn match_name(&self) -> &'static str {
        match self.method {
            _ if self.regm => "regm",
            Method::Str => "str",
            Method::Beg => "beg",
            Method::Sub => "sub",
            Method::Dir => "dir",
            Method::Dom => "dom",
            Method::End => "end",
            Method::Reg => "reg",
            Method::Int => "int",
            Method::Ip => "ip",
            _ => "str",
        }
    }

    /// Checks that an entry compiles (key pattern, value of the output type).
    pub(super) fn check(&self, key: &str, value: &str) -> Result<(), String> {
        if self.method != Method::Str {
            Patterns::new(self.method, false, &[key.to_string()])?;
        }
        self.out_value(value.as_bytes())
            .map(|_| ())
            .ok_or_else(|| format!("unable to parse '{value}'"))
    }

    /// Compiles the entries and swaps them in (`file`: for load-time errors).
    pub(super) fn rebuild(&self, elts: &[&Elt], file: &str) -> Result<(), String> {
        let mut m = MapSet::default();
        for e in elts {
            let v = e.value.as_deref().unwrap_or("");
            let value = self.out_value(v.as_bytes()).ok_or_else(|| {
                format!(
                    "file '{file}' line {} : value '{v}' is not a valid {}",
                    e.line,
                    self.out.name()
                )
            })?;
            if self.method == Method::Str {
                m.exact
                    .entry(e.key.as_bytes().to_vec())
                    .or_insert(m.values.len());
            } else {
                m.keys.push(
                    Patterns::new(self.method, false, std::slice::from_ref(&e.key))
                        .map_err(|err| format!("file '{file}' line {} : {err}", e.line))?,
                );
            }
            m.names.push(e.key.clone());
            m.values.push(value.into_owned());
            m.raw.push(v.to_string());
        }
        self.live.store(Arc::new(m));
        Ok(())
    }

    /// A map value as the map's output type.
    pub fn out_value<'a>(&self, v: &[u8]) -> Option<Value<'a>> {
        let s = std::str::from_utf8(v).ok()?;
        Some(match self.out {
            Type::Int => Value::Int(s.trim().parse().ok()?),
            Type::Ip => Value::Ip(s.trim().parse().ok()?),
            _ => Value::Str(std::borrow::Cow::Owned(v.to_vec())),
        })
    }

    /// The matching entry's key, value text and value type (`get map`).
    pub(super) fn find(&self, key: &Value<'_>) -> Option<(String, String, &'static str)> {
        let m = self.live.load();
        let i = m.index(self.method, key)?;
        let ty = match &m.values[i] {
            Value::Int(_) => "sint",
            Value::Ip(std::net::IpAddr::V4(_)) => "ipv4",
            Value::Ip(_) => "ipv6",
            _ => "str",
        };
        Some((m.names[i].clone(), m.raw[i].clone(), ty))
    }

    /// The value for a key (exact keys by hash, others in file order; `map_ip` picks
    /// the longest prefix).
    pub fn lookup(&self, key: &Value<'_>) -> Option<Owned> {
        let m = self.live.load();
        let i = m.index(self.method, key)?;
        if self.regm {
            let k = key.to_bytes();
            let caps = m.keys[i].first_regex()?.captures(&k)?;
            let mut out = Vec::new();
            let raw = m.raw[i].as_bytes();
            let mut j = 0;
            while j < raw.len() {
                if raw[j] == b'\\' && j + 1 < raw.len() && raw[j + 1].is_ascii_digit() {
                    let g = (raw[j + 1] - b'0') as usize;
                    if let Some(c) = caps.get(g) {
                        out.extend_from_slice(c.as_bytes());
                    }
                    j += 2;
                    continue;
                }
                out.push(raw[j]);
                j += 1;
            }
            return Some(Value::Str(std::borrow::Cow::Owned(out)));
        }
        Some(m.values[i].clone())
    }
}

impl MapSet {
    fn index(&self, method: Method, key: &Value<'_>) -> Option<usize> {
        if method == Method::Str {
            let k = key.to_bytes();
            return self.exact.get(&k[..]).copied();
        }
        if method == Method::Ip {
            let ip = key.to_ip()?;
            return self
                .keys
                .iter()
                .enumerate()
                .filter(|(_, p)| p.matches(&Value::Ip(ip)))
                .max_by_key(|(_, p)| p.first_net_len())
                .map(|(i, _)| i);
        }
        self.keys.iter().position(|p| p.matches(key))
    }
}

/// The load-time check of `map_*` converters: loads the file named by the first argument.
pub fn load_map_arg(name: &str, args: &mut [Arg]) -> Result<(), String> {
    let path = args[0].text().to_string();
    args[0] = Arg::Map(Map::load(name, &path)?);
    Ok(())
}
