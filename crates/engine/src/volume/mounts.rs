//! A container's mounts: resolved at create (volumes made, `--volumes-from` and image
//! `VOLUME`s merged), prepared at init (mounted local volumes mounted, first-use ownership,
//! copy-up, `U`) and turned into OCI mounts; released at cleanup; shown by inspect.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use oci_spec::runtime::{Mount, MountBuilder};

use super::spec::{self, MountKind, MountSpec, SourceFlags};
use super::store::VolumeCreateOptions;
use super::{Volume, VolumeError, copy};
use crate::Engine;
use crate::container::Container;
use crate::container::user::ResolvedUser;
use crate::error::{Error, Result};

/// The mount flags of the filesystem `path` lives on (what a bind of it inherits).
fn source_flags(path: &str) -> SourceFlags {
    match nix::sys::statvfs::statvfs(path) {
        Ok(s) => {
            use nix::sys::statvfs::FsFlags;
            let f = s.flags();
            SourceFlags {
                noexec: f.contains(FsFlags::ST_NOEXEC),
                nosuid: f.contains(FsFlags::ST_NOSUID),
                nodev: f.contains(FsFlags::ST_NODEV),
            }
        }
        Err(_) => SourceFlags::default(),
    }
}

fn flags_for(m: &MountSpec) -> SourceFlags {
    if m.kind == MountKind::Bind {
        source_flags(&m.source)
    } else {
        SourceFlags::default()
    }
}

/// The mounts asked for at create.
#[derive(Debug, Clone, Default)]
pub struct MountRequest<'a> {
    /// `-v`, `--mount`, `--tmpfs`, parsed, in that order.
    pub mounts: &'a [MountSpec],
    pub volumes_from: &'a [String],
    /// For a member of a pod: the pod's volumes (its infra's mounts).
    pub pod_mounts: &'a [MountSpec],
    /// The image's `VOLUME` entries.
    pub image_volumes: &'a [String],
}

/// The volumes of a container being created, locked until it is recorded (see
/// [`Engine::hold_mount_volumes`]); dropping it lets them go.
#[derive(Default)]
pub(crate) struct HeldVolumes {
    _locks: Vec<crate::state::lock::Lock>,
    /// Made for this container: removed again if it cannot be recorded.
    created: Vec<String>,
}

impl Engine {
    /// Parse and check every mount of a new container without creating anything: the
    /// container's mounts in order (`-v`, `--mount`, `--tmpfs`, `--volumes-from`, the pod's
    /// volumes, image `VOLUME`s), each destination taken by the first; anonymous volumes
    /// still nameless.
    pub(crate) fn resolve_mounts(&self, req: &MountRequest<'_>) -> Result<Vec<MountSpec>> {
        let mut out = req.mounts.to_vec();
        spec::check_duplicates(&mut out)?;
        for m in &out {
            if m.kind == MountKind::Image {
                self.resolve_image(&m.source)?;
            }
            if m.kind == MountKind::Bind {
                std::fs::metadata(&m.source).map_err(|e| {
                    Error::invalid(format!("statfs {}: {}", m.source, io_reason(&e)))
                })?;
            }
        }
        for v in req.volumes_from {
            let (ctr, ro) = spec::parse_volumes_from(v)?;
            let other = self.db.lookup_container(&ctr).map_err(|e| {
                Error::invalid(format!(
                    "looking up container {ctr:?} for volumes-from: {e}"
                ))
            })?;
            for m in &other.config.mounts {
                if out.iter().any(|o| o.destination == m.destination) {
                    continue;
                }
                if let Some(m) = spec::inherit(m, ro) {
                    out.push(m);
                }
            }
        }
        // A member inherits its pod's volumes as with `--volumes-from` (Podman adds the
        // infra to the member's volumes-from), so an image VOLUME never covers them.
        for pm in req.pod_mounts {
            if !out.iter().any(|o| o.destination == pm.destination) {
                out.push(pm.clone());
            }
        }
        for dest in req.image_volumes {
            // A relative VOLUME (`VOLUME ['/a', '/b']` in shell form gives `[/a,`) is below
            // the root, where runc puts a relative destination for Podman.
            let dest = if dest.starts_with('/') {
                dest.clone()
            } else {
                format!("/{dest}")
            };
            let Ok(destination) = spec::destination(&dest) else {
                tracing::warn!(volume = %dest, "ignoring the image's VOLUME: not an absolute path below /");
                continue;
            };
            if out.iter().any(|o| o.destination == destination) {
                continue;
            }
            out.push(MountSpec {
                kind: MountKind::Anonymous,
                source: String::new(),
                destination,
                options: Vec::new(),
                from_image: true,
            });
        }
        Ok(out)
    }

