//! Copy-up and ownership changes, contained.
//!
//! Every walk holds directory fds and names one component at a time: entries are examined
//! with `fstatat(AT_SYMLINK_NOFOLLOW)`, opened with `O_NOFOLLOW`, created with `O_EXCL`, and
//! symlinks are copied (or chowned) as links, never followed. The image side is entered
//! with `openat2(RESOLVE_IN_ROOT)`, so a symlink in the image resolves inside the rootfs.
//! Nothing can therefore be read from or written to outside the two trees.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{AT_FDCWD, AtFlags, OFlag, OpenHow, ResolveFlag, openat, openat2, readlinkat};
use nix::sys::stat::{
    FileStat, Mode, SFlag, UtimensatFlags, fchmod, fstat, fstatat, futimens, mkdirat, mknodat,
    utimensat,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, fchown, fchownat, symlinkat};

const DIR_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

fn open_dir(path: &Path) -> Result<OwnedFd, Errno> {
    openat(AT_FDCWD, path, DIR_FLAGS, Mode::empty())
}

/// Open the directory `path` of a rootfs, resolving it inside the rootfs. `None` when it
/// does not exist or is not a directory.
pub(super) fn open_in_root(root: &Path, path: &str) -> Result<Option<OwnedFd>, Errno> {
    let dir = open_dir(root)?;
    let rel = path.trim_start_matches('/');
    if rel.is_empty() {
        return Ok(Some(dir));
    }
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    match openat2(&dir, rel, how) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::ENOENT | Errno::ENOTDIR) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Write `content` to the file `rel` (e.g. `a/b/key`) under the directory `root`, making
/// parent directories: one component at a time with `O_NOFOLLOW`, the file replaced by a new
/// one made with `O_EXCL`. A symlink a container left in a volume is never followed, so the
/// write stays inside `root` whatever the tree holds.
pub(crate) fn write_in_root(root: &Path, rel: &str, content: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty()).collect();
    let Some((file, dirs)) = parts.split_last() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "empty file name",
        ));
    };
    if parts.iter().any(|p| *p == "." || *p == "..") {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{rel:?} leaves its directory"),
        ));
    }
    let mut dir = open_dir(root)?;
    for d in dirs {
        match mkdirat(&dir, *d, Mode::from_bits_truncate(0o755)) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(e.into()),
        }
        dir = openat(&dir, *d, DIR_FLAGS, Mode::empty())?;
    }
    match nix::unistd::unlinkat(&dir, *file, nix::unistd::UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(e.into()),
    }
    let fd = openat(
        &dir,
        *file,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o644),
    )?;
    File::from(fd).write_all(content)
}

/// Names in a directory (without `.` and `..`).
fn list(dir: &impl AsFd) -> Result<Vec<OsString>, Errno> {
    let fd = openat(dir.as_fd(), ".", DIR_FLAGS, Mode::empty())?;
    let mut d = nix::dir::Dir::from_fd(fd)?;
    let mut out = Vec::new();
    for ent in d.iter() {
        let ent = ent?;
        let n = ent.file_name().to_bytes();
        if n != b"." && n != b".." {
            out.push(OsStr::from_bytes(n).to_os_string());
        }
    }
    Ok(out)
}

/// True when the directory `path` holds nothing.
pub(super) fn is_empty_dir(path: &Path) -> io::Result<bool> {
    let fd = open_dir(path)?;
    Ok(list(&fd)?.is_empty())
}

fn kind(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & libc::S_IFMT)
}

fn times(st: &FileStat) -> (TimeSpec, TimeSpec) {
    (
        TimeSpec::new(st.st_atime, st.st_atime_nsec),
        TimeSpec::new(st.st_mtime, st.st_mtime_nsec),
    )
}

fn perms(st: &FileStat) -> Mode {
    Mode::from_bits_truncate(st.st_mode & 0o7777)
}

