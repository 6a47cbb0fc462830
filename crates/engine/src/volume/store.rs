//! Volume records and directories: create, list, inspect, remove, prune, export, import.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use chrono::Utc;

use super::{InspectVolume, MountKind, Volume, VolumeError};
use crate::Engine;
use crate::container::{Container, RemoveOptions};
use crate::error::{Error, IoContext, Result};

/// `volume create`, as plain values.
#[derive(Debug, Clone, Default)]
pub struct VolumeCreateOptions {
    pub name: Option<String>,
    pub driver: Option<String>,
    pub labels: Vec<String>,
    /// `--opt KEY=VALUE`.
    pub options: Vec<String>,
    /// Made for one container.
    pub anonymous: bool,
}

/// `volume ls --filter` / `volume prune --filter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeFilter {
    /// `name=`: a substring, `^` and `$` anchor it.
    Name(String),
    /// `label=KEY` or `label=KEY=VALUE`.
    Label(String, Option<String>),
    /// `dangling=true|false`: used by no container.
    Dangling(bool),
    Driver(String),
}

impl VolumeFilter {
    /// Parse one `--filter`, with Podman's message for an unknown one.
    pub fn parse(f: &str) -> Result<VolumeFilter> {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| Error::invalid(format!("invalid filter {f:?}: must be KEY=VALUE")))?;
        Ok(match k {
            "name" => VolumeFilter::Name(v.to_string()),
            "label" => match v.split_once('=') {
                Some((lk, lv)) => VolumeFilter::Label(lk.to_string(), Some(lv.to_string())),
                None => VolumeFilter::Label(v.to_string(), None),
            },
            "dangling" => match v {
                "true" | "1" => VolumeFilter::Dangling(true),
                "false" | "0" => VolumeFilter::Dangling(false),
                _ => {
                    return Err(Error::invalid(format!(
                        "{v:?} is not a valid value for the \"dangling\" filter - must be true or false"
                    )));
                }
            },
            "driver" => VolumeFilter::Driver(v.to_string()),
            _ => {
                return Err(Error::invalid(format!("{k:?} is an invalid volume filter")));
            }
        })
    }

    fn matches(&self, v: &Volume, used: bool) -> bool {
        match self {
            VolumeFilter::Name(n) => name_matches(n, &v.name),
            VolumeFilter::Label(k, want) => v
                .labels
                .get(k)
                .is_some_and(|have| want.as_ref().is_none_or(|w| w == have)),
            VolumeFilter::Dangling(d) => *d != used,
            VolumeFilter::Driver(d) => &v.driver == d,
        }
    }
}

use crate::filter::name_matches;

/// `--opt o=…` split into the `uid=`/`gid=` Podman handles itself and the rest.
fn parse_o(o: &str) -> Result<(Option<u32>, Option<u32>, Vec<String>)> {
    let (mut uid, mut gid, mut rest) = (None, None, Vec::new());
    for part in o.split(',').filter(|p| !p.is_empty()) {
        let num = |v: &str| {
            v.parse::<u32>().map_err(|_| {
                Error::invalid(format!(
                    "cannot convert UID/GID {v:?} to integer: invalid argument"
                ))
            })
        };
        match part.split_once('=') {
            Some(("uid", v)) => uid = Some(num(v)?),
            Some(("gid", v)) => gid = Some(num(v)?),
            _ => rest.push(part.to_string()),
        }
    }
    Ok((uid, gid, rest))
}

/// Validate `--opt`s for the local driver; the record's options, uid and gid.
#[allow(clippy::type_complexity)]
fn parse_options(opts: &[String]) -> Result<(BTreeMap<String, String>, Option<u32>, Option<u32>)> {
    let mut map = BTreeMap::new();
    for o in opts {
        let (k, v) = o.split_once('=').unwrap_or((o.as_str(), ""));
        match k {
            "type" | "device" | "o" => {
                map.insert(k.to_string(), v.to_string());
            }
            _ => {
                return Err(Error::invalid(format!(
                    "invalid mount option {k} for driver 'local': invalid argument"
                )));
            }
        }
    }
    let (uid, gid, rest) = parse_o(map.get("o").map(String::as_str).unwrap_or(""))?;
    let mounted = map.contains_key("type") || map.contains_key("device");
    if !mounted && !rest.is_empty() {
        return Err(Error::invalid(format!(
            "invalid mount option {:?} for driver 'local': without --opt type= and device= only uid= and gid= are allowed in o: invalid argument",
            rest.join(",")
        )));
    }
    if mounted && !(map.contains_key("type") && map.contains_key("device")) {
        return Err(Error::invalid(
            "a mounted local volume needs both --opt type= and --opt device=: invalid argument",
        ));
    }
    if let Some(t) = map.get("type")
        && (t.is_empty() || t.contains([',', '/']))
    {
        return Err(Error::invalid(format!(
            "invalid filesystem type {t:?} for driver 'local': invalid argument"
        )));
    }
    // A bind volume's device must exist when the volume is made (Podman stats it).
    if map.get("type").is_some_and(|t| t == "bind")
        && let Some(dev) = map.get("device")
        && let Err(e) = std::fs::metadata(dev)
    {
        return Err(Error::invalid(format!(
            "invalid volume option device for driver 'local': stat {dev}: {}",
            super::mounts::io_reason(&e)
        )));
    }
    Ok((map, uid, gid))
}

