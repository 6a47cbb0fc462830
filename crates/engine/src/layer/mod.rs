//! Safe unpacking of layers, whiteouts, the overlay (or vfs copy) rootfs of a container, and layer
//! tarballs made from a container's changes ([`write_tree`]).
//!
//! This module owns the layer directories (`<root>/<hex>/diff`) and the overlay mounts built
//! from them. It must never write outside the directory it unpacks into, whatever a tarball
//! says: every entry's parent is resolved with `openat2(RESOLVE_IN_ROOT)` and the last
//! component is created with `*at` calls relative to that directory fd.
//!
//! It depends on no other engine module.

mod diff;
mod fuse;
mod overlay;
mod store;
mod unpack;
mod vfs;

#[cfg(test)]
mod tests;

use std::io;
use std::path::PathBuf;

pub use diff::write_tree;
pub use fuse::{OverlayMounter, recorded_program};
pub(crate) use overlay::unescape_mountinfo;
pub use overlay::{
    bind_mount, is_mountpoint, mount_overlay, mount_overlay_ro, mount_overlay_volatile, unmount,
};
pub use store::LayerStore;
pub(crate) use store::sweep_stale;
pub(crate) use unpack::remove_all_at;
pub use unpack::{decompress, unpack};
pub use vfs::{copy_layers, naive_changes};

/// What went wrong while unpacking, storing or mounting layers.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// The (possibly compressed) layer stream could not be read or decompressed.
    #[error("reading the layer stream: {0}")]
    Read(#[source] io::Error),
    /// A compression format we do not handle.
    #[error("unsupported layer compression: {0}")]
    UnsupportedCompression(&'static str),
    /// The tarball is malformed or truncated.
    #[error("broken tar archive{}: {source}", entry.as_ref().map(|e| format!(" at entry {e:?}")).unwrap_or_default())]
    BrokenTar {
        entry: Option<String>,
        #[source]
        source: io::Error,
    },
    /// A tar entry was refused because honouring it would be unsafe or is impossible.
    #[error("refusing tar entry {entry:?}: {reason}")]
    Refused { entry: String, reason: String },
    /// A filesystem operation failed.
    #[error("{op} {path:?}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A pulled layer whose content is not what its manifest and config say.
    #[error("{0}")]
    Verify(String),
    /// A diff id that is not `sha256:<64 hex>`.
    #[error("invalid layer diff id {0:?}: expected sha256:<64 hex digits>")]
    InvalidDiffId(String),
    /// A path that cannot be put into overlay mount options.
    #[error("cannot use {path:?} in an overlay mount: {reason}")]
    BadMountPath { path: PathBuf, reason: &'static str },
    /// Mounting the overlay failed.
    #[error("mounting overlay on {target:?}: {detail}")]
    Mount { target: PathBuf, detail: String },
    /// An owner outside a user namespace's mapping (rootless, with a subordinate range
    /// smaller than the image needs). Podman's words, without its `system migrate` advice:
    /// peapod notices a changed /etc/subuid by itself.
    #[error(
        "potentially insufficient UIDs or GIDs available in user namespace (requested {uid}:{gid} for {path}): check /etc/subuid and /etc/subgid: lchown {path}: invalid argument"
    )]
    UnmappedOwner { uid: u32, gid: u32, path: String },
    /// Unmounting failed.
    #[error("unmounting {target:?}: {source}")]
    Unmount {
        target: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl LayerError {
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
        source: impl Into<io::Error>,
    ) -> Self {
        LayerError::Io {
            op,
            path: path.into(),
            source: source.into(),
        }
    }
}

/// True when this process runs in a user namespace other than the initial one (a rootless
/// user's). The kernel then keeps `trusted.*` xattrs from us, so overlay uses `user.overlay.*`
/// (mounted with `userxattr`), and refuses device nodes. As runc's `RunningInUserNS`: only the
/// initial namespace maps all 2^32-1 ids onto themselves.
pub(crate) fn in_user_namespace() -> bool {
    static IN_USERNS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *IN_USERNS.get_or_init(|| {
        std::fs::read_to_string("/proc/self/uid_map")
            .map(|m| !is_identity_map(&m))
            .unwrap_or(false)
    })
}

/// `0 0 4294967295`, the initial namespace's uid_map.
fn is_identity_map(map: &str) -> bool {
    let fields: Vec<&str> = map.split_whitespace().collect();
    fields == ["0", "0", "4294967295"]
}

/// The xattr that marks an opaque directory, in the namespace overlay reads it from here.
pub(crate) fn opaque_xattr() -> &'static str {
    if in_user_namespace() {
        "user.overlay.opaque"
    } else {
        "trusted.overlay.opaque"
    }
}

/// Checks `sha256:<64 lowercase hex>` and returns the hex part.
pub(crate) fn diff_id_hex(diff_id: &str) -> Result<&str, LayerError> {
    match diff_id.strip_prefix("sha256:") {
        Some(hex)
            if hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
        {
            Ok(hex)
        }
        _ => Err(LayerError::InvalidDiffId(diff_id.to_string())),
    }
}
