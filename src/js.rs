//! Small, raw N-API helpers for what the binding needs beyond napi-rs's typed arguments:
//! reading byte views of any kind, typed errors with Node-style codes, references that outlive
//! a call, and calling user callbacks without letting a throw escape as a fatal exception.
//!
//! Every function here runs on the JS thread of `env`.
//!
//! N-API statuses: every call that can run JavaScript (property reads and writes, which may hit
//! a getter, a setter or a Proxy trap; calls; coercions; iteration) or that fails while an
//! exception is pending is checked ([`check`]), and its failure is returned as the pending
//! exception, never carried past. Left unchecked, by design, are the calls that run no
//! JavaScript and can only fail on arguments this file has already checked (`napi_typeof`, the
//! `napi_is_*` predicates, `napi_get_*_info` on a value of that kind, reference reads and
//! deletes, primitives such as numbers and booleans): their out-parameters start as safe
//! defaults (null reads as `undefined`, zero lengths as empty).

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

/// `Ok` for `napi_ok`. Otherwise the call failed: with an exception pending (a getter or a
/// Proxy trap threw, or one was already pending), report that; else throw an `Error` saying
/// which N-API status came back, so a failure never goes unnoticed.
pub fn check(env: Env, status: sys::napi_status) -> Result<()> {
  if status == sys::Status::napi_ok {
    return Ok(());
  }
  let mut pending = false;
  unsafe { sys::napi_is_exception_pending(env, &mut pending) };
  if pending {
    return Err(Error::new(Status::PendingException, "an exception is pending".to_string()));
  }
  let msg = format!("a Node-API call failed (status {status})");
  Err(throw(env, ErrorClass::Error, "ERR_NAPI_CALL_FAILED", &msg))
}

/// Clear a pending exception (if any) and return it: for code that has nobody to throw to.
pub fn take_exception(env: Env) -> Option<Value> {
  let mut pending = false;
  unsafe { sys::napi_is_exception_pending(env, &mut pending) };
  if !pending {
    return None;
  }
  let mut exc = ptr::null_mut();
  unsafe { sys::napi_get_and_clear_last_exception(env, &mut exc) };
  Some(exc)
}

/// A JS string. Only fails for lack of memory (or a string beyond V8's length limit); the
/// null it then gives is read as `undefined` by every N-API call that takes it.
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

/// Throw Node's `TypeError` `ERR_INVALID_ARG_TYPE` (a value of the wrong type) with `msg`.
pub fn throw_invalid_arg_type(env: Env, msg: &str) -> Error {
  throw(env, ErrorClass::TypeError, "ERR_INVALID_ARG_TYPE", msg)
}

