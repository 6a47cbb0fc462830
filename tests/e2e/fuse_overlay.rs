//! The overlay's mount program (containers-storage's `mount_program`): Debian's real
//! `fuse-overlayfs`, given by `--storage-opt overlay.mount_program=PATH` or by storage.conf's
//! `[storage.options.overlay] mount_program`, as root and as the rootless test user.
//!
//! Each run checks what a user sees: a two-layer image (a file deleted by a whiteout and a
//! directory made opaque in the upper layer) reads right through the FUSE mount, a
//! container's writes show in `diff` and `commit`, the rootfs of a running container is a
//! `fuse.fuse-overlayfs` mount (in the mount namespace of the user for rootless), and after
//! `rm` neither the mount nor a fuse-overlayfs process of the store is left.

use std::path::Path;
use std::time::Duration;

use super::rootless_util::{UserEnv, busybox_plus, users};
use super::util::{self, Output, PeapodCmd, TestEnv};

use tar::EntryType::{Directory as DIR, Regular as FILE};

const FUSE_OVERLAYFS: &str = "/usr/bin/fuse-overlayfs";

/// Root with its own store, or the rootless test user with its own.
enum Who {
    Root(TestEnv),
    User(UserEnv),
}

impl Who {
    fn cmd(&self, env: &[(&str, String)], args: &[&str]) -> PeapodCmd {
        match self {
            Who::Root(e) => {
                let mut c = e.peapod(args);
                for (k, v) in env {
                    c = c.env(*k, v);
                }
                c
            }
            Who::User(e) => {
                let all = e.store_args(args);
                let all: Vec<&str> = all.iter().map(String::as_str).collect();
                e.bare_with(env, &all)
            }
        }
    }

    fn dir(&self) -> &Path {
        match self {
            Who::Root(e) => &e.dir,
            Who::User(e) => &e.dir,
        }
    }

    /// The mount table the store's mounts live in: the host's, or the user's namespace's.
    fn mountinfo(&self) -> String {
        let pid = match self {
            Who::Root(_) => "self".to_string(),
            Who::User(e) => e.pause_pid().expect("the user's pause process").to_string(),
        };
        std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap()
    }
}

/// How the mount program is configured for one run.
struct Config {
    env: Vec<(&'static str, String)>,
    flags: Vec<String>,
}

impl Config {
    fn flag() -> Config {
        Config {
            env: Vec::new(),
            flags: vec![
                "--storage-opt".into(),
                format!("overlay.mount_program={FUSE_OVERLAYFS}"),
            ],
        }
    }

    /// A storage.conf in `dir` (readable by the test user) naming the program.
    fn storage_conf(dir: &Path) -> Config {
        let conf = dir.join("storage.conf");
        std::fs::write(
            &conf,
            format!(
                "[storage]\ndriver = \"overlay\"\n\n[storage.options.overlay]\nmount_program = \"{FUSE_OVERLAYFS}\"\n"
            ),
        )
        .unwrap();
        Config {
            env: vec![("CONTAINERS_STORAGE_CONF", conf.display().to_string())],
            flags: Vec::new(),
        }
    }
}

struct Run<'a> {
    who: &'a Who,
    config: Config,
}

