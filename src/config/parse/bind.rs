//! `bind ADDR [params]`: the bind parameter table and its parsers.

use super::{Param, ParamFn, Parser, Target, R};
use crate::config::keywords::{Caps, Keyword};
use crate::config::model::*;
use crate::config::value;

/// What the parameters of one `bind` line set.
#[derive(Default)]
pub(crate) struct BindOpts {
    v6only: Option<bool>,
    backlog: Option<u32>,
    name: Option<String>,
}

const DOC: &str = "bind-addresses-and-parameters";

type K = Keyword<ParamFn<BindOpts>>;

const fn kw(name: &'static str, args: u8, parse: ParamFn<BindOpts>) -> K {
    Keyword::new(name, Caps::DFBL, parse, DOC).args(args)
}

/// The `bind` parameters: supported first (in `did you mean` order), then known ones
/// with the value words an ignored one skips.
pub(crate) static KEYWORDS: &[K] = &[
    kw("v4v6", 0, v4v6),
    kw("v6only", 0, v6only),
    kw("name", 1, name),
    kw("backlog", 1, backlog),
    kw("id", 1, id_maxconn),
    kw("maxconn", 1, id_maxconn),
    K::unsupported("ssl"),
    K::unsupported("crt"),
    K::unsupported("crt-list"),
    K::unsupported("ca-file"),
    K::unsupported("alpn"),
    K::unsupported("npn"),
    K::unsupported("verify"),
    K::unsupported("accept-proxy"),
    K::unsupported("transparent"),
    K::unsupported("interface"),
    K::unsupported("namespace"),
    K::unsupported("crl-file"),
    K::unsupported("strict-sni"),
    K::unsupported("ciphers"),
    K::unsupported("ciphersuites"),
    K::unsupported("ssl-min-ver"),
    K::unsupported("ssl-max-ver"),
    K::unsupported("quic-cc-algo"),
    K::unsupported("proto"),
    K::unsupported("accept-netscaler-cip"),
    K::unsupported("ca-ignore-err"),
    K::unsupported("crt-ignore-err"),
    K::unsupported("generate-certificates"),
    K::unsupported("ecdhe"),
    K::unsupported("curves"),
    K::unsupported("no-ca-names"),
    K::unsupported("allow-0rtt"),
    K::unsupported("force-sslv3"),
    K::unsupported("force-tlsv10"),
    K::unsupported("force-tlsv11"),
    K::unsupported("force-tlsv12"),
    K::unsupported("force-tlsv13"),
    K::unsupported("ca-sign-file"),
    K::unsupported("ca-verify-file"),
    K::unsupported("no-alpn"),
    K::unsupported("mss"),
    K::unsupported("ssl_fc"),
    K::unsupported("ssl-passphrase"),
    K::unsupported("guid-prefix"),
    K::unsupported("shards"),
    K::ignored("tfo"),
    K::ignored("defer-accept"),
    K::ignored("nice").args(1),
    K::ignored("process").args(1),
    K::ignored("thread").args(1),
    K::ignored("level").args(1),
    K::ignored("severity-output").args(1),
    K::ignored("mode").args(1),
    K::ignored("user").args(1),
    K::ignored("group").args(1),
    K::ignored("uid").args(1),
    K::ignored("gid").args(1),
    K::ignored("no-sslv3"),
    K::ignored("no-tlsv10"),
    K::ignored("no-tlsv11"),
    K::ignored("no-tlsv12"),
    K::ignored("no-tlsv13"),
    K::ignored("no-tls-tickets"),
    K::ignored("tls-ticket-keys").args(1),
    K::ignored("prefer-client-ciphers"),
    K::ignored("expose-fd").args(1),
    K::ignored("tcp-ut").args(1),
    K::ignored("idle-ping").args(1),
    K::ignored("label").args(1),
];

fn v4v6(_: &mut Parser<'_>, b: &mut BindOpts, _: &Param<'_>) -> R {
    b.v6only = Some(false);
    Ok(())
}

fn v6only(_: &mut Parser<'_>, b: &mut BindOpts, _: &Param<'_>) -> R {
    b.v6only = Some(true);
    Ok(())
}

fn name(_: &mut Parser<'_>, b: &mut BindOpts, a: &Param<'_>) -> R {
    b.name = Some(a.val.to_string());
    Ok(())
}

fn backlog(_: &mut Parser<'_>, b: &mut BindOpts, a: &Param<'_>) -> R {
    b.backlog = Some(value::int_in(a.val, 1, i32::MAX as u64, "'backlog'")? as u32);
    Ok(())
}

/// `id` and `maxconn`: checked, not used (`maxconn` with a warning).
fn id_maxconn(p: &mut Parser<'_>, _: &mut BindOpts, a: &Param<'_>) -> R {
    value::int_in(a.val, 0, u32::MAX as u64, a.name)?;
    if a.name == "maxconn" {
        p.warn(format!("'{}' : per-bind 'maxconn' is not supported by lbd and is ignored; use the frontend's 'maxconn'.", a.ctx));
    }
    Ok(())
}

impl<'e> Parser<'e> {
    /// `bind ADDR[,ADDR...] [params]`: one listener per address and port.
    pub(super) fn bind(&mut self, w: &[String], t: Target) -> R {
        let Some(spec) = w.get(1) else {
            return Err(
                "'bind' expects [addr1]:port1[-end1]{,[addr]:port[-end]}... as arguments.".into(),
            );
        };
        let addrs: Vec<(std::net::SocketAddr, Option<i32>)> = match spec.strip_prefix("fd@") {
            Some(n) => match value::inherited_fd(n, &|v| self.getenv(v))
                .map_err(|e| format!("'bind {spec}' : {e}"))?
            {
                (fd, value::Inherited::Tcp(a)) => vec![(a, Some(fd))],
                (_, value::Inherited::Unix) => {
                    return Err(format!(
                        "'bind {spec}' : unix socket binds are not supported by lbd"
                    ))
                }
            },
            None => value::bind_addrs(spec)
                .map_err(|e| format!("'bind {spec}' : {e}"))?
                .into_iter()
                .map(|a| (a, None))
                .collect(),
        };
        let mut b = BindOpts::default();
        self.params(KEYWORDS, &w[2..], &format!("bind {spec}"), &mut b)?;
        let loc = self.loc.clone();
        let p = self.px(t);
        for (addr, fd) in addrs {
            p.binds.push(Bind {
                addr,
                fd,
                v6only: b.v6only,
                backlog: b.backlog,
                name: b.name.clone(),
                loc: loc.clone(),
            });
        }
        Ok(())
    }
}
