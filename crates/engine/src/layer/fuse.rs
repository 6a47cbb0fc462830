//! Overlays mounted by a mount program (containers-storage's `mount_program`, in practice
//! `fuse-overlayfs`) instead of the kernel, and the rootless fallback to it.
//!
//! The program is run as c/storage's overlay driver runs it: `PROGRAM -o
//! lowerdir=L1:L2,upperdir=U,workdir=W MERGED` (a read-only mount: `lowerdir=` alone), with
//! none of the kernel-only options (`userxattr`). It mounts a FUSE filesystem and leaves a
//! daemon serving it; unmounting it (`umount2`, which works for root and, in the user
//! namespace that mounted it, for a rootless user) ends the daemon.
//!
//! fuse-overlayfs reads the layers as peapod's unpacker writes them: whiteouts are 0:0
//! character devices, opaque directories carry `trusted.overlay.opaque` (root) or
//! `user.overlay.opaque` (rootless), both of which it reads (1.10+). What it writes into an
//! upper dir where it may not make those (a user namespace) — `.wh.NAME` files,
//! `user.fuseoverlayfs.opaque` and a `.wh..wh..opq` file — is read back by `diff`/`commit`
//! (see [`super::write_tree`]).
//!
//! The fallback (rootless, no program configured): when the kernel refuses an overlay in
//! the user namespace (Linux before 5.11) and `fuse-overlayfs` is on `PATH`, it is used,
//! and its path written to a record file in the store so later commands use it at once
//! (c/storage probes once and keeps the answer too); the native mount stays the default
//! everywhere it works, with no probe on the way.
#![allow(unsafe_code)]

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::LayerError;
use super::overlay::{check_path, checked_rw_lowers, clear_volatile_marker, lower_list};

/// The program the fallback looks for on `PATH`.
const FUSE_OVERLAYFS: &str = "fuse-overlayfs";

/// How overlays are mounted in a store: by the kernel, or by a mount program.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OverlayMounter {
    /// `mount_program`: every overlay is mounted by this program.
    pub program: Option<PathBuf>,
    /// Rootless without a program: where the fallback records the program it chose when
    /// the kernel refused (None: no fallback).
    pub fallback_record: Option<PathBuf>,
}

impl OverlayMounter {
    /// Mounts `lowers` (top-most first) under `upper` on `target`, as
    /// [`super::mount_overlay`] does.
    pub fn mount(
        &self,
        lowers: &[PathBuf],
        upper: &Path,
        work: &Path,
        target: &Path,
    ) -> Result<(), LayerError> {
        self.rw(lowers, upper, work, target, false)
    }

    /// [`OverlayMounter::mount`] for a container that goes when it stops (see
    /// [`super::mount_overlay_volatile`]); fuse-overlayfs takes `volatile` too (no fsync).
    pub fn mount_volatile(
        &self,
        lowers: &[PathBuf],
        upper: &Path,
        work: &Path,
        target: &Path,
    ) -> Result<(), LayerError> {
        self.rw(lowers, upper, work, target, true)
    }

    /// A read-only overlay of `lowers` on `target` (see [`super::mount_overlay_ro`]).
    pub fn mount_ro(
        &self,
        lowers: &[PathBuf],
        empty: &Path,
        target: &Path,
    ) -> Result<(), LayerError> {
        if let Some(p) = &self.program {
            return program_mount(p, &ro_data(lowers, empty)?, target);
        }
        self.or_fallback(super::mount_overlay_ro(lowers, empty, target), |p| {
            program_mount(p, &ro_data(lowers, empty)?, target)
        })
    }

    fn rw(
        &self,
        lowers: &[PathBuf],
        upper: &Path,
        work: &Path,
        target: &Path,
        volatile: bool,
    ) -> Result<(), LayerError> {
        let via_program = |p: &Path| {
            let data = rw_data(lowers, upper, work, volatile)?;
            program_mount(p, &data, target)
        };
        if let Some(p) = &self.program {
            return via_program(p);
        }
        let native = if volatile {
            super::mount_overlay_volatile(lowers, upper, work, target)
        } else {
            super::mount_overlay(lowers, upper, work, target, None)
        };
        self.or_fallback(native, via_program)
    }

