//! Pieces of generated Kubernetes objects: names and labels, volumes, ports, the service,
//! claims, and the workload wrapping (Deployment or Pod).

#[allow(unused_imports)]
use super::*;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

pub(super) fn to_yaml<T: Serialize>(v: &T) -> Result<String> {
    let text =
        serde_yaml_ng::to_string(v).map_err(|e| Error::other(format!("writing YAML: {e}")))?;
    Ok(quote_timestamps(&text))
}

/// `creationTimestamp: "…"` quoted, as Go's YAML writes it: unquoted, a YAML 1.1 reader
/// (PyYAML, Ruby's) takes it for a timestamp rather than the string Kubernetes defines.
fn quote_timestamps(yaml: &str) -> String {
    let mut out = String::with_capacity(yaml.len() + 8);
    for line in yaml.split_inclusive('\n') {
        let body = line.trim_end_matches('\n');
        let key = body.trim_start();
        match key.strip_prefix("creationTimestamp: ") {
            Some(v) if !v.starts_with(['"', '\'']) && v != "null" => {
                let indent = &body[..body.len() - key.len()];
                out.push_str(&format!("{indent}creationTimestamp: \"{v}\""));
                out.push_str(&line[body.len()..]);
            }
            _ => out.push_str(line),
        }
    }
    out
}

/// Kubernetes' `app` label: the name without underscores (Podman's rule).
pub(super) fn app_label(name: &str) -> String {
    name.replace('_', "")
}

/// A DNS label from any name: lowercase, `[a-z0-9-]`, at most 63 characters.
pub(super) fn dns_label(s: &str) -> String {
    let mut out: String = s
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    out = out.trim_matches('-').to_string();
    out.truncate(55);
    out.trim_end_matches('-').to_string()
}

/// Podman's hostPath volume name before its `-host`: the path with `/` as `-`; `/` is
/// `root`.
pub(super) fn host_volume_base(path: &str) -> String {
    let base = dns_label(path);
    if base.is_empty() { "root".into() } else { base }
}

/// What a pod volume stands for: volumes for the same thing are one pod volume.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum VolumeSource {
    Host(String),
    Named(String),
    /// A container's (by id) anonymous volume or tmpfs at a path.
    Private(String, String),
}

/// The volumes of a pod being generated, each under a name of its own. Names that
/// sanitize to the same DNS label (`my_vol` and `my-vol` both give `my-vol`) get `-1`,
/// `-2`, … in the order the pod's containers and mounts come, so the same pod always gives
/// the same names.
#[derive(Default)]
pub(super) struct PodVolumes {
    pub(super) by_source: BTreeMap<VolumeSource, String>,
    pub(super) by_name: BTreeMap<String, Volume>,
}

impl PodVolumes {
    /// The pod volume's name for `source`; made with `make` under `base` + `suffix` (or a
    /// numbered variant of it) the first time.
    pub(super) fn name_for(
        &mut self,
        source: VolumeSource,
        base: &str,
        suffix: &str,
        make: impl FnOnce(&str) -> Volume,
    ) -> String {
        if let Some(name) = self.by_source.get(&source) {
            return name.clone();
        }
        let name = unique_label(base, suffix, |n| self.by_name.contains_key(n));
        self.by_name.insert(name.clone(), make(&name));
        self.by_source.insert(source, name.clone());
        name
    }
}

/// `base` + `suffix`, or `base-N` + `suffix` for the first N that is not `taken`; the base
/// is cut so that the whole stays a DNS label (at most 63 characters).
pub(super) fn unique_label(base: &str, suffix: &str, taken: impl Fn(&str) -> bool) -> String {
    let base = if base.is_empty() { "volume" } else { base };
    let fit = |tail: &str| {
        let mut b = base.to_string();
        b.truncate(63 - tail.len());
        format!("{}{tail}", b.trim_end_matches('-'))
    };
    let plain = fit(suffix);
    if !taken(&plain) {
        return plain;
    }
    (1..)
        .map(|n| fit(&format!("-{n}{suffix}")))
        .find(|c| !taken(c))
        .expect("a free name")
}

