//! Where a writer keeps its JS values (see [`Slots`]).

use std::cell::Cell;
use std::ptr;

use napi::bindgen_prelude::*;
use napi::sys;

use crate::js;

// The slots of the array (see [`Slots`]).
pub(super) const ON_LOST: u32 = 0;
pub(super) const ON_DRAIN: u32 = 1;
pub(super) const PRODUCER: u32 = 2;
pub(super) const REASON: u32 = 3;
pub(super) const CAUSE: u32 = 4;

/// Where a writer keeps its JS values (`onConnectionLost`, `onDrain`, the producer, the reason,
/// the cause): an array stored on the writer object itself, under a symbol, so that they are
/// reachable through the writer and not from a GC root of ours. Our reference to the array is
/// strong only while the writer is held (`JsSide::retain`: busy, or `ref()`, and not ended):
/// then a callback is delivered even if nothing else references the writer or its callbacks.
/// Otherwise it is weak: a callback that mentions the writer does not keep it alive, an ended
/// writer is collectable with everything it references, and a writer collected while open is
/// closed (flushed, `Drop for ProcessWriter`) without calling callbacks that went with it.
pub(super) struct Slots {
  env: js::Env,
  /// Null once deleted (never while the env lives, unless the constructor failed).
  array: Cell<sys::napi_ref>,
  strong: Cell<bool>,
  /// The env is being torn down: leave the reference to it.
  pub(super) torn_down: Cell<bool>,
}

impl Slots {
  pub(super) fn new(env: js::Env) -> Result<(Slots, js::Value)> {
    let mut a = ptr::null_mut();
    js::check(env, unsafe { sys::napi_create_array_with_length(env, 5, &mut a) })?;
    let mut r = ptr::null_mut();
    js::check(env, unsafe { sys::napi_create_reference(env, a, 0, &mut r) })?;
    Ok((Slots { env, array: Cell::new(r), strong: Cell::new(false), torn_down: Cell::new(false) }, a))
  }

  /// The array, or None once the writer (and with it the array) was collected.
  pub(super) fn array(&self) -> Option<js::Value> {
    let r = self.array.get();
    if r.is_null() {
      return None;
    }
    let mut a = ptr::null_mut();
    unsafe { sys::napi_get_reference_value(self.env, r, &mut a) };
    (!a.is_null()).then_some(a)
  }

  /// The value in slot `i`; None when empty (null or undefined) or gone with the writer.
  pub(super) fn get(&self, i: u32) -> Option<js::Value> {
    let a = self.array()?;
    let mut v = ptr::null_mut();
    let status = unsafe { sys::napi_get_element(self.env, a, i, &mut v) };
    (status == sys::Status::napi_ok && !v.is_null() && !js::is_nullish(self.env, v)).then_some(v)
  }

  pub(super) fn set(&self, i: u32, v: Option<js::Value>) {
    if let Some(a) = self.array() {
      let v = v.unwrap_or_else(|| js::undefined(self.env));
      unsafe { sys::napi_set_element(self.env, a, i, v) };
    }
  }

  pub(super) fn set_strong(&self, strong: bool) {
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
