//! The runtime socket's acl and map commands, with HAProxy 2.6's words: `show`, `get`,
//! `add` (payload too), `del`, `set`, `clear`, `prepare` and `commit` `acl|map`.
//!
//! They act on the pattern references of the running configuration
//! (`crate::sample::refs`): a change is seen by the next evaluation of every rule that
//! uses the file or acl, and is lost on reload, when the files are read again.

use crate::sample::refs::{PatRef, PatRefs, ACL, MAP, SMP};
use std::sync::Arc;

/// `map` or `acl` in messages, by the command's second word.
struct Kind {
    map: bool,
}

impl Kind {
    fn flag(&self) -> u8 {
        if self.map {
            MAP
        } else {
            ACL
        }
    }

    fn unknown(&self) -> String {
        if self.map {
            "Unknown map identifier. Please use #<id> or <file>.\n".into()
        } else {
            "Unknown ACL identifier. Please use #<id> or <file>.\n".into()
        }
    }

    fn missing(&self) -> String {
        if self.map {
            "Missing map identifier.\n".into()
        } else {
            "Missing ACL identifier.\n".into()
        }
    }

    /// The reference named `name`, if it is used the command's way (`need_flag`).
    fn find(&self, refs: &PatRefs, name: &str, need_flag: bool) -> Result<Arc<PatRef>, String> {
        match refs.find(name) {
            Some(r) if !need_flag || r.lock().flags & self.flag() != 0 => Ok(r),
            _ => Err(self.unknown()),
        }
    }
}

