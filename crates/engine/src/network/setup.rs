//! Setting a container's networks up and down: lease addresses and host ports, pin a network
//! namespace, and have the network helper (peapod-netsetup, or netavark itself) do the kernel
//! work with netavark's command line and JSON.

use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use peapod_netsetup::types::{
    ErrorOutput, NetworkOptions, PerNetworkOptions, PortMapping, SetupOutput, StatusBlock,
};

use super::ipam::{self, Owner};
use super::netns;
use crate::Engine;
use crate::container::Container;
use crate::error::{Error, Result};
use crate::oci::spec::NetNs;

impl Engine {
    /// The network helper: `--network-cmd`, else peapod-netsetup next to us.
    pub fn netsetup_path(&self) -> Result<PathBuf> {
        match &self.options().netsetup {
            Some(p) => Ok(p.clone()),
            None => {
                crate::config::find_helper(self.options().self_exe.as_deref(), "peapod-netsetup")
            }
        }
    }

    pub(super) fn owner(&self, c: &Container) -> Owner {
        Owner {
            run_dir: self.paths.container_run_dir(c.id()),
            id: c.id().to_string(),
        }
    }

    /// Give the container its network namespace; for bridge networks, set them up.
    pub(crate) fn network_setup(&self, c: &mut Container) -> Result<NetNs> {
        if let Some(ns) = self.pod_network_setup(c)? {
            return Ok(ns);
        }
        let mode = c.config.network_mode.clone();
        if mode == "host" {
            return Ok(NetNs::Host);
        }
        if let Some(path) = mode.strip_prefix("ns:") {
            if !std::path::Path::new(path).exists() {
                return Err(Error::invalid(format!(
                    "network namespace {path} does not exist"
                )));
            }
            return Ok(NetNs::Path(path.into()));
        }
        if let Some(other) = mode.strip_prefix("container:") {
            let o = self.container(other)?;
            if !o.state.status.is_active() || o.state.pid <= 0 {
                return Err(Error::invalid(format!(
                    "container {other} is not running: cannot join its network namespace"
                )));
            }
            return Ok(NetNs::Path(if o.state.netns.is_empty() {
                format!("/proc/{}/ns/net", o.state.pid).into()
            } else {
                o.state.netns.clone().into()
            }));
        }
        if mode != "bridge" || c.config.networks.is_empty() {
            return Ok(NetNs::Private);
        }
        let path = self.paths.netns_dir().join(format!("netns-{}", c.id()));
        netns::create(&path)?;
        c.state.netns = path.display().to_string();
        let owner = self.owner(c);
        match self.network_setup_inner(c, &owner) {
            Ok(()) => Ok(NetNs::Path(path)),
            Err(e) => {
                let _ = self.network_teardown(c);
                Err(e)
            }
        }
    }

    /// Ports, addresses and the helper's setup in the namespace at `c.state.netns`, leased
    /// to `owner` (the container, or its pod).
    pub(crate) fn network_setup_inner(&self, c: &mut Container, owner: &Owner) -> Result<()> {
        let owner = owner.clone();
        // Ports first: a port in use is the likeliest failure, and it must come before
        // anything else happens.
        // Each reserved port is recorded at once so a failure further on releases it.
        c.state.ports.clear();
        for p in c.config.ports.clone() {
            c.state.ports.push(reserve_port(&p, &owner)?);
        }
        let mut opts = self.network_options(c)?;
        // The bridges and subnets are this store's on the whole machine (see machine.rs).
        self.claim_networks(opts.network_info.values())?;
        // Addresses: the static ones asked for, or the first free ones.
        for (name, per) in opts.networks.iter_mut() {
            let net = &opts.network_info[name];
            let wanted = per.static_ips.clone().unwrap_or_default();
            let leases = ipam::allocate_network(net, &wanted, &owner)?;
            for (subnet, ip) in &leases {
                // Recorded at once so a failure further on releases it.
                record_lease(&mut c.state.network_status, name, *ip, subnet);
            }
            per.static_ips = Some(leases.into_iter().map(|(_, ip)| ip).collect());
        }
        c.state.network_status = self.netsetup_setup(&c.state.netns, &opts)?;
        Ok(())
    }

    /// The options JSON netavark reads, from the container's config and leases.
    fn network_options(&self, c: &Container) -> Result<NetworkOptions> {
        self.network_options_for(c, None)
    }

