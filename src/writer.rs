//! The `ProcessWriter` class (the JS-facing binding).
//!
//! Thin by design: argument checking, producer and callback bookkeeping on the JS thread, and
//! the delivery of the I/O thread's events. Buffering and I/O live in `core` and `io_thread`;
//! the decisions in `flow` and `read_hack`.
//!
//! Callbacks from the I/O thread arrive through one weak (unref'd) thread-safe function per
//! writer, so a writer never keeps the process alive by itself, except between
//! `loseConnection()` and the close, so that a flush in progress completes. An env cleanup
//! hook stops the I/O thread's use of the env (worker exit) and closes the fd.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::ffi::c_void;
use std::ptr;
use std::rc::Rc;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::Instant;

use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;

use crate::core::{Core, CoreConfig, Event, Lost, LostCode};
use crate::flow::{self, Producer};
use crate::js::{self, ErrorClass, JsRef};
use crate::queue::{SharedBytes, WriteQueue, SLAB_SIZE};
use crate::read_hack::{self, AccessMode, FdKind, Os};
use crate::sys as os;

/// `Buffer`/`Uint8Array` chunks this large are queued by reference, not copied: like Node's
/// streams, the caller must not modify such a chunk until it is written.
pub const BY_REFERENCE_MIN: usize = SLAB_SIZE / 2;
/// The longest the JS thread waits for a write announced as completing a drain
/// (`Core::expect_drain`; such writes are at most `flow::ANNOUNCE_MAX_BYTES`).
const EXPECTED_DRAIN_WAIT: std::time::Duration = std::time::Duration::from_micros(100);

/// A JS `Uint8Array` (or `Buffer`) kept alive while queued; napi-rs releases the reference on
/// the JS thread when it is dropped on the I/O thread.
struct JsBytes(Uint8Array);

impl SharedBytes for JsBytes {
  fn bytes(&self) -> &[u8] {
    &self.0
  }
}

/// Everything the JS thread keeps about a writer. Shared (`Rc`) by the class instance, the
/// thread-safe function's context and the env cleanup hook; touched only on the JS thread.
pub struct JsSide {
  pub(crate) core: Arc<Core>,
  /// By-reference chunks not known to be written yet: where each ends in the stream of
  /// accepted bytes, and its ArrayBuffer (see `check_detached`).
  by_ref: RefCell<VecDeque<(u64, JsRef)>>,
  /// The connection was ended because such a chunk's ArrayBuffer was detached.
  detached_found: Cell<bool>,
  /// A producer is registered (in `slots`), and whether it is streaming (push).
  producer: Cell<Option<bool>>,
  paused: Cell<bool>,
  /// A write returned false and `onDrain` has not been called since.
  need_drain: Cell<bool>,
  over_since: Cell<Option<Instant>>,
  paused_ms: Cell<f64>,
  pauses: Cell<u64>,
  resumes: Cell<u64>,
  /// Drains delivered by waiting for the I/O thread's write in progress (`dispatch`).
  drains_awaited: Cell<u64>,
  /// `onConnectionLost`, `onDrain`, the producer, the reason and the cause (see [`Slots`]).
  slots: Slots,
  /// The reason has been delivered (it is in `slots` while the writer lives).
  has_reason: Cell<bool>,
  tsfn: Cell<sys::napi_threadsafe_function>,
  /// The pointer handed to the env cleanup hook (null once the hook is gone).
  hook_arg: Cell<*const JsSide>,
  /// The thread-safe function is ref'd: the process stays alive while this writer is busy
  /// (data buffered, a close or an abort on its way), so no write and no `onConnectionLost`
  /// is lost to a natural exit. An idle writer does not hold the process.
  refed: Cell<bool>,
  /// `ref()` was called: hold the process until the connection ends, busy or not.
  user_ref: Cell<bool>,
  /// `loseConnection()` was called; it is handed to the I/O thread in a later turn.
  lose_requested: Cell<bool>,
  /// The Promises of queued sources (`writeFile`), by source id.
  pub(crate) sources: RefCell<Vec<(u64, sys::napi_deferred)>>,
  /// No `lowWaterMark` was given: it follows `bufferSize` ([`flow::default_low_water`]).
  low_water_auto: Cell<bool>,
  zero_copy: bool,
}

const ON_LOST: u32 = 0;
const ON_DRAIN: u32 = 1;
const PRODUCER: u32 = 2;
const REASON: u32 = 3;
const CAUSE: u32 = 4;

/// Where a writer keeps its JS values (`onConnectionLost`, `onDrain`, the producer, the reason,
/// the cause): an array stored on the writer object itself, under a symbol, so that they are
/// reachable through the writer and not from a GC root of ours. Our reference to the array is
/// strong only while the writer is held (`JsSide::retain`: busy, or `ref()`, and not ended):
/// then a callback is delivered even if nothing else references the writer or its callbacks.
/// Otherwise it is weak: a callback that mentions the writer does not keep it alive, an ended
/// writer is collectable with everything it references, and a writer collected while open is
/// closed (flushed, `Drop for ProcessWriter`) without calling callbacks that went with it.
struct Slots {
  env: js::Env,
  /// Null once deleted (never while the env lives, unless the constructor failed).
  array: Cell<sys::napi_ref>,
  strong: Cell<bool>,
  /// The env is being torn down: leave the reference to it.
  torn_down: Cell<bool>,
}

impl Slots {
  fn new(env: js::Env) -> Result<(Slots, js::Value)> {
    let mut a = ptr::null_mut();
    js::check(env, unsafe { sys::napi_create_array_with_length(env, 5, &mut a) })?;
    let mut r = ptr::null_mut();
    js::check(env, unsafe { sys::napi_create_reference(env, a, 0, &mut r) })?;
    Ok((Slots { env, array: Cell::new(r), strong: Cell::new(false), torn_down: Cell::new(false) }, a))
  }

  /// The array, or None once the writer (and with it the array) was collected.
  fn array(&self) -> Option<js::Value> {
    let r = self.array.get();
    if r.is_null() {
      return None;
    }
    let mut a = ptr::null_mut();
    unsafe { sys::napi_get_reference_value(self.env, r, &mut a) };
    (!a.is_null()).then_some(a)
  }

  /// The value in slot `i`; None when empty (null or undefined) or gone with the writer.
  fn get(&self, i: u32) -> Option<js::Value> {
    let a = self.array()?;
    let mut v = ptr::null_mut();
    let status = unsafe { sys::napi_get_element(self.env, a, i, &mut v) };
    (status == sys::Status::napi_ok && !v.is_null() && !js::is_nullish(self.env, v)).then_some(v)
  }

  fn set(&self, i: u32, v: Option<js::Value>) {
    if let Some(a) = self.array() {
      let v = v.unwrap_or_else(|| js::undefined(self.env));
      unsafe { sys::napi_set_element(self.env, a, i, v) };
    }
  }

  fn set_strong(&self, strong: bool) {
    let r = self.array.get();
    if r.is_null() || self.strong.replace(strong) == strong {
      return;
    }
    let mut count = 0;
    unsafe {
      if strong {
        sys::napi_reference_ref(self.env, r, &mut count);
      } else {
        sys::napi_reference_unref(self.env, r, &mut count);
      }
    }
  }
}