    /// The kernel's answer, or when it refused in a user namespace and fuse-overlayfs is on
    /// `PATH`, a mount by that (recorded for the next commands). The kernel's error stands
    /// when there is no fuse-overlayfs or it fails too.
    fn or_fallback(
        &self,
        native: Result<(), LayerError>,
        by_program: impl Fn(&Path) -> Result<(), LayerError>,
    ) -> Result<(), LayerError> {
        let kernel_err = match native {
            Err(e @ LayerError::Mount { .. }) => e,
            other => return other,
        };
        let Some(record) = &self.fallback_record else {
            return Err(kernel_err);
        };
        if !super::in_user_namespace() {
            return Err(kernel_err);
        }
        let Some(program) = which(FUSE_OVERLAYFS) else {
            return Err(kernel_err);
        };
        tracing::debug!(
            "overlay: the kernel refused ({kernel_err}); using {}",
            program.display()
        );
        by_program(&program).map_err(|e| match e {
            LayerError::Mount { target, detail } => LayerError::Mount {
                target,
                detail: format!("{detail} (the kernel refused first: {kernel_err})"),
            },
            e => e,
        })?;
        if let Err(e) = fs::write(record, program.as_os_str().as_encoded_bytes()) {
            tracing::warn!("recording the mount program in {}: {e}", record.display());
        }
        Ok(())
    }
}

/// The program recorded by an earlier fallback in `record`, if it is still there.
pub fn recorded_program(record: &Path) -> Option<PathBuf> {
    let text = fs::read_to_string(record).ok()?;
    let p = PathBuf::from(text.trim());
    (p.is_absolute() && p.is_file()).then_some(p)
}

fn which(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")
        .unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// `lowerdir=…,upperdir=…,workdir=…[,volatile]`, as c/storage gives a mount program.
pub(crate) fn rw_data(
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
    volatile: bool,
) -> Result<String, LayerError> {
    // As the kernel path: an empty directory beside `work` stands for no layers.
    let lowers = &checked_rw_lowers(lowers, upper, work)?;
    if volatile {
        clear_volatile_marker(work)?;
    }
    let mut data = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower_list(lowers),
        upper.display(),
        work.display()
    );
    if volatile {
        data.push_str(",volatile");
    }
    Ok(data)
}

/// `lowerdir=…` alone: fuse-overlayfs without an upper dir is read-only.
pub(crate) fn ro_data(lowers: &[PathBuf], empty: &Path) -> Result<String, LayerError> {
    let mut lowers = lowers.to_vec();
    if lowers.is_empty() {
        fs::create_dir_all(empty).map_err(|e| LayerError::io("creating", empty, e))?;
        lowers.push(empty.to_path_buf());
    }
    for p in &lowers {
        check_path(p)?;
    }
    Ok(format!("lowerdir={}", lower_list(&lowers)))
}