    /// The same for one network only (connect/disconnect), without the port mappings.
    pub(super) fn network_options_for(
        &self,
        c: &Container,
        only: Option<&str>,
    ) -> Result<NetworkOptions> {
        let mut networks = HashMap::new();
        let mut network_info = HashMap::new();
        for (name, attach) in &c.config.networks {
            if only.is_some_and(|o| o != name) {
                continue;
            }
            let net = self.network(name)?;
            let mut aliases = attach.aliases.clone();
            // Podman makes every container reachable by its short id too.
            aliases.push(c.id()[..12].to_string());
            let leased: Vec<IpAddr> = c
                .state
                .network_status
                .get(name)
                .into_iter()
                .flat_map(super::status_addresses)
                .map(|s| s.ipnet.addr())
                .collect();
            networks.insert(
                name.clone(),
                PerNetworkOptions {
                    aliases: Some(aliases),
                    interface_name: attach.interface_name.clone(),
                    static_ips: Some(if leased.is_empty() {
                        attach.static_ips.clone()
                    } else {
                        leased
                    }),
                    static_mac: attach.static_mac.clone(),
                    options: None,
                },
            );
            network_info.insert(name.clone(), net);
        }
        Ok(NetworkOptions {
            container_id: c.id().to_string(),
            container_name: c.config.name.clone(),
            container_hostname: Some(c.config.hostname.clone()),
            networks,
            network_info,
            port_mappings: (only.is_none() && !c.state.ports.is_empty())
                .then(|| c.state.ports.clone()),
            dns_servers: (!c.config.names.dns_servers.is_empty())
                .then(|| c.config.names.dns_servers.clone()),
        })
    }

    /// The helper's `setup`: its status report, per network.
    pub(super) fn netsetup_setup(&self, netns: &str, opts: &NetworkOptions) -> Result<SetupOutput> {
        let out = self.run_netsetup("setup", netns, opts)?;
        serde_json::from_str(&out).map_err(|e| {
            Error::other(format!(
                "unexpected answer from the network helper ({e}): {out}"
            ))
        })
    }

    pub(super) fn run_netsetup(
        &self,
        command: &str,
        netns: &str,
        opts: &NetworkOptions,
    ) -> Result<String> {
        let bin = self.netsetup_path()?;
        let config = self.paths.network_run_dir();
        std::fs::create_dir_all(&config).map_err(|e| Error::io("creating", &config, e))?;
        let json = serde_json::to_vec(opts).map_err(|e| Error::other(e.to_string()))?;
        let mut child = Command::new(&bin)
            .arg("--config")
            .arg(&config)
            .arg("--rootless=false")
            .arg(command)
            .arg(netns)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::other(format!("running {}: {e}", bin.display())))?;
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(&json);
        }
        let out = child
            .wait_with_output()
            .map_err(|e| Error::other(format!("running {}: {e}", bin.display())))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let tool = bin
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !out.status.success() {
            let msg = serde_json::from_str::<ErrorOutput>(&stdout)
                .map(|e| e.error)
                .unwrap_or_else(|_| {
                    let err = String::from_utf8_lossy(&out.stderr);
                    format!("{} {}", stdout.trim(), err.trim())
                        .trim()
                        .to_string()
                });
            return Err(Error::other(format!("{tool}: {msg}")));
        }
        Ok(stdout)
    }

    /// Undo [`Engine::network_setup`]: the helper's teardown, leases, the namespace file.
    /// Keeps going after a failure and reports them all.
    pub(crate) fn network_teardown(&self, c: &mut Container) -> Result<()> {
        if let Some(done) = self.pod_network_teardown(c) {
            return done;
        }
        let owner = self.owner(c);
        self.network_teardown_owned(c, &owner)
    }

    /// [`Engine::network_teardown`] of leases held by `owner` (the container, or its pod).
    pub(crate) fn network_teardown_owned(&self, c: &mut Container, owner: &Owner) -> Result<()> {
        let mut errors = Vec::new();
        let owner = owner.clone();
        if !c.state.netns.is_empty() {
            if !c.state.network_status.is_empty() {
                match self.network_options(c) {
                    Ok(opts) => {
                        if let Err(e) = self.run_netsetup("teardown", &c.state.netns, &opts) {
                            errors.push(e);
                        }
                    }
                    Err(e) => errors.push(e),
                }
            }
            for status in c.state.network_status.values() {
                ipam::release_status(status, &owner);
            }
            if let Err(e) = netns::remove(std::path::Path::new(&c.state.netns)) {
                errors.push(e);
            }
        }
        for p in &c.state.ports {
            let protos = super::ports::protocols(p);
            ipam::release_ports(&protos, &p.host_ip, p.host_port, p.range, &owner);
        }
        c.state.netns.clear();
        c.state.network_status.clear();
        c.state.ports.clear();
        Error::collect(errors)
    }
}

