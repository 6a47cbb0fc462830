//! One module per command group; [`run`] dispatches.

pub(crate) mod archive;
mod attach;
pub(crate) mod build;
pub(crate) mod commit;
mod container;
pub mod cp;
mod df;
pub(crate) mod events;
pub(crate) mod health;
pub(crate) mod history;
pub(crate) mod image;
pub(crate) mod kube;
mod logs;
pub mod manage;
pub(crate) mod manifest;
pub(crate) mod mount;
mod network;
mod ops;
pub(crate) mod pod;
mod ps;
pub(crate) mod registry;
mod run;
pub(crate) mod stats;
pub(crate) mod system;
pub(crate) mod systemd;
pub(crate) mod trust;
pub(crate) mod volume;

use peapod_engine::{Engine, EngineOptions};

use crate::CliResult;
use crate::cli::{
    Cli, Command, ContainerCommand, ContainerCommon, Global, ImageCommand, NetworkCommand, TopLevel,
};

/// The global flags as the engine's options.
pub(crate) fn engine_options(g: &Global) -> CliResult<EngineOptions> {
    Ok(EngineOptions {
        root: g.root.clone(),
        runroot: g.runroot.clone(),
        runtime: g.runtime.clone(),
        conmon: g.conmon.clone(),
        self_exe: std::env::current_exe().ok(),
        log_level: g.log_level.clone(),
        netsetup: g.helper_binaries_dir.as_ref().map(|d| {
            let ours = d.join("peapod-netsetup");
            if ours.exists() {
                ours
            } else {
                d.join("netavark")
            }
        }),
        runtime_flags: g.runtime_flag.clone(),
        events_backend: g.events_backend.clone(),
        volume_path: g.volumepath.clone(),
        storage_driver: g.storage_driver.clone(),
        storage_opts: g.storage_opt.clone(),
        default_mounts_file: g.default_mounts_file.clone(),
    })
}

pub(crate) fn open(g: &Global) -> CliResult<Engine> {
    let engine = Engine::open(engine_options(g)?)?;
    tracing::debug!(
        "Using graph root {}, run root {}",
        engine.root().display(),
        engine.runroot().display()
    );
    Ok(engine)
}

pub fn run(cli: Cli, argv: &[String]) -> CliResult {
    let g = &cli.global;
    match cli.command {
        Command::Top(t) => top(g, t, argv),
        Command::Container(c) => match c {
            ContainerCommand::Common(c) => top(g, common(c), argv),
            ContainerCommand::Ps(a) => ps::ps(&open(g)?, a),
            ContainerCommand::Exists(a) => container::exists(&open(g)?, a),
            ContainerCommand::Cleanup(a) => container::cleanup(&open(g)?, a),
            ContainerCommand::Prune(a) => container::prune(&open(g)?, a),
            ContainerCommand::Runlabel(a) => manage::runlabel(&open(g)?, a),
        },
        Command::Network(n) => {
            let e = open(g)?;
            match n {
                NetworkCommand::Create(a) => network::create(&e, a),
                NetworkCommand::Ls(a) => network::ls(&e, a),
                NetworkCommand::Inspect(a) => network::inspect(&e, a),
                NetworkCommand::Rm(a) => network::rm(&e, a),
                NetworkCommand::Prune(a) => network::prune(&e, a),
                NetworkCommand::Exists(a) => network::exists(&e, a),
                NetworkCommand::Connect(a) => network::connect(&e, a),
                NetworkCommand::Disconnect(a) => network::disconnect(&e, a),
                NetworkCommand::Reload(a) => network::reload(&e, a),
            }
        }
        Command::Volume(v) => volume::run(&open(g)?, v),
        Command::Manifest(m) => manifest::run(&open(g)?, m),
        Command::Pod(p) => pod::run(&open(g)?, p, argv),
        Command::Kube(k) => kube::run(&open(g)?, k, argv),
        Command::Generate(kube::GenerateCommand::Kube(a)) => kube::generate(&open(g)?, a),
        Command::Generate(kube::GenerateCommand::Systemd(a)) => systemd::generate(&open(g)?, a),
        Command::Play(kube::PlayCommand::Kube(a)) => kube::play(&open(g)?, a, argv),
        Command::System(system::SystemCommand::Service(a)) => system::service(g, a),
        Command::System(s) => system::run(&open(g)?, s),
        Command::Buildx(build::BuildxCommand::Build(a)) => build::build(&open(g)?, a),
        Command::Image(i) => match i {
            ImageCommand::Import(a) => image::import(&open(g)?, a),
            ImageCommand::List(a) => image::images(&open(g)?, a),
            ImageCommand::Tag(a) => image::tag(&open(g)?, a),
            ImageCommand::Rm(a) => image::rmi(&open(g)?, a),
            ImageCommand::Inspect(a) => image::inspect(&open(g)?, a),
            ImageCommand::Exists(a) => image::exists(&open(g)?, a),
            ImageCommand::Pull(a) => registry::pull(&open(g)?, a),
            ImageCommand::Push(a) => registry::push(&open(g)?, a),
            ImageCommand::Save(a) => archive::save(&open(g)?, a),
            ImageCommand::Load(a) => archive::load(&open(g)?, a),
            ImageCommand::History(a) => history::history(&open(g)?, a),
            ImageCommand::Tree(a) => history::tree(&open(g)?, a),
            ImageCommand::Prune(a) => image::prune(&open(g)?, a),
            ImageCommand::Untag(a) => image::untag(&open(g)?, a),
            ImageCommand::Diff(a) => manage::diff(&open(g)?, a),
            ImageCommand::Mount(a) => mount::image_mount(&open(g)?, a),
            ImageCommand::Umount(a) => mount::image_umount(&open(g)?, a),
            ImageCommand::Build(a) => build::build(&open(g)?, a),
            ImageCommand::Trust(t) => trust::run(t),
        },
    }
}

