//! inspect (any object), version, info, and the `system` group: prune, reset, check.

use peapod_engine::system::json_tags;
use peapod_engine::system::version as version_report;
use peapod_engine::{Engine, Error};
use serde::Serialize;

use crate::cli::*;
use crate::output::print_objects;
use crate::{CliError, CliResult};

pub fn inspect(engine: &Engine, a: InspectArgs) -> CliResult {
    #[derive(Serialize)]
    #[serde(untagged)]
    enum Obj {
        Container(Box<peapod_engine::container::inspect::InspectContainer>),
        Image(Box<peapod_engine::images::ImageInspect>),
    }
    let mut objs = Vec::new();
    let mut code = 0;
    let mut names = a.names.clone();
    if a.latest {
        let latest = engine.ps(&peapod_engine::container::ps::PsRequest {
            latest: true,
            ..Default::default()
        })?;
        let Some(e) = latest.first() else {
            return Err(CliError::engine("no containers to inspect"));
        };
        names.push(e.container.id().to_string());
    }
    for name in &names {
        let found = match a.kind.as_str() {
            "container" | "all" => match engine.container(name) {
                Ok(c) => Some(Obj::Container(Box::new(engine.inspect_container(&c)))),
                Err(Error::NoSuchContainer(_)) => None,
                Err(e) => return Err(e.into()),
            },
            "image" => None,
            other => {
                return Err(CliError::engine(format!(
                    "invalid type {other:?}: must be container, image or all"
                )));
            }
        };
        let found = match found {
            Some(f) => Some(f),
            None if a.kind != "container" => match engine.resolve_image(name) {
                Ok(r) => Some(Obj::Image(Box::new(engine.inspect_image(&r)?))),
                Err(Error::NoSuchImage(_)) => None,
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        match found {
            Some(o) => objs.push(o),
            None => {
                // Podman's words, under its "inspecting object" prefix.
                match a.kind.as_str() {
                    "container" => eprintln!("Error: inspecting object: no such container {name}"),
                    "image" => eprintln!("Error: inspecting object: {name}: image not known"),
                    _ => eprintln!("Error: inspecting object: no such object: \"{name}\""),
                }
                code = crate::ENGINE;
            }
        }
    }
    if !objs.is_empty() || code == 0 {
        print_objects("inspect", a.format.as_deref(), &objs)?;
    }
    Ok(code)
}

pub fn version(a: VersionArgs) -> CliResult {
    match a.format.as_deref() {
        // Podman prints the one report as a compact JSON object, not an array.
        Some(f) if crate::format::is_json(f) => println!(
            "{}",
            serde_json::to_string(&version_report(false))
                .map_err(|e| CliError::engine(e.to_string()))?
        ),
        Some(f) => print_objects(
            "version",
            Some(f),
            std::slice::from_ref(&version_report(true)),
        )?,
        None => {
            let c = version_report(false).Client;
            println!(
                "Version:      {}\nAPI Version:  {}\nGo Version:   {}\nBuilt:        unknown\nOS/Arch:      {}",
                c.Version, c.APIVersion, c.GoVersion, c.OsArch
            );
        }
    }
    Ok(0)
}

pub fn info(engine: &Engine, a: InfoArgs) -> CliResult {
    let info = engine.info()?;
    match a.format.as_deref() {
        // Podman's JSON: one object under its JSON tags (lowerCamel), 4-space indents.
        Some("json") => {
            let v = serde_json::to_value(&info).map_err(|e| CliError::engine(e.to_string()))?;
            let mut out = Vec::new();
            let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
            serde::Serialize::serialize(&json_tags(v), &mut ser)
                .map_err(|e| CliError::engine(e.to_string()))?;
            out.push(b'\n');
            std::io::Write::write_all(&mut std::io::stdout().lock(), &out)?;
        }
        Some(f) => print_objects("info", Some(f), std::slice::from_ref(&info))?,
        None => {
            // Podman prints YAML with lowerCamel keys by default.
            let v = serde_json::to_value(&info).map_err(|e| CliError::engine(e.to_string()))?;
            let mut out = String::new();
            yaml(&json_tags(v), 0, &mut out);
            print!("{out}");
        }
    }
    Ok(0)
}

/// A small YAML printer for `info`'s plain data (maps, lists, scalars), its keys already
/// Podman's ([`json_tags`]).
fn yaml(v: &serde_json::Value, indent: usize, out: &mut String) {
    use serde_json::Value;
    let pad = "  ".repeat(indent);
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match v {
                    Value::Object(inner) if !inner.is_empty() => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        yaml(v, indent + 1, out);
                    }
                    Value::Array(items) if !items.is_empty() => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        for i in items {
                            match i {
                                // `- first: v` then the other keys under it.
                                Value::Object(_) => {
                                    let mut inner = String::new();
                                    yaml(i, indent + 1, &mut inner);
                                    let inner =
                                        inner.replacen(&format!("{pad}  "), &format!("{pad}- "), 1);
                                    out.push_str(&inner);
                                }
                                _ => out.push_str(&format!("{pad}- {}\n", scalar(i))),
                            }
                        }
                    }
                    // A multi-line string as go-yaml writes it: a literal block, `|-`.
                    serde_json::Value::String(text) if text.contains('\n') => {
                        out.push_str(&format!("{pad}{k}: |-\n"));
                        for line in text.lines() {
                            out.push_str(&format!("{pad}  {line}\n"));
                        }
                    }
                    _ => out.push_str(&format!("{pad}{k}: {}\n", scalar(v))),
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
}

fn scalar(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) if s.is_empty() => "\"\"".into(),
        serde_json::Value::String(s)
            if s.contains(": ") || s.starts_with(['{', '[', '*', '&', '!', '%', '@', '`']) =>
        {
            format!("{s:?}")
        }
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(_) => "{}".into(),
        serde_json::Value::Array(_) => "[]".into(),
        other => other.to_string(),
    }
}

