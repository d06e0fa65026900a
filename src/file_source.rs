//! A queued source (`writeFile`): a file range, or a pipe read until end of file, moved into the
//! writer's fd by the I/O thread with no JavaScript involved.
//!
//! The mechanism comes from [`source_plan::mechanism`]; a kernel refusal switches to its
//! fallback before any byte moved. [`Source::pump`] moves bytes until the range is complete, the
//! sink is full (`EAGAIN`: wait for writability, as for byte chunks), the source has nothing to
//! read yet (a pipe: wait for its readability), or the caller says stop. Memory stays flat: the
//! kernel mechanisms read the file only as the sink takes it, and the fallback reads into one
//! buffer of [`FALLBACK_BUFFER`] bytes, refilled only once its bytes are written.
//!
//! A blocking-mode pipe from the user never stalls the I/O thread: `splice` is told not to block
//! (`SPLICE_F_NONBLOCK`), and the fallback reads only after `poll` says the source is readable.
//!
//! Files that change while they are fed: the range is read as the kernel finds the file at each
//! call. Without `end`, a file that grows is read to the end of file the first call finds (bytes
//! appended before then are fed; there is no tailing), and a file that shrinks is fed up to its
//! new end. With `end`, the same holds up to `end`. Either way the source completes with the
//! count of bytes it moved, which is how a caller sees a shortened file.

use std::collections::VecDeque;
use std::io;
use crate::sys::errno;
use crate::sys::RawFd;

use crate::core::Core;
use crate::read_hack::FdKind;
use crate::source_plan::{Mechanism, Platform, Range};
use crate::sys;

/// The fallback's buffer (one per source being fed, freed when it completes).
pub const FALLBACK_BUFFER: usize = 128 * 1024;
/// The most one kernel call is asked to move (into a pipe or a socket the kernel moves what the
/// sink takes; into a file or `/dev/null` this bounds one call, so an abort is seen between calls).
const MAX_CALL: u64 = 16 << 20;
/// `EAGAIN` while both ends poll ready (a race with the reader or another writer): retry at
/// most this many times in a row before giving the turn to other writers.
const EAGAIN_RETRIES: u32 = 16;

/// The platform this build runs on.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub const PLATFORM: Platform = Platform::LINUX;
#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
pub const PLATFORM: Platform = Platform::PORTABLE;
#[cfg(windows)]
pub const PLATFORM: Platform = Platform::WINDOWS;

/// Errnos that mean the sink failed (the connection is lost), not the source.
fn sink_errno(errno: Option<i32>) -> bool {
  sys::reader_gone_errno(errno) || matches!(
    errno,
    Some(errno::EPIPE | errno::ECONNRESET | errno::ENOTCONN | errno::ENOSPC | errno::EDQUOT | errno::EFBIG)
  )
}

/// How a pump ended.
#[derive(Debug)]
pub enum Pumped {
  /// The range is complete (or the source reached its end).
  Complete,
  /// The sink is full: wait for writability.
  SinkFull,
  /// A pipe source has nothing to read yet: wait for its readability.
  SourceEmpty,
  /// The caller's budget is spent or it said stop; call again later.
  Paused,
  /// Reading the source failed: the source ends with this error, the connection goes on.
  SourceFailed(io::Error),
  /// Writing to the sink failed: the connection is lost.
  SinkFailed(io::Error),
}

/// One queued source.
pub struct Source {
  /// Identifies the source's Promise on the JS side.
  pub id: u64,
  /// Ours (a dup of the caller's fd, or opened from a path): closed on drop.
  pub fd: RawFd,
  pub kind: FdKind,
  pub range: Range,
  pub mechanism: Mechanism,
  /// Bytes of the write queue (counted from the writer's first) written before this source.
  pub after: u64,
  /// Bytes moved into the sink so far.
  pub moved: u64,
  /// Registered with the I/O thread's poller for readability.
  pub registered: bool,
  /// Fallback: the most one read asks for (at most [`FALLBACK_BUFFER`]; on Windows, at most the
  /// pipe's buffer, so that each write completes while the reader is busy: `sys::write_limit`).
  pub chunk: usize,
  /// Fallback: the buffer, and the part of it read but not written yet.
  buf: Vec<u8>,
  buf_start: usize,
  buf_end: usize,
}

