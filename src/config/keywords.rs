//! The shape every keyword table shares, and the helpers that read across tables.
//!
//! Each keyword is declared once, in the table of the file that parses it (see
//! `parse`): its name, where it may appear ([`Caps`]), how lbd treats it ([`How`]),
//! how many value words it takes and where the README documents it. Dispatch, the
//! unknown-keyword error, `did you mean`, the capability checks and the
//! unsupported/ignored/removed messages all read those tables; [`all`] lists them for
//! the test that holds the README to them.
//!
//! A known keyword that lbd does not implement is an ALERT when ignoring it would change
//! traffic (the operator would get a different proxy than they wrote) and a WARNING when
//! it would not (process management, logging details, tuning).

use super::model::ProxyKind;
use super::parse::{bind, errors, global, http_rules, options, proxy, server, timeouts, userlist};

/// Where a keyword may appear, as flags: proxy kinds (`listen` has both the frontend and
/// the backend capability), rule directions, and two markers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps(u8);

impl Caps {
    const D: u8 = 1;
    const F: u8 = 2;
    const B: u8 = 4;
    const REQ: u8 = 8;
    const RES: u8 = 16;
    const HARD: u8 = 32;
    const NO_HINT: u8 = 64;

    /// Every proxy kind: defaults, frontend, backend, listen (no check).
    pub const DFBL: Caps = Caps(Self::D | Self::F | Self::B);
    /// Defaults and proxies with the frontend capability.
    pub const DFL: Caps = Caps(Self::D | Self::F);
    /// Defaults and proxies with the backend capability.
    pub const DBL: Caps = Caps(Self::D | Self::B);
    /// Frontends and listens.
    pub const FL: Caps = Caps(Self::F);
    /// Backends and listens.
    pub const BL: Caps = Caps(Self::B);
    /// Frontends, backends and listens (not defaults).
    pub const FBL: Caps = Caps(Self::F | Self::B);
    /// `http-request` rules only.
    pub const REQUEST: Caps = Caps(Self::REQ);
    /// `http-request` and `http-response` rules.
    pub const RULES: Caps = Caps(Self::REQ | Self::RES);
    /// `http-response` rules only.
    pub const RESPONSE: Caps = Caps(Self::RES);

    /// The same places, but the wrong proxy is an ALERT, not a warning.
    pub const fn hard(self) -> Caps {
        Caps(self.0 | Self::HARD)
    }

    /// Accepted, but not offered by `did you mean` (as it never was).
    pub const fn no_hint(self) -> Caps {
        Caps(self.0 | Self::NO_HINT)
    }

    /// Allowed in `defaults`.
    pub fn defaults(self) -> bool {
        self.0 & Self::D != 0
    }

    /// Allowed in a proxy with the frontend capability.
    pub fn frontend(self) -> bool {
        self.0 & Self::F != 0
    }

    /// Allowed in a proxy with the backend capability.
    pub fn backend(self) -> bool {
        self.0 & Self::B != 0
    }

    /// Allowed in `http-request` rules.
    pub fn request(self) -> bool {
        self.0 & Self::REQ != 0
    }

    /// Allowed in `http-response` rules.
    pub fn response(self) -> bool {
        self.0 & Self::RES != 0
    }

    /// The wrong proxy is an ALERT.
    pub fn is_hard(self) -> bool {
        self.0 & Self::HARD != 0
    }

    /// Offered by `did you mean`.
    pub fn hinted(self) -> bool {
        self.0 & Self::NO_HINT == 0
    }

    /// Shares a place (proxy kind or rule direction) with `other`.
    pub fn meets(self, other: Caps) -> bool {
        self.0 & other.0 & (Self::D | Self::F | Self::B | Self::REQ | Self::RES) != 0
    }

    /// The proxy kinds as the README's tables write them: `d f b l`, `f l`...
    pub fn letters(self) -> String {
        let mut v = Vec::new();
        for (has, l) in [
            (self.defaults(), "d"),
            (self.frontend(), "f"),
            (self.backend(), "b"),
            (self.frontend() || self.backend(), "l"),
        ] {
            if has {
                v.push(l);
            }
        }
        v.join(" ")
    }