pub(super) fn restart_policy(p: &str) -> Option<&'static str> {
    match p {
        "always" | "unless-stopped" => Some("Always"),
        "on-failure" => Some("OnFailure"),
        "no" => Some("Never"),
        _ => None,
    }
}

/// `runAsUser`/`runAsGroup` when the user is numeric (names mean nothing to a cluster).
/// A container's `securityContext` as Podman 4.3's generate kube writes it
/// (`generateKubeSecurityContext`): capabilities added and dropped against the default set
/// (none for a privileged container), `privileged`, `readOnlyRootFilesystem`,
/// `allowPrivilegeEscalation: false` for no-new-privileges, and a numeric user and group;
/// None when it would be empty.
pub(super) fn security_context(
    user: &str,
    sec: Option<&crate::container::SecurityConfig>,
    read_only: bool,
    default_caps: &[&str],
) -> Option<SecurityContext> {
    let mut sc = SecurityContext::default();
    if !user.is_empty() {
        let (u, g) = user.split_once(':').unwrap_or((user, ""));
        sc.run_as_user = u.parse::<i64>().ok();
        sc.run_as_group = g.parse::<i64>().ok();
    }
    if let Some(sec) = sec {
        if sec.privileged {
            sc.privileged = Some(true);
        } else {
            let drop: Vec<String> = default_caps
                .iter()
                .filter(|c| !sec.bounding.iter().any(|b| b == **c))
                .map(|c| c.to_string())
                .collect();
            let add: Vec<String> = sec
                .bounding
                .iter()
                .filter(|c| !default_caps.contains(&c.as_str()))
                .cloned()
                .collect();
            if !add.is_empty() || !drop.is_empty() {
                sc.capabilities = Some(k8s_openapi::api::core::v1::Capabilities {
                    add: (!add.is_empty()).then_some(add),
                    drop: (!drop.is_empty()).then_some(drop),
                });
            }
        }
        if sec.no_new_privileges {
            sc.allow_privilege_escalation = Some(false);
        }
    }
    if read_only {
        sc.read_only_root_filesystem = Some(true);
    }
    (sc != SecurityContext::default()).then_some(sc)
}

pub(super) fn protocol(p: &str) -> Option<String> {
    match p {
        "" | "tcp" => None,
        other => Some(other.to_ascii_uppercase()),
    }
}

pub(super) fn kube_ports(ports: &[PortMapping]) -> Option<Vec<ContainerPort>> {
    let mut out = Vec::new();
    for p in ports {
        for proto in crate::network::ports::protocols(p) {
            for i in 0..p.range.max(1) {
                out.push(ContainerPort {
                    container_port: i32::from(p.container_port + i),
                    host_port: (p.host_port != 0).then(|| i32::from(p.host_port + i)),
                    host_ip: (!p.host_ip.is_empty() && p.host_ip != "0.0.0.0")
                        .then(|| p.host_ip.clone()),
                    protocol: protocol(proto),
                    name: None,
                });
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

pub(super) fn service(name: &str, ports: &[PortMapping]) -> Option<Service> {
    let mut sp = Vec::new();
    for p in kube_ports(ports).unwrap_or_default() {
        let Some(host) = p.host_port else { continue };
        let proto = p.protocol.clone().unwrap_or_else(|| "TCP".into());
        sp.push(ServicePort {
            name: Some(format!("{host}-{}", proto.to_ascii_lowercase())),
            port: host,
            target_port: Some(IntOrString::Int(p.container_port)),
            protocol: Some(proto),
            // A cluster only accepts node ports in its node-port range (30000-32767 by
            // default); elsewhere it picks one.
            node_port: (30000..=32767).contains(&host).then_some(host),
            ..Default::default()
        });
    }
    if sp.is_empty() {
        return None;
    }
    Some(Service {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(BTreeMap::from([("app".into(), app_label(name))])),
            ..Default::default()
        },
        spec: Some(ServiceSpec {
            ports: Some(sp),
            selector: Some(BTreeMap::from([("app".into(), app_label(name))])),
            type_: Some("NodePort".into()),
            ..Default::default()
        }),
        status: None,
    })
}

pub(super) fn pvc(v: &crate::volume::Volume) -> PersistentVolumeClaim {
    let mut annotations = BTreeMap::new();
    if v.driver != "local" && !v.driver.is_empty() {
        annotations.insert("volume.podman.io/driver".to_string(), v.driver.clone());
    }
    for (k, val) in &v.options {
        annotations.insert(format!("volume.podman.io/{k}"), val.clone());
    }
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(v.name.clone()),
            annotations: (!annotations.is_empty()).then_some(annotations),
            ..Default::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_string(),
                    Quantity("1Gi".into()),
                )])),
                limits: None,
            }),
            ..Default::default()
        }),
        status: None,
    }
}

