//! Which server of a group sharing one DNS name takes which answer: HAProxy's rules
//! for A/AAAA answers (a server keeps an address still answered; the others take
//! addresses no server of the backend has, the preferred family and `resolve-net`
//! networks first; no duplicates) and for SRV ones (a slot keeps its target and port
//! while the record stays; free slots take new records).

use super::query::Item;
use crate::config::model::{in_net, Family};
use std::net::{IpAddr, SocketAddr};

/// A server of the group, as it is now.
#[derive(Debug, Clone)]
pub struct Slot {
    /// Its address.
    pub addr: SocketAddr,
    /// The port of its `server` line (A/AAAA answers keep it).
    pub port: u16,
    /// In maintenance for want of an address.
    pub rmaint: bool,
    /// The SRV target it holds.
    pub target: Option<String>,
}

/// What becomes of a slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Act {
    /// It takes (or keeps) this address; from an SRV record, with its target and
    /// weight.
    Set {
        /// The address.
        addr: SocketAddr,
        /// The SRV target and the weight it gives.
        srv: Option<(String, u32)>,
    },
    /// No answer for it: in maintenance, for this reason.
    Clear(&'static str),
}

/// HAProxy's server weight for an SRV weight (0..65535 → 1..256).
pub fn srv_weight(w: u16) -> u32 {
    u32::from(w) / 256 + 1
}

/// The rank of `ip`: the preferred family first, then by the first `resolve-net`
/// network it is in.
fn rank(ip: IpAddr, prefer: Family, nets: &[(IpAddr, u8)]) -> (bool, usize) {
    let fam = ip.is_ipv4() != (prefer == Family::V4);
    let net = nets
        .iter()
        .position(|(n, l)| in_net(ip, *n, *l))
        .unwrap_or(nets.len());
    (fam, net)
}

/// The acts for `slots` given an A/AAAA answer.
pub fn addrs(items: &[Item], slots: &[Slot], prefer: Family, nets: &[(IpAddr, u8)]) -> Vec<Act> {
    let mut ips: Vec<IpAddr> = Vec::new();
    for ip in items.iter().filter_map(|i| i.ip) {
        if !ips.contains(&ip) {
            ips.push(ip);
        }
    }
    ips.sort_by_key(|ip| rank(*ip, prefer, nets));
    let mut used = vec![false; ips.len()];
    let mut acts: Vec<Option<Act>> = vec![None; slots.len()];
    for (i, s) in slots.iter().enumerate() {
        if s.rmaint {
            continue;
        }
        if let Some(j) = ips.iter().position(|ip| *ip == s.addr.ip()) {
            if !used[j] {
                used[j] = true;
                acts[i] = Some(Act::Set {
                    addr: SocketAddr::new(ips[j], s.port),
                    srv: None,
                });
            }
        }
    }
    for (i, s) in slots.iter().enumerate() {
        if acts[i].is_some() {
            continue;
        }
        acts[i] = Some(match used.iter().position(|u| !u) {
            Some(j) => {
                used[j] = true;
                Act::Set {
                    addr: SocketAddr::new(ips[j], s.port),
                    srv: None,
                }
            }
            None => Act::Clear("No IP for server "),
        });
    }
    acts.into_iter().flatten().collect()
}

