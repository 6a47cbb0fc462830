//! Kubernetes fields turned into peapod's requests: the pod's options, restart policy, init
//! type, ports, and the files of ConfigMap and Secret volumes.

#[allow(unused_imports)]
use super::*;

/// What a pod volume mounts.
#[derive(Debug, Clone)]
pub(super) enum PodVolume {
    /// A host path (bind) or a volume's name, and whether the volume itself is read-only.
    Source(MountKind, String, bool),
    /// emptyDir: an anonymous volume.
    Anonymous,
}

pub(super) struct Data<'a> {
    pub(super) configmaps: &'a DataObjects,
    pub(super) secrets: &'a DataObjects,
    pub(super) claims: &'a [String],
}

/// The pod's own create request: name, hostname, labels, networks, an infra container.
pub(super) fn pod_options(
    w: &Workload,
    spec: &PodSpec,
    name: &str,
    opts: &PlayOptions,
) -> PodCreateOptions {
    PodCreateOptions {
        name: Some(name.to_string()),
        hostname: spec.hostname.clone(),
        labels: w
            .template
            .metadata
            .as_ref()
            .and_then(|m| m.labels.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        infra: true,
        network: NetworkSpec {
            mode: if spec.host_network == Some(true) {
                NetworkMode::Host
            } else if opts.network == NetworkMode::Default {
                NetworkMode::Bridge(vec![crate::network::NetworkRequest::named(
                    DEFAULT_KUBE_NETWORK,
                )])
            } else {
                opts.network.clone()
            },
            ..Default::default()
        },
        create_command: opts.create_command.clone(),
        ..Default::default()
    }
}

/// The restart policy of the pod's containers: a Deployment's and DaemonSet's are always
/// `always`; otherwise `spec.restartPolicy` or the kind's default.
pub(super) fn restart_policy(w: &Workload, spec: &PodSpec, origin: &str) -> Result<RestartPolicy> {
    if let Some(r) = w.forced_restart {
        return Ok(r);
    }
    Ok(match spec.restart_policy.as_deref() {
        None => w.default_restart,
        Some("Always") => RestartPolicy::Always,
        Some("OnFailure") => RestartPolicy::OnFailure { max_retries: 0 },
        Some("Never") => RestartPolicy::No,
        Some(other) => {
            return Err(Error::invalid(format!(
                "{origin}: spec.restartPolicy: {other:?} is not Always, OnFailure or Never"
            )));
        }
    })
}

/// Kubernetes runs init containers once per pod start; Podman's annotation asks for
/// `always` (run again on every start) instead.
pub(super) fn init_type(w: &Workload, origin: &str) -> Result<&'static str> {
    match w
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.as_ref())
        .and_then(|a| a.get(INIT_TYPE_ANNOTATION))
        .map(String::as_str)
    {
        None | Some("once") => Ok("once"),
        Some("always") => Ok("always"),
        Some(other) => Err(Error::invalid(format!(
            "{origin}: metadata.annotations: {INIT_TYPE_ANNOTATION}: {other:?} is not always or once"
        ))),
    }
}

/// A container's `ports`: published on the pod when they name a hostPort.
pub(super) fn plan_ports(
    c: &KubeContainer,
    field: &str,
    origin: &str,
    replicas: u32,
    plan: &mut PodPlan,
) -> Result<()> {
    for (j, p) in c.ports.as_deref().unwrap_or(&[]).iter().enumerate() {
        let pfield = format!("{field}.ports[{j}]");
        let cport = port_number(p.container_port, origin, &pfield, "containerPort")?;
        // Podman 4.3 publishes a containerPort without a hostPort on the same host port
        // (`getPodPorts`). Replicas of one pod cannot all bind it: they publish only the
        // hostPorts they were given (refused below).
        let Some(hp) = p
            .host_port
            .filter(|h| *h != 0)
            .or((replicas == 1).then_some(p.container_port))
        else {
            continue;
        };
        let hport = port_number(hp, origin, &pfield, "hostPort")?;
        if replicas > 1 {
            return Err(Error::invalid(format!(
                "{origin}: {pfield}.hostPort: {hport} cannot be published by {replicas} replicas: one host can bind a port only once (use replicas: 1 or drop hostPort)"
            )));
        }
        let proto = match p.protocol.as_deref().unwrap_or("TCP") {
            "TCP" | "tcp" => "tcp",
            "UDP" | "udp" => "udp",
            "SCTP" | "sctp" => "sctp",
            other => {
                return Err(Error::invalid(format!(
                    "{origin}: {pfield}.protocol: unknown protocol {other:?}"
                )));
            }
        };
        let ip = p.host_ip.clone().unwrap_or_default();
        if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
            return Err(Error::invalid(format!(
                "{origin}: {pfield}.hostIP: {ip:?} is not an IP address"
            )));
        }
        plan.pod.network.publish.push(crate::network::PortMapping {
            host_ip: ip.clone(),
            container_port: cport,
            host_port: hport,
            range: 1,
            protocol: proto.to_string(),
        });
        plan.host_ports.push((proto.to_string(), ip, hport));
    }
    Ok(())
}

pub(super) fn port_number(p: i32, origin: &str, field: &str, what: &str) -> Result<u16> {
    u16::try_from(p).ok().filter(|p| *p != 0).ok_or_else(|| {
        Error::invalid(format!(
            "{origin}: {field}.{what}: {p} is not a port number (1-65535)"
        ))
    })
}

pub(in crate::kube) fn configmap_data(cm: ConfigMap) -> BTreeMap<String, Vec<u8>> {
    let mut out: BTreeMap<String, Vec<u8>> = cm
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.into_bytes()))
        .collect();
    for (k, v) in cm.binary_data.unwrap_or_default() {
        out.insert(k, v.0);
    }
    out
}

pub(super) fn secret_data(s: Secret) -> BTreeMap<String, Vec<u8>> {
    let mut out: BTreeMap<String, Vec<u8>> = s
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect();
    for (k, v) in s.string_data.unwrap_or_default() {
        out.insert(k, v.into_bytes());
    }
    out
}

/// The files a configMap or secret volume holds: every key, or the listed items.
pub(super) fn data_files(
    obj: Option<&BTreeMap<String, Vec<u8>>>,
    items: Option<&[k8s_openapi::api::core::v1::KeyToPath]>,
    optional: bool,
    missing: impl Fn() -> String,
) -> Result<BTreeMap<String, Vec<u8>>> {
    let Some(obj) = obj else {
        if optional {
            return Ok(BTreeMap::new());
        }
        return Err(Error::invalid(missing()));
    };
    let mut out = BTreeMap::new();
    match items {
        None => {
            for (k, v) in obj {
                out.insert(k.clone(), v.clone());
            }
        }
        Some(items) => {
            for it in items {
                let v = obj
                    .get(&it.key)
                    .ok_or_else(|| Error::invalid(format!("{}: no key {:?}", missing(), it.key)))?;
                out.insert(it.path.clone(), v.clone());
            }
        }
    }
    for k in out.keys() {
        if k.is_empty() || k.starts_with('/') || k.split('/').any(|c| c == "..") {
            return Err(Error::invalid(format!(
                "{}: unsafe file name {k:?}",
                missing()
            )));
        }
    }
    Ok(out)
}
