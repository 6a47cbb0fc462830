//! Raw Linux system calls, the only `unsafe` of the library.
//!
//! `peapod-pause` links no C library (it must run from a rootfs that holds nothing
//! but itself), so every kernel call is a `syscall`/`svc` instruction here, behind
//! a safe wrapper that checks its arguments' validity by construction (slices,
//! NUL-terminated literals, plain integers). Numbers and flag values come from the
//! `libc` crate, which only supplies constants: none of its functions are called.
#![allow(unsafe_code)]

use core::arch::asm;
use core::fmt;

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("peapod-pause: raw system calls are written for x86_64 and aarch64 only");

#[cfg(not(target_os = "linux"))]
compile_error!("peapod-pause: Linux only");

/// A failed system call: the kernel's errno value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "errno {}", self.0)
    }
}

/// Raw syscall with up to six arguments; returns the kernel's return value.
///
/// # Safety
/// The caller guarantees that the arguments are valid for syscall `nr` (pointers
/// point at live memory of the right size and mutability).
#[cfg(target_arch = "x86_64")]
unsafe fn syscall6(nr: libc::c_long, a: [usize; 6]) -> isize {
    let ret: isize;
    // SAFETY: the x86_64 Linux syscall ABI: number in rax, arguments in rdi, rsi,
    // rdx, r10, r8, r9; the kernel clobbers rcx and r11 and touches no user stack.
    // Memory validity of the arguments is the caller's contract.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") nr as isize => ret,
            in("rdi") a[0], in("rsi") a[1], in("rdx") a[2],
            in("r10") a[3], in("r8") a[4], in("r9") a[5],
            lateout("rcx") _, lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

/// Raw syscall with up to six arguments; returns the kernel's return value.
///
/// # Safety
/// As for the x86_64 version.
#[cfg(target_arch = "aarch64")]
unsafe fn syscall6(nr: libc::c_long, a: [usize; 6]) -> isize {
    let ret: isize;
    // SAFETY: the aarch64 Linux syscall ABI: number in x8, arguments in x0..x5,
    // result in x0; `svc 0` touches no user stack. Memory validity of the
    // arguments is the caller's contract.
    unsafe {
        asm!(
            "svc 0",
            in("x8") nr as usize,
            inlateout("x0") a[0] => ret,
            in("x1") a[1], in("x2") a[2], in("x3") a[3], in("x4") a[4], in("x5") a[5],
            options(nostack),
        );
    }
    ret
}

fn check(ret: isize) -> Result<usize, Errno> {
    if (-4095..0).contains(&ret) {
        Err(Errno(-ret as i32))
    } else {
        Ok(ret as usize)
    }
}

/// Size in bytes of the kernel's `sigset_t` (64 signals).
const SIGSET_SIZE: usize = 8;

/// Sets the blocked signal mask to `mask` (bit `n - 1` is signal `n`).
pub fn block_signals(mask: u64) -> Result<(), Errno> {
    let set = mask;
    // SAFETY: `set` is a live 8-byte kernel sigset; the old-mask pointer is null.
    let ret = unsafe {
        syscall6(
            libc::SYS_rt_sigprocmask,
            [
                libc::SIG_SETMASK as usize,
                &raw const set as usize,
                0,
                SIGSET_SIZE,
                0,
                0,
            ],
        )
    };
    check(ret).map(drop)
}

/// Creates a close-on-exec signalfd for the signals in `mask`.
pub fn signalfd(mask: u64) -> Result<i32, Errno> {
    let set = mask;
    // SAFETY: `set` is a live 8-byte kernel sigset; -1 asks for a new fd.
    let ret = unsafe {
        syscall6(
            libc::SYS_signalfd4,
            [
                -1isize as usize,
                &raw const set as usize,
                SIGSET_SIZE,
                libc::SFD_CLOEXEC as usize,
                0,
                0,
            ],
        )
    };
    check(ret).map(|fd| fd as i32)
}

/// Size of `struct signalfd_siginfo`.
pub const SIGINFO_SIZE: usize = 128;

/// Reads one `struct signalfd_siginfo` and returns its `ssi_signo`.
pub fn read_signal(fd: i32) -> Result<u32, Errno> {
    let mut buf = [0u8; SIGINFO_SIZE];
    // SAFETY: `buf` is a live, writable buffer of exactly the length passed.
    let ret = unsafe {
        syscall6(
            libc::SYS_read,
            [fd as usize, buf.as_mut_ptr() as usize, buf.len(), 0, 0, 0],
        )
    };
    let n = check(ret)?;
    if n != SIGINFO_SIZE {
        // A signalfd never returns a partial record; treat it as "try again".
        return Err(Errno(libc::EAGAIN));
    }
    Ok(u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]))
}

