//! `system reset`: every pod, container, volume, image and network definition of this store
//! goes (each through its own removal, so what they hold is released and machine-wide
//! reservations are given back), then whatever the store still left on the machine
//! (`system check --repair`), then the store's directories.
//!
//! The default runroot, `/run/peapod`, is also where the machine-wide leases of every store
//! live: there only the store's own entries go.

use std::path::{Path, PathBuf};

use crate::Engine;
use crate::container::RemoveOptions;
use crate::error::{Error, IoContext, Result};

/// What a store writes in its runroot (the rest of `/run/peapod` is machine-wide).
const RUNROOT_ENTRIES: &[&str] = &[
    "alive",
    "containers",
    "exits",
    "image-mounts",
    "locks",
    "netns",
    "networks",
    "persist",
    "pods",
];

impl Engine {
    /// Remove everything this store has. Keeps going past failures; the ones that remain
    /// are returned (and the directories stay when something under them could not be
    /// released: deleting through a live mount would reach into someone else's data).
    pub fn system_reset(&self) -> Result<()> {
        let mut errors = Vec::new();
        let gone = |r: Result<()>, errors: &mut Vec<Error>| {
            if let Err(e) = r {
                errors.push(e);
            }
        };
        for pod in self.pods()? {
            gone(
                self.remove_pod(pod.id(), true, Some(0)).map(drop),
                &mut errors,
            );
        }
        let force = RemoveOptions {
            force: true,
            volumes: true,
            timeout: Some(0),
        };
        for c in self.db.containers()? {
            match self.remove_container(c.id(), &force, true) {
                Ok(_) | Err(Error::NoSuchContainer(_)) => {}
                Err(e) => errors.push(e),
            }
        }
        for v in self.volumes()? {
            gone(self.remove_volume(&v.name, true, Some(0)), &mut errors);
        }
        for image in self.images()? {
            gone(self.remove_image(&image.id, true).map(drop), &mut errors);
        }
        for n in self.networks()? {
            if n.name != crate::network::DEFAULT_NETWORK {
                gone(
                    self.network_remove(&n.name, true, Some(0)).map(drop),
                    &mut errors,
                );
            }
        }
        match self.system_check(true) {
            Ok(report) => errors.extend(report.unreleased()),
            Err(e) => errors.push(e),
        }
        if errors.is_empty() {
            gone(self.remove_store_dirs(), &mut errors);
        }
        Error::collect(errors)
    }

    fn remove_store_dirs(&self) -> Result<()> {
        let root = self.paths.root.clone();
        let runroot = self.paths.runroot.clone();
        for dir in [&root, &runroot] {
            if dir.components().count() < 3 {
                return Err(Error::invalid(format!(
                    "refusing to delete {}: not a store of its own",
                    dir.display()
                )));
            }
            let left = crate::system::check::mounts_under(dir);
            if !left.is_empty() {
                return Err(Error::other(format!(
                    "not deleting {}: still mounted under it: {}",
                    dir.display(),
                    left.iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        if runroot == crate::network::ipam::state_dir() {
            for name in RUNROOT_ENTRIES {
                remove_path(&runroot.join(name))?;
            }
        } else {
            remove_path(&runroot)?;
        }
        remove_path(&root)
    }
}

fn remove_path(p: &Path) -> Result<()> {
    let meta = match p.symlink_metadata() {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("reading", p, e)),
    };
    if meta.is_dir() {
        std::fs::remove_dir_all(p).ctx("removing", PathBuf::from(p))
    } else {
        std::fs::remove_file(p).ctx("removing", PathBuf::from(p))
    }
}
