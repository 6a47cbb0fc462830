//! A layer tarball from a directory: the changes of a container (its overlay upper dir,
//! for `commit`) or a whole tree (a mounted rootfs, for `commit --squash`).
//!
//! Entries are written in lexical order, each with its owner, mode, mtime, its allowed
//! extended attributes (the same set the unpacker applies) and, for files with several
//! links, one copy and hard links to it. Overlay's own markings become the layer format's,
//! as c/storage's overlay driver writes them: a whiteout (a 0:0 character device) becomes
//! an empty `.wh.NAME` file, and an opaque directory
//! (`trusted.overlay.opaque=y`, or `user.overlay.opaque` on a userxattr mount) is followed
//! by a `.wh..wh..opq` entry. fuse-overlayfs' own markings (a mount program's upper dir in a
//! user namespace: `.wh.NAME` files, `user.fuseoverlayfs.opaque` with a `.wh..wh..opq`
//! file) come out the same way. Sockets are skipped (they cannot be archived).
#![allow(unsafe_code)]

use std::collections::HashMap;
use std::ffi::{CString, OsStr};
use std::fs::{self, File, Metadata};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use nix::errno::Errno;

use super::unpack::xattr_allowed;

/// The opaque markers of an upper dir: the kernel's (as root, or `userxattr`) and
/// fuse-overlayfs' own where it may not set `trusted.*` (a user namespace), which it writes
/// with a `.wh..wh..opq` file in the directory as well.
const OPAQUE: [&str; 3] = [
    "trusted.overlay.opaque",
    "user.overlay.opaque",
    "user.fuseoverlayfs.opaque",
];
/// The opaque marker file fuse-overlayfs puts in an opaque directory of its upper dir.
const OPAQUE_FILE: &str = ".wh..wh..opq";

/// What fuse-overlayfs keeps in an upper dir for itself and never shows: the opaque marker
/// file (the directory's own entry says it is opaque) and whiteouts of `.wh.` names (it
/// hides every `.wh.` name; it makes one for `.wh..opq` when it makes a directory opaque).
fn fuse_internal(name: &OsStr, path: &Path) -> bool {
    if name == OPAQUE_FILE {
        return true;
    }
    name.as_bytes().starts_with(b".wh.")
        && fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_char_device() && m.rdev() == 0)
}

/// Writes the tarball of `root`'s content (not `root` itself) into `out`. With
/// `whiteouts`, overlay whiteouts and opaque directories are converted (an upper dir);
/// without, the tree is taken as it is (a merged view has none).
pub fn write_tree(root: &Path, whiteouts: bool, out: impl Write) -> io::Result<()> {
    let mut w = TreeWriter {
        tar: tar::Builder::new(out),
        links: HashMap::new(),
        whiteouts,
    };
    w.tar.follow_symlinks(false);
    w.dir(root, "")?;
    w.tar.finish()
}

struct TreeWriter<W: Write> {
    tar: tar::Builder<W>,
    /// (dev, inode) of files with several links → the archive path of the first.
    links: HashMap<(u64, u64), String>,
    whiteouts: bool,
}