impl Drop for Source {
  /// Deregister (the registration belongs to the open file description, which the caller's fd
  /// may share, so it would outlive our close), give back the pipe budget, close.
  fn drop(&mut self) {
    if self.registered {
      crate::io_thread::deregister_source(self.fd);
    }
    crate::pipe_budget::with(|b| b.release(self.fd));
    let _ = sys::close(self.fd);
  }
}

impl Source {
  /// Take ownership of `fd` (a regular file or a pipe, open for reading).
  pub fn new(id: u64, fd: RawFd, kind: FdKind, range: Range, mechanism: Mechanism) -> Source {
    Source { id, fd, kind, range, mechanism, after: 0, moved: 0, registered: false, chunk: FALLBACK_BUFFER, buf: Vec::new(), buf_start: 0, buf_end: 0 }
  }

  /// Whether the source can be waited on for readability (pipes, sockets, terminals; not files).
  pub fn pollable(&self) -> bool {
    self.kind != FdKind::File
  }

  /// Move bytes into `sink`, the fd behind `out` (the kernel mechanisms use the fd, the
  /// fallback writes through `out`). `moved(n)` is told about each write and returns false to
  /// stop (an abort arrived); at most about `budget` bytes move per call.
  pub fn pump(&mut self, sink: RawFd, out: &mut sys::Output, budget: u64, moved: &mut dyn FnMut(u64) -> bool) -> Pumped {
    let mut this_call = 0u64;
    let mut retries = 0;
    loop {
      if this_call >= budget {
        return Pumped::Paused;
      }
      let res = match self.mechanism {
        Mechanism::ReadWrite => self.read_write(out),
        m => self.kernel_copy(m, sink),
      };
      match res {
        Ok(0) => return Pumped::Complete,
        Ok(n) => {
          retries = 0;
          self.moved += n as u64;
          this_call += n as u64;
          if !moved(n as u64) {
            return Pumped::Paused;
          }
        }
        Err(Stop::Done) => return Pumped::Complete,
        Err(Stop::Io(e)) => match e.kind() {
          io::ErrorKind::Interrupted => continue,
          io::ErrorKind::WouldBlock => {
            // Which end? The source not readable: wait for it; the sink not writable: wait
            // for that; both ready (the state changed since the call): try again.
            let sink_ready = sys::ready_now(sink, true);
            let source_ready = !self.pollable() || self.buf_start < self.buf_end || sys::ready_now(self.fd, false);
            if !sink_ready {
              return Pumped::SinkFull;
            }
            if !source_ready {
              return Pumped::SourceEmpty;
            }
            retries += 1;
            if retries > EAGAIN_RETRIES {
              return Pumped::Paused;
            }
          }
          _ => {
            let errno = e.raw_os_error();
            if self.moved == 0 && self.buf_end == 0 {
              if let Some(next) = errno.and_then(|n| self.mechanism.fallback(n, PLATFORM)) {
                self.mechanism = next;
                continue;
              }
            }
            return if sink_errno(errno) { Pumped::SinkFailed(e) } else { Pumped::SourceFailed(e) };
          }
        },
      }
    }
  }

  /// One kernel-to-kernel call. `Ok(0)`: end of file.
  fn kernel_copy(&mut self, m: Mechanism, sink: RawFd) -> Result<usize, Stop> {
    let len = self.range.next_len(MAX_CALL) as usize;
    if len == 0 {
      return Err(Stop::Done);
    }
    if self.kind == FdKind::Socket && !sys::ready_now(self.fd, false) {
      // A blocking-mode socket may honour neither O_NONBLOCK nor SPLICE_F_NONBLOCK: splice
      // only once it is readable (it then returns what is there).
      return Err(Stop::Io(io::Error::from(io::ErrorKind::WouldBlock)));
    }
    let mut off = self.range.pos as i64;
    let res = match (m, self.kind) {
      (Mechanism::Splice, FdKind::File) => sys::splice(self.fd, Some(&mut off), sink, len),
      (Mechanism::Splice, _) => sys::splice(self.fd, None, sink, len),
      (Mechanism::SendFile, _) => sys::sendfile(sink, self.fd, &mut off, len),
      _ => sys::copy_file_range(self.fd, &mut off, sink, len),
    };
    let n = res.map_err(Stop::Io)?;
    self.range.pos += n as u64;
    Ok(n)
  }

