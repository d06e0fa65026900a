//! Property tests of the pure core against simple models, with a fixed number of cases (fast,
//! and the same every run): the write queue with the I/O thread's batching and piece sizing
//! (bytes out equal bytes in, in order, whatever the kernel takes each time), and the flow
//! decisions (a push producer's pause and resume alternate, each at its mark).

use proptest::prelude::*;
use proptest::test_runner::Config;

use crate::flow::{self, Producer};
use crate::piece_size::{PieceSize, DEEP_QUEUE, SMALL_PIECE};
use crate::queue::{SharedBytes, WriteQueue, MAX_BATCH_BYTES, MAX_IOVECS};

/// Cases per property: enough to reach the slab, by-reference and piece-size boundaries many
/// times over, few enough that `cargo test` stays within seconds.
const CASES: u32 = 64;

fn config() -> Config {
  Config { cases: CASES, failure_persistence: None, ..Config::default() }
}

/// The byte at stream position `i` (every byte of the stream is known by its position).
fn byte_at(i: u64) -> u8 {
  (i.wrapping_mul(2_654_435_761) >> 13) as u8
}

fn stream(from: u64, len: usize) -> Vec<u8> {
  (0..len as u64).map(|j| byte_at(from + j)).collect()
}

/// A by-reference chunk (as a JS buffer would be).
struct Shared(Vec<u8>);
impl SharedBytes for Shared {
  fn bytes(&self) -> &[u8] {
    &self.0
  }
}

#[derive(Debug, Clone)]
enum QueueOp {
  /// `write()` of `len` bytes, copied (`shared: false`) or by reference.
  Push { len: usize, shared: bool },
  /// One write by the I/O thread: at most `max_iov` slices; the kernel takes `take` per mille
  /// of what it was offered; `nanos` since the last write (for piece sizing).
  Write { max_iov: usize, take: u16, nanos: u64 },
}

fn queue_op() -> impl Strategy<Value = QueueOp> {
  // Around the thresholds: the slab (64 KiB), half of it (by reference from 32 KiB), and the
  // piece size's deep queue (128 KiB, reached by several pushes).
  let len = prop_oneof![6 => 1usize..200, 3 => 200usize..33_000, 1 => 33_000usize..70_000];
  prop_oneof![
    3 => (len, any::<bool>()).prop_map(|(len, shared)| QueueOp::Push { len, shared }),
    2 => (1usize..=MAX_IOVECS, 0u16..=1000, 0u64..2_000_000).prop_map(|(max_iov, take, nanos)| QueueOp::Write { max_iov, take, nanos }),
  ]
}

