//! `setup` and `teardown` as netavark does them, over every network of the options JSON.
//!
//! Setup checks everything before touching anything: every network definition, every
//! per-container value (interface names, MAC, MTU, addresses, port mappings, DNS servers).
//! Then per network: bridge and veth (netlink), firewall (network rules once, then this
//! container's port forwards), then DNS. A failure anywhere is undone by one rollback, a
//! teardown of every network started. Teardown never stops at the
//! first failure: it undoes what it can and reports every error. Both run under one global
//! lock so concurrent calls (several containers starting at once) never race on a bridge or
//! on the nft table.

use std::fs::File;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use crate::bridge::{self, BridgeNet, ContainerLink};
use crate::dns;
use crate::error::Error;
use crate::firewall::{self, ContainerFw, Firewall, NetworkFw};
use crate::netlink::Netlink;
use crate::types::{
    DNS_SEARCH_DOMAIN, NetworkOptions, PerNetworkOptions, PortForward, SetupOutput,
};

/// What the command line gives every command.
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// `--config DIR`: netavark's run dir (`/run/containers/networks` under podman).
    pub config_dir: PathBuf,
    /// `--rootless`.
    pub rootless: bool,
    /// `--firewall-driver` / `NETAVARK_FW`; empty for the default (nftables).
    pub firewall_driver: String,
}

/// Where the global lock lives: `/run/lock` when root (shared by every config dir, since
/// they all share the kernel), else the config dir.
fn lock(ctx: &Context) -> Result<Flock<File>, Error> {
    // Rootless, podman runs us in its rootless netns as a mapped root: /run is not ours.
    let path = if nix::unistd::geteuid().is_root() && !ctx.rootless {
        let dir = Path::new("/run/lock");
        std::fs::create_dir_all(dir).map_err(|e| Error::io("creating /run/lock", e))?;
        dir.join("peapod-netsetup.lock")
    } else {
        std::fs::create_dir_all(&ctx.config_dir)
            .map_err(|e| Error::io(format!("creating {}", ctx.config_dir.display()), e))?;
        ctx.config_dir.join("peapod-netsetup.lock")
    };
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    Flock::lock(file, FlockArg::LockExclusive)
        .map_err(|(_, e)| Error::io(format!("locking {}", path.display()), e.into()))
}

/// One network of the request, checked.
struct Plan<'a> {
    name: &'a str,
    net: BridgeNet<'a>,
    opts: &'a PerNetworkOptions,
    link: ContainerLink<'a>,
}

/// Check every network of the request and every per-container value before anything is
/// touched, so bad input never reaches the kernel.
fn plan(opts: &NetworkOptions) -> Result<Vec<Plan<'_>>, Error> {
    if opts.networks.is_empty() {
        return Err(Error::Invalid("no networks in the network options".into()));
    }
    let mut names: Vec<&String> = opts.networks.keys().collect();
    names.sort();
    let mut out: Vec<Plan<'_>> = Vec::new();
    for name in names {
        let network = opts.network_info.get(name).ok_or_else(|| {
            Error::Invalid(format!("network {name} has no entry in network_info"))
        })?;
        let per = &opts.networks[name];
        let net = BridgeNet::new(network)?;
        let link = net.container_link(per)?;
        if let Some(other) = out.iter().find(|p| p.link.ifname == link.ifname) {
            return Err(Error::Invalid(format!(
                "networks {} and {name} both ask for interface {}",
                other.name, link.ifname
            )));
        }
        out.push(Plan {
            name,
            net,
            opts: per,
            link,
        });
    }
    Ok(out)
}

