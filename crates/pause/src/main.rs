//! `peapod-pause` entry point: no std, no C runtime, our own `_start`.
//!
//! `unsafe` is allowed here for what a program without a C runtime must provide
//! itself: the `_start` symbol (assembly), reading `argc`/`argv` from the
//! initial stack, and the few C symbols LLVM and `core` call (`memset`,
//! `memcpy`, …). The work is in the library (`peapod_pause::run`).
//!
//! Building a `no_std` executable needs `panic = "abort"` (rustc refuses
//! unwinding without std): the workspace sets it for the dev and release
//! profiles.
#![cfg_attr(not(test), no_std)]
#![cfg_attr(not(test), no_main)]
#![allow(unsafe_code)]

// Under `cargo test --all-targets` this file is built as an ordinary (std) test crate with
// no tests: the runtime below exists only in the real binary.
#[cfg(not(test))]
mod rt {

    use core::ffi::c_char;

    use peapod_pause::sys;

    // The kernel starts us with `rsp` pointing at `argc`, followed by the `argv`
    // pointers. Pass that address to `entry`, with the stack aligned as the C ABI
    // wants at a call, and a zero frame pointer to end backtraces.
    #[cfg(target_arch = "x86_64")]
    core::arch::global_asm!(
        ".globl _start",
        ".type _start,@function",
        "_start:",
        "xor ebp, ebp",
        "mov rdi, rsp",
        "and rsp, -16",
        "call {entry}",
        "ud2",
        entry = sym entry,
    );

    // Same on aarch64: `sp` points at `argc` and is already 16-byte aligned.
    #[cfg(target_arch = "aarch64")]
    core::arch::global_asm!(
        ".globl _start",
        ".type _start,%function",
        "_start:",
        "mov x29, #0",
        "mov x30, #0",
        "mov x0, sp",
        "bl {entry}",
        "udf #0",
        entry = sym entry,
    );

    /// Called from `_start` with the initial stack pointer.
    ///
    /// # Safety
    /// `sp` must be the process's initial stack pointer as set up by the kernel.
    unsafe extern "C" fn entry(sp: *const usize) -> ! {
        // SAFETY: the kernel puts argc at the initial stack pointer.
        let argc = unsafe { *sp };
        // SAFETY: argv[0..argc] follow argc on the initial stack.
        let argv = unsafe { sp.add(1) } as *const *const c_char;
        let args = (1..argc).map(|i| {
            // SAFETY: i < argc, so argv[i] is a valid pointer to a NUL-terminated
            // string the kernel copied onto our stack, alive for the whole process.
            unsafe {
                let arg = *argv.add(i) as *const u8;
                core::slice::from_raw_parts(arg, strlen(arg))
            }
        });
        // SAFETY: argv[argc] is NULL and envp follows it: both NULL-terminated arrays the
        // kernel copied onto our stack for the whole process.
        let exec = unsafe {
            let argv = argv as *const *const u8;
            (
                sys::StrArray::new(argv.add(1)),
                sys::StrArray::new(argv.add(argc + 1)),
            )
        };
        sys::exit(peapod_pause::run(args, Some(exec)))
    }

    // What a C library would provide. LLVM emits calls to the mem* functions for
    // array initialisation and copies, and Rust's core expects them to exist; there
    // is no libc here, so they are ours. Byte loops through volatile accesses, so
    // LLVM cannot recognise the loop and turn it back into a call to itself; every
    // use in this program is a few hundred bytes at most.

    /// # Safety
    /// `dest` is valid for `n` bytes of writes.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn memset(dest: *mut u8, c: i32, n: usize) -> *mut u8 {
        for i in 0..n {
            // SAFETY: i < n and dest is valid for n bytes (caller's contract).
            unsafe { dest.add(i).write_volatile(c as u8) };
        }
        dest
    }

    /// # Safety
    /// `src` is valid for `n` bytes of reads, `dest` for `n` bytes of writes, and
    /// they don't overlap.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
        for i in 0..n {
            // SAFETY: i < n; both ranges valid for n bytes (caller's contract).
            unsafe { dest.add(i).write_volatile(src.add(i).read_volatile()) };
        }
        dest
    }

    /// # Safety
    /// `src` is valid for `n` bytes of reads and `dest` for `n` bytes of writes;
    /// they may overlap.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn memmove(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
        if (dest as usize) <= (src as usize) {
            // SAFETY: forward copy never overwrites a source byte not yet read.
            unsafe { memcpy(dest, src, n) }
        } else {
            for i in (0..n).rev() {
                // SAFETY: i < n; both ranges valid for n bytes (caller's contract);
                // backward copy never overwrites a source byte not yet read.
                unsafe { dest.add(i).write_volatile(src.add(i).read_volatile()) };
            }
            dest
        }
    }

    /// # Safety
    /// `a` and `b` are valid for `n` bytes of reads.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
        for i in 0..n {
            // SAFETY: i < n; both ranges valid for n bytes (caller's contract).
            let (x, y) = unsafe { (a.add(i).read_volatile(), b.add(i).read_volatile()) };
            if x != y {
                return i32::from(x) - i32::from(y);
            }
        }
        0
    }

    /// # Safety
    /// As for `memcmp`.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
        // SAFETY: same contract as memcmp.
        unsafe { memcmp(a, b, n) }
    }

    /// # Safety
    /// `s` points at a NUL-terminated string.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn strlen(s: *const u8) -> usize {
        let mut n = 0;
        // SAFETY: every byte up to and including the NUL is readable (caller's contract).
        while unsafe { s.add(n).read_volatile() } != 0 {
            n += 1;
        }
        n
    }

    /// Referenced by the unwind tables of the precompiled `core`. This binary is
    /// built with `panic = "abort"`, so nothing ever unwinds and this is never
    /// called; it only has to exist for the link.
    #[unsafe(no_mangle)]
    pub extern "C" fn rust_eh_personality() {}

    #[panic_handler]
    fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
        sys::write_all(2, b"peapod-pause: internal error\n");
        sys::exit(70)
    }
}