proptest! {
  #![proptest_config(config())]

  /// The queue with the I/O thread's batching (`io_slices` under the piece size's limit) and
  /// partial writes: what comes out is exactly what went in, in order; `len` is always what is
  /// left; the piece limit is never exceeded; and a final flush empties it.
  #[test]
  fn queue_batching_and_pieces_keep_every_byte_in_order(ops in proptest::collection::vec(queue_op(), 1..40)) {
    let mut q = WriteQueue::new();
    let mut spare: Vec<Vec<u8>> = Vec::new();
    let mut pieces = PieceSize::default();
    let (mut pushed, mut out) = (0u64, 0u64);
    let write = |q: &mut WriteQueue, spare: &mut Vec<Vec<u8>>, pieces: &mut PieceSize, out: &mut u64, max_iov: usize, take: u16, nanos: u64| {
      let limit = pieces.limit(q.len()).min(MAX_BATCH_BYTES);
      prop_assert!(limit == MAX_BATCH_BYTES || (limit == SMALL_PIECE && q.len() > DEEP_QUEUE));
      let mut iov = Vec::new();
      let offered = q.io_slices(&mut iov, max_iov, limit);
      prop_assert!(iov.len() <= max_iov);
      prop_assert!(offered <= limit && offered <= q.len());
      prop_assert_eq!(offered, iov.iter().map(|s| s.len()).sum::<usize>());
      let took = offered * take as usize / 1000;
      for (at, b) in (*out..).zip(iov.iter().flat_map(|s| s.iter()).take(took)) {
        prop_assert_eq!(*b, byte_at(at), "byte {} out differs", at);
      }
      drop(iov);
      q.consume(took, spare, 8);
      *out += took as u64;
      pieces.record(took as u64, nanos);
      Ok(())
    };
    for op in ops {
      match op {
        QueueOp::Push { len, shared } => {
          let data = stream(pushed, len);
          if shared {
            q.push_shared(Box::new(Shared(data)));
          } else {
            q.push_copy(&data, &mut spare);
          }
          pushed += len as u64;
        }
        QueueOp::Write { max_iov, take, nanos } => write(&mut q, &mut spare, &mut pieces, &mut out, max_iov, take, nanos)?,
      }
      prop_assert_eq!(q.len() as u64, pushed - out);
      prop_assert_eq!(q.is_empty(), pushed == out);
      prop_assert!(spare.len() <= 8);
    }
    // Flush: every write takes all it is offered.
    let mut rounds = 0;
    while !q.is_empty() {
      write(&mut q, &mut spare, &mut pieces, &mut out, MAX_IOVECS, 1000, 1000)?;
      rounds += 1;
      prop_assert!(rounds < 100_000, "no progress");
    }
    prop_assert_eq!(out, pushed);
  }

  /// A partly written head taken out (a zero-copy close) leaves the rest of the queue whole.
  #[test]
  fn taking_the_started_head_accounts_for_it(lens in proptest::collection::vec(1usize..70_000, 1..5), cut in 0u16..1000) {
    let mut q = WriteQueue::new();
    let mut spare = Vec::new();
    let total: usize = lens.iter().sum();
    let mut at = 0u64;
    for len in &lens {
      q.push_copy(&stream(at, *len), &mut spare);
      at += *len as u64;
    }
    let n = total * cut as usize / 1000;
    q.consume(n, &mut spare, 8);
    let left = q.len();
    match q.take_started_head() {
      Some(head) => {
        let len = head.bytes().len();
        let unsent = left - q.len();
        prop_assert!(unsent > 0 && unsent < len, "the head was started, not finished");
        let started = (len - unsent) as u64;
        prop_assert_eq!(head.bytes(), &stream(n as u64 - started, len)[..]);
      }
      None => prop_assert_eq!(q.len(), left),
    }
    let mut iov = Vec::new();
    let rest = q.io_slices(&mut iov, MAX_IOVECS, MAX_BATCH_BYTES);
    let flat: Vec<u8> = iov.iter().flat_map(|s| s.iter().copied()).collect();
    prop_assert_eq!(rest, q.len());
    prop_assert_eq!(flat, stream((total - q.len()) as u64, q.len()));
  }
}

#[derive(Debug, Clone, Copy)]
enum FlowOp {
  /// `write()` of this many bytes.
  Write(u64),
  /// The I/O thread wrote this many bytes (then, if the level is at the low-water mark and a
  /// drain is armed, the JS thread gets a Drain).
  Drained(u64),
  /// The producer writes from inside `resumeProducing` (re-entrant), this many bytes.
  WriteOnResume(u64),
}

