//! The I/O thread: one per process, started by the first writer, shared by all of them.
//!
//! It owns a `mio::Poll` (edge-triggered) with every writer's fd registered for writability for
//! the writer's whole life, and a `Waker`. For each writer it keeps one in-flight queue and
//! one state machine, in the manner of libuv's `uv__write`:
//!
//! - new data (the writer was put on the ready list): move `pending` into the in-flight queue
//!   and write at once, since no new edge comes for an fd that is already writable;
//! - write with `writev` until the queue is empty or the kernel says `EAGAIN` (then wait for
//!   the next writable edge), handling partial writes and `EINTR`; on a pipe, a deep queue
//!   may go in small pieces (see `piece_size`);
//! - an event the read-hack policy calls "reader gone": confirm with a write when data is
//!   pending (to learn the errno), otherwise report `READER_CLOSED` at once;
//! - a source queued by `writeFile` (`file_source`) is moved once the bytes queued before it
//!   are written, and the bytes queued after it wait for it: `splice`/`sendfile`/
//!   `copy_file_range` until the sink is full (wait for writability) or a pipe source is empty
//!   (wait for its readability, registered under the writer's token with [`SOURCE_TOKEN_BIT`]);
//! - close: deregister, put the fd back in blocking mode if it was, close it exactly once.
//!
//! SIGPIPE is blocked on this thread, the only one that writes, so a vanished reader gives
//! `EPIPE` and never kills the host whatever its signal disposition.

use std::collections::{HashMap, VecDeque};
use std::io::{self, IoSlice};
#[cfg(unix)]
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token, Waker};

use crate::core::{Core, Event, LockOrRecover, Lost, LostCode, CLOSED, CLOSING, DISCONNECTING};
use crate::file_source::{Pumped, SourceQueue};
use crate::flow::{announce_drain, when_empty, DrainOutlook, WhenEmpty};
use crate::piece_size::PieceSize;
use crate::queue::{Chunk, WriteQueue, MAX_BATCH_BYTES, MAX_IOVECS};
use crate::read_hack::{reader_gone, FdKind, Readiness};
use crate::sys::{self, Output};

const WAKE: Token = Token(0);
/// Set in the token of a source's readability registration (the rest is the writer's token).
const SOURCE_TOKEN_BIT: usize = 1 << (usize::BITS - 1);
/// At most this many bytes move from one source per turn, so that one fast reader does not
/// keep the I/O thread from every other writer.
const SOURCE_TURN_BYTES: u64 = 16 << 20;
/// Slabs kept per writer for reuse.
const SPARE_SLABS: usize = 8;
/// How long the I/O thread looks for more work before it sleeps (see `wait_briefly_for_work`).
const SPIN_FOR_WORK: Duration = Duration::from_micros(50);
/// How often zero-copy writers look whether the reader consumed their memory.
const ZERO_COPY_POLL: Duration = Duration::from_millis(1);
/// The same while JS waits for it (a drain, an empty buffer, a close): a reader empties a
/// 1 MiB pipe in about 100 µs, so a 1 ms look would leave it idle most of the time (measured,
/// 1 MiB chunks: 10 µs looks 8.9-10.3 GiB/s, 50 µs 7.1-8.0). A reader that makes no progress
/// doubles the interval, up to `ZERO_COPY_POLL`, so a stalled one costs no CPU.
const ZERO_COPY_AWAITED_POLL: Duration = Duration::from_micros(10);

/// Written JS buffers (32 KiB or more each) are handed back at the end of a flush, or in
/// batches of this many during a long one.
const HAND_BACK_BATCH: usize = 32;

/// Done with a written chunk: a slab is kept for reuse, JS memory goes back to the JS thread.
fn retire(chunk: Chunk, spare: &mut Vec<Vec<u8>>, written_back: &mut Vec<Chunk>) {
  if chunk.is_shared() {
    written_back.push(chunk);
  } else {
    chunk.recycle(spare, SPARE_SLABS);
  }
}