impl Run<'_> {
    fn out(&self, args: &[&str]) -> Output {
        let mut all: Vec<&str> = self.config.flags.iter().map(String::as_str).collect();
        all.extend_from_slice(args);
        self.who
            .cmd(&self.config.env, &all)
            .timeout(Duration::from_secs(120))
            .output()
    }

    fn ok(&self, args: &[&str]) -> String {
        self.out(args).success()
    }

    /// The mountinfo line of the mount at `path`, if any.
    fn mount_at(&self, path: &str) -> Option<String> {
        self.who
            .mountinfo()
            .lines()
            .find(|l| l.split(' ').nth(4) == Some(path))
            .map(str::to_owned)
    }

    /// Live fuse-overlayfs processes whose command line names this test's dir.
    fn fuse_processes(&self) -> Vec<String> {
        let dir = self.who.dir().display().to_string();
        let mut found = Vec::new();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
                continue;
            };
            let args: Vec<String> = cmdline
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            if args.first().is_some_and(|a| a.ends_with("fuse-overlayfs"))
                && args.iter().any(|a| a.contains(&dir))
            {
                found.push(format!("{:?}: {}", e.file_name(), args.join(" ")));
            }
        }
        found
    }

    fn assert_nothing_left(&self) {
        self.assert_nothing_left_but(None);
    }

    /// [`Run::assert_nothing_left`], but for the test's own mount at `own`.
    fn assert_nothing_left_but(&self, own: Option<&Path>) {
        let own = own.map(|p| p.display().to_string());
        let dir = self.who.dir().display().to_string();
        util::wait_until(
            "fuse-overlayfs processes to go",
            Duration::from_secs(10),
            || self.fuse_processes().is_empty(),
        );
        let left: Vec<String> = self
            .who
            .mountinfo()
            .lines()
            .filter(|l| {
                l.split(' ')
                    .nth(4)
                    .is_some_and(|m| m.starts_with(&dir) && Some(m) != own.as_deref())
            })
            .map(str::to_owned)
            .collect();
        assert!(left.is_empty(), "mounts left: {left:#?}");
    }
}

/// busybox with `/etc/gone` and `/opq/old`, the lower layer of the test image.
fn base_tar() -> Vec<u8> {
    busybox_plus(&[
        ("etc/gone", 0, FILE, b"gone\n"),
        ("opq", 0, DIR, b""),
        ("opq/old", 0, FILE, b"old\n"),
    ])
}

/// The whole user story through the mount program `run` uses.
fn mount_program_story(run: &Run, tag: &str) {
    run.who
        .cmd(&run.config.env, &["import", "-", "fo-base"])
        .stdin(base_tar())
        .output()
        .success();
    // The upper layer: a whiteout for /etc/gone, /opq made opaque — written through the
    // mount program and committed from its upper dir.
    let mk = format!("fo-mk-{tag}");
    run.ok(&[
        "run",
        "--name",
        &mk,
        "fo-base",
        "sh",
        "-c",
        "rm /etc/gone && rm -rf /opq && mkdir /opq && echo new > /opq/new",
    ]);
    let diff = run.ok(&["diff", &mk]);
    let diff = util::lines(&diff);
    for want in ["D /etc/gone", "A /opq/new"] {
        assert!(diff.iter().any(|l| l == want), "{want} in diff: {diff:?}");
    }
    run.ok(&["commit", "-q", &mk, "fo-two"]);
    let layers = run.ok(&[
        "image",
        "inspect",
        "--format",
        "{{len .RootFS.Layers}}",
        "fo-two",
    ]);
    assert_eq!(layers.trim(), "2", "a two-layer image");
    run.ok(&["rm", &mk]);

    // The two layers read through fuse-overlayfs: deleted stays deleted, opaque stays
    // opaque, the lower layer's other files are there.
    let seen = run.ok(&[
        "run",
        "--rm",
        "fo-two",
        "sh",
        "-c",
        "test ! -e /etc/gone && echo gone-deleted; ls /opq; test -x /bin/busybox && echo lower-ok",
    ]);
    assert_eq!(util::lines(&seen), ["gone-deleted", "new", "lower-ok"]);

    // A running container's rootfs is the FUSE mount; its writes show in diff and commit.
    let live = format!("fo-live-{tag}");
    run.ok(&["run", "-d", "--name", &live, "fo-two", "sleep", "1000"]);
    let merged = run.ok(&["mount", &live]).trim().to_string();
    let line = run
        .mount_at(&merged)
        .unwrap_or_else(|| panic!("no mount at {merged}"));
    assert!(
        line.contains(" - fuse.fuse-overlayfs "),
        "fstype fuse.fuse-overlayfs: {line}"
    );
    assert!(!run.fuse_processes().is_empty(), "a fuse-overlayfs daemon");
    run.ok(&[
        "exec",
        &live,
        "sh",
        "-c",
        "echo hi > /written && rm /opq/new",
    ]);
    let diff = run.ok(&["diff", &live]);
    let diff = util::lines(&diff);
    for want in ["A /written", "D /opq/new"] {
        assert!(diff.iter().any(|l| l == want), "{want} in diff: {diff:?}");
    }
    run.ok(&["commit", "-q", &live, "fo-three"]);
    let seen = run.ok(&[
        "run",
        "--rm",
        "fo-three",
        "sh",
        "-c",
        "cat /written; ls -A /opq | wc -l",
    ]);
    assert_eq!(util::lines(&seen), ["hi", "0"]);
    run.ok(&["rm", "-f", "-t", "0", &live]);
    assert_eq!(run.mount_at(&merged), None, "the rootfs unmounted");
    run.assert_nothing_left();

    // What the store says: graphOptions names the program as Podman prints it.
    let info = run.ok(&["info", "--format", "json"]);
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["store"]["graphDriverName"], "overlay");
    let prog = &info["store"]["graphOptions"]["overlay.mount_program"];
    assert_eq!(prog["Executable"], FUSE_OVERLAYFS, "{info:#}");
    assert!(
        prog["Version"]
            .as_str()
            .is_some_and(|v| v.contains("fuse-overlayfs: version")),
        "{prog}"
    );
    assert_eq!(info["store"]["graphStatus"]["Native Overlay Diff"], "false");
}

