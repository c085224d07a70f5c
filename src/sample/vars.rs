//! Variables (`set-var`, `var()`): named samples in the `proc`, `sess`, `txn`, `req`,
//! `res` and `check` scopes.

use super::value::Owned;
use std::sync::RwLock;

/// A variable's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The whole process (`proc.`), shared by every request.
    Proc,
    /// The client connection (`sess.`).
    Sess,
    /// The transaction: one request and its response (`txn.`).
    Txn,
    /// The request side only (`req.`).
    Req,
    /// The response side only (`res.`).
    Res,
    /// A health check (`check.`).
    Check,
}

impl Scope {
    /// Splits `txn.name` into its scope and name, as HAProxy's `vars_hash_name` does.
    pub fn split(full: &str) -> Result<(Scope, &str), String> {
        let (scope, name) = full.split_once('.').ok_or_else(|| {
            format!("invalid variable name '{full}'. A variable name must be start by its scope. The scope can be 'proc', 'sess', 'txn', 'req', 'res' or 'check'")
        })?;
        let scope = match scope {
            "proc" => Scope::Proc,
            "sess" => Scope::Sess,
            "txn" => Scope::Txn,
            "req" => Scope::Req,
            "res" => Scope::Res,
            "check" => Scope::Check,
            _ => return Err(format!("invalid variable name '{full}'. A variable name must be start by its scope. The scope can be 'proc', 'sess', 'txn', 'req', 'res' or 'check'")),
        };
        if name.is_empty()
            || !name
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.')
        {
            return Err(format!(
                "invalid variable name '{full}'. Only alphanumeric characters, '_' and '.' are allowed"
            ));
        }
        Ok((scope, name))
    }
}

/// A set of variables (a few per request: a list beats a map).
#[derive(Debug, Clone, Default)]
pub struct Vars {
    list: Vec<(Scope, Box<str>, Owned)>,
}

impl Vars {
    /// The variable's value.
    pub fn get(&self, scope: Scope, name: &str) -> Option<&Owned> {
        self.list
            .iter()
            .find(|(s, n, _)| *s == scope && &**n == name)
            .map(|(_, _, v)| v)
    }

    /// Sets (or replaces) a variable.
    pub fn set(&mut self, scope: Scope, name: &str, v: Owned) {
        match self
            .list
            .iter_mut()
            .find(|(s, n, _)| *s == scope && &**n == name)
        {
            Some(slot) => slot.2 = v,
            None => self.list.push((scope, name.into(), v)),
        }
    }

    /// Removes a variable.
    pub fn unset(&mut self, scope: Scope, name: &str) {
        self.list.retain(|(s, n, _)| !(*s == scope && &**n == name));
    }

    /// Forgets every variable of `scope` (a new transaction).
    pub fn clear(&mut self, scope: Scope) {
        self.list.retain(|(s, _, _)| *s != scope);
    }

    /// The variables of `scope` only (the connection's `sess.` set, kept between
    /// requests).
    pub fn only(&self, scope: Scope) -> Vars {
        Vars {
            list: self
                .list
                .iter()
                .filter(|(s, _, _)| *s == scope)
                .cloned()
                .collect(),
        }
    }

    /// Whether no variable is set.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// The `proc.` variables: one set for the process, shared by every thread.
pub type ProcVars = RwLock<Vars>;

/// Sets (`Some`) or removes (`None`) a variable: `proc.` ones in the process's set,
/// the others in `vars`.
pub fn store(vars: &mut Vars, proc: Option<&ProcVars>, scope: Scope, name: &str, v: Option<Owned>) {
    let mut guard;
    let target = if scope == Scope::Proc {
        match proc.map(|p| p.write()) {
            Some(Ok(g)) => {
                guard = g;
                &mut *guard
            }
            _ => return,
        }
    } else {
        vars
    };
    match v {
        Some(v) => target.set(scope, name, v),
        None => target.unset(scope, name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::Value;

    #[test]
    fn scopes_and_names() {
        assert_eq!(Scope::split("txn.a.b").unwrap(), (Scope::Txn, "a.b"));
        assert!(Scope::split("foo.a").is_err());
        assert!(Scope::split("txn").is_err());
        assert!(Scope::split("txn.a-b").is_err());
        let mut v = Vars::default();
        v.set(Scope::Txn, "a", Value::Int(1));
        v.set(Scope::Txn, "a", Value::Int(2));
        v.set(Scope::Sess, "a", Value::Int(3));
        assert_eq!(v.get(Scope::Txn, "a"), Some(&Value::Int(2)));
        v.clear(Scope::Txn);
        assert_eq!(v.get(Scope::Txn, "a"), None);
        assert_eq!(v.get(Scope::Sess, "a"), Some(&Value::Int(3)));
    }
}
