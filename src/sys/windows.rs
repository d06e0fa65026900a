//! Windows: overlapped named pipes, libuv's design, written through mio's `NamedPipe`.
//!
//! - A pipe is a named pipe pair (`named_pipe_pair`): our end is the server end, created
//!   overlapped and duplex (the inbound direction is what tells that the reader has gone); the
//!   child's end is opened `GENERIC_READ | FILE_WRITE_ATTRIBUTES`, not inheritable (libuv makes
//!   the inheritable copy when it spawns).
//! - fds are the host's C runtime fds. Node (and Electron) link the C runtime statically, so
//!   its fd table is reached only through the host's libuv exports (`uv_open_osfhandle`,
//!   `uv_get_osfhandle`, `uv_fs_close`), found with `GetProcAddress` on the main module.
//! - The I/O thread writes through [`Output`]: a named pipe registered with mio (one overlapped
//!   write in flight, holding mio's own copy of the bytes), or a file or character device
//!   written synchronously (always ready).
//! - There is no SIGPIPE, no `vmsplice`, no pipe resizing: those functions are no-ops.

use std::ffi::c_void;
use std::io::{self, IoSlice, Read, Write};
use std::os::windows::io::FromRawHandle;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::OnceLock;

use mio::windows::NamedPipe;
use mio::{Interest, Registry, Token};
use windows_sys::Wdk::Foundation::{NtQueryObject, ObjectBasicInformation};
use windows_sys::Wdk::Storage::FileSystem::{
  FileModeInformation, NtQueryInformationFile, FILE_MODE_INFORMATION, FILE_SYNCHRONOUS_IO_ALERT,
  FILE_SYNCHRONOUS_IO_NONALERT,
};
use windows_sys::Win32::Foundation::{
  CloseHandle, DuplicateHandle, DUPLICATE_SAME_ACCESS, ERROR_BROKEN_PIPE, ERROR_NO_DATA, HANDLE, INVALID_HANDLE_VALUE,
};
use windows_sys::Win32::Storage::FileSystem::{
  CreateFileW, GetFileType, WriteFile, FILE_FLAG_FIRST_PIPE_INSTANCE, FILE_FLAG_OVERLAPPED, FILE_READ_DATA,
  FILE_TYPE_CHAR, FILE_TYPE_DISK, FILE_TYPE_PIPE, FILE_WRITE_ATTRIBUTES, FILE_WRITE_DATA, OPEN_EXISTING,
  PIPE_ACCESS_DUPLEX,
};
use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleW, GetProcAddress};
use windows_sys::Win32::System::Pipes::{
  CreateNamedPipeW, GetNamedPipeInfo, PIPE_READMODE_BYTE, PIPE_REJECT_REMOTE_CLIENTS, PIPE_TYPE_BYTE, PIPE_WAIT,
};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, GetCurrentProcessId};
use windows_sys::Win32::System::WindowsProgramming::PUBLIC_OBJECT_BASIC_INFORMATION;
use windows_sys::Win32::System::IO::{CancelIoEx, IO_STATUS_BLOCK};

use crate::read_hack::{AccessMode, FdKind, KernelVersion, Readiness};

/// An fd number (the host C runtime's), as on POSIX.
pub type RawFd = i32;

const GENERIC_READ: u32 = 0x8000_0000;
const ERROR_INVALID_HANDLE: i32 = 6;
/// libuv's `UV_EBADF` on Windows.
const UV_EBADF: i32 = -4083;

/// The pipe buffer libuv gives a child's stdio pipe, used when no `pipeSize` is asked for.
pub const DEFAULT_PIPE_BUFFER: u32 = 64 * 1024;

/// The largest write handed to mio at once. mio copies each write into a buffer of its own, and a
/// write completes only once the pipe has taken all of it, so a write far larger than the pipe
/// only delays the drain; 1 MiB matches `spawn`'s default pipe size.
pub const MAX_WRITE: usize = 1 << 20;

