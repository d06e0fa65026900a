//! `writer.writeFile(source, { start, end })`: queue a file range or a pipe (see `file_source`).
//!
//! Runs on the JS thread: it checks the arguments, opens the path (or duplicates the caller's
//! fd, so the caller may close theirs at once), decides the mechanism, and queues the source
//! behind every byte accepted so far. Every failure settles the returned Promise as a
//! rejection with a coded error, and queues nothing.

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;

use crate::file_source::{Source, PLATFORM};
use crate::js::{self, ErrorClass};
use crate::read_hack::{AccessMode, FdKind};
use crate::source_plan::{accepts, mechanism, Range};
use crate::sys as os;
use crate::js::whole_number;
use crate::writer::{moved_error, ProcessWriter};

/// The capacity asked for a pipe source (`F_SETPIPE_SZ`, within the process's budget, see
/// `pipe_budget`): the default `pipeSize` of `spawn()`.
const SOURCE_PIPE_SIZE: u64 = 1 << 20;

static NEXT_SOURCE_ID: AtomicU64 = AtomicU64::new(1);

/// Set (to anything but `0` or empty) to turn the kernel mechanisms off, so that every source
/// goes through the read-and-write fallback (for tests).
pub const NO_KERNEL_COPY_ENV: &str = "PROCESS_WRITER_NO_KERNEL_COPY";

fn kernel_copy_enabled() -> bool {
  !matches!(std::env::var(NO_KERNEL_COPY_ENV), Ok(v) if !v.is_empty() && v != "0")
}

/// A rejected Promise: `Err(value)` from the helpers below.
type Rejection = js::Value;

fn os_error(env: js::Env, err: std::io::Error, what: &str) -> Rejection {
  let code = err.raw_os_error().map(os::errno_name).unwrap_or_else(|| "EIO".into());
  js::make_error(env, ErrorClass::Error, &code, &format!("{code}: {what} ({err})"))
}

/// Our own fd for `source` (a dup of a number or of a `{ fd }` object's, or `path` opened), and
/// whether it came from a path.
fn open_source(env: js::Env, source: js::Value) -> std::result::Result<(i32, bool), Rejection> {
  let mut v = source;
  if js::type_of(env, v) == sys::ValueType::napi_object {
    // fs.promises.FileHandle, or any { fd } (a getter that throws rejects with its error)
    v = js::get_named(env, v, "fd").map_err(|_| js::take_exception(env).unwrap_or_else(|| js::undefined(env)))?;
  }
  match js::type_of(env, v) {
    sys::ValueType::napi_string => {
      let path = js::read_string(env, v);
      os::open_for_reading(&path).map(|fd| (fd, true)).map_err(|e| os_error(env, e, &format!("open '{path}'")))
    }
    sys::ValueType::napi_number => {
      let n = js::get_f64(env, v);
      if !(n.is_finite() && n >= 0.0 && n <= i32::MAX as f64 && n.fract() == 0.0) {
        let msg = format!("The value of \"fd\" is out of range. It must be a whole number from 0 to 2147483647. Received {n}");
        return Err(js::make_error(env, ErrorClass::RangeError, "ERR_OUT_OF_RANGE", &msg));
      }
      let fd = n as i32;
      let (access, _) = os::fd_status(fd).map_err(|e| os_error(env, e, &format!("fd {fd} is not an open file descriptor")))?;
      if access == AccessMode::WriteOnly {
        let msg = format!("fd {fd} is not open for reading");
        return Err(js::make_error(env, ErrorClass::Error, "ERR_FD_NOT_READABLE", &msg));
      }
      os::dup_cloexec(fd).map(|fd| (fd, false)).map_err(|e| os_error(env, e, &format!("dup({fd})")))
    }
    _ => {
      let msg = format!(
        "The \"source\" argument must be a file descriptor, a path or a FileHandle. Received {}",
        js::describe(env, source)
      );
      Err(js::make_error(env, ErrorClass::TypeError, "ERR_INVALID_ARG_TYPE", &msg))
    }
  }
}

/// `start` and `end` from the options (validated; `end` not before `start`).
fn read_range(env: js::Env, options: js::Value) -> std::result::Result<(Option<u64>, Option<u64>), Rejection> {
  if js::is_nullish(env, options) {
    return Ok((None, None));
  }
  let pending = |_| {
    let mut exc = std::ptr::null_mut();
    unsafe { sys::napi_get_and_clear_last_exception(env, &mut exc) };
    exc
  };
  if js::type_of(env, options) != sys::ValueType::napi_object {
    let msg = format!("The \"options\" argument must be of type object. Received {}", js::describe(env, options));
    return Err(js::make_error(env, ErrorClass::TypeError, "ERR_INVALID_ARG_TYPE", &msg));
  }
  const MAX_SAFE: f64 = 9_007_199_254_740_991.0;
  let start = whole_number(env, js::get_named(env, options, "start").map_err(pending)?, "start", MAX_SAFE).map_err(pending)?;
  let end = whole_number(env, js::get_named(env, options, "end").map_err(pending)?, "end", MAX_SAFE).map_err(pending)?;
  if let (Some(s), Some(e)) = (start, end) {
    if e < s {
      let msg = format!("The value of \"end\" is out of range. It must be >= start ({s}). Received {e}");
      return Err(js::make_error(env, ErrorClass::RangeError, "ERR_OUT_OF_RANGE", &msg));
    }
  }
  Ok((start.map(|n| n as u64), end.map(|n| n as u64)))
}

