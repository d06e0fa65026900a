//! Which kernel mechanism moves a file range or a pipe into a writer's fd (pure, no fds).
//!
//! `writeFile` queues a *source* (a file range, or a pipe read until EOF) in the write queue.
//! The I/O thread moves its bytes kernel to kernel where the OS can, and falls back to reading
//! into one reused buffer and writing it where it cannot:
//!
//! | source \ sink   | pipe     | socket   | regular file      | other (tty, /dev/null) |
//! |-----------------|----------|----------|-------------------|------------------------|
//! | regular file    | splice   | sendfile | copy_file_range   | sendfile               |
//! | pipe / FIFO     | splice   | splice   | splice            | splice                 |
//! | socket          | splice   | read+write (the fallback)                               |
//! | anything else   | read+write (the fallback)                                          |
//!
//! (Linux. Elsewhere, and when the native path is turned off, every source uses the fallback.
//! Windows: regular files only, through the fallback: positional `ReadFile`s into the one
//! buffer, each written into the named pipe like any chunk; pipe sources are refused there, see
//! [`accepts`].)
//! A mechanism the kernel refuses at run time (`EINVAL`, `ENOSYS`, `EXDEV`, ...) is replaced by
//! the next one in [`Mechanism::fallback`], without losing or repeating bytes: the refusal
//! comes before any byte moved.

use crate::read_hack::FdKind;
use crate::sys::errno;

/// How the bytes of one source are moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
  /// `splice(2)`: file or pipe into a pipe, or pipe into anything.
  Splice,
  /// `sendfile(2)`: a file into a socket or any other fd.
  SendFile,
  /// `copy_file_range(2)`: a file into a regular file.
  CopyFileRange,
  /// `pread`/`read` into one reused buffer, then `write` (every platform).
  ReadWrite,
}

/// What the platform offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Platform {
  pub splice: bool,
  pub sendfile: bool,
  pub copy_file_range: bool,
  /// Sources other than regular files (pipes, sockets, terminals) can be waited on for
  /// readability and read without blocking the I/O thread.
  pub pollable_sources: bool,
}

impl Platform {
  /// Linux (and Android): all three.
  pub const LINUX: Platform = Platform { splice: true, sendfile: true, copy_file_range: true, pollable_sources: true };
  /// Other POSIX systems: the fallback only (macOS's `sendfile` takes sockets only and is not used).
  pub const PORTABLE: Platform = Platform { splice: false, sendfile: false, copy_file_range: false, pollable_sources: true };
  /// Windows: the fallback, for regular files only (an anonymous pipe cannot be polled, and a
  /// synchronous read of one would block the I/O thread every writer shares).
  pub const WINDOWS: Platform = Platform { splice: false, sendfile: false, copy_file_range: false, pollable_sources: false };
}

/// Whether a source of kind `source` can be fed on `platform` (a regular file always can).
pub fn accepts(source: FdKind, platform: Platform) -> bool {
  source == FdKind::File || platform.pollable_sources
}

/// The mechanism for a source of kind `source` into a sink of kind `sink`. `native: false`
/// (the `PROCESS_WRITER_NO_KERNEL_COPY` switch, for tests) always gives the fallback.
pub fn mechanism(source: FdKind, sink: FdKind, platform: Platform, native: bool) -> Mechanism {
  if !native {
    return Mechanism::ReadWrite;
  }
  match (source, sink) {
    (FdKind::Pipe, _) if platform.splice => Mechanism::Splice,
    (FdKind::Socket, FdKind::Pipe) if platform.splice => Mechanism::Splice,
    (FdKind::File, FdKind::Pipe) if platform.splice => Mechanism::Splice,
    (FdKind::File, FdKind::File) if platform.copy_file_range => Mechanism::CopyFileRange,
    (FdKind::File, _) if platform.sendfile => Mechanism::SendFile,
    _ => Mechanism::ReadWrite,
  }
}

impl Mechanism {
  /// What to use instead when the kernel refuses this one for these fds (with `errno`, before
  /// any byte moved): `None` when the error is a real one, to be reported.
  pub fn fallback(self, errno: i32, platform: Platform) -> Option<Mechanism> {
    let refused = matches!(errno, errno::EINVAL | errno::ENOSYS | errno::EXDEV | errno::EOPNOTSUPP | errno::EBADF);
    if !refused {
      return None;
    }
    match self {
      // EBADF: the sink was opened with O_APPEND. EXDEV: another filesystem (before 5.3).
      Mechanism::CopyFileRange if platform.sendfile => Some(Mechanism::SendFile),
      Mechanism::CopyFileRange | Mechanism::SendFile | Mechanism::Splice if errno != errno::EBADF => Some(Mechanism::ReadWrite),
      Mechanism::CopyFileRange => Some(Mechanism::ReadWrite),
      _ => None,
    }
  }
}

