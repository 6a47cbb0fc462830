//! The plan of a `kube play`: every document read, typed and checked (kinds, field types,
//! images, claims, volumes, ports) and turned into pod and container create requests,
//! before anything is created.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use k8s_openapi::api::core::v1::{
    ConfigMap, Container as KubeContainer, PersistentVolumeClaim, PodSpec, Secret,
};

use super::play::PlayOptions;
use super::workload::{Workload, check_pod_count, need_name, workload};
use super::{DEFAULT_KUBE_NETWORK, INIT_TYPE_ANNOTATION, documents, parse_quantity, typed};
use crate::Engine;
use crate::container::restart::RestartPolicy;
use crate::container::spec::LogConfig;
use crate::container::{ContainerSpec, Resources};
use crate::error::{Error, Result};
use crate::network::{NetworkMode, NetworkSpec};
use crate::pod::PodCreateOptions;
use crate::volume::spec::{MountKind, MountSpec};

mod fields;
mod probe;
mod security;
pub(super) use fields::configmap_data;
#[allow(unused_imports)]
use fields::*;

/// A host path a pod needs, made at create time when its type says so.
#[derive(Debug, Clone)]
pub(super) struct HostPath {
    pub path: String,
    pub create_dir: bool,
    pub create_file: bool,
}

/// One pod to create.
#[derive(Debug, Clone)]
pub(super) struct PodPlan {
    /// How errors name the document it comes from.
    pub origin: String,
    pub pod: PodCreateOptions,
    /// Init containers first, in file order, then the containers.
    pub containers: Vec<ContainerSpec>,
    /// The name in the file of each of `containers` (a container is `POD-NAME`).
    pub kube_names: Vec<String>,
    pub host_paths: Vec<HostPath>,
    /// Volumes filled from ConfigMaps and Secrets: name, files.
    pub data_volumes: Vec<(String, BTreeMap<String, Vec<u8>>)>,
    /// Published ports to check: (protocol, host ip, host port).
    pub host_ports: Vec<(String, String, u16)>,
}

impl PodPlan {
    /// The same pod named `pod`: another replica of its Deployment. Everything else in a
    /// replica's plan is the template's, so it needs no second check.
    pub fn renamed(&self, pod: &str) -> PodPlan {
        let mut p = self.clone();
        p.pod.name = Some(pod.to_string());
        for (c, kube) in p.containers.iter_mut().zip(&self.kube_names) {
            c.name = Some(format!("{pod}-{kube}"));
            c.pod = Some(pod.to_string());
        }
        p
    }
}

/// The pods of one workload document: the plan of its first pod (none with `replicas: 0`);
/// the others are made from it one at a time.
pub(super) struct WorkloadPlan {
    pub workload: Workload,
    pub first: Option<PodPlan>,
}

/// Everything a file asks for.
#[derive(Default)]
pub(super) struct Plan {
    /// PersistentVolumeClaims: volume names.
    pub claims: Vec<String>,
    pub workloads: Vec<WorkloadPlan>,
}

/// Key/value data of ConfigMaps or Secrets, by object name.
pub(super) type DataObjects = BTreeMap<String, BTreeMap<String, Vec<u8>>>;

