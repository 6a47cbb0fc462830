//! peapod's engine: state, images and layers, OCI specs and the lifecycle of containers.
//!
//! The only entry point is [`Engine`]: it opens a root (paths, database, locks), refreshes
//! state after a reboot, and offers every operation the command line needs. Requests come
//! in as plain structs (no clap types here); answers go out as plain structs that the CLI
//! formats.

pub mod build;
mod children;
pub mod config;
pub mod container;
pub mod error;
pub mod events;
pub mod filter;
pub mod image;
pub mod images;
pub mod kube;
mod kvfile;
pub(crate) mod layer;
mod ledger;
pub mod manifest;
pub(crate) mod monitor;
pub use monitor::note_inherited_fds;
pub mod names;
pub mod network;
pub(crate) mod oci;
pub mod parallel;
pub mod pod;
pub mod quadlet;
mod refresh;
pub mod registry;
pub mod rootless;
pub mod signal;
mod state;
pub mod system;
pub mod systemd;
pub mod volume;

use std::cell::OnceCell;
use std::path::{Path, PathBuf};

pub use config::{EngineOptions, Paths, StorageDriver};
pub use error::{Error, ErrorKind, Result};

use crate::error::IoContext;
use crate::oci::Runtime;
use crate::state::Db;
use crate::state::lock::Lock;

pub struct Engine {
    pub(crate) paths: Paths,
    pub(crate) db: Db,
    opts: EngineOptions,
    runtime: OnceCell<Runtime>,
    events: events::LoggerCell,
    /// The store's storage driver, fixed when the store was first used.
    driver: StorageDriver,
    /// The driver's options (`--storage-opt`, storage.conf).
    storage_opts: config::storage_opts::StorageOpts,
    /// How this store's overlays are mounted: the kernel, or a mount program.
    overlay: layer::OverlayMounter,
}

impl Engine {
    /// Open (creating if needed) the root and runroot, and refresh after a reboot.
    pub fn open(opts: EngineOptions) -> Result<Engine> {
        let root = match &opts.root {
            Some(r) => r.clone(),
            None => config::default_root()?,
        };
        let runroot = match &opts.runroot {
            Some(r) => r.clone(),
            None => config::default_runroot()?,
        };
        let root = absolute(&root)?;
        let runroot = absolute(&runroot)?;
        if rootless::is_rootless() {
            rootless::make_private_dir(&root)?;
            rootless::make_private_dir(&runroot)?;
        } else {
            std::fs::create_dir_all(&root).ctx("creating root", &root)?;
            std::fs::create_dir_all(&runroot).ctx("creating runroot", &runroot)?;
        }
        let mut paths = Paths::new(root, runroot);
        paths.volume_path = opts.volume_path.as_deref().map(absolute).transpose()?;
        let db = Db::open(&paths.db())?;
        let driver = store_driver(&db, &opts, &paths.root)?;
        let storage_opts =
            config::storage_opts::resolve(&opts.storage_opts, driver == StorageDriver::Overlay)?;
        let overlay = overlay_mounter(&storage_opts, &paths.root);
        let engine = Engine {
            paths,
            db,
            opts,
            runtime: OnceCell::new(),
            events: OnceCell::new(),
            driver,
            storage_opts,
            overlay,
        };
        refresh::refresh_if_rebooted(&engine)?;
        Ok(engine)
    }

    /// A second handle on the same store (its own database connection), for another thread.
    pub fn reopen(&self) -> Result<Engine> {
        Engine::open(self.opts.clone())
    }

    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    /// The store's root (`--root`: images, layers, volumes, the database).
    pub fn root(&self) -> &Path {
        &self.paths.root
    }

    /// The store's storage driver (`info`'s `.Store.GraphDriverName`).
    pub fn storage_driver(&self) -> StorageDriver {
        self.driver
    }

    /// The storage driver's options in effect (`info`'s `.Store.GraphOptions`).
    pub fn storage_opts(&self) -> &config::storage_opts::StorageOpts {
        &self.storage_opts
    }

    /// How this store mounts overlays (the kernel, or a mount program such as
    /// fuse-overlayfs).
    pub(crate) fn overlay(&self) -> &layer::OverlayMounter {
        &self.overlay
    }

