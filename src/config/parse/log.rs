//! `log` targets, in `global` and in proxies.

use super::Parser;
use crate::config::diag::did_you_mean;
use crate::config::model::*;
use crate::config::value;

impl<'e> Parser<'e> {
    pub(super) fn log_target(&mut self, w: &[String]) -> Result<Option<LogTarget>, String> {
        let Some(dest) = w.first() else {
            return Err(
                "'log' expects either <address[:port]> and <facility> or 'global' as arguments."
                    .into(),
            );
        };
        // `${NAME}` expands here too (HAProxy's `str2sa_range`); an address without a
        // host is IPv4's any address, as HAProxy reads it.
        let dest = value::env_expand(dest, &|n| self.getenv(n));
        let dest = match dest.strip_prefix(':') {
            Some(port) if !port.contains(':') => format!("0.0.0.0:{port}"),
            _ => dest,
        };
        let dest = dest.as_str();
        let dest = if let Some(p) = dest.strip_prefix("ring@") {
            self.warn(format!(
                "'log ring@{p}' is not supported by lbd and is ignored."
            ));
            return Ok(None);
        } else if dest == "stdout" || dest == "fd@1" {
            LogDest::Stdout
        } else if dest == "stderr" || dest == "fd@2" {
            LogDest::Stderr
        } else if let Some(p) = dest.strip_prefix("unix@") {
            LogDest::Path(p.to_string())
        } else if dest.starts_with('/') {
            LogDest::Path(dest.to_string())
        } else if dest.starts_with("tcp@") || dest.starts_with("fd@") {
            return Err(format!(
                "'log {dest}' : this log target is not supported by lbd."
            ));
        } else {
            let d = dest
                .strip_prefix("udp@")
                .or_else(|| dest.strip_prefix("udp4@"))
                .or_else(|| dest.strip_prefix("udp6@"))
                .or_else(|| dest.strip_prefix("ipv4@"))
                .or_else(|| dest.strip_prefix("ipv6@"))
                .unwrap_or(dest);
            let (host, has_port_addr) = match value::server_addr(d) {
                Ok((_, a, true)) => (a, true),
                Ok((_, a, false)) => (a, false),
                Err(e) => return Err(format!("'log' : {e}")),
            };
            let mut a = host;
            if !has_port_addr {
                a.set_port(514);
            }
            LogDest::Udp(a)
        };
        let mut i = 1;
        let mut sample = None;
        while i < w.len() && matches!(w[i].as_str(), "len" | "format" | "sample" | "profile") {
            if w[i] == "sample" {
                let spec = w.get(i + 1).map_or("", String::as_str);
                sample =
                    Some(log_sample(spec).map_err(|e| format!("'log' : 'sample {spec}' : {e}"))?);
            }
            if w[i] == "format" {
                if let Some(f) = w.get(i + 1) {
                    if !matches!(f.as_str(), "rfc3164" | "local" | "raw" | "short") {
                        self.warn(format!(
                            "'log ... format {f}' is not supported by lbd; rfc3164 is used."
                        ));
                    }
                }
            }
            i += 2;
        }
        let Some(fac) = w.get(i) else {
            return Err(format!(
                "'log {}' : missing facility (e.g. 'local0').",
                w[0]
            ));
        };
        let facility = value::facility(fac).ok_or_else(|| {
            format!(
                "'log' : unknown log facility '{fac}'{}",
                did_you_mean(fac, ["local0", "local1", "local2", "daemon", "user"])
            )
        })?;
        let max_level = match w.get(i + 1) {
            Some(l) => value::level(l)
                .ok_or_else(|| format!("'log' : unknown optional log level '{l}'"))?,
            None => 7,
        };
        if let Some(minl) = w.get(i + 2) {
            value::level(minl)
                .ok_or_else(|| format!("'log' : unknown optional minimum log level '{minl}'"))?;
        }
        Ok(Some(LogTarget {
            dest,
            facility,
            max_level,
            sample,
            loc: self.loc.clone(),
        }))
    }
}

/// `RANGES:SIZE` of `log ... sample`: `1,3-4:5` (positions from 1, each at most SIZE).
fn log_sample(spec: &str) -> Result<LogSample, String> {
    let Some((ranges, size)) = spec.rsplit_once(':') else {
        return Err("expects <ranges>:<size>".into());
    };
    let size: u32 = size
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("invalid size '{size}'"))?;
    let mut out = Vec::new();
    for r in ranges.split(',') {
        let (lo, hi) = r.split_once('-').unwrap_or((r, r));
        let (Ok(lo), Ok(hi)) = (lo.parse::<u32>(), hi.parse::<u32>()) else {
            return Err(format!("invalid range '{r}'"));
        };
        if lo == 0 || hi < lo || hi > size {
            return Err(format!("range '{r}' is not within 1..{size}"));
        }
        out.push((lo, hi));
    }
    Ok(LogSample { ranges: out, size })
}
