//! `kube play` and `kube down`: Kubernetes workloads become pods.
//!
//! Play works in three steps. First every document is read and turned into a plan (pods
//! with their create requests, volumes to make, files to write) and checked: kinds, field
//! types, images, claims, ports, how many pods ([`super::plan`]). Then, with `--replace`,
//! the pods a previous play of the same file made are torn down. Only then is anything
//! created, one pod at a time; if a step fails, every pod, volume and path this play
//! created is removed again, and the default kube network too when this play made it and
//! nothing else uses it, so a failed play leaves nothing behind.
//!
//! Naming follows Podman: a Pod keeps its name, a Deployment, DaemonSet or Job becomes
//! `NAME-pod`, and containers are `POD-CONTAINER`. Unlike Podman, which clamps a
//! Deployment's replicas to one, `replicas: N` gives N pods `NAME-pod-0` … `NAME-pod-(N-1)`
//! (at most [`super::workload::MAX_PODS`] a play). Teardown (`--replace`, `kube down`) takes
//! a Deployment's pods by that pattern, whatever `replicas` was when they were played.

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::ConfigMap;

use super::plan::{DataObjects, Plan, PodPlan, configmap_data};
use super::workload::{Workload, workload};
use super::{DEFAULT_KUBE_NETWORK, documents, typed};
use crate::Engine;
use crate::error::{Error, IoContext, Result};
use crate::image::registry::{ProgressSink, PullOptions};
use crate::network::NetworkCreate;
use crate::registry::PullPolicy;
use crate::volume::VolumeCreateOptions;

/// A `kube play` request.
#[derive(Debug, Clone, Default)]
pub struct PlayOptions {
    /// `--replace`: tear down the pods of a previous play of the same file first.
    pub replace: bool,
    /// `--start` (default true): start the pods after creating them.
    pub start: bool,
    /// `--network`: the networks every pod joins (default: the kube network).
    pub network: crate::network::NetworkMode,
    /// `--configmap FILE`: ConfigMap documents read before the played file's.
    pub configmaps: Vec<String>,
    /// `--log-driver`.
    pub log_driver: Option<crate::container::spec::LogDriver>,
    /// The command line, recorded on what is created.
    pub create_command: Vec<String>,
    /// `--annotation KEY=VALUE`: added to every container (over the file's).
    pub annotations: Vec<String>,
    /// `--service-container`: one container stands for the played pods (systemd's handle).
    pub service_container: bool,
}

/// Podman 4.3's limit on a kube annotation's value (`define.MaxKubeAnnotation`).
pub const MAX_KUBE_ANNOTATION: usize = 63;

/// Podman 4.3's check of `kube play --annotation` values.
pub fn check_play_annotation(annotation: &str) -> Result<()> {
    let value = annotation.split_once('=').map_or("", |(_, v)| v);
    if value.len() > MAX_KUBE_ANNOTATION {
        return Err(Error::invalid(format!(
            "annotation exceeds maximum size, {MAX_KUBE_ANNOTATION}, of kubernetes annotation: {value}"
        )));
    }
    Ok(())
}