/// A new volume's record from `volume create`'s options, checked; nothing is made yet.
pub(super) fn new_record(opts: &VolumeCreateOptions) -> Result<Volume> {
    let name = match &opts.name {
        Some(n) => {
            if !crate::names::valid_name(n) {
                return Err(Error::invalid(format!(
                    "creating volume {n:?}: running volume create option: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument"
                )));
            }
            n.clone()
        }
        None => crate::names::new_id(),
    };
    match opts.driver.as_deref() {
        None | Some("") | Some("local") => {}
        Some(d) => {
            return Err(Error::invalid(format!(
                "volume driver {d:?}: no such volume plugin: only the \"local\" driver is supported"
            )));
        }
    }
    let mut labels = BTreeMap::new();
    crate::names::parse_labels(opts.labels.iter().map(String::as_str), &mut labels)?;
    let (options, uid, gid) = parse_options(&opts.options)?;
    Ok(Volume {
        name,
        driver: "local".into(),
        created: Utc::now(),
        labels,
        needs_chown: uid.is_none() && gid.is_none(),
        options,
        uid,
        gid,
        anonymous: opts.anonymous,
        needs_copy_up: true,
        state: Default::default(),
    })
}

impl Engine {
    pub(crate) fn volume_lock(&self, name: &str) -> Result<crate::state::lock::Lock> {
        if !crate::names::valid_name(name) {
            return Err(VolumeError::NoSuchVolume(name.to_string()).into());
        }
        self.lock(&format!("volume-{name}"))
    }

    /// `volume create`: the record, then `<root>/volumes/<name>/_data`.
    pub fn create_volume(&self, opts: &VolumeCreateOptions) -> Result<Volume> {
        let vol = new_record(opts)?;
        let _lock = self.volume_lock(&vol.name)?;
        self.create_volume_locked(&vol)?;
        Ok(vol)
    }

    /// `volume create --ignore`: a volume of that name that exists already is returned as
    /// it is (its options are not compared), as Podman's does.
    pub fn create_volume_or_existing(&self, opts: &VolumeCreateOptions) -> Result<Volume> {
        match self.create_volume(opts) {
            Err(Error::Volume(VolumeError::Exists(name))) => self.volume(&name),
            other => other,
        }
    }

    /// Record `vol` and make its directories; the caller holds the volume's lock.
    pub(super) fn create_volume_locked(&self, vol: &Volume) -> Result<()> {
        if !self.db.insert_volume(vol)? {
            return Err(VolumeError::Exists(vol.name.clone()).into());
        }
        if let Err(e) = self.make_volume_dirs(vol) {
            let _ = std::fs::remove_dir_all(self.paths.volume_dir(&vol.name));
            let _ = self.db.delete_volume(&vol.name);
            return Err(e);
        }
        self.emit_volume(&vol.name, "create");
        Ok(())
    }

    fn make_volume_dirs(&self, vol: &Volume) -> Result<()> {
        let top = self.paths.volumes();
        std::fs::create_dir_all(&top).ctx("creating", &top)?;
        let dir = self.paths.volume_dir(&vol.name);
        let data = self.paths.volume_data(&vol.name);
        // A leftover directory of a volume no record knows (a crash between the two steps
        // of a remove): start afresh.
        if dir.exists() {
            self.unmount_volume_data(&data)?;
            std::fs::remove_dir_all(&dir).ctx("removing stale volume directory", &dir)?;
        }
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .ctx("creating volume directory", &dir)?;
        std::fs::DirBuilder::new()
            .mode(0o755)
            .create(&data)
            .ctx("creating volume directory", &data)?;
        if vol.uid.is_some() || vol.gid.is_some() {
            let uid = vol.uid.map(nix::unistd::Uid::from_raw);
            let gid = vol.gid.map(nix::unistd::Gid::from_raw);
            for p in [&dir, &data] {
                nix::unistd::chown(p.as_path(), uid, gid)
                    .map_err(|e| Error::io("chowning volume directory", p, e.into()))?;
            }
        }
        Ok(())
    }

