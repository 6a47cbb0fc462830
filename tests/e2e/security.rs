//! Security defaults, checked as a user would and against the real Podman 4.3: the seccomp
//! filter (in containers and exec sessions), capabilities, `--privileged`,
//! `--security-opt`, masked paths, inspect, bad input. (Choices a user makes and
//! containers.conf are in [`crate::security_conf`].)
//!
//! A small static program (`fixtures/syscalls.c`, built here with `gcc -static`) calls the
//! system calls Podman's default profile refuses and prints `name=ERRNO` per call; it is
//! bind-mounted into a peapod container and into a Podman container started with the same
//! flags and the same `containers.conf`, and the answers must agree call by call.
//! Podman runs with `--network none` (its default bridge would be the same `podman0` as
//! peapod's); peapod does the same so the two containers are alike.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::podman::PodmanEnv;
use crate::util::{IMG, Output, TestEnv, lines, name};

/// The syscall probe (`fixtures/syscalls.c`), built once per test process; `None`
/// (skipped, a failure in CI) without gcc.
pub(crate) fn probe() -> Option<PathBuf> {
    static PROBE: OnceLock<Option<PathBuf>> = OnceLock::new();
    PROBE
        .get_or_init(|| crate::util::static_fixture("syscalls"))
        .clone()
}

/// The probe bind-mounted read-only at /probe.
pub(crate) fn probe_volume(probe: &Path) -> String {
    format!("{}:/probe:ro", probe.display())
}

/// A peapod env and a Podman env reading the same containers.conf (the Podman env's, with
/// `containers` added to its `[containers]` table), both with busybox imported.
pub(crate) struct Both {
    pub(crate) pp: TestEnv,
    pub(crate) pm: PodmanEnv,
}

impl Both {
    pub(crate) fn new(test: &str, containers: &str) -> Option<Both> {
        let pm = PodmanEnv::new(test, None, containers)?;
        let pp = TestEnv::new(test);
        pp.import_busybox();
        pm.import_busybox();
        Some(Both { pp, pm })
    }

    /// `peapod ARGS` with the Podman env's containers.conf.
    pub(crate) fn peapod(&self, args: &[&str]) -> Output {
        self.pp
            .peapod(args)
            .env("CONTAINERS_CONF", self.pm.conf())
            .output()
    }

    pub(crate) fn podman(&self, args: &[&str]) -> Output {
        self.pm.run(args)
    }

    /// `run --rm --network none FLAGS IMG CMD` under both; both must succeed.
    pub(crate) fn run_both(&self, flags: &[&str], cmd: &[&str]) -> (String, String) {
        let mut args = vec!["run", "--rm", "--network", "none"];
        args.extend_from_slice(flags);
        args.push(IMG);
        args.extend_from_slice(cmd);
        (self.peapod(&args).success(), self.podman(&args).success())
    }
}

/// The flag sets compared with Podman.
const FLAG_SETS: &[&[&str]] = &[
    &[],
    &["--cap-drop", "all"],
    &[
        "--cap-add",
        "SYS_ADMIN,SYS_PTRACE,DAC_READ_SEARCH",
        "--cap-drop",
        "AUDIT_WRITE",
    ],
    &["--security-opt", "seccomp=unconfined"],
    &["--privileged"],
    &["--security-opt", "no-new-privileges"],
];

/// Debian's containers.conf capabilities (AUDIT_WRITE, MKNOD and NET_RAW dropped), so both
/// engines are also compared away from Podman's built-in defaults.
const DEBIAN_CAPS: &str = "default_capabilities = [\"CHOWN\", \"DAC_OVERRIDE\", \"FOWNER\", \"FSETID\", \"KILL\", \"NET_BIND_SERVICE\", \"SETFCAP\", \"SETGID\", \"SETPCAP\", \"SETUID\", \"SYS_CHROOT\"]";

/// `name=RESULT` lines of the probe as a list of pairs.
fn results(out: &str) -> Vec<(String, String)> {
    lines(out)
        .into_iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => panic!("probe printed {l:?}"),
        })
        .collect()
}