    /// The store's runroot (`--runroot`: what lives only until a reboot).
    pub fn runroot(&self) -> &Path {
        &self.paths.runroot
    }

    /// Whether `reference` names a container (`container exists`); an external one (a
    /// build's) does not count.
    pub fn container_exists(&self, reference: &str) -> Result<bool> {
        self.container_exists_with(reference, false)
    }

    /// [`Engine::container_exists`]; with `external` (`--external`), a build's external
    /// containers count too.
    pub fn container_exists_with(&self, reference: &str, external: bool) -> Result<bool> {
        match self.db.lookup_container(reference) {
            Ok(c) => Ok(external || !c.config.external),
            Err(Error::NoSuchContainer(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The monitor's control fifo of container `id` (terminal resizes from an attach).
    pub fn attach_ctl_path(&self, id: &str) -> PathBuf {
        self.paths.bundle(id).join("ctl")
    }

    /// The OCI runtime, found on first use.
    pub fn runtime(&self) -> Result<&Runtime> {
        if let Some(r) = self.runtime.get() {
            return Ok(r);
        }
        // `--runtime`, else containers.conf's `[engine] runtime`, else the host's best.
        let conf = match &self.opts.runtime {
            Some(_) => None,
            None => {
                config::containers_conf::ContainersConf::load()?
                    .engine
                    .runtime
            }
        };
        let path = config::find_runtime(self.opts.runtime.as_deref().or(conf.as_deref()))?;
        Ok(self
            .runtime
            .get_or_init(|| Runtime::new(path).with_flags(&self.opts.runtime_flags)))
    }

    pub fn monitor_path(&self) -> Result<PathBuf> {
        match &self.opts.conmon {
            Some(p) => Ok(p.clone()),
            None => config::find_helper(self.opts.self_exe.as_deref(), "peapod-monitor"),
        }
    }

    pub fn lock(&self, name: &str) -> Result<Lock> {
        Lock::acquire(&self.paths.locks(), name)
    }
}

/// The overlay mounter of a store at `root`: the configured mount program, else (rootless)
/// the one an earlier fallback recorded, else the kernel with the fallback armed.
fn overlay_mounter(opts: &config::storage_opts::StorageOpts, root: &Path) -> layer::OverlayMounter {
    let record = rootless::is_rootless().then(|| root.join(OVERLAY_PROGRAM_RECORD));
    let program = config::storage_opts::effective_program(opts, record.as_deref());
    layer::OverlayMounter {
        fallback_record: if program.is_none() { record } else { None },
        program,
    }
}

/// In a rootless store: the mount program the fallback chose when the kernel refused an
/// overlay in the user namespace (c/storage keeps such a flag file in its driver's home).
const OVERLAY_PROGRAM_RECORD: &str = "overlay-mount-program";

/// The driver of the store whose database is `db`: the recorded one, or (a store used for
/// the first time) the one asked for, recorded now. See [`config::storage_conf`].
fn store_driver(db: &Db, opts: &EngineOptions, root: &Path) -> Result<StorageDriver> {
    use config::storage_conf::{META_KEY, configured_driver, decide};
    let recorded = db.meta(META_KEY)?;
    // storage.conf is read only when no flag decides (a flag wins over it either way).
    let conf = match &opts.storage_driver {
        Some(_) => None,
        None => configured_driver()?,
    };
    let (driver, record, note) = decide(
        recorded.as_deref(),
        opts.storage_driver.as_deref(),
        conf.as_deref(),
        root,
    )?;
    if let Some(note) = note {
        tracing::error!("{note}");
    }
    if !record {
        return Ok(driver);
    }
    // Two first commands racing: the first writer's choice holds for both.
    let held = db.meta_init(META_KEY, driver.name())?;
    if held == driver.name() {
        return Ok(driver);
    }
    let flag = opts.storage_driver.as_deref();
    Ok(decide(Some(&held), flag, conf.as_deref(), root)?.0)
}

pub(crate) fn absolute(p: &Path) -> Result<PathBuf> {
    if p.is_absolute() {
        Ok(p.to_path_buf())
    } else {
        Ok(std::env::current_dir()
            .ctx("reading current directory", ".")?
            .join(p))
    }
}