    /// A volume by exact name.
    pub fn volume(&self, name: &str) -> Result<Volume> {
        self.db
            .volume(name)?
            .ok_or_else(|| VolumeError::NoSuchVolume(name.to_string()).into())
    }

    /// Every volume, by name.
    pub fn volumes(&self) -> Result<Vec<Volume>> {
        self.db.volumes()
    }

    /// Ids of the containers whose config mounts `name`.
    pub fn volume_users(&self, name: &str) -> Result<Vec<String>> {
        Ok(self
            .db
            .containers()?
            .into_iter()
            .filter(|c| uses_volume(c, name))
            .map(|c| c.config.id)
            .collect())
    }

    /// Volumes passing every filter (`volume ls`).
    pub fn list_volumes(&self, filters: &[VolumeFilter]) -> Result<Vec<Volume>> {
        let containers = self.db.containers()?;
        Ok(self
            .volumes()?
            .into_iter()
            .filter(|v| {
                let used = containers.iter().any(|c| uses_volume(c, &v.name));
                filters.iter().all(|f| f.matches(v, used))
            })
            .collect())
    }

    /// Podman's inspect view of a volume.
    pub fn inspect_volume(&self, v: &Volume) -> InspectVolume {
        let mut options = v.options.clone();
        if let Some(u) = v.uid {
            options.insert("UID".into(), u.to_string());
        }
        if let Some(g) = v.gid {
            options.insert("GID".into(), g.to_string());
        }
        let data = self.paths.volume_data(&v.name);
        // Podman counts only the mounts of volumes that need one.
        let mount_count = if v.is_mounted_kind() {
            u32::try_from(v.state.mounted_by.len()).unwrap_or(u32::MAX)
        } else {
            0
        };
        InspectVolume {
            Name: v.name.clone(),
            Driver: v.driver.clone(),
            Mountpoint: data.display().to_string(),
            CreatedAt: crate::container::inspect::go_time(Some(v.created)),
            Labels: v.labels.clone(),
            Scope: "local".into(),
            Options: options,
            UID: v.uid,
            GID: v.gid,
            Anonymous: v.anonymous,
            MountCount: mount_count,
            NeedsCopyUp: v.needs_copy_up,
            NeedsChown: v.needs_chown,
        }
    }

