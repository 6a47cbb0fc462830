//! `ps`: the containers a listing asks for, newest or (Podman's `ps`) oldest first, each
//! with the facts a front end
//! needs to render a row (its pod's name, the ports it is reachable on). Humanising,
//! truncation and templates are the front end's.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{Container, Status};
use crate::Engine;
use crate::error::{Error, Result};
use crate::filter::{ContainerFilter, Lookup, container_matches};
use crate::network::PortMapping;

/// `ps` as plain values.
#[derive(Debug, Clone, Default)]
pub struct PsRequest {
    /// `-a`: stopped containers too (otherwise running and paused ones only).
    pub all: bool,
    /// `-n`: the last N created, whatever their state.
    pub last: Option<usize>,
    /// `-l`: the last created only.
    pub latest: bool,
    /// `--filter KEY=VALUE`.
    pub filters: Vec<String>,
    /// `--sort`: command, created, id, image, names, pod, runningfor, size or status
    /// (`None`: by creation, see `oldest_first`).
    pub sort: Option<String>,
    /// Oldest first, as Podman's `ps` lists (pkg/ps sorts by creation time after `--last`
    /// took the newest); otherwise newest first, as Docker's API lists.
    pub oldest_first: bool,
    /// `--external`: the external containers (a build's working containers) too.
    pub external: bool,
}

/// Orders a listing as Podman's `ps --sort KEY` does (ascending; "created" oldest first).
fn sort_entries(list: &mut [PsEntry], key: &str) -> Result<()> {
    let k = |e: &PsEntry| -> (String, i64) {
        let c = &e.container;
        match key {
            "command" => (c.config.args.join(" "), 0),
            "created" => (
                String::new(),
                c.config.created.timestamp_nanos_opt().unwrap_or(0),
            ),
            "id" => (c.id().to_string(), 0),
            "image" => (c.config.image_name.clone(), 0),
            "names" => (c.name().to_string(), 0),
            "pod" => (c.config.pod.clone(), 0),
            "runningfor" => (String::new(), e.started_at().map_or(0, |t| t.timestamp())),
            "status" => (c.state.status.to_string(), 0),
            // Podman compares sizes only when `--size` computed them; peapod's listing has none.
            _ => (String::new(), 0),
        }
    };
    if !matches!(
        key,
        "command" | "created" | "id" | "image" | "names" | "pod" | "runningfor" | "size" | "status"
    ) {
        return Err(Error::invalid(
            "invalid option for --sort, options are: command, created, id, image, names, runningfor, size, or status",
        ));
    }
    list.sort_by_cached_key(k);
    Ok(())
}

/// One container of a listing.
#[derive(Debug, Clone)]
pub struct PsEntry {
    pub container: Container,
    /// Its pod's name ("" outside a pod).
    pub pod_name: String,
    /// The ports it is reachable on from the host: its own, or for a member of a pod that
    /// shares the infra's network, the pod's (Podman shows them on every member's row).
    pub ports: Vec<PortMapping>,
    /// The healthcheck's status (`starting`, `healthy`, `unhealthy`) of a running container
    /// with a check.
    pub health: Option<String>,
    /// An external container (`--external`): Podman shows its state as `storage`, its
    /// command as `buildah` and as its image the first name the image had ("" for a
    /// nameless one, such as a build's intermediate image).
    pub external: Option<ExternalFacts>,
}

/// What `ps --external` shows of an external container.
#[derive(Debug, Clone)]
pub struct ExternalFacts {
    /// The first name its image had, or "".
    pub image: String,
}

impl PsEntry {
    pub fn exited(&self) -> bool {
        matches!(
            self.container.state.status,
            Status::Exited | Status::Stopped
        )
    }

    pub fn started_at(&self) -> Option<DateTime<Utc>> {
        self.container.state.started_at
    }
}

impl Lookup for Engine {
    fn container_created(&self, reference: &str) -> Result<DateTime<Utc>> {
        Ok(self.db.lookup_container(reference)?.config.created)
    }

