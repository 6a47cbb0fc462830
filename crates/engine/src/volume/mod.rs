//! Volumes and mounts: named and anonymous volumes (a `volumes` table in the database, the
//! data under `<root>/volumes/<name>/_data`, as Podman keeps them), bind mounts, tmpfs, and
//! what happens when a container mounts them (copy-up, first-use ownership, `U`).
//!
//! This module owns the volume directories. It must never write outside them, nor follow a
//! symlink out of a volume or a container's rootfs: copy-up and `U` walk trees with `*at`
//! calls on directory fds (`O_NOFOLLOW`, `openat2(RESOLVE_IN_ROOT)` for the image side).
//! A volume name is checked against Podman's rule (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`) before it
//! is ever joined to a path, so no name can reach outside `<root>/volumes`.

pub(crate) mod copy;
mod mounts;
pub mod spec;
mod store;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use mounts::MountRequest;
pub use spec::{MountKind, MountSpec};
pub use store::{VolumeCreateOptions, VolumeFilter};

/// What went wrong with a volume (Podman's messages; the CLI maps them to exit codes).
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("no volume with name {0:?} found: no such volume")]
    NoSuchVolume(String),
    #[error("volume with name {0} already exists: volume already exists")]
    Exists(String),
    #[error(
        "volume {name} is being used by the following container(s): {}: volume is being used",
        containers.join(", ")
    )]
    InUse {
        name: String,
        containers: Vec<String>,
    },
}

/// A volume as the database holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Volume {
    pub name: String,
    pub driver: String,
    pub created: DateTime<Utc>,
    pub labels: BTreeMap<String, String>,
    /// `--opt` as given (`type`, `device`, `o`).
    pub options: BTreeMap<String, String>,
    /// Owner of the data directory from `--opt o=uid=…,gid=…`.
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// Made for one container (`-v /path`, `--mount type=volume` without a source, an image
    /// `VOLUME`); `rm -v` removes it with its container.
    pub anonymous: bool,
    /// Not yet mounted by a container: the image's content is copied in on first use.
    pub needs_copy_up: bool,
    /// Not yet mounted by a container: its directory takes the container user's ownership
    /// (and the mode of the directory it covers) on first use.
    pub needs_chown: bool,
}

impl Volume {
    /// A volume that the engine mounts itself (`--opt type=… device=…`) before a container
    /// uses it.
    pub fn is_mounted_kind(&self) -> bool {
        self.options.contains_key("type") || self.options.contains_key("device")
    }
}

/// Podman's `InspectVolumeData`, with its Go field names.
#[allow(non_snake_case)]
#[derive(Debug, Clone, Serialize)]
pub struct InspectVolume {
    pub Name: String,
    pub Driver: String,
    pub Mountpoint: String,
    pub CreatedAt: String,
    pub Labels: BTreeMap<String, String>,
    pub Scope: String,
    pub Options: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub UID: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub GID: Option<u32>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub Anonymous: bool,
    pub MountCount: u32,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub NeedsCopyUp: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub NeedsChown: bool,
}