    /// `volume rm`: refused while a container uses it unless `force`, which removes those
    /// containers first (stopping running ones after `timeout` seconds).
    pub fn remove_volume(&self, name: &str, force: bool, timeout: Option<u32>) -> Result<()> {
        self.volume(name)?;
        if force {
            for id in &self.volume_users(name)? {
                match self.remove(
                    id,
                    &RemoveOptions {
                        force: true,
                        volumes: false,
                        timeout,
                    },
                ) {
                    Ok(_) | Err(Error::NoSuchContainer(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let _lock = self.volume_lock(name)?;
        self.remove_volume_locked(name)
    }

    /// Remove a volume no container uses; the caller holds its lock. A container being
    /// created holds the lock of each volume it uses until its row exists, so the users
    /// read here are all there are.
    pub(super) fn remove_volume_locked(&self, name: &str) -> Result<()> {
        if self.db.volume(name)?.is_none() {
            return Err(VolumeError::NoSuchVolume(name.to_string()).into());
        }
        let users = self.volume_users(name)?;
        if !users.is_empty() {
            return Err(VolumeError::InUse {
                name: name.to_string(),
                containers: users,
            }
            .into());
        }
        self.delete_volume_files(name)?;
        self.db.delete_volume(name)?;
        self.emit_volume(name, "remove");
        Ok(())
    }

    fn delete_volume_files(&self, name: &str) -> Result<()> {
        let data = self.paths.volume_data(name);
        self.unmount_volume_data(&data)?;
        let dir = self.paths.volume_dir(name);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("removing volume directory", dir, e)),
        }
    }

    pub(crate) fn unmount_volume_data(&self, data: &Path) -> Result<()> {
        if crate::layer::is_mountpoint(data) {
            crate::layer::unmount(data)?;
        }
        Ok(())
    }

    /// `volume prune`: remove every volume no container uses (that passes the filters);
    /// the names removed.
    pub fn prune_volumes(&self, filters: &[VolumeFilter]) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        let mut errors = Vec::new();
        let mut filters = filters.to_vec();
        filters.push(VolumeFilter::Dangling(true));
        for v in self.list_volumes(&filters)? {
            match self.remove_volume(&v.name, false, None) {
                Ok(()) => {
                    self.emit_volume(&v.name, "prune");
                    removed.push(v.name);
                }
                // Taken by a container meanwhile: keep it. Removed by someone else meanwhile
                // (another prune): nothing left to do.
                Err(Error::Volume(VolumeError::InUse { .. } | VolumeError::NoSuchVolume(_))) => {}
                Err(e) => errors.push(e),
            }
        }
        Error::collect(errors)?;
        Ok(removed)
    }

    /// Remove the anonymous volumes of a removed container that no other container uses
    /// (`rm -v`, `run --rm`). Keeps going past failures.
    pub(crate) fn remove_anonymous_volumes(&self, c: &Container) -> Result<()> {
        let mut errors = Vec::new();
        for m in &c.config.mounts {
            if m.kind != MountKind::Anonymous || m.source.is_empty() {
                continue;
            }
            match self.remove_volume(&m.source, false, None) {
                Ok(()) | Err(Error::Volume(VolumeError::InUse { .. })) => {}
                Err(Error::Volume(VolumeError::NoSuchVolume(_))) => {}
                Err(e) => errors.push(e),
            }
        }
        Error::collect(errors)
    }

    /// `volume export`: the volume's content as a tar stream (symlinks stored, never
    /// followed).
    pub fn export_volume(&self, name: &str, out: impl Write) -> Result<()> {
        self.volume(name)?;
        let data = self.paths.volume_data(name);
        let mut b = tar::Builder::new(out);
        b.follow_symlinks(false);
        append_tree(&mut b, &data, Path::new(""))?;
        b.into_inner()
            .and_then(|mut w| w.flush())
            .ctx("writing the export of volume", &data)?;
        Ok(())
    }

    /// `volume import`: unpack a tar stream into the volume, contained in its directory
    /// (the layer unpacker's in-root resolution: no `..`, absolute name or symlink escapes).
    pub fn import_volume(&self, name: &str, input: impl Read) -> Result<()> {
        self.volume(name)?;
        let _lock = self.volume_lock(name)?;
        let data = self.paths.volume_data(name);
        crate::layer::unpack(input, &data)?;
        Ok(())
    }
}

fn append_tree<W: Write>(b: &mut tar::Builder<W>, root: &Path, rel: &Path) -> Result<()> {
    let dir = root.join(rel);
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ctx("reading", &dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .ctx("reading", &dir)?;
    entries.sort();
    for path in entries {
        let name = rel.join(path.file_name().unwrap_or_default());
        let meta = std::fs::symlink_metadata(&path).ctx("reading", &path)?;
        b.append_path_with_name(&path, &name)
            .ctx("archiving", &path)?;
        if meta.is_dir() {
            append_tree(b, root, &name)?;
        }
    }
    Ok(())
}

/// Does this container mount the volume `name`?
pub(crate) fn uses_volume(c: &Container, name: &str) -> bool {
    c.config
        .mounts
        .iter()
        .any(|m| m.is_volume() && m.source == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        assert_eq!(
            VolumeFilter::parse("label=a=b").unwrap(),
            VolumeFilter::Label("a".into(), Some("b".into()))
        );
        assert_eq!(
            VolumeFilter::parse("bogus=1").unwrap_err().to_string(),
            "\"bogus\" is an invalid volume filter"
        );
        assert!(VolumeFilter::parse("dangling=maybe").is_err());
        assert!(name_matches("fo", "foo"));
        assert!(name_matches("^fo", "foo"));
        assert!(!name_matches("^oo", "foo"));
        assert!(name_matches("oo$", "foo"));
        assert!(!name_matches("^fo$", "foo"));
    }

    #[test]
    fn create_options() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let (m, u, g) = parse_options(&s(&["o=uid=1000,gid=1001"])).unwrap();
        assert_eq!((u, g), (Some(1000), Some(1001)));
        assert_eq!(m.get("o").unwrap(), "uid=1000,gid=1001");
        assert!(parse_options(&s(&["type=tmpfs", "device=tmpfs", "o=nodev,size=1m"])).is_ok());
        let e = parse_options(&s(&["bogus=1"])).unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid mount option bogus for driver 'local': invalid argument"
        );
        assert!(parse_options(&s(&["o=nodev"])).is_err());
        assert!(parse_options(&s(&["type=tmpfs"])).is_err());
        assert!(parse_options(&s(&["o=uid=x"])).is_err());
    }
}
