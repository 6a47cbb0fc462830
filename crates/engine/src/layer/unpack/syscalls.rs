//! Helpers of the unpacker: tar names cleaned lexically into components, xattrs set on an
//! fd or at a name without following it, numeric header fields.

#[allow(unused_imports)]
use super::*;

/// Lexically cleans a tar name into normal components: `.` dropped, `..` pops (never above
/// the root), leading `/` ignored.
pub(super) fn clean(path: &Path) -> Vec<OsString> {
    let mut out = Vec::new();
    push_clean(&mut out, path);
    out
}

pub(super) fn push_clean(out: &mut Vec<OsString>, path: &Path) {
    for c in path.components() {
        match c {
            Component::Normal(s) => out.push(s.to_os_string()),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
}

pub(super) fn join(comps: &[OsString]) -> PathBuf {
    if comps.is_empty() {
        return PathBuf::from(".");
    }
    comps.iter().collect()
}

/// Xattr names we copy from a tar (see the module docs for why). fuse-overlayfs' own
/// (`user.fuseoverlayfs.*`: opaque dirs, origins; `user.containers.*`: its stored owners
/// and modes) are overlay markings too, kept from a tar so it cannot fake them.
pub(in crate::layer) fn xattr_allowed(name: &str) -> bool {
    (name.starts_with("user.")
        && !name.starts_with("user.overlay.")
        && !name.starts_with("user.fuseoverlayfs.")
        && !name.starts_with("user.containers."))
        || name == "security.capability"
        || name == "system.posix_acl_access"
        || name == "system.posix_acl_default"
}

pub(super) fn fsetxattr(fd: &impl AsFd, name: &str, value: &[u8]) -> Result<(), Errno> {
    let cname = CString::new(name).map_err(|_| Errno::EINVAL)?;
    // SAFETY: `fd` is a live descriptor, `cname` is NUL-terminated, and `value` points to
    // `value.len()` readable bytes for the duration of the call.
    let r = unsafe {
        libc::fsetxattr(
            fd.as_fd().as_raw_fd(),
            cname.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    Errno::result(r).map(drop)
}

/// `lsetxattr` on `name` inside the directory `dir` (through `/proc/self/fd`, whose magic
/// link pins the directory we resolved; the last component is not followed).
pub(super) fn lsetxattr_at(
    dir: &impl AsFd,
    name: &OsStr,
    xname: &str,
    value: &[u8],
) -> Result<(), Errno> {
    let mut p = format!("/proc/self/fd/{}/", dir.as_fd().as_raw_fd()).into_bytes();
    p.extend_from_slice(name.as_bytes());
    let cpath = CString::new(p).map_err(|_| Errno::EINVAL)?;
    let cname = CString::new(xname).map_err(|_| Errno::EINVAL)?;
    // SAFETY: both strings are NUL-terminated and live; `value` points to `value.len()`
    // readable bytes for the duration of the call.
    let r = unsafe {
        libc::lsetxattr(
            cpath.as_ptr(),
            cname.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    Errno::result(r).map(drop)
}

/// A numeric header field; an empty one (all NULs or spaces, as some writers leave
/// fields they do not use) counts as 0.
pub(super) fn numeric(parsed: io::Result<u64>, raw: &[u8]) -> io::Result<u64> {
    match parsed {
        Err(_) if raw.iter().all(|b| *b == 0 || *b == b' ') => Ok(0),
        r => r,
    }
}
