//! Tar streams in and out of a container: `cp - CTR:DIR`, `cp CTR:PATH -` and `export`.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;

use nix::fcntl::{AtFlags, OFlag, OpenHow, ResolveFlag, openat, openat2, readlinkat};
use nix::sys::stat::{FileStat, Mode, SFlag, fstatat, mkdirat};
use nix::unistd::{Gid, Uid, fchownat};

use super::write::{Writer, exists_error};
use super::*;
use crate::error::{Error, Result};

/// `cp - CTR:DIR`: a (compressed) tar into an existing directory.
pub(super) fn put_stream(
    dest: &Root,
    dest_path: &str,
    opts: &CopyOptions,
    input: &mut dyn Read,
) -> Result<()> {
    let dir = match dest.find(dest_path)? {
        Some(Found::Exists(fd, st)) if is_dir(&st) => reopen_dir(&fd)?,
        _ => {
            return Err(Error::invalid(
                "destination must be a directory when copying from stdin",
            ));
        }
    };
    let mut buffered = io::BufReader::new(input);
    let reader = crate::layer::decompress(&mut buffered).map_err(|_| {
        Error::invalid("source must be a (compressed) tar archive when copying from stdin")
    })?;
    let mut archive = tar::Archive::new(reader);
    let entries = archive.entries().map_err(|_| {
        Error::invalid("source must be a (compressed) tar archive when copying from stdin")
    })?;
    let w = Writer {
        owner: if opts.archive { dest.owner } else { None },
        overwrite: opts.overwrite,
    };
    let mut any = false;
    for entry in entries {
        let mut entry = entry.map_err(|_| {
            Error::invalid("source must be a (compressed) tar archive when copying from stdin")
        })?;
        any = true;
        w.put_entry(&dir, &mut entry)?;
    }
    if !any {
        return Err(Error::invalid(
            "source must be a (compressed) tar archive when copying from stdin",
        ));
    }
    Ok(())
}