/// The most one write may carry, given the queue's own `limit`: at most [`MAX_WRITE`], and at
/// most the pipe's buffer. A write completes once the pipe took all of it, so one that fits
/// completes while the reader is busy, and `bytesWritten` reaches the pipe's capacity when
/// nobody reads, as on POSIX; a larger one would count nothing until the reader made room.
pub fn write_limit(limit: usize, pipe_capacity: u64) -> usize {
  let limit = limit.min(MAX_WRITE);
  match pipe_capacity {
    0 => limit,
    cap => limit.min(cap.max(4096) as usize),
  }
}

/// The `errno` reported when the reader has gone (`ERROR_BROKEN_PIPE`, shown as `EPIPE`).
pub const READER_GONE_ERRNO: Option<i32> = Some(ERROR_BROKEN_PIPE as i32);

type OpenOsfhandle = unsafe extern "C" fn(HANDLE) -> i32;
type GetOsfhandle = unsafe extern "C" fn(i32) -> HANDLE;
type FsClose = unsafe extern "C" fn(*mut c_void, *mut c_void, i32, *mut c_void) -> i32;
type FsReqCleanup = unsafe extern "C" fn(*mut c_void);
type Farproc = unsafe extern "system" fn() -> isize;

/// libuv's exports from the host executable.
struct Uv {
  open_osfhandle: OpenOsfhandle,
  get_osfhandle: GetOsfhandle,
  fs_close: FsClose,
  fs_req_cleanup: FsReqCleanup,
}

fn uv() -> io::Result<&'static Uv> {
  static UV: OnceLock<Option<Uv>> = OnceLock::new();
  UV.get_or_init(|| unsafe {
    let host = GetModuleHandleW(std::ptr::null());
    let find = |name: &std::ffi::CStr| GetProcAddress(host, name.as_ptr().cast());
    Some(Uv {
      open_osfhandle: std::mem::transmute::<Farproc, OpenOsfhandle>(find(c"uv_open_osfhandle")?),
      get_osfhandle: std::mem::transmute::<Farproc, GetOsfhandle>(find(c"uv_get_osfhandle")?),
      fs_close: std::mem::transmute::<Farproc, FsClose>(find(c"uv_fs_close")?),
      fs_req_cleanup: std::mem::transmute::<Farproc, FsReqCleanup>(find(c"uv_fs_req_cleanup")?),
    })
  })
  .as_ref()
  .ok_or_else(|| io::Error::new(io::ErrorKind::Unsupported, "the host executable does not export libuv (uv_open_osfhandle)"))
}

/// The OS handle behind a host fd; `ERROR_INVALID_HANDLE` (shown as `EBADF`) when not open.
pub fn handle_of(fd: RawFd) -> io::Result<HANDLE> {
  let h = unsafe { (uv()?.get_osfhandle)(fd) };
  if h == INVALID_HANDLE_VALUE || h.is_null() {
    return Err(io::Error::from_raw_os_error(ERROR_INVALID_HANDLE));
  }
  Ok(h)
}

/// A host fd that owns `h` (closed with [`close`]). On failure `h` is closed.
fn fd_of(h: HANDLE) -> io::Result<RawFd> {
  let fd = match uv() {
    Ok(uv) => unsafe { (uv.open_osfhandle)(h) },
    Err(e) => {
      unsafe { CloseHandle(h) };
      return Err(e);
    }
  };
  if fd < 0 {
    unsafe { CloseHandle(h) };
    return Err(io::Error::other("uv_open_osfhandle failed"));
  }
  Ok(fd)
}

/// Whether the handle was opened for overlapped I/O (no `FILE_SYNCHRONOUS_IO_*` mode).
fn is_overlapped(h: HANDLE) -> bool {
  let mut iosb: IO_STATUS_BLOCK = unsafe { std::mem::zeroed() };
  let mut mode = FILE_MODE_INFORMATION::default();
  let status = unsafe {
    NtQueryInformationFile(h, &mut iosb, (&mut mode as *mut FILE_MODE_INFORMATION).cast(), 4, FileModeInformation)
  };
  status >= 0 && mode.Mode & (FILE_SYNCHRONOUS_IO_ALERT | FILE_SYNCHRONOUS_IO_NONALERT) == 0
}

