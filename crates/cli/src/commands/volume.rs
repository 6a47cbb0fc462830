//! `volume create|ls|inspect|rm|prune|exists|export|import`, with Podman's flags, output
//! and exit codes (`rm`: 1 for a missing volume, 2 for one in use).

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};

use clap::{Args, Subcommand};
use peapod_engine::volume::{InspectVolume, VolumeCreateOptions, VolumeError, VolumeFilter};
use peapod_engine::{Engine, Error};
use serde::Serialize;

use crate::output::{print_list, print_objects};
use crate::{CliError, CliResult};

#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    /// Create a new volume
    Create(CreateArgs),
    /// List volumes
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more volumes
    Inspect(InspectArgs),
    /// Remove one or more volumes
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Remove all unused volumes
    Prune(PruneArgs),
    /// Check if volume exists
    Exists(ExistsArgs),
    /// Export volumes
    Export(ExportArgs),
    /// Import a tarball contents into a volume
    Import(ImportArgs),
    /// Mount volume
    Mount(MountArgs),
    /// Unmount volume
    #[command(alias = "umount")]
    Unmount(MountArgs),
}

#[derive(Debug, Args)]
pub struct MountArgs {
    /// The volumes
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Specify volume driver name
    #[arg(long, default_value = "local")]
    pub driver: String,
    /// Set metadata for a volume
    #[arg(short = 'l', long = "label")]
    pub label: Vec<String>,
    /// Set driver specific options (type=, device=, o=)
    #[arg(short = 'o', long = "opt")]
    pub opt: Vec<String>,
    /// Do not fail if the volume already exists
    #[arg(long)]
    pub ignore: bool,
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Filter volume output (name=, label=, dangling=, driver=)
    #[arg(short = 'f', long)]
    pub filter: Vec<String>,
    /// Format volume output using JSON or a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Do not print headers
    #[arg(long)]
    pub noheading: bool,
    /// Print volume output in quiet mode
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Inspect all volumes
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Format volume output using JSON or a Go template
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Remove all volumes
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Remove a volume by force, even if it is being used by a container
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Seconds to wait for running containers to stop before killing the container
    #[arg(short = 't', long = "time")]
    pub time: Option<u32>,
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Provide filter values (e.g. 'label=<key>=<value>')
    #[arg(long)]
    pub filter: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ExistsArgs {
    pub name: String,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to a specified file (default: stdout, which must be redirected)
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    pub name: String,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    pub name: String,
    /// The tarball, or - (the default) for stdin
    pub source: Option<String>,
}

pub fn run(engine: &Engine, cmd: VolumeCommand) -> CliResult {
    match cmd {
        VolumeCommand::Create(a) => create(engine, a),
        VolumeCommand::Ls(a) => ls(engine, a),
        VolumeCommand::Inspect(a) => inspect(engine, a),
        VolumeCommand::Rm(a) => rm(engine, a),
        VolumeCommand::Prune(a) => prune(engine, a),
        VolumeCommand::Exists(a) => exists(engine, a),
        VolumeCommand::Export(a) => export(engine, a),
        VolumeCommand::Import(a) => import(engine, a),
        VolumeCommand::Mount(a) => mount(engine, a, true),
        VolumeCommand::Unmount(a) => mount(engine, a, false),
    }
}

/// `volume mount` and `unmount` are refused outside a rootless user's namespaces.
pub fn refuse_mount_outside(cmd: &VolumeCommand) -> CliResult<()> {
    match cmd {
        VolumeCommand::Mount(_) => {
            peapod_engine::volume::refuse_outside_user_namespace("volume mount")?
        }
        VolumeCommand::Unmount(_) => {
            peapod_engine::volume::refuse_outside_user_namespace("volume unmount")?
        }
        _ => {}
    }
    Ok(())
}

/// `volume mount` prints each mount point, `unmount` each name; errors after, one per line.
fn mount(engine: &Engine, a: MountArgs, mount: bool) -> CliResult {
    let mut code = 0;
    for n in &a.names {
        let done = if mount {
            engine.mount_volume(n).map(|p| p.display().to_string())
        } else {
            engine.unmount_volume(n).map(|()| n.clone())
        };
        match done {
            Ok(line) => println!("{line}"),
            Err(e) => {
                eprintln!("Error: {e}");
                code = crate::exit_code(&e);
            }
        }
    }
    Ok(code)
}

fn create(engine: &Engine, a: CreateArgs) -> CliResult {
    let opts = VolumeCreateOptions {
        name: a.name,
        driver: Some(a.driver),
        labels: a.label,
        options: a.opt,
        anonymous: false,
    };
    let v = if a.ignore {
        engine.create_volume_or_existing(&opts)?
    } else {
        engine.create_volume(&opts)?
    };
    println!("{}", v.name);
    Ok(0)
}

fn filters(given: &[String]) -> CliResult<Vec<VolumeFilter>> {
    Ok(given
        .iter()
        .map(|f| VolumeFilter::parse(f))
        .collect::<Result<_, _>>()?)
}

/// A row of `volume ls` as templates see it: the inspect fields, with Go's printing of
/// times and every field present.
#[derive(Serialize)]
#[allow(non_snake_case)]
struct VolumeRow {
    Name: String,
    Driver: String,
    Mountpoint: String,
    CreatedAt: String,
    Labels: BTreeMap<String, String>,
    Scope: String,
    Options: BTreeMap<String, String>,
    UID: u32,
    GID: u32,
    Anonymous: bool,
    MountCount: u32,
    NeedsCopyUp: bool,
    NeedsChown: bool,
}

/// Go's `time.Time.String()`: `2006-01-02 15:04:05.999999999 -0700 MST`.
fn ls(engine: &Engine, a: LsArgs) -> CliResult {
    let list = engine.list_volumes(&filters(&a.filter)?)?;
    if a.quiet {
        let mut out = std::io::stdout().lock();
        for v in &list {
            writeln!(out, "{}", v.name)?;
        }
        return Ok(0);
    }
    let json: Vec<InspectVolume> = list.iter().map(|v| engine.inspect_volume(v)).collect();
    let rows: Vec<VolumeRow> = list
        .iter()
        .zip(&json)
        .map(|(v, i)| VolumeRow {
            Name: i.Name.clone(),
            Driver: i.Driver.clone(),
            Mountpoint: i.Mountpoint.clone(),
            CreatedAt: peapod_engine::container::inspect::go_time_string(v.created),
            Labels: i.Labels.clone(),
            Scope: i.Scope.clone(),
            Options: i.Options.clone(),
            UID: v.uid.unwrap_or(0),
            GID: v.gid.unwrap_or(0),
            Anonymous: i.Anonymous,
            MountCount: i.MountCount,
            NeedsCopyUp: i.NeedsCopyUp,
            NeedsChown: i.NeedsChown,
        })
        .collect();
    let format = a
        .format
        .as_deref()
        .unwrap_or("table {{.Driver}}\t{{.Name}}");
    print_list(
        "volume ls",
        format,
        &json,
        &rows,
        &[("Name", "VOLUME NAME")],
        a.noheading,
    )?;
    Ok(0)
}

fn inspect(engine: &Engine, a: InspectArgs) -> CliResult {
    if a.all && !a.names.is_empty() {
        return Err(CliError::engine(
            "when passing --all, no arguments may be given",
        ));
    }
    if !a.all && a.names.is_empty() {
        return Err(CliError::engine(
            "provide one or more volume names or use --all",
        ));
    }
    let mut found = Vec::new();
    let mut code = 0;
    if a.all {
        found = engine
            .volumes()?
            .iter()
            .map(|v| engine.inspect_volume(v))
            .collect();
    }
    for n in &a.names {
        match engine.volume(n) {
            Ok(v) => found.push(engine.inspect_volume(&v)),
            Err(Error::Volume(VolumeError::NoSuchVolume(_))) => {
                eprintln!("Error: inspecting object: no such volume {n}");
                code = crate::ENGINE;
            }
            Err(e) => return Err(e.into()),
        }
    }
    match a.format.as_deref() {
        Some(f) if !crate::format::is_json(f) => {
            print_objects("volume inspect", Some(f), &template_views(&found))?
        }
        f => print_objects("volume inspect", f, &found)?,
    }
    Ok(code)
}

/// What a template sees of a volume: every field of Podman's struct, also those its JSON
/// leaves out when empty (`{{.NeedsChown}}` of a volume that needs none is `false`).
fn template_views(found: &[InspectVolume]) -> Vec<serde_json::Value> {
    found
        .iter()
        .map(|i| {
            let mut v = serde_json::to_value(i).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                for k in ["Anonymous", "NeedsCopyUp", "NeedsChown"] {
                    o.entry(k).or_insert(false.into());
                }
                for k in ["UID", "GID"] {
                    o.entry(k).or_insert(0.into());
                }
            }
            v
        })
        .collect()
}

