//! `kube generate`: pods, containers and volumes as Kubernetes YAML a cluster accepts.
//!
//! A pod becomes a `v1/Pod` (or, with `--type`, a Deployment, DaemonSet or Job around the
//! same pod template); containers given by name are wrapped in one pod; a volume becomes a
//! PersistentVolumeClaim. Only what differs from the image or from Kubernetes' defaults is
//! written, and nothing a cluster would reject or set itself (no `status`, no
//! `creationTimestamp`, no empty objects).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetSpec, Deployment, DeploymentSpec};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Container as KubeContainer, ContainerPort, EmptyDirVolumeSource, EnvVar, HostPathVolumeSource,
    PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource,
    Pod as KubePod, PodSpec, PodTemplateSpec, ResourceRequirements, SecurityContext, Service,
    ServicePort, ServiceSpec, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;

use super::{cpu_quantity, memory_quantity};
use crate::Engine;
use crate::container::Container;
use crate::error::{Error, Result};
use crate::network::PortMapping;
use crate::volume::MountKind;

mod objects;
#[allow(unused_imports)]
use objects::*;

/// `--type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KubeType {
    #[default]
    Pod,
    Deployment,
    DaemonSet,
    Job,
}

impl KubeType {
    pub fn parse(s: &str) -> Result<KubeType> {
        Ok(match s {
            "pod" => KubeType::Pod,
            "deployment" => KubeType::Deployment,
            "daemonset" => KubeType::DaemonSet,
            "job" => KubeType::Job,
            _ => {
                return Err(Error::invalid(format!(
                    "invalid type given, only supported types are pod, deployment, daemonset and job: {s:?}"
                )));
            }
        })
    }
}

/// A `kube generate` request.
#[derive(Debug, Clone, Default)]
pub struct GenerateOptions {
    /// `--service`: add a NodePort Service for the published ports.
    pub service: bool,
    pub kind: KubeType,
    /// `--replicas` for a Deployment (default 1).
    pub replicas: Option<i32>,
}

/// Podman's header, with our name.
pub const HEADER: &str = concat!(
    "# Save the output of this file and use kubectl create -f to import\n",
    "# it into Kubernetes.\n",
    "#\n",
    "# Created with peapod-",
    env!("CARGO_PKG_VERSION"),
    "\n"
);

enum Target {
    Pod(crate::pod::Pod),
    Container(Box<Container>),
    Volume(crate::volume::Volume),
}

/// runtime-tools' `generate.New("linux")` capabilities, in its order: what Podman 4.3's
/// generate kube compares a container's capabilities with. It is the set a Kubernetes
/// runtime gives too, so the YAML drops what Podman's default leaves out (MKNOD, NET_RAW,
/// AUDIT_WRITE) and the cluster's container gets the same capabilities.
const OCI_DEFAULT_CAPS: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

