//! `peapod unshare [CMD…]`: a command (the user's shell by default) inside the user's
//! namespaces, which the command's start has joined already, as Podman's `unshare`.
//!
//! The command replaces `peapod` (exec), so its exit status, signals and terminal are its
//! own. Podman's environment: `CONTAINERS_GRAPHROOT` and `CONTAINERS_RUNROOT` name the
//! store; Podman's exit codes: 127 when the command does not exist, 126 when it cannot run.

use std::os::unix::process::CommandExt;
use std::process::Command;

use super::RootlessError;
use crate::Engine;
use crate::error::{Error, exit};

impl Engine {
    /// Runs `command` (or `$SHELL`, else `/bin/sh`) in place of this process; returns only
    /// the error that kept it from running.
    pub fn unshare(&self, command: &[String]) -> Error {
        if !super::is_rootless() {
            return RootlessError::NotRootless.into();
        }
        let (program, args) = match command.split_first() {
            Some((p, a)) => (p.clone(), a.to_vec()),
            None => (
                std::env::var("SHELL")
                    .ok()
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "/bin/sh".into()),
                Vec::new(),
            ),
        };
        let err = Command::new(&program)
            .args(&args)
            .env("CONTAINERS_GRAPHROOT", &self.paths.root)
            .env("CONTAINERS_RUNROOT", &self.paths.runroot)
            .exec();
        // Podman's words (Go's exec errors).
        match err.kind() {
            std::io::ErrorKind::NotFound if !program.contains('/') => Error::Command {
                message: format!("exec: \"{program}\": executable file not found in $PATH"),
                code: exit::NOT_FOUND,
            },
            std::io::ErrorKind::NotFound => Error::Command {
                message: format!("fork/exec {program}: no such file or directory"),
                code: exit::NOT_FOUND,
            },
            std::io::ErrorKind::PermissionDenied => Error::Command {
                message: format!("fork/exec {program}: permission denied"),
                code: exit::CANNOT_INVOKE,
            },
            _ => Error::Command {
                message: format!("fork/exec {program}: {err}"),
                code: exit::CANNOT_INVOKE,
            },
        }
    }
}
