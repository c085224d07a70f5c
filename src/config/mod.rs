//! The configuration pipeline: haproxy.cfg text in, a validated `Config` or a list of
//! diagnostics out. Nothing here opens a socket (server names are resolved, as HAProxy
//! does at load time).
//!
//! `lex` splits lines into words, `parse` turns words into the typed `model` (with
//! `acl` conditions and nom `value` parsers), `validate` checks what spans proxies, and
//! `diag` holds the messages. Each keyword is declared once, in a table next to its
//! parser (see `parse`); `keywords` holds the tables' shared shape and lists them.

pub mod acl;
pub mod diag;
pub mod keywords;
pub mod lex;
pub mod model;
pub mod parse;
pub mod track;
pub mod validate;
pub mod value;

pub use diag::{Diag, Level};
pub use model::Config;
pub use parse::{condition, Source};

/// What this build of lbd has, in the names of HAProxy's `Feature list` (`lbd -vv`,
/// `.if feature(NAME)`): `true` only for what lbd really does.
pub const FEATURES: &[(&str, bool)] = &[
    ("51DEGREES", false),
    ("ACCEPT4", true),
    ("BACKTRACE", false),
    ("CPU_AFFINITY", true),
    ("DEVICEATLAS", false),
    ("EPOLL", true),
    ("GETADDRINFO", true),
    ("LINUX_SPLICE", false),
    ("LINUX_TPROXY", false),
    ("LUA", false),
    ("NS", false),
    ("OPENSSL", true),
    ("OT", false),
    ("PCRE", false),
    ("PCRE2", false),
    ("PROMEX", true),
    ("QUIC", false),
    ("SLZ", false),
    ("SYSTEMD", true),
    ("TFO", false),
    ("THREAD", true),
    ("TPROXY", false),
    ("WURFL", false),
    ("ZLIB", false),
];

/// Whether this build has feature `name` (see [`FEATURES`]).
pub fn has_feature(name: &str) -> bool {
    FEATURES.iter().any(|(n, on)| *on && *n == name)
}

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `[ALERT]    (pid)`: the label padded to 10 characters, then the pid.
pub fn prefix(label: &str, pid: u32) -> String {
    format!("{:<10} ({pid})", format!("[{label}]"))
}

/// The outcome of loading a configuration.
#[derive(Debug)]
pub struct Loaded {
    /// The model, when there was no alert.
    pub config: Option<Config>,
    /// Every diagnostic, in order.
    pub diags: Vec<Diag>,
}

impl Loaded {
    /// Number of alerts.
    pub fn alerts(&self) -> usize {
        self.diags
            .iter()
            .filter(|d| d.level == Level::Alert)
            .count()
    }
    /// Number of warnings.
    pub fn warnings(&self) -> usize {
        self.diags
            .iter()
            .filter(|d| d.level == Level::Warning)
            .count()
    }
}

/// Parses sources with an environment lookup (pure: used by tests and the fuzzer).
pub fn parse_sources(sources: &[Source], env: &dyn Fn(&str) -> Option<String>) -> Loaded {
    let (config, mut diags) = parse::parse(sources, env);
    let config = match config {
        Some(mut c) => {
            let shared: Vec<String> = c
                .peers
                .iter()
                .flat_map(|s| s.tables.iter().map(move |(t, _)| format!("{}/{t}", s.name)))
                .collect();
            diags.extend(validate::check(&c.global, &mut c.proxies, &shared));
            if diags.iter().any(|d| d.level == Level::Alert) {
                None
            } else {
                Some(c)
            }
        }
        None => None,
    };
    Loaded { config, diags }
}

/// Parses one text with the process environment.
pub fn parse_str(name: &str, text: &str) -> Loaded {
    parse_sources(
        &[Source {
            name: name.into(),
            text: text.to_string(),
        }],
        &|v| std::env::var(v).ok(),
    )
}

/// Reads `-f` arguments: files, and directories whose `*.cfg` files load in byte order.
pub fn read_paths(paths: &[PathBuf]) -> Result<Vec<Source>, Vec<Diag>> {
    let mut sources = Vec::new();
    let mut errors = Vec::new();
    let alert = |msg: String| Diag {
        level: Level::Alert,
        loc: None,
        msg,
    };
    let read = |p: &Path, sources: &mut Vec<Source>, errors: &mut Vec<Diag>| match std::fs::read(p)
    {
        Ok(bytes) => sources.push(Source {
            name: Arc::from(p.display().to_string()),
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }),
        Err(e) => errors.push(alert(format!(
            "Could not open configuration file {} : {}",
            p.display(),
            io_text(&e)
        ))),
    };
    for p in paths {
        if p.is_dir() {
            match std::fs::read_dir(p) {
                Ok(entries) => {
                    let mut files: Vec<PathBuf> = entries
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|f| f.extension().is_some_and(|x| x == "cfg") && f.is_file())
                        .collect();
                    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
                    for f in files {
                        read(&f, &mut sources, &mut errors);
                    }
                }
                Err(e) => errors.push(alert(format!(
                    "Cannot open configuration directory {} : {}",
                    p.display(),
                    io_text(&e)
                ))),
            }
        } else {
            read(p, &mut sources, &mut errors);
        }
    }
    if errors.is_empty() && sources.is_empty() && !paths.is_empty() {
        let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        errors.push(alert(format!(
            "No configuration file found in {} (a directory is read for its *.cfg files).",
            names.join(", ")
        )));
    }
    if errors.is_empty() {
        Ok(sources)
    } else {
        Err(errors)
    }
}

/// Loads `-f` paths with the process environment.
pub fn load(paths: &[PathBuf]) -> Loaded {
    match read_paths(paths) {
        Ok(sources) => parse_sources(&sources, &|v| std::env::var(v).ok()),
        Err(diags) => Loaded {
            config: None,
            diags,
        },
    }
}

/// The OS error text without Rust's "(os error N)" suffix, as strerror() gives it.
pub fn io_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(p) => s[..p].to_string(),
        None => s,
    }
}
