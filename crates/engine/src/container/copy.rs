//! `cp`: files between the host and containers (and between containers), with Docker's
//! and Podman's rules for what lands where, and tar streams in and out (`cp - CTR:DIR`,
//! `cp CTR:PATH -`; the API's archive endpoints use the same two halves).
//!
//! A container's files are read and written as its processes see them: a running
//! container through `/proc/PID/root` (its mount namespace: volumes, binds and tmpfs
//! included), a stopped one through its mounted rootfs, with a path below a volume or bind
//! destination taken to that mount's source. Every path inside a container is resolved with
//! `openat2(RESOLVE_IN_ROOT)`, so a symlink in the container (`/tmp/x -> /etc/shadow`, or a
//! host path planted by the image) is followed inside the container, never on the host.
//! Nothing is created by path: each entry is made with `*at` calls on a directory fd.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, OpenHow, ResolveFlag, openat, openat2, readlinkat};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat, fstatat, mkdirat};
use nix::unistd::{Gid, Uid, fchownat};

use super::{Container, Status};
use crate::Engine;
use crate::error::{Error, Result};
use crate::volume::spec::MountKind;

/// One side of a copy, as the user named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyEnd {
    /// A host path (relative: to the caller's working directory).
    Host(PathBuf),
    /// `CONTAINER:PATH` (relative: to the container's working directory).
    Container { container: String, path: String },
    /// `-`: a tar stream on stdin (source) or stdout (destination).
    Stream,
}

impl CopyEnd {
    /// Podman's reading of a `cp` argument: `-` is a stream; `NAME:PATH` names a container
    /// unless it starts with `.` or `/` (a host path may then hold a `:`).
    pub fn parse(arg: &str) -> CopyEnd {
        if arg == "-" {
            return CopyEnd::Stream;
        }
        if !arg.starts_with(['.', '/'])
            && let Some((c, p)) = arg.split_once(':')
        {
            return CopyEnd::Container {
                container: c.to_string(),
                path: p.to_string(),
            };
        }
        CopyEnd::Host(PathBuf::from(arg))
    }
}

/// `cp` options.
#[derive(Debug, Clone, Copy, Default)]
pub struct CopyOptions {
    /// `-a` (default): files copied into a container belong to its user; false keeps the
    /// owners of the source (or of the tar).
    pub archive: bool,
    /// `--overwrite`: a directory may replace a file and the reverse.
    pub overwrite: bool,
}

/// A tree to copy from or into.
struct Root {
    /// The directory everything is resolved in (the container's `/`, or the host's).
    fd: OwnedFd,
    /// Resolve inside `fd` (a container), or as the host does.
    contained: bool,
    /// Relative paths start here (the container's working directory).
    workdir: String,
    /// `on the host`, `on container NAME`.
    place: String,
    /// The owner files copied in get with `-a`, if any.
    owner: Option<(u32, u32)>,
    /// Mounts of a stopped container: destination → source directory on the host.
    mounts: Vec<(String, PathBuf)>,
    /// A rootfs mounted for this copy: unmounted when the copy ends.
    unmount: Option<String>,
}

/// What a resolved path is.
enum Found {
    /// It exists: its open fd (following symlinks) and stat.
    Exists(OwnedFd, FileStat),
    /// It does not: the directory it would be made in, and its name there.
    New(OwnedFd, OsString),
}

fn errno_io(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

fn is_dir(st: &FileStat) -> bool {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR
}

fn is_reg(st: &FileStat) -> bool {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFREG
}

/// `/a/b/../c/` → ["a", "c"] (lexical; `..` stops at the root).
fn components(path: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c.to_string()),
        }
    }
    out
}

impl Root {
    fn host() -> Result<Root> {
        let fd = open_dir_path(Path::new("/"))?;
        let workdir = std::env::current_dir()
            .map_err(|e| Error::io("reading the working directory", ".", e))?
            .to_string_lossy()
            .into_owned();
        Ok(Root {
            fd,
            contained: false,
            workdir,
            place: "on the host".into(),
            owner: None,
            mounts: Vec::new(),
            unmount: None,
        })
    }

