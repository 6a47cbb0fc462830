//! COPY and ADD into a step's rootfs, safely: sources are resolved inside their root (the
//! build context, another stage's or an image's rootfs) and refused when they leave it;
//! every write into the destination goes through directory fds opened with
//! `openat2(RESOLVE_IN_ROOT)` and `O_NOFOLLOW`, so a symlink in the image can never send a
//! file outside the rootfs.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, OpenHow, ResolveFlag, openat, openat2};
use nix::sys::stat::{
    FchmodatFlags, Mode, SFlag, UtimensatFlags, fchmod, fchmodat, mkdirat, mknodat, utimensat,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, UnlinkatFlags, fchown, fchownat, symlinkat, unlinkat};

use crate::build::ignore::{Matcher, walk};
use crate::build::{go_clean, go_match};
use crate::error::{Error, Result};

/// Where sources are read from.
pub struct SourceRoot<'a> {
    pub root: &'a Path,
    /// The build context's ignore rules (none for a stage or image).
    pub matcher: &'a Matcher,
    /// Copies from the context are owned by root unless `--chown`; copies from a stage or
    /// image keep their owners.
    pub is_context: bool,
}

/// One resolved source: a path relative to its root (`""` for all of it).
#[derive(Debug, Clone)]
pub struct Resolved {
    pub rel: String,
}

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// The sources `patterns` name below `src`, in order; globs expanded; an error for a path
/// outside the root or one that does not exist (or is excluded).
pub fn resolve_sources(src: &SourceRoot<'_>, patterns: &[String]) -> Result<Vec<Resolved>> {
    let mut out = Vec::new();
    for p in patterns {
        let cleaned = go_clean(&format!("/{p}"));
        let rel = cleaned.trim_start_matches('/').to_string();
        let raw = go_clean(p);
        if raw == ".." || raw.starts_with("../") {
            return Err(Error::invalid(format!(
                "COPY of {p:?}: forbidden path outside the build context"
            )));
        }
        if has_glob(&rel) {
            let all = walk(src.root, "", src.matcher)?;
            let mut found = false;
            for e in &all {
                if go_match(&rel, &e.rel).unwrap_or(false) {
                    check_inside(src.root, &e.rel, p)?;
                    out.push(Resolved { rel: e.rel.clone() });
                    found = true;
                }
            }
            if !found {
                return Err(Error::invalid(format!(
                    "COPY: no source files were specified: {p:?} matches nothing in the build context"
                )));
            }
            continue;
        }
        check_inside(src.root, &rel, p)?;
        let path = src.root.join(&rel);
        if std::fs::symlink_metadata(&path).is_err()
            || (!rel.is_empty()
                && src.matcher.matches(&rel)
                && walk(src.root, &rel, src.matcher)?.is_empty())
        {
            return Err(Error::invalid(format!(
                "COPY of {p:?}: no such file or directory in the build context (or excluded by the ignore file)"
            )));
        }
        out.push(Resolved { rel });
    }
    Ok(out)
}

/// Refuses a source whose directories lead out of `root` through a symlink.
fn check_inside(root: &Path, rel: &str, written: &str) -> Result<()> {
    if rel.is_empty() {
        return Ok(());
    }
    let real_root = root
        .canonicalize()
        .map_err(|e| Error::io("resolving", root, e))?;
    let path = root.join(rel);
    let parent = path.parent().unwrap_or(root);
    let Ok(real_parent) = parent.canonicalize() else {
        return Ok(()); // missing: reported by the caller
    };
    let mut real = real_parent;
    if let Some(name) = path.file_name() {
        real.push(name);
    }
    if let Ok(meta) = std::fs::symlink_metadata(&real)
        && meta.file_type().is_symlink()
    {
        // The source itself is a symlink: where it points must stay inside too.
        if let Ok(target) = real.canonicalize()
            && !target.starts_with(&real_root)
        {
            return Err(outside(written));
        }
    }
    if !real.starts_with(&real_root) {
        return Err(outside(written));
    }
    Ok(())
}

