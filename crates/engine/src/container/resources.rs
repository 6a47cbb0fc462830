//! Resource limits of a container (`-m`, `--memory-swap`, `--memory-reservation`, `--cpus`,
//! `--cpu-shares`, `--cpuset-cpus`, `--cpuset-mems`, `--blkio-weight`, `--pids-limit`):
//! parsed and checked as Podman does at create (and `update`), kept in the container's
//! configuration, and turned into the OCI spec's `linux.resources` (the runtime writes the
//! cgroup files, v1 or v2).

use oci_spec::runtime::{
    LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResources, LinuxResourcesBuilder,
};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// containers.conf `pids_limit`: Podman's default when `--pids-limit` is not given.
pub const DEFAULT_PIDS_LIMIT: i64 = 2048;
/// The CFS period Podman uses with `--cpus`.
pub const CPU_PERIOD: u64 = 100_000;

/// What the user asked for, as create stores it. `None` means "not given".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    /// Memory limit in bytes (`-m`); 0 or None: unlimited.
    #[serde(default)]
    pub memory: Option<i64>,
    /// Memory plus swap in bytes (`--memory-swap`); -1: unlimited swap.
    #[serde(default)]
    pub memory_swap: Option<i64>,
    /// CPUs in billionths (`--cpus 1.5` = 1_500_000_000).
    #[serde(default)]
    pub nano_cpus: Option<i64>,
    #[serde(default)]
    pub cpu_shares: Option<u64>,
    /// `--pids-limit`; 0 or -1: unlimited; None: [`DEFAULT_PIDS_LIMIT`].
    #[serde(default)]
    pub pids_limit: Option<i64>,
    /// `--memory-reservation`: the soft limit, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_reservation: Option<i64>,
    /// `--cpuset-cpus` / `--cpuset-mems`: CPUs and memory nodes (`0-3,5`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpuset_cpus: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpuset_mems: Option<String>,
    /// `--blkio-weight` (10 to 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blkio_weight: Option<u16>,
}

/// The flags' spellings (`-m 512m`, `--cpus 1.5`); [`parse`] turns them into [`Resources`].
#[derive(Debug, Clone, Default)]
pub struct ResourceFlags {
    pub memory: Option<String>,
    pub memory_swap: Option<String>,
    pub cpus: Option<f64>,
    pub cpu_shares: Option<u64>,
    pub pids_limit: Option<i64>,
    pub memory_reservation: Option<String>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub blkio_weight: Option<u16>,
}

impl ResourceFlags {
    /// No limit flag was given.
    pub fn is_empty(&self) -> bool {
        self.memory.is_none()
            && self.memory_swap.is_none()
            && self.cpus.is_none()
            && self.cpu_shares.is_none()
            && self.pids_limit.is_none()
            && self.memory_reservation.is_none()
            && self.cpuset_cpus.is_none()
            && self.cpuset_mems.is_none()
            && self.blkio_weight.is_none()
    }
}

/// docker/go-units `RAMInBytes`: `20m`, `20MB`, `20mib`, `1.5g`, `512KiB`, plain bytes;
/// binary multiples (its regexp: digits with an optional fraction, an optional space, then
/// `[kmgtp]?i?b?` in any case).
pub fn ram_in_bytes(s: &str) -> Option<i64> {
    let num_end = s
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '.'))
        .map_or(s.len(), |(i, _)| i);
    let (num, mut unit) = (&s[..num_end], &s[num_end..]);
    if num.is_empty() || num.starts_with('.') || num.ends_with('.') {
        return None;
    }
    let value: f64 = num.parse().ok()?;
    unit = unit.strip_prefix(' ').unwrap_or(unit);
    let lower = unit.to_ascii_lowercase();
    let mut rest = lower.as_str();
    let mult: i64 = match rest.chars().next() {
        Some(c @ ('k' | 'm' | 'g' | 't' | 'p')) => {
            rest = &rest[1..];
            1i64 << (10 * (1 + "kmgtp".find(c).unwrap_or(0)))
        }
        _ => 1,
    };
    rest = rest.strip_prefix('i').unwrap_or(rest);
    rest = rest.strip_prefix('b').unwrap_or(rest);
    if !rest.is_empty() {
        return None;
    }
    Some((value * mult as f64) as i64)
}

