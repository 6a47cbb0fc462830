//! `top`: the processes of a running container, as Podman shows them through psgo.
//!
//! The container's processes are those in the pid namespace of its init process (which
//! also catches processes started with `exec`), whatever the cgroup layout (v1, v2).
//! Their data is read from the host's `/proc`, and pids are translated into the
//! container's pid namespace through `NSpid`, so `pid` and `ppid` read as they do inside.
//! User and group names come from the container's `/etc/passwd` and `/etc/group` (psgo
//! reads them after joining the container's mount namespace), the `h*` descriptors from
//! the host's.
//!
//! Descriptors psgo does not know (ps options such as `-ef` or `-o wchan`) are handed to
//! the host's `ps(1)`, restricted to the container's host pids. Podman 4.3 runs the
//! container's own `ps` instead; that needs a `ps` in the image and shows nothing useful
//! for minimal images, so we follow the issue's "ps from the host side" here.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Status;
use crate::Engine;
use crate::error::{Error, Result};

/// psgo's `DefaultDescriptors` (`ps -ef` compatible).
pub const DEFAULT_DESCRIPTORS: &[&str] = &[
    "user", "pid", "ppid", "pcpu", "etime", "tty", "time", "args",
];

/// psgo's AIX format descriptors: (code, normal name, header).
const DESCRIPTORS: &[(&str, &str, &str)] = &[
    ("%C", "pcpu", "%CPU"),
    ("%G", "group", "GROUP"),
    ("", "groups", "GROUPS"),
    ("%P", "ppid", "PPID"),
    ("%U", "user", "USER"),
    ("", "uid", "UID"),
    ("%a", "args", "COMMAND"),
    ("%c", "comm", "COMMAND"),
    ("%g", "rgroup", "RGROUP"),
    ("%n", "nice", "NI"),
    ("%p", "pid", "PID"),
    ("%r", "pgid", "PGID"),
    ("%t", "etime", "ELAPSED"),
    ("%u", "ruser", "RUSER"),
    ("%x", "time", "TIME"),
    ("%y", "tty", "TTY"),
    ("%z", "vsz", "VSZ"),
    ("", "capamb", "AMBIENT CAPS"),
    ("", "capinh", "INHERITED CAPS"),
    ("", "capprm", "PERMITTED CAPS"),
    ("", "capeff", "EFFECTIVE CAPS"),
    ("", "capbnd", "BOUNDING CAPS"),
    ("", "seccomp", "SECCOMP"),
    ("", "label", "LABEL"),
    ("", "hpid", "HPID"),
    ("", "huser", "HUSER"),
    ("", "huid", "HUID"),
    ("", "hgroup", "HGROUP"),
    ("", "hgroups", "HGROUPS"),
    ("", "rss", "RSS"),
    ("", "state", "STATE"),
    ("", "stime", "STIME"),
];

/// Map descriptors (separate arguments, or comma-separated) to psgo's normal names and
/// headers; None when one of them is not a psgo descriptor.
pub fn translate(descriptors: &[String]) -> Option<Vec<(&'static str, &'static str)>> {
    let split: Vec<&str> = descriptors
        .iter()
        .flat_map(|d| d.split(','))
        .filter(|s| !s.is_empty())
        .collect();
    let wanted: Vec<&str> = if split.is_empty() {
        DEFAULT_DESCRIPTORS.to_vec()
    } else {
        split
    };
    wanted
        .iter()
        .map(|d| {
            let d = d.trim();
            DESCRIPTORS
                .iter()
                .find(|(code, normal, _)| d == *normal || (!code.is_empty() && d == *code))
                .map(|(_, n, h)| (*n, *h))
        })
        .collect()
}

/// Go's `time.Duration.String()`.
pub fn go_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    if ns < 1_000_000_000 {
        let (unit, div) = if ns < 1_000 {
            ("ns", 1u128)
        } else if ns < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{}{unit}", frac(ns, div));
    }
    let total_s = ns / 1_000_000_000;
    let h = total_s / 3600;
    let m = (total_s % 3600) / 60;
    let s = frac(ns % 60_000_000_000, 1_000_000_000);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// `n / div` with the fraction's trailing zeros dropped (Go's formatting).
