//! Load-balancing algorithms: pure pick logic over a view of the servers.
//!
//! The backend gives a `View` in which a server that may not take this request right
//! now (DOWN, drained, in maintenance, weight 0, at its maxconn, or not in the active
//! set) has weight 0. Each algorithm keeps only its own small state (round-robin
//! weights, a rotating offset, a hash ring), so picks never allocate.
//!
//! Keys are HAProxy's: `sdbm` of the URI, parameter or header value, the client
//! address's 32-bit words XORed for `source`. Map-based hashing takes the key modulo
//! the total weight, so with equal weights a key lands on the server HAProxy picks.
//! Consistent hashing places each server on a ring by name (FNV-1a plus a 64-bit
//! finaliser). Either way, lbd instances with the same config pick the same server.

use crate::config::model::{Balance, HashType};
use crate::sample::hash::random_u64;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;

/// What an algorithm may know about the servers at pick time.
#[allow(clippy::len_without_is_empty)]
pub trait View {
    /// Number of servers (eligible or not).
    fn len(&self) -> usize;
    /// Effective weight now; 0 means "do not pick".
    fn weight(&self, i: usize) -> u32;
    /// Active connections or requests.
    fn active(&self, i: usize) -> u32;
}

/// A balancer for one backend.
#[derive(Debug)]
pub struct Balancer {
    algo: Algo,
    /// Round robin used by hash algorithms when the request has no key.
    fallback: Swrr,
}

#[derive(Debug)]
enum Algo {
    RoundRobin(Swrr),
    StaticRr { seq: Vec<usize>, next: AtomicUsize },
    LeastConn { next: AtomicUsize },
    First,
    MapHash,
    Consistent { ring: Vec<(u64, usize)> },
    Random { draws: u32 },
}

/// Smooth weighted round robin (the nginx algorithm): each pick adds every weight to
/// its server's credit, takes the server with the most credit and charges it the total.
/// With weights 3 and 1 the sequence is a, a, b, a.
#[derive(Debug, Default)]
pub struct Swrr {
    credit: Mutex<Vec<i64>>,
}

impl Swrr {
    fn new(n: usize) -> Self {
        Swrr {
            credit: Mutex::new(vec![0; n]),
        }
    }

    fn pick(&self, v: &dyn View) -> Option<usize> {
        let mut credit = self.credit.lock().unwrap_or_else(|e| e.into_inner());
        if credit.len() < v.len() {
            credit.resize(v.len(), 0);
        }
        let mut total: i64 = 0;
        let mut best: Option<usize> = None;
        for i in 0..v.len() {
            let w = v.weight(i) as i64;
            if w == 0 {
                // A server that comes back starts fresh instead of with stale credit.
                credit[i] = 0;
                continue;
            }
            credit[i] += w;
            total += w;
            match best {
                Some(b) if credit[b] >= credit[i] => {}
                _ => best = Some(i),
            }
        }
        let b = best?;
        credit[b] -= total;
        Some(b)
    }
}

/// The `balance source` key of a client address, as HAProxy computes it: the address's
/// 32-bit words XORed together (an IPv4 address is its own key; IPv4-mapped IPv6 keys
/// as IPv4). With map-based hashing the server is then the key modulo the weights.
pub fn source_key(ip: std::net::IpAddr) -> u64 {
    let key = match ip {
        std::net::IpAddr::V4(v) => u32::from(v),
        std::net::IpAddr::V6(v) => match v.to_ipv4_mapped() {
            Some(v4) => u32::from(v4),
            None => {
                let b = u128::from(v);
                (0..4).fold(0u32, |h, i| h ^ (b >> (32 * i)) as u32)
            }
        },
    };
    u64::from(key)
}

/// HAProxy's default hash function (`sdbm`) for `balance uri`, `url_param` and
/// `hdr()`: the same request key gives the same server as HAProxy with map-based
/// hashing and the same servers.
pub fn sdbm(data: &[u8]) -> u64 {
    u64::from(crate::sample::hash::sdbm(data))
}

