//! The master CLI (`-S ADDR`), as far as one lbd process has one: commands prefixed
//! `@1` or `@!PID` go to the runtime API at level admin (`@1 show info; @1 add acl F
//! x`), and the master answers `help`, `prompt`, `quit` and `reload` itself. lbd has
//! no separate master process, so there is no `show proc` and `@master` is the same
//! process.

use super::socket::{execute_with, read_payload, ReloadFn};
use crate::config::model::StatsLevel;
use crate::graph::GraphHandle;
use tokio::io::{AsyncBufReadExt, AsyncWrite, AsyncWriteExt, BufReader};

const HELP: &str = "The following commands are valid at this level:
  @!<pid>                                 : send a command to the <pid> process
  @<relative pid>                         : send a command to the <relative pid> process
  @master                                 : send a command to the master process
  help                                    : this message
  prompt                                  : toggle interactive mode with prompt
  quit                                    : disconnect
  reload                                  : reload the configuration files
";

/// Opens the master CLI on `-S ADDR[,mode,M]` and serves it until the task is aborted.
pub fn spawn(
    spec: &str,
    handle: GraphHandle,
    reload: ReloadFn,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let mut parts = spec.split(',');
    let path = parts.next().unwrap_or_default().to_string();
    let mut mode = 0o600;
    while let Some(opt) = parts.next() {
        let val = parts.next();
        match (opt, val.and_then(|v| u32::from_str_radix(v, 8).ok())) {
            ("mode", Some(m)) => mode = m,
            _ => {
                return Err(format!(
                    "-S '{spec}': unsupported option '{opt}' (lbd takes 'mode,<octal>')"
                ))
            }
        }
    }
    let cfg = crate::config::model::StatsSocket {
        path,
        mode,
        level: StatsLevel::Admin,
        loc: Default::default(),
    };
    super::socket::spawn_as(super::socket::Cli::Master, &cfg, handle, reload)
}

/// Where a command goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Master,
    Worker,
}

/// The target a `@` prefix names: `@1`, `@!PID` (this process), `@master` or `@`.
fn target(prefix: &str) -> Option<Target> {
    let pid = std::process::id().to_string();
    match prefix {
        "@" | "@master" => Some(Target::Master),
        "@1" => Some(Target::Worker),
        p if p.strip_prefix("@!") == Some(pid.as_str()) => Some(Target::Worker),
        _ => None,
    }
}

/// Serves one master CLI connection.
pub async fn session<S>(stream: S, handle: GraphHandle, reload: ReloadFn)
where
    S: tokio::io::AsyncRead + AsyncWrite + Unpin,
{
    let (r, mut w) = tokio::io::split(stream);
    let mut lines = BufReader::new(r).lines();
    let mut interactive = false;
    let mut default = Target::Master;
    while let Ok(Some(mut line)) = lines.next_line().await {
        let mut payload = match read_payload(&mut line, &mut lines).await {
            Ok(p) => p,
            Err(msg) => {
                let _ = w.write_all(msg.as_bytes()).await;
                break;
            }
        };
        let mut out = String::new();
        let mut quit = false;
        let cmds = super::cliwords::commands(&line);
        let last = cmds.len() - 1;
        for (i, cmd) in cmds.into_iter().enumerate() {
            let cmd = cmd.trim();
            let (to, rest) = match cmd.split_once([' ', '\t']).unwrap_or((cmd, "")) {
                (p, rest) if p.starts_with('@') => match target(p) {
                    Some(t) => (t, rest.trim()),
                    None => {
                        out.push_str(&format!(
                            "Can't find the target PID matching the prefix '{p}'\n\n"
                        ));
                        continue;
                    }
                },
                _ => (default, cmd),
            };
            if rest.is_empty() {
                // A prefix alone sets where the next commands go.
                if cmd.starts_with('@') && interactive {
                    default = to;
                }
                continue;
            }
            let res = match (to, rest) {
                (_, "prompt") => {
                    interactive = !interactive;
                    continue;
                }
                (_, "quit") => {
                    quit = true;
                    continue;
                }
                (Target::Master, "help") => HELP.to_string(),
                (Target::Master, r) if r != "reload" => {
                    format!("Unknown command: '{r}'\n{HELP}")
                }
                (_, r) => {
                    let (h, rl, r) = (handle.clone(), reload.clone(), r.to_string());
                    let p = if i == last { payload.take() } else { None };
                    tokio::task::spawn_blocking(move || {
                        execute_with(&r, p.as_deref(), StatsLevel::Admin, false, &h, Some(&rl))
                    })
                    .await
                    .unwrap_or_default()
                }
            };
            out.push_str(&res);
            out.push('\n');
        }
        if interactive && !quit {
            out.push_str(match default {
                Target::Master => "master> ",
                Target::Worker => "1> ",
            });
        }
        if w.write_all(out.as_bytes()).await.is_err() || quit || !interactive {
            break;
        }
    }
    let _ = w.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(target("@1"), Some(Target::Worker));
        assert_eq!(
            target(&format!("@!{}", std::process::id())),
            Some(Target::Worker)
        );
        assert_eq!(target("@master"), Some(Target::Master));
        assert_eq!(target("@"), Some(Target::Master));
        assert_eq!(target("@2"), None);
        assert_eq!(target("@!1"), None);
    }
}
