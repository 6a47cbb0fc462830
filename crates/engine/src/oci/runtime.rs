//! The OCI runtime's command line (crun or runc), for what the engine runs itself:
//! `start`, `kill`, `delete`, `state`, `pause`, `resume`. `create` is run by the monitor.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde::Deserialize;

use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct Runtime {
    pub path: PathBuf,
    /// Global options given before every subcommand (`--runtime-flag`, each with `--`).
    pub flags: Vec<String>,
}

/// The part of `runtime state ID` we use.
#[derive(Debug, Clone, Deserialize)]
pub struct RuntimeState {
    pub status: String,
    #[serde(default)]
    pub pid: i32,
}

/// One entry of `runtime list -f json`.
#[derive(Debug, Clone, Deserialize)]
pub struct RuntimeListed {
    pub id: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub bundle: PathBuf,
}

impl Runtime {
    pub fn new(path: PathBuf) -> Self {
        Runtime {
            path,
            flags: Vec::new(),
        }
    }

    /// With Podman's `--runtime-flag` values: `X` is passed as `--X`.
    pub fn with_flags(mut self, flags: &[String]) -> Self {
        self.flags = flags.iter().map(|f| format!("--{f}")).collect();
        self
    }

    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    fn run(&self, args: &[&str]) -> Result<String> {
        self.run_with(&self.flags, args)
    }

    /// For what releases and looks: when the user's `--runtime-flag`s make the runtime
    /// fail (an unknown flag), once more without them, so that a container whose start
    /// they broke can still be looked at and removed.
    fn run_releasing(&self, args: &[&str]) -> Result<String> {
        match self.run(args) {
            Err(Error::Runtime(m)) if !self.flags.is_empty() && !is_not_exist(&m) => {
                self.run_with(&[], args)
            }
            other => other,
        }
    }