/// A program that does not exist: c/storage's error, exit 125, nothing made.
fn missing_program(who: &Who) {
    let bad = "/nonexistent/fuse-overlayfs";
    let opt = format!("overlay.mount_program={bad}");
    who.cmd(
        &[],
        &[
            "--storage-opt",
            &opt,
            "run",
            "--name",
            "fo-bad",
            "fo-base",
            "true",
        ],
    )
    .output()
    .assert_error(
        125,
        &[&format!(
            "Error: overlay: can't stat program \"{bad}\": stat {bad}: no such file or directory"
        )],
    );
    let ps = who
        .cmd(&[], &["ps", "-a", "--format", "{{.Names}}"])
        .output()
        .success();
    assert!(!ps.contains("fo-bad"), "no container made: {ps}");
    // And an option peapod does not know, in c/storage's words.
    who.cmd(&[], &["--storage-opt", "overlay.nosuch=1", "ps"])
        .output()
        .assert_error(125, &["Error: overlay: Unknown option overlay.nosuch"]);
}

fn fuse_overlayfs_present() {
    assert!(
        Path::new(FUSE_OVERLAYFS).is_file(),
        "{FUSE_OVERLAYFS} is missing: install Debian's fuse-overlayfs (.ci/run does)"
    );
}

#[test]
fn fuse_overlayfs_as_root_by_flag_and_by_storage_conf() {
    fuse_overlayfs_present();
    let who = Who::Root(TestEnv::new("fuse-root"));
    let by_flag = Run {
        who: &who,
        config: Config::flag(),
    };
    mount_program_story(&by_flag, "flag");
    missing_program(&who);
    let conf = Config::storage_conf(who.dir());
    let by_conf = Run {
        who: &who,
        config: conf,
    };
    // storage.conf: a container runs on the FUSE mount; `--storage-opt ''` means none.
    by_conf.ok(&["run", "-d", "--name", "fo-conf", "fo-two", "sleep", "1000"]);
    let merged = by_conf.ok(&["mount", "fo-conf"]).trim().to_string();
    let line = by_conf.mount_at(&merged).expect("the rootfs mount");
    assert!(line.contains(" - fuse.fuse-overlayfs "), "{line}");
    let info = by_conf.ok(&["info", "--format", "{{json .Store.GraphOptions}}"]);
    assert!(info.contains(FUSE_OVERLAYFS), "{info}");
    let none = by_conf.ok(&[
        "--storage-opt",
        "",
        "info",
        "--format",
        "{{json .Store.GraphOptions}}",
    ]);
    assert_eq!(none.trim(), "{}");
    by_conf.ok(&["rm", "-f", "-t", "0", "fo-conf"]);
    by_conf.assert_nothing_left();
    if let Who::Root(e) = &who {
        e.assert_no_mounts();
        e.assert_no_processes();
    }
}

