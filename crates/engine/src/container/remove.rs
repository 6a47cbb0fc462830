//! `rm`: stop if forced, clean up, and delete every trace of the container.

use super::{Container, Status};
use crate::Engine;
use crate::error::{Error, Result};
use crate::state::lock::Lock;

/// How long the exit code of a removed container stays readable.
const KEEP_EXIT_CODES: chrono::Duration = chrono::Duration::minutes(5);

#[derive(Debug, Clone, Default)]
pub struct RemoveOptions {
    pub force: bool,
    pub volumes: bool,
    /// `-t`: seconds before SIGKILL when a running container is removed with force.
    pub timeout: Option<u32>,
}

impl Engine {
    /// `rename CTR NAME`: the new name is checked as `--name` is; an infra container keeps
    /// its name (its pod refers to it), as Podman's. A running container's DNS names on its
    /// networks change at its next start.
    pub fn rename_container(&self, reference: &str, name: &str) -> Result<String> {
        if !crate::names::valid_name(name) {
            return Err(Error::invalid(format!(
                "invalid name \"{name}\": names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument"
            )));
        }
        let found = self.db.lookup_container(reference)?;
        let _lock = self.lock(found.id())?;
        let c = self.container(found.id())?;
        if c.config.is_infra {
            return Err(Error::invalid(format!(
                "cannot rename infra container {}: infra containers cannot be renamed",
                c.id()
            )));
        }
        self.db.rename_container(&c, name)?;
        let mut renamed = c;
        renamed.config.name = name.to_string();
        self.emit_container(&renamed, "rename");
        Ok(renamed.id().to_string())
    }

    pub fn remove(&self, reference: &str, opts: &RemoveOptions) -> Result<String> {
        self.remove_container(reference, opts, false)
    }

    /// `rm --depend`: the containers that depend on this one (share its network
    /// namespace), theirs in turn, then the container itself; every id removed, dependents
    /// first. A dependent removed by someone else meanwhile is no failure.
    /// A pod's infra container takes its pod with it, every member reported (Podman's
    /// `RemoveDepend`).
    pub fn remove_depend(&self, reference: &str, opts: &RemoveOptions) -> Result<Vec<String>> {
        let c = self.db.lookup_container(reference)?;
        if c.config.is_infra && !c.config.pod.is_empty() {
            let members: Vec<String> = self
                .pod_containers(&c.config.pod)?
                .into_iter()
                .map(|m| m.config.id)
                .collect();
            self.remove_pod(&c.config.pod, opts.force, opts.timeout)?;
            return Ok(members);
        }
        let mut removed = Vec::new();
        for dep in self.dependents(c.id())? {
            match self.remove_depend(&dep, opts) {
                Ok(ids) => removed.extend(ids),
                Err(Error::NoSuchContainer(_)) => {}
                Err(e) => return Err(e),
            }
        }
        removed.push(self.remove_container(c.id(), opts, false)?);
        Ok(removed)
    }

    /// The containers that need `id` to run: those that join its network namespace or
    /// name it with `--requires`.
    fn dependents(&self, id: &str) -> Result<Vec<String>> {
        let mode = format!("container:{id}");
        Ok(self
            .db
            .containers()?
            .into_iter()
            .filter(|c| c.config.network_mode == mode || c.config.requires.iter().any(|r| r == id))
            .map(|c| c.config.id)
            .collect())
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
        let mut c = match self.container_locked(found.id()) {
            Ok(c) => c,
            Err(Error::NoSuchContainer(_)) => {
                return Err(Error::NoSuchContainer(reference.to_string()));
            }
            Err(e) => return Err(e),
        };
        if c.config.is_infra && !infra_too {
            return Err(Error::invalid(format!(
                "container {} is the infra container of pod {} and cannot be removed without removing the pod",
                c.id(),
                c.config.pod
            )));
        }
        if c.config.is_service {
            self.refuse_service_removal(&c)?;
        }
        // libpod's RemoveStorageContainer: a mounted external container needs force.
        if c.config.external
            && !opts.force
            && (c.state.mounted || c.state.user_mounts > 0 || c.state.status == Status::Running)
        {
            return Err(Error::BadState {
                id: c.id().to_string(),
                state: "storage".into(),
                what: format!(
                    "container {reference:?} is mounted and cannot be removed without using force: container state improper"
                ),
            });
        }
        if !infra_too {
            let deps = self.dependents(c.id())?;
            if !deps.is_empty() {
                return Err(Error::invalid(format!(
                    "container {} has dependent containers which must be removed before it: {}: container already exists",
                    c.id(),
                    deps.join(",")
                )));
            }
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
            self.emit_container(&c, "stop");
        }
        self.remove_locked(&mut c, &lock)?;
        if opts.volumes {
            self.remove_anonymous_volumes(&c)?;
        }
        Ok(c.id().to_string())
    }

    /// Delete a stopped container: what it holds, its directories, row and lock file. Keeps
    /// going past failures and reports them all; while anything could not be released the
    /// row stays (status "removing") with its ledger, so `rm -f` again finishes the job.
    pub(crate) fn remove_locked(&self, c: &mut Container, lock: &Lock) -> Result<()> {
        c.state.status = Status::Removing;
        // A removed container's rootfs goes whoever mounted it.
        c.state.user_mounts = 0;
        let _ = self.db.update_state(c.id(), &c.state);
        let mut errors = self.release_held(c);
        let dir = self.paths.container_dir(c.id());
        // Never through a rootfs that is still mounted.
        if errors.is_empty()
            && let Err(e) = std::fs::remove_dir_all(&dir)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            errors.push(Error::io("removing", dir, e));
        }
        if errors.is_empty() {
            // A foreground `run --rm` may still be waiting for the exit code while the
            // monitor's `cleanup --rm` removes the container: the code is kept in the database
            // a while (Podman keeps them five minutes too), and the exit file goes now.
            if let Some(at) = c.state.finished_at {
                self.db
                    .keep_exit_code(c.id(), c.state.exit_code, at, KEEP_EXIT_CODES)?;
            }
            let _ = std::fs::remove_file(self.paths.exit_file(c.id()));
            self.db.delete_container(c.id())?;
            lock.remove_file();
            self.emit_container(c, "remove");
        }
        Error::collect(errors)
    }
}
