//! Stopping a container and what follows its exit: `stop`, `kill`, `restart`, `wait`, the
//! monitor's exit command (`container cleanup`) and the release of what a run held.

use super::reconcile::mark_stopped;
use super::{Container, Status};
use crate::Engine;
use crate::error::{Error, Result};
use crate::state::{Holder, Resource};
use std::time::Duration;

impl Engine {
    /// `stop`: the stop signal, then SIGKILL after `timeout` seconds. While it waits the
    /// container is "stopping" and its lock is free (Podman's #8501): `ps`, `inspect`,
    /// `logs` and `kill` work meanwhile.
    pub fn stop(&self, reference: &str, timeout: Option<u32>) -> Result<Container> {
        let found = self.db.lookup_container(reference)?;
        let (c, timeout) = {
            let _lock = self.lock(found.id())?;
            let mut c = self.container_locked(found.id())?;
            if c.state.status == Status::Paused {
                let _ = self.runtime()?.resume(c.id());
            }
            let timeout = timeout.unwrap_or(c.config.stop_timeout);
            if timeout > 0 && matches!(c.state.status, Status::Running | Status::Paused) {
                c.state.stopped_by_user = true;
                if let Err(e) = self.runtime()?.kill(c.id(), c.config.stop_signal, false) {
                    tracing::debug!(id = c.id(), error = %e, "stop signal failed");
                }
                c.state.status = Status::Stopping;
                self.save(&c)?;
                (c, timeout)
            } else {
                if matches!(
                    c.state.status,
                    Status::Running | Status::Paused | Status::Initialized | Status::Stopping
                ) {
                    self.stop_locked(&mut c, timeout)?;
                    self.emit_container(&c, "stop");
                }
                if c.state.status == Status::Stopped {
                    self.cleanup_locked(&mut c)?;
                }
                return Ok(c);
            }
        };
        // Unlocked: the monitor's exit command may clean up meanwhile.
        let exited = self
            .wait_for_exit(&c, Some(Duration::from_secs(timeout as u64)))
            .is_some();
        let _lock = self.lock(c.id())?;
        let mut c = match self.container_locked(c.id()) {
            Ok(now) => now,
            // Removed meanwhile by its own exit command (`--rm`): stopped, as libpod's stop
            // treats a container its cleanup process removed, with no `stop` event.
            Err(Error::NoSuchContainer(_)) => {
                let mut gone = c;
                gone.state.status = Status::Stopped;
                return Ok(gone);
            }
            Err(e) => return Err(e),
        };
        if c.state.status.is_active() {
            if !exited {
                tracing::warn!(
                    "StopSignal {} failed to stop container {} in {timeout} seconds, resorting to SIGKILL",
                    crate::signal::name(c.config.stop_signal),
                    c.name()
                );
            }
            self.stop_locked(&mut c, 0)?;
        }
        if c.state.status == Status::Stopped {
            self.cleanup_locked(&mut c)?;
        }
        self.emit_container(&c, "stop");
        Ok(c)
    }

    pub(crate) fn stop_locked(&self, c: &mut Container, timeout: u32) -> Result<()> {
        let rt = self.runtime()?.clone();
        c.state.stopped_by_user = true;
        let mut last_signal = c.config.stop_signal;
        let exit = if timeout > 0 {
            if let Err(e) = rt.kill(c.id(), c.config.stop_signal, false) {
                tracing::debug!(id = c.id(), error = %e, "stop signal failed");
            }
            let exit = self.wait_for_exit(c, Some(Duration::from_secs(timeout as u64)));
            if exit.is_none() {
                tracing::warn!(
                    "StopSignal {} failed to stop container {} in {timeout} seconds, resorting to SIGKILL",
                    crate::signal::name(c.config.stop_signal),
                    c.name()
                );
            }
            exit
        } else {
            // Stopped already by its stop signal (a `stop` that waited unlocked).
            self.read_exit(c.id())
        };
        let exit = match exit {
            Some(e) => e,
            None => {
                last_signal = 9;
                if let Err(e) = rt.kill(c.id(), 9, false) {
                    tracing::debug!(id = c.id(), error = %e, "SIGKILL failed");
                }
                self.wait_for_exit(c, Some(Duration::from_secs(30)))
                    .ok_or_else(|| {
                        Error::other(format!("container {} did not die after SIGKILL", c.id()))
                    })?
            }
        };
        let code = if exit.code == -1 {
            128 + last_signal
        } else {
            exit.code
        };
        mark_stopped(c, code, exit.at, exit.oom);
        // A reader that found the exit file while we waited has recorded the exit, and its
        // `died` event, already (readers only move an active container, without the lock):
        // our record replaces its (the code of a signalled exit is ours), without a second
        // event.
        let recorded = self
            .db
            .container(c.id())?
            .is_some_and(|f| !f.state.status.is_active());
        self.save(c)?;
        if !recorded {
            self.emit_died(c);
        }
        Ok(())
    }