impl Drop for Slots {
  /// Runs on the JS thread (the last owner of `JsSide` is the class instance's finalizer, the
  /// thread-safe function's finalizer or the env cleanup hook).
  fn drop(&mut self) {
    let r = self.array.replace(ptr::null_mut());
    if !r.is_null() && !self.torn_down.get() {
      unsafe { sys::napi_delete_reference(self.env, r) };
    }
  }
}

struct SendPtr(sys::napi_threadsafe_function);
unsafe impl Send for SendPtr {}

unsafe extern "C" fn call_js(env: sys::napi_env, _cb: sys::napi_value, context: *mut c_void, _data: *mut c_void) {
  if env.is_null() || context.is_null() {
    return;
  }
  let side = &*(context as *const JsSide);
  side.dispatch(env);
}

unsafe extern "C" fn tsfn_finalize(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
  drop(Rc::from_raw(data as *const JsSide));
}

unsafe extern "C" fn env_cleanup(arg: *mut c_void) {
  let side = Rc::from_raw(arg as *const JsSide);
  side.hook_arg.set(ptr::null());
  side.slots.torn_down.set(true);
  side.teardown();
}

impl JsSide {
  fn producer_kind(&self) -> Producer {
    match self.producer.get() {
      None => Producer::None,
      Some(true) => Producer::Push { paused: self.paused.get() },
      Some(false) => Producer::Pull,
    }
  }

  /// Hold the writer's JS values strongly while the writer holds the process (busy, or
  /// `ref()`), until the end has been delivered; weakly otherwise (see [`Slots`]).
  fn retain(&self) {
    self.slots.set_strong(!self.has_reason.get() && (self.refed.get() || self.user_ref.get()));
  }

  /// Keep the process alive (until `unhold`, or the end of the connection).
  pub(crate) fn hold(&self, env: js::Env) {
    let tsfn = self.tsfn.get();
    if !tsfn.is_null() && !self.refed.replace(true) {
      unsafe { sys::napi_ref_threadsafe_function(env, tsfn) };
      self.retain();
    }
  }

  fn unhold(&self, env: js::Env) {
    let tsfn = self.tsfn.get();
    if !tsfn.is_null() && self.refed.replace(false) {
      unsafe { sys::napi_unref_threadsafe_function(env, tsfn) };
      self.retain();
    }
  }

  /// Tell the I/O thread what waits on this writer: whether a close is held off (a pull or a
  /// paused push producer), and whether JS waits for the next drain (that, or a write
  /// returned false). Called whenever either changes.
  fn publish_waits(&self) {
    let producer = self.producer_kind();
    self.core.close_blocked.store(flow::close_blocked(producer), SeqCst);
    self.core.drain_awaited.store(flow::drain_awaited(producer, self.need_drain.get()), SeqCst);
  }

  /// Call a method of the registered producer; a throw ends the connection (PRODUCER_ERROR).
  fn call_producer(&self, env: js::Env, method: &str) {
    if self.producer.get().is_none() {
      return;
    }
    if let Some(obj) = self.slots.get(PRODUCER) {
      if let Err(exc) = js::call_method(env, obj, method) {
        self.fail(env, exc);
      }
    }
  }

  /// A producer or callback threw: keep the error as `cause` and abort.
  fn fail(&self, env: js::Env, exception: js::Value) {
    if self.core.abort(LostCode::ProducerError, true) {
      self.hold(env);
      self.slots.set(CAUSE, Some(exception));
    } else {
      js::warn(env, "a callback after the connection ended", exception);
    }
  }

  /// Queue copies of the slices; the body of `write` and `writeSequence`.
  fn write_slices(&self, env: js::Env, slices: &[&[u8]]) -> bool {
    let total: usize = slices.iter().map(|s| s.len()).sum();
    self.write_with(env, total, |q, spare| {
      for s in slices {
        q.push_copy(s, spare);
      }
    })
  }

  /// Queue `total` bytes through `fill`, then apply the flow-control decision.
  fn write_with(&self, env: js::Env, total: usize, fill: impl FnOnce(&mut WriteQueue, &mut Vec<Vec<u8>>)) -> bool {
    let core = &self.core;
    if total == 0 {
      return core.accepting() && core.buffered() <= core.buffer_size.load(SeqCst);
    }
    let Some(level) = core.enqueue(total as u64, fill) else {
      return false;
    };
    if !self.refed.get() {
      self.hold(env);
      core.arm_empty();
    }
    let producer = self.producer_kind();
    let d = flow::after_write(level, core.buffer_size.load(SeqCst), producer);
    if !d.ok && !self.need_drain.replace(true) {
      self.pauses.set(self.pauses.get() + 1);
      self.over_since.set(Some(Instant::now()));
    }
    if d.pause_producer {
      self.paused.set(true);
    }
    if !d.ok || d.pause_producer {
      self.publish_waits();
    }
    if !d.ok || producer != Producer::None {
      core.arm_drain();
    }
    if d.pause_producer {
      self.call_producer(env, "pauseProducing");
    }
    d.ok
  }

  /// Deliver what the I/O thread queued (runs on the JS thread). Woken ahead of a drain
  /// (`Core::expect_drain`), wait for the write in progress rather than sleep through it.
  fn dispatch(&self, env: js::Env) {
    self.check_detached(env, true);
    self.deliver_events(env);
    let core = &self.core;
    if core.drain_expected.load(SeqCst)
      && core.drain_waited_for()
      && core.accepting()
      && core.await_expected_drain(EXPECTED_DRAIN_WAIT)
    {
      self.drains_awaited.set(self.drains_awaited.get() + 1);
      core.fire_armed_events_here();
      self.deliver_events(env);
    }
  }

  /// Misuse detection: a by-reference chunk whose ArrayBuffer was detached (transferred to a
  /// worker, `transfer()`ed, ...) before it was written. The I/O thread would then write memory
  /// that is no longer the caller's. Only the JS thread can detach a buffer, and it is busy here,
  /// so a chunk found detached while `written` (read first) has not reached its end was
  /// detached before it was written: the connection ends with code `ERROR` (not clean), its
  /// cause an `ERR_INVALID_STATE` error. One written meanwhile may have been detached after its
  /// write, which is allowed: those are only dropped from the list. Runs at each wake-up of the
  /// JS thread (`all`: every chunk still unwritten, one `napi_is_detached_arraybuffer` each)
  /// and at each native `write()` (the oldest only: one call).
  fn check_detached(&self, env: js::Env, all: bool) {
    let mut list = self.by_ref.borrow_mut();
    if list.is_empty() {
      return;
    }
    let written = self.core.written.load(SeqCst);
    while let Some((end, _)) = list.front() {
      if *end > written {
        break;
      }
      if let Some((_, r)) = list.pop_front() {
        r.delete(env);
      }
    }
    let detached = list.iter().take(if all { usize::MAX } else { 1 }).any(|(_, r)| js::is_detached(env, r.get(env)));
    if !detached || !self.core.accepting() {
      return;
    }
    for (_, r) in list.drain(..) {
      r.delete(env);
    }
    drop(list);
    if self.core.abort(LostCode::Error, true) {
      self.detached_found.set(true);
      self.hold(env);
    }
  }

