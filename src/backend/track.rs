//! `track`: a server whose health is that of another one. The tracking server runs
//! no checks; the tracked server's UP/DOWN transitions and maintenance reach it (and
//! the servers tracking it), with HAProxy's `via BACKEND/SERVER` in the messages.
//! Each graph built links the servers anew (`graph::track::link`), so the links
//! follow `add server`/`del server` and reloads.

use super::health::Transition;
use super::state::{Admin, ServerState};
use super::{Backend, ServerRt};
use std::sync::{Arc, Weak};

/// The tracking links of one server.
#[derive(Debug, Default)]
pub struct Links {
    /// The server this one tracks.
    pub tracked: Option<Weak<ServerState>>,
    /// The servers tracking this one, newest first (the order HAProxy walks them).
    pub trackers: Vec<(Weak<Backend>, Weak<ServerRt>)>,
}

fn links(st: &ServerState) -> std::sync::MutexGuard<'_, Links> {
    st.track.lock().unwrap_or_else(|e| e.into_inner())
}

/// The servers tracking `s`, with their backends.
pub fn trackers(s: &ServerState) -> Vec<(Arc<Backend>, Arc<ServerRt>)> {
    links(s)
        .trackers
        .iter()
        .filter_map(|(b, s)| Some((b.upgrade()?, s.upgrade()?)))
        .collect()
}

/// Whether the server `s` tracks is UP (None when it tracks none).
pub fn tracked_up(s: &ServerState) -> Option<bool> {
    let t = links(s).tracked.as_ref()?.upgrade()?;
    Some(t.is_up())
}

/// Links server `tracker` of `be` to the server whose state is `tracked`; a server
/// tracking one that is in maintenance inherits it.
pub fn link(tracked: &Arc<ServerState>, be: &Arc<Backend>, tracker: &Arc<ServerRt>) {
    links(tracked)
        .trackers
        .insert(0, (Arc::downgrade(be), Arc::downgrade(tracker)));
    links(&tracker.state).tracked = Some(Arc::downgrade(tracked));
    tracker
        .state
        .set_inherited_maint(tracked.admin() == Admin::Maint);
    if tracker.state.admin() != Admin::Maint {
        tracker.state.set_up(tracked.is_up());
    }
}

/// Forgets the links of `s` (before a graph links its servers again).
pub fn unlink(s: &ServerState) {
    *links(s) = Links::default();
}

/// Passes an UP/DOWN transition of server `s` of `be` on to the servers tracking it
/// (not those in maintenance): `Server be2/s1 is DOWN via be1/s1. ...`.
pub(super) fn propagate_health(be: &Backend, s: &ServerRt, t: Transition) {
    let via = format!(" via {}/{}", be.name, s.name);
    for (tb, ts) in trackers(&s.state) {
        if ts.state.admin() == Admin::Maint || ts.state.is_up() == (t == Transition::Up) {
            continue;
        }
        super::status::transition_as(&tb, &ts, t, &via, &tb);
    }
}

/// Passes maintenance of server `s` of `be` entering (`on`) or leaving on to the
/// servers tracking it, as inherited maintenance.
pub(super) fn propagate_maint(be: &Backend, s: &ServerRt, on: bool) {
    let via = format!(" via {}/{}", be.name, s.name);
    for (tb, ts) in trackers(&s.state) {
        let from = ts.state.admin();
        if ts.state.set_inherited_maint(on) == on {
            continue;
        }
        super::status::admin_change_as(&tb, &ts, from, ts.state.admin(), Some(&via));
    }
}
