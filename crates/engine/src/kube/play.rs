//! `kube play` and `kube down`: Kubernetes workloads become pods.
//!
//! Play works in three steps. First every document is read and turned into a plan (pods
//! with their create requests, volumes to make, files to write) and checked: kinds, field
//! types, images, claims, ports. Then, with `--replace`, the pods a previous play of the
//! same file made are torn down. Only then is anything created; if a step fails, every pod
//! and volume this play created is removed again, so a failed play leaves nothing behind.
//!
//! Naming follows Podman: a Pod keeps its name, a Deployment, DaemonSet or Job becomes
//! `NAME-pod`, and containers are `POD-CONTAINER`. Unlike Podman, which clamps a
//! Deployment's replicas to one, `replicas: N` gives N pods `NAME-pod-0` … `NAME-pod-(N-1)`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    ConfigMap, Container as KubeContainer, PersistentVolumeClaim, Pod as KubePod, PodSpec,
    PodTemplateSpec, Secret,
};

use super::{
    DEFAULT_KUBE_NETWORK, Document, INIT_TYPE_ANNOTATION, documents, parse_quantity, typed,
};
use crate::Engine;
use crate::container::{CreateOptions, ResourceFlags};
use crate::error::{Error, IoContext, Result};
use crate::network::NetworkFlags;
use crate::pod::PodCreateOptions;
use crate::volume::VolumeCreateOptions;

/// A `kube play` request.
#[derive(Debug, Clone, Default)]
pub struct PlayOptions {
    /// `--replace`: tear down the pods of a previous play of the same file first.
    pub replace: bool,
    /// `--start` (default true): start the pods after creating them.
    pub start: bool,
    /// `--network`: the networks every pod joins (default: the kube network).
    pub network: Vec<String>,
    /// `--configmap FILE`: ConfigMap documents read before the played file's.
    pub configmaps: Vec<String>,
    /// `--log-driver`.
    pub log_driver: Option<String>,
    /// The command line, recorded on what is created.
    pub create_command: Vec<String>,
}

/// One pod a play made.
#[derive(Debug, Clone, Default)]
pub struct PlayedPod {
    pub id: String,
    pub name: String,
    /// Its containers' ids (not the infra nor the init containers), in file order.
    pub containers: Vec<String>,
    pub init_containers: Vec<String>,
}

/// What `--replace` or `kube down` tore down: pod ids.
#[derive(Debug, Clone, Default)]
pub struct TeardownReport {
    pub stopped: Vec<String>,
    pub removed: Vec<String>,
}

/// What a play did.
#[derive(Debug, Clone, Default)]
pub struct PlayReport {
    /// With `--replace`: the pods of the previous play.
    pub teardown: Option<TeardownReport>,
    /// Volumes created for PersistentVolumeClaims of the file.
    pub volumes: Vec<String>,
    pub pods: Vec<PlayedPod>,
}

/// A host path a pod needs, made at create time when its type says so.
#[derive(Debug, Clone)]
struct HostPath {
    path: String,
    create_dir: bool,
    create_file: bool,
}

/// One pod to create.
#[derive(Debug, Clone)]
struct PodPlan {
    origin: String,
    pod: PodCreateOptions,
    /// Init containers first, in file order, then the containers.
    containers: Vec<CreateOptions>,
    host_paths: Vec<HostPath>,
    /// Volumes filled from ConfigMaps and Secrets: name, files.
    data_volumes: Vec<(String, BTreeMap<String, Vec<u8>>)>,
    /// Published ports to check: (protocol, host ip, host port).
    host_ports: Vec<(String, String, u16)>,
}

/// Everything a file asks for.
#[derive(Debug, Default)]
struct Plan {
    /// PersistentVolumeClaims: volume names.
    claims: Vec<String>,
    pods: Vec<PodPlan>,
}

/// Key/value data of ConfigMaps or Secrets, by object name.
type DataObjects = BTreeMap<String, BTreeMap<String, Vec<u8>>>;

/// What a workload document says, whatever its kind.
struct Workload {
    doc: Document,
    /// Pod names to create, one per replica.
    pod_names: Vec<String>,
    template: PodTemplateSpec,
    forced_restart: Option<&'static str>,
    default_restart: &'static str,
}