/// What JS threads use to reach the I/O thread.
struct Shared {
  waker: Waker,
  ready: Mutex<Vec<Arc<Core>>>,
  /// The thread is (about to be) blocked in `poll`: whoever adds work must wake it.
  sleeping: AtomicBool,
  /// Something was added to `ready` (checked without the lock while spinning).
  has_ready: AtomicBool,
}

static SHARED: OnceLock<Arc<Shared>> = OnceLock::new();
/// Held while the thread is being started (one start at a time, across worker threads).
static STARTING: Mutex<()> = Mutex::new(());

/// Start the I/O thread if it is not running yet. Every writer's constructor calls this before
/// it touches the fd it is given, so that running out of fds (the poller and its waker take
/// one each) or threads is an error it can throw (`EMFILE`, `EAGAIN`), with the fd left as it
/// was. Nothing is kept from a failed start: the next writer tries again.
pub fn start() -> io::Result<()> {
  if SHARED.get().is_some() {
    return Ok(());
  }
  let _one_at_a_time = STARTING.lock_or_recover();
  if SHARED.get().is_some() {
    return Ok(());
  }
  let poll = Poll::new()?;
  let waker = Waker::new(poll.registry(), WAKE)?;
  let registry = poll.registry().try_clone()?;
  let shared = Arc::new(Shared {
    waker,
    ready: Mutex::new(Vec::new()),
    sleeping: AtomicBool::new(false),
    has_ready: AtomicBool::new(false),
  });
  let for_thread = shared.clone();
  std::thread::Builder::new()
    .name("process-writer-io".into())
    .spawn(move || IoThread::new(poll, for_thread).run())?;
  // The thread runs this library's code for the life of the process: keep the library loaded
  // even if every env that loaded it unloads it.
  #[cfg(not(test))]
  napi::bindgen_prelude::retain_current_module_for_unload_safety();
  let _ = REGISTRY.set(registry);
  let _ = SHARED.set(shared);
  Ok(())
}

/// Hand a writer to the I/O thread (registers it the first time).
pub fn submit(core: Arc<Core>) {
  // A core exists only once its constructor's `start()` succeeded, so the thread is running;
  // were it not, there would be nobody to hand the writer to anyway.
  let Some(s) = SHARED.get() else { return };
  s.ready.lock_or_recover().push(core);
  s.has_ready.store(true, SeqCst);
  if s.sleeping.swap(false, SeqCst) {
    let _ = s.waker.wake();
  }
}

/// The I/O thread's view of one writer.
struct IoWriter {
  core: Arc<Core>,
  /// The fd as written to (on Windows, a named pipe registered with mio, or a file).
  out: Output,
  inflight: WriteQueue,
  spare: Vec<Vec<u8>>,
  /// Not pollable (regular files, `/dev/null`): always writable, never `EAGAIN`.
  always_ready: bool,
  /// The poller said the reader is gone.
  reader_gone: bool,
  /// An abort taken from `pending`, still to be carried out.
  abort: Option<(LostCode, bool)>,
  /// Zero-copy: chunks fully spliced into the pipe, with the stream offset where each ends,
  /// kept until the reader has read past it.
  retained: VecDeque<(u64, Chunk)>,
  /// Zero-copy: bytes spliced so far.
  spliced: u64,
  /// Zero-copy: drained and due to close (`DONE`) once the reader consumed what is retained.
  close_when_consumed: bool,
  /// Zero-copy: `written` at the last look for the reader's progress (`release_zero_copy`).
  written_seen: u64,
  /// Written chunks holding JS memory, to hand back to the JS thread (`Core::hand_back`).
  written_back: Vec<Chunk>,
  /// Pipes: how much one write carries, by measurement.
  piece_size: PieceSize,
  /// The last write was cut short (partial, or `EAGAIN`): the pipe is full.
  last_write_short: bool,
  /// No other writer's drain is awaited by JS (set before each look at this writer).
  drain_awaited_alone: bool,
  /// When the last write returned, or the writer was registered (for `piece_size`; a first
  /// write long after registration falls in an idle gap and is not counted).
  last_write_end: Instant,
  /// Sources (`writeFile`) in order, each due once the bytes queued before it are taken.
  sources: SourceQueue,
  /// Zero-copy: waiting for the reader to empty the pipe before a source, or after one
  /// (looked at on the zero-copy timer).
  waiting_reader: bool,
}

