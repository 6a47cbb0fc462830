//! Looking for what a container or pod may leave on the machine, as a user would look for
//! it: namespace files under the runroot, mounts, machine-wide leases under /run/peapod,
//! nftables rules, veths, runtime containers, cgroups and processes.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::TestEnv;

/// Where the machine-wide leases live (the engine's default; tests do not move it).
const LEASES: &str = "/run/peapod";

/// Files under `dir`, recursively (empty when it does not exist).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Namespace pin files this env's runroot still has: container netns files and pods' pins.
pub fn pin_files(env: &TestEnv) -> Vec<PathBuf> {
    let mut out = files_under(&env.runroot.join("netns"));
    for pod in std::fs::read_dir(env.runroot.join("pods"))
        .into_iter()
        .flatten()
        .flatten()
    {
        out.extend(files_under(&pod.path().join("ns")));
    }
    out
}

/// Lease files (address and port) that name one of `ids` (a container id, or `pod-<id>`)
/// or a holder under this env's runroot: `path: content`.
pub fn leases_of(env: &TestEnv, ids: &[String]) -> Vec<String> {
    let runroot = env.runroot.display().to_string();
    let mut out = Vec::new();
    for f in files_under(&Path::new(LEASES).join("ipam"))
        .into_iter()
        .chain(files_under(&Path::new(LEASES).join("ports")))
    {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        let mut lines = text.lines();
        let holder = lines.next().unwrap_or("");
        let run_dir = lines.next().unwrap_or("");
        let named = ids
            .iter()
            .any(|id| holder == id || holder == format!("pod-{id}"));
        if named || run_dir.starts_with(&runroot) {
            out.push(format!("{}: {}", f.display(), text.replace('\n', " ")));
        }
    }
    out
}

/// The rules of `nft -j list table inet peapod` (none when the table does not exist).
fn nft_rules() -> Vec<serde_json::Value> {
    let out = Command::new("nft")
        .args(["-j", "list", "table", "inet", "peapod"])
        .output()
        .expect("nft");
    if !out.status.success() {
        return Vec::new();
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("nft -j gives JSON");
    v["nftables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o.get("rule").cloned())
        .collect()
}

/// Does any match of the rule compare a `dport` with `port`?
fn matches_dport(rule: &serde_json::Value, port: u16) -> bool {
    rule["expr"].as_array().into_iter().flatten().any(|e| {
        let m = &e["match"];
        m["left"]["payload"]["field"] == "dport" && m["right"] == port
    })
}

/// Rules that belong to one of `ids` (by their `ctr=` comment), that forward host port
/// `port`, or that send traffic to `addr` on behalf of no container (a rule of another
/// container naming the address is that container's: addresses are reused at once by
/// the tests running beside this one): each printed.
pub fn rules_of(ids: &[String], port: Option<u16>, addr: Option<&str>) -> Vec<String> {
    nft_rules()
        .into_iter()
        .filter(|r| {
            let comment = r["comment"].as_str().unwrap_or("");
            let owner = comment
                .strip_prefix("peapod ctr=")
                .and_then(|c| c.split(' ').next());
            let ours = owner.is_some_and(|o| ids.iter().any(|id| id == o));
            let to_addr = owner.is_none()
                && addr.is_some_and(|a| r.to_string().contains(&format!("\"{a}\"")));
            ours || port.is_some_and(|p| matches_dport(r, p)) || to_addr
        })
        .map(|r| r.to_string())
        .collect()
}

/// The host end of the veth whose other end is `eth0` in the namespace pinned at `pin`:
/// `(ifindex, name)`.
pub fn host_veth(pin: &Path) -> Option<(u64, String)> {
    let out = Command::new("nsenter")
        .arg(format!("--net={}", pin.display()))
        .args(["ip", "-j", "link", "show", "eth0"])
        .output()
        .ok()?;
    let links: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let peer = links.get(0)?.get("link_index")?.as_u64()?;
    host_links().into_iter().find(|(i, _)| *i == peer)
}

/// `(ifindex, name)` of every link on the host.
pub fn host_links() -> Vec<(u64, String)> {
    let out = Command::new("ip")
        .args(["-j", "link", "show"])
        .output()
        .expect("ip");
    let links: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    links
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| Some((l["ifindex"].as_u64()?, l["ifname"].as_str()?.to_string())))
        .collect()
}

/// Cgroup directories `…/peapod/peapod-<id>` left for any of `ids`, in any hierarchy.
pub fn cgroups_of(ids: &[String]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for h in std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        for id in ids {
            let d = h.path().join("peapod").join(format!("peapod-{id}"));
            if d.is_dir() {
                out.push(d);
            }
        }
    }
    out
}

/// What a container or pod could have left, gathered before it is removed (the veth of its
/// namespace) and checked after.
pub struct Watch {
    pub ids: Vec<String>,
    pub port: u16,
    pub addr: Option<String>,
    pub veth: Option<(u64, String)>,
}

impl Watch {
    /// Assert that nothing of it is left: no pin file, mount, lease, rule, veth, runtime
    /// container, cgroup or process; `system check` finds nothing either.
    #[track_caller]
    pub fn assert_gone(&self, env: &TestEnv, when: &str) {
        let pins = pin_files(env);
        assert!(pins.is_empty(), "{when}: namespace files left: {pins:?}");
        env.assert_no_mounts();
        let leases = leases_of(env, &self.ids);
        assert!(leases.is_empty(), "{when}: leases left: {leases:#?}");
        let rules = rules_of(&self.ids, Some(self.port), self.addr.as_deref());
        assert!(
            rules.is_empty(),
            "{when}: nft rules left (watching {:?}, port {}): {rules:#?}",
            self.ids,
            self.port
        );
        if let Some(v) = &self.veth {
            // A veth dies with its namespace, and the kernel destroys a namespace whose
            // last reference went asynchronously (its cleanup_net work queue): under load
            // that takes a moment.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while host_links().contains(v) && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            assert!(
                !host_links().contains(v),
                "{when}: veth {v:?} is still on the host 10 s after its namespace was released"
            );
        }
        let rt = peapod_tests::runtime_containers_under(&env.dir);
        assert!(rt.is_empty(), "{when}: runtime containers left: {rt:?}");
        // Nor a half-made one (a `create` killed before it wrote its state), which
        // `runc list` does not show.
        for id in &self.ids {
            for root in ["/run/runc", "/run/crun"] {
                let dir = Path::new(root).join(id);
                assert!(
                    !dir.exists(),
                    "{when}: runtime state left: {}",
                    dir.display()
                );
            }
        }
        let cg = cgroups_of(&self.ids);
        assert!(cg.is_empty(), "{when}: cgroups left: {cg:?}");
        env.assert_no_processes();
        // `system check` finds nothing of it either (it also reports other stores' dead
        // leases, machine-wide: those are not this test's to judge).
        let check = env.run(&["system", "check"]);
        let dir = env.dir.display().to_string();
        let mine: Vec<&str> = check
            .stdout
            .lines()
            .filter(|l| {
                l.contains(&dir)
                    || self
                        .ids
                        .iter()
                        .any(|id| l.contains(&id[..id.len().min(12)]))
            })
            .collect();
        assert!(
            mine.is_empty() && (check.code() == 0 || !check.stdout.is_empty()),
            "{when}: system check found something of it: {mine:#?}{check:?}"
        );
    }
}