fn frac(n: u128, div: u128) -> String {
    let whole = n / div;
    let rest = n % div;
    if rest == 0 {
        return whole.to_string();
    }
    let digits = div.to_string().len() - 1;
    let f = format!("{rest:0digits$}");
    format!("{whole}.{}", f.trim_end_matches('0'))
}

/// psgo's capability set: `full` when every known capability is set, `none` when none is.
pub fn caps_string(mask_hex: &str, last_cap: u32) -> String {
    let Ok(mask) = u64::from_str_radix(mask_hex.trim(), 16) else {
        return "?".into();
    };
    let full = if last_cap >= 63 {
        u64::MAX
    } else {
        (1u64 << (last_cap + 1)) - 1
    };
    if mask & full == full {
        return "full".into();
    }
    let mut names: Vec<&str> = (0..64)
        .filter(|b| mask & (1u64 << b) != 0)
        .filter_map(|b| crate::oci::spec::CAP_NAMES.get(b as usize))
        // psgo prints them without the prefix.
        .map(|n| n.trim_start_matches("CAP_"))
        .collect();
    if names.is_empty() {
        return "none".into();
    }
    names.sort_unstable();
    names.join(",")
}

/// The name of a tty from its `tty_nr` (stat field 7); `?` for none.
pub fn tty_name(tty_nr: u64) -> String {
    if tty_nr == 0 {
        return "?".into();
    }
    let major = (tty_nr >> 8) & 0xfff;
    let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
    match major {
        136..=143 => format!("pts/{}", (major - 136) * 256 + minor),
        4 if minor < 64 => format!("tty{minor}"),
        4 => format!("ttyS{}", minor - 64),
        5 if minor == 0 => "tty".into(),
        5 if minor == 1 => "console".into(),
        _ => "?".into(),
    }
}

/// One process, from the host's /proc.
#[derive(Debug, Clone, Default)]
struct Proc {
    host_pid: i32,
    ns_pid: i32,
    comm: String,
    stat: Vec<String>,
    status: HashMap<String, String>,
    cmdline: Vec<String>,
    label: String,
}

