//! peapod-netsetup: netavark's command line over the `peapod_netsetup` library.
//!
//! Results go to stdout as JSON; a failure prints `{"error": "..."}` on stdout and exits 1,
//! which is what podman decodes.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use peapod_netsetup::commands::{self, Context};
use peapod_netsetup::types::{ErrorOutput, NetworkOptions, VersionOutput};

#[derive(Parser)]
#[command(
    name = "peapod-netsetup",
    version,
    about = "Container networking (a netavark drop-in)"
)]
struct Cli {
    /// Read the network options from FILE instead of stdin.
    #[arg(short = 'f', long = "file", global = true)]
    file: Option<PathBuf>,
    /// Firewall driver: nftables (default) or none.
    #[arg(long = "firewall-driver", env = "NETAVARK_FW", global = true)]
    firewall_driver: Option<String>,
    /// Run directory for state (required by setup and teardown).
    #[arg(short = 'c', long = "config", global = true)]
    config: Option<PathBuf>,
    /// Rootless mode.
    #[arg(short = 'r', long = "rootless", global = true, num_args = 0..=1,
          default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    rootless: Option<bool>,
    /// Path of aardvark-dns: accepted and ignored, DNS is served by this binary. Podman
    /// passes `--aardvark-binary=` (empty) when it has none.
    #[arg(short = 'a', long = "aardvark-binary", global = true, num_args = 0..=1,
          default_missing_value = "")]
    _aardvark_binary: Option<String>,
    /// Plugin directories (accepted for compatibility; no plugins are supported).
    #[arg(long = "plugin-directory", global = true)]
    plugin_directory: Vec<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Set up the networks of a container in NETNS_PATH.
    Setup {
        /// The container's network namespace file.
        netns_path: PathBuf,
    },
    /// Tear down the networks of a container in NETNS_PATH.
    Teardown {
        /// The caller removes the namespace right after, and no process of the container
        /// is left in it: the container's veth is only taken off its bridge, and the kernel
        /// destroys it with the namespace (without the flag, as netavark: it is deleted).
        #[arg(long = "netns-released")]
        netns_released: bool,
        /// The container's network namespace file.
        netns_path: PathBuf,
    },
    /// Print the version as JSON.
    Version,
    /// Forward published host ports into NETNS_PATH (a userspace network's rootlessport);
    /// started by the engine with the exit pipe on fd 3 and the ready pipe on fd 4.
    #[command(hide = true)]
    Forward {
        /// The container's network namespace file.
        netns_path: PathBuf,
        /// PROTO:HOST_IP:HOST_PORT:CONTAINER_PORT, repeatable.
        #[arg(short = 'p', long = "port")]
        ports: Vec<String>,
        /// The exit pipe's read end: exit when its writers are gone.
        #[arg(long = "exit-fd")]
        exit_fd: Option<i32>,
    },
    /// The DNS server for dns_enabled networks (started by setup; --config is its state dir).
    #[command(hide = true)]
    DnsServer {
        /// UDP/TCP port to listen on at each gateway.
        #[arg(short = 'p', long = "port", default_value_t = 53)]
        port: u16,
    },
}

fn read_options(file: Option<&PathBuf>) -> Result<NetworkOptions, String> {
    let mut text = String::new();
    match file {
        Some(f) => {
            text =
                std::fs::read_to_string(f).map_err(|e| format!("reading {}: {e}", f.display()))?;
        }
        None => {
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| format!("reading stdin: {e}"))?;
        }
    }
    serde_json::from_str(&text).map_err(|e| format!("parsing the network options: {e}"))
}

fn run(cli: Cli) -> Result<Option<String>, String> {
    let ctx = |cli: &Cli| -> Result<Context, String> {
        let config_dir = cli
            .config
            .clone()
            .ok_or("--config is required for setup and teardown")?;
        Ok(Context {
            config_dir,
            rootless: cli.rootless.unwrap_or(false),
            firewall_driver: cli.firewall_driver.clone().unwrap_or_default(),
        })
    };
    match &cli.command {
        Command::Version => {
            let v = VersionOutput {
                version: env!("CARGO_PKG_VERSION").to_string(),
                commit: String::new(),
                build_time: String::new(),
                target: format!("{}-linux", std::env::consts::ARCH),
            };
            Ok(Some(
                serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?,
            ))
        }
        Command::DnsServer { port } => {
            let dir = cli
                .config
                .clone()
                .ok_or("--config is required for dns-server")?;
            peapod_netsetup::dns::serve(&dir, *port).map_err(|e| e.to_string())?;
            Ok(None)
        }
        Command::Forward {
            netns_path,
            ports,
            exit_fd,
        } => {
            let forwards = ports
                .iter()
                .map(|p| peapod_netsetup::forward::Forward::parse(p))
                .collect::<Result<Vec<_>, _>>()?;
            std::process::exit(peapod_netsetup::forward::run(
                netns_path, &forwards, *exit_fd, 4,
            ));
        }
        Command::Setup { netns_path } => {
            let ctx = ctx(&cli)?;
            let opts = read_options(cli.file.as_ref())?;
            let out = commands::setup(&ctx, netns_path, &opts).map_err(|e| e.to_string())?;
            Ok(Some(
                serde_json::to_string(&out).map_err(|e| e.to_string())?,
            ))
        }
        Command::Teardown {
            netns_path,
            netns_released,
        } => {
            // Teardown must not be cut in half by the signals podman may forward.
            let caught = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
                let _ = signal_hook::flag::register(sig, caught.clone());
            }
            let ctx = ctx(&cli)?;
            let opts = read_options(cli.file.as_ref())?;
            let mode = if *netns_released {
                commands::TeardownMode::NetnsReleased
            } else {
                commands::TeardownMode::Delete
            };
            commands::teardown_with(&ctx, netns_path, &opts, mode).map_err(|e| e.to_string())?;
            Ok(None)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(out) => {
            if let Some(out) = out {
                println!("{out}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            let e = ErrorOutput { error };
            println!(
                "{}",
                serde_json::to_string(&e).unwrap_or_else(|_| "{\"error\":\"?\"}".into())
            );
            ExitCode::from(1)
        }
    }
}