fn result<'a>(r: &'a [(String, String)], call: &str) -> &'a str {
    r.iter()
        .find(|(k, _)| k == call)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("the probe did not report {call}: {r:?}"))
}

#[test]
fn syscall_answers_match_podman() {
    let Some(probe) = probe() else { return };
    let Some(both) = Both::new("sec-probe", "") else {
        return;
    };
    let vol = probe_volume(&probe);
    for flags in FLAG_SETS {
        let mut f = vec!["-v", &vol];
        f.extend_from_slice(flags);
        let desc = name("pp-probe");
        let (pp, pm) = both.run_both(&f, &["/probe", "calls", &desc]);
        let (pp, pm) = (results(&pp), results(&pm));
        assert_eq!(pp.len(), pm.len(), "flags {flags:?}");
        for ((call, ours), (_, podmans)) in pp.iter().zip(&pm) {
            assert_eq!(
                ours, podmans,
                "{call} under {flags:?}: peapod {ours}, podman {podmans}"
            );
        }
        if flags.is_empty() {
            // What Podman's default profile answers, as the issue lists it.
            for call in [
                "add_key",
                "request_key",
                "io_uring_setup",
                "personality_bsd",
            ] {
                assert_eq!(result(&pp, call), "ENOSYS", "{call}: {pp:?}");
            }
            for call in [
                "bpf",
                "perf_event_open",
                "kcmp",
                "open_by_handle_at",
                "quotactl",
                "move_pages",
                "userfaultfd",
            ] {
                assert_eq!(result(&pp, call), "EPERM", "{call}: {pp:?}");
            }
            assert_eq!(result(&pp, "personality_query"), "0");
        }
    }
    // And with Debian's narrower default capabilities (no AUDIT_WRITE: audit sockets are
    // refused by the filter with EINVAL).
    let Some(debian) = Both::new("sec-probe-deb", DEBIAN_CAPS) else {
        return;
    };
    let desc = name("pp-probe");
    let (pp, pm) = debian.run_both(&["-v", &vol], &["/probe", "calls", &desc]);
    assert_eq!(results(&pp), results(&pm));
    assert_eq!(result(&results(&pp), "socket_audit"), "EINVAL");
}

/// Removes a key from the host's user keyring when dropped (the probe run on the host).
struct KeyCleanup<'a> {
    probe: &'a Path,
    desc: String,
}

impl Drop for KeyCleanup<'_> {
    fn drop(&mut self) {
        if host_keys_mention(&self.desc) {
            let _ = std::process::Command::new(self.probe)
                .args(["unlink", &self.desc])
                .stdout(std::process::Stdio::null())
                .status();
        }
    }
}

fn host_keys_mention(desc: &str) -> bool {
    std::fs::read_to_string("/proc/keys")
        .expect("reading /proc/keys")
        .lines()
        .any(|l| {
            l.split_whitespace()
                .any(|w| w.trim_end_matches(':') == desc)
        })
}

