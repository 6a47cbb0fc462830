//! The rootless tests' harness: the test users, the binaries they can run, and one
//! test's rootless world ([`UserEnv`]). See `rootless.rs` for how they are used.
use std::ffi::OsString;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use super::util::{self, IMG, Output, PeapodCmd};

pub(crate) const USER: &str = "peapod-rl";
pub(crate) const USER_NORANGE: &str = "peapod-rl2";
pub(crate) const USER_CHANGE: &str = "peapod-rl3";
pub(crate) const PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";

/// A test user.
#[derive(Debug, Clone)]
pub(crate) struct TestUser {
    pub(crate) name: &'static str,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) home: PathBuf,
}

/// Runs a command as root; panics unless it succeeds; its stdout.
pub(crate) fn root_cmd(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// uid, gid and home of `name` in the passwd database.
pub(crate) fn lookup(name: &str) -> Option<(u32, u32, PathBuf)> {
    let out = Command::new("getent")
        .args(["passwd", name])
        .output()
        .ok()?;
    let line = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let f: Vec<&str> = line.split(':').collect();
    (f.len() >= 6)
        .then(|| (f[2].parse().ok(), f[3].parse().ok(), PathBuf::from(f[5])))
        .and_then(|(u, g, h)| Some((u?, g?, h)))
}

pub(crate) fn ensure_user(name: &'static str) -> TestUser {
    if lookup(name).is_none() {
        root_cmd(Command::new("useradd").args(["-m", "-s", "/bin/sh", name]));
    }
    let (uid, gid, home) = lookup(name).expect("the user just made");
    TestUser {
        name,
        uid,
        gid,
        home,
    }
}

/// The ranges `/etc/subuid`-style `file` gives `name`.
pub(crate) fn subids(file: &str, name: &str) -> Vec<(u32, u32)> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.trim().split(':').collect();
            (f.len() == 3 && f[0] == name)
                .then(|| Some((f[1].parse().ok()?, f[2].parse().ok()?)))?
        })
        .collect()
}

/// Serialises this process's edits of /etc/subuid and /etc/subgid.
pub(crate) static SUBID_EDIT: Mutex<()> = Mutex::new(());

/// Makes `range` the only one of `name` in both files (none with `None`), touching no other
/// line: written aside and renamed over, as an administrator's editor would.
pub(crate) fn set_subids(name: &str, range: Option<(u32, u32)>) {
    let _guard = SUBID_EDIT.lock().unwrap_or_else(|e| e.into_inner());
    for file in ["/etc/subuid", "/etc/subgid"] {
        let old = std::fs::read_to_string(file).unwrap_or_default();
        let mut text: String = old
            .lines()
            .filter(|l| l.split(':').next() != Some(name))
            .map(|l| format!("{l}\n"))
            .collect();
        if let Some((start, count)) = range {
            text.push_str(&format!("{name}:{start}:{count}\n"));
        }
        let tmp = format!("{file}.peapod-test");
        std::fs::write(&tmp, text).expect("write the subid file");
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::rename(&tmp, file).expect("replace the subid file");
    }
}

/// A start past every range of both files (at least 100000).
pub(crate) fn free_range_start() -> u32 {
    ["/etc/subuid", "/etc/subgid"]
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| {
                    let f: Vec<&str> = l.split(':').collect();
                    let (s, c): (u64, u64) = (f.get(1)?.parse().ok()?, f.get(2)?.parse().ok()?);
                    Some(s + c)
                })
                .collect::<Vec<_>>()
        })
        .max()
        .unwrap_or(0)
        .max(100_000) as u32
}

/// The users, made (and their ranges set) once per test process.
pub(crate) struct Users {
    pub(crate) rl: TestUser,
    /// Its range: start and count.
    pub(crate) rl_range: (u32, u32),
    pub(crate) norange: TestUser,
    pub(crate) change: TestUser,
}

pub(crate) fn users() -> &'static Users {
    static USERS: OnceLock<Users> = OnceLock::new();
    USERS.get_or_init(|| {
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open("/etc/subuid");
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open("/etc/subgid");
        let ranged = |name: &'static str| {
            let u = ensure_user(name);
            let (su, sg) = (subids("/etc/subuid", name), subids("/etc/subgid", name));
            if su.len() != 1 || su != sg || su[0].1 < 65536 {
                set_subids(name, Some((free_range_start(), 65536)));
            }
            u
        };
        let rl = ranged(USER);
        let change = ranged(USER_CHANGE);
        let norange = ensure_user(USER_NORANGE);
        if !subids("/etc/subuid", USER_NORANGE).is_empty()
            || !subids("/etc/subgid", USER_NORANGE).is_empty()
        {
            set_subids(USER_NORANGE, None);
        }
        Users {
            rl_range: subids("/etc/subuid", USER)[0],
            rl,
            norange,
            change,
        }
    })
}

