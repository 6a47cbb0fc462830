//! `--read-only`, `--read-only-tmpfs`, `--shm-size`, `--device` and `--sysctl` (kept with
//! the security settings: [`super::SecurityFlags`]): what they
//! ask for, checked at create as Podman 4.3 checks them (its messages), and stored with the
//! container so every start writes the same config.json.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    LinuxDevice, LinuxDeviceBuilder, LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxDeviceType,
};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::volume::spec::{MountKind, MountSpec};

/// The flags as a front end gives them.
#[derive(Debug, Clone, Default)]
pub struct HostFlags {
    /// `--read-only`: the root filesystem is mounted read-only.
    pub read_only: bool,
    /// `--read-only-tmpfs` (Podman's default: true): with `--read-only`, tmpfs on `/tmp`,
    /// `/var/tmp` and `/run` unless a mount is there already.
    pub read_only_tmpfs: bool,
    /// `--shm-size SIZE` (go-units binary sizes: `64m`, `1g`).
    pub shm_size: Option<String>,
    /// `--device HOST[:CONTAINER][:PERMISSIONS]`.
    pub devices: Vec<String>,
    /// `--init`: an init runs the command as PID 1's child.
    pub init: bool,
    /// `--init-path`: that init (else containers.conf `init_path`, else peapod-pause).
    pub init_path: Option<PathBuf>,
}

/// One `--device`: a node (or a directory of nodes) of the host, where it appears in the
/// container and the device cgroup access (`rwm` by default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceMapping {
    pub path_on_host: String,
    pub path_in_container: String,
    pub permissions: String,
}

/// What is stored with the container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostConfigExtras {
    #[serde(default)]
    pub read_only: bool,
    /// `/dev/shm`'s size in bytes; None: the default (`65536k`).
    #[serde(default)]
    pub shm_size: Option<u64>,
    #[serde(default)]
    pub devices: Vec<DeviceMapping>,
    /// `--init`: the host's init binary, mounted at [`INIT_PATH`] and run as PID 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<PathBuf>,
}

/// Where `--init`'s binary is mounted (Podman's `define.ContainerInitPath`: images and
/// scripts look for it there).
pub const INIT_PATH: &str = "/run/podman-init";

/// The default `/dev/shm` size as inspect shows it (containers.conf `shm_size = "65536k"`,
/// read by Podman with decimal units).
pub const DEFAULT_SHM_SIZE: u64 = 65_536_000;

/// Podman's `IsValidDeviceMode`: one to three of `r`, `w`, `m`, none twice.
fn valid_mode(mode: &str) -> bool {
    if mode.is_empty() || mode.len() > 3 {
        return false;
    }
    let mut seen = [false; 3];
    for c in mode.chars() {
        let i = match c {
            'r' => 0,
            'w' => 1,
            'm' => 2,
            _ => return false,
        };
        if seen[i] {
            return false;
        }
        seen[i] = true;
    }
    true
}

/// Podman's `ParseDevice`: `SRC`, `SRC:DST`, `SRC:PERMS`, `SRC:DST:PERMS`.
pub fn parse_device(spec: &str) -> Result<DeviceMapping> {
    let parts: Vec<&str> = spec.split(':').collect();
    let bad_mode = |m: &str| Error::invalid(format!("invalid device mode: {m}"));
    let (src, mut dst, mut perms) = (parts[0], String::new(), "rwm".to_string());
    match parts.len() {
        1 => {}
        2 | 3 => {
            if parts.len() == 3 {
                if !valid_mode(parts[2]) {
                    return Err(bad_mode(parts[2]));
                }
                perms = parts[2].to_string();
            }
            if valid_mode(parts[1]) {
                perms = parts[1].to_string();
            } else if parts[1].starts_with('/') {
                dst = parts[1].to_string();
            } else {
                return Err(bad_mode(parts[1]));
            }
        }
        _ => {
            return Err(Error::invalid(format!(
                "invalid device specification: {spec}"
            )));
        }
    }
    if dst.is_empty() {
        dst = src.to_string();
    }
    Ok(DeviceMapping {
        path_on_host: src.to_string(),
        path_in_container: dst,
        permissions: perms,
    })
}