    /// Allowed in a proxy of this kind.
    pub fn allows(self, kind: ProxyKind) -> bool {
        match kind {
            ProxyKind::Defaults => self.defaults(),
            ProxyKind::Frontend => self.frontend(),
            ProxyKind::Backend => self.backend(),
            ProxyKind::Listen => self.frontend() || self.backend(),
        }
    }
}

/// How lbd treats a keyword.
#[derive(Debug, Clone, Copy)]
pub enum How<P> {
    /// Implemented by this parser.
    Parse(P),
    /// Known, not implemented, and ignoring it would change traffic: refuse the config.
    Unsupported,
    /// Known, not implemented, harmless to ignore: warn.
    Ignored,
    /// HAProxy itself removed it; the text says what to use.
    Removed(&'static str),
}

/// One keyword of one table.
#[derive(Debug, Clone, Copy)]
pub struct Keyword<P> {
    /// The keyword; a trailing `*` makes it a prefix (`tune.*`).
    pub name: &'static str,
    /// Where it may appear.
    pub caps: Caps,
    /// Value words after it, for parameters on one line (`server`, `bind`).
    pub args: u8,
    /// What lbd does with it.
    pub how: How<P>,
    /// The README section (anchor) that documents it.
    pub doc: &'static str,
}

/// The README section for every known but unsupported keyword.
pub const KNOWN_DOC: &str = "known-but-unsupported-keywords";

impl<P: Copy> Keyword<P> {
    /// A supported keyword, parsed by `parse`, documented at `doc`.
    pub const fn new(name: &'static str, caps: Caps, parse: P, doc: &'static str) -> Self {
        Keyword {
            name,
            caps,
            args: 0,
            how: How::Parse(parse),
            doc,
        }
    }

    /// A keyword that would change traffic if ignored: an ALERT.
    pub const fn unsupported(name: &'static str) -> Self {
        Self::known(name, How::Unsupported)
    }

    /// A harmless keyword: a WARNING.
    pub const fn ignored(name: &'static str) -> Self {
        Self::known(name, How::Ignored)
    }

    /// A keyword HAProxy removed; `why` names the replacement.
    pub const fn removed(name: &'static str, why: &'static str) -> Self {
        Self::known(name, How::Removed(why))
    }

    const fn known(name: &'static str, how: How<P>) -> Self {
        Keyword {
            name,
            caps: Caps::DFBL,
            args: 0,
            how,
            doc: KNOWN_DOC,
        }
    }

    /// The same keyword taking `n` value words.
    pub const fn args(self, n: u8) -> Self {
        Keyword { args: n, ..self }
    }

    /// The same keyword in other places.
    pub const fn caps(self, caps: Caps) -> Self {
        Keyword { caps, ..self }
    }

    /// `word` is this keyword (or starts with this prefix).
    pub fn matches(&self, word: &str) -> bool {
        match self.name.strip_suffix('*') {
            Some(prefix) => word.starts_with(prefix),
            None => self.name == word,
        }
    }
}

/// The entry for `word`: exact names first, then prefixes, in table order.
pub fn find<'t, P: Copy>(table: &'t [Keyword<P>], word: &str) -> Option<&'t Keyword<P>> {
    find_in(table, word, Caps(!0)) // anywhere
}

/// The entry for `word` among those allowed in `place` (e.g. [`Caps::RESPONSE`]).
pub fn find_in<'t, P: Copy>(
    table: &'t [Keyword<P>],
    word: &str,
    place: Caps,
) -> Option<&'t Keyword<P>> {
    let here = || table.iter().filter(move |k| k.caps.meets(place));
    here()
        .find(|k| k.name == word)
        .or_else(|| here().find(|k| k.matches(word)))
}

/// The supported names `did you mean` offers, in table order.
pub fn hints<P: Copy>(
    table: &[Keyword<P>],
    place: Caps,
) -> impl Iterator<Item = &'static str> + '_ {
    table
        .iter()
        .filter(move |k| matches!(k.how, How::Parse(_)) && k.caps.hinted() && k.caps.meets(place))
        .map(|k| k.name)
}

/// A keyword's support class, without its parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// lbd implements it.
    Supported,
    /// Refused with an ALERT.
    Unsupported,
    /// Ignored with a WARNING.
    Ignored,
    /// Removed from HAProxy; refused with the replacement's name.
    Removed,
}

