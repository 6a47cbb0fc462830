//! The `peapod` command line: Podman's commands, flags, output and exit codes.
//!
//! Parses flags into the engine's plain request structs, calls the engine, and prints
//! tables, JSON or Go templates through [`format`]. Errors print as `Error: …` on stderr
//! with Podman's exit code (125 engine, 126 cannot invoke, 127 not found).

pub mod format;

mod cli;
mod cobra;
mod commands;
mod completion;
mod completion_paths;
mod completion_scripts;
mod human;
mod logging;
mod output;
mod stream;

use clap::Parser;

/// Run `peapod` with the process's arguments; the exit code.
pub fn main() -> i32 {
    // Before anything is opened: which fds `--preserve-fds` may pass on.
    peapod_engine::note_inherited_fds();
    let args: Vec<String> = std::env::args().collect();
    if completion::is_request(&args) {
        return completion::request(&command_tree(), &args);
    }
    if args.iter().any(|a| a == "help")
        && let Some(o) = cobra::help_command(&command_tree(), &args)
    {
        return print_outcome(o);
    }
    let mut parsed = match cli::Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if let Some(o) = cobra::clap_error(&command_tree(), &args, &e) {
                return print_outcome(o);
            }
            return match e.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = e.print();
                    0
                }
                _ => {
                    let msg = e.to_string();
                    let first = msg
                        .lines()
                        .next()
                        .unwrap_or("")
                        .trim_start_matches("error: ");
                    eprintln!("Error: {first}");
                    ENGINE
                }
            };
        }
    };
    let level = match logging::level(parsed.global.log_level.as_deref(), parsed.global.debug) {
        Ok(l) => l,
        Err(msg) => {
            eprintln!("{msg}");
            return 1;
        }
    };
    init_logging(level);
    if parsed.global.debug {
        // Helpers (the monitor, the network tool) log at the same level.
        parsed.global.log_level = Some("debug".into());
    }
    tracing::trace!(?args, "command line");
    tracing::info!(
        "{} filtering at log level {level}",
        args.first().map(String::as_str).unwrap_or("peapod")
    );
    if parsed.global.noout
        && let Err(e) = discard_stdout()
    {
        eprintln!("Error: --noout: {e}");
        return ENGINE;
    }
    // Refused outside the namespaces before joining them (Podman: `volume mount` needs
    // `unshare`).
    if let cli::Command::Volume(v) = &parsed.command
        && let Err(e) = commands::volume::refuse_mount_outside(v)
    {
        eprintln!("Error: {}", e.message());
        return error_code(&e);
    }
    // A user without privileges joins its user and mount namespaces now, while the
    // process is single-threaded and before anything opens the store.
    if needs_user_namespace(&parsed)
        && let Err(e) = peapod_engine::rootless::enter(std::env::current_exe().ok().as_deref())
    {
        eprintln!("Error: {e}");
        return exit_code(&e);
    }
    match commands::run(parsed, &args) {
        Ok(code) => code,
        Err(e) => {
            let code = error_code(&e);
            // A closed stdout (`peapod ps | head`) is not an error worth a message.
            if is_broken_pipe(&e) {
                return 0;
            }
            eprintln!("Error: {}", e.message());
            code
        }
    }
}

/// The command tree as clap builds it (global flags propagated), for help and usage errors.
fn command_tree() -> clap::Command {
    let mut root = <cli::Cli as clap::CommandFactory>::command();
    root.build();
    root
}

fn print_outcome(o: cobra::Outcome) -> i32 {
    use std::io::Write;
    let _ = std::io::stdout().write_all(o.stdout.as_bytes());
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().write_all(o.stderr.as_bytes());
    o.code
}

/// `--noout`: stdout goes to /dev/null for the rest of the command (a container's output
/// through an attached `run` too, as Podman's).
fn discard_stdout() -> std::io::Result<()> {
    let null = std::fs::OpenOptions::new().write(true).open("/dev/null")?;
    nix::unistd::dup2_stdout(null).map_err(std::io::Error::from)
}

/// Every command but `version` works on the user's store, so joins its namespaces.
fn needs_user_namespace(cli: &cli::Cli) -> bool {
    !matches!(cli.command, cli::Command::Top(cli::TopLevel::Version(_)))
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(format!(
        "peapod={level},peapod_engine={level},peapod_cli={level}"
    ))
    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .event_format(logging::Logrus {
            terminal: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            start: std::time::Instant::now(),
        })
        .try_init();
}

/// An error to print, with Podman's exit code.
#[derive(Debug)]
pub enum CliError {
    Engine(peapod_engine::Error),
    /// A message and an exit code (e.g. `rmi` of an image in use exits 2).
    Coded(String, i32),
    Io(std::io::Error),
}

/// Podman's exit code for a failure of the engine or of the command itself.
pub const ENGINE: i32 = peapod_engine::error::exit::ENGINE;

impl CliError {
    /// A refusal or failure of the command (Podman's 125).
    pub fn engine(msg: impl Into<String>) -> CliError {
        CliError::Coded(msg.into(), ENGINE)
    }

    fn message(&self) -> String {
        match self {
            CliError::Engine(e) => e.to_string(),
            CliError::Coded(m, _) => m.clone(),
            CliError::Io(e) => e.to_string(),
        }
    }
}

impl From<peapod_engine::Error> for CliError {
    fn from(e: peapod_engine::Error) -> Self {
        CliError::Engine(e)
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Io(e)
    }
}

impl From<format::FormatError> for CliError {
    fn from(e: format::FormatError) -> Self {
        CliError::engine(e.to_string())
    }
}

/// Podman's exit code for an engine error: a container command's 126/127 (or a build
/// step's status) pass through; everything else is 125.
pub fn exit_code(e: &peapod_engine::Error) -> i32 {
    match e.kind() {
        peapod_engine::ErrorKind::Command(code) => code,
        _ => ENGINE,
    }
}

/// The one mapping from a failure to Podman's exit code: the engine's kind of error says
/// it (a container command's 126/127 pass through; everything else is 125).
fn error_code(e: &CliError) -> i32 {
    match e {
        CliError::Engine(e) => exit_code(e),
        CliError::Coded(_, c) => *c,
        CliError::Io(_) => ENGINE,
    }
}

fn is_broken_pipe(e: &CliError) -> bool {
    matches!(e, CliError::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe)
}

pub type CliResult<T = i32> = Result<T, CliError>;
