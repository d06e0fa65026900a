//! Flow-control decisions, as pure functions of the writer's levels and producer state.
//!
//! The binding layer gathers the numbers and carries out what these return; keeping the
//! decisions here means Twisted's rules (and the fixes the contract makes to them) are unit
//! tested without a pipe or a JS engine.

/// What kind of producer is registered (Twisted's `streamingProducer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Producer {
  None,
  /// A push (streaming) producer and whether this writer paused it.
  Push { paused: bool },
  Pull,
}

/// What `write()` must do once its bytes are queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AfterWrite {
  /// `write()`'s return value: false once `bufferedAmount > bufferSize`.
  pub ok: bool,
  /// Call `pauseProducing()` now, synchronously (a running push producer crossed the mark).
  pub pause_producer: bool,
}

/// Decide after a write that left `buffered` bytes pending. Pause and resume strictly
/// alternate: an already paused producer is not paused again (Twisted's Q3/scenario 18 fix);
/// a pull producer is never paused (scenario 25).
pub fn after_write(buffered: u64, buffer_size: u64, producer: Producer) -> AfterWrite {
  let over = buffered > buffer_size;
  AfterWrite { ok: !over, pause_producer: over && producer == Producer::Push { paused: false } }
}

/// What to do when the I/O thread reports the buffer fell to the low-water mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct OnDrain {
  /// The level is above the mark again (JS wrote meanwhile): re-arm and wait for the next one.
  pub stale: bool,
  pub resume_push: bool,
  pub resume_pull: bool,
  /// Call `onDrain` (a write returned false since the last drain).
  pub notify_drain: bool,
}

pub fn on_drain(buffered: u64, low_water: u64, producer: Producer, drain_wanted: bool) -> OnDrain {
  if buffered > low_water {
    return OnDrain { stale: true, ..Default::default() };
  }
  OnDrain {
    stale: false,
    resume_push: producer == Producer::Push { paused: true },
    resume_pull: producer == Producer::Pull,
    notify_drain: drain_wanted,
  }
}

/// Whether a drained writer that is disconnecting must wait instead of closing: a pull
/// producer, or a paused push producer, is resumed on drain instead (scenarios 36 to 38).
pub fn close_blocked(producer: Producer) -> bool {
  matches!(producer, Producer::Pull | Producer::Push { paused: true })
}

/// Whether JS waits for the next drain: a write returned false since the last one
/// (`need_drain`), or a pull or paused push producer is to be resumed by it. A running push
/// producer keeps drains armed but does not wait for them.
pub fn drain_awaited(producer: Producer, need_drain: bool) -> bool {
  need_drain || close_blocked(producer)
}

/// What the I/O thread does when the queue is empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenEmpty {
  /// Stay open and idle.
  Idle,
  /// `loseConnection()` was called and nothing blocks it: close, reason `DONE`.
  Close,
  /// Disconnecting, but a producer must be resumed first.
  WaitForProducer,
}

pub fn when_empty(disconnecting: bool, blocked: bool) -> WhenEmpty {
  match (disconnecting, blocked) {
    (false, _) => WhenEmpty::Idle,
    (true, false) => WhenEmpty::Close,
    (true, true) => WhenEmpty::WaitForProducer,
  }
}

/// The longest write the I/O thread announces as completing a drain (`announce_drain`): at
/// about 3 GiB/s into a pipe it takes some 80 µs, about what the JS thread waits for it.
pub const ANNOUNCE_MAX_BYTES: u64 = 256 * 1024;

/// What `announce_drain` looks at, for one writer about to write `len` bytes.
#[derive(Clone, Copy, Debug)]
pub struct DrainOutlook {
  /// JS waits for this writer's drain (`Core::drain_waited_for`).
  pub awaited: bool,
  /// No other writer's drain is awaited: with several, JS has their events to handle and
  /// must not spend its time waiting on one write.
  pub alone: bool,
  pub buffered: u64,
  pub len: u64,
  pub low_water: u64,
  /// The last write was cut short: the pipe was full, the reader is slower than we are.
  pub last_write_short: bool,
}