impl<W: Write> TreeWriter<W> {
    /// The entries of directory `dir`, whose archive path is `prefix` (empty for the root).
    fn dir(&mut self, dir: &Path, prefix: &str) -> io::Result<()> {
        let mut names: Vec<_> = fs::read_dir(dir)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()?;
        names.sort();
        for name in names {
            let path = dir.join(&name);
            if self.whiteouts && fuse_internal(&name, &path) {
                continue;
            }
            let name = name.to_str().ok_or_else(|| {
                io::Error::other(format!("{}: a name that is not UTF-8", path.display()))
            })?;
            let arc = if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}/{name}")
            };
            let meta = fs::symlink_metadata(&path)?;
            self.entry(&path, &arc, &meta)?;
            if meta.is_dir() {
                self.dir(&path, &arc)?;
            }
        }
        Ok(())
    }

    fn entry(&mut self, path: &Path, arc: &str, meta: &Metadata) -> io::Result<()> {
        let ft = meta.file_type();
        if ft.is_socket() {
            return Ok(());
        }
        if self.whiteouts && ft.is_char_device() && meta.rdev() == 0 {
            let (dir, base) = match arc.rsplit_once('/') {
                Some((d, b)) => (format!("{d}/"), b),
                None => (String::new(), arc),
            };
            // The device's own permissions (overlay makes it 0000), as c/storage writes it.
            let mut h = header(meta, tar::EntryType::Regular);
            h.set_size(0);
            return self
                .tar
                .append_data(&mut h, format!("{dir}.wh.{base}"), io::empty());
        }
        let xattrs = read_xattrs(path)?;
        let opaque = self.whiteouts
            && meta.is_dir()
            && (xattrs
                .iter()
                .any(|(k, v)| OPAQUE.contains(&k.as_str()) && v.as_slice() == b"y")
                || path.join(OPAQUE_FILE).symlink_metadata().is_ok());
        let kept: Vec<(String, Vec<u8>)> = xattrs
            .into_iter()
            .filter(|(k, _)| xattr_allowed(k) && !OPAQUE.contains(&k.as_str()))
            .collect();
        if !kept.is_empty() && !ft.is_symlink() {
            let records = pax_records(&kept);
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(tar::EntryType::XHeader);
            h.set_path("PaxHeaders/xattrs")?;
            h.set_mode(0o644);
            h.set_size(records.len() as u64);
            h.set_cksum();
            self.tar.append(&h, records.as_slice())?;
        }
        self.body(path, arc, meta)?;
        if opaque {
            // c/storage's marker: the directory's permissions and owner, no time.
            let mut h = header(meta, tar::EntryType::Regular);
            h.set_mode(meta.mode() & 0o777);
            h.set_mtime(0);
            h.set_size(0);
            self.tar
                .append_data(&mut h, format!("{arc}/.wh..wh..opq"), io::empty())?;
        }
        Ok(())
    }

    /// The entry itself: a directory, a file (or a hard link to one written earlier), a
    /// symlink, a device or a FIFO.
    fn body(&mut self, path: &Path, arc: &str, meta: &Metadata) -> io::Result<()> {
        let ft = meta.file_type();
        if ft.is_dir() {
            let mut h = header(meta, tar::EntryType::Directory);
            return self.tar.append_data(&mut h, format!("{arc}/"), io::empty());
        }
        if ft.is_symlink() {
            let target = fs::read_link(path)?;
            let mut h = header(meta, tar::EntryType::Symlink);
            return self.tar.append_link(&mut h, arc, target);
        }
        if ft.is_file() {
            if meta.nlink() > 1 {
                let key = (meta.dev(), meta.ino());
                if let Some(first) = self.links.get(&key) {
                    let mut h = header(meta, tar::EntryType::Link);
                    let first = first.clone();
                    return self.tar.append_link(&mut h, arc, first);
                }
                self.links.insert(key, arc.to_string());
            }
            let mut h = header(meta, tar::EntryType::Regular);
            h.set_size(meta.len());
            return self.tar.append_data(&mut h, arc, File::open(path)?);
        }
        let kind = if ft.is_char_device() {
            tar::EntryType::Char
        } else if ft.is_block_device() {
            tar::EntryType::Block
        } else {
            tar::EntryType::Fifo
        };
        let mut h = header(meta, kind);
        if kind != tar::EntryType::Fifo {
            let dev = meta.rdev();
            h.set_device_major(nix::sys::stat::major(dev) as u32)?;
            h.set_device_minor(nix::sys::stat::minor(dev) as u32)?;
        }
        self.tar.append_data(&mut h, arc, io::empty())
    }
}

