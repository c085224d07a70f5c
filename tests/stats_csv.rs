//! `show stat` of the real `lbd` binary in HAProxy 2.6's layout: all 103 columns in
//! HAProxy's order (tools read them by position), `iid` the proxy's id, a `listen`
//! without servers UP rather than DOWN, and `lastchg` restarting on MAINT and DRAIN.

mod common;
#[path = "common/stats.rs"]
mod stats;

use common::*;
use stats::*;

/// HAProxy 2.6's `show stat` columns, in order.
const HAPROXY_2_6: &str = "pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_check_status,agg_server_status,agg_check_status";

#[tokio::test]
async fn show_stat_has_haproxy_2_6_columns_ids_and_state_clocks() {
    let (a, b) = (HttpOrigin::start("a").await, HttpOrigin::start("b").await);
    let dir = SockDir::new();
    let sock = dir.sock();
    let lb = Lbd::start(&format!(
        "global\n    stats socket {sock} level admin\n{HTTP_DEFAULTS}frontend fe\n    bind 127.0.0.1:@FE@\n    default_backend web\nbackend web\n    server a {}\n    server b {} check inter 100ms rise 2 fall 3\nlisten stats\n    bind 127.0.0.1:@FE2@\n    stats enable\n",
        a.hostport(),
        b.hostport()
    ))
    .await;
    assert_eq!(get(lb.port, "/").await.status, 200);
    let text = cli(&sock, "show stat").await;
    let csv = Csv::parse(&text);
    let want: Vec<&str> = HAPROXY_2_6.split(',').collect();
    assert_eq!(want.len(), 103);
    assert_eq!(&csv.header[..103], want.as_slice(), "{text}");
    assert_eq!(csv.header.len(), 104, "the trailing comma: {text}");
    // iid is the proxy id: the runtime socket's internal proxy is 1, then fe, web,
    // stats in declaration order.
    assert_eq!(csv.get("fe", "FRONTEND", "iid"), "2");
    assert_eq!(csv.get("web", "a", "iid"), "3");
    assert_eq!(csv.get("web", "BACKEND", "iid"), "3");
    assert_eq!(csv.get("stats", "FRONTEND", "iid"), "4");
    assert_eq!(csv.get("web", "b", "sid"), "2");
    // A proxy without servers is not a DOWN backend.
    assert_eq!(csv.get("stats", "BACKEND", "status"), "UP");
    assert_eq!(csv.get("web", "BACKEND", "status"), "UP");
    assert_eq!(csv.get("web", "a", "addr"), a.hostport());
    assert_eq!(csv.get("web", "a", "mode"), "http");
    assert_eq!(csv.get("fe", "FRONTEND", "mode"), "http");
    assert_eq!(csv.get("web", "b", "check_rise"), "2");
    assert_eq!(csv.get("web", "b", "check_fall"), "3");
    assert_eq!(csv.get("web", "a", "check_rise"), "", "a is not checked");
    assert_eq!(csv.get("fe", "FRONTEND", "conn_tot"), "1");
    // "Since the last change" restarts when an admin state changes.
    for (cmd, status) in [
        ("set server web/a state maint", "MAINT"),
        ("set server web/a state drain", "DRAIN"),
    ] {
        let aged = cli_until(&sock, "show stat", |t| {
            Csv::parse(t).get("web", "a", "lastchg") != "0"
        })
        .await;
        assert_ne!(Csv::parse(&aged).get("web", "a", "lastchg"), "0", "{aged}");
        assert_eq!(cli(&sock, cmd).await, "\n");
        let csv = Csv::parse(&cli(&sock, "show stat").await);
        assert_eq!(csv.get("web", "a", "status"), status);
        assert_eq!(csv.get("web", "a", "lastchg"), "0", "{cmd}");
    }
}