/// The container's own DNS servers must not be a gateway of its networks: the responder
/// there would forward to itself.
fn check_dns_servers(opts: &NetworkOptions, plans: &[Plan<'_>]) -> Result<(), Error> {
    let servers = opts.dns_servers.as_deref().unwrap_or_default();
    for p in dns_enabled(plans) {
        if let Some(ip) = servers
            .iter()
            .find(|s| p.net.gateways.iter().any(|(gw, _)| gw.addr() == **s))
        {
            return Err(Error::Invalid(format!(
                "DNS server {ip} is the gateway of network {}: it would query itself",
                p.name
            )));
        }
    }
    Ok(())
}

fn forwards(opts: &NetworkOptions) -> Result<Vec<PortForward>, Error> {
    let mut out = Vec::new();
    for pm in opts.port_mappings.as_deref().unwrap_or_default() {
        out.extend(pm.expand().map_err(|e| Error::Invalid(e.to_string()))?);
    }
    Ok(out)
}

fn fw_of(p: &Plan<'_>, ctr_id: &str, forwards: &[PortForward]) -> (NetworkFw, ContainerFw) {
    let network = p.net.network;
    (
        NetworkFw {
            id: network.id.clone(),
            bridge: p.net.bridge.to_string(),
            isolate: p.net.isolate,
            subnets: network.subnets().iter().map(|s| s.subnet.trunc()).collect(),
            internal: network.internal,
            dns: network.dns_enabled && !p.net.gateways.is_empty(),
        },
        ContainerFw {
            id: ctr_id.to_string(),
            ips: p.opts.static_ips.clone().unwrap_or_default(),
            // Internal networks publish nothing (as netavark).
            forwards: if network.internal {
                Vec::new()
            } else {
                forwards.to_vec()
            },
        },
    )
}

fn open_netns(path: &Path) -> Result<File, Error> {
    File::open(path)
        .map_err(|e| Error::io(format!("opening network namespace {}", path.display()), e))
}

/// `setup NETNS_PATH`: returns the status map printed on stdout. Everything is checked
/// first ([`plan`]); then each network is set up, then DNS. Any failure undoes all of it
/// (one rollback: a teardown of every network started, and of their DNS entries).
pub fn setup(
    ctx: &Context,
    netns_path: &Path,
    opts: &NetworkOptions,
) -> Result<SetupOutput, Error> {
    let plans = plan(opts)?;
    check_dns_servers(opts, &plans)?;
    let forwards = forwards(opts)?;
    let fw = firewall::driver(&ctx.firewall_driver)?;
    let netns = open_netns(netns_path)?;
    let path = netns_path.display().to_string();
    let mut host = Netlink::open()?;
    let mut ctr = Netlink::open_in(&netns, &path)?;
    let _lock = lock(ctx)?;
    // Refuse before touching anything: a rollback would delete the existing interface.
    for p in &plans {
        if ctr.link_by_name(p.link.ifname)?.is_some() {
            return Err(Error::Invalid(format!(
                "interface {} already exists in {path}",
                p.link.ifname
            )));
        }
    }

    let mut out = SetupOutput::new();
    let mut started = 0;
    let mut result = Ok(());
    for p in &plans {
        started += 1;
        let fwd = (fw.as_ref(), opts.container_id.as_str(), forwards.as_slice());
        match setup_one(&mut host, &mut ctr, &netns, &path, p, fwd) {
            Ok(status) => {
                out.insert(p.name.to_string(), status);
            }
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    if result.is_ok() {
        result = dns_setup(ctx, opts, &plans, &mut out);
    }
    if let Err(e) = result {
        let _ = dns_teardown(ctx, opts, &plans);
        for done in plans[..started].iter().rev() {
            let _ = teardown_one(
                &mut host,
                Some(&mut ctr),
                done,
                fw.as_ref(),
                (&opts.container_id, &forwards),
                TeardownMode::Delete,
                &mut Vec::new(),
            );
        }
        return Err(e);
    }
    Ok(out)
}

impl Context {
    /// The DNS server's state dir, as aardvark's: `<config>/aardvark-dns`.
    pub fn dns_dir(&self) -> PathBuf {
        self.config_dir.join("aardvark-dns")
    }
}

/// The DNS port: `NETAVARK_DNS_PORT`, else 53.
pub fn dns_port() -> u16 {
    std::env::var("NETAVARK_DNS_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(53)
}

fn dns_enabled<'a>(plans: &'a [Plan<'a>]) -> impl Iterator<Item = &'a Plan<'a>> {
    plans
        .iter()
        .filter(|p| p.net.network.dns_enabled && !p.net.gateways.is_empty())
}

fn dns_setup(
    ctx: &Context,
    opts: &NetworkOptions,
    plans: &[Plan<'_>],
    out: &mut SetupOutput,
) -> Result<(), Error> {
    let dir = ctx.dns_dir();
    let mut any = false;
    for p in dns_enabled(plans) {
        let gateways: Vec<_> = p.net.gateways.iter().map(|(gw, _)| gw.addr()).collect();
        let ips = p.opts.static_ips.clone().unwrap_or_default();
        let mut names = vec![opts.container_name.clone()];
        names.extend(p.opts.aliases.clone().unwrap_or_default());
        names.retain(|n| !n.is_empty() && !n.contains([' ', ',']));
        dns::add_entry(
            &dir,
            p.name,
            &gateways,
            p.net
                .network
                .network_dns_servers
                .as_deref()
                .unwrap_or_default(),
            dns::Entry {
                id: opts.container_id.clone(),
                v4: ips.iter().copied().filter(|i| i.is_ipv4()).collect(),
                v6: ips.iter().copied().filter(|i| i.is_ipv6()).collect(),
                names,
                upstreams: opts.dns_servers.clone().unwrap_or_default(),
            },
        )?;
        if let Some(status) = out.get_mut(p.name) {
            status.dns_server_ips = Some(gateways);
            status.dns_search_domains = Some(vec![DNS_SEARCH_DOMAIN.to_string()]);
        }
        any = true;
    }
    if any {
        dns::sync_server(&dir, dns_port())?;
    }
    Ok(())
}

fn dns_teardown(ctx: &Context, opts: &NetworkOptions, plans: &[Plan<'_>]) -> Vec<Error> {
    let dir = ctx.dns_dir();
    let mut errors = Vec::new();
    let mut any = false;
    for p in dns_enabled(plans) {
        any = true;
        if let Err(e) = dns::remove_entry(&dir, p.name, &opts.container_id) {
            errors.push(e);
        }
    }
    if any && let Err(e) = dns::sync_server(&dir, dns_port()) {
        errors.push(e);
    }
    errors
}

fn setup_one(
    host: &mut Netlink,
    ctr: &mut Netlink,
    netns: &File,
    path: &str,
    p: &Plan<'_>,
    (fw, ctr_id, forwards): (&dyn Firewall, &str, &[PortForward]),
) -> Result<crate::types::StatusBlock, Error> {
    let status = bridge::setup_container(host, ctr, netns, path, &p.net, &p.link)?;
    let (nfw, cfw) = fw_of(p, ctr_id, forwards);
    fw.setup(&nfw, &cfw)?;
    Ok(status)
}

/// How a teardown leaves the container's interfaces.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TeardownMode {
    /// netavark's: the container's interface is deleted (its host end with it), then the
    /// bridge if no port is left.
    #[default]
    Delete,
    /// `teardown --netns-released`, for a caller that removes the namespace right after and
    /// whose container has no process left in it (the engine's own stop and removal): the
    /// host end of the veth is only taken off the bridge (or goes off it with the bridge),
    /// and the kernel destroys the pair with the namespace, in its own cleanup work, instead
    /// of this command waiting for the RCU grace periods and callbacks of a link deletion
    /// (tens of ms each on a loaded machine). Addresses, routes and the firewall go as with
    /// `Delete`; a namespace that something else keeps alive keeps an interface that reaches
    /// nothing.
    NetnsReleased,
}

/// A bridge that `teardown --netns-released` left to be deleted once it holds no port but
/// `leaving` (the container's veth, which goes with it).
struct EmptyBridge {
    name: String,
    leaving: Option<u32>,
}

fn teardown_one(
    host: &mut Netlink,
    mut ctr: Option<&mut Netlink>,
    p: &Plan<'_>,
    fw: &dyn Firewall,
    (ctr_id, forwards): (&str, &[PortForward]),
    mode: TeardownMode,
    empty: &mut Vec<EmptyBridge>,
) -> Vec<Error> {
    let (nfw, cfw) = fw_of(p, ctr_id, forwards);
    let plan = match bridge::teardown_plan(host, ctr.as_deref_mut(), &p.net, p.opts) {
        Ok(Some(plan)) => plan,
        Ok(None) => return teardown_one_in_order(host, ctr, p, fw, (&nfw, &cfw)),
        Err(e) => {
            // Nothing is known of the bridge: the container's rules go, the network's stay.
            let mut errors = vec![e];
            if let Err(e) = fw.teardown(&nfw, &cfw, false) {
                errors.push(e.into());
            }
            return errors;
        }
    };
    // The firewall's teardown (`nft` runs, the longest part) beside the interfaces': the
    // rules name the bridge by name, so neither waits for the other. The bridge goes after
    // the container's interface, and only if no port is left on it.
    std::thread::scope(|s| {
        let firewall = s.spawn(|| fw.teardown(&nfw, &cfw, plan.complete));
        let mut errors = Vec::new();
        let links = match mode {
            TeardownMode::Delete => bridge::remove_container_link(ctr, &plan),
            // The bridge's deletion takes the port off.
            TeardownMode::NetnsReleased if plan.complete => Ok(()),
            TeardownMode::NetnsReleased => bridge::detach_container_link(host, &plan),
        };
        if let Err(e) = links {
            errors.push(e);
        }
        if plan.complete {
            match mode {
                TeardownMode::Delete => {
                    if let Err(e) = bridge::delete_bridge_if_unused(host, &p.net, None) {
                        errors.push(e);
                    }
                }
                // Deleted once the teardown is done, by a process of its own (see
                // `delete_empty_bridges`).
                TeardownMode::NetnsReleased => empty.push(EmptyBridge {
                    name: p.net.bridge.to_string(),
                    leaving: plan.host_link,
                }),
            }
        }
        match firewall.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => errors.push(e.into()),
            Err(_) => errors.push(Error::Invalid("the firewall teardown panicked".into())),
        }
        errors
    })
}

/// [`teardown_one`] one step after the other: the container's interface, then (knowing
/// what is left on the bridge) the firewall, then the bridge.
fn teardown_one_in_order(
    host: &mut Netlink,
    ctr: Option<&mut Netlink>,
    p: &Plan<'_>,
    fw: &dyn Firewall,
    (nfw, cfw): (&NetworkFw, &ContainerFw),
) -> Vec<Error> {
    let mut errors = Vec::new();
    let complete = match bridge::teardown_container(host, ctr, &p.net, p.opts) {
        Ok(c) => c,
        Err(e) => {
            errors.push(e);
            false
        }
    };
    if let Err(e) = fw.teardown(nfw, cfw, complete) {
        errors.push(e.into());
    }
    // The bridge goes last, after its firewall rules.
    if complete && let Err(e) = bridge::delete_bridge_if_unused(host, &p.net, None) {
        errors.push(e);
    }
    errors
}

/// `teardown NETNS_PATH`. Keeps going after a failure and reports them all. A namespace that
/// is already gone is not an error: the host side is still cleaned.
pub fn teardown(ctx: &Context, netns_path: &Path, opts: &NetworkOptions) -> Result<(), Error> {
    teardown_with(ctx, netns_path, opts, TeardownMode::Delete)
}

/// [`teardown`], leaving the container's interfaces as `mode` says.
pub fn teardown_with(
    ctx: &Context,
    netns_path: &Path,
    opts: &NetworkOptions,
    mode: TeardownMode,
) -> Result<(), Error> {
    let plans = plan(opts)?;
    let forwards = forwards(opts).unwrap_or_default();
    let fw = firewall::driver(&ctx.firewall_driver)?;
    let path = netns_path.display().to_string();
    let mut host = Netlink::open()?;
    let mut ctr = match open_netns(netns_path) {
        Ok(ns) => Netlink::open_in(&ns, &path).ok(),
        Err(_) => None,
    };
    let lock = lock(ctx)?;
    let mut errors = dns_teardown(ctx, opts, &plans);
    let mut empty = Vec::new();
    for p in &plans {
        errors.extend(teardown_one(
            &mut host,
            ctr.as_mut(),
            p,
            fw.as_ref(),
            (&opts.container_id, &forwards),
            mode,
            &mut empty,
        ));
    }
    if !empty.is_empty() {
        errors.extend(delete_empty_bridges(&mut host, lock, &empty));
    }
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => Err(Error::Many(errors)),
    }
}

/// Deletes the bridges a `--netns-released` teardown left without a port, in a detached
/// process that holds the global lock until they are gone, so the command returns without
/// waiting for the RCU grace periods of a bridge's deletion (40-90 ms here under load; the
/// caller, `run --rm` or `rm`, waits for this command). Nothing else sees the difference
/// but time: every other setup or teardown takes the same lock first, so it finds the
/// bridge either still there with no port (before the lock) or gone; a setup that waits
/// for it makes the bridge again, as after any teardown. Without a fork the bridges are
/// deleted here.
fn delete_empty_bridges(
    host: &mut Netlink,
    lock: Flock<File>,
    empty: &[EmptyBridge],
) -> Vec<Error> {
    let delete_all = |host: &mut Netlink| -> Vec<Error> {
        empty
            .iter()
            .filter_map(|b| bridge::delete_bridge_named_if_unused(host, &b.name, b.leaving).err())
            .collect()
    };
    let detached = crate::detach::run_detached(std::os::fd::AsRawFd::as_raw_fd(&*lock), || {
        if let Ok(mut host) = Netlink::open() {
            let _ = delete_all(&mut host);
        }
    });
    if detached {
        // The detached process shares the lock's open file description, and a flock
        // belongs to the description: unlocking here would release it under that process.
        // This descriptor closes at exit without an unlock; the lock goes when the other
        // copy closes too.
        std::mem::forget(lock);
        Vec::new()
    } else {
        delete_all(host)
    }
}
