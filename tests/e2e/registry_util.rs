//! The registry tests' harness: a [`TestEnv`] plus real `docker-registry` servers on
//! 127.0.0.1 (started per test, killed on drop), the test images written as an OCI layout
//! by [`peapod_tests::oci`] and pushed with `skopeo`, and a private world for the files a
//! pull reads: `HOME`, `XDG_RUNTIME_DIR` (auth.json) and `CONTAINERS_REGISTRIES_CONF` point
//! into the test's dir, so no test reads or writes the machine's credentials.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use peapod_tests::oci::{TestImages, write_test_images};
use peapod_tests::registry::{Registry, RegistryOptions, skopeo_copy, skopeo_inspect};

use super::util::{Output, PeapodCmd, TestEnv};

/// The test images, written once per test process.
pub fn images() -> &'static TestImages {
    static IMAGES: OnceLock<TestImages> = OnceLock::new();
    IMAGES.get_or_init(|| {
        // One layout per test process; those of processes that are gone are removed, so
        // runs do not pile them up.
        let tar = peapod_tests::busybox_rootfs_tar().expect("busybox rootfs tarball");
        let cache = tar.parent().unwrap().to_path_buf();
        for e in std::fs::read_dir(&cache).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name
                .strip_prefix("oci-layout-")
                .and_then(|p| p.parse::<i32>().ok())
                && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err()
            {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        let dir = cache.join(format!("oci-layout-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        write_test_images(&dir, &tar).expect("writing the test OCI layout")
    })
}

/// Whether the registry tests can run here (fails in CI when a tool is missing).
pub fn tools_missing() -> bool {
    for (tool, pkg) in [
        ("/usr/bin/docker-registry", "docker-registry"),
        ("/usr/bin/skopeo", "skopeo"),
        ("/usr/bin/htpasswd", "apache2-utils"),
        ("/usr/bin/openssl", "openssl"),
    ] {
        if peapod_tests::skip_unless(Path::new(tool).exists(), pkg) {
            return true;
        }
    }
    false
}

/// One registry test's world.
pub struct RegEnv {
    pub env: TestEnv,
    pub home: PathBuf,
    pub xdg_runtime: PathBuf,
    /// `CONTAINERS_REGISTRIES_CONF` (empty file unless a test writes it).
    pub conf: PathBuf,
    registries: Vec<Registry>,
}

impl RegEnv {
    pub fn new(name: &str) -> RegEnv {
        let env = TestEnv::new(name);
        let home = env.dir.join("home");
        let xdg_runtime = env.dir.join("xdg");
        let conf = env.dir.join("registries.conf");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&xdg_runtime).unwrap();
        std::fs::write(&conf, "").unwrap();
        RegEnv {
            env,
            home,
            xdg_runtime,
            conf,
            registries: Vec::new(),
        }
    }

    /// Starts a registry; returns its index for [`RegEnv::reg`].
    pub fn start(&mut self, opts: &RegistryOptions) -> usize {
        let dir = self
            .env
            .dir
            .join(format!("registry-{}", self.registries.len()));
        let r = Registry::start(&dir, opts).expect("starting docker-registry");
        self.registries.push(r);
        self.registries.len() - 1
    }

    pub fn reg(&self, i: usize) -> &Registry {
        &self.registries[i]
    }

    pub fn reg_mut(&mut self, i: usize) -> &mut Registry {
        &mut self.registries[i]
    }

    /// A plain-HTTP registry with `py/single` (OCI), `py/v2s2` and `py/multi` pushed by skopeo.
    pub fn start_with_images(&mut self) -> usize {
        let i = self.start(&RegistryOptions::default());
        let imgs = images();
        let r = self.reg(i);
        skopeo_copy(&imgs.layout, "single", &r.docker("py/single"), &[]).unwrap();
        skopeo_copy(
            &imgs.layout,
            "single",
            &r.docker("py/v2s2"),
            &["--format", "v2s2"],
        )
        .unwrap();
        skopeo_copy(
            &imgs.layout,
            "multi",
            &r.docker("py/multi"),
            &["--multi-arch", "all"],
        )
        .unwrap();
        i
    }

    /// `peapod …` with this test's HOME, XDG_RUNTIME_DIR and registries.conf.
    pub fn peapod<S: AsRef<OsStr>>(&self, args: &[S]) -> PeapodCmd {
        self.env
            .peapod(args)
            .env("HOME", &self.home)
            .env("XDG_RUNTIME_DIR", &self.xdg_runtime)
            .env("CONTAINERS_REGISTRIES_CONF", &self.conf)
    }

    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Output {
        self.peapod(args).output()
    }

    pub fn ok<S: AsRef<OsStr>>(&self, args: &[S]) -> String {
        self.run(args).success()
    }

    /// Image ids from `images -a -q --no-trunc`, without the `sha256:` prefix.
    pub fn image_ids(&self) -> Vec<String> {
        self.ok(&["images", "-a", "-q", "--no-trunc"])
            .lines()
            .map(|l| l.trim().trim_start_matches("sha256:").to_owned())
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// Files under the blob dir and entries under the layer dir (the store's content).
    pub fn store_entries(&self) -> (Vec<String>, Vec<String>) {
        let list = |d: PathBuf| -> Vec<String> {
            let mut v: Vec<String> = std::fs::read_dir(d)
                .map(|r| {
                    r.flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            v.sort();
            v
        };
        (
            list(self.env.root.join("images/blobs/sha256")),
            list(self.env.root.join("layers")),
        )
    }
}

/// `skopeo inspect --raw --config` of an image: the sha256 of the config bytes.
pub fn skopeo_config_digest(image: &str) -> String {
    skopeo_config_digest_with(image, &[])
}

/// [`skopeo_config_digest`] with more options for skopeo (e.g. `--creds U:P`).
pub fn skopeo_config_digest_with(image: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("skopeo")
        .args(["inspect", "--tls-verify=false"])
        .args(args)
        .args(["--raw", "--config", image])
        .output()
        .expect("skopeo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    peapod_tests::oci::sha256(&out.stdout)
        .trim_start_matches("sha256:")
        .to_owned()
}

/// `skopeo inspect --format {{.Digest}}`.
pub fn skopeo_digest(image: &str) -> String {
    skopeo_inspect(image, &["--format", "{{.Digest}}"]).unwrap()
}