/// The fd's access mode, and `true` (the POSIX "non-blocking" flag has no Windows meaning: a
/// pipe is written overlapped, a file synchronously). Fails with `EBADF` for a closed fd.
pub fn fd_status(fd: RawFd) -> io::Result<(AccessMode, bool)> {
  let h = handle_of(fd)?;
  let mut info = PUBLIC_OBJECT_BASIC_INFORMATION::default();
  let size = std::mem::size_of::<PUBLIC_OBJECT_BASIC_INFORMATION>() as u32;
  let status = unsafe { NtQueryObject(h, ObjectBasicInformation, (&mut info as *mut PUBLIC_OBJECT_BASIC_INFORMATION).cast(), size, std::ptr::null_mut()) };
  if status < 0 {
    // Not known: let the first write tell.
    return Ok((AccessMode::ReadWrite, true));
  }
  let read = info.GrantedAccess & (FILE_READ_DATA | GENERIC_READ) != 0;
  let write = info.GrantedAccess & FILE_WRITE_DATA != 0 || info.GrantedAccess & 0x4000_0000 != 0;
  let mode = match (read, write) {
    (_, false) => AccessMode::ReadOnly,
    (false, true) => AccessMode::WriteOnly,
    (true, true) => AccessMode::ReadWrite,
  };
  Ok((mode, true))
}

/// Nothing to change on Windows (see [`fd_status`]).
pub fn set_nonblocking(_fd: RawFd, _on: bool) -> io::Result<()> {
  Ok(())
}

/// What the fd is: a pipe (named pipes, anonymous pipes, sockets), a file, a character device.
pub fn fd_kind(fd: RawFd) -> io::Result<FdKind> {
  let h = handle_of(fd)?;
  Ok(match unsafe { GetFileType(h) } {
    FILE_TYPE_PIPE => FdKind::Pipe,
    FILE_TYPE_DISK => FdKind::File,
    FILE_TYPE_CHAR => FdKind::CharDevice,
    _ => FdKind::Other,
  })
}

/// Why this fd cannot be written by the I/O thread, if it cannot: a pipe must be a named pipe
/// opened overlapped (a synchronous pipe would block the I/O thread every writer shares).
pub fn unsupported(fd: RawFd, kind: FdKind) -> Option<String> {
  let h = handle_of(fd).ok()?;
  match kind {
    FdKind::File | FdKind::CharDevice => None,
    FdKind::Pipe => {
      let mut flags = 0;
      let named = unsafe {
        GetNamedPipeInfo(h, &mut flags, std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut())
      } != 0;
      if !named {
        Some(format!("fd {fd} is a socket or an unknown kind of pipe; on Windows only named pipes are supported"))
      } else if !is_overlapped(h) {
        Some(format!(
          "fd {fd} is a pipe opened for synchronous I/O; on Windows only overlapped named pipes (createPipe, openPipe, spawn) are supported"
        ))
      } else {
        None
      }
    }
    _ => Some(format!("fd {fd} is neither a pipe, a file nor a character device")),
  }
}

/// No kernel version applies to the read hack on Windows.
pub fn kernel_version() -> Option<KernelVersion> {
  None
}

/// No signals on Windows.
pub fn block_sigpipe_on_this_thread() {}
pub fn discard_pending_sigpipe() {}
pub fn suppress_sigpipe(_fd: RawFd) {}
pub fn tighten_timer_slack() {}

/// Not known here: a drain announced by the I/O thread is waited for on any CPU.
pub fn current_cpu() -> Option<i32> {
  None
}

/// Close a host fd (and the handle it owns) with the host's `uv_fs_close`; `EBADF` when the fd
/// is not open.
pub fn close(fd: RawFd) -> io::Result<()> {
  let uv = uv()?;
  // A synchronous request (no callback) touches nothing but the request itself.
  let mut req = [0u64; 128];
  let r = unsafe { (uv.fs_close)(std::ptr::null_mut(), req.as_mut_ptr().cast(), fd, std::ptr::null_mut()) };
  unsafe { (uv.fs_req_cleanup)(req.as_mut_ptr().cast()) };
  match r {
    0.. => Ok(()),
    UV_EBADF => Err(io::Error::from_raw_os_error(ERROR_INVALID_HANDLE)),
    e => Err(io::Error::other(format!("uv_fs_close failed ({e})"))),
  }
}

