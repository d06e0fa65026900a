//! Small, raw N-API helpers for what the binding needs beyond napi-rs's typed arguments:
//! reading byte views of any kind, typed errors with Node-style codes, references that outlive
//! a call, and calling user callbacks without letting a throw escape as a fatal exception.
//!
//! Every function here runs on the JS thread of `env`.

use std::ffi::CString;
use std::ptr;

use napi::sys;
use napi::{Error, Result, Status};

pub type Env = sys::napi_env;
pub type Value = sys::napi_value;

/// The error classes we throw.
#[derive(Clone, Copy)]
pub enum ErrorClass {
  Error,
  TypeError,
  RangeError,
}

fn js_string(env: Env, s: &str) -> Value {
  let mut v = ptr::null_mut();
  unsafe { sys::napi_create_string_utf8(env, s.as_ptr().cast(), s.len() as isize, &mut v) };
  v
}

/// Build an error object with `.code`.
pub fn make_error(env: Env, class: ErrorClass, code: &str, msg: &str) -> Value {
  let (code_v, msg_v) = (js_string(env, code), js_string(env, msg));
  let mut err = ptr::null_mut();
  unsafe {
    match class {
      ErrorClass::Error => sys::napi_create_error(env, code_v, msg_v, &mut err),
      ErrorClass::TypeError => sys::napi_create_type_error(env, code_v, msg_v, &mut err),
      ErrorClass::RangeError => sys::napi_create_range_error(env, code_v, msg_v, &mut err),
    };
  }
  err
}

/// Throw an error with `.code` and return the napi-rs error that tells the glue code an
/// exception is already pending.
pub fn throw(env: Env, class: ErrorClass, code: &str, msg: &str) -> Error {
  let err = make_error(env, class, code, msg);
  unsafe { sys::napi_throw(env, err) };
  Error::new(Status::PendingException, msg.to_string())
}

pub fn type_of(env: Env, v: Value) -> sys::napi_valuetype {
  let mut t = 0;
  unsafe { sys::napi_typeof(env, v, &mut t) };
  t
}

/// A short description of a value for error messages, as Node's `ERR_INVALID_ARG_TYPE` gives.
pub fn describe(env: Env, v: Value) -> String {
  match type_of(env, v) {
    sys::ValueType::napi_undefined => "undefined".into(),
    sys::ValueType::napi_null => "null".into(),
    sys::ValueType::napi_boolean => "type boolean".into(),
    sys::ValueType::napi_number => "type number".into(),
    sys::ValueType::napi_string => "type string".into(),
    sys::ValueType::napi_symbol => "type symbol".into(),
    sys::ValueType::napi_function => "type function".into(),
    sys::ValueType::napi_bigint => "type bigint".into(),
    _ => {
      let mut is_array = false;
      unsafe { sys::napi_is_array(env, v, &mut is_array) };
      if is_array { "an Array".into() } else { "an Object".into() }
    }
  }
}

