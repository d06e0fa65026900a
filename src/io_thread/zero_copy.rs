//! Zero-copy writers: freeing the memory their readers consumed.

use std::sync::atomic::Ordering::SeqCst;



use super::event_loop::IoThread;

impl IoThread {
  /// Zero-copy writers: free what the readers consumed; close those that wait for it. Returns
  /// whether any reader progressed.
  pub(super) fn release_zero_copy(&mut self) -> bool {
    let mut closed = Vec::new();
    let mut progressed = false;
    for (token, w) in self.writers.iter_mut() {
      if w.waiting_reader {
        w.waiting_reader = false;
        if Self::process(&self.poll, w, &mut self.iov) {
          closed.push(*token);
          continue;
        }
      }
      if !w.awaiting_reader() && !w.close_when_consumed {
        continue;
      }
      w.release_consumed();
      // The reader progressed if `written` moved since the last look, whether this look or a
      // write in between (`write_out` releases what it can after each splice) counted it: only
      // a reader that made no progress slows the looks down.
      let written = w.core.written.load(SeqCst);
      progressed |= written > w.written_seen;
      w.written_seen = written;
      w.core.hand_back(&mut w.written_back);
      if w.close_when_consumed && !w.awaiting_reader() {
        w.close_when_consumed = false;
        if Self::process(&self.poll, w, &mut self.iov) {
          closed.push(*token);
        }
      }
    }
    for token in closed {
      self.writers.remove(&token);
    }
    progressed
  }
}
