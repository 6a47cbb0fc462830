//! `cargo xtask bench`'s memory sections: peapod-monitor's resident memory beside conmon's
//! on the same container (against its target), and the pause process's footprint.

use std::ffi::OsStr;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::bench::*;
use crate::{install, shell};

/// Resident memory of one process, in KiB: VmRSS from `/proc/PID/status`, and Pss from
/// `/proc/PID/smaps_rollup` when the kernel has it (Pss splits shared pages among the
/// processes sharing them, so it moves with whatever else runs; VmRSS does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Memory {
    rss_kib: u64,
    pss_kib: Option<u64>,
}

/// The value of a `Key:   123 kB` line of a /proc file.
fn kib_field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(key)?.strip_prefix(':')?;
        rest.trim().strip_suffix("kB")?.trim().parse().ok()
    })
}

fn memory_of(pid: i32) -> Result<Memory> {
    let status_path = format!("/proc/{pid}/status");
    let status =
        fs::read_to_string(&status_path).with_context(|| format!("cannot read {status_path}"))?;
    let rss_kib =
        kib_field(&status, "VmRSS").with_context(|| format!("no VmRSS line in {status_path}"))?;
    let pss_kib = fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .ok()
        .and_then(|rollup| kib_field(&rollup, "Pss"));
    Ok(Memory { rss_kib, pss_kib })
}

/// Starts `bin -P`, reads its memory once it sleeps, and ends it with SIGTERM.
fn pause_memory(bin: &Path) -> Result<Memory> {
    let mut child = Command::new(bin)
        .arg("-P")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    std::thread::sleep(Duration::from_millis(200));
    let mem = memory_of(child.id() as i32);
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait()?;
    let mem = mem?;
    anyhow::ensure!(
        status.success(),
        "{} -P did not exit 0 on SIGTERM: {status}",
        bin.display()
    );
    Ok(mem)
}

pub(crate) fn pause_footprint(_ctx: &Ctx) -> Result<()> {
    let ours = install::staged()?.join("libexec/peapod/peapod-pause");
    let theirs = shell::which("catatonit");
    println!("   {:<14} {:>14} {:>14}", "", "peapod-pause", "catatonit");
    let size = |p: &Path| fs::metadata(p).map(|m| m.len()).ok();
    let our_size = size(&ours).with_context(|| format!("{} missing", ours.display()))?;
    let their_size = theirs.as_deref().and_then(size);
    let show = |v: Option<u64>, unit: &str| v.map(|v| format!("{v} {unit}")).unwrap_or("-".into());
    println!(
        "   {:<14} {:>14} {:>14}",
        "file size",
        show(Some(our_size), "B"),
        show(their_size, "B")
    );
    let our_mem = pause_memory(&ours)?;
    let their_mem = theirs.as_deref().map(pause_memory).transpose()?;
    println!(
        "   {:<14} {:>14} {:>14}",
        "VmRSS",
        show(Some(our_mem.rss_kib), "KiB"),
        show(their_mem.map(|m| m.rss_kib), "KiB")
    );
    println!(
        "   {:<14} {:>14} {:>14}",
        "Pss",
        show(our_mem.pss_kib, "KiB"),
        show(their_mem.and_then(|m| m.pss_kib), "KiB")
    );
    if theirs.is_none() {
        println!("   catatonit: not installed, skipped");
    }
    Ok(())
}

