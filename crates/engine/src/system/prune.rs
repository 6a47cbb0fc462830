//! `system prune`: in Podman 4.3's order — pods, containers, volumes (with `--volumes`),
//! images, networks — round after round until one removes nothing (an image whose last
//! container went in one round goes in the next).
//!
//! What each kind loses, as Podman: pods whose containers all exited (Podman's "Exited" or
//! "Stopped" pods); containers that do not run and are not in a pod; volumes no container
//! uses; dangling images (no name), or with `--all` every image no container uses; networks
//! no container uses, never the default one. Every kind honours the filters.

use chrono::{DateTime, Utc};

use super::{PruneFilter, all_match, all_match_hash, dir_size};
use crate::Engine;
use crate::container::RemoveOptions;
use crate::error::{Error, Result};
use crate::volume::VolumeError;

/// How many rounds at most (Podman's limit for `--all`).
const MAX_ROUNDS: usize = 50;

/// A `system prune` request.
#[derive(Debug, Clone, Default)]
pub struct SystemPruneOptions {
    /// `-a`: every unused image, not only dangling ones.
    pub all: bool,
    /// `--volumes`.
    pub volumes: bool,
    pub filters: Vec<PruneFilter>,
}

/// What went, by kind, in the order removed; failures; bytes freed.
#[derive(Debug, Default)]
pub struct SystemPruneReport {
    pub pods: Vec<String>,
    pub containers: Vec<String>,
    pub volumes: Vec<String>,
    pub images: Vec<String>,
    pub networks: Vec<String>,
    /// Objects that could not be removed (each error names it); the rest went.
    pub errors: Vec<Error>,
    pub reclaimed: u64,
}

impl SystemPruneReport {
    fn removed(&self) -> usize {
        self.pods.len()
            + self.containers.len()
            + self.volumes.len()
            + self.images.len()
            + self.networks.len()
    }
}

impl Engine {
    pub fn system_prune(&self, opts: &SystemPruneOptions) -> Result<SystemPruneReport> {
        let mut report = SystemPruneReport::default();
        for _ in 0..MAX_ROUNDS {
            let before = report.removed();
            self.prune_pods_round(opts, &mut report)?;
            self.prune_containers_round(opts, &mut report)?;
            if opts.volumes {
                self.prune_volumes_round(opts, &mut report)?;
            }
            self.prune_images_round(opts, &mut report)?;
            self.prune_networks_round(opts, &mut report)?;
            if report.removed() == before {
                break;
            }
        }
        Ok(report)
    }

    /// `container prune` (the API's): stopped containers not in a pod, filtered; what went
    /// in `containers` and `reclaimed`.
    pub fn prune_containers(&self, filters: &[PruneFilter]) -> Result<SystemPruneReport> {
        let opts = SystemPruneOptions {
            filters: filters.to_vec(),
            ..Default::default()
        };
        let mut report = SystemPruneReport::default();
        self.prune_containers_round(&opts, &mut report)?;
        Ok(report)
    }

    /// `network prune` (the API's): networks no container uses, never the default one,
    /// filtered; what went in `networks`.
    pub fn prune_networks(&self, filters: &[PruneFilter]) -> Result<SystemPruneReport> {
        let opts = SystemPruneOptions {
            filters: filters.to_vec(),
            ..Default::default()
        };
        let mut report = SystemPruneReport::default();
        self.prune_networks_round(&opts, &mut report)?;
        Ok(report)
    }

    fn prune_pods_round(&self, opts: &SystemPruneOptions, r: &mut SystemPruneReport) -> Result<()> {
        for pod in self.pods()? {
            if r.pods.iter().any(|p| p == pod.id())
                || !matches!(self.pod_status(&pod)?, "Exited" | "Stopped")
                || !all_match(&opts.filters, &pod.config.labels, pod.config.created)
            {
                continue;
            }
            let members = self.db.pod_containers(pod.id())?;
            let size: u64 = members
                .iter()
                .map(|c| dir_size(&self.paths.container_dir(c.id())))
                .sum();
            match self.remove_pod(pod.id(), false, None) {
                Ok(id) => {
                    r.pods.push(id);
                    r.reclaimed += size;
                }
                Err(Error::NoSuchPod(_)) => {}
                Err(e) => push_once(&mut r.errors, e),
            }
        }
        Ok(())
    }

