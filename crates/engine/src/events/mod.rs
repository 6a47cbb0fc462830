//! The event log: what happened to containers, pods, images, volumes and networks, in
//! Podman's `file` logger format (one JSON object per line, Podman 4.3's field names), so
//! `podman events` and `peapod events` read each other's logs.
//!
//! Whoever sees an event writes it: the engine at the successful end of an operation, the
//! monitor's exit command (`container cleanup`) for a `died`. A write is one `O_APPEND`
//! write of one line under a shared lock; only a rotation takes the lock exclusively (see
//! [`file`]). Where and whether to write comes from containers.conf (`events_logger`,
//! `events_logfile_path`, `events_logfile_max_size`) and `--events-backend`.
//!
//! * [`file`]: append, rotate, read and follow the log file.
//! * [`filter`]: `--filter`, `--since`, `--until` as Podman reads them.
//! * [`text`]: Podman's text line and Go's time formats.

pub mod file;
pub mod filter;
pub mod text;

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Local};
use serde::{Deserialize, Serialize};

use crate::Engine;
use crate::container::Container;
use crate::error::{Error, Result};

pub use filter::{EventFilters, parse_input_time};

/// Podman's default bound on the log (containers/common's `DefaultEventsLogSizeMax`).
pub const DEFAULT_MAX_SIZE: u64 = 1_000_000;

/// What an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    Container,
    Image,
    Network,
    Pod,
    System,
    Volume,
    Machine,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Container => "container",
            EventType::Image => "image",
            EventType::Network => "network",
            EventType::Pod => "pod",
            EventType::System => "system",
            EventType::Volume => "volume",
            EventType::Machine => "machine",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        Some(match s {
            "container" => EventType::Container,
            "image" => EventType::Image,
            "network" => EventType::Network,
            "pod" => EventType::Pod,
            "system" => EventType::System,
            "volume" => EventType::Volume,
            "machine" => EventType::Machine,
            _ => return None,
        })
    }
}

/// One event, as Podman 4.3 writes it (libpod/events `Event`): the JSON keys, their order
/// and which are left out when empty are Podman's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// A `died` container's (or an `exec_died` session's) exit code.
    #[serde(rename = "ContainerExitCode", default, skip_serializing_if = "is_zero")]
    pub exit_code: i32,
    #[serde(rename = "ID", default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(rename = "Image", default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    #[serde(rename = "Name", default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The network of a network event.
    #[serde(rename = "network", default, skip_serializing_if = "String::is_empty")]
    pub network: String,
    /// What happened: `create`, `start`, `died`, `pull`, `log-rotation`, …
    #[serde(rename = "Status")]
    pub status: String,
    #[serde(rename = "Time", with = "text::rfc3339nano")]
    pub time: DateTime<FixedOffset>,
    #[serde(rename = "Type")]
    pub kind: EventType,
    #[serde(
        rename = "health_status",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub health_status: String,
    #[serde(rename = "PodID", default, skip_serializing_if = "String::is_empty")]
    pub pod_id: String,
    /// A container's labels (Podman's `null` for the types that have none).
    #[serde(rename = "Attributes", default)]
    pub attributes: Option<BTreeMap<String, String>>,
}

fn is_zero(v: &i32) -> bool {
    *v == 0
}

impl Event {
    /// An event of `kind` with `status`, now.
    pub fn new(kind: EventType, status: &str) -> Event {
        Event {
            exit_code: 0,
            id: String::new(),
            image: String::new(),
            name: String::new(),
            network: String::new(),
            status: status.to_string(),
            time: Local::now().fixed_offset(),
            kind,
            health_status: String::new(),
            pod_id: String::new(),
            attributes: None,
        }
    }

    /// A container's event: its id, name, image, pod and labels (libpod's
    /// `newContainerEvent`).
    pub fn container(c: &Container, status: &str) -> Event {
        let mut e = Event::new(EventType::Container, status);
        e.id = c.id().to_string();
        e.name = c.name().to_string();
        e.image = c.config.image_name.clone();
        e.pod_id = c.config.pod.clone();
        e.attributes = Some(c.config.labels.clone());
        e
    }

