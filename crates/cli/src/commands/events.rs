//! `events` (and `system events`): the engine reads and follows the log; this renders each
//! event as Podman does (its text line, `json`, or a Go template).

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use serde::Serialize;

use peapod_engine::Engine;
use peapod_engine::events::{Event, EventsRequest, text};

use crate::format::{self, Formatter};
use crate::{CliError, CliResult};

#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    /// Filter output (container, event, image, label, network, pod, status, type, volume)
    #[arg(short = 'f', long)]
    pub filter: Vec<String>,
    /// Format the output using a Go template, or 'json'
    #[arg(long)]
    pub format: Option<String>,
    /// Stream new events (the default); --stream=false prints the logged ones and exits
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub stream: bool,
    /// Show all events created since timestamp
    #[arg(long)]
    pub since: Option<String>,
    /// Show all events until timestamp
    #[arg(long)]
    pub until: Option<String>,
    /// Do not truncate the output (the default)
    #[arg(long = "no-trunc", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub no_trunc: bool,
}

/// What a template sees: Podman's `Event` fields, `Time` as Go prints a `time.Time`.
#[derive(Serialize)]
#[allow(non_snake_case)]
struct TemplateEvent<'a> {
    ContainerExitCode: i32,
    ID: &'a str,
    Image: &'a str,
    Name: &'a str,
    Network: &'a str,
    Status: &'a str,
    Time: String,
    Type: &'a str,
    HealthStatus: &'a str,
    PodID: &'a str,
    Attributes: std::collections::BTreeMap<String, String>,
}

impl<'a> TemplateEvent<'a> {
    fn of(e: &'a Event) -> Self {
        TemplateEvent {
            ContainerExitCode: e.exit_code,
            ID: &e.id,
            Image: &e.image,
            Name: &e.name,
            Network: &e.network,
            Status: &e.status,
            Time: text::go_string(&e.time),
            Type: e.kind.as_str(),
            HealthStatus: &e.health_status,
            PodID: &e.pod_id,
            Attributes: e.attributes.clone().unwrap_or_default(),
        }
    }
}

enum Render {
    Text { truncate: bool },
    Json,
    Template(Formatter),
}

impl Render {
    fn line(&self, e: &Event) -> CliResult<String> {
        Ok(match self {
            Render::Text { truncate } => format!("{}\n", e.to_text(*truncate)),
            Render::Json => format!("{}\n", e.to_json()),
            Render::Template(f) => {
                let v = format::to_value(&TemplateEvent::of(e))?;
                f.render(std::slice::from_ref(&v), &[], true)?
            }
        })
    }
}

pub fn events(engine: &Engine, a: EventsArgs) -> CliResult {
    let render = match a.format.as_deref() {
        None | Some("") => Render::Text {
            truncate: !a.no_trunc,
        },
        Some(f) if format::is_json(f) => Render::Json,
        Some(f) => Render::Template(Formatter::new("events", f)?),
    };
    // Ctrl-C or a TERM ends a stream; the command then exits 0, as Podman's does.
    let cancel = Arc::new(AtomicBool::new(false));
    if a.stream {
        for sig in [libc::SIGINT, libc::SIGTERM] {
            signal_hook::flag::register(sig, cancel.clone())
                .map_err(|e| CliError::engine(format!("installing a signal handler: {e}")))?;
        }
    }
    let req = EventsRequest {
        filters: a.filter,
        since: a.since,
        until: a.until,
        stream: a.stream,
        cancel: Some(cancel),
    };
    let mut out = std::io::stdout().lock();
    let mut failure: Option<CliError> = None;
    engine.events(&req, |e| {
        let written = render
            .line(e)
            .and_then(|l| out.write_all(l.as_bytes()).map_err(CliError::from))
            .and_then(|()| out.flush().map_err(CliError::from));
        match written {
            Ok(()) => Ok(true),
            Err(err) => {
                failure = Some(err);
                Ok(false)
            }
        }
    })?;
    match failure {
        Some(e) => Err(e),
        None => Ok(0),
    }
}