impl IoWriter {
  /// Zero-copy: count what the reader has consumed as written (`FIONREAD` tells what is
  /// still unread) and free the chunks it has read past.
  fn release_consumed(&mut self) {
    let core = &self.core;
    if self.spliced == core.written.load(SeqCst) {
      return;
    }
    let fd = core.io_fd.load(SeqCst);
    let Some(unread) = sys::pipe_unread(fd) else { return };
    let consumed = self.spliced.saturating_sub(unread as u64);
    while let Some((end, _)) = self.retained.front() {
      if *end > consumed {
        break;
      }
      if let Some((_, chunk)) = self.retained.pop_front() {
        retire(chunk, &mut self.spare, &mut self.written_back);
      }
    }
    if consumed > core.written.load(SeqCst) {
      core.written.store(consumed, SeqCst);
      core.fire_armed_events();
    }
  }

  /// Zero-copy: bytes mapped into the pipe that the reader has not read yet.
  fn awaiting_reader(&self) -> bool {
    self.core.zero_copy && self.spliced > self.core.written.load(SeqCst)
  }

  /// Zero-copy: JS waits for the reader (a drain or empty event is armed, or the close is).
  fn reader_awaited(&self) -> bool {
    self.awaiting_reader()
      && (self.close_when_consumed || self.core.drain_armed.load(SeqCst) || self.core.empty_armed.load(SeqCst))
  }
}

struct IoThread {
  poll: Poll,
  shared: Arc<Shared>,
  writers: HashMap<usize, IoWriter>,
  iov: Vec<IoSlice<'static>>,
  /// The current interval of the looks at awaited zero-copy readers.
  awaited_poll: Duration,
  /// Writers whose drain JS waits for, counted at each turn of the loop.
  drains_awaited: usize,
}

enum Flushed {
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
  fn new(poll: Poll, shared: Arc<Shared>) -> Self {
    IoThread {
      poll,
      shared,
      writers: HashMap::new(),
      iov: Vec::with_capacity(MAX_IOVECS),
      awaited_poll: ZERO_COPY_AWAITED_POLL,
      drains_awaited: 0,
    }
  }