impl Engine {
    /// Read and check every document; nothing is created.
    pub(super) fn plan(
        &self,
        yaml: &str,
        mut configmaps: DataObjects,
        opts: &PlayOptions,
    ) -> Result<Plan> {
        let docs = documents(yaml)?;
        let mut plan = Plan::default();
        let mut secrets = DataObjects::new();
        let mut workloads = Vec::new();
        // Data kinds first, wherever they are in the file (Podman sorts them first too).
        for doc in docs {
            match doc.kind.as_str() {
                "ConfigMap" => {
                    let cm: ConfigMap = typed(yaml, &doc)?;
                    configmaps.insert(need_name(&doc)?, configmap_data(cm));
                }
                "Secret" => {
                    let s: Secret = typed(yaml, &doc)?;
                    secrets.insert(need_name(&doc)?, secret_data(s));
                }
                "PersistentVolumeClaim" => {
                    let _: PersistentVolumeClaim = typed(yaml, &doc)?;
                    let name = need_name(&doc)?;
                    crate::volume::spec::volume_name(&name).map_err(|e| {
                        Error::invalid(format!("{}: metadata.name: {e}", doc.label()))
                    })?;
                    plan.claims.push(name);
                }
                // A Service describes how a cluster routes to pods; a single host has
                // nothing to do for it (Podman ignores it too).
                "Service" => {}
                _ => match workload(yaml, &doc)? {
                    Some(w) => workloads.push(w),
                    None => {
                        return Err(Error::invalid(format!(
                            "{}: unknown kind {:?}: kube play supports Pod, Deployment, DaemonSet, Job, PersistentVolumeClaim, ConfigMap, Secret and Service",
                            doc.label(),
                            doc.kind
                        )));
                    }
                },
            }
        }
        let data = Data {
            configmaps: &configmaps,
            secrets: &secrets,
            claims: &plan.claims,
        };
        check_pod_count(&workloads)?;
        let mut seen = BTreeSet::new();
        for w in &workloads {
            for i in 0..w.count() {
                let name = w.pod_name(i);
                if !seen.insert(name.clone()) {
                    return Err(Error::invalid(format!(
                        "{}: pod name {name:?} is used twice in the file",
                        w.doc.label()
                    )));
                }
            }
        }
        let mut planned = Vec::with_capacity(workloads.len());
        for w in workloads {
            let first = if w.count() == 0 {
                None
            } else {
                Some(self.plan_pod(&w, &w.pod_name(0), &data, opts, w.count())?)
            };
            planned.push(WorkloadPlan { workload: w, first });
        }
        plan.workloads = planned;
        Ok(plan)
    }

