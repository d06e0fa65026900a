//! The write queue: what `write()` accepted and the kernel has not taken yet.
//!
//! Pure data structure, no fds: the I/O thread asks it for an iovec batch, hands that to
//! `writev`, and reports back how many bytes the kernel took (`consume`), which may end in the
//! middle of a chunk (a partial write, as libuv's `uv__write` handles it).
//!
//! Small writes are copied into *slabs* (buffers of [`SLAB_SIZE`] bytes) so that thousands of
//! 100-byte `write()` calls become a handful of iovecs and one syscall. A large chunk is either
//! copied into its own allocation or, with [`WriteQueue::push_shared`], queued by reference
//! (the caller's memory, kept alive by the [`SharedBytes`] value until it is written).

use std::collections::VecDeque;
use std::io::IoSlice;
use std::sync::Mutex;

/// Size of the buffers small writes are coalesced into.
pub const SLAB_SIZE: usize = 64 * 1024;

/// Written slabs kept for reuse by any writer, beyond each writer's own spares: at most 1 MiB
/// per process, whatever the number of writers.
///
/// A writer keeps two spare slabs of its own (that bound is part of what one writer may hold),
/// too few for a deep queue of small writes: its slabs were freed as they were written and new
/// ones allocated for the next writes, and the allocator gave the pages back to the kernel in
/// between. One writer of 4 KiB writes took 29,000 to 46,000 page faults per 2 GiB, and about
/// 4,500 with this cache (Node's own); alternating runs, 15 each: 2.97 against 2.72 GiB/s, and
/// 0.209 against 0.246 CPU seconds per GiB.
pub const CACHED_SLABS: usize = 16;

/// A bounded stack of written slabs, shared by the threads that queue and write them.
pub struct SlabCache {
  slabs: Mutex<Vec<Vec<u8>>>,
  max: usize,
}

impl SlabCache {
  pub const fn new(max: usize) -> Self {
    SlabCache { slabs: Mutex::new(Vec::new()), max }
  }

  /// Keep `slab` for reuse; false (and `slab` freed, outside the lock) when the cache is full.
  pub fn put(&self, slab: Vec<u8>) -> bool {
    let mut slabs = self.slabs.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if slabs.len() < self.max {
      slabs.push(slab);
      return true;
    }
    drop(slabs);
    drop(slab);
    false
  }

  /// A kept slab, if there is one.
  pub fn take(&self) -> Option<Vec<u8>> {
    self.slabs.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).pop()
  }
}

/// The process-wide cache behind [`WriteQueue::push_copy`] and [`Chunk::recycle`].
static SLAB_CACHE: SlabCache = SlabCache::new(CACHED_SLABS);

/// At most this many iovecs go to one `writev` (POSIX `IOV_MAX` is 1024 on Linux and macOS).
pub const MAX_IOVECS: usize = 1024;

/// At most this many bytes go to one `writev` (keeps the return value far from `ssize_t` limits).
pub const MAX_BATCH_BYTES: usize = 1 << 30;

/// Memory owned elsewhere (a JS buffer) that stays valid and unchanged while queued.
pub trait SharedBytes: Send {
  fn bytes(&self) -> &[u8];
}

impl SharedBytes for Vec<u8> {
  fn bytes(&self) -> &[u8] {
    self
  }
}

enum Data {
  Owned(Vec<u8>),
  Shared(Box<dyn SharedBytes>),
}

/// One queued buffer.
pub struct Chunk {
  data: Data,
  /// Coalescing target: later small writes may be appended while it is the tail.
  slab: bool,
}

impl std::fmt::Debug for Chunk {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    write!(f, "Chunk({} bytes, slab: {})", self.bytes().len(), self.slab)
  }
}

impl Chunk {
  pub fn bytes(&self) -> &[u8] {
    match &self.data {
      Data::Owned(v) => v,
      Data::Shared(s) => s.bytes(),
    }
  }