#[test]
fn fuse_overlayfs_rootless_by_flag_and_by_storage_conf() {
    fuse_overlayfs_present();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata("/dev/fuse").map(|m| m.permissions().mode());
    assert!(
        mode.as_ref().is_ok_and(|m| m & 0o006 == 0o006),
        "/dev/fuse must be usable by the rootless test user (chmod 0666 /dev/fuse; .ci/run does): {mode:?}"
    );
    let u = users();
    let env = UserEnv::new(&u.rl, "fuse");
    let who = Who::User(env);
    let by_flag = Run {
        who: &who,
        config: Config::flag(),
    };
    mount_program_story(&by_flag, "flag");
    missing_program(&who);
    let by_conf = Run {
        who: &who,
        config: Config::storage_conf(who.dir()),
    };
    by_conf.ok(&["run", "-d", "--name", "fo-conf", "fo-two", "sleep", "1000"]);
    let merged = by_conf.ok(&["mount", "fo-conf"]).trim().to_string();
    let line = by_conf.mount_at(&merged).expect("the rootfs mount");
    assert!(line.contains(" - fuse.fuse-overlayfs "), "{line}");
    by_conf.ok(&["rm", "-f", "-t", "0", "fo-conf"]);
    by_conf.assert_nothing_left();
}

/// Unmounts (and then removes) a directory the test mounted, after the env using it went.
struct MountGuard(std::path::PathBuf);

impl Drop for MountGuard {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
        if let Some(parent) = self.0.parent() {
            let _ = std::fs::remove_dir_all(parent);
        }
    }
}

/// No program configured, and the kernel refuses the overlay in the user namespace (here:
/// the store is on an overlayfs, which the kernel does not take as an upper dir; an old
/// kernel refuses any): fuse-overlayfs from PATH mounts it, and the store remembers that.
#[test]
fn rootless_falls_back_to_fuse_overlayfs_where_the_kernel_refuses() {
    use std::os::unix::fs::PermissionsExt;
    fuse_overlayfs_present();
    let guard;
    let env = UserEnv::new(&users().rl, "fuse-fallback");
    let backing = env.dir.join("backing");
    for d in ["lower", "upper", "work"] {
        std::fs::create_dir_all(backing.join(d)).unwrap();
    }
    std::fs::create_dir(&env.root).unwrap();
    let data = format!(
        "lowerdir={0}/lower,upperdir={0}/upper,workdir={0}/work",
        backing.display()
    );
    nix::mount::mount(
        Some("overlay"),
        &env.root,
        Some("overlay"),
        nix::mount::MsFlags::empty(),
        Some(data.as_str()),
    )
    .expect("an overlayfs for the store");
    guard = MountGuard(env.root.clone());
    std::os::unix::fs::chown(&env.root, Some(env.user.uid), Some(env.user.gid)).unwrap();
    std::fs::set_permissions(&env.root, std::fs::Permissions::from_mode(0o700)).unwrap();
    let who = Who::User(env);
    let run = Run {
        who: &who,
        config: Config {
            env: Vec::new(),
            flags: Vec::new(),
        },
    };
    run.who
        .cmd(&[], &["import", "-", "fo-base"])
        .stdin(base_tar())
        .output()
        .success();
    let out = run.ok(&[
        "run",
        "--rm",
        "fo-base",
        "sh",
        "-c",
        "test ! -e /nothere && cat /etc/gone",
    ]);
    assert_eq!(out.trim(), "gone");
    let record = std::fs::read_to_string(guard.0.join("overlay-mount-program")).unwrap();
    assert_eq!(record, FUSE_OVERLAYFS, "the choice recorded in the store");
    // The next commands go straight to it: the kernel is not asked again.
    let debug = run.out(&[
        "--log-level",
        "debug",
        "run",
        "-d",
        "--name",
        "fo-fb",
        "fo-base",
        "sleep",
        "1000",
    ]);
    assert!(!debug.stderr.contains("the kernel refused"), "{debug:?}");
    let merged = run.ok(&["mount", "fo-fb"]).trim().to_string();
    let line = run.mount_at(&merged).expect("the rootfs mount");
    assert!(line.contains(" - fuse.fuse-overlayfs "), "{line}");
    // Podman lists only configured options; the driver's facts say the diff is naive.
    let info = run.ok(&[
        "info",
        "--format",
        "{{json .Store.GraphOptions}} {{index .Store.GraphStatus \"Native Overlay Diff\"}}",
    ]);
    assert_eq!(info.trim(), "{} false");
    run.ok(&["rm", "-f", "-t", "0", "fo-fb"]);
    run.assert_nothing_left_but(Some(&guard.0));
}
