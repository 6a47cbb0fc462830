//! Unpacking a layer tarball into a directory, contained.
//!
//! Every entry name is cleaned lexically (`..` pops, clamped at the root, as c/storage does
//! with `filepath.Clean("/" + name)`); its parent directory is then opened with
//! `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`, so a symlink met on the way (planted
//! by an earlier entry or by a racing process) is resolved as if `dest` were `/`. The last
//! component is created with `*at` calls on that directory fd and never followed. Hard-link
//! targets are resolved the same way. Nothing can therefore appear outside `dest`.
//!
//! Extended attributes from PAX `SCHILY.xattr.*` records: we apply `user.*`,
//! `security.capability` (file capabilities, e.g. `ping`) and `system.posix_acl_*`. Every
//! other `security.*` (SELinux labels of the build host are meaningless here) and every
//! `trusted.*` and `user.overlay.*` (a tar must not be able to fake overlay whiteouts, opaque
//! dirs or redirects) is skipped. Xattrs on symlinks are skipped.
//!
//! Whiteouts (`.wh.NAME`) become overlay whiteouts (char device 0:0); `.wh..wh..opq` sets
//! `trusted.overlay.opaque=y` on its directory (`user.overlay.opaque=y` in a user namespace,
//! where overlay is mounted with `userxattr`); other `.wh..wh.*` (AUFS metadata) are dropped.
//!
//! In a user namespace (rootless) the kernel shifts owners through the mapping: a file the
//! tar gives to uid 1000 is chowned to 1000 here and lands on the host as the mapping's
//! 1000 (100999 with a range starting at 100000). Device nodes cannot be made there and are
//! skipped, as containers/storage does; an owner outside the mapping is an error naming
//! /etc/subuid.
#![allow(unsafe_code)]

use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AT_FDCWD, AtFlags, OFlag, OpenHow, ResolveFlag, openat, openat2, readlinkat};
use nix::sys::stat::{
    FchmodatFlags, Mode, SFlag, UtimensatFlags, fchmod, fchmodat, fstatat, futimens, mkdirat,
    mknodat, utimensat,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, UnlinkatFlags, fchown, fchownat, linkat, symlinkat, unlinkat};
use sha2::{Digest as _, Sha256};

use super::LayerError;

mod meta;
mod syscalls;
mod whiteout;
pub(crate) use meta::remove_all_at;
pub(super) use syscalls::xattr_allowed;
#[allow(unused_imports)]
pub use syscalls::*;

/// What [`unpack`] found in the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpackSummary {
    /// `sha256:<hex>` of the uncompressed tar stream (the OCI `diff_id`).
    pub diff_id: String,
    /// Length in bytes of the uncompressed tar stream.
    pub tar_size: u64,
    /// Sum of the sizes of the regular files written.
    pub content_size: u64,
    /// Number of tar entries processed (whiteouts included).
    pub entries: u64,
}

/// Looks at the first bytes and returns a reader of the uncompressed stream
/// (gzip, zstd or plain tar).
pub fn decompress<'a>(mut reader: impl Read + 'a) -> Result<Box<dyn Read + 'a>, LayerError> {
    let mut magic = [0u8; 6];
    let mut got = 0;
    while got < magic.len() {
        match reader.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(LayerError::Read(e)),
        }
    }
    let head = &magic[..got];
    let chained = io::Cursor::new(head.to_vec()).chain(reader);
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(chained)))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        let dec = zstd::stream::read::Decoder::new(chained).map_err(LayerError::Read)?;
        Ok(Box::new(dec))
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Err(LayerError::UnsupportedCompression("xz"))
    } else if head.starts_with(b"BZh") {
        Err(LayerError::UnsupportedCompression("bzip2"))
    } else {
        Ok(Box::new(chained))
    }
}