fn rm_code(e: &Error) -> i32 {
    match e {
        Error::Volume(VolumeError::NoSuchVolume(_)) => 1,
        Error::Volume(VolumeError::InUse { .. }) => 2,
        e => crate::exit_code(e),
    }
}

fn rm(engine: &Engine, a: RmArgs) -> CliResult {
    let names: Vec<String> = if a.all {
        engine.volumes()?.into_iter().map(|v| v.name).collect()
    } else {
        a.names.clone()
    };
    if !a.all && names.is_empty() {
        return Err(CliError::engine("choose either one or more volumes or all"));
    }
    let mut code = 0;
    for n in &names {
        match engine.remove_volume(n, a.force, a.time) {
            Ok(()) => println!("{n}"),
            // Podman: `--force` also ignores a volume that does not exist.
            Err(Error::Volume(VolumeError::NoSuchVolume(_))) if a.force => {}
            Err(e) => {
                eprintln!("Error: {e}");
                code = rm_code(&e);
            }
        }
    }
    Ok(code)
}

fn prune(engine: &Engine, a: PruneArgs) -> CliResult {
    let filters = filters(&a.filter)?;
    if !a.force {
        let mut with_dangling = filters.clone();
        with_dangling.push(VolumeFilter::Dangling(true));
        let candidates = engine.list_volumes(&with_dangling)?;
        let mut err = std::io::stderr().lock();
        writeln!(
            err,
            "WARNING! This will remove all volumes not used by at least one container. The following volumes will be removed:"
        )?;
        for v in &candidates {
            writeln!(err, "{}", v.name)?;
        }
        write!(err, "Are you sure you want to continue? [y/N] ")?;
        err.flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "Yes") {
            return Ok(0);
        }
    }
    for n in engine.prune_volumes(&filters)? {
        println!("{n}");
    }
    Ok(0)
}

