//! The stats page (`stats enable`, `stats uri`, `stats refresh`, `stats auth`).
//!
//! `URI` serves a self-contained HTML dashboard (no external assets) that updates live
//! from `URI;events` (Server-Sent Events, one JSON snapshot per second) and falls back
//! to reloading every `stats refresh` when the browser has no EventSource. `URI;json`
//! (or `?format=json`) gives JSON, `URI;csv` HAProxy's CSV. `stats auth` protects all of
//! it with HTTP Basic authentication.

use crate::backend::pool::ProxyBody;
use crate::config::model::StatsCfg;
use crate::graph::GraphHandle;
use bytes::Bytes;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Response, StatusCode};
use std::time::Duration;

/// True when `path_and_query` addresses the stats page of `cfg`.
pub fn matches(cfg: &StatsCfg, path_and_query: &str) -> bool {
    cfg.enabled && path_and_query.starts_with(cfg.uri())
}

fn b64_decode(s: &str) -> Option<Vec<u8>> {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut buf = 0u32;
    let mut bits = 0;
    for c in s.trim_end_matches('=').bytes() {
        let v = T.iter().position(|&x| x == c)? as u32;
        buf = buf << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    Some(out)
}

fn authorized(cfg: &StatsCfg, headers: &HeaderMap) -> bool {
    if cfg.auth.is_empty() {
        return true;
    }
    let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(b) = v
        .strip_prefix("Basic ")
        .or_else(|| v.strip_prefix("basic "))
    else {
        return false;
    };
    let Some(dec) = b64_decode(b.trim()).and_then(|d| String::from_utf8(d).ok()) else {
        return false;
    };
    let Some((u, p)) = dec.split_once(':') else {
        return false;
    };
    cfg.auth.iter().any(|(cu, cp)| cu == u && cp == p)
}

fn reply(status: StatusCode, ct: &'static str, body: impl Into<Bytes>) -> Response<ProxyBody> {
    let mut r = Response::new(ProxyBody::full(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// Serves a stats request.
pub fn serve(
    cfg: &StatsCfg,
    path_and_query: &str,
    headers: &HeaderMap,
    handle: &GraphHandle,
) -> Response<ProxyBody> {
    if !authorized(cfg, headers) {
        let realm = cfg.realm.as_deref().unwrap_or("HAProxy Statistics");
        let mut r = reply(
            StatusCode::UNAUTHORIZED,
            "text/html",
            "<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n",
        );
        if let Ok(v) = HeaderValue::from_str(&format!("Basic realm=\"{}\"", realm.replace('"', "")))
        {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        return r;
    }
    let rest = &path_and_query[cfg.uri().len()..];
    let want = |suffix: &str| {
        rest.starts_with(suffix) || rest.contains(&format!("format={}", &suffix[1..]))
    };
    let accept_sse = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/event-stream"));
    if want(";events") || accept_sse {
        return events(handle.clone());
    }
    let g = handle.load_full();
    let snap = super::snapshot(&g);
    if want(";json") {
        return reply(StatusCode::OK, "application/json", super::json(&snap));
    }
    if want(";csv") {
        return reply(
            StatusCode::OK,
            "text/plain; charset=utf-8",
            super::csv(&snap),
        );
    }
    let refresh = cfg.refresh.map_or(0, |d| d.as_secs().max(1));
    reply(
        StatusCode::OK,
        "text/html; charset=utf-8",
        html(cfg.uri(), refresh, &super::json(&snap)),
    )
}

/// A Server-Sent Events stream of JSON snapshots, one per second.
fn events(handle: GraphHandle) -> Response<ProxyBody> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(2);
    tokio::spawn(async move {
        loop {
            let g = handle.load_full();
            let msg = format!(
                "event: stats\ndata: {}\n\n",
                super::json(&super::snapshot(&g))
            );
            drop(g);
            if tx.send(Bytes::from(msg)).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    let mut r = Response::new(ProxyBody::Channel(rx));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

fn html(uri: &str, refresh: u64, initial: &str) -> String {
    let uri_js = super::json_str(uri);
    let initial = initial.replace("</", "<\\/");
    format!(
        r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>lbd statistics</title>
<style>
body{{font-family:sans-serif;margin:1em;background:#fafafa;color:#222}}
h1{{font-size:1.3em}} h2{{font-size:1.1em;margin:1.2em 0 .3em}}
table{{border-collapse:collapse;font-size:.85em;min-width:60em}}
th,td{{border:1px solid #ccc;padding:2px 6px;text-align:right}} th{{background:#eee}}
td.n{{text-align:left}}
tr.UP td.st{{background:#8e8}} tr.DOWN td.st{{background:#f77}} tr.MAINT td.st{{background:#ccc}}
tr.DRAIN td.st{{background:#88f}} tr.TRANS td.st{{background:#fd8}}
tr.OPEN td.st{{background:#8e8}} tr.tot td{{font-weight:bold;background:#f0f0f0}}
#conn,#info{{font-size:.8em;color:#666}}
#legend span{{display:inline-block;padding:0 6px;margin-right:4px;border:1px solid #ccc;font-size:.8em}}
</style></head>
<body><h1>lbd statistics</h1><div id="info"></div><div id="conn">live</div>
<div id="legend">
<span style="background:#8e8">UP</span><span style="background:#fd8">UP/DOWN, going down or up (checks n/m)</span><span style="background:#f77">DOWN</span><span style="background:#88f">DRAIN (no new traffic)</span><span style="background:#ccc">MAINT (no traffic, no checks)</span>
</div><div id="root"></div>
<script>
var URI={uri_js}, REFRESH={refresh};
var prev={{}}, prevT=0;
function esc(s){{return String(s).replace(/[&<>"]/g,function(c){{return {{'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}}[c];}});}}
function cls(st){{var w=st.split(' ')[0]; return st.indexOf('/')>0?'TRANS':w;}}
function age(s){{return s<60?s+'s':s<3600?Math.floor(s/60)+'m'+(s%60)+'s':Math.floor(s/3600)+'h'+Math.floor(s%3600/60)+'m';}}
function bytes(n){{return n<1024?n+' B':n<1048576?(n/1024).toFixed(1)+' KiB':n<1073741824?(n/1048576).toFixed(1)+' MiB':(n/1073741824).toFixed(2)+' GiB';}}
function render(d){{
  var now=Date.now()/1000, dt=prevT?now-prevT:0, h='';
  document.getElementById('info').textContent='lbd '+d.version+', pid '+d.pid+', uptime '+age(d.uptime_s);
  h+='<h2>Frontends</h2><table><tr><th>frontend</th><th>status</th><th>cur</th><th>total</th><th>requests</th><th>denied</th><th>bytes in</th><th>bytes out</th><th>2xx</th><th>4xx</th><th>5xx</th></tr>';
  d.frontends.forEach(function(f){{
    h+='<tr class="OPEN" id="'+esc(f.name)+'/FRONTEND"><td class="n">'+esc(f.name)+'</td><td class="st">OPEN</td><td>'+f.cur+'</td><td>'+f.total+'</td><td>'+f.requests+'</td><td>'+(f.denied+f.denied_conn)+'</td><td>'+bytes(f.bytes_in)+'</td><td>'+bytes(f.bytes_out)+'</td><td>'+f.hrsp[1]+'</td><td>'+f.hrsp[3]+'</td><td>'+f.hrsp[4]+'</td></tr>';
  }});
  h+='</table>';
  d.backends.forEach(function(b){{
    h+='<h2>'+esc(b.name)+' <small>('+b.active+' active, '+b.backup+' backup up)</small></h2>';
    h+='<table><tr><th>server</th><th>status</th><th>weight</th><th>cur</th><th>total</th><th>req/s</th><th>errors</th><th>bytes in</th><th>bytes out</th><th>avg ms</th><th>p99 ms</th><th>last check</th><th>consec. fails</th><th>downtime</th><th>since change</th></tr>';
    var cur=0, errs=0, weight=0;
    b.servers.forEach(function(s){{
      var key=b.name+'/'+s.name, rate='';
      if(dt>0&&prev[key]!==undefined) rate=((s.total-prev[key])/dt).toFixed(1);
      prev[key]=s.total;
      var chk=s.check?esc(s.check.status+(s.check.code?' '+s.check.code:'')+' in '+s.check.duration_ms+'ms'):'-';
      cur+=s.cur; errs+=s.econ+s.eresp; if(!s.backup&&s.status.indexOf('UP')===0) weight+=s.weight;
      h+='<tr class="'+cls(s.status)+'" id="'+esc(key)+'"><td class="n">'+esc(s.name)+(s.backup?' (backup)':'')+'</td><td class="st">'+esc(s.status)+'</td><td>'+s.weight+'</td><td>'+s.cur+'</td><td>'+s.total+'</td><td>'+rate+'</td><td>'+(s.econ+s.eresp)+'</td><td>'+bytes(s.bytes_in)+'</td><td>'+bytes(s.bytes_out)+'</td><td>'+s.avg_ms.toFixed(1)+'</td><td>'+s.p99_ms.toFixed(1)+'</td><td class="n" title="'+(s.check?esc(s.check.desc):'')+'">'+chk+'</td><td title="'+s.chkfail+' failed checks in total">'+s.consecutive_failures+'</td><td>'+age(s.downtime_s)+'</td><td>'+age(s.lastchg_s)+'</td></tr>';
    }});
    var up=b.active+b.backup>0||b.servers.length===0;
    h+='<tr class="tot '+(up?'UP':'DOWN')+'" id="'+esc(b.name)+'/BACKEND"><td class="n">Total</td><td class="st">'+(up?'UP':'DOWN')+'</td><td>'+weight+'</td><td>'+cur+'</td><td>'+b.total+'</td><td></td><td>'+errs+'</td><td>'+bytes(b.bytes_in)+'</td><td>'+bytes(b.bytes_out)+'</td><td colspan="6">'+b.queued+' queued, '+b.no_server+' without server</td></tr>';
    h+='</table>';
  }});
  prevT=now;
  document.getElementById('root').innerHTML=h;
}}
render({initial});
if(window.EventSource){{
  var es=new EventSource(URI+';events');
  es.addEventListener('stats',function(e){{render(JSON.parse(e.data));document.getElementById('conn').textContent='live';}});
  es.onerror=function(){{document.getElementById('conn').textContent='reconnecting...';}};
}} else if(REFRESH>0){{ setTimeout(function(){{location.reload();}},REFRESH*1000); }}
</script>
<noscript>{noscript}</noscript>
</body></html>
"#,
        noscript = if refresh > 0 {
            format!("<meta http-equiv=\"refresh\" content=\"{refresh}\">")
        } else {
            String::new()
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth() {
        assert_eq!(b64_decode("YWRtaW46c2VjcmV0").unwrap(), b"admin:secret");
        let cfg = StatsCfg {
            enabled: true,
            auth: vec![("admin".into(), "secret".into())],
            ..StatsCfg::default()
        };
        let mut h = HeaderMap::new();
        assert!(!authorized(&cfg, &h));
        h.insert(
            header::AUTHORIZATION,
            "Basic YWRtaW46c2VjcmV0".parse().unwrap(),
        );
        assert!(authorized(&cfg, &h));
        h.insert(
            header::AUTHORIZATION,
            "Basic YWRtaW46d3Jvbmc=".parse().unwrap(),
        );
        assert!(!authorized(&cfg, &h));
    }

    #[test]
    fn uri_matching() {
        let cfg = StatsCfg {
            enabled: true,
            uri: Some("/stats".into()),
            ..StatsCfg::default()
        };
        assert!(matches(&cfg, "/stats"));
        assert!(matches(&cfg, "/stats;json"));
        assert!(!matches(&cfg, "/other"));
        assert!(matches(
            &StatsCfg {
                enabled: true,
                ..StatsCfg::default()
            },
            "/haproxy?stats"
        ));
    }
}