  /// Forget the by-reference chunks (the connection ended).
  fn clear_by_ref(&self, env: js::Env) {
    for (_, r) in self.by_ref.borrow_mut().drain(..) {
      r.delete(env);
    }
  }

  fn deliver_events(&self, env: js::Env) {
    for ev in self.core.take_events() {
      match ev {
        Event::Drain => self.on_drain_event(env),
        Event::Empty => {
          if self.lose_requested.get() || !self.core.accepting() {
            // Held until the connection ends.
          } else if self.core.idle() {
            if !self.user_ref.get() {
              self.unhold(env);
            }
          } else {
            self.core.arm_empty();
          }
        }
        Event::CommitLoseConnection => {
          if self.core.lose_connection() && self.producer_kind() == Producer::Pull {
            self.core.arm_drain();
          }
        }
        Event::SourceDone { id, moved, errno } => self.on_source_done(env, id, moved, errno),
        Event::Lost(lost) => self.on_lost_event(env, lost),
      }
    }
  }

  fn end_backpressure(&self) {
    if let Some(t) = self.over_since.take() {
      self.paused_ms.set(self.paused_ms.get() + t.elapsed().as_secs_f64() * 1000.0);
      self.resumes.set(self.resumes.get() + 1);
    }
  }

  fn on_drain_event(&self, env: js::Env) {
    if !self.core.accepting() {
      return;
    }
    let core = &self.core;
    let d = flow::on_drain(core.buffered(), core.low_water.load(SeqCst), self.producer_kind(), self.need_drain.get());
    if d.stale {
      core.arm_drain();
      return;
    }
    self.end_backpressure();
    if d.resume_push {
      // The close stays blocked while the producer runs, so that what it writes from
      // `resumeProducing` is queued before a disconnecting writer may close. If it wrote, the
      // I/O thread may have drained that already while still blocked: have it look again
      // (Twisted closes at the drain that follows). If it wrote nothing, the close waits for
      // the drain after its next write, as in Twisted.
      let before = core.accepted.load(SeqCst);
      self.paused.set(false);
      self.call_producer(env, "resumeProducing");
      self.publish_waits();
      let wrote = core.accepted.load(SeqCst) != before;
      if wrote && !core.close_blocked.load(SeqCst) && core.state() == crate::core::DISCONNECTING {
        core.schedule();
      }
    } else if d.resume_pull {
      self.call_producer(env, "resumeProducing");
    }
    if d.notify_drain {
      self.need_drain.set(false);
      self.publish_waits();
      if let Some(f) = self.slots.get(ON_DRAIN) {
        if let Err(exc) = js::call(env, js::undefined(env), f, &[]) {
          self.fail(env, exc);
        }
      }
    }
  }

  /// The `ConnectionLostReason`. Fails only if setting a property runs user code that throws
  /// (a setter someone put on `Object.prototype`), or for lack of memory.
  fn reason_object(&self, env: js::Env, lost: &Lost) -> Result<js::Value> {
    let o = js::object(env)?;
    js::set_named(env, o, "code", js::string(env, lost.code.as_str()))?;
    js::set_named(env, o, "clean", js::boolean(env, lost.clean()))?;
    let errno = lost.errno.map(os::errno_name);
    if let Some(e) = &errno {
      js::set_named(env, o, "errno", js::string(env, e))?;
    }
    let message = match (lost.code, &errno) {
      (LostCode::Done, _) => "the connection was closed cleanly".to_string(),
      (LostCode::ReaderClosed, Some(e)) => format!("the reader closed its end of the pipe ({e})"),
      (LostCode::ReaderClosed, None) => "the reader closed its end of the pipe".to_string(),
      (LostCode::Aborted, _) => "the connection was aborted".to_string(),
      (LostCode::ProducerError, _) => "a producer or callback threw".to_string(),
      (LostCode::Error, _) if self.detached_found.get() => {
        "a Buffer queued by reference (32 KiB or more) had its ArrayBuffer detached (transferred) before it was written"
          .to_string()
      }
      (LostCode::Error, Some(e)) if *e == "EFAULT" => {
        "writing to the pipe failed (EFAULT): memory of a Buffer queued by reference was gone (was its ArrayBuffer transferred before it was written?)".to_string()
      }
      (LostCode::Error, Some(e)) => format!("writing to the pipe failed ({e})"),
      (LostCode::Error, None) => "writing to the pipe failed".to_string(),
    };
    js::set_named(env, o, "message", js::string(env, &message))?;
    let child_fd = match self.core.child_fd {
      Some(n) => js::number(env, n as f64),
      None => js::null(env),
    };
    js::set_named(env, o, "childFd", child_fd)?;
    js::set_named(env, o, "bytesWritten", js::number(env, lost.bytes_written as f64))?;
    js::set_named(env, o, "bytesUnwritten", js::number(env, lost.bytes_unwritten as f64))?;
    if let Some(c) = self.slots.get(CAUSE) {
      self.slots.set(CAUSE, None);
      if lost.code == LostCode::ProducerError {
        js::set_named(env, o, "cause", c)?;
      }
    }
    Ok(o)
  }

  fn on_lost_event(&self, env: js::Env, mut lost: Lost) {
    // Bytes of a fast-path slab refused after the I/O thread posted this (`accept_unwritten`)
    // are unwritten too: read the counter now, on the thread that adds to it.
    lost.bytes_unwritten = lost.bytes_unwritten.max(self.core.unwritten.load(SeqCst));
    self.clear_by_ref(env);
    let reason = match self.reason_object(env, &lost) {
      Ok(r) => r,
      Err(_) => {
        // Still end the connection and call back, with what could be built.
        if let Some(exc) = js::take_exception(env) {
          js::warn(env, "building the connection-lost reason", exc);
        }
        js::object(env).unwrap_or_else(|_| js::undefined(env))
      }
    };
    self.slots.set(REASON, Some(reason));
    self.has_reason.set(true);
    if lost.fd_reused {
      let fd = self.core.fd_given;
      js::emit_warning(
        env,
        &format!(
          "process-writer: fd {fd} was closed by someone else while a ProcessWriter owned it, and the number now \
           refers to another file; the writer wrote through its own duplicate and left fd {fd} alone"
        ),
      );
    }
    self.end_backpressure();
    self.paused.set(false);
    if self.producer.take().is_some() {
      if let Some(p) = self.slots.get(PRODUCER) {
        self.slots.set(PRODUCER, None);
        if let Err(exc) = js::call_method(env, p, "stopProducing") {
          js::warn(env, "producer.stopProducing", exc);
        }
      }
    }
    self.publish_waits();
    for (id, moved) in &lost.sources_cut {
      self.reject_source(env, *id, moved_error(env, reason, *moved));
    }
    if let Some(cb) = self.slots.get(ON_LOST) {
      if let Err(exc) = js::call(env, js::undefined(env), cb, &[reason]) {
        js::warn(env, "onConnectionLost", exc);
      }
    }
    self.finish(env);
  }

  /// Settle the Promise of source `id` (no-op for an unknown id).
  fn take_source(&self, id: u64) -> Option<sys::napi_deferred> {
    let mut sources = self.sources.borrow_mut();
    let i = sources.iter().position(|(i, _)| *i == id)?;
    Some(sources.remove(i).1)
  }

