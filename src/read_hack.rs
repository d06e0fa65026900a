//! The read hack (Twisted's `enableReadHack`), decided per platform and kernel version.
//!
//! A write-only fd can only tell us that its reader went away through readiness: on modern
//! Linux a pipe's write end reports `EPOLLERR`, a socket reports `EPOLLHUP`, macOS and the BSDs
//! report `EV_EOF` on the write filter. Which readiness *means* "reader gone" depends on the
//! platform, the kernel, and what the fd is. This module decides it, as pure functions of
//! plain data, so every rule is unit tested without an fd; `sys` gathers the facts and the I/O
//! thread applies [`reader_gone`] to every event of the writer's whole life (the watch is never
//! disarmed, unlike Twisted's, see its quirk Q1).

/// The operating system family the policy is evaluated for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Os {
  Linux,
  MacOs,
  FreeBsd,
  /// NetBSD, OpenBSD, DragonFly: kqueue, half-duplex pipes.
  OtherBsd,
  /// Named pipes through mio: the read mio keeps in flight fails when the reader closes its
  /// end, which `sys::Output::confirm` reports as `write_closed`.
  Windows,
  Other,
}

impl Os {
  /// The OS this binary was compiled for.
  pub const fn current() -> Os {
    if cfg!(any(target_os = "linux", target_os = "android")) {
      Os::Linux
    } else if cfg!(target_os = "macos") {
      Os::MacOs
    } else if cfg!(target_os = "freebsd") {
      Os::FreeBsd
    } else if cfg!(any(target_os = "netbsd", target_os = "openbsd", target_os = "dragonfly")) {
      Os::OtherBsd
    } else if cfg!(windows) {
      Os::Windows
    } else {
      Os::Other
    }
  }
}

/// A kernel release, `major.minor.patch`, as parsed from `uname -r`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct KernelVersion(pub u32, pub u32, pub u32);

impl KernelVersion {
  /// Parse the leading `a.b.c` of a release string such as `6.18.44-fc-v669` or `2.6.9-42.EL`.
  /// Missing parts count as 0; `None` when it does not start with a number.
  pub fn parse(release: &str) -> Option<KernelVersion> {
    let mut parts = [0u32; 3];
    let mut seen = 0;
    for (i, piece) in release.split('.').take(3).enumerate() {
      let digits: String = piece.chars().take_while(|c| c.is_ascii_digit()).collect();
      if digits.is_empty() {
        break;
      }
      parts[i] = digits.parse().ok()?;
      seen += 1;
      if digits.len() != piece.len() {
        break;
      }
    }
    (seen > 0).then_some(KernelVersion(parts[0], parts[1], parts[2]))
  }
}

/// What the fd is (from `fstat`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdKind {
  /// Anonymous pipe or named FIFO (`S_ISFIFO`).
  Pipe,
  Socket,
  /// Regular file: there is no reader to lose.
  File,
  /// A terminal: readability means input, not a closed reader.
  Tty,
  /// Other character devices (`/dev/null`, ...).
  CharDevice,
  Other,
}

impl FdKind {
  pub fn as_str(self) -> &'static str {
    match self {
      FdKind::Pipe => "pipe",
      FdKind::Socket => "socket",
      FdKind::File => "file",
      FdKind::Tty => "tty",
      FdKind::CharDevice | FdKind::Other => "other",
    }
  }
}

/// The fd's access mode (`fcntl(F_GETFL) & O_ACCMODE`; the contract prefers it to a 0-byte read).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessMode {
  ReadOnly,
  WriteOnly,
  ReadWrite,
}

/// Which readiness means "the reader is gone" for a given writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReaderGoneSignal {
  /// Never inferred from readiness: only a failing write tells.
  Never,
  /// Error readiness (`EPOLLERR`; `EV_EOF` on the write filter): modern Linux pipes, kqueue.
  Error,
  /// Linux before 2.6.11: a non-empty write pipe polled *readable*, so readability alone means
  /// nothing; only readable together with error does.
  ReadableAndError,
  /// Hang-up or error: sockets (`EPOLLHUP`/`EPOLLRDHUP`), and FreeBSD's bidirectional pipes.
  HangUpOrError,
}

/// The decision for one writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadHack {
  /// Twisted's `enableReadHack`: readiness may report the reader gone.
  pub enabled: bool,
  pub signal: ReaderGoneSignal,
}

impl ReadHack {
  pub const OFF: ReadHack = ReadHack { enabled: false, signal: ReaderGoneSignal::Never };
  const fn on(signal: ReaderGoneSignal) -> ReadHack {
    ReadHack { enabled: true, signal }
  }
}