/// docker/go-units `FromHumanSize`: `5.007m`, `10MB`, `2k`, plain bytes; decimal units
/// (`k` is 1000), an `i` ignored as go-units ignores it. `--log-opt max-size` takes these.
pub fn from_human_size(s: &str) -> Option<i64> {
    let t = s.trim().to_ascii_lowercase();
    let num_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, rest) = t.split_at(num_end);
    if num.is_empty() || !num.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let value: f64 = num.parse().ok()?;
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    let (mult, tail) = match rest.chars().next() {
        Some(u @ ('k' | 'm' | 'g' | 't' | 'p')) => {
            let power = "kmgtp".find(u).expect("a unit letter") as i32 + 1;
            (1000f64.powi(power), &rest[1..])
        }
        _ => (1.0, rest),
    };
    if !matches!(tail, "" | "b" | "i" | "ib") {
        return None;
    }
    Some((value * mult) as i64)
}

/// docker/go-units `HumanSize`: decimal units, 4 significant digits (`5.007MB`, `0B`), as
/// inspect's `HostConfig.LogConfig.Size` shows a size.
pub fn human_size(bytes: u64) -> String {
    human_size_with_precision(bytes, 4, "")
}

/// docker/go-units `BytesSize`: binary units, 4 significant digits (`315.4KiB`), as the
/// `MEM USAGE / LIMIT` of `--format {{.MemUsageBytes}}`.
pub fn bytes_size(n: u64) -> String {
    const UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];
    go_units(n, 1024.0, &UNITS, 4, "")
}

/// docker/go-units `HumanSizeWithPrecision`: decimal units with `digits` significant
/// digits (Go's `%.Ng`, trailing zeros dropped; no exponent below 1000), `sep` between the
/// number and the unit (Podman's tables use `" "` and 3 digits: `5.01 MB`).
pub fn human_size_with_precision(bytes: u64, digits: usize, sep: &str) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    go_units(bytes, 1000.0, &UNITS, digits, sep)
}

/// go-units' sizes: `n` in the largest unit (steps of `base`) it reaches, with `digits`
/// significant digits, trailing zeros dropped.
fn go_units(n: u64, base: f64, units: &[&str; 9], digits: usize, sep: &str) -> String {
    let mut v = n as f64;
    let mut i = 0;
    while v >= base && i < units.len() - 1 {
        v /= base;
        i += 1;
    }
    let whole = match v {
        v if v >= 1000.0 => 4,
        v if v >= 100.0 => 3,
        v if v >= 10.0 => 2,
        _ => 1,
    };
    let decimals = digits.saturating_sub(whole);
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        &s
    };
    format!("{s}{sep}{}", units[i])
}

/// Parse and check the flags as Podman does (messages are Podman's).
pub fn parse(flags: &ResourceFlags) -> Result<Resources> {
    let memory = parse_memory(&flags.memory)?;
    let memory_swap = parse_swap(&flags.memory_swap)?;
    check(&Resources {
        memory,
        memory_swap,
        nano_cpus: flags.cpus.map(|c| (c * 1e9).round() as i64),
        cpu_shares: flags.cpu_shares,
        pids_limit: flags.pids_limit,
        memory_reservation: parse_reservation(flags)?,
        cpuset_cpus: flags.cpuset_cpus.clone(),
        cpuset_mems: flags.cpuset_mems.clone(),
        blkio_weight: flags.blkio_weight,
    })
}

/// `-m`: go-units' binary sizes, Podman's message.
fn parse_memory(m: &Option<String>) -> Result<Option<i64>> {
    m.as_ref()
        .map(|m| {
            ram_in_bytes(m).ok_or_else(|| {
                Error::invalid(format!("invalid value for memory: invalid size: '{m}'"))
            })
        })
        .transpose()
}

