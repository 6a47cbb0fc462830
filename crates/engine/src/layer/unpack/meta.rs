//! The unpacker's metadata work: owners (shifted or refused in a user namespace), modes,
//! times and xattrs set through fds, directory times set last; and removing a tree
//! through fds.

#[allow(unused_imports)]
use super::*;

impl Unpacker {
    /// `lchown` of `name` in `dir` to the entry's owner.
    pub(super) fn chown_at(
        &self,
        dir: &OwnedFd,
        name: &OsStr,
        meta: &Meta,
        host: &Path,
    ) -> Result<(), LayerError> {
        fchownat(
            dir,
            name,
            Some(Uid::from_raw(meta.uid)),
            Some(Gid::from_raw(meta.gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| self.owner_error(meta, host, e))
    }

    /// A failed chown. In a user namespace EINVAL means the owner is outside the mapping
    /// (a rootless user's subordinate range is smaller than the image needs): said as Podman
    /// says it, with the path as the image names it.
    pub(super) fn owner_error(&self, meta: &Meta, host: &Path, e: Errno) -> LayerError {
        if e == Errno::EINVAL && self.in_userns {
            let inner = host.strip_prefix(&self.dest).unwrap_or(host);
            return LayerError::UnmappedOwner {
                uid: meta.uid,
                gid: meta.gid,
                path: Path::new("/").join(inner).display().to_string(),
            };
        }
        LayerError::io("setting owner of", host, e)
    }

    /// Owner, mode (after chown, which clears setuid bits), xattrs and, for files, times.
    pub(super) fn set_fd_meta(
        &self,
        fd: &impl AsFd,
        meta: &Meta,
        host: &Path,
        times: bool,
    ) -> Result<(), LayerError> {
        fchown(
            fd.as_fd(),
            Some(Uid::from_raw(meta.uid)),
            Some(Gid::from_raw(meta.gid)),
        )
        .map_err(|e| self.owner_error(meta, host, e))?;
        fchmod(fd.as_fd(), Mode::from_bits_truncate(meta.mode))
            .map_err(|e| LayerError::io("setting mode of", host, e))?;
        for (xname, value) in &meta.xattrs {
            match fsetxattr(fd, xname, value) {
                Ok(()) => {}
                // A filesystem without xattr support (or this namespace): not fatal.
                Err(e @ (Errno::ENOTSUP | Errno::EPERM)) => {
                    tracing::warn!(path = %host.display(), xattr = %xname, error = %e, "cannot set xattr");
                }
                Err(e) => return Err(LayerError::io("setting xattr on", host, e)),
            }
        }
        if times {
            let t = TimeSpec::new(meta.mtime, 0);
            futimens(fd.as_fd(), &t, &t)
                .map_err(|e| LayerError::io("setting times of", host, e))?;
        }
        Ok(())
    }

    pub(super) fn finish_dir_times(&mut self) -> Result<(), LayerError> {
        for (comps, mtime) in std::mem::take(&mut self.dir_times).into_iter().rev() {
            let t = TimeSpec::new(mtime, 0);
            let Some((name, parent)) = comps.split_last() else {
                futimens(&self.root, &t, &t)
                    .map_err(|e| LayerError::io("setting times of", &self.dest, e))?;
                continue;
            };
            let host = self.host_path(&comps);
            let pfd = match self.open_dir(parent) {
                Ok(fd) => fd,
                // Removed or replaced by a later entry.
                Err(Errno::ENOENT | Errno::ENOTDIR) => continue,
                Err(e) => return Err(LayerError::io("opening", self.host_path(parent), e)),
            };
            match utimensat(
                &pfd,
                name.as_os_str(),
                &t,
                &t,
                UtimensatFlags::NoFollowSymlink,
            ) {
                Ok(()) | Err(Errno::ENOENT) => {}
                Err(e) => return Err(LayerError::io("setting times of", &host, e)),
            }
        }
        Ok(())
    }
}

/// Removes `name` (a directory) in `dir` with everything below it, never following symlinks.
pub(crate) fn remove_all_at(dir: &impl AsFd, name: &OsStr) -> Result<(), Errno> {
    let fd = openat(
        dir.as_fd(),
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let walk_fd = fd.try_clone().map_err(|_| Errno::EBADF)?;
    let mut listing = nix::dir::Dir::from_fd(fd)?;
    let mut children = Vec::new();
    for ent in listing.iter() {
        let ent = ent?;
        let n = ent.file_name().to_bytes();
        if n == b"." || n == b".." {
            continue;
        }
        children.push((OsStr::from_bytes(n).to_os_string(), ent.file_type()));
    }
    drop(listing);
    for (child, ty) in children {
        let is_dir = match ty {
            Some(t) => t == nix::dir::Type::Directory,
            None => fstatat(&walk_fd, child.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
                .map(|st| (st.st_mode & libc::S_IFMT) == libc::S_IFDIR)?,
        };
        if is_dir {
            remove_all_at(&walk_fd, &child)?;
        } else {
            unlinkat(&walk_fd, child.as_os_str(), UnlinkatFlags::NoRemoveDir)?;
        }
    }
    unlinkat(dir.as_fd(), name, UnlinkatFlags::RemoveDir)
}
