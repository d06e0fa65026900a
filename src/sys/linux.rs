//! Linux-only syscalls: `pipe2`, pipe resizing, `vmsplice`, draining a pending SIGPIPE.

use std::io;
use std::os::fd::RawFd;

/// A new pipe, both ends `O_CLOEXEC` (so no other child inherits them). Returns (read, write).
pub fn pipe_cloexec() -> io::Result<(RawFd, RawFd)> {
  let mut fds = [0 as libc::c_int; 2];
  if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
    return Err(io::Error::last_os_error());
  }
  Ok((fds[0], fds[1]))
}

/// The pipe's capacity in bytes, or `None` when the fd is not a pipe.
pub fn pipe_capacity(fd: RawFd) -> Option<usize> {
  let n = unsafe { libc::fcntl(fd, libc::F_GETPIPE_SZ) };
  (n > 0).then_some(n as usize)
}

fn pipe_max_size() -> usize {
  std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
    .ok()
    .and_then(|s| s.trim().parse().ok())
    .unwrap_or(1 << 20)
}

/// Ask for a pipe of `want` bytes with `F_SETPIPE_SZ`, clamped to `/proc/sys/fs/pipe-max-size`.
/// An `EPERM` (the per-user `pipe-user-pages-soft` budget is spent) or `EBUSY` falls back to
/// halving the request down to the current size. Returns the capacity obtained.
pub fn set_pipe_size(fd: RawFd, want: usize) -> Option<usize> {
  let current = pipe_capacity(fd)?;
  let mut ask = want.min(pipe_max_size());
  while ask > current {
    if unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, ask as libc::c_int) } > 0 {
      break;
    }
    ask /= 2;
  }
  pipe_capacity(fd)
}

/// Consume a SIGPIPE left pending on this thread by an `EPIPE` write.
pub fn discard_pending_sigpipe() {
  unsafe {
    let mut set: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut set);
    libc::sigaddset(&mut set, libc::SIGPIPE);
    let zero = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    while libc::sigtimedwait(&set, std::ptr::null_mut(), &zero) == libc::SIGPIPE {}
  }
}

/// Per-fd SIGPIPE suppression is not needed on Linux (the I/O thread blocks the signal).
pub fn suppress_sigpipe(_fd: RawFd) {}

/// Zero-copy write: map the pages of `bufs` into the pipe (`vmsplice`, non-blocking). The
/// memory must stay unchanged until the reader has consumed it (see [`pipe_unread`]).
pub fn vmsplice(fd: RawFd, bufs: &[std::io::IoSlice<'_>]) -> io::Result<usize> {
  let ret = unsafe { libc::vmsplice(fd, bufs.as_ptr().cast(), bufs.len(), libc::SPLICE_F_NONBLOCK) };
  if ret < 0 {
    Err(io::Error::last_os_error())
  } else {
    Ok(ret as usize)
  }
}

/// Zero-copy: replace what is still unread in the pipe of `fd` (our write end) by copies, so
/// that the pipe no longer references the memory `vmsplice` mapped into it, and that memory
/// can be freed or reused at once. The unread bytes (at most the pipe's capacity) are read
/// through a read end opened on the same pipe (`/proc/self/fd/N`) and written back, in order:
/// a reader reading meanwhile gets a prefix of them and then the rest, as pipe reads and
/// writes are atomic with respect to each other. Returns how many bytes could not be written
/// back (0 unless the pipe shrank or failed); fails, changing nothing, when no read end can be
/// opened (no `/proc`, no fd left).
pub fn copy_unread_in_place(fd: RawFd) -> io::Result<usize> {
  let unread = pipe_unread(fd).ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
  if unread == 0 {
    return Ok(0);
  }
  let path = std::ffi::CString::new(format!("/proc/self/fd/{fd}")).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
  let r = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC) };
  if r < 0 {
    return Err(io::Error::last_os_error());
  }
  let mut buf = vec![0u8; unread];
  let mut got = 0;
  while got < unread {
    match super::read(r, &mut buf[got..]) {
      Ok(0) => break,
      Ok(n) => got += n,
      Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
      Err(_) => break, // EAGAIN: the reader took the rest
    }
  }
  let mut put = 0;
  let mut waits = 0;
  while put < got {
    let slice = [std::io::IoSlice::new(&buf[put..got])];
    match super::write_vectored(fd, &slice) {
      Ok(n) => put += n,
      Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
      Err(e) if e.kind() == io::ErrorKind::WouldBlock && waits < 100 => {
        // Cannot happen while the pipe keeps its capacity (it was emptied); wait a little
        // for the reader if it does.
        waits += 1;
        let mut pfd = libc::pollfd { fd, events: libc::POLLOUT, revents: 0 };
        unsafe { libc::poll(&mut pfd, 1, 10) };
      }
      Err(_) => break,
    }
  }
  unsafe { libc::close(r) };
  Ok(got - put)
}

