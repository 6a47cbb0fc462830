//! Shared by the end-to-end tests (`tests/e2e`) and by `cargo xtask demo|bench`.
//!
//! Two things live here:
//! - the test image: a minimal rootfs tarball built from the host's static busybox, so no
//!   test ever pulls from a registry ([`busybox_rootfs_tar`]);
//! - host-cleanup primitives that find and undo whatever a peapod run may leave under a
//!   directory (mounts, processes, runtime containers). Tests use them to clean up and to
//!   assert that nothing was left behind; xtask uses them to clean up after a demo or bench.
//!
//! Nothing here may depend on peapod's own crates: these helpers judge peapod from outside.
//! [`oci`] writes OCI image layouts and [`registry`] runs real registries (`docker-registry`)
//! for the registry tests, the demo and the bench.

pub mod oci;
pub mod registry;
pub mod token;

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// Where Debian's busybox-static installs its binary.
pub const BUSYBOX: &str = "/bin/busybox";

/// Bumped whenever the rootfs layout below changes, so stale cached tarballs are not reused.
const ROOTFS_FORMAT: u32 = 1;

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests crate has a parent directory")
        .to_path_buf()
}

/// Cargo's target directory: `$CARGO_TARGET_DIR` when set, else `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        }
        None => workspace_root().join("target"),
    }
}

fn err(msg: String) -> io::Error {
    io::Error::other(msg)
}

/// The busybox rootfs tarball, built once from [`BUSYBOX`] and cached under
/// `<target>/peapod-test-cache/`, keyed by busybox's size and mtime. Safe to call from many
/// threads and processes at once (built into a temp file, then renamed into place).
pub fn busybox_rootfs_tar() -> io::Result<PathBuf> {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let busybox = Path::new(BUSYBOX);
    let meta = fs::metadata(busybox).map_err(|e| {
        err(format!(
            "cannot stat {BUSYBOX} (install busybox-static: apt-get install busybox-static): {e}"
        ))
    })?;
    let cache = target_dir().join("peapod-test-cache");
    let out = cache.join(format!(
        "busybox-rootfs-v{ROOTFS_FORMAT}-{}-{}.tar",
        meta.len(),
        meta.mtime()
    ));
    if out.is_file() {
        return Ok(out);
    }
    fs::create_dir_all(&cache)
        .map_err(|e| err(format!("cannot create cache dir {}: {e}", cache.display())))?;
    let tmp = cache.join(format!(".busybox-rootfs-{}.tmp", std::process::id()));
    let built = build_busybox_rootfs_tar(busybox, &tmp).and_then(|()| {
        fs::rename(&tmp, &out).map_err(|e| {
            err(format!(
                "cannot rename {} to {}: {e}",
                tmp.display(),
                out.display()
            ))
        })
    });
    if built.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    built.map(|()| out)
}

/// The applets `busybox --list` reports.
pub fn busybox_applets(busybox: &Path) -> io::Result<Vec<String>> {
    let output = Command::new(busybox)
        .arg("--list")
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| err(format!("cannot run {} --list: {e}", busybox.display())))?;
    if !output.status.success() {
        return Err(err(format!(
            "{} --list failed: {}",
            busybox.display(),
            output.status
        )));
    }
    let list = String::from_utf8_lossy(&output.stdout);
    let applets: Vec<String> = list
        .lines()
        .map(str::trim)
        .filter(|a| !a.is_empty() && *a != "busybox" && !a.contains('/'))
        .map(str::to_owned)
        .collect();
    if !applets.iter().any(|a| a == "sh") {
        return Err(err(format!(
            "{} --list has no `sh` applet; is it busybox?",
            busybox.display()
        )));
    }
    Ok(applets)
}

