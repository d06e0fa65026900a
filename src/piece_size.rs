//! How many bytes one `write` to a pipe should carry, chosen by measurement.
//!
//! Linux copies a pipe write while holding the pipe's mutex, and the reader needs that mutex
//! to copy out. One large write therefore keeps a reader on another core waiting until the
//! whole copy is done; small writes let it copy out in parallel. On the same core the
//! opposite holds: small writes only add syscalls and context switches. Measured with the
//! benchmark's raw C writer on a 1 MiB pipe (2-core VM): 8 KiB writes 4.2 GiB/s across cores
//! and 3.7 on one core; 1 MiB writes 2.4 across cores and 4.7 on one core.
//!
//! Where the scheduler puts the I/O thread and the reader cannot be seen from here (the reader
//! may be any process) and changes over time, so [`PieceSize`] measures both ways: it writes a
//! window in each, keeps the faster for a while, then measures the other again: less often
//! each time the measurement confirms the way in use, so a steady placement costs little
//! measuring and a change is still followed within [`MAX_EXPLOIT_WINDOWS`]. Only a deep
//! queue ([`DEEP_QUEUE`]) is split: a shallow one is written at once, so the reader gets it
//! before the drain round trip to JS.
//!
//! A window's rate is bytes over wall time, drain round trips to JS included, since both ways
//! have them; a window with an idle gap (nothing to write for [`IDLE_GAP_NANOS`]) is thrown
//! away, so that pauses of the producer do not count against whichever way was measured.
//!
//! Pure logic, no clock: the I/O thread reports how many bytes each write took and how long
//! since the previous one ended.

/// The small piece: the best worst case in the measurements above (16 KiB already loses most
/// of the cross-core gain there).
pub const SMALL_PIECE: usize = 8 * 1024;

/// Queues up to this many bytes are written whole.
pub const DEEP_QUEUE: usize = 128 * 1024;

/// Bytes measured per window (a few milliseconds at pipe speed).
pub const WINDOW_BYTES: u64 = 8 << 20;

/// A longer wait between two writes means the producer was idle: the window is discarded.
pub const IDLE_GAP_NANOS: u64 = 1_000_000;

/// Windows spent on the faster way before the other is measured again, after a decision
/// that changed the way. Each measurement that confirms the way in use doubles the period, up
/// to [`MAX_EXPLOIT_WINDOWS`]: measuring the slower way costs its whole difference for a
/// window (measured at 1 MiB chunks, 8 KiB pieces across cores: 16 windows between
/// measurements ran 6.2-7.6 GiB/s, never measuring again 7.1-8.5).
pub const EXPLOIT_WINDOWS: u32 = 16;

/// The longest period between measurements of the other way (2 GiB).
pub const MAX_EXPLOIT_WINDOWS: u32 = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Way {
  /// One write takes everything queued (up to the iovec limit).
  Whole,
  /// One write takes at most [`SMALL_PIECE`] bytes.
  Pieces,
}

impl Way {
  fn other(self) -> Way {
    match self {
      Way::Whole => Way::Pieces,
      Way::Pieces => Way::Whole,
    }
  }

  fn index(self) -> usize {
    self as usize
  }
}

/// The tuner for one writer.
#[derive(Debug)]
pub struct PieceSize {
  way: Way,
  /// Last measured rate of each way, bytes per nanosecond.
  rate: [Option<f64>; 2],
  window_bytes: u64,
  window_nanos: u64,
  /// Windows left before the other way is measured again; 0 while measuring.
  exploit_left: u32,
  /// The length of the current period between measurements (0 before the first decision).
  exploit_period: u32,
}

impl Default for PieceSize {
  fn default() -> Self {
    PieceSize {
      way: Way::Whole,
      rate: [None, None],
      window_bytes: 0,
      window_nanos: 0,
      exploit_left: 0,
      exploit_period: 0,
    }
  }
}

impl PieceSize {
  /// The way writes are made now.
  pub fn way(&self) -> Way {
    self.way
  }

  /// At most how many bytes the next write may carry, with `queued` bytes waiting.
  pub fn limit(&self, queued: usize) -> usize {
    if self.way == Way::Pieces && queued > DEEP_QUEUE {
      SMALL_PIECE
    } else {
      usize::MAX
    }
  }