/// `unshare [--rootless-netns] [CMD…]`: the command replaces peapod inside the user's
/// namespaces (joined at start); returns only when it could not run.
pub fn unshare(g: &Global, a: UnshareArgs) -> CliResult {
    if !peapod_engine::rootless::is_rootless() {
        return Err(Error::from(peapod_engine::rootless::RootlessError::NotRootless).into());
    }
    if a.rootless_netns {
        return Err(CliError::engine(
            "--rootless-netns: rootless bridge networks are not supported by peapod yet",
        ));
    }
    let engine = super::open(g)?;
    Err(engine.unshare(&a.command).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_mappings_as_podman_prints_them() {
        let mut out = String::new();
        yaml(
            &json_tags(serde_json::json!({"Host": {"IDMappings": {
                "GIDMap": null,
                "UIDMap": [{"ContainerID": 0, "HostID": 1001, "Size": 1},
                           {"ContainerID": 1, "HostID": 100000, "Size": 65536}]}}})),
            0,
            &mut out,
        );
        assert_eq!(
            out,
            "host:\n  idMappings:\n    gidmap: null\n    uidmap:\n    - container_id: 0\n      host_id: 1001\n      size: 1\n    - container_id: 1\n      host_id: 100000\n      size: 65536\n"
        );
    }

    #[test]
    fn podman_yaml_keys() {
        use peapod_engine::system::lower_camel;
        assert_eq!(lower_camel("OCIRuntime"), "ociRuntime");
        assert_eq!(lower_camel("MemTotal"), "memTotal");
        assert_eq!(lower_camel("OS"), "os");
        assert_eq!(lower_camel("number"), "number");
        let mut out = String::new();
        yaml(
            &json_tags(
                serde_json::json!({"Host": {"Arch": "amd64", "Conmon": {"Path": "/x"}}, "Store": {"GraphRoot": ""}}),
            ),
            0,
            &mut out,
        );
        assert_eq!(
            out,
            "host:\n  arch: amd64\n  conmon:\n    path: /x\nstore:\n  graphRoot: \"\"\n"
        );
    }

    #[test]
    fn graph_options_as_podman_prints_them() {
        let mut out = String::new();
        let v = serde_json::json!({"Store": {"GraphOptions": {"overlay.mount_program": {
            "Executable": "/usr/bin/fuse-overlayfs",
            "Package": "fuse-overlayfs_1.10-1_amd64",
            "Version": "fusermount3 version: 3.14.0\nfuse-overlayfs: version 1.10"}}}});
        yaml(&json_tags(v), 0, &mut out);
        assert_eq!(
            out,
            "store:\n  graphOptions:\n    overlay.mount_program:\n      Executable: /usr/bin/fuse-overlayfs\n      Package: fuse-overlayfs_1.10-1_amd64\n      Version: |-\n        fusermount3 version: 3.14.0\n        fuse-overlayfs: version 1.10\n"
        );
    }
}

/// `system prune|reset|check|info`.
#[derive(Debug, clap::Subcommand)]
pub enum SystemCommand {
    /// Remove unused data
    Prune(SystemPruneArgs),
    /// Reset peapod storage: remove every container, pod, image, volume and network
    Reset(SystemResetArgs),
    /// Find (and with --repair release) what removed or interrupted containers and pods left
    /// on this machine: namespace pins, leases, firewall rules, runtime containers, mounts
    Check(SystemCheckArgs),
    /// Display peapod system information
    Info(InfoArgs),
    /// Show peapod disk usage
    Df(super::df::DfArgs),
    /// Show peapod events
    Events(super::events::EventsArgs),
    /// Run an API service (the Docker Engine API) on a socket
    Service(ServiceArgs),
}

#[derive(Debug, clap::Args)]
pub struct ServiceArgs {
    /// Time until the service session expires in seconds. Use 0 to disable the timeout
    #[arg(short = 't', long = "time", default_value_t = 5)]
    pub time: u64,
    /// unix:///path/to/socket or tcp://HOST:PORT (default: unix:///run/peapod/peapod.sock
    /// as root; RUNROOT/peapod.sock when --runroot is given)
    pub uri: Option<String>,
    /// Set CORS Headers (`Access-Control-Allow-Origin` on every answer)
    #[arg(long)]
    pub cors: Option<String>,
}

/// `system service`: the API service runs until idle for `--time` seconds (0: forever).
pub fn service(g: &crate::cli::Global, a: ServiceArgs) -> CliResult {
    let opts = peapod_api::ServiceOptions {
        engine: super::engine_options(g)?,
        uri: a.uri,
        idle: (a.time > 0).then(|| std::time::Duration::from_secs(a.time)),
        cors: a.cors.filter(|c| !c.is_empty()),
    };
    peapod_api::serve(opts).map_err(|e| match e {
        peapod_api::ServiceError::Engine(e) => e.into(),
        e => crate::CliError::engine(e.to_string()),
    })?;
    Ok(0)
}

#[derive(Debug, clap::Args)]
pub struct SystemPruneArgs {
    /// Remove all unused data
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Provide filter values (e.g. 'label=<key>=<value>')
    #[arg(long)]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation.  The default is false
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Prune volumes
    #[arg(long)]
    pub volumes: bool,
}

#[derive(Debug, clap::Args)]
pub struct SystemResetArgs {
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
}

#[derive(Debug, clap::Args)]
pub struct SystemCheckArgs {
    /// Release what was found
    #[arg(short = 'r', long)]
    pub repair: bool,
}

pub fn run(engine: &Engine, c: SystemCommand) -> CliResult {
    match c {
        SystemCommand::Prune(a) => prune(engine, a),
        SystemCommand::Reset(a) => reset(engine, a),
        SystemCommand::Check(a) => check(engine, a),
        SystemCommand::Info(a) => info(engine, a),
        SystemCommand::Df(a) => super::df::df(engine, a),
        SystemCommand::Events(a) => super::events::events(engine, a),
        SystemCommand::Service(a) => service_needs_no_engine(a),
    }
}

/// Ask on stdout, as Podman does; true for an answer starting with `y`.
fn confirmed(question: &str) -> CliResult<bool> {
    use std::io::{BufRead, Write};
    print!("{question}");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim_start().to_ascii_lowercase().starts_with('y'))
}