/// The acts for `slots` given an SRV answer.
pub fn srv(items: &[Item], slots: &[Slot]) -> Vec<Act> {
    let recs: Vec<(&str, u16, u16, IpAddr)> = items
        .iter()
        .filter_map(|i| {
            let (t, p, w) = i.srv.as_ref()?;
            Some((t.as_str(), *p, *w, i.ip?))
        })
        .collect();
    let mut used = vec![false; recs.len()];
    let set = |r: &(&str, u16, u16, IpAddr)| Act::Set {
        addr: SocketAddr::new(r.3, r.1),
        srv: Some((r.0.to_string(), srv_weight(r.2))),
    };
    let mut acts: Vec<Option<Act>> = vec![None; slots.len()];
    for (i, s) in slots.iter().enumerate() {
        let Some(t) = &s.target else { continue };
        let held = recs
            .iter()
            .position(|r| r.0.eq_ignore_ascii_case(t) && r.1 == s.addr.port());
        if let Some(j) = held.filter(|&j| !used[j]) {
            used[j] = true;
            acts[i] = Some(set(&recs[j]));
        }
    }
    // New records go to free slots first: a slot whose record went is taken last,
    // so that another record does not take over its counters at once.
    let mut order: Vec<usize> = (0..slots.len()).collect();
    order.sort_by_key(|&i| slots[i].target.is_some());
    for i in order {
        let s = &slots[i];
        if acts[i].is_some() {
            continue;
        }
        acts[i] = Some(match used.iter().position(|u| !u) {
            Some(j) => {
                used[j] = true;
                set(&recs[j])
            }
            None if s.target.is_some() => Act::Clear("entry removed from SRV record"),
            None => Act::Clear("No IP for server "),
        });
    }
    acts.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(ips: &[&str]) -> Vec<Item> {
        ips.iter()
            .map(|ip| Item {
                ip: Some(ip.parse().unwrap()),
                srv: None,
                ttl: 60,
            })
            .collect()
    }

    fn slot(addr: &str, rmaint: bool, target: Option<&str>) -> Slot {
        let addr: SocketAddr = addr.parse().unwrap();
        Slot {
            addr,
            port: 80,
            rmaint,
            target: target.map(str::to_string),
        }
    }

    fn set(addr: &str) -> Act {
        Act::Set {
            addr: addr.parse().unwrap(),
            srv: None,
        }
    }

    #[test]
    fn a_records_fill_slots_without_duplicates_and_keep_current_ones() {
        let slots = [
            slot("0.0.0.0:80", true, None),
            slot("10.0.0.2:80", false, None),
            slot("0.0.0.0:80", true, None),
        ];
        let acts = addrs(&a(&["10.0.0.1", "10.0.0.2"]), &slots, Family::V4, &[]);
        assert_eq!(
            acts,
            [
                set("10.0.0.1:80"),
                set("10.0.0.2:80"),
                Act::Clear("No IP for server ")
            ]
        );
    }

    #[test]
    fn preferred_family_and_networks_come_first() {
        let slots = [slot("0.0.0.0:80", true, None)];
        let items = a(&["2001:db8::1", "192.168.1.1", "10.1.1.1"]);
        let nets = [("10.0.0.0".parse().unwrap(), 8)];
        assert_eq!(
            addrs(&items, &slots, Family::V4, &nets),
            [set("10.1.1.1:80")]
        );
        assert_eq!(
            addrs(&items, &slots, Family::V6, &[]),
            [set("[2001:db8::1]:80")]
        );
    }

    #[test]
    fn srv_slots_keep_their_record_and_free_ones_take_new_records() {
        let rec = |t: &str, port: u16, w: u16, ip: &str| Item {
            ip: Some(ip.parse().unwrap()),
            srv: Some((t.to_string(), port, w)),
            ttl: 5,
        };
        let slots = [
            slot("0.0.0.0:0", true, None),
            slot("10.0.0.2:8002", false, Some("b.local")),
            slot("10.0.0.3:8003", false, Some("c.local")),
        ];
        let items = [
            rec("a.local", 8001, 0, "10.0.0.1"),
            rec("b.local", 8002, 512, "10.0.0.9"),
        ];
        let acts = srv(&items, &slots);
        assert_eq!(
            acts,
            [
                Act::Set {
                    addr: "10.0.0.1:8001".parse().unwrap(),
                    srv: Some(("a.local".into(), 1))
                },
                Act::Set {
                    addr: "10.0.0.9:8002".parse().unwrap(),
                    srv: Some(("b.local".into(), 3))
                },
                Act::Clear("entry removed from SRV record"),
            ]
        );
    }
}
