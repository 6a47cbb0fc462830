//! The host's prerequisites: an OCI runtime, nft, overlayfs, static busybox, ip, ps, and
//! docker-registry for the demo's registry step.
//!
//! `ensure` checks them and, when allowed, running as root and apt-get exists, installs the
//! missing Debian packages; otherwise it names the exact command to run.

use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::shell::{self, which};

/// Something the host lacks, and the Debian package that provides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub what: String,
    pub package: &'static str,
}

/// Checks every prerequisite that a package provides.
pub fn missing() -> Vec<Missing> {
    let mut out = Vec::new();
    let mut need = |ok: bool, what: &str, package: &'static str| {
        if !ok {
            out.push(Missing {
                what: what.to_owned(),
                package,
            });
        }
    };
    need(
        which("crun").is_some() || which("runc").is_some(),
        "an OCI runtime (crun or runc)",
        "runc",
    );
    need(which("nft").is_some(), "nft (nftables)", "nftables");
    need(
        is_static_elf(Path::new(peapod_tests::BUSYBOX)).unwrap_or(false),
        "a static busybox at /bin/busybox",
        "busybox-static",
    );
    need(which("ip").is_some(), "ip (iproute2)", "iproute2");
    need(which("ps").is_some(), "ps (procps)", "procps");
    need(
        which("docker-registry").is_some(),
        "docker-registry (the demo's local registry)",
        "docker-registry",
    );
    out
}

/// True when `path` is an ELF executable without a program interpreter (statically linked).
pub fn is_static_elf(path: &Path) -> Result<bool> {
    let bytes = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(elf_is_static(&bytes))
}

fn elf_is_static(bytes: &[u8]) -> bool {
    const PT_INTERP: u32 = 3;
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" || bytes[4] != 2 || bytes[5] != 1 {
        // Only 64-bit little-endian ELF is handled (the hosts we support).
        return false;
    }
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]) as usize;
    let u64_at = |o: usize| {
        bytes
            .get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
    };
    let Some(phoff) = u64_at(0x20) else {
        return false;
    };
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    (0..phnum).all(|i| {
        let o = phoff + i * phentsize;
        match bytes.get(o..o + 4) {
            Some(b) => u32::from_le_bytes(b.try_into().expect("4 bytes")) != PT_INTERP,
            None => false,
        }
    })
}

/// True when the kernel knows overlayfs; tries `modprobe overlay` once if not.
pub fn ensure_overlay() -> Result<()> {
    let known = || {
        fs::read_to_string("/proc/filesystems")
            .map(|s| {
                s.lines()
                    .any(|l| l.split_whitespace().last() == Some("overlay"))
            })
            .unwrap_or(false)
    };
    if known() {
        return Ok(());
    }
    if shell::is_root() {
        let _ = Command::new("modprobe").arg("overlay").status();
        if known() {
            return Ok(());
        }
    }
    bail!(
        "overlayfs is not available: run `modprobe overlay` as root (and add `overlay` to \
         /etc/modules-load.d/ to keep it)"
    )
}

/// Checks the prerequisites; installs what is missing when `install` is true, we are root
/// and apt-get exists; else fails naming the command to run.
pub fn ensure(install: bool) -> Result<()> {
    let missing = missing();
    if !missing.is_empty() {
        let packages: Vec<&str> = missing.iter().map(|m| m.package).collect();
        let command = format!(
            "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y {}",
            packages.join(" ")
        );
        let lacking: Vec<&str> = missing.iter().map(|m| m.what.as_str()).collect();
        eprintln!("host lacks: {}", lacking.join(", "));
        if install && shell::is_root() && which("apt-get").is_some() {
            eprintln!("installing: {command}");
            shell::run(Command::new("apt-get").arg("update"))?;
            shell::run(
                Command::new("apt-get")
                    .env("DEBIAN_FRONTEND", "noninteractive")
                    .args(["install", "-y"])
                    .args(&packages),
            )?;
            let still = self::missing();
            if !still.is_empty() {
                bail!("still missing after apt-get install: {still:?}");
            }
        } else {
            let sudo = if shell::is_root() { "" } else { "sudo " };
            bail!("missing prerequisites; install them with:\n  {sudo}sh -c '{command}'");
        }
    }
    ensure_overlay()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_and_dynamic_elves() {
        // busybox-static is static; cargo (or any dynamically linked tool) is not.
        if Path::new(peapod_tests::BUSYBOX).exists() {
            assert!(is_static_elf(Path::new(peapod_tests::BUSYBOX)).unwrap());
        }
        let sh = Path::new("/bin/sh");
        assert!(
            !is_static_elf(sh).unwrap(),
            "/bin/sh (dash) is dynamically linked"
        );
        assert!(!elf_is_static(b"#!/bin/sh\necho not elf\n"));
        assert!(!elf_is_static(&[]));
    }
}
