//! `run`: create, start, attach, wait, and the undo of a failed start, as one operation
//! every front end calls. What differs between front ends — a terminal for the CLI, a
//! hijacked HTTP stream for the API service — is the [`RunSession`] they pass in; the
//! order of steps, what is undone and when a `--rm` container goes are the engine's.

use std::os::unix::net::UnixStream;

use super::{Container, ContainerSpec, RemoveOptions};
use crate::Engine;
use crate::error::{Error, Result};

/// How a front end's stream of an attached container ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// The container's output ended: it is exiting.
    Finished,
    /// The user detached; the container runs on.
    Detached,
}

/// The front end's part of an attached `run`.
pub trait RunSession {
    type Error: From<Error>;
    /// The container exists and is about to start: Podman prints its create warnings now.
    fn created(&mut self, _c: &Container, _warnings: &[String]) -> Result<(), Self::Error> {
        Ok(())
    }
    /// Stream the started container's I/O over its attach socket.
    fn stream(&mut self, c: &Container, socket: &UnixStream) -> Result<SessionEnd, Self::Error>;
}

/// How a `run` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// Started in the background (`-d`), or the user detached.
    Detached,
    /// The container exited with this code (and is cleaned up; removed with `--rm`).
    Exited(i32),
}

#[derive(Debug, Clone)]
pub struct RunReport {
    pub id: String,
    pub outcome: RunOutcome,
}

impl Engine {
    /// `run`: make the container and start it; unless `detach`, stream it through
    /// `session` and wait for its exit code. A start that fails leaves the container
    /// `created` (holding nothing: the failed start released it all), as Podman's, unless
    /// it was to be removed (`--rm`); the error is then the command's (126, or 127 when
    /// something was not found).
    pub fn run<S: RunSession>(
        &self,
        spec: &ContainerSpec,
        detach: bool,
        session: &mut S,
    ) -> Result<RunReport, S::Error> {
        let (c, warnings) = self.create_container_warning(spec)?;
        let id = c.id().to_string();
        if let Err(e) = session.created(&c, &warnings) {
            self.undo_run(&id);
            return Err(e);
        }
        // From here until it returns, this process removes the container when it exits:
        // the monitor's exit command waits for it rather than racing it for the lock.
        let _remover = (spec.auto_remove && !detach).then(|| self.claim_removal(&id));
        let started = match self.start(&id, !detach) {
            Ok(s) => s,
            Err(e) => {
                if spec.auto_remove {
                    self.undo_run(&id);
                }
                return Err(start_failure(e).into());
            }
        };
        let detached = RunReport {
            id: id.clone(),
            outcome: RunOutcome::Detached,
        };
        if detach {
            return Ok(detached);
        }
        if let Some(socket) = &started.socket
            && session.stream(&started.container, socket)? == SessionEnd::Detached
        {
            // It runs on; with --rm the monitor's exit command removes it later.
            return Ok(detached);
        }
        // Streamed to the end, or passthrough (the container has the caller's stdio). With
        // --rm the removal does the cleanup: one pass under the container's lock, not two.
        let code = if spec.auto_remove {
            self.wait_exit_code(&started.container)?
        } else {
            self.finish_attached(&started.container)?
        };
        if spec.auto_remove {
            match self.remove(&id, &removal()) {
                Ok(_) | Err(Error::NoSuchContainer(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(RunReport {
            id,
            outcome: RunOutcome::Exited(code),
        })
    }

    /// An attached container's output ended: its exit code, once it is cleaned up here
    /// rather than by the monitor's exit command, so it reads `exited` when we return (as
    /// Podman does).
    pub fn finish_attached(&self, c: &Container) -> Result<i32> {
        let code = self.wait_exit_code(c)?;
        match self.cleanup(c.id(), true, false) {
            Ok(()) | Err(Error::NoSuchContainer(_)) => {}
            Err(e) => tracing::debug!(error = %e, "cleanup after an attached run"),
        }
        Ok(code)
    }

    /// Note (in the container's run directory) that this process will remove the
    /// container once it exits; undone when the returned guard drops (a detach, an error).
    fn claim_removal(&self, id: &str) -> RemovalClaim {
        let path = self.paths.container_run_dir(id).join(REMOVER_FILE);
        let me = std::process::id() as i32;
        let start = super::reconcile::process_start_time(me).unwrap_or(0);
        let written = path
            .parent()
            .is_some_and(|d| std::fs::create_dir_all(d).is_ok())
            && std::fs::write(&path, format!("{me} {start}\n")).is_ok();
        RemovalClaim {
            path: written.then_some(path),
        }
    }

    /// For the monitor's exit command of a `--rm` container: while the attached `run` that
    /// will remove it still lives, wait for it to finish (it removes the container, so the
    /// cleanup that follows finds nothing to do). Racing it for the container's lock made
    /// the attached command wait behind this whole second process: 150 ms seen here under
    /// load. A `run` that was killed frees us at once: it is gone.
    pub(super) fn wait_for_remover(&self, id: &str) {
        let path = self.paths.container_run_dir(id).join(REMOVER_FILE);
        let Some((pid, start)) = std::fs::read_to_string(&path).ok().and_then(|s| {
            let mut f = s.split_whitespace().map(str::parse::<i64>);
            Some((f.next()?.ok()? as i32, f.next()?.ok()? as u64))
        }) else {
            return;
        };
        if pid == std::process::id() as i32 {
            return;
        }
        let mut sleep = std::time::Duration::from_millis(2);
        while super::reconcile::alive(pid, start) && path.exists() {
            std::thread::sleep(sleep);
            sleep = (sleep * 2).min(std::time::Duration::from_millis(50));
        }
    }

    fn undo_run(&self, id: &str) {
        if let Err(e) = self.remove(id, &removal()) {
            tracing::warn!(id, error = %e, "removing a container whose run failed");
        }
    }
}

/// A failed start as `run`'s error: Podman's `define.ExitCode`, 127 when something was not
/// found, else 126 (the command could not be invoked).
fn start_failure(e: Error) -> Error {
    if let Error::Command { .. } = e {
        return e;
    }
    let message = e.to_string();
    let lower = message.to_lowercase();
    let code = if ["not found", "executable path is empty", "no such file"]
        .iter()
        .any(|m| lower.contains(m))
    {
        crate::error::exit::NOT_FOUND
    } else {
        crate::error::exit::CANNOT_INVOKE
    };
    Error::Command { message, code }
}

/// The file in a container's run directory naming the attached `run --rm` that removes it:
/// `PID START_TIME`.
const REMOVER_FILE: &str = "remover";

/// [`Engine::claim_removal`]'s note, removed on drop.
struct RemovalClaim {
    path: Option<std::path::PathBuf>,
}

impl Drop for RemovalClaim {
    fn drop(&mut self) {
        if let Some(p) = &self.path {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn removal() -> RemoveOptions {
    RemoveOptions {
        force: true,
        volumes: true,
        timeout: Some(0),
    }
}
