//! `stats`: what running containers use, read from their cgroups (v1 or v2) and their
//! network namespace, computed as Podman 4.3's libpod does (`getPlatformContainerStats`):
//! CPU % over the time since the previous sample (since the start for the first), average
//! CPU % since the start, memory against the limit (or the host's memory), block and
//! network bytes, processes. The front end formats and repeats.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;

use super::{Container, Status};
use crate::Engine;
use crate::error::{Error, Result};

/// What a container's cgroup says at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct CgroupSample {
    pub cpu_ns: u64,
    pub mem_usage: u64,
    /// The memory limit, at most the host's memory.
    pub mem_limit: u64,
    pub pids: Option<u64>,
    pub block_read: u64,
    pub block_write: u64,
}

/// One container's figures, as Podman's `define.ContainerStats`.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerStats {
    pub id: String,
    pub name: String,
    /// Running (or paused) when sampled: the figures below are zeros otherwise.
    pub running: bool,
    /// CPU time used, in nanoseconds (the `CPU TIME` column).
    pub cpu_nano: u64,
    /// When this sample was taken (Unix nanoseconds): the next one's base.
    pub system_nano: u64,
    pub cpu_percent: f64,
    pub avg_cpu: f64,
    pub mem_usage: u64,
    pub mem_limit: u64,
    pub mem_percent: f64,
    /// Podman's `NetInput` / `NetOutput` (its eth0's tx and rx bytes, in that order).
    pub net_input: u64,
    pub net_output: u64,
    pub block_input: u64,
    pub block_output: u64,
    pub pids: u64,
}

fn read(p: &str) -> Option<String> {
    std::fs::read_to_string(p).ok()
}

fn number(p: &str) -> Option<u64> {
    read(p)?.trim().parse().ok()
}

/// `MemTotal` of /proc/meminfo, in bytes.
pub fn mem_total() -> Option<u64> {
    let m = read("/proc/meminfo")?;
    m.lines().find_map(|l| {
        let kb = l
            .strip_prefix("MemTotal:")?
            .trim()
            .trim_end_matches("kB")
            .trim();
        kb.parse::<u64>().ok().map(|kb| kb * 1024)
    })
}

/// The cgroup of a running container, read now; None when it is gone.
pub(crate) fn cgroup_sample(c: &Container) -> Option<CgroupSample> {
    let rel = c.cgroups_path();
    let rel = rel.trim_start_matches('/');
    let host = mem_total().unwrap_or(u64::MAX);
    if crate::config::cgroup_unified() {
        let base = format!("/sys/fs/cgroup/{rel}");
        let cpu = read(&format!("{base}/cpu.stat"))?
            .lines()
            .find_map(|l| l.strip_prefix("usage_usec ")?.trim().parse::<u64>().ok())?
            * 1000;
        let (mut r, mut w) = (0, 0);
        for line in read(&format!("{base}/io.stat")).unwrap_or_default().lines() {
            for kv in line.split_whitespace().skip(1) {
                match kv.split_once('=') {
                    Some(("rbytes", v)) => r += v.parse::<u64>().unwrap_or(0),
                    Some(("wbytes", v)) => w += v.parse::<u64>().unwrap_or(0),
                    _ => {}
                }
            }
        }
        Some(CgroupSample {
            cpu_ns: cpu,
            mem_usage: number(&format!("{base}/memory.current"))?,
            mem_limit: number(&format!("{base}/memory.max"))
                .unwrap_or(host)
                .min(host),
            pids: number(&format!("{base}/pids.current")),
            block_read: r,
            block_write: w,
        })
    } else {
        let (mut r, mut w) = (0, 0);
        let blkio = read(&format!(
            "/sys/fs/cgroup/blkio/{rel}/blkio.throttle.io_service_bytes_recursive"
        ))
        .or_else(|| {
            read(&format!(
                "/sys/fs/cgroup/blkio/{rel}/blkio.throttle.io_service_bytes"
            ))
        })
        .unwrap_or_default();
        for line in blkio.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if let [_, op, v] = f[..] {
                let v = v.parse::<u64>().unwrap_or(0);
                match op.to_ascii_lowercase().as_str() {
                    "read" => r += v,
                    "write" => w += v,
                    _ => {}
                }
            }
        }
        Some(CgroupSample {
            cpu_ns: number(&format!("/sys/fs/cgroup/cpuacct/{rel}/cpuacct.usage"))?,
            mem_usage: number(&format!(
                "/sys/fs/cgroup/memory/{rel}/memory.usage_in_bytes"
            ))?,
            mem_limit: number(&format!(
                "/sys/fs/cgroup/memory/{rel}/memory.limit_in_bytes"
            ))
            .unwrap_or(host)
            .min(host),
            pids: number(&format!("/sys/fs/cgroup/pids/{rel}/pids.current")),
            block_read: r,
            block_write: w,
        })
    }
}

/// The host's CPU time since boot in nanoseconds (the `cpu` line of /proc/stat, every
/// column, in clock ticks of 1/100 s), Docker's `system_cpu_usage`.
pub fn system_cpu_ns() -> u64 {
    read("/proc/stat")
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("cpu "))?.to_string();
            Some(
                line.split_whitespace()
                    .skip(1)
                    .filter_map(|v| v.parse::<u64>().ok())
                    .sum::<u64>()
                    * 10_000_000,
            )
        })
        .unwrap_or(0)
}

