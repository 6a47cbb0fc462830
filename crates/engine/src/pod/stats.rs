//! `pod top` and `pod stats`: what the pod's running containers do, read from the kernel
//! (`ps` inside each container, the cgroup v1 or v2 files). The front end formats.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::Pod;
use crate::Engine;
use crate::container::{Container, Status};
use crate::error::{Error, Result};

/// One running container of `pod stats`: raw numbers, sampled twice.
#[derive(Debug, Clone)]
pub struct PodStatsEntry {
    pub pod_id: String,
    pub container_id: String,
    pub name: String,
    /// Share of one CPU over the sampling interval, in percent.
    pub cpu_percent: f64,
    pub mem_usage: u64,
    /// The memory limit, or the host's memory when none is set.
    pub mem_limit: u64,
    /// Processes in the cgroup (`None` when the pids controller tells nothing).
    pub pids: Option<u64>,
    /// Podman's `NetInput` / `NetOutput` (eth0's tx and rx) and block bytes read / written.
    pub net_io: (u64, u64),
    pub block_io: (u64, u64),
}

/// How long `pod stats` waits between its two CPU samples.
const SAMPLE: Duration = Duration::from_millis(500);

use crate::container::stats::cgroup_sample;
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

    /// `pod stats`: the running containers of `pods` (every pod when empty), sampled twice
    /// [`SAMPLE`] apart. A container that stops in between has no cgroup left and is left out.
    pub fn pod_stats(&self, pods: &[String]) -> Result<Vec<PodStatsEntry>> {
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
        let mut running: Vec<(String, Container)> = Vec::new();
        for p in &pods {
            for c in self.pod_containers(p.id())? {
                if c.state.status == Status::Running {
                    running.push((p.id().to_string(), c));
                }
            }
        }
        let first: BTreeMap<String, u64> = running
            .iter()
            .filter_map(|(_, c)| Some((c.id().to_string(), cgroup_sample(c)?.cpu_ns)))
            .collect();
        std::thread::sleep(SAMPLE);
        let mut out = Vec::new();
        for (pod_id, c) in running {
            let Some(g) = cgroup_sample(&c) else {
                continue;
            };
            let (cpu, mem, limit) = (g.cpu_ns, g.mem_usage, g.mem_limit);
            let before = first.get(c.id()).copied().unwrap_or(cpu);
            out.push(PodStatsEntry {
                pod_id,
                container_id: c.id().to_string(),
                name: c.name().to_string(),
                cpu_percent: cpu.saturating_sub(before) as f64 / SAMPLE.as_nanos() as f64 * 100.0,
                mem_usage: mem,
                mem_limit: limit,
                pids: g.pids,
                net_io: crate::container::stats::net_io(c.state.pid),
                block_io: (g.block_read, g.block_write),
            });
        }
        Ok(out)
    }
}
