//! One DNS resolution: the query sent to a `resolvers` section's nameservers over
//! UDP, and what its answer says. The wire format is hickory-proto's.

use crate::config::model::{Family, Resolvers};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// How a resolution ended (HAProxy's `RSLV_STATUS_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Answers came.
    Valid,
    /// The name does not exist, or has no record of the types asked.
    Nx,
    /// No nameserver answered in time.
    Timeout,
    /// A nameserver refused the query.
    Refused,
    /// Any other error.
    Other,
}

impl Status {
    /// The words of the maintenance message once the hold of this status is over.
    pub fn reason(self) -> &'static str {
        match self {
            Status::Valid => "No IP for server ",
            Status::Nx => "DNS NX status",
            Status::Timeout => "DNS timeout status",
            Status::Refused => "DNS refused status",
            Status::Other => "unspecified DNS error",
        }
    }
}

/// One record of an answer: an address (A/AAAA), or an SRV target with its
/// address when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The address (None: an SRV target that did not resolve).
    pub ip: Option<IpAddr>,
    /// The SRV target, port and weight.
    pub srv: Option<(String, u16, u16)>,
    /// The record's TTL in seconds.
    pub ttl: u32,
}

/// The answer of a resolution: its status, its items, and the nameserver that gave it.
#[derive(Debug, Clone)]
pub struct Answer {
    /// How it ended.
    pub status: Status,
    /// The records (empty unless `Valid`).
    pub items: Vec<Item>,
    /// `SECTION/NAMESERVER` that answered.
    pub by: String,
}

/// The DNS name of `host` (absolute).
fn name(host: &str) -> Option<Name> {
    let mut n = Name::from_ascii(host).ok()?;
    n.set_fqdn(true);
    Some(n)
}

fn request(id: u16, qname: Name, t: RecordType, payload: u16) -> Option<Vec<u8>> {
    let mut m = Message::new();
    m.set_id(id)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true)
        .add_query(Query::query(qname, t));
    if payload > 512 {
        let mut e = Edns::new();
        e.set_max_payload(payload);
        m.set_edns(e);
    }
    m.to_vec().ok()
}

/// Asks `host` for records of type `t`: each try sends the query to every nameserver
/// and takes the first answer that is not an error; `resolve_retries` tries of
/// `timeout retry` each.
async fn ask(r: &Resolvers, host: &str, t: RecordType) -> (Status, Option<Message>, String) {
    let Some(qname) = name(host) else {
        return (Status::Other, None, String::new());
    };
    let id: u16 = fastrand::u16(..);
    let Some(req) = request(id, qname.clone(), t, r.payload_size) else {
        return (Status::Other, None, String::new());
    };
    let mut status = Status::Timeout;
    let mut buf = vec![0u8; usize::from(r.payload_size.max(512))];
    for _ in 0..r.retries {
        let Ok(sock) =
            tokio::net::UdpSocket::bind(if r.nameservers.iter().any(|n| n.1.is_ipv6()) {
                "[::]:0"
            } else {
                "0.0.0.0:0"
            })
            .await
        else {
            return (Status::Other, None, String::new());
        };
        for (_, ns) in &r.nameservers {
            let _ = sock.send_to(&req, ns).await;
        }
        let deadline = tokio::time::Instant::now() + r.timeout_retry;
        loop {
            let got = tokio::time::timeout_at(deadline, sock.recv_from(&mut buf)).await;
            let Ok(Ok((n, from))) = got else { break };
            let Some(ns) = r.nameservers.iter().find(|(_, a)| same(*a, from)) else {
                continue;
            };
            let Ok(m) = Message::from_vec(&buf[..n]) else {
                status = Status::Other;
                continue;
            };
            let q_ok = m
                .queries()
                .first()
                .is_some_and(|q| q.name() == &qname && q.query_type() == t);
            if m.id() != id || m.message_type() != MessageType::Response || !q_ok {
                continue;
            }
            let by = format!("{}/{}", r.name, ns.0);
            match m.response_code() {
                ResponseCode::NoError => return (Status::Valid, Some(m), by),
                ResponseCode::NXDomain => return (Status::Nx, Some(m), by),
                ResponseCode::Refused => status = Status::Refused,
                _ => status = Status::Other,
            }
        }
    }
    (status, None, String::new())
}

/// Whether an answer from `from` comes from nameserver `ns`.
fn same(ns: SocketAddr, from: SocketAddr) -> bool {
    let canon = |a: SocketAddr| SocketAddr::new(a.ip().to_canonical(), a.port());
    canon(ns) == canon(from)
}

/// The addresses of `records` for `owner` (A/AAAA, through CNAMEs as given).
fn addrs(records: &[Record], t: Option<RecordType>) -> Vec<(IpAddr, u32)> {
    records
        .iter()
        .filter_map(|rec| {
            let ip = match rec.data() {
                RData::A(a) if t != Some(RecordType::AAAA) => IpAddr::V4(a.0),
                RData::AAAA(a) if t != Some(RecordType::A) => IpAddr::V6(a.0),
                _ => return None,
            };
            Some((ip, rec.ttl()))
        })
        .collect()
}

