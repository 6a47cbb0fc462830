//! The accept loop: one task per connection, HTTP/1.1 by hyper, and Podman's idle timeout
//! (the service exits once no connection has been open for `--time` seconds).

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hyper::header::HeaderValue;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::Notify;

use crate::ServiceError;
use crate::first_line::FirstLine;
use crate::listen::Listener;
use crate::pool::EnginePool;

enum Accepting {
    Unix(tokio::net::UnixListener),
    Tcp(tokio::net::TcpListener),
}

fn io_err(what: &str) -> impl FnOnce(std::io::Error) -> ServiceError + '_ {
    move |e| ServiceError::Io(what.to_string(), e)
}

impl Accepting {
    fn new(l: &Listener) -> Result<Accepting, ServiceError> {
        Ok(match l {
            Listener::Unix { listener, .. } => {
                let std = listener.try_clone().map_err(io_err("cloning the socket"))?;
                Accepting::Unix(
                    tokio::net::UnixListener::from_std(std)
                        .map_err(io_err("registering the socket"))?,
                )
            }
            Listener::Tcp(listener) => {
                let std = listener.try_clone().map_err(io_err("cloning the socket"))?;
                Accepting::Tcp(
                    tokio::net::TcpListener::from_std(std)
                        .map_err(io_err("registering the socket"))?,
                )
            }
        })
    }
}

/// Counts open connections; wakes the accept loop when one closes (the idle clock restarts).
#[derive(Clone, Default)]
struct Activity {
    open: Arc<AtomicUsize>,
    changed: Arc<Notify>,
}

struct OpenGuard(Activity);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
        self.0.changed.notify_one();
    }
}

impl Activity {
    fn opened(&self) -> OpenGuard {
        self.open.fetch_add(1, Ordering::SeqCst);
        OpenGuard(self.clone())
    }
    fn idle(&self) -> bool {
        self.open.load(Ordering::SeqCst) == 0
    }
}

pub async fn run(
    listener: Listener,
    pool: EnginePool,
    idle: Option<Duration>,
    cors: Option<String>,
) -> Result<(), ServiceError> {
    let cors = cors.and_then(|c| HeaderValue::from_str(&c).ok());
    let accepting = Accepting::new(&listener)?;
    let mut term = signal(SignalKind::terminate()).map_err(io_err("SIGTERM handler"))?;
    let mut int = signal(SignalKind::interrupt()).map_err(io_err("SIGINT handler"))?;
    let activity = Activity::default();
    loop {
        let idle_timer = async {
            match idle {
                Some(d) if activity.idle() => tokio::time::sleep(d).await,
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            accepted = accept(&accepting) => match accepted {
                Ok(conn) => {
                    let guard = activity.opened();
                    let pool = pool.clone();
                    let cors = cors.clone();
                    tokio::spawn(async move {
                        serve_connection(conn, pool, cors).await;
                        drop(guard);
                    });
                }
                Err(e) => tracing::warn!("accepting a connection: {e}"),
            },
            _ = idle_timer => {
                if activity.idle() {
                    tracing::info!("API service idle for {idle:?}: exiting");
                    break;
                }
            }
            _ = activity.changed.notified() => {}
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    drop(listener);
    Ok(())
}

trait Conn: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Conn for T {}

async fn accept(l: &Accepting) -> std::io::Result<Box<dyn Conn>> {
    Ok(match l {
        Accepting::Unix(l) => Box::new(l.accept().await?.0),
        Accepting::Tcp(l) => Box::new(l.accept().await?.0),
    })
}

/// Podman's CORS headers, on every answer when `--cors` is given.
fn add_cors(resp: &mut crate::http::Resp, origin: &HeaderValue) {
    let h = resp.headers_mut();
    h.insert("Access-Control-Allow-Origin", origin.clone());
    h.insert(
        "Access-Control-Allow-Headers",
        HeaderValue::from_static(
            "Origin, X-Requested-With, Content-Type, Accept, X-Registry-Auth, Connection, Upgrade, X-Registry-Config",
        ),
    );
    h.insert(
        "Access-Control-Allow-Methods",
        HeaderValue::from_static("HEAD, GET, POST, DELETE, PUT, OPTIONS"),
    );
}

async fn serve_connection(conn: Box<dyn Conn>, pool: EnginePool, cors: Option<HeaderValue>) {
    let service = service_fn(move |req| {
        let pool = pool.clone();
        let cors = cors.clone();
        async move {
            let mut resp = crate::docker::handle(req, pool).await;
            if let Some(origin) = &cors {
                add_cors(&mut resp, origin);
            }
            Ok::<_, Infallible>(resp)
        }
    });
    // Header names as Go's server writes them (`Access-Control-Allow-Origin`): clients
    // and scripts that grep for them (Podman's suite does) see what Podman sends.
    if let Err(e) = http1::Builder::new()
        .title_case_headers(true)
        .serve_connection(TokioIo::new(FirstLine::new(conn)), service)
        .with_upgrades()
        .await
    {
        tracing::debug!("connection ended: {e}");
    }
}