  /// The fallback: write what the buffer holds, else read the next part into it first.
  /// `Ok(0)`: end of file with nothing left to write.
  fn read_write(&mut self, out: &mut sys::Output) -> Result<usize, Stop> {
    if self.buf_start == self.buf_end {
      let len = self.range.next_len(self.chunk as u64) as usize;
      if len == 0 {
        return Err(Stop::Done);
      }
      if self.buf.is_empty() {
        self.buf = vec![0; FALLBACK_BUFFER];
      }
      if self.pollable() && !sys::ready_now(self.fd, false) {
        return Err(Stop::Io(io::Error::from(io::ErrorKind::WouldBlock)));
      }
      let buf = &mut self.buf[..len];
      let n = if self.kind == FdKind::File { sys::pread(self.fd, buf, self.range.pos) } else { sys::read(self.fd, buf) };
      let n = n.map_err(Stop::Io)?;
      if n == 0 {
        return Ok(0);
      }
      self.range.pos += n as u64;
      self.buf_start = 0;
      self.buf_end = n;
    }
    let slice = std::io::IoSlice::new(&self.buf[self.buf_start..self.buf_end]);
    // Windows: a pipe takes the whole slice or nothing (a write is in flight: `WouldBlock`).
    let n = out.write_source(&[slice]).map_err(Stop::Io)?.taken;
    self.buf_start += n;
    if self.buf_start == self.buf_end {
      self.buf_start = 0;
      self.buf_end = 0;
    }
    Ok(n)
  }
}

/// One writer's sources as the I/O thread holds them, and where they stand in its stream.
#[derive(Default)]
pub struct SourceQueue {
  sources: VecDeque<Source>,
  /// Bytes taken from the write queue so far (written, or spliced with zero-copy).
  queue_taken: u64,
  /// Zero-copy: a source's bytes may be in the pipe, so `FIONREAD` does not count the writer's
  /// alone: its next `vmsplice` waits until the pipe is empty.
  pub in_pipe: bool,
}

impl SourceQueue {
  /// Take the sources queued by the JS thread (in order, behind those held).
  pub fn append(&mut self, more: &mut VecDeque<Source>) {
    self.sources.append(more);
  }

  pub fn is_empty(&self) -> bool {
    self.sources.is_empty()
  }

  /// `n` bytes of the write queue were taken.
  pub fn took(&mut self, n: u64) {
    self.queue_taken += n;
  }

  /// The first source is due: every byte queued before it was taken.
  pub fn due(&self) -> bool {
    self.sources.front().is_some_and(|s| s.after <= self.queue_taken)
  }

  /// How many bytes of the write queue may go before the next source (`u64::MAX`: no source).
  pub fn queue_bytes_before_next(&self) -> u64 {
    self.sources.front().map_or(u64::MAX, |s| s.after.saturating_sub(self.queue_taken))
  }

  /// The write queue is empty: whatever was counted before the next source is gone, so the
  /// source is due now (never waits for bytes that will not come).
  pub fn catch_up(&mut self) {
    if let Some(s) = self.sources.front() {
      self.queue_taken = self.queue_taken.max(s.after);
    }
  }

  pub fn front_mut(&mut self) -> Option<&mut Source> {
    self.sources.front_mut()
  }

  /// The first source completed (`errno`: its reading failed): drop it and tell JS.
  pub fn finish_front(&mut self, core: &Core, errno: Option<i32>) {
    if let Some(source) = self.sources.pop_front() {
      core.source_done(source.id, source.moved, errno);
    }
  }

  /// The connection ended: drop every source, returning each one's id and bytes moved.
  pub fn cut(&mut self) -> Vec<(u64, u64)> {
    self.sources.drain(..).map(|s| (s.id, s.moved)).collect()
  }
}

/// Why a single call did not move bytes.
enum Stop {
  /// The range is complete.
  Done,
  Io(io::Error),
}

#[cfg(test)]
mod queue_tests {
  use super::*;

  fn source(id: u64, after: u64) -> Source {
    let mut s = Source::new(id, -1, FdKind::File, Range { pos: 0, end: None }, Mechanism::ReadWrite);
    s.after = after;
    s
  }

  #[test]
  fn a_source_is_due_once_the_bytes_before_it_are_taken() {
    let mut q = SourceQueue::default();
    assert!(!q.due());
    assert_eq!(q.queue_bytes_before_next(), u64::MAX);
    q.append(&mut VecDeque::from([source(1, 100), source(2, 100), source(3, 250)]));
    assert!(!q.due());
    assert_eq!(q.queue_bytes_before_next(), 100, "the bytes written before the first source");
    q.took(60);
    assert_eq!(q.queue_bytes_before_next(), 40);
    q.took(40);
    assert!(q.due());
    assert_eq!(q.queue_bytes_before_next(), 0);
    q.sources.pop_front();
    assert!(q.due(), "two sources queued back to back");
    q.sources.pop_front();
    assert_eq!(q.queue_bytes_before_next(), 150);
    q.catch_up();
    assert!(q.due(), "an empty queue holds no source back");
    assert_eq!(q.cut(), vec![(3, 0)]);
    assert!(q.is_empty());
  }
}

