//! `kube play --service-container`: one container that stands for the played file's pods
//! (Podman's service container, which systemd units track). It runs the infra image's pause
//! process without a network, named `<12 hex of the file's sha256>-service`; it starts
//! with its pods, stops when every one of them has stopped, goes when the last one is
//! removed, and cannot be removed on its own.

use super::Pod;
use crate::Engine;
use crate::container::{Container, ContainerSpec, RemoveOptions};
use crate::error::{Error, Result};

impl Engine {
    /// Makes the service container of a played `yaml` (not started).
    pub(crate) fn create_service_container(
        &self,
        yaml: &str,
        create_command: &[String],
    ) -> Result<Container> {
        let digest = crate::image::Digest::of_bytes(yaml.as_bytes());
        let name = format!("{}-service", &digest.hex()[..12]);
        let image = self.default_infra_image()?;
        let mut c = self.create_container(&ContainerSpec {
            image,
            name: Some(name),
            network: crate::network::NetworkSpec {
                mode: crate::network::NetworkMode::None,
                ..Default::default()
            },
            create_command: create_command.to_vec(),
            ..Default::default()
        })?;
        c.config.is_service = true;
        self.db.update_config(c.id(), &c.config)?;
        Ok(c)
    }

    /// Ties pod `pod_id` to service container `service_id`, both ways.
    pub(crate) fn bind_service(&self, service_id: &str, pod_id: &str) -> Result<()> {
        {
            let _lock = self.lock(service_id)?;
            let mut c = self.container(service_id)?;
            if !c.config.service_pods.iter().any(|p| p == pod_id) {
                c.config.service_pods.push(pod_id.to_string());
                self.db.update_config(c.id(), &c.config)?;
            }
        }
        let _lock = self.pod_lock(pod_id)?;
        let mut pod = self
            .db
            .pod(pod_id)?
            .ok_or_else(|| Error::NoSuchPod(pod_id.to_string()))?;
        pod.config.service_container = service_id.to_string();
        self.db.update_pod_config(pod_id, &pod.config)
    }

    /// The pod's service container, when it has one that still exists.
    fn service_of(&self, pod: &Pod) -> Result<Option<Container>> {
        if pod.config.service_container.is_empty() {
            return Ok(None);
        }
        match self.container(&pod.config.service_container) {
            Ok(c) => Ok(Some(c)),
            Err(Error::NoSuchContainer(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Before a pod starts: its service container runs.
    pub(crate) fn start_service_of(&self, pod: &Pod) -> Result<()> {
        match self.service_of(pod)? {
            Some(s) if !s.state.status.is_active() => self.start(s.id(), false).map(drop),
            _ => Ok(()),
        }
    }

    /// After a pod stopped (or one of its containers exited): the service container stops
    /// once none of its pods has a container that runs.
    pub(crate) fn stop_service_if_done(&self, pod_id: &str) -> Result<()> {
        let Some(pod) = self.db.pod(pod_id)? else {
            return Ok(());
        };
        let Some(service) = self.service_of(&pod)? else {
            return Ok(());
        };
        if !service.state.status.is_active() {
            return Ok(());
        }
        for p in &service.config.service_pods {
            if self.db.pod(p)?.is_none() {
                continue;
            }
            if self
                .pod_containers(p)?
                .iter()
                .any(|c| c.state.status.is_active())
            {
                return Ok(());
            }
        }
        match self.stop(service.id(), Some(0)) {
            Ok(_) | Err(Error::NoSuchContainer(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// After a pod was removed: the service container goes with the last of its pods.
    pub(crate) fn remove_service_if_done(&self, service_id: &str) -> Result<()> {
        if service_id.is_empty() {
            return Ok(());
        }
        let service = match self.container(service_id) {
            Ok(c) => c,
            Err(Error::NoSuchContainer(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        for p in &service.config.service_pods {
            if self.db.pod(p)?.is_some() {
                return Ok(());
            }
        }
        let opts = RemoveOptions {
            force: true,
            volumes: false,
            timeout: Some(0),
        };
        match self.remove(service.id(), &opts) {
            Ok(_) | Err(Error::NoSuchContainer(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// A service container whose pods exist cannot be removed on its own (Podman's words).
    pub(crate) fn refuse_service_removal(&self, c: &Container) -> Result<()> {
        let mut live = Vec::new();
        for p in &c.config.service_pods {
            if self.db.pod(p)?.is_some() {
                live.push(p.as_str());
            }
        }
        if live.is_empty() {
            return Ok(());
        }
        Err(Error::invalid(format!(
            "container {} is the service container of pod(s) {} and cannot be removed without removing the pod(s)",
            c.id(),
            live.join(",")
        )))
    }
}
