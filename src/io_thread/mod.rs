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
//!
//! Layout: `event_loop` (the loop and its look at one writer), `io_writer` (the per-writer
//! state), `flush` (`writev` and sources), `zero_copy` (freeing what readers consumed),
//! `close` (closing a writer, and when the close is reported).

mod close;
mod event_loop;
mod flush;
mod io_writer;
mod zero_copy;

use std::io;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use mio::{Poll, Token, Waker};

use crate::core::{Core, LockOrRecover};
use crate::sys;

use event_loop::IoThread;

/// The waker's token.
const WAKE: Token = Token(0);
/// Set in the token of a source's readability registration (the rest is the writer's token).
const SOURCE_TOKEN_BIT: usize = 1 << (usize::BITS - 1);
/// At most this many bytes move from one source per turn, so that one fast reader does not
/// keep the I/O thread from every other writer.
const SOURCE_TURN_BYTES: u64 = 16 << 20;
/// Slabs kept for reuse per writer on each side of the I/O thread: at most two (128 KiB) in all,
/// part of the documented worst case of what a writer holds (see `flow::DEFAULT_BUFFER_SIZE`).
/// Other written slabs are freed.
const SPARE_SLABS: usize = 1;
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
/// batches of this many during a long one (they wake JS only when no drain will: see
/// `Core::hand_back`).
const HAND_BACK_BATCH: usize = 32;

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