/// Podman 4.3's check of a pod's `metadata.annotations`: no value over 63 characters.
fn check_yaml_annotations(w: &Workload) -> Result<()> {
    let annotations = w
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.as_ref());
    for (k, v) in annotations.into_iter().flatten() {
        if v.len() > MAX_KUBE_ANNOTATION {
            return Err(Error::invalid(format!(
                "invalid annotation {k:?}={v:?} value length exceeds Kubernetes max {MAX_KUBE_ANNOTATION}"
            )));
        }
    }
    Ok(())
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
        for doc in documents(yaml)? {
            if let Some(w) = workload(yaml, &doc)? {
                check_yaml_annotations(&w)?;
            }
        }
        for a in &opts.annotations {
            check_play_annotation(a)?;
        }
        let plan = self.plan(yaml, configmaps, opts)?;

        let mut report = PlayReport::default();
        if opts.replace {
            let owners: Vec<&Workload> = plan.workloads.iter().map(|w| &w.workload).collect();
            report.teardown = Some(self.teardown_pods(&owners)?);
        }
        self.check_ports(&plan)?;

        let mut made = Made::default();
        if opts.service_container {
            match self.create_service_container(yaml, &opts.create_command) {
                Ok(c) => made.service = Some(c.id().to_string()),
                Err(e) => return Err(e),
            }
        }
        match self.create_plan(&plan, opts, &mut made, &mut report) {
            Ok(()) => Ok(report),
            Err(e) => {
                self.undo(&made);
                Err(e)
            }
        }
    }

    /// The YAML's images made present before a play, as Podman pulls them: each as its
    /// `imagePullPolicy` says (`Always`, `Never`, else if missing), or as `forced` (`--pull`)
    /// says; those in `made` (built by `--build`) are left alone. A missing image is not an
    /// error here: the play names its document and field.
    pub fn ensure_kube_images(
        &self,
        yaml: &str,
        forced: Option<PullPolicy>,
        template: &PullOptions,
        sink: &dyn ProgressSink,
        made: &[String],
    ) -> Result<()> {
        for (image, policy) in self.kube_images(yaml)? {
            if made.contains(&image) {
                continue;
            }
            let policy = forced.unwrap_or(match policy.as_deref() {
                Some("Always") => PullPolicy::Always,
                Some("Never") => PullPolicy::Never,
                _ => PullPolicy::Missing,
            });
            match self.ensure_image(&image, policy, template, sink) {
                Ok(_) | Err(Error::NoSuchImage(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The images the file's workloads use, with their `imagePullPolicy`, in file order
    /// (each once): the CLI pulls them before the play, as Podman does.
    pub fn kube_images(&self, yaml: &str) -> Result<Vec<(String, Option<String>)>> {
        let mut out: Vec<(String, Option<String>)> = Vec::new();
        for doc in documents(yaml)? {
            let Some(w) = workload(yaml, &doc)? else {
                continue;
            };
            // Checked before any image is pulled, as Podman checks it.
            check_yaml_annotations(&w)?;
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

    /// The YAML of `kube play`/`kube down` given as an `http://` or `https://` URL (the
    /// system's CAs and `SSL_CERT_FILE`'s are trusted, as Go trusts them).
    pub fn kube_yaml_from_url(&self, url: &str) -> Result<String> {
        let got = crate::build::exec::fetch::download(url, &format!("downloading {url}"))?;
        String::from_utf8(got.data)
            .map_err(|_| Error::invalid(format!("{url}: the document is not UTF-8 text")))
    }

    /// `kube down` (and `play --down`): stop and remove the pods the file describes.
    /// Volumes stay, as in Podman.
    pub fn kube_down(&self, yaml: &str) -> Result<TeardownReport> {
        let mut owners = Vec::new();
        for doc in documents(yaml)? {
            if let Some(w) = workload(yaml, &doc)? {
                owners.push(w);
            }
        }
        self.teardown_pods(&owners.iter().collect::<Vec<_>>())
    }

    /// Stops and removes every pod one of `owners` made, all at once (the worker pool: a
    /// replica set whose containers ignore SIGTERM costs one stop timeout, not one each);
    /// reported in file order (replicas in number order); keeps going past failures.
    fn teardown_pods(&self, owners: &[&Workload]) -> Result<TeardownReport> {
        let mut pods: Vec<(usize, crate::pod::Pod)> = self
            .pods()?
            .into_iter()
            .filter_map(|p| Some((owners.iter().position(|w| w.owns(p.name()))?, p)))
            .collect();
        pods.sort_by(|(a, p), (b, q)| {
            (a, p.name().len(), p.name()).cmp(&(b, q.name().len(), q.name()))
        });
        let ids: Vec<String> = pods.iter().map(|(_, p)| p.id().to_string()).collect();
        let outcomes = self.on_many(&ids, |e, id| {
            let stopped = e.stop_pod(id, None).map(drop);
            let removed = e.remove_pod(id, true, Some(0)).map(drop);
            Ok((stopped, removed))
        });
        let mut report = TeardownReport::default();
        let mut errors = Vec::new();
        for (id, outcome) in ids.into_iter().zip(outcomes) {
            let (stopped, removed) = match outcome {
                Ok(pair) => pair,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            match stopped {
                Ok(()) => report.stopped.push(id.clone()),
                Err(e) => errors.push(e),
            }
            match removed {
                Ok(()) => report.removed.push(id),
                Err(e) => errors.push(e),
            }
        }
        Error::collect(errors)?;
        Ok(report)
    }

    /// Every hostPort must be free: not published by another container of any store, and
    /// not bound by any process on the host. (A workload with hostPorts has one pod.)
    fn check_ports(&self, plan: &Plan) -> Result<()> {
        let mut seen = std::collections::BTreeSet::new();
        for p in plan.workloads.iter().filter_map(|w| w.first.as_ref()) {
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
        self.ensure_kube_network(plan, opts, made)?;
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
        // One pod at a time: a replica's plan is made only when its turn comes.
        for w in &plan.workloads {
            let Some(first) = &w.first else { continue };
            for i in 0..w.workload.count() {
                let played = if i == 0 {
                    self.create_planned_pod(first, opts, made)?
                } else {
                    let replica = first.renamed(&w.workload.pod_name(i));
                    self.create_planned_pod(&replica, opts, made)?
                };
                report.pods.push(played);
            }
        }
        Ok(())
    }

    /// The default kube network, made when a pod joins it and it does not exist yet, and
    /// then recorded in `made`: a play that fails removes it again.
    fn ensure_kube_network(&self, plan: &Plan, opts: &PlayOptions, made: &mut Made) -> Result<()> {
        let kube =
            crate::network::NetworkMode::Bridge(vec![crate::network::NetworkRequest::named(
                DEFAULT_KUBE_NETWORK,
            )]);
        let needed = opts.network == crate::network::NetworkMode::Default
            && plan
                .workloads
                .iter()
                .filter_map(|w| w.first.as_ref())
                .any(|p| p.pod.network.mode == kube);
        if !needed {
            return Ok(());
        }
        match self.network(DEFAULT_KUBE_NETWORK) {
            Ok(_) => return Ok(()),
            Err(Error::NoSuchNetwork(_)) => {}
            Err(e) => return Err(e),
        }
        match self.network_create(&NetworkCreate {
            name: Some(DEFAULT_KUBE_NETWORK.into()),
            ..Default::default()
        }) {
            Ok(_) => {
                made.network = Some(DEFAULT_KUBE_NETWORK.into());
                Ok(())
            }
            // Another play made it meanwhile: usable, and not ours to remove.
            Err(_) if self.network(DEFAULT_KUBE_NETWORK).is_ok() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Host paths, data volumes, the pod, its containers; starts it unless `--start=false`.
    fn create_planned_pod(
        &self,
        p: &PodPlan,
        opts: &PlayOptions,
        made: &mut Made,
    ) -> Result<PlayedPod> {
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
        // As Podman's kube play: a played pod stops when its last container exits.
        let mut pod_opts = p.pod.clone();
        pod_opts.exit_policy.get_or_insert_with(|| "stop".into());
        let pod = self.create_pod(&pod_opts)?;
        made.pods.push(pod.id().to_string());
        if let Some(service) = &made.service {
            self.bind_service(service, pod.id())?;
        }
        let mut played = PlayedPod {
            id: pod.id().to_string(),
            name: pod.name().to_string(),
            ..Default::default()
        };
        for co in &p.containers {
            let mut co = co.clone();
            co.pod = Some(pod.id().to_string());
            co.annotations.extend(opts.annotations.iter().cloned());
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
        Ok(played)
    }

    /// Remove what a failed play created; keep going past failures.
    fn undo(&self, made: &Made) {
        for id in made.pods.iter().rev() {
            if let Err(e) = self.remove_pod(id, true, Some(0)) {
                tracing::warn!(pod = %id, error = %e, "kube play: removing a pod it created");
            }
        }
        if let Some(s) = &made.service
            && let Err(e) = self.remove_service_if_done(s)
        {
            tracing::warn!(container = %s, error = %e, "kube play: removing its service container");
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
        if let Some(net) = &made.network {
            // Without force: a network another play's pods joined meanwhile stays.
            match self.network_remove(net, false, None) {
                Ok(_) => {}
                Err(Error::NetworkInUse { .. }) => {
                    tracing::debug!(network = %net, "kube play: network in use, kept");
                }
                Err(e) => {
                    tracing::warn!(network = %net, error = %e, "kube play: removing the network it created");
                }
            }
        }
    }
}

/// What a play created so far, for undoing.
#[derive(Debug, Default)]
struct Made {
    pods: Vec<String>,
    volumes: Vec<String>,
    paths: Vec<PathBuf>,
    /// The default kube network, when this play created it.
    network: Option<String>,
    /// The service container (`--service-container`).
    service: Option<String>,
}
