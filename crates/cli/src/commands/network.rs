//! `network create|ls|inspect|rm|prune|exists` and `port`.

use std::collections::BTreeMap;

use peapod_engine::network::{Network, NetworkCreate, ports};
use peapod_engine::{Engine, Error};
use serde::Serialize;

use crate::cli::{
    NetworkConnectArgs, NetworkCreateArgs, NetworkDisconnectArgs, NetworkExistsArgs,
    NetworkInspectArgs, NetworkLsArgs, NetworkPruneArgs, NetworkReloadArgs, NetworkRmArgs,
    PortArgs,
};
use crate::output::{print_list, print_objects};
use crate::{CliError, CliResult};

/// A network as Go templates see it (Podman's `types.Network` field names).
#[derive(Serialize)]
#[allow(non_snake_case)]
struct NetReport {
    Name: String,
    ID: String,
    Driver: String,
    NetworkInterface: String,
    Created: String,
    Subnets: Vec<SubnetReport>,
    IPv6Enabled: bool,
    Internal: bool,
    DNSEnabled: bool,
    Labels: BTreeMap<String, String>,
    Options: BTreeMap<String, String>,
    IPAMOptions: BTreeMap<String, String>,
}

#[derive(Serialize)]
#[allow(non_snake_case)]
struct SubnetReport {
    Subnet: String,
    Gateway: String,
}

