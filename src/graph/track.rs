//! Links the servers of a new graph that `track` another one (see `backend::track`).

use crate::backend::Backend;
use std::sync::Arc;

/// Links every tracking server of `backends` to the server it tracks (the
/// configuration check and `add server` made sure it exists).
pub(super) fn link(backends: &[Arc<Backend>]) {
    for s in backends.iter().flat_map(|b| &b.servers) {
        crate::backend::track::unlink(&s.state);
    }
    for b in backends {
        for s in &b.servers {
            let Some(spec) = &s.cfg.track else { continue };
            let (tb, ts) = crate::config::track::split(spec, &b.name);
            let tracked = backends
                .iter()
                .filter(|x| x.name == tb)
                .flat_map(|x| &x.servers)
                .find(|x| x.name == ts);
            if let Some(t) = tracked {
                crate::backend::track::link(&t.state, b, s);
            }
        }
    }
}