    fn pod_id(&self, reference: &str) -> Result<Option<String>> {
        match self.db.lookup_pod(reference) {
            Ok(p) => Ok(Some(p.id().to_string())),
            Err(Error::NoSuchPod(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl Engine {
    /// `ps`: filtered, cut to `--last`/`--latest` (the newest), in the order asked.
    pub fn ps(&self, req: &PsRequest) -> Result<Vec<PsEntry>> {
        let filters = ContainerFilter::parse_all(&req.filters, self)?;
        let mut all = self.containers()?;
        all.sort_by_key(|c| std::cmp::Reverse(c.config.created));
        // A status filter picks the states itself (Podman adds status=running only when
        // none is given).
        let every_state = req.all
            || req.last.is_some()
            || req.latest
            || req.filters.iter().any(|f| f.starts_with("status="));
        let mut list: Vec<Container> = all
            .into_iter()
            .filter(|c| every_state || matches!(c.state.status, Status::Running | Status::Paused))
            .filter(|c| container_matches(&filters, c))
            .filter(|c| crate::filter::health_matches(&filters, self.health_status(c).as_deref()))
            .collect();
        if let Some(n) = req.last {
            list.truncate(n);
        }
        if req.latest {
            list.truncate(1);
        }
        let mut entries = self.ps_entries(list)?;
        if req.external {
            entries.extend(self.external_entries()?);
        }
        // External containers among the others, by creation.
        if req.oldest_first {
            entries.sort_by_key(|e| e.container.config.created);
        } else {
            entries.sort_by_key(|e| std::cmp::Reverse(e.container.config.created));
        }
        if let Some(key) = &req.sort {
            sort_entries(&mut entries, key)?;
        }
        Ok(entries)
    }

    /// The external containers' rows, as libpod's `ListStorageContainer` makes them.
    fn external_entries(&self) -> Result<Vec<PsEntry>> {
        let mut out = Vec::new();
        for c in self.external_containers()? {
            let image = self
                .db
                .image(&c.config.image_id)?
                .and_then(|i| i.names_history.first().cloned())
                .unwrap_or_default();
            out.push(PsEntry {
                container: c,
                pod_name: String::new(),
                ports: Vec::new(),
                health: None,
                external: Some(ExternalFacts { image }),
            });
        }
        Ok(out)
    }

    fn ps_entries(&self, list: Vec<Container>) -> Result<Vec<PsEntry>> {
        if list.iter().all(|c| c.config.pod.is_empty()) {
            return Ok(list
                .into_iter()
                .map(|c| PsEntry {
                    ports: c.published_ports().to_vec(),
                    health: self.health_status(&c),
                    container: c,
                    pod_name: String::new(),
                    external: None,
                })
                .collect());
        }
        // Per pod: its name and, when it shares its infra's network, the infra's ports.
        let mut pods: HashMap<String, (String, Option<Vec<PortMapping>>)> = HashMap::new();
        for p in self.pods()? {
            let ports = if p.shares("net") && !p.config.infra_id.is_empty() {
                self.db
                    .container(&p.config.infra_id)?
                    .map(|infra| infra.published_ports().to_vec())
            } else {
                None
            };
            pods.insert(p.config.id.clone(), (p.config.name.clone(), ports));
        }
        Ok(list
            .into_iter()
            .map(|c| {
                let (pod_name, pod_ports) = pods
                    .get(&c.config.pod)
                    .map(|(n, p)| (n.clone(), p.clone()))
                    .unwrap_or_default();
                let ports = pod_ports.unwrap_or_else(|| c.published_ports().to_vec());
                PsEntry {
                    health: self.health_status(&c),
                    container: c,
                    pod_name,
                    ports,
                    external: None,
                }
            })
            .collect())
    }
}

impl Engine {
    /// The containers `start` acts on (Podman's `ContainerStart`): the named ones, or with
    /// `all` every container not already running or paused (shown by id); `filters`
    /// (ps's `--filter`) keep only the matching ones (alone, they pick among all), and a named container that does not
    /// match, or does not exist, is left out without an error, as Podman does.
    pub fn start_selection(
        &self,
        given: &[String],
        all: bool,
        filters: &[String],
    ) -> Result<Vec<crate::parallel::Target>> {
        if all && !given.is_empty() {
            return Err(Error::invalid(
                "either start all containers or the container(s) provided in the arguments",
            ));
        }
        // `--filter` alone picks among all containers.
        let all = all || (given.is_empty() && !filters.is_empty());
        if !all && given.is_empty() {
            return Err(Error::invalid("start requires at least one argument"));
        }
        let parsed = ContainerFilter::parse_all(filters, self)?;
        if !all {
            let targets = self.resolve_containers(given, !filters.is_empty())?;
            if parsed.is_empty() {
                return Ok(targets);
            }
            let mut kept = Vec::new();
            for t in targets {
                if container_matches(&parsed, &self.db.lookup_container(&t.id)?) {
                    kept.push(t);
                }
            }
            return Ok(kept);
        }
        let mut list = self.containers()?;
        list.sort_by_key(|c| c.config.created);
        Ok(list
            .into_iter()
            .filter(|c| {
                !matches!(
                    c.state.status,
                    Status::Running | Status::Paused | Status::Stopping
                ) && container_matches(&parsed, c)
            })
            .map(|c| crate::parallel::Target {
                given: c.id().to_string(),
                id: c.id().to_string(),
            })
            .collect())
    }
}