    fn prune_containers_round(
        &self,
        opts: &SystemPruneOptions,
        r: &mut SystemPruneReport,
    ) -> Result<()> {
        for c in self.containers()? {
            if c.state.status.is_active()
                || !c.config.pod.is_empty()
                || !all_match(&opts.filters, &c.config.labels, c.config.created)
            {
                continue;
            }
            let size = dir_size(&self.paths.container_dir(c.id()));
            match self.remove(c.id(), &RemoveOptions::default()) {
                Ok(id) => {
                    r.containers.push(id);
                    r.reclaimed += size;
                }
                Err(Error::NoSuchContainer(_)) => {}
                Err(e) => push_once(&mut r.errors, e),
            }
        }
        Ok(())
    }

    fn prune_volumes_round(
        &self,
        opts: &SystemPruneOptions,
        r: &mut SystemPruneReport,
    ) -> Result<()> {
        for v in self.volumes()? {
            if !all_match(&opts.filters, &v.labels, v.created)
                || !self.volume_users(&v.name)?.is_empty()
            {
                continue;
            }
            let size = dir_size(&self.paths.volume_dir(&v.name));
            match self.remove_volume(&v.name, false, None) {
                Ok(()) => {
                    r.volumes.push(v.name);
                    r.reclaimed += size;
                }
                // Taken by a container meanwhile, or removed by someone else: keep going.
                Err(Error::Volume(VolumeError::InUse { .. } | VolumeError::NoSuchVolume(_))) => {}
                Err(e) => push_once(&mut r.errors, e),
            }
        }
        Ok(())
    }

    fn prune_images_round(
        &self,
        opts: &SystemPruneOptions,
        r: &mut SystemPruneReport,
    ) -> Result<()> {
        for image in self.images()? {
            let unused = self.db.containers_using_image(&image.id)?.is_empty();
            if !unused || (!opts.all && !image.names.is_empty()) {
                continue;
            }
            let config = self.image_config(&image).ok();
            let labels = config
                .as_ref()
                .and_then(|c| c.config().as_ref())
                .and_then(|c| c.labels().as_ref());
            if !all_match_hash(&opts.filters, labels, Some(image.created)) {
                continue;
            }
            match self.remove_image(&image.id, false) {
                Ok(removed) if removed.deleted.is_some() => {
                    r.images.push(image.id.clone());
                    r.reclaimed += image.size;
                }
                Ok(_) | Err(Error::NoSuchImage(_)) => {}
                Err(e) => push_once(&mut r.errors, e),
            }
        }
        Ok(())
    }

    fn prune_networks_round(
        &self,
        opts: &SystemPruneOptions,
        r: &mut SystemPruneReport,
    ) -> Result<()> {
        for n in self.networks()? {
            let created = n
                .created
                .as_deref()
                .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
                .map(|c| c.with_timezone(&Utc));
            if n.name == crate::network::DEFAULT_NETWORK
                || !all_match_hash(&opts.filters, n.labels.as_ref(), created)
                || !self.network_users(&n.name)?.is_empty()
            {
                continue;
            }
            match self.network_remove(&n.name, false, None) {
                Ok(_) => r.networks.push(n.name),
                Err(Error::NoSuchNetwork(_) | Error::NetworkInUse { .. }) => {}
                Err(e) => push_once(&mut r.errors, e),
            }
        }
        Ok(())
    }
}

/// A failure that repeats round after round is reported once.
fn push_once(errors: &mut Vec<Error>, e: Error) {
    let text = e.to_string();
    if !errors.iter().any(|x| x.to_string() == text) {
        errors.push(e);
    }
}
