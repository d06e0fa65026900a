//! Flushing one writer: `writev` from its in-flight queue, and the sources queued by `writeFile`.

use std::io::{self, IoSlice};
use std::sync::atomic::Ordering::SeqCst;
use std::time::Instant;


use crate::core::CLOSING;
use crate::file_source::{self, Pumped};
use crate::flow::{announce_drain, DrainOutlook};
use crate::queue::{MAX_BATCH_BYTES, MAX_IOVECS};
use crate::read_hack::FdKind;
use crate::sys;

use super::event_loop::IoThread;
use super::io_writer::{retire, IoWriter};
use super::{HAND_BACK_BATCH, SOURCE_TURN_BYTES};

/// How a flush of one writer ended.
pub(super) enum Flushed {
  /// Everything in flight is written.
  Empty,
  /// `EAGAIN`: wait for writability.
  Blocked,
  Failed(io::Error),
  /// An abort arrived with the data (it is in `IoWriter::abort`).
  Aborted,
  /// A pipe source has nothing to read: wait for its readability.
  SourceEmpty,
  /// Zero-copy: wait for the reader to empty the pipe (before or after a source).
  WaitReader,
  /// A source used up its turn: the writer goes back on the ready list.
  Yield,
}

impl IoThread {
  /// Write until the in-flight queue (topped up from `pending`) is empty or the kernel is full,
  /// then hand the written JS buffers back to the JS thread in one batch.
  pub(super) fn flush(w: &mut IoWriter, iov: &mut Vec<IoSlice<'static>>) -> Flushed {
    let flushed = Self::write_out(w, iov);
    w.core.hand_back(&mut w.written_back);
    flushed
  }

  fn write_out(w: &mut IoWriter, iov: &mut Vec<IoSlice<'static>>) -> Flushed {
    let core = w.core.clone();
    let fd = core.io_fd.load(SeqCst);
    // (Windows: a pipe write is whole and completes later; there is no piece to tune.)
    let tuned = cfg!(unix) && core.kind == FdKind::Pipe && !core.zero_copy;
    loop {
      if w.written_back.len() >= HAND_BACK_BATCH {
        // A long flush (a fast reader, JS keeping the queue full) must not hold them all.
        core.hand_back(&mut w.written_back);
      }
      if w.inflight.is_empty() && !w.sources.due() {
        // Batch whatever JS queued while we were writing.
        Self::take_pending(w);
        if w.abort.is_some() {
          return Flushed::Aborted;
        }
        if w.inflight.is_empty() && w.sources.is_empty() {
          // Windows: the last write may still be in flight; its completion is the writable
          // event to wait for (always complete on POSIX).
          return match w.out.settle() {
            Ok(Some(0)) => Flushed::Empty,
            Ok(Some(n)) => {
              core.written.fetch_add(n, SeqCst);
              core.fire_armed_events_and_hand_back(&mut w.written_back);
              Flushed::Empty
            }
            Ok(None) => Flushed::Blocked,
            Err(e) => Flushed::Failed(e),
          };
        }
        if w.inflight.is_empty() {
          // Nothing is left to write before the next source: it is due (a safety net; the
          // bytes counted before it are always in the queue).
          w.sources.catch_up();
        }
      }
      if w.sources.due() {
        match Self::pump_source(w, fd) {
          Flushed::Empty => continue,
          other => return other,
        }
      }
      if core.zero_copy && w.sources.in_pipe {
        // A source's bytes may still be in the pipe, where `FIONREAD` would count them as ours.
        if sys::pipe_unread(fd).unwrap_or(0) > 0 {
          return Flushed::WaitReader;
        }
        w.sources.in_pipe = false;
      }
      // Bytes queued after the next source wait for it.
      let before_source = w.sources.queue_bytes_before_next();
      // SAFETY: the slices borrow `w.inflight`, which is not touched until `iov` is cleared
      // below; the 'static lifetime only lets the Vec's allocation be reused across calls.
      let iov_ref: &mut Vec<IoSlice<'_>> = unsafe { std::mem::transmute(&mut *iov) };
      let limit = if tuned { w.piece_size.limit(w.inflight.len()).min(MAX_BATCH_BYTES) } else { sys::write_limit(MAX_BATCH_BYTES, core.pipe_capacity.load(SeqCst)) };
      let limit = limit.min(before_source.min(usize::MAX as u64) as usize);
      let len = w.inflight.io_slices(iov_ref, MAX_IOVECS, limit) as u64;
      // (Zero-copy bytes count as written only once read: no write completes a drain.)
      // (Windows: the write completes later, so its return is not the drain.)
      if cfg!(unix)
        && !core.zero_copy
        && announce_drain(DrainOutlook {
          awaited: core.drain_waited_for(),
          alone: w.drain_awaited_alone,
          buffered: core.buffered(),
          len,
          low_water: core.resume_level(),
          last_write_short: w.last_write_short,
        })
      {
        core.expect_drain();
      }
      let res = if core.zero_copy {
        sys::vmsplice(fd, iov_ref).map(|n| sys::Wrote { taken: n, completed: n as u64 })
      } else {
        w.out.write(iov_ref)
      };
      iov.clear();
      w.last_write_short = !matches!(res, Ok(ref n) if n.taken as u64 == len);
      match res {
        Ok(sys::Wrote { taken: n, .. }) if core.zero_copy => {
          w.sources.took(n as u64);
          let start = w.spliced;
          w.spliced += n as u64;
          let mut end = start;
          let retained = &mut w.retained;
          let mut first = true;
          let head_done_before = w.inflight.started_bytes();
          w.inflight.consume_with(n, &mut |c| {
            end += (c.bytes().len() - if first { head_done_before } else { 0 }) as u64;
            first = false;
            retained.push_back((end, c));
          });
          // `written` advances as the reader consumes (so a drain means "reusable").
          core.syscalls.fetch_add(1, SeqCst);
          w.release_consumed();
        }
        Ok(sys::Wrote { taken: n, completed }) => {
          if tuned {
            let now = Instant::now();
            w.piece_size.record(n as u64, now.duration_since(w.last_write_end).as_nanos() as u64);
            w.last_write_end = now;
          }
          w.sources.took(n as u64);
          let (spare, back) = (&mut w.spare, &mut w.written_back);
          w.inflight.consume_with(n, &mut |c| retire(c, spare, back));
          core.written.fetch_add(completed, SeqCst);
          core.drain_expected.store(false, SeqCst);
          core.syscalls.fetch_add(1, SeqCst);
          if w.inflight.is_empty() {
            core.fire_armed_events_and_hand_back(&mut w.written_back);
          } else {
            core.fire_armed_events();
          }
          if w.always_ready {
            continue;
          }
        }
        Err(e) => {
          core.drain_expected.store(false, SeqCst);
          match e.kind() {
            io::ErrorKind::Interrupted => continue,
            io::ErrorKind::WouldBlock => return Flushed::Blocked,
            _ => return Flushed::Failed(e),
          }
        }
      }
    }
  }