/// `--memory-swap`: a size, or `-1` for unlimited swap.
fn parse_swap(s: &Option<String>) -> Result<Option<i64>> {
    match s {
        None => Ok(None),
        Some(s) if s.trim() == "-1" => Ok(Some(-1)),
        Some(s) => ram_in_bytes(s).map(Some).ok_or_else(|| {
            Error::invalid(format!(
                "invalid value for memory-swap: invalid size: '{s}'"
            ))
        }),
    }
}

fn parse_reservation(flags: &ResourceFlags) -> Result<Option<i64>> {
    match &flags.memory_reservation {
        None => Ok(None),
        Some(m) => ram_in_bytes(m).map(Some).ok_or_else(|| {
            Error::invalid(format!(
                "invalid value for memory-reservation: invalid size: '{m}'"
            ))
        }),
    }
}

/// `update`: `old` with what `flags` give put over it, then checked as create checks.
pub fn merge(old: &Resources, flags: &ResourceFlags) -> Result<Resources> {
    let given = parse(&ResourceFlags {
        // Checked together below, with the old values.
        memory: None,
        memory_swap: None,
        ..flags.clone()
    })?;
    let memory = parse_memory(&flags.memory)?.or(old.memory);
    let memory_swap = parse_swap(&flags.memory_swap)?.or(old.memory_swap);
    check(&Resources {
        memory,
        memory_swap,
        nano_cpus: given.nano_cpus.or(old.nano_cpus),
        cpu_shares: given.cpu_shares.or(old.cpu_shares),
        pids_limit: flags.pids_limit.or(old.pids_limit),
        memory_reservation: given.memory_reservation.or(old.memory_reservation),
        cpuset_cpus: given.cpuset_cpus.or_else(|| old.cpuset_cpus.clone()),
        cpuset_mems: given.cpuset_mems.or_else(|| old.cpuset_mems.clone()),
        blkio_weight: given.blkio_weight.or(old.blkio_weight),
    })
}

/// The limits as create keeps them: Podman's rules between them checked, "unlimited"
/// spellings (0, negative CPUs) folded into None.
pub fn check(r: &Resources) -> Result<Resources> {
    let memory = r.memory.filter(|m| *m > 0);
    match (memory, r.memory_swap) {
        (None, Some(s)) if s > 0 => {
            return Err(Error::invalid(
                "you should always set a memory limit when using a memoryswap limit, see usage",
            ));
        }
        (Some(m), Some(s)) if s > 0 && s < m => {
            return Err(Error::invalid(
                "minimum memoryswap limit should be larger than memory limit, see usage",
            ));
        }
        _ => {}
    }
    Ok(Resources {
        memory,
        memory_swap: if memory.is_some() {
            r.memory_swap
        } else {
            None
        },
        nano_cpus: r.nano_cpus.filter(|c| *c > 0),
        cpu_shares: r.cpu_shares.filter(|s| *s > 0),
        pids_limit: r.pids_limit,
        memory_reservation: r.memory_reservation.filter(|m| *m > 0),
        cpuset_cpus: r.cpuset_cpus.clone().filter(|s| !s.is_empty()),
        cpuset_mems: r.cpuset_mems.clone().filter(|s| !s.is_empty()),
        blkio_weight: match r.blkio_weight {
            Some(w) if !(10..=1000).contains(&w) => {
                return Err(Error::invalid(format!(
                    "invalid blkio weight {w}: must be between 10 and 1000"
                )));
            }
            w => w,
        },
    })
}

impl Resources {
    /// Memory plus swap as the runtime gets it: twice the memory unless given (Podman's
    /// default); -1 for unlimited swap; None without a memory limit.
    pub fn effective_swap(&self) -> Option<i64> {
        let m = self.memory?;
        Some(self.memory_swap.unwrap_or(2 * m))
    }

    /// `.HostConfig.MemorySwap`: Podman shows 0 for unlimited.
    pub fn inspect_swap(&self) -> i64 {
        self.effective_swap().filter(|s| *s > 0).unwrap_or(0)
    }

    /// The pids limit applied: the default when none was given, None for unlimited.
    pub fn effective_pids(&self) -> Option<i64> {
        match self.pids_limit {
            None => Some(DEFAULT_PIDS_LIMIT),
            Some(n) if n > 0 => Some(n),
            Some(_) => None,
        }
    }