/// Bytes sitting in the pipe, not yet read (`FIONREAD`, which Linux answers on either end).
pub fn pipe_unread(fd: RawFd) -> Option<usize> {
  let mut n: libc::c_int = 0;
  (unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) } == 0).then_some(n as usize)
}

/// Let this thread's short sleeps end on time (the default timer slack is 50 µs).
pub fn tighten_timer_slack() {
  unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1000 as libc::c_ulong) };
}

/// The CPU this thread runs on now (`sched_getcpu`, answered without a syscall by the vDSO).
pub fn current_cpu() -> Option<i32> {
  let cpu = unsafe { libc::sched_getcpu() };
  (cpu >= 0).then_some(cpu)
}

/// Wait until `fd` is readable or `timeout` passed, with sub-millisecond precision (`ppoll`).
pub fn wait_readable(fd: RawFd, timeout: std::time::Duration) {
  let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
  let ts = libc::timespec { tv_sec: timeout.as_secs() as libc::time_t, tv_nsec: timeout.subsec_nanos() as libc::c_long };
  unsafe { libc::ppoll(&mut pfd, 1, &ts, std::ptr::null()) };
}

/// `vmsplice` exists here.
pub const ZERO_COPY_SUPPORTED: bool = true;

fn cvt_size(ret: isize) -> io::Result<usize> {
  if ret < 0 {
    Err(io::Error::last_os_error())
  } else {
    Ok(ret as usize)
  }
}

/// `splice` up to `len` bytes from `src` (at `*offset` for a file, advancing it; `None` for a
/// pipe) into `dst`; one of them must be a pipe. `SPLICE_F_NONBLOCK` keeps the pipe ends from
/// blocking whatever their `O_NONBLOCK` flag; `Ok(0)` is end of file. Kernel to kernel: file
/// pages are referenced by the pipe, not copied.
pub fn splice(src: RawFd, offset: Option<&mut i64>, dst: RawFd, len: usize) -> io::Result<usize> {
  let off = offset.map_or(std::ptr::null_mut(), |o| o as *mut i64);
  let flags = libc::SPLICE_F_NONBLOCK | libc::SPLICE_F_MOVE;
  cvt_size(unsafe { libc::splice(src, off.cast(), dst, std::ptr::null_mut(), len, flags) })
}

/// `sendfile` up to `len` bytes of the file `src` from `*offset` (advanced) into `dst` (a
/// socket, or since Linux 2.6.33 any fd). `Ok(0)` is end of file.
pub fn sendfile(dst: RawFd, src: RawFd, offset: &mut i64, len: usize) -> io::Result<usize> {
  cvt_size(unsafe { libc::sendfile(dst, src, (offset as *mut i64).cast(), len) })
}

/// `copy_file_range` up to `len` bytes of the file `src` from `*offset` (advanced) into the
/// regular file `dst` at its own position. `Ok(0)` is end of file.
pub fn copy_file_range(src: RawFd, offset: &mut i64, dst: RawFd, len: usize) -> io::Result<usize> {
  cvt_size(unsafe { libc::copy_file_range(src, offset, dst, std::ptr::null_mut(), len, 0) } as isize)
}