/// Copy the content of directory `src` into directory `dst` (expected empty): files, dirs,
/// symlinks, fifos and device nodes, with owners, modes and times. Sockets are skipped.
pub(super) fn copy_tree(src: &impl AsFd, dst: &impl AsFd) -> Result<(), Errno> {
    for name in list(src)? {
        let name = name.as_os_str();
        let st = fstatat(src.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
        let (atime, mtime) = times(&st);
        let owner = (
            Some(Uid::from_raw(st.st_uid)),
            Some(Gid::from_raw(st.st_gid)),
        );
        match kind(&st) {
            SFlag::S_IFDIR => {
                mkdirat(dst.as_fd(), name, Mode::from_bits_truncate(0o700))?;
                let s = openat(src.as_fd(), name, DIR_FLAGS, Mode::empty())?;
                let d = openat(dst.as_fd(), name, DIR_FLAGS, Mode::empty())?;
                copy_tree(&s, &d)?;
                fchown(&d, owner.0, owner.1)?;
                fchmod(&d, perms(&st))?;
                futimens(&d, &atime, &mtime)?;
            }
            SFlag::S_IFREG => {
                let s = openat(
                    src.as_fd(),
                    name,
                    OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )?;
                let d = openat(
                    dst.as_fd(),
                    name,
                    OFlag::O_WRONLY
                        | OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                )?;
                let (mut s, mut d) = (File::from(s), File::from(d));
                io::copy(&mut s, &mut d)
                    .map_err(|e| e.raw_os_error().map(Errno::from_raw).unwrap_or(Errno::EIO))?;
                fchown(&d, owner.0, owner.1)?;
                // After the chown, which clears set-id bits.
                fchmod(&d, perms(&st))?;
                futimens(&d, &atime, &mtime)?;
            }
            SFlag::S_IFLNK => {
                let target = readlinkat(src.as_fd(), name)?;
                symlinkat(target.as_os_str(), dst.as_fd(), name)?;
                fchownat(
                    dst.as_fd(),
                    name,
                    owner.0,
                    owner.1,
                    AtFlags::AT_SYMLINK_NOFOLLOW,
                )?;
                utimensat(
                    dst.as_fd(),
                    name,
                    &atime,
                    &mtime,
                    UtimensatFlags::NoFollowSymlink,
                )?;
            }
            k @ (SFlag::S_IFIFO | SFlag::S_IFCHR | SFlag::S_IFBLK) => {
                mknodat(dst.as_fd(), name, k, perms(&st), st.st_rdev)?;
                fchownat(
                    dst.as_fd(),
                    name,
                    owner.0,
                    owner.1,
                    AtFlags::AT_SYMLINK_NOFOLLOW,
                )?;
                utimensat(
                    dst.as_fd(),
                    name,
                    &atime,
                    &mtime,
                    UtimensatFlags::NoFollowSymlink,
                )?;
            }
            _ => tracing::debug!(name = ?name, "copy-up: skipping a socket"),
        }
    }
    Ok(())
}

/// Copy-up: fill the (empty) volume directory `data` with what the rootfs has at `dest`.
/// Returns whether anything was there to copy.
pub(super) fn copy_up(rootfs: &Path, dest: &str, data: &Path) -> Result<bool, Errno> {
    let Some(src) = open_in_root(rootfs, dest)? else {
        return Ok(false);
    };
    let dst = open_dir(data)?;
    copy_tree(&src, &dst)?;
    Ok(true)
}

/// Remove everything inside the directory `path` (which stays), without following a
/// symlink anywhere: a failed or interrupted copy-up is undone with it.
pub(super) fn clear_dir(path: &Path) -> Result<(), Errno> {
    let fd = open_dir(path)?;
    clear_fd(&fd)
}

fn clear_fd(dir: &OwnedFd) -> Result<(), Errno> {
    use nix::unistd::{UnlinkatFlags, unlinkat};
    for name in list(dir)? {
        let name = name.as_os_str();
        let st = fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
        if kind(&st) == SFlag::S_IFDIR {
            let sub = openat(dir, name, DIR_FLAGS, Mode::empty())?;
            clear_fd(&sub)?;
            unlinkat(dir, name, UnlinkatFlags::RemoveDir)?;
        } else {
            unlinkat(dir, name, UnlinkatFlags::NoRemoveDir)?;
        }
    }
    Ok(())
}

/// `U`: chown `path` and everything below it to `uid:gid`, symlinks themselves (never their
/// targets), without crossing into other trees through symlinks.
pub(super) fn chown_tree(path: &Path, uid: u32, gid: u32) -> Result<(), Errno> {
    let (u, g) = (Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)));
    let st = nix::sys::stat::lstat(path)?;
    if kind(&st) != SFlag::S_IFDIR {
        return nix::unistd::fchownat(AT_FDCWD, path, u, g, AtFlags::AT_SYMLINK_NOFOLLOW);
    }
    let fd = open_dir(path)?;
    chown_dir(&fd, u, g)
}

fn chown_dir(dir: &OwnedFd, u: Option<Uid>, g: Option<Gid>) -> Result<(), Errno> {
    let mode = perms(&fstat(dir)?);
    fchown(dir, u, g)?;
    // chown clears set-id bits on some filesystems; keep the directory's mode.
    fchmod(dir, mode)?;
    for name in list(dir)? {
        let st = fstatat(dir, name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW)?;
        if kind(&st) == SFlag::S_IFDIR {
            let sub = openat(dir, name.as_os_str(), DIR_FLAGS, Mode::empty())?;
            chown_dir(&sub, u, g)?;
        } else {
            fchownat(dir, name.as_os_str(), u, g, AtFlags::AT_SYMLINK_NOFOLLOW)?;
        }
    }
    Ok(())
}

/// First use of a volume (Podman's `fixVolumePermissions`): the data directory takes the
/// container user's ownership, then the owner and mode of the directory it covers in the
/// image, when there is one.
pub(super) fn first_use_ownership(
    data: &Path,
    rootfs: &Path,
    dest: &str,
    uid: u32,
    gid: u32,
) -> Result<(), Errno> {
    let fd = open_dir(data)?;
    fchown(&fd, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))?;
    if let Some(target) = open_in_root(rootfs, dest)? {
        let st = fstat(&target)?;
        fchown(
            &fd,
            Some(Uid::from_raw(st.st_uid)),
            Some(Gid::from_raw(st.st_gid)),
        )?;
        fchmod(&fd, perms(&st))?;
    }
    Ok(())
}

