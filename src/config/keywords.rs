//! The keyword catalogue: what lbd supports, which HAProxy keywords it knows but does
//! not implement, and which HAProxy removed.
//!
//! A known keyword that lbd does not implement is an ALERT when ignoring it would change
//! traffic (the operator would get a different proxy than they wrote) and a WARNING when
//! it would not (process management, logging details, tuning).

/// How lbd treats a keyword it does not implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    /// Ignoring it would change traffic: refuse the config.
    Unsupported,
    /// Harmless to ignore: warn.
    Ignored,
    /// HAProxy itself removed it; the text says what to use.
    Removed(&'static str),
}

/// Section keywords.
pub const SECTIONS: &[&str] = &["global", "defaults", "frontend", "backend", "listen"];

/// Sections HAProxy has that lbd does not implement (ignored with a warning; a
/// reference to them from a proxy is an alert where it is parsed).
pub const OTHER_SECTIONS: &[&str] = &[
    "userlist",
    "peers",
    "resolvers",
    "cache",
    "program",
    "mailers",
    "http-errors",
    "ring",
    "fcgi-app",
    "crt-store",
    "traces",
    "log-forward",
    "namespace_list",
];

/// `global` keywords lbd implements.
pub const GLOBAL: &[&str] = &[
    "log",
    "maxconn",
    "nbthread",
    "cpu-map",
    "pidfile",
    "hard-stop-after",
    "spread-checks",
    "stats",
    "tune.bufsize",
    "tune.http.maxhdr",
    "log-tag",
    "setenv",
    "presetenv",
    "unsetenv",
    "resetenv",
    "description",
    "node",
];

/// `global` keywords known and classified.
pub fn global_known(kw: &str) -> Option<Known> {
    use Known::*;
    Some(match kw {
        "lua-load"
        | "lua-load-per-thread"
        | "lua-prepend-path"
        | "ssl-engine"
        | "ssl-mode-async"
        | "external-check"
        | "insecure-fork-wanted"
        | "set-dumpable"
        | "expose-experimental-directives"
        | "httpclient.resolvers.id"
        | "wurfl-data-file"
        | "51degrees-data-file"
        | "deviceatlas-json-file"
        | "localpeer"
        | "h1-case-adjust"
        | "h1-case-adjust-file"
        | "server-state-file"
        | "server-state-base" => Unsupported,
        "daemon"
        | "chroot"
        | "user"
        | "group"
        | "uid"
        | "gid"
        | "ulimit-n"
        | "nbproc"
        | "master-worker"
        | "quiet"
        | "zero-warning"
        | "ca-base"
        | "crt-base"
        | "ssl-default-bind-ciphers"
        | "ssl-default-bind-ciphersuites"
        | "ssl-default-bind-options"
        | "ssl-default-server-ciphers"
        | "ssl-default-server-ciphersuites"
        | "ssl-default-server-options"
        | "ssl-dh-param-file"
        | "ssl-server-verify"
        | "default-path"
        | "log-send-hostname"
        | "noepoll"
        | "nopoll"
        | "nosplice"
        | "nogetaddrinfo"
        | "noreuseport"
        | "maxsslconn"
        | "maxconnrate"
        | "maxsessrate"
        | "maxcomprate"
        | "maxpipes"
        | "maxzlibmem"
        | "busy-polling"
        | "max-spread-checks"
        | "stats-file"
        | "numa-cpu-mapping"
        | "thread-groups"
        | "thread-group"
        | "pp2-never-send-local"
        | "unix-bind"
        | "strict-limits"
        | "hash-balance-factor"
        | "profiling.tasks"
        | "grace"
        | "description-file"
        | "ssl-load-extra-files"
        | "ssl-propquery"
        | "ssl-provider"
        | "ssl-skip-self-issued-ca"
        | "issuers-chain-path"
        | "log-format"
        | "mworker-max-reloads"
        | "localpeer-name"
        | "cluster-secret"
        | "ssl-default-sigalgs"
        | "ssl-default-client-sigalgs"
        | "ssl-default-bind-curves"
        | "ssl-default-server-curves"
        | "limited-quic"
        | "tune.ssl.default-dh-param"
        | "numa"
        | "node-id" => Ignored,
        k if k.starts_with("tune.") && !GLOBAL.contains(&k) => Ignored,
        // lbd has no internal HTTP client (HAProxy's serves Lua and ACME).
        k if k.starts_with("httpclient.") => Ignored,
        "debug" => {
            Removed("The 'debug' directive is not supported; use '-d' on the command line instead.")
        }
        _ => return None,
    })
}