/// Unpacks a (possibly compressed) layer tarball into `dest` (created if missing).
/// On error, `dest` may hold a partial tree: the caller removes it.
pub fn unpack(reader: impl Read, dest: &Path) -> Result<UnpackSummary, LayerError> {
    let stream = decompress(reader)?;
    unpack_tar(stream, dest)
}

/// Unpacks an uncompressed tar stream into `dest` (created if missing). The stream is read
/// to its end, so the digest covers every byte (trailing padding included).
pub fn unpack_tar(reader: impl Read, dest: &Path) -> Result<UnpackSummary, LayerError> {
    unpack_into(reader, dest, false)
}

/// Applies an uncompressed layer tar onto the tree `dest` as a flat filesystem (a vfs
/// rootfs): a whiteout removes what it names, an opaque marker empties its directory
/// (the marker must come before the directory's own entries, as [`super::write_tree`]
/// writes it). Contained exactly as [`unpack_tar`].
pub fn apply_tar(reader: impl Read, dest: &Path) -> Result<UnpackSummary, LayerError> {
    unpack_into(reader, dest, true)
}

fn unpack_into(reader: impl Read, dest: &Path, flat: bool) -> Result<UnpackSummary, LayerError> {
    std::fs::create_dir_all(dest).map_err(|e| LayerError::io("creating", dest, e))?;
    let root = openat(
        AT_FDCWD,
        dest,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| LayerError::io("opening", dest, e))?;
    let mut hashing = HashingReader {
        inner: reader,
        hasher: Sha256::new(),
        count: 0,
    };
    let mut un = Unpacker {
        root,
        dest: dest.to_path_buf(),
        dir_times: Vec::new(),
        content_size: 0,
        entries: 0,
        in_userns: super::in_user_namespace(),
        flat,
    };
    {
        let mut archive = tar::Archive::new(&mut hashing);
        let entries = archive.entries().map_err(|source| LayerError::BrokenTar {
            entry: None,
            source,
        })?;
        for entry in entries {
            let mut entry = entry.map_err(|source| LayerError::BrokenTar {
                entry: None,
                source,
            })?;
            un.entry(&mut entry)?;
        }
    }
    // Read what the tar reader left (end-of-archive blocks, padding): the digest covers the
    // whole stream, and a compressed stream's trailer (CRC) is checked only at its end.
    io::copy(&mut hashing, &mut io::sink()).map_err(|source| LayerError::BrokenTar {
        entry: None,
        source,
    })?;
    un.finish_dir_times()?;
    Ok(UnpackSummary {
        diff_id: format!("sha256:{}", hex::encode(hashing.hasher.finalize())),
        tar_size: hashing.count,
        content_size: un.content_size,
        entries: un.entries,
    })
}

struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

struct Meta {
    uid: u32,
    gid: u32,
    mode: u32,
    mtime: i64,
    xattrs: Vec<(String, Vec<u8>)>,
}

struct Unpacker {
    root: OwnedFd,
    dest: PathBuf,
    /// Directories whose mtime is set once everything is unpacked (creating entries in a
    /// directory changes its mtime).
    dir_times: Vec<(Vec<OsString>, i64)>,
    content_size: u64,
    entries: u64,
    /// Unpacking in a user namespace (rootless): opaque directories get the `user.overlay.`
    /// xattr (overlay mounted with `userxattr`), device nodes are skipped.
    in_userns: bool,
    /// Applying onto a flat tree (vfs): whiteouts remove, opaque markers empty.
    flat: bool,
}

const OPEN_DIR_FLAGS: OFlag = OFlag::O_PATH
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_CLOEXEC);

impl Unpacker {
    fn host_path(&self, comps: &[OsString]) -> PathBuf {
        self.dest.join(join(comps))
    }