/// Whether `user` can run `path`.
pub(crate) fn reachable(user: &str, path: &Path) -> bool {
    Command::new("runuser")
        .args(["-u", user, "--", "test", "-x"])
        .arg(path)
        .status()
        .is_ok_and(|s| s.success())
}

/// The install prefix the users run peapod from: the staged one, or a copy of it in
/// `/tmp/pp-rlbin-<pid>` (those of finished test processes are swept).
pub(crate) fn bin_prefix() -> &'static Path {
    static PREFIX: OnceLock<PathBuf> = OnceLock::new();
    PREFIX.get_or_init(|| {
        let staged = util::prefix();
        let parts = [
            "bin/peapod",
            "libexec/peapod/peapod-monitor",
            "libexec/peapod/peapod-pause",
        ];
        let u = users();
        if [u.rl.name, u.norange.name, u.change.name]
            .iter()
            .all(|n| parts.iter().all(|p| reachable(n, &staged.join(p))))
        {
            return staged;
        }
        for e in std::fs::read_dir("/tmp").into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name
                .strip_prefix("pp-rlbin-")
                .and_then(|p| p.parse::<i32>().ok())
                && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err()
            {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        let copy = PathBuf::from(format!("/tmp/pp-rlbin-{}", std::process::id()));
        for dir in ["bin", "libexec/peapod"] {
            std::fs::create_dir_all(copy.join(dir)).unwrap();
        }
        for p in ["bin", "libexec", "libexec/peapod"] {
            std::fs::set_permissions(copy.join(p), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
        for p in parts.iter().chain(&["libexec/peapod/peapod-netsetup"]) {
            std::fs::copy(staged.join(p), copy.join(p)).unwrap_or_else(|e| panic!("copy {p}: {e}"));
        }
        copy
    })
}

/// One test's rootless world: a user, a runtime dir, a store.
pub(crate) struct UserEnv {
    pub(crate) user: TestUser,
    pub(crate) dir: PathBuf,
    pub(crate) xdg: PathBuf,
    pub(crate) root: PathBuf,
    pub(crate) runroot: PathBuf,
}

impl UserEnv {
    pub(crate) fn new(user: &TestUser, name: &str) -> UserEnv {
        let short: String = name.chars().take(20).collect();
        let dir = tempfile::Builder::new()
            .prefix(&format!("pp-rl-{short}-"))
            .tempdir_in("/tmp")
            .expect("a temp dir")
            .keep();
        let xdg = dir.join("xdg");
        std::fs::create_dir(&xdg).unwrap();
        for (p, mode) in [(&dir, 0o755), (&xdg, 0o700)] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
            std::os::unix::fs::chown(p, Some(user.uid), Some(user.gid)).unwrap();
        }
        UserEnv {
            user: user.clone(),
            root: dir.join("root"),
            runroot: dir.join("runroot"),
            dir,
            xdg,
        }
    }

    /// `peapod ARGS` as the user, with `env` added to its environment; no --root/--runroot.
    pub(crate) fn bare_with(&self, env: &[(&str, String)], args: &[&str]) -> PeapodCmd {
        PeapodCmd::program("runuser", &self.runuser_argv(env, args))
    }

    /// `runuser`'s arguments for `peapod ARGS` as the user, with `env` added.
    pub(crate) fn runuser_argv(&self, env: &[(&str, String)], args: &[&str]) -> Vec<OsString> {
        let mut argv: Vec<OsString> = ["-u", self.user.name, "--", "env", "-i"]
            .iter()
            .map(OsString::from)
            .collect();
        let mut vars = vec![
            ("HOME", self.user.home.display().to_string()),
            ("USER", self.user.name.to_string()),
            ("LOGNAME", self.user.name.to_string()),
            ("PATH", PATH.to_string()),
            ("XDG_RUNTIME_DIR", self.xdg.display().to_string()),
        ];
        for (k, v) in env {
            vars.retain(|(vk, _)| vk != k);
            if !v.is_empty() {
                vars.push((k, v.clone()));
            }
        }
        argv.extend(vars.iter().map(|(k, v)| OsString::from(format!("{k}={v}"))));
        argv.push(bin_prefix().join("bin/peapod").into());
        argv.extend(args.iter().map(OsString::from));
        argv
    }

    /// `--root R --runroot RR ARGS`: this env's store.
    pub(crate) fn store_args<'a>(&'a self, args: &[&'a str]) -> Vec<String> {
        let mut all = vec![
            "--root".to_string(),
            self.root.display().to_string(),
            "--runroot".to_string(),
            self.runroot.display().to_string(),
        ];
        all.extend(args.iter().map(|s| s.to_string()));
        all
    }

    /// `peapod --root R --runroot RR ARGS` as the user.
    pub(crate) fn peapod(&self, args: &[&str]) -> PeapodCmd {
        let (root, runroot) = (
            self.root.display().to_string(),
            self.runroot.display().to_string(),
        );
        let mut all = vec!["--root", &root, "--runroot", &runroot];
        all.extend_from_slice(args);
        self.bare_with(&[], &all)
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.peapod(args).output()
    }

    pub(crate) fn ok(&self, args: &[&str]) -> String {
        self.run(args).success()
    }

    pub(crate) fn status_of(&self, ctr: &str) -> String {
        self.ok(&["inspect", "--format", "{{.State.Status}}", ctr])
            .trim()
            .to_owned()
    }

    /// Imports the busybox rootfs (root-owned files) as `IMG`, fed on stdin.
    pub(crate) fn import_busybox(&self) {
        let tar = peapod_tests::busybox_rootfs_tar().expect("the busybox rootfs tarball");
        self.import_bytes(&std::fs::read(tar).unwrap(), IMG);
    }

    pub(crate) fn import_bytes(&self, tar: &[u8], name: &str) {
        self.peapod(&["import", "-", name])
            .stdin(tar.to_vec())
            .output()
            .success();
    }

    /// The pid the user's pause file names, when that process lives.
    pub(crate) fn pause_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.xdg.join("peapod/pause.pid")).ok()?;
        let pid: i32 = text.trim().parse().ok()?;
        util::pid_alive(pid).then_some(pid)
    }

    /// Mounts under this env's dir in the user's mount namespace (the pause process's).
    pub(crate) fn mounts_in_namespace(&self) -> Vec<String> {
        let Some(pid) = self.pause_pid() else {
            return Vec::new();
        };
        let info = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap_or_default();
        let dir = self.dir.display().to_string();
        info.lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|m| m.starts_with(&dir))
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for UserEnv {
    fn drop(&mut self) {
        let _ = self
            .peapod(&["rm", "-af", "-t", "0"])
            .timeout(Duration::from_secs(60))
            .try_output();
        // The pause process and every monitor name the dir in their environment: killing
        // them ends the namespaces, and with the mount namespace go its overlays.
        for e in peapod_tests::scrub_dir(&self.dir) {
            eprintln!("cleanup: {e}");
        }
    }
}