/// Proxy keywords lbd implements.
pub const PROXY: &[&str] = &[
    "mode",
    "bind",
    "default_backend",
    "use_backend",
    "acl",
    "balance",
    "hash-type",
    "server",
    "default-server",
    "timeout",
    "maxconn",
    "retries",
    "option",
    "http-check",
    "http-request",
    "http-response",
    "cookie",
    "stick-table",
    "stick",
    "stats",
    "log",
    "description",
    "no",
    "disabled",
    "enabled",
    "id",
];

/// Proxy keywords known and classified.
pub fn proxy_known(kw: &str) -> Option<Known> {
    use Known::*;
    Some(match kw {
        "tcp-request" | "tcp-response" | "errorfile" | "errorfiles" | "errorloc"
        | "errorloc302" | "errorloc303" | "http-error" | "compression"
        | "filter" | "server-template" | "dispatch" | "source" | "monitor-uri" | "monitor"
        | "use-server" | "force-persist" | "ignore-persist" | "persist" | "http-after-response"
        | "tcp-check" | "external-check" | "dynamic-cookie-key" | "http-reuse"
        | "http-send-name-header" | "rate-limit" | "hash-balance-factor" | "load-server-state-from-file"
        | "server-state-file-name" | "email-alert" | "declare" | "unique-id-format"
        | "unique-id-header" | "use-fcgi-app" | "http-restrict-req-hdr-names" | "max-keep-alive-queue"
        | "max-session-srv-conns" | "guid" | "retry-on" | "stick-table-expire" | "appsession"
        | "transparent" => Unsupported,
        "capture" | "log-format" | "log-format-sd" | "error-log-format" | "log-tag"
        | "bind-process" | "grace" | "backlog" | "clitcpka-cnt" | "clitcpka-idle"
        | "clitcpka-intvl" | "srvtcpka-cnt" | "srvtcpka-idle" | "srvtcpka-intvl"
        | "minconn" | "log-steps" | "fullconn" => Ignored,
        "block" => Removed("The 'block' directive is not supported anymore since HAProxy 2.2. Use 'http-request deny' which uses the exact same syntax."),
        "reqadd" | "reqrep" | "reqirep" | "reqdel" | "reqidel" | "reqdeny" | "reqideny"
        | "reqpass" | "reqipass" | "reqallow" | "reqiallow" | "reqtarpit" | "reqitarpit"
        | "reqsetbe" | "reqisetbe" => Removed("This directive is not supported anymore since HAProxy 2.1. Use 'http-request' instead."),
        "rspadd" | "rsprep" | "rspirep" | "rspdel" | "rspidel" | "rspdeny" | "rspideny" => {
            Removed("This directive is not supported anymore since HAProxy 2.1. Use 'http-response' instead.")
        }
        "contimeout" => Removed("This directive is not supported anymore since HAProxy 2.1. Use 'timeout connect' instead."),
        "clitimeout" => Removed("This directive is not supported anymore since HAProxy 2.1. Use 'timeout client' instead."),
        "srvtimeout" => Removed("This directive is not supported anymore since HAProxy 2.1. Use 'timeout server' instead."),
        "redispatch" => Removed("This directive is not supported anymore since HAProxy 2.1. Use 'option redispatch' instead."),
        "reqtimeout" => Removed("This directive is not supported anymore since HAProxy 2.1. Use 'timeout http-request' instead."),
        _ => return None,
    })
}

/// `option` names lbd implements.
pub const OPTIONS: &[&str] = &[
    "httpchk",
    "tcp-check",
    "forwardfor",
    "redispatch",
    "allbackups",
    "httplog",
    "tcplog",
    "http-server-close",
    "httpclose",
    "http-keep-alive",
    "log-health-checks",
    "dontlognull",
    "forceclose",
    "http-tunnel",
];

