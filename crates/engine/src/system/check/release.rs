//! Releasing what `system check --repair` found: each orphan by its kind, and the files of
//! a container the database no longer has.

use std::path::Path;

use peapod_netsetup::types::{NetworkOptions, PerNetworkOptions};

use super::Orphan;
use crate::Engine;
use crate::error::{Error, Result};
use crate::network::netns;
use crate::state::Holder;

impl Engine {
    pub(super) fn release_orphan(&self, o: &Orphan) -> Result<()> {
        match o {
            Orphan::Ledger(h, _) => {
                Error::collect(self.release_all(h))?;
                // What it held is released: its directories go with it.
                match h {
                    Holder::Container(id) => self.remove_container_files(id),
                    Holder::Pod(id) => remove_pod_dir(&self.pod_dir(id)),
                }
            }
            Orphan::Pin(p) => netns::remove(p),
            Orphan::PodDir(d) => remove_pod_dir(d),
            Orphan::Mount(p) => Ok(crate::layer::unmount(p)?),
            Orphan::Lease(l, _) => {
                l.remove();
                Ok(())
            }
            Orphan::Rules { id, network } => {
                let options = NetworkOptions {
                    container_id: id.clone(),
                    container_name: String::new(),
                    container_hostname: None,
                    networks: [(
                        network.name.clone(),
                        PerNetworkOptions {
                            aliases: None,
                            interface_name: "eth0".into(),
                            static_ips: None,
                            static_mac: None,
                            options: None,
                        },
                    )]
                    .into(),
                    network_info: [(network.name.clone(), (**network).clone())].into(),
                    port_mappings: None,
                    dns_servers: None,
                };
                // No namespace: the helper cleans the host side (rules, DNS records) only.
                let netns = self.paths.netns_dir().join(format!("gone-{id}"));
                self.run_netsetup("teardown", &netns.display().to_string(), &options)
                    .map(drop)
            }
            Orphan::Runtime(id) => {
                let rt = self.runtime()?;
                rt.delete(id)?;
                rt.remove_half_made(id)?;
                // Its monitor would write an exit file nobody reads and run an exit command
                // for a container that is gone.
                let pidfile = self.paths.container_run_dir(id).join("conmon.pid");
                crate::ledger::stop_monitor(id, &pidfile)?;
                let _ = std::fs::remove_file(self.paths.exit_file(id));
                Ok(())
            }
            Orphan::Cgroup(p) => crate::container::cgroup::remove(p),
            Orphan::ContainerFiles(id) => self.remove_container_files(id),
            Orphan::ExitFile(p) => match std::fs::remove_file(p) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(Error::io("removing", p, e)),
            },
        }
    }

    /// The directories (and lock file) of a container that is not in the database. Never
    /// through a mount: those are released first, and one left is an error.
    fn remove_container_files(&self, id: &str) -> Result<()> {
        let dir = self.paths.container_dir(id);
        if let Some(m) = super::mounts_under(&dir).first() {
            return Err(Error::other(format!("{} is still mounted", m.display())));
        }
        for d in [
            dir,
            self.paths.container_run_dir(id),
            self.paths.persist_dir(id),
        ] {
            remove_dir(&d)?;
        }
        let _ = std::fs::remove_file(self.paths.locks().join(id));
        let _ = std::fs::remove_file(self.paths.exit_file(id));
        Ok(())
    }
}

/// The run directory of a pod that is gone, with whatever pin is left in it.
fn remove_pod_dir(d: &Path) -> Result<()> {
    for f in std::fs::read_dir(d.join("ns"))
        .into_iter()
        .flatten()
        .flatten()
    {
        netns::remove(&f.path())?;
    }
    remove_dir(d)
}

fn remove_dir(d: &Path) -> Result<()> {
    match std::fs::remove_dir_all(d) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("removing", d, e)),
    }
}
