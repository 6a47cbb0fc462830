//! Linux capabilities by name, as Podman (containers/common `pkg/capabilities`) handles them:
//! the names this kernel knows, our own bounding set, and `--cap-add`/`--cap-drop` merged
//! into a base set.
//!
//! Names are kept as Podman shows them (`CAP_CHOWN`, sorted); [`to_oci`] turns a list into
//! oci-spec's typed set only when config.json is written.

use std::collections::HashSet;

use oci_spec::runtime::Capability;

use crate::error::{Error, Result};

/// Capability names by bit number, as the kernel numbers them.
pub const CAP_NAMES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Podman's built-in `default_capabilities` (containers/common v0.50's `DefaultCapabilities`),
/// used when no containers.conf sets the key. Distributions' containers.conf usually narrows
/// it (Debian's drops AUDIT_WRITE, MKNOD and NET_RAW).
pub const BUILTIN_DEFAULT: &[&str] = &[
    "CAP_AUDIT_WRITE",
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_MKNOD",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_RAW",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

/// What Podman's inspect reports `CapAdd`/`CapDrop` against: the OCI runtime-tools
/// generator's default bounding set (not containers.conf), which is the same list as
/// [`BUILTIN_DEFAULT`]. So under Debian's containers.conf a default container shows
/// `CapDrop: [CAP_AUDIT_WRITE, CAP_MKNOD, CAP_NET_RAW]`. A privileged container is compared
/// with every capability name instead ([`CAP_NAMES`]).
pub const INSPECT_BASELINE: &[&str] = BUILTIN_DEFAULT;

/// `ALL` in `--cap-add`/`--cap-drop`.
const ALL: &str = "ALL";

/// The capabilities this kernel knows (up to `/proc/sys/kernel/cap_last_cap`), sorted.
pub fn known() -> Vec<&'static str> {
    let last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .unwrap_or(CAP_NAMES.len() - 1);
    let mut v: Vec<&str> = CAP_NAMES.iter().take(last + 1).copied().collect();
    v.sort_unstable();
    v
}

/// Our own bounding set (`CapBnd` of this process), sorted: what `--privileged` and
/// `--cap-add all` grant. A VM or a parent may withhold some capabilities even from root.
pub fn bounding_set() -> Vec<String> {
    let mask = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapBnd:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(0);
    let known = known();
    let mut v: Vec<String> = CAP_NAMES
        .iter()
        .enumerate()
        .filter(|(bit, name)| mask & (1u64 << bit) != 0 && known.contains(name))
        .map(|(_, n)| n.to_string())
        .collect();
    v.sort();
    v
}

/// `chown`, `CAP_CHOWN`, `Cap_Chown` → `CAP_CHOWN`; `all` → `ALL`. Unknown names are
/// refused with Podman's message (`"CAP_FOO": unknown capability`). Sorted.
pub fn normalize(names: &[String]) -> Result<Vec<String>> {
    let known = known();
    let mut out = Vec::with_capacity(names.len());
    for n in names {
        let up = n.to_ascii_uppercase();
        if up == ALL {
            out.push(up);
            continue;
        }
        let full = if up.starts_with("CAP_") {
            up
        } else {
            format!("CAP_{up}")
        };
        if !known.contains(&full.as_str()) {
            return Err(Error::invalid(format!("{full:?}: unknown capability")));
        }
        out.push(full);
    }
    out.sort();
    Ok(out)
}

/// `base` with `adds` added and `drops` dropped, as containers/common's
/// `MergeCapabilities`: `--cap-drop all` leaves only the added ones, `--cap-add all` starts
/// from our bounding set, and a name both added and dropped is refused.
pub fn merge(base: &[String], adds: &[String], drops: &[String]) -> Result<Vec<String>> {
    let base = normalize(base)?;
    if adds.is_empty() && drops.is_empty() {
        return Ok(base);
    }
    let drop = normalize(drops)?;
    let add = normalize(adds)?;
    let has_all = |v: &[String]| v.iter().any(|c| c == ALL);
    if has_all(&drop) {
        if has_all(&add) {
            return Err(Error::invalid(
                "adding all caps and removing all caps not allowed",
            ));
        }
        return Ok(add);
    }
    let (base, add) = if has_all(&add) {
        (bounding_set(), Vec::new())
    } else {
        (base, add)
    };
    if let Some(both) = add.iter().find(|c| drop.contains(c)) {
        return Err(Error::invalid(format!(
            "capability {both:?} cannot be dropped and added"
        )));
    }
    let mut caps: Vec<String> = base.iter().filter(|c| !drop.contains(c)).cloned().collect();
    caps.extend(add.iter().filter(|c| !base.contains(c)).cloned());
    caps.sort();
    caps.dedup();
    Ok(caps)
}

/// Only the capabilities in `bounding` (Podman drops what the host cannot grant rather than
/// letting the runtime fail).
pub fn within(caps: &[String], bounding: &[String]) -> Vec<String> {
    caps.iter()
        .filter(|c| bounding.contains(c))
        .cloned()
        .collect()
}

/// oci-spec's set for config.json. Every name was checked by [`normalize`] when the
/// container was created; one this oci-spec does not know is skipped.
pub fn to_oci(caps: &[String]) -> HashSet<Capability> {
    caps.iter()
        .filter_map(|n| serde_json::from_value(serde_json::Value::String(n.clone())).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn names_are_normalized_and_checked() {
        assert_eq!(
            normalize(&s(&["net_admin", "CAP_chown", "all"])).unwrap(),
            s(&["ALL", "CAP_CHOWN", "CAP_NET_ADMIN"])
        );
        let e = normalize(&s(&["foo"])).unwrap_err().to_string();
        assert_eq!(e, "\"CAP_FOO\": unknown capability");
    }

    #[test]
    fn merge_follows_podman() {
        let base = s(BUILTIN_DEFAULT);
        let m = merge(&base, &s(&["NET_ADMIN"]), &s(&["chown"])).unwrap();
        assert!(m.contains(&"CAP_NET_ADMIN".to_string()));
        assert!(!m.contains(&"CAP_CHOWN".to_string()));
        assert_eq!(m.len(), base.len());
        assert_eq!(
            merge(&base, &s(&["kill"]), &s(&["all"])).unwrap(),
            s(&["CAP_KILL"])
        );
        assert_eq!(
            merge(&base, &s(&["all"]), &s(&["all"]))
                .unwrap_err()
                .to_string(),
            "adding all caps and removing all caps not allowed"
        );
        assert_eq!(
            merge(&base, &s(&["chown"]), &s(&["CAP_CHOWN"]))
                .unwrap_err()
                .to_string(),
            "capability \"CAP_CHOWN\" cannot be dropped and added"
        );
        assert_eq!(merge(&base, &[], &[]).unwrap(), base);
    }

    #[test]
    fn table_matches_oci_spec() {
        for n in CAP_NAMES {
            assert_eq!(to_oci(&[n.to_string()]).len(), 1, "{n}");
        }
    }
}