/// `option` names known and classified.
pub fn option_known(name: &str) -> Option<Known> {
    use Known::*;
    Some(match name {
        "ssl-hello-chk"
        | "mysql-check"
        | "pgsql-check"
        | "redis-check"
        | "smtpchk"
        | "ldap-check"
        | "spop-check"
        | "external-check"
        | "persist"
        | "forwarded"
        | "originalto"
        | "accept-invalid-http-request"
        | "accept-invalid-http-response"
        | "accept-unsafe-violations-in-http-request"
        | "accept-unsafe-violations-in-http-response"
        | "http-use-proxy-header"
        | "http-restrict-req-hdr-names"
        | "transparent"
        | "prefer-last-server"
        | "h1-case-adjust-bogus-client"
        | "h1-case-adjust-bogus-server"
        | "disable-h2-upgrade"
        | "http-drop-request-trailers"
        | "http-drop-response-trailers" => Unsupported,
        "clitcpka"
        | "srvtcpka"
        | "tcpka"
        | "logasap"
        | "dontlog-normal"
        | "log-separate-errors"
        | "contstats"
        | "socket-stats"
        | "checkcache"
        | "tcp-smart-accept"
        | "tcp-smart-connect"
        | "splice-auto"
        | "splice-request"
        | "splice-response"
        | "http-pretend-keepalive"
        | "abortonclose"
        | "http-buffer-request"
        | "http-ignore-probes"
        | "http-use-htx"
        | "nolinger"
        | "independent-streams"
        | "http-no-delay"
        | "idle-close-on-response"
        | "httpslog"
        | "http_proxy"
        | "http-proxy"
        | "log-health-check"
        | "allbackup" => Ignored,
        _ => return None,
    })
}

/// `server` / `default-server` keywords lbd implements.
pub const SERVER: &[&str] = &[
    "check",
    "no-check",
    "inter",
    "fastinter",
    "downinter",
    "rise",
    "fall",
    "port",
    "addr",
    "weight",
    "backup",
    "no-backup",
    "disabled",
    "enabled",
    "maxconn",
    "maxqueue",
    "slowstart",
    "observe",
    "error-limit",
    "on-error",
    "on-marked-down",
    "on-marked-up",
    "init-state",
    "cookie",
    "send-proxy",
    "send-proxy-v2",
    "no-send-proxy",
    "no-send-proxy-v2",
    "id",
];

/// `server` keywords known and classified.
pub fn server_known(kw: &str) -> Option<Known> {
    use Known::*;
    Some(match kw {
        "ssl"
        | "verify"
        | "verifyhost"
        | "ca-file"
        | "crl-file"
        | "crt"
        | "sni"
        | "alpn"
        | "npn"
        | "check-ssl"
        | "check-sni"
        | "check-alpn"
        | "check-proto"
        | "proto"
        | "agent-check"
        | "agent-port"
        | "agent-inter"
        | "agent-addr"
        | "agent-send"
        | "resolvers"
        | "resolve-prefer"
        | "resolve-net"
        | "resolve-opts"
        | "init-addr"
        | "track"
        | "redir"
        | "source"
        | "usesrc"
        | "namespace"
        | "check-send-proxy"
        | "send-proxy-v2-ssl"
        | "send-proxy-v2-ssl-cn"
        | "proxy-v2-options"
        | "non-stick"
        | "socks4"
        | "ws"
        | "allow-0rtt"
        | "set-proxy-v2-tlv-fmt"
        | "ciphers"
        | "ciphersuites"
        | "force-sslv3"
        | "force-tlsv10"
        | "force-tlsv11"
        | "force-tlsv12"
        | "force-tlsv13"
        | "ssl-min-ver"
        | "ssl-max-ver"
        | "check-via-socks4"
        | "on-marked-down-sessions"
        | "guid"
        | "hash-key"
        | "shard"
        | "max-reuse" => Unsupported,
        "tfo"
        | "pool-max-conn"
        | "pool-purge-delay"
        | "pool-low-conn"
        | "pool-conn-name"
        | "minconn"
        | "no-ssl"
        | "no-sslv3"
        | "no-tlsv10"
        | "no-tlsv11"
        | "no-tlsv12"
        | "no-tlsv13"
        | "no-ssl-reuse"
        | "no-tls-tickets"
        | "tls-tickets"
        | "ssl-reuse"
        | "no-verifyhost"
        | "no-agent-check"
        | "no-check-ssl"
        | "log-proto"
        | "tcp-ut"
        | "curves"
        | "sigalgs"
        | "client-sigalgs"
        | "ws-check"
        | "check-pool-conn-name"
        | "no-tfo"
        | "stick"
        | "no-stick" => Ignored,
        _ => return None,
    })
}

