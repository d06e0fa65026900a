//! The I/O thread's view of one writer: its in-flight queue, its output and the state of its
//! flush, and what becomes of a written chunk.

use std::collections::VecDeque;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::Instant;


use crate::core::{Core, LostCode};
use crate::file_source::SourceQueue;
use crate::piece_size::PieceSize;
use crate::queue::{Chunk, WriteQueue};
use crate::sys::{self, Output};

use super::SPARE_SLABS;

/// Done with a written chunk: a slab is kept for reuse, JS memory goes back to the JS thread.
pub(super) fn retire(chunk: Chunk, spare: &mut Vec<Vec<u8>>, written_back: &mut Vec<Chunk>) {
  if chunk.is_shared() {
    written_back.push(chunk);
  } else {
    chunk.recycle(spare, SPARE_SLABS);
  }
}

/// The I/O thread's view of one writer.
pub(super) struct IoWriter {
  pub(super) core: Arc<Core>,
  /// The fd as written to (on Windows, a named pipe registered with mio, or a file).
  pub(super) out: Output,
  pub(super) inflight: WriteQueue,
  pub(super) spare: Vec<Vec<u8>>,
  /// Not pollable (regular files, `/dev/null`): always writable, never `EAGAIN`.
  pub(super) always_ready: bool,
  /// The poller said the reader is gone.
  pub(super) reader_gone: bool,
  /// An abort taken from `pending`, still to be carried out.
  pub(super) abort: Option<(LostCode, bool)>,
  /// Zero-copy: chunks fully spliced into the pipe, with the stream offset where each ends,
  /// kept until the reader has read past it.
  pub(super) retained: VecDeque<(u64, Chunk)>,
  /// Zero-copy: bytes spliced so far.
  pub(super) spliced: u64,
  /// Zero-copy: drained and due to close (`DONE`) once the reader consumed what is retained.
  pub(super) close_when_consumed: bool,
  /// Zero-copy: `written` at the last look for the reader's progress (`release_zero_copy`).
  pub(super) written_seen: u64,
  /// Written chunks holding JS memory, to hand back to the JS thread (`Core::hand_back`).
  pub(super) written_back: Vec<Chunk>,
  /// Pipes: how much one write carries, by measurement.
  pub(super) piece_size: PieceSize,
  /// The last write was cut short (partial, or `EAGAIN`): the pipe is full.
  pub(super) last_write_short: bool,
  /// No other writer's drain is awaited by JS (set before each look at this writer).
  pub(super) drain_awaited_alone: bool,
  /// When the last write returned, or the writer was registered (for `piece_size`; a first
  /// write long after registration falls in an idle gap and is not counted).
  pub(super) last_write_end: Instant,
  /// Sources (`writeFile`) in order, each due once the bytes queued before it are taken.
  pub(super) sources: SourceQueue,
  /// Zero-copy: waiting for the reader to empty the pipe before a source, or after one
  /// (looked at on the zero-copy timer).
  pub(super) waiting_reader: bool,
}

impl IoWriter {
  /// Zero-copy: count what the reader has consumed as written (`FIONREAD` tells what is
  /// still unread) and free the chunks it has read past.
  pub(super) fn release_consumed(&mut self) {
    let core = &self.core;
    if self.spliced == core.written.load(SeqCst) {
      return;
    }
    let fd = core.io_fd.load(SeqCst);
    let Some(unread) = sys::pipe_unread(fd) else { return };
    let consumed = self.spliced.saturating_sub(unread as u64);
    while let Some((end, _)) = self.retained.front() {
      if *end > consumed {
        break;
      }
      if let Some((_, chunk)) = self.retained.pop_front() {
        retire(chunk, &mut self.spare, &mut self.written_back);
      }
    }
    if consumed > core.written.load(SeqCst) {
      core.written.store(consumed, SeqCst);
      core.fire_armed_events();
    }
  }

  /// Zero-copy: bytes mapped into the pipe that the reader has not read yet.
  pub(super) fn awaiting_reader(&self) -> bool {
    self.core.zero_copy && self.spliced > self.core.written.load(SeqCst)
  }

  /// Zero-copy: JS waits for the reader (a drain or empty event is armed, or the close is).
  pub(super) fn reader_awaited(&self) -> bool {
    self.awaiting_reader()
      && (self.close_when_consumed || self.core.drain_armed.load(SeqCst) || self.core.empty_armed.load(SeqCst))
  }
}
