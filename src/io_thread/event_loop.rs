//! The I/O thread's loop: wait for readiness and new work, and look at each writer it concerns.

use std::collections::{HashMap, VecDeque};
use std::io::{self, IoSlice};
#[cfg(unix)]
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token};

use crate::core::{Core, LockOrRecover, LostCode, CLOSED, CLOSING, DISCONNECTING};
use crate::file_source::SourceQueue;
use crate::flow::{when_empty, WhenEmpty};
use crate::piece_size::PieceSize;
use crate::queue::{WriteQueue, MAX_IOVECS};
use crate::read_hack::{reader_gone, Readiness};
use crate::sys::{self, Output};

use super::close::closing;
use super::flush::Flushed;
use super::io_writer::IoWriter;
use super::{Shared, SOURCE_TOKEN_BIT, SPARE_SLABS, SPIN_FOR_WORK, WAKE, ZERO_COPY_AWAITED_POLL, ZERO_COPY_POLL};

/// The I/O thread's state: its poller, the writers it serves (by token), and the iovec array
/// reused by every `writev`.
pub(super) struct IoThread {
  pub(super) poll: Poll,
  pub(super) shared: Arc<Shared>,
  pub(super) writers: HashMap<usize, IoWriter>,
  pub(super) iov: Vec<IoSlice<'static>>,
  /// The current interval of the looks at awaited zero-copy readers.
  pub(super) awaited_poll: Duration,
  /// Writers whose drain JS waits for, counted at each turn of the loop.
  pub(super) drains_awaited: usize,
}

impl IoThread {
  pub(super) fn new(poll: Poll, shared: Arc<Shared>) -> Self {
    IoThread {
      poll,
      shared,
      writers: HashMap::new(),
      iov: Vec::with_capacity(MAX_IOVECS),
      awaited_poll: ZERO_COPY_AWAITED_POLL,
      drains_awaited: 0,
    }
  }

  pub(super) fn run(mut self) {
    sys::block_sigpipe_on_this_thread();
    sys::tighten_timer_slack();
    let mut events = Events::with_capacity(256);
    loop {
      self.shared.has_ready.store(false, SeqCst);
      let batch = std::mem::take(&mut *self.shared.ready.lock_or_recover());
      let hungry = !batch.is_empty();
      self.count_drains_awaited();
      for core in batch {
        self.handle(core.token, Some(core), Readiness::default());
      }
      if hungry && self.any_writer_open() && self.wait_briefly_for_work() {
        continue;
      }
      let awaited = self.writers.values().any(|w| w.reader_awaited());
      self.shared.sleeping.store(true, SeqCst);
      let timeout = if !self.shared.ready.lock_or_recover().is_empty() {
        Some(Duration::ZERO)
      } else if awaited {
        // No event says "the reader read": while JS waits for that, look again shortly. The
        // poller's timeouts are whole milliseconds, so wait on its fd directly (a wake-up from
        // JS or any writer's readiness still ends the wait at once). (Zero-copy only: never
        // on Windows.)
        #[cfg(unix)]
        sys::wait_readable(self.poll.as_raw_fd(), self.awaited_poll);
        Some(Duration::ZERO)
      } else if self.writers.values().any(|w| w.awaiting_reader() || w.waiting_reader) {
        // Zero-copy memory waits for the reader; there is no event for "the reader read".
        Some(ZERO_COPY_POLL)
      } else if closing::waiting() {
        // Windows: a closed pipe's cancelled read completes through the poller.
        Some(closing::POLL)
      } else {
        None
      };
      if let Err(e) = self.poll.poll(&mut events, timeout) {
        if e.kind() != io::ErrorKind::Interrupted {
          eprintln!("process-writer: poll failed: {e}");
          std::thread::sleep(Duration::from_millis(10));
        }
      }
      self.shared.sleeping.store(false, SeqCst);
      closing::report();
      self.count_drains_awaited();
      for ev in events.iter() {
        if ev.token() == WAKE {
          continue;
        }
        let r = Readiness {
          readable: ev.is_readable(),
          writable: ev.is_writable(),
          error: ev.is_error(),
          write_closed: ev.is_write_closed(),
        };
        if ev.token().0 & SOURCE_TOKEN_BIT != 0 {
          // A source became readable: the sink's readiness did not change.
          self.handle(ev.token().0 & !SOURCE_TOKEN_BIT, None, Readiness::default());
        } else {
          self.handle(ev.token().0, None, r);
        }
      }
      let progressed = self.release_zero_copy();
      if awaited {
        self.awaited_poll =
          if progressed { ZERO_COPY_AWAITED_POLL } else { (self.awaited_poll * 2).min(ZERO_COPY_POLL) };
      }
    }
  }