/// Check everything, open the source, and queue it. Returns the source id.
fn queue_source(writer: &ProcessWriter, env: js::Env, source: js::Value, options: js::Value) -> std::result::Result<u64, Rejection> {
  let side = &writer.side;
  let (start, end) = read_range(env, options)?;
  if !side.core.accepting() {
    return Err(closed_error(writer, env));
  }
  let (fd, from_path) = open_source(env, source)?;
  let fail = |err: Rejection| {
    let _ = os::close(fd);
    err
  };
  if os::is_directory(fd) {
    return Err(fail(js::make_error(env, ErrorClass::Error, "EISDIR", "EISDIR: illegal operation on a directory, read")));
  }
  let kind = os::fd_kind(fd).unwrap_or(FdKind::Other);
  if !accepts(kind, PLATFORM) {
    let msg = "writeFile takes only regular files on this platform (Windows): read a pipe and write() its chunks";
    return Err(fail(js::make_error(env, ErrorClass::Error, "ERR_FEATURE_UNAVAILABLE_ON_PLATFORM", msg)));
  }
  let pos = match (kind, start) {
    (FdKind::File, Some(s)) => s,
    // A file's fd without `start`: from its current position, as Node's reads at `null`.
    (FdKind::File, None) if !from_path => os::current_offset(fd).unwrap_or(0),
    (_, None | Some(0)) => 0,
    (_, Some(_)) => {
      let msg = "ESPIPE: the source is not seekable (a pipe), so \"start\" must be 0 or left out";
      return Err(fail(js::make_error(env, ErrorClass::Error, "ESPIPE", msg)));
    }
  };
  if kind == FdKind::Pipe {
    // A pipe source as large as the writer's own pipes: its writer (`cat FILE |`) then runs
    // ahead by a megabyte instead of 64 KiB, and each splice moves that much (measured,
    // `cat 1 GiB | process-writer feed`: 2-3x fewer splices and context switches).
    crate::pipe_budget::enlarge(fd, SOURCE_PIPE_SIZE);
  }
  let m = mechanism(kind, side.core.kind, PLATFORM, kernel_copy_enabled());
  let id = NEXT_SOURCE_ID.fetch_add(1, SeqCst);
  // Pipes count `end` from the first byte read.
  let src = Source::new(id, fd, kind, Range { pos, end }, m);
  side.core.enqueue_source(src).map_err(|_| closed_error(writer, env))?;
  Ok(id)
}

/// The writer no longer accepts writes: the reason (when delivered), else a closing error.
fn closed_error(writer: &ProcessWriter, env: js::Env) -> Rejection {
  match writer.lost_reason_value(env) {
    Some(reason) => moved_error(env, reason, 0),
    None => js::make_error(env, ErrorClass::Error, "ERR_WRITER_CLOSED", "the writer no longer accepts writes (it is closing)"),
  }
}

#[napi]
impl ProcessWriter {
  /// Queue a file range, or a pipe read until its end, behind everything written so far; the
  /// bytes written after this call wait for it. `source` is an fd, a path, or an object with
  /// an `fd` (`fs.promises.FileHandle`); the writer uses its own duplicate, so the caller may
  /// close theirs at once. `start` (default: the fd's position, 0 for a path) and `end`
  /// (exclusive, as `Blob.slice`; default: end of file) select the range.
  ///
  /// The I/O thread moves the bytes kernel to kernel where it can (Linux: `splice` into a pipe,
  /// `sendfile` into a socket, `copy_file_range` into a file; a pipe source is spliced into
  /// anything), otherwise through one reused buffer (Windows: positional reads of a regular
  /// file, each written into the pipe as it takes them; other sources reject with
  /// `ERR_FEATURE_UNAVAILABLE_ON_PLATFORM` there); no JavaScript runs meanwhile. The range
  /// is not held in memory, so it does not count in `bufferedAmount` (writes queued behind it
  /// do); `bytesWritten` and `bytesAccepted` grow as it moves.
  ///
  /// Resolves with the bytes moved once the range is written (fewer than asked when the file
  /// is shorter, or shrank). Rejects with a coded error, queueing nothing, for a source that
  /// cannot be read (`ENOENT`, `EISDIR`, `EBADF`, `ERR_FD_NOT_READABLE` for a write-only fd,
  /// `ESPIPE` for `start` on a pipe, `ERR_INVALID_ARG_TYPE`, `ERR_OUT_OF_RANGE`); with the
  /// errno when reading fails midway (the writer goes on with what follows); and when the
  /// connection ends first, with the reason's `code` (`READER_CLOSED`, `ABORTED`, ...) and the
  /// reason as `reason`. Every rejection has `bytesWritten`, the bytes this source moved.
  #[napi(
    ts_args_type = "source: number | string | { fd: number }, options?: WriteFileOptions | undefined | null",
    ts_return_type = "Promise<number>"
  )]
  pub fn write_file(&self, env: Env, source: Unknown<'_>, options: Option<Unknown<'_>>) -> Result<Unknown<'_>> {
    let e = env.raw();
    let (deferred, promise) = js::promise(e);
    let options = options.map(|o| o.raw()).unwrap_or(std::ptr::null_mut());
    match queue_source(self, e, source.raw(), options) {
      Ok(id) => {
        self.side.sources.borrow_mut().push((id, deferred));
        self.side.hold_while_busy(e);
      }
      Err(err) => {
        if js::type_of(e, err) == sys::ValueType::napi_object
          && js::set_named(e, err, "bytesWritten", js::number(e, 0.0)).is_err()
        {
          js::take_exception(e);
        }
        js::settle(e, deferred, false, err)
      }
    }
    unsafe { Unknown::from_napi_value(e, promise) }
  }
}
