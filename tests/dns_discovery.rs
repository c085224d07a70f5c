//! DNS service discovery with the real `lbd` binary: a `resolvers` section pointing
//! at a DNS server the test runs (a few lines over hickory-proto, the crate lbd's
//! resolver uses: records change in-process at once, the server stops by dropping it,
//! and no package is needed beyond the build's own crates), A records filling a
//! server, SRV records filling `server-template` slots that serve traffic, a record
//! removed taking its server out, one added putting a server in, and the last good
//! answers kept while the DNS server is gone.

mod common;
#[path = "common/stats.rs"]
mod stats;

use common::*;
use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, SRV};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use stats::*;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The records the test DNS server answers, by (lowercase name, type).
type Zone = Arc<Mutex<HashMap<(String, RecordType), Vec<RData>>>>;

/// A DNS server on 127.0.0.1 (OS-picked port) answering from its zone, with the A
/// records of SRV targets as additional records; NXDOMAIN for unknown names.
struct TestDns {
    addr: SocketAddr,
    zone: Zone,
    task: tokio::task::JoinHandle<()>,
}

fn fqdn(n: &str) -> Name {
    let mut name = Name::from_ascii(n).unwrap();
    name.set_fqdn(true);
    name
}

impl TestDns {
    async fn start() -> TestDns {
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = sock.local_addr().unwrap();
        let zone: Zone = Arc::default();
        let z = zone.clone();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, from)) = sock.recv_from(&mut buf).await else {
                    continue;
                };
                let Ok(q) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let Some(query) = q.queries().first().cloned() else {
                    continue;
                };
                let key = |n: &Name, t| (n.to_ascii().trim_end_matches('.').to_lowercase(), t);
                let mut r = Message::new();
                r.set_id(q.id())
                    .set_message_type(MessageType::Response)
                    .set_recursion_desired(true)
                    .set_recursion_available(true)
                    .add_query(query.clone());
                {
                    let zone = z.lock().unwrap();
                    let known = zone
                        .keys()
                        .any(|(n, _)| *n == key(query.name(), RecordType::A).0);
                    if !known {
                        r.set_response_code(ResponseCode::NXDomain);
                    }
                    for rd in zone
                        .get(&key(query.name(), query.query_type()))
                        .into_iter()
                        .flatten()
                    {
                        r.add_answer(Record::from_rdata(query.name().clone(), 1, rd.clone()));
                        if let RData::SRV(s) = rd {
                            for a in zone
                                .get(&key(s.target(), RecordType::A))
                                .into_iter()
                                .flatten()
                            {
                                r.add_additional(Record::from_rdata(
                                    s.target().clone(),
                                    1,
                                    a.clone(),
                                ));
                            }
                        }
                    }
                }
                let _ = sock.send_to(&r.to_vec().unwrap(), from).await;
            }
        });
        TestDns { addr, zone, task }
    }

    fn set(&self, name: &str, t: RecordType, data: Vec<RData>) {
        let mut z = self.zone.lock().unwrap();
        if data.is_empty() {
            z.remove(&(name.to_string(), t));
        } else {
            z.insert((name.to_string(), t), data);
        }
    }

    /// An SRV record set: (target, port) each, the targets at 127.0.0.1.
    fn srv(&self, name: &str, targets: &[(&str, u16)]) {
        for (t, _) in targets {
            self.set(t, RecordType::A, vec![RData::A(A(Ipv4Addr::LOCALHOST))]);
        }
        let recs = targets
            .iter()
            .map(|(t, p)| RData::SRV(SRV::new(0, 10, *p, fqdn(t))))
            .collect();
        self.set(name, RecordType::SRV, recs);
    }
}

fn config(sock: &str, dns: SocketAddr, backend: &str) -> String {
    format!(
        "global\n    stats socket {sock} mode 600 level admin\nresolvers dns\n    nameserver ns1 {dns}\n    resolve_retries 1\n    timeout resolve 100ms\n    timeout retry 100ms\n    hold valid 200ms\n    hold timeout 2500ms\n    hold nx 200ms\n{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n    default_backend web\nbackend web\n    balance roundrobin\n{backend}"
    )
}

