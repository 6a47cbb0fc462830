//! peapod's API service (`peapod system service`): the Docker Engine API on a Unix or TCP
//! socket, as Podman's `pkg/api` serves it.
//!
//! This is a second front end over the engine: HTTP requests become the engine's request
//! structs, its reports become Docker's JSON. Nothing here reads the database or the host.
//! The engine is synchronous: every call runs on tokio's blocking pool with an [`Engine`]
//! of its own (see [`pool`]). The tokio runtime exists only while the service runs.

#![recursion_limit = "256"]

mod docker;
mod first_line;
mod http;
mod libpod;
pub mod listen;
mod pool;
mod server;

use std::time::Duration;

use peapod_engine::{Engine, EngineOptions};

pub use listen::Endpoint;

/// The Docker Engine API version served (Docker 25 semantics; docker CLI 29 needs ≥ 1.44).
pub const DOCKER_API_VERSION: &str = "1.44";
/// The oldest version accepted in a `/v1.NN/` path prefix.
pub const DOCKER_MIN_API_VERSION: &str = "1.24";

/// `system service` as plain values.
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    pub engine: EngineOptions,
    /// Where to listen; `None`: [`listen::default_endpoint`].
    pub uri: Option<String>,
    /// `--time`: exit after this long without a connection; `None`: never (`--time 0`).
    pub idle: Option<Duration>,
    /// `--cors`: the `Access-Control-Allow-Origin` every answer carries (with Podman's
    /// allowed headers and methods).
    pub cors: Option<String>,
}

/// Why the service could not start or stopped.
#[derive(Debug)]
pub enum ServiceError {
    /// Bad input (URI, a busy socket path): Podman's exit code 125.
    Engine(peapod_engine::Error),
    Io(String, std::io::Error),
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServiceError::Engine(e) => write!(f, "{e}"),
            ServiceError::Io(what, e) => write!(f, "{what}: {e}"),
        }
    }
}

impl std::error::Error for ServiceError {}

impl From<peapod_engine::Error> for ServiceError {
    fn from(e: peapod_engine::Error) -> Self {
        ServiceError::Engine(e)
    }
}

/// Run the service until it has been idle for `opts.idle`, or SIGINT/SIGTERM.
/// The socket is bound (and a busy path refused) before this returns an error or serves.
pub fn serve(opts: ServiceOptions) -> Result<(), ServiceError> {
    // Open the store once first: a broken store fails here, before anything listens.
    let engine = Engine::open(opts.engine.clone())?;
    let listener = listen::bind(opts.uri.as_deref(), &engine)?;
    tracing::info!("API service listening on {}", listener.endpoint());
    match &opts.cors {
        None => tracing::debug!("CORS Headers were not set"),
        Some(c) => tracing::debug!("CORS Headers were set to {c:?}"),
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(64)
        .build()
        .map_err(|e| ServiceError::Io("building the async runtime".into(), e))?;
    let pool = pool::EnginePool::new(opts.engine.clone(), engine);
    let result = runtime.block_on(server::run(listener, pool, opts.idle, opts.cors.clone()));
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}