/// `bind` parameters lbd implements.
pub const BIND: &[&str] = &["v4v6", "v6only", "name", "backlog", "id", "maxconn"];

/// `bind` parameters known and classified.
pub fn bind_known(kw: &str) -> Option<Known> {
    use Known::*;
    Some(match kw {
        "ssl"
        | "crt"
        | "crt-list"
        | "ca-file"
        | "alpn"
        | "npn"
        | "verify"
        | "accept-proxy"
        | "transparent"
        | "interface"
        | "namespace"
        | "crl-file"
        | "strict-sni"
        | "ciphers"
        | "ciphersuites"
        | "ssl-min-ver"
        | "ssl-max-ver"
        | "quic-cc-algo"
        | "proto"
        | "accept-netscaler-cip"
        | "ca-ignore-err"
        | "crt-ignore-err"
        | "generate-certificates"
        | "ecdhe"
        | "curves"
        | "no-ca-names"
        | "allow-0rtt"
        | "force-sslv3"
        | "force-tlsv10"
        | "force-tlsv11"
        | "force-tlsv12"
        | "force-tlsv13"
        | "ca-sign-file"
        | "ca-verify-file"
        | "no-alpn"
        | "mss"
        | "ssl_fc"
        | "ssl-passphrase"
        | "guid-prefix"
        | "shards" => Unsupported,
        "tfo"
        | "defer-accept"
        | "nice"
        | "process"
        | "thread"
        | "level"
        | "severity-output"
        | "mode"
        | "user"
        | "group"
        | "uid"
        | "gid"
        | "no-sslv3"
        | "no-tlsv10"
        | "no-tlsv11"
        | "no-tlsv12"
        | "no-tlsv13"
        | "no-tls-tickets"
        | "tls-ticket-keys"
        | "prefer-client-ciphers"
        | "expose-fd"
        | "tcp-ut"
        | "idle-ping"
        | "label" => Ignored,
        _ => return None,
    })
}

/// The `timeout` names lbd implements.
pub const TIMEOUTS: &[&str] = &[
    "connect",
    "client",
    "server",
    "http-request",
    "http-keep-alive",
    "queue",
    "tunnel",
    "check",
    "client-fin",
    "server-fin",
];

/// `timeout` names known and classified.
pub fn timeout_known(name: &str) -> Option<Known> {
    match name {
        "tarpit" | "retry" | "resolve" => Some(Known::Ignored),
        "clitimeout" | "srvtimeout" | "contimeout" | "appsession" => Some(Known::Unsupported),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_keywords_are_not_also_classified_as_unsupported() {
        for k in PROXY {
            assert_eq!(proxy_known(k), None, "{k}");
        }
        for k in GLOBAL {
            assert_eq!(global_known(k), None, "{k}");
        }
        for k in OPTIONS {
            assert_eq!(option_known(k), None, "{k}");
        }
        for k in SERVER {
            assert_eq!(server_known(k), None, "{k}");
        }
        for k in BIND {
            assert_eq!(bind_known(k), None, "{k}");
        }
    }

    #[test]
    fn traffic_changing_keywords_are_alerts_and_process_ones_warnings() {
        assert_eq!(proxy_known("errorfile"), Some(Known::Unsupported));
        assert_eq!(proxy_known("bind-process"), Some(Known::Ignored));
        assert_eq!(global_known("lua-load"), Some(Known::Unsupported));
        assert_eq!(global_known("chroot"), Some(Known::Ignored));
        assert_eq!(
            global_known("tune.ssl.default-dh-param"),
            Some(Known::Ignored)
        );
        assert!(matches!(proxy_known("reqrep"), Some(Known::Removed(_))));
        assert_eq!(server_known("ssl"), Some(Known::Unsupported));
        assert_eq!(bind_known("ssl"), Some(Known::Unsupported));
        assert_eq!(option_known("clitcpka"), Some(Known::Ignored));
    }
}
