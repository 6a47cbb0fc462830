//! `stats` / `container stats`: the engine's figures rendered as Podman 4.3 renders them
//! (its columns, percentages with two decimals, go-units sizes, `CPU TIME` as a Go
//! duration), once with `--no-stream`, else every `--interval` seconds, clearing the
//! screen between rounds unless `--no-reset`. Streaming named containers ends when none of
//! them runs any more.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use clap::Args;
use peapod_engine::Engine;
use peapod_engine::container::resources::{bytes_size, human_size};
use peapod_engine::container::stats::{ContainerStats, StatsRequest, go_duration_ns};
use serde::Serialize;

use crate::output::print_list;
use crate::{CliError, CliResult};

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Show all containers. Only running containers are shown by default. The default is false
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Pretty-print container statistics to JSON or using a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Do not truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Disable resetting the screen between intervals
    #[arg(long = "no-reset")]
    pub no_reset: bool,
    /// Disable streaming stats and only pull the first result, default setting is false
    #[arg(long = "no-stream")]
    pub no_stream: bool,
    /// Time in seconds between stats reports
    #[arg(short = 'i', long, default_value_t = 5)]
    pub interval: u64,
    /// Act on the latest container podman is aware of
    #[arg(short = 'l', long)]
    pub latest: bool,
    pub containers: Vec<String>,
}

/// One row, with the fields Podman's templates see (its `containerStats` methods and the
/// raw `define.ContainerStats` fields).
#[derive(Serialize)]
#[allow(non_snake_case)]
struct StatsRow {
    ID: String,
    ContainerID: String,
    Name: String,
    CPUPerc: String,
    AVGCPU: String,
    MemUsage: String,
    MemUsageBytes: String,
    MemPerc: String,
    NetIO: String,
    BlockIO: String,
    PIDS: String,
    UpTime: String,
    CPU: f64,
    AvgCPU: f64,
    CPUNano: u64,
    SystemNano: u64,
    MemLimit: u64,
    NetInput: u64,
    NetOutput: u64,
    BlockInput: u64,
    BlockOutput: u64,
    PIDs: u64,
}

/// `stats --format json`: Podman's `jstat`.
#[derive(Serialize)]
struct StatsJson {
    id: String,
    name: String,
    cpu_time: String,
    cpu_percent: String,
    avg_cpu: String,
    mem_usage: String,
    mem_percent: String,
    net_io: String,
    block_io: String,
    pids: String,
}

fn percent(f: f64) -> String {
    format!("{f:.2}%")
}

fn pair(a: u64, b: u64) -> String {
    format!("{} / {}", human_size(a), human_size(b))
}

fn row(s: &ContainerStats, no_trunc: bool) -> StatsRow {
    StatsRow {
        ID: if no_trunc {
            s.id.clone()
        } else {
            s.id.chars().take(12).collect()
        },
        ContainerID: s.id.clone(),
        Name: s.name.clone(),
        CPUPerc: percent(s.cpu_percent),
        AVGCPU: percent(s.avg_cpu),
        MemUsage: pair(s.mem_usage, s.mem_limit),
        MemUsageBytes: format!("{} / {}", bytes_size(s.mem_usage), bytes_size(s.mem_limit)),
        MemPerc: percent(s.mem_percent),
        NetIO: pair(s.net_input, s.net_output),
        BlockIO: pair(s.block_input, s.block_output),
        PIDS: s.pids.to_string(),
        UpTime: go_duration_ns(s.cpu_nano),
        CPU: s.cpu_percent,
        AvgCPU: s.avg_cpu,
        CPUNano: s.cpu_nano,
        SystemNano: s.system_nano,
        MemLimit: s.mem_limit,
        NetInput: s.net_input,
        NetOutput: s.net_output,
        BlockInput: s.block_input,
        BlockOutput: s.block_output,
        PIDs: s.pids,
    }
}

fn render(a: &StatsArgs, stats: &[ContainerStats]) -> CliResult<()> {
    let rows: Vec<StatsRow> = stats.iter().map(|s| row(s, a.no_trunc)).collect();
    let format = a.format.as_deref().unwrap_or(
        "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDS}}\t{{.UpTime}}\t{{.AVGCPU}}",
    );
    if crate::format::is_json(format) {
        let json: Vec<StatsJson> = rows
            .iter()
            .map(|r| StatsJson {
                id: r.ID.clone(),
                name: r.Name.clone(),
                cpu_time: r.UpTime.clone(),
                cpu_percent: r.CPUPerc.clone(),
                avg_cpu: r.AVGCPU.clone(),
                mem_usage: r.MemUsage.clone(),
                mem_percent: r.MemPerc.clone(),
                net_io: r.NetIO.clone(),
                block_io: r.BlockIO.clone(),
                pids: r.PIDS.clone(),
            })
            .collect();
        // Podman indents its stats JSON with one space.
        let mut buf = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b" ");
        let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
        json.serialize(&mut ser)
            .map_err(|e| CliError::engine(e.to_string()))?;
        let mut out = std::io::stdout().lock();
        out.write_all(&buf)?;
        writeln!(out)?;
        return Ok(());
    }
    print_list(
        "stats",
        format,
        &rows,
        &rows,
        &[
            ("ID", "ID"),
            ("UpTime", "CPU TIME"),
            ("CPUPerc", "CPU %"),
            ("AVGCPU", "AVG CPU %"),
            ("MemUsage", "MEM USAGE / LIMIT"),
            ("MemUsageBytes", "MEM USAGE / LIMIT"),
            ("MemPerc", "MEM %"),
            ("NetIO", "NET IO"),
            ("BlockIO", "BLOCK IO"),
            ("PIDS", "PIDS"),
        ],
        false,
    )
}

pub fn stats(engine: &Engine, a: StatsArgs) -> CliResult {
    let given = usize::from(a.all) + usize::from(a.latest) + usize::from(!a.containers.is_empty());
    if given > 1 {
        return Err(CliError::engine(
            "--all, --latest and containers cannot be used together",
        ));
    }
    let req = StatsRequest {
        containers: a.containers.clone(),
        all: a.all,
        latest: a.latest,
    };
    let mut previous: HashMap<String, ContainerStats> = HashMap::new();
    loop {
        let round = engine.container_stats(&req, &previous)?;
        if !a.no_stream && !a.no_reset {
            // Podman's goterm: clear the screen, cursor to the top left.
            print!("\x1b[2J\x1b[1;1H");
        }
        render(&a, &round)?;
        std::io::stdout().flush()?;
        if a.no_stream {
            return Ok(0);
        }
        // Named containers: the stream ends when none of them runs any more.
        if !a.containers.is_empty() && round.iter().all(|s| !s.running) {
            return Ok(0);
        }
        previous = round.into_iter().map(|s| (s.id.clone(), s)).collect();
        std::thread::sleep(Duration::from_secs(a.interval.max(1)));
    }
}