/// Linux 2.6.11 made `pipe_poll` honour the file mode, so a write end stopped polling readable.
pub const LINUX_FIXED_PIPE_POLL: KernelVersion = KernelVersion(2, 6, 11);

/// Decide the read hack for a writer.
///
/// - Regular files and character devices have no reader to lose: off, even when forced
///   (Twisted's `S_ISFIFO` rule, twisted#2259).
/// - A tty's readiness means input: off unless forced.
/// - A write-only pipe/FIFO: on. A read-write FIFO is its own reader: off unless forced,
///   except on FreeBSD, where every `pipe(2)` end is read-write (twisted#11308).
/// - A socket: on, hang-up means the peer closed (asyncio does the same).
/// - Windows: a named pipe's server end is duplex (its inbound half is how the loss is
///   learnt, libuv's design), and no other process reads from it: on whenever it can be
///   written, forced or not.
pub fn decide(os: Os, kernel: Option<KernelVersion>, kind: FdKind, access: AccessMode, force: bool) -> ReadHack {
  let pipe_signal = match os {
    Os::Linux => match kernel {
      Some(k) if k < LINUX_FIXED_PIPE_POLL => ReaderGoneSignal::ReadableAndError,
      _ => ReaderGoneSignal::Error,
    },
    Os::FreeBsd => ReaderGoneSignal::HangUpOrError,
    Os::MacOs | Os::OtherBsd | Os::Windows | Os::Other => ReaderGoneSignal::Error,
  };
  if os == Os::Windows && kind == FdKind::Pipe && access != AccessMode::ReadOnly {
    return ReadHack::on(pipe_signal);
  }
  match kind {
    FdKind::File | FdKind::CharDevice => ReadHack::OFF,
    FdKind::Pipe => match access {
      AccessMode::ReadOnly => ReadHack::OFF,
      AccessMode::WriteOnly => ReadHack::on(pipe_signal),
      AccessMode::ReadWrite if force || os == Os::FreeBsd => ReadHack::on(pipe_signal),
      AccessMode::ReadWrite => ReadHack::OFF,
    },
    FdKind::Socket => ReadHack::on(ReaderGoneSignal::HangUpOrError),
    FdKind::Tty | FdKind::Other if force => ReadHack::on(ReaderGoneSignal::HangUpOrError),
    FdKind::Tty | FdKind::Other => ReadHack::OFF,
  }
}

/// One readiness event as the poller reported it (mio's `Event`, flattened).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Readiness {
  pub readable: bool,
  pub writable: bool,
  /// `EPOLLERR`, `EV_ERROR`.
  pub error: bool,
  /// `EPOLLHUP`/`EPOLLRDHUP`, or `EV_EOF` on the write filter (mio's `is_write_closed`).
  pub write_closed: bool,
}