  /// Move the first source (due: everything queued before it is written). `Empty` once it
  /// completed (the caller goes on with the queue).
  fn pump_source(w: &mut IoWriter, fd: i32) -> Flushed {
    let core = w.core.clone();
    if core.zero_copy && w.awaiting_reader() {
      // Our mapped memory must be read before the pipe holds anything else (see `in_pipe`).
      return Flushed::WaitReader;
    }
    // Windows: a queue write still in flight completes first, so that the source's writes,
    // counted as they are taken, never carry uncounted bytes (always settled on POSIX).
    match w.out.settle() {
      Ok(Some(0)) => {}
      Ok(Some(n)) => {
        core.written.fetch_add(n, SeqCst);
        core.fire_armed_events();
      }
      Ok(None) => return Flushed::Blocked,
      Err(e) => return Flushed::Failed(e),
    }
    // Called only with a source queued.
    let Some(source) = w.sources.front_mut() else { return Flushed::Empty };
    source.chunk = sys::write_limit(file_source::FALLBACK_BUFFER, core.pipe_capacity.load(SeqCst));
    let mut stopped = false;
    let pumped = source.pump(fd, &mut w.out, SOURCE_TURN_BYTES, &mut |n| {
      core.source_moved.fetch_add(n, SeqCst);
      core.syscalls.fetch_add(1, SeqCst);
      stopped = core.state() == CLOSING;
      !stopped
    });
    if core.zero_copy && source.moved > 0 {
      w.sources.in_pipe = true;
    }
    match pumped {
      Pumped::Complete => {
        w.sources.finish_front(&core, None);
        Flushed::Empty
      }
      Pumped::SourceFailed(e) => {
        w.sources.finish_front(&core, e.raw_os_error().or(Some(sys::errno::EIO)));
        Flushed::Empty
      }
      Pumped::SinkFailed(e) => Flushed::Failed(e),
      Pumped::SinkFull => Flushed::Blocked,
      Pumped::SourceEmpty => Flushed::SourceEmpty,
      Pumped::Paused if stopped => {
        Self::take_pending(w);
        if w.abort.is_some() {
          Flushed::Aborted
        } else {
          Flushed::Yield
        }
      }
      Pumped::Paused => Flushed::Yield,
    }
  }
}