/// Runs `program -o DATA TARGET` and waits for it (fuse-overlayfs returns once the
/// filesystem is mounted, its daemon left serving it). Its stderr is the error's detail,
/// in c/storage's words.
fn program_mount(program: &Path, data: &str, target: &Path) -> Result<(), LayerError> {
    let mut cmd = Command::new(program);
    cmd.arg("-o")
        .arg(data)
        .arg(target)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: runs in the forked child before exec; close_range is an async-signal-safe
    // syscall and touches no memory of the parent. The daemon outlives this process: it
    // must hold none of its descriptors (a lock file's would keep the lock forever).
    unsafe {
        cmd.pre_exec(|| {
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
            Ok(())
        });
    }
    tracing::debug!(program = %program.display(), mount_data = data, "overlay: mount program");
    let out = cmd.output().map_err(|e| LayerError::Mount {
        target: target.to_path_buf(),
        detail: format!("using mount program {}: {e}", program.display()),
    })?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stderr = match stderr.trim() {
        "" => "<stderr empty>",
        s => s,
    };
    Err(LayerError::Mount {
        target: target.to_path_buf(),
        detail: format!(
            "using mount program {}: {stderr}: {}",
            program.display(),
            out.status
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_as_c_storage_passes_them() {
        let t = tempfile::tempdir().unwrap();
        let (u, w) = (t.path().join("upper"), t.path().join("work"));
        let lowers = [PathBuf::from("/l/a"), PathBuf::from("/l/b")];
        assert_eq!(
            rw_data(&lowers, &u, &w, false).unwrap(),
            format!(
                "lowerdir=/l/a:/l/b,upperdir={},workdir={}",
                u.display(),
                w.display()
            )
        );
        assert!(
            rw_data(&lowers, &u, &w, true)
                .unwrap()
                .ends_with(",volatile")
        );
        // No layers: the empty directory beside the work dir, made.
        let d = rw_data(&[], &u, &w, false).unwrap();
        assert!(d.starts_with(&format!("lowerdir={}/empty,", t.path().display())));
        assert!(t.path().join("empty").is_dir());
        assert_eq!(
            ro_data(&lowers, Path::new("/e")).unwrap(),
            "lowerdir=/l/a:/l/b"
        );
        assert!(rw_data(&[PathBuf::from("/a,b")], &u, &w, false).is_err());
        assert!(ro_data(&[PathBuf::from("/a:b")], Path::new("/e")).is_err());
    }

    /// What fuse-overlayfs writes in a user namespace becomes the layer format, once.
    #[test]
    fn fuse_overlayfs_markings_in_a_layer_tarball() {
        let t = tempfile::tempdir().unwrap();
        let opq = t.path().join("etc/opq");
        fs::create_dir_all(&opq).unwrap();
        fs::write(t.path().join("etc/.wh.gone"), b"").unwrap();
        fs::write(opq.join(".wh..wh..opq"), b"").unwrap();
        fs::write(opq.join("new"), b"n").unwrap();
        let c = std::ffi::CString::new(opq.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: both strings are NUL-terminated and the value is 1 readable byte.
        let r = unsafe {
            libc::setxattr(
                c.as_ptr(),
                c"user.fuseoverlayfs.opaque".as_ptr(),
                b"y".as_ptr().cast(),
                1,
                0,
            )
        };
        assert_eq!(r, 0, "{}", std::io::Error::last_os_error());
        let mut out = Vec::new();
        super::super::write_tree(t.path(), true, &mut out).unwrap();
        let mut ar = tar::Archive::new(out.as_slice());
        let mut names = Vec::new();
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let xattrs: Vec<String> = e
                .pax_extensions()
                .unwrap()
                .into_iter()
                .flatten()
                .map(|x| x.unwrap().key().unwrap().to_string())
                .collect();
            assert!(xattrs.is_empty(), "{xattrs:?}");
            names.push(e.path().unwrap().display().to_string());
        }
        assert_eq!(
            names,
            [
                "etc/",
                "etc/.wh.gone",
                "etc/opq/",
                "etc/opq/.wh..wh..opq",
                "etc/opq/new"
            ]
        );
    }

    #[test]
    fn a_recorded_program_must_still_exist() {
        let t = tempfile::tempdir().unwrap();
        let rec = t.path().join("rec");
        assert_eq!(recorded_program(&rec), None);
        let prog = t.path().join("prog");
        fs::write(&prog, b"").unwrap();
        fs::write(&rec, format!("{}\n", prog.display())).unwrap();
        assert_eq!(recorded_program(&rec), Some(prog.clone()));
        fs::remove_file(&prog).unwrap();
        assert_eq!(recorded_program(&rec), None);
        fs::write(&rec, "relative").unwrap();
        assert_eq!(recorded_program(&rec), None);
    }

    #[test]
    fn a_failing_program_is_named_with_its_stderr() {
        let t = tempfile::tempdir().unwrap();
        let err = program_mount(Path::new("/bin/false"), "lowerdir=/x", t.path()).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("using mount program /bin/false: <stderr empty>: exit status: 1"),
            "{msg}"
        );
    }
}
