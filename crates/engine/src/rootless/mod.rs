//! Rootless mode: an ordinary user runs containers inside a user namespace of its own, the
//! way Podman's `pkg/rootless` does it.
//!
//! One long-lived `peapod-pause --userns` per user ([`pause`]) holds a user namespace
//! mapped from `/etc/subuid` and `/etc/subgid` ([`subid`], written by [`idmap`]) and a mount
//! namespace in which every overlay of the user is mounted. Every rootless command joins
//! both at its start, before the store is opened ([`enter`], [`join`]); inside, the user
//! is uid 0 and the kernel shifts every other id through the mapping (a layer file owned by
//! 1000 lands on disk as the range's 1000, 100999 with a range starting at 100000).
//! Processes started from there (the monitor, the runtime, the exit command) inherit the
//! namespaces and [`USERNS_ENV`], which tells a nested `peapod` it is inside already.
//!
//! Departures from Podman: a change of the user's ranges is noticed at the start of every
//! command (the live mapping is compared with the files) and applied by restarting the
//! pause process when nothing of the user runs in the namespace, so there is no `system
//! migrate`; a helper that fails says what to fix in one line. When the pause process was
//! killed while containers run, the namespaces are found again through a monitor of the
//! same runtime dir and a new pause process holds them (Podman joins its conmons too).
//!
//! State lives under the user's home and runtime dir ([`default_root`],
//! [`default_runroot`]); nothing of a rootless user is written under `/var/lib/peapod` or
//! `/run/peapod`.

mod idmap;
mod join;
mod pause;
pub mod subid;
mod unshare;

use std::path::{Path, PathBuf};

pub use subid::IdMap;

use crate::error::Result;

/// Set (to `done`) in the environment of everything that runs inside the namespaces.
pub const USERNS_ENV: &str = "_PEAPOD_USERNS_CONFIGURED";
/// The user's real uid and gid, for processes inside (where they are 0).
pub const UID_ENV: &str = "_PEAPOD_ROOTLESS_UID";
pub const GID_ENV: &str = "_PEAPOD_ROOTLESS_GID";

/// What went wrong setting up or entering a user's namespaces.
#[derive(Debug, thiserror::Error)]
pub enum RootlessError {
    #[error("cannot set up the user namespace of {user}: {problem}")]
    Mapping { user: String, problem: String },
    #[error(
        "cannot create a user namespace: {0}: unprivileged user namespaces may be disabled on this host (sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone)"
    )]
    Unshare(std::io::Error),
    #[error("the pause process that holds the user namespace: {0}")]
    Pause(String),
    #[error("cannot enter the user namespace: {0}")]
    Join(String),
    #[error("{0}")]
    Dirs(String),
    #[error("please use unshare with rootless")]
    NotRootless,
}

/// The user a rootless command runs for.
#[derive(Debug, Clone)]
pub struct RootlessUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: Option<PathBuf>,
}

impl RootlessUser {
    /// This process's user: its real ids outside the namespace, the recorded ones inside.
    pub fn current() -> RootlessUser {
        let uid = rootless_uid();
        let gid = env_id(GID_ENV).unwrap_or_else(|| nix::unistd::getgid().as_raw());
        let pw = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
            .ok()
            .flatten();
        RootlessUser {
            name: pw
                .as_ref()
                .map(|p| p.name.clone())
                .unwrap_or_else(|| uid.to_string()),
            uid,
            gid,
            home: std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(PathBuf::from)
                .or_else(|| pw.map(|p| p.dir)),
        }
    }
}

fn env_id(key: &str) -> Option<u32> {
    std::env::var(key).ok()?.parse().ok()
}

/// True for a user without privileges: not root, or root only inside our namespace.
pub fn is_rootless() -> bool {
    !nix::unistd::geteuid().is_root()
        || (std::env::var_os(USERNS_ENV).is_some() && crate::layer::in_user_namespace())
}

/// The user's real uid (outside the namespace).
pub fn rootless_uid() -> u32 {
    if nix::unistd::geteuid().is_root() {
        env_id(UID_ENV).unwrap_or(0)
    } else {
        nix::unistd::getuid().as_raw()
    }
}

/// The uid and gid maps of the namespace this process is in, when rootless (`info`'s
/// `Host.IDMappings`).
pub fn id_mappings() -> Option<(Vec<IdMap>, Vec<IdMap>)> {
    if !is_rootless() {
        return None;
    }
    let read = |f: &str| std::fs::read_to_string(f).unwrap_or_default();
    Some((
        subid::parse_map(&read("/proc/self/uid_map")),
        subid::parse_map(&read("/proc/self/gid_map")),
    ))
}