    /// The absolute form of `path` (as the user wrote it), for resolving and messages.
    fn absolute(&self, path: &str) -> String {
        if path.starts_with('/') {
            path.to_string()
        } else {
            format!("{}/{path}", self.workdir.trim_end_matches('/'))
        }
    }

    /// The directory `comps` lie in and the rest of the path: for a stopped container, the
    /// source of the deepest mount whose destination holds the path.
    fn base(&self, comps: &[String]) -> Result<(OwnedFd, Vec<String>)> {
        let joined = format!("/{}", comps.join("/"));
        let best = self
            .mounts
            .iter()
            .filter(|(dest, _)| {
                joined == *dest || joined.starts_with(&format!("{}/", dest.trim_end_matches('/')))
            })
            .max_by_key(|(dest, _)| dest.len());
        match best {
            Some((dest, src)) => {
                let skip = components(dest).len();
                Ok((open_dir_path(src)?, comps[skip..].to_vec()))
            }
            None => Ok((self.fd.try_clone().map_err(from_io)?, comps.to_vec())),
        }
    }

    fn resolve_flags(&self) -> ResolveFlag {
        if self.contained {
            ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS
        } else {
            ResolveFlag::empty()
        }
    }

    /// Open `rel` below `dir`, following symlinks (inside the container for a container).
    fn open(&self, dir: &OwnedFd, rel: &[String]) -> std::result::Result<OwnedFd, Errno> {
        let path = if rel.is_empty() {
            ".".to_string()
        } else {
            rel.join("/")
        };
        let how = OpenHow::new()
            .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
            .resolve(self.resolve_flags());
        openat2(dir, path.as_str(), how)
    }

    /// Find `path`: what exists there, or where it would be made (a dangling symlink at the
    /// end leads to its target, as Podman's copier follows it).
    fn find(&self, path: &str) -> Result<Option<Found>> {
        let mut abs = self.absolute(path);
        for _ in 0..40 {
            let comps = components(&abs);
            let (base, rel) = self.base(&comps)?;
            match self.open(&base, &rel) {
                Ok(fd) => {
                    let st = fstat(&fd).map_err(|e| from_io(errno_io(e)))?;
                    return Ok(Some(Found::Exists(fd, st)));
                }
                Err(Errno::ENOENT) => {}
                Err(e) => return Err(from_io(errno_io(e))),
            }
            let Some((name, parent)) = rel.split_last() else {
                return Ok(None);
            };
            let Ok(dir) = self.open(&base, parent) else {
                return Ok(None);
            };
            match readlinkat(&dir, name.as_str()) {
                // A dangling symlink: go where it points.
                Ok(target) => {
                    let target = target.to_string_lossy().into_owned();
                    abs = if target.starts_with('/') {
                        target
                    } else {
                        let parent_abs = comps[..comps.len() - 1].join("/");
                        format!("/{parent_abs}/{target}")
                    };
                }
                Err(_) => {
                    let st = fstat(&dir).map_err(|e| from_io(errno_io(e)))?;
                    if !is_dir(&st) {
                        return Ok(None);
                    }
                    let dir = reopen_dir(&dir)?;
                    return Ok(Some(Found::New(dir, OsString::from(name))));
                }
            }
        }
        Err(Error::invalid(format!(
            "{path}: too many levels of symbolic links"
        )))
    }
}

fn from_io(e: io::Error) -> Error {
    Error::Other(e.to_string())
}

fn open_dir_path(p: &Path) -> Result<OwnedFd> {
    File::open(p)
        .map(OwnedFd::from)
        .map_err(|e| Error::io("opening", p, e))
}

/// An `O_PATH` fd as a real directory fd (for `*at` calls that create).
fn reopen_dir(fd: &OwnedFd) -> Result<OwnedFd> {
    openat(
        fd,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| from_io(errno_io(e)))
}

fn reopen_file(fd: &OwnedFd) -> Result<File> {
    let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
    File::open(&path).map_err(|e| Error::io("opening", path, e))
}

