//! `volume mount` / `volume unmount`: a user's own hold on a volume's data directory, so
//! that tools on the host can read and write it. A volume with a mount of its own
//! (`--opt type=… device=…`) is mounted while held and counted among its mount's users, as
//! a container is; a plain local volume's data directory is always there.

use std::path::PathBuf;

use crate::Engine;
use crate::error::{Error, Result};

/// The holder `volume mount` is counted as in a volume's `mounted_by` (never a container
/// id, which is 64 hex digits).
pub(crate) const USER_MOUNT: &str = "volume-mount";

impl Engine {
    /// `volume mount NAME`: the directory that holds the volume's files, mounted if the
    /// volume has a mount of its own.
    pub fn mount_volume(&self, name: &str) -> Result<PathBuf> {
        let _lock = self.volume_lock(name)?;
        let mut vol = self.volume(name)?;
        let data = self.paths.volume_data(&vol.name);
        if vol.is_mounted_kind() {
            self.hold_volume_mount(&mut vol, USER_MOUNT, &data)?;
        }
        self.emit_volume(&vol.name, "mount");
        Ok(data)
    }

    /// `volume unmount NAME`: lets go of `volume mount`'s hold; the volume's own mount goes
    /// when no container uses it either.
    pub fn unmount_volume(&self, name: &str) -> Result<()> {
        let vol = self.volume(name)?;
        if vol.is_mounted_kind() {
            self.release_volume_mount(&vol.name, USER_MOUNT)?;
        }
        self.emit_volume(&vol.name, "unmount");
        Ok(())
    }
}

/// Podman's refusal, for a front end to make before it opens the engine (which enters the
/// user's namespaces): a rootless user's mounts live in its mount namespace, which the
/// host's tools do not see; `peapod unshare` enters it, and there the user is uid 0.
pub fn refuse_outside_user_namespace(cmd: &str) -> Result<()> {
    if !nix::unistd::geteuid().is_root() {
        return Err(Error::invalid(format!(
            "cannot run command \"peapod {cmd}\" in rootless mode, must execute `peapod unshare` first"
        )));
    }
    Ok(())
}