/// Paths under `dir` owned by `uid` or by an id of `range` (none when `dir` is missing).
pub(crate) fn owned_under(dir: &Path, uid: u32, range: (u32, u32)) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(m) = e.path().symlink_metadata() else {
                continue;
            };
            let ours = |id: u32| id == uid || (id >= range.0 && id < range.0 + range.1);
            if ours(m.uid()) || ours(m.gid()) {
                found.push(e.path());
            }
            if m.is_dir() {
                stack.push(e.path());
            }
        }
    }
    found
}

/// A tar of the busybox rootfs plus `extra` entries: (path, uid, kind, content).
pub(crate) fn busybox_plus(extra: &[(&str, u64, tar::EntryType, &[u8])]) -> Vec<u8> {
    let tar_path = peapod_tests::busybox_rootfs_tar().expect("the busybox rootfs tarball");
    let mut base = tar::Archive::new(std::fs::File::open(tar_path).unwrap());
    let mut out = tar::Builder::new(Vec::new());
    for entry in base.entries().unwrap() {
        let mut entry = entry.unwrap();
        let header = entry.header().clone();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        out.append(&header, data.as_slice()).unwrap();
    }
    append_entries(&mut out, extra);
    out.into_inner().unwrap()
}

pub(crate) fn append_entries(
    out: &mut tar::Builder<Vec<u8>>,
    entries: &[(&str, u64, tar::EntryType, &[u8])],
) {
    for (path, id, kind, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*kind);
        h.set_mode(if *kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        });
        h.set_uid(*id);
        h.set_gid(*id);
        h.set_mtime(1_700_000_000);
        h.set_size(data.len() as u64);
        out.append_data(&mut h, path, *data).unwrap();
    }
}
