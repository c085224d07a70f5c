//! `track [BACKEND/]SERVER`: HAProxy's rules for what a server may track
//! (`srv_apply_track`), shared by the configuration check and `add server`.

/// What the tracking rules need to know of a server.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracked {
    /// Added at run time (`add server`).
    pub dynamic: bool,
    /// Has `check` or `agent-check`.
    pub checked: bool,
    /// Its own `track`, as written.
    pub track: Option<String>,
}

/// The backend and server `spec` names: `BACKEND/SERVER`, or `SERVER` of `cur`.
pub fn split<'a>(spec: &'a str, cur: &'a str) -> (&'a str, &'a str) {
    spec.rsplit_once('/').unwrap_or((cur, spec))
}

/// Checks that server `name` of backend `cur` may track `spec`, in HAProxy's words:
/// the backend and server exist (`has_be`, `find`), the server is not a dynamic one,
/// it has a check or an agent or tracks another one, and the chain does not loop
/// back. Returns the tracked backend and server names.
pub fn check(
    cur: &str,
    name: &str,
    spec: &str,
    has_be: impl Fn(&str) -> bool,
    find: impl Fn(&str, &str) -> Option<Tracked>,
) -> Result<(String, String), String> {
    let (pb, ps) = split(spec, cur);
    if !has_be(pb) {
        return Err(format!(
            "unable to find required proxy '{pb}' for tracking."
        ));
    }
    let Some(t) = find(pb, ps) else {
        return Err(format!(
            "unable to find required server '{ps}' for tracking."
        ));
    };
    if t.dynamic {
        return Err(format!(
            "unable to use {pb}/{ps} for tracking as it is a dynamic server."
        ));
    }
    if !t.checked && t.track.is_none() {
        return Err(format!(
            "unable to use {pb}/{ps} for tracking as it does not have any check nor agent enabled."
        ));
    }
    // Walk the chain (bounded, as a loop elsewhere in it is another server's error).
    let mut at = (pb.to_string(), ps.to_string(), t);
    for _ in 0..1024 {
        if (at.0.as_str(), at.1.as_str()) == (cur, name) {
            return Err(format!(
                "unable to track {pb}/{ps} as it belongs to a tracking chain looping back to {pb}/{name}."
            ));
        }
        let Some(next) = at.2.track.clone() else {
            break;
        };
        let (nb, ns) = split(&next, &at.0);
        let (nb, ns) = (nb.to_string(), ns.to_string());
        let Some(t) = find(&nb, &ns) else { break };
        at = (nb, ns, t);
    }
    Ok((pb.to_string(), ps.to_string()))
}

/// The `track` errors of a configuration's servers: (backend index, server index,
/// message).
pub fn errors(proxies: &[super::model::Proxy]) -> Vec<(usize, usize, String)> {
    let be = |n: &str| proxies.iter().find(|p| p.kind.is_backend() && p.name == n);
    let find = |b: &str, s: &str| {
        let s = be(b)?.servers.iter().find(|x| x.name == s)?;
        Some(Tracked {
            dynamic: false,
            checked: s.settings.check || s.settings.agent.enabled,
            track: s.settings.track.clone(),
        })
    };
    let mut out = Vec::new();
    for (pi, p) in proxies.iter().enumerate() {
        for (si, s) in p.servers.iter().enumerate() {
            let Some(spec) = &s.settings.track else {
                continue;
            };
            if let Err(e) = check(&p.name, &s.name, spec, |b| be(b).is_some(), find) {
                out.push((pi, si, e));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    fn cfg(text: &str) -> Vec<String> {
        let c = crate::config::parse_str("t.cfg", text);
        c.diags
            .iter()
            .map(|d| d.msg.clone())
            .filter(|m| m.contains("track"))
            .collect()
    }

    #[test]
    fn haproxys_rules() {
        let base = "backend a\n server c 127.0.0.1:1 check\n server n 127.0.0.1:1\n";
        assert!(cfg(&format!(
            "{base} server t 127.0.0.1:1 track c\n server u 127.0.0.1:1 track a/t\n"
        ))
        .is_empty());
        let msgs = cfg(&format!("{base} server t 127.0.0.1:1 track n\n server v 127.0.0.1:1 track b/c\n server w 127.0.0.1:1 track zz\n"));
        assert!(
            msgs.iter().any(|m| m.contains(
                "unable to use a/n for tracking as it does not have any check nor agent enabled."
            )),
            "{msgs:?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.contains("unable to find required proxy 'b' for tracking.")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.contains("unable to find required server 'zz' for tracking.")),
            "{msgs:?}"
        );
        let msgs = cfg("backend a\n server x 127.0.0.1:1 track y\n server y 127.0.0.1:1 track x\n");
        assert!(
            msgs.iter().any(|m| m.contains(
                "unable to track a/y as it belongs to a tracking chain looping back to a/x."
            )),
            "{msgs:?}"
        );
        let msgs = cfg("backend a\n server x 127.0.0.1:1 track x\n");
        assert!(
            msgs.iter().any(|m| m.contains(
                "unable to track a/x as it belongs to a tracking chain looping back to a/x."
            )),
            "{msgs:?}"
        );
    }
}