impl Engine {
    /// The YAML for `targets` (pods, containers and volumes, by name or id), header first.
    pub fn generate_kube(&self, targets: &[String], opts: &GenerateOptions) -> Result<String> {
        if targets.is_empty() {
            return Err(Error::invalid(
                "kube generate needs at least one pod, container or volume",
            ));
        }
        let mut pods = Vec::new();
        let mut ctrs = Vec::new();
        let mut vols = Vec::new();
        for t in targets {
            match self.generate_target(t)? {
                Target::Pod(p) => pods.push(p),
                Target::Container(c) => ctrs.push(*c),
                Target::Volume(v) => vols.push(v),
            }
        }
        if !pods.is_empty() && !ctrs.is_empty() {
            return Err(Error::invalid(
                "kube generate: give either pods or containers, not both",
            ));
        }
        let mut docs: Vec<String> = Vec::new();
        for v in &vols {
            docs.push(to_yaml(&pvc(v))?);
        }
        let mut templates = Vec::new();
        for p in &pods {
            let members: Vec<Container> = self
                .pod_containers(p.id())?
                .into_iter()
                .filter(|c| !c.config.is_infra)
                .collect();
            if members.is_empty() {
                // Podman's words (it has nothing to describe but the pause process).
                return Err(Error::invalid(if p.config.infra {
                    format!("pod {} only has an infra container", p.id())
                } else {
                    format!("pod {} has no containers", p.id())
                }));
            }
            let ports = if p.config.infra {
                self.db
                    .container(&p.config.infra_id)?
                    .map(|c| c.config.ports)
                    .unwrap_or_default()
            } else {
                Vec::new()
            };
            // Podman 4.3 writes the members' hostname (the pod's) unless it is a container id's.
            let hostname = (!p.config.hostname.is_empty()
                && !members[0].id().contains(&p.config.hostname))
            .then(|| p.config.hostname.clone());
            let mut t = self.pod_template(p.name(), hostname, &members, &ports)?;
            // A pod's restart policy: its first member's, else Never (Podman 4.3).
            if let Some(spec) = t.1.spec.as_mut() {
                spec.restart_policy.get_or_insert_with(|| "Never".into());
            }
            templates.push((t, true));
        }
        if !ctrs.is_empty() {
            let name = format!("{}-pod", ctrs[0].name());
            let ports: Vec<PortMapping> =
                ctrs.iter().flat_map(|c| c.config.ports.clone()).collect();
            templates.push((self.pod_template(&name, None, &ctrs, &ports)?, false));
        }
        for ((name, template, ports), from_pod) in templates {
            docs.push(workload_yaml(&name, template, opts, from_pod)?);
            if opts.service {
                if let Some(s) = service(&name, &ports) {
                    docs.push(to_yaml(&s)?);
                } else {
                    tracing::warn!(pod = %name, "no published ports: no Service generated");
                }
            }
        }
        Ok(format!("{HEADER}{}", docs.join("---\n")))
    }

    fn generate_target(&self, t: &str) -> Result<Target> {
        if let Some(p) = self
            .pods()?
            .into_iter()
            .find(|p| p.name() == t || p.id() == t)
        {
            return Ok(Target::Pod(p));
        }
        // Only "no such …" moves on to the next kind: any other failure (the database, an
        // ambiguous id prefix) is the answer.
        match self.container(t) {
            Ok(c) if c.config.is_infra => {
                return Err(Error::invalid(format!(
                    "{t} is the infra container of a pod: generate the pod instead"
                )));
            }
            Ok(c) => return Ok(Target::Container(Box::new(c))),
            Err(Error::NoSuchContainer(_)) => {}
            Err(e) => return Err(e),
        }
        match self.pod(t) {
            Ok(p) => return Ok(Target::Pod(p)),
            Err(Error::NoSuchPod(_)) => {}
            Err(e) => return Err(e),
        }
        if let Some(v) = self.db.volume(t)? {
            return Ok(Target::Volume(v));
        }
        Err(Error::invalid(format!("name or ID {t:?} not found")))
    }

