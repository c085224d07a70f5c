//! `lbd`: the command line. Everything else lives in the library.

use lbd::cli;
use lbd::config::{self, Level};
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options (`_RJEM_MALLOC_CONF` in the environment overrides them).
#[allow(non_upper_case_globals)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: &[u8] =
    b"background_thread:true,max_background_threads:1,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

fn main() -> ExitCode {
    let args = match cli::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "{} : {e}\n{}",
                config::prefix("ALERT", std::process::id()),
                cli::usage()
            );
            return ExitCode::from(1);
        }
    };
    if args.help {
        println!("{}", cli::usage());
        return ExitCode::SUCCESS;
    }
    if args.man {
        print!("{}", cli::man_page());
        return ExitCode::SUCCESS;
    }
    if args.version || args.features {
        println!("lbd version {}", env!("CARGO_PKG_VERSION"));
        if args.features {
            let list: Vec<String> = config::FEATURES
                .iter()
                .map(|(n, on)| format!("{}{n}", if *on { '+' } else { '-' }))
                .collect();
            println!("Feature list : {}", list.join(" "));
        }
        return ExitCode::SUCCESS;
    }
    if let Some(expr) = &args.condition {
        return match config::condition(expr, &|v| std::env::var(v).ok()) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(e) => {
                eprintln!("{} : {e}", config::prefix("ALERT", std::process::id()));
                ExitCode::from(2)
            }
        };
    }
    let pid = std::process::id();
    let mut loaded = config::load(&args.files);
    let tls = lbd::tls::server::check(&mut loaded);
    for d in &loaded.diags {
        if args.quiet && d.level != Level::Alert {
            continue;
        }
        eprintln!("{}", d.line(pid));
    }
    let warnings = loaded.warnings();
    // Server TLS contexts read their files (ca-file, crt, crl-file) here, as HAProxy
    // does while parsing: an unusable one fails the configuration.
    let tls_errors = loaded
        .config
        .as_ref()
        .map(lbd::tls::client::check)
        .unwrap_or_default();
    for d in &tls_errors {
        eprintln!("{}", d.line(pid));
    }
    let Some(cfg) = loaded.config.filter(|_| tls_errors.is_empty()) else {
        if !args.quiet || args.check {
            eprintln!(
                "{} : config : Fatal errors found in configuration.",
                config::prefix("ALERT", pid)
            );
        }
        return ExitCode::from(1);
    };
    if warnings > 0 && !args.quiet {
        eprintln!(
            "{} : config : Warnings were found.",
            config::prefix("WARNING", pid)
        );
    }
    // A runtime socket is a listener too, as in HAProxy (its CLI proxy has one).
    let no_listener = cfg.listener_count() == 0 && cfg.global.stats_sockets.is_empty();
    if no_listener && !args.check {
        eprintln!(
            "{} : [lbd.main()] No enabled listener found (check for 'bind' directives) ! Exiting.",
            config::prefix("ALERT", pid)
        );
        return ExitCode::from(1);
    }
    if args.check {
        if no_listener {
            if !args.quiet {
                eprintln!(
                    "{} : config : Configuration file has no listener: nothing would accept connections.",
                    config::prefix("ALERT", pid)
                );
            }
            return ExitCode::from(2);
        }
        if args.verbose {
            println!("Configuration file is valid");
        }
        return ExitCode::SUCCESS;
    }
    match lbd::run(cfg, tls, &args) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("{} : {e}", config::prefix("ALERT", pid));
            ExitCode::from(1)
        }
    }
}