    /// Release what a stopped container holds: runtime state, the rootfs mount, run files.
    /// Once its exit code is in the database, its exit file goes too.
    pub(crate) fn cleanup_locked(&self, c: &mut Container) -> Result<()> {
        let ran = matches!(c.state.status, Status::Stopped | Status::Stopping);
        let errors = self.release_held(c);
        self.remove_exec_dirs(c);
        if matches!(
            c.state.status,
            Status::Stopped | Status::Stopping | Status::Initialized
        ) {
            c.state.status = Status::Exited;
        }
        self.save(c)?;
        if c.state.status == Status::Exited {
            // Nobody needs it now: readers take the code from the database (a waiter that
            // polls the file looks there when it is gone).
            let _ = std::fs::remove_file(self.paths.exit_file(c.id()));
        }
        if ran {
            self.emit_container(c, "cleanup");
        }
        Error::collect(errors)
    }

    /// Release everything a container holds while it is set up: whatever the ledger says
    /// (its monitor, the runtime's container, cgroup, network, mounts), then its run
    /// directories, and its place in its pod. Keeps going past failures and returns them;
    /// the run directory (which keeps its leases alive) stays while any is left. Used by
    /// cleanup, removal and a failed init alike.
    pub(crate) fn release_held(&self, c: &mut Container) -> Vec<Error> {
        // A rootfs `peapod mount` holds stays mounted (and held) until `umount`.
        let keep_rootfs = c.state.user_mounts > 0;
        let mut errors = self.release_where(&Holder::container(c.id()), |r| {
            !(keep_rootfs && matches!(r, Resource::Rootfs { .. }))
        });
        // A member of a pod leaves it: the last one out releases the pod's namespaces.
        if let Some(Err(e)) = self.pod_network_teardown(c) {
            errors.push(e);
        }
        c.state.netns.clear();
        c.state.network_status.clear();
        c.state.ports.clear();
        c.state.mounted = keep_rootfs;
        if errors.is_empty() {
            let _ = std::fs::remove_dir_all(self.paths.persist_dir(c.id()));
            let _ = std::fs::remove_dir_all(self.paths.container_run_dir(c.id()));
        }
        errors
    }