impl Writer {
    /// One tar entry below `root` (never outside it: parents resolved in `root`).
    fn put_entry<R: Read>(&self, root: &OwnedFd, entry: &mut tar::Entry<'_, R>) -> Result<()> {
        let path = entry
            .path()
            .map_err(|e| Error::invalid(format!("a tar entry's name: {e}")))?
            .to_string_lossy()
            .into_owned();
        let comps = components(&path);
        let Some((name, parents)) = comps.split_last() else {
            return Ok(());
        };
        let mut dir = root.try_clone().map_err(from_io)?;
        for p in parents {
            if fstatat(&dir, p.as_str(), AtFlags::AT_SYMLINK_NOFOLLOW).is_err() {
                mkdirat(&dir, p.as_str(), Mode::from_bits_truncate(0o755))
                    .map_err(|e| from_io(errno_io(e)))?;
            }
            let how = OpenHow::new()
                .flags(OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
                .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS);
            dir = openat2(&dir, p.as_str(), how)
                .map_err(|e| Error::invalid(format!("tar entry {path:?}: {}", errno_io(e))))?;
        }
        let h = entry.header();
        let mode = Mode::from_bits_truncate(h.mode().unwrap_or(0o644) & 0o7777);
        let uid = h.uid().unwrap_or(0) as u32;
        let gid = h.gid().unwrap_or(0) as u32;
        let label = format!("/{}", comps.join("/"));
        let name = OsStr::new(name.as_str());
        match h.entry_type() {
            tar::EntryType::Directory => {
                if !self.clear(&dir, name, true, &label)? {
                    mkdirat(&dir, name, mode).map_err(|e| exists_error(&label, e))?;
                }
                let (uid, gid) = self.owner.unwrap_or((uid, gid));
                fchownat(
                    &dir,
                    name,
                    Some(Uid::from_raw(uid)),
                    Some(Gid::from_raw(gid)),
                    AtFlags::AT_SYMLINK_NOFOLLOW,
                )
                .map_err(|e| from_io(errno_io(e)))?;
                return nix::sys::stat::fchmodat(
                    &dir,
                    name,
                    mode,
                    nix::sys::stat::FchmodatFlags::FollowSymlink,
                )
                .map_err(|e| from_io(errno_io(e)));
            }
            tar::EntryType::Symlink => {
                self.clear(&dir, name, false, &label)?;
                let target = entry
                    .link_name()
                    .ok()
                    .flatten()
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                nix::unistd::symlinkat(target.as_os_str(), &dir, name)
                    .map_err(|e| exists_error(&label, e))?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                self.clear(&dir, name, false, &label)?;
                let fd = openat(
                    &dir,
                    name,
                    OFlag::O_WRONLY
                        | OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_CLOEXEC,
                    mode,
                )
                .map_err(|e| exists_error(&label, e))?;
                let mut out = File::from(fd);
                io::copy(entry, &mut out).map_err(|e| Error::io("writing", &label, e))?;
                let (uid, gid) = self.owner.unwrap_or((uid, gid));
                nix::unistd::fchown(&out, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
                    .map_err(|e| from_io(errno_io(e)))?;
                return nix::sys::stat::fchmod(&out, mode).map_err(|e| from_io(errno_io(e)));
            }
            // Hard links, devices and the rest: left out, as a copy of files (a hard link
            // would have to be resolved inside the destination).
            _ => return Ok(()),
        }
        let (uid, gid) = self.owner.unwrap_or((uid, gid));
        fchownat(
            &dir,
            name,
            Some(Uid::from_raw(uid)),
            Some(Gid::from_raw(gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| from_io(errno_io(e)))
    }
}

/// `cp CTR:PATH -`: a tar of the path, its top entry named after it.
pub(super) fn get_stream(src: &Root, src_path: &str, out: &mut dyn Write) -> Result<()> {
    let Some(Found::Exists(fd, st)) = src.find(src_path)? else {
        return Err(not_found(src_path, src));
    };
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    match source_name(src_path) {
        Some(name) if is_dir(&st) => {
            append_header(&mut b, &name, &st, None)?;
            append_children(&mut b, &reopen_dir(&fd)?, &name)?;
        }
        Some(name) => {
            let file = is_reg(&st).then(|| reopen_file(&fd)).transpose()?;
            append_header(&mut b, &name, &st, file)?;
        }
        None => append_children(&mut b, &reopen_dir(&fd)?, "")?,
    }
    b.finish()
        .map_err(|e| Error::io("writing the archive", "-", e))
}

fn append_header<W: Write>(
    b: &mut tar::Builder<W>,
    name: &str,
    st: &FileStat,
    file: Option<File>,
) -> Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(u64::from(st.st_uid));
    h.set_gid(u64::from(st.st_gid));
    h.set_mtime(st.st_mtime.max(0) as u64);
    let werr = |e| Error::io("writing the archive", "-", e);
    if is_dir(st) {
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        b.append_data(&mut h, format!("{name}/"), io::empty())
            .map_err(werr)
    } else if let Some(f) = file {
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(st.st_size as u64);
        b.append_data(&mut h, name, f.take(st.st_size as u64))
            .map_err(werr)
    } else {
        Ok(())
    }
}

fn append_children<W: Write>(b: &mut tar::Builder<W>, dir: &OwnedFd, prefix: &str) -> Result<()> {
    let entries = nix::dir::Dir::from_fd(dir.try_clone().map_err(from_io)?)
        .map_err(|e| from_io(errno_io(e)))?;
    let mut names = Vec::new();
    for e in entries {
        let e = e.map_err(|e| from_io(errno_io(e)))?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(OsString::from(OsStr::from_bytes(n)));
        }
    }
    names.sort();
    for n in names {
        let st = fstatat(dir, n.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
            .map_err(|e| from_io(errno_io(e)))?;
        let name = if prefix.is_empty() {
            n.to_string_lossy().into_owned()
        } else {
            format!("{prefix}/{}", n.to_string_lossy())
        };
        let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
        if kind == SFlag::S_IFDIR {
            append_header(b, &name, &st, None)?;
            append_children(b, &open_child_dir(dir, &n)?, &name)?;
        } else if kind == SFlag::S_IFLNK {
            let target = readlinkat(dir, n.as_os_str()).map_err(|e| from_io(errno_io(e)))?;
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_mode(st.st_mode & 0o7777);
            h.set_uid(u64::from(st.st_uid));
            h.set_gid(u64::from(st.st_gid));
            h.set_mtime(st.st_mtime.max(0) as u64);
            h.set_size(0);
            b.append_link(&mut h, &name, &target)
                .map_err(|e| Error::io("writing the archive", "-", e))?;
        } else if kind == SFlag::S_IFREG {
            let fd = openat(
                dir,
                n.as_os_str(),
                OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| from_io(errno_io(e)))?;
            append_header(b, &name, &st, Some(File::from(fd)))?;
        } else {
            let typ = match kind {
                SFlag::S_IFCHR => tar::EntryType::Char,
                SFlag::S_IFBLK => tar::EntryType::Block,
                SFlag::S_IFIFO => tar::EntryType::Fifo,
                // Sockets are not archived (tar has no type for them).
                _ => continue,
            };
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(typ);
            h.set_mode(st.st_mode & 0o7777);
            h.set_uid(u64::from(st.st_uid));
            h.set_gid(u64::from(st.st_gid));
            h.set_mtime(st.st_mtime.max(0) as u64);
            h.set_size(0);
            let rdev = st.st_rdev;
            let werr = |e| Error::io("writing the archive", "-", e);
            h.set_device_major(nix::sys::stat::major(rdev) as u32)
                .map_err(werr)?;
            h.set_device_minor(nix::sys::stat::minor(rdev) as u32)
                .map_err(werr)?;
            b.append_data(&mut h, &name, io::empty()).map_err(werr)?;
        }
    }
    Ok(())
}