/// Whether the I/O thread should wake the JS thread as it begins this write rather than after
/// it (`Core::expect_drain`): JS waits for this drain alone, the write brings the level to the
/// low-water mark if the kernel takes all of it, it is short enough to be waited for, and the
/// last write was not cut short (the wait would be spent on a full pipe).
pub fn announce_drain(o: DrainOutlook) -> bool {
  o.awaited
    && o.alone
    && !o.last_write_short
    && o.len <= ANNOUNCE_MAX_BYTES
    && o.buffered.saturating_sub(o.len) <= o.low_water
}

/// The level at which a drain fires (the producer is resumed, `onDrain` runs): the low-water
/// mark, raised to `lift` (at most `buffer_size`). While no `lowWaterMark` was given, `lift` is
/// the size of the last write when that was larger than the mark (`write_with` in
/// `writer/js_side.rs`): a producer of chunks that large is resumed while one such chunk is
/// still queued, so the I/O thread has it to write while JavaScript comes back with the next. Without it, with 1 MiB
/// chunks and the default marks, the queue was often under 100 KiB by the time the producer
/// ran. The bound on what a writer holds does not change: `bufferSize` plus the write that
/// crosses it.
pub fn resume_level(low_water: u64, buffer_size: u64, lift: u64) -> u64 {
  low_water.max(lift.min(buffer_size))
}

/// Validate the two marks (bytes). `bufferSize` must be a whole number from 0 to 2^53 and the
/// low-water mark may not exceed it.
pub fn validate_marks(buffer_size: f64, low_water: f64) -> Result<(u64, u64), &'static str> {
  const MAX: f64 = 9_007_199_254_740_991.0;
  let whole = |v: f64| v.is_finite() && (0.0..=MAX).contains(&v) && v.fract() == 0.0;
  if !whole(buffer_size) {
    return Err("bufferSize must be a whole number of bytes from 0 to 2^53-1");
  }
  if !whole(low_water) {
    return Err("lowWaterMark must be a whole number of bytes from 0 to 2^53-1");
  }
  if low_water > buffer_size {
    return Err("lowWaterMark must not exceed bufferSize");
  }
  Ok((buffer_size as u64, low_water as u64))
}

/// Twisted's default `bufferSize` (`2**2**2**2`); with a `lowWaterMark` of 0 these are the
/// "Twisted-exact" marks, available as options.
pub const TWISTED_BUFFER_SIZE: f64 = 65536.0;

/// The default `bufferSize` (768 KiB). With Twisted's 64 KiB and resume-when-empty, every 128 KiB
/// or so the writer stops until its queue is empty and JavaScript was told, and the channel runs
/// dry meanwhile; a deeper mark with a resume point well above empty keeps it fed while
/// JavaScript refills the queue. Measured on the benchmark (alternating runs, loaded 2-core VM):
/// see the README's performance section. It is also the most a writer holds in its queue for
/// a producer that stops when `write()` returns false, plus that last chunk: with the two spare
/// slabs a writer may keep (128 KiB), at most 1 MiB for writes of up to 128 KiB (and the process
/// keeps at most 1 MiB of written slabs for all writers, `queue::CACHED_SLABS`). The cost: in
/// alternating runs on a socketpair, 1 MiB (a quarter as the low-water mark) was ahead at 64 KiB
/// writes (1.20x against 1.05x Node, 1.27x against 1.12x), within the noise elsewhere; but 256
/// slow children fed fresh 64 KiB Buffers peaked near 400 MiB above idle with it (the issue asks
/// 384), most of the excess written Buffers waiting for V8's collector, and 326-342 MiB with this.
pub const DEFAULT_BUFFER_SIZE: f64 = 768.0 * 1024.0;