  /// New work was queued: hold the process until the writer is idle again.
  pub(crate) fn hold_while_busy(&self, env: js::Env) {
    if !self.refed.get() {
      self.hold(env);
      self.core.arm_empty();
    }
  }

  pub(crate) fn reject_source(&self, env: js::Env, id: u64, error: js::Value) {
    if let Some(d) = self.take_source(id) {
      js::settle(env, d, false, error);
    }
  }

  /// A source completed: its Promise resolves with the bytes it moved, or rejects with the
  /// errno that ended its reading (the writer goes on with what was queued after it).
  fn on_source_done(&self, env: js::Env, id: u64, moved: u64, errno: Option<i32>) {
    let Some(d) = self.take_source(id) else { return };
    match errno {
      None => js::settle(env, d, true, js::number(env, moved as f64)),
      Some(n) => {
        let code = os::errno_name(n);
        let msg = format!("{code}: reading the source failed after {moved} bytes ({})", std::io::Error::from_raw_os_error(n));
        let err = js::make_error(env, ErrorClass::Error, &code, &msg);
        if js::set_named(env, err, "bytesWritten", js::number(env, moved as f64)).is_err() {
          js::take_exception(env);
        }
        js::settle(env, d, false, err);
      }
    }
  }

  /// The connection ended and was reported: stop the I/O thread's use of this env.
  fn finish(&self, env: js::Env) {
    self.release_callbacks(sys::ThreadsafeFunctionReleaseMode::release);
    // Nothing more to deliver: what the writer references no longer outlives it.
    self.retain();
    let arg = self.hook_arg.replace(ptr::null());
    if !arg.is_null() {
      unsafe {
        sys::napi_remove_env_cleanup_hook(env, Some(env_cleanup), arg as *mut c_void);
        drop(Rc::from_raw(arg));
      }
    }
  }

  /// The env is going away (worker exit, process exit): no more calls into it; close the fd.
  fn teardown(&self) {
    self.release_callbacks(sys::ThreadsafeFunctionReleaseMode::abort);
    self.core.abort(LostCode::Aborted, false);
  }

  /// Stop the I/O thread's calls into this env (waiting for one in progress), then release the
  /// thread-safe function.
  fn release_callbacks(&self, mode: sys::napi_threadsafe_function_release_mode) {
    self.core.set_notifier(None);
    let tsfn = self.tsfn.replace(ptr::null_mut());
    if !tsfn.is_null() {
      unsafe { sys::napi_release_threadsafe_function(tsfn, mode) };
    }
  }

  fn set_callback(&self, env: js::Env, slot: u32, v: js::Value, name: &str) -> Result<()> {
    check_callback(env, v, name)?;
    self.slots.set(slot, (!js::is_nullish(env, v)).then_some(v));
    Ok(())
  }
}

/// A callback option must be a function, null or undefined (`ERR_INVALID_ARG_TYPE`).
fn check_callback(env: js::Env, v: js::Value, name: &str) -> Result<()> {
  if js::is_nullish(env, v) || js::is_function(env, v) {
    return Ok(());
  }
  let msg = format!("The \"{name}\" option must be a function, null or undefined. Received {}", js::describe(env, v));
  Err(js::throw(env, ErrorClass::TypeError, "ERR_INVALID_ARG_TYPE", &msg))
}

/// A number assigned to a property (range checks follow): anything else is a `TypeError`
/// (`ERR_INVALID_ARG_TYPE`), as Node's setters throw.
fn number_property(env: js::Env, v: js::Value, name: &str) -> Result<f64> {
  if js::type_of(env, v) != sys::ValueType::napi_number {
    let msg = format!("The \"{name}\" property must be of type number. Received {}", js::describe(env, v));
    return Err(js::throw(env, ErrorClass::TypeError, "ERR_INVALID_ARG_TYPE", &msg));
  }
  Ok(js::get_f64(env, v))
}

/// The value, or `null`.
fn value_or_null<'a>(env: js::Env, v: Option<js::Value>) -> Result<Unknown<'a>> {
  let v = v.unwrap_or_else(|| js::null(env));
  unsafe { Unknown::from_napi_value(env, v) }
}

/// Options read from the constructor's second argument.
struct Options {
  child_fd: Option<i32>,
  buffer_size: Option<f64>,
  low_water: Option<f64>,
  force_read_hack: bool,
  pipe_size: Option<usize>,
  zero_copy: bool,
  on_lost: js::Value,
  on_drain: js::Value,
}

/// The `pipeSize` option, checked the same way by the constructor, `openPipe`, `createPipe` and
/// `spawn` (a whole number of bytes up to 2^31 - 1; nullish: the kernel's default).
pub fn pipe_size_option(env: js::Env, v: js::Value) -> Result<Option<usize>> {
  Ok(js::whole_number(env, v, "pipeSize", i32::MAX as f64)?.map(|n| n as usize))
}

fn read_options(env: js::Env, v: js::Value) -> Result<Options> {
  let mut o = Options {
    child_fd: None,
    buffer_size: None,
    low_water: None,
    force_read_hack: false,
    pipe_size: None,
    zero_copy: false,
    on_lost: ptr::null_mut(),
    on_drain: ptr::null_mut(),
  };
  if js::is_nullish(env, v) {
    return Ok(o);
  }
  if js::type_of(env, v) != sys::ValueType::napi_object {
    let msg = format!("The \"options\" argument must be of type object. Received {}", js::describe(env, v));
    return Err(js::throw(env, ErrorClass::TypeError, "ERR_INVALID_ARG_TYPE", &msg));
  }
  const MAX_SAFE: f64 = 9_007_199_254_740_991.0;
  // Each read may run a getter or a Proxy trap: a throw stops here, with the exception pending
  // and nothing done to the fd.
  let get = |name: &str| js::get_named(env, v, name);
  o.child_fd = js::whole_number(env, get("childFd")?, "childFd", i32::MAX as f64)?.map(|n| n as i32);
  o.buffer_size = js::whole_number(env, get("bufferSize")?, "bufferSize", MAX_SAFE)?;
  o.low_water = js::whole_number(env, get("lowWaterMark")?, "lowWaterMark", MAX_SAFE)?;
  o.force_read_hack = js::optional_bool(env, get("forceReadHack")?, "forceReadHack")?;
  o.pipe_size = pipe_size_option(env, get("pipeSize")?)?;
  o.zero_copy = js::optional_bool(env, get("zeroCopy")?, "zeroCopy")?;
  o.on_lost = get("onConnectionLost")?;
  o.on_drain = get("onDrain")?;
  Ok(o)
}

