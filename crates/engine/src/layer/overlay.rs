//! The overlay rootfs of a container: mount, unmount, mountpoint check.
//!
//! With few layers the options fit in one page and we call mount(2). When they do not (the
//! kernel silently truncates nothing: mount(2) copies at most one page of options, so a
//! longer string would lose layers), we use the new mount API instead: `fsopen("overlay")`
//! and one `fsconfig("lowerdir+", path)` per layer (Linux 6.8+), which has no total limit.
//! If that is unavailable the mount fails with an error saying so; it never mounts a
//! truncated layer list.
//!
//! In a user namespace (rootless) the overlay is the kernel's own (unprivileged overlay,
//! Linux 5.11+), mounted with `userxattr`: it then reads opaque dirs from `user.overlay.*`,
//! which the unpacker writes there (`trusted.*` is out of reach in a user namespace).
#![allow(unsafe_code)]

use std::ffi::CString;
use std::fs;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags, mount, umount2};

use super::LayerError;

/// Largest option string mount(2) accepts: one page, NUL included.
const MOUNT_DATA_MAX: usize = 4095;

/// Mounts an overlay on `target`: `lowers` top-most first (may be empty: an empty
/// directory named `empty` beside `work` is then used as the lower), `upper` and `work` on
/// the same filesystem. `mount_label` is an SELinux context for `context=`.
pub fn mount_overlay(
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
    target: &Path,
    mount_label: Option<&str>,
) -> Result<(), LayerError> {
    mount_overlay_opts(lowers, upper, work, target, mount_label, false)
}

/// [`mount_overlay`] with overlay's `volatile` option: the overlay never syncs its upper
/// filesystem (not at `syncfs`, nor at unmount, where a sync of the whole upper filesystem
/// costs tens of milliseconds on a busy disk, hundreds under load). What the container
/// wrote may be lost to a crash of the machine, so it is for containers that go when they
/// stop (`run --rm`), as Podman mounts them (c/storage's `Volatile` for `--rm`). The
/// kernel leaves `work/work/incompat/volatile` behind and refuses to mount over it again;
/// like c/storage, it is removed first, so a restarted `--rm` container mounts.
pub fn mount_overlay_volatile(
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
    target: &Path,
) -> Result<(), LayerError> {
    clear_volatile_marker(work)?;
    mount_overlay_opts(lowers, upper, work, target, None, true)
}

/// Removes the `volatile` marker a volatile overlay left in `work` (the kernel refuses to
/// mount over it again; c/storage removes it before any mount too).
pub(super) fn clear_volatile_marker(work: &Path) -> Result<(), LayerError> {
    let marker = work.join("work/incompat/volatile");
    match fs::remove_dir_all(&marker) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(LayerError::io("removing", &marker, e)),
    }
}

/// The lower dirs of a read-write overlay — an empty directory beside `work` stands for
/// none — with every path, upper and work included, checked for mount options.
pub(super) fn checked_rw_lowers(
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
) -> Result<Vec<PathBuf>, LayerError> {
    let lowers = if lowers.is_empty() {
        let parent = work.parent().ok_or(LayerError::BadMountPath {
            path: work.to_path_buf(),
            reason: "the work directory has no parent for the empty lower directory",
        })?;
        let empty = parent.join("empty");
        fs::create_dir_all(&empty).map_err(|e| LayerError::io("creating", &empty, e))?;
        vec![empty]
    } else {
        lowers.to_vec()
    };
    for p in lowers.iter().map(PathBuf::as_path).chain([upper, work]) {
        check_path(p)?;
    }
    Ok(lowers)
}

fn mount_overlay_opts(
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
    target: &Path,
    mount_label: Option<&str>,
    volatile: bool,
) -> Result<(), LayerError> {
    let lowers = &checked_rw_lowers(lowers, upper, work)?;
    if let Some(label) = mount_label
        && label.contains(['"', '\n', '\0'])
    {
        return Err(LayerError::Mount {
            target: target.to_path_buf(),
            detail: format!("invalid mount label {label:?}"),
        });
    }
    let mut data = mount_data(lowers, upper, work, mount_label);
    if volatile {
        data.push_str(",volatile");
    }
    if data.len() <= MOUNT_DATA_MAX {
        return mount(
            Some("overlay"),
            target,
            Some("overlay"),
            MsFlags::empty(),
            Some(data.as_str()),
        )
        .map_err(|e| LayerError::Mount {
            target: target.to_path_buf(),
            detail: format!("{e} (options {data:?})"),
        });
    }
    mount_new_api(lowers, (upper, work), target, mount_label, volatile)
}