fn prune(engine: &Engine, a: SystemPruneArgs) -> CliResult {
    let filters = a
        .filter
        .iter()
        .map(|f| peapod_engine::system::PruneFilter::parse(f))
        .collect::<Result<Vec<_>, _>>()?;
    if !a.force {
        let volumes = if a.volumes {
            "\n\t- all volumes not used by at least one container"
        } else {
            ""
        };
        let images = if a.all {
            "\t- all images without at least one container associated with them\n\t- all build cache"
        } else {
            "\t- all dangling images\n\t- all dangling build cache"
        };
        let warning = format!(
            "WARNING! This command removes:\n\t- all stopped containers\n\t- all networks not used by at least one container{volumes}\n{images}\n\nAre you sure you want to continue? [y/N] "
        );
        if !confirmed(&warning)? {
            return Ok(0);
        }
    }
    let report = engine.system_prune(&peapod_engine::system::SystemPruneOptions {
        all: a.all,
        volumes: a.volumes,
        filters,
    })?;
    for (heading, list) in [
        ("Deleted Containers", &report.containers),
        ("Deleted Pods", &report.pods),
        ("Deleted Volumes", &report.volumes),
        ("Deleted Images", &report.images),
        ("Deleted Networks", &report.networks),
    ] {
        if !list.is_empty() {
            println!("{heading}");
            for x in list {
                println!("{x}");
            }
        }
    }
    println!(
        "Total reclaimed space: {}",
        crate::human::size(report.reclaimed)
    );
    for e in &report.errors {
        eprintln!("Error: {e}");
    }
    Ok(if report.errors.is_empty() {
        0
    } else {
        crate::ENGINE
    })
}