impl Proc {
    fn read(pid: i32) -> Option<Proc> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let open = stat.find('(')?;
        let close = stat.rfind(')')?;
        let comm = stat[open + 1..close].to_string();
        let fields: Vec<String> = stat[close + 1..]
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()?
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.to_string(), v.trim().to_string()))
            .collect();
        let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        // psgo splits on NUL without dropping the empty last piece: `sleep 1000 `.
        let cmdline = String::from_utf8_lossy(&raw)
            .split('\0')
            .map(str::to_string)
            .collect();
        let label = std::fs::read_to_string(format!("/proc/{pid}/attr/current"))
            .ok()
            .map(|s| s.trim_end_matches(['\0', '\n']).to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "?".into());
        Some(Proc {
            host_pid: pid,
            ns_pid: 0,
            comm,
            stat: fields,
            status,
            cmdline,
            label,
        })
    }

    /// Stat field by its number in proc(5) (3 = state, 4 = ppid, …).
    fn stat_field(&self, n: usize) -> &str {
        self.stat.get(n - 3).map(String::as_str).unwrap_or("")
    }

    fn status_field(&self, key: &str, idx: usize) -> &str {
        self.status
            .get(key)
            .and_then(|v| v.split_whitespace().nth(idx))
            .unwrap_or("")
    }

    fn ns_pids(&self) -> Vec<i32> {
        self.status
            .get("NSpid")
            .map(|v| {
                v.split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// id → name from a passwd or group file's text.
fn id_names(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            let _ = f.next()?;
            let id = f.next()?;
            Some((id.to_string(), name.to_string()))
        })
        .collect()
}

struct Context {
    users: HashMap<String, String>,
    groups: HashMap<String, String>,
    host_users: HashMap<String, String>,
    host_groups: HashMap<String, String>,
    /// host pid → container pid.
    ns_of: HashMap<i32, i32>,
    ticks: u64,
    boot_time: u64,
    last_cap: u32,
    now: SystemTime,
}

fn name_of(map: &HashMap<String, String>, id: &str) -> String {
    map.get(id).cloned().unwrap_or_else(|| id.to_string())
}

impl Context {
    fn start_time(&self, p: &Proc) -> u64 {
        let since_boot: u64 = p.stat_field(22).parse().unwrap_or(0);
        self.boot_time + since_boot / self.ticks
    }

    fn elapsed(&self, p: &Proc) -> Duration {
        let start = UNIX_EPOCH + Duration::from_secs(self.start_time(p));
        self.now.duration_since(start).unwrap_or_default()
    }

    fn cpu_secs(&self, p: &Proc) -> u64 {
        let u: u64 = p.stat_field(14).parse().unwrap_or(0);
        let s: u64 = p.stat_field(15).parse().unwrap_or(0);
        (u + s) / self.ticks
    }

    fn ns_pid(&self, host: &str) -> String {
        match host.parse::<i32>() {
            Ok(h) => self.ns_of.get(&h).copied().unwrap_or(0).to_string(),
            Err(_) => host.to_string(),
        }
    }

    fn value(&self, p: &Proc, descriptor: &str) -> String {
        match descriptor {
            "pcpu" => {
                let e = self.elapsed(p).as_secs_f64();
                let pcpu = if e > 0.0 {
                    100.0 * self.cpu_secs(p) as f64 / e
                } else {
                    0.0
                };
                format!("{pcpu:.3}")
            }
            "group" => name_of(&self.groups, p.status_field("Gid", 1)),
            "groups" => p
                .status_field_all("Groups")
                .iter()
                .map(|g| name_of(&self.groups, g))
                .collect::<Vec<_>>()
                .join(","),
            "ppid" => self.ns_pid(p.stat_field(4)),
            "user" => name_of(&self.users, p.status_field("Uid", 1)),
            "uid" => p.status_field("Uid", 1).to_string(),
            "args" => {
                if p.cmdline.first().is_none_or(|a| a.is_empty()) {
                    format!("[{}]", p.status.get("Name").cloned().unwrap_or_default())
                } else {
                    p.cmdline.join(" ")
                }
            }
            "comm" => p.comm.clone(),
            "rgroup" => name_of(&self.groups, p.status_field("Gid", 0)),
            "nice" => p.stat_field(19).to_string(),
            "pid" => p.ns_pid.to_string(),
            "pgid" => self.ns_pid(p.stat_field(5)),
            "etime" => go_duration(self.elapsed(p)),
            "ruser" => name_of(&self.users, p.status_field("Uid", 0)),
            "time" => go_duration(Duration::from_secs(self.cpu_secs(p))),
            "tty" => tty_name(p.stat_field(7).parse().unwrap_or(0)),
            "vsz" => (p.stat_field(23).parse::<u64>().unwrap_or(0) / 1024).to_string(),
            "capamb" => caps_string(p.status_field("CapAmb", 0), self.last_cap),
            "capinh" => caps_string(p.status_field("CapInh", 0), self.last_cap),
            "capprm" => caps_string(p.status_field("CapPrm", 0), self.last_cap),
            "capeff" => caps_string(p.status_field("CapEff", 0), self.last_cap),
            "capbnd" => caps_string(p.status_field("CapBnd", 0), self.last_cap),
            "seccomp" => match p.status_field("Seccomp", 0) {
                "0" => "disabled",
                "1" => "strict",
                "2" => "filter",
                _ => "?",
            }
            .to_string(),
            "label" => p.label.clone(),
            "hpid" => p.host_pid.to_string(),
            "huser" => name_of(&self.host_users, p.status_field("Uid", 1)),
            "huid" => p.status_field("Uid", 1).to_string(),
            "hgroup" => name_of(&self.host_groups, p.status_field("Gid", 1)),
            "hgroups" => p.status_field_all("Groups").join(","),
            "rss" => {
                let v = p.status_field("VmRSS", 0);
                if v.is_empty() { "0" } else { v }.to_string()
            }
            "state" => p.status_field("State", 0).to_string(),
            "stime" => go_time_string(self.start_time(p)),
            _ => "?".into(),
        }
    }
}

impl Proc {
    fn status_field_all(&self, key: &str) -> Vec<String> {
        self.status
            .get(key)
            .map(|v| v.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    }
}

/// Go's `time.Time.String()` for a Unix time (whole seconds).
fn go_time_string(secs: u64) -> String {
    match chrono::DateTime::from_timestamp(secs as i64, 0) {
        Some(t) => super::inspect::go_time_string(t),
        None => secs.to_string(),
    }
}

fn boot_time() -> u64 {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

fn clock_ticks() -> u64 {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
        Ok(Some(t)) if t > 0 => t as u64,
        _ => 100,
    }
}

/// The host pids of every process in the pid namespace of `init`, init first.
fn namespace_pids(init: i32) -> Result<Vec<i32>> {
    let ns = std::fs::read_link(format!("/proc/{init}/ns/pid"))
        .map_err(|e| Error::other(format!("reading the pid namespace of pid {init}: {e}")))?;
    let mut pids = Vec::new();
    let dir = std::fs::read_dir("/proc").map_err(|e| Error::io("reading", "/proc", e))?;
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if std::fs::read_link(format!("/proc/{pid}/ns/pid")).is_ok_and(|l| l == ns) {
            pids.push(pid);
        }
    }
    Ok(pids)
}

/// Restrict `ps` output to the rows of `pids` when it has a PID column.
pub fn filter_ps_output(text: &str, pids: &[i32]) -> Vec<String> {
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let col = header.split_whitespace().position(|h| h == "PID");
    let mut out = vec![header.to_string()];
    for l in lines {
        let keep = match col {
            Some(i) => l
                .split_whitespace()
                .nth(i)
                .and_then(|p| p.parse::<i32>().ok())
                .is_some_and(|p| pids.contains(&p)),
            None => true,
        };
        if keep {
            out.push(l.to_string());
        }
    }
    out
}

impl Engine {
    /// `top`: tab-separated lines, the header first (Podman prints them through its
    /// tabwriter). Errors as Podman's for a container that does not run.
    pub fn top(&self, reference: &str, descriptors: &[String]) -> Result<Vec<String>> {
        let c = self.container(reference)?;
        if c.state.status != Status::Running {
            return Err(Error::Other(
                "top can only be used on running containers".into(),
            ));
        }
        let init = c.state.pid;
        let host_pids = namespace_pids(init)?;
        let Some(wanted) = translate(descriptors) else {
            return host_ps(descriptors, &host_pids);
        };

        let mut procs: Vec<Proc> = host_pids.iter().filter_map(|p| Proc::read(*p)).collect();
        let depth = Proc::read(init)
            .map(|p| p.ns_pids().len())
            .filter(|d| *d > 0)
            .ok_or_else(|| Error::other(format!("reading /proc/{init}/status")))?;
        for p in &mut procs {
            p.ns_pid = p.ns_pids().get(depth - 1).copied().unwrap_or(0);
        }
        procs.retain(|p| p.ns_pid > 0);
        procs.sort_by_key(|p| p.ns_pid);
        // The container's files, resolved inside its root: an image's absolute symlink
        // must not make us read a host file.
        let root = std::path::PathBuf::from(format!("/proc/{init}/root"));
        let in_root = |f: &str| super::user::read_in_root(&root, f).unwrap_or_default();
        let ctx = Context {
            users: id_names(&in_root("/etc/passwd")),
            groups: id_names(&in_root("/etc/group")),
            host_users: id_names(&std::fs::read_to_string("/etc/passwd").unwrap_or_default()),
            host_groups: id_names(&std::fs::read_to_string("/etc/group").unwrap_or_default()),
            ns_of: procs.iter().map(|p| (p.host_pid, p.ns_pid)).collect(),
            ticks: clock_ticks(),
            boot_time: boot_time(),
            last_cap: std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(40),
            now: SystemTime::now(),
        };
        let mut out = vec![
            wanted
                .iter()
                .map(|(_, h)| *h)
                .collect::<Vec<_>>()
                .join("\t"),
        ];
        for p in &procs {
            out.push(
                wanted
                    .iter()
                    .map(|(d, _)| ctx.value(p, d))
                    .collect::<Vec<_>>()
                    .join("\t"),
            );
        }
        Ok(out)
    }
}

/// Run the host's `ps` with the user's options on the container's host pids.
fn host_ps(args: &[String], pids: &[i32]) -> Result<Vec<String>> {
    let list = pids
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let out = Command::new("ps")
        .args(args)
        .args(["-p", &list])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::other(format!("executing ps(1) on the host: {e}")))?;
    if !out.status.success() {
        return Err(Error::other(format!(
            "executing ps(1) on the host: ps failed with {} and output: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(filter_ps_output(
        &String::from_utf8_lossy(&out.stdout),
        pids,
    ))
}

#[cfg(test)]
#[path = "top_tests.rs"]
mod tests;
