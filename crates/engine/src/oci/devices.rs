//! The host's device nodes, for `--privileged` (Podman's `AddPrivilegedDevices`): every
//! block, character and fifo node under `/dev`, except the directories the runtime mounts
//! itself (`pts`, `shm`, `fd`, `mqueue`), `/dev/console` and symlinks.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use oci_spec::runtime::{LinuxDevice, LinuxDeviceBuilder, LinuxDeviceType};

use crate::error::{Error, IoContext, Result};

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
