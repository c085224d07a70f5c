//! What ships beside the binary agrees with it and with itself: the man page is the
//! one `lbd --man` prints (the same table as `--help`), the default config passes
//! `lbd -c`, and the config, the systemd unit and the README name the same paths
//! (`/run/lbd/` for the runtime socket, `/var/log/lbd/` for log files). The unit's
//! syntax is checked by `systemd-analyze verify` in `.ci/run` (packaging/verify-unit.sh).

use std::process::Command;

fn file(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("read {path}: {e}"))
}

fn lbd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lbd"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("run lbd")
}

/// The values of `Key=` lines of a unit file.
fn unit_values(unit: &str, key: &str) -> Vec<String> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_man_page_is_what_lbd_man_prints_and_lists_every_help_option() {
    let out = lbd(&["--man"]);
    assert!(out.status.success());
    let man = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        man,
        file("packaging/lbd.8"),
        "packaging/lbd.8 is stale: lbd --man > packaging/lbd.8"
    );
    let help = String::from_utf8(lbd(&["--help"]).stdout).unwrap();
    for (opt, what) in lbd::cli::OPTIONS {
        assert!(
            help.contains(&format!("{opt} : {what}")),
            "--help lists {opt}"
        );
        assert!(
            man.contains(&format!(".B {}\n", opt.replace('-', "\\-"))),
            "lbd.8 lists {opt}"
        );
    }
}

#[test]
fn the_default_config_is_valid_and_agrees_with_the_unit_and_the_readme() {
    let out = lbd(&["-c", "-V", "-f", "packaging/lbd.cfg"]);
    assert!(out.status.success(), "{out:?}");
    let cfg = file("packaging/lbd.cfg");
    let unit = file("packaging/systemd/lbd.service");
    let readme = file("README.md");
    // The runtime socket lives in the unit's RuntimeDirectory, log files in its
    // LogsDirectory: both are created for User=lbd, which ProtectSystem=strict needs.
    assert_eq!(unit_values(&unit, "RuntimeDirectory"), ["lbd"]);
    assert_eq!(unit_values(&unit, "LogsDirectory"), ["lbd"]);
    assert_eq!(unit_values(&unit, "User"), ["lbd"]);
    let socket = cfg
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("stats socket "))
        .and_then(|l| l.split_whitespace().next())
        .expect("a stats socket");
    assert!(socket.starts_with("/run/lbd/"), "{socket}");
    assert!(
        readme.contains(&format!("socat stdio {socket}")),
        "the README's socat line uses {socket}"
    );
    for l in cfg
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("log /"))
    {
        assert!(l.starts_with("log /var/log/lbd/"), "{l}");
    }
    // The pidfile too.
    assert!(unit.contains("PIDFILE=/run/lbd/lbd.pid"), "{unit}");
    assert!(unit_values(&unit, "EnvironmentFile").contains(&"-/etc/default/lbd".to_string()));
    let docs = unit_values(&unit, "Documentation").join(" ");
    assert!(docs.contains("man:lbd(8)"), "{docs}");
    assert!(!docs.contains(".invalid"), "{docs}");
    // The unit runs the binary where the README installs it.
    let exec = unit_values(&unit, "ExecStart");
    assert_eq!(exec.len(), 1);
    let bin = exec[0].split_whitespace().next().unwrap();
    assert!(
        readme.contains(&format!("target/release/lbd {bin}")),
        "{bin}"
    );
    // The README installs the default config, never the demo.
    assert!(readme.contains("packaging/lbd.cfg /etc/lbd/lbd.cfg"));
    assert!(!readme.contains("examples/haproxy.cfg /etc/lbd"));
}

/// The lines of the `[name]` table of a TOML file (up to the next table).
fn toml_table<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.lines()
        .skip_while(|l| l.trim() != format!("[{name}]"))
        .skip(1)
        .take_while(|l| !l.starts_with('['))
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

#[test]
fn release_profile_deb_metadata_and_dockerfile_agree_with_the_tree() {
    let cargo = file("Cargo.toml");
    // No full debug info in release builds; the profiling profile has it.
    let release = toml_table(&cargo, "profile.release");
    assert!(release.contains(&"debug = false"), "{release:?}");
    let profiling = toml_table(&cargo, "profile.profiling");
    assert!(
        profiling.contains(&"inherits = \"release\""),
        "{profiling:?}"
    );
    assert!(profiling.contains(&"debug = true"), "{profiling:?}");
    // Every file the .deb ships exists (the binary is built by `cargo deb`), and the
    // config files are conffiles.
    let deb = toml_table(&cargo, "package.metadata.deb").join("\n");
    let root = env!("CARGO_MANIFEST_DIR");
    let mut shipped = Vec::new();
    for l in deb.lines().filter(|l| l.starts_with("[\"")) {
        let parts: Vec<&str> = l
            .trim_end_matches(',')
            .trim_matches(['[', ']'])
            .split(", ")
            .collect();
        let (src, dst) = (parts[0].trim_matches('"'), parts[1].trim_matches('"'));
        if src != "target/release/lbd" {
            assert!(std::path::Path::new(root).join(src).exists(), "{src}");
        }
        shipped.push(format!("/{dst}"));
    }
    for want in [
        "/usr/sbin/lbd",
        "/etc/lbd/lbd.cfg",
        "/etc/default/lbd",
        "/usr/share/man/man8/lbd.8",
        "/usr/share/doc/lbd/README.md",
    ] {
        assert!(shipped.iter().any(|s| s == want), "the .deb ships {want}");
    }
    assert!(deb.contains("conf-files = [\"/etc/lbd/lbd.cfg\", \"/etc/default/lbd\"]"));
    assert!(deb.contains("unit-scripts = \"packaging/systemd/\""));
    let postinst = file("packaging/debian/postinst");
    assert!(postinst.contains("adduser --system --group"), "{postinst}");
    // The Dockerfile installs what the unit and the README use.
    let docker = file("Dockerfile");
    for want in [
        "COPY packaging/lbd.cfg /etc/lbd/lbd.cfg",
        "/usr/sbin/lbd",
        "USER lbd",
        "install -d -o lbd -g lbd /run/lbd /var/log/lbd",
    ] {
        assert!(docker.contains(want), "Dockerfile: {want}");
    }
    let readme = file("README.md");
    for want in [
        "cargo install --path .",
        "cargo deb",
        "docker build",
        "--profile profiling",
    ] {
        assert!(readme.contains(want), "README documents {want}");
    }
}
