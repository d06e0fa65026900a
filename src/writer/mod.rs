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
//!
//! Layout: this module holds the class; `js_side` the JS thread's state and the delivery of
//! events, `slots` where the JS values are kept, `options` the checking of options and
//! assigned properties.

mod js_side;
mod options;
mod slots;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::ffi::c_void;
use std::ptr;
use std::rc::Rc;
use std::sync::atomic::Ordering::SeqCst;

use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;

use crate::core::{Core, CoreConfig, Event, LostCode};
use crate::flow::{self};
use crate::js::{self, ErrorClass, JsRef};
use crate::queue::{SharedBytes, SLAB_SIZE};
use crate::read_hack::{self, AccessMode, FdKind, Os};
use crate::sys as os;

use js_side::{call_js, env_cleanup, tsfn_finalize, JsSide};
pub use options::pipe_size_option;
use options::{check_callback, number_property, read_options, value_or_null};
use slots::{Slots, ON_DRAIN, ON_LOST, PRODUCER, REASON};

/// `Buffer`/`Uint8Array` chunks this large are queued by reference, not copied: like Node's
/// streams, the caller must not modify such a chunk until it is written.
pub const BY_REFERENCE_MIN: usize = SLAB_SIZE / 2;

/// A JS `Uint8Array` (or `Buffer`) kept alive while queued; napi-rs releases the reference on
/// the JS thread when it is dropped on the I/O thread.
struct JsBytes(Uint8Array);

impl SharedBytes for JsBytes {
  fn bytes(&self) -> &[u8] {
    &self.0
  }
}

struct SendPtr(sys::napi_threadsafe_function);
unsafe impl Send for SendPtr {}

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
      return Err(js::throw_invalid_arg_type(e, &msg));
    }
    let n = js::get_f64(e, fd_v);
    if !(n.is_finite() && n >= 0.0 && n <= i32::MAX as f64 && n.fract() == 0.0) {
      let msg = format!("The value of \"fd\" is out of range. It must be a whole number from 0 to 2147483647. Received {n}");
      return Err(js::throw_out_of_range(e, &msg));
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
      flow::validate_marks(size, low).map_err(|m| js::throw_out_of_range(e, m))?;
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
  /// `bufferedAmount` exceeds it. Default 768 KiB (16 MiB with `zeroCopy`); Twisted's is 65536.
  #[napi(getter)]
  pub fn buffer_size(&self) -> f64 {
    self.side.core.buffer_size.load(SeqCst) as f64
  }

  /// While no `lowWaterMark` was given, setting `bufferSize` moves it too (half of it).
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
      .map_err(|m| js::throw_out_of_range(env.raw(), m))?;
    if (b as f64) < low {
      return Err(js::throw_out_of_range(env.raw(), "bufferSize must not be below lowWaterMark"));
    }
    // Lowered first, so that the level never sits between a new mark and an old resume point.
    if auto {
      side.core.low_water.store(low as u64, SeqCst);
    }
    side.core.buffer_size.store(b, SeqCst);
    Ok(())
  }

  /// Resume threshold in bytes. Default half of `bufferSize` (384 KiB at the default 768 KiB),
  /// following `bufferSize` until set; 0 with `zeroCopy` (and in Twisted: resume when empty).
  /// While it is the default, a write larger than it resumes the producer (and calls
  /// `onDrain`) once the queue falls to that write's size, at most `bufferSize`; this getter
  /// still gives the mark itself. A mark that is set is kept exactly.
  #[napi(getter)]
  pub fn low_water_mark(&self) -> f64 {
    self.side.core.low_water.load(SeqCst) as f64
  }

  #[napi(setter, ts_args_type = "value: number")]
  pub fn set_low_water_mark(&self, env: Env, value: Unknown<'_>) -> Result<()> {
    let value = number_property(env.raw(), value.raw(), "lowWaterMark")?;
    let size = self.side.core.buffer_size.load(SeqCst) as f64;
    let (_, l) = flow::validate_marks(size, value).map_err(|m| js::throw_out_of_range(env.raw(), m))?;
    self.side.core.low_water.store(l, SeqCst);
    self.side.core.lift.store(0, SeqCst);
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
  /// memory grows), the level taken as the bytes are queued, before the I/O thread can send any
  /// of them (so a write larger than `bufferSize` always returns false, as in Twisted), or when
  /// the connection has ended (the bytes are then counted in
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
        Err(js::throw_invalid_arg_type(e, &msg))
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
      _ => return Err(js::throw_invalid_arg_type(e, "_handOver takes a staged slab")),
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
          return Err(js::throw_invalid_arg_type(e, &msg));
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
        return Err(js::throw_invalid_arg_type(e, &msg));
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
#[cfg_attr(test, allow(dead_code))] // registered with napi, never called from Rust
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