impl Engine {
    /// `kube play`: create (and start) what `yaml` describes.
    pub fn play_kube(&self, yaml: &str, opts: &PlayOptions) -> Result<PlayReport> {
        let mut configmaps = DataObjects::new();
        for file in &opts.configmaps {
            let text = std::fs::read_to_string(file)
                .map_err(|e| Error::invalid(format!("reading --configmap {file}: {e}")))?;
            for doc in documents(&text)? {
                if doc.kind != "ConfigMap" {
                    return Err(Error::invalid(format!(
                        "--configmap {file}: {}: only ConfigMap documents are allowed",
                        doc.label()
                    )));
                }
                let cm: ConfigMap = typed(&text, &doc)?;
                configmaps.insert(doc.name.clone(), configmap_data(cm));
            }
        }
        let plan = self.plan(yaml, configmaps, opts)?;

        let mut report = PlayReport::default();
        if opts.replace {
            let names: Vec<String> = plan.pods.iter().map(pod_name).collect();
            report.teardown = Some(self.teardown_pods(&names)?);
        }
        self.check_ports(&plan)?;

        let mut made = Made::default();
        match self.create_plan(&plan, opts, &mut made, &mut report) {
            Ok(()) => Ok(report),
            Err(e) => {
                self.undo(&made);
                Err(e)
            }
        }
    }

    /// The images the file's workloads use, with their `imagePullPolicy`, in file order
    /// (each once): the CLI pulls them before the play, as Podman does.
    pub fn kube_images(&self, yaml: &str) -> Result<Vec<(String, Option<String>)>> {
        let mut out: Vec<(String, Option<String>)> = Vec::new();
        for doc in documents(yaml)? {
            let Some(w) = workload(yaml, &doc)? else {
                continue;
            };
            let Some(spec) = w.template.spec else {
                continue;
            };
            let all = spec
                .init_containers
                .iter()
                .flatten()
                .chain(spec.containers.iter());
            for c in all {
                if let Some(i) = c.image.clone().filter(|i| !i.is_empty())
                    && !out.iter().any(|(x, _)| *x == i)
                {
                    out.push((i, c.image_pull_policy.clone()));
                }
            }
        }
        Ok(out)
    }

    /// `kube down` (and `play --down`): stop and remove the pods the file describes.
    /// Volumes stay, as in Podman.
    pub fn kube_down(&self, yaml: &str) -> Result<TeardownReport> {
        let mut names = Vec::new();
        for doc in documents(yaml)? {
            if let Some(w) = workload(yaml, &doc)? {
                names.extend(w.pod_names);
            }
        }
        self.teardown_pods(&names)
    }

    fn teardown_pods(&self, names: &[String]) -> Result<TeardownReport> {
        let mut report = TeardownReport::default();
        let mut errors = Vec::new();
        let pods = self.pods()?;
        for name in names {
            let Some(pod) = pods.iter().find(|p| p.name() == name) else {
                continue;
            };
            match self.stop_pod(pod.id(), None) {
                Ok(_) => report.stopped.push(pod.id().to_string()),
                Err(e) => errors.push(e),
            }
            match self.remove_pod(pod.id(), true, Some(0)) {
                Ok(_) => report.removed.push(pod.id().to_string()),
                Err(e) => errors.push(e),
            }
        }
        Error::collect(errors)?;
        Ok(report)
    }

    /// Read and check every document; nothing is created.
    fn plan(&self, yaml: &str, mut configmaps: DataObjects, opts: &PlayOptions) -> Result<Plan> {
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
        let mut seen = BTreeSet::new();
        for w in &workloads {
            for name in &w.pod_names {
                if !seen.insert(name.clone()) {
                    return Err(Error::invalid(format!(
                        "{}: pod name {name:?} is used twice in the file",
                        w.doc.label()
                    )));
                }
                plan.pods
                    .push(self.plan_pod(w, name, &data, opts, w.pod_names.len())?);
            }
        }
        Ok(plan)
    }