impl Engine {
    /// The tree of a container, for `cp`.
    fn copy_root(&self, reference: &str) -> Result<Root> {
        let c = self.container(reference)?;
        let place = format!("on container {reference}");
        let owner = self.copy_owner(&c);
        if c.state.status == Status::Running && c.state.pid > 0 {
            let fd = open_dir_path(Path::new(&format!("/proc/{}/root", c.state.pid)))?;
            return Ok(Root {
                fd,
                contained: true,
                workdir: c.config.workdir.clone(),
                place,
                owner,
                mounts: Vec::new(),
                unmount: None,
            });
        }
        let rootfs = self.mount_container(c.id())?;
        let fd = open_dir_path(&rootfs);
        let fd = match fd {
            Ok(fd) => fd,
            Err(e) => {
                let _ = self.unmount_container(c.id(), false);
                return Err(e);
            }
        };
        let mounts = c
            .config
            .mounts
            .iter()
            .filter_map(|m| match m.kind {
                MountKind::Bind => Some((m.destination.clone(), PathBuf::from(&m.source))),
                MountKind::Volume | MountKind::Anonymous if !m.source.is_empty() => {
                    Some((m.destination.clone(), self.paths.volume_data(&m.source)))
                }
                // tmpfs: written into the rootfs, which the tmpfs copies up at start.
                _ => None,
            })
            .collect();
        Ok(Root {
            fd,
            contained: true,
            workdir: c.config.workdir.clone(),
            place,
            owner,
            mounts,
            unmount: Some(c.id().to_string()),
        })
    }

    /// The container's user, as files copied in get it with `-a`.
    fn copy_owner(&self, c: &Container) -> Option<(u32, u32)> {
        let spec = c.config.user.as_str();
        let (u, g) = spec.split_once(':').unwrap_or((spec, ""));
        let uid = if u.is_empty() {
            Some(0)
        } else {
            u.parse().ok()
        };
        match (uid, g.parse::<u32>().ok()) {
            (Some(uid), Some(gid)) => Some((uid, gid)),
            (Some(uid), None) if g.is_empty() => Some((uid, if uid == 0 { 0 } else { uid })),
            _ => {
                let root = self.paths.rootfs(c.id());
                let passwd = super::user::read_in_root(&root, "/etc/passwd").unwrap_or_default();
                let group = super::user::read_in_root(&root, "/etc/group").unwrap_or_default();
                super::user::resolve(spec, &passwd, &group)
                    .ok()
                    .map(|r| (r.uid, r.gid))
            }
        }
    }

    fn release_root(&self, root: &Root) {
        if let Some(id) = &root.unmount
            && let Err(e) = self.unmount_container(id, false)
        {
            tracing::warn!(id, error = %e, "unmounting after cp");
        }
    }

    /// `cp SRC DEST`: `stdin` is read for `-` as the source, `stdout` written for `-` as
    /// the destination.
    pub fn copy(
        &self,
        src: &CopyEnd,
        dest: &CopyEnd,
        opts: &CopyOptions,
        stdin: &mut dyn Read,
        stdout: &mut dyn Write,
    ) -> Result<()> {
        match (src, dest) {
            (CopyEnd::Container { .. }, CopyEnd::Container { .. })
            | (CopyEnd::Container { .. }, CopyEnd::Host(_))
            | (CopyEnd::Host(_), CopyEnd::Container { .. })
            | (CopyEnd::Container { .. }, CopyEnd::Stream)
            | (CopyEnd::Stream, CopyEnd::Container { .. }) => {}
            _ => {
                return Err(Error::invalid(
                    "copying from host to host is not supported: one of the paths must name a container (CONTAINER:PATH)",
                ));
            }
        }
        let src_root = self.end_root(src)?;
        let dest_root = match self.end_root(dest) {
            Ok(r) => r,
            Err(e) => {
                if let Some(r) = &src_root {
                    self.release_root(r);
                }
                return Err(e);
            }
        };
        let result = match (src, dest) {
            (CopyEnd::Stream, _) => {
                let d = dest_root.as_ref().expect("a container");
                put_stream(d, end_path(dest), opts, stdin)
            }
            (_, CopyEnd::Stream) => {
                let s = src_root.as_ref().expect("a container");
                get_stream(s, end_path(src), stdout)
            }
            _ => copy_tree(
                src_root.as_ref().expect("a side"),
                end_path(src),
                dest_root.as_ref().expect("a side"),
                end_path(dest),
                opts,
            ),
        };
        for r in [&src_root, &dest_root].into_iter().flatten() {
            self.release_root(r);
        }
        result
    }

