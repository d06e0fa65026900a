//! The JS thread's side of a writer: its state, the delivery of the I/O thread's events, and
//! the callbacks napi calls (the thread-safe function's and the env cleanup hook).

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

use crate::core::{Core, Event, Lost, LostCode};
use crate::flow::{self, Producer};
use crate::js::{self, ErrorClass, JsRef};
use crate::queue::WriteQueue;
use crate::sys as os;

use super::moved_error;
use super::options::check_callback;
use super::slots::{Slots, CAUSE, ON_DRAIN, ON_LOST, PRODUCER, REASON};

/// The longest the JS thread waits for a write announced as completing a drain
/// (`Core::expect_drain`; such writes are at most `flow::ANNOUNCE_MAX_BYTES`).
const EXPECTED_DRAIN_WAIT: std::time::Duration = std::time::Duration::from_micros(100);

/// Everything the JS thread keeps about a writer. Shared (`Rc`) by the class instance, the
/// thread-safe function's context and the env cleanup hook; touched only on the JS thread.
pub struct JsSide {
  pub(crate) core: Arc<Core>,
  /// By-reference chunks not known to be written yet: where each ends in the stream of
  /// accepted bytes, and its ArrayBuffer (see `check_detached`).
  pub(super) by_ref: RefCell<VecDeque<(u64, JsRef)>>,
  /// The connection was ended because such a chunk's ArrayBuffer was detached.
  pub(super) detached_found: Cell<bool>,
  /// A producer is registered (in `slots`), and whether it is streaming (push).
  pub(super) producer: Cell<Option<bool>>,
  pub(super) paused: Cell<bool>,
  /// A write returned false and `onDrain` has not been called since.
  pub(super) need_drain: Cell<bool>,
  pub(super) over_since: Cell<Option<Instant>>,
  pub(super) paused_ms: Cell<f64>,
  pub(super) pauses: Cell<u64>,
  pub(super) resumes: Cell<u64>,
  /// Drains delivered by waiting for the I/O thread's write in progress (`dispatch`).
  pub(super) drains_awaited: Cell<u64>,
  /// `onConnectionLost`, `onDrain`, the producer, the reason and the cause (see [`Slots`]).
  pub(super) slots: Slots,
  /// The reason has been delivered (it is in `slots` while the writer lives).
  pub(super) has_reason: Cell<bool>,
  pub(super) tsfn: Cell<sys::napi_threadsafe_function>,
  /// The pointer handed to the env cleanup hook (null once the hook is gone).
  pub(super) hook_arg: Cell<*const JsSide>,
  /// The thread-safe function is ref'd: the process stays alive while this writer is busy
  /// (data buffered, a close or an abort on its way), so no write and no `onConnectionLost`
  /// is lost to a natural exit. An idle writer does not hold the process.
  pub(super) refed: Cell<bool>,
  /// `ref()` was called: hold the process until the connection ends, busy or not.
  pub(super) user_ref: Cell<bool>,
  /// `loseConnection()` was called; it is handed to the I/O thread in a later turn.
  pub(super) lose_requested: Cell<bool>,
  /// The Promises of queued sources (`writeFile`), by source id.
  pub(crate) sources: RefCell<Vec<(u64, sys::napi_deferred)>>,
  /// No `lowWaterMark` was given: it follows `bufferSize` ([`flow::default_low_water`]).
  pub(super) low_water_auto: Cell<bool>,
  pub(super) zero_copy: bool,
}

pub(super) unsafe extern "C" fn call_js(env: sys::napi_env, _cb: sys::napi_value, context: *mut c_void, _data: *mut c_void) {
  if env.is_null() || context.is_null() {
    return;
  }
  let side = &*(context as *const JsSide);
  side.dispatch(env);
}

pub(super) unsafe extern "C" fn tsfn_finalize(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
  drop(Rc::from_raw(data as *const JsSide));
}

pub(super) unsafe extern "C" fn env_cleanup(arg: *mut c_void) {
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
  pub(super) fn retain(&self) {
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

  pub(super) fn unhold(&self, env: js::Env) {
    let tsfn = self.tsfn.get();
    if !tsfn.is_null() && self.refed.replace(false) {
      unsafe { sys::napi_unref_threadsafe_function(env, tsfn) };
      self.retain();
    }
  }

  /// Tell the I/O thread what waits on this writer: whether a close is held off (a pull or a
  /// paused push producer), and whether JS waits for the next drain (that, or a write
  /// returned false). Called whenever either changes.
  pub(super) fn publish_waits(&self) {
    let producer = self.producer_kind();
    self.core.close_blocked.store(flow::close_blocked(producer), SeqCst);
    self.core.drain_awaited.store(flow::drain_awaited(producer, self.need_drain.get()), SeqCst);
  }

  /// Call a method of the registered producer; a throw ends the connection (PRODUCER_ERROR).
  pub(super) fn call_producer(&self, env: js::Env, method: &str) {
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
  pub(super) fn write_slices(&self, env: js::Env, slices: &[&[u8]]) -> bool {
    let total: usize = slices.iter().map(|s| s.len()).sum();
    self.write_with(env, total, |q, spare| {
      for s in slices {
        q.push_copy(s, spare);
      }
    })
  }

  /// Queue `total` bytes through `fill`, then apply the flow-control decision.
  pub(super) fn write_with(&self, env: js::Env, total: usize, fill: impl FnOnce(&mut WriteQueue, &mut Vec<Vec<u8>>)) -> bool {
    let core = &self.core;
    if total == 0 {
      return core.accepting() && core.buffered() <= core.buffer_size.load(SeqCst);
    }
    if self.low_water_auto.get() && !self.zero_copy {
      // Before the enqueue: the I/O thread may fire the drain as soon as the bytes are queued.
      let large = total as u64 > core.low_water.load(SeqCst);
      core.lift.store(if large { total as u64 } else { 0 }, SeqCst);
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
  pub(super) fn check_detached(&self, env: js::Env, all: bool) {
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
    let d = flow::on_drain(core.buffered(), core.resume_level(), self.producer_kind(), self.need_drain.get());
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
  pub(super) fn finish(&self, env: js::Env) {
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
  pub(super) fn release_callbacks(&self, mode: sys::napi_threadsafe_function_release_mode) {
    self.core.set_notifier(None);
    let tsfn = self.tsfn.replace(ptr::null_mut());
    if !tsfn.is_null() {
      unsafe { sys::napi_release_threadsafe_function(tsfn, mode) };
    }
  }

  pub(super) fn set_callback(&self, env: js::Env, slot: u32, v: js::Value, name: &str) -> Result<()> {
    check_callback(env, v, name)?;
    self.slots.set(slot, (!js::is_nullish(env, v)).then_some(v));
    Ok(())
  }
}