  /// Memory owned elsewhere (a JS buffer queued by reference).
  pub fn is_shared(&self) -> bool {
    matches!(self.data, Data::Shared(_))
  }

  /// Done with: a slab goes back to `spare` (up to `keep` of them), else to the process-wide
  /// cache ([`CACHED_SLABS`]); anything else is dropped.
  pub fn recycle(self, spare: &mut Vec<Vec<u8>>, keep: usize) {
    if let Chunk { data: Data::Owned(v), slab: true } = self {
      if spare.len() < keep {
        spare.push(v);
      } else {
        SLAB_CACHE.put(v);
      }
    }
  }
}

/// FIFO of byte chunks with a read offset into the first one.
#[derive(Debug, Default)]
pub struct WriteQueue {
  chunks: VecDeque<Chunk>,
  /// Bytes of `chunks[0]` already written.
  head_offset: usize,
  /// Unwritten bytes in the whole queue.
  len: usize,
}

impl WriteQueue {
  pub fn new() -> Self {
    Self::default()
  }

  /// Unwritten bytes.
  pub fn len(&self) -> usize {
    self.len
  }

  pub fn is_empty(&self) -> bool {
    self.len == 0
  }

  /// Bytes of the first chunk already written.
  pub fn started_bytes(&self) -> usize {
    self.head_offset
  }

  /// Number of chunks (iovecs a full flush would need).
  pub fn chunk_count(&self) -> usize {
    self.chunks.len()
  }

  /// Copy `data` in. Appends to the tail slab when it fits, opens a new slab (taken from
  /// `spare` when one is there) for small data, or gives large data a buffer of its own.
  pub fn push_copy(&mut self, data: &[u8], spare: &mut Vec<Vec<u8>>) {
    if data.is_empty() {
      return;
    }
    self.len += data.len();
    let is_head_in_flight = self.chunks.len() == 1 && self.head_offset > 0;
    if let Some(Chunk { data: Data::Owned(tail), slab: true }) = self.chunks.back_mut() {
      if !is_head_in_flight && tail.len() + data.len() <= SLAB_SIZE {
        tail.extend_from_slice(data);
        return;
      }
    }
    if data.len() < SLAB_SIZE / 2 {
      let mut slab = spare.pop().or_else(|| SLAB_CACHE.take()).unwrap_or_else(|| Vec::with_capacity(SLAB_SIZE));
      slab.clear();
      slab.extend_from_slice(data);
      self.chunks.push_back(Chunk { data: Data::Owned(slab), slab: true });
    } else {
      self.chunks.push_back(Chunk { data: Data::Owned(data.to_vec()), slab: false });
    }
  }

  /// Queue memory owned elsewhere without copying it; it is dropped once written (or when the
  /// queue is cleared).
  pub fn push_shared(&mut self, data: Box<dyn SharedBytes>) {
    let n = data.bytes().len();
    if n == 0 {
      return;
    }
    self.len += n;
    self.chunks.push_back(Chunk { data: Data::Shared(data), slab: false });
  }

  /// Move every chunk of `other` to the end of `self`, leaving `other` empty.
  pub fn append(&mut self, other: &mut WriteQueue) {
    if other.is_empty() {
      return;
    }
    debug_assert_eq!(other.head_offset, 0, "only untouched queues are appended");
    self.len += other.len;
    self.chunks.append(&mut other.chunks);
    other.len = 0;
    other.head_offset = 0;
  }