    /// `export CTR`: the container's filesystem (its rootfs, without volumes and binds) as
    /// a tar stream.
    pub fn export_container(&self, reference: &str, out: &mut dyn Write) -> Result<()> {
        let c = self.container(reference)?;
        let rootfs = self.mount_container(c.id())?;
        let result = open_dir_path(&rootfs).and_then(|fd| {
            let root = Root {
                fd,
                contained: true,
                workdir: "/".into(),
                place: format!("on container {reference}"),
                owner: None,
                mounts: Vec::new(),
                unmount: None,
            };
            get_stream(&root, "/", out)
        });
        if let Err(e) = self.unmount_container(c.id(), false) {
            tracing::warn!(id = c.id(), error = %e, "unmounting after export");
        }
        result
    }

    fn end_root(&self, end: &CopyEnd) -> Result<Option<Root>> {
        Ok(match end {
            CopyEnd::Host(_) => Some(Root::host()?),
            CopyEnd::Container { container, .. } => Some(self.copy_root(container)?),
            CopyEnd::Stream => None,
        })
    }
}

fn end_path(end: &CopyEnd) -> &str {
    match end {
        CopyEnd::Host(p) => p.to_str().unwrap_or(""),
        CopyEnd::Container { path, .. } => path,
        CopyEnd::Stream => "",
    }
}

fn not_found(path: &str, root: &Root) -> Error {
    if root.contained {
        Error::invalid(format!(
            "{path:?} could not be found {}: no such file or directory",
            root.place
        ))
    } else {
        Error::invalid(format!("{path:?} could not be found {}", root.place))
    }
}

/// The source's name as it is copied (`/tmp/x` → `x`; `/` or `dir/.` → its contents).
fn source_name(path: &str) -> Option<String> {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() || trimmed.ends_with("/.") || trimmed == "." {
        return None;
    }
    components(trimmed).last().cloned()
}