/// The pod template as the requested kind, as YAML.
pub(super) fn workload_yaml(
    name: &str,
    mut template: PodTemplateSpec,
    opts: &GenerateOptions,
    from_pod: bool,
) -> Result<String> {
    let labels = BTreeMap::from([("app".to_string(), app_label(name))]);
    let meta = |suffix: &str| ObjectMeta {
        name: Some(format!("{name}{suffix}")),
        labels: Some(labels.clone()),
        ..Default::default()
    };
    let selector = LabelSelector {
        match_labels: Some(labels.clone()),
        match_expressions: None,
    };
    let spec = template.spec.as_mut().expect("templates have a spec");
    match opts.kind {
        KubeType::Pod => {
            let mut metadata = template.metadata.unwrap_or_default();
            // The time of the generation, as Podman writes it (Kubernetes wants one).
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            metadata.creation_timestamp = k8s_openapi::jiff::Timestamp::from_second(now)
                .ok()
                .map(Time);
            to_yaml(&KubePod {
                metadata,
                spec: template.spec,
                // Podman 4.3 writes a pod's empty status (`status: {}`), none for containers.
                status: from_pod.then(Default::default),
            })
        }
        KubeType::Deployment => {
            // Deployments only run with restartPolicy Always (Podman forces it too).
            spec.restart_policy = Some("Always".into());
            to_yaml(&Deployment {
                metadata: meta("-deployment"),
                spec: Some(DeploymentSpec {
                    replicas: Some(opts.replicas.unwrap_or(1)),
                    selector,
                    template: strip_template(template),
                    ..Default::default()
                }),
                status: None,
            })
        }
        KubeType::DaemonSet => {
            spec.restart_policy = Some("Always".into());
            to_yaml(&DaemonSet {
                metadata: meta("-daemonset"),
                spec: Some(DaemonSetSpec {
                    selector,
                    template: strip_template(template),
                    ..Default::default()
                }),
                status: None,
            })
        }
        KubeType::Job => {
            // A Job's pods must not restart forever: Never unless OnFailure was asked for.
            if spec.restart_policy.as_deref() != Some("OnFailure") {
                spec.restart_policy = Some("Never".into());
            }
            to_yaml(&Job {
                metadata: meta("-job"),
                spec: Some(JobSpec {
                    template: strip_template(template),
                    ..Default::default()
                }),
                status: None,
            })
        }
    }
}

/// A template's metadata holds labels and annotations (a name there means nothing to a
/// controller).
pub(super) fn strip_template(mut t: PodTemplateSpec) -> PodTemplateSpec {
    if let Some(m) = t.metadata.as_mut() {
        m.name = None;
    }
    t
}

#[cfg(test)]
mod timestamp_tests {
    #[test]
    fn creation_timestamps_are_quoted() {
        let y = "metadata:\n  creationTimestamp: 2026-12-06T21:21:30Z\n  name: p\n";
        assert_eq!(
            super::quote_timestamps(y),
            "metadata:\n  creationTimestamp: \"2026-12-06T21:21:30Z\"\n  name: p\n"
        );
        let q = "  creationTimestamp: null\n";
        assert_eq!(super::quote_timestamps(q), q);
    }
}