  /// Fill `out` with slices covering the front of the queue: at most `max_iov` slices and
  /// at most `max_bytes` bytes (the last slice is cut to fit). Returns the number of bytes covered.
  pub fn io_slices<'a>(&'a self, out: &mut Vec<IoSlice<'a>>, max_iov: usize, max_bytes: usize) -> usize {
    out.clear();
    let mut total = 0;
    for (i, chunk) in self.chunks.iter().enumerate() {
      if out.len() >= max_iov || total >= max_bytes {
        break;
      }
      let mut bytes = chunk.bytes();
      if i == 0 {
        bytes = &bytes[self.head_offset..];
      }
      let room = max_bytes - total;
      if bytes.len() > room {
        bytes = &bytes[..room];
      }
      if bytes.is_empty() {
        continue;
      }
      total += bytes.len();
      out.push(IoSlice::new(bytes));
    }
    total
  }

  /// The kernel took `n` bytes from the front. Fully written slabs are handed to `spare` for
  /// reuse (at most `keep_spare` are kept).
  pub fn consume(&mut self, n: usize, spare: &mut Vec<Vec<u8>>, keep_spare: usize) {
    self.consume_with(n, &mut |c| c.recycle(spare, keep_spare));
  }

  /// The kernel took `n` bytes from the front; every chunk fully taken is passed to `done`
  /// (zero-copy writes keep them until the reader has consumed them).
  pub fn consume_with(&mut self, n: usize, done: &mut dyn FnMut(Chunk)) {
    // The kernel never takes more than it was offered, and `io_slices` never offers more than
    // `len`: checked in tests; in a release build a violation is clamped rather than allowed
    // to panic on the I/O thread (which would stop every writer).
    debug_assert!(n <= self.len, "consumed more than queued");
    let mut n = n.min(self.len);
    self.len -= n;
    while n > 0 {
      let Some(head) = self.chunks.front() else { break };
      let left = head.bytes().len() - self.head_offset;
      if n < left {
        self.head_offset += n;
        return;
      }
      n -= left;
      self.head_offset = 0;
      if let Some(chunk) = self.chunks.pop_front() {
        done(chunk);
      }
    }
    // Skip empty chunks at the front so `is_empty` and the chunk list agree.
    while self.len == 0 && !self.chunks.is_empty() {
      self.chunks.pop_front();
    }
  }

  /// The first chunk, if part of it was already written (its memory may still be referenced
  /// by the kernel after a zero-copy write). The rest of the queue is left as it is.
  pub fn take_started_head(&mut self) -> Option<Chunk> {
    if self.head_offset == 0 {
      return None;
    }
    let head = self.chunks.pop_front()?;
    self.len -= head.bytes().len() - self.head_offset;
    self.head_offset = 0;
    Some(head)
  }

  /// Drop everything; returns how many unwritten bytes were discarded.
  pub fn clear(&mut self) -> usize {
    let n = self.len;
    self.chunks.clear();
    self.head_offset = 0;
    self.len = 0;
    n
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn slab_cache_keeps_at_most_its_bound_and_gives_back_the_last_kept() {
    let cache = SlabCache::new(2);
    assert!(cache.take().is_none());
    assert!(cache.put(vec![1]));
    assert!(cache.put(vec![2]));
    assert!(!cache.put(vec![3]), "a full cache frees the slab");
    assert_eq!(cache.take(), Some(vec![2]));
    assert_eq!(cache.take(), Some(vec![1]));
    assert!(cache.take().is_none());
  }

  fn flat(q: &WriteQueue) -> Vec<u8> {
    let mut v = Vec::new();
    let total = q.io_slices(&mut v, usize::MAX, usize::MAX);
    let out: Vec<u8> = v.iter().flat_map(|s| s.iter().copied()).collect();
    assert_eq!(out.len(), total);
    out
  }

  #[test]
  fn small_writes_coalesce_into_one_slab() {
    let mut q = WriteQueue::new();
    let mut spare = Vec::new();
    for i in 0..600u32 {
      q.push_copy(&[(i % 251) as u8; 100], &mut spare);
    }
    assert_eq!(q.len(), 60_000);
    assert_eq!(q.chunk_count(), 1, "600 x 100 B fit one 64 KiB slab");
    let mut v = Vec::new();
    assert_eq!(q.io_slices(&mut v, MAX_IOVECS, MAX_BATCH_BYTES), 60_000);
    assert_eq!(v.len(), 1);
  }

  #[test]
  fn slab_boundary_opens_a_new_slab() {
    let mut q = WriteQueue::new();
    let mut spare = Vec::new();
    for _ in 0..700 {
      q.push_copy(&[7u8; 100], &mut spare);
    }
    // 655 writes fill the first slab (65500 B), the rest open a second one.
    assert_eq!(q.chunk_count(), 2);
    assert_eq!(flat(&q), vec![7u8; 70_000]);
  }

  #[test]
  fn large_chunks_keep_their_own_buffer_and_order() {
    let mut q = WriteQueue::new();
    let mut spare = Vec::new();
    q.push_copy(b"ab", &mut spare);
    q.push_copy(&[1u8; 100_000], &mut spare);
    q.push_copy(b"cd", &mut spare);
    assert_eq!(q.chunk_count(), 3);
    let f = flat(&q);
    assert_eq!(&f[..2], b"ab");
    assert_eq!(&f[100_002..], b"cd");
    assert_eq!(f.len(), 100_004);
  }

  #[test]
  fn partial_write_resumes_mid_chunk() {
    let mut q = WriteQueue::new();
    let mut spare = Vec::new();
    q.push_copy(&[1u8; 40_000], &mut spare);
    q.push_copy(&[2u8; 40_000], &mut spare);
    q.consume(30_000, &mut spare, 4);
    assert_eq!(q.len(), 50_000);
    let f = flat(&q);
    assert_eq!(&f[..10_000], &[1u8; 10_000][..]);
    assert_eq!(&f[10_000..], &[2u8; 40_000][..]);
    q.consume(10_000, &mut spare, 4);
    assert_eq!(q.chunk_count(), 1);
    q.consume(40_000, &mut spare, 4);
    assert!(q.is_empty());
    assert_eq!(q.chunk_count(), 0);
  }

  #[test]
  fn no_coalescing_into_a_partly_written_head() {
    let mut q = WriteQueue::new();
    let mut spare = Vec::new();
    q.push_copy(b"hello", &mut spare);
    q.consume(2, &mut spare, 4);
    q.push_copy(b"world", &mut spare);
    assert_eq!(q.chunk_count(), 2);
    assert_eq!(flat(&q), b"lloworld");
  }

  #[test]
  fn iovec_limit_is_honoured() {
    let mut q = WriteQueue::new();
    let mut spare = Vec::new();
    for _ in 0..2000 {
      q.push_copy(&[3u8; 40_000], &mut spare);
    }
    let mut v = Vec::new();
    let n = q.io_slices(&mut v, MAX_IOVECS, usize::MAX);
    assert_eq!(v.len(), MAX_IOVECS);
    assert_eq!(n, MAX_IOVECS * 40_000);
  }

  #[test]
  fn byte_limit_cuts_the_last_slice_to_fit() {
    let mut q = WriteQueue::new();
    let mut spare = Vec::new();
    q.push_copy(&[1u8; 100_000], &mut spare);
    q.push_copy(&[2u8; 100_000], &mut spare);
    let mut v = Vec::new();
    assert_eq!(q.io_slices(&mut v, MAX_IOVECS, 150_000), 150_000);
    assert_eq!((v.len(), v[1].len()), (2, 50_000));
    assert_eq!(q.io_slices(&mut v, MAX_IOVECS, 50_000), 50_000);
    assert_eq!(v.len(), 1);
    drop(v);
    // A partial write that ends inside the cut slice resumes where it stopped.
    q.consume(120_000, &mut spare, 4);
    let mut v = Vec::new();
    assert_eq!(q.io_slices(&mut v, MAX_IOVECS, 8_192), 8_192);
    assert!(v[0].iter().all(|&b| b == 2));
    drop(v);
    assert_eq!(q.len(), 80_000);
  }

  #[test]
  fn append_moves_everything_and_preserves_order() {
    let mut a = WriteQueue::new();
    let mut b = WriteQueue::new();
    let mut spare = Vec::new();
    a.push_copy(b"123", &mut spare);
    a.consume(1, &mut spare, 4);
    b.push_copy(b"456", &mut spare);
    b.push_copy(&[9u8; 50_000], &mut spare);
    a.append(&mut b);
    assert!(b.is_empty());
    assert_eq!(a.len(), 2 + 3 + 50_000);
    let f = flat(&a);
    assert_eq!(&f[..5], b"23456");
    // The old tail is never coalesced into after an append.
    a.push_copy(b"x", &mut spare);
    assert_eq!(*flat(&a).last().unwrap(), b'x');
  }

  #[test]
  fn slabs_are_recycled() {
    let mut q = WriteQueue::new();
    let mut spare = Vec::new();
    q.push_copy(&[1u8; 1000], &mut spare);
    q.consume(1000, &mut spare, 4);
    assert_eq!(spare.len(), 1);
    assert!(spare[0].capacity() >= SLAB_SIZE);
    q.push_copy(&[2u8; 10], &mut spare);
    assert_eq!(spare.len(), 0);
    assert_eq!(flat(&q), vec![2u8; 10]);
  }

  #[test]
  fn clear_reports_discarded_bytes() {
    let mut q = WriteQueue::new();
    let mut spare = Vec::new();
    q.push_copy(&[1u8; 10], &mut spare);
    q.push_copy(&[1u8; 70_000], &mut spare);
    q.consume(5, &mut spare, 4);
    assert_eq!(q.clear(), 70_005);
    assert!(q.is_empty());
  }

  #[test]
  fn shared_chunks_are_written_in_order_and_dropped_once_written() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    struct Counted(Vec<u8>, Arc<AtomicUsize>);
    impl SharedBytes for Counted {
      fn bytes(&self) -> &[u8] {
        &self.0
      }
    }
    impl Drop for Counted {
      fn drop(&mut self) {
        self.1.fetch_add(1, Ordering::SeqCst);
      }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let mut q = WriteQueue::new();
    let mut spare = Vec::new();
    q.push_copy(b"a", &mut spare);
    q.push_shared(Box::new(Counted(vec![b'b'; 100_000], drops.clone())));
    q.push_copy(b"c", &mut spare);
    assert_eq!(q.chunk_count(), 3, "nothing is coalesced into or after a shared chunk's slab");
    let f = flat(&q);
    assert_eq!((f[0], f[1], f[100_001]), (b'a', b'b', b'c'));
    q.consume(50_001, &mut spare, 4);
    assert_eq!(drops.load(Ordering::SeqCst), 0, "kept while partly written");
    q.consume(50_000, &mut spare, 4);
    assert_eq!(drops.load(Ordering::SeqCst), 1, "dropped once written");
    q.push_shared(Box::new(Counted(vec![1; 10], drops.clone())));
    q.clear();
    assert_eq!(drops.load(Ordering::SeqCst), 2, "dropped when cleared");
  }

  #[test]
  fn consume_with_hands_over_finished_chunks() {
    let mut q = WriteQueue::new();
    let mut spare = Vec::new();
    q.push_copy(&[1u8; 40_000], &mut spare);
    q.push_copy(&[2u8; 40_000], &mut spare);
    let mut done = Vec::new();
    q.consume_with(50_000, &mut |c| done.push(c.bytes().len()));
    assert_eq!(done, vec![40_000]);
    let head = q.take_started_head().expect("the second chunk was started");
    assert_eq!(head.bytes().len(), 40_000);
    assert!(q.is_empty());
    assert!(q.take_started_head().is_none());
  }

  #[test]
  fn empty_writes_queue_nothing() {
    let mut q = WriteQueue::new();
    let mut spare = Vec::new();
    q.push_copy(&[], &mut spare);
    assert!(q.is_empty());
    assert_eq!(q.chunk_count(), 0);
  }
}