/// For a rootless user, refuses a namespace file (`--network ns:PATH`) made outside its user
/// namespace, which the runtime could not join: root's, or another user's.
pub fn check_joinable(path: &Path, what: &str) -> Result<()> {
    if !is_rootless() {
        return Ok(());
    }
    match join::namespace_is_ours(path) {
        Ok(true) => Ok(()),
        Ok(false) => Err(crate::Error::invalid(format!(
            "{what} {} is not owned by the user's user namespace (root or another user made it): a rootless container can only join namespaces the same user made",
            path.display()
        ))),
        Err(e) => Err(crate::Error::invalid(format!(
            "{what} {}: {e}",
            path.display()
        ))),
    }
}

/// What a container's spec needs to know of the namespace, when rootless.
pub fn spec_facts() -> Option<crate::oci::spec::RootlessSpec> {
    let (_, gids) = id_mappings()?;
    Some(crate::oci::spec::RootlessSpec {
        tty_gid_mapped: gids
            .iter()
            .any(|m| m.container_id <= 5 && 5 - m.container_id < m.size),
    })
}

/// `$XDG_RUNTIME_DIR`, else Podman's fallbacks: `/run/user/UID` when it is the user's,
/// else `$TMPDIR/peapod-run-UID` (made 0700), which must then be the user's with mode 0700.
pub fn runtime_dir() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    let uid = rootless_uid();
    let owned = |p: &Path, exact: bool| {
        std::fs::metadata(p).is_ok_and(|m| {
            let mode = m.permissions().mode() & 0o777;
            m.is_dir()
                && m.uid() == nix::unistd::geteuid().as_raw()
                && if exact {
                    mode == 0o700
                } else {
                    mode & 0o700 == 0o700
                }
        })
    };
    let run_user = PathBuf::from(format!("/run/user/{uid}"));
    if owned(&run_user, false) {
        return Ok(run_user);
    }
    let tmp = std::env::temp_dir().join(format!("peapod-run-{uid}"));
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&tmp);
    if owned(&tmp, true) {
        return Ok(tmp);
    }
    Err(RootlessError::Dirs(format!(
        "XDG_RUNTIME_DIR is not set and {} is not a directory of uid {uid} with mode 0700: set XDG_RUNTIME_DIR to a directory of the user's",
        tmp.display()
    ))
    .into())
}

/// The store of a rootless user: `$XDG_DATA_HOME/peapod`, else `~/.local/share/peapod`.
pub fn default_root() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d).join("peapod"));
    }
    let user = RootlessUser::current();
    match user.home {
        Some(h) => Ok(h.join(".local/share/peapod")),
        None => Err(RootlessError::Dirs(format!(
            "neither HOME nor XDG_DATA_HOME is set and user {} has no home directory: set HOME",
            user.name
        ))
        .into()),
    }
}

/// The runtime state of a rootless user: `$XDG_RUNTIME_DIR/peapod`.
pub fn default_runroot() -> Result<PathBuf> {
    Ok(runtime_dir()?.join("peapod"))
}

/// Creates `dir` and its missing parents with mode 0700, as Podman makes a rootless
/// user's directories: the store holds environments and logs of the user's containers.
pub fn make_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| crate::Error::io("creating", dir, e))
}

/// Run first by every `peapod` command, before anything else opens a file: for a user
/// without privileges, joins (creating it if needed) the user's pause process and its
/// namespaces. Root, and a process already inside, go on as they are. `self_exe` locates
/// `peapod-pause` beside `peapod`.
///
/// Must run while the process is single-threaded.
pub fn enter(self_exe: Option<&Path>) -> Result<()> {
    if nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    let user = RootlessUser::current();
    let runtime = runtime_dir()?;
    let mut exports = vec![
        (UID_ENV, user.uid.to_string()),
        (GID_ENV, user.gid.to_string()),
    ];
    if std::env::var_os("XDG_RUNTIME_DIR").is_none_or(|d| d.is_empty()) {
        // Podman exports its fallback too: the runtime finds its state dir there.
        exports.push(("XDG_RUNTIME_DIR", runtime.display().to_string()));
    }
    let files = pause::PauseFiles {
        dir: runtime.join("peapod"),
    };
    make_private_dir(&files.dir)?;
    // Held until we are inside: nobody restarts the pause process under us meanwhile.
    let _lock = crate::state::lock::Lock::acquire(&files.dir, "pause.lock")?;
    let pause_bin = || crate::config::find_helper(self_exe, "peapod-pause");
    match namespaces(&files, &user, &runtime, &pause_bin)? {
        Holder::Pause(pid) => join::join(pid)?,
        Holder::Orphaned(monitor) => {
            // The namespaces of the user's running containers: join them and give them a
            // new holder.
            join::join(monitor)?;
            let pid = pause::spawn_holder(&pause_bin()?)?;
            files.write_pid(pid)?;
        }
    }
    exports.push((USERNS_ENV, "done".into()));
    join::export(&exports);
    Ok(())
}

