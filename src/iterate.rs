//! Reading a JS iterable (for `writeSequence`) into a list of values, consumed exactly once.

use std::ptr;

use napi::sys;
use napi::{Error, Result, Status};

use crate::js::{self, Env, Value};

/// The elements of an Array, or of any other iterable (through `Array.from`, which runs the
/// iterator once). Strings and non-iterables throw `ERR_INVALID_ARG_TYPE`.
pub fn collect(env: Env, v: Value) -> Result<Vec<Value>> {
  let mut is_array = false;
  unsafe { sys::napi_is_array(env, v, &mut is_array) };
  let array = if is_array {
    v
  } else {
    let t = js::type_of(env, v);
    let mut global = ptr::null_mut();
    unsafe { sys::napi_get_global(env, &mut global) };
    let symbol = js::get_named(env, global, "Symbol")?;
    let iterator_key = js::get_named(env, symbol, "iterator")?;
    let mut method = ptr::null_mut();
    let is_object = matches!(t, sys::ValueType::napi_object | sys::ValueType::napi_function);
    if is_object {
      // A getter or a Proxy trap may throw: that exception is the caller's.
      js::check(env, unsafe { sys::napi_get_property(env, v, iterator_key, &mut method) })?;
    }
    if !is_object || !js::is_function(env, method) {
      let msg = format!("The \"chunks\" argument must be an iterable of byte views. Received {}", js::describe(env, v));
      return Err(js::throw_invalid_arg_type(env, &msg));
    }
    let array_ctor = js::get_named(env, global, "Array")?;
    let from = js::get_named(env, array_ctor, "from")?;
    match js::call(env, array_ctor, from, &[v]) {
      Ok(a) => a,
      Err(exc) => {
        unsafe { sys::napi_throw(env, exc) };
        return Err(Error::new(Status::PendingException, "the iterable threw".to_string()));
      }
    }
  };
  let mut len = 0u32;
  js::check(env, unsafe { sys::napi_get_array_length(env, array, &mut len) })?;
  let mut out = Vec::with_capacity(len as usize);
  for i in 0..len {
    let mut item = ptr::null_mut();
    // An element may be a getter that throws.
    js::check(env, unsafe { sys::napi_get_element(env, array, i, &mut item) })?;
    out.push(item);
  }
  Ok(out)
}