fn exists(engine: &Engine, a: ExistsArgs) -> CliResult {
    match engine.volume(&a.name) {
        Ok(_) => Ok(0),
        Err(Error::Volume(VolumeError::NoSuchVolume(_))) => Ok(1),
        Err(e) => Err(e.into()),
    }
}

fn no_such(e: Error, name: &str) -> CliError {
    match e {
        Error::Volume(VolumeError::NoSuchVolume(_)) => {
            CliError::engine(format!("no such volume {name}"))
        }
        e => e.into(),
    }
}

fn export(engine: &Engine, a: ExportArgs) -> CliResult {
    engine.volume(&a.name).map_err(|e| no_such(e, &a.name))?;
    match a.output.as_deref() {
        None | Some("/dev/stdout") | Some("-") => {
            let stdout = std::io::stdout();
            if stdout.is_terminal() {
                return Err(CliError::engine(
                    "cannot write to terminal, use command-line redirection or the --output flag",
                ));
            }
            engine.export_volume(&a.name, stdout.lock())?;
        }
        Some(path) => {
            let f = std::fs::File::create(path)
                .map_err(|e| CliError::engine(format!("creating {path}: {e}")))?;
            engine.export_volume(&a.name, std::io::BufWriter::new(f))?;
        }
    }
    Ok(0)
}

fn import(engine: &Engine, a: ImportArgs) -> CliResult {
    engine.volume(&a.name).map_err(|e| no_such(e, &a.name))?;
    match a.source.as_deref() {
        None | Some("-") => engine.import_volume(&a.name, std::io::stdin().lock())?,
        Some(path) => {
            let f = std::fs::File::open(path)
                .map_err(|e| CliError::engine(format!("opening {path}: {e}")))?;
            engine.import_volume(&a.name, std::io::BufReader::new(f))?;
        }
    }
    Ok(0)
}