/// The nodes a mapping stands for, as the runtime makes them, and the cgroup rule of each:
/// a symlink is followed, a directory gives every node under it (its path under the
/// container path), anything else is refused with Podman's words.
pub fn resolve_device(d: &DeviceMapping) -> Result<Vec<(LinuxDevice, LinuxDeviceCgroup)>> {
    let mut host = PathBuf::from(&d.path_on_host);
    if std::fs::symlink_metadata(&host).is_ok_and(|m| m.file_type().is_symlink())
        && let Ok(target) = std::fs::canonicalize(&host)
    {
        host = target;
    }
    let meta = std::fs::metadata(&host).map_err(|e| {
        Error::invalid(format!(
            "stat {}: {}",
            host.display(),
            crate::error::go_io_error(&e)
        ))
    })?;
    if !meta.is_dir() {
        let dev = node(&host, Path::new(&d.path_in_container), &meta)?
            .ok_or_else(|| Error::invalid(format!("{} is not a valid device", host.display())))?;
        let rule = rule(&dev, &d.permissions)?;
        return Ok(vec![(dev, rule)]);
    }
    let mut out = Vec::new();
    walk(
        &host,
        &host,
        Path::new(&d.path_in_container),
        &d.permissions,
        &mut out,
    )?;
    if out.is_empty() {
        return Err(Error::invalid(format!(
            "no devices found in {}",
            host.display()
        )));
    }
    Ok(out)
}

fn walk(
    root: &Path,
    dir: &Path,
    dest: &Path,
    perms: &str,
    out: &mut Vec<(LinuxDevice, LinuxDeviceCgroup)>,
) -> Result<()> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    let mut entries: Vec<_> = rd.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            walk(root, &path, dest, perms, out)?;
            continue;
        }
        let rel = path.strip_prefix(root).unwrap_or(&path);
        if let Some(dev) = node(&path, &dest.join(rel), &meta)? {
            let r = rule(&dev, perms)?;
            out.push((dev, r));
        }
    }
    Ok(())
}

/// A block or character node (Podman's `DeviceFromPath`); None for anything else.
fn node(host: &Path, dest: &Path, meta: &std::fs::Metadata) -> Result<Option<LinuxDevice>> {
    let ft = meta.file_type();
    let typ = if ft.is_block_device() {
        LinuxDeviceType::B
    } else if ft.is_char_device() {
        LinuxDeviceType::C
    } else {
        return Ok(None);
    };
    let rdev = meta.rdev();
    LinuxDeviceBuilder::default()
        .path(dest)
        .typ(typ)
        .major(nix::sys::stat::major(rdev) as i64)
        .minor(nix::sys::stat::minor(rdev) as i64)
        .file_mode(meta.mode() & 0o777)
        .uid(meta.uid())
        .gid(meta.gid())
        .build()
        .map(Some)
        .map_err(|e| Error::other(format!("describing device {}: {e}", host.display())))
}

fn rule(dev: &LinuxDevice, perms: &str) -> Result<LinuxDeviceCgroup> {
    LinuxDeviceCgroupBuilder::default()
        .allow(true)
        .typ(dev.typ())
        .major(dev.major())
        .minor(dev.minor())
        .access(perms.to_string())
        .build()
        .map_err(|e| Error::other(format!("device cgroup rule: {e}")))
}

/// `--shm-size`: go-units `RAMInBytes`, Podman's message.
pub fn parse_shm_size(s: &str) -> Result<u64> {
    match super::resources::ram_in_bytes(s) {
        Some(n) if n > 0 => Ok(n as u64),
        _ => Err(Error::invalid(format!(
            "unable to translate --shm-size: invalid size: '{s}'"
        ))),
    }
}

/// Podman's `ValidateSysctls`: `KEY=VALUE` without spaces, a key among the namespaced
/// kernel ones or under `net.` or `fs.mqueue.`.
pub fn validate_sysctl(s: &str) -> Result<(String, String)> {
    const ALLOWED: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let mut parts = s.split('=');
    let (Some(key), Some(value)) = (parts.next(), parts.next()) else {
        return Err(Error::invalid(format!(
            "{s} is invalid, sysctl values must be in the form of KEY=VALUE"
        )));
    };
    if format!("{}={}", key.trim(), value.trim()) != *s {
        return Err(Error::invalid(format!(
            "'{s}' is invalid, extra spaces found"
        )));
    }
    let namespaced = key.starts_with("net.") || key.starts_with("fs.mqueue.");
    if !ALLOWED.contains(&key) && !namespaced {
        return Err(Error::invalid(format!("sysctl '{key}' is not allowed")));
    }
    Ok((key.to_string(), value.to_string()))
}

