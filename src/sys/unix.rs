//! POSIX syscalls shared by every Unix.

use std::io::{self, IoSlice};
use std::os::fd::RawFd;

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