fn flow_op() -> impl Strategy<Value = FlowOp> {
  prop_oneof![
    3 => (1u64..300_000).prop_map(FlowOp::Write),
    2 => (1u64..400_000).prop_map(FlowOp::Drained),
    1 => (0u64..200_000).prop_map(FlowOp::WriteOnResume),
  ]
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Call {
  Pause,
  Resume,
}

proptest! {
  #![proptest_config(config())]

  /// A push producer's pause and resume, as `writer.rs` applies the decisions of `flow`:
  /// they alternate, starting with a pause; a pause comes only from a write that took the
  /// level over `bufferSize`, a resume only at or below `lowWaterMark`; `write()` returns false
  /// exactly when the level is over `bufferSize`; and a paused producer is always resumed once
  /// everything is written.
  #[test]
  fn push_producer_pause_and_resume_alternate_at_the_marks(
    size in 0u64..500_000,
    low_frac in 0u16..=1000,
    ops in proptest::collection::vec(flow_op(), 1..80),
  ) {
    let (buffer_size, low_water) = flow::validate_marks(size as f64, (size * low_frac as u64 / 1000) as f64).unwrap();
    let mut level = 0u64;
    let mut paused = false;
    let mut need_drain = false;
    let mut calls: Vec<Call> = Vec::new();
    let mut resume_writes = 0u64;
    let drain = |level: u64, paused: &mut bool, need_drain: &mut bool, calls: &mut Vec<Call>, resume_writes: &mut u64| -> Result<u64, TestCaseError> {
      let d = flow::on_drain(level, low_water, Producer::Push { paused: *paused }, *need_drain);
      prop_assert_eq!(d.stale, level > low_water);
      prop_assert!(!d.resume_pull);
      let mut level = level;
      if d.resume_push {
        prop_assert!(*paused, "resumed a producer that was not paused");
        prop_assert!(level <= low_water);
        *paused = false;
        calls.push(Call::Resume);
        // resumeProducing writes (re-entrant): judged like any write.
        if *resume_writes > 0 {
          level += *resume_writes;
          let w = flow::after_write(level, buffer_size, Producer::Push { paused: *paused });
          if w.pause_producer {
            *paused = true;
            calls.push(Call::Pause);
          }
          *resume_writes = 0;
        }
      }
      if d.notify_drain {
        *need_drain = false;
      }
      Ok(level)
    };
    for op in ops {
      match op {
        FlowOp::Write(n) => {
          level += n;
          let w = flow::after_write(level, buffer_size, Producer::Push { paused });
          prop_assert_eq!(w.ok, level <= buffer_size);
          if !w.ok {
            need_drain = true;
          }
          if w.pause_producer {
            prop_assert!(!paused, "paused twice");
            prop_assert!(level > buffer_size);
            paused = true;
            calls.push(Call::Pause);
          } else {
            prop_assert!(paused || level <= buffer_size, "over the mark and not paused");
          }
        }
        FlowOp::Drained(m) => {
          level -= m.min(level);
          if level <= low_water {
            level = drain(level, &mut paused, &mut need_drain, &mut calls, &mut resume_writes)?;
          }
        }
        FlowOp::WriteOnResume(n) => resume_writes = n,
      }
    }
    // Write everything out: a paused producer ends resumed (or paused again by its own
    // re-entrant write, with that write still to drain).
    for _ in 0..4 {
      drain(0, &mut paused, &mut need_drain, &mut calls, &mut resume_writes)?;
    }
    prop_assert!(!paused);
    for (i, c) in calls.iter().enumerate() {
      prop_assert_eq!(*c, if i % 2 == 0 { Call::Pause } else { Call::Resume }, "calls: {:?}", calls);
    }
  }

  /// A pull producer is never paused, and is resumed at every drain at or below the mark.
  #[test]
  fn pull_producer_is_never_paused(size in 0u64..500_000, level in 0u64..1_000_000, low_frac in 0u16..=1000) {
    let low = size * low_frac as u64 / 1000;
    prop_assert!(!flow::after_write(level, size, Producer::Pull).pause_producer);
    let d = flow::on_drain(level, low, Producer::Pull, false);
    prop_assert_eq!(d.resume_pull, level <= low);
    prop_assert!(!d.resume_push);
    prop_assert!(flow::close_blocked(Producer::Pull));
  }

  /// The marks accepted are whole numbers from 0 to 2^53 - 1 with the low one not above the high
  /// one; everything else is refused.
  #[test]
  fn marks_are_validated(size in prop_oneof![any::<f64>(), (0u64..1 << 54).prop_map(|n| n as f64)], low in prop_oneof![any::<f64>(), (0u64..1 << 54).prop_map(|n| n as f64)]) {
    let whole = |x: f64| x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x <= 9_007_199_254_740_991.0;
    match flow::validate_marks(size, low) {
      Ok((s, l)) => {
        prop_assert!(whole(size) && whole(low) && low <= size);
        prop_assert_eq!((s as f64, l as f64), (size, low));
      }
      Err(_) => prop_assert!(!(whole(size) && whole(low) && low <= size)),
    }
  }
}
