//! `rename`, `init`, `diff` and `update` (also under `container`; `diff` under `image` too);
//! `container runlabel`.

use std::io::Write;

use clap::Args;
use peapod_engine::Engine;

use crate::output::print_each;
use crate::{CliError, CliResult};

#[derive(Debug, Args)]
pub struct RenameArgs {
    pub container: String,
    pub name: String,
}

pub fn rename(engine: &Engine, a: RenameArgs) -> CliResult {
    engine.rename_container(&a.container, &a.name)?;
    Ok(0)
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Initialize all containers
    #[arg(short = 'a', long)]
    pub all: bool,
    /// The containers to initialize
    pub containers: Vec<String>,
}

/// `init`: each container initialized (in parallel), printed as given (`--all`: by id).
pub fn init(engine: &Engine, a: InitArgs) -> CliResult {
    if a.all && !a.containers.is_empty() {
        return Err(CliError::engine(
            "--all and containers cannot be used together",
        ));
    }
    if !a.all && a.containers.is_empty() {
        return Err(CliError::engine(
            "you must provide at least one container name or ID",
        ));
    }
    let targets = if a.all {
        engine
            .containers()?
            .into_iter()
            .filter(|c| {
                matches!(
                    c.state.status,
                    peapod_engine::container::Status::Created
                        | peapod_engine::container::Status::Exited
                )
            })
            .map(|c| peapod_engine::parallel::Target {
                given: c.id().to_string(),
                id: c.id().to_string(),
            })
            .collect()
    } else {
        engine.resolve_containers(&a.containers, false)?
    };
    let ids: Vec<String> = targets.iter().map(|t| t.id.clone()).collect();
    let results = engine.on_many(&ids, |e, id| e.init_container(id).map(drop));
    print_each(
        &targets,
        results,
        |t, _| Some(t.given.clone()),
        |_| peapod_engine::error::exit::ENGINE,
    )
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Change the output format (json)
    #[arg(long)]
    pub format: Option<String>,
    /// Act on the latest container podman is aware of
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// A container or an image (two to compare are not supported)
    pub names: Vec<String>,
}

/// `diff`: `C|A|D PATH` lines, or Podman's JSON (`changed`, `added`, `deleted`).
pub fn diff(engine: &Engine, a: DiffArgs) -> CliResult {
    use peapod_engine::container::diff::ChangeKind;
    let target = match (a.latest, a.names.as_slice()) {
        (true, []) => {
            let latest = engine.ps(&peapod_engine::container::ps::PsRequest {
                latest: true,
                ..Default::default()
            })?;
            match latest.first() {
                Some(e) => e.container.id().to_string(),
                None => return Err(CliError::engine("no containers to diff")),
            }
        }
        (false, [one]) => one.clone(),
        (true, _) => {
            return Err(CliError::engine(
                "--latest and containers cannot be used together",
            ));
        }
        (false, []) => {
            return Err(CliError::engine(
                "container, image, or layer name must be specified",
            ));
        }
        (false, _) => {
            return Err(CliError::engine(
                "comparing two objects is not supported by peapod: give one container or image",
            ));
        }
    };
    let changes = engine.diff(&target)?;
    let mut out = std::io::stdout().lock();
    match a.format.as_deref() {
        Some("json") => {
            let pick = |k: ChangeKind| -> Vec<&str> {
                changes
                    .iter()
                    .filter(|c| c.kind == k)
                    .map(|c| c.path.as_str())
                    .collect()
            };
            /// Podman's `ChangesReportJSON`.
            #[derive(serde::Serialize)]
            struct Report<'a> {
                #[serde(skip_serializing_if = "Vec::is_empty")]
                changed: Vec<&'a str>,
                #[serde(skip_serializing_if = "Vec::is_empty")]
                added: Vec<&'a str>,
                #[serde(skip_serializing_if = "Vec::is_empty")]
                deleted: Vec<&'a str>,
            }
            let obj = Report {
                changed: pick(ChangeKind::Changed),
                added: pick(ChangeKind::Added),
                deleted: pick(ChangeKind::Deleted),
            };
            let mut buf = Vec::new();
            let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
            serde::Serialize::serialize(&obj, &mut ser)
                .map_err(|e| CliError::engine(e.to_string()))?;
            buf.push(b'\n');
            out.write_all(&buf)?;
        }
        Some(other) => {
            return Err(CliError::engine(format!(
                "--format {other:?} is not supported: only json"
            )));
        }
        None => {
            for c in &changes {
                writeln!(out, "{} {}", c.kind.letter(), c.path)?;
            }
        }
    }
    Ok(0)
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub resources: crate::cli::ResourceArgs,
    /// The container to update
    pub container: String,
}

/// `update`: the container's id once its limits are changed.
pub fn update(engine: &Engine, a: UpdateArgs) -> CliResult {
    let id = engine.update_container(&a.container, &a.resources.flags())?;
    println!("{id}");
    Ok(0)
}

#[derive(Debug, Args)]
pub struct RunlabelArgs {
    /// Display the label's value of the image having populated its environment variables
    #[arg(long)]
    pub display: bool,
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Optional parameter to pass for install
    #[arg(long)]
    pub opt1: Option<String>,
    /// Optional parameter to pass for install
    #[arg(long)]
    pub opt2: Option<String>,
    /// Optional parameter to pass for install
    #[arg(long)]
    pub opt3: Option<String>,
    /// Suppress output information when installing images
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// The label (INSTALL, RUN, …)
    pub label: String,
    pub image: String,
    /// Appended to the label's command
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

/// `container runlabel`: `command: …` printed, then run (unless `--display`); its exit code.
pub fn runlabel(engine: &Engine, a: RunlabelArgs) -> CliResult {
    // A leading `podman` becomes this program as it was invoked (Podman's os.Args[0]).
    let self_exe = std::env::args_os()
        .next()
        .map(|a| a.to_string_lossy().into_owned())
        .filter(|a| !a.is_empty())
        .or_else(|| {
            std::env::current_exe()
                .ok()
                .map(|p| p.display().to_string())
        })
        .unwrap_or_else(|| "peapod".into());
    let mut words = engine.runlabel_command(&peapod_engine::images::RunlabelRequest {
        label: a.label.clone(),
        image: a.image.clone(),
        name: a.name.clone(),
        opt1: a.opt1.clone(),
        opt2: a.opt2.clone(),
        opt3: a.opt3.clone(),
        self_exe,
    })?;
    words.extend(a.args.iter().cloned());
    if !a.quiet || a.display {
        println!("command: {}", words.join(" "));
    }
    if a.display {
        return Ok(0);
    }
    let Some((bin, rest)) = words.split_first() else {
        return Ok(0);
    };
    let status = std::process::Command::new(bin)
        .args(rest)
        .status()
        .map_err(|e| CliError::engine(format!("running {bin}: {e}")))?;
    Ok(status.code().unwrap_or(125))
}