    /// Find or make every volume a new container uses (named ones on first use, anonymous
    /// ones with generated names, written into `mounts`) and keep each one locked until the
    /// returned guard drops, once the container's row exists. `volume rm` and `volume prune`
    /// look for users under the same lock, so they either see the new container or remove
    /// the volume before the create finds or makes it: never a container on a removed
    /// volume (Podman checks a new container's volumes in the transaction that adds it).
    pub(crate) fn hold_mount_volumes(&self, mounts: &mut [MountSpec]) -> Result<HeldVolumes> {
        let mut fresh = BTreeSet::new();
        for m in mounts.iter_mut() {
            if m.kind == MountKind::Anonymous && m.source.is_empty() {
                m.source = crate::names::new_id();
                fresh.insert(m.source.clone());
            }
        }
        // Named on first use, or inherited (`--volumes-from`, the pod's) and expected to exist.
        let mut wanted: BTreeMap<&str, bool> = BTreeMap::new();
        for m in mounts.iter().filter(|m| m.is_volume()) {
            let may_create = m.kind == MountKind::Volume || fresh.contains(&m.source);
            *wanted.entry(m.source.as_str()).or_default() |= may_create;
        }
        let mut held = HeldVolumes::default();
        // In name order: two creates sharing volumes never wait on each other in a cycle.
        let result = wanted.iter().try_for_each(|(&name, &may_create)| {
            held._locks.push(self.volume_lock(name)?);
            if self.db.volume(name)?.is_some() {
                return Ok(());
            }
            if !may_create {
                return Err(VolumeError::NoSuchVolume(name.to_string()).into());
            }
            let vol = super::store::new_record(&VolumeCreateOptions {
                name: Some(name.to_string()),
                anonymous: fresh.contains(name),
                ..Default::default()
            })?;
            self.create_volume_locked(&vol)?;
            held.created.push(vol.name);
            Ok(())
        });
        match result {
            Ok(()) => Ok(held),
            Err(e) => {
                self.forget_created_volumes(held);
                Err(e)
            }
        }
    }

    /// Undo [`Engine::hold_mount_volumes`] when the container cannot be recorded after all:
    /// the volumes it made are removed (still under their locks), then every lock is let go.
    pub(crate) fn forget_created_volumes(&self, held: HeldVolumes) {
        for n in &held.created {
            if let Err(e) = self.remove_volume_locked(n) {
                tracing::warn!(volume = %n, error = %e, "removing a volume made for a container that was not created");
            }
        }
    }