/// Transmitted and received bytes of the container's `eth0` (Podman reads that link
/// only), from its network namespace as its process sees it; zeros without one.
pub(crate) fn net_io(pid: i32) -> (u64, u64) {
    let Some(dev) = read(&format!("/proc/{pid}/net/dev")) else {
        return (0, 0);
    };
    for line in dev.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        if name.trim() != "eth0" {
            continue;
        }
        let f: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        // Receive: bytes packets errs drop fifo frame compressed multicast; then transmit.
        if f.len() >= 9 {
            return (f[8], f[0]);
        }
    }
    (0, 0)
}

/// Podman's `calculateCPUPercent`: CPU time over wall time since `since`, in percent.
fn cpu_percent(cpu_now: u64, cpu_before: u64, now: u64, since: u64) -> f64 {
    let cpu = cpu_now.saturating_sub(cpu_before) as f64;
    let wall = now.saturating_sub(since) as f64;
    if wall > 0.0 && cpu > 0.0 {
        cpu / wall * 100.0
    } else {
        0.0
    }
}

/// What `stats` asks for.
#[derive(Debug, Clone, Default)]
pub struct StatsRequest {
    /// Containers by name or id; none: the running ones (`-a`: all, stopped ones read 0).
    pub containers: Vec<String>,
    pub all: bool,
    pub latest: bool,
}

impl Engine {
    /// One round of `stats`. `previous` holds the last round's figures by id (empty the
    /// first time): CPU % is measured since then.
    pub fn container_stats(
        &self,
        req: &StatsRequest,
        previous: &HashMap<String, ContainerStats>,
    ) -> Result<Vec<ContainerStats>> {
        if crate::rootless::is_rootless() && !crate::config::cgroup_unified() {
            return Err(Error::invalid(
                "stats is not supported in rootless mode without cgroups v2",
            ));
        }
        let list: Vec<Container> = if req.containers.is_empty() {
            let mut all = self.containers()?;
            all.sort_by_key(|c| std::cmp::Reverse(c.config.created));
            if req.latest {
                all.truncate(1);
            }
            all.into_iter()
                .filter(|c| req.all || req.latest || is_live(c))
                .collect()
        } else {
            req.containers
                .iter()
                .map(|r| self.container(r))
                .collect::<Result<_>>()?
        };
        Ok(list
            .iter()
            .map(|c| self.stats_of(c, previous.get(c.id())))
            .collect())
    }

    pub(crate) fn stats_of(
        &self,
        c: &Container,
        previous: Option<&ContainerStats>,
    ) -> ContainerStats {
        let now = Utc::now().timestamp_nanos_opt().unwrap_or(0).max(0) as u64;
        let mut s = ContainerStats {
            id: c.id().to_string(),
            name: c.name().to_string(),
            running: false,
            cpu_nano: 0,
            system_nano: now,
            cpu_percent: 0.0,
            avg_cpu: 0.0,
            mem_usage: 0,
            mem_limit: 0,
            mem_percent: 0.0,
            net_input: 0,
            net_output: 0,
            block_input: 0,
            block_output: 0,
            pids: 0,
        };
        if !is_live(c) {
            return s;
        }
        let Some(g) = cgroup_sample(c) else {
            return s;
        };
        let started = c
            .state
            .started_at
            .and_then(|t| t.timestamp_nanos_opt())
            .unwrap_or(0)
            .max(0) as u64;
        // A counter that went back (a restart): measure from the start again.
        let (cpu_before, since) = match previous {
            Some(p) if p.cpu_nano <= g.cpu_ns && p.system_nano > 0 => (p.cpu_nano, p.system_nano),
            _ => (0, started),
        };
        let limit = match c.config.resources.memory {
            Some(m) if m > 0 => g.mem_limit.min(m as u64),
            _ => g.mem_limit,
        };
        let (tx, rx) = net_io(c.state.pid);
        s.running = true;
        s.cpu_nano = g.cpu_ns;
        s.cpu_percent = cpu_percent(g.cpu_ns, cpu_before, now, since);
        s.avg_cpu = cpu_percent(g.cpu_ns, 0, now, started);
        s.mem_usage = g.mem_usage;
        s.mem_limit = limit;
        s.mem_percent = if limit > 0 {
            g.mem_usage as f64 / limit as f64 * 100.0
        } else {
            0.0
        };
        s.net_input = tx;
        s.net_output = rx;
        s.block_input = g.block_read;
        s.block_output = g.block_write;
        s.pids = g.pids.unwrap_or(0);
        s
    }
}

fn is_live(c: &Container) -> bool {
    matches!(c.state.status, Status::Running | Status::Paused)
}

/// Go's `time.Duration.String()` of nanoseconds (`59.453696ms`), as the `CPU TIME` column
/// prints it.
pub fn go_duration_ns(ns: u64) -> String {
    super::top::go_duration(Duration::from_nanos(ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_percent_as_podman() {
        assert_eq!(cpu_percent(50, 0, 1000, 0), 5.0);
        assert_eq!(cpu_percent(150, 50, 2000, 1000), 10.0);
        assert_eq!(cpu_percent(10, 20, 2000, 1000), 0.0);
        assert_eq!(cpu_percent(10, 0, 1000, 1000), 0.0);
    }

    #[test]
    fn cpu_time_as_go_prints_it() {
        assert_eq!(go_duration_ns(59_453_696), "59.453696ms");
        assert_eq!(go_duration_ns(123_400_000_000), "2m3.4s");
    }
}
