//! TLS termination on `bind ... ssl`: the certificates of a bind (`crt` files and
//! directories, `crt-list` lines with their SNI filters), SNI selection, and the rustls
//! server configurations built from the bind's options.
//!
//! Everything is loaded when a configuration is checked (`lbd -c`, start, reload): a
//! bad file is an alert of that configuration, and on reload the running one keeps
//! serving. A bind's certificates live in a [`CertStore`] behind an `ArcSwap` in its
//! [`SniResolver`], so one store can be replaced while the bind serves (what a runtime
//! `set ssl cert` + `commit ssl cert` needs: build a new store with the one entry
//! swapped, `store()` it; connections in their handshake keep the store they loaded).

use super::cafile::TrustFiles;
use super::{load_cert_key_ext, name_matches, CertKey, TlsError};
use crate::config::model::{BindSsl, CertSource, Config, Loc, SslOpts, TlsVer, Verify};
use crate::config::{Diag, Level, Loaded};
use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One certificate of a bind and the names it is chosen for.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The chain and key.
    pub cert: Arc<CertifiedKey>,
    /// The file it came from.
    pub path: PathBuf,
    /// Exact names (lowercase) it serves.
    pub exact: Vec<String>,
    /// Wildcard names (`*.example.com`) it serves.
    pub wild: Vec<String>,
    /// `!name` filters of its `crt-list` line: names it never serves.
    pub negated: Vec<String>,
    /// Its names are its `crt-list` line's filters, not the certificate's own (a
    /// certificate swapped by `commit ssl cert` keeps them).
    pub filtered: bool,
    /// Which of the bind's server configurations a client of it gets.
    pub config: usize,
    /// The `crt-list` line it comes from, if any.
    pub list: Option<Arc<ListLine>>,
}

/// A `crt-list` line as `show ssl crt-list` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListLine {
    /// The crt-list file.
    pub file: PathBuf,
    /// The line's number (lines added at run time count on from the file's last).
    pub line: u32,
    /// Its options as written (empty: none).
    pub words: Vec<String>,
    /// Its SNI filters.
    pub filters: Vec<String>,
}

impl Entry {
    fn excludes(&self, sni: &str) -> bool {
        self.negated.iter().any(|n| name_matches(n, sni))
    }
}

/// The certificates of a bind, in load order (the first one is the default).
#[derive(Debug, Default)]
pub struct CertStore {
    /// The entries.
    pub entries: Vec<Entry>,
    /// `strict-sni`.
    pub strict: bool,
}

impl CertStore {
    /// The entry for a client's SNI: an exact name first, then a wildcard one; the
    /// default (the first) when none matches or there is no SNI, unless `strict-sni`.
    pub fn lookup(&self, sni: Option<&str>) -> Option<&Entry> {
        if let Some(sni) = sni {
            let sni = sni.to_ascii_lowercase();
            let ok = |e: &&Entry| !e.excludes(&sni);
            let exact = self
                .entries
                .iter()
                .filter(ok)
                .find(|e| e.exact.contains(&sni));
            let found = exact.or_else(|| {
                self.entries
                    .iter()
                    .filter(ok)
                    .find(|e| e.wild.iter().any(|w| name_matches(w, &sni)))
            });
            if found.is_some() {
                return found;
            }
        }
        if self.strict {
            return None;
        }
        self.entries.first()
    }
}

impl CertStore {
    /// A copy with the certificate of every entry loaded from `path` replaced by `cert`,
    /// valid for `names` (entries named by their `crt-list` filters keep those), and
    /// how many entries that was; None when no entry came from `path`.
    pub fn replaced(
        &self,
        path: &Path,
        cert: &Arc<CertifiedKey>,
        names: &[String],
    ) -> Option<(CertStore, usize)> {
        let mut n = 0;
        let entries = self
            .entries
            .iter()
            .map(|e| {
                if e.path != path {
                    return e.clone();
                }
                n += 1;
                let mut e = e.clone();
                e.cert = cert.clone();
                if !e.filtered {
                    (e.exact, e.wild) = split_names(names);
                }
                e
            })
            .collect();
        (n > 0).then_some((
            CertStore {
                entries,
                strict: self.strict,
            },
            n,
        ))
    }
}