#[test]
fn default_filter_keeps_the_host_keyring_and_unconfined_reaches_the_kernel() {
    let Some(probe) = probe() else { return };
    let env = TestEnv::new("sec-keyring");
    env.import_busybox();
    let vol = probe_volume(&probe);
    let desc = name("pp-key");
    let _cleanup = KeyCleanup {
        probe: &probe,
        desc: desc.clone(),
    };
    // Default: the probe asks to keep the key it adds to root's user keyring, and cannot.
    let out = env.ok(&[
        "run", "--rm", "-v", &vol, IMG, "/probe", "calls", &desc, "keep",
    ]);
    let r = results(&out);
    assert_eq!(result(&r, "add_key"), "ENOSYS", "{out}");
    assert_eq!(result(&r, "request_key"), "ENOSYS", "{out}");
    assert!(
        !host_keys_mention(&desc),
        "a container added {desc} to the host's /proc/keys"
    );
    let status = env.ok(&["run", "--rm", IMG, "grep", "^Seccomp:", "/proc/self/status"]);
    assert_eq!(
        status.split_whitespace().collect::<Vec<_>>(),
        ["Seccomp:", "2"]
    );

    // Unconfined: the same calls reach the kernel, and the key lands in the host's keyring
    // (which is why the filter matters).
    let out = env.ok(&[
        "run",
        "--rm",
        "--security-opt",
        "seccomp=unconfined",
        "-v",
        &vol,
        IMG,
        "/probe",
        "calls",
        &desc,
        "keep",
    ]);
    let r = results(&out);
    assert_eq!(result(&r, "add_key"), "0", "{out}");
    for call in ["request_key", "io_uring_setup", "personality_bsd", "kcmp"] {
        assert_ne!(
            result(&r, call),
            "ENOSYS",
            "{call} did not reach the kernel: {out}"
        );
    }
    assert!(
        host_keys_mention(&desc),
        "the unconfined add_key left no key"
    );
    let status = env.ok(&[
        "run",
        "--rm",
        "--security-opt",
        "seccomp=unconfined",
        IMG,
        "grep",
        "^Seccomp:",
        "/proc/self/status",
    ]);
    assert_eq!(
        status.split_whitespace().collect::<Vec<_>>(),
        ["Seccomp:", "0"]
    );
}

/// Capability, no-new-privileges and seccomp lines of /proc/self/status.
const STATUS: &[&str] = &[
    "grep",
    "-E",
    "^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):",
    "/proc/self/status",
];

/// Masked and read-only paths: the mount points under /proc and /sys, less the cgroup tree.
fn masked(mountinfo: &str) -> BTreeSet<String> {
    mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| {
            (m.starts_with("/proc/") || m.starts_with("/sys/")) && !m.starts_with("/sys/fs/cgroup")
        })
        .map(str::to_string)
        .collect()
}

/// Masked on purpose beyond Podman 4.3 (later Podman versions mask them too).
const EXTRA_MASKS: &[&str] = &["/proc/interrupts", "/sys/devices/virtual/powercap"];

#[test]
fn privileged_cap_drop_all_and_masks_match_podman() {
    let Some(both) = Both::new("sec-status", "") else {
        return;
    };
    let mut sets: Vec<&[&str]> = FLAG_SETS.to_vec();
    sets.push(&["--security-opt", "unmask=ALL"]);
    sets.push(&["--security-opt", "unmask=/proc/k*:/sys/firmware"]);
    sets.push(&["--security-opt", "mask=/etc/hostname:/opt"]);
    sets.push(&["--user", "1000", "--cap-add", "NET_ADMIN"]);
    for flags in sets {
        let (pp, pm) = both.run_both(flags, STATUS);
        assert_eq!(pp, pm, "/proc/self/status under {flags:?}");
        let (pp, pm) = both.run_both(flags, &["cat", "/proc/self/mountinfo"]);
        let (pp, pm) = (masked(&pp), masked(&pm));
        assert!(
            pm.is_subset(&pp),
            "under {flags:?} podman masks {:?} which peapod does not",
            pm.difference(&pp).collect::<Vec<_>>()
        );
        let extra: Vec<&String> = pp.difference(&pm).collect();
        assert!(
            extra.iter().all(|e| EXTRA_MASKS.contains(&e.as_str())),
            "under {flags:?} peapod masks {extra:?} beyond podman"
        );
        let (pp, pm) = both.run_both(flags, &["ls", "-1", "/dev"]);
        assert_eq!(pp, pm, "/dev under {flags:?}");
        if flags == ["--privileged"] {
            assert!(pp.contains("\nnull\n") && lines(&pp).len() > 20, "{pp}");
        }
    }
}