    /// The CFS quota for `--cpus`.
    pub fn cpu_quota(&self) -> Option<i64> {
        self.nano_cpus
            .map(|n| (n as i128 * CPU_PERIOD as i128 / 1_000_000_000) as i64)
    }

    /// `linux.resources` of the OCI spec. `swap_supported`: the host accounts swap (v1
    /// `memory.memsw.*`, v2 `memory.swap.max`); without it Podman drops the swap limit.
    pub fn to_oci(&self, swap_supported: bool) -> Result<LinuxResources> {
        let err =
            |e: oci_spec::OciSpecError| Error::other(format!("generating OCI resources: {e}"));
        let mut b = LinuxResourcesBuilder::default();
        if self.memory.is_some() || self.memory_reservation.is_some() {
            let mut mb = LinuxMemoryBuilder::default();
            if let Some(m) = self.memory {
                mb = mb.limit(m);
            }
            if swap_supported && let Some(s) = self.effective_swap() {
                mb = mb.swap(s);
            }
            if let Some(r) = self.memory_reservation {
                mb = mb.reservation(r);
            }
            b = b.memory(mb.build().map_err(err)?);
        }
        if self.nano_cpus.is_some()
            || self.cpu_shares.is_some()
            || self.cpuset_cpus.is_some()
            || self.cpuset_mems.is_some()
        {
            let mut cb = LinuxCpuBuilder::default();
            if let Some(q) = self.cpu_quota() {
                cb = cb.quota(q).period(CPU_PERIOD);
            }
            if let Some(s) = self.cpu_shares {
                cb = cb.shares(s);
            }
            if let Some(c) = &self.cpuset_cpus {
                cb = cb.cpus(c.clone());
            }
            if let Some(m) = &self.cpuset_mems {
                cb = cb.mems(m.clone());
            }
            b = b.cpu(cb.build().map_err(err)?);
        }
        if let Some(w) = self.blkio_weight {
            b = b.block_io(
                oci_spec::runtime::LinuxBlockIoBuilder::default()
                    .weight(w)
                    .build()
                    .map_err(err)?,
            );
        }
        if let Some(p) = self.effective_pids() {
            b = b.pids(LinuxPidsBuilder::default().limit(p).build().map_err(err)?);
        }
        b.build().map_err(err)
    }
}