/// An optional `@VERSION` first argument (HAProxy reads it with `str2uic`).
fn version<'a>(args: &'a [&'a str]) -> (Option<u32>, &'a [&'a str]) {
    match args.first().and_then(|a| a.strip_prefix('@')) {
        Some(v) => (Some(v.parse().unwrap_or(0)), &args[1..]),
        None => (None, args),
    }
}

/// An entry named by its id, `#0x...`: Some(Ok(id)), or Some(Err) when malformed.
fn entry_id(arg: &str) -> Option<Result<u64, String>> {
    let hex = arg.strip_prefix("#0x")?;
    Some(
        u64::from_str_radix(hex, 16)
            .map_err(|_| "Malformed identifier. Please use #<id> or <file>.\n".to_string()),
    )
}

/// Runs `VERB acl|map ARGS...` against the running configuration's references.
pub fn command(refs: &PatRefs, words: &[&str], payload: Option<&str>) -> String {
    let k = Kind {
        map: words.get(1) == Some(&"map"),
    };
    let args = &words[2.min(words.len())..];
    let r = match words[0] {
        "show" => show(refs, &k, args),
        "get" => get(refs, &k, args),
        "add" => add(refs, &k, args, payload),
        "del" => del(refs, &k, args),
        "set" => set(refs, args),
        "clear" => clear(refs, &k, args),
        "prepare" => k
            .find(refs, args.first().copied().unwrap_or(""), true)
            .map(|r| {
                let g = r.lock().new_gen();
                format!("New version created: {g}\n")
            }),
        _ => commit(refs, &k, args),
    };
    r.unwrap_or_else(|e| e)
}

fn show(refs: &PatRefs, k: &Kind, args: &[&str]) -> Result<String, String> {
    if args.is_empty() {
        let mut o = "# id (file) description\n".to_string();
        for r in refs.all() {
            let st = r.lock();
            if st.flags & k.flag() == 0 {
                continue;
            }
            o.push_str(&format!(
                "{} ({}) {}. curr_ver={} next_ver={} entry_cnt={}\n",
                r.id(),
                r.file().unwrap_or(""),
                st.display,
                st.curr_gen,
                st.next_gen,
                st.elts.len()
            ));
        }
        return Ok(o);
    }
    let (gen, args) = version(args);
    let r = k.find(refs, args.first().copied().unwrap_or(""), true)?;
    let st = r.lock();
    let gen = gen.unwrap_or(st.curr_gen);
    let mut o = String::new();
    for e in st.elts.iter().filter(|e| e.gen == gen) {
        match &e.value {
            Some(v) => o.push_str(&format!("0x{:x} {} {v}\n", e.id, e.key)),
            None => o.push_str(&format!("0x{:x} {}\n", e.id, e.key)),
        }
    }
    Ok(o)
}

fn get(refs: &PatRefs, k: &Kind, args: &[&str]) -> Result<String, String> {
    let [name, value, ..] = args else {
        return Err(if k.map {
            "Missing map identifier and/or key.\n".into()
        } else {
            "Missing ACL identifier and/or key.\n".into()
        });
    };
    let r = k.find(refs, name, false)?;
    let out = r.lock().get(value, k.map);
    Ok(out)
}

fn add(refs: &PatRefs, k: &Kind, args: &[&str], payload: Option<&str>) -> Result<String, String> {
    let (gen, args) = version(args);
    if k.map {
        if (payload.is_none() && args.len() < 3) || args.is_empty() {
            return Err("'add map' expects three parameters (map identifier, key and value) or one parameter (map identifier) and a payload\n".into());
        }
    } else if args.len() < 2 {
        return Err("'add acl' expects two parameters: ACL identifier and pattern.\n".into());
    }
    let r = k.find(refs, args[0], false)?;
    let mut st = r.lock();
    if let Some(g) = gen {
        if (g.wrapping_sub(st.next_gen) as i32) > 0 {
            return Err(format!(
                "Version number in the future, please use 'prepare {}' before.\n",
                if k.map { "map" } else { "acl" }
            ));
        }
    }
    if !k.map && st.flags & SMP != 0 {
        return Err("This ACL is shared with a map containing samples. You must use the command 'add map' to add values.\n".into());
    }
    let gen = gen.unwrap_or(st.curr_gen);
    let mut entries: Vec<(String, Option<String>)> = Vec::new();
    match payload {
        Some(p) => {
            for line in p.lines().filter(|l| !l.is_empty()) {
                let (key, value) = match line.split_once([' ', '\t']) {
                    Some((key, v)) => (key, v.trim_start_matches([' ', '\t'])),
                    None if k.map => return Err(format!("Missing value for key '{line}'.\n")),
                    None => (line, ""),
                };
                entries.push((key.to_string(), k.map.then(|| value.to_string())));
            }
        }
        None => entries.push((args[1].to_string(), k.map.then(|| args[2].to_string()))),
    }
    for (key, value) in entries {
        st.add(gen, &key, value.as_deref())
            .map_err(|e| format!("{e}.\n"))?;
    }
    Ok(String::new())
}

fn del(refs: &PatRefs, k: &Kind, args: &[&str]) -> Result<String, String> {
    let [name, key, ..] = args else {
        return Err(if k.map {
            "This command expects two parameters: map identifier and key.\n".into()
        } else {
            "This command expects two parameters: ACL identifier and key.\n".into()
        });
    };
    // HAProxy says "map" here for acls too.
    let r = k
        .find(refs, name, true)
        .map_err(|_| Kind { map: true }.unknown())?;
    let mut st = r.lock();
    let found = match entry_id(key) {
        Some(id) => st.delete_id(id?),
        None => st.delete(key),
    };
    if found {
        Ok(String::new())
    } else {
        Err("Key not found.\n".into())
    }
}

fn set(refs: &PatRefs, args: &[&str]) -> Result<String, String> {
    let [name, key, value, ..] = args else {
        return Err("'set map' expects three parameters: map identifier, key and value.\n".into());
    };
    let r = Kind { map: true }.find(refs, name, false)?;
    let key = match entry_id(key) {
        Some(id) => Err(id?),
        None => Ok(*key),
    };
    let res = r.lock().set(key, value);
    res.map(|()| String::new()).map_err(|e| format!("{e}.\n"))
}

fn clear(refs: &PatRefs, k: &Kind, args: &[&str]) -> Result<String, String> {
    let (gen, args) = version(args);
    let Some(name) = args.first() else {
        return Err(k.missing());
    };
    let r = k.find(refs, name, true)?;
    let mut st = r.lock();
    let g = gen.unwrap_or(st.curr_gen);
    st.purge(g, g);
    Ok(String::new())
}

fn commit(refs: &PatRefs, k: &Kind, args: &[&str]) -> Result<String, String> {
    let (Some(gen), args) = version(args) else {
        return Err("Missing version number.\n".into());
    };
    let Some(name) = args.first() else {
        return Err(k.missing());
    };
    let r = k.find(refs, name, true)?;
    let ok = r.lock().commit(gen);
    if ok {
        Ok(String::new())
    } else {
        Err("Version number out of range.\n".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs() -> (Arc<PatRefs>, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("lbd-patcmd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let map = dir.join("hosts.map");
        std::fs::write(&map, "a.example  be_a\n# comment\nb.example be_b\n").unwrap();
        let cfg = format!(
            "defaults\n mode http\n timeout client 1s\n timeout connect 1s\n timeout server 1s\n\
             frontend f\n bind 127.0.0.1:1\n http-request deny if {{ path -m beg /admin /x }}\n\
             use_backend %[req.hdr(host),map_str({})]\n",
            map.display()
        );
        let c = crate::config::parse_str("t.cfg", &cfg).config.unwrap();
        (c.pat_refs.clone(), map)
    }

    fn run(r: &PatRefs, line: &str, payload: Option<&str>) -> String {
        let w: Vec<&str> = line.split(' ').collect();
        command(r, &w, payload)
    }

    #[test]
    fn lists_and_dumps_like_haproxy() {
        let (r, map) = refs();
        let m = map.display().to_string();
        assert_eq!(
            run(&r, "show acl", None),
            "# id (file) description\n0 () acl 'path' file 't.cfg' line 8. curr_ver=0 next_ver=0 entry_cnt=2\n"
        );
        assert_eq!(
            run(&r, "show map", None),
            format!("# id (file) description\n1 ({m}) pattern loaded from file '{m}' used by map at file 't.cfg' line 9. curr_ver=0 next_ver=0 entry_cnt=2\n")
        );
        let dump = run(&r, &format!("show map {m}"), None);
        let lines: Vec<&str> = dump.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("0x") && lines[0].ends_with(" a.example be_a"));
        assert!(run(&r, "show acl #0", None).ends_with(" /x\n"));
        assert_eq!(
            run(&r, "show acl #1", None),
            "Unknown ACL identifier. Please use #<id> or <file>.\n"
        );
        assert_eq!(
            run(&r, &format!("get map {m} b.example"), None),
            "type=str, case=sensitive, found=yes, idx=tree, key=\"b.example\", value=\"be_b\", type=\"str\"\n"
        );
        assert_eq!(
            run(&r, "get acl #0 /adminx", None),
            "type=beg, case=sensitive, match=yes, idx=tree, pattern=\"/admin\"\n"
        );
    }

    #[test]
    fn changes_and_errors() {
        let (r, map) = refs();
        let m = map.display().to_string();
        assert_eq!(run(&r, &format!("add map {m} c.example be_c"), None), "");
        assert_eq!(
            run(
                &r,
                &format!("add map {m}"),
                Some("d.example be_d\ne.example  be_e\n")
            ),
            ""
        );
        assert_eq!(
            run(&r, &format!("add map {m}"), Some("lonely\n")),
            "Missing value for key 'lonely'.\n"
        );
        assert_eq!(run(&r, &format!("set map {m} d.example be_x"), None), "");
        assert!(run(&r, &format!("get map {m} d.example"), None).contains("value=\"be_x\""));
        assert_eq!(
            run(&r, &format!("set map {m} nope v"), None),
            "entry not found.\n"
        );
        assert_eq!(
            run(&r, &format!("del map {m} nope"), None),
            "Key not found.\n"
        );
        assert_eq!(run(&r, &format!("del map {m} e.example"), None), "");
        // Extra words are ignored.
        assert_eq!(run(&r, "add acl #0 x y", None), "");
        assert_eq!(
            run(&r, "del acl #1 x", None),
            "Unknown map identifier. Please use #<id> or <file>.\n"
        );
        assert_eq!(
            run(&r, &format!("add acl {m} k"), None),
            "This ACL is shared with a map containing samples. You must use the command 'add map' to add values.\n"
        );
        assert_eq!(
            run(&r, "add acl @5 #0 /z", None),
            "Version number in the future, please use 'prepare acl' before.\n"
        );
        assert_eq!(run(&r, "prepare acl #0", None), "New version created: 1\n");
        assert_eq!(run(&r, "add acl @1 #0 /only", None), "");
        assert!(run(&r, "show acl @1 #0", None).ends_with(" /only\n"));
        assert_eq!(
            run(&r, "commit acl @2 #0", None),
            "Version number out of range.\n"
        );
        assert_eq!(run(&r, "commit acl #0", None), "Missing version number.\n");
        assert_eq!(run(&r, "commit acl @1 #0", None), "");
        assert!(run(&r, "show acl", None).contains("curr_ver=1 next_ver=1 entry_cnt=1\n"));
        assert_eq!(run(&r, "clear acl #0", None), "");
        assert_eq!(run(&r, "show acl #0", None), "");
        assert_eq!(run(&r, "clear map", None), "Missing map identifier.\n");
        assert_eq!(
            run(&r, "set map", None),
            "'set map' expects three parameters: map identifier, key and value.\n"
        );
        assert_eq!(
            run(&r, "get acl #0", None),
            "Missing ACL identifier and/or key.\n"
        );
        assert_eq!(
            run(&r, &format!("del map {m} #0xzz"), None),
            "Malformed identifier. Please use #<id> or <file>.\n"
        );
    }
}
