//! POSIX syscalls shared by every Unix.

use std::io::{self, IoSlice};
pub use std::os::fd::RawFd;

use crate::read_hack::{AccessMode, FdKind, KernelVersion};

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
  if ret < 0 {
    Err(io::Error::last_os_error())
  } else {
    Ok(ret)
  }
}

/// The fd's access mode and whether `O_NONBLOCK` is set. Fails with `EBADF` for a closed fd.
pub fn fd_status(fd: RawFd) -> io::Result<(AccessMode, bool)> {
  let flags = cvt(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
  let mode = match flags & libc::O_ACCMODE {
    libc::O_RDONLY => AccessMode::ReadOnly,
    libc::O_WRONLY => AccessMode::WriteOnly,
    _ => AccessMode::ReadWrite,
  };
  Ok((mode, flags & libc::O_NONBLOCK != 0))
}

/// Set or clear `O_NONBLOCK` (on the open file description, shared with every dup of it).
pub fn set_nonblocking(fd: RawFd, on: bool) -> io::Result<()> {
  let flags = cvt(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
  let new = if on { flags | libc::O_NONBLOCK } else { flags & !libc::O_NONBLOCK };
  if new != flags {
    cvt(unsafe { libc::fcntl(fd, libc::F_SETFL, new) })?;
  }
  Ok(())
}

/// Whether two fds refer to the same file (same device and inode, as `fstat` reports them).
/// False when either is not open.
pub fn same_file(a: RawFd, b: RawFd) -> bool {
  let (mut sa, mut sb): (libc::stat, libc::stat) = unsafe { (std::mem::zeroed(), std::mem::zeroed()) };
  unsafe { libc::fstat(a, &mut sa) == 0 && libc::fstat(b, &mut sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino }
}

/// What the fd is.
pub fn fd_kind(fd: RawFd) -> io::Result<FdKind> {
  let mut st: libc::stat = unsafe { std::mem::zeroed() };
  cvt(unsafe { libc::fstat(fd, &mut st) })?;
  Ok(match st.st_mode & libc::S_IFMT {
    libc::S_IFIFO => FdKind::Pipe,
    libc::S_IFSOCK => FdKind::Socket,
    libc::S_IFREG => FdKind::File,
    libc::S_IFCHR if unsafe { libc::isatty(fd) } == 1 => FdKind::Tty,
    libc::S_IFCHR => FdKind::CharDevice,
    _ => FdKind::Other,
  })
}

/// The running kernel's release (`uname -r`), parsed.
pub fn kernel_version() -> Option<KernelVersion> {
  let mut u: libc::utsname = unsafe { std::mem::zeroed() };
  if unsafe { libc::uname(&mut u) } != 0 {
    return None;
  }
  let release = unsafe { std::ffi::CStr::from_ptr(u.release.as_ptr()) };
  KernelVersion::parse(&release.to_string_lossy())
}

/// One `write`/`writev`. Returns the bytes the kernel took; `WouldBlock`, `Interrupted` and
/// `BrokenPipe` come back as errors for the caller to act on.
pub fn write_vectored(fd: RawFd, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
  let ret = if bufs.len() == 1 {
    unsafe { libc::write(fd, bufs[0].as_ptr().cast(), bufs[0].len()) }
  } else {
    let n = bufs.len().min(libc::c_int::MAX as usize) as libc::c_int;
    unsafe { libc::writev(fd, bufs.as_ptr().cast(), n) }
  };
  if ret < 0 {
    Err(io::Error::last_os_error())
  } else {
    Ok(ret as usize)
  }
}

/// Block SIGPIPE for the calling thread. A `write` to a pipe with no reader then fails with
/// `EPIPE` and the (thread-directed) signal stays pending instead of killing the host,
/// whatever the process-wide disposition is (Electron-as-node does not ignore it). On macOS
/// `suppress_sigpipe` also keeps it from being raised at all.
pub fn block_sigpipe_on_this_thread() {
  unsafe {
    let mut set: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut set);
    libc::sigaddset(&mut set, libc::SIGPIPE);
    libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
  }
}

/// Close an fd (once; errors other than EBADF are not actionable after close and are ignored).
pub fn close(fd: RawFd) -> io::Result<()> {
  cvt(unsafe { libc::close(fd) }).map(|_| ())
}

/// The symbolic name of an errno (`EPIPE`), as Node spells them; `E<number>` when unknown.
pub fn errno_name(errno: i32) -> String {
  let name = match errno {
    libc::EPIPE => "EPIPE",
    libc::EBADF => "EBADF",
    libc::EIO => "EIO",
    libc::ENOSPC => "ENOSPC",
    libc::EDQUOT => "EDQUOT",
    libc::EFBIG => "EFBIG",
    libc::EINVAL => "EINVAL",
    libc::ECONNRESET => "ECONNRESET",
    libc::ENOTCONN => "ENOTCONN",
    libc::EAGAIN => "EAGAIN",
    libc::EINTR => "EINTR",
    libc::EPERM => "EPERM",
    libc::EACCES => "EACCES",
    libc::ENXIO => "ENXIO",
    libc::ENOBUFS => "ENOBUFS",
    libc::EMFILE => "EMFILE",
    libc::ENFILE => "ENFILE",
    libc::EFAULT => "EFAULT",
    libc::EROFS => "EROFS",
    libc::ENOENT => "ENOENT",
    libc::EISDIR => "EISDIR",
    libc::ESPIPE => "ESPIPE",
    libc::ENOTDIR => "ENOTDIR",
    libc::ELOOP => "ELOOP",
    libc::ENAMETOOLONG => "ENAMETOOLONG",
    libc::EXDEV => "EXDEV",
    libc::ENOSYS => "ENOSYS",
    libc::EOPNOTSUPP => "EOPNOTSUPP",
    _ => return format!("E{errno}"),
  };
  name.to_string()
}

/// A connected `AF_UNIX` stream socketpair (Node's transport for child stdio), both ends
/// close-on-exec. Returns (the child's end, ours); the child's end is shut for writing and ours
/// for reading, so it behaves as a one-way channel like a pipe.
pub fn socketpair_cloexec() -> io::Result<(RawFd, RawFd)> {
  let mut fds = [0 as libc::c_int; 2];
  #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
  cvt(unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) })?;
  #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
  {
    cvt(unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) })?;
    for fd in fds {
      unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
  }
  unsafe {
    libc::shutdown(fds[0], libc::SHUT_WR);
    libc::shutdown(fds[1], libc::SHUT_RD);
  }
  Ok((fds[0], fds[1]))
}

