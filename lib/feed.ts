import type { ConnectionLostReason, ProcessWriter } from './native.js'
import { closed } from './closed.js'
import { abortErrorFrom, invalidArgType } from './errors.js'
import { pauseGate } from './gate.js'
import { onProgress, type Progress } from './progress.js'

/** A chunk a feed source may yield: bytes, or a string (encoded with `encoding`). */
export type FeedChunk = ArrayBufferView | ArrayBuffer | string

/**
 * What `feed()` accepts: an async iterable or iterable of chunks (Node `Readable`s are async
 * iterables), a Web `ReadableStream`, or one `Buffer` / `Uint8Array` / `ArrayBuffer` / string.
 */
export type FeedSource =
  | AsyncIterable<FeedChunk>
  | Iterable<FeedChunk>
  | ReadableStream<FeedChunk>
  | NodeJS.ReadableStream
  | FeedChunk

export interface FeedOptions {
  /** Aborting calls `writer.abortConnection()` and rejects with an `AbortError`. */
  signal?: AbortSignal
  /**
   * `true` (default): when the source is exhausted, `loseConnection()` and resolve with the final
   * reason. `false`: leave the writer open; resolve with `null` once the source is exhausted and the
   * writer is back under its `bufferSize` (see the docs).
   */
  end?: boolean
  /** Encoding of string sources and string chunks (default `'utf8'`). */
  encoding?: BufferEncoding
  /** Slice size for a single Buffer / string source (default 65536). */
  chunkSize?: number
  /** Progress reports while feeding (see `onProgress`). */
  onProgress?: (progress: Progress) => void
  /** Interval of the progress reports (default 250 ms). */
  progressIntervalMs?: number
}

type AnyIterator = {
  next(): IteratorResult<unknown> | Promise<IteratorResult<unknown>>
  return?(value?: unknown): unknown
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v != null && typeof (v as { then?: unknown }).then === 'function'
}

function* slices(buf: Uint8Array, size: number): Generator<Uint8Array> {
  for (let off = 0; off < buf.byteLength; off += size) yield buf.subarray(off, Math.min(off + size, buf.byteLength))
}

function iteratorOf(source: FeedSource, encoding: BufferEncoding, chunkSize: number): AnyIterator {
  if (typeof source === 'string') return slices(Buffer.from(source, encoding), chunkSize)
  if (source instanceof ArrayBuffer) return slices(new Uint8Array(source), chunkSize)
  if (ArrayBuffer.isView(source)) {
    return slices(new Uint8Array(source.buffer, source.byteOffset, source.byteLength), chunkSize)
  }
  if (source != null && typeof (source as ReadableStream).getReader === 'function') {
    const reader = (source as ReadableStream<unknown>).getReader()
    return {
      next: () => reader.read() as Promise<IteratorResult<unknown>>,
      return: () => reader.cancel().catch(() => {}),
    }
  }
  if (source != null && typeof (source as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
    return (source as AsyncIterable<unknown>)[Symbol.asyncIterator]()
  }
  if (source != null && typeof (source as Iterable<unknown>)[Symbol.iterator] === 'function') {
    return (source as Iterable<unknown>)[Symbol.iterator]()
  }
  throw invalidArgType(
    'The "source" argument must be an iterable, async iterable, Readable, ReadableStream, Buffer, TypedArray or string',
    source,
  )
}

function toBytes(chunk: unknown, encoding: BufferEncoding): ArrayBufferView {
  if (ArrayBuffer.isView(chunk)) return chunk
  if (typeof chunk === 'string') return Buffer.from(chunk, encoding)
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk)
  throw invalidArgType('feed() source chunks must be Buffers, TypedArrays, DataViews, ArrayBuffers or strings', chunk)
}

const INTERRUPTED = Symbol('interrupted')

function isNodeStream(v: unknown): v is { destroy(): unknown } {
  return (
    v != null &&
    typeof v === 'object' &&
    typeof (v as { destroy?: unknown }).destroy === 'function' &&
    typeof (v as { pipe?: unknown }).pipe === 'function' &&
    typeof (v as { on?: unknown }).on === 'function'
  )
}

/** Let go of a source that was not read to its end. */
function releaseSource(source: FeedSource, it: AnyIterator): void {
  try {
    // A Node stream's iterator cannot be returned while a read is pending: destroy the
    // stream itself (as stream.pipeline does); other iterators are returned.
    const ret = isNodeStream(source) ? source.destroy() : it.return?.()
    if (isThenable(ret)) Promise.resolve(ret).catch(() => {})
  } catch {}
}

