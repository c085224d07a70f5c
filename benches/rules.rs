//! `cargo bench --bench rules`: the cost of HAProxy-style `http-request` rules per
//! request, without sockets (issue #16 asks for a 10-rule set under 1 µs). Prints one
//! line per rule set: nanoseconds per request, rules only (the copy of the request
//! head each iteration needs is measured apart and subtracted).

use lbd::frontend::http::bench::request_rules;

// The allocator the lbd binary uses (src/main.rs), so allocations cost what they cost there.
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const HEAD: &[u8] = b"GET /api/v1/items?id=42&lang=en HTTP/1.1\r\nHost: www.example.com\r\n\
User-Agent: curl/8.0\r\nAccept: */*\r\nCookie: SESSION=abc123; theme=dark\r\n\
X-Forwarded-For: 198.51.100.7\r\n\r\n";

fn config(rules: &str) -> String {
    let mut c = String::from("frontend fe\n    mode http\n    bind 127.0.0.1:8080\n");
    for r in rules.lines().map(str::trim).filter(|l| !l.is_empty()) {
        c.push_str("    ");
        c.push_str(r);
        c.push('\n');
    }
    c.push_str("    default_backend be\nbackend be\n    mode http\n    server s1 127.0.0.1:1\n");
    c
}

/// Ten rules of the kinds real configurations use: acl conditions on path, host,
/// method, source and headers; header rewrites with %[...] formats; variables.
const TEN: &str = "
    acl is_api path_beg /api/
    acl internal src 10.0.0.0/8 192.168.0.0/16
    acl static path_end .css .js .png
    http-request deny if { path_beg /admin } !internal
    http-request set-var(txn.host) req.hdr(host),lower
    http-request set-header X-Api yes if is_api
    http-request del-header X-Debug
    http-request add-header X-Client %[src] if !internal
    http-request set-header X-Host %[var(txn.host)]
    http-request deny deny_status 429 if { req.hdr_cnt(cookie) gt 5 }
    http-request set-var(txn.lang) urlp(lang) if { urlp(lang) -m found }
    http-request redirect scheme https if { hdr(host) -i secure.example.com }
    http-request set-header X-Static 1 if static METH_GET
";

fn main() {
    let iterations = 200_000;
    for (name, rules) in [("no rules", ""), ("10 rules", TEN)] {
        let run = request_rules(&config(rules), HEAD, iterations).expect("bench config");
        assert!(!run.answered, "{name}: a rule answered the request");
        println!(
            "{name:>9}: {:>6} ns per request (head copy {} ns, excluded; {iterations} iterations)",
            run.per_request.as_nanos(),
            run.copy.as_nanos()
        );
    }
    // Each rule alone (with the acl lines), to see where the time goes.
    let acls: String = TEN
        .lines()
        .filter(|l| l.trim_start().starts_with("acl "))
        .map(|l| format!("{l}\n"))
        .collect();
    for rule in TEN
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("http-request"))
    {
        let run = request_rules(&config(&format!("{acls}{rule}")), HEAD, iterations / 4)
            .expect("bench config");
        println!("{:>6} ns  {rule}", run.per_request.as_nanos());
    }
}