#[test]
fn exec_sessions_keep_the_filter_as_podman() {
    let Some(both) = Both::new("sec-exec", "") else {
        return;
    };
    for flags in [
        &[][..],
        &["--security-opt", "no-new-privileges", "--cap-drop", "all"],
    ] {
        let n = name("ex");
        let mut args = vec!["run", "-d", "--network", "none", "--name", &n];
        args.extend_from_slice(flags);
        args.extend([IMG, "sleep", "1000"]);
        both.peapod(&args).success();
        both.podman(&args).success();
        for exec in [
            &[][..],
            &["--privileged"],
            &["-u", "1000"],
            &["--privileged", "-u", "1000"],
        ] {
            let mut a = vec!["exec"];
            a.extend_from_slice(exec);
            a.push(&n);
            a.extend_from_slice(STATUS);
            let pp = both.peapod(&a).success();
            let pm = both.podman(&a).success();
            assert_eq!(pp, pm, "exec {exec:?} into a container run with {flags:?}");
            assert!(
                lines(&pp)
                    .iter()
                    .any(|l| l.split_whitespace().eq(["Seccomp:", "2"])),
                "exec {exec:?}: {pp}"
            );
        }
        both.peapod(&["rm", "-f", "-t", "0", &n]).success();
        both.podman(&["rm", "-f", "-t", "0", &n]).success();
    }
}

#[test]
fn oci_seccomp_section_equals_podmans() {
    let Some(both) = Both::new("sec-oci", "") else {
        return;
    };
    let sets: &[&[&str]] = &[
        &[],
        &["--cap-drop", "all"],
        &[
            "--cap-add",
            "SYS_ADMIN,SYS_PTRACE",
            "--cap-drop",
            "AUDIT_WRITE",
        ],
    ];
    let seccomp = |config: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(config).unwrap_or_else(|e| panic!("{config}: {e}"));
        let v: serde_json::Value = serde_json::from_str(&text).expect("config.json");
        v["linux"]["seccomp"].clone()
    };
    for flags in sets {
        let n = name("oci");
        let mut args = vec!["run", "-d", "--network", "none", "--name", &n];
        args.extend_from_slice(flags);
        args.extend([IMG, "sleep", "1000"]);
        both.peapod(&args).success();
        both.podman(&args).success();
        let fmt = ["inspect", "--format", "{{.OCIConfigPath}}", n.as_str()];
        let ours = seccomp(both.peapod(&fmt).success().trim());
        let mut podmans = seccomp(both.podman(&fmt).success().trim());
        assert!(ours.is_object(), "no linux.seccomp in peapod's config.json");
        // The one departure: no x32 filter on a kernel that runs no x32 code.
        if !kernel_runs_x32()
            && let Some(arches) = podmans["architectures"].as_array_mut()
        {
            arches.retain(|a| a != "SCMP_ARCH_X32");
        }
        assert_eq!(ours, podmans, "linux.seccomp under {flags:?}");
        both.peapod(&["rm", "-f", "-t", "0", &n]).success();
        both.podman(&["rm", "-f", "-t", "0", &n]).success();
    }
}

#[test]
fn inspect_shows_security_as_podman() {
    let Some(both) = Both::new("sec-inspect", DEBIAN_CAPS) else {
        return;
    };
    let format = "{{json .EffectiveCaps}} {{json .BoundingCaps}} {{json .HostConfig.CapAdd}} \
                  {{json .HostConfig.CapDrop}} {{.HostConfig.Privileged}} \
                  {{json .HostConfig.SecurityOpt}}";
    let sets: &[&[&str]] = &[
        &[],
        &["--cap-drop", "all"],
        &["--cap-add", "net_admin,sys_admin", "--cap-drop=chown"],
        &["--privileged"],
        &["--user", "1000"],
        &[
            "--security-opt",
            "no-new-privileges",
            "--security-opt",
            "seccomp=unconfined",
            "--security-opt",
            "label=disable",
            "--security-opt",
            "label=type:x_t",
            "--security-opt",
            "apparmor=unconfined",
        ],
    ];
    for flags in sets {
        let mut args = vec!["create", "--network", "none"];
        args.extend_from_slice(flags);
        args.extend([IMG, "true"]);
        let ours = both.peapod(&args).success();
        let podmans = both.podman(&args).success();
        let pp = both
            .peapod(&["inspect", "--format", format, ours.trim()])
            .success();
        let pm = both
            .podman(&["inspect", "--format", format, podmans.trim()])
            .success();
        assert_eq!(pp, pm, "inspect under {flags:?}");
    }
}