    /// The pod template of `members` (init containers by their flag), and the published
    /// ports it carries.
    fn pod_template(
        &self,
        pod: &str,
        hostname: Option<String>,
        members: &[Container],
        ports: &[PortMapping],
    ) -> Result<(String, PodTemplateSpec, Vec<PortMapping>)> {
        let mut volumes = PodVolumes::default();
        let mut containers = Vec::new();
        let mut inits = Vec::new();
        let mut restart = None;
        for c in members {
            let mut k = self.kube_container(pod, c, &mut volumes)?;
            if c.config.init_ctr.is_empty() {
                if containers.is_empty() {
                    // Ports belong to the pod; Kubernetes lists them on a container.
                    k.ports = kube_ports(ports);
                    restart = restart_policy(&c.config.restart_policy);
                }
                containers.push(k);
            } else {
                inits.push(k);
            }
        }
        if containers.is_empty() {
            return Err(Error::invalid(format!(
                "pod {pod} has only init containers: nothing to generate"
            )));
        }
        let labels = BTreeMap::from([("app".to_string(), app_label(pod))]);
        let mut annotations: BTreeMap<String, String> =
            members.iter().flat_map(member_annotations).collect();
        if members.iter().any(|c| c.config.init_ctr == "always") {
            annotations.insert(
                super::INIT_TYPE_ANNOTATION.to_string(),
                "always".to_string(),
            );
        }
        let annotations = (!annotations.is_empty()).then_some(annotations);
        let spec = PodSpec {
            containers,
            init_containers: (!inits.is_empty()).then_some(inits),
            hostname,
            restart_policy: restart.map(String::from),
            volumes: (!volumes.by_name.is_empty()).then(|| volumes.by_name.into_values().collect()),
            ..Default::default()
        };
        Ok((
            pod.to_string(),
            PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    name: Some(pod.to_string()),
                    labels: Some(labels),
                    annotations,
                    ..Default::default()
                }),
                spec: Some(spec),
            },
            ports.to_vec(),
        ))
    }

    fn kube_container(
        &self,
        pod: &str,
        c: &Container,
        volumes: &mut PodVolumes,
    ) -> Result<KubeContainer> {
        let cfg = &c.config;
        // An image removed under the container (`rmi -f`) leaves nothing to compare with;
        // any other failure is reported.
        let (image_env, image_workdir) = match self.resolve_image(&cfg.image_id) {
            Ok(img) => {
                let ic = self
                    .image_config(&img)?
                    .config()
                    .clone()
                    .unwrap_or_default();
                (
                    ic.env().clone().unwrap_or_default(),
                    ic.working_dir().clone().unwrap_or_default(),
                )
            }
            Err(Error::NoSuchImage(_)) => (Vec::new(), String::new()),
            Err(e) => return Err(e),
        };
        // Podman's split: an entrypoint becomes `command` and the cmd `args`; without an
        // entrypoint the cmd is the `command`.
        let (command, args) = if cfg.entrypoint.is_empty() {
            (cfg.cmd.clone(), Vec::new())
        } else {
            (cfg.entrypoint.clone(), cfg.cmd.clone())
        };
        let env: Vec<EnvVar> = cfg
            .env
            .iter()
            .filter(|e| !image_env.contains(e))
            .filter(|e| {
                // The defaults the engine adds (a PATH when the image has none, container=,
                // TERM=) unless the image set that name itself.
                let (k, v) = e.split_once('=').unwrap_or((e, ""));
                let prefix = format!("{k}=");
                !(crate::container::env::DEFAULT_ENV.contains(&(k, v))
                    && image_env.iter().all(|i| !i.starts_with(&prefix)))
            })
            .map(|e| {
                let (k, v) = e.split_once('=').unwrap_or((e, ""));
                EnvVar {
                    name: k.to_string(),
                    value: Some(v.to_string()),
                    value_from: None,
                }
            })
            .collect();
        let workdir = (!cfg.workdir.is_empty()
            && cfg.workdir != image_workdir
            && !(image_workdir.is_empty() && cfg.workdir == "/"))
            .then(|| cfg.workdir.clone());
        let security = security_context(
            &cfg.user,
            cfg.security.as_ref(),
            cfg.host.read_only,
            &OCI_DEFAULT_CAPS,
        );
        let mut limits = BTreeMap::new();
        if let Some(m) = cfg.resources.memory {
            limits.insert("memory".to_string(), Quantity(memory_quantity(m)));
        }
        if let Some(n) = cfg.resources.nano_cpus {
            limits.insert("cpu".to_string(), Quantity(cpu_quantity(n)));
        }
        let mut mounts = Vec::new();
        for m in cfg.mounts.iter().filter(|m| !m.from_image) {
            let vname = match m.kind {
                // Podman 4.3 leaves image mounts out of generated YAML too.
                MountKind::Image => continue,
                MountKind::Bind => volumes.name_for(
                    VolumeSource::Host(m.source.clone()),
                    &host_volume_base(&m.source),
                    "-host",
                    |name| {
                        let t = match std::fs::metadata(&m.source) {
                            Ok(md) if md.is_file() => "File",
                            Ok(_) => "Directory",
                            Err(_) => "DirectoryOrCreate",
                        };
                        Volume {
                            name: name.to_string(),
                            host_path: Some(HostPathVolumeSource {
                                path: m.source.clone(),
                                type_: Some(t.into()),
                            }),
                            ..Default::default()
                        }
                    },
                ),
                MountKind::Volume => volumes.name_for(
                    VolumeSource::Named(m.source.clone()),
                    &dns_label(&m.source),
                    "-pvc",
                    |name| Volume {
                        name: name.to_string(),
                        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                            claim_name: m.source.clone(),
                            read_only: None,
                        }),
                        ..Default::default()
                    },
                ),
                // Each container's anonymous volumes and tmpfs mounts are its own.
                MountKind::Anonymous | MountKind::Tmpfs => volumes.name_for(
                    VolumeSource::Private(cfg.id.clone(), m.destination.clone()),
                    &dns_label(&m.destination),
                    "-empty",
                    |name| Volume {
                        name: name.to_string(),
                        empty_dir: Some(EmptyDirVolumeSource {
                            medium: (m.kind == MountKind::Tmpfs).then(|| "Memory".into()),
                            size_limit: None,
                        }),
                        ..Default::default()
                    },
                ),
            };
            mounts.push(VolumeMount {
                name: vname,
                mount_path: m.destination.clone(),
                read_only: m.read_only().then_some(true),
                ..Default::default()
            });
        }
        let short = cfg
            .name
            .strip_prefix(&format!("{pod}-"))
            .unwrap_or(&cfg.name)
            .replace('_', "");
        Ok(KubeContainer {
            name: short,
            image: Some(cfg.image_name.clone()),
            command: (!command.is_empty()).then_some(command),
            args: (!args.is_empty()).then_some(args),
            env: (!env.is_empty()).then_some(env),
            working_dir: workdir,
            security_context: security,
            // `resources: {}` without limits, as Podman writes it.
            resources: Some(ResourceRequirements {
                limits: (!limits.is_empty()).then_some(limits),
                ..Default::default()
            }),
            volume_mounts: (!mounts.is_empty()).then_some(mounts),
            tty: cfg.tty.then_some(true),
            stdin: cfg.stdin.then_some(true),
            ..Default::default()
        })
    }
}

