//! Which compatible ABIs this kernel runs, for the architectures of a profile's `archMap`.
//!
//! Every architecture in `linux.seccomp.architectures` is a whole filter more for the
//! runtime to build and load: with libseccomp 2.5 and runc 1.1, measured here, `runc
//! create` took 83 ms with Podman's three x86 ABIs (x86_64, x86, x32), 59 ms without x32
//! and 46 ms with x86_64 alone. The x32 ABI is compiled out of most kernels (or off by
//! default): there, no process can make an x32 call, with or without a filter, so an x32
//! filter is work that guards nothing. It is left out when this kernel answers an x32
//! call with ENOSYS; kept when the kernel runs x32 code, or when we cannot tell.
#![allow(unsafe_code)]

use std::sync::OnceLock;

/// Bit 30 of the syscall number selects the x32 ABI on x86_64.
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: libc::c_long = 0x4000_0000;

/// Does this kernel run x32 system calls? `true` when it does or when we cannot tell (this
/// process runs under a seccomp filter, which might not allow the probe).
pub fn kernel_runs_x32() -> bool {
    static RUNS: OnceLock<bool> = OnceLock::new();
    *RUNS.get_or_init(probe_x32)
}

#[cfg(target_arch = "x86_64")]
fn probe_x32() -> bool {
    if !unfiltered() {
        return true;
    }
    // SAFETY: getpid takes no arguments, touches no memory and cannot fail; with the x32 bit
    // the kernel either runs it (x32 supported) or returns ENOSYS. No filter is loaded in
    // this process (checked above), so nothing can turn the call into a signal.
    let r = unsafe { libc::syscall(X32_SYSCALL_BIT | libc::SYS_getpid) };
    !(r == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS))
}

#[cfg(not(target_arch = "x86_64"))]
fn probe_x32() -> bool {
    true
}

/// Is this process free of seccomp filters (`Seccomp: 0` in /proc/self/status)?
fn unfiltered() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Seccomp:").map(|v| v.trim() == "0"))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn the_probe_agrees_with_a_direct_x32_call() {
        // Under a filter of its own the probe is not made: x32 is kept.
        if !unfiltered() {
            assert!(kernel_runs_x32());
            return;
        }
        // SAFETY: as in probe_x32.
        let r = unsafe { libc::syscall(X32_SYSCALL_BIT | libc::SYS_getpid) };
        assert_eq!(
            kernel_runs_x32(),
            r == libc::c_long::from(std::process::id() as i32)
        );
    }
}
