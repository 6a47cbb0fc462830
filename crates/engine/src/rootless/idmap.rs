//! Writing the id mappings of a new user namespace, from outside it.
//!
//! With subordinate ranges, through the setuid helpers `newuidmap`/`newgidmap` (Debian's
//! `uidmap`), found on `$PATH` as Podman finds them. Without ranges, the single mapping an
//! unprivileged process may write itself: its own uid and gid as 0 (setgroups denied
//! first, as the kernel requires for gid_map).
//!
//! A helper that fails is reported in one line that says what to fix: not installed, not
//! setuid (nor with a file capability), a range that contains the user's own id, or the
//! helper's own message with the file to check.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};

use super::subid::IdMap;
use super::{RootlessError, RootlessUser};

/// Which of the two maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Uid,
    Gid,
}

impl Kind {
    fn tool(self) -> &'static str {
        match self {
            Kind::Uid => "newuidmap",
            Kind::Gid => "newgidmap",
        }
    }
    fn file(self) -> &'static str {
        match self {
            Kind::Uid => "/etc/subuid",
            Kind::Gid => "/etc/subgid",
        }
    }
    fn proc_file(self) -> &'static str {
        match self {
            Kind::Uid => "uid_map",
            Kind::Gid => "gid_map",
        }
    }
    fn what(self) -> &'static str {
        match self {
            Kind::Uid => "UID",
            Kind::Gid => "GID",
        }
    }
}

/// Writes `uids` and `gids` for the namespace of process `pid`: through the helpers when
/// they hold more than the user's own id, else directly.
pub(super) fn write(
    pid: i32,
    user: &RootlessUser,
    uids: &[IdMap],
    gids: &[IdMap],
) -> Result<(), RootlessError> {
    if uids.len() > 1 || gids.len() > 1 {
        run_tool(Kind::Uid, pid, user, uids)?;
        run_tool(Kind::Gid, pid, user, gids)
    } else {
        write_single(pid, user)
    }
}

/// `newuidmap PID 0 UID 1 1 START COUNT …` (or newgidmap).
fn run_tool(kind: Kind, pid: i32, user: &RootlessUser, map: &[IdMap]) -> Result<(), RootlessError> {
    let own = match kind {
        Kind::Uid => user.uid,
        Kind::Gid => user.gid,
    };
    let fail = |problem: String| RootlessError::Mapping {
        user: user.name.clone(),
        problem,
    };
    for m in map.iter().skip(1) {
        if own >= m.host_id && u64::from(own) < u64::from(m.host_id) + u64::from(m.size) {
            return Err(fail(format!(
                "the range {}:{} of {} in {} includes the user's own {} {own}: give {} a range that does not contain it",
                m.host_id,
                m.size,
                user.name,
                kind.file(),
                kind.what(),
                user.name
            )));
        }
    }
    let tool = crate::config::which(kind.tool()).ok_or_else(|| {
        fail(format!(
            "{} was not found in $PATH, and the ranges of {} in {} need it: install it (Debian and Ubuntu: apt-get install uidmap)",
            kind.tool(),
            user.name,
            kind.file()
        ))
    })?;
    let mut args = vec![pid.to_string()];
    for m in map {
        args.extend([
            m.container_id.to_string(),
            m.host_id.to_string(),
            m.size.to_string(),
        ]);
    }
    let out = Command::new(&tool)
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| fail(format!("running {}: {e}", tool.display())))?;
    if out.status.success() {
        return Ok(());
    }
    if !grants_setid(&tool) {
        return Err(fail(format!(
            "{} is not setuid root and has no file capability, so it cannot write the mapping: use a setuid-root {} (Debian and Ubuntu: apt-get install --reinstall uidmap, which installs /usr/bin/{})",
            tool.display(),
            kind.tool(),
            kind.tool()
        )));
    }
    let said = String::from_utf8_lossy(&out.stderr);
    let said = said.split_whitespace().collect::<Vec<_>>().join(" ");
    Err(fail(format!(
        "{} {} failed ({}): {}: check the ranges of {} in {}",
        tool.display(),
        args.join(" "),
        out.status,
        if said.is_empty() { "no message" } else { &said },
        user.name,
        kind.file()
    )))
}

/// The single mapping: `0 UID 1` and, with setgroups denied, `0 GID 1`.
fn write_single(pid: i32, user: &RootlessUser) -> Result<(), RootlessError> {
    let proc = Path::new("/proc").join(pid.to_string());
    let write = |file: &str, text: String| {
        std::fs::write(proc.join(file), text).map_err(|e| RootlessError::Mapping {
            user: user.name.clone(),
            problem: format!("writing {}: {e}", proc.join(file).display()),
        })
    };
    write(Kind::Uid.proc_file(), format!("0 {} 1\n", user.uid))?;
    write("setgroups", "deny\n".into())?;
    write(Kind::Gid.proc_file(), format!("0 {} 1\n", user.gid))
}

/// Whether the helper can do its job: setuid root (Debian ships both helpers so), or a
/// file capability (`security.capability`, as other distributions ship them).
fn grants_setid(tool: &Path) -> bool {
    let setuid_root =
        std::fs::metadata(tool).is_ok_and(|m| m.uid() == 0 && m.mode() & libc::S_ISUID != 0);
    setuid_root || has_file_capability(tool)
}

fn has_file_capability(path: &Path) -> bool {
    let Ok(cpath) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: both strings are NUL-terminated and live; a null buffer with size 0 asks
    // only for the value's length, so nothing is written.
    let n = unsafe {
        libc::getxattr(
            cpath.as_ptr(),
            c"security.capability".as_ptr(),
            std::ptr::null_mut(),
            0,
        )
    };
    n > 0
}
