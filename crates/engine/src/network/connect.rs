//! `network connect` and `network disconnect`: change a container's networks, live if it
//! runs (the helper sets up or tears down just that network in its namespace, and the hosts
//! and resolv.conf files are rewritten in place).

use crate::Engine;
use crate::container::{Container, NetworkAttach};
use crate::error::{Error, Result};
use crate::state::{Holder, Resource};

impl Engine {
    pub fn network_connect(
        &self,
        net_ref: &str,
        ctr_ref: &str,
        mut attach: NetworkAttach,
    ) -> Result<()> {
        let net = self.network(net_ref)?;
        let found = self.db.lookup_container(ctr_ref)?;
        let _lock = self.lock(found.id())?;
        let mut c = self.container(found.id())?;
        refuse_pod_member(&c)?;
        if c.config.network_mode != "bridge" {
            return Err(Error::invalid(format!(
                "container {} uses --network {}: only containers on bridge networks can be connected to another",
                c.name(),
                c.config.network_mode
            )));
        }
        if c.config.networks.contains_key(&net.name) {
            return Err(Error::invalid(format!(
                "container {} is already connected to network {}: network is already connected",
                c.id(),
                net.name
            )));
        }
        if let Some(m) = &attach.static_mac {
            attach.static_mac = Some(super::attach::parse_mac(m)?);
        }
        for ip in &attach.static_ips {
            if !net.subnets().iter().any(|s| s.subnet.contains(ip)) {
                return Err(Error::invalid(format!(
                    "requested static ip {ip} not in any subnet on network {}",
                    net.name
                )));
            }
        }
        attach.interface_name = (0..)
            .map(|i| format!("eth{i}"))
            .find(|n| !c.config.networks.values().any(|a| &a.interface_name == n))
            .expect("a free interface name");
        c.config.networks.insert(net.name.clone(), attach);
        if !c.state.netns.is_empty() && c.state.status.is_active() {
            if let Err(e) = self.connect_live(&mut c, &net.name) {
                c.config.networks.remove(&net.name);
                return Err(e);
            }
            self.db.update_state(c.id(), &c.state)?;
            self.rewrite_name_files(&c)?;
        }
        self.db.update_config(c.id(), &c.config)?;
        self.emit_network("connect", c.id(), c.name(), &net.name);
        Ok(())
    }

    /// Lease and set up one more network, each piece held in the ledger; on a failure what
    /// this network got is released.
    fn connect_live(&self, c: &mut Container, name: &str) -> Result<()> {
        let holder = Holder::container(c.id());
        let owner = self.lease_owner(&holder);
        let mut opts = self.network_options_for(c, Some(name))?;
        with_ports(&mut opts, c);
        self.claim_networks(opts.network_info.values())?;
        let subnets: Vec<ipnet::IpNet> = opts.network_info[name]
            .subnets()
            .iter()
            .map(|s| s.subnet)
            .collect();
        let result = (|| {
            let per = opts.networks.get_mut(name).expect("the network just added");
            let net = &opts.network_info[name];
            let wanted = per.static_ips.clone().unwrap_or_default();
            let leased = self.lease_network(net, &wanted, &holder, &owner)?;
            per.static_ips = Some(leased.iter().map(|(_, ip)| *ip).collect());
            let setup = Resource::Network {
                netns: c.state.netns.clone(),
                options: Box::new(opts.clone()),
            };
            self.hold(&holder, setup, |_| {
                self.netsetup_setup(&c.state.netns, &opts)
            })
        })();
        match result {
            Ok(status) => {
                c.state.network_status.extend(status);
                Ok(())
            }
            Err(e) => {
                let _ = self.release_where(&holder, |r| on_network(r, name, &subnets));
                Err(e)
            }
        }
    }

    pub fn network_disconnect(&self, net_ref: &str, ctr_ref: &str) -> Result<()> {
        let net = self.network(net_ref)?;
        let found = self.db.lookup_container(ctr_ref)?;
        let _lock = self.lock(found.id())?;
        let mut c = self.container(found.id())?;
        refuse_pod_member(&c)?;
        if !c.config.networks.contains_key(&net.name) {
            return Err(Error::invalid(format!(
                "container {} is not connected to network {}",
                c.id(),
                net.name
            )));
        }
        if !c.state.netns.is_empty() && c.state.network_status.contains_key(&net.name) {
            let mut opts = self.network_options_for(&c, Some(&net.name))?;
            with_ports(&mut opts, &c);
            self.run_netsetup("teardown", &c.state.netns, &opts)?;
            c.state.network_status.remove(&net.name);
            // Its leases, and its own setup row if `connect` made one (torn down just now;
            // releasing it again is harmless).
            let subnets: Vec<ipnet::IpNet> = net.subnets().iter().map(|s| s.subnet).collect();
            let holder = Holder::container(c.id());
            Error::collect(self.release_where(&holder, |r| on_network(r, &net.name, &subnets)))?;
            self.db.update_state(c.id(), &c.state)?;
            self.rewrite_name_files(&c)?;
        }
        c.config.networks.remove(&net.name);
        self.db.update_config(c.id(), &c.config)?;
        self.emit_network("disconnect", c.id(), c.name(), &net.name);
        Ok(())
    }

    /// Rewrite hosts and resolv.conf in place: they are bind-mounted, so the inode stays.
    fn rewrite_name_files(&self, c: &Container) -> Result<()> {
        let run_dir = self.paths.container_run_dir(c.id());
        let host_hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        for (file, text) in [
            ("hosts", super::files::hosts(c, &host_hosts)),
            ("resolv.conf", super::files::resolv_conf(c, &host_resolv)),
        ] {
            let path = run_dir.join(file);
            std::fs::write(&path, text).map_err(|e| Error::io("writing", &path, e))?;
        }
        Ok(())
    }
}

/// The container's published ports go with a network it joins or leaves, as Podman sends
/// them: the helper forwards them to its address there too, so they keep working when the
/// first network is disconnected (and netavark needs them to remove its rules).
fn with_ports(opts: &mut peapod_netsetup::types::NetworkOptions, c: &Container) {
    opts.port_mappings = (!c.state.ports.is_empty()).then(|| c.state.ports.clone());
}

/// A resource of network `name` alone: an address in one of its subnets, or a setup of it
/// alone (a setup of several networks goes with the container).
fn on_network(r: &Resource, name: &str, subnets: &[ipnet::IpNet]) -> bool {
    match r {
        Resource::Address { subnet, .. } => subnets.contains(subnet),
        Resource::Network { options, .. } => {
            options.networks.len() == 1 && options.networks.contains_key(name)
        }
        _ => false,
    }
}

/// A pod's members share its network namespace: its networks are the pod's, chosen at
/// `pod create`; changing one member's would change them all behind the pod's back.
fn refuse_pod_member(c: &Container) -> Result<()> {
    if c.config.pod.is_empty() {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "container {} is in pod {}: a pod's networks are set at `pod create`",
        c.name(),
        &c.config.pod[..12.min(c.config.pod.len())]
    )))
}