/// Whether an OS error means the reader has gone (`ERROR_BROKEN_PIPE`, `ERROR_NO_DATA`).
pub fn reader_gone_errno(errno: Option<i32>) -> bool {
  matches!(errno.map(|e| e as u32), Some(ERROR_BROKEN_PIPE | ERROR_NO_DATA))
}

/// The Node-style name of a Windows error code (`EPIPE` for a broken pipe), `E<number>` when
/// it has none here.
pub fn errno_name(code: i32) -> String {
  let name = match code as u32 {
    ERROR_BROKEN_PIPE | ERROR_NO_DATA | 233 => "EPIPE",
    6 => "EBADF",
    5 => "EACCES",
    2 | 3 => "ENOENT",
    4 => "EMFILE",
    8 | 14 => "ENOMEM",
    87 => "EINVAL",
    112 | 39 => "ENOSPC",
    995 => "ECANCELED",
    231 => "EBUSY",
    50 => "ENOTSUP",
    _ => return format!("E{code}"),
  };
  name.to_string()
}

fn wide(s: &str) -> Vec<u16> {
  s.encode_utf16().chain(std::iter::once(0)).collect()
}

/// A named pipe pair, as libuv makes a child's stdio pipe: returns (the child's end, ours,
/// buffer size) as host fds. Ours is the server end, overlapped and duplex, byte mode, on a
/// name no other process can take first (`FILE_FLAG_FIRST_PIPE_INSTANCE`, local clients only);
/// its outbound buffer is `size` bytes (default [`DEFAULT_PIPE_BUFFER`]). The child's end is
/// opened `GENERIC_READ | FILE_WRITE_ATTRIBUTES` (the attribute right lets the child's libuv
/// set its mode). Neither is inheritable.
pub fn named_pipe_pair(size: Option<u32>) -> io::Result<(RawFd, RawFd, u32)> {
  static SERIAL: AtomicU64 = AtomicU64::new(0);
  uv()?;
  let size = size.unwrap_or(DEFAULT_PIPE_BUFFER);
  let name = format!(
    r"\\?\pipe\process-writer-{}-{}-{:x}",
    unsafe { GetCurrentProcessId() },
    SERIAL.fetch_add(1, SeqCst),
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0) & 0xffff_ffff
  );
  let name = wide(&name);
  let server = unsafe {
    CreateNamedPipeW(
      name.as_ptr(),
      PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
      PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
      1,
      size,
      size,
      0,
      std::ptr::null(),
    )
  };
  if server == INVALID_HANDLE_VALUE {
    return Err(io::Error::last_os_error());
  }
  let client = unsafe {
    CreateFileW(
      name.as_ptr(),
      GENERIC_READ | FILE_WRITE_ATTRIBUTES,
      0,
      std::ptr::null(),
      OPEN_EXISTING,
      0,
      std::ptr::null_mut(),
    )
  };
  if client == INVALID_HANDLE_VALUE {
    let err = io::Error::last_os_error();
    unsafe { CloseHandle(server) };
    return Err(err);
  }
  let read_fd = match fd_of(client) {
    Ok(fd) => fd,
    Err(e) => {
      unsafe { CloseHandle(server) };
      return Err(e);
    }
  };
  let write_fd = match fd_of(server) {
    Ok(fd) => fd,
    Err(e) => {
      let _ = close(read_fd);
      return Err(e);
    }
  };
  Ok((read_fd, write_fd, size))
}

/// A named pipe's outbound buffer size, or `None` when the fd is not a named pipe.
pub fn pipe_capacity(fd: RawFd) -> Option<usize> {
  let h = handle_of(fd).ok()?;
  let (mut flags, mut out) = (0, 0);
  let ok = unsafe { GetNamedPipeInfo(h, &mut flags, &mut out, std::ptr::null_mut(), std::ptr::null_mut()) } != 0;
  (ok && out > 0).then_some(out as usize)
}

