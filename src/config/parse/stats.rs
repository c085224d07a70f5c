//! `stats socket` in `global`, and `stats` (the stats page) in proxies.

use super::{Parser, Target, R};
use crate::config::diag::did_you_mean;
use crate::config::model::*;
use crate::config::value;

impl<'e> Parser<'e> {
    pub(super) fn global_stats(&mut self, w: &[String]) -> R {
        match w.get(1).map(String::as_str) {
            Some("socket") => {
                let Some(path) = w.get(2) else {
                    return Err("'stats socket' expects a path or an address.".into());
                };
                let mut s = StatsSocket {
                    path: path.clone(),
                    mode: 0o600,
                    level: StatsLevel::Operator,
                    loc: self.loc.clone(),
                };
                let mut i = 3;
                while i < w.len() {
                    let v = w.get(i + 1).map(String::as_str);
                    match (w[i].as_str(), v) {
                        ("mode", Some(m)) => {
                            s.mode = u32::from_str_radix(m, 8)
                                .ok()
                                .filter(|m| *m <= 0o777)
                                .ok_or_else(|| format!("'stats socket' : invalid mode '{m}'"))?;
                        }
                        ("level", Some(l)) => {
                            s.level = match l {
                                "user" => StatsLevel::User,
                                "operator" => StatsLevel::Operator,
                                "admin" => StatsLevel::Admin,
                                _ => {
                                    return Err(format!(
                                        "'stats socket' : 'level' only supports 'user', 'operator', and 'admin' (got '{l}')."
                                    ))
                                }
                            };
                        }
                        ("user" | "group" | "uid" | "gid" | "name" | "process" | "thread"
                        | "severity-output" | "maxconn" | "backlog", Some(_)) => {
                            self.warn(format!(
                                "'stats socket' : '{}' is not supported by lbd and is ignored.",
                                w[i]
                            ));
                        }
                        ("expose-fd", Some(_)) => {}
                        (k, _) => {
                            return Err(format!(
                                "'stats socket' : unknown or incomplete keyword '{k}'."
                            ))
                        }
                    }
                    i += 2;
                }
                let p = s.path.as_str();
                if let Some(n) = p.strip_prefix("fd@") {
                    value::inherited_fd(n, &|v| self.getenv(v))
                        .map_err(|e| format!("'stats socket' : {e}"))?;
                } else if let Some(n) = p.strip_prefix("abns@") {
                    value::abns_name(n).map_err(|e| format!("'stats socket' : {e}"))?;
                } else if p.starts_with('/') || p.starts_with("unix@") {
                    value::unix_path(p).map_err(|e| format!("'stats socket' : {e}"))?;
                }
                self.global.stats_sockets.push(s);
                Ok(())
            }
            Some("timeout" | "maxconn" | "bind-process") => {
                self.warn(format!("'stats {}' is not supported by lbd and is ignored.", w[1]));
                Ok(())
            }
            Some(x) => Err(format!(
                "'stats {x}' : unknown keyword in 'global' section; expects 'socket', 'timeout' or 'maxconn'."
            )),
            None => Err("'stats' expects 'socket', 'timeout' or 'maxconn'.".into()),
        }
    }

    pub(super) fn stats(&mut self, w: &[String], t: Target) -> R {
        let Some(sub) = w.get(1).map(String::as_str) else {
            return Err("'stats' expects 'enable', 'uri', 'refresh', 'auth', 'realm', 'admin' or 'hide-version'.".into());
        };
        let arg = w.get(2).cloned();
        let need = || {
            arg.clone()
                .ok_or_else(|| format!("'stats {sub}' expects an argument."))
        };
        match sub {
            "enable" => self.px(t).stats.enabled = true,
            "uri" => {
                let u = need()?;
                let s = &mut self.px(t).stats;
                s.uri = Some(u);
                s.enabled = true;
            }
            "refresh" => {
                let d = value::time(&need()?).map_err(|e| format!("'stats refresh' : {e}"))?;
                let s = &mut self.px(t).stats;
                s.refresh = Some(d);
                s.enabled = true;
            }
            "auth" => {
                let a = need()?;
                let Some((u, p)) = a.split_once(':') else {
                    return Err("'stats auth' expects <user>:<password>.".into());
                };
                let s = &mut self.px(t).stats;
                s.auth.push((u.to_string(), p.to_string()));
                s.enabled = true;
            }
            "realm" => self.px(t).stats.realm = Some(w[2..].join(" ")).filter(|r| !r.is_empty()),
            "admin" => {
                if let Some(k @ ("if" | "unless")) = w.get(2).map(String::as_str) {
                    self.cond(t, k == "unless", &w[3..], "a 'stats admin' rule")?;
                    self.px(t).stats.admin = true;
                    self.warn("'stats admin' is accepted but lbd's stats page is read-only; use the stats socket to change servers.".into());
                } else {
                    return Err(
                        "'stats admin' requires either 'if' or 'unless' followed by a condition."
                            .into(),
                    );
                }
            }
            "disable" => self.px(t).stats.enabled = false,
            "hide-version" | "show-node" | "show-legends" | "show-desc" | "show-modules"
            | "scope" | "bind-process" | "maxconn" | "timeout" => {
                self.warn(format!(
                    "'stats {sub}' is not supported by lbd and is ignored."
                ));
            }
            "socket" => {
                return Err("'stats socket' is only allowed in the 'global' section.".into())
            }
            "http-request" => return Err("'stats http-request' is not supported by lbd.".into()),
            x => {
                return Err(format!(
                    "'stats' : unknown keyword '{x}'{}",
                    did_you_mean(
                        x,
                        [
                            "enable",
                            "uri",
                            "refresh",
                            "auth",
                            "realm",
                            "admin",
                            "hide-version"
                        ]
                    )
                ))
            }
        }
        Ok(())
    }
}