  /// A write: `bytes` written, `nanos` since the previous write ended (or since this one
  /// started, for the first). Returns the way for the next write.
  pub fn record(&mut self, bytes: u64, nanos: u64) -> Way {
    if nanos > IDLE_GAP_NANOS {
      self.window_bytes = 0;
      self.window_nanos = 0;
      return self.way;
    }
    self.window_bytes += bytes;
    self.window_nanos += nanos;
    if self.window_bytes < WINDOW_BYTES {
      return self.way;
    }
    let rate = self.window_bytes as f64 / self.window_nanos.max(1) as f64;
    self.window_bytes = 0;
    self.window_nanos = 0;
    if self.exploit_left > 0 {
      // Keep the rate of the way in use current, so a change of placement shows.
      self.rate[self.way.index()] = Some(rate);
      self.exploit_left -= 1;
      if self.exploit_left == 0 {
        self.way = self.way.other();
      }
      return self.way;
    }
    // A measuring window ended.
    self.rate[self.way.index()] = Some(rate);
    let Some(other) = self.rate[self.way.other().index()] else {
      self.way = self.way.other();
      return self.way;
    };
    if other > rate {
      // The way in use before this window stays: measure the other less often.
      self.way = self.way.other();
      self.exploit_period = (self.exploit_period * 2).clamp(EXPLOIT_WINDOWS, MAX_EXPLOIT_WINDOWS);
    } else {
      self.exploit_period = EXPLOIT_WINDOWS;
    }
    self.exploit_left = self.exploit_period;
    self.way
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  /// Feed one window at `gib_per_s`, as 8 KiB writes.
  fn window(t: &mut PieceSize, gib_per_s: f64) -> Way {
    let piece = SMALL_PIECE as u64;
    let nanos = (piece as f64 / (gib_per_s * (1u64 << 30) as f64) * 1e9) as u64;
    let mut way = t.way();
    for _ in 0..WINDOW_BYTES / piece {
      way = t.record(piece, nanos);
    }
    way
  }

  #[test]
  fn shallow_queues_are_written_whole() {
    let t = PieceSize { way: Way::Pieces, ..Default::default() };
    assert_eq!(t.limit(DEEP_QUEUE), usize::MAX);
    assert_eq!(t.limit(DEEP_QUEUE + 1), SMALL_PIECE);
  }

  #[test]
  fn measures_both_ways_then_keeps_the_faster() {
    let mut t = PieceSize::default();
    assert_eq!(t.limit(1 << 20), usize::MAX, "starts whole");
    assert_eq!(window(&mut t, 2.4), Way::Pieces, "then measures pieces");
    assert_eq!(window(&mut t, 4.2), Way::Pieces, "pieces were faster: kept");
    for _ in 0..EXPLOIT_WINDOWS - 1 {
      assert_eq!(window(&mut t, 4.2), Way::Pieces);
    }
    assert_eq!(window(&mut t, 4.2), Way::Whole, "then whole is measured again");
  }

  /// Windows of `way` at `gib_per_s` until the tuner switches; returns how many it took.
  fn windows_until_switch(t: &mut PieceSize, gib_per_s: f64) -> u32 {
    let way = t.way();
    let mut n = 0;
    loop {
      n += 1;
      if window(t, gib_per_s) != way {
        return n;
      }
      assert!(n <= MAX_EXPLOIT_WINDOWS, "never measured the other way again");
    }
  }

  #[test]
  fn confirmed_decisions_are_measured_again_less_often() {
    let mut t = PieceSize::default();
    window(&mut t, 2.4); // whole
    window(&mut t, 4.2); // pieces: a change, kept for the first period
    let mut expected = EXPLOIT_WINDOWS;
    for _ in 0..8 {
      assert_eq!(windows_until_switch(&mut t, 4.2), expected);
      assert_eq!(window(&mut t, 2.4), Way::Pieces, "whole measured again, still slower");
      expected = (expected * 2).min(MAX_EXPLOIT_WINDOWS);
    }
    assert_eq!(expected, MAX_EXPLOIT_WINDOWS);
  }

  #[test]
  fn a_change_of_placement_is_followed() {
    let mut t = PieceSize::default();
    window(&mut t, 2.4); // whole, across cores
    window(&mut t, 4.2); // pieces: kept
    for _ in 0..EXPLOIT_WINDOWS {
      window(&mut t, 3.7); // the reader moved to our core: pieces slowed down
    }
    assert_eq!(t.way(), Way::Whole);
    assert_eq!(window(&mut t, 4.7), Way::Whole, "whole is now faster: kept");
  }

  #[test]
  fn partial_windows_do_not_decide() {
    let mut t = PieceSize::default();
    assert_eq!(t.record(WINDOW_BYTES / 2, 1), Way::Whole);
    assert_eq!(t.record(WINDOW_BYTES / 2 - 1, 1), Way::Whole);
    assert_eq!(t.record(1, 1), Way::Pieces);
  }

  #[test]
  fn an_idle_producer_does_not_count_against_a_way() {
    let mut t = PieceSize::default();
    t.record(WINDOW_BYTES - 1, 1_000);
    assert_eq!(t.record(1, IDLE_GAP_NANOS + 1), Way::Whole, "the window is discarded");
    assert_eq!(t.record(WINDOW_BYTES - 1, 1_000), Way::Whole, "a new one has begun");
    assert_eq!(t.record(1, 1), Way::Pieces);
  }
}