/**
 * Write everything `source` yields into `writer`, honouring the writer's flow control (it
 * registers itself as the writer's push producer and stops pulling from the source while paused).
 *
 * - `end: true` (default): resolves with the final `ConnectionLostReason` once the source is
 *   exhausted and `loseConnection()` completed (`code: 'DONE'`), or with the reason the
 *   connection ended early (`READER_CLOSED`, `ERROR`, ...). It does not reject for those.
 * - `end: false`: resolves with `null` once the source is exhausted and the writer is not over its
 *   `bufferSize` (bytes may still be buffered; the writer stays open and has no producer), or with
 *   the reason if the connection ended first.
 * - Rejects with an `AbortError` when `signal` aborts (after `abortConnection()`), with the
 *   source's error if the source throws (after `abortConnection()`: a truncated input is never
 *   closed as if it were complete), and with a `TypeError` (`ERR_INVALID_ARG_TYPE`) for a chunk that
 *   is not bytes or a string.
 * - Rejects with `ERR_PRODUCER_ALREADY_REGISTERED` when the writer already has a producer: that
 *   producer stays, and the writer is left as it was (the source is released, nothing written).
 */
export function feed(writer: ProcessWriter, source: FeedSource, options?: FeedOptions & { end?: true }): Promise<ConnectionLostReason>
export function feed(writer: ProcessWriter, source: FeedSource, options: FeedOptions & { end: false }): Promise<ConnectionLostReason | null>
export function feed(writer: ProcessWriter, source: FeedSource, options?: FeedOptions): Promise<ConnectionLostReason | null>
export async function feed(
  writer: ProcessWriter,
  source: FeedSource,
  options: FeedOptions = {},
): Promise<ConnectionLostReason | null> {
  const { signal, end = true, encoding = 'utf8' } = options
  const chunkSize = options.chunkSize ?? 65536
  if (!(Number.isInteger(chunkSize) && chunkSize > 0)) {
    throw new RangeError(`chunkSize must be a positive integer; received ${String(chunkSize)}`)
  }
  if (signal?.aborted) {
    if (writer.connected) writer.abortConnection()
    throw abortErrorFrom(signal)
  }
  const it = iteratorOf(source, encoding, chunkSize)
  const lost = closed(writer)

  // One promise that settles when we must stop waiting: abort (reject) or connection lost.
  // Not Promise.race([p, aPromiseThatNeverSettles]): every race leaves a reaction on the
  // long-lived promise that holds the race's result, so each chunk the source yielded stayed
  // reachable until the feed ended (a 2 GiB file fed from a Node stream: 2 GiB of RSS). Only the
  // wait in progress is held here.
  let interruption: { reason: unknown } | null = null
  let failWait: ((e: unknown) => void) | null = null
  const interrupt = (e: unknown) => {
    if (interruption) return
    interruption = { reason: e }
    const fail = failWait
    failWait = null
    fail?.(e)
  }
  let aborted = false
  let stopped = false
  const onAbort = () => {
    aborted = true
    if (writer.connected) writer.abortConnection()
    interrupt(abortErrorFrom(signal!))
  }
  signal?.addEventListener('abort', onAbort, { once: true })

  const gate = pauseGate<() => void>(
    (resume) => resume(),
    () => {
      stopped = true
      interrupt(INTERRUPTED)
    },
  )
  const race = <T>(p: PromiseLike<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (interruption) return reject(interruption.reason)
      failWait = reject
      const settled = () => {
        if (failWait === reject) failWait = null
      }
      p.then(
        (v) => {
          settled()
          resolve(v)
        },
        (e) => {
          settled()
          reject(e)
        },
      )
    })
  const whileResumed = () => race(new Promise<void>((r) => gate.wait(r)))

  const stopProgress = options.onProgress
    ? onProgress(writer, options.onProgress, { intervalMs: options.progressIntervalMs })
    : null
  let registered = false
  let finishedSource = false
  try {
    // Refused (ERR_PRODUCER_ALREADY_REGISTERED): the writer belongs to the producer already there,
    // which stays; this feed rejects without touching the writer.
    writer.registerProducer(gate.producer, true)
  } catch (err) {
    signal?.removeEventListener('abort', onAbort)
    stopProgress?.()
    releaseSource(source, it)
    throw err
  }
  try {
    registered = !stopped
    for (;;) {
      // `connected` turns false as soon as the connection is gone; stopProducing() only comes
      // through the event loop, which a source that resolves in microtasks would never reach.
      if (!writer.connected) stopped = true
      if (stopped || aborted) break
      let r = it.next()
      if (isThenable(r)) r = await race(r)
      if (r.done) {
        finishedSource = true
        break
      }
      writer.write(toBytes(r.value, encoding))
      if (gate.paused && !stopped && writer.connected) await whileResumed()
    }
    if (aborted) throw abortErrorFrom(signal!)
    if (stopped) return await race(lost)
    if (registered) writer.unregisterProducer()
    registered = false
    if (end) {
      writer.loseConnection()
      return await race(lost)
    }
    // end: false. Leave the writer with room for whoever comes next.
    if (writer.lostReason) return await race(lost)
    return null
  } catch (err) {
    if (err === INTERRUPTED) {
      if (aborted) throw abortErrorFrom(signal!)
      return await lost
    }
    if (registered) {
      try {
        writer.unregisterProducer()
      } catch {}
    }
    if (writer.connected) writer.abortConnection()
    throw err
  } finally {
    signal?.removeEventListener('abort', onAbort)
    if (!finishedSource) releaseSource(source, it)
    if (!end) stopProgress?.()
  }
}
