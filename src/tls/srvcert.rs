//! What `set ssl cert` + `commit ssl cert` change on servers (`server ... crt FILE`):
//! the client certificate a server's connections present, swappable while they
//! run, and the TLS sessions remembered for the server, dropped with the old
//! certificate (a resumed session would keep presenting it).

use arc_swap::ArcSwap;
use rustls::client::{
    ClientSessionMemoryCache, ClientSessionStore, Tls12ClientSessionValue, Tls13ClientSessionValue,
};
use rustls::pki_types::ServerName;
use rustls::sign::CertifiedKey;
use rustls::{NamedGroup, SignatureScheme};
use std::path::PathBuf;
use std::sync::Arc;

/// `crt`: the one client certificate presented to the server, by file name.
#[derive(Debug)]
pub struct ClientCert {
    /// The file it was loaded from (the name `show ssl cert` lists).
    pub path: PathBuf,
    /// The certificate and key.
    pub cert: ArcSwap<CertifiedKey>,
}

impl rustls::client::ResolvesClientCert for ClientCert {
    fn resolve(&self, _: &[&[u8]], _: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.cert.load_full())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// A session cache that can be emptied.
#[derive(Debug)]
pub struct Sessions {
    size: usize,
    cache: ArcSwap<ClientSessionMemoryCache>,
}

impl Sessions {
    /// A cache of `size` sessions.
    pub fn new(size: usize) -> Sessions {
        Sessions {
            size,
            cache: ArcSwap::from_pointee(ClientSessionMemoryCache::new(size)),
        }
    }

    /// Forgets every session.
    pub fn clear(&self) {
        self.cache
            .store(Arc::new(ClientSessionMemoryCache::new(self.size)));
    }
}

impl ClientSessionStore for Sessions {
    fn set_kx_hint(&self, name: ServerName<'static>, group: NamedGroup) {
        self.cache.load().set_kx_hint(name, group)
    }
    fn kx_hint(&self, name: &ServerName<'_>) -> Option<NamedGroup> {
        self.cache.load().kx_hint(name)
    }
    fn set_tls12_session(&self, name: ServerName<'static>, v: Tls12ClientSessionValue) {
        self.cache.load().set_tls12_session(name, v)
    }
    fn tls12_session(&self, name: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        self.cache.load().tls12_session(name)
    }
    fn remove_tls12_session(&self, name: &ServerName<'static>) {
        self.cache.load().remove_tls12_session(name)
    }
    fn insert_tls13_ticket(&self, name: ServerName<'static>, v: Tls13ClientSessionValue) {
        self.cache.load().insert_tls13_ticket(name, v)
    }
    fn take_tls13_ticket(&self, name: &ServerName<'static>) -> Option<Tls13ClientSessionValue> {
        self.cache.load().take_tls13_ticket(name)
    }
}