fn report(n: &Network, full_id: bool) -> NetReport {
    let sorted =
        |m: &Option<std::collections::HashMap<String, String>>| -> BTreeMap<String, String> {
            m.iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
    NetReport {
        Name: n.name.clone(),
        ID: if full_id {
            n.id.clone()
        } else {
            n.id.chars().take(12).collect()
        },
        Driver: n.driver.clone(),
        NetworkInterface: n.network_interface.clone().unwrap_or_default(),
        Created: n.created.clone().unwrap_or_default(),
        Subnets: n
            .subnets()
            .iter()
            .map(|s| SubnetReport {
                Subnet: s.subnet.to_string(),
                Gateway: s.gateway.map(|g| g.to_string()).unwrap_or_default(),
            })
            .collect(),
        IPv6Enabled: n.ipv6_enabled,
        Internal: n.internal,
        DNSEnabled: n.dns_enabled,
        Labels: sorted(&n.labels),
        Options: sorted(&n.options),
        IPAMOptions: sorted(&n.ipam_options),
    }
}

pub fn create(engine: &Engine, a: NetworkCreateArgs) -> CliResult {
    let net = engine.network_create(&NetworkCreate {
        name: a.name,
        driver: a.driver,
        subnets: a.subnet,
        gateways: a.gateway,
        ip_ranges: a.ip_range,
        internal: a.internal,
        labels: a.label,
        options: a.opt,
        interface_name: a.interface_name,
        disable_dns: a.disable_dns,
        ipv6: a.ipv6,
        ignore: a.ignore,
    })?;
    println!("{}", net.name);
    Ok(0)
}

pub fn ls(engine: &Engine, a: NetworkLsArgs) -> CliResult {
    let nets = engine.network_list(&a.filter)?;
    if a.quiet {
        for n in &nets {
            println!("{}", n.name);
        }
        return Ok(0);
    }
    let rows: Vec<NetReport> = nets.iter().map(|n| report(n, a.no_trunc)).collect();
    let format = a
        .format
        .as_deref()
        .unwrap_or("table {{.ID}}\t{{.Name}}\t{{.Driver}}");
    print_list(
        "network ls",
        format,
        &nets,
        &rows,
        &[("ID", "NETWORK ID")],
        a.noheading,
    )?;
    Ok(0)
}

pub fn inspect(engine: &Engine, a: NetworkInspectArgs) -> CliResult {
    let mut nets = Vec::new();
    let mut code = 0;
    for n in &a.networks {
        match engine.network(n) {
            Ok(net) => nets.push(net),
            Err(e) => {
                eprintln!("Error: {e}");
                code = crate::ENGINE;
            }
        }
    }
    match a.format.as_deref() {
        Some(f) if !crate::format::is_json(f) => {
            let rows: Vec<NetReport> = nets.iter().map(|n| report(n, true)).collect();
            print_objects("network inspect", Some(f), &rows)?;
        }
        _ => print_objects("network inspect", None, &nets)?,
    }
    Ok(code)
}

/// Podman's exit codes: 1 for a missing network, 2 for one in use.
pub fn rm(engine: &Engine, a: NetworkRmArgs) -> CliResult {
    let mut code = 0;
    for n in &a.networks {
        match engine.network_remove(n, a.force, a.time) {
            Ok(name) => println!("{name}"),
            // Podman: `--force` also ignores a network that does not exist.
            Err(Error::NoSuchNetwork(_)) if a.force => {}
            Err(e) => {
                eprintln!("Error: {e}");
                code = match e {
                    Error::NoSuchNetwork(_) => 1,
                    Error::NetworkInUse { .. } => 2,
                    e => crate::exit_code(&e),
                };
            }
        }
    }
    Ok(code)
}

pub fn prune(engine: &Engine, a: NetworkPruneArgs) -> CliResult {
    let _ = a.force;
    for n in engine.network_list(&a.filter)? {
        if n.name == peapod_engine::network::DEFAULT_NETWORK
            || !engine.network_users(&n.name)?.is_empty()
        {
            continue;
        }
        engine.network_remove(&n.name, false, None)?;
        println!("{}", n.name);
    }
    Ok(0)
}

pub fn exists(engine: &Engine, a: NetworkExistsArgs) -> CliResult {
    match engine.network(&a.network) {
        Ok(_) => Ok(0),
        Err(Error::NoSuchNetwork(_)) => Ok(1),
        Err(e) => Err(e.into()),
    }
}

/// `port CTR [PORT[/PROTO]]`: `80/tcp -> 0.0.0.0:8080`, or just `0.0.0.0:8080` for one port.
pub fn port(engine: &Engine, a: PortArgs) -> CliResult {
    let targets: Vec<_> = if a.all {
        engine.containers()?
    } else {
        let Some(c) = &a.container else {
            return Err(CliError::engine(
                "you must provide a container name or ID, or --all",
            ));
        };
        vec![engine.container(c)?]
    };
    let want = a.port.as_deref().map(|p| {
        if p.contains('/') {
            p.to_string()
        } else {
            format!("{p}/tcp")
        }
    });
    let mut found = false;
    for c in &targets {
        for (key, binds) in ports::bindings(c.published_ports()) {
            for b in binds {
                let ip = if b.HostIp.is_empty() {
                    "0.0.0.0"
                } else {
                    b.HostIp.as_str()
                };
                match &want {
                    Some(w) if *w == key => {
                        println!("{ip}:{}", b.HostPort);
                        found = true;
                    }
                    Some(_) => {}
                    None => {
                        if a.all {
                            println!("{}\t{key} -> {ip}:{}", &c.id()[..12], b.HostPort);
                        } else {
                            println!("{key} -> {ip}:{}", b.HostPort);
                        }
                        found = true;
                    }
                }
            }
        }
    }
    if let (Some(w), false) = (&want, found) {
        return Err(CliError::engine(format!(
            "failed to find published port {w:?}"
        )));
    }
    Ok(0)
}

pub fn connect(engine: &Engine, a: NetworkConnectArgs) -> CliResult {
    let mut attach = peapod_engine::container::NetworkAttach {
        aliases: a.alias,
        ..Default::default()
    };
    for ip in [&a.ip, &a.ip6].into_iter().flatten() {
        attach.static_ips.push(
            ip.parse()
                .map_err(|_| CliError::engine(format!("{ip} is not an IP address")))?,
        );
    }
    attach.static_mac = a.mac_address;
    engine.network_connect(&a.network, &a.container, attach)?;
    Ok(0)
}

pub fn disconnect(engine: &Engine, a: NetworkDisconnectArgs) -> CliResult {
    let _ = a.force;
    engine.network_disconnect(&a.network, &a.container)?;
    Ok(0)
}

/// `network reload`: each container's id once its networks are set up again, concurrently.
/// With `--all`, containers without a bridge network or not running are passed over, as
/// Podman does.
pub fn reload(engine: &Engine, a: NetworkReloadArgs) -> CliResult {
    // Podman's CheckAllLatestAndIDFile, before anything is looked up.
    let conflict = match (a.all, a.latest, a.containers.is_empty()) {
        (_, true, false) => Some("--latest and containers cannot be used together"),
        (true, _, false) => Some("--all and containers cannot be used together"),
        (true, true, true) => Some("--all and --latest cannot be used together"),
        _ => None,
    };
    if let Some(msg) = conflict {
        return Err(CliError::engine(msg));
    }
    let given = if a.latest {
        let latest = engine.ps(&peapod_engine::container::ps::PsRequest {
            latest: true,
            ..Default::default()
        })?;
        match latest.first() {
            Some(e) => vec![e.container.id().to_string()],
            None => return Err(CliError::engine("no containers to reload")),
        }
    } else {
        a.containers.clone()
    };
    let targets = if a.all {
        engine
            .containers()?
            .iter()
            .map(|c| peapod_engine::parallel::Target {
                given: c.id().to_string(),
                id: c.id().to_string(),
            })
            .collect()
    } else if given.is_empty() {
        return Err(CliError::engine(
            "you must provide at least one container name or id",
        ));
    } else {
        engine.resolve_containers(&given, false)?
    };
    let ids: Vec<String> = targets.iter().map(|t| t.id.clone()).collect();
    let results = engine.on_many(&ids, |e, id| match e.network_reload(id) {
        Err(Error::BadState { .. }) if a.all => Ok(None),
        Err(e) if a.all && e.kind() == peapod_engine::error::ErrorKind::Invalid => Ok(None),
        r => r.map(Some),
    });
    crate::output::print_each(&targets, results, |_, id| id.clone(), crate::exit_code)
}