/// Mounts a read-only overlay of `lowers` (top-most first) on `target`: no upper dir, so
/// nothing can be written through it. With a single layer, `empty` (an empty directory,
/// made if missing) is stacked under it, as overlay wants two lowers without an upper.
pub fn mount_overlay_ro(lowers: &[PathBuf], empty: &Path, target: &Path) -> Result<(), LayerError> {
    let mut lowers = lowers.to_vec();
    if lowers.len() < 2 {
        fs::create_dir_all(empty).map_err(|e| LayerError::io("creating", empty, e))?;
        lowers.push(empty.to_path_buf());
    }
    let mut data = String::from("lowerdir=");
    for (i, p) in lowers.iter().enumerate() {
        check_path(p)?;
        if i > 0 {
            data.push(':');
        }
        data.push_str(&p.to_string_lossy());
    }
    if data.len() > MOUNT_DATA_MAX {
        return Err(LayerError::Mount {
            target: target.to_path_buf(),
            detail: format!(
                "too many layers for a read-only mount ({} bytes of options)",
                data.len()
            ),
        });
    }
    mount(
        Some("overlay"),
        target,
        Some("overlay"),
        MsFlags::MS_RDONLY,
        Some(data.as_str()),
    )
    .map_err(|e| LayerError::Mount {
        target: target.to_path_buf(),
        detail: format!("{e} (options {data:?})"),
    })
}

pub(crate) fn check_path(p: &Path) -> Result<(), LayerError> {
    let bytes = p.as_os_str().as_bytes();
    let bad = |reason| {
        Err(LayerError::BadMountPath {
            path: p.to_path_buf(),
            reason,
        })
    };
    if !p.is_absolute() {
        return bad("not an absolute path");
    }
    if bytes
        .iter()
        .any(|b| matches!(b, b',' | b':' | b'\\' | b'\n' | 0))
    {
        return bad("contains one of , : \\ newline or NUL");
    }
    Ok(())
}

fn mount_data(lowers: &[PathBuf], upper: &Path, work: &Path, label: Option<&str>) -> String {
    let mut data = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower_list(lowers),
        upper.to_string_lossy(),
        work.to_string_lossy()
    );
    if let Some(label) = label {
        data.push_str(&format!(",context=\"{label}\""));
    }
    if super::in_user_namespace() {
        data.push_str(",userxattr");
    }
    data
}

/// Overlay's `lowerdir` value: the layers top-most first, `:` between them.
pub(crate) fn lower_list(lowers: &[PathBuf]) -> String {
    lowers
        .iter()
        .map(|p| p.to_string_lossy())
        .collect::<Vec<_>>()
        .join(":")
}

// The new mount API's constants (linux/mount.h); libc exposes the syscall numbers only.
const FSOPEN_CLOEXEC: libc::c_uint = 1;
const FSCONFIG_SET_FLAG: libc::c_uint = 0;
const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 4;