    fn plan_pod(
        &self,
        w: &Workload,
        name: &str,
        data: &Data,
        opts: &PlayOptions,
        replicas: usize,
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
        let restart = match w.forced_restart {
            Some(r) => r,
            None => match spec.restart_policy.as_deref() {
                None => w.default_restart,
                Some("Always") => "always",
                Some("OnFailure") => "on-failure",
                Some("Never") => "no",
                Some(other) => {
                    return Err(Error::invalid(format!(
                        "{origin}: spec.restartPolicy: {other:?} is not Always, OnFailure or Never"
                    )));
                }
            },
        };
        let mut plan = PodPlan {
            origin: origin.clone(),
            pod: PodCreateOptions {
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
                network: NetworkFlags {
                    network: if spec.host_network == Some(true) {
                        vec!["host".into()]
                    } else if opts.network.is_empty() {
                        vec![DEFAULT_KUBE_NETWORK.into()]
                    } else {
                        opts.network.clone()
                    },
                    ..Default::default()
                },
                create_command: opts.create_command.clone(),
                ..Default::default()
            },
            containers: Vec::new(),
            host_paths: Vec::new(),
            data_volumes: Vec::new(),
            host_ports: Vec::new(),
        };
        let volumes = self.plan_volumes(spec, &origin, data, &mut plan)?;
        let inits = spec.init_containers.as_deref().unwrap_or(&[]);
        // Kubernetes runs init containers once per pod start; Podman's annotation asks for
        // `always` (run again on every start) instead.
        let init_type = match w
            .template
            .metadata
            .as_ref()
            .and_then(|m| m.annotations.as_ref())
            .and_then(|a| a.get(INIT_TYPE_ANNOTATION))
            .map(String::as_str)
        {
            None | Some("once") => "once".to_string(),
            Some("always") => "always".to_string(),
            Some(other) => {
                return Err(Error::invalid(format!(
                    "{origin}: metadata.annotations: {INIT_TYPE_ANNOTATION}: {other:?} is not always or once"
                )));
            }
        };
        let mut names = BTreeSet::new();
        for (i, c) in inits.iter().enumerate() {
            let field = format!("spec.initContainers[{i}]");
            let mut co = self.plan_container(c, &field, name, spec, &volumes, data, &origin)?;
            co.init_ctr = Some(init_type.clone());
            co.log_driver = opts.log_driver.clone();
            co.create_command = opts.create_command.clone();
            if !names.insert(c.name.clone()) {
                return Err(Error::invalid(format!(
                    "{origin}: {field}.name: {:?} is used twice",
                    c.name
                )));
            }
            plan.containers.push(co);
        }
        if spec.containers.is_empty() {
            return Err(Error::invalid(format!(
                "{origin}: spec.containers: a pod needs at least one container"
            )));
        }
        for (i, c) in spec.containers.iter().enumerate() {
            let field = format!("spec.containers[{i}]");
            let mut co = self.plan_container(c, &field, name, spec, &volumes, data, &origin)?;
            co.restart = Some(restart.to_string());
            co.log_driver = opts.log_driver.clone();
            co.create_command = opts.create_command.clone();
            if !names.insert(c.name.clone()) {
                return Err(Error::invalid(format!(
                    "{origin}: {field}.name: {:?} is used twice",
                    c.name
                )));
            }
            for (j, p) in c.ports.as_deref().unwrap_or(&[]).iter().enumerate() {
                let pfield = format!("{field}.ports[{j}]");
                let cport = port_number(p.container_port, &origin, &pfield, "containerPort")?;
                let Some(hp) = p.host_port else { continue };
                let hport = port_number(hp, &origin, &pfield, "hostPort")?;
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
                let host = if ip.is_empty() {
                    String::new()
                } else if ip.contains(':') {
                    format!("[{ip}]:")
                } else {
                    format!("{ip}:")
                };
                plan.pod
                    .network
                    .publish
                    .push(format!("{host}{hport}:{cport}/{proto}"));
                plan.host_ports.push((proto.to_string(), ip, hport));
            }
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
                PodVolume::Source(path, false)
            } else if v.empty_dir.is_some() {
                PodVolume::Anonymous
            } else if let Some(pvc) = &v.persistent_volume_claim {
                let claim = &pvc.claim_name;
                if !data.claims.contains(claim) && self.db.volume(claim)?.is_none() {
                    return Err(Error::invalid(format!(
                        "{origin}: {field}.persistentVolumeClaim.claimName: no volume or PersistentVolumeClaim named {claim:?}"
                    )));
                }
                PodVolume::Source(claim.clone(), pvc.read_only == Some(true))
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
                PodVolume::Source(cm.name.clone(), true)
            } else if let Some(s) = &v.secret {
                let name = s.secret_name.clone().unwrap_or_default();
                let files = data_files(
                    data.secrets.get(&name),
                    s.items.as_deref(),
                    s.optional == Some(true),
                    || format!("{origin}: {field}.secret: no Secret named {name:?}"),
                )?;
                plan.data_volumes.push((name.clone(), files));
                PodVolume::Source(name, true)
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
    ) -> Result<CreateOptions> {
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
        let mut resources = ResourceFlags::default();
        if let Some(limits) = c.resources.as_ref().and_then(|r| r.limits.as_ref()) {
            if let Some(m) = limits.get("memory") {
                let bytes = parse_quantity(&m.0).map_err(|e| {
                    Error::invalid(format!("{origin}: {field}.resources.limits.memory: {e}"))
                })?;
                resources.memory = Some((bytes as i64).to_string());
            }
            if let Some(cpu) = limits.get("cpu") {
                let cpus = parse_quantity(&cpu.0).map_err(|e| {
                    Error::invalid(format!("{origin}: {field}.resources.limits.cpu: {e}"))
                })?;
                resources.cpus = Some(cpus);
            }
        }
        let mut vols = Vec::new();
        for (i, m) in c.volume_mounts.as_deref().unwrap_or(&[]).iter().enumerate() {
            let mfield = format!("{field}.volumeMounts[{i}]");
            if m.sub_path.as_deref().is_some_and(|s| !s.is_empty()) {
                return Err(Error::invalid(format!(
                    "{origin}: {mfield}.subPath: not supported"
                )));
            }
            let dest = &m.mount_path;
            let ro = m.read_only == Some(true);
            match volumes.get(&m.name) {
                None => {
                    return Err(Error::invalid(format!(
                        "{origin}: {mfield}.name: no volume named {:?} in spec.volumes",
                        m.name
                    )));
                }
                Some(PodVolume::Anonymous) => vols.push(dest.clone()),
                Some(PodVolume::Source(src, vol_ro)) => {
                    let opt = if ro || *vol_ro { ":ro" } else { "" };
                    vols.push(format!("{src}:{dest}{opt}"));
                }
            }
        }
        for v in &vols {
            crate::volume::spec::parse_volume_flag(v)
                .map_err(|e| Error::invalid(format!("{origin}: {field}.volumeMounts: {e}")))?;
        }
        Ok(CreateOptions {
            image,
            name: Some(name),
            entrypoint: command
                .as_ref()
                .map(|c| serde_json::to_string(c).expect("strings serialise")),
            command: args,
            env,
            workdir: c.working_dir.clone().filter(|w| !w.is_empty()),
            user,
            tty: c.tty == Some(true),
            interactive: c.stdin == Some(true),
            resources,
            volumes: vols,
            pod: Some(pod.to_string()),
            ..Default::default()
        })
    }

    /// Every hostPort must be free: not published by another container of any store, and
    /// not bound by any process on the host.
    fn check_ports(&self, plan: &Plan) -> Result<()> {
        let mut seen = std::collections::BTreeSet::new();
        for p in &plan.pods {
            for (proto, ip, port) in &p.host_ports {
                if !seen.insert((proto.clone(), *port)) {
                    return Err(Error::invalid(format!(
                        "{}: hostPort {port}/{proto} is published twice in this file",
                        p.origin
                    )));
                }
                let mapping = crate::network::PortMapping {
                    host_ip: ip.clone(),
                    container_port: *port,
                    host_port: *port,
                    range: 1,
                    protocol: proto.clone(),
                };
                crate::network::setup::check_port_free(&mapping)
                    .map_err(|e| Error::invalid(format!("{}: hostPort {port}: {e}", p.origin)))?;
            }
        }
        Ok(())
    }

    fn create_plan(
        &self,
        plan: &Plan,
        opts: &PlayOptions,
        made: &mut Made,
        report: &mut PlayReport,
    ) -> Result<()> {
        if opts.network.is_empty()
            && plan
                .pods
                .iter()
                .any(|p| p.pod.network.network == [DEFAULT_KUBE_NETWORK])
            && self.network(DEFAULT_KUBE_NETWORK).is_err()
        {
            self.network_create(&crate::network::NetworkCreate {
                name: Some(DEFAULT_KUBE_NETWORK.into()),
                ignore: true,
                ..Default::default()
            })?;
        }
        for claim in &plan.claims {
            if self.db.volume(claim)?.is_none() {
                self.create_volume(&VolumeCreateOptions {
                    name: Some(claim.clone()),
                    ..Default::default()
                })?;
                made.volumes.push(claim.clone());
                report.volumes.push(claim.clone());
            }
        }
        for p in &plan.pods {
            for h in &p.host_paths {
                // Another pod of this play (a replica) may have made it already.
                let path = Path::new(&h.path);
                if h.create_dir {
                    // Every level that did not exist is ours to remove again, deepest last.
                    let missing: Vec<PathBuf> = path
                        .ancestors()
                        .take_while(|a| !a.exists())
                        .map(Path::to_path_buf)
                        .collect();
                    std::fs::create_dir_all(path).ctx("creating hostPath", path)?;
                    made.paths.extend(missing.into_iter().rev());
                } else if h.create_file && !path.exists() {
                    std::fs::OpenOptions::new()
                        .create_new(true)
                        .write(true)
                        .open(path)
                        .ctx("creating hostPath", path)?;
                    made.paths.push(path.to_path_buf());
                }
            }
            for (name, files) in &p.data_volumes {
                if self.db.volume(name)?.is_none() {
                    self.create_volume(&VolumeCreateOptions {
                        name: Some(name.clone()),
                        ..Default::default()
                    })?;
                    made.volumes.push(name.clone());
                }
                let dir = self.paths.volume_data(name);
                for (file, content) in files {
                    // The volume may be one containers write to: never follow what they left.
                    crate::volume::copy::write_in_root(&dir, file, content.as_ref())
                        .ctx("writing", dir.join(file))?;
                }
            }
            let pod = self.create_pod(&p.pod)?;
            made.pods.push(pod.id().to_string());
            let mut played = PlayedPod {
                id: pod.id().to_string(),
                name: pod.name().to_string(),
                ..Default::default()
            };
            for co in &p.containers {
                let mut co = co.clone();
                co.pod = Some(pod.id().to_string());
                let c = self.create_container(&co)?;
                if co.init_ctr.is_some() {
                    played.init_containers.push(c.id().to_string());
                } else {
                    played.containers.push(c.id().to_string());
                }
            }
            if opts.start {
                self.start_pod(pod.id()).map_err(|e| {
                    Error::other(format!("{}: starting pod {}: {e}", p.origin, pod.name()))
                })?;
            }
            report.pods.push(played);
        }
        Ok(())
    }

    /// Remove what a failed play created; keep going past failures.
    fn undo(&self, made: &Made) {
        for id in made.pods.iter().rev() {
            if let Err(e) = self.remove_pod(id, true, Some(0)) {
                tracing::warn!(pod = %id, error = %e, "kube play: removing a pod it created");
            }
        }
        for v in made.volumes.iter().rev() {
            if let Err(e) = self.remove_volume(v, true, Some(0)) {
                tracing::warn!(volume = %v, error = %e, "kube play: removing a volume it created");
            }
        }
        for p in made.paths.iter().rev() {
            let _ = if p.is_dir() {
                std::fs::remove_dir(p)
            } else {
                std::fs::remove_file(p)
            };
        }
    }
}

/// What a play created so far, for undoing.
#[derive(Debug, Default)]
struct Made {
    pods: Vec<String>,
    volumes: Vec<String>,
    paths: Vec<PathBuf>,
}

/// What a pod volume mounts.
#[derive(Debug, Clone)]
enum PodVolume {
    /// A host path or volume name, and whether the volume itself is read-only.
    Source(String, bool),
    /// emptyDir: an anonymous volume.
    Anonymous,
}

struct Data<'a> {
    configmaps: &'a DataObjects,
    secrets: &'a DataObjects,
    claims: &'a [String],
}