/// Twisted's `ProcessWriter`: an asynchronous, flow-controlled writer into a child process's
/// input pipe (or any writable fd), which it owns and closes exactly once.
///
/// `write()` copies the bytes into the writer's queue and returns at once; a background I/O
/// thread writes them with batched `writev` calls. `write()` returns false once
/// `bufferedAmount > bufferSize`; a registered push producer is paused then, synchronously, and
/// resumed when the level falls to `lowWaterMark`. When the connection ends (flushed by
/// `loseConnection()`, the child closed its end or exited, an abort, an error)
/// `onConnectionLost` is called once, asynchronously, with the reason.
///
/// Garbage collection: an ended writer is collectable, whatever its callbacks reference. While
/// the writer is busy (data buffered, a close or abort on its way) or `ref()`'d, its callbacks
/// and producer are held, so they are called even if nothing else references the writer. An
/// idle, open writer that nothing references is collected with its callbacks and producer
/// (even when they mention it): its fd is then closed (`DONE`) and no callback is called. Keep a
/// reference, or call `ref()` (as `closed()` does), to be told of the end.
#[napi]
pub struct ProcessWriter {
  pub(crate) side: Rc<JsSide>,
}

#[napi]
impl ProcessWriter {
  /// Take ownership of `fd`, a writable fd (a pipe's write end, a FIFO, a socket, a file).
  /// Throws (and leaves the fd to the caller) when `fd` is not open (`EBADF`), not open for
  /// writing (`ERR_FD_NOT_WRITABLE`) or an option is invalid (`ERR_INVALID_ARG_TYPE`,
  /// `ERR_OUT_OF_RANGE`).
  #[napi(constructor, ts_args_type = "fd: number, options?: ProcessWriterOptions | undefined | null")]
  pub fn new(env: Env, this: This, fd: Unknown<'_>, options: Option<Unknown<'_>>) -> Result<Self> {
    // Until the end, where the writer takes the fd, every failure leaves it exactly as it was
    // given (open, same flags) and the caller's: whatever can fail runs before the fd is
    // changed, and what follows the change undoes it.
    let e = env.raw();
    let fd_v = fd.raw();
    if js::type_of(e, fd_v) != sys::ValueType::napi_number {
      let msg = format!("The \"fd\" argument must be of type number. Received {}", js::describe(e, fd_v));
      return Err(js::throw(e, ErrorClass::TypeError, "ERR_INVALID_ARG_TYPE", &msg));
    }
    let n = js::get_f64(e, fd_v);
    if !(n.is_finite() && n >= 0.0 && n <= i32::MAX as f64 && n.fract() == 0.0) {
      let msg = format!("The value of \"fd\" is out of range. It must be a whole number from 0 to 2147483647. Received {n}");
      return Err(js::throw(e, ErrorClass::RangeError, "ERR_OUT_OF_RANGE", &msg));
    }
    let fd = n as i32;
    let opts = read_options(e, options.map(|o| o.raw()).unwrap_or(ptr::null_mut()))?;
    check_callback(e, opts.on_lost, "onConnectionLost")?;
    check_callback(e, opts.on_drain, "onDrain")?;
    let os_error = |err: std::io::Error, what: &str| {
      let code = err.raw_os_error().map(os::errno_name).unwrap_or_else(|| "EIO".into());
      js::throw(e, ErrorClass::Error, &code, &format!("{what} ({err})"))
    };
    let (access, was_nonblocking) =
      os::fd_status(fd).map_err(|err| os_error(err, &format!("fd {fd} is not an open file descriptor")))?;
    if access == AccessMode::ReadOnly {
      return Err(js::throw(e, ErrorClass::Error, "ERR_FD_NOT_WRITABLE", &format!("fd {fd} is not open for writing")));
    }
    let kind = os::fd_kind(fd).unwrap_or(FdKind::Other);
    if let Some(why) = os::unsupported(fd, kind) {
      return Err(js::throw(e, ErrorClass::Error, "ERR_FD_NOT_SUPPORTED", &why));
    }
    let zero_copy = opts.zero_copy && kind == FdKind::Pipe && os::ZERO_COPY_SUPPORTED;
    let size = opts.buffer_size.unwrap_or_else(|| flow::default_buffer_size(zero_copy));
    let low = opts.low_water.unwrap_or_else(|| flow::default_low_water(size, zero_copy));
    let (buffer_size, low_water) =
      flow::validate_marks(size, low).map_err(|m| js::throw(e, ErrorClass::RangeError, "ERR_OUT_OF_RANGE", m))?;
    let read_hack = read_hack::decide(Os::current(), os::kernel_version(), kind, access, opts.force_read_hack);
    // The first writer starts the I/O thread; with no fd or thread left this throws (EMFILE).
    crate::io_thread::start().map_err(|err| os_error(err, "cannot start the I/O thread"))?;
    let io_fd = os::dup_cloexec(fd).map_err(|err| os_error(err, &format!("cannot duplicate fd {fd}")))?;
    // From here `core` owns `io_fd` (closed when it is dropped, unless the I/O thread did).
    let core = Core::new(CoreConfig {
      fd,
      io_fd,
      child_fd: opts.child_fd,
      kind,
      read_hack,
      restore_blocking: !was_nonblocking,
      zero_copy,
      pipe_capacity: 0,
      buffer_size,
      low_water,
    });
    // The writer's JS values live on the writer object (see `Slots`).
    let (slots, array) = Slots::new(e)?;
    let mut key = ptr::null_mut();
    js::check(e, unsafe { sys::napi_create_symbol(e, js::string(e, "processWriter.slots"), &mut key) })?;
    let desc = sys::napi_property_descriptor {
      utf8name: ptr::null(),
      name: key,
      method: None,
      getter: None,
      setter: None,
      value: array,
      attributes: sys::PropertyAttributes::default,
      data: ptr::null_mut(),
    };
    js::check(e, unsafe { sys::napi_define_properties(e, this.object.raw(), 1, &desc) })?;
    let side = Rc::new(JsSide {
      core: core.clone(),
      producer: Cell::new(None),
      paused: Cell::new(false),
      need_drain: Cell::new(false),
      over_since: Cell::new(None),
      paused_ms: Cell::new(0.0),
      pauses: Cell::new(0),
      resumes: Cell::new(0),
      drains_awaited: Cell::new(0),
      slots,
      has_reason: Cell::new(false),
      tsfn: Cell::new(ptr::null_mut()),
      hook_arg: Cell::new(ptr::null()),
      refed: Cell::new(false),
      user_ref: Cell::new(false),
      lose_requested: Cell::new(false),
      by_ref: RefCell::new(VecDeque::new()),
      detached_found: Cell::new(false),
      sources: RefCell::new(Vec::new()),
      low_water_auto: Cell::new(opts.low_water.is_none()),
      zero_copy,
    });
    let unwind = |side: &JsSide| {
      side.slots.set(ON_LOST, None);
      side.slots.set(ON_DRAIN, None);
    };
    if let Err(err) = side
      .set_callback(e, ON_LOST, opts.on_lost, "onConnectionLost")
      .and_then(|()| side.set_callback(e, ON_DRAIN, opts.on_drain, "onDrain"))
    {
      unwind(&side);
      return Err(err);
    }

    let ctx = Rc::into_raw(side.clone()) as *mut c_void;
    let mut tsfn = ptr::null_mut();
    let status = unsafe {
      sys::napi_create_threadsafe_function(
        e,
        ptr::null_mut(),
        ptr::null_mut(),
        js::string(e, "ProcessWriter"),
        0,
        1,
        ctx,
        Some(tsfn_finalize),
        ctx,
        Some(call_js),
        &mut tsfn,
      )
    };
    if status != sys::Status::napi_ok {
      unsafe { drop(Rc::from_raw(ctx as *const JsSide)) };
      unwind(&side);
      return Err(js::check(e, status).err().unwrap_or_else(|| Error::new(Status::GenericFailure, "tsfn")));
    }
    side.tsfn.set(tsfn);
    let hook_arg = Rc::into_raw(side.clone());
    let status = unsafe { sys::napi_add_env_cleanup_hook(e, Some(env_cleanup), hook_arg as *mut c_void) };
    if status != sys::Status::napi_ok {
      unsafe { drop(Rc::from_raw(hook_arg)) };
      side.release_callbacks(sys::ThreadsafeFunctionReleaseMode::abort);
      unwind(&side);
      return Err(js::check(e, status).err().unwrap_or_else(|| Error::new(Status::GenericFailure, "hook")));
    }
    side.hook_arg.set(hook_arg);
    // The last step that can fail, and the first that changes the fd (its open file
    // description, shared with `io_fd`).
    if !was_nonblocking {
      if let Err(err) = os::set_nonblocking(io_fd, true) {
        side.finish(e);
        unwind(&side);
        return Err(js::throw(e, ErrorClass::Error, "ERR_FD_SETUP", &err.to_string()));
      }
    }
    // The writer owns the fd from here on.
    crate::held::hand_over(e, fd);
    unsafe { sys::napi_unref_threadsafe_function(e, tsfn) };
    os::suppress_sigpipe(io_fd);
    // Enlargements are recorded under the number the writer was given (`closeFd` and the
    // close give them back by that number).
    let capacity = match (kind, opts.pipe_size) {
      (FdKind::Pipe, Some(want)) => crate::pipe_budget::enlarge(fd, want as u64),
      (FdKind::Pipe, None) => os::pipe_capacity(fd).map(|c| {
        crate::pipe_budget::with(|b| b.record(fd, c as u64));
        c as u64
      }),
      _ => None,
    };
    core.pipe_capacity.store(capacity.unwrap_or(0), SeqCst);
    let t = SendPtr(tsfn);
    core.set_notifier(Some(Box::new(move || {
      let t = &t;
      unsafe { sys::napi_call_threadsafe_function(t.0, ptr::null_mut(), sys::ThreadsafeFunctionCallMode::nonblocking) };
    })));
    // Register with the poller now: reader-gone detection is armed from the start.
    core.schedule();
    Ok(ProcessWriter { side })
  }