fn mount_new_api(
    lowers: &[PathBuf],
    (upper, work): (&Path, &Path),
    target: &Path,
    label: Option<&str>,
    volatile: bool,
) -> Result<(), LayerError> {
    let fail = |what: String| LayerError::Mount {
        target: target.to_path_buf(),
        detail: what,
    };
    let fstype = c"overlay";
    // SAFETY: `fstype` is a NUL-terminated string; the syscall returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), FSOPEN_CLOEXEC) };
    let fd = Errno::result(fd).map_err(|e| fail(format!("fsopen(overlay): {e}")))?;
    // SAFETY: fsopen returned a fresh descriptor that nothing else owns.
    let fs_fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };

    let set = |key: &str, value: &[u8]| -> Result<(), LayerError> {
        let ckey = CString::new(key).map_err(|_| fail(format!("bad key {key:?}")))?;
        let cval = CString::new(value).map_err(|_| fail(format!("NUL in value for {key}")))?;
        // SAFETY: `fs_fd` is a live fs-context fd; key and value are NUL-terminated.
        let r = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fs_fd.as_raw_fd(),
                FSCONFIG_SET_STRING,
                ckey.as_ptr(),
                cval.as_ptr(),
                0,
            )
        };
        Errno::result(r).map(drop).map_err(|e| {
            fail(format!(
                "fsconfig {key}={}: {e}{}",
                String::from_utf8_lossy(value),
                kernel_messages(&fs_fd)
            ))
        })
    };
    // `lowerdir+` appends one layer (bottom-most last, like the `:` list order).
    for l in lowers {
        let b = l.as_os_str().as_bytes();
        if b.len() >= 256 {
            return Err(LayerError::BadMountPath {
                path: l.clone(),
                reason: "longer than 255 bytes (the fsconfig limit)",
            });
        }
        set("lowerdir+", b).map_err(|e| match e {
            LayerError::Mount { target, detail } => LayerError::Mount {
                target,
                detail: format!("too many layers for mount(2) and the kernel refuses lowerdir+ (needs Linux 6.8): {detail}"),
            },
            e => e,
        })?;
    }
    set("upperdir", upper.as_os_str().as_bytes())?;
    set("workdir", work.as_os_str().as_bytes())?;
    // A flag: FSCONFIG_SET_FLAG with no value.
    let set_flag = |key: &std::ffi::CStr| -> Result<(), LayerError> {
        // SAFETY: `fs_fd` is a live fs-context fd; the key is NUL-terminated and the value
        // NULL, as FSCONFIG_SET_FLAG requires.
        let r = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fs_fd.as_raw_fd(),
                FSCONFIG_SET_FLAG,
                key.as_ptr(),
                std::ptr::null::<libc::c_void>(),
                0,
            )
        };
        Errno::result(r).map(drop).map_err(|e| {
            fail(format!(
                "fsconfig {}: {e}{}",
                key.to_string_lossy(),
                kernel_messages(&fs_fd)
            ))
        })
    };
    if super::in_user_namespace() {
        set_flag(c"userxattr")?;
    }
    if volatile {
        set_flag(c"volatile")?;
    }
    if let Some(label) = label {
        set("context", label.as_bytes())?;
    }
    // SAFETY: `fs_fd` is a live fs-context fd; key and value are NULL as CMD_CREATE requires.
    let r = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs_fd.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    };
    Errno::result(r).map_err(|e| {
        fail(format!(
            "creating the overlay: {e}{}",
            kernel_messages(&fs_fd)
        ))
    })?;
    // SAFETY: `fs_fd` is a configured fs-context fd; returns a new mount fd or -1.
    let m = unsafe { libc::syscall(libc::SYS_fsmount, fs_fd.as_raw_fd(), FSMOUNT_CLOEXEC, 0) };
    let m = Errno::result(m).map_err(|e| fail(format!("fsmount: {e}")))?;
    // SAFETY: fsmount returned a fresh descriptor that nothing else owns.
    let mnt_fd = unsafe { OwnedFd::from_raw_fd(m as i32) };
    let ctarget = CString::new(target.as_os_str().as_bytes())
        .map_err(|_| fail("NUL in target path".into()))?;
    // SAFETY: `mnt_fd` is a live mount fd; "" and `ctarget` are NUL-terminated.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            mnt_fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            ctarget.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    Errno::result(r)
        .map(drop)
        .map_err(|e| fail(format!("move_mount: {e}")))
}

/// The messages the kernel queued on an fs-context fd (e.g. "overlayfs: failed to ...").
fn kernel_messages(fs_fd: &OwnedFd) -> String {
    let Ok(dup) = fs_fd.try_clone() else {
        return String::new();
    };
    let mut f = fs::File::from(dup);
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    // Each read returns one message; ENODATA when none is left.
    for _ in 0..16 {
        match f.read(&mut buf) {
            Ok(n) if n > 0 => out.push(String::from_utf8_lossy(&buf[..n]).trim().to_string()),
            _ => break,
        }
    }
    if out.is_empty() {
        String::new()
    } else {
        format!(" ({})", out.join("; "))
    }
}

/// Bind-mounts the directory `source` on `target` (`run --rootfs DIR`).
pub fn bind_mount(source: &Path, target: &Path) -> Result<(), LayerError> {
    mount(
        Some(source),
        target,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| LayerError::io("bind-mounting", source, e))
}

/// Unmounts `target`; falls back to a lazy unmount when busy. Not mounted (or missing) is Ok.
pub fn unmount(target: &Path) -> Result<(), LayerError> {
    match umount2(target, MntFlags::empty()) {
        Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => Ok(()),
        Err(Errno::EBUSY) => {
            umount2(target, MntFlags::MNT_DETACH).map_err(|e| LayerError::Unmount {
                target: target.to_path_buf(),
                source: e.into(),
            })
        }
        Err(e) => Err(LayerError::Unmount {
            target: target.to_path_buf(),
            source: e.into(),
        }),
    }
}

/// Whether `path` is a mount point of this mount namespace (per /proc/self/mountinfo).
pub fn is_mountpoint(path: &Path) -> bool {
    let Ok(path) = fs::canonicalize(path) else {
        return false;
    };
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = path.as_os_str().as_bytes();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|mp| unescape_mountinfo(mp) == want)
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
pub(crate) fn unescape_mountinfo(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_unescape() {
        assert_eq!(unescape_mountinfo(r"/a\040b"), b"/a b");
        assert_eq!(unescape_mountinfo(r"/a\134"), b"/a\\");
        assert_eq!(unescape_mountinfo("/plain"), b"/plain");
    }

    #[test]
    fn options_reject_separators() {
        assert!(check_path(Path::new("/a:b")).is_err());
        assert!(check_path(Path::new("/a,b")).is_err());
        assert!(check_path(Path::new("rel")).is_err());
        assert!(check_path(Path::new("/ok/path")).is_ok());
    }
}
