//! The runtime socket's process variables: `get var proc.NAME` and, in experimental
//! mode, `set var proc.NAME [expr|fmt] VALUE`, with HAProxy 2.6's answers.

use crate::config::model::VarInit;
use crate::graph::Graph;
use crate::sample::{Env, Scope, Value};

/// `get var NAME`: `proc.int5: type=sint value=<5>` (no newline of its own: the socket
/// ends every answer with one), unprintable bytes shown as `.`.
pub fn get(g: &Graph, name: Option<&str>) -> String {
    let Some(name) = name else {
        return "Missing process-wide variable identifier.\n".into();
    };
    let pv = g.proc_vars.read().unwrap_or_else(|e| e.into_inner());
    let v = match Scope::split(name) {
        Ok((Scope::Proc, n)) => pv.get(Scope::Proc, n),
        _ => None,
    };
    let Some(v) = v else {
        return "Variable not found.\n".into();
    };
    let ty = match v {
        Value::Bool(_) => "bool",
        Value::Int(_) => "sint",
        Value::Ip(std::net::IpAddr::V4(_)) => "ipv4",
        Value::Ip(std::net::IpAddr::V6(_)) => "ipv6",
        Value::Str(_) => "str",
        Value::Bin(_) => "bin",
    };
    let shown: String = v
        .to_bytes()
        .iter()
        .map(|&c| {
            if (0x20..0x7f).contains(&c) {
                c as char
            } else {
                '.'
            }
        })
        .collect();
    format!("{name}: type={ty} value=<{shown}>")
}

/// `set var NAME EXPR`, `set var NAME expr EXPR`, `set var NAME fmt FMT` (words after
/// the value are ignored, as HAProxy does). The value is computed as `global`'s
/// `set-var` computes it: only fetches that need no request give a sample; when the
/// expression gives none, the variable keeps its value.
pub fn set(g: &Graph, args: &[&str]) -> String {
    let Some(&name) = args.first() else {
        return "Missing process-wide variable identifier.\n".into();
    };
    let Some(&first) = args.get(1) else {
        return "Missing either 'expr', 'fmt' or expression.\n".into();
    };
    let (fmt, text) = match args.get(2) {
        None => (false, first),
        Some(&v) => match first {
            "fmt" => (true, v),
            "expr" => (false, v),
            other => {
                return format!(
                    "'set var': arg type must be either 'expr' or 'fmt' but got '{other}'.\n"
                )
            }
        },
    };
    let kw = if fmt { "set-var-fmt" } else { "set-var" };
    let n = match Scope::split(name) {
        Ok((Scope::Proc, n)) => n,
        Ok(_) => {
            return format!(
                "'set var': cannot set variable '{name}', only scope 'proc' is permitted here.\n"
            )
        }
        Err(e) => return format!("'{kw}({name})' : {e}.\n"),
    };
    let init = if fmt {
        match crate::sample::Fmt::parse(text) {
            Ok(f) if !f.needs_http() => VarInit::Fmt(f),
            Ok(_) => return format!("'{kw}({name})' : the format needs a request.\n"),
            Err(e) => return format!("'{kw}({name})' : {e}\n"),
        }
    } else {
        match crate::sample::Expr::parse(text) {
            Ok(e) if e.needs_http() => {
                return format!(
                    "'{kw}({name})' : fetch method '{}' needs a request and cannot be used here.\n",
                    e.fetch_name()
                )
            }
            Ok(e) => VarInit::Expr(e),
            Err(e) => {
                return format!(
                    "'{kw}({name})' : failed to parse sample expression <{text}> : {e}\n"
                )
            }
        }
    };
    let env = Env {
        proc_vars: Some(&g.proc_vars),
        ..Default::default()
    };
    if let Some(v) = init.value(&env) {
        let mut none = crate::sample::Vars::default();
        crate::sample::vars::store(&mut none, Some(&g.proc_vars), Scope::Proc, n, Some(v));
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use crate::config::model::StatsLevel;
    use crate::stats::socket::execute_in;

    fn handle() -> crate::graph::GraphHandle {
        let cfg = crate::config::parse_str(
            "t.cfg",
            "global\n set-var proc.int12 int(12)\n set-var proc.bin str(a),concat(\"\\tb\")\ndefaults\n mode http\n timeout client 1s\n timeout connect 1s\n timeout server 1s\nfrontend f\n bind 127.0.0.1:1\n",
        )
        .config
        .unwrap();
        std::sync::Arc::new(arc_swap::ArcSwap::from_pointee(crate::graph::Graph::build(
            cfg, None,
        )))
    }

    fn run(h: &crate::graph::GraphHandle, line: &str, experimental: bool) -> String {
        execute_in(line, StatsLevel::Admin, experimental, h, None)
    }

    #[test]
    fn get_var_in_haproxys_words() {
        let h = handle();
        assert_eq!(
            run(&h, "get var proc.int12", false),
            "proc.int12: type=sint value=<12>"
        );
        // Unprintable bytes show as dots.
        assert_eq!(
            run(&h, "get var proc.bin", false),
            "proc.bin: type=str value=<a.b>"
        );
        assert_eq!(run(&h, "get var proc.nope", false), "Variable not found.\n");
        assert_eq!(run(&h, "get var txn.int12", false), "Variable not found.\n");
        assert_eq!(
            run(&h, "get var", false),
            "Missing process-wide variable identifier.\n"
        );
        assert_eq!(
            execute_in("get var proc.int12", StatsLevel::User, false, &h, None),
            "Permission denied\n"
        );
    }

    #[test]
    fn set_var_needs_experimental_mode_and_takes_expr_or_fmt() {
        let h = handle();
        assert_eq!(
            run(&h, "set var proc.a int(1)", false),
            "This command is restricted to experimental mode only.\n"
        );
        assert_eq!(run(&h, "set var proc.a int(1),add(proc.int12)", true), "");
        assert_eq!(
            run(&h, "get var proc.a", false),
            "proc.a: type=sint value=<13>"
        );
        assert_eq!(run(&h, "set var proc.a expr str(x)", true), "");
        assert_eq!(
            run(&h, "get var proc.a", false),
            "proc.a: type=str value=<x>"
        );
        assert_eq!(
            run(
                &h,
                "set var proc.a fmt %[var(proc.a),upper]-%[var(proc.int12)]",
                true
            ),
            ""
        );
        assert_eq!(
            run(&h, "get var proc.a", false),
            "proc.a: type=str value=<X-12>"
        );
        assert_eq!(
            run(&h, "set var txn.a int(1)", true),
            "'set var': cannot set variable 'txn.a', only scope 'proc' is permitted here.\n"
        );
        assert_eq!(
            run(&h, "set var proc.a foo int(1)", true),
            "'set var': arg type must be either 'expr' or 'fmt' but got 'foo'.\n"
        );
        assert_eq!(
            run(&h, "set var proc.a", true),
            "Missing either 'expr', 'fmt' or expression.\n"
        );
        assert!(run(&h, "set var proc.a path", true).contains("needs a request"));
        assert!(run(&h, "set var proc.a nosuch(1)", true).contains("failed to parse"));
    }
}