#[test]
fn bad_security_input_is_refused_as_podman_and_leaves_nothing() {
    let Some(both) = Both::new("sec-bad", "") else {
        return;
    };
    let malformed = both.pp.dir.join("malformed.json");
    std::fs::write(
        &malformed,
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": ["#,
    )
    .unwrap();
    let malformed = malformed.display().to_string();
    let bad_action = both.pp.dir.join("bad-action.json");
    std::fs::write(
        &bad_action,
        r#"{"defaultAction":"SCMP_ACT_BOGUS","syscalls":[]}"#,
    )
    .unwrap();
    let bad_action = bad_action.display().to_string();
    let missing = format!("seccomp={}", both.pp.dir.join("missing.json").display());
    let malformed_opt = format!("seccomp={malformed}");
    let bad_action_opt = format!("seccomp={bad_action}");
    // (flags, text both engines print, peapod only: Podman fails later, at start)
    let cases: Vec<(Vec<&str>, &str, bool)> = vec![
        (
            vec!["--cap-add", "FOO"],
            "\"CAP_FOO\": unknown capability",
            false,
        ),
        (
            vec!["--cap-drop", "cap_bar"],
            "\"CAP_BAR\": unknown capability",
            false,
        ),
        (
            vec!["--cap-add", "all", "--cap-drop", "all"],
            "adding all caps and removing all caps not allowed",
            false,
        ),
        (
            vec!["--cap-add", "chown", "--cap-drop", "CHOWN"],
            "capability \"CAP_CHOWN\" cannot be dropped and added",
            false,
        ),
        (
            vec!["--security-opt", &missing],
            "opening seccomp profile failed: open ",
            false,
        ),
        (
            vec!["--security-opt", &malformed_opt],
            "decoding seccomp profile failed",
            false,
        ),
        (
            vec!["--security-opt", &bad_action_opt],
            "SCMP_ACT_BOGUS",
            true,
        ),
        (
            vec!["--security-opt", "bogus"],
            "invalid --security-opt 1: \"bogus\"",
            false,
        ),
        (
            vec!["--security-opt", "no-new-privileges=maybe"],
            "invalid --security-opt 2: \"no-new-privileges=maybe\"",
            false,
        ),
    ];
    let files = both.pp.store_file_count();
    for (flags, text, ours_only) in &cases {
        for cmd in ["create", "run"] {
            let mut args = vec![cmd, "--network", "none"];
            args.extend_from_slice(flags);
            args.extend([IMG, "true"]);
            both.peapod(&args).assert_error(125, &[text]);
            if !ours_only {
                both.podman(&args).assert_error(125, &[text]);
            }
        }
        assert!(both.pp.ids_all().is_empty(), "{flags:?} left a container");
        assert_eq!(both.pp.store_file_count(), files, "{flags:?} left files");
        both.pp.assert_no_mounts();
    }
    // Without AppArmor on the host, only `unconfined` is accepted (as Podman).
    if !Path::new("/sys/module/apparmor/parameters/enabled").exists() {
        let args = [
            "create",
            "--security-opt",
            "apparmor=myprofile",
            IMG,
            "true",
        ];
        let text = "apparmor profile \"myprofile\" specified, but Apparmor is not enabled";
        both.peapod(&args).assert_error(125, &[text]);
        both.podman(&args).assert_error(125, &[text]);
        assert!(both.pp.ids_all().is_empty());
    }
}

/// Does this kernel run x32 system calls (an x32 `getpid` answers, not ENOSYS)? The test
/// process has no seccomp filter of its own here, so the probe cannot be turned into a kill.
#[allow(unsafe_code)]
fn kernel_runs_x32() -> bool {
    if !cfg!(target_arch = "x86_64") {
        return true;
    }
    // SAFETY: getpid takes no arguments and touches no memory; the x32 bit (30) makes the
    // kernel run it through the x32 table or answer ENOSYS.
    let r = unsafe { libc::syscall(0x4000_0000 | libc::SYS_getpid) };
    !(r == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS))
}