/// Writes an uncompressed tarball of a minimal rootfs to `out`: `bin/busybox` plus one
/// symlink per applet in `bin/`, `etc/passwd` and `etc/group` (root, nobody), `tmp` (1777),
/// `root`, `proc`, `sys`, `dev`, `var/www`. Every entry is owned by root and carries
/// busybox's mtime, so the same busybox always gives the same bytes (and the same image id).
pub fn build_busybox_rootfs_tar(busybox: &Path, out: &Path) -> io::Result<()> {
    let meta = fs::metadata(busybox)
        .map_err(|e| err(format!("cannot stat {}: {e}", busybox.display())))?;
    let mtime = u64::try_from(meta.mtime()).unwrap_or(0);
    let applets = busybox_applets(busybox)?;
    let file =
        File::create(out).map_err(|e| err(format!("cannot create {}: {e}", out.display())))?;
    let mut tar = tar::Builder::new(BufWriter::new(file));

    let header = |kind: tar::EntryType, mode: u32, size: u64| {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(mtime);
        h
    };
    let dir = |tar: &mut tar::Builder<_>, path: &str, mode: u32| -> io::Result<()> {
        let mut h = header(tar::EntryType::Directory, mode, 0);
        tar.append_data(&mut h, path, io::empty())
    };
    let file_entry =
        |tar: &mut tar::Builder<_>, path: &str, mode: u32, data: &[u8]| -> io::Result<()> {
            let mut h = header(tar::EntryType::Regular, mode, data.len() as u64);
            tar.append_data(&mut h, path, data)
        };

    for (path, mode) in [
        ("bin/", 0o755),
        ("dev/", 0o755),
        ("etc/", 0o755),
        ("proc/", 0o555),
        ("root/", 0o700),
        ("sys/", 0o555),
        ("tmp/", 0o1777),
        ("var/", 0o755),
        ("var/www/", 0o755),
    ] {
        dir(&mut tar, path, mode)?;
    }
    let bytes =
        fs::read(busybox).map_err(|e| err(format!("cannot read {}: {e}", busybox.display())))?;
    file_entry(&mut tar, "bin/busybox", 0o755, &bytes)?;
    for applet in &applets {
        let mut h = header(tar::EntryType::Symlink, 0o777, 0);
        tar.append_link(&mut h, format!("bin/{applet}"), "busybox")?;
    }
    file_entry(
        &mut tar,
        "etc/passwd",
        0o644,
        b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )?;
    file_entry(
        &mut tar,
        "etc/group",
        0o644,
        b"root:x:0:\nnogroup:x:65534:\n",
    )?;
    let mut writer = tar.into_inner()?;
    writer.flush()?;
    writer
        .into_inner()
        .map_err(|e| err(format!("cannot flush {}: {e}", out.display())))?
        .sync_all()
}

/// True when `hay` contains `dir` as a whole path (followed by `/`, NUL, whitespace, `:`,
/// `=` or the end), so `/tmp/a` does not match `/tmp/ab`.
fn mentions(hay: &[u8], dir: &[u8]) -> bool {
    if dir.is_empty() || hay.len() < dir.len() {
        return false;
    }
    hay.windows(dir.len()).enumerate().any(|(i, w)| {
        w == dir
            && match hay.get(i + dir.len()) {
                None => true,
                Some(c) => matches!(c, b'/' | 0 | b' ' | b'\n' | b'\t' | b':' | b'=' | b'"'),
            }
    })
}

/// Decodes the octal escapes (`\040` for a space, …) the kernel uses in mountinfo.
fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && let Some(oct) = field.get(i + 1..i + 4)
            && oct.bytes().all(|c| (b'0'..=b'7').contains(&c))
            && let Ok(v) = u8::from_str_radix(oct, 8)
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Mount points at or under `dir` in this process's mount namespace, deepest first.
pub fn mounts_under(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let info = fs::read_to_string("/proc/self/mountinfo")?;
    let dir = dir.to_string_lossy();
    let dir = dir.trim_end_matches('/');
    let mut found: Vec<PathBuf> = info
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(unescape_mountinfo)
        .filter(|mp| mp == dir || mp.starts_with(&format!("{dir}/")))
        .map(PathBuf::from)
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    Ok(found)
}

