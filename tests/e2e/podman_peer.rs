//! The real `podman` (Debian's 4.3) as a peer of the image tests: archives and images
//! exchanged both ways, outputs compared. It runs with its own `--root`/`--runroot` inside
//! the test's dir, the `vfs` driver (no mounts left behind) and a containers.conf of its
//! own: runc, cgroupfs, file events, the machine's ulimits, a private network config dir.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::util::{Output, PeapodCmd, TestEnv};

const PODMAN: &str = "/usr/bin/podman";

/// Whether podman can be used (a missing podman fails in CI).
pub fn missing() -> bool {
    peapod_tests::skip_unless(Path::new(PODMAN).exists(), "podman")
}

pub struct Podman {
    root: PathBuf,
    runroot: PathBuf,
    conf: PathBuf,
}

impl Podman {
    /// A podman whose storage lives in `env`'s dir (removed with it).
    pub fn new(env: &TestEnv) -> Podman {
        let dir = env.dir.join("podman");
        let net = dir.join("networks");
        std::fs::create_dir_all(&net).unwrap();
        let conf = dir.join("containers.conf");
        std::fs::write(
            &conf,
            format!(
                "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n\
                 [engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n\
                 [network]\nnetwork_backend = \"netavark\"\nnetwork_config_dir = \"{}\"\n",
                net.display()
            ),
        )
        .unwrap();
        Podman {
            root: dir.join("root"),
            runroot: dir.join("runroot"),
            conf,
        }
    }

    pub fn cmd<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> PeapodCmd {
        let mut all: Vec<std::ffi::OsString> = vec![
            "--root".into(),
            self.root.clone().into(),
            "--runroot".into(),
            self.runroot.clone().into(),
            "--storage-driver".into(),
            "vfs".into(),
        ];
        all.extend(args.iter().map(|a| a.as_ref().to_owned()));
        PeapodCmd::program(PODMAN, &all)
            .env("CONTAINERS_CONF", &self.conf)
            .timeout(Duration::from_secs(120))
    }

    pub fn run<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Output {
        self.cmd(args).output()
    }

    #[track_caller]
    pub fn ok<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> String {
        self.run(args).success()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.cmd(&["rm", "-af", "-t", "0"]).try_output();
    }
}
