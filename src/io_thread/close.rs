//! Closing a writer, and when the close is reported.

use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::Duration;

use mio::Poll;

use crate::core::{Core, Event, LockOrRecover, Lost, LostCode, CLOSED};
use crate::queue::{Chunk, WriteQueue};
use crate::sys;

use super::event_loop::IoThread;
use super::io_writer::{retire, IoWriter};

impl IoThread {
  /// Close the writer: drop what is unwritten, deregister, restore blocking mode, close the
  /// fd once, and tell JS (unless `notify` is false: env teardown, nobody to tell).
  pub(super) fn close(poll: &Poll, w: &mut IoWriter, code: LostCode, errno: Option<i32>, notify: bool) {
    let core = w.core.clone();
    // Zero-copy memory still mapped in the pipe (the bytes the reader has not read, at most
    // the pipe's capacity) must stay unchanged while a reader may read it. After a reader-gone
    // loss nobody will: our close frees the pipe. Otherwise those bytes are replaced by copies
    // in the pipe (`sys::copy_unread_in_place`) and the memory is released at once; only if
    // that fails (no `/proc`, no fd left) is it kept for good, never freed or reused.
    let mut mapped: Vec<Chunk> = Vec::new();
    let mut mapped_free = true;
    let inflight_len = w.inflight.len();
    if core.zero_copy {
      w.release_consumed();
      mapped.extend(w.inflight.take_started_head());
      mapped.extend(w.retained.drain(..).map(|(_, c)| c));
      // Mapped but unread: delivered if a reader is there, lost if it is gone.
      let unread = w.spliced.saturating_sub(core.written.load(SeqCst));
      if code == LostCode::ReaderClosed {
        core.unwritten.fetch_add(unread, SeqCst);
      } else {
        core.written.fetch_add(unread, SeqCst);
        // Only while memory of ours is still mapped (never at `DONE`, which waits for the
        // reader): bytes a `writeFile` source spliced in are the kernel's, left as they are.
        let io_fd = core.io_fd.load(SeqCst);
        match if unread > 0 { sys::copy_unread_in_place(io_fd) } else { Ok(0) } {
          Ok(lost) => {
            let lost = (lost as u64).min(unread);
            core.written.fetch_sub(lost, SeqCst);
            core.unwritten.fetch_add(lost, SeqCst);
          }
          Err(_) => mapped_free = false,
        }
      }
    }
    // Take the pending chunks out under the lock, drop them (JS buffers release their
    // references through napi-rs) after it.
    let mut pending = WriteQueue::new();
    let spare;
    {
      let mut p = core.pending.lock_or_recover();
      core.state.store(CLOSED, SeqCst);
      p.abort = None;
      pending.append(&mut p.queue);
      w.sources.append(&mut p.sources);
      // The recycled slabs (up to 512 KiB) are freed now, not when the writer is collected:
      // an ended writer keeps no buffer memory while the garbage collector takes its time.
      spare = std::mem::take(&mut p.spare);
    }
    drop(spare);
    let sources_cut = w.sources.cut();
    core.sources_pending.store(0, SeqCst);
    let discarded = pending.clear() + inflight_len;
    w.inflight.clear();
    // Windows: a pipe write in flight counts as written once it completed, else unwritten
    // (an abort cancels it).
    if let Ok(Some(n)) = w.out.settle() {
      core.written.fetch_add(n, SeqCst);
    }
    core.unwritten.fetch_add(discarded as u64 + w.out.unsettled(), SeqCst);
    w.out.close(poll.registry(), code != LostCode::Done);
    let fd = core.fd.swap(-1, SeqCst);
    let io_fd = core.io_fd.swap(-1, SeqCst);
    let mut fd_reused = false;
    if io_fd >= 0 && core.restore_blocking {
      let _ = sys::set_nonblocking(io_fd, false);
    }
    if fd >= 0 {
      crate::pipe_budget::with(|b| b.release(fd));
      // The user's number is closed only while it still is our file: closed behind our back
      // and reused, it belongs to someone else now.
      if io_fd < 0 || sys::same_file(fd, io_fd) {
        let _ = sys::close(fd);
      } else {
        fd_reused = true;
      }
    }
    if io_fd >= 0 {
      let _ = sys::close(io_fd);
    }
    if sys::reader_gone_errno(errno) {
      sys::discard_pending_sigpipe();
    }
    for chunk in mapped {
      if mapped_free {
        retire(chunk, &mut w.spare, &mut w.written_back);
      } else {
        std::mem::forget(chunk);
      }
    }
    core.hand_back(&mut w.written_back);
    if notify {
      let lost = Lost {
        code,
        errno,
        fd_reused,
        bytes_written: core.bytes_written(),
        bytes_unwritten: core.unwritten.load(SeqCst),
        sources_cut,
      };
      closing::post(core, lost);
    }
  }
}

/// When a close is reported. POSIX: at once, the fd is closed. Windows: mio frees a named
/// pipe's handle only once the cancelled read's completion has been polled, so the report
/// waits for the next poll (the reader sees the end of the pipe before `onConnectionLost`).
#[cfg(unix)]
pub(super) mod closing {
  use super::*;

  pub const POLL: Duration = Duration::ZERO;

  pub fn post(core: Arc<Core>, lost: Lost) {
    core.post(Event::Lost(lost));
  }

  #[inline]
  pub fn waiting() -> bool {
    false
  }

  #[inline]
  pub fn report() {}
}

#[cfg(windows)]
pub(super) mod closing {
  use super::*;
  use std::cell::RefCell;

  /// How long the poll waits for the cancellation's completion (normally queued already).
  pub const POLL: Duration = Duration::from_millis(1);

  thread_local! {
    static AFTER_POLL: RefCell<Vec<(Arc<Core>, Lost)>> = const { RefCell::new(Vec::new()) };
  }

  pub fn post(core: Arc<Core>, lost: Lost) {
    AFTER_POLL.with(|v| v.borrow_mut().push((core, lost)));
  }

  pub fn waiting() -> bool {
    AFTER_POLL.with(|v| !v.borrow().is_empty())
  }

  pub fn report() {
    for (core, lost) in AFTER_POLL.with(|v| std::mem::take(&mut *v.borrow_mut())) {
      core.post(Event::Lost(lost));
    }
  }
}