  /// Some writer accepts writes and is not waiting for writability. When the kernel is full
  /// for every writer, nothing is written before a writable edge anyway, and JS does not even
  /// hand work over for a blocked writer (`Core::enqueue`): looking for work would only take
  /// CPU from the readers. Measured, alternating runs into socketpairs: one writer of 4 KiB
  /// writes 3.98 against 3.08 GiB/s (medians of 9) and 0.317 against 0.370 CPU s/GiB. Asking
  /// only about the writers just handled instead cost 64 children a third of their rate:
  /// while some wait for writability, JS keeps handing work to the others.
  fn any_writer_open(&self) -> bool {
    self.writers.values().any(|w| !w.core.blocked.load(SeqCst) && w.core.accepting())
  }

  /// How many writers' drains JS waits for (`flow::DrainOutlook::alone`).
  fn count_drains_awaited(&mut self) {
    self.drains_awaited = self.writers.values().filter(|w| w.core.drain_waited_for()).count();
  }

  /// After handing data to the kernel, JS usually has the next batch ready within microseconds;
  /// catching it here saves a sleep and a wake-up (an eventfd write on the JS thread and a
  /// scheduler round trip) per batch. Returns true when work arrived.
  ///
  /// Only while some writer could write what JS hands over (`any_writer_open`).
  fn wait_briefly_for_work(&self) -> bool {
    let until = std::time::Instant::now() + SPIN_FOR_WORK;
    while std::time::Instant::now() < until {
      if self.shared.has_ready.load(SeqCst) {
        return true;
      }
      std::thread::yield_now();
    }
    false
  }

  /// Look at one writer: after new work (`core` given) or a readiness event.
  fn handle(&mut self, token: usize, core: Option<Arc<Core>>, r: Readiness) {
    let w = match (self.writers.contains_key(&token), core) {
      (false, Some(core)) => {
        let w = Self::register(&self.poll, core);
        self.writers.entry(token).or_insert(w)
      }
      (_, _) => match self.writers.get_mut(&token) {
        Some(w) => w,
        None => return,
      },
    };
    let r = w.out.confirm(r);
    if r.writable || r.error || r.write_closed {
      w.core.blocked.store(false, SeqCst);
    }
    w.drain_awaited_alone = self.drains_awaited <= 1;
    if reader_gone(w.core.read_hack, r) {
      w.reader_gone = true;
    }
    let closed = Self::process(&self.poll, w, &mut self.iov);
    if closed {
      self.writers.remove(&token);
    }
  }

  fn register(poll: &Poll, core: Arc<Core>) -> IoWriter {
    let fd = core.io_fd.load(SeqCst);
    let mut w = IoWriter {
      out: Output::open(fd, core.kind),
      core,
      inflight: WriteQueue::new(),
      spare: Vec::new(),
      always_ready: false,
      reader_gone: false,
      abort: None,
      retained: VecDeque::new(),
      spliced: 0,
      close_when_consumed: false,
      written_seen: 0,
      written_back: Vec::new(),
      piece_size: PieceSize::default(),
      last_write_short: false,
      drain_awaited_alone: false,
      last_write_end: Instant::now(),
      sources: SourceQueue::default(),
      waiting_reader: false,
    };
    if fd >= 0 {
      match w.out.register(poll.registry(), Token(w.core.token)) {
        Ok(()) => {}
        // epoll refuses regular files and some devices (EPERM): they are always writable.
        Err(_) => w.always_ready = true,
      }
    }
    w
  }

