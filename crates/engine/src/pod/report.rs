//! Pod reports: the `pod ps` listing (each pod with its containers, state and networks).
//! Humanising, truncation, sorting for display and templates are the front end's.

use super::Pod;
use crate::Engine;
use crate::container::Container;
use crate::error::Result;
use crate::filter::{PodFacts, PodFilter, pod_matches};

/// One pod of `pod ps`.
#[derive(Debug, Clone)]
pub struct PodListEntry {
    pub pod: Pod,
    /// Its containers, reconciled, in creation order (the infra included).
    pub containers: Vec<Container>,
    /// Podman's pod state (`Created`, `Running`, `Degraded`, `Paused`, `Exited`…).
    pub status: &'static str,
    /// The networks of its infra container.
    pub networks: Vec<String>,
}

impl Engine {
    /// `pod ps`: every pod that `filters` (`KEY=VALUE`) keep, in the store's order.
    pub fn pod_list(&self, filters: &[String]) -> Result<Vec<PodListEntry>> {
        let filters = PodFilter::parse_all(filters)?;
        let mut out = Vec::new();
        for pod in self.pods()? {
            let containers = self.pod_containers(pod.id())?;
            let status = super::pod_status(&containers);
            let networks: Vec<String> = containers
                .iter()
                .find(|c| c.config.is_infra)
                .map(|c| c.config.networks.keys().cloned().collect())
                .unwrap_or_default();
            let keep = pod_matches(
                &filters,
                &PodFacts {
                    pod: &pod,
                    containers: &containers,
                    status,
                    networks: &networks,
                },
            );
            if keep {
                out.push(PodListEntry {
                    pod,
                    containers,
                    status,
                    networks,
                });
            }
        }
        Ok(out)
    }
}