/// The bytes of a Buffer, any TypedArray, a DataView or an ArrayBuffer, without copying.
/// `Ok(None)` when the value is none of those; an error (thrown) when its buffer is detached.
/// The slice is valid until the end of the current call.
pub fn view_bytes<'a>(env: Env, v: Value) -> Result<Option<&'a [u8]>> {
  let mut yes = false;
  let (data, len, ab): (*mut std::ffi::c_void, usize, Value);
  unsafe {
    sys::napi_is_typedarray(env, v, &mut yes);
    if yes {
      let (mut ty, mut n, mut d, mut buf, mut off) = (0, 0usize, ptr::null_mut(), ptr::null_mut(), 0usize);
      sys::napi_get_typedarray_info(env, v, &mut ty, &mut n, &mut d, &mut buf, &mut off);
      let size = match ty {
        sys::TypedarrayType::int8_array | sys::TypedarrayType::uint8_array | sys::TypedarrayType::uint8_clamped_array => 1,
        sys::TypedarrayType::int16_array | sys::TypedarrayType::uint16_array => 2,
        sys::TypedarrayType::int32_array | sys::TypedarrayType::uint32_array | sys::TypedarrayType::float32_array => 4,
        _ => 8,
      };
      (data, len, ab) = (d, n * size, buf);
    } else {
      sys::napi_is_dataview(env, v, &mut yes);
      if yes {
        let (mut n, mut d, mut buf, mut off) = (0usize, ptr::null_mut(), ptr::null_mut(), 0usize);
        sys::napi_get_dataview_info(env, v, &mut n, &mut d, &mut buf, &mut off);
        (data, len, ab) = (d, n, buf);
      } else {
        sys::napi_is_arraybuffer(env, v, &mut yes);
        if !yes {
          return Ok(None);
        }
        let (mut d, mut n) = (ptr::null_mut(), 0usize);
        sys::napi_get_arraybuffer_info(env, v, &mut d, &mut n);
        (data, len, ab) = (d, n, v);
      }
    }
    let mut detached = false;
    if !ab.is_null() {
      sys::napi_is_detached_arraybuffer(env, ab, &mut detached);
    }
    if detached {
      return Err(throw(env, ErrorClass::TypeError, "ERR_INVALID_STATE", "The data's ArrayBuffer is detached"));
    }
    if len == 0 || data.is_null() {
      return Ok(Some(&[]));
    }
    Ok(Some(std::slice::from_raw_parts(data as *const u8, len)))
  }
}

/// A `Uint8Array` (a `Buffer` is one).
pub fn is_uint8_array(env: Env, v: Value) -> bool {
  let mut yes = false;
  unsafe { sys::napi_is_typedarray(env, v, &mut yes) };
  if !yes {
    return false;
  }
  let (mut ty, mut n, mut d, mut buf, mut off) = (0, 0usize, ptr::null_mut(), ptr::null_mut(), 0usize);
  unsafe { sys::napi_get_typedarray_info(env, v, &mut ty, &mut n, &mut d, &mut buf, &mut off) };
  ty == sys::TypedarrayType::uint8_array
}

/// A strong reference to a JS value, deleted explicitly with [`JsRef::delete`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JsRef(sys::napi_ref);

impl JsRef {
  pub fn new(env: Env, v: Value) -> JsRef {
    let mut r = ptr::null_mut();
    unsafe { sys::napi_create_reference(env, v, 1, &mut r) };
    JsRef(r)
  }
  pub fn get(self, env: Env) -> Value {
    let mut v = ptr::null_mut();
    unsafe { sys::napi_get_reference_value(env, self.0, &mut v) };
    v
  }
  pub fn delete(self, env: Env) {
    unsafe { sys::napi_delete_reference(env, self.0) };
  }
}

pub fn get_named(env: Env, obj: Value, name: &str) -> Value {
  let c = CString::new(name).unwrap();
  let mut v = ptr::null_mut();
  unsafe { sys::napi_get_named_property(env, obj, c.as_ptr(), &mut v) };
  v
}

pub fn set_named(env: Env, obj: Value, name: &str, v: Value) {
  let c = CString::new(name).unwrap();
  unsafe { sys::napi_set_named_property(env, obj, c.as_ptr(), v) };
}

pub fn undefined(env: Env) -> Value {
  let mut v = ptr::null_mut();
  unsafe { sys::napi_get_undefined(env, &mut v) };
  v
}

pub fn null(env: Env) -> Value {
  let mut v = ptr::null_mut();
  unsafe { sys::napi_get_null(env, &mut v) };
  v
}

pub fn number(env: Env, n: f64) -> Value {
  let mut v = ptr::null_mut();
  unsafe { sys::napi_create_double(env, n, &mut v) };
  v
}

pub fn boolean(env: Env, b: bool) -> Value {
  let mut v = ptr::null_mut();
  unsafe { sys::napi_get_boolean(env, b, &mut v) };
  v
}

pub fn string(env: Env, s: &str) -> Value {
  js_string(env, s)
}

pub fn object(env: Env) -> Value {
  let mut v = ptr::null_mut();
  unsafe { sys::napi_create_object(env, &mut v) };
  v
}

pub fn get_f64(env: Env, v: Value) -> f64 {
  let mut n = 0.0;
  unsafe { sys::napi_get_value_double(env, v, &mut n) };
  n
}