/// Does this host account swap in the memory cgroup?
pub fn swap_supported() -> bool {
    if crate::config::cgroup_unified() {
        std::path::Path::new("/sys/fs/cgroup/memory.swap.max").exists()
            || std::fs::read_to_string("/sys/fs/cgroup/cgroup.subtree_control")
                .is_ok_and(|s| s.split_whitespace().any(|c| c == "memory"))
    } else {
        std::path::Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_units_decimal_sizes() {
        assert_eq!(from_human_size("5.007m"), Some(5_007_000));
        assert_eq!(from_human_size("10MB"), Some(10_000_000));
        assert_eq!(from_human_size("2k"), Some(2000));
        assert_eq!(from_human_size("1mb"), Some(1_000_000));
        assert_eq!(from_human_size("300"), Some(300));
        assert_eq!(from_human_size("1.5 GiB"), Some(1_500_000_000));
        assert_eq!(from_human_size("ten"), None);
        assert_eq!(from_human_size("1x"), None);
        assert_eq!(human_size(5_007_000), "5.007MB");
        assert_eq!(human_size(1_000_000), "1MB");
        assert_eq!(human_size(123_400), "123.4kB");
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(1_010_000), "1.01MB");
    }

    #[test]
    fn go_units_ram() {
        assert_eq!(ram_in_bytes("20m"), Some(20 << 20));
        assert_eq!(ram_in_bytes("20MB"), Some(20 << 20));
        assert_eq!(ram_in_bytes("20mib"), Some(20 << 20));
        assert_eq!(ram_in_bytes("1.5g"), Some(1536 << 20));
        for (s, want) in [
            ("100", Some(100)),
            ("1k", Some(1024)),
            ("1.5KiB", Some(1536)),
            ("2 GB", Some(2 << 30)),
            ("x", None),
            ("1q", None),
            ("1.", None),
            (".5m", None),
        ] {
            assert_eq!(ram_in_bytes(s), want, "{s}");
        }
        assert_eq!(ram_in_bytes("4194304"), Some(4194304));
        assert_eq!(ram_in_bytes("512k"), Some(512 << 10));
        assert_eq!(ram_in_bytes("100b"), Some(100));
        assert_eq!(ram_in_bytes("20x"), None);
        assert_eq!(ram_in_bytes("-5m"), None);
        assert_eq!(ram_in_bytes("m"), None);
        assert_eq!(ram_in_bytes(""), None);
    }

    fn flags(m: Option<&str>, s: Option<&str>) -> ResourceFlags {
        ResourceFlags {
            memory: m.map(str::to_string),
            memory_swap: s.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn memory_and_swap_rules() {
        let r = parse(&flags(Some("20m"), None)).unwrap();
        assert_eq!(r.memory, Some(20 << 20));
        assert_eq!(r.effective_swap(), Some(40 << 20));
        assert_eq!(r.inspect_swap(), 40 << 20);
        let r = parse(&flags(Some("20m"), Some("-1"))).unwrap();
        assert_eq!(r.effective_swap(), Some(-1));
        assert_eq!(r.inspect_swap(), 0);
        let e = parse(&flags(Some("20m"), Some("10m"))).unwrap_err();
        assert!(
            e.to_string().contains("should be larger than memory"),
            "{e}"
        );
        let e = parse(&flags(None, Some("10m"))).unwrap_err();
        assert!(e.to_string().contains("always set a memory limit"), "{e}");
        let e = parse(&flags(Some("20x"), None)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value for memory: invalid size: '20x'"
        );
        // -m 0 is no limit; --memory-swap -1 alone is accepted.
        assert_eq!(parse(&flags(Some("0"), None)).unwrap().memory, None);
        assert_eq!(
            parse(&flags(None, Some("-1"))).unwrap(),
            Resources::default()
        );
    }

    #[test]
    fn cpus_pids_and_oci() {
        let r = parse(&ResourceFlags {
            memory: Some("20m".into()),
            cpus: Some(1.5),
            cpu_shares: Some(512),
            pids_limit: Some(100),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(r.nano_cpus, Some(1_500_000_000));
        assert_eq!(r.cpu_quota(), Some(150_000));
        let oci = r.to_oci(true).unwrap();
        let mem = oci.memory().unwrap();
        assert_eq!(mem.limit(), Some(20 << 20));
        assert_eq!(mem.swap(), Some(40 << 20));
        let cpu = oci.cpu().clone().unwrap();
        assert_eq!(cpu.quota(), Some(150_000));
        assert_eq!(cpu.period(), Some(CPU_PERIOD));
        assert_eq!(cpu.shares(), Some(512));
        assert_eq!(oci.pids().unwrap().limit(), 100);
        assert_eq!(r.to_oci(false).unwrap().memory().unwrap().swap(), None);
        // Defaults: Podman's pids limit and nothing else; 0 and -1 lift it.
        let d = Resources::default();
        assert_eq!(d.effective_pids(), Some(DEFAULT_PIDS_LIMIT));
        let oci = d.to_oci(true).unwrap();
        assert!(oci.memory().is_none() && oci.cpu().is_none());
        for n in [0, -1] {
            let r = Resources {
                pids_limit: Some(n),
                ..Default::default()
            };
            assert_eq!(r.effective_pids(), None);
        }
        // Negative or zero --cpus is ignored, as Podman does.
        let r = parse(&ResourceFlags {
            cpus: Some(-1.0),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(r.nano_cpus, None);
    }

    #[test]
    fn go_units_sizes() {
        assert_eq!(bytes_size(322_969), "315.4KiB");
        assert_eq!(bytes_size(0), "0B");
        assert_eq!(bytes_size(25_275_990_016), "23.54GiB");
        assert_eq!(human_size(5_007_000), "5.007MB");
        assert_eq!(human_size_with_precision(2_013_288, 3, " "), "2.01 MB");
    }
}
