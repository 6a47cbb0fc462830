//! `generate systemd`: the engine's units printed one after the other (as Podman), or
//! with `--files` written to `SERVICE.service` in the working directory and
//! their paths printed; `--format json` maps service names to units.

use std::collections::BTreeMap;

use clap::{Args, CommandFactory};
use peapod_engine::Engine;
use peapod_engine::systemd::SystemdOptions;

use crate::{CliError, CliResult};

#[derive(Debug, Args)]
pub struct SystemdArgs {
    /// Use container/pod names instead of IDs
    #[arg(short = 'n', long)]
    pub name: bool,
    /// Generate .service files instead of printing to stdout
    #[arg(short = 'f', long)]
    pub files: bool,
    /// Make it a template file and use %i and %I specifiers. Working only for containers
    #[arg(long)]
    pub template: bool,
    /// Start timeout override
    #[arg(long = "start-timeout")]
    pub start_timeout: Option<u32>,
    /// Stop timeout override
    #[arg(long = "stop-timeout", short = 't', visible_alias = "time")]
    pub stop_timeout: Option<u32>,
    /// Create a new container or pod instead of starting an existing one
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub new: Option<bool>,
    /// Skip header generation
    #[arg(long = "no-header")]
    pub no_header: bool,
    /// Systemd unit name prefix for containers
    #[arg(long = "container-prefix", default_value = "container")]
    pub container_prefix: String,
    /// Systemd unit name prefix for pods
    #[arg(long = "pod-prefix", default_value = "pod")]
    pub pod_prefix: String,
    /// Systemd unit name separator between name/id and prefix
    #[arg(long, default_value = "-")]
    pub separator: String,
    /// Systemd restart-policy
    #[arg(long = "restart-policy")]
    pub restart_policy: Option<String>,
    /// Systemd restart-sec
    #[arg(long = "restart-sec")]
    pub restart_sec: Option<u32>,
    /// Print the created units in specified format (json)
    #[arg(long)]
    pub format: Option<String>,
    /// Add (weak) requirement dependencies to the generated unit file
    #[arg(long)]
    pub wants: Vec<String>,
    /// Add dependencies order to the generated unit file
    #[arg(long)]
    pub after: Vec<String>,
    /// Similar to wants, but declares stronger requirement dependencies
    #[arg(long)]
    pub requires: Vec<String>,
    /// Set environment variables to the systemd unit files
    #[arg(short = 'e', long)]
    pub env: Vec<String>,
    /// The container
    pub container: String,
}

/// The flags of `run` that take no value (`-d`, `--rm`, `--privileged`…), for finding a
/// create command's image and command.
fn run_bool_flags() -> Vec<String> {
    let cli = crate::cli::Cli::command();
    let Some(run) = cli.find_subcommand("run") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for a in run.get_arguments() {
        let no_value = matches!(
            a.get_action(),
            clap::ArgAction::SetTrue | clap::ArgAction::SetFalse | clap::ArgAction::Count
        ) || a.get_num_args().is_some_and(|n| n.min_values() == 0);
        if !no_value {
            continue;
        }
        if let Some(l) = a.get_long() {
            out.push(format!("--{l}"));
        }
        if let Some(s) = a.get_short() {
            out.push(format!("-{s}"));
        }
    }
    out
}

/// Podman's `json.MarshalIndent(units, "", " ")`.
fn json_one_space(v: &impl serde::Serialize) -> CliResult<String> {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b" ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    v.serialize(&mut ser)
        .map_err(|e| CliError::engine(e.to_string()))?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

pub fn generate(engine: &Engine, a: SystemdArgs) -> CliResult {
    if let Some(f) = &a.format
        && f != "json"
    {
        return Err(CliError::engine(format!(
            "unsupported format {f:?}: only json is supported"
        )));
    }
    // Podman: `--template` implies `--new`, and refuses `--new=false` with it.
    if a.template && a.new == Some(false) {
        return Err(CliError::engine("--template cannot be set"));
    }
    let opts = SystemdOptions {
        use_name: a.name,
        new: a.new.unwrap_or(a.template),
        template: a.template,
        no_header: a.no_header,
        restart_policy: a.restart_policy.clone(),
        restart_sec: a.restart_sec,
        start_timeout: a.start_timeout,
        stop_timeout: a.stop_timeout,
        container_prefix: a.container_prefix.clone(),
        pod_prefix: a.pod_prefix.clone(),
        separator: a.separator.clone(),
        wants: a.wants.clone(),
        after: a.after.clone(),
        requires: a.requires.clone(),
        env: a.env.clone(),
        bool_flags: run_bool_flags(),
    };
    let units = engine.generate_systemd(&a.container, &opts)?;
    if a.files {
        let dir = std::env::current_dir()?;
        let mut paths = BTreeMap::new();
        for u in &units {
            let path = dir.join(format!("{}.service", u.name));
            std::fs::write(&path, &u.content)
                .map_err(|e| CliError::engine(format!("writing {}: {e}", path.display())))?;
            paths.insert(u.name.clone(), path.display().to_string());
        }
        if a.format.is_some() {
            println!("{}", json_one_space(&paths)?);
        } else {
            for p in paths.values() {
                println!("{p}");
            }
        }
        return Ok(0);
    }
    if a.format.is_some() {
        let map: BTreeMap<&str, &str> = units
            .iter()
            .map(|u| (u.name.as_str(), u.content.as_str()))
            .collect();
        println!("{}", json_one_space(&map)?);
        return Ok(0);
    }
    for u in &units {
        print!("{}", u.content);
    }
    Ok(0)
}