fn cvt_size(ret: isize) -> io::Result<usize> {
  if ret < 0 {
    Err(io::Error::last_os_error())
  } else {
    Ok(ret as usize)
  }
}

/// A new fd for the same open file description, close-on-exec (ours to close).
pub fn dup_cloexec(fd: RawFd) -> io::Result<RawFd> {
  cvt(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) })
}

/// Open `path` for reading, close-on-exec, never blocking: `O_NONBLOCK` keeps the open of a
/// FIFO without a writer from waiting (it has no effect on regular files), `O_NOCTTY` keeps a
/// terminal from becoming ours.
pub fn open_for_reading(path: &str) -> io::Result<RawFd> {
  let c = std::ffi::CString::new(path).map_err(|_| io::Error::from_raw_os_error(libc::ENOENT))?;
  cvt(unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_NOCTTY) })
}

/// Whether the fd is a directory.
pub fn is_directory(fd: RawFd) -> bool {
  let mut st: libc::stat = unsafe { std::mem::zeroed() };
  let ok = unsafe { libc::fstat(fd, &mut st) } == 0;
  ok && st.st_mode & libc::S_IFMT == libc::S_IFDIR
}

/// The fd's current offset (`lseek(fd, 0, SEEK_CUR)`), or `None` when it has none (a pipe).
pub fn current_offset(fd: RawFd) -> Option<u64> {
  let off = unsafe { libc::lseek(fd, 0, libc::SEEK_CUR) };
  (off >= 0).then_some(off as u64)
}

/// `pread`: read at `offset` without moving the fd's position. `Ok(0)` is end of file.
pub fn pread(fd: RawFd, buf: &mut [u8], offset: u64) -> io::Result<usize> {
  cvt_size(unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), buf.len(), offset as libc::off_t) })
}

