//! Setting a container's networks up: lease addresses and host ports, pin a network
//! namespace, and have the network helper (peapod-netsetup, or netavark itself) do the kernel
//! work with netavark's command line and JSON.
//!
//! Each of those is held in the ledger by the container (or by its pod, for a pod's shared
//! namespace), recorded before it is made; tearing down is the ledger's release
//! ([`Engine::release_all`]), which runs the helper's teardown with the options recorded
//! here, removes the pin and gives the leases back.

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
use crate::state::{Holder, Resource};

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

    /// Give the container its network namespace; for bridge networks, set them up. The
    /// helper's setup may still run when this returns (see [`Engine::network_setup_begin`]):
    /// [`Engine::network_setup_end`] waits for it.
    pub(crate) fn network_setup(&self, c: &mut Container) -> Result<(NetNs, Option<PendingSetup>)> {
        if let Some(ns) = self.pod_network_setup(c)? {
            return Ok((ns, None));
        }
        let mode = c.config.network_mode.clone();
        if mode == "host" {
            return Ok((NetNs::Host, None));
        }
        if let Some(path) = mode.strip_prefix("ns:") {
            if !std::path::Path::new(path).exists() {
                return Err(Error::invalid(format!(
                    "network namespace {path} does not exist"
                )));
            }
            return Ok((NetNs::Path(path.into()), None));
        }
        if let Some(other) = mode.strip_prefix("container:") {
            let o = self.container(other)?;
            if !o.state.status.is_active() || o.state.pid <= 0 {
                return Err(Error::invalid(format!(
                    "container {other} is not running: cannot join its network namespace"
                )));
            }
            let ns = if o.state.netns.is_empty() {
                format!("/proc/{}/ns/net", o.state.pid).into()
            } else {
                o.state.netns.clone().into()
            };
            return Ok((NetNs::Path(ns), None));
        }
        let slirp = super::slirp::is_userspace(&mode);
        if !slirp && (mode != "bridge" || c.config.networks.is_empty()) {
            return Ok((NetNs::Private, None));
        }
        let path = self.paths.netns_dir().join(format!("netns-{}", c.id()));
        let holder = Holder::container(c.id());
        self.hold(&holder, Resource::Pin { path: path.clone() }, |_| {
            netns::create(&path)
        })?;
        c.state.netns = path.display().to_string();
        // On a failure the caller's undo releases what the container holds.
        let pending = self.network_setup_begin(c, &holder, true)?;
        Ok((NetNs::Path(path), pending))
    }

    /// Ports, addresses and the helper's setup in the namespace at `c.state.netns`, held by
    /// `holder` (the container, or its pod).
    pub(crate) fn network_setup_inner(&self, c: &mut Container, holder: &Holder) -> Result<()> {
        match self.network_setup_begin(c, holder, false)? {
            Some(p) => self.network_setup_end(c, p),
            None => Ok(()),
        }
    }

    /// [`Engine::network_setup_inner`], but with `overlap` the helper's setup is left
    /// running (recorded in the ledger first, as always) and returned, for the caller to
    /// create the container in the runtime meanwhile: the runtime only needs the namespace,
    /// which exists. Not when a network has DNS: the container's resolv.conf needs the
    /// helper's answer (its DNS server's address). `None`: all done.
    fn network_setup_begin(
        &self,
        c: &mut Container,
        holder: &Holder,
        overlap: bool,
    ) -> Result<Option<PendingSetup>> {
        let owner = self.lease_owner(holder);
        if super::slirp::is_userspace(&c.config.network_mode) {
            return self.slirp_setup_for(c, holder, overlap);
        }
        // Ports first: a port in use is the likeliest failure, and it must come before
        // anything else happens.
        c.state.ports.clear();
        for p in c.config.ports.clone() {
            let leased = self.reserve_port(&p, holder, &owner)?;
            c.state.ports.push(leased);
        }
        let mut opts = self.network_options(c)?;
        // The bridges and subnets are this store's on the whole machine (see machine.rs).
        self.claim_networks(opts.network_info.values())?;
        // Addresses: the static ones asked for, or the first free ones.
        for (name, per) in opts.networks.iter_mut() {
            let net = &opts.network_info[name];
            let wanted = per.static_ips.clone().unwrap_or_default();
            let leases = self.lease_network(net, &wanted, holder, &owner)?;
            for (subnet, ip) in &leases {
                record_lease(&mut c.state.network_status, name, *ip, subnet);
            }
            per.static_ips = Some(leases.into_iter().map(|(_, ip)| ip).collect());
        }
        let netns = c.state.netns.clone();
        let setup = Resource::Network {
            netns: netns.clone(),
            options: Box::new(opts.clone()),
        };
        if !overlap || opts.network_info.values().any(|n| n.dns_enabled) {
            c.state.network_status =
                self.hold(holder, setup, |_| self.netsetup_setup(&netns, &opts))?;
            return Ok(None);
        }
        let seq = self.db.record(holder, &setup)?;
        match self.start_netsetup("setup", &netns, &opts) {
            Ok(helper) => Ok(Some(PendingSetup {
                wait: Pending::Helper(helper),
                holder: holder.clone(),
                seq,
                resource: setup,
            })),
            Err(e) => {
                if self.release_one(holder, &setup).is_ok() {
                    let _ = self.db.forget(seq);
                }
                Err(e)
            }
        }
    }

    /// Wait for the helper's setup [`Engine::network_setup_begin`] left running: its status
    /// becomes the container's, its ledger row is confirmed. When it failed, what it made is
    /// torn down (as [`Engine::hold`] does) and its error returned.
    pub(crate) fn network_setup_end(&self, c: &mut Container, p: PendingSetup) -> Result<()> {
        let PendingSetup {
            wait,
            holder,
            seq,
            resource,
        } = p;
        let answer = match wait {
            Pending::Helper(h) => h.finish().and_then(|out| parse_setup(&out)).map(Some),
            Pending::Ready(r) => r.wait().map(|()| None),
        };
        match answer {
            Ok(status) => {
                self.db.confirm(seq, &resource)?;
                if let Some(status) = status {
                    c.state.network_status = status;
                }
                Ok(())
            }
            Err(e) => {
                match self.release_one(&holder, &resource) {
                    Ok(()) => {
                        let _ = self.db.forget(seq);
                    }
                    Err(re) => {
                        tracing::warn!(%holder, resource = %resource.describe(), error = %re, "undoing a failed network setup");
                    }
                }
                Err(e)
            }
        }
    }

    /// Lease one address in each subnet of `net` (a `wanted` one where it fits), each held
    /// by `holder`.
    pub(super) fn lease_network(
        &self,
        net: &peapod_netsetup::types::Network,
        wanted: &[IpAddr],
        holder: &Holder,
        owner: &Owner,
    ) -> Result<Vec<(peapod_netsetup::types::Subnet, IpAddr)>> {
        let mut got = Vec::new();
        for subnet in net.subnets() {
            let want = wanted
                .iter()
                .find(|ip| subnet.subnet.contains(*ip))
                .copied();
            let ip = self.lease_address(subnet, want, holder, owner)?;
            got.push((subnet.clone(), ip));
        }
        Ok(got)
    }

    /// Lease `wanted` in `subnet` (an error if someone holds it), else the first free
    /// address. Each claim is recorded before it is tried.
    fn lease_address(
        &self,
        subnet: &peapod_netsetup::types::Subnet,
        wanted: Option<IpAddr>,
        holder: &Holder,
        owner: &Owner,
    ) -> Result<IpAddr> {
        let net = subnet.subnet;
        let claim = |ip: IpAddr| {
            self.hold_if(holder, Resource::Address { subnet: net, ip }, || {
                ipam::claim_address(&net, ip, owner)
            })
        };
        if let Some(ip) = wanted {
            ipam::check_static(subnet, ip)?;
            if !claim(ip)? {
                return Err(Error::invalid(format!(
                    "requested ip address {ip} is already allocated to container ID {}",
                    ipam::address_holder(&net, ip)
                )));
            }
            return Ok(ip);
        }
        for ip in ipam::allocation_order(subnet) {
            if !ipam::taken_by_other(&net, ip, owner) && claim(ip)? {
                ipam::note_last(&net, ip);
                return Ok(ip);
            }
        }
        Err(Error::other(format!(
            "IPAM error: failed to find free IP in range {net}"
        )))
    }

    /// The options JSON netavark reads, from the container's config and leases.
    pub(crate) fn network_options(&self, c: &Container) -> Result<NetworkOptions> {
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
        parse_setup(&self.run_netsetup("setup", netns, opts)?)
    }

    pub(crate) fn run_netsetup(
        &self,
        command: &str,
        netns: &str,
        opts: &NetworkOptions,
    ) -> Result<String> {
        self.start_netsetup(command, netns, opts)?.finish()
    }

    /// The network helper's `teardown` of a namespace that is `released` right after it (its
    /// pin removed, no process of the container left in it): then peapod-netsetup is told
    /// so (`--netns-released`) and leaves the container's veth, off its bridge, for the
    /// kernel to destroy with the namespace rather than waiting for the link's deletion.
    /// Another helper (netavark) deletes it as always.
    pub(crate) fn start_netsetup_teardown(
        &self,
        netns: &str,
        opts: &NetworkOptions,
        released: bool,
    ) -> Result<Helper> {
        let bin = self.netsetup_path()?;
        let ours = bin.file_name().is_some_and(|n| n == "peapod-netsetup");
        let flags: &[&str] = if released && ours {
            &["--netns-released"]
        } else {
            &[]
        };
        self.spawn_netsetup(bin, "teardown", flags, netns, opts)
    }

    /// The network helper's `command` started on `netns` with `opts` on its stdin; its answer
    /// is [`Helper::finish`]'s.
    pub(crate) fn start_netsetup(
        &self,
        command: &str,
        netns: &str,
        opts: &NetworkOptions,
    ) -> Result<Helper> {
        self.spawn_netsetup(self.netsetup_path()?, command, &[], netns, opts)
    }

    fn spawn_netsetup(
        &self,
        bin: PathBuf,
        command: &str,
        flags: &[&str],
        netns: &str,
        opts: &NetworkOptions,
    ) -> Result<Helper> {
        let config = self.paths.network_run_dir();
        std::fs::create_dir_all(&config).map_err(|e| Error::io("creating", &config, e))?;
        let json = serde_json::to_vec(opts).map_err(|e| Error::other(e.to_string()))?;
        let mut cmd = Command::new(&bin);
        cmd.arg("--config")
            .arg(&config)
            .arg("--rootless=false")
            .arg(command)
            .args(flags)
            .arg(netns)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        crate::children::die_with_parent(&mut cmd);
        let mut child = cmd
            .spawn()
            .map_err(|e| Error::other(format!("running {}: {e}", bin.display())))?;
        if let Some(mut stdin) = child.stdin.take() {
            // Small enough for the pipe's buffer; dropped (closed) at once.
            let _ = stdin.write_all(&json);
        }
        Ok(Helper {
            child: Some(child),
            bin,
        })
    }
}