/// `bufferSize` when `zeroCopy` is on and none is given. At the low-water mark 0 each drain
/// waits until the reader has read everything, so the pipe runs dry once per `bufferSize`:
/// measured alternately (fast host mode, 6 runs each), 16 MiB against 4 MiB gave 15.7 against
/// 12.5 GiB/s at 1 MiB chunks, 13.5 against 12.0 at 64 KiB, 12.2 against 10.2 at 4 KiB.
pub const ZERO_COPY_BUFFER_SIZE: f64 = 16.0 * 1024.0 * 1024.0;

/// The `bufferSize` a writer starts with when none is given: [`DEFAULT_BUFFER_SIZE`], unless
/// `zero_copy`. Zero-copy bytes count as buffered until the reader has read them, so the buffer
/// includes what sits in the pipe; 1 MiB would keep a 1 MiB pipe almost empty.
pub fn default_buffer_size(zero_copy: bool) -> f64 {
  if zero_copy {
    ZERO_COPY_BUFFER_SIZE
  } else {
    DEFAULT_BUFFER_SIZE
  }
}

/// The `lowWaterMark` a writer uses while none was given: half of `buffer_size` (384 KiB at
/// the default 768 KiB), so the producer is resumed while the I/O thread still has that much to
/// write; it follows `bufferSize` when that is changed. Half rather than a quarter: the same
/// memory bound, with more left to write while JavaScript comes back (alternating runs, 4 KiB
/// writes: 2.95 against 2.16 GiB/s, medians of 7 on a loaded 2-core VM). With `zero_copy`, 0: a drain then means
/// the reader has read every chunk, so the caller may reuse them all.
pub fn default_low_water(buffer_size: f64, zero_copy: bool) -> f64 {
  if zero_copy {
    0.0
  } else {
    (buffer_size / 2.0).floor()
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  const RUNNING: Producer = Producer::Push { paused: false };
  const PAUSED: Producer = Producer::Push { paused: true };

  #[test]
  fn zero_copy_gets_a_buffer_deeper_than_the_pipe() {
    assert_eq!(default_buffer_size(false), 786432.0);
    assert_eq!(default_buffer_size(true), ZERO_COPY_BUFFER_SIZE);
  }

  #[test]
  fn resume_level_is_the_low_mark_raised_to_the_lift_within_the_buffer_size() {
    assert_eq!(resume_level(393216, 786432, 0), 393216);
    assert_eq!(resume_level(393216, 786432, 65536), 393216);
    assert_eq!(resume_level(393216, 786432, 524288), 524288);
    assert_eq!(resume_level(393216, 786432, 1 << 20), 786432);
    assert_eq!(resume_level(0, 0, 1 << 20), 0);
  }

  #[test]
  fn default_low_water_is_half_the_mark_and_zero_with_zero_copy() {
    assert_eq!(default_low_water(DEFAULT_BUFFER_SIZE, false), 393216.0);
    assert_eq!(default_low_water(TWISTED_BUFFER_SIZE, false), 32768.0);
    assert_eq!(default_low_water(7.0, false), 3.0);
    assert_eq!(default_low_water(0.0, false), 0.0);
    assert_eq!(default_low_water(ZERO_COPY_BUFFER_SIZE, true), 0.0);
    assert!(validate_marks(7.0, default_low_water(7.0, false)).is_ok());
  }

  #[test]
  fn pause_only_strictly_over_the_mark() {
    // Scenario 17: 65536 buffered is not full, 65537 is.
    assert_eq!(after_write(65_536, 65_536, RUNNING), AfterWrite { ok: true, pause_producer: false });
    assert_eq!(after_write(65_537, 65_536, RUNNING), AfterWrite { ok: false, pause_producer: true });
  }

  #[test]
  fn paused_producer_is_not_paused_again() {
    // Scenario 18 as the contract fixes it: one pause per resume.
    assert_eq!(after_write(70_000, 65_536, PAUSED), AfterWrite { ok: false, pause_producer: false });
  }

  #[test]
  fn pull_producers_and_plain_writes_are_never_paused() {
    assert!(!after_write(4, 3, Producer::Pull).pause_producer);
    assert!(!after_write(4, 3, Producer::None).pause_producer);
    assert!(!after_write(4, 3, Producer::None).ok);
  }

  #[test]
  fn drain_resumes_the_right_producer() {
    assert_eq!(on_drain(0, 0, PAUSED, false), OnDrain { resume_push: true, ..Default::default() });
    assert_eq!(on_drain(0, 0, Producer::Pull, false), OnDrain { resume_pull: true, ..Default::default() });
    // A running push producer gets no callback on drain (scenario 20).
    assert_eq!(on_drain(0, 0, RUNNING, false), OnDrain::default());
    assert!(on_drain(0, 0, Producer::None, true).notify_drain);
  }

  #[test]
  fn drain_above_the_low_mark_is_stale() {
    assert!(on_drain(10, 0, PAUSED, true).stale);
    assert!(!on_drain(10, 16, PAUSED, true).stale);
    assert!(on_drain(10, 16, PAUSED, true).resume_push);
  }

  #[test]
  fn close_waits_for_pull_and_paused_producers() {
    assert!(close_blocked(Producer::Pull));
    assert!(close_blocked(PAUSED));
    assert!(!close_blocked(RUNNING));
    assert!(!close_blocked(Producer::None));
    assert_eq!(when_empty(false, true), WhenEmpty::Idle);
    assert_eq!(when_empty(true, false), WhenEmpty::Close);
    assert_eq!(when_empty(true, true), WhenEmpty::WaitForProducer);
  }

  #[test]
  fn marks_are_validated() {
    assert_eq!(validate_marks(65_536.0, 0.0), Ok((65_536, 0)));
    assert!(validate_marks(-1.0, 0.0).is_err());
    assert!(validate_marks(f64::NAN, 0.0).is_err());
    assert!(validate_marks(f64::INFINITY, 0.0).is_err());
    assert!(validate_marks(1.5, 0.0).is_err());
    assert!(validate_marks(10.0, 11.0).is_err());
    assert_eq!(validate_marks(0.0, 0.0), Ok((0, 0)));
  }

  #[test]
  fn a_drain_is_awaited_by_a_refused_write_or_a_producer_to_resume() {
    assert!(drain_awaited(Producer::None, true));
    assert!(!drain_awaited(Producer::None, false));
    assert!(!drain_awaited(RUNNING, false));
    assert!(drain_awaited(RUNNING, true));
    assert!(drain_awaited(PAUSED, false));
    assert!(drain_awaited(Producer::Pull, false));
  }

  #[test]
  fn a_drain_is_announced_only_for_the_write_that_completes_it() {
    // 128 KiB buffered, JS waits for this writer alone, low-water mark 0.
    let o = DrainOutlook { awaited: true, alone: true, buffered: 131072, len: 131072, low_water: 0, last_write_short: false };
    assert!(announce_drain(o));
    // The write leaves bytes above the mark.
    assert!(!announce_drain(DrainOutlook { len: 65536, ..o }));
    assert!(announce_drain(DrainOutlook { len: 65536, low_water: 65536, ..o }));
    // Nobody waits for a drain, or JS waits for other writers' drains too.
    assert!(!announce_drain(DrainOutlook { awaited: false, ..o }));
    assert!(!announce_drain(DrainOutlook { alone: false, ..o }));
    // The pipe was full at the last write.
    assert!(!announce_drain(DrainOutlook { last_write_short: true, ..o }));
    // Too long to be waited for.
    assert!(!announce_drain(DrainOutlook { buffered: 1 << 20, len: 1 << 20, ..o }));
    assert!(announce_drain(DrainOutlook { buffered: ANNOUNCE_MAX_BYTES, len: ANNOUNCE_MAX_BYTES, ..o }));
  }
}
