//! The command line, HAProxy's way: `lbd -f FILE|DIR [-f ...] [-c] [-V] [-q] [-p PIDFILE]
//! [-d|-db] [-v|-vv] [-cc EXPR] [-L NAME] [--help]`.
//!
//! Parsed by hand because HAProxy's flags are multi-letter single-dash words (`-db`,
//! `-vv`, `-Ws`) that argument libraries split into separate letters.

use std::path::PathBuf;

/// What the command line asks for.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Args {
    /// `-f` paths in order.
    pub files: Vec<PathBuf>,
    /// `-c`: check only.
    pub check: bool,
    /// `-V`: verbose.
    pub verbose: bool,
    /// `-q`: quiet.
    pub quiet: bool,
    /// `-p PIDFILE`.
    pub pidfile: Option<PathBuf>,
    /// `-d` / `-db`: foreground debug.
    pub debug: bool,
    /// `-v`: print the version.
    pub version: bool,
    /// `-vv`: the version and the feature list.
    pub features: bool,
    /// `-cc EXPR`: evaluate a `.if` condition and exit 0 (true) or 1 (false).
    pub condition: Option<String>,
    /// `-L NAME`: the local peer name (`localpeer`).
    pub local_peer: Option<String>,
    /// `-S ADDR[,mode,M]`: the master CLI's address.
    pub master_cli: Option<String>,
    /// `-W` / `-Ws`: master-worker mode (a stop by SIGTERM/SIGINT exits 128+signal).
    pub master_worker: bool,
    /// `-h` / `--help`.
    pub help: bool,
    /// `--man`: print lbd(8).
    pub man: bool,
}

/// The synopsis line of `--help` and lbd(8).
const SYNOPSIS: &str =
    "lbd -f <cfgfile|cfgdir> [-f ...] [-c] [-V] [-q] [-p <pidfile>] [-d|-db] [-v]";

/// Every option and what it does: the one source of `--help` and of the man page.
pub const OPTIONS: &[(&str, &str)] = &[
    (
        "-f <cfgfile|cfgdir>",
        "configuration file, or directory whose *.cfg files load in byte order",
    ),
    (
        "-c",
        "check the configuration and exit (0 valid, 1 errors, 2 valid but nothing listens)",
    ),
    (
        "-V",
        "verbose mode (prints 'Configuration file is valid' with -c)",
    ),
    ("-q", "quiet mode: print nothing but alerts"),
    (
        "-p <pidfile>",
        "write the process id to <pidfile>, removed at exit",
    ),
    (
        "-d, -db",
        "foreground debug mode (lbd always runs in the foreground)",
    ),
    ("-v", "print the version and exit"),
    ("-vv", "print the version and the feature list, and exit"),
    (
        "-cc <expr>",
        "evaluate a '.if' condition, exit 0 when true, 1 when false",
    ),
    ("-L <name>", "local peer name"),
    (
        "-S <addr>[,mode,<m>]",
        "master CLI on <addr> (unix path, host:port or fd@N): '@1 <command>' runs a runtime API command",
    ),
    (
        "-W, -Ws, -D",
        "accepted for compatibility with HAProxy (no effect)",
    ),
    ("-h, --help", "this text"),
    ("--man", "print the lbd(8) manual page (roff) and exit"),
];

/// The `--help` text.
pub fn usage() -> String {
    let mut u = format!("Usage : {SYNOPSIS}");
    for (opt, what) in OPTIONS {
        u.push_str(&format!("\n        {opt} : {what}"));
    }
    u
}