/// A `--sysctl` the container's namespaces cannot take, with Podman's message: network ones
/// with the host's network, `fs.mqueue.` with the host's IPC, the host name with the
/// host's UTS namespace.
pub fn check_sysctl_namespaces(
    key: &str,
    value: &str,
    host_net: bool,
    host_ipc: bool,
    host_uts: bool,
) -> Result<()> {
    let refused = |ns: &str| {
        Err(Error::invalid(format!(
            "sysctl {key}={value} can't be set since {ns} Namespace set to host: invalid argument"
        )))
    };
    if host_ipc && key.starts_with("fs.mqueue.") {
        return refused("IPC");
    }
    if host_net && key.starts_with("net.") {
        return refused("Network");
    }
    if host_uts && (key.starts_with("kernel.domainname") || key.starts_with("kernel.hostname")) {
        return refused("UTS");
    }
    Ok(())
}

/// `--read-only` with `--read-only-tmpfs`: Podman's tmpfs mounts where the user has none.
pub fn read_only_tmpfs_mounts(existing: &[MountSpec]) -> Vec<MountSpec> {
    ["/tmp", "/var/tmp", "/run"]
        .iter()
        .filter(|d| !existing.iter().any(|m| m.destination == **d))
        .map(|d| MountSpec {
            kind: MountKind::Tmpfs,
            source: String::new(),
            destination: d.to_string(),
            options: ["rw", "rprivate", "nosuid", "nodev", "tmpcopyup"]
                .map(String::from)
                .to_vec(),
            from_image: false,
        })
        .collect()
}