/// Where a source stands: what it still has to move.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
  /// Offset of the next byte to read (files; pipes count bytes read).
  pub pos: u64,
  /// Stop before this offset (`None`: at end of file).
  pub end: Option<u64>,
}

impl Range {
  /// At most how many bytes the next call may move, given the largest call wanted (`max`).
  /// 0: the range is complete.
  pub fn next_len(&self, max: u64) -> u64 {
    match self.end {
      Some(end) => end.saturating_sub(self.pos).min(max),
      None => max,
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use FdKind::*;
  use Mechanism::*;

  const L: Platform = Platform::LINUX;
  const P: Platform = Platform::PORTABLE;
  const W: Platform = Platform::WINDOWS;

  #[test]
  fn windows_feeds_files_through_the_fallback_and_refuses_other_sources() {
    for sink in [Pipe, File, CharDevice] {
      assert_eq!(mechanism(File, sink, W, true), ReadWrite, "{sink:?}");
    }
    assert!(accepts(File, W));
    for source in [Pipe, Socket, Tty, CharDevice, Other] {
      assert!(!accepts(source, W), "{source:?}");
      assert!(accepts(source, L) && accepts(source, P), "{source:?}");
    }
  }

  #[test]
  fn linux_moves_files_and_pipes_in_the_kernel() {
    assert_eq!(mechanism(File, Pipe, L, true), Splice);
    assert_eq!(mechanism(File, Socket, L, true), SendFile);
    assert_eq!(mechanism(File, File, L, true), CopyFileRange);
    assert_eq!(mechanism(File, Tty, L, true), SendFile);
    assert_eq!(mechanism(File, CharDevice, L, true), SendFile);
    for sink in [Pipe, Socket, File, Tty, CharDevice, Other] {
      assert_eq!(mechanism(Pipe, sink, L, true), Splice, "a pipe source splices into {sink:?}");
    }
  }

  #[test]
  fn other_sources_other_platforms_and_the_switch_use_the_fallback() {
    assert_eq!(mechanism(Socket, Pipe, L, true), Splice, "a socket (Node's child stdio) splices into a pipe");
    assert_eq!(mechanism(Socket, Socket, L, true), ReadWrite);
    for source in [Tty, CharDevice, Other] {
      assert_eq!(mechanism(source, Pipe, L, true), ReadWrite);
    }
    for (source, sink) in [(File, Pipe), (Pipe, Pipe), (File, Socket), (File, File)] {
      assert_eq!(mechanism(source, sink, P, true), ReadWrite);
      assert_eq!(mechanism(source, sink, L, false), ReadWrite);
    }
  }

  #[test]
  fn refusals_fall_back_and_real_errors_do_not() {
    assert_eq!(CopyFileRange.fallback(errno::EXDEV, L), Some(SendFile));
    assert_eq!(CopyFileRange.fallback(errno::EBADF, L), Some(SendFile));
    assert_eq!(SendFile.fallback(errno::EINVAL, L), Some(ReadWrite));
    assert_eq!(Splice.fallback(errno::EINVAL, L), Some(ReadWrite));
    assert_eq!(Splice.fallback(errno::EBADF, L), None);
    assert_eq!(ReadWrite.fallback(errno::EINVAL, L), None);
    for errno in [errno::EIO, errno::EPIPE, errno::ENOSPC, errno::EAGAIN] {
      for m in [Splice, SendFile, CopyFileRange, ReadWrite] {
        assert_eq!(m.fallback(errno, L), None, "{m:?} {errno}");
      }
    }
  }

  #[test]
  fn ranges_stop_at_their_end() {
    assert_eq!(Range { pos: 0, end: None }.next_len(1 << 20), 1 << 20);
    assert_eq!(Range { pos: 10, end: Some(15) }.next_len(1 << 20), 5);
    assert_eq!(Range { pos: 15, end: Some(15) }.next_len(1 << 20), 0);
    assert_eq!(Range { pos: 20, end: Some(15) }.next_len(1 << 20), 0);
  }
}