/// lbd(8) in roff, from the same table as `--help` (`lbd --man > lbd.8`).
pub fn man_page() -> String {
    // roff: a leading '.' or '\'' starts a request, '\' escapes, '-' is a hyphen.
    let esc = |t: &str| t.replace('\\', "\\e").replace('-', "\\-");
    let mut m = format!(
        ".TH LBD 8 \"\" \"lbd {}\" \"System Administration\"\n\
         .SH NAME\nlbd \\- {}\n\
         .SH SYNOPSIS\n.B {}\n\
         .SH DESCRIPTION\n\
         lbd is an L4/L7 load balancer that reads HAProxy 2.6 configuration files.\n\
         Check a configuration with \\fBlbd \\-c \\-f\\fR \\fIFILE\\fR, run it with\n\
         \\fBlbd \\-f\\fR \\fIFILE\\fR.\n\
         .SH OPTIONS\n",
        env!("CARGO_PKG_VERSION"),
        esc(env!("CARGO_PKG_DESCRIPTION")),
        esc(SYNOPSIS),
    );
    for (opt, what) in OPTIONS {
        m.push_str(&format!(".TP\n.B {}\n{}\n", esc(opt), esc(what)));
    }
    m.push_str(
        ".SH SIGNALS\n\
         .TP\n.B SIGUSR2, SIGHUP\nreload the configuration files\n\
         .TP\n.B SIGUSR1\nsoft stop: close the listeners, let connections finish\n\
         .TP\n.B SIGTERM, SIGINT\nstop now\n\
         .SH FILES\n\
         .TP\n.I /etc/lbd/lbd.cfg\nthe configuration read by the systemd unit\n\
         .TP\n.I /etc/default/lbd\noverrides for the unit (CONFIG, EXTRAOPTS)\n\
         .TP\n.I /run/lbd/\nruntime socket and pidfile\n\
         .TP\n.I /var/log/lbd/\nlog files\n\
         .SH SEE ALSO\n\
         /usr/share/doc/lbd/README.md, haproxy(1)\n",
    );
    m
}

/// Parses arguments (without the program name).
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
    let mut a = Args::default();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-f" => a
                .files
                .push(it.next().ok_or("option '-f' requires an argument")?.into()),
            "-p" => a.pidfile = Some(it.next().ok_or("option '-p' requires an argument")?.into()),
            "-c" => a.check = true,
            "-V" => a.verbose = true,
            "-q" => a.quiet = true,
            "-d" | "-db" | "-dV" => a.debug = true,
            "-v" | "--version" => a.version = true,
            "-vv" => a.features = true,
            "-cc" => {
                a.condition = Some(it.next().ok_or("option '-cc' requires an argument")?);
            }
            "-L" => a.local_peer = Some(it.next().ok_or("option '-L' requires an argument")?),
            "-S" => a.master_cli = Some(it.next().ok_or("option '-S' requires an argument")?),
            "-h" | "--help" => a.help = true,
            "--man" => a.man = true,
            "-W" | "-Ws" => a.master_worker = true,
            "-D" => {}
            "--" => {
                for f in it.by_ref() {
                    a.files.push(f.into());
                }
            }
            s if s.starts_with("-f") && s.len() > 2 => a.files.push(s[2..].into()),
            s => return Err(format!("unknown option '{s}'")),
        }
    }
    if a.files.is_empty() && !a.version && !a.features && !a.help && !a.man && a.condition.is_none()
    {
        return Err("No configuration file specified (use -f <file>).".into());
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Args, String> {
        parse(s.split_whitespace().map(String::from))
    }

    #[test]
    fn haproxy_flags() {
        let a = p("-c -V -f a.cfg -f conf.d -q -p /run/lbd.pid -db").unwrap();
        assert_eq!(a.files, [PathBuf::from("a.cfg"), PathBuf::from("conf.d")]);
        assert!(a.check && a.verbose && a.quiet && a.debug);
        assert_eq!(a.pidfile, Some(PathBuf::from("/run/lbd.pid")));
        assert!(p("-Ws -f x.cfg").is_ok());
        assert!(p("-v").unwrap().version);
        assert!(p("-vv").unwrap().features);
        let a = p("-W -S fd@5 -L h1 -d -f x.cfg").unwrap();
        assert_eq!(a.local_peer.as_deref(), Some("h1"));
        assert_eq!(a.master_cli.as_deref(), Some("fd@5"));
        assert!(a.master_worker);
        assert_eq!(p("-cc 1").unwrap().condition.as_deref(), Some("1"));
        assert!(p("-cc").unwrap_err().contains("requires an argument"));
    }

    #[test]
    fn errors() {
        assert!(p("-f").unwrap_err().contains("requires an argument"));
        assert!(p("-x -f a").unwrap_err().contains("unknown option '-x'"));
        assert!(p("-c").unwrap_err().contains("No configuration file"));
    }
}