  /// The fd written to; -1 once closed.
  #[napi(getter)]
  pub fn fileno(&self) -> i32 {
    self.side.core.fd.load(SeqCst)
  }

  /// Which fd of the child this writer feeds (Twisted's `name`), or null.
  #[napi(getter)]
  pub fn child_fd(&self) -> Option<i32> {
    self.side.core.child_fd
  }

  /// Whether readiness on this fd can report the reader gone (decided per platform, kernel
  /// version and fd kind; see the README).
  #[napi(getter)]
  pub fn enable_read_hack(&self) -> bool {
    self.side.core.read_hack.enabled
  }

  /// High-water mark in bytes: `write()` returns false and a push producer is paused once
  /// `bufferedAmount` exceeds it. Default 1 MiB (16 MiB with `zeroCopy`); Twisted's is 65536.
  #[napi(getter)]
  pub fn buffer_size(&self) -> f64 {
    self.side.core.buffer_size.load(SeqCst) as f64
  }

  /// While no `lowWaterMark` was given, setting `bufferSize` moves it too (a quarter of it).
  #[napi(setter, ts_args_type = "value: number")]
  pub fn set_buffer_size(&self, env: Env, value: Unknown<'_>) -> Result<()> {
    let value = number_property(env.raw(), value.raw(), "bufferSize")?;
    let side = &self.side;
    let auto = side.low_water_auto.get();
    let low = if auto && value.is_finite() && value >= 0.0 {
      flow::default_low_water(value, side.zero_copy)
    } else {
      side.core.low_water.load(SeqCst) as f64
    };
    let (b, _) = flow::validate_marks(value, low.min(value.max(0.0)))
      .map_err(|m| js::throw(env.raw(), ErrorClass::RangeError, "ERR_OUT_OF_RANGE", m))?;
    if (b as f64) < low {
      return Err(js::throw(env.raw(), ErrorClass::RangeError, "ERR_OUT_OF_RANGE", "bufferSize must not be below lowWaterMark"));
    }
    // Lowered first, so that the level never sits between a new mark and an old resume point.
    if auto {
      side.core.low_water.store(low as u64, SeqCst);
    }
    side.core.buffer_size.store(b, SeqCst);
    Ok(())
  }

  /// Resume threshold in bytes. Default a quarter of `bufferSize` (256 KiB at the default 1 MiB),
  /// following `bufferSize` until set; 0 with `zeroCopy` (and in Twisted: resume when empty).
  #[napi(getter)]
  pub fn low_water_mark(&self) -> f64 {
    self.side.core.low_water.load(SeqCst) as f64
  }

  #[napi(setter, ts_args_type = "value: number")]
  pub fn set_low_water_mark(&self, env: Env, value: Unknown<'_>) -> Result<()> {
    let value = number_property(env.raw(), value.raw(), "lowWaterMark")?;
    let size = self.side.core.buffer_size.load(SeqCst) as f64;
    let (_, l) = flow::validate_marks(size, value).map_err(|m| js::throw(env.raw(), ErrorClass::RangeError, "ERR_OUT_OF_RANGE", m))?;
    self.side.core.low_water.store(l, SeqCst);
    self.side.low_water_auto.set(false);
    Ok(())
  }

  /// Bytes accepted by `write` and not yet handed to the kernel (0 once the connection ended).
  #[napi(getter)]
  pub fn buffered_amount(&self) -> f64 {
    self.side.core.buffered() as f64
  }

  /// Writes are accepted (true until the connection ends or is aborted).
  #[napi(getter)]
  pub fn connected(&self) -> bool {
    self.side.core.accepting()
  }

  /// `loseConnection()` was called and the close is pending.
  #[napi(getter)]
  pub fn disconnecting(&self) -> bool {
    let state = self.side.core.state();
    state == crate::core::DISCONNECTING || (self.side.lose_requested.get() && state == crate::core::OPEN)
  }