fn outside(written: &str) -> Error {
    Error::invalid(format!(
        "COPY of {written:?}: forbidden path outside the build context (a symlink leads out of it)"
    ))
}

/// How copied entries are owned and moded.
#[derive(Debug, Clone, Copy, Default)]
pub struct Attrs {
    pub chown: Option<(u32, u32)>,
    pub chmod: Option<u32>,
}

/// The destination root of a copy (a mounted rootfs).
pub struct DestRoot {
    root: File,
}

fn errno(what: &str, path: &str, e: Errno) -> Error {
    Error::other(format!("{what} {path:?} in the image: {e}"))
}

impl DestRoot {
    pub fn open(path: &Path) -> Result<DestRoot> {
        let root = File::open(path).map_err(|e| Error::io("opening", path, e))?;
        Ok(DestRoot { root })
    }

    /// Opens `path` (inside the root) as a directory; `None` when missing.
    fn open_dir(&self, path: &str) -> Result<Option<OwnedFd>> {
        let rel = path.trim_start_matches('/');
        let rel = if rel.is_empty() { "." } else { rel };
        let how = OpenHow::new()
            .flags(OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        match openat2(&self.root, rel, how) {
            Ok(fd) => Ok(Some(fd)),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(errno("opening", path, e)),
        }
    }

    /// Is `path` an existing directory (symlinks resolved inside the root)?
    pub fn is_dir(&self, path: &str) -> bool {
        matches!(self.open_dir(path), Ok(Some(_)))
    }

    /// Opens the directory `path`, creating what is missing (0755, owned by `owner` or
    /// root).
    pub fn make_dir(&self, path: &str, owner: Option<(u32, u32)>) -> Result<OwnedFd> {
        let clean = go_clean(&format!("/{path}"));
        if let Some(fd) = self.open_dir(&clean)? {
            return Ok(fd);
        }
        let mut cur = self
            .open_dir("/")?
            .ok_or_else(|| Error::other("the rootfs went away"))?;
        let mut so_far = String::new();
        for comp in clean.split('/').filter(|c| !c.is_empty()) {
            so_far.push('/');
            so_far.push_str(comp);
            if let Some(fd) = self.open_dir(&so_far)? {
                cur = fd;
                continue;
            }
            match mkdirat(&cur, comp, Mode::from_bits_truncate(0o755)) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(errno("creating", &so_far, e)),
            }
            let (uid, gid) = owner.unwrap_or((0, 0));
            fchownat(
                &cur,
                comp,
                Some(Uid::from_raw(uid)),
                Some(Gid::from_raw(gid)),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .map_err(|e| errno("chown", &so_far, e))?;
            cur = self.open_dir(&so_far)?.ok_or_else(|| {
                Error::other(format!("{so_far:?} is not a directory in the image"))
            })?;
        }
        Ok(cur)
    }
}

/// Copies the entry `src` (on the host, never followed if a symlink) to `name` in `dir`.
fn copy_entry(
    dir: &OwnedFd,
    name: &str,
    src: &Path,
    meta: &std::fs::Metadata,
    attrs: &Attrs,
    keep_owner: bool,
) -> Result<Option<OwnedFd>> {
    let (uid, gid) = attrs.chown.unwrap_or(if keep_owner {
        (meta.uid(), meta.gid())
    } else {
        (0, 0)
    });
    let mode = attrs.chmod.unwrap_or(meta.mode() & 0o7777);
    let ft = meta.file_type();
    let show = src.display().to_string();
    if ft.is_dir() {
        match openat(
            dir,
            name,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => {
                set_owner_mode(&fd, uid, gid, mode, &show)?;
                return Ok(Some(fd));
            }
            Err(Errno::ENOENT) => {}
            Err(_) => remove(dir, name)?,
        }
        mkdirat(dir, name, Mode::from_bits_truncate(0o700))
            .map_err(|e| errno("creating", name, e))?;
        let fd = openat(
            dir,
            name,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| errno("opening", name, e))?;
        set_owner_mode(&fd, uid, gid, mode, &show)?;
        return Ok(Some(fd));
    }
    if ft.is_file() {
        let mut input = File::open(src).map_err(|e| Error::io("opening", src, e))?;
        let flags = OFlag::O_WRONLY
            | OFlag::O_CREAT
            | OFlag::O_TRUNC
            | OFlag::O_NOFOLLOW
            | OFlag::O_CLOEXEC;
        let fd = match openat(dir, name, flags, Mode::from_bits_truncate(0o600)) {
            Ok(fd) => fd,
            Err(Errno::ELOOP | Errno::EISDIR | Errno::ENXIO | Errno::ETXTBSY) => {
                remove(dir, name)?;
                openat(dir, name, flags, Mode::from_bits_truncate(0o600))
                    .map_err(|e| errno("creating", name, e))?
            }
            Err(e) => return Err(errno("creating", name, e)),
        };
        let mut out = File::from(fd);
        std::io::copy(&mut input, &mut out).map_err(|e| Error::io("copying", src, e))?;
        set_owner_mode(
            &out.as_fd()
                .try_clone_to_owned()
                .map_err(|e| Error::io("copying", src, e))?,
            uid,
            gid,
            mode,
            &show,
        )?;
        let times = [
            TimeSpec::new(meta.atime(), meta.atime_nsec()),
            TimeSpec::new(meta.mtime(), meta.mtime_nsec()),
        ];
        nix::sys::stat::futimens(&out, &times[0], &times[1])
            .map_err(|e| errno("setting times of", name, e))?;
        return Ok(None);
    }
    let _ = remove(dir, name);
    if ft.is_symlink() {
        let target = std::fs::read_link(src).map_err(|e| Error::io("reading link", src, e))?;
        symlinkat(target.as_path(), dir, name).map_err(|e| errno("creating", name, e))?;
    } else {
        use std::os::unix::fs::FileTypeExt;
        let kind = if ft.is_fifo() {
            SFlag::S_IFIFO
        } else if ft.is_char_device() {
            SFlag::S_IFCHR
        } else if ft.is_block_device() {
            SFlag::S_IFBLK
        } else {
            return Ok(None); // a socket: nothing to copy
        };
        mknodat(dir, name, kind, Mode::from_bits_truncate(mode), meta.rdev())
            .map_err(|e| errno("creating", name, e))?;
        fchmodat(
            dir,
            name,
            Mode::from_bits_truncate(mode),
            FchmodatFlags::FollowSymlink,
        )
        .map_err(|e| errno("chmod", name, e))?;
    }
    fchownat(
        dir,
        name,
        Some(Uid::from_raw(uid)),
        Some(Gid::from_raw(gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(|e| errno("chown", name, e))?;
    let times = [
        TimeSpec::new(meta.atime(), meta.atime_nsec()),
        TimeSpec::new(meta.mtime(), meta.mtime_nsec()),
    ];
    let _ = utimensat(
        dir,
        name,
        &times[0],
        &times[1],
        UtimensatFlags::NoFollowSymlink,
    );
    Ok(None)
}

fn set_owner_mode(fd: &OwnedFd, uid: u32, gid: u32, mode: u32, show: &str) -> Result<()> {
    fchown(fd, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
        .map_err(|e| errno("chown", show, e))?;
    fchmod(fd, Mode::from_bits_truncate(mode)).map_err(|e| errno("chmod", show, e))
}

fn remove(dir: &OwnedFd, name: &str) -> Result<()> {
    match unlinkat(dir, name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(Errno::EISDIR) => crate::layer::remove_all_at(dir, std::ffi::OsStr::new(name))
            .map_err(|e| errno("removing", name, e)),
        Err(e) => Err(errno("removing", name, e)),
    }
}

/// The absolute destination of a copy: `dest` as written (expanded) against the workdir.
pub fn absolute_dest(dest: &str, workdir: &str) -> (String, bool) {
    let wants_dir = dest.ends_with('/') || dest == "." || dest.ends_with("/.") || dest == "..";
    let joined = if dest.starts_with('/') {
        dest.to_string()
    } else {
        format!("{}/{dest}", if workdir.is_empty() { "/" } else { workdir })
    };
    (go_clean(&joined), wants_dir)
}

/// Copies each source into `dest` of `to`, Docker's rules: a directory's contents go into
/// the destination directory; a file goes to `dest/name` when the destination is a
/// directory (written with a trailing `/`, existing, or several sources), else to `dest`.
pub fn copy_sources(
    to: &DestRoot,
    src: &SourceRoot<'_>,
    sources: &[Resolved],
    dest: &str,
    wants_dir: bool,
    attrs: &Attrs,
) -> Result<()> {
    let dest_is_dir = wants_dir || sources.len() > 1 || to.is_dir(dest);
    for s in sources {
        let top = if s.rel.is_empty() {
            src.root.to_path_buf()
        } else {
            src.root.join(&s.rel)
        };
        let meta = std::fs::symlink_metadata(&top).map_err(|e| Error::io("reading", &top, e))?;
        if meta.is_dir() {
            let dir = to.make_dir(dest, attrs.chown)?;
            copy_tree(to, dest, dir, src, &s.rel, &top, attrs)?;
            continue;
        }
        let (parent, name) = if dest_is_dir {
            let name = top
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (dest.to_string(), name)
        } else {
            let p = Path::new(dest);
            (
                p.parent().map_or("/".into(), |p| p.display().to_string()),
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            )
        };
        let dir = to.make_dir(&parent, attrs.chown)?;
        copy_entry(&dir, &name, &top, &meta, attrs, !src.is_context)?;
    }
    Ok(())
}

/// The contents of the directory `rel` of `src` into the open directory `dir` (at `dest`).
fn copy_tree(
    to: &DestRoot,
    dest: &str,
    dir: OwnedFd,
    src: &SourceRoot<'_>,
    rel: &str,
    top: &Path,
    attrs: &Attrs,
) -> Result<()> {
    let keep_owner = !src.is_context;
    let top_meta = std::fs::symlink_metadata(top).map_err(|e| Error::io("reading", top, e))?;
    let (uid, gid) = attrs.chown.unwrap_or(if keep_owner {
        (top_meta.uid(), top_meta.gid())
    } else {
        (0, 0)
    });
    // The destination directory takes the source directory's mode and owner (as Docker).
    set_owner_mode(
        &dir,
        uid,
        gid,
        attrs
            .chmod
            .unwrap_or(top_meta.permissions().mode() & 0o7777),
        dest,
    )?;
    let entries = walk(src.root, rel, src.matcher)?;
    // Directory fds by path below the source, so each entry's parent is open already.
    let mut dirs: std::collections::HashMap<PathBuf, OwnedFd> = std::collections::HashMap::new();
    dirs.insert(PathBuf::new(), dir);
    // Files with several links: the first copy of each, so the others become links to it.
    let mut linked: std::collections::HashMap<(u64, u64), (PathBuf, String)> =
        std::collections::HashMap::new();
    for e in entries.iter().filter(|e| e.path != top) {
        let below = e.path.strip_prefix(top).unwrap_or(&e.path).to_path_buf();
        let parent = below.parent().map(Path::to_path_buf).unwrap_or_default();
        let name = below
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(pfd) = dirs.get(&parent) else {
            continue; // under something that was not a directory
        };
        if e.meta.is_file() && e.meta.nlink() > 1 {
            let key = (e.meta.dev(), e.meta.ino());
            if let Some((first_dir, first_name)) = linked.get(&key)
                && let Some(ofd) = dirs.get(first_dir)
            {
                let _ = remove(pfd, &name);
                nix::unistd::linkat(
                    ofd,
                    first_name.as_str(),
                    pfd,
                    name.as_str(),
                    AtFlags::empty(),
                )
                .map_err(|err| errno("linking", &name, err))?;
                continue;
            }
            linked.insert(key, (parent.clone(), name.clone()));
        }
        if let Some(fd) = copy_entry(pfd, &name, &e.path, &e.meta, attrs, keep_owner)? {
            dirs.insert(below, fd);
        }
    }
    let _ = to;
    Ok(())
}

/// Writes an inline (heredoc) source as `dest` (or `dest/name`), mode 0644 unless chmod.
pub fn write_inline(
    to: &DestRoot,
    name: &str,
    data: &[u8],
    dest: &str,
    dest_is_dir: bool,
    attrs: &Attrs,
) -> Result<OwnedFd> {
    let (parent, file) = if dest_is_dir || to.is_dir(dest) {
        (dest.to_string(), name.to_string())
    } else {
        let p = Path::new(dest);
        (
            p.parent().map_or("/".into(), |p| p.display().to_string()),
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        )
    };
    let dir = to.make_dir(&parent, attrs.chown)?;
    let flags =
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_TRUNC | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = match openat(&dir, file.as_str(), flags, Mode::from_bits_truncate(0o600)) {
        Ok(fd) => fd,
        Err(_) => {
            remove(&dir, &file)?;
            openat(&dir, file.as_str(), flags, Mode::from_bits_truncate(0o600))
                .map_err(|e| errno("creating", &file, e))?
        }
    };
    let mut out = File::from(fd);
    std::io::Write::write_all(&mut out, data).map_err(|e| Error::io("writing", &file, e))?;
    let (uid, gid) = attrs.chown.unwrap_or((0, 0));
    let owned: OwnedFd = out.into();
    set_owner_mode(&owned, uid, gid, attrs.chmod.unwrap_or(0o644), &file)?;
    Ok(owned)
}

/// The uncompressed stream of a file ADD may unpack: gzip and zstd as the layer unpacker
/// reads them, and xz and bzip2, which Docker's ADD unpacks too (layers never use them).
fn archive_stream(path: &Path) -> std::io::Result<Box<dyn Read>> {
    let mut f = File::open(path)?;
    let mut magic = [0u8; 6];
    let n = read_full(&mut f, &mut magic)?;
    let f = File::open(path)?;
    if magic[..n].starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        return Ok(Box::new(liblzma::read::XzDecoder::new_multi_decoder(
            std::io::BufReader::new(f),
        )));
    }
    if magic[..n].starts_with(b"BZh") {
        return Ok(Box::new(bzip2::read::MultiBzDecoder::new(
            std::io::BufReader::new(f),
        )));
    }
    crate::layer::decompress(f).map_err(std::io::Error::other)
}

/// Reads until `buf` is full or the stream ends; the count read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Whether the file at `path` is a (possibly compressed) tar archive: ADD extracts those.
pub fn is_archive(path: &Path) -> bool {
    let Ok(mut r) = archive_stream(path) else {
        return false;
    };
    let mut block = [0u8; 512];
    // A ustar or GNU header has its magic at offset 257.
    matches!(read_full(&mut r, &mut block), Ok(512)) && &block[257..262] == b"ustar"
}

/// Extracts the archive `path` into the directory `dest` of the rootfs.
pub fn extract_archive(to: &DestRoot, path: &Path, dest: &str, attrs: &Attrs) -> Result<()> {
    let dir = to.make_dir(dest, attrs.chown)?;
    use std::os::fd::AsRawFd;
    let via = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
    let stream = archive_stream(path).map_err(|e| Error::io("opening", path, e))?;
    // The stream is a plain tar now: the unpacker sees no compression magic and reads it
    // as it is.
    crate::layer::unpack(stream, &via)?;
    Ok(())
}