/// A network helper that runs: [`Helper::finish`] waits for its answer. Dropped unfinished
/// (an early return), it is still waited for, so nothing that comes after (a teardown)
/// runs beside it.
pub(crate) struct Helper {
    child: Option<std::process::Child>,
    bin: PathBuf,
}

impl Helper {
    /// Its stdout; its error message when it failed.
    pub(crate) fn finish(mut self) -> Result<String> {
        let child = self.child.take().expect("a helper is finished once");
        let bin = &self.bin;
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
}

impl Drop for Helper {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            let _ = child.wait_with_output();
        }
    }
}

/// The helper's answer to `setup`.
fn parse_setup(out: &str) -> Result<SetupOutput> {
    serde_json::from_str(out).map_err(|e| {
        Error::other(format!(
            "unexpected answer from the network helper ({e}): {out}"
        ))
    })
}

/// A container's network setup whose helper still runs ([`Engine::network_setup_begin`]).
/// Dropped without [`Engine::network_setup_end`], its ledger row stays for the caller's
/// undo to release (the network helper is waited for first; slirp4netns is killed by the
/// release).
pub(crate) struct PendingSetup {
    wait: Pending,
    holder: Holder,
    seq: i64,
    resource: Resource,
}

enum Pending {
    /// The network helper's `setup`: its answer is the container's network status.
    Helper(Helper),
    /// slirp4netns: its ready byte.
    Ready(super::slirp::Ready),
}

