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
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat, openat2, readlinkat};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat};

use super::{Container, Status};
use crate::Engine;
use crate::error::{Error, Result};
use crate::volume::spec::MountKind;

mod archive;
mod write;

use archive::{get_stream, put_stream};
use write::{Writer, open_child_dir};

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

/// A path in a container, as [`Engine::container_path_stat`] finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathStat {
    /// The path's last component (`/` for the root).
    pub name: String,
    pub size: i64,
    /// `st_mode`: the file type and permission bits.
    pub mode: u32,
    pub mtime: i64,
    pub mtime_nsec: i64,
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

    /// What `path` is in container `reference`, resolved as `cp` resolves it (inside the
    /// container, a symlink at the end followed); `None` when nothing is there. The API's
    /// archive endpoints answer `HEAD` with it and check a destination before a `PUT`.
    pub fn container_path_stat(&self, reference: &str, path: &str) -> Result<Option<PathStat>> {
        let root = self.copy_root(reference)?;
        let found = root.find(path).map(|f| match f {
            Some(Found::Exists(_, st)) => Some(PathStat {
                name: source_name(path).unwrap_or_else(|| "/".into()),
                size: st.st_size,
                mode: st.st_mode,
                mtime: st.st_mtime,
                mtime_nsec: st.st_mtime_nsec,
            }),
            _ => None,
        });
        self.release_root(&root);
        found
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
