//! `ps`: the containers a listing asks for, newest first, each with the facts a front end
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
    /// `ps`: filtered, newest first, cut to `--last`/`--latest`.
    pub fn ps(&self, req: &PsRequest) -> Result<Vec<PsEntry>> {
        let filters = ContainerFilter::parse_all(&req.filters, self)?;
        let mut all = self.containers()?;
        all.sort_by_key(|c| std::cmp::Reverse(c.config.created));
        let every_state = req.all || req.last.is_some() || req.latest;
        let mut list: Vec<Container> = all
            .into_iter()
            .filter(|c| every_state || matches!(c.state.status, Status::Running | Status::Paused))
            .filter(|c| container_matches(&filters, c))
            .collect();
        if let Some(n) = req.last {
            list.truncate(n);
        }
        if req.latest {
            list.truncate(1);
        }
        self.ps_entries(list)
    }

    fn ps_entries(&self, list: Vec<Container>) -> Result<Vec<PsEntry>> {
        if list.iter().all(|c| c.config.pod.is_empty()) {
            return Ok(list
                .into_iter()
                .map(|c| PsEntry {
                    ports: c.published_ports().to_vec(),
                    container: c,
                    pod_name: String::new(),
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
                    container: c,
                    pod_name,
                    ports,
                }
            })
            .collect())
    }
}