/// Whose namespaces a command joins.
enum Holder {
    /// The user's pause process (found, or made now).
    Pause(i32),
    /// No pause process, but a monitor of the user's still runs in its old namespaces.
    Orphaned(i32),
}

/// Finds the user's pause process, checks its mapping against the files (making it again
/// when they changed and nothing runs in it), or makes one.
fn namespaces(
    files: &pause::PauseFiles,
    user: &RootlessUser,
    runtime: &Path,
    pause_bin: &dyn Fn() -> Result<PathBuf>,
) -> Result<Holder> {
    let wanted = Wanted::read(user);
    let pid = match files.live_pid(user.uid) {
        Some(pid) if wanted.matches(pid) => pid,
        Some(pid) if pause::in_use(pid) => {
            tracing::warn!(
                "the ranges of {} in /etc/subuid or /etc/subgid changed, but its containers still run in the user namespace made with the old ones: stop them, and the next peapod command applies the new ranges",
                user.name
            );
            pid
        }
        Some(pid) => {
            tracing::warn!(
                "the ranges of {} in /etc/subuid or /etc/subgid changed: making the user namespace again with the new ones",
                user.name
            );
            pause::stop(pid);
            start(files, user, &wanted, &pause_bin()?)?
        }
        None => match pause::orphaned_monitor(user.uid, runtime) {
            Some(monitor) => return Ok(Holder::Orphaned(monitor)),
            None => start(files, user, &wanted, &pause_bin()?)?,
        },
    };
    Ok(Holder::Pause(pid))
}

/// The mapping the files give the user now.
struct Wanted {
    uids: Vec<IdMap>,
    gids: Vec<IdMap>,
    /// Why the single mapping is used, when it is.
    missing: Option<String>,
}

impl Wanted {
    fn read(user: &RootlessUser) -> Wanted {
        let read = |f: &str| std::fs::read_to_string(f).unwrap_or_default();
        let uranges = subid::ranges_for(&read("/etc/subuid"), &user.name, user.uid);
        let granges = subid::ranges_for(&read("/etc/subgid"), &user.name, user.uid);
        let missing = if uranges.is_empty() {
            Some(format!(
                "no subuid ranges found for user \"{}\" in /etc/subuid",
                user.name
            ))
        } else if granges.is_empty() {
            Some(format!(
                "no subgid ranges found for user \"{}\" in /etc/subgid",
                user.name
            ))
        } else {
            None
        };
        // As Podman: a missing range of either kind means the single mapping for both.
        let (uranges, granges) = if missing.is_some() {
            (Vec::new(), Vec::new())
        } else {
            (uranges, granges)
        };
        Wanted {
            uids: subid::mapping(user.uid, &uranges),
            gids: subid::mapping(user.gid, &granges),
            missing,
        }
    }

    /// Whether the namespace of `pid` is mapped as the files say now.
    fn matches(&self, pid: i32) -> bool {
        pause::live_maps(pid).is_some_and(|(u, g)| u == self.uids && g == self.gids)
    }
}

/// Makes the user's namespaces: a new pause process, mapped, recorded.
fn start(
    files: &pause::PauseFiles,
    user: &RootlessUser,
    wanted: &Wanted,
    pause_bin: &Path,
) -> Result<i32> {
    if let Some(why) = &wanted.missing {
        // Podman's two messages, at the moment the namespace is made.
        tracing::error!(
            "cannot find UID/GID for user {}: {why} - check rootless mode in man pages.",
            user.name
        );
        tracing::warn!(
            "Using rootless single mapping into the namespace. This might break some images. Check /etc/subuid and /etc/subgid for adding sub*ids if not using a network user"
        );
    }
    let pid = pause::spawn_userns(pause_bin, user, &wanted.uids, &wanted.gids)?;
    if let Err(e) = files.write_pid(pid) {
        pause::stop(pid);
        return Err(e);
    }
    Ok(pid)
}