fn common(c: ContainerCommon) -> TopLevel {
    match c {
        ContainerCommon::Create(a) => TopLevel::Create(a),
        ContainerCommon::Run(a) => TopLevel::Run(a),
        ContainerCommon::Start(a) => TopLevel::Start(a),
        ContainerCommon::Stop(a) => TopLevel::Stop(a),
        ContainerCommon::Kill(a) => TopLevel::Kill(a),
        ContainerCommon::Restart(a) => TopLevel::Restart(a),
        ContainerCommon::Rm(a) => TopLevel::Rm(a),
        ContainerCommon::Inspect(mut a) => {
            if a.kind == "all" {
                a.kind = "container".into();
            }
            TopLevel::Inspect(a)
        }
        ContainerCommon::Wait(a) => TopLevel::Wait(a),
        ContainerCommon::Logs(a) => TopLevel::Logs(a),
        ContainerCommon::Attach(a) => TopLevel::Attach(a),
        ContainerCommon::Exec(a) => TopLevel::Exec(a),
        ContainerCommon::Port(a) => TopLevel::Port(a),
        ContainerCommon::Pause(a) => TopLevel::Pause(a),
        ContainerCommon::Unpause(a) => TopLevel::Unpause(a),
        ContainerCommon::Top(a) => TopLevel::Top(a),
        ContainerCommon::Commit(a) => TopLevel::Commit(a),
        ContainerCommon::Cp(a) => TopLevel::Cp(a),
        ContainerCommon::Export(a) => TopLevel::Export(a),
        ContainerCommon::Rename(a) => TopLevel::Rename(a),
        ContainerCommon::Init(a) => TopLevel::Init(a),
        ContainerCommon::Diff(a) => TopLevel::Diff(a),
        ContainerCommon::Update(a) => TopLevel::Update(a),
        ContainerCommon::Mount(a) => TopLevel::Mount(a),
        ContainerCommon::Umount(a) => TopLevel::Umount(a),
    }
}