  /// Take new data and commands, write, and close when it is time. Returns true once closed.
  pub(super) fn process(poll: &Poll, w: &mut IoWriter, iov: &mut Vec<IoSlice<'static>>) -> bool {
    let core = w.core.clone();
    if core.state() == CLOSED {
      return true;
    }
    core.scheduled.store(false, SeqCst);
    Self::take_pending(w);
    if let Some((code, notify)) = w.abort.take() {
      Self::close(poll, w, code, None, notify);
      return true;
    }
    if w.reader_gone && w.inflight.is_empty() {
      Self::close(poll, w, LostCode::ReaderClosed, sys::READER_GONE_ERRNO, true);
      return true;
    }
    loop {
      match Self::flush(w, iov) {
        Flushed::Blocked => {
          core.blocked.store(true, SeqCst);
          // A write that raced with the flag is picked up at the next writable edge.
          return false;
        }
        Flushed::Failed(e) => {
          let errno = e.raw_os_error();
          let code = if sys::reader_gone_errno(errno) { LostCode::ReaderClosed } else { LostCode::Error };
          Self::close(poll, w, code, errno, true);
          return true;
        }
        Flushed::Aborted => {
          // `write_out` returns `Aborted` only with `w.abort` set.
          let (code, notify) = w.abort.take().unwrap_or((LostCode::Aborted, true));
          Self::close(poll, w, code, None, notify);
          return true;
        }
        Flushed::SourceEmpty => {
          // `SourceEmpty` comes from the source at the front.
          let Some(source) = w.sources.front_mut() else { continue };
          if !source.registered {
            let token = Token(core.token | SOURCE_TOKEN_BIT);
            match sys::register_source(poll.registry(), source.fd, token) {
              Ok(()) => source.registered = true,
              Err(e) => {
                // Not pollable: end the source with the error rather than spin on it.
                w.sources.finish_front(&core, e.raw_os_error().or(Some(sys::errno::EIO)));
                continue;
              }
            }
          }
          return false;
        }
        Flushed::WaitReader => {
          w.waiting_reader = true;
          return false;
        }
        Flushed::Yield => {
          core.schedule();
          return false;
        }
        Flushed::Empty => {}
      }
      if w.reader_gone {
        Self::close(poll, w, LostCode::ReaderClosed, sys::READER_GONE_ERRNO, true);
        return true;
      }
      if core.state() != DISCONNECTING {
        return false;
      }
      // Disconnecting and drained: close unless JS queued more meanwhile or a producer holds
      // the close off (it was sent a Drain by `flush`).
      let p = core.pending.lock_or_recover();
      if !p.queue.is_empty() || !p.sources.is_empty() {
        drop(p);
        Self::take_pending(w);
        continue;
      }
      match when_empty(true, core.close_blocked.load(SeqCst)) {
        WhenEmpty::Close if w.awaiting_reader() => {
          // Zero-copy: closing now would let the reader see EOF while our memory is still
          // mapped in the pipe; close once it has read everything (checked on a timer).
          w.close_when_consumed = true;
          return false;
        }
        WhenEmpty::Close => {
          core.state.store(CLOSING, SeqCst);
          drop(p);
          Self::close(poll, w, LostCode::Done, None, true);
          return true;
        }
        _ => return false,
      }
    }
  }

  /// Move what JS queued into the in-flight queue, and an abort request into `w.abort`.
  pub(super) fn take_pending(w: &mut IoWriter) {
    let mut p = w.core.pending.lock_or_recover();
    w.inflight.append(&mut p.queue);
    w.sources.append(&mut p.sources);
    while p.spare.len() < SPARE_SLABS {
      match w.spare.pop() {
        Some(s) => p.spare.push(s),
        None => break,
      }
    }
    if let Some(a) = p.abort.take() {
      w.abort = Some(a);
    }
  }
}