/// Chooses a bind's certificate by SNI for rustls.
#[derive(Debug)]
pub struct SniResolver {
    /// The bind's certificates (swappable while it serves).
    pub store: ArcSwap<CertStore>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.store
            .load()
            .lookup(hello.server_name())
            .map(|e| e.cert.clone())
    }
}

/// The server configurations of one set of TLS options (the bind's own, or a
/// `crt-list` line's over them).
#[derive(Debug)]
pub struct OptConfig {
    /// The options.
    pub opts: SslOpts,
    /// The configuration.
    pub config: Arc<ServerConfig>,
    /// The same without ALPN, for a client that offers none of its protocols: as with
    /// OpenSSL, the handshake goes on without ALPN (rustls would refuse it).
    pub no_alpn: Arc<ServerConfig>,
    /// With `ca-ignore-err`/`crt-ignore-err`, the verifier that tells what was wrong
    /// with a certificate let through (`ssl_c_verify`).
    pub strict: Strict,
}

impl OptConfig {
    /// The configurations for `o`, serving the certificates of `resolver`.
    pub fn build(
        o: &SslOpts,
        resolver: Arc<SniResolver>,
        files: &TrustFiles,
    ) -> Result<OptConfig, String> {
        let (c, strict) = server_config(o, resolver, files)?;
        let mut no_alpn = c.clone();
        no_alpn.alpn_protocols.clear();
        Ok(OptConfig {
            opts: o.clone(),
            config: Arc::new(c),
            no_alpn: Arc::new(no_alpn),
            strict,
        })
    }
}

/// The TLS side of one bind: its certificates and server configurations (one per
/// distinct set of `crt-list` line options; the bind's own is the first).
#[derive(Debug)]
pub struct BindTls {
    /// The certificates.
    pub resolver: Arc<SniResolver>,
    /// The configurations an entry's `config` indexes (only ever grows: `add ssl
    /// crt-list` appends the one of new options).
    pub sets: ArcSwap<Vec<Arc<OptConfig>>>,
    /// The bind's place in the configuration.
    pub loc: Loc,
    /// The CA and CRL files of the configuration (shared by all its binds and
    /// servers).
    pub files: Arc<TrustFiles>,
}

impl BindTls {
    /// The options and configuration for a client with this SNI offering these ALPN
    /// protocols.
    pub fn config_for<'a>(
        &self,
        sni: Option<&str>,
        alpn: Option<impl Iterator<Item = &'a [u8]>>,
    ) -> (Arc<OptConfig>, Arc<ServerConfig>) {
        let i = self
            .resolver
            .store
            .load()
            .lookup(sni)
            .map_or(0, |e| e.config);
        let sets = self.sets.load();
        let set = sets.get(i).unwrap_or(&sets[0]).clone();
        let c = &set.config;
        let mut offered = match alpn {
            Some(o) if !c.alpn_protocols.is_empty() => o.peekable(),
            _ => return (set.clone(), c.clone()),
        };
        if offered.peek().is_none() || offered.any(|p| c.alpn_protocols.iter().any(|a| a == p)) {
            let c = c.clone();
            (set, c)
        } else {
            let c = set.no_alpn.clone();
            (set, c)
        }
    }

    /// The index of the configuration of options `o`, built and appended when no
    /// entry has used them yet.
    pub fn set_for(&self, o: &SslOpts) -> Result<usize, String> {
        let sets = self.sets.load();
        if let Some(i) = sets.iter().position(|s| s.opts == *o) {
            return Ok(i);
        }
        let new = OptConfig::build(o, self.resolver.clone(), &self.files)?;
        let mut v = Vec::clone(&sets);
        v.push(Arc::new(new));
        let i = v.len() - 1;
        self.sets.store(Arc::new(v));
        Ok(i)
    }
}