fn top(g: &Global, t: TopLevel, argv: &[String]) -> CliResult {
    match t {
        TopLevel::Create(a) => run::create(&open(g)?, a, argv),
        TopLevel::Run(a) => run::run(&open(g)?, a, argv),
        TopLevel::Start(a) => container::start(&open(g)?, a),
        TopLevel::Stop(a) => container::stop(&open(g)?, a),
        TopLevel::Kill(a) => container::kill(&open(g)?, a),
        TopLevel::Restart(a) => container::restart(&open(g)?, a),
        TopLevel::Rm(a) => container::rm(&open(g)?, a),
        TopLevel::Ps(a) => ps::ps(&open(g)?, a),
        TopLevel::Inspect(a) => system::inspect(&open(g)?, a),
        TopLevel::Wait(a) => container::wait(&open(g)?, a),
        TopLevel::Logs(a) => logs::logs(&open(g)?, a),
        TopLevel::Attach(a) => attach::attach(&open(g)?, a),
        TopLevel::Exec(a) => attach::exec(&open(g)?, a),
        TopLevel::Port(a) => network::port(&open(g)?, a),
        TopLevel::Import(a) => image::import(&open(g)?, a),
        TopLevel::Images(a) => image::images(&open(g)?, a),
        TopLevel::Tag(a) => image::tag(&open(g)?, a),
        TopLevel::Rmi(a) => image::rmi(&open(g)?, a),
        TopLevel::Version(a) => system::version(a),
        TopLevel::Info(a) => system::info(&open(g)?, a),
        TopLevel::Pause(a) => ops::pause(&open(g)?, a),
        TopLevel::Unpause(a) => ops::unpause(&open(g)?, a),
        TopLevel::Top(a) => ops::top(&open(g)?, a),
        TopLevel::Pull(a) => registry::pull(&open(g)?, a),
        TopLevel::Push(a) => registry::push(&open(g)?, a),
        TopLevel::Login(a) => registry::login(&open(g)?, a),
        TopLevel::Logout(a) => registry::logout(a),
        TopLevel::Save(a) => archive::save(&open(g)?, a),
        TopLevel::Load(a) => archive::load(&open(g)?, a),
        TopLevel::Commit(a) => commit::commit(&open(g)?, a),
        TopLevel::Cp(a) => cp::cp(&open(g)?, a),
        TopLevel::Export(a) => cp::export(&open(g)?, a),
        TopLevel::Rename(a) => manage::rename(&open(g)?, a),
        TopLevel::Init(a) => manage::init(&open(g)?, a),
        TopLevel::Diff(a) => manage::diff(&open(g)?, a),
        TopLevel::Update(a) => manage::update(&open(g)?, a),
        TopLevel::History(a) => history::history(&open(g)?, a),
        TopLevel::Mount(a) => mount::mount(&open(g)?, a),
        TopLevel::Umount(a) => mount::umount(&open(g)?, a),
        TopLevel::Untag(a) => image::untag(&open(g)?, a),
        TopLevel::Unshare(a) => system::unshare(g, a),
        TopLevel::Build(a) => build::build(&open(g)?, a),
        TopLevel::Events(a) => events::events(&open(g)?, a),
        TopLevel::Healthcheck(a) => health::healthcheck(&open(g)?, a),
        TopLevel::Stats(a) => stats::stats(&open(g)?, a),
        TopLevel::Completion(a) => crate::completion::script_command(a, argv),
    }
}

/// The ids that `--cidfile` / `--pod-id-file` files name (their first line), as Podman
/// reads them; with `ignore` (`--ignore`) a missing file is skipped.
pub(crate) fn read_id_files(
    files: &[std::path::PathBuf],
    what: &str,
    ignore: bool,
) -> CliResult<Vec<String>> {
    let mut out = Vec::new();
    for f in files {
        match std::fs::read_to_string(f) {
            Ok(text) => out.push(text.lines().next().unwrap_or("").trim().to_string()),
            Err(e) if ignore && e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                let why = if e.kind() == std::io::ErrorKind::NotFound {
                    "no such file or directory".to_string()
                } else {
                    e.to_string()
                };
                return Err(crate::CliError::engine(format!(
                    "reading {what}: open {}: {why}",
                    f.display()
                )));
            }
        }
    }
    Ok(out)
}