/// Lazily unmounts (MNT_DETACH) every mount at or under `dir`, deepest first, repeating
/// while mounts remain (stacked mounts). Returns the failures.
pub fn umount_all_under(dir: &Path) -> Vec<String> {
    let mut errors = Vec::new();
    for _round in 0..8 {
        let mounts = match mounts_under(dir) {
            Ok(m) => m,
            Err(e) => {
                errors.push(format!("cannot read /proc/self/mountinfo: {e}"));
                return errors;
            }
        };
        if mounts.is_empty() {
            return errors;
        }
        for mp in mounts {
            if let Err(e) = nix::mount::umount2(&mp, nix::mount::MntFlags::MNT_DETACH)
                && e != nix::errno::Errno::EINVAL
                && e != nix::errno::Errno::ENOENT
            {
                errors.push(format!("cannot unmount {}: {e}", mp.display()));
            }
        }
    }
    if let Ok(left) = mounts_under(dir)
        && !left.is_empty()
    {
        errors.push(format!("mounts remain under {}: {left:?}", dir.display()));
    }
    errors
}

/// A process on the host: its pid and its command line (NULs shown as spaces).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HostProcess {
    pub pid: i32,
    pub cmdline: String,
}

/// Processes (other than this one) whose command line, environment, cwd or root mention
/// `dir`: stray monitors, cleanup commands, processes running inside a rootfs under `dir`.
pub fn processes_mentioning(dir: &Path) -> Vec<HostProcess> {
    let me = std::process::id() as i32;
    let needle = dir.to_string_lossy();
    let needle = needle.trim_end_matches('/').as_bytes().to_vec();
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = BTreeSet::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let base = entry.path();
        let cmdline = fs::read(base.join("cmdline")).unwrap_or_default();
        let environ = fs::read(base.join("environ")).unwrap_or_default();
        let cwd = fs::read_link(base.join("cwd")).unwrap_or_default();
        let root = fs::read_link(base.join("root")).unwrap_or_default();
        let hit = mentions(&cmdline, &needle)
            || mentions(&environ, &needle)
            || mentions(cwd.as_os_str().as_encoded_bytes(), &needle)
            || mentions(root.as_os_str().as_encoded_bytes(), &needle);
        if hit {
            let cmdline = String::from_utf8_lossy(&cmdline)
                .replace('\0', " ")
                .trim()
                .to_owned();
            found.insert(HostProcess { pid, cmdline });
        }
    }
    found.into_iter().collect()
}

