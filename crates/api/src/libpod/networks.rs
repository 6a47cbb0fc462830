//! Libpod networks: create (Podman's `types.Network` as the body), list, inspect, exists,
//! connect, disconnect, remove and prune, with Podman's reports.

use std::collections::BTreeMap;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use peapod_engine::Error;
use peapod_engine::container::NetworkAttach;
use peapod_engine::network::NetworkCreate;
use serde::Deserialize;
use serde_json::json;

use super::{error, error_body};
use crate::http::{Resp, empty, filters, flag, json, query, read_json, timeout};
use crate::pool::EnginePool;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Subnet {
    subnet: String,
    gateway: Option<String>,
}

/// The fields of Podman's `types.Network` a create reads.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CreateBody {
    name: String,
    driver: String,
    network_interface: String,
    subnets: Option<Vec<Subnet>>,
    ipv6_enabled: bool,
    internal: bool,
    dns_enabled: bool,
    labels: Option<BTreeMap<String, String>>,
    options: Option<BTreeMap<String, String>>,
}

fn kv(m: &Option<BTreeMap<String, String>>) -> Vec<String> {
    m.iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect()
}

fn create_request(b: &CreateBody) -> NetworkCreate {
    let subnets = b.subnets.iter().flatten();
    NetworkCreate {
        name: Some(b.name.clone()).filter(|n| !n.is_empty()),
        driver: Some(b.driver.clone()).filter(|d| !d.is_empty()),
        subnets: subnets.clone().map(|s| s.subnet.clone()).collect(),
        gateways: subnets
            .filter_map(|s| s.gateway.clone())
            .filter(|g| !g.is_empty())
            .collect(),
        internal: b.internal,
        labels: kv(&b.labels),
        options: kv(&b.options),
        interface_name: Some(b.network_interface.clone()).filter(|i| !i.is_empty()),
        disable_dns: !b.dns_enabled,
        ipv6: b.ipv6_enabled,
        ..Default::default()
    }
}

/// POST `/libpod/networks/create`: 200 with the network made; 409 when the name is taken.
pub async fn create(req: Request<Incoming>, pool: EnginePool) -> Resp {
    let b: CreateBody = match read_json(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let opts = create_request(&b);
    let name = b.name.clone();
    let r = pool
        .run(move |e| {
            if !name.is_empty() && e.network(&name).is_ok() {
                return Ok(None);
            }
            e.network_create(&opts).map(Some)
        })
        .await;
    match r {
        Ok(Some(n)) => json(StatusCode::OK, &n),
        Ok(None) => error_body(
            StatusCode::CONFLICT,
            &format!(
                "network name {} already used: network already exists",
                b.name
            ),
        ),
        Err(e) => error(&e),
    }
}

/// GET `/libpod/networks/json?filters=`.
pub async fn list(req: Request<Incoming>, pool: EnginePool) -> Resp {
    let f = match filters(&query(&req)) {
        Ok(f) => f,
        Err(e) => return error(&e),
    };
    match pool.run(move |e| e.network_list(&f)).await {
        Ok(list) => json(StatusCode::OK, &list),
        Err(e) => error(&e),
    }
}

pub async fn inspect(name: String, pool: EnginePool) -> Resp {
    match pool.run(move |e| e.network(&name)).await {
        Ok(n) => json(StatusCode::OK, &n),
        Err(e) => error(&e),
    }
}

pub async fn exists(name: String, pool: EnginePool) -> Resp {
    match pool.run(move |e| e.network(&name)).await {
        Ok(_) => empty(StatusCode::NO_CONTENT),
        Err(e) => error(&e),
    }
}

/// DELETE `/libpod/networks/{name}?force=&timeout=`: Podman's `[{"Name", "Err"}]`.
pub async fn remove(req: Request<Incoming>, name: String, pool: EnginePool) -> Resp {
    let q = query(&req);
    let force = flag(&q, "force");
    let t = timeout(&q);
    match pool.run(move |e| e.network_remove(&name, force, t)).await {
        Ok(gone) => json(StatusCode::OK, &json!([{ "Name": gone, "Err": null }])),
        Err(e) => error(&e),
    }
}

/// Podman's `NetworkConnectOptions`: the container and its per-network options.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ConnectBody {
    container: String,
    aliases: Option<Vec<String>>,
    static_ips: Option<Vec<std::net::IpAddr>>,
    static_mac: Option<String>,
    interface_name: String,
}

/// POST `/libpod/networks/{name}/connect`: 200.
pub async fn connect(req: Request<Incoming>, name: String, pool: EnginePool) -> Resp {
    let b: ConnectBody = match read_json(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    if b.container.is_empty() {
        return error(&Error::invalid("no container given to connect"));
    }
    let attach = NetworkAttach {
        aliases: b.aliases.unwrap_or_default(),
        static_ips: b.static_ips.unwrap_or_default(),
        static_mac: b.static_mac.filter(|m| !m.is_empty()),
        interface_name: b.interface_name,
    };
    let ctr = b.container;
    match pool
        .run(move |e| e.network_connect(&name, &ctr, attach))
        .await
    {
        Ok(()) => json(StatusCode::OK, &"OK"),
        Err(e) => error(&e),
    }
}

/// Docker's `NetworkDisconnect`, which Podman's disconnect takes.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct DisconnectBody {
    container: String,
    force: bool,
}

/// POST `/libpod/networks/{name}/disconnect`: 200.
pub async fn disconnect(req: Request<Incoming>, name: String, pool: EnginePool) -> Resp {
    let b: DisconnectBody = match read_json(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let _ = b.force;
    if b.container.is_empty() {
        return error(&Error::invalid("no container given to disconnect"));
    }
    let ctr = b.container;
    match pool.run(move |e| e.network_disconnect(&name, &ctr)).await {
        Ok(()) => json(StatusCode::OK, &"OK"),
        Err(e) => error(&e),
    }
}

/// POST `/libpod/networks/prune?filters=`: Podman's `[{"Name", "Error"}]`.
pub async fn prune(req: Request<Incoming>, pool: EnginePool) -> Resp {
    let f = match filters(&query(&req)).and_then(|f| {
        f.iter()
            .map(|s| peapod_engine::system::PruneFilter::parse(s))
            .collect::<Result<Vec<_>, _>>()
    }) {
        Ok(f) => f,
        Err(e) => return error(&e),
    };
    match pool.run(move |e| e.prune_networks(&f)).await {
        Ok(r) => match r.errors.first() {
            Some(e) => error(e),
            None => json(
                StatusCode::OK,
                &r.networks
                    .iter()
                    .map(|n| json!({ "Name": n, "Error": null }))
                    .collect::<Vec<_>>(),
            ),
        },
        Err(e) => error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podmans_network_body_becomes_a_create_request() {
        // What podman 4.3's client sent for `network create --subnet 10.99.0.0/24 -l a=b n1`.
        let b: CreateBody = serde_json::from_str(
            r#"{"name":"n1","id":"","driver":"bridge","created":"0001-01-01T00:00:00Z",
            "subnets":[{"subnet":"10.99.0.0/24","gateway":"10.99.0.1"}],"ipv6_enabled":false,
            "internal":false,"dns_enabled":true,"labels":{"a":"b"},"ipam_options":{}}"#,
        )
        .unwrap();
        let r = create_request(&b);
        assert_eq!(r.name.as_deref(), Some("n1"));
        assert_eq!(r.subnets, ["10.99.0.0/24"]);
        assert_eq!(r.gateways, ["10.99.0.1"]);
        assert_eq!(r.labels, ["a=b"]);
        assert!(!r.disable_dns);
    }
}