#[cfg(test)]
#[path = "generate_tests.rs"]
mod tests;

/// The annotations Podman gives each container's OCI spec, as kube generate carries them
/// on the pod: `KEY/NAME` (the name without underscores, as Podman's `removeUnderscores`).
fn member_annotations(c: &Container) -> Vec<(String, String)> {
    let cfg = &c.config;
    let name = c.name().replace('_', "");
    let flag = |b: bool| if b { "TRUE" } else { "FALSE" }.to_string();
    let mut out = vec![
        (
            "io.kubernetes.cri-o.ContainerType".to_string(),
            "container".to_string(),
        ),
        ("io.kubernetes.cri-o.TTY".to_string(), cfg.tty.to_string()),
        (
            "io.podman.annotations.autoremove".to_string(),
            flag(cfg.auto_remove),
        ),
        (
            "io.podman.annotations.init".to_string(),
            flag(cfg.host.init.is_some()),
        ),
        (
            "io.podman.annotations.privileged".to_string(),
            flag(cfg.security.as_ref().is_some_and(|s| s.privileged)),
        ),
        (
            "io.podman.annotations.publish-all".to_string(),
            flag(cfg.publish_all),
        ),
    ];
    if !cfg.pod.is_empty() {
        // Kubernetes allows 63 characters: Podman truncates the id.
        let id: String = cfg.pod.chars().take(63).collect();
        out.push(("io.kubernetes.cri-o.SandboxID".to_string(), id));
    }
    out.into_iter()
        .map(|(k, v)| (format!("{k}/{name}"), v))
        .collect()
}
