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

mod held;
#[cfg(test)]
mod proptests;
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
/// On Windows: a named pipe pair as libuv makes one (the read end is the client end, the
/// write end the overlapped server end, neither inheritable), `pipeSize` its buffer size
/// (default 64 KiB). `pipeSize` is checked as the `ProcessWriter` option is: a `TypeError`
/// (`ERR_INVALID_ARG_TYPE`) for a non-number, a `RangeError` (`ERR_OUT_OF_RANGE`) unless a
/// whole number from 0 to 2^31 - 1; nullish or 0 keep the kernel's default.
#[napi(ts_args_type = "pipeSize?: number | undefined | null", ts_return_type = "PipeFds")]
pub fn open_pipe<'a>(env: &'a Env, pipe_size: Option<Unknown<'a>>) -> Result<Unknown<'a>> {
  pipe_fds(env.raw(), Transport::Pipe(pipe_size.map(|v| v.raw())), false)
}

/// Create a connected `AF_UNIX` socketpair (the transport Node's own `child.stdin` uses), both
/// ends `O_CLOEXEC`: `readFd` is the child's end, `writeFd` the one to give a `ProcessWriter`.
/// For users who want Node's transport; `pipeSize` and `zeroCopy` do not apply to it. Not on
/// Windows: throws `ERR_FEATURE_UNAVAILABLE_ON_PLATFORM`.
#[napi(ts_return_type = "PipeFds")]
pub fn open_socketpair(env: &Env) -> Result<Unknown<'_>> {
  pipe_fds(env.raw(), Transport::Socketpair, false)
}

/// For `spawn` and `createPipe`, not for direct use: `openPipe` (or, with `socketpair`,
/// `openSocketpair`) whose fds this env holds until they are handed over (the write end to a
/// `ProcessWriter` constructor that succeeds, either end to `closeFd`), and which are closed
/// when the env is torn down before that (a worker terminated inside `spawn`). See `held`.
#[napi(js_name = "_openHeld", ts_args_type = "socketpair: boolean, pipeSize?: number | undefined | null", ts_return_type = "PipeFds")]
pub fn open_held<'a>(env: &'a Env, socketpair: Unknown<'a>, pipe_size: Option<Unknown<'a>>) -> Result<Unknown<'a>> {
  let e = env.raw();
  let transport = if js::required_bool(e, socketpair.raw(), "socketpair")? {
    Transport::Socketpair
  } else {
    Transport::Pipe(pipe_size.map(|v| v.raw()))
  };
  pipe_fds(e, transport, true)
}

/// Release the read end `createPipe` returns to its caller: no longer closed at env
/// teardown (it is the caller's now).
#[napi(js_name = "_releaseHeld", ts_args_type = "fd: number")]
pub fn release_held(env: &Env, fd: Unknown<'_>) -> Result<()> {
  let e = env.raw();
  let fd = js::number_in_range(e, fd.raw(), "fd", i32::MAX as f64)? as i32;
  held::hand_over(e, fd);
  Ok(())
}

enum Transport {
  Pipe(Option<js::Value>),
  Socketpair,
}

fn pipe_fds<'a>(e: js::Env, transport: Transport, hold: bool) -> Result<Unknown<'a>> {
  let os_error = |what: &str, err: std::io::Error| {
    let code = match err.kind() {
      std::io::ErrorKind::Unsupported => "ERR_FEATURE_UNAVAILABLE_ON_PLATFORM".into(),
      _ => err.raw_os_error().map(sys::errno_name).unwrap_or_else(|| "EIO".into()),
    };
    js::throw(e, js::ErrorClass::Error, &code, &format!("{what} failed: {err}"))
  };
  let (r, w, pipe_size) = match transport {
    Transport::Pipe(size) => {
      // Checked before anything is created.
      let pipe_size = writer::pipe_size_option(e, size.unwrap_or(std::ptr::null_mut()))?;
      let (r, w) = make_pipe(pipe_size).map_err(|err| os_error("pipe()", err))?;
      (r, w, Some(pipe_size))
    }
    Transport::Socketpair => {
      let (r, w) = sys::socketpair_cloexec().map_err(|err| os_error("socketpair()", err))?;
      (r, w, None)
    }
  };
  let close_both = || {
    let _ = sys::close(r);
    let _ = sys::close(w);
  };
  let build = || -> Result<js::Value> {
    let o = js::object(e)?;
    let capacity = match pipe_size {
      Some(Some(n)) if n > 0 => pipe_budget::enlarge(w, n as u64).map(|c| c as usize),
      Some(_) => sys::pipe_capacity(w),
      None => Some(0),
    };
    js::set_named(e, o, "readFd", js::number(e, r as f64))?;
    js::set_named(e, o, "writeFd", js::number(e, w as f64))?;
    js::set_named(e, o, "capacity", js::number(e, capacity.unwrap_or(0) as f64))?;
    if hold {
      held::hold(e, &[r, w])?;
    }
    Ok(o)
  };
  match build() {
    Ok(o) => unsafe { Unknown::from_napi_value(e, o) },
    Err(err) => {
      pipe_budget::with(|b| b.release(w));
      close_both();
      Err(err)
    }
  }
}

/// Close an fd this process owns (for example a pipe's read end after `spawn`). Throws with
/// the errno name as `code` (`EBADF` for an fd that is not open), or a `TypeError`/`RangeError`
/// (`ERR_INVALID_ARG_TYPE`, `ERR_OUT_OF_RANGE`) when `fd` is not a whole number.
#[napi(ts_args_type = "fd: number")]
pub fn close_fd(env: Env, fd: Unknown<'_>) -> Result<()> {
  let e = env.raw();
  let fd = js::number_in_range(e, fd.raw(), "fd", i32::MAX as f64)? as i32;
  held::hand_over(e, fd);
  pipe_budget::with(|b| b.release(fd));
  sys::close(fd).map_err(|err| {
    let code = err.raw_os_error().map(sys::errno_name).unwrap_or_else(|| "EIO".into());
    js::throw(e, js::ErrorClass::Error, &code, &format!("close({fd}) failed: {err}"))
  })
}

/// A new pipe, both ends close-on-exec: (read, write).
#[cfg(unix)]
fn make_pipe(_pipe_size: Option<usize>) -> std::io::Result<(i32, i32)> {
  sys::pipe_cloexec()
}

/// Windows: a named pipe pair (`sys::named_pipe_pair`), its buffer set at creation.
#[cfg(windows)]
fn make_pipe(pipe_size: Option<usize>) -> std::io::Result<(i32, i32)> {
  let size = pipe_size.filter(|n| *n > 0).map(|n| n as u32);
  sys::named_pipe_pair(size).map(|(r, w, _)| (r, w))
}

/// Test hook: set SIGPIPE's disposition to the default (terminate), as an embedder such as
/// Electron-as-node may leave it, to prove a vanished reader cannot kill the host. (No
/// signals on Windows: does nothing.)
#[napi(js_name = "_setSigpipeDefault")]
pub fn set_sigpipe_default() {
  #[cfg(unix)]
  unsafe {
    libc::signal(libc::SIGPIPE, libc::SIG_DFL)
  };
}