    /// At init, after the rootfs is mounted: prepare every mount's source and return the
    /// OCI mounts. On failure, mounted local volumes this call mounted stay mounted until
    /// cleanup ([`Engine::release_mounts`]) runs, as for the rootfs.
    pub(crate) fn prepare_mounts(
        &self,
        c: &Container,
        rootfs: &Path,
        user: &ResolvedUser,
    ) -> Result<Vec<Mount>> {
        let mut out = Vec::new();
        for (index, m) in c.config.mounts.iter().enumerate() {
            let mut read_only = false;
            let (typ, source) = match m.kind {
                MountKind::Tmpfs => ("tmpfs", "tmpfs".to_string()),
                MountKind::Image => {
                    let path = self.prepare_image_mount(c, index, m)?;
                    out.push(image_oci_mount(m, &path)?);
                    continue;
                }
                MountKind::Bind => {
                    if let Err(e) = std::fs::metadata(&m.source) {
                        return Err(Error::invalid(format!(
                            "statfs {}: {}",
                            m.source,
                            io_reason(&e)
                        )));
                    }
                    if m.chown() {
                        copy::chown_tree(Path::new(&m.source), user.uid, user.gid).map_err(
                            |e| Error::io("chowning bind mount source", &m.source, e.into()),
                        )?;
                    }
                    ("bind", m.source.clone())
                }
                MountKind::Volume | MountKind::Anonymous => {
                    let (data, ro) = self.prepare_volume(c, m, rootfs, user)?;
                    read_only = ro;
                    ("bind", data)
                }
            };
            let mut options = m.oci_options(flags_for(m));
            if read_only {
                // A bind mount does not inherit its source mount's read-only flag.
                options.retain(|o| o != "rw");
                if !options.iter().any(|o| o == "ro") {
                    options.push("ro".into());
                }
            }
            out.push(
                MountBuilder::default()
                    .destination(&m.destination)
                    .typ(typ)
                    .source(source)
                    .options(options)
                    .build()
                    .map_err(|e| Error::other(format!("generating OCI mount: {e}")))?,
            );
        }
        Ok(out)
    }

    /// Mount (if it is a mounted kind), take ownership and copy up on first use, apply `U`;
    /// the host path to bind.
    /// Also whether the volume's own mount is read-only (the container's bind must be too).
    fn prepare_volume(
        &self,
        c: &Container,
        m: &MountSpec,
        rootfs: &Path,
        user: &ResolvedUser,
    ) -> Result<(String, bool)> {
        let _lock = self.volume_lock(&m.source)?;
        let mut vol = self.volume(&m.source)?;
        let data = self.paths.volume_data(&vol.name);
        if vol.is_mounted_kind() {
            self.hold_volume_mount(&mut vol, c.id(), &data)?;
        }
        // A volume mounted read-only by its own options (`o=…,ro`) is used as its source
        // made it: there is nothing to chown or copy into.
        let read_only = vol.is_mounted_kind()
            && vol
                .options
                .get("o")
                .is_some_and(|o| o.split(',').any(|x| x == "ro"));
        if read_only && (vol.needs_chown || vol.needs_copy_up) {
            vol.needs_chown = false;
            vol.needs_copy_up = false;
            self.db.update_volume(&vol)?;
        }
        if vol.needs_chown {
            copy::first_use_ownership(&data, rootfs, &m.destination, user.uid, user.gid)
                .map_err(|e| Error::io("setting the owner of volume", &data, e.into()))?;
            vol.needs_chown = false;
            self.db.update_volume(&vol)?;
        }
        if vol.needs_copy_up && !m.nocopy() {
            self.copy_up_locked(&mut vol, rootfs, &m.destination, &data)?;
        }
        if m.chown() {
            copy::chown_tree(&data, user.uid, user.gid)
                .map_err(|e| Error::io("chowning volume", &data, e.into()))?;
        }
        Ok((data.display().to_string(), read_only))
    }

    /// Count container `id` among the users of a volume with a mount of its own (recorded
    /// before the mount is made, so its cleanup finds it whatever happens next), and mount
    /// the volume unless it is mounted. The caller holds the volume's lock.
    pub(super) fn hold_volume_mount(&self, vol: &mut Volume, id: &str, data: &Path) -> Result<()> {
        if vol.state.mounted_by.insert(id.to_string()) {
            self.db.update_volume(vol)?;
        }
        if !crate::layer::is_mountpoint(data) {
            mount_local(vol, data)?;
        }
        Ok(())
    }