fn pod_name(p: &PodPlan) -> String {
    p.pod.name.clone().unwrap_or_default()
}

fn need_name(doc: &Document) -> Result<String> {
    if doc.name.is_empty() {
        return Err(Error::invalid(format!(
            "{}: metadata.name: missing",
            doc.label()
        )));
    }
    Ok(doc.name.clone())
}

fn port_number(p: i32, origin: &str, field: &str, what: &str) -> Result<u16> {
    u16::try_from(p).ok().filter(|p| *p != 0).ok_or_else(|| {
        Error::invalid(format!(
            "{origin}: {field}.{what}: {p} is not a port number (1-65535)"
        ))
    })
}

fn configmap_data(cm: ConfigMap) -> BTreeMap<String, Vec<u8>> {
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

fn secret_data(s: Secret) -> BTreeMap<String, Vec<u8>> {
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
fn data_files(
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

/// The pods a workload document describes; None if `doc` is not a workload kind.
fn workload(yaml: &str, doc: &Document) -> Result<Option<Workload>> {
    let label = doc.label();
    let template = |t: Option<PodTemplateSpec>| -> Result<PodTemplateSpec> {
        t.ok_or_else(|| Error::invalid(format!("{label}: spec.template: missing")))
    };
    let w = match doc.kind.as_str() {
        "Pod" => {
            let p: KubePod = typed(yaml, doc)?;
            Workload {
                doc: doc.clone(),
                pod_names: vec![need_name(doc)?],
                template: PodTemplateSpec {
                    metadata: Some(p.metadata),
                    spec: p.spec,
                },
                forced_restart: None,
                default_restart: "always",
            }
        }
        "Deployment" => {
            let d: Deployment = typed(yaml, doc)?;
            let name = need_name(doc)?;
            let spec = d
                .spec
                .ok_or_else(|| Error::invalid(format!("{label}: spec: missing")))?;
            let replicas = spec.replicas.unwrap_or(1);
            if replicas < 0 {
                return Err(Error::invalid(format!(
                    "{label}: spec.replicas: {replicas} is negative"
                )));
            }
            // Podman clamps replicas to one; peapod runs them all (distinct names, same
            // template), which is what a cluster would do.
            let pod_names = if replicas == 1 {
                vec![format!("{name}-pod")]
            } else {
                (0..replicas).map(|i| format!("{name}-pod-{i}")).collect()
            };
            Workload {
                doc: doc.clone(),
                pod_names,
                template: spec.template,
                forced_restart: Some("always"),
                default_restart: "always",
            }
        }
        "DaemonSet" => {
            let d: DaemonSet = typed(yaml, doc)?;
            let name = need_name(doc)?;
            let spec = d
                .spec
                .ok_or_else(|| Error::invalid(format!("{label}: spec: missing")))?;
            Workload {
                doc: doc.clone(),
                pod_names: vec![format!("{name}-pod")],
                template: spec.template,
                forced_restart: Some("always"),
                default_restart: "always",
            }
        }
        "Job" => {
            let j: Job = typed(yaml, doc)?;
            let name = need_name(doc)?;
            let spec = j
                .spec
                .ok_or_else(|| Error::invalid(format!("{label}: spec: missing")))?;
            Workload {
                doc: doc.clone(),
                pod_names: vec![format!("{name}-pod")],
                template: template(Some(spec.template))?,
                forced_restart: None,
                default_restart: "no",
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(yaml: &str) -> Vec<String> {
        let mut out = Vec::new();
        for d in documents(yaml).unwrap() {
            if let Some(w) = workload(yaml, &d).unwrap() {
                out.extend(w.pod_names);
            }
        }
        out
    }

    #[test]
    fn pod_names_per_kind() {
        let y = "kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i}]}\n---\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicas: 3\n  selector: {}\n  template: {spec: {containers: [{name: c, image: i}]}}\n---\nkind: Deployment\nmetadata: {name: one}\nspec:\n  selector: {}\n  template: {spec: {containers: [{name: c, image: i}]}}\n---\nkind: DaemonSet\nmetadata: {name: ds}\nspec:\n  selector: {}\n  template: {spec: {containers: [{name: c, image: i}]}}\n---\nkind: Job\nmetadata: {name: j}\nspec:\n  template: {spec: {containers: [{name: c, image: i}]}}\n";
        assert_eq!(
            names(y),
            [
                "p", "d-pod-0", "d-pod-1", "d-pod-2", "one-pod", "ds-pod", "j-pod"
            ]
        );
    }

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
}
