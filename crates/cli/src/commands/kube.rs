//! `kube play|down|generate` (also `generate kube` and `play kube`), with Podman's flags
//! and output.

use std::io::{Read, Write};
use std::path::PathBuf;

use clap::{Args, Subcommand};
use peapod_engine::Engine;
use peapod_engine::kube::{GenerateOptions, KubeType, PlayOptions, TeardownReport};

use crate::{CliError, CliResult};

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once, never moved around
pub enum KubeCommand {
    /// Play a pod or volume based on Kubernetes YAML
    Play(PlayArgs),
    /// Remove pods based on Kubernetes YAML
    Down(DownArgs),
    /// Generate Kubernetes YAML based on containers, pods or volumes
    Generate(GenerateArgs),
}

/// `generate kube` (Podman's older spelling).
#[derive(Debug, Subcommand)]
pub enum GenerateCommand {
    /// Generate Kubernetes YAML based on containers, pods or volumes
    Kube(GenerateArgs),
    /// Generate systemd units
    Systemd(crate::commands::systemd::SystemdArgs),
}

/// `play kube` (Podman's older spelling).
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once, never moved around
pub enum PlayCommand {
    /// Play a pod or volume based on Kubernetes YAML
    Kube(PlayArgs),
}

#[derive(Debug, Args)]
pub struct PlayArgs {
    /// Path to the Kubernetes YAML file, or - for stdin
    pub file: String,
    /// Delete and recreate pods described by the YAML
    #[arg(long)]
    pub replace: bool,
    /// Stop and remove the pods described by the YAML instead
    #[arg(long)]
    pub down: bool,
    /// Start the pod after creating it
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub start: bool,
    /// Connect pods to these networks
    #[arg(long)]
    pub network: Vec<String>,
    /// Path to a YAML file holding ConfigMaps
    #[arg(long)]
    pub configmap: Vec<String>,
    /// Logging driver for the containers
    #[arg(long = "log-driver")]
    pub log_driver: Option<String>,
    /// Pull policy for every image (default: each container's imagePullPolicy, else missing)
    #[arg(long)]
    pub pull: Option<String>,
    /// Suppress output information when pulling images
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Build images whose directory (named after the image, in the context directory) holds a Containerfile, even if they exist locally
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub build: Option<bool>,
    /// Path to the top-level directory holding the directories of images to build (default: the current working directory)
    #[arg(long = "context-dir")]
    pub context_dir: Option<std::path::PathBuf>,
    /// Add an annotation to every container (KEY=VALUE; a value has at most 63 characters)
    #[arg(long)]
    pub annotation: Vec<String>,
    /// Starts a service container before all pods
    #[arg(long = "service-container", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value_t = false, action = clap::ArgAction::Set)]
    pub service_container: bool,
    #[command(flatten)]
    pub pull_flags: super::registry::PullFlags,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Path to the Kubernetes YAML file, or - for stdin
    pub file: String,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Pods, containers or volumes to generate YAML for
    #[arg(required = true)]
    pub targets: Vec<String>,
    /// Write the output to this file instead of stdout
    #[arg(short = 'f', long)]
    pub filename: Option<PathBuf>,
    /// Also generate a Kubernetes Service
    #[arg(short = 's', long)]
    pub service: bool,
    /// The kind of object to generate: pod, deployment, daemonset or job
    #[arg(short = 't', long = "type", default_value = "pod")]
    pub kind: String,
    /// Replicas of a Deployment
    #[arg(short = 'r', long)]
    pub replicas: Option<i32>,
}

pub fn run(engine: &Engine, cmd: KubeCommand, argv: &[String]) -> CliResult {
    match cmd {
        KubeCommand::Play(a) => play(engine, a, argv),
        KubeCommand::Down(a) => down(engine, a),
        KubeCommand::Generate(a) => generate(engine, a),
    }
}

fn read_input(engine: &Engine, file: &str) -> CliResult<String> {
    if file == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        return Ok(s);
    }
    if file.starts_with("http://") || file.starts_with("https://") {
        return Ok(engine.kube_yaml_from_url(file)?);
    }
    std::fs::read_to_string(file).map_err(|e| CliError::engine(format!("reading {file}: {e}")))
}

