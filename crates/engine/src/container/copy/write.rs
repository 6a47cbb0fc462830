//! Making entries below a destination directory fd: files, directories, symlinks and
//! special files, each created with `*at` calls, never followed.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat, readlinkat};
use nix::sys::stat::{FileStat, Mode, SFlag, fstatat, mkdirat};
use nix::unistd::{Gid, Uid, fchownat};

use super::*;
use crate::error::{Error, Result};

pub(super) fn open_child_dir(dir: &OwnedFd, name: &OsStr) -> Result<OwnedFd> {
    openat(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| from_io(errno_io(e)))
}

/// Makes entries below a destination directory fd.
#[derive(Clone, Copy)]
pub(super) struct Writer {
    pub owner: Option<(u32, u32)>,
    pub overwrite: bool,
}

pub(super) fn exists_error(label: &str, e: Errno) -> Error {
    Error::other(format!(
        "copier: put: error creating {label:?}: {label}: {}",
        errno_io(e)
            .to_string()
            .to_lowercase()
            .split(" (os error")
            .next()
            .unwrap_or("")
    ))
}

impl Writer {
    pub(super) fn chown(&self, dir: &OwnedFd, name: &OsStr, st: Option<&FileStat>) -> Result<()> {
        let (uid, gid) = match (self.owner, st) {
            (Some(o), _) => o,
            (None, Some(st)) => (st.st_uid, st.st_gid),
            (None, None) => return Ok(()),
        };
        fchownat(
            dir,
            name,
            Some(Uid::from_raw(uid)),
            Some(Gid::from_raw(gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| from_io(errno_io(e)))
    }

    /// What is at `name` may be replaced by a `want_dir` entry?
    pub(super) fn clear(
        &self,
        dir: &OwnedFd,
        name: &OsStr,
        want_dir: bool,
        label: &str,
    ) -> Result<bool> {
        let Ok(st) = fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) else {
            return Ok(false);
        };
        let have_dir = is_dir(&st);
        if have_dir && want_dir {
            return Ok(true);
        }
        if have_dir != want_dir && !self.overwrite {
            return Err(exists_error(label, Errno::EEXIST));
        }
        if have_dir {
            crate::layer::remove_all_at(dir, name).map_err(|e| from_io(errno_io(e)))?;
        } else {
            nix::unistd::unlinkat(dir, name, nix::unistd::UnlinkatFlags::NoRemoveDir)
                .map_err(|e| from_io(errno_io(e)))?;
        }
        Ok(false)
    }

    pub(super) fn make_dir(
        &self,
        dir: &OwnedFd,
        name: &OsStr,
        st: &FileStat,
        label: &str,
    ) -> Result<()> {
        let mode = Mode::from_bits_truncate(st.st_mode & 0o7777);
        if !self.clear(dir, name, true, label)? {
            mkdirat(dir, name, mode).map_err(|e| exists_error(label, e))?;
        }
        self.chown(dir, name, Some(st))?;
        // After the chown (which clears set-id bits), and past the umask.
        nix::sys::stat::fchmodat(
            dir,
            name,
            mode,
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )
        .map_err(|e| from_io(errno_io(e)))
    }

    pub(super) fn copy_children(&self, src: &OwnedFd, dest: &OwnedFd, label: &str) -> Result<()> {
        let sdir = reopen_dir(src)?;
        let entries = nix::dir::Dir::from_fd(sdir.try_clone().map_err(from_io)?)
            .map_err(|e| from_io(errno_io(e)))?;
        let mut names = Vec::new();
        for e in entries {
            let e = e.map_err(|e| from_io(errno_io(e)))?;
            let n = e.file_name().to_bytes();
            if n != b"." && n != b".." {
                names.push(OsString::from(OsStr::from_bytes(n)));
            }
        }
        for n in names {
            let st = fstatat(&sdir, n.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
                .map_err(|e| from_io(errno_io(e)))?;
            let child_label = format!("{label}/{}", n.to_string_lossy());
            if is_dir(&st) {
                self.make_dir(dest, &n, &st, &child_label)?;
                let s = open_child_dir(&sdir, &n)?;
                let d = open_child_dir(dest, &n)?;
                self.copy_children(&s, &d, &child_label)?;
            } else {
                let fd = openat(
                    &sdir,
                    n.as_os_str(),
                    OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| from_io(errno_io(e)))?;
                self.copy_entry(&fd, &st, dest, &n, &child_label)?;
            }
        }
        Ok(())
    }

    /// A file, symlink or special file `src` (an `O_PATH` fd, not followed) as `name`.
    pub(super) fn copy_entry(
        &self,
        src: &OwnedFd,
        st: &FileStat,
        dir: &OwnedFd,
        name: &OsStr,
        label: &str,
    ) -> Result<()> {
        self.clear(dir, name, false, label)?;
        let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
        let mode = Mode::from_bits_truncate(st.st_mode & 0o7777);
        if kind == SFlag::S_IFLNK {
            let target = readlinkat(src, "").map_err(|e| from_io(errno_io(e)))?;
            nix::unistd::symlinkat(target.as_os_str(), dir, name)
                .map_err(|e| exists_error(label, e))?;
        } else if kind == SFlag::S_IFREG {
            let mut input = reopen_file(src)?;
            let fd = openat(
                dir,
                name,
                OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                mode,
            )
            .map_err(|e| exists_error(label, e))?;
            let mut out = File::from(fd);
            io::copy(&mut input, &mut out).map_err(|e| Error::io("copying", label, e))?;
            self.chown(dir, name, Some(st))?;
            return nix::sys::stat::fchmod(&out, mode).map_err(|e| from_io(errno_io(e)));
        } else {
            nix::sys::stat::mknodat(dir, name, kind, mode, st.st_rdev)
                .map_err(|e| exists_error(label, e))?;
        }
        self.chown(dir, name, Some(st))
    }
}
