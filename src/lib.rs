//! process-writer: Twisted's `ProcessWriter` for Node.js.
//!
//! - [`queue`], [`flow`], [`read_hack`]: pure logic (write queue and batching, flow-control
//!   decisions, the reader-gone policy), unit tested without fds.
//! - [`sys`]: the syscalls, one module per platform family.
//! - [`core`] and [`io_thread`]: the state shared with, and the one I/O thread that drains
//!   every writer's queue with batched `writev`.
//! - [`source_plan`] (pure) and [`file_source`]: `writeFile`'s sources, moved kernel to kernel.
//! - `writer`, `write_file`, `js`, `iterate`: the thin N-API binding (`ProcessWriter`,
//!   `openPipe`, `closeFd`).

#![deny(clippy::all)]

pub mod core;
pub mod file_source;
pub mod flow;
pub mod io_thread;
pub mod piece_size;
pub mod pipe_budget;
pub mod queue;
pub mod read_hack;
pub mod source_plan;
pub mod sys;

mod iterate;
mod js;
mod write_file;
mod writer;

use napi::bindgen_prelude::*;
use napi_derive::napi;

pub use writer::ProcessWriter;

/// Create a pipe with `O_CLOEXEC` on both ends, so that no child inherits it unless it is
/// handed over explicitly (as `child_process.spawn`'s `stdio` does, with `dup2`). With
/// `pipeSize`, ask the kernel for that capacity (Linux; clamped to
/// `/proc/sys/fs/pipe-max-size` and to the process's enlargement budget, see `pipe_budget`).
#[napi(ts_return_type = "PipeFds")]
pub fn open_pipe(env: &Env, pipe_size: Option<u32>) -> Result<Unknown<'_>> {
  let e = env.raw();
  let (r, w) = sys::pipe_cloexec().map_err(|err| {
    let code = err.raw_os_error().map(sys::errno_name).unwrap_or_else(|| "EIO".into());
    js::throw(e, js::ErrorClass::Error, &code, &format!("pipe() failed: {err}"))
  })?;
  let capacity = match pipe_size {
    Some(n) if n > 0 => pipe_budget::enlarge(w, n as u64).map(|c| c as usize),
    _ => sys::pipe_capacity(w),
  };
  let o = js::object(e);
  js::set_named(e, o, "readFd", js::number(e, r as f64));
  js::set_named(e, o, "writeFd", js::number(e, w as f64));
  js::set_named(e, o, "capacity", js::number(e, capacity.unwrap_or(0) as f64));
  unsafe { Unknown::from_napi_value(e, o) }
}

/// Create a connected `AF_UNIX` socketpair (the transport Node's own `child.stdin` uses), both
/// ends `O_CLOEXEC`: `readFd` is the child's end, `writeFd` the one to give a `ProcessWriter`.
/// For users who want Node's transport; `pipeSize` and `zeroCopy` do not apply to it.
#[napi(ts_return_type = "PipeFds")]
pub fn open_socketpair(env: &Env) -> Result<Unknown<'_>> {
  let e = env.raw();
  let (r, w) = sys::socketpair_cloexec().map_err(|err| {
    let code = err.raw_os_error().map(sys::errno_name).unwrap_or_else(|| "EIO".into());
    js::throw(e, js::ErrorClass::Error, &code, &format!("socketpair() failed: {err}"))
  })?;
  let o = js::object(e);
  js::set_named(e, o, "readFd", js::number(e, r as f64));
  js::set_named(e, o, "writeFd", js::number(e, w as f64));
  js::set_named(e, o, "capacity", js::number(e, 0.0));
  unsafe { Unknown::from_napi_value(e, o) }
}

/// Close an fd this process owns (for example a pipe's read end after `spawn`). Throws with
/// the errno name as `code` (`EBADF` for an fd that is not open).
#[napi]
pub fn close_fd(env: Env, fd: i32) -> Result<()> {
  pipe_budget::with(|b| b.release(fd));
  sys::close(fd).map_err(|err| {
    let code = err.raw_os_error().map(sys::errno_name).unwrap_or_else(|| "EIO".into());
    js::throw(env.raw(), js::ErrorClass::Error, &code, &format!("close({fd}) failed: {err}"))
  })
}

/// Test hook: set SIGPIPE's disposition to the default (terminate), as an embedder such as
/// Electron-as-node may leave it, to prove a vanished reader cannot kill the host.
#[napi(js_name = "_setSigpipeDefault")]
pub fn set_sigpipe_default() {
  unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}