/// Polls `show stat` until `f` holds on it.
async fn wait_stat(sock: &str, what: &str, f: impl Fn(&Csv) -> bool) -> Csv {
    let end = std::time::Instant::now() + DEADLINE;
    loop {
        let text = cli(sock, "show stat").await;
        let csv = Csv::parse(&text);
        if f(&csv) {
            return csv;
        }
        assert!(
            std::time::Instant::now() < end,
            "timed out waiting until {what}: {text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_records_fill_a_server_and_spare_template_slots_wait_in_maintenance() {
    let a = HttpOrigin::start("a").await;
    let dns = TestDns::start().await;
    dns.set(
        "app.test",
        RecordType::A,
        vec![RData::A(A(Ipv4Addr::LOCALHOST))],
    );
    let dir = SockDir::new();
    let sock = dir.path("lbd.sock");
    let port = a.addr.port();
    let be = format!(
        "    server s1 app.test:{port} resolvers dns init-addr none resolve-prefer ipv4\n    server-template t 2 app.test:{port} resolvers dns init-addr none resolve-prefer ipv4\n"
    );
    let lb = Lbd::start(&config(&sock, dns.addr, &be)).await;
    lb.wait_for_log("web/s1 changed its IP from 0.0.0.0 to 127.0.0.1 by dns/ns1.")
        .await;
    // One address, three servers: no duplicates, the others stay in maintenance.
    let csv = wait_stat(&sock, "one server is up", |c| {
        ["s1", "t1", "t2"]
            .iter()
            .filter(|s| !c.get("web", s, "status").starts_with("MAINT"))
            .count()
            == 1
    })
    .await;
    assert_eq!(csv.get("web", "t2", "status"), "MAINT (resolution)");
    assert_eq!(origins(lb.port, 4).await, ["a"]);
    let state = cli(&sock, "show servers state web").await;
    assert!(state.contains(" t2 0.0.0.0 0 32 1 1 "), "{state}");
    assert!(state.contains(" app.test "), "{state}");

    // `set server fqdn` makes s1 ask another name; a name without records is NX.
    assert_eq!(cli(&sock, "set server web/s1 fqdn gone.test").await, "\n");
    lb.wait_for_log("Server web/s1 is going DOWN for maintenance (DNS NX status). 0 active and 0 backup servers left.")
        .await;
}

#[tokio::test]
async fn srv_records_add_remove_and_hold_servers() {
    let (a, b, c) = (
        HttpOrigin::start("a").await,
        HttpOrigin::start("b").await,
        HttpOrigin::start("c").await,
    );
    let dns = TestDns::start().await;
    let svc = "_http._tcp.web.test";
    dns.srv(svc, &[("a.test", a.addr.port()), ("b.test", b.addr.port())]);
    let dir = SockDir::new();
    let sock = dir.path("lbd.sock");
    let be = format!("    server-template app 3 {svc} resolvers dns init-addr none\n");
    let lb = Lbd::start(&config(&sock, dns.addr, &be)).await;
    let up = |c: &Csv| {
        ["app1", "app2", "app3"]
            .iter()
            .filter(|s| !c.get("web", s, "status").starts_with("MAINT"))
            .count()
    };
    wait_stat(&sock, "two slots are filled", |c| up(c) == 2).await;
    assert_eq!(origins(lb.port, 6).await, ["a", "b"]);
    let slot_of = |state: &str, target: &str| {
        state
            .lines()
            .find(|l| l.contains(&format!(" {target} ")))
            .and_then(|l| l.split(' ').nth(3))
            .map(str::to_string)
    };
    let state = cli(&sock, "show servers state web").await;
    let a_slot = slot_of(&state, "a.test").expect("a.test holds a slot");
    let b_slot = slot_of(&state, "b.test").expect("b.test holds a slot");
    assert!(state.contains(&format!(" {svc} ")), "{state}");
    let a_total = |c: &Csv| c.get("web", &a_slot, "stot").parse::<u64>().unwrap();
    let before = a_total(&Csv::parse(&cli(&sock, "show stat").await));
    assert!(before >= 3);

    // b's record goes, c's comes: b's slot leaves, c takes a free slot, a keeps its
    // slot and its counters.
    dns.srv(svc, &[("a.test", a.addr.port()), ("c.test", c.addr.port())]);
    lb.wait_for_log(&format!(
        "Server web/{b_slot} is going DOWN for maintenance (entry removed from SRV record)."
    ))
    .await;
    lb.wait_for_log("('c.test') is UP/READY (resolves again).")
        .await;
    wait_stat(&sock, "a and c serve", |c| up(c) == 2).await;
    let b_before = b.stats.requests();
    assert_eq!(origins(lb.port, 6).await, ["a", "c"]);
    assert_eq!(b.stats.requests(), b_before);
    let state = cli(&sock, "show servers state web").await;
    assert_eq!(slot_of(&state, "a.test").as_deref(), Some(a_slot.as_str()));
    let kept = a_total(&Csv::parse(&cli(&sock, "show stat").await));
    assert!(kept >= before + 3);

    // A reload keeps the slots where DNS put them, with their counters.
    reload_by_signal(&lb).await;
    assert_eq!(origins(lb.port, 6).await, ["a", "c"]);
    assert!(a_total(&Csv::parse(&cli(&sock, "show stat").await)) >= kept + 3);

    // The DNS server goes away: the last good answers stay for `hold timeout`...
    dns.task.abort();
    let gone = std::time::Instant::now();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(origins(lb.port, 4).await, ["a", "c"]);
    // ... then the servers go to maintenance.
    lb.wait_for_log("is going DOWN for maintenance (DNS timeout status).")
        .await;
    assert!(gone.elapsed() >= Duration::from_millis(2000));
    wait_stat(&sock, "every slot is in maintenance", |c| up(c) == 0).await;
}
