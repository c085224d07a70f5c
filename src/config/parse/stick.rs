//! `stick-table` and `stick` rules.

use super::{Parser, Target};
use crate::config::model::*;
use crate::config::value;
use crate::sample::Expr;
use crate::stick::{Data, KeyType};

impl<'e> Parser<'e> {
    pub(super) fn stick_table(&mut self, w: &[String]) -> Result<StickTable, String> {
        let mut size = None;
        let mut expire = None;
        let mut key = None;
        let mut nopurge = false;
        let mut peers = None;
        let mut store: Vec<(Data, u64)> = Vec::new();
        let mut i = 0;
        while i < w.len() {
            let val = w.get(i + 1);
            let need =
                || val.ok_or_else(|| format!("'stick-table' : '{}' expects an argument.", w[i]));
            match w[i].as_str() {
                "type" => {
                    let t = need()?;
                    let len = match w.get(i + 2).map(String::as_str) {
                        Some("len") if matches!(t.as_str(), "string" | "binary") => {
                            let n = w.get(i + 3).ok_or_else(|| {
                                format!("'stick-table type {t} len' expects a length.")
                            })?;
                            i += 2;
                            Some(value::int_in(n, 1, 65535, "'stick-table type ... len'")? as usize)
                        }
                        _ => None,
                    };
                    key = Some(match t.as_str() {
                        "ip" => KeyType::Ip,
                        "ipv6" => KeyType::Ipv6,
                        "integer" => KeyType::Integer,
                        "string" => KeyType::String(len.unwrap_or(32)),
                        "binary" => KeyType::Binary(len.unwrap_or(32)),
                        x => {
                            return Err(format!(
                                "'stick-table' : unknown type '{x}'; expects 'ip', 'ipv6', 'integer', 'string' or 'binary'."
                            ))
                        }
                    });
                }
                "size" => {
                    size = Some(
                        value::size(need()?).map_err(|e| format!("'stick-table size' : {e}"))?,
                    )
                }
                "expire" => {
                    expire = Some(
                        value::time(need()?).map_err(|e| format!("'stick-table expire' : {e}"))?,
                    )
                }
                "nopurge" => {
                    nopurge = true;
                    i += 1;
                    continue;
                }
                "store" => {
                    for item in need()?.split(',').filter(|x| !x.is_empty()) {
                        let (d, period) = store_item(item)?;
                        if store.iter().any(|(x, _)| *x == d) {
                            return Err(format!(
                                "'stick-table store' : data type '{}' is stored twice.",
                                d.name()
                            ));
                        }
                        store.push((d, period));
                    }
                }
                "peers" => peers = Some(need()?.clone()),
                "srvkey" | "write-to" | "recv-only" => {
                    return Err(format!("'stick-table {}' is not supported by lbd.", w[i]));
                }
                x => return Err(format!("'stick-table' : unknown argument '{x}'.")),
            }
            i += 2;
        }
        let Some(key) = key else {
            return Err("'stick-table' : missing 'type'.".into());
        };
        let Some(size) = size else {
            return Err("'stick-table' : missing 'size'.".into());
        };
        store.sort();
        Ok(StickTable {
            key,
            size,
            expire,
            nopurge,
            store,
            peers,
            loc: self.loc.clone(),
        })
    }

    pub(super) fn stick_rule(&mut self, w: &[String], t: Target) -> Result<StickRule, String> {
        let kind = match w.get(1).map(String::as_str) {
            Some("on") => StickKind::On,
            Some("match") => StickKind::Match,
            Some("store-request") => StickKind::StoreRequest,
            Some("store-response") => StickKind::StoreResponse,
            Some(x) => {
                return Err(format!(
                    "'stick' : unknown keyword '{x}'; expects 'on', 'match', 'store-request' or 'store-response'."
                ))
            }
            None => {
                return Err(
                    "'stick' expects 'on', 'match', 'store-request' or 'store-response'.".into(),
                )
            }
        };
        let Some(pattern) = w.get(2) else {
            return Err(format!(
                "'stick {}' expects a pattern (a sample expression).",
                w[1]
            ));
        };
        let expr = crate::sample::Expr::parse(pattern).map_err(|e| {
            format!(
                "'stick {}' : failed to parse sample expression <{pattern}> : {e}",
                w[1]
            )
        })?;
        // A key of the request side cannot read the response, and the response side
        // has no request headers any more (as in HAProxy).
        let response = kind == StickKind::StoreResponse;
        if expr.needs_response() != response && (expr.needs_response() || expr.needs_http()) {
            let side = if response {
                "the request"
            } else {
                "the response"
            };
            return Err(format!(
                "'stick {}' : fetch method '{}' reads {side}, which is not available there.",
                w[1],
                expr.fetch_name()
            ));
        }
        let mut table = None;
        let mut i = 3;
        if w.get(i).map(String::as_str) == Some("table") {
            table = Some(
                w.get(i + 1)
                    .cloned()
                    .ok_or_else(|| "'stick ... table' expects a table name.".to_string())?,
            );
            i += 2;
        }
        let cond = match w.get(i).map(String::as_str) {
            Some(k @ ("if" | "unless")) => {
                Some(self.cond(t, k == "unless", &w[i + 1..], "a 'stick' rule")?)
            }
            Some(x) => return Err(format!("'stick' : unexpected argument '{x}'.")),
            None => None,
        };
        Ok(StickRule {
            kind,
            expr,
            table,
            cond,
            loc: self.loc.clone(),
        })
    }
}

