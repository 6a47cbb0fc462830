//! The host's device nodes, for `--privileged` (Podman's `AddPrivilegedDevices`): every
//! block, character and fifo node under `/dev`, except the directories the runtime mounts
//! itself (`pts`, `shm`, `fd`, `mqueue`), `/dev/console` and symlinks.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use oci_spec::runtime::{
    LinuxDevice, LinuxDeviceBuilder, LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxDeviceType,
};

use crate::error::{Error, IoContext, Result};

/// `--device-cgroup-rule 'TYPE MAJOR:MINOR ACCESS'` (`c 7:* rmw`, `a 7 rw`): an allow rule
/// of the device cgroup; Podman's checks and messages.
pub fn parse_cgroup_rule(rule: &str) -> Result<LinuxDeviceCgroup> {
    let fields: Vec<&str> = rule.split_whitespace().collect();
    let [typ, numbers, access] = fields.as_slice() else {
        return Err(Error::invalid(format!(
            "invalid device cgroup rule requires type, major:Minor, and access rules: {rule:?}"
        )));
    };
    let typ = match *typ {
        "a" => LinuxDeviceType::A,
        "b" => LinuxDeviceType::B,
        "c" => LinuxDeviceType::C,
        other => {
            return Err(Error::invalid(format!(
                "invalid device type in device-access-add: {other}"
            )));
        }
    };
    let number = |n: &str| -> Result<Option<i64>> {
        if n == "*" {
            return Ok(None);
        }
        n.parse::<u32>().map(|v| Some(i64::from(v))).map_err(|_| {
            Error::invalid(format!("strconv.ParseUint: parsing {n:?}: invalid syntax"))
        })
    };
    let (major, minor) = match numbers.split_once(':') {
        Some((ma, mi)) => (number(ma)?, number(mi)?),
        None => (number(numbers)?, None),
    };
    if let Some(bad) = access.chars().find(|c| !"rwm".contains(*c)) {
        return Err(Error::invalid(format!(
            "invalid device access in device-access-add: {bad}"
        )));
    }
    let mut b = LinuxDeviceCgroupBuilder::default()
        .allow(true)
        .typ(typ)
        .access(access.to_string());
    if let Some(m) = major {
        b = b.major(m);
    }
    if let Some(m) = minor {
        b = b.minor(m);
    }
    b.build()
        .map_err(|e| Error::other(format!("device cgroup rule {rule:?}: {e}")))
}

/// Every device node under `dir`, depth first in directory order.
pub fn host_devices(dir: &Path) -> Result<Vec<LinuxDevice>> {
    let mut out = Vec::new();
    walk(dir, &mut out)?;
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<LinuxDevice>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .ctx("reading", dir)?
        .collect::<std::io::Result<_>>()
        .ctx("reading", dir)?;
    // Go's os.ReadDir returns names sorted.
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let name = e.file_name();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            if !matches!(
                name.to_str(),
                Some("pts" | "shm" | "fd" | "mqueue" | ".lxc" | ".lxd-mounts")
            ) {
                walk(&path, out)?;
            }
            continue;
        }
        if name == "console" || ft.is_symlink() {
            continue;
        }
        let typ = if ft.is_block_device() {
            LinuxDeviceType::B
        } else if ft.is_char_device() {
            LinuxDeviceType::C
        } else if ft.is_fifo() {
            LinuxDeviceType::P
        } else {
            continue;
        };
        // Gone since the listing: skip it, as Podman does.
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let rdev = meta.rdev();
        out.push(
            LinuxDeviceBuilder::default()
                .path(path)
                .typ(typ)
                .major(nix::sys::stat::major(rdev) as i64)
                .minor(nix::sys::stat::minor(rdev) as i64)
                // Podman passes the whole st_mode.
                .file_mode(meta.mode())
                .uid(meta.uid())
                .gid(meta.gid())
                .build()
                .map_err(|e| Error::other(format!("describing a host device: {e}")))?,
        );
    }
    Ok(())
}

/// A rootless `--privileged` container's devices: bind mounts of the host's nodes (a user
/// namespace cannot make them), as Podman 4.3 adds them, but only those the user can open
/// at all (Podman binds even the ones it cannot), and never the host's terminals
/// (`/dev/tty*`, `/dev/console`) or `/dev/ptmx`, which the runtime makes itself.
pub fn rootless_device_binds(dir: &Path) -> Result<Vec<oci_spec::runtime::Mount>> {
    use nix::unistd::{AccessFlags, access};
    let mut out = Vec::new();
    for d in host_devices(dir)? {
        let path = d.path();
        let name = path.strip_prefix(dir).unwrap_or(path).to_string_lossy();
        if name == "ptmx" || name == "console" || name.starts_with("tty") {
            continue;
        }
        if access(path, AccessFlags::R_OK).is_err() && access(path, AccessFlags::W_OK).is_err() {
            continue;
        }
        out.push(
            oci_spec::runtime::MountBuilder::default()
                .destination(path)
                .typ("bind")
                .source(path)
                .options(
                    ["slave", "nosuid", "noexec", "rw", "rbind"]
                        .map(String::from)
                        .to_vec(),
                )
                .build()
                .map_err(|e| Error::other(format!("describing a device mount: {e}")))?,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_cgroup_rules_as_podman_parses_them() {
        let r = parse_cgroup_rule("c 7:* rmw").unwrap();
        assert!(r.allow());
        assert_eq!(r.typ(), Some(LinuxDeviceType::C));
        assert_eq!((r.major(), r.minor()), (Some(7), None));
        assert_eq!(r.access().as_deref(), Some("rmw"));
        let r = parse_cgroup_rule("a 7 rw").unwrap();
        assert_eq!((r.major(), r.minor()), (Some(7), None));
        let r = parse_cgroup_rule("b 8:1 r").unwrap();
        assert_eq!((r.major(), r.minor()), (Some(8), Some(1)));
        let msg = |rule: &str| parse_cgroup_rule(rule).unwrap_err().to_string();
        assert_eq!(
            msg("b 7:* rmX"),
            "invalid device access in device-access-add: X"
        );
        assert_eq!(
            msg("b 7:2"),
            "invalid device cgroup rule requires type, major:Minor, and access rules: \"b 7:2\""
        );
        assert_eq!(
            msg("x 7:* rmw"),
            "invalid device type in device-access-add: x"
        );
        assert_eq!(
            msg("a a:* rmw"),
            "strconv.ParseUint: parsing \"a\": invalid syntax"
        );
    }

    #[test]
    fn dev_null_is_a_character_device() {
        let devs = host_devices(Path::new("/dev")).unwrap();
        let null = devs
            .iter()
            .find(|d| d.path() == Path::new("/dev/null"))
            .expect("/dev/null listed");
        assert_eq!(null.typ(), LinuxDeviceType::C);
        assert_eq!((null.major(), null.minor()), (1, 3));
        assert!(!devs.iter().any(|d| d.path().starts_with("/dev/pts")));
    }
}