    /// The line written to the log (no newline).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an event serializes")
    }

    /// Podman's text line (`podman events` without `--format`); `truncate` shortens ids
    /// to 12 characters.
    pub fn to_text(&self, truncate: bool) -> String {
        text::human(self, truncate)
    }
}

/// Where events go: containers.conf's `events_logger`, or `--events-backend`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Logger {
    /// Podman's `file` logger: JSON lines at `path`, rotated at `max_size` bytes (0: never).
    File { path: PathBuf, max_size: u64 },
    /// `none`: nothing is written, and `events` refuses to read.
    None,
}

impl Logger {
    /// The logger `backend` names (`file`, `none`; `journald`, which peapod does not
    /// write, falls back to the file with a warning), over containers.conf's path and size.
    pub fn resolve(
        backend: &str,
        path: Option<PathBuf>,
        max_size: Option<u64>,
        runroot: &std::path::Path,
    ) -> Result<Logger> {
        let path = path.unwrap_or_else(|| runroot.join("events").join("events.log"));
        let max_size = max_size.unwrap_or(DEFAULT_MAX_SIZE);
        match backend {
            "file" | "" => Ok(Logger::File { path, max_size }),
            "none" => Ok(Logger::None),
            "journald" => {
                tracing::warn!(
                    "events logger \"journald\" is not supported by peapod: writing events to {} (the \"file\" logger)",
                    path.display()
                );
                Ok(Logger::File { path, max_size })
            }
            other => Err(Error::invalid(format!(
                "invalid events backend {other:?}: use \"file\", \"journald\" or \"none\""
            ))),
        }
    }
}

/// `events`: which events, and whether to keep following the log.
#[derive(Debug, Clone, Default)]
pub struct EventsRequest {
    /// `--filter KEY=VALUE`, as given.
    pub filters: Vec<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    /// `--stream` (Podman's default): follow the log for new events.
    pub stream: bool,
    /// Set (e.g. by a signal handler) to end a stream.
    pub cancel: Option<Arc<AtomicBool>>,
}

/// How often a stream looks at the log: a `died` shows within a second.
pub const FOLLOW_INTERVAL: Duration = Duration::from_millis(100);

/// The engine's event sink, found on first use.
pub(crate) type LoggerCell = OnceCell<Logger>;

impl Engine {
    /// The logger this engine writes with (containers.conf read on first use).
    pub fn events_logger(&self) -> Result<&Logger> {
        if let Some(l) = self.events.get() {
            return Ok(l);
        }
        let conf = crate::config::containers_conf::ContainersConf::load()?;
        let backend = self
            .options()
            .events_backend
            .clone()
            .or(conf.engine.events_logger.clone())
            .unwrap_or_else(|| "file".into());
        let logger = Logger::resolve(
            &backend,
            conf.engine.events_logfile_path.clone(),
            conf.engine.events_logfile_max_size,
            self.runroot(),
        )?;
        Ok(self.events.get_or_init(|| logger))
    }