    /// Opens an existing directory inside the root (O_PATH), symlinks resolved in-root.
    fn open_dir(&self, comps: &[OsString]) -> Result<OwnedFd, Errno> {
        let path = join(comps);
        let how = OpenHow::new()
            .flags(OPEN_DIR_FLAGS)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        let mut tries = 0;
        loop {
            match openat2(&self.root, &path, how) {
                // The kernel asks for a retry when a rename raced with the resolution.
                Err(Errno::EAGAIN) if tries < 16 => tries += 1,
                r => return r,
            }
        }
    }

    /// Opens the directory `comps` inside the root, creating missing ones (mode 0755). A
    /// dangling symlink on the way is followed in-root and its target created.
    fn ensure_dir(&self, comps: &[OsString]) -> Result<OwnedFd, LayerError> {
        let mut path = comps.to_vec();
        let mut hops = 0;
        'restart: loop {
            match self.open_dir(&path) {
                Ok(fd) => return Ok(fd),
                Err(Errno::ENOENT) => {}
                Err(e) => {
                    return Err(LayerError::io(
                        "opening directory",
                        self.host_path(&path),
                        e,
                    ));
                }
            }
            for i in 1..=path.len() {
                match self.open_dir(&path[..i]) {
                    Ok(_) => continue,
                    Err(Errno::ENOENT) => {}
                    Err(e) => {
                        return Err(LayerError::io(
                            "opening directory",
                            self.host_path(&path[..i]),
                            e,
                        ));
                    }
                }
                let parent = self.open_dir(&path[..i - 1]).map_err(|e| {
                    LayerError::io("opening directory", self.host_path(&path[..i - 1]), e)
                })?;
                let name = &path[i - 1];
                match mkdirat(&parent, name.as_os_str(), Mode::from_bits_truncate(0o755)) {
                    Ok(()) => {
                        // Undo the umask.
                        fchmodat(
                            &parent,
                            name.as_os_str(),
                            Mode::from_bits_truncate(0o755),
                            FchmodatFlags::NoFollowSymlink,
                        )
                        .map_err(|e| {
                            LayerError::io("setting mode of", self.host_path(&path[..i]), e)
                        })?;
                    }
                    Err(Errno::EEXIST) => {
                        // Something is there but does not resolve to a directory: a
                        // dangling symlink is followed (in-root), anything else refused.
                        let target = readlinkat(&parent, name.as_os_str()).map_err(|_| {
                            LayerError::io(
                                "creating directory",
                                self.host_path(&path[..i]),
                                Errno::ENOTDIR,
                            )
                        })?;
                        hops += 1;
                        if hops > 40 {
                            return Err(LayerError::io(
                                "resolving",
                                self.host_path(&path[..i]),
                                Errno::ELOOP,
                            ));
                        }
                        let target = Path::new(&target);
                        let mut next = if target.is_absolute() {
                            Vec::new()
                        } else {
                            path[..i - 1].to_vec()
                        };
                        push_clean(&mut next, target);
                        next.extend_from_slice(&path[i..]);
                        path = next;
                        continue 'restart;
                    }
                    Err(e) => {
                        return Err(LayerError::io(
                            "creating directory",
                            self.host_path(&path[..i]),
                            e,
                        ));
                    }
                }
            }
        }
    }

    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), LayerError> {
        use tar::EntryType as T;
        self.entries += 1;
        let raw = entry
            .path()
            .map_err(|source| LayerError::BrokenTar {
                entry: None,
                source,
            })?
            .into_owned();
        let shown = raw.to_string_lossy().into_owned();
        let broken = |source: io::Error| LayerError::BrokenTar {
            entry: Some(shown.clone()),
            source,
        };
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink
        ) {
            return Ok(());
        }
        let mut xattrs = Vec::new();
        if let Some(exts) = entry.pax_extensions().map_err(broken)? {
            for ext in exts {
                let ext = ext.map_err(broken)?;
                let Ok(key) = ext.key() else { continue };
                if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
                    if xattr_allowed(name) {
                        xattrs.push((name.to_string(), ext.value_bytes().to_vec()));
                    } else {
                        tracing::debug!(entry = %shown, xattr = name, "skipping xattr from layer");
                    }
                }
            }
        }
        let header = entry.header();
        let old = header.as_old();
        let meta = Meta {
            uid: numeric(header.uid(), &old.uid).map_err(broken)? as u32,
            gid: numeric(header.gid(), &old.gid).map_err(broken)? as u32,
            mode: numeric(header.mode().map(u64::from), &old.mode).map_err(broken)? as u32 & 0o7777,
            mtime: numeric(header.mtime(), &old.mtime).map_err(broken)? as i64,
            xattrs,
        };

        let comps = clean(&raw);
        let Some((name, parent)) = comps.split_last() else {
            // The root of the layer itself ("./"): a directory entry sets its metadata.
            if kind == T::Directory {
                let root = openat(
                    &self.root,
                    ".",
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| LayerError::io("opening", &self.dest, e))?;
                self.set_fd_meta(&root, &meta, &self.dest.clone(), false)?;
                self.dir_times.push((Vec::new(), meta.mtime));
                return Ok(());
            }
            return Err(LayerError::Refused {
                entry: shown,
                reason: "a non-directory entry names the layer root".into(),
            });
        };
        let host = self.host_path(&comps);
        let name_bytes = name.as_bytes();

        if let Some(hidden) = name_bytes.strip_prefix(b".wh.") {
            let pfd = self.ensure_dir(parent)?;
            if self.flat {
                return self.flat_whiteout(&pfd, parent, hidden, &shown);
            }
            if name_bytes == b".wh..wh..opq" {
                let d = openat(
                    &pfd,
                    ".",
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| LayerError::io("opening", self.host_path(parent), e))?;
                fsetxattr(&d, super::opaque_xattr(), b"y")
                    .map_err(|e| LayerError::io("marking opaque", self.host_path(parent), e))?;
            } else if hidden.starts_with(b".wh.") || hidden.is_empty() {
                tracing::debug!(entry = %shown, "dropping AUFS metadata entry");
            } else {
                let hidden = OsStr::from_bytes(hidden);
                let whost = self.host_path(parent).join(hidden);
                self.remove_existing(&pfd, hidden, false, &whost)?;
                mknodat(
                    &pfd,
                    hidden,
                    SFlag::S_IFCHR,
                    Mode::empty(),
                    libc::makedev(0, 0),
                )
                .map_err(|e| LayerError::io("creating whiteout", &whost, e))?;
                self.chown_at(&pfd, hidden, &meta, &whost)?;
            }
            return Ok(());
        }

        let pfd = self.ensure_dir(parent)?;
        let name = name.as_os_str();
        match kind {
            T::Directory => {
                let exists = self.remove_existing(&pfd, name, true, &host)?;
                if !exists {
                    mkdirat(&pfd, name, Mode::from_bits_truncate(0o700))
                        .map_err(|e| LayerError::io("creating directory", &host, e))?;
                }
                let d = openat(
                    &pfd,
                    name,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| LayerError::io("opening", &host, e))?;
                self.set_fd_meta(&d, &meta, &host, false)?;
                self.dir_times.push((comps.clone(), meta.mtime));
            }
            T::Regular | T::Continuous | T::GNUSparse => {
                self.remove_existing(&pfd, name, false, &host)?;
                let fd = openat(
                    &pfd,
                    name,
                    OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_WRONLY
                        | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                )
                .map_err(|e| LayerError::io("creating", &host, e))?;
                let mut file = File::from(fd);
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = match entry.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(broken(e)),
                    };
                    file.write_all(&buf[..n])
                        .map_err(|e| LayerError::io("writing", &host, e))?;
                    self.content_size += n as u64;
                }
                self.set_fd_meta(&file, &meta, &host, true)?;
            }
            T::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(broken)?
                    .ok_or_else(|| {
                        broken(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "symlink without a target",
                        ))
                    })?
                    .into_owned();
                self.remove_existing(&pfd, name, false, &host)?;
                symlinkat(&target, &pfd, name)
                    .map_err(|e| LayerError::io("creating symlink", &host, e))?;
                self.chown_at(&pfd, name, &meta, &host)?;
                let t = TimeSpec::new(meta.mtime, 0);
                utimensat(&pfd, name, &t, &t, UtimensatFlags::NoFollowSymlink)
                    .map_err(|e| LayerError::io("setting times of", &host, e))?;
            }
            T::Link => {
                let target = entry
                    .link_name()
                    .map_err(broken)?
                    .ok_or_else(|| {
                        broken(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "hard link without a target",
                        ))
                    })?
                    .into_owned();
                let tcomps = clean(&target);
                let Some((tname, tparent)) = tcomps.split_last() else {
                    return Err(LayerError::Refused {
                        entry: shown,
                        reason: "hard link to the layer root".into(),
                    });
                };
                if tcomps == comps {
                    return Ok(());
                }
                let thost = self.host_path(&tcomps);
                let tfd = self.open_dir(tparent).map_err(|e| LayerError::Refused {
                    entry: shown.clone(),
                    reason: format!("hard link target {:?} is not in the layer: {e}", target),
                })?;
                // The target must exist before we remove anything.
                fstatat(&tfd, tname.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW).map_err(|e| {
                    LayerError::Refused {
                        entry: shown.clone(),
                        reason: format!("hard link target {:?} is not in the layer: {e}", target),
                    }
                })?;
                self.remove_existing(&pfd, name, false, &host)?;
                linkat(&tfd, tname.as_os_str(), &pfd, name, AtFlags::empty()).map_err(|e| {
                    LayerError::io(
                        "creating hard link",
                        &host,
                        io::Error::other(format!("to {}: {e}", thost.display())),
                    )
                })?;
            }
            T::Char | T::Block if self.in_userns => {
                // The kernel refuses device nodes in a user namespace: skipped, as
                // containers/storage skips them there (pkg/archive's createTarFile).
                tracing::debug!(entry = %shown, "cannot create a device node in a user namespace: skipped");
            }
            T::Char | T::Block | T::Fifo => {
                let sflag = match kind {
                    T::Char => SFlag::S_IFCHR,
                    T::Block => SFlag::S_IFBLK,
                    _ => SFlag::S_IFIFO,
                };
                // A fifo has no device numbers (writers often leave the fields empty).
                let (major, minor) = if kind == T::Fifo {
                    (0, 0)
                } else {
                    (
                        header.device_major().map_err(broken)?.unwrap_or(0),
                        header.device_minor().map_err(broken)?.unwrap_or(0),
                    )
                };
                self.remove_existing(&pfd, name, false, &host)?;
                mknodat(
                    &pfd,
                    name,
                    sflag,
                    Mode::from_bits_truncate(0o600),
                    libc::makedev(major, minor),
                )
                .map_err(|e| LayerError::io("creating device node", &host, e))?;
                self.chown_at(&pfd, name, &meta, &host)?;
                fchmodat(
                    &pfd,
                    name,
                    Mode::from_bits_truncate(meta.mode),
                    FchmodatFlags::NoFollowSymlink,
                )
                .map_err(|e| LayerError::io("setting mode of", &host, e))?;
                for (xname, value) in &meta.xattrs {
                    if let Err(e) = lsetxattr_at(&pfd, name, xname, value) {
                        tracing::warn!(path = %host.display(), xattr = %xname, error = %e, "cannot set xattr");
                    }
                }
                let t = TimeSpec::new(meta.mtime, 0);
                utimensat(&pfd, name, &t, &t, UtimensatFlags::NoFollowSymlink)
                    .map_err(|e| LayerError::io("setting times of", &host, e))?;
            }
            other => {
                tracing::warn!(entry = %shown, kind = ?other, "skipping tar entry of unsupported type");
            }
        }
        Ok(())
    }
}