/// Stable 64-bit hash of a key (FNV-1a with a splitmix64 finaliser).
pub fn hash(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(h)
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Points per unit of weight on the consistent-hash ring.
const RING_POINTS: u32 = 40;

impl Balancer {
    /// A balancer for `balance` over servers with these configured weights (servers
    /// named by their index; see `named`).
    pub fn new(balance: &Balance, hash_type: HashType, weights: &[u32]) -> Self {
        let names: Vec<String> = (0..weights.len()).map(|i| i.to_string()).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        Self::named(balance, hash_type, weights, &names)
    }

    /// A balancer whose consistent-hash ring places servers by name, so adding or
    /// removing one server never moves the keys of the others, and every lbd with the
    /// same config builds the same ring.
    pub fn named(balance: &Balance, hash_type: HashType, weights: &[u32], names: &[&str]) -> Self {
        let n = weights.len();
        let algo = match balance {
            Balance::RoundRobin => Algo::RoundRobin(Swrr::new(n)),
            Balance::StaticRr => {
                let view = StaticView(weights);
                let total: u32 = weights.iter().sum();
                let swrr = Swrr::new(n);
                let seq = (0..total).filter_map(|_| swrr.pick(&view)).collect();
                Algo::StaticRr {
                    seq,
                    next: AtomicUsize::new(0),
                }
            }
            Balance::LeastConn => Algo::LeastConn {
                next: AtomicUsize::new(0),
            },
            Balance::First => Algo::First,
            Balance::Random(d) => Algo::Random { draws: (*d).max(1) },
            _ => match hash_type {
                HashType::MapBased => Algo::MapHash,
                HashType::Consistent => {
                    let mut ring = Vec::new();
                    for (i, w) in weights.iter().enumerate() {
                        for p in 0..w * RING_POINTS {
                            let name = names.get(i).copied().unwrap_or("");
                            ring.push((mix(hash(format!("{name}#{p}").as_bytes())), i));
                        }
                    }
                    ring.sort_unstable();
                    Algo::Consistent { ring }
                }
            },
        };
        Balancer {
            algo,
            fallback: Swrr::new(n),
        }
    }

    /// True when weights may change at run time (HAProxy's `BE_LB_PROP_DYN`): every
    /// algorithm but `static-rr` and map-based hashing.
    pub fn is_dynamic(&self) -> bool {
        !matches!(self.algo, Algo::StaticRr { .. } | Algo::MapHash)
    }

    /// True when the algorithm wants a hash key from the request.
    pub fn wants_key(&self) -> bool {
        matches!(self.algo, Algo::MapHash | Algo::Consistent { .. })
    }

    /// Picks a server; `key` is the request's hash for hash algorithms (None falls back
    /// to round robin, as HAProxy does when the key is missing).
    pub fn pick(&self, v: &dyn View, key: Option<u64>) -> Option<usize> {
        let n = v.len();
        if n == 0 {
            return None;
        }
        match &self.algo {
            Algo::RoundRobin(s) => s.pick(v),
            Algo::StaticRr { seq, next } => {
                for _ in 0..seq.len() {
                    let i = seq[next.fetch_add(1, Relaxed) % seq.len()];
                    if v.weight(i) > 0 {
                        return Some(i);
                    }
                }
                None
            }
            Algo::LeastConn { next } => {
                let start = next.fetch_add(1, Relaxed);
                let mut best: Option<(u64, usize)> = None;
                for k in 0..n {
                    let i = (start + k) % n;
                    let w = v.weight(i) as u64;
                    if w == 0 {
                        continue;
                    }
                    // (active + 1) per unit of weight, scaled to stay integral.
                    let score = (v.active(i) as u64 + 1) * 65536 / w;
                    if best.is_none_or(|(s, _)| score < s) {
                        best = Some((score, i));
                    }
                }
                best.map(|(_, i)| i)
            }
            Algo::First => (0..n).find(|&i| v.weight(i) > 0),
            Algo::MapHash => match key {
                None => self.fallback.pick(v),
                Some(h) => {
                    let total: u64 = (0..n).map(|i| v.weight(i) as u64).sum();
                    if total == 0 {
                        return None;
                    }
                    let mut target = h % total;
                    for i in 0..n {
                        let w = v.weight(i) as u64;
                        if target < w {
                            return Some(i);
                        }
                        target -= w;
                    }
                    None
                }
            },
            Algo::Consistent { ring } => match key {
                None => self.fallback.pick(v),
                Some(h) => {
                    if ring.is_empty() {
                        return None;
                    }
                    // Keys are 32-bit (HAProxy's); spread them over the 64-bit ring.
                    let h = mix(h);
                    let start = ring.partition_point(|(p, _)| *p < h);
                    (0..ring.len())
                        .map(|k| ring[(start + k) % ring.len()].1)
                        .find(|&i| v.weight(i) > 0)
                }
            },
            Algo::Random { draws } => {
                let total: u64 = (0..n).map(|i| v.weight(i) as u64).sum();
                if total == 0 {
                    return None;
                }
                let mut best: Option<(u64, usize)> = None;
                for _ in 0..*draws {
                    let mut target = random_u64() % total;
                    let mut pick = 0;
                    for i in 0..n {
                        let w = v.weight(i) as u64;
                        if target < w {
                            pick = i;
                            break;
                        }
                        target -= w;
                    }
                    // HAProxy compares load relative to weight; ties keep the earlier
                    // draw, so idle servers are chosen exactly by weight.
                    let w = v.weight(pick) as u64;
                    let score = v.active(pick) as u64 * 65536 / w.max(1);
                    if best.is_none_or(|(s, _)| score < s) {
                        best = Some((score, pick));
                    }
                }
                best.map(|(_, i)| i)
            }
        }
    }
}

struct StaticView<'a>(&'a [u32]);