    /// Write an event. Never fails the operation that caused it: a log that cannot be
    /// written is reported as a warning, as Podman does.
    pub(crate) fn emit(&self, event: Event) {
        let logger = match self.events_logger() {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("Unable to write {} event: {e}", event.kind.as_str());
                return;
            }
        };
        if let Logger::File { path, max_size } = logger
            && let Err(e) = file::append(path, *max_size, &event)
        {
            tracing::warn!("Unable to write {} event: {e}", event.kind.as_str());
        }
    }

    /// A container's event (`create`, `start`, `stop`, …).
    pub(crate) fn emit_container(&self, c: &Container, status: &str) {
        self.emit(Event::container(c, status));
    }

    /// A container's `died`, with its exit code.
    pub(crate) fn emit_died(&self, c: &Container) {
        let mut e = Event::container(c, "died");
        e.exit_code = c.state.exit_code;
        self.emit(e);
    }

    /// A container's `health_status`, with the status the check left it in.
    pub(crate) fn emit_health_status(&self, c: &Container, status: &str) {
        let mut e = Event::container(c, "health_status");
        e.health_status = status.to_string();
        self.emit(e);
    }

    /// An image's event: `id` of the image (empty when Podman leaves it out, as for a
    /// pull), `name` what the operation named.
    pub(crate) fn emit_image(&self, status: &str, id: &str, name: &str) {
        let mut e = Event::new(EventType::Image, status);
        e.id = id.to_string();
        e.name = name.to_string();
        self.emit(e);
    }

    pub(crate) fn emit_pod(&self, pod: &crate::pod::Pod, status: &str) {
        let mut e = Event::new(EventType::Pod, status);
        e.id = pod.id().to_string();
        e.name = pod.name().to_string();
        self.emit(e);
    }

    pub(crate) fn emit_volume(&self, name: &str, status: &str) {
        let mut e = Event::new(EventType::Volume, status);
        e.name = name.to_string();
        self.emit(e);
    }

    /// A network event: `connect`/`disconnect` of a container (its id and name), or
    /// `create`/`remove` of the network itself (its id, with `driver` as an attribute).
    pub(crate) fn emit_network(&self, status: &str, id: &str, name: &str, network: &str) {
        let mut e = Event::new(EventType::Network, status);
        e.id = id.to_string();
        e.name = name.to_string();
        e.network = network.to_string();
        self.emit(e);
    }

    /// `create`/`remove` of a network itself: its id and name, its driver as an attribute
    /// (Podman 5's form; 4.3 logged no network create/remove).
    pub(crate) fn emit_network_object(&self, status: &str, net: &crate::network::Network) {
        let mut e = Event::new(EventType::Network, status);
        e.id = net.id.clone();
        e.name = net.name.clone();
        e.network = net.name.clone();
        e.attributes = Some([("driver".to_string(), net.driver.clone())].into());
        self.emit(e);
    }

    pub(crate) fn emit_system(&self, status: &str) {
        self.emit(Event::new(EventType::System, status));
    }

    /// `events`: every logged event that passes the filters, in order, to `each`; with
    /// `stream`, then every new one as it is written, until `until` passes, the request is
    /// cancelled, or `each` answers false.
    pub fn events(
        &self,
        req: &EventsRequest,
        mut each: impl FnMut(&Event) -> Result<bool>,
    ) -> Result<()> {
        let filters =
            EventFilters::parse(&req.filters, req.since.as_deref(), req.until.as_deref())?;
        let path = match self.events_logger()? {
            Logger::File { path, .. } => path.clone(),
            Logger::None => {
                return Err(Error::invalid(
                    "cannot read events with the \"none\" backend",
                ));
            }
        };
        // Podman starts a stream at the end of the log unless a time bound is given.
        let from_start = !req.stream || req.since.is_some() || req.until.is_some();
        let cancelled = || {
            req.cancel
                .as_ref()
                .is_some_and(|c| c.load(Ordering::Relaxed))
        };
        let mut reader = file::Reader::open(&path, from_start)?;
        loop {
            for e in reader.read_new()? {
                if filters.matches(&e) && !each(&e)? {
                    return Ok(());
                }
            }
            if !req.stream || cancelled() || filters.until_passed() {
                return Ok(());
            }
            std::thread::sleep(FOLLOW_INTERVAL);
        }
    }
}

impl Engine {
    /// An exec session's `exec_died`, with the exit code its monitor wrote (none: the
    /// session never ran, and nothing is logged).
    pub(crate) fn emit_exec_died(&self, c: &Container, session: &str) {
        let exit = self
            .paths
            .bundle(c.id())
            .join(session)
            .join("exit")
            .join(c.id());
        let Some(code) = std::fs::read_to_string(exit)
            .ok()
            .and_then(|t| peapod_monitor::parse_exit_file(&t))
        else {
            return;
        };
        let mut e = Event::container(c, "exec_died");
        e.exit_code = code;
        self.emit(e);
    }
}
