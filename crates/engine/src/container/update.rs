//! `update`: a container's resource limits changed, live when it runs (the runtime's
//! `update` writes its cgroup), and kept for its next starts.

use super::Status;
use super::resources::{self, ResourceFlags};
use crate::Engine;
use crate::error::{Error, IoContext, Result};

impl Engine {
    /// Applies `flags` over the container's limits; its id.
    pub fn update_container(&self, reference: &str, flags: &ResourceFlags) -> Result<String> {
        if flags.is_empty() {
            return Err(Error::invalid("no resources given to update"));
        }
        let found = self.db.lookup_container(reference)?;
        let _lock = self.lock(found.id())?;
        let mut c = self.container(found.id())?;
        let updated = resources::merge(&c.config.resources, flags)?;
        if matches!(
            c.state.status,
            Status::Running | Status::Paused | Status::Initialized | Status::Stopping
        ) {
            let oci = updated.to_oci(resources::swap_supported())?;
            let dir = self.paths.container_run_dir(c.id());
            std::fs::create_dir_all(&dir).ctx("creating", &dir)?;
            let file = dir.join("update-resources.json");
            let json = serde_json::to_vec(&oci).map_err(|e| Error::other(e.to_string()))?;
            std::fs::write(&file, json).ctx("writing", &file)?;
            let applied = self.runtime()?.update(c.id(), &file);
            let _ = std::fs::remove_file(&file);
            applied?;
        }
        c.config.resources = updated;
        self.db.update_config(c.id(), &c.config)?;
        Ok(c.id().to_string())
    }
}