/// A named pipe's buffer is fixed at creation (`named_pipe_pair`): the current size.
pub fn set_pipe_size(fd: RawFd, _want: usize) -> Option<usize> {
  pipe_capacity(fd)
}

/// No socketpairs for child stdio on Windows.
pub fn socketpair_cloexec() -> io::Result<(RawFd, RawFd)> {
  Err(io::Error::new(io::ErrorKind::Unsupported, "socketpair transport is not available on Windows"))
}

/// No `vmsplice` on Windows: the zero-copy option is ignored there.
pub fn vmsplice(_fd: RawFd, _bufs: &[IoSlice<'_>]) -> io::Result<usize> {
  Err(io::Error::from(io::ErrorKind::Unsupported))
}

pub fn pipe_unread(_fd: RawFd) -> Option<usize> {
  None
}

pub const ZERO_COPY_SUPPORTED: bool = false;

/// One write's outcome: `taken` bytes left the queue (mio copied them, or the file took them);
/// `completed` bytes (of this or an earlier write) are now known to be in the pipe or file.
pub struct Wrote {
  pub taken: usize,
  pub completed: u64,
}

/// The writer's end as the I/O thread sees it.
pub enum Output {
  /// A named pipe registered with mio, holding its own duplicate of the handle (so that the
  /// host fd and mio each close their own). `in_flight`: bytes of the write mio has in flight;
  /// `counted`: those bytes were counted when taken (a `writeFile` source's, see
  /// [`Output::write_source`]), so their completion adds nothing.
  Pipe { pipe: NamedPipe, in_flight: u64, counted: bool },
  /// A file or character device, written synchronously through the host fd's handle.
  File(HANDLE),
  Closed,
}

// SAFETY: the handle is used by the I/O thread only.
unsafe impl Send for Output {}

impl Output {
  /// The output for host fd `fd` of kind `kind` (checked by [`unsupported`] beforehand).
  /// `Closed` when the handle cannot be had: the first write then fails with `EBADF`.
  pub fn open(fd: RawFd, kind: FdKind) -> Output {
    let Ok(h) = handle_of(fd) else { return Output::Closed };
    if kind != FdKind::Pipe {
      return Output::File(h);
    }
    let mut dup: HANDLE = std::ptr::null_mut();
    let process = unsafe { GetCurrentProcess() };
    if unsafe { DuplicateHandle(process, h, process, &mut dup, 0, 0, DUPLICATE_SAME_ACCESS) } == 0 {
      return Output::Closed;
    }
    Output::Pipe { pipe: unsafe { NamedPipe::from_raw_handle(dup as _) }, in_flight: 0, counted: false }
  }

  /// Register a pipe with the poller (mio starts a read, whose failure tells that the reader
  /// has gone). Files are not registered: `Err`, they are always ready.
  pub fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
    match self {
      Output::Pipe { pipe, .. } => registry.register(pipe, token, Interest::READABLE | Interest::WRITABLE),
      _ => Err(io::Error::from(io::ErrorKind::Unsupported)),
    }
  }

  /// Hand `bufs` over. A pipe takes all of them (into mio's buffer) or nothing (`WouldBlock`:
  /// a write is in flight); its `Ok` also says that the write before completed. A file takes
  /// what `WriteFile` wrote.
  pub fn write(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<Wrote> {
    self.write_counting(bufs, false)
  }

  /// [`Output::write`] for a `writeFile` source, whose bytes the caller counts as they are
  /// taken: their completion is not reported again. Called only with nothing uncounted in
  /// flight (see [`Output::settle`]), so `completed` is always 0 here.
  pub fn write_source(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<Wrote> {
    self.write_counting(bufs, true)
  }

  fn write_counting(&mut self, bufs: &[IoSlice<'_>], counting: bool) -> io::Result<Wrote> {
    match self {
      Output::Pipe { pipe, in_flight, counted } => {
        let res = pipe.write_vectored(bufs);
        match res {
          Ok(n) => {
            let done = std::mem::replace(in_flight, n as u64);
            let completed = if std::mem::replace(counted, counting) { 0 } else { done };
            Ok(Wrote { taken: n, completed })
          }
          Err(e) => Err(e),
        }
      }
      Output::File(h) => {
        let buf: &[u8] = bufs.iter().find(|b| !b.is_empty()).map(|b| &b[..]).unwrap_or(&[]);
        let len = buf.len().min(u32::MAX as usize) as u32;
        let mut n = 0u32;
        if unsafe { WriteFile(*h, buf.as_ptr(), len, &mut n, std::ptr::null_mut()) } == 0 {
          return Err(io::Error::last_os_error());
        }
        Ok(Wrote { taken: n as usize, completed: n as u64 })
      }
      Output::Closed => Err(io::Error::from_raw_os_error(ERROR_INVALID_HANDLE)),
    }
  }

  /// Whether the write in flight completed: `Some(bytes)` (0 when none was in flight), `None`
  /// while it is in flight, `Err` when it failed (its bytes are then [`Output::unsettled`]).
  /// mio tells only through the next write, so this writes nothing: an empty write, which
  /// completes at once once the pipe is idle.
  pub fn settle(&mut self) -> io::Result<Option<u64>> {
    match self {
      Output::Pipe { pipe, in_flight, counted } if *in_flight > 0 => match pipe.write(&[]) {
        Ok(_) => {
          let done = std::mem::take(in_flight);
          Ok(Some(if std::mem::take(counted) { 0 } else { done }))
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e),
      },
      _ => Ok(Some(0)),
    }
  }

  /// Bytes handed over whose write has not completed.
  pub fn unsettled(&self) -> u64 {
    match self {
      Output::Pipe { in_flight, counted: false, .. } => *in_flight,
      _ => 0,
    }
  }

  /// Translate a pipe's readability: mio keeps a read in flight, and its completion with
  /// `ERROR_BROKEN_PIPE` (a 0-byte read) means the reader closed its end. Reported as
  /// `write_closed`, what the read-hack policy takes for "reader gone".
  pub fn confirm(&mut self, mut r: Readiness) -> Readiness {
    if let (Output::Pipe { pipe, .. }, true) = (&mut *self, r.readable) {
      let mut buf = [0u8; 512];
      loop {
        match pipe.read(&mut buf) {
          Ok(0) => {
            r.write_closed = true;
            break;
          }
          // The child's end is read-only: nothing should come, drop it.
          Ok(_) => continue,
          Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
          Err(_) => {
            r.write_closed = true;
            break;
          }
        }
      }
      r.readable = false;
    }
    r
  }

  /// Stop writing: deregister, cancel what is in flight when `abort` (otherwise mio completes
  /// the write in flight before freeing its handle), and drop mio's handle. mio frees it once
  /// the cancelled read's completion has been polled: the I/O thread polls again before it
  /// reports the close.
  pub fn close(&mut self, registry: &Registry, abort: bool) {
    if let Output::Pipe { mut pipe, .. } = std::mem::replace(self, Output::Closed) {
      let _ = registry.deregister(&mut pipe);
      if abort {
        use std::os::windows::io::AsRawHandle;
        unsafe { CancelIoEx(pipe.as_raw_handle() as HANDLE, std::ptr::null()) };
      }
      drop(pipe);
    }
  }
}

/// The error numbers the pure policies name (`source_plan`, `file_source`), as the Win32 error
/// codes that mean the same.
pub mod errno {
  pub const EPIPE: i32 = 109; // ERROR_BROKEN_PIPE
  pub const EBADF: i32 = 6; // ERROR_INVALID_HANDLE
  pub const EINVAL: i32 = 87; // ERROR_INVALID_PARAMETER
  pub const ENOSYS: i32 = 120; // ERROR_CALL_NOT_IMPLEMENTED
  pub const EOPNOTSUPP: i32 = 50; // ERROR_NOT_SUPPORTED
  pub const EXDEV: i32 = 17; // ERROR_NOT_SAME_DEVICE
  pub const EIO: i32 = 1117; // ERROR_IO_DEVICE
  pub const ECONNRESET: i32 = 10054; // WSAECONNRESET
  pub const ENOTCONN: i32 = 233; // ERROR_PIPE_NOT_CONNECTED
  pub const ENOSPC: i32 = 112; // ERROR_DISK_FULL
  pub const EDQUOT: i32 = 1295; // ERROR_DISK_QUOTA_EXCEEDED
  pub const EFBIG: i32 = 223; // ERROR_FILE_TOO_LARGE
  pub const EAGAIN: i32 = 997; // ERROR_IO_PENDING
}

/// A new host fd for the same handle (`DuplicateHandle`, not inheritable): the writer's own,
/// so that the caller closing theirs does not pull the handle from under the I/O thread.
pub fn dup_cloexec(fd: RawFd) -> io::Result<RawFd> {
  let h = handle_of(fd)?;
  let mut dup: HANDLE = std::ptr::null_mut();
  let process = unsafe { GetCurrentProcess() };
  if unsafe { DuplicateHandle(process, h, process, &mut dup, 0, 0, DUPLICATE_SAME_ACCESS) } == 0 {
    return Err(io::Error::last_os_error());
  }
  fd_of(dup)
}

/// Whether two host fds refer to the same kernel object (`CompareObjectHandles`, Windows 10;
/// where it is missing, whether `a` is still open). False when either is not open.
pub fn same_file(a: RawFd, b: RawFd) -> bool {
  type Compare = unsafe extern "system" fn(HANDLE, HANDLE) -> i32;
  static COMPARE: OnceLock<Option<Compare>> = OnceLock::new();
  let (Ok(ha), Ok(hb)) = (handle_of(a), handle_of(b)) else { return false };
  let compare = COMPARE.get_or_init(|| unsafe {
    let name = wide("kernelbase.dll");
    let module = GetModuleHandleW(name.as_ptr());
    if module.is_null() {
      return None;
    }
    GetProcAddress(module, c"CompareObjectHandles".as_ptr().cast()).map(|f| std::mem::transmute::<Farproc, Compare>(f))
  });
  match compare {
    Some(f) => unsafe { f(ha, hb) != 0 },
    None => true,
  }
}

fn unsupported_here() -> io::Error {
  io::Error::new(io::ErrorKind::Unsupported, "not available on Windows")
}

const ERROR_HANDLE_EOF: i32 = 38;
const ERROR_IO_PENDING: i32 = 997;

/// Open `path` for reading (`writeFile`'s path source): a synchronous handle that others may
/// read, write, rename or delete meanwhile (as Node's `fs.open`), behind a new host fd.
/// Directories open too (`FILE_FLAG_BACKUP_SEMANTICS`), so that [`is_directory`] tells `EISDIR`.
pub fn open_for_reading(path: &str) -> io::Result<RawFd> {
  use windows_sys::Win32::Storage::FileSystem::{
    FILE_FLAG_BACKUP_SEMANTICS, FILE_SHARE_DELETE, FILE_SHARE_READ, FILE_SHARE_WRITE,
  };
  let name = wide(path);
  let h = unsafe {
    CreateFileW(
      name.as_ptr(),
      GENERIC_READ,
      FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
      std::ptr::null(),
      OPEN_EXISTING,
      FILE_FLAG_BACKUP_SEMANTICS,
      std::ptr::null_mut(),
    )
  };
  if h == INVALID_HANDLE_VALUE {
    return Err(io::Error::last_os_error());
  }
  fd_of(h)
}

/// Whether the fd is a directory (`GetFileInformationByHandle`); false when that fails.
pub fn is_directory(fd: RawFd) -> bool {
  use windows_sys::Win32::Storage::FileSystem::{
    GetFileInformationByHandle, BY_HANDLE_FILE_INFORMATION, FILE_ATTRIBUTE_DIRECTORY,
  };
  let Ok(h) = handle_of(fd) else { return false };
  let mut info: BY_HANDLE_FILE_INFORMATION = unsafe { std::mem::zeroed() };
  unsafe { GetFileInformationByHandle(h, &mut info) != 0 && info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY != 0 }
}

/// A file fd's current position (`SetFilePointerEx` by 0 from the current one).
pub fn current_offset(fd: RawFd) -> Option<u64> {
  use windows_sys::Win32::Storage::FileSystem::{SetFilePointerEx, FILE_CURRENT};
  let h = handle_of(fd).ok()?;
  let mut pos = 0i64;
  (unsafe { SetFilePointerEx(h, 0, &mut pos, FILE_CURRENT) } != 0).then_some(pos as u64)
}

/// Read at `offset` (`ReadFile` with the offset in an `OVERLAPPED`, as libuv's positional
/// reads; `Ok(0)` at end of file). Such a read moves a synchronous handle's file pointer,
/// which the caller's fd shares with our duplicate: it is put back afterwards, so that the
/// fd's position stays where it was, as with POSIX `pread`. An overlapped handle is waited for.
pub fn pread(fd: RawFd, buf: &mut [u8], offset: u64) -> io::Result<usize> {
  use windows_sys::Win32::Storage::FileSystem::{SetFilePointerEx, FILE_BEGIN};
  let h = handle_of(fd)?;
  let position = current_offset(fd);
  let res = read_at(h, buf, offset);
  if let Some(pos) = position {
    unsafe { SetFilePointerEx(h, pos as i64, std::ptr::null_mut(), FILE_BEGIN) };
  }
  res
}

fn read_at(h: HANDLE, buf: &mut [u8], offset: u64) -> io::Result<usize> {
  use windows_sys::Win32::Storage::FileSystem::ReadFile;
  use windows_sys::Win32::System::IO::{GetOverlappedResult, OVERLAPPED};
  let mut ov: OVERLAPPED = unsafe { std::mem::zeroed() };
  ov.Anonymous.Anonymous.Offset = offset as u32;
  ov.Anonymous.Anonymous.OffsetHigh = (offset >> 32) as u32;
  let len = buf.len().min(u32::MAX as usize) as u32;
  let mut n = 0u32;
  if unsafe { ReadFile(h, buf.as_mut_ptr(), len, &mut n, &mut ov) } == 0 {
    let mut err = io::Error::last_os_error();
    if err.raw_os_error() == Some(ERROR_IO_PENDING) {
      if unsafe { GetOverlappedResult(h, &ov, &mut n, 1) } != 0 {
        return Ok(n as usize);
      }
      err = io::Error::last_os_error();
    }
    return match err.raw_os_error() {
      Some(ERROR_HANDLE_EOF) => Ok(0),
      _ => Err(err),
    };
  }
  Ok(n as usize)
}

// Pipe sources are not supported on Windows (`writeFile` rejects them before any of these is
// reached); they exist so that the portable code compiles.
pub fn read(_fd: RawFd, _buf: &mut [u8]) -> io::Result<usize> {
  Err(unsupported_here())
}
pub fn ready_now(_fd: RawFd, _write: bool) -> bool {
  false
}
pub fn write_vectored(_fd: RawFd, _bufs: &[IoSlice<'_>]) -> io::Result<usize> {
  Err(unsupported_here())
}
pub fn splice(_src: RawFd, _offset: Option<&mut i64>, _dst: RawFd, _len: usize) -> io::Result<usize> {
  Err(unsupported_here())
}
pub fn sendfile(_dst: RawFd, _src: RawFd, _offset: &mut i64, _len: usize) -> io::Result<usize> {
  Err(unsupported_here())
}
pub fn copy_file_range(_src: RawFd, _offset: &mut i64, _dst: RawFd, _len: usize) -> io::Result<usize> {
  Err(unsupported_here())
}
/// Zero-copy does not exist here.
pub fn copy_unread_in_place(_fd: RawFd) -> io::Result<usize> {
  Err(unsupported_here())
}
pub fn register_source(_registry: &Registry, _fd: RawFd, _token: Token) -> io::Result<()> {
  Err(unsupported_here())
}
pub fn deregister_source(_registry: &Registry, _fd: RawFd) {}
