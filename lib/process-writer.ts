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
 * - a write to a closed writer goes to the core, which refuses and counts it (dropped). A slab
 *   is only opened while the core accepts writes, and closed as soon as JavaScript can see the
 *   end (`connected`, `bufferedAmount`, `stats()` or `fileno` reading it): its writes returned
 *   true while the writer was open, so a slab the core refuses is counted as accepted and
 *   unwritten (the reason's `bytesUnwritten`, `clean: false`), never as dropped;
 * - lowering `bufferSize` hands the slab over, so the next write is measured against the new
 *   mark in the same turn.
 */
import { ProcessWriter as NativeProcessWriter } from './native.js'
import type { ProcessWriterOptions, PullProducer, PushProducer, WriteFileOptions, WriterStats } from './native.js'
import { closed } from './closed.js'
import { ConnectionLostError, codedError } from './errors.js'

/** What `write` and `end` accept: bytes, or a string encoded with the given encoding (UTF-8 by default). */
export type WriteChunk = ArrayBufferView | ArrayBuffer | string

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
   *
   * As with Node's `Writable`, a string is encoded with `encoding` (any `Buffer` encoding,
   * default `'utf8'`); an unknown encoding throws a `TypeError` with code
   * `ERR_UNKNOWN_ENCODING`. `encoding` is ignored for bytes (but still checked when given).
   * There is no per-write callback: use the return value and `onDrain` (or a producer).
   */
  override write(data: WriteChunk, encoding?: BufferEncoding): boolean {
    const s = this[STAGING]
    if (data instanceof Uint8Array) {
      if (encoding !== undefined) checkEncoding(encoding)
      const n = data.length
      // Into the open slab, or a new one (`openSlab` hands the full one over first).
      if (n > 0 && n < COALESCE_BELOW && (s.off + n <= s.room || this.openSlab(n))) {
        s.slab.set(data, s.off)
        s.off += n
        s.stagedWrites++
        return true
      }
    } else if (typeof data === 'string') {
      return this.writeString(data, encoding === undefined ? 'utf8' : checkEncoding(encoding))
    } else if (encoding !== undefined) {
      checkEncoding(encoding)
    }
    this.flushStaged()
    return super.write(data)
  }

  /** A string chunk: small ones are encoded straight into the slab, others into a new Buffer. */
  private writeString(data: string, encoding: BufferEncoding): boolean {
    const s = this[STAGING]
    // An upper bound for base64 (whitespace counts); exact for the other encodings.
    const n = Buffer.byteLength(data, encoding)
    if (n > 0 && n < COALESCE_BELOW && (s.off + n <= s.room || this.openSlab(n))) {
      s.off += s.slab.write(data, s.off, n, encoding)
      s.stagedWrites++
      return true
    }
    this.flushStaged()
    return super.write(Buffer.from(data, encoding))
  }

  /**
   * Queue every chunk in order, as one write (see the native `writeSequence`). Strings are
   * encoded with `encoding` (default `'utf8'`), as in `write`.
   */
  override writeSequence(chunks: Iterable<WriteChunk>, encoding?: BufferEncoding): boolean {
    this.flushStaged()
    const enc = encoding === undefined ? 'utf8' : checkEncoding(encoding)
    if (chunks == null || typeof chunks === 'string' || typeof (chunks as Iterable<WriteChunk>)[Symbol.iterator] !== 'function') {
      return super.writeSequence(chunks as Iterable<ArrayBufferView>) // the core reports the type error
    }
    const list = Array.isArray(chunks) ? (chunks as WriteChunk[]) : Array.from(chunks)
    for (let i = 0; i < list.length; i++) {
      if (typeof list[i] === 'string') {
        return super.writeSequence(list.map((c) => (typeof c === 'string' ? Buffer.from(c, enc) : c)))
      }
    }
    return super.writeSequence(list as (ArrayBufferView | ArrayBuffer)[])
  }

  /**
   * Node's `Writable.end`: write `chunk` when given (as `write(chunk, encoding)` does), then
   * `loseConnection()`. `callback`, when given, is called once the connection has ended: with
   * no argument when everything was flushed and the fd closed (`DONE`), otherwise with a
   * `ConnectionLostError` carrying the reason. Returns the writer.
   */
  end(callback?: EndCallback): this
  end(chunk: WriteChunk | null | undefined, callback?: EndCallback): this
  end(chunk: WriteChunk | null | undefined, encoding?: BufferEncoding, callback?: EndCallback): this
  end(chunk?: WriteChunk | EndCallback | null, encoding?: BufferEncoding | EndCallback, callback?: EndCallback): this {
    if (typeof chunk === 'function') {
      callback = chunk
      chunk = undefined
    } else if (typeof encoding === 'function') {
      callback = encoding
      encoding = undefined
    }
    if (callback !== undefined && typeof callback !== 'function') {
      throw codedError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "callback" argument must be of type function; received ${typeof callback}`)
    }
    if (chunk != null) this.write(chunk, encoding as BufferEncoding | undefined)
    else if (encoding !== undefined) checkEncoding(encoding)
    if (callback) {
      const cb = callback
      closed(this).then((reason) => (reason.code === 'DONE' ? cb() : cb(new ConnectionLostError(reason))))
    }
    this.loseConnection()
    return this
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
    const s = this[STAGING]
    if (s.off > 0 && !super.connected) this.flushStaged() // ended: 0 buffered, the slab unwritten
    return super.bufferedAmount + s.off
  }

  /** Writes are accepted (see the native getter). Seeing the end closes the open slab. */
  override get connected(): boolean {
    const c = super.connected
    if (!c && this[STAGING].room > 0) this.flushStaged()
    return c
  }

  /** The fd written to; -1 once closed (which closes the open slab, as `connected` does). */
  override get fileno(): number {
    const fd = super.fileno
    if (fd < 0 && this[STAGING].room > 0) this.flushStaged()
    return fd
  }

  /**
   * High-water mark (see the native property). Setting it hands the staged slab over first: its
   * room was measured against the old mark, and the next write must be measured against the new
   * one in the same turn.
   */
  override get bufferSize(): number {
    return super.bufferSize
  }

  override set bufferSize(value: number) {
    this.flushStaged()
    super.bufferSize = value
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
    if (s.off > 0 && !super.connected) this.flushStaged() // ended: count the slab as unwritten
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

/** `end()`'s callback: no argument once the connection ended `DONE`, else the reason as an error. */
export type EndCallback = (err?: ConnectionLostError | null) => void

/** `encoding` if `Buffer` knows it (Node's `Writable` also takes `'buffer'`), else Node's TypeError. */
function checkEncoding(encoding: unknown): BufferEncoding {
  if (typeof encoding !== 'string') {
    throw codedError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "encoding" argument must be of type string; received ${typeof encoding}`)
  }
  if (!Buffer.isEncoding(encoding) && encoding !== 'buffer') throw codedError(TypeError, 'ERR_UNKNOWN_ENCODING', `Unknown encoding: ${encoding}`)
  return encoding === 'buffer' ? 'utf8' : encoding
}
