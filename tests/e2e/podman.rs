//! The real `podman` 4.3 in a private world, for tests that run the same thing under Podman
//! and peapod (the monitor swap, security defaults).
//!
//! Podman runs with its own `containers.conf` and `storage.conf` (through `CONTAINERS_CONF`
//! / `CONTAINERS_STORAGE_CONF`), `--root`, `--runroot` and `--tmpdir` under the test's temp
//! dir (the tmpdir replaces `/run/libpod`), file locks under that tmpdir instead of the
//! host-wide `/libpod_lock` shared-memory segment, and a private network config dir.
//! Nothing under `/etc/containers` or the host's own Podman state is read or written, and
//! tests running in parallel never collide. The same `containers.conf` can be given to
//! peapod ([`PodmanEnv::conf`]), so both engines start from the same defaults.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::util::{IMG, Output, PeapodCmd};

/// Where `name` is installed, searching `$PATH` and the usual system dirs.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/local/bin", "/usr/bin", "/usr/sbin", "/bin", "/sbin"])
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// One test's private Podman world.
pub struct PodmanEnv {
    pub dir: PathBuf,
    podman: PathBuf,
    /// `--conmon` given to every command; `None`: Podman's own conmon.
    pub conmon: Option<PathBuf>,
}

impl PodmanEnv {
    /// A fresh world, or `None` (with the reason printed; a failure in CI) when podman is
    /// not installed. `containers` is added to the `[containers]` table of its
    /// containers.conf (one `key = value` per line).
    pub fn new(test: &str, conmon: Option<PathBuf>, containers: &str) -> Option<PodmanEnv> {
        assert!(
            nix::unistd::geteuid().is_root(),
            "the Podman comparison tests need root: run them via `cargo xtask test`"
        );
        let podman = find_program("podman");
        if peapod_tests::skip_unless(podman.is_some(), &format!("podman (for {test})")) {
            return None;
        }
        let podman = podman?;
        let short: String = test.chars().take(20).collect();
        let dir = tempfile::Builder::new()
            .prefix(&format!("pp-{short}-"))
            .tempdir_in("/tmp")
            .expect("cannot create a temp dir under /tmp")
            .keep();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
            .expect("cannot chmod the temp dir");
        let env = PodmanEnv {
            dir,
            podman,
            conmon,
        };
        // From here on, Drop cleans up even if writing the config fails.
        let networks = env.dir.join("networks");
        std::fs::create_dir_all(&networks).expect("cannot create the network config dir");
        // Keys checked against podman 4.3's containers.conf(5). lock_type "file" keeps the
        // locks under --tmpdir: the default "shm" segment is host-wide and would be
        // re-initialised by every fresh Podman root. The ulimits: this host lets no one
        // raise them, and Podman's default asks for more.
        let conf = format!(
            "[containers]\n\
             default_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n\
             {containers}\n\n\
             [engine]\n\
             runtime = \"runc\"\n\
             cgroup_manager = \"cgroupfs\"\n\
             events_logger = \"file\"\n\
             lock_type = \"file\"\n\n\
             [network]\n\
             network_config_dir = \"{}\"\n",
            networks.display()
        );
        std::fs::write(env.conf(), conf).expect("cannot write conf");
        let storage = format!(
            "[storage]\n\
             driver = \"overlay\"\n\
             graphroot = \"{}\"\n\
             runroot = \"{}\"\n",
            env.dir.join("root").display(),
            env.dir.join("runroot").display()
        );
        std::fs::write(env.dir.join("storage.conf"), storage).expect("cannot write storage.conf");
        Some(env)
    }

    /// Its containers.conf.
    pub fn conf(&self) -> PathBuf {
        self.dir.join("containers.conf")
    }

    /// `podman [--conmon M] --root … --runroot … --tmpdir … <args>`, with the private
    /// config files in its environment.
    pub fn podman(&self, args: &[&str]) -> PeapodCmd {
        let mut argv: Vec<OsString> = vec![
            format!("CONTAINERS_CONF={}", self.conf().display()).into(),
            format!(
                "CONTAINERS_STORAGE_CONF={}",
                self.dir.join("storage.conf").display()
            )
            .into(),
            self.podman.clone().into(),
        ];
        if let Some(m) = &self.conmon {
            argv.extend(["--conmon".into(), m.clone().into()]);
        }
        argv.extend([
            "--root".into(),
            self.dir.join("root").into(),
            "--runroot".into(),
            self.dir.join("runroot").into(),
            "--tmpdir".into(),
            self.dir.join("tmp").into(),
        ]);
        argv.extend(args.iter().map(OsString::from));
        PeapodCmd::program("/usr/bin/env", &argv)
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.podman(args).output()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        self.run(args).success()
    }

    pub fn inspect(&self, target: &str, format: &str) -> String {
        self.ok(&["inspect", "--format", format, target])
            .trim()
            .to_owned()
    }

    /// Imports the busybox rootfs tarball as `localhost/busybox`.
    pub fn import_busybox(&self) {
        let tar = peapod_tests::busybox_rootfs_tar().expect("cannot build the busybox tarball");
        self.ok(&["import", tar.to_str().expect("utf-8 path"), IMG]);
    }
}

impl Drop for PodmanEnv {
    fn drop(&mut self) {
        // Never panic here: this also runs while unwinding from a failed assertion.
        for args in [&["rm", "-af", "-t", "0"][..], &["rmi", "-af"][..]] {
            match self
                .podman(args)
                .timeout(Duration::from_secs(60))
                .try_output()
            {
                Ok(out) if out.code() != 0 => eprintln!("cleanup:{out:?}"),
                Ok(_) => {}
                Err(e) => eprintln!("cleanup: {e}"),
            }
        }
        for e in peapod_tests::scrub_dir(&self.dir) {
            eprintln!("cleanup: {e}");
        }
    }
}