/// The TLS side of every `ssl` bind of a configuration, by (proxy index, bind index).
pub type TlsBinds = HashMap<(usize, usize), Arc<BindTls>>;

/// Loads the TLS material of every `ssl` bind of a parsed configuration. Each failure
/// becomes an alert at the bind's line, and then the configuration is refused
/// (`loaded.config` becomes None), as a parse error would.
pub fn check(loaded: &mut Loaded) -> TlsBinds {
    let Some(cfg) = &loaded.config else {
        return TlsBinds::new();
    };
    match load(cfg) {
        Ok(t) => t,
        Err(errs) => {
            loaded.diags.extend(errs.into_iter().map(|(loc, msg)| Diag {
                level: Level::Alert,
                loc: Some(loc),
                msg,
            }));
            loaded.config = None;
            TlsBinds::new()
        }
    }
}

/// Loads the TLS material of every `ssl` bind; the errors with their bind's line.
pub fn load(cfg: &Config) -> Result<TlsBinds, Vec<(Loc, String)>> {
    let mut out = TlsBinds::new();
    let mut errs = Vec::new();
    let mut cache = HashMap::new();
    let files = Arc::new(TrustFiles::default());
    for (pi, p) in cfg.proxies.iter().enumerate() {
        for (bi, b) in p.binds.iter().enumerate() {
            let Some(ssl) = &b.ssl else { continue };
            match bind_tls(ssl, &b.loc, &mut cache, cfg.global.ssl_del_ext, &files) {
                Ok(t) => {
                    out.insert((pi, bi), Arc::new(t));
                }
                Err(e) => errs.push((b.loc.clone(), format!("'{}' : {e}", ssl.arg))),
            }
        }
    }
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(errs)
    }
}

/// Certificates already read for this configuration, by path.
type Cache = HashMap<PathBuf, CertKey>;

fn cert(path: &Path, cache: &mut Cache, del_ext: bool) -> Result<CertKey, TlsError> {
    if let Some(c) = cache.get(path) {
        return Ok(c.clone());
    }
    let c = load_cert_key_ext(path, del_ext)?;
    cache.insert(path.to_path_buf(), c.clone());
    Ok(c)
}

