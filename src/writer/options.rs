//! Checking the constructor's options and the values assigned to the writer's properties.

use std::ptr;

use napi::bindgen_prelude::*;
use napi::sys;

use crate::js;

/// A callback option must be a function, null or undefined (`ERR_INVALID_ARG_TYPE`).
pub(super) fn check_callback(env: js::Env, v: js::Value, name: &str) -> Result<()> {
  if js::is_nullish(env, v) || js::is_function(env, v) {
    return Ok(());
  }
  let msg = format!("The \"{name}\" option must be a function, null or undefined. Received {}", js::describe(env, v));
  Err(js::throw_invalid_arg_type(env, &msg))
}

/// A number assigned to a property (range checks follow): anything else is a `TypeError`
/// (`ERR_INVALID_ARG_TYPE`), as Node's setters throw.
pub(super) fn number_property(env: js::Env, v: js::Value, name: &str) -> Result<f64> {
  if js::type_of(env, v) != sys::ValueType::napi_number {
    let msg = format!("The \"{name}\" property must be of type number. Received {}", js::describe(env, v));
    return Err(js::throw_invalid_arg_type(env, &msg));
  }
  Ok(js::get_f64(env, v))
}

/// The value, or `null`.
pub(super) fn value_or_null<'a>(env: js::Env, v: Option<js::Value>) -> Result<Unknown<'a>> {
  let v = v.unwrap_or_else(|| js::null(env));
  unsafe { Unknown::from_napi_value(env, v) }
}

/// Options read from the constructor's second argument.
pub(super) struct Options {
  pub(super) child_fd: Option<i32>,
  pub(super) buffer_size: Option<f64>,
  pub(super) low_water: Option<f64>,
  pub(super) force_read_hack: bool,
  pub(super) pipe_size: Option<usize>,
  pub(super) zero_copy: bool,
  pub(super) on_lost: js::Value,
  pub(super) on_drain: js::Value,
}

/// The `pipeSize` option, checked the same way by the constructor, `openPipe`, `createPipe` and
/// `spawn` (a whole number of bytes up to 2^31 - 1; nullish: the kernel's default).
pub fn pipe_size_option(env: js::Env, v: js::Value) -> Result<Option<usize>> {
  Ok(js::whole_number(env, v, "pipeSize", i32::MAX as f64)?.map(|n| n as usize))
}

pub(super) fn read_options(env: js::Env, v: js::Value) -> Result<Options> {
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
    return Err(js::throw_invalid_arg_type(env, &msg));
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