/// The record types of a family, preferred first.
fn types(prefer: Family) -> [RecordType; 2] {
    match prefer {
        Family::V4 => [RecordType::A, RecordType::AAAA],
        Family::V6 => [RecordType::AAAA, RecordType::A],
    }
}

/// Resolves `host` to its addresses: the preferred family first, the other when the
/// first has none.
pub async fn resolve_addrs(r: &Resolvers, host: &str, prefer: Family) -> Answer {
    let mut first: Option<(Status, String)> = None;
    for t in types(prefer) {
        let (status, m, by) = ask(r, host, t).await;
        let found = m.map(|m| addrs(m.answers(), Some(t))).unwrap_or_default();
        if !found.is_empty() {
            let items = found
                .into_iter()
                .map(|(ip, ttl)| Item {
                    ip: Some(ip),
                    srv: None,
                    ttl,
                })
                .collect();
            return Answer {
                status: Status::Valid,
                items,
                by,
            };
        }
        // A name with no record of the type asked is NX for the server.
        let status = if status == Status::Valid {
            Status::Nx
        } else {
            status
        };
        first.get_or_insert((status, by));
    }
    let (status, by) = first.unwrap_or((Status::Other, String::new()));
    Answer {
        status,
        items: Vec::new(),
        by,
    }
}

/// Resolves an SRV record: its targets, ports and weights, with the targets'
/// addresses from the additional records, or asked for when missing there.
pub async fn resolve_srv(r: &Resolvers, host: &str, prefer: Family) -> Answer {
    let (status, m, by) = ask(r, host, RecordType::SRV).await;
    let Some(m) = m.filter(|_| status == Status::Valid) else {
        return Answer {
            status,
            items: Vec::new(),
            by,
        };
    };
    let mut items = Vec::new();
    for rec in m.answers() {
        let RData::SRV(s) = rec.data() else { continue };
        let target = s.target().to_ascii().trim_end_matches('.').to_string();
        let extra: Vec<&Record> = m
            .additionals()
            .iter()
            .filter(|a| a.name() == s.target())
            .collect();
        let mut found: Vec<(IpAddr, u32)> = extra
            .iter()
            .filter_map(|a| addrs(std::slice::from_ref(*a), None).pop())
            .collect();
        found.sort_by_key(|(ip, _)| (ip.is_ipv4() != (prefer == Family::V4)) as u8);
        let ip = match found.first() {
            Some((ip, _)) => Some(*ip),
            None => resolve_addrs(r, &target, prefer)
                .await
                .items
                .first()
                .and_then(|i| i.ip),
        };
        items.push(Item {
            ip,
            srv: Some((target, s.port(), s.weight())),
            ttl: rec.ttl(),
        });
    }
    if items.is_empty() {
        return Answer {
            status: Status::Nx,
            items,
            by,
        };
    }
    Answer {
        status: Status::Valid,
        items,
        by,
    }
}

/// The time to ask again after a valid answer: `hold valid`, or sooner when a
/// record's TTL says so, never before `timeout resolve`.
pub fn refresh_after(r: &Resolvers, items: &[Item]) -> Duration {
    let ttl = items
        .iter()
        .map(|i| Duration::from_secs(u64::from(i.ttl)))
        .min()
        .unwrap_or(r.hold.valid);
    ttl.min(r.hold.valid).max(r.timeout_resolve)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_shorten_the_refresh_within_timeout_resolve_and_hold_valid() {
        let mut r = Resolvers::new("dns");
        r.hold.valid = Duration::from_secs(10);
        r.timeout_resolve = Duration::from_secs(1);
        let item = |ttl| Item {
            ip: Some("10.0.0.1".parse().unwrap()),
            srv: None,
            ttl,
        };
        assert_eq!(
            refresh_after(&r, &[item(3), item(60)]),
            Duration::from_secs(3)
        );
        assert_eq!(refresh_after(&r, &[item(0)]), Duration::from_secs(1));
        assert_eq!(refresh_after(&r, &[item(3600)]), Duration::from_secs(10));
    }

    #[test]
    fn queries_are_well_formed_dns_messages() {
        let q = request(
            7,
            name("_http._tcp.svc.local").unwrap(),
            RecordType::SRV,
            4096,
        )
        .unwrap();
        let m = Message::from_vec(&q).unwrap();
        assert_eq!(m.id(), 7);
        assert!(m.recursion_desired());
        assert_eq!(m.queries()[0].query_type(), RecordType::SRV);
        assert_eq!(m.extensions().as_ref().map(|e| e.max_payload()), Some(4096));
        assert_eq!(Status::Nx.reason(), "DNS NX status");
    }
}