#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
mod tests {
  use super::*;
  use crate::source_plan::mechanism;
  use std::io::Write;

  fn temp_file(bytes: &[u8]) -> (std::path::PathBuf, RawFd) {
    let path = std::env::temp_dir().join(format!("pw-source-{}-{}", std::process::id(), rand_id()));
    std::fs::File::create(&path).unwrap().write_all(bytes).unwrap();
    let fd = sys::open_for_reading(path.to_str().unwrap()).unwrap();
    (path, fd)
  }

  fn rand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst)
  }

  /// Pump `src` into a pipe whose reader is drained here, returning what came out.
  fn feed_through_pipe(src: &mut Source) -> Vec<u8> {
    let (r, w) = sys::pipe_cloexec().unwrap();
    sys::set_nonblocking(w, true).unwrap();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut sink = sys::Output::open(w, FdKind::Pipe);
    loop {
      match src.pump(w, &mut sink, u64::MAX, &mut |_| true) {
        Pumped::Complete => break,
        Pumped::SinkFull | Pumped::Paused => {}
        other => panic!("unexpected {other:?}"),
      }
      let n = sys::read(r, &mut buf).unwrap();
      out.extend_from_slice(&buf[..n]);
    }
    sys::close(w).unwrap();
    loop {
      let n = sys::read(r, &mut buf).unwrap();
      if n == 0 {
        break;
      }
      out.extend_from_slice(&buf[..n]);
    }
    sys::close(r).unwrap();
    out
  }

  #[test]
  fn a_file_range_arrives_whole_by_splice_and_by_the_fallback() {
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    for native in [true, false] {
      let m = mechanism(FdKind::File, FdKind::Pipe, PLATFORM, native);
      let (path, fd) = temp_file(&data);
      let mut src = Source::new(1, fd, FdKind::File, Range { pos: 1000, end: Some(250_000) }, m);
      assert_eq!(feed_through_pipe(&mut src), &data[1000..250_000], "{m:?}");
      assert_eq!(src.moved, 249_000);
      let (_, fd2) = (path.clone(), sys::open_for_reading(path.to_str().unwrap()).unwrap());
      let mut whole = Source::new(2, fd2, FdKind::File, Range { pos: 0, end: None }, m);
      assert_eq!(feed_through_pipe(&mut whole), data, "{m:?}");
      std::fs::remove_file(path).unwrap();
    }
  }

  #[test]
  fn an_empty_pipe_source_waits_for_data_without_blocking() {
    let (sr, sw) = sys::pipe_cloexec().unwrap(); // blocking-mode source
    let (r, w) = sys::pipe_cloexec().unwrap();
    sys::set_nonblocking(w, true).unwrap();
    let mut out = sys::Output::open(w, FdKind::Pipe);
    for native in [true, false] {
      let m = mechanism(FdKind::Pipe, FdKind::Pipe, PLATFORM, native);
      let mut src = Source::new(1, sys::dup_cloexec(sr).unwrap(), FdKind::Pipe, Range { pos: 0, end: None }, m);
      assert!(matches!(src.pump(w, &mut out, u64::MAX, &mut |_| true), Pumped::SourceEmpty), "{m:?}");
      sys::write_vectored(sw, &[std::io::IoSlice::new(b"hello")]).unwrap();
      assert!(matches!(src.pump(w, &mut out, u64::MAX, &mut |_| true), Pumped::SourceEmpty));
      assert_eq!(src.moved, 5);
      let mut buf = [0u8; 16];
      assert_eq!(sys::read(r, &mut buf).unwrap(), 5);
    }
    sys::close(sw).unwrap();
    let mut src = Source::new(1, sr, FdKind::Pipe, Range { pos: 0, end: None }, Mechanism::Splice);
    assert!(matches!(src.pump(w, &mut out, u64::MAX, &mut |_| true), Pumped::Complete), "end of file once the writer closed");
    sys::close(r).unwrap();
    sys::close(w).unwrap();
  }
}