    /// Exec sessions end with the container: forget them and remove their directories.
    pub(super) fn remove_exec_dirs(&self, c: &mut Container) {
        c.state.exec_sessions.clear();
        let Ok(entries) = std::fs::read_dir(self.paths.bundle(c.id())) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.len() == 64
                && name.bytes().all(|b| b.is_ascii_hexdigit())
                && e.file_type().is_ok_and(|t| t.is_dir())
            {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }

    /// The monitor's exit command: clean up a container that stopped, and remove it if it
    /// was run with `--rm`. With `stopped_only`, do nothing unless it really stopped.
    /// A member of a pod whose exit policy is `stop` stops the pod when it was the last
    /// one running (as Podman's cleanup does).
    pub fn cleanup(&self, reference: &str, stopped_only: bool, remove: bool) -> Result<()> {
        if stopped_only
            && remove
            && let Ok(c) = self.db.lookup_container(reference)
        {
            self.wait_for_remover(c.id());
        }
        let pod = self
            .db
            .lookup_container(reference)
            .ok()
            .map(|c| (c.config.pod, c.config.is_infra))
            .filter(|(p, _)| !p.is_empty());
        self.cleanup_one(reference, stopped_only, remove)?;
        if let Some((pod, is_infra)) = pod {
            if !is_infra {
                self.apply_pod_exit_policy(&pod)?;
            }
            // A played pod's service container stops with the last of its pods.
            self.stop_service_if_done(&pod)?;
        }
        // The container is released (its lock too): the next command opens a short log.
        if let Err(e) = self.db.checkpoint() {
            tracing::debug!(error = %e, "checkpointing the database");
        }
        Ok(())
    }

    pub(super) fn cleanup_one(
        &self,
        reference: &str,
        stopped_only: bool,
        remove: bool,
    ) -> Result<()> {
        let found = match self.db.lookup_container(reference) {
            Ok(c) => c,
            // Already removed (e.g. by `run --rm` in the foreground): nothing to do.
            Err(Error::NoSuchContainer(_)) if remove => return Ok(()),
            Err(e) => return Err(e),
        };
        let _lock = self.lock(found.id())?;
        let mut c = match self.container_locked(found.id()) {
            Ok(c) => c,
            Err(Error::NoSuchContainer(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        match c.state.status {
            Status::Running | Status::Paused => {
                return Err(bad_state(&c, "cannot clean up a running container"));
            }
            Status::Stopped => {
                self.cleanup_locked(&mut c)?;
                // Podman's handleRestartPolicy: a restarted container is not removed.
                if self.handle_restart_policy(&mut c)? {
                    return Ok(());
                }
            }
            Status::Created | Status::Exited if stopped_only && !remove => return Ok(()),
            _ => {
                if !stopped_only {
                    self.cleanup_locked(&mut c)?;
                }
            }
        }
        if remove {
            self.remove_locked(&mut c, &_lock)?;
            // `run --rm` removes the container's anonymous volumes, as Podman does.
            self.remove_anonymous_volumes(&c)?;
        }
        Ok(())
    }

    pub fn kill(&self, reference: &str, signal: i32) -> Result<Container> {
        let found = self.db.lookup_container(reference)?;
        let _lock = self.lock(found.id())?;
        let c = self.container_locked(found.id())?;
        if !matches!(
            c.state.status,
            Status::Running | Status::Paused | Status::Stopping
        ) {
            return Err(Error::BadState {
                id: c.id().to_string(),
                state: c.state.status.to_string(),
                what: format!(
                    "can only kill running containers. {} is in state {}: container state improper",
                    c.id(),
                    c.state.status
                ),
            });
        }
        self.runtime()?.kill(c.id(), signal, false)?;
        // As libpod's Kill: a container killed through the engine is stopped by the user,
        // so its restart policy does not bring it back.
        let mut c = c;
        c.state.stopped_by_user = true;
        self.save(&c)?;
        self.emit_container(&c, "kill");
        Ok(c)
    }

    pub fn restart(&self, reference: &str, timeout: Option<u32>) -> Result<Container> {
        let c = self.stop(reference, timeout)?;
        let c = self.start(c.id(), false)?.container;
        self.emit_container(&c, "restart");
        Ok(c)
    }

    /// Wait until the container is not running; its exit code.
    pub fn wait(&self, reference: &str) -> Result<i32> {
        let id = match self.db.lookup_container(reference) {
            Ok(c) => c.config.id,
            // Removed already (`run --rm`): its exit code is kept a while, by full id.
            Err(Error::NoSuchContainer(_)) => match self.db.kept_exit_code(reference)? {
                Some((code, _)) => return Ok(code),
                None => return Err(Error::NoSuchContainer(reference.to_string())),
            },
            Err(e) => return Err(e),
        };
        let mut sleep = Duration::from_millis(5);
        loop {
            let c = match self.container(&id) {
                Ok(c) => c,
                Err(Error::NoSuchContainer(_)) => {
                    // Removed while we waited (`run --rm`): its exit code was kept a while.
                    if let Some((code, _)) = self.db.kept_exit_code(&id)? {
                        return Ok(code);
                    }
                    return Err(Error::NoSuchContainer(reference.to_string()));
                }
                Err(e) => return Err(e),
            };
            if !c.state.status.is_active() {
                return Ok(c.state.exit_code);
            }
            std::thread::sleep(sleep);
            sleep = (sleep * 2).min(Duration::from_millis(100));
        }
    }

    /// After an attached run: the exit code once the monitor has written it.
    pub fn wait_exit_code(&self, c: &Container) -> Result<i32> {
        match self.wait_for_exit(c, None) {
            Some(e) => Ok(e.code),
            None => Err(Error::other("timed out waiting for the container to exit")),
        }
    }
}

pub(crate) fn bad_state(c: &Container, what: &str) -> Error {
    Error::BadState {
        id: c.id().to_string(),
        state: c.state.status.to_string(),
        what: format!("container {} is {}: {what}", c.id(), c.state.status),
    }
}