  /// The reason the connection ended, once `onConnectionLost` has been called; else null.
  #[napi(getter, ts_return_type = "ConnectionLostReason | null")]
  pub fn lost_reason(&self, env: Env) -> Result<Unknown<'_>> {
    value_or_null(env.raw(), self.side.slots.get(REASON))
  }

  /// The delivered reason, if any (for `write_file`).
  pub(crate) fn lost_reason_value(&self, _env: js::Env) -> Option<js::Value> {
    self.side.slots.get(REASON)
  }

  #[napi(getter, ts_return_type = "((reason: ConnectionLostReason) => void) | null")]
  pub fn on_connection_lost(&self, env: Env) -> Result<Unknown<'_>> {
    value_or_null(env.raw(), self.side.slots.get(ON_LOST))
  }

  #[napi(setter, ts_args_type = "callback: ((reason: ConnectionLostReason) => void) | null | undefined")]
  pub fn set_on_connection_lost(&self, env: Env, callback: Unknown<'_>) -> Result<()> {
    self.side.set_callback(env.raw(), ON_LOST, callback.raw(), "onConnectionLost")
  }

  #[napi(getter, ts_return_type = "(() => void) | null")]
  pub fn on_drain(&self, env: Env) -> Result<Unknown<'_>> {
    value_or_null(env.raw(), self.side.slots.get(ON_DRAIN))
  }

  #[napi(setter, ts_args_type = "callback: (() => void) | null | undefined")]
  pub fn set_on_drain(&self, env: Env, callback: Unknown<'_>) -> Result<()> {
    self.side.set_callback(env.raw(), ON_DRAIN, callback.raw(), "onDrain")
  }

  /// Queue a copy of `data`'s bytes (Buffer, any TypedArray, DataView or ArrayBuffer) and return
  /// at once: false once `bufferedAmount > bufferSize` (keep writing and nothing is lost, but
  /// memory grows), or when the connection has ended (the bytes are then counted in
  /// `stats().bytesDropped`; this never throws for a closed writer). Anything else throws a
  /// `TypeError` with code `ERR_INVALID_ARG_TYPE` and queues nothing.
  #[napi(ts_args_type = "data: ArrayBufferView | ArrayBuffer")]
  pub fn write(&self, env: Env, data: Unknown<'_>) -> Result<bool> {
    let e = env.raw();
    let v = data.raw();
    self.side.check_detached(e, false);
    match js::view_bytes(e, v)? {
      Some(bytes) if bytes.len() >= BY_REFERENCE_MIN && js::is_uint8_array(e, v) => {
        let shared = unsafe { Uint8Array::from_napi_value(e, v)? };
        let buffer = JsRef::new(e, js::typedarray_buffer(e, v)?)?;
        let core = &self.side.core;
        let end = core.accepted.load(SeqCst) + bytes.len() as u64;
        let ok = self.side.write_with(e, bytes.len(), move |q, _| q.push_shared(Box::new(JsBytes(shared))));
        if core.accepting() && core.accepted.load(SeqCst) >= end {
          self.side.by_ref.borrow_mut().push_back((end, buffer));
        } else {
          buffer.delete(e);
        }
        Ok(ok)
      }
      Some(bytes) => Ok(self.side.write_slices(e, &[bytes])),
      None => {
        let msg = format!(
          "The \"data\" argument must be an instance of Buffer, TypedArray, DataView or ArrayBuffer. Received {}",
          js::describe(e, v)
        );
        Err(js::throw(e, ErrorClass::TypeError, "ERR_INVALID_ARG_TYPE", &msg))
      }
    }
  }

  /// For the JavaScript class's small-write fast path (`lib/process-writer.ts`), not for direct
  /// use: queue a copy of `slab` (the staged small writes, under 32 KiB; may be empty) as
  /// `write` does, and return how many bytes the next slab may take without crossing
  /// `bufferSize` (at most `max_room`), or -1 once the writer no longer accepts writes. One call
  /// per slab instead of `write`, `connected` and `bufferedAmount`: each call into the binding
  /// costs about 300 ns here, a tenth of a 16 KiB slab's time at 4 KiB writes.
  /// Left out of `index.d.ts` (not public API); `lib/process-writer.ts` types it for itself.
  #[napi(js_name = "_handOver", skip_typescript)]
  pub fn hand_over(&self, env: Env, slab: Unknown<'_>, max_room: f64) -> Result<f64> {
    let e = env.raw();
    let core = &self.side.core;
    match js::view_bytes(e, slab.raw())? {
      // Staged while the writer was open: the writes returned true, so a writer that ended
      // meanwhile counts the bytes as unwritten (`Core::accept_unwritten`), not dropped.
      Some(bytes) if !bytes.is_empty() && !core.accepting() => core.accept_unwritten(bytes.len() as u64),
      Some(bytes) if bytes.len() < BY_REFERENCE_MIN => {
        // `dropped` moves only on this thread: if it grew, the writer ended between the check
        // above and the enqueue. Those bytes were staged while open too.
        let dropped = core.dropped.load(SeqCst);
        self.side.write_slices(e, &[bytes]);
        let refused = core.dropped.load(SeqCst) - dropped;
        if refused > 0 {
          core.dropped.fetch_sub(refused, SeqCst);
          core.accept_unwritten(refused);
        }
      }
      _ => return Err(js::throw(e, ErrorClass::TypeError, "ERR_INVALID_ARG_TYPE", "_handOver takes a staged slab")),
    };
    if !core.accepting() {
      return Ok(-1.0);
    }
    let room = core.buffer_size.load(SeqCst).saturating_sub(core.buffered());
    Ok((room as f64).min(max_room))
  }

  /// Queue every chunk of an iterable (consumed once). All chunks are checked before any is
  /// queued: one bad element throws `ERR_INVALID_ARG_TYPE` and nothing is queued.
  #[napi(ts_args_type = "chunks: Iterable<ArrayBufferView | ArrayBuffer>")]
  pub fn write_sequence(&self, env: Env, chunks: Unknown<'_>) -> Result<bool> {
    let e = env.raw();
    let items = crate::iterate::collect(e, chunks.raw())?;
    let mut slices = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
      match js::view_bytes(e, *item)? {
        Some(b) => slices.push(b),
        None => {
          let msg = format!(
            "The \"chunks[{i}]\" element must be an instance of Buffer, TypedArray, DataView or ArrayBuffer. Received {}",
            js::describe(e, *item)
          );
          return Err(js::throw(e, ErrorClass::TypeError, "ERR_INVALID_ARG_TYPE", &msg));
        }
      }
    }
    Ok(self.side.write_slices(e, &slices))
  }

  /// Flush everything buffered, then close the fd (reason `DONE`); Twisted's `closeStdin`.
  /// The close is not started before the current JS turn ends, so writes made after this call
  /// in the same turn are delivered too (as in Twisted). A pull producer, or a paused push
  /// producer, is resumed on drain instead and the close waits until it is unregistered (or,
  /// for a push producer, until the next drain). Keeps the process alive until the close.
  #[napi]
  pub fn lose_connection(&self, env: Env) {
    let side = &self.side;
    if side.lose_requested.get() || side.core.state() != crate::core::OPEN {
      if !side.has_reason.get() && !side.core.accepting() {
        side.hold(env.raw()); // a loss is on its way: deliver it before the process may exit
      }
      return;
    }
    side.lose_requested.set(true);
    side.hold(env.raw());
    side.core.post(Event::CommitLoseConnection);
  }

  /// Keep the process alive until the connection ends, even while the writer is idle (as
  /// Node's `handle.ref()`); use it while awaiting `onConnectionLost`. By default a writer
  /// holds the process only while busy: data buffered, or a close or abort on its way.
  #[napi(js_name = "ref")]
  pub fn ref_(&self, env: Env) -> &Self {
    if self.side.core.accepting() || !self.side.has_reason.get() {
      self.side.user_ref.set(true);
      self.side.hold(env.raw());
      self.side.retain();
    }
    self
  }

  /// Undo `ref()`: an idle writer no longer keeps the process alive.
  #[napi]
  pub fn unref(&self, env: Env) -> &Self {
    self.side.user_ref.set(false);
    self.side.retain();
    if self.side.core.accepting() && !self.side.lose_requested.get() && self.side.core.idle() {
      self.side.unhold(env.raw());
    }
    self
  }

  /// Same as `loseConnection()`: a pipe cannot be half-closed (Twisted's quirk Q9 is not kept).
  #[napi]
  pub fn lose_write_connection(&self, env: Env) {
    self.lose_connection(env)
  }

  /// Drop whatever is buffered and close now (reason `ABORTED`, delivered asynchronously).
  #[napi]
  pub fn abort_connection(&self, env: Env) {
    let side = &self.side;
    side.core.abort(LostCode::Aborted, true);
    // Whether this abort or an earlier loss ends it, keep the process alive until the
    // reason has been delivered.
    if !side.has_reason.get() {
      side.hold(env.raw());
    }
  }

  /// Register a producer. Push (`streaming: true`): paused when the buffer goes over
  /// `bufferSize`, resumed at `lowWaterMark`. Pull (`streaming: false`): `resumeProducing()` is
  /// called now, then each time the buffer falls to `lowWaterMark`. Either gets
  /// `stopProducing()` once when the connection ends. Throws `ERR_PRODUCER_ALREADY_REGISTERED`
  /// when one is registered; on a closed writer calls `stopProducing()` at once.
  #[napi(ts_args_type = "producer: PushProducer | PullProducer, streaming: boolean")]
  pub fn register_producer(&self, env: Env, producer: Unknown<'_>, streaming: Unknown<'_>) -> Result<()> {
    let e = env.raw();
    let p = producer.raw();
    let streaming = js::required_bool(e, streaming.raw(), "streaming")?;
    let needed: &[&str] = if streaming {
      &["pauseProducing", "resumeProducing", "stopProducing"]
    } else {
      &["resumeProducing", "stopProducing"]
    };
    let is_object = matches!(js::type_of(e, p), sys::ValueType::napi_object | sys::ValueType::napi_function);
    for m in needed {
      if !is_object || !js::is_function(e, js::get_named(e, p, m)?) {
        let msg = format!("The \"producer\" argument must have a {m}() method. Received {}", js::describe(e, p));
        return Err(js::throw(e, ErrorClass::TypeError, "ERR_INVALID_ARG_TYPE", &msg));
      }
    }
    let side = &self.side;
    if side.producer.get().is_some() {
      return Err(js::throw(
        e,
        ErrorClass::Error,
        "ERR_PRODUCER_ALREADY_REGISTERED",
        "Cannot register a producer: the one registered before was never unregistered",
      ));
    }
    if !side.core.accepting() {
      if let Err(exc) = js::call_method(e, p, "stopProducing") {
        js::warn(e, "producer.stopProducing", exc);
      }
      return Ok(());
    }
    side.slots.set(PRODUCER, Some(p));
    side.producer.set(Some(streaming));
    side.paused.set(false);
    side.publish_waits();
    if !streaming {
      side.call_producer(e, "resumeProducing");
    }
    Ok(())
  }

  /// Stop consuming from the producer without disconnecting. Lets a pending close complete.
  #[napi]
  pub fn unregister_producer(&self, _env: Env) {
    let side = &self.side;
    if side.producer.take().is_some() {
      side.slots.set(PRODUCER, None);
    }
    side.paused.set(false);
    side.publish_waits();
    if side.core.state() == crate::core::DISCONNECTING {
      side.core.schedule();
    }
  }

  /// `unregisterProducer()` then `loseConnection()`.
  #[napi]
  pub fn stop_consuming(&self, env: Env) {
    self.unregister_producer(env);
    self.lose_connection(env);
  }

  /// Counters: bytes accepted, written, dropped (offered after the close), unwritten
  /// (discarded at the close), buffered; write calls, syscalls, backpressure episodes, time
  /// spent over `bufferSize`, drains awaited, pipe capacity and transport.
  #[napi(ts_return_type = "WriterStats")]
  pub fn stats(&self, env: Env) -> Result<Unknown<'_>> {
    let e = env.raw();
    let side = &self.side;
    let c = &side.core;
    let o = js::object(e)?;
    let mut paused_ms = side.paused_ms.get();
    if let Some(t) = side.over_since.get() {
      paused_ms += t.elapsed().as_secs_f64() * 1000.0;
    }
    let fields: [(&str, f64); 12] = [
      ("bytesAccepted", (c.accepted.load(SeqCst) + c.source_moved.load(SeqCst)) as f64),
      ("bytesWritten", c.bytes_written() as f64),
      ("bytesDropped", c.dropped.load(SeqCst) as f64),
      ("bytesUnwritten", c.unwritten.load(SeqCst) as f64),
      ("bytesBuffered", c.buffered() as f64),
      ("writes", c.writes.load(SeqCst) as f64),
      ("syscalls", c.syscalls.load(SeqCst) as f64),
      ("pauses", side.pauses.get() as f64),
      ("resumes", side.resumes.get() as f64),
      ("pausedMs", paused_ms),
      ("drainsAwaited", side.drains_awaited.get() as f64),
      ("pipeCapacity", c.pipe_capacity.load(SeqCst) as f64),
    ];
    for (k, v) in fields {
      js::set_named(e, o, k, js::number(e, v))?;
    }
    js::set_named(e, o, "transport", js::string(e, c.kind.as_str()))?;
    unsafe { Unknown::from_napi_value(e, o) }
  }
}

