//! macOS and the BSDs (untested on this project's CI machine, which is Linux x64 only).

use std::io;
use std::os::fd::RawFd;

/// A new pipe with `FD_CLOEXEC` on both ends. Returns (read, write).
pub fn pipe_cloexec() -> io::Result<(RawFd, RawFd)> {
  let mut fds = [0 as libc::c_int; 2];
  if unsafe { libc::pipe(fds.as_mut_ptr()) } < 0 {
    return Err(io::Error::last_os_error());
  }
  for fd in fds {
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
  }
  Ok((fds[0], fds[1]))
}

/// Pipe capacity is not queryable here.
pub fn pipe_capacity(_fd: RawFd) -> Option<usize> {
  None
}

/// No `F_SETPIPE_SZ` on macOS/BSD: pipes grow on their own (macOS up to 64 KiB).
pub fn set_pipe_size(_fd: RawFd, _want: usize) -> Option<usize> {
  None
}

/// Nothing to drain: `F_SETNOSIGPIPE` keeps the signal from being raised at all.
pub fn discard_pending_sigpipe() {}

/// Wait until `fd` is readable or `timeout` passed (whole milliseconds, rounded up).
pub fn wait_readable(fd: RawFd, timeout: std::time::Duration) {
  let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
  let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int;
  unsafe { libc::poll(&mut pfd, 1, ms) };
}

/// Nothing to tighten where zero-copy (the only short sleeper) does not exist.
pub fn tighten_timer_slack() {}

/// Not known here: a drain announced by the I/O thread is waited for on any CPU.
pub fn current_cpu() -> Option<i32> {
  None
}

/// macOS: `F_SETNOSIGPIPE` makes writes on this fd fail with EPIPE without raising SIGPIPE.
pub fn suppress_sigpipe(fd: RawFd) {
  #[cfg(target_os = "macos")]
  unsafe {
    const F_SETNOSIGPIPE: libc::c_int = 73;
    libc::fcntl(fd, F_SETNOSIGPIPE, 1);
  }
  #[cfg(not(target_os = "macos"))]
  let _ = fd;
}

/// No `vmsplice` outside Linux: the zero-copy option is ignored there.
pub fn vmsplice(_fd: RawFd, _bufs: &[std::io::IoSlice<'_>]) -> io::Result<usize> {
  Err(io::Error::from(io::ErrorKind::Unsupported))
}

pub fn pipe_unread(_fd: RawFd) -> Option<usize> {
  None
}

pub const ZERO_COPY_SUPPORTED: bool = false;

/// Zero-copy is Linux-only: nothing is ever mapped into a pipe here.
pub fn copy_unread_in_place(_fd: RawFd) -> io::Result<usize> {
  Ok(0)
}

/// No `splice` here: sources use the read-and-write fallback (`source_plan::Platform::PORTABLE`).
pub fn splice(_src: RawFd, _offset: Option<&mut i64>, _dst: RawFd, _len: usize) -> io::Result<usize> {
  Err(io::Error::from_raw_os_error(libc::ENOSYS))
}

/// Not used here (macOS's `sendfile` has another signature and takes sockets only).
pub fn sendfile(_dst: RawFd, _src: RawFd, _offset: &mut i64, _len: usize) -> io::Result<usize> {
  Err(io::Error::from_raw_os_error(libc::ENOSYS))
}

pub fn copy_file_range(_src: RawFd, _offset: &mut i64, _dst: RawFd, _len: usize) -> io::Result<usize> {
  Err(io::Error::from_raw_os_error(libc::ENOSYS))
}