#[cfg(test)]
mod write_tests {
    use super::*;

    #[test]
    fn writes_stay_inside_and_never_follow_a_symlink() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("data");
        std::fs::create_dir(&root).unwrap();
        let outside = tmp.path().join("outside");
        std::fs::write(&outside, "precious").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("key")).unwrap();
        std::os::unix::fs::symlink(tmp.path(), root.join("sub")).unwrap();
        write_in_root(&root, "key", b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious");
        assert_eq!(std::fs::read_to_string(root.join("key")).unwrap(), "new");
        // A symlinked directory on the way is refused, not followed.
        assert!(write_in_root(&root, "sub/key", b"x").is_err());
        assert!(!tmp.path().join("key").exists());
        assert!(write_in_root(&root, "../x", b"x").is_err());
        write_in_root(&root, "a/b/c", b"deep").unwrap();
        assert_eq!(std::fs::read_to_string(root.join("a/b/c")).unwrap(), "deep");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

    #[test]
    fn copy_keeps_links_and_modes_and_never_follows() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        let outside = t.path().join("outside");
        std::fs::create_dir_all(root.join("etc/sub")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret"), "host").unwrap();
        std::fs::write(root.join("etc/a"), "A").unwrap();
        std::fs::set_permissions(root.join("etc/a"), std::fs::Permissions::from_mode(0o640))
            .unwrap();
        std::fs::write(root.join("etc/sub/b"), "B").unwrap();
        symlink("a", root.join("etc/rel")).unwrap();
        symlink(&outside, root.join("etc/escape")).unwrap();
        // The volume path itself is a symlink out of the rootfs: resolved inside the root.
        symlink(outside.to_str().unwrap(), root.join("link")).unwrap();

        let data = t.path().join("data");
        std::fs::create_dir(&data).unwrap();
        assert!(copy_up(&root, "/etc", &data).unwrap());
        assert_eq!(std::fs::read_to_string(data.join("a")).unwrap(), "A");
        assert_eq!(
            std::fs::metadata(data.join("a")).unwrap().mode() & 0o7777,
            0o640
        );
        assert_eq!(std::fs::read_to_string(data.join("sub/b")).unwrap(), "B");
        assert_eq!(
            std::fs::read_link(data.join("rel")).unwrap(),
            Path::new("a")
        );
        // Copied as a link, not as the host directory it points at.
        assert!(
            std::fs::symlink_metadata(data.join("escape"))
                .unwrap()
                .file_type()
                .is_symlink()
        );

        // /link -> <outside> (absolute) resolves to <root>/<outside>, which does not exist.
        let data2 = t.path().join("data2");
        std::fs::create_dir(&data2).unwrap();
        assert!(!copy_up(&root, "/link", &data2).unwrap());
        assert!(is_empty_dir(&data2).unwrap());
        assert!(!copy_up(&root, "/nonexistent", &data2).unwrap());
    }

    #[test]
    fn clear_dir_empties_without_following_links() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("d");
        let outside = t.path().join("outside");
        std::fs::create_dir_all(d.join("x/y")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("keep"), "host").unwrap();
        std::fs::write(d.join("x/y/f"), "partial").unwrap();
        std::fs::write(d.join("top"), "partial").unwrap();
        symlink(&outside, d.join("link")).unwrap();
        symlink(&outside, d.join("x/link")).unwrap();
        clear_dir(&d).unwrap();
        assert!(is_empty_dir(&d).unwrap());
        assert_eq!(
            std::fs::read_to_string(outside.join("keep")).unwrap(),
            "host"
        );
        // A symlink as the directory itself is refused, not followed.
        let l = t.path().join("l");
        symlink(&outside, &l).unwrap();
        assert!(clear_dir(&l).is_err());
        assert!(outside.join("keep").exists());
    }

    #[test]
    fn chown_tree_does_not_follow_symlinks() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: chown needs root");
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("d");
        let outside = t.path().join("outside");
        std::fs::create_dir_all(d.join("x")).unwrap();
        std::fs::write(d.join("x/f"), "").unwrap();
        std::fs::write(&outside, "").unwrap();
        symlink(&outside, d.join("l")).unwrap();
        chown_tree(&d, 4321, 4322).unwrap();
        for p in [d.clone(), d.join("x"), d.join("x/f")] {
            let m = std::fs::metadata(&p).unwrap();
            assert_eq!((m.uid(), m.gid()), (4321, 4322), "{}", p.display());
        }
        assert_eq!(std::fs::symlink_metadata(d.join("l")).unwrap().uid(), 4321);
        assert_eq!(std::fs::metadata(&outside).unwrap().uid(), 0);
    }
}