/// Runs `sleep 1000` detached (`-t` when `tty`) with the monitor `conmon` (peapod's own when
/// `None`), checks through `/proc/PID/exe` that its monitor process is that binary, reads the
/// monitor's memory, and removes the container again.
fn measure_monitor(ctx: &Ctx, conmon: Option<&Path>, tty: bool) -> Result<Memory> {
    let mut args: Vec<&OsStr> = Vec::new();
    if let Some(c) = conmon {
        args.extend([OsStr::new("--conmon"), c.as_os_str()]);
    }
    args.extend(["run", "-d", "--network", "none"].map(OsStr::new));
    if tty {
        args.push(OsStr::new("-t"));
    }
    args.extend([IMG, "sleep", "1000"].map(OsStr::new));
    let id = ctx.peapod.quiet(&args)?.trim().to_owned();
    let measured = (|| {
        let pid: i32 = ctx
            .peapod
            .quiet(&["inspect", "--format", "{{.State.ConmonPid}}", &id])?
            .trim()
            .parse()
            .context("inspect printed a ConmonPid that is not a number")?;
        // Let the monitor settle into its event loop (the container is already running).
        std::thread::sleep(Duration::from_millis(300));
        let exe = fs::read_link(format!("/proc/{pid}/exe"))
            .with_context(|| format!("cannot read /proc/{pid}/exe: is the monitor running?"))?;
        let expected = match conmon {
            Some(c) => exe == c.canonicalize().unwrap_or_else(|_| c.to_path_buf()),
            None => exe.file_name() == Some(OsStr::new("peapod-monitor")),
        };
        if !expected {
            bail!(
                "the monitor of container {id} (pid {pid}) runs {}, not the one asked for",
                exe.display()
            );
        }
        memory_of(pid)
    })();
    if let Err(e) = ctx.peapod.quiet(&["rm", "-f", "-t", "0", &id]) {
        eprintln!("bench cleanup: {e:#}");
    }
    measured
}

pub(crate) fn monitor_memory(ctx: &Ctx) -> Result<()> {
    let conmon = shell::which("conmon");
    println!(
        "   memory of the monitor process of a running `sleep 1000` (--network none), one \
         container at a time"
    );
    println!(
        "   {:<18} {:>16} {:>16}   ours/conmon",
        "", "peapod-monitor", "conmon"
    );
    let kib = |v: Option<u64>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{v} KiB"));
    let mut worst_rss = 0;
    for (label, tty) in [("no tty", false), ("tty (-t)", true)] {
        let ours = measure_monitor(ctx, None, tty)?;
        worst_rss = worst_rss.max(ours.rss_kib);
        let theirs = match &conmon {
            Some(c) => Some(measure_monitor(ctx, Some(c), tty)?),
            None => None,
        };
        let rows = [
            ("VmRSS", Some(ours.rss_kib), theirs.map(|t| t.rss_kib), true),
            ("Pss", ours.pss_kib, theirs.and_then(|t| t.pss_kib), false),
        ];
        for (what, a, b, judged) in rows {
            let ratio = match (a, b) {
                (Some(a), Some(b)) if b > 0 => {
                    let r = a as f64 / b as f64;
                    if judged {
                        format!("{r:.2}x  (target <= 1x: {})", verdict(r <= 1.0))
                    } else {
                        format!("{r:.2}x")
                    }
                }
                _ => "n/a".to_owned(),
            };
            println!(
                "   {:<18} {:>16} {:>16}   {ratio}",
                format!("{label} {what}"),
                kib(a),
                kib(b),
            );
        }
    }
    println!(
        "   peapod-monitor VmRSS, the larger of the two: {worst_rss} KiB  (target <= {MONITOR_RSS_TARGET_KIB} KiB: {})",
        verdict(worst_rss <= MONITOR_RSS_TARGET_KIB)
    );
    if conmon.is_none() {
        println!("   conmon: not installed, skipped");
    }
    Ok(())
}

/// The monitor's resident memory target (issue 13): at most 1 MiB.
const MONITOR_RSS_TARGET_KIB: u64 = 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kib_fields_of_proc_files() {
        let status = "Name:\tpeapod-monitor\nVmHWM:\t    1300 kB\nVmRSS:\t    1244 kB\n";
        assert_eq!(kib_field(status, "VmRSS"), Some(1244));
        assert_eq!(kib_field(status, "VmRS"), None);
        let rollup = "Rss:                1244 kB\nPss:                 810 kB\nPss_Anon:            152 kB\n";
        assert_eq!(kib_field(rollup, "Pss"), Some(810));
        assert_eq!(kib_field(rollup, "Pss_Anon"), Some(152));
        assert_eq!(kib_field("Pss: lots\n", "Pss"), None);
    }

    #[test]
    fn memory_of_this_process() {
        let m = memory_of(std::process::id() as i32).unwrap();
        assert!(m.rss_kib > 0, "{m:?}");
    }
}