    /// First use: copy what the image has at `dest` into the (empty) volume; the caller
    /// holds the volume's lock. The volume counts as copied only once the copy is complete:
    /// a copy that fails is cleared at once, and one whose command died half-way
    /// (`copying_up` still set) is cleared by the next user, so a partial copy is never
    /// taken for the volume's content. Podman marks the copy done before it starts.
    fn copy_up_locked(
        &self,
        vol: &mut Volume,
        rootfs: &Path,
        dest: &str,
        data: &Path,
    ) -> Result<()> {
        if vol.state.copying_up {
            copy::clear_dir(data).map_err(|e| {
                Error::io("clearing an interrupted copy-up in volume", data, e.into())
            })?;
        }
        let mut copied = true;
        if copy::is_empty_dir(data).ctx_vol(data)? {
            vol.state.copying_up = true;
            self.db.update_volume(vol)?;
            let result = copy::copy_up(rootfs, dest, data);
            if let Ok(found) = result {
                // Podman's rule: a rootfs with nothing at `dest` (a pod's infra, an image
                // without the directory, or an empty one) leaves the volume waiting for
                // its copy-up, so the first member whose image has files there fills it.
                copied = found && !copy::is_empty_dir(data).ctx_vol(data)?;
            }
            if let Err(e) = result {
                // Left marked when it cannot be cleared: the next user clears it.
                match copy::clear_dir(data) {
                    Ok(()) => {
                        vol.state.copying_up = false;
                        let _ = self.db.update_volume(vol);
                    }
                    Err(ce) => {
                        tracing::warn!(volume = %vol.name, error = %ce, "clearing a failed copy-up")
                    }
                }
                return Err(Error::other(format!(
                    "copying {dest} of the image into volume {}: {e}",
                    vol.name
                )));
            }
        }
        vol.needs_copy_up = !copied;
        vol.state.copying_up = false;
        self.db.update_volume(vol)
    }

    /// At cleanup: `c` no longer uses the mounts of its volumes that have one of their own;
    /// each is unmounted when its last user lets go.
    pub(crate) fn release_mounts(&self, c: &Container) -> Result<()> {
        let mut errors = Vec::new();
        if c.config.mounts.iter().any(|m| m.kind == MountKind::Image)
            && let Err(e) = self.release_image_mounts(c)
        {
            errors.push(e);
        }
        let names: BTreeSet<&str> = c
            .config
            .mounts
            .iter()
            .filter(|m| m.is_volume())
            .map(|m| m.source.as_str())
            .collect();
        for name in names {
            // Only volumes with a mount of their own are counted: the common case takes no
            // lock.
            if !matches!(self.db.volume(name), Ok(Some(v)) if v.is_mounted_kind()) {
                continue;
            }
            if let Err(e) = self.release_volume_mount(name, c.id()) {
                errors.push(e);
            }
        }
        Error::collect(errors)
    }

    /// Container `id` lets go of the volume's mount; unmounted when no user is left.
    pub(super) fn release_volume_mount(&self, name: &str, id: &str) -> Result<()> {
        let _lock = self.volume_lock(name)?;
        let Some(mut vol) = self.db.volume(name)? else {
            return Ok(());
        };
        let before = vol.state.mounted_by.clone();
        vol.state.mounted_by.remove(id);
        // A user whose row is gone (its removal died half-way) holds nothing any more.
        let mut gone = Vec::new();
        for other in &vol.state.mounted_by {
            if other != super::user_mount::USER_MOUNT && self.db.container(other)?.is_none() {
                gone.push(other.clone());
            }
        }
        for g in gone {
            vol.state.mounted_by.remove(&g);
        }
        if vol.state.mounted_by != before {
            self.db.update_volume(&vol)?;
        }
        if vol.state.mounted_by.is_empty() {
            self.unmount_volume_data(&self.paths.volume_data(name))?;
        }
        Ok(())
    }

    /// After a reboot: no volume is mounted, so none has users of its mount.
    pub(crate) fn forget_volume_mounts(&self) -> Result<()> {
        for v in self.db.volumes()? {
            if v.state.mounted_by.is_empty() {
                continue;
            }
            let _lock = self.volume_lock(&v.name)?;
            if let Some(mut v) = self.db.volume(&v.name)? {
                v.state.mounted_by.clear();
                self.db.update_volume(&v)?;
                // A runroot wiped by hand rather than a real reboot: the mount may remain.
                let _ = self.unmount_volume_data(&self.paths.volume_data(&v.name));
            }
        }
        Ok(())
    }
}

