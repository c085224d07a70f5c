//! `stick-table` and `stick` rules.

use super::{Parser, Target};
use crate::config::model::*;
use crate::config::value;

impl<'e> Parser<'e> {
    pub(super) fn stick_table(&mut self, w: &[String]) -> Result<StickTable, String> {
        let mut size = None;
        let mut expire = None;
        let mut ty = None;
        let mut i = 0;
        while i < w.len() {
            let val = w.get(i + 1);
            let need =
                || val.ok_or_else(|| format!("'stick-table' : '{}' expects an argument.", w[i]));
            match w[i].as_str() {
                "type" => {
                    let t = need()?;
                    if t != "ip" {
                        return Err(format!(
                            "'stick-table type {t}' is not supported by lbd; only 'type ip' is."
                        ));
                    }
                    ty = Some(t);
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
                    i += 1;
                    continue;
                }
                "store" => {
                    self.warn(format!(
                        "'stick-table store {}' is not supported by lbd and is ignored.",
                        need()?
                    ));
                }
                "peers" => {
                    self.warn("'stick-table peers' is not supported by lbd and is ignored: tables stay local.".into());
                }
                "srvkey" | "write-to" | "recv-only" => {
                    return Err(format!("'stick-table {}' is not supported by lbd.", w[i]));
                }
                x => return Err(format!("'stick-table' : unknown argument '{x}'.")),
            }
            i += 2;
        }
        if ty.is_none() {
            return Err("'stick-table' : missing 'type'.".into());
        }
        let Some(size) = size else {
            return Err("'stick-table' : missing 'size'.".into());
        };
        Ok(StickTable {
            size,
            expire,
            loc: self.loc.clone(),
        })
    }

    pub(super) fn stick_rule(&mut self, w: &[String], t: Target) -> Result<StickRule, String> {
        let kind = match w.get(1).map(String::as_str) {
            Some("on") => StickKind::On,
            Some("match") => StickKind::Match,
            Some("store-request") => StickKind::StoreRequest,
            Some("store-response") => {
                return Err("'stick store-response' is not supported by lbd.".into())
            }
            Some(x) => {
                return Err(format!(
                    "'stick' : unknown keyword '{x}'; expects 'on', 'match' or 'store-request'."
                ))
            }
            None => return Err("'stick' expects 'on', 'match' or 'store-request'.".into()),
        };
        match w.get(2).map(String::as_str) {
            Some("src") => {}
            Some(x) => {
                return Err(format!(
                    "'stick {}' : pattern '{x}' is not supported by lbd; only 'src' is.",
                    w[1]
                ))
            }
            None => return Err(format!("'stick {}' expects a pattern ('src').", w[1])),
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
            table,
            cond,
            loc: self.loc.clone(),
        })
    }
}