/// Waits for one of the (blocked) signals in `mask` with `rt_sigtimedwait`,
/// consumes it and returns its number. The fallback when the signalfd fails.
pub fn wait_signal(mask: u64) -> Result<u32, Errno> {
    let set = mask;
    let mut info = [0u8; SIGINFO_SIZE];
    loop {
        // SAFETY: `set` is a live 8-byte sigset, `info` a live, writable
        // 128-byte siginfo_t; a null timeout means wait forever.
        let ret = unsafe {
            syscall6(
                libc::SYS_rt_sigtimedwait,
                [
                    &raw const set as usize,
                    info.as_mut_ptr() as usize,
                    0,
                    SIGSET_SIZE,
                    0,
                    0,
                ],
            )
        };
        match check(ret) {
            Ok(signo) => return Ok(signo as u32),
            Err(Errno(libc::EINTR)) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Writes all of `bytes` to `fd`, giving up silently on error (used for messages
/// only: there is nobody to report a failing stderr to).
pub fn write_all(fd: i32, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is a live, readable buffer of exactly the length passed.
        let ret = unsafe {
            syscall6(
                libc::SYS_write,
                [fd as usize, bytes.as_ptr() as usize, bytes.len(), 0, 0, 0],
            )
        };
        match check(ret) {
            Ok(0) => return,
            Ok(n) => bytes = &bytes[n.min(bytes.len())..],
            Err(Errno(libc::EINTR)) => {}
            Err(_) => return,
        }
    }
}

/// Ends the process (all threads) with `code`.
pub fn exit(code: u8) -> ! {
    loop {
        // SAFETY: exit_group takes an integer and does not return.
        unsafe {
            syscall6(libc::SYS_exit_group, [code as usize, 0, 0, 0, 0, 0]);
        }
    }
}

/// `chdir("/")`.
pub fn chdir_root() -> Result<(), Errno> {
    let root = c"/";
    // SAFETY: `root` is a NUL-terminated string literal.
    let ret = unsafe { syscall6(libc::SYS_chdir, [root.as_ptr() as usize, 0, 0, 0, 0, 0]) };
    check(ret).map(drop)
}

/// Closes one file descriptor.
fn close(fd: u32) -> Result<(), Errno> {
    // SAFETY: close takes an integer; closing an fd we don't use is harmless here
    // because this process holds no Rust-owned file descriptors at this point.
    let ret = unsafe { syscall6(libc::SYS_close, [fd as usize, 0, 0, 0, 0, 0]) };
    check(ret).map(drop)
}

/// The soft `RLIMIT_NOFILE`, or `None` when it cannot be read.
fn nofile_limit() -> Option<u64> {
    let mut lim = [0u64; 2];
    // SAFETY: `lim` is a live, writable `struct rlimit64` (two u64); pid 0 is us;
    // the new-limit pointer is null, so nothing is changed.
    let ret = unsafe {
        syscall6(
            libc::SYS_prlimit64,
            [
                0,
                libc::RLIMIT_NOFILE as usize,
                0,
                lim.as_mut_ptr() as usize,
                0,
                0,
            ],
        )
    };
    check(ret).ok().map(|_| lim[0])
}

/// Closes every file descriptor `>= first`. Uses `close_range` (Linux 5.9);
/// on older kernels closes them one by one up to the soft `RLIMIT_NOFILE`
/// (capped, so an "unlimited" limit does not mean billions of calls).
pub fn close_from(first: u32) -> Result<(), Errno> {
    // SAFETY: close_range takes integers; see `close` for why closing is harmless.
    let ret = unsafe {
        syscall6(
            libc::SYS_close_range,
            [first as usize, u32::MAX as usize, 0, 0, 0, 0],
        )
    };
    match check(ret) {
        Ok(_) => Ok(()),
        Err(Errno(libc::ENOSYS)) => {
            let last = nofile_limit().unwrap_or(1024).min(1 << 20) as u32;
            for fd in first..last {
                match close(fd) {
                    Ok(()) | Err(Errno(libc::EBADF)) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Reads into `buf` from `fd`, retrying on EINTR; the number of bytes read (0 at EOF).
pub fn read(fd: i32, buf: &mut [u8]) -> Result<usize, Errno> {
    loop {
        // SAFETY: `buf` is a live, writable buffer of exactly the length passed.
        let ret = unsafe {
            syscall6(
                libc::SYS_read,
                [fd as usize, buf.as_mut_ptr() as usize, buf.len(), 0, 0, 0],
            )
        };
        match check(ret) {
            Err(Errno(libc::EINTR)) => {}
            other => return other,
        }
    }
}

/// `unshare(flags)`: moves us into new namespaces of the kinds in `flags`.
pub fn unshare(flags: i32) -> Result<(), Errno> {
    // SAFETY: unshare takes an integer flag set.
    let ret = unsafe { syscall6(libc::SYS_unshare, [flags as usize, 0, 0, 0, 0, 0]) };
    check(ret).map(drop)
}

/// `setsid()`: a new session, so the terminal's signals (ctrl-c, hangup) never reach us.
pub fn setsid() -> Result<(), Errno> {
    // SAFETY: setsid takes no arguments.
    let ret = unsafe { syscall6(libc::SYS_setsid, [0; 6]) };
    check(ret).map(drop)
}

/// This process's pid (in its own pid namespace).
pub fn getpid() -> i32 {
    // SAFETY: getpid takes no arguments and cannot fail.
    unsafe { syscall6(libc::SYS_getpid, [0; 6]) as i32 }
}

/// `prctl(PR_SET_CHILD_SUBREAPER, 1)`: orphans below us are reparented to us.
pub fn set_child_subreaper() -> Result<(), Errno> {
    // SAFETY: this prctl option takes integers only.
    let ret = unsafe {
        syscall6(
            libc::SYS_prctl,
            [libc::PR_SET_CHILD_SUBREAPER as usize, 1, 0, 0, 0, 0],
        )
    };
    check(ret).map(drop)
}

/// Reaps one terminated child of any kind without blocking. `Ok(Some(pid))`
/// when one was reaped, `Ok(None)` when none is waiting (or there are no
/// children at all).
pub fn reap_one() -> Result<Option<i32>, Errno> {
    loop {
        // SAFETY: wait4 with null status and rusage pointers writes nothing of ours.
        let ret = unsafe {
            syscall6(
                libc::SYS_wait4,
                [
                    -1isize as usize,
                    0,
                    (libc::WNOHANG | libc::__WALL) as usize,
                    0,
                    0,
                    0,
                ],
            )
        };
        return match check(ret) {
            Ok(0) | Err(Errno(libc::ECHILD)) => Ok(None),
            Ok(pid) => Ok(Some(pid as i32)),
            Err(Errno(libc::EINTR)) => continue,
            Err(e) => Err(e),
        };
    }
}

/// A NULL-terminated array of pointers to NUL-terminated strings, as the kernel laid
/// `argv` and `envp` out on our initial stack: alive and unchanged for the whole process.
#[derive(Debug, Clone, Copy)]
pub struct StrArray(*const *const u8);

impl StrArray {
    /// # Safety
    /// `ptr` must point at a NULL-terminated array of pointers to NUL-terminated strings
    /// that stay alive and unchanged for the rest of the process (the kernel's `argv`
    /// and `envp`, or a tail of them).
    pub unsafe fn new(ptr: *const *const u8) -> StrArray {
        StrArray(ptr)
    }

    /// The array from its `n`th entry on; `None` when it has fewer than `n + 1` entries.
    pub fn skip(self, n: usize) -> Option<StrArray> {
        for i in 0..=n {
            // SAFETY: the array is NULL-terminated; we stop at the first NULL.
            if unsafe { *self.0.add(i) }.is_null() {
                return None;
            }
        }
        // SAFETY: entries 0..=n exist, so `add(n)` stays inside the array.
        Some(StrArray(unsafe { self.0.add(n) }))
    }

    /// Entry `i` as bytes (without its NUL), or `None` past the end.
    pub fn get(self, i: usize) -> Option<&'static [u8]> {
        for j in 0..=i {
            // SAFETY: as in `skip`: we walk no further than the terminating NULL.
            let p = unsafe { *self.0.add(j) };
            if p.is_null() {
                return None;
            }
            if j == i {
                let mut len = 0;
                // SAFETY: a NUL-terminated string that lives for the whole process.
                while unsafe { *p.add(len) } != 0 {
                    len += 1;
                }
                // SAFETY: `len` bytes before the NUL are readable and never change.
                return Some(unsafe { core::slice::from_raw_parts(p, len) });
            }
        }
        None
    }

    /// The value of `NAME=` in an environment array.
    pub fn var(self, name: &[u8]) -> Option<&'static [u8]> {
        let mut i = 0;
        while let Some(entry) = self.get(i) {
            if entry.len() > name.len() && entry.starts_with(name) && entry[name.len()] == b'=' {
                return Some(&entry[name.len() + 1..]);
            }
            i += 1;
        }
        None
    }
}

/// `fork()` (as `clone(SIGCHLD)`, which both architectures have): the child's pid in the
/// parent, 0 in the child.
pub fn fork() -> Result<i32, Errno> {
    // SAFETY: clone with only the exit signal set and no new stack behaves as fork: the
    // child continues on a copy of our address space.
    let ret = unsafe { syscall6(libc::SYS_clone, [libc::SIGCHLD as usize, 0, 0, 0, 0, 0]) };
    check(ret).map(|pid| pid as i32)
}

/// `execve(path, argv, envp)`; returns only on failure.
pub fn execve(path: &[u8], argv: StrArray, envp: StrArray) -> Errno {
    // The path must end in NUL (every caller builds it so); refuse otherwise.
    if path.last() != Some(&0) {
        return Errno(libc::EINVAL);
    }
    // SAFETY: `path` is NUL-terminated; `argv` and `envp` are NULL-terminated arrays of
    // NUL-terminated strings that live for the whole process (StrArray's contract).
    let ret = unsafe {
        syscall6(
            libc::SYS_execve,
            [
                path.as_ptr() as usize,
                argv.0 as usize,
                envp.0 as usize,
                0,
                0,
                0,
            ],
        )
    };
    match check(ret) {
        Err(e) => e,
        Ok(_) => Errno(0),
    }
}

/// `kill(pid, sig)`.
pub fn kill(pid: i32, sig: u32) -> Result<(), Errno> {
    // SAFETY: kill takes integers only.
    let ret = unsafe { syscall6(libc::SYS_kill, [pid as usize, sig as usize, 0, 0, 0, 0]) };
    check(ret).map(drop)
}

/// Reaps one terminated child without blocking: `Ok(Some((pid, wait status)))`, or
/// `Ok(None)` when none is waiting.
pub fn reap_one_status() -> Result<Option<(i32, i32)>, Errno> {
    loop {
        let mut status: i32 = 0;
        // SAFETY: `status` is a live, writable i32; the rusage pointer is null.
        let ret = unsafe {
            syscall6(
                libc::SYS_wait4,
                [
                    -1isize as usize,
                    &raw mut status as usize,
                    (libc::WNOHANG | libc::__WALL) as usize,
                    0,
                    0,
                    0,
                ],
            )
        };
        return match check(ret) {
            Ok(0) | Err(Errno(libc::ECHILD)) => Ok(None),
            Ok(pid) => Ok(Some((pid as i32, status))),
            Err(Errno(libc::EINTR)) => continue,
            Err(e) => Err(e),
        };
    }
}

/// `setpgid(0, 0)`: a process group of our own.
pub fn setpgid_self() -> Result<(), Errno> {
    // SAFETY: setpgid takes integers only.
    let ret = unsafe { syscall6(libc::SYS_setpgid, [0; 6]) };
    check(ret).map(drop)
}