    fn plan_pod(
        &self,
        w: &Workload,
        name: &str,
        data: &Data,
        opts: &PlayOptions,
        replicas: u32,
    ) -> Result<PodPlan> {
        let origin = w.doc.label();
        let spec = w
            .template
            .spec
            .as_ref()
            .ok_or_else(|| Error::invalid(format!("{origin}: spec: missing")))?;
        if !crate::names::valid_name(name) {
            return Err(Error::invalid(format!(
                "{origin}: metadata.name: invalid pod name {name:?}"
            )));
        }
        let restart = restart_policy(w, spec, &origin)?;
        let meta = w.template.metadata.as_ref();
        // As Podman: the pod's annotations go to each of its containers, checked by
        // Podman's rules (at most 256 KiB in all).
        let annotations = meta.and_then(|m| m.annotations.clone()).unwrap_or_default();
        crate::container::annotations::validate(&annotations)
            .map_err(|e| Error::invalid(format!("{origin}: metadata.annotations: {e}")))?;
        let annotations: Vec<String> = annotations
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let mut plan = PodPlan {
            origin: origin.clone(),
            pod: pod_options(w, spec, name, opts),
            containers: Vec::new(),
            kube_names: Vec::new(),
            host_paths: Vec::new(),
            data_volumes: Vec::new(),
            host_ports: Vec::new(),
        };
        let volumes = self.plan_volumes(spec, &origin, data, &mut plan)?;
        let init_type = init_type(w, &origin)?;
        let inits = spec.init_containers.as_deref().unwrap_or(&[]);
        if spec.containers.is_empty() {
            return Err(Error::invalid(format!(
                "{origin}: spec.containers: a pod needs at least one container"
            )));
        }
        let all = inits
            .iter()
            .enumerate()
            .map(|(i, c)| (format!("spec.initContainers[{i}]"), c, true))
            .chain(
                spec.containers
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (format!("spec.containers[{i}]"), c, false)),
            );
        for (field, c, init) in all {
            let mut co = self.plan_container(c, &field, name, spec, &volumes, data, &origin)?;
            if init {
                co.init_ctr = Some(init_type.to_string());
            } else {
                co.restart = Some(restart);
                co.health = probe::probes_health(c, restart);
                plan_ports(c, &field, &origin, replicas, &mut plan)?;
            }
            co.log = LogConfig {
                driver: opts.log_driver.unwrap_or_default(),
                ..Default::default()
            };
            co.create_command = opts.create_command.clone();
            co.annotations = annotations.clone();
            if plan.kube_names.contains(&c.name) {
                return Err(Error::invalid(format!(
                    "{origin}: {field}.name: {:?} is used twice",
                    c.name
                )));
            }
            plan.kube_names.push(c.name.clone());
            plan.containers.push(co);
        }
        Ok(plan)
    }

    /// The pod's volumes, by name, as `-v` sources (None for emptyDir: anonymous).
    fn plan_volumes(
        &self,
        spec: &PodSpec,
        origin: &str,
        data: &Data,
        plan: &mut PodPlan,
    ) -> Result<BTreeMap<String, PodVolume>> {
        let mut out = BTreeMap::new();
        for (i, v) in spec.volumes.as_deref().unwrap_or(&[]).iter().enumerate() {
            let field = format!("spec.volumes[{i}]");
            let vol = if let Some(hp) = &v.host_path {
                let path = crate::volume::spec::host_path(&hp.path)
                    .map_err(|e| Error::invalid(format!("{origin}: {field}.hostPath.path: {e}")))?;
                let t = hp.type_.as_deref().unwrap_or("");
                let exists = Path::new(&path).exists();
                let mut host = HostPath {
                    path: path.clone(),
                    create_dir: false,
                    create_file: false,
                };
                match t {
                    "" => {}
                    "DirectoryOrCreate" => host.create_dir = !exists,
                    "FileOrCreate" => host.create_file = !exists,
                    "Directory" if Path::new(&path).is_dir() => {}
                    "File" if Path::new(&path).is_file() => {}
                    "Socket" | "CharDevice" | "BlockDevice" if exists => {}
                    "Directory" | "File" | "Socket" | "CharDevice" | "BlockDevice" => {
                        return Err(Error::invalid(format!(
                            "{origin}: {field}.hostPath: {path} is not a {t} on this host"
                        )));
                    }
                    other => {
                        return Err(Error::invalid(format!(
                            "{origin}: {field}.hostPath.type: unknown type {other:?}"
                        )));
                    }
                }
                plan.host_paths.push(host);
                PodVolume::Source(MountKind::Bind, path, false)
            } else if v.empty_dir.is_some() {
                PodVolume::Anonymous
            } else if let Some(pvc) = &v.persistent_volume_claim {
                let claim = &pvc.claim_name;
                if !data.claims.contains(claim) && self.db.volume(claim)?.is_none() {
                    return Err(Error::invalid(format!(
                        "{origin}: {field}.persistentVolumeClaim.claimName: no volume or PersistentVolumeClaim named {claim:?}"
                    )));
                }
                PodVolume::Source(
                    MountKind::Volume,
                    claim.clone(),
                    pvc.read_only == Some(true),
                )
            } else if let Some(cm) = &v.config_map {
                let files = data_files(
                    data.configmaps.get(&cm.name),
                    cm.items.as_deref(),
                    cm.optional == Some(true),
                    || {
                        format!(
                            "{origin}: {field}.configMap: no ConfigMap named {:?}",
                            cm.name
                        )
                    },
                )?;
                plan.data_volumes.push((cm.name.clone(), files));
                PodVolume::Source(MountKind::Volume, cm.name.clone(), true)
            } else if let Some(s) = &v.secret {
                let name = s.secret_name.clone().unwrap_or_default();
                let files = data_files(
                    data.secrets.get(&name),
                    s.items.as_deref(),
                    s.optional == Some(true),
                    || format!("{origin}: {field}.secret: no Secret named {name:?}"),
                )?;
                plan.data_volumes.push((name.clone(), files));
                PodVolume::Source(MountKind::Volume, name, true)
            } else {
                return Err(Error::invalid(format!(
                    "{origin}: {field}: volume {:?}: only hostPath, emptyDir, persistentVolumeClaim, configMap and secret volumes are supported",
                    v.name
                )));
            };
            out.insert(v.name.clone(), vol);
        }
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn plan_container(
        &self,
        c: &KubeContainer,
        field: &str,
        pod: &str,
        spec: &PodSpec,
        volumes: &BTreeMap<String, PodVolume>,
        data: &Data,
        origin: &str,
    ) -> Result<ContainerSpec> {
        let image = c
            .image
            .clone()
            .filter(|i| !i.is_empty())
            .ok_or_else(|| Error::invalid(format!("{origin}: {field}.image: missing")))?;
        self.resolve_image(&image)
            .map_err(|e| Error::invalid(format!("{origin}: {field}.image: {e}")))?;
        let name = format!("{pod}-{}", c.name);
        if !crate::names::valid_name(&name) {
            return Err(Error::invalid(format!(
                "{origin}: {field}.name: invalid container name {:?}",
                c.name
            )));
        }
        // Kubernetes: `command` replaces the image's ENTRYPOINT (and drops its CMD), `args`
        // replaces its CMD.
        let command = c.command.clone().filter(|v| !v.is_empty());
        let args = c.args.clone().unwrap_or_default();
        let mut env = Vec::new();
        for (i, from) in c.env_from.as_deref().unwrap_or(&[]).iter().enumerate() {
            let prefix = from.prefix.clone().unwrap_or_default();
            let (kind, src, optional, objects) = if let Some(r) = &from.config_map_ref {
                ("ConfigMap", &r.name, r.optional, data.configmaps)
            } else if let Some(r) = &from.secret_ref {
                ("Secret", &r.name, r.optional, data.secrets)
            } else {
                continue;
            };
            match objects.get(src) {
                Some(kv) => {
                    for (k, v) in kv {
                        env.push(format!("{prefix}{k}={}", String::from_utf8_lossy(v)));
                    }
                }
                None if optional == Some(true) => {}
                None => {
                    return Err(Error::invalid(format!(
                        "{origin}: {field}.envFrom[{i}]: no {kind} named {src:?}"
                    )));
                }
            }
        }
        for (i, e) in c.env.as_deref().unwrap_or(&[]).iter().enumerate() {
            let value = match &e.value_from {
                None => e.value.clone().unwrap_or_default(),
                Some(src) => {
                    let (kind, obj, key, optional, objects) = if let Some(r) =
                        &src.config_map_key_ref
                    {
                        ("ConfigMap", &r.name, &r.key, r.optional, data.configmaps)
                    } else if let Some(r) = &src.secret_key_ref {
                        ("Secret", &r.name, &r.key, r.optional, data.secrets)
                    } else {
                        return Err(Error::invalid(format!(
                            "{origin}: {field}.env[{i}].valueFrom: only configMapKeyRef and secretKeyRef are supported"
                        )));
                    };
                    match objects.get(obj).and_then(|kv| kv.get(key)) {
                        Some(v) => String::from_utf8_lossy(v).into_owned(),
                        None if optional == Some(true) => continue,
                        None => {
                            return Err(Error::invalid(format!(
                                "{origin}: {field}.env[{i}].valueFrom: no key {key:?} in {kind} {obj:?}"
                            )));
                        }
                    }
                }
            };
            env.push(format!("{}={value}", e.name));
        }
        let pod_sc = spec.security_context.as_ref();
        let sc = c.security_context.as_ref();
        let uid = sc
            .and_then(|s| s.run_as_user)
            .or(pod_sc.and_then(|s| s.run_as_user));
        let gid = sc
            .and_then(|s| s.run_as_group)
            .or(pod_sc.and_then(|s| s.run_as_group));
        let user = match (uid, gid) {
            (Some(u), Some(g)) => Some(format!("{u}:{g}")),
            (Some(u), None) => Some(u.to_string()),
            (None, Some(g)) => Some(format!("0:{g}")),
            (None, None) => None,
        };
        let mut resources = Resources::default();
        if let Some(limits) = c.resources.as_ref().and_then(|r| r.limits.as_ref()) {
            if let Some(m) = limits.get("memory") {
                let bytes = parse_quantity(&m.0).map_err(|e| {
                    Error::invalid(format!("{origin}: {field}.resources.limits.memory: {e}"))
                })?;
                resources.memory = Some(bytes as i64);
            }
            if let Some(cpu) = limits.get("cpu") {
                let cpus = parse_quantity(&cpu.0).map_err(|e| {
                    Error::invalid(format!("{origin}: {field}.resources.limits.cpu: {e}"))
                })?;
                resources.nano_cpus = Some((cpus * 1e9).round() as i64);
            }
        }
        let mut mounts = Vec::new();
        for (i, m) in c.volume_mounts.as_deref().unwrap_or(&[]).iter().enumerate() {
            let mfield = format!("{field}.volumeMounts[{i}]");
            if m.sub_path.as_deref().is_some_and(|s| !s.is_empty()) {
                return Err(Error::invalid(format!(
                    "{origin}: {mfield}.subPath: not supported"
                )));
            }
            let (kind, source, vol_ro) = match volumes.get(&m.name) {
                None => {
                    return Err(Error::invalid(format!(
                        "{origin}: {mfield}.name: no volume named {:?} in spec.volumes",
                        m.name
                    )));
                }
                Some(PodVolume::Anonymous) => (MountKind::Anonymous, "", false),
                Some(PodVolume::Source(kind, src, ro)) => (*kind, src.as_str(), *ro),
            };
            let read_only = vol_ro || m.read_only == Some(true);
            let mount = MountSpec::new(kind, source, &m.mount_path, read_only)
                .map_err(|e| Error::invalid(format!("{origin}: {mfield}: {e}")))?;
            mounts.push(mount);
        }
        crate::volume::spec::check_duplicates(&mut mounts)
            .map_err(|e| Error::invalid(format!("{origin}: {field}.volumeMounts: {e}")))?;
        let sec = security::security(sc, pod_sc);
        Ok(ContainerSpec {
            security: sec.security,
            host: crate::container::hostcfg::HostFlags {
                read_only: sec.read_only,
                read_only_tmpfs: true,
                ..Default::default()
            },
            run_extras: crate::container::RunExtras {
                group_add: sec.group_add,
                ..Default::default()
            },
            image,
            name: Some(name),
            entrypoint: command.clone(),
            command: args,
            env,
            workdir: c.working_dir.clone().filter(|w| !w.is_empty()),
            user,
            tty: c.tty == Some(true),
            interactive: c.stdin == Some(true),
            resources,
            mounts,
            pod: Some(pod.to_string()),
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_volume_files() {
        let mut obj = BTreeMap::new();
        obj.insert("a".to_string(), b"1".to_vec());
        obj.insert("b".to_string(), b"2".to_vec());
        let all = data_files(Some(&obj), None, false, || "x".into()).unwrap();
        assert_eq!(all.len(), 2);
        let items = vec![k8s_openapi::api::core::v1::KeyToPath {
            key: "b".into(),
            path: "sub/b.txt".into(),
            mode: None,
        }];
        let some = data_files(Some(&obj), Some(&items), false, || "x".into()).unwrap();
        assert_eq!(some.get("sub/b.txt").unwrap(), b"2");
        assert!(
            data_files(None, None, true, || "x".into())
                .unwrap()
                .is_empty()
        );
        assert!(data_files(None, None, false, || "gone".into()).is_err());
        let evil = vec![k8s_openapi::api::core::v1::KeyToPath {
            key: "a".into(),
            path: "../../etc/x".into(),
            mode: None,
        }];
        assert!(data_files(Some(&obj), Some(&evil), false, || "x".into()).is_err());
    }

    #[test]
    fn secrets_are_decoded() {
        let y = "kind: Secret\nmetadata: {name: s}\ndata:\n  pw: aHVudGVyMg==\nstringData:\n  user: bob\n";
        let d = documents(y).unwrap();
        let s: Secret = typed(y, &d[0]).unwrap();
        let data = secret_data(s);
        assert_eq!(data["pw"], b"hunter2");
        assert_eq!(data["user"], b"bob");
    }

    #[test]
    fn a_replica_is_the_first_pod_renamed() {
        let first = PodPlan {
            origin: "o".into(),
            pod: PodCreateOptions {
                name: Some("web-pod-0".into()),
                ..Default::default()
            },
            containers: vec![
                ContainerSpec {
                    name: Some("web-pod-0-init".into()),
                    pod: Some("web-pod-0".into()),
                    ..Default::default()
                },
                ContainerSpec {
                    name: Some("web-pod-0-app".into()),
                    pod: Some("web-pod-0".into()),
                    ..Default::default()
                },
            ],
            kube_names: vec!["init".into(), "app".into()],
            host_paths: Vec::new(),
            data_volumes: Vec::new(),
            host_ports: Vec::new(),
        };
        let r = first.renamed("web-pod-7");
        assert_eq!(r.pod.name.as_deref(), Some("web-pod-7"));
        let names: Vec<_> = r
            .containers
            .iter()
            .map(|c| c.name.clone().unwrap())
            .collect();
        assert_eq!(names, ["web-pod-7-init", "web-pod-7-app"]);
        assert!(
            r.containers
                .iter()
                .all(|c| c.pod.as_deref() == Some("web-pod-7"))
        );
    }
}