/// The certificate files of a `crt` path: the file, or the files of a directory
/// (sorted; `.key`, `.ocsp`, `.issuer`, `.sctl` companions and dot files skipped).
fn crt_files(path: &Path) -> Result<Vec<PathBuf>, String> {
    let meta = std::fs::metadata(path).map_err(|e| {
        format!(
            "unable to stat SSL certificate from file '{}' : {}.",
            path.display(),
            crate::config::io_text(&e)
        )
    })?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let rd = std::fs::read_dir(path).map_err(|e| {
        format!(
            "unable to scan directory '{}' : {}.",
            path.display(),
            crate::config::io_text(&e)
        )
    })?;
    let mut files: Vec<PathBuf> = rd
        .filter_map(Result::ok)
        .map(|d| d.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or(".");
            !name.starts_with('.')
                && ![".key", ".ocsp", ".issuer", ".sctl"]
                    .iter()
                    .any(|s| name.ends_with(s))
                && p.is_file()
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Splits names into exact and wildcard ones.
fn split_names(names: &[String]) -> (Vec<String>, Vec<String>) {
    names
        .iter()
        .map(|n| n.to_ascii_lowercase())
        .partition(|n| !n.starts_with("*."))
}

fn bind_tls(
    ssl: &BindSsl,
    loc: &Loc,
    cache: &mut Cache,
    del_ext: bool,
    files: &Arc<TrustFiles>,
) -> Result<BindTls, String> {
    let mut entries = Vec::new();
    // The distinct option sets of crt-list lines; the bind's own is the first.
    let mut opt_sets: Vec<SslOpts> = vec![ssl.opts.clone()];
    for src in &ssl.certs {
        match src {
            CertSource::Crt(path) => {
                for f in crt_files(path)? {
                    let c = cert(&f, cache, del_ext).map_err(|e| e.to_string())?;
                    let (exact, wild) = split_names(&c.names);
                    entries.push(Entry {
                        cert: c.certified,
                        path: f,
                        exact,
                        wild,
                        negated: Vec::new(),
                        filtered: false,
                        config: 0,
                        list: None,
                    });
                }
            }
            CertSource::List(list, lines) => {
                for l in lines {
                    let at = |e: String| {
                        format!(
                            "'crt-list' : error processing line {} in file '{}' : {e}",
                            l.line,
                            list.display()
                        )
                    };
                    let config = match &l.opts {
                        None => 0,
                        Some(o) => {
                            let o = o.over(&ssl.opts);
                            match opt_sets.iter().position(|s| *s == o) {
                                Some(i) => i,
                                None => {
                                    opt_sets.push(o);
                                    opt_sets.len() - 1
                                }
                            }
                        }
                    };
                    let (neg, pos): (Vec<&String>, Vec<&String>) =
                        l.filters.iter().partition(|f| f.starts_with('!'));
                    let negated: Vec<String> = neg.iter().map(|f| f[1..].to_string()).collect();
                    let origin = Arc::new(ListLine {
                        file: list.clone(),
                        line: l.line,
                        words: l.words.clone(),
                        filters: l.filters.clone(),
                    });
                    for f in crt_files(&l.path).map_err(at)? {
                        let c = cert(&f, cache, del_ext).map_err(|e| at(e.to_string()))?;
                        let names: Vec<String> = if pos.is_empty() {
                            c.names.clone()
                        } else {
                            pos.iter().map(|s| s.to_string()).collect()
                        };
                        let (exact, wild) = split_names(&names);
                        entries.push(Entry {
                            cert: c.certified,
                            path: f,
                            exact,
                            wild,
                            negated: negated.clone(),
                            filtered: !pos.is_empty(),
                            config,
                            list: Some(origin.clone()),
                        });
                    }
                }
            }
        }
    }
    if entries.is_empty() {
        return Err("no SSL certificate found (an empty directory or crt-list).".into());
    }
    let resolver = Arc::new(SniResolver {
        store: ArcSwap::from_pointee(CertStore {
            entries,
            strict: ssl.strict_sni,
        }),
    });
    let sets = opt_sets
        .iter()
        .map(|o| OptConfig::build(o, resolver.clone(), files).map(Arc::new))
        .collect::<Result<Vec<_>, String>>()?;
    Ok(BindTls {
        resolver,
        sets: ArcSwap::from_pointee(sets),
        loc: loc.clone(),
        files: files.clone(),
    })
}

/// The rustls suite of an OpenSSL name (those `config::model::TLS12_SUITES` and
/// `TLS13_SUITES` list): one table for binds and servers, in `tls::suites`.
fn suite_of(name: &str) -> Option<rustls::CipherSuite> {
    super::suites::by_name(name)
}

/// The OpenSSL name of a negotiated suite (`ssl_fc_cipher`, `%sslc`).
pub fn suite_name(s: rustls::CipherSuite) -> &'static str {
    super::suites::openssl_name(s).unwrap_or("(unknown)")
}

/// The verifier of client certificates lbd would use without `*-ignore-err`.
type Strict = Option<Arc<super::verify::ClientVerifier>>;

/// A rustls server configuration for a bind's (or crt-list line's) options, and with
/// `ca-ignore-err`/`crt-ignore-err` the strict verifier behind its lenient one.
pub fn server_config(
    o: &SslOpts,
    resolver: Arc<SniResolver>,
    files: &TrustFiles,
) -> Result<(ServerConfig, Strict), String> {
    let mut provider = rustls::crypto::ring::default_provider();
    let keep = |list: &Option<Vec<&'static str>>, s: rustls::CipherSuite| match list {
        Some(l) => l.iter().any(|n| suite_of(n) == Some(s)),
        None => true,
    };
    provider.cipher_suites.retain(|cs| match cs {
        rustls::SupportedCipherSuite::Tls12(_) => keep(&o.ciphers, cs.suite()),
        rustls::SupportedCipherSuite::Tls13(_) => keep(&o.ciphersuites, cs.suite()),
    });
    // The configured order is the preference order.
    let rank = |cs: &rustls::SupportedCipherSuite| {
        let list = match cs {
            rustls::SupportedCipherSuite::Tls12(_) => &o.ciphers,
            rustls::SupportedCipherSuite::Tls13(_) => &o.ciphersuites,
        };
        list.as_ref()
            .and_then(|l| l.iter().position(|n| suite_of(n) == Some(cs.suite())))
            .unwrap_or(0)
    };
    provider.cipher_suites.sort_by_key(rank);
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = o
        .versions()
        .into_iter()
        .map(|v| match v {
            TlsVer::V12 => &rustls::version::TLS12,
            TlsVer::V13 => &rustls::version::TLS13,
        })
        .collect();
    let provider = Arc::new(provider);
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("no usable SSL/TLS version and cipher: {e}"))?;
    let verify = o.verify.unwrap_or_default();
    let mut strict = None;
    let builder = match (&o.ca_file, verify) {
        (_, Verify::None) => builder.with_no_client_auth(),
        (None, _) => return Err("verify is enabled but no CA file specified.".into()),
        (Some(ca), v) => {
            let trust = super::pkix::Trust::load(
                files,
                ca,
                o.ca_verify_file.as_deref(),
                o.crl_file.as_deref(),
            )?;
            let hints = trust.subjects();
            let verifier = Arc::new(super::verify::ClientVerifier {
                trust: Arc::new(trust),
                hints,
                mandatory: v == Verify::Required,
                ignore: o.ignore_err.clone(),
                algs: provider.signature_verification_algorithms,
            });
            if o.ignore_err.is_some() {
                strict = Some(verifier.clone());
            }
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut cfg = builder.with_cert_resolver(resolver);
    cfg.alpn_protocols = o
        .alpn
        .iter()
        .flatten()
        .map(|p| p.as_bytes().to_vec())
        .collect();
    // HAProxy sets OpenSSL's server preference unless `prefer-client-ciphers`.
    cfg.ignore_client_order = !o.prefer_client_ciphers.unwrap_or(false);
    Ok((cfg, strict))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(exact: &[&str], wild: &[&str], negated: &[&str]) -> Entry {
        let ck = super::super::load_cert_key(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tls/www.example.test.pem"),
        )
        .expect("test cert");
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect();
        Entry {
            cert: ck.certified,
            path: ck.path,
            exact: s(exact),
            wild: s(wild),
            negated: s(negated),
            filtered: false,
            config: 0,
            list: None,
        }
    }

    #[test]
    fn exact_beats_wildcard_and_first_is_default() {
        let store = CertStore {
            entries: vec![
                entry(&["a.test"], &[], &[]),
                entry(&[], &["*.b.test"], &[]),
                entry(&["x.b.test"], &[], &[]),
                entry(&[], &["*.c.test"], &["no.c.test"]),
            ],
            strict: false,
        };
        let at = |sni: Option<&str>| {
            let e = store.lookup(sni).expect("an entry");
            store
                .entries
                .iter()
                .position(|x| std::ptr::eq(x, e))
                .unwrap()
        };
        assert_eq!(at(Some("x.b.test")), 2);
        assert_eq!(at(Some("Y.B.test")), 1);
        assert_eq!(at(Some("yes.c.test")), 3);
        assert_eq!(at(Some("no.c.test")), 0, "negated: the default");
        assert_eq!(at(Some("other")), 0);
        assert_eq!(at(None), 0);
        let strict = CertStore {
            strict: true,
            ..store
        };
        assert!(strict.lookup(Some("other")).is_none());
        assert!(strict.lookup(None).is_none());
        assert!(strict.lookup(Some("a.test")).is_some());
    }

    #[test]
    fn suite_names_round_trip() {
        for n in crate::config::model::TLS12_SUITES
            .iter()
            .chain(crate::config::model::TLS13_SUITES)
        {
            assert_eq!(suite_name(suite_of(n).expect(n)), *n);
        }
    }
}