impl<P> How<P> {
    /// The support class.
    pub fn class(&self) -> Class {
        match self {
            How::Parse(_) => Class::Supported,
            How::Unsupported => Class::Unsupported,
            How::Ignored => Class::Ignored,
            How::Removed(_) => Class::Removed,
        }
    }
}

/// One row of the keyword catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// The table: `global`, `proxy`, `option`, `server`, `bind`, `timeout`, `http-request`.
    pub section: &'static str,
    /// The keyword (a trailing `*` marks a prefix).
    pub name: &'static str,
    /// How lbd treats it.
    pub class: Class,
    /// Where it may appear.
    pub caps: Caps,
    /// The README anchor that documents it.
    pub doc: &'static str,
}

fn rows<P: Copy>(section: &'static str, table: &'static [Keyword<P>]) -> impl Iterator<Item = Row> {
    table.iter().map(move |k| Row {
        section,
        name: k.name,
        class: k.how.class(),
        caps: k.caps,
        doc: k.doc,
    })
}

/// Every keyword of every table.
pub fn all() -> Vec<Row> {
    let mut v: Vec<Row> = Vec::new();
    v.extend(rows("global", global::KEYWORDS));
    v.extend(rows("proxy", proxy::KEYWORDS));
    v.extend(rows("option", options::KEYWORDS));
    v.extend(rows("server", server::KEYWORDS));
    v.extend(rows("bind", bind::KEYWORDS));
    v.extend(rows("timeout", timeouts::KEYWORDS));
    v.extend(rows("http-request", http_rules::ACTIONS));
    v.extend(rows("http-errors", errors::KEYWORDS));
    v.extend(rows("userlist", userlist::KEYWORDS));
    v
}

/// Section keywords.
pub const SECTIONS: &[&str] = &[
    "global",
    "defaults",
    "frontend",
    "backend",
    "listen",
    "http-errors",
    "userlist",
    "resolvers",
    "peers",
];

/// Sections HAProxy has that lbd does not implement (ignored with a warning; a
/// reference to them from a proxy is an alert where it is parsed).
pub const OTHER_SECTIONS: &[&str] = &[
    "cache",
    "program",
    "mailers",
    "ring",
    "fcgi-app",
    "crt-store",
    "traces",
    "log-forward",
    "namespace_list",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn class(section: &str, name: &str) -> Option<Class> {
        all()
            .into_iter()
            .find(|r| r.section == section && r.name == name)
            .map(|r| r.class)
    }

    #[test]
    fn a_keyword_is_declared_once_per_table() {
        let rows = all();
        for (i, r) in rows.iter().enumerate() {
            // `use-service` is supported in requests and refused in responses.
            if r.name == "use-service" {
                continue;
            }
            assert!(
                !rows[..i]
                    .iter()
                    .any(|q| q.section == r.section && q.name == r.name),
                "{} {}",
                r.section,
                r.name
            );
        }
    }

    #[test]
    fn traffic_changing_keywords_are_alerts_and_process_ones_warnings() {
        assert_eq!(class("proxy", "errorfile"), Some(Class::Supported));
        assert_eq!(class("proxy", "bind-process"), Some(Class::Ignored));
        assert_eq!(class("global", "lua-load"), Some(Class::Unsupported));
        assert_eq!(class("global", "chroot"), Some(Class::Ignored));
        assert_eq!(class("global", "tune.*"), Some(Class::Ignored));
        assert_eq!(class("proxy", "reqrep"), Some(Class::Removed));
        assert_eq!(class("server", "npn"), Some(Class::Unsupported));
        assert_eq!(class("bind", "ssl"), Some(Class::Supported));
        assert_eq!(class("bind", "ecdhe"), Some(Class::Unsupported));
        assert_eq!(class("option", "clitcpka"), Some(Class::Ignored));
    }

    #[test]
    fn exact_names_win_over_prefixes() {
        let t = global::KEYWORDS;
        assert!(matches!(
            find(t, "tune.bufsize").unwrap().how,
            How::Parse(_)
        ));
        assert!(matches!(find(t, "tune.foo").unwrap().how, How::Ignored));
        assert!(matches!(
            find(t, "httpclient.resolvers.id").unwrap().how,
            How::Unsupported
        ));
        assert!(find(t, "tune").is_none());
    }
}
