//! `network reload`: a running container's networks set up again with the addresses, MACs
//! and interface names it has, so that firewall rules removed behind peapod's back (a
//! firewall reload, a flush) come back. Podman's `reloadContainerNetwork`.

use crate::Engine;
use crate::container::Status;
use crate::error::{Error, Result};

impl Engine {
    /// Reloads one container's networks; its id.
    pub fn network_reload(&self, reference: &str) -> Result<String> {
        let found = self.db.lookup_container(reference)?;
        let _lock = self.lock(found.id())?;
        let mut c = self.container(found.id())?;
        if !matches!(c.state.status, Status::Created | Status::Running) {
            return Err(Error::BadState {
                id: c.id().to_string(),
                state: c.state.status.to_string(),
                what: "cannot reload network unless container network has been configured: container state improper".into(),
            });
        }
        if c.state.netns.is_empty() {
            return Err(Error::BadState {
                id: c.id().to_string(),
                state: c.state.status.to_string(),
                what: format!(
                    "container {} network is not configured, refusing to reload: container state improper",
                    c.id()
                ),
            });
        }
        if c.config.network_mode != "bridge" || c.config.networks.is_empty() {
            return Err(Error::invalid(format!(
                "{:?} is not supported: invalid network mode",
                c.config.network_mode
            )));
        }
        let mut opts = self.network_options(&c)?;
        // The same interface, MAC and addresses as before.
        for (name, per) in opts.networks.iter_mut() {
            let Some((ifname, iface)) = c
                .state
                .network_status
                .get(name)
                .and_then(|s| s.interfaces.as_ref())
                .and_then(|i| i.iter().next())
            else {
                continue;
            };
            per.interface_name = ifname.clone();
            per.static_mac = Some(iface.mac_address.clone());
        }
        // Rules that are gone make teardown complain: what matters is the setup after it.
        if let Err(e) = self.run_netsetup("teardown", &c.state.netns, &opts) {
            tracing::info!(container = %c.id(), error = %e, "network reload: teardown");
        }
        let status = self.netsetup_setup(&c.state.netns, &opts)?;
        c.state.network_status.extend(status);
        self.db.update_state(c.id(), &c.state)?;
        Ok(c.id().to_string())
    }
}
