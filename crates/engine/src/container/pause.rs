//! `pause` and `unpause`: the runtime freezes or thaws the container's cgroup (the
//! freezer), and the state moves between `running` and `paused` under the lock.

use super::{Container, Status};
use crate::Engine;
use crate::error::{Error, Result};

/// Podman's name for a state in its messages (`created` for both of ours).
pub(crate) fn podman_state(s: Status) -> &'static str {
    match s {
        Status::Created | Status::Initialized => "created",
        s => s.as_str(),
    }
}

impl Engine {
    /// Freeze a running container. Podman's errors: `"<id>" is already paused` or
    /// `"<state>" is not running, can't pause` (libpod prints the state there, not the id).
    pub fn pause(&self, reference: &str) -> Result<Container> {
        let found = self.db.lookup_container(reference)?;
        let _lock = self.lock(found.id())?;
        let mut c = self.container(found.id())?;
        if super::create::rootless_without_cgroups() {
            // Podman's words: the freezer needs a cgroup of the container's own.
            return Err(Error::Other(
                "can not pause containers on rootless containers with cgroup V1: this container does not have a cgroup".into(),
            ));
        }
        match c.state.status {
            Status::Running => {}
            Status::Paused => {
                return Err(Error::Other(format!(
                    "\"{}\" is already paused: container state improper",
                    c.id()
                )));
            }
            s => {
                return Err(Error::Other(format!(
                    "\"{}\" is not running, can't pause: container state improper",
                    podman_state(s)
                )));
            }
        }
        self.runtime()?.pause(c.id())?;
        c.state.status = Status::Paused;
        self.db.update_state(c.id(), &c.state)?;
        self.emit_container(&c, "pause");
        Ok(c)
    }

    /// Thaw a paused container.
    pub fn unpause(&self, reference: &str) -> Result<Container> {
        let found = self.db.lookup_container(reference)?;
        let _lock = self.lock(found.id())?;
        let mut c = self.container(found.id())?;
        if c.state.status != Status::Paused {
            return Err(Error::Other(format!(
                "\"{}\" is not paused, can't unpause: container state improper",
                c.id()
            )));
        }
        self.runtime()?.resume(c.id())?;
        c.state.status = Status::Running;
        self.db.update_state(c.id(), &c.state)?;
        self.emit_container(&c, "unpause");
        Ok(c)
    }
}