/// Remember a lease before the helper confirms it, in the shape it will report.
fn record_lease(
    status: &mut std::collections::BTreeMap<String, StatusBlock>,
    name: &str,
    ip: IpAddr,
    subnet: &peapod_netsetup::types::Subnet,
) {
    use peapod_netsetup::types::{NetAddress, NetInterface};
    let block = status.entry(name.to_string()).or_default();
    let ifaces = block.interfaces.get_or_insert_with(Default::default);
    let iface = ifaces
        .entry("pending".into())
        .or_insert_with(|| NetInterface {
            mac_address: String::new(),
            subnets: Some(Vec::new()),
        });
    iface.subnets.get_or_insert_with(Vec::new).push(NetAddress {
        ipnet: ipnet::IpNet::new(ip, subnet.subnet.prefix_len()).expect("prefix of its subnet"),
        gateway: subnet.gateway,
    });
}

/// Reserve a published port on this host: pick a free one for a host port of 0, make sure
/// nothing else listens there, and lease it so no other container publishes it too.
fn reserve_port(p: &PortMapping, owner: &Owner) -> Result<PortMapping> {
    let protos = super::ports::protocols(p);
    let range = p.range.max(1);
    let host_ip: IpAddr = if p.host_ip.is_empty() {
        IpAddr::from([0, 0, 0, 0])
    } else {
        p.host_ip
            .parse()
            .map_err(|_| Error::invalid(format!("invalid host ip {:?}", p.host_ip)))?
    };
    let mut out = p.clone();
    if p.host_port == 0 {
        // A free range: let the kernel pick the first port, then check the rest.
        for _ in 0..64 {
            let first = TcpListener::bind((host_ip, 0))
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .map_err(|e| Error::other(format!("finding a free port: {e}")))?;
            if u32::from(first) + u32::from(range) > 65536 {
                continue;
            }
            if (first..first + range).all(|port| bindable(&protos, host_ip, port).is_ok())
                && ipam::reserve_ports(&protos, &p.host_ip, first, range, owner).is_ok()
            {
                out.host_port = first;
                return Ok(out);
            }
        }
        return Err(Error::other(format!(
            "no free range of {range} host ports for container port {}",
            p.container_port
        )));
    }
    for port in p.host_port..p.host_port + range {
        bindable(&protos, host_ip, port)?;
    }
    ipam::reserve_ports(&protos, &p.host_ip, p.host_port, range, owner)?;
    Ok(out)
}

/// Could `p` be published now: nothing on the host listens on its ports and no container
/// publishes them? Checks without leasing anything (`kube play` checks every document first).
pub(crate) fn check_port_free(p: &PortMapping) -> Result<()> {
    let protos = super::ports::protocols(p);
    let host_ip: IpAddr = if p.host_ip.is_empty() {
        IpAddr::from([0, 0, 0, 0])
    } else {
        p.host_ip
            .parse()
            .map_err(|_| Error::invalid(format!("invalid host ip {:?}", p.host_ip)))?
    };
    for port in p.host_port..p.host_port.saturating_add(p.range.max(1)) {
        bindable(&protos, host_ip, port)?;
        for proto in &protos {
            if let Some(id) = ipam::port_holder(proto, &p.host_ip, port) {
                return Err(Error::invalid(format!(
                    "cannot listen on the {} port {port}: it is published by container {id}: address already in use",
                    proto.to_uppercase()
                )));
            }
        }
    }
    Ok(())
}

/// Is the port free on the host (nothing listening)? Podman's error if not.
fn bindable(protos: &[&str], ip: IpAddr, port: u16) -> Result<()> {
    for proto in protos {
        let r = match *proto {
            "tcp" => TcpListener::bind((ip, port)).map(drop),
            "udp" => UdpSocket::bind((ip, port)).map(drop),
            _ => Ok(()),
        };
        if let Err(e) = r {
            let family = if ip.is_ipv4() { "4" } else { "6" };
            let shown = if ip.is_unspecified() {
                String::new()
            } else {
                ip.to_string()
            };
            return Err(Error::invalid(format!(
                "cannot listen on the {} port: listen {proto}{family} {shown}:{port}: bind: {}",
                proto.to_uppercase(),
                if e.kind() == std::io::ErrorKind::AddrInUse {
                    "address already in use".to_string()
                } else {
                    e.to_string()
                }
            )));
        }
    }
    Ok(())
}