    fn run_with(&self, flags: &[String], args: &[&str]) -> Result<String> {
        let mut cmd = Command::new(&self.path);
        // systemd's socket is for the command that starts the container (`--sdnotify`),
        // never the runtime's: runc would proxy it into the container it starts.
        cmd.args(flags)
            .args(args)
            .stdin(Stdio::null())
            .env_remove("NOTIFY_SOCKET");
        crate::children::die_with_parent(&mut cmd);
        let out = cmd
            .output()
            .map_err(|e| Error::Runtime(format!("running {}: {e}", self.path.display())))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(Error::Runtime(runtime_message(&out.stderr)))
        }
    }

    pub fn start(&self, id: &str) -> Result<()> {
        self.run(&["start", id]).map(drop)
    }

    /// `start` with systemd's `NOTIFY_SOCKET` left in place (`--sdnotify=container`): runc
    /// then returns once the container has sent `READY=1`, which it passes on.
    pub fn start_notifying(&self, id: &str) -> Result<()> {
        let mut cmd = Command::new(&self.path);
        cmd.args(&self.flags)
            .args(["start", id])
            .stdin(Stdio::null());
        crate::children::die_with_parent(&mut cmd);
        let out = cmd
            .output()
            .map_err(|e| Error::Runtime(format!("running {}: {e}", self.path.display())))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(Error::Runtime(runtime_message(&out.stderr)))
        }
    }

    pub fn kill(&self, id: &str, signal: i32, all: bool) -> Result<()> {
        let sig = signal.to_string();
        if all {
            self.run(&["kill", "--all", id, &sig]).map(drop)
        } else {
            self.run(&["kill", id, &sig]).map(drop)
        }
    }

    /// `delete --force`; a container the runtime does not know is not an error.
    pub fn delete(&self, id: &str) -> Result<()> {
        match self.run_releasing(&["delete", "--force", id]) {
            Ok(_) => Ok(()),
            Err(Error::Runtime(m)) if is_not_exist(&m) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// What a `create` killed before it wrote the container's state leaves in the runtime's
    /// state root (runc: the directory with its exec fifo): `delete` says the container does
    /// not exist and leaves it, and `list` complains about it on every call. Removed here,
    /// only when it holds no state (the runtime no longer knows it).
    pub fn remove_half_made(&self, id: &str) -> Result<()> {
        let (root, state) = match self.name().as_str() {
            "runc" => ("/run/runc", "state.json"),
            "crun" => ("/run/crun", "status"),
            _ => return Ok(()),
        };
        if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(());
        }
        let dir = std::path::Path::new(root).join(id);
        if !dir.is_dir() || dir.join(state).exists() {
            return Ok(());
        }
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::Runtime(format!("removing {}: {e}", dir.display()))),
        }
    }

    /// `None` when the runtime does not know the container.
    pub fn state(&self, id: &str) -> Result<Option<RuntimeState>> {
        match self.run_releasing(&["state", id]) {
            Ok(out) => serde_json::from_str(&out)
                .map(Some)
                .map_err(|e| Error::Runtime(format!("parsing state of {id}: {e}"))),
            Err(Error::Runtime(m)) if is_not_exist(&m) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every container the runtime knows (`list -f json`), whoever made it. runc fails the
    /// whole list when a container goes while it reads them: that is retried.
    pub fn list(&self) -> Result<Vec<RuntimeListed>> {
        let mut tries = 0;
        let out = loop {
            match self.run(&["list", "-f", "json"]) {
                Ok(out) => break out,
                Err(Error::Runtime(m)) if is_not_exist(&m) && tries < 10 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => return Err(e),
            }
        };
        let trimmed = out.trim();
        // runc prints `null` when it knows none.
        if trimmed.is_empty() || trimmed == "null" {
            return Ok(Vec::new());
        }
        serde_json::from_str(trimmed)
            .map_err(|e| Error::Runtime(format!("parsing the runtime's list: {e}")))
    }

    /// `update --resources FILE`: new cgroup limits for a running container.
    pub fn update(&self, id: &str, resources: &std::path::Path) -> Result<()> {
        let file = resources.display().to_string();
        self.run(&["update", "--resources", &file, id]).map(drop)
    }

    pub fn pause(&self, id: &str) -> Result<()> {
        self.run(&["pause", id]).map(drop)
    }

    pub fn resume(&self, id: &str) -> Result<()> {
        self.run(&["resume", id]).map(drop)
    }
}

fn is_not_exist(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    m.contains("does not exist") || m.contains("not found") || m.contains("no such file")
}

/// runc logs errors as `time="…" level=error msg="…"`; crun as `crun: …`. Keep the message.
pub fn runtime_message(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let mut msgs = Vec::new();
    for line in text.lines() {
        if let Some(i) = line.find("msg=\"") {
            let rest = &line[i + 5..];
            let end = rest.rfind('"').unwrap_or(rest.len());
            msgs.push(rest[..end].replace("\\\"", "\"").replace("\\\\", "\\"));
        } else if !line.trim().is_empty() {
            msgs.push(line.trim().to_string());
        }
    }
    msgs.join(": ")
}

/// Podman's mapping of runtime errors to exit codes: a command that does not exist is 127,
/// one that cannot be run is 126 (podman `define.ExecErrorCodeGeneric` and friends).
pub fn command_error_code(msg: &str) -> Option<i32> {
    let m = msg.to_ascii_lowercase();
    if m.contains("executable file not found") || m.contains("no such file or directory") {
        Some(crate::error::exit::NOT_FOUND)
    } else if m.contains("permission denied")
        || m.contains("is a directory")
        || m.contains("exec format error")
    {
        Some(crate::error::exit::CANNOT_INVOKE)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runc_messages() {
        let e = b"time=\"2024-01-01T00:00:00Z\" level=error msg=\"runc create failed: unable to start container process: exec: \\\"nonexistent\\\": executable file not found in $PATH\"\n";
        let m = runtime_message(e);
        assert_eq!(
            m,
            "runc create failed: unable to start container process: exec: \"nonexistent\": executable file not found in $PATH"
        );
        assert_eq!(command_error_code(&m), Some(127));
        assert_eq!(
            command_error_code("exec: \"/etc/passwd\": permission denied"),
            Some(126)
        );
        assert_eq!(command_error_code("some other failure"), None);
    }
}
