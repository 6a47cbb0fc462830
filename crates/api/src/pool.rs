//! Engines for blocking tasks. An [`Engine`] holds a database connection and is not shared
//! across threads: each blocking call takes one from the pool (or opens one) and gives it
//! back, so concurrent requests each have their own and idle ones are reused.

use std::sync::{Arc, Mutex};

use peapod_engine::{Engine, EngineOptions, Error};

/// Idle engines kept for reuse; more are opened under load and dropped beyond this.
const KEEP: usize = 8;

#[derive(Clone)]
pub struct EnginePool {
    opts: EngineOptions,
    idle: Arc<Mutex<Vec<Engine>>>,
}

impl EnginePool {
    pub fn new(opts: EngineOptions, first: Engine) -> Self {
        EnginePool {
            opts,
            idle: Arc::new(Mutex::new(vec![first])),
        }
    }

    fn take(&self) -> Result<Engine, Error> {
        let popped = self.idle.lock().map(|mut v| v.pop()).unwrap_or(None);
        match popped {
            Some(e) => Ok(e),
            None => Engine::open(self.opts.clone()),
        }
    }

    fn give(&self, e: Engine) {
        if let Ok(mut v) = self.idle.lock()
            && v.len() < KEEP
        {
            v.push(e);
        }
    }

    /// Run `f` with an engine on tokio's blocking pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Engine) -> Result<T, Error> + Send + 'static,
    {
        let pool = self.clone();
        tokio::task::spawn_blocking(move || {
            let engine = pool.take()?;
            let out = f(&engine);
            pool.give(engine);
            out
        })
        .await
        .map_err(|e| Error::other(format!("API worker failed: {e}")))?
    }

    /// Run `f` with an engine on the calling thread (one already on the blocking pool).
    pub fn blocking<T>(&self, f: impl FnOnce(&Engine) -> Result<T, Error>) -> Result<T, Error> {
        let engine = self.take()?;
        let out = f(&engine);
        self.give(engine);
        out
    }

    /// Like [`EnginePool::run`] for a call that streams (logs -f): the engine is dropped
    /// after, not kept, as the call may last long.
    pub fn spawn_stream<F>(&self, f: F)
    where
        F: FnOnce(Result<Engine, Error>) + Send + 'static,
    {
        let pool = self.clone();
        tokio::task::spawn_blocking(move || f(pool.take()));
    }
}
