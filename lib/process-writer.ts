/**
 * `ProcessWriter` as the package exports it: the native class (Rust core, typings generated in
 * `index.d.ts`) plus a JS fast path for small writes.
 *
 * Crossing into native code costs far more than copying 100 bytes inside V8, so chunks smaller
 * than `COALESCE_BELOW` are copied into a 16 KiB slab here and handed to the core as one write
 * at the end of the current microtask checkpoint (or sooner, when the slab is full, a large
 * write comes, or any other method is called). Nothing about the contract changes:
 * - the staged bytes count in `bufferedAmount` and `stats()`;
 * - staging never takes the total over `bufferSize` (a slab's room is what is left below it),
 *   so the write that crosses the mark is always a native one, which returns false and pauses
 *   a push producer synchronously, exactly as without the fast path;
 * - order is kept: every other method flushes the slab first;
 * - a write to a closed writer goes to the core, which refuses and counts it.
 */
import { ProcessWriter as NativeProcessWriter } from '../index.js'
import type { ProcessWriterOptions, PullProducer, PushProducer, WriteFileOptions, WriterStats } from '../index.js'

/** Byte length (exclusive) below which a `Uint8Array`/`Buffer` chunk is coalesced in JS. */
export const COALESCE_BELOW = 16 * 1024 + 1
/**
 * A slab is handed over when it holds this much: a quarter of Twisted's default `bufferSize`, so
 * that the core writes one slab while JavaScript fills the next ones without the total reaching
 * the mark (measured: 16 KiB beats 32 and 64 KiB at 100 B and 4 KiB writes). It must stay below
 * the core's by-reference threshold (32 KiB): the core then copies the slab, and it is reused.
 */
const SLAB_SIZE = 16 * 1024

interface Staging {
  /** Reused for every batch: the core copies what it is given (smaller than 32 KiB). */
  slab: Buffer
  /** Bytes staged in `slab`. */
  off: number
  /** How many bytes this slab may take (0: no slab open). */
  room: number
  flushQueued: boolean
  /** JS write calls absorbed by the fast path, and slabs handed to the core. */
  stagedWrites: number
  flushes: number
  flush: () => void
}

const STAGING = Symbol('processWriter.staging')

/** The core's fast-path call (`hand_over` in `src/writer.rs`), which `index.d.ts` leaves out. */
interface NativeFastPath {
  _handOver(slab: Uint8Array, maxRoom: number): number
}

export class ProcessWriter extends NativeProcessWriter {
  declare [STAGING]: Staging

  constructor(fd: number, options?: ProcessWriterOptions | null) {
    super(fd, options)
    const staging: Staging = {
      slab: Buffer.allocUnsafeSlow(SLAB_SIZE),
      off: 0,
      room: 0,
      flushQueued: false,
      stagedWrites: 0,
      flushes: 0,
      flush: () => {
        staging.flushQueued = false
        this.flushStaged()
      },
    }
    Object.defineProperty(this, STAGING, { value: staging })
  }

  /**
   * Queue `data` (see the native `write`): returns false once `bufferedAmount > bufferSize`, or
   * when the connection has ended. Small `Buffer`/`Uint8Array` chunks are coalesced first.
   */
  override write(data: ArrayBufferView | ArrayBuffer): boolean {
    const s = this[STAGING]
    if (data instanceof Uint8Array) {
      const n = data.length
      // Into the open slab, or a new one (`openSlab` hands the full one over first).
      if (n > 0 && n < COALESCE_BELOW && (s.off + n <= s.room || this.openSlab(n))) {
        s.slab.set(data, s.off)
        s.off += n
        s.stagedWrites++
        return true
      }
    }
    this.flushStaged()
    return super.write(data)
  }

  override writeSequence(chunks: Iterable<ArrayBufferView | ArrayBuffer>): boolean {
    this.flushStaged()
    return super.writeSequence(chunks)
  }

  /**
   * Queue a file range (or a pipe, read to its end) behind what was written so far; see the
   * native `writeFile`. `source`: an fd, a path, or an `fs.promises.FileHandle`. Resolves with
   * the bytes moved; always returns a Promise (bad arguments reject, they do not throw).
   */
  override writeFile(source: number | string | { fd: number }, options?: WriteFileOptions | null): Promise<number> {
    this.flushStaged()
    return super.writeFile(source, options)
  }

  override get bufferedAmount(): number {
    return super.bufferedAmount + this[STAGING].off
  }

  override loseConnection(): void {
    this.flushStaged()
    super.loseConnection()
  }

  override loseWriteConnection(): void {
    this.loseConnection()
  }

  override abortConnection(): void {
    this.flushStaged()
    super.abortConnection()
  }

  override registerProducer(producer: PushProducer | PullProducer, streaming: boolean): void {
    this.flushStaged()
    super.registerProducer(producer, streaming)
  }

  override unregisterProducer(): void {
    this.flushStaged()
    super.unregisterProducer()
  }

  override stopConsuming(): void {
    this.flushStaged()
    super.stopConsuming()
  }

  override stats(): WriterStats {
    const s = this[STAGING]
    const st = super.stats()
    st.bytesAccepted += s.off
    st.bytesBuffered += s.off
    st.writes += s.stagedWrites - s.flushes
    return st
  }

  /** Hand the staged bytes to the core now. */
  flushStaged(): void {
    const s = this[STAGING]
    if (s.off === 0) {
      s.room = 0
      return
    }
    this.handOver()
  }

  /**
   * Hand the staged bytes (if any) to the core; returns the room for the next slab (at most
   * `SLAB_SIZE`, without crossing `bufferSize`), or -1 once the writer no longer accepts writes.
   */
  private handOver(): number {
    const s = this[STAGING]
    const chunk = s.slab.subarray(0, s.off)
    // Reset before the native call: it may call back into `write` (a producer's pause), which
    // must start a new batch. The core copies `chunk` before returning, so the slab is free.
    if (s.off > 0) s.flushes++
    s.off = 0
    s.room = 0
    return (this as unknown as NativeFastPath)._handOver(chunk, SLAB_SIZE)
  }

  /** Start a new slab able to take at least `n` bytes without crossing `bufferSize`. */
  private openSlab(n: number): boolean {
    const room = this.handOver()
    if (room < n) return false
    const s = this[STAGING]
    s.room = room
    if (!s.flushQueued) {
      s.flushQueued = true
      queueMicrotask(s.flush)
    }
    return true
  }
}
