//! How much pipe enlargement (`F_SETPIPE_SZ`) this process allows itself.
//!
//! Linux charges pipe buffers to the user: past `pipe-user-pages-soft` (64 MiB by default) an
//! unprivileged user's *new* pipes get two pages and enlargements fail with `EPERM`, which
//! would slow every other pipe the user has (shells included). So the writers of one process
//! together keep at most [`PROCESS_LIMIT`] bytes above the default capacity; past that a
//! `pipeSize` request quietly gets less (the capacity obtained is reported in `stats()`).
//!
//! Enlargements are recorded per write fd: by `openPipe(pipeSize)` or the writer's
//! constructor, adopted by the writer that takes the fd, and given back when it closes it.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::core::LockOrRecover;

/// Bytes of enlargement above the default capacity the whole process may hold.
pub const PROCESS_LIMIT: u64 = 16 << 20;

/// The default capacity of a Linux pipe (16 pages).
pub const DEFAULT_CAPACITY: u64 = 64 << 10;

/// Pure bookkeeping, unit tested; the process-wide instance is [`BUDGET`].
#[derive(Debug, Default)]
pub struct Budget {
  used: u64,
  by_fd: HashMap<i32, u64>,
}

impl Budget {
  /// The largest capacity to ask for, given the pipe's `current` capacity and the `want`ed one.
  pub fn allowance(&self, current: u64, want: u64) -> u64 {
    let left = PROCESS_LIMIT.saturating_sub(self.used);
    want.min(current.max(DEFAULT_CAPACITY) + left).max(current)
  }

  /// Record that `fd` now has `capacity` bytes (replacing what was recorded for it).
  pub fn record(&mut self, fd: i32, capacity: u64) {
    self.release(fd);
    let extra = capacity.saturating_sub(DEFAULT_CAPACITY);
    if extra > 0 {
      self.used += extra;
      self.by_fd.insert(fd, extra);
    }
  }

  /// `fd` was closed (or handed to a writer that recorded it again).
  pub fn release(&mut self, fd: i32) {
    if let Some(extra) = self.by_fd.remove(&fd) {
      self.used -= extra;
    }
  }

  pub fn used(&self) -> u64 {
    self.used
  }
}

pub static BUDGET: Mutex<Option<Budget>> = Mutex::new(None);

/// Run `f` with the process-wide budget.
pub fn with<R>(f: impl FnOnce(&mut Budget) -> R) -> R {
  let mut guard = BUDGET.lock_or_recover();
  f(guard.get_or_insert_with(Budget::default))
}

/// Enlarge `fd`'s pipe towards `want` bytes within the budget; returns the capacity obtained.
pub fn enlarge(fd: i32, want: u64) -> Option<u64> {
  let current = crate::sys::pipe_capacity(fd)? as u64;
  with(|b| {
    let ask = b.allowance(current, want);
    let got = if ask > current { crate::sys::set_pipe_size(fd, ask as usize)? as u64 } else { current };
    b.record(fd, got);
    Some(got)
  })
}

#[cfg(test)]
mod tests {
  use super::*;

  const MIB: u64 = 1 << 20;

  #[test]
  fn grants_up_to_the_process_limit_then_less() {
    let mut b = Budget::default();
    // 17 pipes of 1 MiB fit (17 x 960 KiB of extra), the 18th gets only what is left.
    for fd in 0..17 {
      let ask = b.allowance(DEFAULT_CAPACITY, MIB);
      assert_eq!(ask, MIB);
      b.record(fd, ask);
    }
    assert_eq!(b.used(), 17 * (MIB - DEFAULT_CAPACITY));
    let left = PROCESS_LIMIT - b.used();
    assert_eq!(left, 64 << 10);
    assert_eq!(b.allowance(DEFAULT_CAPACITY, MIB), DEFAULT_CAPACITY + left);
    b.record(17, DEFAULT_CAPACITY + left);
    assert_eq!(b.used(), PROCESS_LIMIT);
    assert_eq!(b.allowance(DEFAULT_CAPACITY, MIB), DEFAULT_CAPACITY, "nothing left: keep the default");
  }

  #[test]
  fn closing_gives_the_enlargement_back() {
    let mut b = Budget::default();
    b.record(7, MIB);
    b.release(7);
    assert_eq!(b.used(), 0);
    b.release(7);
    assert_eq!(b.used(), 0, "releasing twice is harmless");
  }

  #[test]
  fn re_recording_an_fd_replaces_it() {
    let mut b = Budget::default();
    b.record(3, MIB);
    b.record(3, MIB / 2);
    assert_eq!(b.used(), MIB / 2 - DEFAULT_CAPACITY);
  }

  #[test]
  fn never_asks_below_the_current_capacity() {
    let b = Budget { used: PROCESS_LIMIT, by_fd: HashMap::new() };
    assert_eq!(b.allowance(256 << 10, MIB), 256 << 10);
    assert_eq!(Budget::default().allowance(MIB, 128 << 10), MIB);
  }
}