impl PendingSetup {
    pub(super) fn ready(r: super::slirp::Ready, holder: Holder, seq: i64, row: Resource) -> Self {
        PendingSetup {
            wait: Pending::Ready(r),
            holder,
            seq,
            resource: row,
        }
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

impl Engine {
    /// Reserve a published port on this host: pick a free one for a host port of 0, make
    /// sure nothing else listens there, and lease it (held by `holder`) so no other
    /// container publishes it too.
    fn reserve_port(&self, p: &PortMapping, holder: &Holder, owner: &Owner) -> Result<PortMapping> {
        let protos = super::ports::protocols(p);
        let range = p.range.max(1);
        let host_ip = host_ip(p)?;
        let mut out = p.clone();
        let lease = |port: u16| {
            let r = Resource::Ports {
                protocols: protos.iter().map(|s| s.to_string()).collect(),
                host_ip: p.host_ip.clone(),
                port,
                range,
            };
            self.hold(holder, r, |_| {
                ipam::reserve_ports(&protos, &p.host_ip, port, range, owner)
            })
        };
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
                    && lease(first).is_ok()
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
        lease(p.host_port)?;
        Ok(out)
    }
}

/// The host address a mapping binds (all of them when none is given).
fn host_ip(p: &PortMapping) -> Result<IpAddr> {
    if p.host_ip.is_empty() {
        return Ok(IpAddr::from([0, 0, 0, 0]));
    }
    p.host_ip
        .parse()
        .map_err(|_| Error::invalid(format!("invalid host ip {:?}", p.host_ip)))
}

/// Could `p` be published now: nothing on the host listens on its ports and no container
/// publishes them? Checks without leasing anything (`kube play` checks every document first).
pub(crate) fn check_port_free(p: &PortMapping) -> Result<()> {
    let protos = super::ports::protocols(p);
    let host_ip = host_ip(p)?;
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