  fn run(mut self) {
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
      if hungry && self.wait_briefly_for_work() {
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

  /// How many writers' drains JS waits for (`flow::DrainOutlook::alone`).
  fn count_drains_awaited(&mut self) {
    self.drains_awaited = self.writers.values().filter(|w| w.core.drain_waited_for()).count();
  }

  /// After handing data to the kernel, JS usually has the next batch ready within microseconds;
  /// catching it here saves a sleep and a wake-up (an eventfd write on the JS thread and a
  /// scheduler round trip) per batch. Returns true when work arrived.
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

  /// Zero-copy writers: free what the readers consumed; close those that wait for it. Returns
  /// whether any reader progressed.
  fn release_zero_copy(&mut self) -> bool {
    let mut closed = Vec::new();
    let mut progressed = false;
    for (token, w) in self.writers.iter_mut() {
      if w.waiting_reader {
        w.waiting_reader = false;
        if Self::process(&self.poll, w, &mut self.iov) {
          closed.push(*token);
          continue;
        }
      }
      if !w.awaiting_reader() && !w.close_when_consumed {
        continue;
      }
      w.release_consumed();
      // The reader progressed if `written` moved since the last look, whether this look or a
      // write in between (`write_out` releases what it can after each splice) counted it: only
      // a reader that made no progress slows the looks down.
      let written = w.core.written.load(SeqCst);
      progressed |= written > w.written_seen;
      w.written_seen = written;
      w.core.hand_back(&mut w.written_back);
      if w.close_when_consumed && !w.awaiting_reader() {
        w.close_when_consumed = false;
        if Self::process(&self.poll, w, &mut self.iov) {
          closed.push(*token);
        }
      }
    }
    for token in closed {
      self.writers.remove(&token);
    }
    progressed
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
  fn process(poll: &Poll, w: &mut IoWriter, iov: &mut Vec<IoSlice<'static>>) -> bool {
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
  fn take_pending(w: &mut IoWriter) {
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

  /// Write until the in-flight queue (topped up from `pending`) is empty or the kernel is full,
  /// then hand the written JS buffers back to the JS thread in one batch.
  fn flush(w: &mut IoWriter, iov: &mut Vec<IoSlice<'static>>) -> Flushed {
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
          low_water: core.low_water.load(SeqCst),
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
    // Called only with a source queued.
    let Some(source) = w.sources.front_mut() else { return Flushed::Empty };
    let mut stopped = false;
    let pumped = source.pump(fd, SOURCE_TURN_BYTES, &mut |n| {
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

  /// Close the writer: drop what is unwritten, deregister, restore blocking mode, close the
  /// fd once, and tell JS (unless `notify` is false: env teardown, nobody to tell).
  fn close(poll: &Poll, w: &mut IoWriter, code: LostCode, errno: Option<i32>, notify: bool) {
    let core = w.core.clone();
    // Zero-copy memory still mapped in the pipe (the bytes the reader has not read, at most
    // the pipe's capacity) must stay unchanged while a reader may read it. After a reader-gone
    // loss nobody will: our close frees the pipe. Otherwise those bytes are replaced by copies
    // in the pipe (`sys::copy_unread_in_place`) and the memory is released at once; only if
    // that fails (no `/proc`, no fd left) is it kept for good, never freed or reused.
    let mut mapped: Vec<Chunk> = Vec::new();
    let mut mapped_free = true;
    let inflight_len = w.inflight.len();
    if core.zero_copy {
      w.release_consumed();
      mapped.extend(w.inflight.take_started_head());
      mapped.extend(w.retained.drain(..).map(|(_, c)| c));
      // Mapped but unread: delivered if a reader is there, lost if it is gone.
      let unread = w.spliced.saturating_sub(core.written.load(SeqCst));
      if code == LostCode::ReaderClosed {
        core.unwritten.fetch_add(unread, SeqCst);
      } else {
        core.written.fetch_add(unread, SeqCst);
        // Only while memory of ours is still mapped (never at `DONE`, which waits for the
        // reader): bytes a `writeFile` source spliced in are the kernel's, left as they are.
        let io_fd = core.io_fd.load(SeqCst);
        match if unread > 0 { sys::copy_unread_in_place(io_fd) } else { Ok(0) } {
          Ok(lost) => {
            let lost = (lost as u64).min(unread);
            core.written.fetch_sub(lost, SeqCst);
            core.unwritten.fetch_add(lost, SeqCst);
          }
          Err(_) => mapped_free = false,
        }
      }
    }
    // Take the pending chunks out under the lock, drop them (JS buffers release their
    // references through napi-rs) after it.
    let mut pending = WriteQueue::new();
    let spare;
    {
      let mut p = core.pending.lock_or_recover();
      core.state.store(CLOSED, SeqCst);
      p.abort = None;
      pending.append(&mut p.queue);
      w.sources.append(&mut p.sources);
      // The recycled slabs (up to 512 KiB) are freed now, not when the writer is collected:
      // an ended writer keeps no buffer memory while the garbage collector takes its time.
      spare = std::mem::take(&mut p.spare);
    }
    drop(spare);
    let sources_cut = w.sources.cut();
    core.sources_pending.store(0, SeqCst);
    let discarded = pending.clear() + inflight_len;
    w.inflight.clear();
    // Windows: a pipe write in flight counts as written once it completed, else unwritten
    // (an abort cancels it).
    if let Ok(Some(n)) = w.out.settle() {
      core.written.fetch_add(n, SeqCst);
    }
    core.unwritten.fetch_add(discarded as u64 + w.out.unsettled(), SeqCst);
    w.out.close(poll.registry(), code != LostCode::Done);
    let fd = core.fd.swap(-1, SeqCst);
    let io_fd = core.io_fd.swap(-1, SeqCst);
    let mut fd_reused = false;
    if io_fd >= 0 && core.restore_blocking {
      let _ = sys::set_nonblocking(io_fd, false);
    }
    if fd >= 0 {
      crate::pipe_budget::with(|b| b.release(fd));
      // The user's number is closed only while it still is our file: closed behind our back
      // and reused, it belongs to someone else now.
      if io_fd < 0 || sys::same_file(fd, io_fd) {
        let _ = sys::close(fd);
      } else {
        fd_reused = true;
      }
    }
    if io_fd >= 0 {
      let _ = sys::close(io_fd);
    }
    if sys::reader_gone_errno(errno) {
      sys::discard_pending_sigpipe();
    }
    for chunk in mapped {
      if mapped_free {
        retire(chunk, &mut w.spare, &mut w.written_back);
      } else {
        std::mem::forget(chunk);
      }
    }
    core.hand_back(&mut w.written_back);
    if notify {
      let lost = Lost {
        code,
        errno,
        fd_reused,
        bytes_written: core.bytes_written(),
        bytes_unwritten: core.unwritten.load(SeqCst),
        sources_cut,
      };
      closing::post(core, lost);
    }
  }
}

/// Remove a source's readability registration from the I/O thread's poller (by fd: the
/// registration belongs to the open file description, which the caller's fd may share, so it
/// would outlive our close of the dup).
pub(crate) fn deregister_source(fd: i32) {
  if let Some(registry) = REGISTRY.get() {
    sys::deregister_source(registry, fd);
  }
}

/// The poller's registry, for `deregister_source`.
static REGISTRY: OnceLock<mio::Registry> = OnceLock::new();

/// When a close is reported. POSIX: at once, the fd is closed. Windows: mio frees a named
/// pipe's handle only once the cancelled read's completion has been polled, so the report
/// waits for the next poll (the reader sees the end of the pipe before `onConnectionLost`).
#[cfg(unix)]
mod closing {
  use super::*;

  pub const POLL: Duration = Duration::ZERO;

  pub fn post(core: Arc<Core>, lost: Lost) {
    core.post(Event::Lost(lost));
  }

  #[inline]
  pub fn waiting() -> bool {
    false
  }

  #[inline]
  pub fn report() {}
}

#[cfg(windows)]
mod closing {
  use super::*;
  use std::cell::RefCell;

  /// How long the poll waits for the cancellation's completion (normally queued already).
  pub const POLL: Duration = Duration::from_millis(1);

  thread_local! {
    static AFTER_POLL: RefCell<Vec<(Arc<Core>, Lost)>> = const { RefCell::new(Vec::new()) };
  }

  pub fn post(core: Arc<Core>, lost: Lost) {
    AFTER_POLL.with(|v| v.borrow_mut().push((core, lost)));
  }

  pub fn waiting() -> bool {
    AFTER_POLL.with(|v| !v.borrow().is_empty())
  }

  pub fn report() {
    for (core, lost) in AFTER_POLL.with(|v| std::mem::take(&mut *v.borrow_mut())) {
      core.post(Event::Lost(lost));
    }
  }
}