pub fn get_bool(env: Env, v: Value) -> bool {
  let mut b = false;
  unsafe { sys::napi_get_value_bool(env, v, &mut b) };
  b
}

pub fn is_function(env: Env, v: Value) -> bool {
  !v.is_null() && type_of(env, v) == sys::ValueType::napi_function
}

pub fn is_nullish(env: Env, v: Value) -> bool {
  v.is_null() || matches!(type_of(env, v), sys::ValueType::napi_undefined | sys::ValueType::napi_null)
}

/// Call `func` with `this = recv`. A throw is caught and returned as `Err(exception)`, so it
/// never becomes a fatal exception.
pub fn call(env: Env, recv: Value, func: Value, args: &[Value]) -> std::result::Result<Value, Value> {
  let mut out = ptr::null_mut();
  let status = unsafe { sys::napi_call_function(env, recv, func, args.len(), args.as_ptr(), &mut out) };
  let mut pending = false;
  unsafe { sys::napi_is_exception_pending(env, &mut pending) };
  if pending {
    let mut exc = ptr::null_mut();
    unsafe { sys::napi_get_and_clear_last_exception(env, &mut exc) };
    return Err(exc);
  }
  if status != sys::Status::napi_ok {
    return Err(make_error(env, ErrorClass::Error, "ERR_CALLBACK_FAILED", "calling a callback failed"));
  }
  Ok(out)
}

/// Call `obj[name]()`; a missing method is an error like a throw.
pub fn call_method(env: Env, obj: Value, name: &str) -> std::result::Result<Value, Value> {
  let f = get_named(env, obj, name);
  if !is_function(env, f) {
    let msg = format!("producer.{name} is not a function");
    return Err(make_error(env, ErrorClass::Error, "ERR_INVALID_ARG_TYPE", &msg));
  }
  call(env, obj, f, &[])
}

/// Report an exception nobody can receive (thrown by `onConnectionLost` or `stopProducing`)
/// as a process warning, the way Node reports errors it cannot deliver.
pub fn warn(env: Env, what: &str, exception: Value) {
  let mut global = ptr::null_mut();
  unsafe { sys::napi_get_global(env, &mut global) };
  let process = get_named(env, global, "process");
  if is_nullish(env, process) {
    return;
  }
  let emit = get_named(env, process, "emitWarning");
  if !is_function(env, emit) {
    return;
  }
  let mut text = ptr::null_mut();
  unsafe { sys::napi_coerce_to_string(env, exception, &mut text) };
  let mut pending = false;
  unsafe { sys::napi_is_exception_pending(env, &mut pending) };
  if pending || text.is_null() {
    let mut exc = ptr::null_mut();
    unsafe { sys::napi_get_and_clear_last_exception(env, &mut exc) };
    text = string(env, "(unprintable)");
  }
  let msg = string(env, &format!("process-writer: {what} threw: {}", read_string(env, text)));
  let _ = call(env, process, emit, &[msg]);
}

pub fn read_string(env: Env, v: Value) -> String {
  let mut len = 0usize;
  unsafe { sys::napi_get_value_string_utf8(env, v, ptr::null_mut(), 0, &mut len) };
  let mut buf = vec![0u8; len + 1];
  let mut written = 0usize;
  unsafe { sys::napi_get_value_string_utf8(env, v, buf.as_mut_ptr().cast(), len + 1, &mut written) };
  buf.truncate(written);
  String::from_utf8_lossy(&buf).into_owned()
}

/// A new Promise and the deferred that settles it (once, on this thread).
pub fn promise(env: Env) -> (sys::napi_deferred, Value) {
  let (mut deferred, mut promise) = (ptr::null_mut(), ptr::null_mut());
  unsafe { sys::napi_create_promise(env, &mut deferred, &mut promise) };
  (deferred, promise)
}

/// Resolve (`ok`) or reject the Promise of `deferred` with `v`.
pub fn settle(env: Env, deferred: sys::napi_deferred, ok: bool, v: Value) {
  unsafe {
    if ok {
      sys::napi_resolve_deferred(env, deferred, v);
    } else {
      sys::napi_reject_deferred(env, deferred, v);
    }
  }
}