/// Test hook (the fault suite): how many writers' native cores are not freed yet, in this
/// process. Left out of `index.d.ts`.
#[napi(js_name = "_liveCores", skip_typescript)]
pub fn live_cores() -> f64 {
  crate::core::LIVE.load(SeqCst) as f64
}

impl Drop for ProcessWriter {
  /// Garbage collected while open: flush what is buffered, then close (no fd is leaked).
  /// Collected while open: nothing can unregister its producer any more, so none may hold the
  /// close back; what is buffered is flushed, then the fd is closed (see [`Slots`] for which
  /// callbacks are still called).
  fn drop(&mut self) {
    let side = &self.side;
    side.producer.set(None);
    side.paused.set(false);
    side.need_drain.set(false);
    side.publish_waits();
    side.core.lose_connection();
  }
}

/// The error a source's Promise rejects with when the connection ended first: `code` and
/// `message` are the reason's, `reason` is the reason itself, `bytesWritten` what the source
/// moved before the end.
pub(crate) fn moved_error(env: js::Env, reason: js::Value, moved: u64) -> js::Value {
  // The reason is our own plain object; a failure (a throwing getter someone put on
  // `Object.prototype`) leaves the field out rather than an exception pending.
  let field = |name: &str| match js::get_named(env, reason, name) {
    Ok(v) => js::read_string(env, v),
    Err(_) => {
      js::take_exception(env);
      String::new()
    }
  };
  let (code, message) = (field("code"), field("message"));
  let err = js::make_error(env, ErrorClass::Error, &code, &message);
  for (name, v) in [("reason", reason), ("bytesWritten", js::number(env, moved as f64))] {
    if js::set_named(env, err, name, v).is_err() {
      js::take_exception(env);
    }
  }
  err
}
