//! `userlist NAME` sections (their keyword table: `user`, `group`) and their
//! resolution once every section is read: a user's `groups` and a group's `users`
//! must name declared groups and users, as HAProxy's `userlist_postinit` checks.

use super::{Parser, Section, R};
use crate::config::diag::{Diag, Level};
use crate::config::keywords::{Caps, Keyword};
use crate::config::model::Loc;
use crate::sample::auth::{hash_supported, Password, User, Userlist};
use std::sync::Arc;

/// A `userlist` keyword's parser: the words of the line and the section's index.
pub(crate) type SectionFn = fn(&mut Parser<'_>, &[String], usize) -> R;

const DOC: &str = "userlist-sections";

/// The keywords of a `userlist` section.
pub(crate) static KEYWORDS: &[Keyword<SectionFn>] = &[
    Keyword::new("user", Caps::DFBL, user, DOC),
    Keyword::new("group", Caps::DFBL, group, DOC),
];

/// A userlist as read, before its names are resolved.
#[derive(Debug, Default)]
pub(super) struct RawUserlist {
    name: String,
    /// Users with the groups their line names, and where.
    users: Vec<(User, Loc)>,
    /// Groups with the users their line names, and where.
    groups: Vec<(String, Vec<String>, Loc)>,
}

/// Splits `a,b,c` (empty items dropped).
fn list(v: &str) -> Vec<String> {
    v.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn user(p: &mut Parser<'_>, w: &[String], i: usize) -> R {
    let Some(name) = w.get(1) else {
        return Err("'user' expects <name> as arguments.".into());
    };
    let ul = &p.userlists[i];
    if ul.users.iter().any(|(u, _)| u.name == *name) {
        let msg = format!(
            "ignoring duplicated user '{name}' in userlist '{}'.",
            ul.name
        );
        p.warn(msg);
        return Ok(());
    }
    let mut u = User {
        name: name.clone(),
        password: Password::None,
        groups: Vec::new(),
    };
    let mut k = 2;
    while k < w.len() {
        let value = w.get(k + 1);
        match (w[k].as_str(), value) {
            ("password", Some(h)) => {
                if !hash_supported(h) {
                    return Err(format!(
                        "the encrypted password used for user '{name}' is not supported by lbd (it takes crypt(3) hashes '$1$', '$5$', '$6$', '$2a$', '$2b$' and '$2y$')."
                    ));
                }
                u.password = Password::Hash(h.clone());
            }
            ("insecure-password", Some(v)) => u.password = Password::Clear(v.clone()),
            ("groups", Some(g)) => u.groups.extend(list(g)),
            ("password" | "insecure-password" | "groups", None) => {
                return Err(format!("'{}' : missing value for user '{name}'.", w[k]))
            }
            _ => {
                return Err(
                    "'user' only supports 'password', 'insecure-password' and 'groups' options."
                        .into(),
                )
            }
        }
        k += 2;
    }
    let loc = p.loc.clone();
    p.userlists[i].users.push((u, loc));
    Ok(())
}

fn group(p: &mut Parser<'_>, w: &[String], i: usize) -> R {
    let Some(name) = w.get(1) else {
        return Err("'group' expects <name> as arguments.".into());
    };
    let ul = &p.userlists[i];
    if ul.groups.iter().any(|(g, _, _)| g == name) {
        let msg = format!(
            "ignoring duplicated group '{name}' in userlist '{}'.",
            ul.name
        );
        p.warn(msg);
        return Ok(());
    }
    let users = match &w[2..] {
        [] => Vec::new(),
        [k, v] if k == "users" => list(v),
        _ => return Err("'group' only supports 'users' option.".into()),
    };
    let loc = p.loc.clone();
    p.userlists[i].groups.push((name.clone(), users, loc));
    Ok(())
}

impl Parser<'_> {
    /// `userlist NAME`: opens the section.
    pub(super) fn start_userlist(&mut self, w: &[String]) -> R {
        self.section = Section::Skipped;
        let Some(name) = w.get(1) else {
            return Err("'userlist' expects <name> as arguments.".into());
        };
        if self.userlists.iter().any(|u| u.name == *name) {
            self.warn(format!("ignoring duplicated userlist '{name}'."));
            return Ok(());
        }
        self.userlists.push(RawUserlist {
            name: name.clone(),
            ..RawUserlist::default()
        });
        self.section = Section::Userlist(self.userlists.len() - 1);
        Ok(())
    }

    /// A line of a `userlist` section.
    pub(super) fn userlist_kw(&mut self, w: &[String], i: usize) -> R {
        match KEYWORDS.iter().find(|k| k.name == w[0]) {
            Some(Keyword {
                how: crate::config::keywords::How::Parse(f),
                ..
            }) => f(self, w, i),
            _ => Err(format!("unknown keyword '{}' in 'userlist' section", w[0])),
        }
    }

    /// Builds the userlists: each user's groups are those its line names and those
    /// whose `users` name it; an undeclared name is an alert.
    pub(super) fn resolve_userlists(&mut self) -> crate::sample::auth::Userlists {
        let mut out = crate::sample::auth::Userlists::new();
        let mut diags = Vec::new();
        for raw in std::mem::take(&mut self.userlists) {
            let groups: Vec<String> = raw.groups.iter().map(|g| g.0.clone()).collect();
            let mut users = Vec::new();
            for (mut u, loc) in raw.users.iter().cloned() {
                if let Some(g) = u.groups.iter().find(|g| !groups.contains(g)) {
                    diags.push(Diag {
                        level: Level::Alert,
                        loc: Some(loc),
                        msg: format!(
                            "userlist '{}': no such group '{g}' specified in user '{}'",
                            raw.name, u.name
                        ),
                    });
                }
                for (g, members, _) in &raw.groups {
                    if members.contains(&u.name) && !u.groups.contains(g) {
                        u.groups.push(g.clone());
                    }
                }
                users.push(u);
            }
            for (g, members, loc) in &raw.groups {
                if let Some(m) = members
                    .iter()
                    .find(|m| !raw.users.iter().any(|(u, _)| u.name == **m))
                {
                    diags.push(Diag {
                        level: Level::Alert,
                        loc: Some(loc.clone()),
                        msg: format!(
                            "userlist '{}': no such user '{m}' specified in group '{g}'",
                            raw.name
                        ),
                    });
                }
            }
            let name = raw.name.clone();
            out.insert(name.clone(), Arc::new(Userlist::new(name, users, groups)));
        }
        for d in diags {
            self.loc = d.loc.clone().unwrap_or_default();
            self.alert(d.msg);
        }
        out
    }
}

/// The userlist an `http_auth(L)`/`http_auth_group(L)` expression names.
fn referenced(e: &crate::sample::Expr) -> Option<String> {
    let name = e.fetch_name();
    if !crate::sample::auth::names_userlist(name) {
        return None;
    }
    let args = e.text().strip_prefix(name)?.strip_prefix('(')?;
    let args = &args[..args.find(')')?];
    crate::sample::expr::split_args(args).into_iter().next()
}

impl Parser<'_> {
    /// Every acl (named or anonymous in a rule's condition) that reads a userlist must
    /// name a declared one.
    pub(super) fn check_userlist_refs(&mut self, lists: &crate::sample::auth::Userlists) {
        use crate::config::model::TermAcl;
        let mut bad = Vec::new();
        for px in &self.proxies {
            let conds = px
                .http_request
                .iter()
                .chain(&px.http_response)
                .chain(&px.http_after_response)
                .filter_map(|r| r.cond.as_ref())
                .chain(px.use_backends.iter().map(|u| &u.cond));
            let anon = conds
                .flat_map(|c| c.any_of.iter().flatten())
                .filter_map(|t| match &t.acl {
                    TermAcl::Anonymous(a) => Some(&**a),
                    TermAcl::Named(_) => None,
                });
            for a in px.acls.iter().chain(anon) {
                if let Some(l) = referenced(&a.expr).filter(|l| !lists.contains_key(l)) {
                    bad.push((
                        a.loc.clone(),
                        format!(
                            "unable to find userlist '{l}' referenced in arg 1 of sample fetch keyword '{}' in proxy '{}'.",
                            a.expr.fetch_name(),
                            px.name
                        ),
                    ));
                }
            }
        }
        for (loc, msg) in bad {
            self.loc = loc;
            self.alert(msg);
        }
    }
}