/// Checks the flags and gives what is stored (devices resolved once, so a missing one is
/// refused at create).
pub fn plan(flags: &HostFlags) -> Result<HostConfigExtras> {
    let shm_size = flags.shm_size.as_deref().map(parse_shm_size).transpose()?;
    let devices = flags
        .devices
        .iter()
        .map(|d| parse_device(d))
        .collect::<Result<Vec<_>>>()?;
    for d in &devices {
        resolve_device(d)?;
    }
    Ok(HostConfigExtras {
        read_only: flags.read_only,
        shm_size,
        devices,
        init: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_specs_as_podman_parses_them() {
        let d = parse_device("/dev/null").unwrap();
        assert_eq!(
            (
                d.path_on_host.as_str(),
                d.path_in_container.as_str(),
                d.permissions.as_str()
            ),
            ("/dev/null", "/dev/null", "rwm")
        );
        let d = parse_device("/dev/null:/dev/foo").unwrap();
        assert_eq!(d.path_in_container, "/dev/foo");
        let d = parse_device("/dev/null:r").unwrap();
        assert_eq!(
            (d.path_in_container.as_str(), d.permissions.as_str()),
            ("/dev/null", "r")
        );
        let d = parse_device("/dev/null:/dev/foo:rw").unwrap();
        assert_eq!(
            (d.path_in_container.as_str(), d.permissions.as_str()),
            ("/dev/foo", "rw")
        );
        let msg = |s: &str| parse_device(s).unwrap_err().to_string();
        assert_eq!(msg("/dev/null:foo"), "invalid device mode: foo");
        assert_eq!(msg("/dev/null:/dev/foo:rwx"), "invalid device mode: rwx");
        assert_eq!(msg("/dev/null:/dev/foo:rr"), "invalid device mode: rr");
        assert_eq!(msg("a:b:c:d"), "invalid device specification: a:b:c:d");
    }

    #[test]
    fn devices_resolve_to_nodes_and_rules() {
        let d = parse_device("/dev/null:/dev/foo:rw").unwrap();
        let nodes = resolve_device(&d).unwrap();
        assert_eq!(nodes.len(), 1);
        let (dev, rule) = &nodes[0];
        assert_eq!(dev.path(), Path::new("/dev/foo"));
        assert_eq!(
            (dev.typ(), dev.major(), dev.minor()),
            (LinuxDeviceType::C, 1, 3)
        );
        assert_eq!(rule.access().as_deref(), Some("rw"));
        assert!(rule.allow());
        let missing = parse_device("/dev/peapod-no-such-device").unwrap();
        assert_eq!(
            resolve_device(&missing).unwrap_err().to_string(),
            "stat /dev/peapod-no-such-device: no such file or directory"
        );
        let not_dev = parse_device("/etc/hostname").unwrap();
        assert_eq!(
            resolve_device(&not_dev).unwrap_err().to_string(),
            "/etc/hostname is not a valid device"
        );
    }

    #[test]
    fn shm_sizes_and_sysctls() {
        assert_eq!(parse_shm_size("64m").unwrap(), 64 << 20);
        assert_eq!(parse_shm_size("1g").unwrap(), 1 << 30);
        assert_eq!(
            parse_shm_size("lots").unwrap_err().to_string(),
            "unable to translate --shm-size: invalid size: 'lots'"
        );
        assert_eq!(
            validate_sysctl("net.ipv4.ip_forward=1").unwrap(),
            ("net.ipv4.ip_forward".into(), "1".into())
        );
        assert!(validate_sysctl("kernel.shmmax=100").is_ok());
        assert_eq!(
            validate_sysctl("kernel.panic=1").unwrap_err().to_string(),
            "sysctl 'kernel.panic' is not allowed"
        );
        assert_eq!(
            validate_sysctl("net.a = 1").unwrap_err().to_string(),
            "'net.a = 1' is invalid, extra spaces found"
        );
        assert_eq!(
            validate_sysctl("net.a").unwrap_err().to_string(),
            "net.a is invalid, sysctl values must be in the form of KEY=VALUE"
        );
        assert_eq!(
            check_sysctl_namespaces("net.ipv4.ip_forward", "1", true, false, false)
                .unwrap_err()
                .to_string(),
            "sysctl net.ipv4.ip_forward=1 can't be set since Network Namespace set to host: invalid argument"
        );
        assert!(check_sysctl_namespaces("net.ipv4.ip_forward", "1", false, true, true).is_ok());
    }

    #[test]
    fn read_only_tmpfs_skips_user_mounts() {
        let user = crate::volume::spec::parse_tmpfs_flag("/tmp:size=1m").unwrap();
        let added = read_only_tmpfs_mounts(&[user]);
        let dests: Vec<&str> = added.iter().map(|m| m.destination.as_str()).collect();
        assert_eq!(dests, ["/var/tmp", "/run"]);
    }
}

/// The `HOST:CONTAINER` lines of a mounts.conf (`--default-mounts-file`), as
/// containers/common reads them: blank lines and `#` comments skipped.
pub fn parse_mounts_conf(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(h, c)| (h.trim().to_string(), c.trim().to_string()))
        .filter(|(h, c)| !h.is_empty() && !c.is_empty())
        .collect()
}

impl crate::Engine {
    /// The default mounts of `--default-mounts-file`: read-only binds of the host paths
    /// that exist (others are skipped, as Podman skips them), unless the user mounts
    /// something at the same place.
    pub(crate) fn default_mounts(
        &self,
        user: &[crate::volume::MountSpec],
    ) -> crate::Result<Vec<crate::volume::MountSpec>> {
        let Some(file) = &self.options().default_mounts_file else {
            return Ok(Vec::new());
        };
        let Ok(text) = std::fs::read_to_string(file) else {
            tracing::debug!("default mounts file {} not read", file.display());
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (host, ctr) in parse_mounts_conf(&text) {
            if !std::path::Path::new(&host).exists() {
                tracing::debug!("default mount {host}: no such path, skipped");
                continue;
            }
            if user.iter().any(|m| m.destination == ctr) {
                continue;
            }
            out.push(crate::volume::MountSpec::new(
                crate::volume::MountKind::Bind,
                &host,
                &ctr,
                true,
            )?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod mounts_conf_tests {
    #[test]
    fn mounts_conf_lines_are_host_colon_container() {
        let t = "# comment\n\n/usr/share/rhel/secrets:/run/secrets\n bad \n/a:/b\n";
        assert_eq!(
            super::parse_mounts_conf(t),
            [
                (
                    "/usr/share/rhel/secrets".to_string(),
                    "/run/secrets".to_string()
                ),
                ("/a".to_string(), "/b".to_string())
            ]
        );
    }
}