/// Parses one `store` item: `http_req_cnt` or `http_req_rate(10s)`; gives the data
/// type and its period in milliseconds (0 for a counter).
pub(super) fn store_item(item: &str) -> Result<(Data, u64), String> {
    let (name, arg) = match item.split_once('(') {
        Some((n, rest)) => {
            let a = rest
                .strip_suffix(')')
                .ok_or_else(|| format!("'stick-table store' : missing ')' after '{item}'."))?;
            (n, Some(a))
        }
        None => (item, None),
    };
    let d = Data::named(name)
        .ok_or_else(|| format!("'stick-table store' : unknown data type '{name}'."))?;
    match (d.is_rate(), arg) {
        (true, Some(a)) => {
            let ms = value::time(a)
                .map_err(|e| format!("'stick-table store {name}' : {e}"))?
                .as_millis() as u64;
            Ok((d, ms))
        }
        (true, None) => Err(format!(
            "'stick-table store' : data type '{name}' needs a period, as in '{name}(10s)'."
        )),
        (false, Some(_)) => Err(format!(
            "'stick-table store' : data type '{name}' takes no argument."
        )),
        (false, None) => Ok((d, 0)),
    }
}

/// The slot of `track-scN` / `sc-...(N)`.
fn slot(kw: &str, action: &str, n: &str) -> Result<usize, String> {
    match n {
        "0" => Ok(0),
        "1" => Ok(1),
        "2" => Ok(2),
        _ => Err(format!(
            "'{kw} {action}' : invalid stick counter '{n}'; expects 0, 1 or 2."
        )),
    }
}

/// `track-sc0|1|2 KEY [table T]`.
pub(super) fn track_sc(kw: &str, action: &str, args: &[String]) -> Result<HttpAction, String> {
    let n = action.strip_prefix("track-sc").unwrap_or_default();
    let slot = slot(kw, action, n)?;
    let Some(key) = args.first() else {
        return Err(format!(
            "'{kw} {action}' expects a sample expression (the key to track)."
        ));
    };
    let key = Expr::parse(key).map_err(|e| format!("'{kw} {action}' : {e}."))?;
    let table = match &args[1..] {
        [] => None,
        [t, name] if t == "table" => Some(name.clone()),
        [t] if t == "table" => {
            return Err(format!("'{kw} {action} ... table' expects a table name."))
        }
        [x, ..] => {
            return Err(format!(
                "'{kw} {action}' : unexpected argument '{x}'; expects 'table NAME'."
            ))
        }
    };
    Ok(HttpAction::Track { slot, key, table })
}

/// `sc-inc-gpc0(N)`, `sc-inc-gpc1(N)`, `sc-set-gpt0(N) VALUE`.
pub(super) fn sc_action(kw: &str, action: &str, args: &[String]) -> Result<HttpAction, String> {
    let (verb, rest) = action.split_once('(').unwrap_or((action, ""));
    let Some(n) = rest.strip_suffix(')') else {
        return Err(format!(
            "'{kw} {verb}' expects a stick counter in parentheses, as in '{verb}(0)'."
        ));
    };
    let slot = slot(kw, verb, n)?;
    match (verb, args) {
        ("sc-inc-gpc0", []) => Ok(HttpAction::ScIncGpc { gpc: 0, slot }),
        ("sc-inc-gpc1", []) => Ok(HttpAction::ScIncGpc { gpc: 1, slot }),
        ("sc-set-gpt0", [v]) => {
            let text = if v.parse::<i64>().is_ok() {
                format!("int({v})")
            } else {
                v.clone()
            };
            let value = Expr::parse(&text).map_err(|e| format!("'{kw} {verb}' : {e}."))?;
            Ok(HttpAction::ScSetGpt0 { slot, value })
        }
        ("sc-set-gpt0", []) => Err(format!(
            "'{kw} {verb}' expects an integer or a sample expression."
        )),
        (_, [x, ..]) => Err(format!("'{kw} {action}' : unexpected argument '{x}'.")),
        _ => Err(format!("'{kw} {verb}' is not supported by lbd.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_items() {
        assert_eq!(
            store_item("http_req_rate(10s)"),
            Ok((Data::HttpReqRate, 10_000))
        );
        assert_eq!(store_item("gpc0"), Ok((Data::Gpc0, 0)));
        assert!(store_item("conn_rate")
            .unwrap_err()
            .contains("needs a period"));
        assert!(store_item("gpc0(1s)").unwrap_err().contains("no argument"));
        assert!(store_item("nope")
            .unwrap_err()
            .contains("unknown data type 'nope'"));
    }

    fn w(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn tracking_actions() {
        let a = track_sc("http-request", "track-sc1", &w(&["src", "table", "per_ip"])).unwrap();
        assert!(
            matches!(a, HttpAction::Track { slot: 1, table: Some(ref t), .. } if t == "per_ip")
        );
        assert!(track_sc("http-request", "track-sc3", &w(&["src"]))
            .unwrap_err()
            .contains("invalid stick counter '3'"));
        assert!(track_sc("http-request", "track-sc0", &w(&["nosuch"]))
            .unwrap_err()
            .contains("unknown fetch method 'nosuch'"));
        assert!(matches!(
            sc_action("http-request", "sc-inc-gpc1(2)", &[]),
            Ok(HttpAction::ScIncGpc { gpc: 1, slot: 2 })
        ));
        assert!(matches!(
            sc_action("http-request", "sc-set-gpt0(0)", &w(&["7"])),
            Ok(HttpAction::ScSetGpt0 { slot: 0, .. })
        ));
        assert!(sc_action("http-request", "sc-inc-gpc0", &[])
            .unwrap_err()
            .contains("in parentheses"));
    }
}
