//! `pod top` and `pod stats`: what the pod's running containers do, read from the kernel
//! (`ps` inside each container, the cgroup v1 or v2 files). The front end formats.

use std::collections::{BTreeSet, HashMap};

use super::Pod;
use crate::Engine;
use crate::container::{Container, Status};
use crate::error::{Error, Result};

/// One running container of `pod stats`: its pod and the figures `stats` reports.
#[derive(Debug, Clone)]
pub struct PodStatsEntry {
    pub pod_id: String,
    pub stats: ContainerStats,
}

use crate::container::stats::ContainerStats;
pub use crate::container::stats::mem_total;

impl Engine {
    /// `pod top`: `ps` of every running member, one header, a process shown once even when a
    /// shared pid namespace shows it in every member.
    pub fn pod_top(&self, reference: &str, descriptors: &[String]) -> Result<Vec<String>> {
        let pod = self.pod(reference)?;
        let ctrs: Vec<Container> = self
            .pod_containers(pod.id())?
            .into_iter()
            .filter(|c| c.state.status == Status::Running)
            .collect();
        if ctrs.is_empty() {
            return Err(Error::invalid(format!(
                "pod {} is not running: no running containers in the pod",
                pod.id()
            )));
        }
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        for c in &ctrs {
            let mut lines = self.top(c.id(), descriptors)?.into_iter();
            let header = lines.next().unwrap_or_default();
            if out.is_empty() {
                out.push(header);
            }
            out.extend(lines.filter(|l| seen.insert(l.clone())));
        }
        Ok(out)
    }

    /// One round of `pod stats`: the running containers of `pods` (every pod when empty),
    /// each measured as `stats` measures it (CPU % since `previous`'s round of the same
    /// container, since its start the first time: one arithmetic for both commands).
    pub fn pod_stats(
        &self,
        pods: &[String],
        previous: &HashMap<String, ContainerStats>,
    ) -> Result<Vec<PodStatsEntry>> {
        if crate::rootless::is_rootless() && !crate::config::cgroup_unified() {
            // Podman's words: a rootless container on cgroup v1 has no cgroup of its own.
            return Err(crate::Error::invalid(
                "stats is not supported in rootless mode without cgroups v2",
            ));
        }
        let pods: Vec<Pod> = if pods.is_empty() {
            self.pods()?
        } else {
            pods.iter().map(|p| self.pod(p)).collect::<Result<_>>()?
        };
        let mut out = Vec::new();
        for p in &pods {
            for c in self.pod_containers(p.id())? {
                if c.state.status != Status::Running {
                    continue;
                }
                let stats = self.stats_of(&c, previous.get(c.id()));
                // Stopped meanwhile: no cgroup left to read.
                if stats.running {
                    out.push(PodStatsEntry {
                        pod_id: p.id().to_string(),
                        stats,
                    });
                }
            }
        }
        Ok(out)
    }
}
