//! Networks that change: POST `/networks/create`, `/networks/{id}/connect`,
//! `/networks/{id}/disconnect`, `/networks/prune`, DELETE `/networks/{id}`.

use std::collections::BTreeMap;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use peapod_engine::Error;
use peapod_engine::container::NetworkAttach;
use peapod_engine::network::NetworkCreate;
use peapod_engine::system::PruneFilter;
use serde::Deserialize;
use serde_json::json;

use super::objects::engine_network_name;
use crate::http::{Resp, empty, engine_error, error_message, filters, json, query, read_json};
use crate::pool::EnginePool;

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct CreateBody {
    name: String,
    driver: String,
    internal: bool,
    #[serde(rename = "EnableIPv6")]
    enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    ipam: Option<Ipam>,
    options: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct Ipam {
    config: Option<Vec<IpamConfig>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct IpamConfig {
    subnet: String,
    #[serde(rename = "IPRange")]
    ip_range: String,
    gateway: String,
}

fn kv(m: &Option<BTreeMap<String, String>>) -> Vec<String> {
    m.iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect()
}

/// POST `/networks/create`: 201 `{"Id", "Warning"}`; 409 when the name is taken.
pub async fn create(req: Request<Incoming>, pool: EnginePool) -> Resp {
    let b: CreateBody = match read_json(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    if b.name.is_empty() {
        return engine_error(&Error::invalid("network name is required"));
    }
    let configs = b.ipam.as_ref().and_then(|i| i.config.as_ref());
    let pick = |f: fn(&IpamConfig) -> &String| -> Vec<String> {
        configs
            .into_iter()
            .flatten()
            .map(f)
            .filter(|s| !s.is_empty())
            .cloned()
            .collect()
    };
    let opts = NetworkCreate {
        name: Some(b.name.clone()),
        driver: Some(b.driver.clone()).filter(|d| !d.is_empty()),
        subnets: pick(|c| &c.subnet),
        gateways: pick(|c| &c.gateway),
        ip_ranges: pick(|c| &c.ip_range),
        internal: b.internal,
        labels: kv(&b.labels),
        options: kv(&b.options),
        ipv6: b.enable_ipv6,
        ..Default::default()
    };
    let name = b.name.clone();
    let r = pool
        .run(move |e| {
            if e.network(&name).is_ok() {
                return Ok(None);
            }
            e.network_create(&opts).map(Some)
        })
        .await;
    match r {
        Ok(Some(n)) => json(StatusCode::CREATED, &json!({ "Id": n.id, "Warning": "" })),
        Ok(None) => error_message(
            StatusCode::CONFLICT,
            &format!("network with name {} already exists", b.name),
        ),
        Err(e) => engine_error(&e),
    }
}

/// DELETE `/networks/{id}`: 204; 409 while containers use it.
pub async fn remove(name: String, pool: EnginePool) -> Resp {
    let name = engine_network_name(name);
    match pool
        .run(move |e| e.network_remove(&name, false, None))
        .await
    {
        Ok(_) => empty(StatusCode::NO_CONTENT),
        Err(e) => engine_error(&e),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct ConnectBody {
    container: String,
    endpoint_config: Option<EndpointConfig>,
    force: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct EndpointConfig {
    aliases: Option<Vec<String>>,
    #[serde(rename = "IPAMConfig")]
    ipam_config: Option<EndpointIpam>,
    mac_address: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct EndpointIpam {
    #[serde(rename = "IPv4Address")]
    ipv4: String,
    #[serde(rename = "IPv6Address")]
    ipv6: String,
}

/// POST `/networks/{id}/connect` and `/disconnect`: 200.
pub async fn connect(req: Request<Incoming>, name: String, pool: EnginePool, on: bool) -> Resp {
    let b: ConnectBody = match read_json(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let _ = b.force;
    if b.container.is_empty() {
        return engine_error(&Error::invalid("no container given to (dis)connect"));
    }
    let name = engine_network_name(name);
    let ep = b.endpoint_config.unwrap_or_default();
    let mut static_ips = Vec::new();
    for ip in ep.ipam_config.iter().flat_map(|i| [&i.ipv4, &i.ipv6]) {
        if ip.is_empty() {
            continue;
        }
        match ip.parse() {
            Ok(a) => static_ips.push(a),
            Err(_) => {
                return engine_error(&Error::invalid(format!("invalid IP address {ip:?}")));
            }
        }
    }
    let attach = NetworkAttach {
        aliases: ep.aliases.unwrap_or_default(),
        static_ips,
        static_mac: Some(ep.mac_address).filter(|m| !m.is_empty()),
        interface_name: String::new(),
    };
    let ctr = b.container;
    let r = pool
        .run(move |e| {
            if on {
                e.network_connect(&name, &ctr, attach)
            } else {
                e.network_disconnect(&name, &ctr)
            }
        })
        .await;
    match r {
        Ok(()) => empty(StatusCode::OK),
        Err(e) => engine_error(&e),
    }
}

/// The `filters` of a prune request as the engine's prune filters.
pub(super) fn prune_filters(req: &Request<Incoming>) -> Result<Vec<PruneFilter>, Error> {
    filters(&query(req))?
        .iter()
        .map(|f| PruneFilter::parse(f))
        .collect()
}

/// POST `/networks/prune`: `{"NetworksDeleted": [...]}`.
pub async fn prune(req: Request<Incoming>, pool: EnginePool) -> Resp {
    let f = match prune_filters(&req) {
        Ok(f) => f,
        Err(e) => return engine_error(&e),
    };
    match pool.run(move |e| e.prune_networks(&f)).await {
        Ok(r) => match r.errors.first() {
            Some(e) => engine_error(e),
            None => json(StatusCode::OK, &json!({ "NetworksDeleted": r.networks })),
        },
        Err(e) => engine_error(&e),
    }
}
