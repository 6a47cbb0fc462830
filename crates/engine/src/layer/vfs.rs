//! The vfs driver's rootfs: a full copy of an image's layers in one directory, no mount.
//!
//! Each layer directory (overlay's format: whiteouts are 0:0 character devices, opaque
//! directories carry the overlay xattr) is written as a layer tarball by [`write_tree`]
//! and applied onto the copy by the unpacker in its flat mode ([`apply_tar`]), bottom
//! layer first: the same contained code that unpacks pulled layers, so a layer's symlinks
//! can never make the copy write outside its directory.

use std::path::{Path, PathBuf};

use super::LayerError;
use super::diff::write_tree;
use super::unpack::apply_tar;

/// Copies the layers `lowers` (top-most first, overlay's lowerdir order, as
/// `Engine::layer_dirs` gives them) into `dest` (created if missing).
pub fn copy_layers(lowers: &[PathBuf], dest: &Path) -> Result<(), LayerError> {
    std::fs::create_dir_all(dest).map_err(|e| LayerError::io("creating", dest, e))?;
    for layer in lowers.iter().rev() {
        copy_layer(layer, dest)?;
    }
    Ok(())
}

fn copy_layer(layer: &Path, dest: &Path) -> Result<(), LayerError> {
    let (reader, writer) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| LayerError::io("creating a pipe for", layer, e))?;
    let (reader, writer) = (std::fs::File::from(reader), std::fs::File::from(writer));
    std::thread::scope(|s| {
        let producer = s.spawn(move || {
            let w = std::io::BufWriter::with_capacity(1 << 16, writer);
            write_tree(layer, true, w)
        });
        let applied = apply_tar(std::io::BufReader::with_capacity(1 << 16, reader), dest);
        // The reader is dropped by now: a producer still writing gets EPIPE and stops.
        let produced = producer
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the layer writer panicked")));
        applied?;
        produced.map_err(|e| LayerError::io("reading the layer", layer, e))
    })
}

/// Writes into `out` (an empty directory on the same filesystem as `current`) the changes
/// that turn the tree `base` into the tree `current`, in overlay's upper-dir format, so
/// the commit and diff code made for overlay reads them unchanged: what is new or changed
/// is hard-linked from `current` (directories are made, with their owner, mode and times),
/// what is gone becomes a whiteout. Entries are compared as containers/storage's naive
/// diff compares them: type, mode, owner, size, modification time, device number, link
/// target. Neither tree is followed through a symlink.
pub fn naive_changes(base: &Path, current: &Path, out: &Path) -> std::io::Result<()> {
    changes_in(Some(base), current, out)?;
    Ok(())
}

/// Returns whether anything was written below `out`.
fn changes_in(base: Option<&Path>, current: &Path, out: &Path) -> std::io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let mut any = false;
    let mut names: Vec<_> = std::fs::read_dir(current)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<std::io::Result<_>>()?;
    names.sort();
    for name in &names {
        let cur = current.join(name);
        let cm = std::fs::symlink_metadata(&cur)?;
        let bm = base.and_then(|b| std::fs::symlink_metadata(b.join(name)).ok());
        let same_kind = bm.as_ref().is_some_and(|b| b.file_type() == cm.file_type());
        if cm.is_dir() {
            let sub_base = if same_kind {
                base.map(|b| b.join(name))
            } else {
                None
            };
            let meta_same = same_kind
                && bm.as_ref().is_some_and(|b| {
                    (b.mode(), b.uid(), b.gid()) == (cm.mode(), cm.uid(), cm.gid())
                });
            let o = out.join(name);
            make_dir_like(&o, &cm)?;
            let inner = changes_in(sub_base.as_deref(), &cur, &o)?;
            if inner || !meta_same {
                set_times_like(&o, &cm)?;
                any = true;
            } else {
                std::fs::remove_dir(&o)?;
            }
            continue;
        }
        let changed = match &bm {
            Some(b) if same_kind => {
                (b.mode(), b.uid(), b.gid(), b.size(), b.rdev())
                    != (cm.mode(), cm.uid(), cm.gid(), cm.size(), cm.rdev())
                    || (b.mtime(), b.mtime_nsec()) != (cm.mtime(), cm.mtime_nsec())
                    || (cm.file_type().is_symlink()
                        && base.map(|b| std::fs::read_link(b.join(name))).transpose()?
                            != Some(std::fs::read_link(&cur)?))
            }
            _ => true,
        };
        if changed {
            std::fs::hard_link(&cur, out.join(name))?;
            any = true;
        }
    }
    if let Some(b) = base {
        let mut gone: Vec<_> = std::fs::read_dir(b)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<std::io::Result<_>>()?;
        gone.retain(|n| !names.contains(n));
        for name in gone {
            nix::sys::stat::mknod(
                &out.join(&name),
                nix::sys::stat::SFlag::S_IFCHR,
                nix::sys::stat::Mode::empty(),
                0,
            )?;
            any = true;
        }
    }
    Ok(any)
}

/// A directory at `path` with `like`'s owner and mode (times are set once it is filled).
fn make_dir_like(path: &Path, like: &std::fs::Metadata) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    std::fs::create_dir(path)?;
    std::os::unix::fs::lchown(path, Some(like.uid()), Some(like.gid()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(like.mode() & 0o7777))
}

fn set_times_like(path: &Path, like: &std::fs::Metadata) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let ts = |s: i64, ns: i64| nix::sys::time::TimeSpec::new(s, ns);
    nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &ts(like.atime(), like.atime_nsec()),
        &ts(like.mtime(), like.mtime_nsec()),
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )?;
    Ok(())
}
