//! The response step: the server's head checked (framing) and observed, an upgrade
//! turned into a tunnel, persistence applied (cookie insert/rewrite, stick store),
//! `http-response` rules (backend first, then frontend), and the body streamed back
//! over a connection that returns to the pool when it ends.

use super::actions::{self, Ctx, Msg};
use super::head::{check_response_framing, strip_hop_by_hop};
use super::request::{Req, Route, Sent};
use super::upstream::Exchange;
use crate::backend::persist;
use crate::backend::pool::{PooledBody, ProxyBody};
use crate::backend::status::{self, Observation};
use crate::backend::Slot;
use crate::config::model::{CookieMode, HttpConnMode};
use crate::rules::RuleSet;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::sync::atomic::Ordering::Relaxed;

impl Req<'_> {
    /// Turns the server's response head into the client's response.
    pub(super) async fn respond(
        &mut self,
        route: &Route,
        sent: &mut Sent,
        x: Exchange,
    ) -> Response<ProxyBody> {
        let (mut resp, slot, sender) = x;
        let server = sent.saved.is_some().then(|| slot.server.clone());
        let be = &route.be;
        if check_response_framing(&sent.method, resp.status(), resp.headers_mut()).is_err() {
            // Dropping `sender` and the body closes the connection: it is never pooled.
            slot.server.state.resp_errors.fetch_add(1, Relaxed);
            status::observe(be, &slot.server, Observation::L7Invalid);
            return self
                .pages(Some(be))
                .response(502, Some(&be.name), self.json);
        }
        let code = resp.status();
        slot.server.state.count_status(code.as_u16());
        status::observe(be, &slot.server, Observation::for_status(code.as_u16()));
        if code == StatusCode::SWITCHING_PROTOCOLS {
            let Some(client_up) = sent.client_upgrade.take().filter(|_| sent.is_upgrade) else {
                return self
                    .pages(Some(be))
                    .response(502, Some(&be.name), self.json);
            };
            let server_up = hyper::upgrade::on(&mut resp);
            let t = self.state.tunnel(be.timeouts.tunnel);
            tunnel(client_up, server_up, slot, sender, t);
            let (parts, _) = resp.into_parts();
            return Response::from_parts(parts, ProxyBody::empty());
        }
        let (mut rparts, incoming) = resp.into_parts();
        if !self.fe.capture_response.is_empty() {
            self.captures.response_headers(self.fe, &rparts.headers);
        }
        strip_hop_by_hop(&mut rparts.headers, false);
        super::head::announce_grpc_trailers(&mut rparts.headers);
        self.store_on_response(route, sent, &slot, &rparts);
        if let Some(c) = self.persist(route, sent, &slot, &mut rparts.headers) {
            self.trace.cookie[1] = c;
        }
        let keep = if sent.server_close { None } else { sender };
        let mut body = ProxyBody::Response(Box::new(PooledBody::new(
            incoming,
            keep,
            slot,
            self.state.server(be.timeouts.server),
        )));
        // Response rules: backend first, then frontend.
        let fe = self.fe;
        if let (Some(saved), Some(server)) = (&sent.saved, &server) {
            let sets: &[&RuleSet] = if route.same_proxy {
                &[&fe.rules]
            } else {
                &[&be.rules, &fe.rules]
            };
            let sv = self.stats_view(Some(be));
            let id = be.server_index(&server.name).map_or(0, |i| i as i64 + 1);
            // The fields one by one: the rules below change `self.vars`.
            let mut ctx = Ctx::new(self.conn, self.addrs, self.graph, self.fe, &sv)
                .with_be(be)
                .with_srv(&server.name, id)
                .with_srv_tls(self.trace.srv_tls.as_deref())
                .with_track(&self.track)
                .with_captures(&self.captures)
                .with_unique_id(self.unique_id.as_deref())
                .with_state(&self.state);
            for rs in sets {
                if let Some(r) =
                    actions::response_content_rules(rs, &ctx, &mut self.vars, saved, &rparts)
                {
                    return r;
                }
                // A `wait-for-body` rule reads the body ahead, then the rules after
                // it go on.
                let mut start = 0;
                while let Some(mut r) = actions::apply(
                    rs,
                    &rs.response[start..],
                    &ctx,
                    &mut self.vars,
                    Msg::Res(saved, &mut rparts),
                ) {
                    let Some(ra) = r.extensions_mut().remove::<actions::ReadAhead>() else {
                        return r;
                    };
                    start += ra.next;
                    ctx.res_read = true;
                    let per_read = self.state.server(be.timeouts.server);
                    let limit = self.graph.bufsize;
                    // Boxed: a rare path, kept out of every request's future.
                    let (ahead, short) = Box::pin(super::body::read_ahead(
                        &mut body,
                        ra.wait,
                        per_read,
                        limit,
                        |_| super::body::Short::Invalid,
                    ))
                    .await;
                    body = ahead.before(body);
                    if let Some(s) = short {
                        // As HAProxy: 504 when time ran out, 502 for a broken body.
                        let (status, term) = match s {
                            super::body::Short::Timeout => (504, *b"sD"),
                            _ => (502, *b"SD"),
                        };
                        self.trace.term = term;
                        let name = Some(be.name.as_str());
                        return self.pages(Some(be)).response(status, name, self.json);
                    }
                }
            }
        }
        if fe.options.http_conn == HttpConnMode::Close {
            rparts
                .headers
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        Response::from_parts(rparts, body)
    }

    /// `stick store-response`: the keys read on the response head (before the
    /// `http-response` rules, where HAProxy's store rules run) store its server.
    fn store_on_response(
        &self,
        route: &Route,
        sent: &Sent,
        slot: &Slot,
        res: &hyper::http::response::Parts,
    ) {
        let be = &route.be;
        let (Some(st), Some(saved)) = (&be.stick, &sent.saved) else {
            return;
        };
        if slot.index == crate::backend::DISPATCH || !st.stores_on_response() {
            return;
        }
        let sv = self.stats_view(Some(be));
        let ctx = self
            .ctx(&sv)
            .with_be(be)
            .with_srv(&slot.server.name, slot.index as i64 + 1);
        let keys = st.response_stores(&ctx.res_env(&self.vars, saved, res));
        st.store(&keys, &slot.server.name);
    }

    /// Cookie persistence on the response (insert, rewrite, prefix) and the stick
    /// table's store. Returns what happened to the cookie (`%tsc`'s last character)
    /// when the backend has `cookie`.
    fn persist(
        &self,
        route: &Route,
        sent: &Sent,
        slot: &Slot,
        headers: &mut HeaderMap,
    ) -> Option<u8> {
        let be = &route.be;
        if let (Some(st), true) = (&be.stick, slot.index != crate::backend::DISPATCH) {
            st.store(&route.stick_store, &slot.server.name);
        }
        let ck = be.cookie.as_ref()?;
        let from_server = persist::response_sets(ck, headers);
        let Some(value) = &slot.server.cfg.cookie else {
            return Some(if from_server { b'P' } else { b'N' });
        };
        Some(match ck.mode {
            CookieMode::Insert => {
                if !ck.preserve {
                    persist::remove_response_cookie(ck, headers);
                }
                let same = route
                    .seen
                    .as_ref()
                    .filter(|s| &s.server == value && !s.expired);
                let refresh = ck.maxidle.is_some();
                let blocked =
                    (ck.postonly && sent.method != Method::POST) || (ck.preserve && from_server);
                if (same.is_none() || refresh) && !blocked {
                    let first = same.and_then(|s| s.first);
                    match persist::set_cookie(ck, value, persist::now_secs(), first) {
                        Some(v) => {
                            headers.append(header::SET_COOKIE, v);
                            if ck.nocache {
                                headers.insert(
                                    header::CACHE_CONTROL,
                                    HeaderValue::from_static("private"),
                                );
                            }
                            if same.is_some() {
                                b'U'
                            } else {
                                b'I'
                            }
                        }
                        None => b'N',
                    }
                } else if from_server {
                    b'P'
                } else {
                    b'N'
                }
            }
            CookieMode::Rewrite | CookieMode::Prefix => {
                persist::rewrite_response(ck, headers, value);
                if from_server {
                    b'R'
                } else {
                    b'N'
                }
            }
            CookieMode::Passive => {
                if from_server {
                    b'P'
                } else {
                    b'N'
                }
            }
        })
    }
}

/// Copies an upgraded connection both ways (`timeout tunnel` bounds it) in a task of
/// its own; the server slot is held until it ends.
fn tunnel(
    client_up: hyper::upgrade::OnUpgrade,
    server_up: hyper::upgrade::OnUpgrade,
    slot: Slot,
    sender: Option<crate::backend::pool::Conn>,
    timeout: Option<std::time::Duration>,
) {
    tokio::spawn(async move {
        let _sender = sender;
        let server_state = slot.server.state.clone();
        let _slot = slot;
        let gen = server_state.kill.generation();
        if let (Ok(c), Ok(s)) = (client_up.await, server_up.await) {
            let mut c = TokioIo::new(c);
            let mut s = TokioIo::new(s);
            let copy = async {
                tokio::select! {
                    r = tokio::io::copy_bidirectional(&mut c, &mut s) => r.map(|_| ()),
                    _ = server_state.kill.wait(gen) => Ok(()),
                }
            };
            match timeout {
                Some(t) => {
                    let _ = tokio::time::timeout(t, copy).await;
                }
                None => {
                    let _ = copy.await;
                }
            }
        }
    });
}