impl View for StaticView<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn weight(&self, i: usize) -> u32 {
        self.0[i]
    }
    fn active(&self, _: usize) -> u32 {
        0
    }
}

/// The hash key of an HTTP request for hash-based balancing (`source`, `uri`,
/// `url_param`, `hdr()`); `None` for the other algorithms or when the request lacks
/// what the algorithm hashes.
pub fn request_key(
    balance: &Balance,
    uri: &hyper::Uri,
    headers: &hyper::HeaderMap,
    peer: Option<std::net::IpAddr>,
) -> Option<u64> {
    match balance {
        // A unix client has no address: round robin, as in HAProxy.
        Balance::Source => peer.map(source_key),
        Balance::Uri { whole, len, depth } => {
            let mut s = if *whole {
                uri.path_and_query().map_or("/", |p| p.as_str())
            } else {
                uri.path()
            };
            if *depth > 0 {
                if let Some((p, _)) = s.match_indices('/').nth(*depth) {
                    s = &s[..p];
                }
            }
            if *len > 0 && s.len() > *len {
                let mut end = *len;
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                s = &s[..end];
            }
            Some(sdbm(s.as_bytes()))
        }
        Balance::UrlParam(name) => uri.query().and_then(|q| {
            q.split('&').find_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                (k == name).then(|| sdbm(v.as_bytes()))
            })
        }),
        Balance::Hdr { name, domain_only } => {
            let v = headers.get(name.as_str())?.to_str().ok()?;
            if v.is_empty() {
                return None;
            }
            if *domain_only {
                let host = v.split(':').next().unwrap_or(v);
                let labels: Vec<&str> = host.split('.').collect();
                let dom = if labels.len() >= 2 {
                    labels[labels.len() - 2]
                } else {
                    host
                };
                Some(sdbm(dom.as_bytes()))
            } else {
                Some(sdbm(v.as_bytes()))
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct V {
        w: Vec<u32>,
        a: Vec<u32>,
    }
    impl View for V {
        fn len(&self) -> usize {
            self.w.len()
        }
        fn weight(&self, i: usize) -> u32 {
            self.w[i]
        }
        fn active(&self, i: usize) -> u32 {
            self.a[i]
        }
    }
    fn v(w: &[u32]) -> V {
        V {
            w: w.to_vec(),
            a: vec![0; w.len()],
        }
    }
    fn seq(b: &Balancer, view: &V, n: usize) -> Vec<usize> {
        (0..n).map(|_| b.pick(view, None).unwrap()).collect()
    }

    #[test]
    fn roundrobin_equal_weights_cycles_in_order() {
        let b = Balancer::new(&Balance::RoundRobin, HashType::MapBased, &[1, 1, 1]);
        assert_eq!(seq(&b, &v(&[1, 1, 1]), 6), [0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn roundrobin_weights_interleave_smoothly() {
        let b = Balancer::new(&Balance::RoundRobin, HashType::MapBased, &[3, 1]);
        assert_eq!(seq(&b, &v(&[3, 1]), 8), [0, 0, 1, 0, 0, 0, 1, 0]);
        let b = Balancer::new(&Balance::RoundRobin, HashType::MapBased, &[5, 1, 1]);
        assert_eq!(seq(&b, &v(&[5, 1, 1]), 7), [0, 0, 1, 0, 2, 0, 0]);
    }

    #[test]
    fn roundrobin_follows_weight_changes_and_skips_ineligible() {
        let b = Balancer::new(&Balance::RoundRobin, HashType::MapBased, &[1, 1, 1]);
        assert_eq!(seq(&b, &v(&[1, 0, 1]), 4), [0, 2, 0, 2]);
        assert_eq!(b.pick(&v(&[0, 0, 0]), None), None);
        let picks = seq(&b, &v(&[1, 3, 0]), 8);
        assert_eq!(picks.iter().filter(|&&i| i == 1).count(), 6);
    }

    #[test]
    fn static_rr_uses_configured_weights() {
        let b = Balancer::new(&Balance::StaticRr, HashType::MapBased, &[2, 1]);
        assert_eq!(seq(&b, &v(&[2, 1]), 6), [0, 1, 0, 0, 1, 0]);
        assert_eq!(seq(&b, &v(&[0, 1]), 3), [1, 1, 1]);
    }

    #[test]
    fn leastconn_prefers_fewest_active_per_weight() {
        let b = Balancer::new(&Balance::LeastConn, HashType::MapBased, &[1, 1, 1]);
        let view = V {
            w: vec![1, 1, 1],
            a: vec![5, 2, 7],
        };
        assert_eq!(b.pick(&view, None), Some(1));
        let view = V {
            w: vec![1, 4],
            a: vec![1, 3],
        };
        assert_eq!(b.pick(&view, None), Some(1)); // 2/1 vs 4/4
    }

    #[test]
    fn leastconn_rotates_among_equals() {
        let b = Balancer::new(&Balance::LeastConn, HashType::MapBased, &[1, 1, 1]);
        let mut picks = seq(&b, &v(&[1, 1, 1]), 3);
        picks.sort();
        assert_eq!(picks, [0, 1, 2]);
    }

    #[test]
    fn first_takes_the_first_available() {
        let b = Balancer::new(&Balance::First, HashType::MapBased, &[1, 1]);
        assert_eq!(b.pick(&v(&[1, 1]), None), Some(0));
        assert_eq!(b.pick(&v(&[0, 1]), None), Some(1));
    }

    #[test]
    fn map_hash_is_stable_and_weighted() {
        let b = Balancer::new(&Balance::Source, HashType::MapBased, &[1, 1, 1]);
        let view = v(&[1, 1, 1]);
        for k in 0..100u64 {
            let h = hash(&k.to_be_bytes());
            assert_eq!(b.pick(&view, Some(h)), b.pick(&view, Some(h)));
        }
        assert_eq!(b.pick(&view, Some(4)), Some(1));
        assert_eq!(hash(b"10.0.0.1"), hash(b"10.0.0.1"));
        assert_ne!(hash(b"10.0.0.1"), hash(b"10.0.0.2"));
    }

    #[test]
    fn keys_are_haproxys() {
        // HAProxy's balance-uri reg-test: /url1../url4 on four equal servers.
        let b = Balancer::new(
            &Balance::Uri {
                whole: false,
                len: 0,
                depth: 0,
            },
            HashType::MapBased,
            &[1; 4],
        );
        let view = v(&[1; 4]);
        let picks: Vec<_> = ["/url1", "/url2", "/url3", "/url4"]
            .iter()
            .map(|u| b.pick(&view, Some(sdbm(u.as_bytes()))))
            .collect();
        assert_eq!(picks, [Some(1), Some(2), Some(3), Some(0)]);
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        assert_eq!(source_key(ip("10.0.0.7")), 0x0a00_0007);
        assert_eq!(source_key(ip("::ffff:10.0.0.7")), 0x0a00_0007);
        assert_eq!(source_key(ip("2001:db8::1")), 0x2001_0db8 ^ 1);
    }

    #[test]
    fn consistent_hash_remaps_about_one_nth_when_a_server_leaves() {
        let n = 5;
        let b = Balancer::new(&Balance::Source, HashType::Consistent, &vec![1; n]);
        let all = v(&vec![1; n]);
        let mut without = v(&vec![1; n]);
        without.w[2] = 0;
        let keys = 10_000u64;
        let mut moved = 0;
        for k in 0..keys {
            let h = hash(&k.to_be_bytes());
            let a = b.pick(&all, Some(h)).unwrap();
            let c = b.pick(&without, Some(h)).unwrap();
            if a != c {
                assert_eq!(a, 2, "only keys of the removed server move");
                moved += 1;
            }
        }
        let share = moved as f64 / keys as f64;
        assert!((0.12..0.28).contains(&share), "moved {share}");
    }

    #[test]
    fn consistent_ring_is_placed_by_name() {
        let all = Balancer::named(
            &Balance::Source,
            HashType::Consistent,
            &[1, 1, 1],
            &["a", "b", "c"],
        );
        let without_b =
            Balancer::named(&Balance::Source, HashType::Consistent, &[1, 1], &["a", "c"]);
        for k in 0..2000u64 {
            let h = hash(&k.to_be_bytes());
            let before = all.pick(&v(&[1, 1, 1]), Some(h)).unwrap();
            let after = without_b.pick(&v(&[1, 1]), Some(h)).unwrap();
            match before {
                0 => assert_eq!(after, 0),
                2 => assert_eq!(after, 1),
                _ => {}
            }
        }
    }

    #[test]
    fn hash_without_key_falls_back_to_round_robin() {
        let b = Balancer::new(&Balance::UrlParam("u".into()), HashType::MapBased, &[1, 1]);
        assert_eq!(seq(&b, &v(&[1, 1]), 4), [0, 1, 0, 1]);
    }

    #[test]
    fn random_honours_weights_and_prefers_less_loaded() {
        let b = Balancer::new(&Balance::Random(2), HashType::MapBased, &[3, 1]);
        let view = v(&[3, 1]);
        let n = 20_000;
        let zero = (0..n).filter(|_| b.pick(&view, None) == Some(0)).count();
        // Power of two choices with equal load ties to the first draw: weighted.
        let share = zero as f64 / n as f64;
        assert!((0.70..0.80).contains(&share), "share {share}");
        let b1 = Balancer::new(&Balance::Random(1), HashType::MapBased, &[1, 1]);
        assert!(b1.pick(&v(&[0, 1]), None) == Some(1));
        let loaded = V {
            w: vec![1, 1],
            a: vec![100, 0],
        };
        let b5 = Balancer::new(&Balance::Random(5), HashType::MapBased, &[1, 1]);
        let ones = (0..1000)
            .filter(|_| b5.pick(&loaded, None) == Some(1))
            .count();
        assert!(ones > 900);
    }
}