/// SIGKILLs every process mentioning `dir`, repeating until none is left (a dying monitor
/// may still spawn its exit command) or about two seconds have passed. Returns what it
/// killed.
pub fn kill_processes_mentioning(dir: &Path) -> Vec<HostProcess> {
    let mut killed = Vec::new();
    for _ in 0..20 {
        let procs = processes_mentioning(dir);
        if procs.is_empty() {
            break;
        }
        for p in procs {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(p.pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            if !killed.contains(&p) {
                killed.push(p);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    killed
}

/// The OCI runtimes we know how to list, and their default state roots.
const RUNTIMES: [&str; 2] = ["runc", "crun"];

fn runtime_list(runtime: &str, root: Option<&Path>) -> Vec<(String, String)> {
    let mut cmd = Command::new(runtime);
    if let Some(root) = root {
        cmd.arg("--root").arg(root);
    }
    cmd.args(["list", "-f", "json"])
        .stdin(Stdio::null())
        .stderr(Stdio::null());
    let Ok(out) = cmd.output() else {
        return Vec::new();
    };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&out.stdout) else {
        return Vec::new();
    };
    value
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|c| {
                    Some((
                        c.get("id")?.as_str()?.to_owned(),
                        c.get("bundle")
                            .and_then(|b| b.as_str())
                            .unwrap_or("")
                            .to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Directories named `runc` or `crun` at most four levels under `dir` (a runtime state root
/// the engine may have pointed the runtime at).
fn runtime_roots_under(dir: &Path) -> Vec<(String, PathBuf)> {
    fn walk(dir: &Path, depth: u32, out: &mut Vec<(String, PathBuf)>) {
        if depth == 0 {
            return;
        }
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            if !ft.is_dir() {
                continue;
            }
            let name = e.file_name();
            if let Some(rt) = RUNTIMES.iter().find(|r| name.to_str() == Some(**r)) {
                out.push(((*rt).to_owned(), e.path()));
            }
            walk(&e.path(), depth - 1, out);
        }
    }
    let mut out = Vec::new();
    walk(dir, 4, &mut out);
    out
}

/// Ids of every container the runtimes (runc, crun) know in their default state roots.
pub fn runtime_ids() -> Vec<String> {
    RUNTIMES
        .iter()
        .flat_map(|rt| runtime_list(rt, None))
        .map(|(id, _)| id)
        .collect()
}

/// Runtime containers (runc or crun, default state root or a root under `dir`) whose bundle
/// is under `dir`, or that live in a state root under `dir`: `(runtime, root, id)`.
pub fn runtime_containers_under(dir: &Path) -> Vec<(String, Option<PathBuf>, String)> {
    let needle = dir.to_string_lossy().trim_end_matches('/').to_owned();
    let mut found = Vec::new();
    for rt in RUNTIMES {
        for (id, bundle) in runtime_list(rt, None) {
            if mentions(bundle.as_bytes(), needle.as_bytes()) {
                found.push((rt.to_owned(), None, id));
            }
        }
    }
    for (rt, root) in runtime_roots_under(dir) {
        for (id, _) in runtime_list(&rt, Some(&root)) {
            found.push((rt.clone(), Some(root.clone()), id));
        }
    }
    found
}

/// `runtime delete -f` for every container [`runtime_containers_under`] finds. Returns the
/// failures.
pub fn runtime_delete_under(dir: &Path) -> Vec<String> {
    let mut errors = Vec::new();
    for (rt, root, id) in runtime_containers_under(dir) {
        let mut cmd = Command::new(&rt);
        if let Some(root) = &root {
            cmd.arg("--root").arg(root);
        }
        cmd.args(["delete", "-f", &id])
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        match cmd.output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => errors.push(format!(
                "{rt} delete -f {id} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            Err(e) => errors.push(format!("cannot run {rt} delete -f {id}: {e}")),
        }
    }
    errors
}

/// Undoes everything a peapod run may have left under `dir`, then removes it: runtime
/// containers, processes mentioning it, mounts (deepest first). Keeps going after a failure
/// and returns every failure.
pub fn scrub_dir(dir: &Path) -> Vec<String> {
    let mut errors = runtime_delete_under(dir);
    kill_processes_mentioning(dir);
    errors.extend(umount_all_under(dir));
    if dir.exists()
        && let Err(e) = fs::remove_dir_all(dir)
    {
        errors.push(format!("cannot remove {}: {e}", dir.display()));
    }
    errors
}

/// Whether a test must be skipped because `what` is missing (`present` false). Outside CI it
/// prints why and skips; in CI (`CI` set, as `.ci/run` runs) a missing prerequisite fails the
/// test instead: `.ci/run` installs every one, and a skipped test would pass having tested
/// nothing.
pub fn skip_unless(present: bool, what: &str) -> bool {
    if present {
        return false;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{what} is required in CI (.ci/run installs it)");
    }
    eprintln!("skipped: {what} is missing");
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_matches_whole_paths_only() {
        assert!(mentions(b"peapod --root /tmp/a/root ps", b"/tmp/a"));
        assert!(mentions(b"X=/tmp/a\0", b"/tmp/a"));
        assert!(mentions(b"/tmp/a", b"/tmp/a"));
        assert!(!mentions(b"--root /tmp/ab/root", b"/tmp/a"));
        assert!(!mentions(b"", b"/tmp/a"));
    }

    #[test]
    fn mountinfo_escapes_are_decoded() {
        assert_eq!(unescape_mountinfo(r"/tmp/a\040b"), "/tmp/a b");
        assert_eq!(unescape_mountinfo(r"/tmp/x\134y"), r"/tmp/x\y");
        assert_eq!(unescape_mountinfo(r"/plain"), "/plain");
        assert_eq!(unescape_mountinfo(r"/trail\04"), r"/trail\04");
    }

    #[test]
    fn rootfs_tar_has_the_expected_entries() {
        if !Path::new(BUSYBOX).exists() {
            panic!("{BUSYBOX} is missing: apt-get install busybox-static");
        }
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("rootfs.tar");
        build_busybox_rootfs_tar(Path::new(BUSYBOX), &out).unwrap();
        let mut archive = tar::Archive::new(File::open(&out).unwrap());
        let mut names = BTreeSet::new();
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            let h = entry.header();
            match path.as_str() {
                "bin/sh" | "bin/httpd" => {
                    assert_eq!(h.entry_type(), tar::EntryType::Symlink);
                    assert_eq!(
                        entry.link_name().unwrap().unwrap().to_str(),
                        Some("busybox")
                    );
                }
                "tmp/" | "tmp" => assert_eq!(h.mode().unwrap() & 0o7777, 0o1777),
                "bin/busybox" => {
                    assert_eq!(h.mode().unwrap() & 0o777, 0o755);
                    assert_eq!(h.size().unwrap(), fs::metadata(BUSYBOX).unwrap().len());
                }
                _ => {}
            }
            names.insert(path.trim_end_matches('/').to_owned());
        }
        for want in [
            "bin/busybox",
            "bin/sh",
            "bin/echo",
            "bin/sleep",
            "bin/cat",
            "etc/passwd",
            "etc/group",
            "tmp",
            "root",
            "proc",
            "sys",
            "dev",
            "var/www",
        ] {
            assert!(names.contains(want), "{want} missing from the rootfs tar");
        }
        // Deterministic: a second build gives the same bytes.
        let again = dir.path().join("again.tar");
        build_busybox_rootfs_tar(Path::new(BUSYBOX), &again).unwrap();
        assert_eq!(fs::read(&out).unwrap(), fs::read(&again).unwrap());
    }

    #[test]
    fn cached_tar_is_reused() {
        let a = busybox_rootfs_tar().unwrap();
        let b = busybox_rootfs_tar().unwrap();
        assert_eq!(a, b);
        assert!(a.is_file());
    }

    #[test]
    fn scrub_unmounts_and_removes() {
        if !nix::unistd::geteuid().is_root() {
            panic!("this test needs root (it mounts a tmpfs)");
        }
        let dir = tempfile::Builder::new()
            .prefix("pp-lib-scrub-")
            .tempdir()
            .unwrap()
            .keep();
        let inner = dir.join("a/b");
        fs::create_dir_all(&inner).unwrap();
        nix::mount::mount(
            Some("tmpfs"),
            &inner,
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        )
        .unwrap();
        fs::create_dir_all(inner.join("c")).unwrap();
        nix::mount::mount(
            Some("tmpfs"),
            &inner.join("c"),
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        )
        .unwrap();
        let mounts = mounts_under(&dir).unwrap();
        assert_eq!(mounts, vec![inner.join("c"), inner.clone()]);
        let mut child = Command::new("/bin/busybox")
            .args(["sleep", "100"])
            .current_dir(&inner)
            .spawn()
            .unwrap();
        assert!(
            processes_mentioning(&dir)
                .iter()
                .any(|p| p.pid == child.id() as i32)
        );
        let errors = scrub_dir(&dir);
        let status = child.wait().unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        assert!(!status.success());
        assert!(!dir.exists());
        assert!(mounts_under(&dir).unwrap().is_empty());
    }
}