fn print_teardown(out: &mut impl Write, t: &TeardownReport) -> std::io::Result<()> {
    if !t.stopped.is_empty() {
        writeln!(out, "Pods stopped:")?;
        for id in &t.stopped {
            writeln!(out, "{id}")?;
        }
    }
    if !t.removed.is_empty() {
        writeln!(out, "Pods removed:")?;
        for id in &t.removed {
            writeln!(out, "{id}")?;
        }
    }
    Ok(())
}

pub fn play(engine: &Engine, a: PlayArgs, argv: &[String]) -> CliResult {
    for an in &a.annotation {
        peapod_engine::kube::check_play_annotation(an)?;
    }
    let yaml = read_input(engine, &a.file)?;
    let mut out = std::io::stdout().lock();
    if a.down {
        let t = engine.kube_down(&yaml)?;
        print_teardown(&mut out, &t)?;
        return Ok(0);
    }
    // Images first: those `--build` makes, then the others pulled as their imagePullPolicy
    // (or --pull) says; lines on stderr.
    let mut built = Vec::new();
    for (image, _) in engine.kube_images(&yaml)? {
        if super::build::kube_build(engine, &a, &image)? {
            built.push(image);
        }
    }
    let forced = a
        .pull
        .as_deref()
        .map(peapod_engine::registry::PullPolicy::parse)
        .transpose()?;
    let sink = super::registry::sink(a.quiet);
    engine.ensure_kube_images(
        &yaml,
        forced,
        &a.pull_flags.options("")?,
        sink.as_ref(),
        &built,
    )?;
    let report = engine.play_kube(
        &yaml,
        &PlayOptions {
            replace: a.replace,
            start: a.start,
            network: peapod_engine::network::NetworkMode::parse(&a.network)?,
            configmaps: a.configmap,
            log_driver: a
                .log_driver
                .as_deref()
                .map(peapod_engine::container::LogDriver::parse)
                .transpose()?,
            create_command: argv.to_vec(),
            annotations: a.annotation,
            service_container: a.service_container,
        },
    )?;
    if let Some(t) = &report.teardown {
        print_teardown(&mut out, t)?;
    }
    match report.volumes.len() {
        0 => {}
        1 => writeln!(out, "Volume:")?,
        _ => writeln!(out, "Volumes:")?,
    }
    for v in &report.volumes {
        writeln!(out, "{v}")?;
    }
    for p in &report.pods {
        writeln!(out, "Pod:\n{}", p.id)?;
        match p.containers.len() {
            0 => continue,
            1 => writeln!(out, "Container:")?,
            _ => writeln!(out, "Containers:")?,
        }
        for c in &p.containers {
            writeln!(out, "{c}")?;
        }
        writeln!(out)?;
    }
    Ok(0)
}

pub fn down(engine: &Engine, a: DownArgs) -> CliResult {
    let yaml = read_input(engine, &a.file)?;
    let t = engine.kube_down(&yaml)?;
    print_teardown(&mut std::io::stdout().lock(), &t)?;
    Ok(0)
}

pub fn generate(engine: &Engine, a: GenerateArgs) -> CliResult {
    let kind = KubeType::parse(&a.kind)?;
    if a.replicas.is_some() && kind != KubeType::Deployment {
        return Err(CliError::engine(
            "--replicas can only be set for --type deployment",
        ));
    }
    let yaml = engine.generate_kube(
        &a.targets,
        &GenerateOptions {
            service: a.service,
            kind,
            replicas: a.replicas,
        },
    )?;
    match &a.filename {
        Some(f) => {
            // Never overwrite: create_new checks and creates in one step.
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(f)
                .map_err(|e| {
                    let msg = if e.kind() == std::io::ErrorKind::AlreadyExists {
                        format!("cannot write to {:?}; file exists", f.display().to_string())
                    } else {
                        format!("writing {}: {e}", f.display())
                    };
                    CliError::engine(msg)
                })?;
            file.write_all(yaml.as_bytes())
                .map_err(|e| CliError::engine(format!("writing {}: {e}", f.display())))?;
        }
        None => std::io::stdout().lock().write_all(yaml.as_bytes())?,
    }
    Ok(0)
}