/// Does this event mean the reader has gone? (The caller still confirms with a write when data
/// is pending, so that the errno is known.)
pub fn reader_gone(hack: ReadHack, ev: Readiness) -> bool {
  if !hack.enabled {
    return false;
  }
  match hack.signal {
    ReaderGoneSignal::Never => false,
    ReaderGoneSignal::Error => ev.error || ev.write_closed,
    ReaderGoneSignal::ReadableAndError => ev.readable && ev.error,
    ReaderGoneSignal::HangUpOrError => ev.error || ev.write_closed,
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use AccessMode::*;
  use FdKind::*;

  const NEW: Option<KernelVersion> = Some(KernelVersion(6, 18, 44));
  const OLD: Option<KernelVersion> = Some(KernelVersion(2, 6, 9));

  #[test]
  fn parses_kernel_releases() {
    assert_eq!(KernelVersion::parse("6.18.44-fc-v669"), Some(KernelVersion(6, 18, 44)));
    assert_eq!(KernelVersion::parse("2.6.9-42.ELsmp"), Some(KernelVersion(2, 6, 9)));
    assert_eq!(KernelVersion::parse("5.4"), Some(KernelVersion(5, 4, 0)));
    assert_eq!(KernelVersion::parse("4.19.0+"), Some(KernelVersion(4, 19, 0)));
    assert_eq!(KernelVersion::parse("23.1.0"), Some(KernelVersion(23, 1, 0)));
    assert_eq!(KernelVersion::parse("weird"), None);
    assert!(KernelVersion(2, 6, 10) < LINUX_FIXED_PIPE_POLL);
    assert!(KernelVersion(2, 6, 11) >= LINUX_FIXED_PIPE_POLL);
  }

  #[test]
  fn modern_linux_pipe_write_end_uses_epollerr() {
    let h = decide(Os::Linux, NEW, Pipe, WriteOnly, false);
    assert_eq!(h, ReadHack { enabled: true, signal: ReaderGoneSignal::Error });
    // Reader closed on an empty pipe: EPOLLERR|EPOLLOUT; on a full pipe: EPOLLERR alone.
    assert!(reader_gone(h, Readiness { writable: true, error: true, write_closed: true, ..Default::default() }));
    assert!(reader_gone(h, Readiness { error: true, write_closed: true, ..Default::default() }));
    // Plain writability is not a loss.
    assert!(!reader_gone(h, Readiness { writable: true, ..Default::default() }));
  }

  #[test]
  fn linux_before_2_6_11_needs_readable_and_error() {
    let h = decide(Os::Linux, OLD, Pipe, WriteOnly, false);
    assert_eq!(h.signal, ReaderGoneSignal::ReadableAndError);
    // A non-empty write pipe polled readable on those kernels: not a loss.
    assert!(!reader_gone(h, Readiness { readable: true, ..Default::default() }));
    assert!(reader_gone(h, Readiness { readable: true, writable: true, error: true, ..Default::default() }));
    // Unknown kernel version: assume a modern one.
    assert_eq!(decide(Os::Linux, None, Pipe, WriteOnly, false).signal, ReaderGoneSignal::Error);
  }

  #[test]
  fn macos_and_bsd_kqueue_eof_counts() {
    for os in [Os::MacOs, Os::OtherBsd] {
      let h = decide(os, Some(KernelVersion(23, 1, 0)), Pipe, WriteOnly, false);
      assert!(h.enabled);
      // kqueue EVFILT_WRITE with EV_EOF: mio reports write_closed (and writable).
      assert!(reader_gone(h, Readiness { writable: true, write_closed: true, ..Default::default() }));
      assert!(!reader_gone(h, Readiness { writable: true, ..Default::default() }));
    }
  }

  #[test]
  fn freebsd_bidirectional_pipes_are_watched_without_force() {
    let h = decide(Os::FreeBsd, Some(KernelVersion(14, 1, 0)), Pipe, ReadWrite, false);
    assert!(h.enabled);
    assert!(reader_gone(h, Readiness { writable: true, write_closed: true, ..Default::default() }));
    // On Linux a read-write FIFO is its own reader: off unless forced.
    assert!(!decide(Os::Linux, NEW, Pipe, ReadWrite, false).enabled);
    assert!(decide(Os::Linux, NEW, Pipe, ReadWrite, true).enabled);
  }

  #[test]
  fn sockets_report_hang_up() {
    let h = decide(Os::Linux, NEW, Socket, ReadWrite, false);
    assert_eq!(h.signal, ReaderGoneSignal::HangUpOrError);
    assert!(reader_gone(h, Readiness { readable: true, write_closed: true, ..Default::default() }));
    assert!(!reader_gone(h, Readiness { readable: true, writable: true, ..Default::default() }));
  }

  #[test]
  fn regular_files_and_devices_never_even_when_forced() {
    for kind in [File, CharDevice] {
      for force in [false, true] {
        let h = decide(Os::Linux, NEW, kind, WriteOnly, force);
        assert_eq!(h, ReadHack::OFF);
        assert!(!reader_gone(h, Readiness { readable: true, error: true, write_closed: true, writable: true }));
      }
    }
  }

  #[test]
  fn ttys_are_off_unless_forced() {
    assert_eq!(decide(Os::Linux, NEW, Tty, ReadWrite, false), ReadHack::OFF);
    // Input on a tty is readable: never a loss, even forced.
    let forced = decide(Os::Linux, NEW, Tty, ReadWrite, true);
    assert!(forced.enabled);
    assert!(!reader_gone(forced, Readiness { readable: true, ..Default::default() }));
  }

  #[test]
  fn windows_named_pipes_are_always_watched() {
    // The server end is duplex: watched without force, unlike a read-write FIFO on Linux.
    for access in [ReadWrite, WriteOnly] {
      let h = decide(Os::Windows, None, Pipe, access, false);
      assert_eq!(h, ReadHack { enabled: true, signal: ReaderGoneSignal::Error });
      // The failed read (ERROR_BROKEN_PIPE) arrives as write_closed.
      assert!(reader_gone(h, Readiness { write_closed: true, ..Default::default() }));
      // A write's completion is not a loss.
      assert!(!reader_gone(h, Readiness { writable: true, ..Default::default() }));
    }
    assert_eq!(decide(Os::Windows, None, Pipe, ReadOnly, true), ReadHack::OFF);
    assert_eq!(decide(Os::Windows, None, File, ReadWrite, true), ReadHack::OFF);
  }

  #[test]
  fn read_only_pipe_is_never_watched() {
    assert_eq!(decide(Os::Linux, NEW, Pipe, ReadOnly, true), ReadHack::OFF);
  }
}