/// PAX records `SCHILY.xattr.NAME=VALUE`, each `LEN KEY=VALUE\n` where LEN counts the
/// whole record, its own digits included.
fn pax_records(xattrs: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in xattrs {
        let body_len = 1 + "SCHILY.xattr.".len() + k.len() + 1 + v.len() + 1;
        let mut len = body_len + 1;
        while len != body_len + len.to_string().len() {
            len = body_len + len.to_string().len();
        }
        out.extend_from_slice(format!("{len} SCHILY.xattr.{k}=").as_bytes());
        out.extend_from_slice(v);
        out.push(b'\n');
    }
    out
}

/// A header with the entry's owner, permissions (setuid/setgid/sticky included) and mtime.
fn header(meta: &Metadata, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(meta.mode() & 0o7777);
    h.set_uid(u64::from(meta.uid()));
    h.set_gid(u64::from(meta.gid()));
    h.set_mtime(u64::try_from(meta.mtime()).unwrap_or(0));
    h.set_size(0);
    h
}

/// Every extended attribute of `path` (not following a symlink); none where the
/// filesystem has no xattrs.
fn read_xattrs(path: &Path) -> io::Result<Vec<(String, Vec<u8>)>> {
    let cpath = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::other(format!("{}: NUL in path", path.display())))?;
    let names = match xattr_call(|buf, len| {
        // SAFETY: `cpath` is NUL-terminated; `buf` is null (size query) or points to `len`
        // writable bytes.
        unsafe { libc::llistxattr(cpath.as_ptr(), buf.cast(), len) }
    }) {
        Ok(n) => n,
        Err(Errno::ENOTSUP) => return Ok(Vec::new()),
        Err(e) => {
            return Err(io::Error::other(format!(
                "listing xattrs of {}: {e}",
                path.display()
            )));
        }
    };
    let mut out = Vec::new();
    for name in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let cname = CString::new(name).map_err(|_| io::Error::other("NUL in xattr name"))?;
        let value = match xattr_call(|buf, len| {
            // SAFETY: both strings are NUL-terminated; `buf` is null or points to `len`
            // writable bytes.
            unsafe { libc::lgetxattr(cpath.as_ptr(), cname.as_ptr(), buf.cast(), len) }
        }) {
            Ok(v) => v,
            // Gone between the listing and the read, or not ours to read.
            Err(Errno::ENODATA | Errno::EPERM | Errno::EACCES) => continue,
            Err(e) => {
                return Err(io::Error::other(format!(
                    "reading xattr {} of {}: {e}",
                    OsStr::from_bytes(name).to_string_lossy(),
                    path.display()
                )));
            }
        };
        out.push((String::from_utf8_lossy(name).into_owned(), value));
    }
    Ok(out)
}

/// Calls a size-query-then-fill xattr syscall, growing the buffer if the value grew.
fn xattr_call(mut f: impl FnMut(*mut u8, usize) -> isize) -> Result<Vec<u8>, Errno> {
    loop {
        let size = Errno::result(f(std::ptr::null_mut(), 0))? as usize;
        if size == 0 {
            return Ok(Vec::new());
        }
        let mut buf = vec![0u8; size];
        match Errno::result(f(buf.as_mut_ptr(), buf.len())) {
            Ok(n) => {
                buf.truncate(n as usize);
                return Ok(buf);
            }
            Err(Errno::ERANGE) => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_lengths_count_themselves() {
        let r = pax_records(&[("user.a".into(), b"xyz".to_vec())]);
        let text = String::from_utf8(r).unwrap();
        let (len, _) = text.split_once(' ').unwrap();
        assert_eq!(len.parse::<usize>().unwrap(), text.len());
        // 9 bytes without the length, so the length has to be 2 digits: "28 …".
        let r = pax_records(&[("user.b".into(), vec![b'v'; 80])]);
        let text = String::from_utf8(r).unwrap();
        assert_eq!(
            text.split_once(' ').unwrap().0.parse::<usize>().unwrap(),
            text.len()
        );
    }
}
