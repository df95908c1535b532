//! Running external commands with readable errors.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// A `docker` command. The first `docker` on `PATH` is used; both the Docker
/// CLI and Debian's older one talk to the local engine.
pub(crate) fn docker() -> Command {
    Command::new("docker")
}

/// A `docker` command for the engine at `host` (a `DOCKER_HOST` value, e.g.
/// Podman's socket), or for the environment's engine when `None`.
pub(crate) fn docker_at(host: Option<&str>) -> Command {
    let mut docker = docker();
    if let Some(host) = host {
        docker.env("DOCKER_HOST", host);
    }
    docker
}

/// The command line of `cmd`, for messages.
pub(crate) fn display(cmd: &Command) -> String {
    std::iter::once(cmd.get_program()).chain(cmd.get_args()).map(quote).collect::<Vec<_>>().join(" ")
}

fn quote(arg: &OsStr) -> String {
    let arg = arg.to_string_lossy();
    if !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c)) {
        arg.into_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// Runs `cmd` with the terminal as its stdio and fails unless it exits 0.
pub(crate) fn run(cmd: &mut Command) -> Result<()> {
    let shown = display(cmd);
    let status = cmd.status().with_context(|| format!("cannot run `{shown}`"))?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(())
}

/// Runs `cmd` with captured output and fails unless it exits 0; the error
/// carries what the command printed.
pub(crate) fn output(cmd: &mut Command) -> Result<Output> {
    let shown = display(cmd);
    let out = cmd.stdin(Stdio::null()).output().with_context(|| format!("cannot run `{shown}`"))?;
    if !out.status.success() {
        bail!(
            "`{shown}` failed ({})\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out)
}

/// Like [`output`], returning stdout as trimmed text.
pub(crate) fn stdout(cmd: &mut Command) -> Result<String> {
    let out = output(cmd)?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Runs `cmd` silently and says whether it exited 0.
pub(crate) fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|status| status.success())
}

/// Where `program` would be found on `PATH`.
pub(crate) fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|candidate| candidate.is_file())
}

/// A duration for humans: `850ms`, `2.4s`, `3m07s`.
pub(crate) fn human(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs < 1.0 {
        format!("{}ms", duration.as_millis())
    } else if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        format!("{}m{:02}s", duration.as_secs() / 60, duration.as_secs() % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_quotes_only_what_needs_it() {
        let mut cmd = Command::new("docker");
        cmd.args(["commit", "--change", r#"CMD ["/run"]"#, "it's"]);
        assert_eq!(display(&cmd), r#"docker commit --change 'CMD ["/run"]' 'it'\''s'"#);
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(Duration::from_millis(850)), "850ms");
        assert_eq!(human(Duration::from_millis(2_440)), "2.4s");
        assert_eq!(human(Duration::from_secs(187)), "3m07s");
    }
}