/// The OCI mount of an image mount: a bind of its host path, read-only unless `rw`.
fn image_oci_mount(m: &MountSpec, path: &Path) -> Result<Mount> {
    let rw = m.options.iter().any(|o| o == "rw");
    MountBuilder::default()
        .destination(&m.destination)
        .typ("bind")
        .source(path)
        .options(vec![
            "rbind".to_string(),
            if rw { "rw" } else { "ro" }.to_string(),
            "rprivate".to_string(),
        ])
        .build()
        .map_err(|e| Error::other(format!("generating OCI mount: {e}")))
}

pub(super) fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        _ => e.to_string(),
    }
}

trait VolCtx<T> {
    fn ctx_vol(self, data: &Path) -> Result<T>;
}

impl<T> VolCtx<T> for std::io::Result<T> {
    fn ctx_vol(self, data: &Path) -> Result<T> {
        self.map_err(|e| Error::io("reading volume", data, e))
    }
}

/// Mount a local volume made with `--opt type=… device=… [o=…]` on its data directory.
fn mount_local(vol: &Volume, data: &Path) -> Result<()> {
    use nix::mount::{MsFlags, mount};
    let typ = vol.options.get("type").map(String::as_str).unwrap_or("");
    let device = vol.options.get("device").map(String::as_str).unwrap_or("");
    let mut flags = MsFlags::empty();
    let mut data_opts = Vec::new();
    for o in vol
        .options
        .get("o")
        .map(String::as_str)
        .unwrap_or("")
        .split(',')
        .filter(|o| !o.is_empty())
    {
        match o {
            "ro" => flags |= MsFlags::MS_RDONLY,
            "rw" => {}
            "nodev" => flags |= MsFlags::MS_NODEV,
            "nosuid" => flags |= MsFlags::MS_NOSUID,
            "noexec" => flags |= MsFlags::MS_NOEXEC,
            "bind" => flags |= MsFlags::MS_BIND,
            "rbind" => flags |= MsFlags::MS_BIND | MsFlags::MS_REC,
            "sync" => flags |= MsFlags::MS_SYNCHRONOUS,
            "noatime" => flags |= MsFlags::MS_NOATIME,
            "relatime" => flags |= MsFlags::MS_RELATIME,
            other => data_opts.push(other.to_string()),
        }
    }
    // `type=bind` is a bind mount of the device (Podman runs `mount -o bind`).
    if typ == "bind" {
        flags |= MsFlags::MS_BIND;
    }
    let fstype = if matches!(typ, "none" | "bind") && flags.contains(MsFlags::MS_BIND) {
        None
    } else {
        Some(typ)
    };
    let joined = data_opts.join(",");
    mount(
        Some(device),
        data,
        fstype,
        flags,
        if joined.is_empty() {
            None
        } else {
            Some(joined.as_str())
        },
    )
    .map_err(|e| {
        Error::other(format!(
            "mounting volume {} ({typ} {device}) on {}: {e}",
            vol.name,
            data.display()
        ))
    })?;
    // A bind mount ignores every flag but MS_REC: `o=bind,ro` needs a remount to be
    // read-only (mount(8) does the same).
    let extra = flags - (MsFlags::MS_BIND | MsFlags::MS_REC);
    if flags.contains(MsFlags::MS_BIND) && !extra.is_empty() {
        let remount = mount(
            None::<&str>,
            data,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | extra,
            None::<&str>,
        );
        if let Err(e) = remount {
            let _ = crate::layer::unmount(data);
            return Err(Error::other(format!(
                "making volume {} ({}) on {}: {e}",
                vol.name,
                vol.options.get("o").map(String::as_str).unwrap_or(""),
                data.display()
            )));
        }
    }
    Ok(())
}

mod inspect;
