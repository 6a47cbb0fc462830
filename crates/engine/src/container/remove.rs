//! `rm`: stop if forced, clean up, and delete every trace of the container.

use super::{Container, Status};
use crate::Engine;
use crate::error::{Error, Result};
use crate::state::lock::Lock;

#[derive(Debug, Clone, Default)]
pub struct RemoveOptions {
    pub force: bool,
    pub volumes: bool,
    /// `-t`: seconds before SIGKILL when a running container is removed with force.
    pub timeout: Option<u32>,
}

impl Engine {
    pub fn remove(&self, reference: &str, opts: &RemoveOptions) -> Result<String> {
        self.remove_container(reference, opts, false)
    }

    /// `remove`; a pod's infra container only goes with its pod (`infra_too`).
    pub(crate) fn remove_container(
        &self,
        reference: &str,
        opts: &RemoveOptions,
        infra_too: bool,
    ) -> Result<String> {
        let found = self.db.lookup_container(reference)?;
        let lock = self.lock(found.id())?;
        let mut c = match self.db.container(found.id())? {
            Some(c) => c,
            None => return Err(Error::NoSuchContainer(reference.to_string())),
        };
        self.reconcile(&mut c)?;
        if c.config.is_infra && !infra_too {
            return Err(Error::invalid(format!(
                "container {} is the infra container of pod {} and cannot be removed without removing the pod",
                c.id(),
                c.config.pod
            )));
        }
        if matches!(
            c.state.status,
            Status::Running | Status::Paused | Status::Initialized | Status::Stopping
        ) {
            if !opts.force {
                return Err(Error::BadState {
                    id: c.id().to_string(),
                    state: c.state.status.to_string(),
                    what: format!(
                        "cannot remove container {} as it is {} - running or paused containers cannot be removed without force: container state improper",
                        c.id(),
                        c.state.status
                    ),
                });
            }
            if c.state.status == Status::Paused {
                let _ = self.runtime()?.resume(c.id());
            }
            let timeout = opts.timeout.unwrap_or(c.config.stop_timeout);
            self.stop_locked(&mut c, timeout)?;
        }
        self.remove_locked(&mut c, &lock)?;
        if opts.volumes {
            self.remove_anonymous_volumes(&c)?;
        }
        Ok(c.id().to_string())
    }

    fn prune_exit_files(&self, keep: &str) {
        let Ok(entries) = std::fs::read_dir(self.paths.exit_dir()) else {
            return;
        };
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(300);
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name == keep
                || !e
                    .metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t < old)
            {
                continue;
            }
            if matches!(self.db.container(&name), Ok(None)) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }

    /// Delete a stopped container: runtime state, mount, directories, row, lock file.
    /// Keeps going past failures and reports them all.
    pub(crate) fn remove_locked(&self, c: &mut Container, lock: &Lock) -> Result<()> {
        c.state.status = Status::Removing;
        // A removed container's rootfs goes whoever mounted it.
        c.state.user_mounts = 0;
        let _ = self.db.update_state(c.id(), &c.state);
        let mut errors = self.release_held(c);
        let dir = self.paths.container_dir(c.id());
        if let Err(e) = std::fs::remove_dir_all(&dir)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            errors.push(Error::io("removing", dir, e));
        }
        // This container's exit file stays a while for a foreground `run --rm` racing the
        // monitor's exit command (Podman keeps exit codes of removed containers for five
        // minutes too); older ones of removed containers go now.
        self.prune_exit_files(c.id());
        if errors.is_empty() {
            self.db.delete_container(c.id())?;
            lock.remove_file();
        }
        Error::collect(errors)
    }
}
