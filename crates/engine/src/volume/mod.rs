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
mod user_mount;

pub use user_mount::refuse_outside_user_namespace;

use std::collections::{BTreeMap, BTreeSet};

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
    /// What changes while containers use it (Podman's `VolumeState`).
    #[serde(default)]
    pub state: VolumeState,
}

/// A volume's changing state, written under the volume's lock.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct VolumeState {
    /// For a volume with a mount of its own: the containers whose init mounted it and whose
    /// cleanup has not released it yet. Podman keeps a count (`MountCount`); the ids make a
    /// release idempotent (a cleanup that runs twice never takes another user's share) and
    /// let a container that is gone be dropped. Recorded before the mount is made.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub mounted_by: BTreeSet<String>,
    /// A copy-up began and has not finished: whatever the data directory holds is a partial
    /// copy of ours, to be cleared and copied again (the copying command died).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub copying_up: bool,
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
