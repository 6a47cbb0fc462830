//! A `RUN` step: a container made through the engine's own create path (monitor + runtime,
//! the engine's rlimits and seccomp, the build's network) on the step's parent image, its
//! output copied inline, then committed by the caller from its overlay upper dir and
//! removed.
//!
//! [`run_create_options`] is the one place a RUN container's request is filled, so it can
//! move to the typed container spec of issue 13 in one edit.

use std::io::Write;
use std::path::PathBuf;

use crate::Engine;
use crate::container::{CreateOptions, RemoveOptions};
use crate::error::{Error, Result};

/// What a RUN container is made of.
#[derive(Debug, Clone, Default)]
pub struct RunSpec {
    /// The parent image's id.
    pub image: String,
    pub argv: Vec<String>,
    pub env: Vec<String>,
    /// The image config's user and working directory (empty: the defaults).
    pub user: String,
    pub workdir: String,
    /// `SRC:DST[:OPTS]` binds (`build --volume`, RUN bind/cache/secret mounts, heredoc
    /// scripts).
    pub volumes: Vec<String>,
    /// tmpfs targets.
    pub tmpfs: Vec<String>,
    /// The network mode (`none`, `host`, a network name; empty: the default).
    pub network: String,
    pub hostname: Option<String>,
}

/// The create request of a RUN container.
pub fn run_create_options(spec: &RunSpec) -> CreateOptions {
    let mut opts = CreateOptions {
        image: spec.image.clone(),
        command: spec.argv.clone(),
        entrypoint: Some(String::new()),
        env: spec.env.clone(),
        user: (!spec.user.is_empty()).then(|| spec.user.clone()),
        workdir: (!spec.workdir.is_empty()).then(|| spec.workdir.clone()),
        volumes: spec.volumes.clone(),
        tmpfs: spec.tmpfs.clone(),
        hostname: spec.hostname.clone(),
        ..Default::default()
    };
    if !spec.network.is_empty() {
        opts.network.network = vec![spec.network.clone()];
    }
    opts
}

/// A build container; removed (with force) when dropped, whatever happened.
pub struct BuildContainer<'e> {
    engine: &'e Engine,
    pub id: String,
}

impl BuildContainer<'_> {
    /// Its overlay upper dir (the step's changes).
    pub fn upper(&self) -> PathBuf {
        self.engine.paths.container_dir(&self.id).join("upper")
    }
}

impl Drop for BuildContainer<'_> {
    fn drop(&mut self) {
        let opts = RemoveOptions {
            force: true,
            volumes: true,
            timeout: Some(0),
        };
        match self.engine.remove(&self.id, &opts) {
            Ok(_) | Err(Error::NoSuchContainer(_)) => {}
            Err(e) => tracing::warn!(id = %self.id, error = %e, "removing a build container"),
        }
    }
}

impl Engine {
    /// Runs one RUN step to its end, its output to `out`/`err`; the container (still there,
    /// for the commit) and its exit code.
    pub(crate) fn run_step(
        &self,
        spec: &RunSpec,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<(BuildContainer<'_>, i32)> {
        let c = self.create_container(&run_create_options(spec))?;
        let guard = BuildContainer {
            engine: self,
            id: c.id().to_string(),
        };
        let started = self.start(&guard.id, true)?;
        if let Some(sock) = &started.socket {
            crate::container::attach::copy_output(sock, out, err)
                .map_err(|e| Error::other(format!("reading the output of RUN: {e}")))?;
        }
        let code = self.wait_exit_code(&started.container)?;
        match self.cleanup(&guard.id, true, false) {
            Ok(()) | Err(Error::NoSuchContainer(_)) => {}
            Err(e) => tracing::debug!(error = %e, "cleanup after a RUN step"),
        }
        Ok((guard, code))
    }
}