/// Copy `src_path` of `src` to `dest_path` of `dest` by Docker's rules.
fn copy_tree(
    src: &Root,
    src_path: &str,
    dest: &Root,
    dest_path: &str,
    opts: &CopyOptions,
) -> Result<()> {
    let Some(Found::Exists(sfd, sst)) = src.find(src_path)? else {
        return Err(not_found(src_path, src));
    };
    let contents_only = source_name(src_path).is_none() && is_dir(&sst);
    let name = source_name(src_path).unwrap_or_default();
    let owner = if opts.archive { dest.owner } else { None };
    let shown = |dir: &str, n: &str| -> String {
        if dest.contained {
            format!("{}/{n}", dest.absolute(dir).trim_end_matches('/'))
        } else {
            format!("/{n}")
        }
    };
    match dest.find(dest_path)? {
        None => Err(not_found(dest_path, dest)),
        Some(Found::New(dir, new_name)) => {
            if dest_path.ends_with('/') {
                return Err(not_found(dest_path, dest));
            }
            let w = Writer {
                owner,
                overwrite: opts.overwrite,
            };
            let label = shown(
                Path::new(&dest.absolute(dest_path))
                    .parent()
                    .and_then(|p| p.to_str())
                    .unwrap_or("/"),
                &new_name.to_string_lossy(),
            );
            if is_dir(&sst) {
                w.make_dir(&dir, &new_name, &sst, &label)?;
                let into = open_child_dir(&dir, &new_name)?;
                w.copy_children(&sfd, &into, &label)
            } else {
                w.copy_entry(&sfd, &sst, &dir, &new_name, &label)
            }
        }
        Some(Found::Exists(dfd, dst)) => {
            let w = Writer {
                owner,
                overwrite: opts.overwrite,
            };
            if !is_dir(&dst) {
                if is_dir(&sst) {
                    return Err(Error::invalid(
                        "destination must be a directory when copying a directory",
                    ));
                }
                if !is_reg(&dst) {
                    return Err(Error::invalid(format!(
                        "invalid destination: {dest_path:?} must be a directory or a regular file"
                    )));
                }
                // Overwrite the file where it is.
                let abs = dest.absolute(dest_path);
                let comps = components(&abs);
                let (base, rel) = dest.base(&comps)?;
                let (fname, parent) = rel
                    .split_last()
                    .ok_or_else(|| Error::invalid(format!("invalid destination {dest_path:?}")))?;
                let pdir =
                    reopen_dir(&dest.open(&base, parent).map_err(|e| from_io(errno_io(e)))?)?;
                let label = shown(
                    Path::new(&abs)
                        .parent()
                        .and_then(|p| p.to_str())
                        .unwrap_or("/"),
                    fname,
                );
                return Writer {
                    overwrite: true,
                    ..w
                }
                .copy_entry(&sfd, &sst, &pdir, OsStr::new(fname), &label);
            }
            let into = reopen_dir(&dfd)?;
            let base_label = if dest.contained {
                dest.absolute(dest_path)
            } else {
                String::new()
            };
            if contents_only {
                return w.copy_children(&sfd, &into, base_label.trim_end_matches('/'));
            }
            let label = format!("{}/{name}", base_label.trim_end_matches('/'));
            if is_dir(&sst) {
                w.make_dir(&into, OsStr::new(&name), &sst, &label)?;
                let sub = open_child_dir(&into, OsStr::new(&name))?;
                w.copy_children(&sfd, &sub, &label)
            } else {
                w.copy_entry(&sfd, &sst, &into, OsStr::new(&name), &label)
            }
        }
    }
}

fn open_child_dir(dir: &OwnedFd, name: &OsStr) -> Result<OwnedFd> {
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
struct Writer {
    owner: Option<(u32, u32)>,
    overwrite: bool,
}

fn exists_error(label: &str, e: Errno) -> Error {
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
    fn chown(&self, dir: &OwnedFd, name: &OsStr, st: Option<&FileStat>) -> Result<()> {
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
    fn clear(&self, dir: &OwnedFd, name: &OsStr, want_dir: bool, label: &str) -> Result<bool> {
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

    fn make_dir(&self, dir: &OwnedFd, name: &OsStr, st: &FileStat, label: &str) -> Result<()> {
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

    fn copy_children(&self, src: &OwnedFd, dest: &OwnedFd, label: &str) -> Result<()> {
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
    fn copy_entry(
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

/// `cp - CTR:DIR`: a (compressed) tar into an existing directory.
fn put_stream(
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
fn get_stream(src: &Root, src_path: &str, out: &mut dyn Write) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments() {
        assert_eq!(CopyEnd::parse("-"), CopyEnd::Stream);
        assert_eq!(
            CopyEnd::parse("web:/tmp/x"),
            CopyEnd::Container {
                container: "web".into(),
                path: "/tmp/x".into()
            }
        );
        assert_eq!(CopyEnd::parse("./a:b"), CopyEnd::Host("./a:b".into()));
        assert_eq!(CopyEnd::parse("/x"), CopyEnd::Host("/x".into()));
    }

    #[test]
    fn names() {
        assert_eq!(source_name("/tmp/x"), Some("x".into()));
        assert_eq!(source_name("/tmp/x/"), Some("x".into()));
        assert_eq!(source_name("/tmp/."), None);
        assert_eq!(source_name("/"), None);
        assert_eq!(source_name("sub/f"), Some("f".into()));
        assert_eq!(components("/a/./b/../c//"), ["a", "c"]);
        assert_eq!(components("../../x"), ["x"]);
    }
}