fn reset(engine: &Engine, a: SystemResetArgs) -> CliResult {
    if !a.force {
        let warning = format!(
            "WARNING! This will remove:\n        - all containers\n        - all pods\n        - all images\n        - all networks\n        - all volumes\n        - the graphRoot directory: {:?}\n        - the runRoot directory: {:?}\nAre you sure you want to continue? [y/N] ",
            engine.root().display().to_string(),
            engine.runroot().display().to_string()
        );
        if !confirmed(&warning)? {
            return Ok(0);
        }
    }
    engine.system_reset()?;
    Ok(0)
}

fn check(engine: &Engine, a: SystemCheckArgs) -> CliResult {
    let report = engine.system_check(a.repair)?;
    if !a.repair {
        for f in &report.findings {
            println!("Left behind: {}", f.what);
        }
        if report.findings.is_empty() {
            return Ok(0);
        }
        return Err(CliError::engine(format!(
            "found {} resource(s) left behind by removed or interrupted containers and pods: `peapod system check --repair` releases them",
            report.findings.len()
        )));
    }
    let mut code = 0;
    for f in &report.findings {
        match &f.released {
            Some(Ok(())) => println!("Released: {}", f.what),
            Some(Err(e)) => {
                eprintln!("Error: releasing {}: {e}", f.what);
                code = crate::ENGINE;
            }
            None => {}
        }
    }
    // What a repair left is an error, whatever it is.
    let left = engine.system_check(false)?;
    if !left.findings.is_empty() {
        return Err(CliError::engine(format!(
            "still left behind after the repair: {}",
            left.findings
                .iter()
                .map(|f| f.what.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        )));
    }
    Ok(code)
}

/// `run` is never given `service` (dispatched before an engine is opened).
fn service_needs_no_engine(_: ServiceArgs) -> CliResult {
    Err(crate::CliError::engine(
        "system service is dispatched without an engine",
    ))
}
