//! nftables through libnftables in this process, the library `nft` itself is built on.
//!
//! `nft -j …` costs a process, its dynamic linking and its start (7 ms for a `list table`
//! measured here, against 0.2 ms through the library), and setup and teardown each run
//! two commands. The library is opened once with `dlopen` (it comes with `nft`); when it
//! cannot be opened, or lacks a symbol, callers fall back to running `nft` (the `nftables`
//! crate's helper). Same input (the JSON batch), same output, same error text.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char, c_int, c_uint, c_void};
use std::sync::OnceLock;

/// `NFT_CTX_DEFAULT`.
const CTX_DEFAULT: u32 = 0;
/// `NFT_CTX_OUTPUT_JSON`: JSON output; with it the library parses a JSON batch as input
/// (it tries JSON first, then nft's own syntax), as `nft -j -f -` does.
const OUTPUT_JSON: c_uint = 1 << 4;

type CtxNew = unsafe extern "C" fn(u32) -> *mut c_void;
type CtxFree = unsafe extern "C" fn(*mut c_void);
type SetFlags = unsafe extern "C" fn(*mut c_void, c_uint);
type Buffer = unsafe extern "C" fn(*mut c_void) -> c_int;
type GetBuffer = unsafe extern "C" fn(*mut c_void) -> *const c_char;
type RunCmd = unsafe extern "C" fn(*mut c_void, *const c_char) -> c_int;

/// The library's entry points we use.
struct Lib {
    ctx_new: CtxNew,
    ctx_free: CtxFree,
    output_set_flags: SetFlags,
    buffer_output: Buffer,
    buffer_error: Buffer,
    get_output: GetBuffer,
    get_error: GetBuffer,
    run_cmd: RunCmd,
}

fn lib() -> Option<&'static Lib> {
    static LIB: OnceLock<Option<Lib>> = OnceLock::new();
    LIB.get_or_init(open).as_ref()
}

fn open() -> Option<Lib> {
    if std::env::var_os("PEAPOD_NFT_EXEC").is_some() {
        // Tests (and a user chasing a library problem) can ask for the `nft` process.
        return None;
    }
    // SAFETY: dlopen with a constant, NUL-terminated name; the handle is never closed, so
    // every symbol taken from it stays valid for the life of the process.
    let handle = unsafe { libc::dlopen(c"libnftables.so.1".as_ptr(), libc::RTLD_NOW) };
    if handle.is_null() {
        return None;
    }
    let sym = |name: &CStr| {
        // SAFETY: a live handle (above) and a NUL-terminated name.
        let p = unsafe { libc::dlsym(handle, name.as_ptr()) };
        (!p.is_null()).then_some(p)
    };
    // SAFETY (each transmute): the symbols are libnftables' public functions, whose C
    // prototypes (nftables/libnftables.h, stable since 0.9) the types above spell out.
    unsafe {
        Some(Lib {
            ctx_new: std::mem::transmute::<*mut c_void, CtxNew>(sym(c"nft_ctx_new")?),
            ctx_free: std::mem::transmute::<*mut c_void, CtxFree>(sym(c"nft_ctx_free")?),
            output_set_flags: std::mem::transmute::<*mut c_void, SetFlags>(sym(
                c"nft_ctx_output_set_flags",
            )?),
            buffer_output: std::mem::transmute::<*mut c_void, Buffer>(sym(
                c"nft_ctx_buffer_output",
            )?),
            buffer_error: std::mem::transmute::<*mut c_void, Buffer>(sym(c"nft_ctx_buffer_error")?),
            get_output: std::mem::transmute::<*mut c_void, GetBuffer>(sym(
                c"nft_ctx_get_output_buffer",
            )?),
            get_error: std::mem::transmute::<*mut c_void, GetBuffer>(sym(
                c"nft_ctx_get_error_buffer",
            )?),
            run_cmd: std::mem::transmute::<*mut c_void, RunCmd>(sym(c"nft_run_cmd_from_buffer")?),
        })
    }
}

/// What one command did: its output, or its error text (`nft`'s stderr).
pub(super) type Outcome = Result<String, String>;

/// Run `cmd` (nft syntax, or a JSON batch) with JSON output, as `nft -j` would. `None`
/// when the library is not available: run `nft` instead.
pub(super) fn run(cmd: &str) -> Option<Outcome> {
    let lib = lib()?;
    // Contexts are per call, but libnftables 1.0 sets up global tables when one is made:
    // one command at a time in this process.
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let Ok(cmd) = CString::new(cmd) else {
        return Some(Err("a command with a NUL byte".into()));
    };
    // SAFETY: a context is made, used and freed here, on this thread only; the buffers it
    // returns are copied out before it is freed. A null context (out of memory) is refused.
    unsafe {
        let ctx = (lib.ctx_new)(CTX_DEFAULT);
        if ctx.is_null() {
            return None;
        }
        (lib.output_set_flags)(ctx, OUTPUT_JSON);
        (lib.buffer_output)(ctx);
        (lib.buffer_error)(ctx);
        let rc = (lib.run_cmd)(ctx, cmd.as_ptr());
        let text = |p: *const c_char| {
            if p.is_null() {
                String::new()
            } else {
                CStr::from_ptr(p).to_string_lossy().into_owned()
            }
        };
        let out = text((lib.get_output)(ctx));
        let err = text((lib.get_error)(ctx));
        (lib.ctx_free)(ctx);
        Some(if rc == 0 { Ok(out) } else { Err(err) })
    }
}