/// `read`. `Ok(0)` is end of file.
pub fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
  cvt_size(unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) })
}

/// Whether `fd` is ready now (a zero-timeout `poll`): readable (or at end of file, or failed)
/// with `write: false`, writable (or failed) with `write: true`. A read or write on a ready
/// pipe does not block, whatever its `O_NONBLOCK` flag.
pub fn ready_now(fd: RawFd, write: bool) -> bool {
  let events = if write { libc::POLLOUT } else { libc::POLLIN };
  let mut pfd = libc::pollfd { fd, events, revents: 0 };
  let n = unsafe { libc::poll(&mut pfd, 1, 0) };
  n > 0 && pfd.revents & (events | libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0
}

/// The `errno` reported when readiness (not a write) said the reader has gone: none.
pub const READER_GONE_ERRNO: Option<i32> = None;

/// Whether a write's errno means the reader has gone (`EPIPE`, `ECONNRESET`).
pub fn reader_gone_errno(errno: Option<i32>) -> bool {
  matches!(errno, Some(libc::EPIPE) | Some(libc::ECONNRESET))
}

/// Every fd the constructor accepts can be written by the I/O thread.
pub fn unsupported(_fd: RawFd, _kind: FdKind) -> Option<String> {
  None
}

/// The most one write may carry, given the queue's own `limit`: all of it here.
#[inline]
pub fn write_limit(limit: usize, _pipe_capacity: u64) -> usize {
  limit
}

/// One write's outcome: `taken` bytes left the queue, `completed` are in the kernel (the same
/// here; they differ on Windows, where a pipe write completes later).
pub struct Wrote {
  pub taken: usize,
  pub completed: u64,
}

/// The writer's end as the I/O thread sees it: the fd, registered with the poller for
/// writability (edge-triggered) for its whole life.
pub struct Output(RawFd);

impl Output {
  pub fn open(fd: RawFd, _kind: FdKind) -> Output {
    Output(fd)
  }

  /// `Err` for fds the poller refuses (regular files, some devices): always writable.
  pub fn register(&mut self, registry: &mio::Registry, token: mio::Token) -> io::Result<()> {
    registry.register(&mut mio::unix::SourceFd(&self.0), token, mio::Interest::WRITABLE)
  }

  /// One `write`/`writev` (see [`write_vectored`]).
  #[inline]
  pub fn write(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<Wrote> {
    write_vectored(self.0, bufs).map(|n| Wrote { taken: n, completed: n as u64 })
  }

  /// [`Output::write`] (a `writeFile` source's bytes: the same here).
  #[inline]
  pub fn write_source(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<Wrote> {
    self.write(bufs)
  }

  /// A write returns once complete: nothing is ever in flight.
  #[inline]
  pub fn settle(&mut self) -> io::Result<Option<u64>> {
    Ok(Some(0))
  }

  pub fn unsettled(&self) -> u64 {
    0
  }

  /// Readiness means what it says here.
  #[inline]
  pub fn confirm(&mut self, r: crate::read_hack::Readiness) -> crate::read_hack::Readiness {
    r
  }

  /// Deregister (the fd itself is closed by the caller).
  pub fn close(&mut self, registry: &mio::Registry, _abort: bool) {
    let _ = registry.deregister(&mut mio::unix::SourceFd(&self.0));
  }
}

/// Register a `writeFile` source's fd for readability under `token`.
pub fn register_source(registry: &mio::Registry, fd: RawFd, token: mio::Token) -> io::Result<()> {
  registry.register(&mut mio::unix::SourceFd(&fd), token, mio::Interest::READABLE)
}

/// Remove a source's readability registration (errors ignored: it may never have been made).
pub fn deregister_source(registry: &mio::Registry, fd: RawFd) {
  let _ = registry.deregister(&mut mio::unix::SourceFd(&fd));
}

/// The error numbers the pure policies name (`source_plan`, `file_source`).
pub mod errno {
  pub use libc::{EAGAIN, EBADF, ECONNRESET, EDQUOT, EFBIG, EINVAL, EIO, ENOSPC, ENOSYS, ENOTCONN, EOPNOTSUPP, EPIPE, EXDEV};
}