/// Throw Node's `RangeError` `ERR_OUT_OF_RANGE` (a number outside what is accepted) with `msg`.
pub fn throw_out_of_range(env: Env, msg: &str) -> Error {
  throw(env, ErrorClass::RangeError, "ERR_OUT_OF_RANGE", msg)
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

/// The ArrayBuffer behind a TypedArray.
pub fn typedarray_buffer(env: Env, v: Value) -> Result<Value> {
  let (mut ty, mut n, mut d, mut buf, mut off) = (0, 0usize, ptr::null_mut(), ptr::null_mut(), 0usize);
  check(env, unsafe { sys::napi_get_typedarray_info(env, v, &mut ty, &mut n, &mut d, &mut buf, &mut off) })?;
  Ok(buf)
}

/// Whether `ab` is a detached ArrayBuffer.
pub fn is_detached(env: Env, ab: Value) -> bool {
  let mut detached = false;
  unsafe { sys::napi_is_detached_arraybuffer(env, ab, &mut detached) };
  detached
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
  pub fn new(env: Env, v: Value) -> Result<JsRef> {
    let mut r = ptr::null_mut();
    check(env, unsafe { sys::napi_create_reference(env, v, 1, &mut r) })?;
    Ok(JsRef(r))
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

/// `obj[name]`. Runs user code (a getter, a Proxy trap): a throw comes back as the pending
/// exception (`Status::PendingException`).
pub fn get_named(env: Env, obj: Value, name: &str) -> Result<Value> {
  let c = c_name(name);
  let mut v = ptr::null_mut();
  check(env, unsafe { sys::napi_get_named_property(env, obj, c.as_ptr(), &mut v) })?;
  Ok(v)
}

/// `obj[name] = v`.
pub fn set_named(env: Env, obj: Value, name: &str, v: Value) -> Result<()> {
  let c = c_name(name);
  check(env, unsafe { sys::napi_set_named_property(env, obj, c.as_ptr(), v) })
}

/// Property names are this crate's own string literals, which hold no NUL byte; one that did
/// would read as the empty name rather than panic.
fn c_name(name: &str) -> CString {
  CString::new(name).unwrap_or_default()
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

pub fn object(env: Env) -> Result<Value> {
  let mut v = ptr::null_mut();
  check(env, unsafe { sys::napi_create_object(env, &mut v) })?;
  Ok(v)
}

/// The number `v` holds (the caller checked that it is a number; anything else reads as NaN,
/// which every range check refuses).
pub fn get_f64(env: Env, v: Value) -> f64 {
  let mut n = f64::NAN;
  if unsafe { sys::napi_get_value_double(env, v, &mut n) } != sys::Status::napi_ok {
    return f64::NAN;
  }
  n
}

/// The boolean `v` holds (the caller checked that it is a boolean).
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
  if let Some(exc) = take_exception(env) {
    return Err(exc);
  }
  if status != sys::Status::napi_ok {
    return Err(make_error(env, ErrorClass::Error, "ERR_CALLBACK_FAILED", "calling a callback failed"));
  }
  Ok(out)
}

/// Call `obj[name]()`; a missing method is an error like a throw.
pub fn call_method(env: Env, obj: Value, name: &str) -> std::result::Result<Value, Value> {
  let f = match get_named(env, obj, name) {
    Ok(f) => f,
    Err(_) => return Err(take_exception(env).unwrap_or_else(|| undefined(env))),
  };
  if !is_function(env, f) {
    let msg = format!("producer.{name} is not a function");
    return Err(make_error(env, ErrorClass::Error, "ERR_INVALID_ARG_TYPE", &msg));
  }
  call(env, obj, f, &[])
}

/// Report an exception nobody can receive (thrown by `onConnectionLost` or `stopProducing`)
/// as a process warning, the way Node reports errors it cannot deliver.
pub fn warn(env: Env, what: &str, exception: Value) {
  let mut text = ptr::null_mut();
  unsafe { sys::napi_coerce_to_string(env, exception, &mut text) };
  let text = if take_exception(env).is_some() || text.is_null() { "(unprintable)".to_string() } else { read_string(env, text) };
  emit_warning(env, &format!("process-writer: {what} threw: {text}"));
}

/// `process.emitWarning(message)`, if there is such a function; never throws.
pub fn emit_warning(env: Env, message: &str) {
  let mut global = ptr::null_mut();
  unsafe { sys::napi_get_global(env, &mut global) };
  let Ok(process) = get_named(env, global, "process") else {
    take_exception(env);
    return;
  };
  if is_nullish(env, process) {
    return;
  }
  let Ok(emit) = get_named(env, process, "emitWarning") else {
    take_exception(env);
    return;
  };
  if !is_function(env, emit) {
    return;
  }
  let _ = call(env, process, emit, &[string(env, message)]);
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

/// An optional whole-number option or argument: `None` when nullish, else a number from 0 to
/// `max` (the same check for every entry point that takes it). A non-number throws a
/// `TypeError` (`ERR_INVALID_ARG_TYPE`); NaN, infinities, fractions, negatives and values
/// above `max` throw a `RangeError` (`ERR_OUT_OF_RANGE`).
pub fn whole_number(env: Env, v: Value, name: &str, max: f64) -> Result<Option<f64>> {
  if is_nullish(env, v) {
    return Ok(None);
  }
  number_in_range(env, v, name, max).map(Some)
}

/// A required whole number from 0 to `max` (see [`whole_number`]).
pub fn number_in_range(env: Env, v: Value, name: &str, max: f64) -> Result<f64> {
  if type_of(env, v) != sys::ValueType::napi_number {
    let msg = format!("The \"{name}\" option must be of type number. Received {}", describe(env, v));
    return Err(throw_invalid_arg_type(env, &msg));
  }
  let n = get_f64(env, v);
  if !(n.is_finite() && n >= 0.0 && n <= max && n.fract() == 0.0) {
    let msg = format!("The value of \"{name}\" is out of range. It must be a whole number from 0 to {max}. Received {n}");
    return Err(throw_out_of_range(env, &msg));
  }
  Ok(n)
}

/// An optional boolean option: nullish is false, anything but a boolean throws a `TypeError`
/// (`ERR_INVALID_ARG_TYPE`).
pub fn optional_bool(env: Env, v: Value, name: &str) -> Result<bool> {
  if is_nullish(env, v) {
    return Ok(false);
  }
  required_bool(env, v, name)
}

/// A boolean, or a `TypeError` (`ERR_INVALID_ARG_TYPE`) naming `name`.
pub fn required_bool(env: Env, v: Value, name: &str) -> Result<bool> {
  if type_of(env, v) != sys::ValueType::napi_boolean {
    let msg = format!("The \"{name}\" argument must be of type boolean. Received {}", describe(env, v));
    return Err(throw_invalid_arg_type(env, &msg));
  }
  Ok(get_bool(env, v))
}
