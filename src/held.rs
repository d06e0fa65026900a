//! fds the library opened for `spawn` and `createPipe` and has not handed over yet.
//!
//! Between creating a pipe and spawning the child, `spawn` holds raw fds in JavaScript. A
//! worker terminated in that window never runs the code that would close them (a `finally`
//! does not run on termination). So the pipe is created here with its fds recorded against
//! the env, and they stay recorded until handed over: the write end to a `ProcessWriter`
//! (whose constructor takes it off the list when it succeeds, in the same native call) and
//! the read end to `closeFd` once the child has its copy. Whatever is still recorded when the
//! env is torn down (worker exit, process exit) is closed by an env cleanup hook.

use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::Mutex;

use napi::sys;
use napi::Result;

use crate::core::LockOrRecover;
use crate::js;

/// Held fds per env (keyed by the env's address; an env's entry goes when it is torn down).
static HELD: Mutex<Option<HashMap<usize, Vec<i32>>>> = Mutex::new(None);

unsafe extern "C" fn env_cleanup(arg: *mut c_void) {
  let fds = HELD.lock_or_recover().as_mut().and_then(|m| m.remove(&(arg as usize)));
  for fd in fds.unwrap_or_default() {
    crate::pipe_budget::with(|b| b.release(fd));
    let _ = crate::sys::close(fd);
  }
}

/// Record `fds` as held by `env` (the first time for an env, install its cleanup hook). On
/// failure nothing is recorded and the caller still has to close them.
pub fn hold(env: js::Env, fds: &[i32]) -> Result<()> {
  let mut guard = HELD.lock_or_recover();
  let map = guard.get_or_insert_with(HashMap::new);
  let key = env as usize;
  if let std::collections::hash_map::Entry::Vacant(slot) = map.entry(key) {
    js::check(env, unsafe { sys::napi_add_env_cleanup_hook(env, Some(env_cleanup), env as *mut c_void) })?;
    slot.insert(Vec::new());
  }
  if let Some(list) = map.get_mut(&key) {
    list.extend_from_slice(fds);
  }
  Ok(())
}

/// `fd` is no longer held by `env` (handed to a writer, or about to be closed by `closeFd`).
pub fn hand_over(env: js::Env, fd: i32) {
  if let Some(list) = HELD.lock_or_recover().as_mut().and_then(|m| m.get_mut(&(env as usize))) {
    list.retain(|&held| held != fd);
  }
}
