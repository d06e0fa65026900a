import { Writable } from 'node:stream'
import type { ConnectionLostReason, ProcessWriter } from './native.js'
import { closed } from './closed.js'
import { ConnectionLostError, abortErrorFrom, codedError } from './errors.js'
import { pauseGate } from './gate.js'

export interface ToWritableOptions {
  /** Aborting destroys the stream with an `AbortError` and calls `writer.abortConnection()`. */
  signal?: AbortSignal
  /**
   * The `Writable`'s own high-water mark (bytes it queues while the writer is paused before
   * `write()` returns false). Default: the writer's `bufferSize`.
   */
  highWaterMark?: number
}

/** Turn anything the adapters accept into bytes; strings are UTF-8. */
function asView(chunk: unknown): ArrayBufferView {
  if (ArrayBuffer.isView(chunk)) return chunk
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8')
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk)
  throw codedError(TypeError, 'ERR_INVALID_ARG_TYPE', 'chunk must be a string, Buffer, TypedArray, DataView or ArrayBuffer')
}

/**
 * A Node `Writable` that writes into `writer`, with the writer's flow control: a write callback
 * fires at once while the writer is under its `bufferSize`, otherwise when the writer resumes its
 * producer. `end()` calls `loseConnection()`; `'finish'` means the pipe is flushed and closed
 * (reason `DONE`). Any other end of the connection destroys the stream with a
 * `ConnectionLostError` (`code` = the reason's code, `errno`, `reason`). Destroying the stream
 * before it finished aborts the writer.
 */
export function toWritable(writer: ProcessWriter, options: ToWritableOptions = {}): Writable {
  return writableOver(writer, options, false)
}

/**
 * Set to true on a stream made by `writableOver` to make a `destroy()` without an error close
 * the writer gently: what it already accepted is flushed (`loseConnection()`), and a writer the
 * stream never wrote to is left alone. Used for `child.stdin`, which Node destroys as the child
 * exits.
 */
export const CLOSE_ON_DESTROY = Symbol('processWriter.closeOnDestroy')
/** Read-only flag on a stream made by `writableOver`: it has written to (or ended) the writer. */
export const IN_USE = Symbol('processWriter.inUse')

/**
 * `toWritable`, and the `child.stdin` variant (`lazy`), which differs in two ways:
 * - the stream registers its producer at its first write, so that merely reading `child.stdin`
 *   does not take the writer from `feed()` or the user's own producer;
 * - when the connection ends without `end()`, it closes quietly (no `'error'`) if it never wrote,
 *   or if the reader left after taking everything (`READER_CLOSED`, `clean`) and no write is
 *   waiting: as Node's `child.stdin` when a child exits. Bytes that could not be delivered
 *   still fail it with a `ConnectionLostError`.
 */
export function writableOver(writer: ProcessWriter, options: ToWritableOptions, lazy: boolean): Writable {
  // A write callback held while the writer is paused (stopProducing: the reason arrives
  // through closed(); nothing to do synchronously).
  const gate = pauseGate<(err?: Error | null) => void>((cb) => cb())
  let finishing = false
  let finished = false
  let registered = false
  let used = false
  const use = () => {
    if (used) return
    writer.registerProducer(gate.producer, true)
    used = registered = true
    Object.defineProperty(stream, IN_USE, { value: true })
  }

  const stream = new Writable({
    highWaterMark: options.highWaterMark ?? writer.bufferSize,
    decodeStrings: true,
    signal: options.signal,
    write(chunk: unknown, _enc, cb) {
      let view: ArrayBufferView
      try {
        view = asView(chunk)
        use()
      } catch (err) {
        cb(err as Error)
        return
      }
      writer.write(view)
      after(cb)
    },
    writev(chunks, cb) {
      let views: ArrayBufferView[]
      try {
        views = chunks.map((c) => asView(c.chunk))
        use()
      } catch (err) {
        cb(err as Error)
        return
      }
      // One write() each rather than writeSequence(), which copies every chunk: write() queues a
      // large chunk by reference and coalesces small ones in the fast path (measured, 2 GiB file
      // in 64 KiB reads: pipeline into toWritable took 1.15 s of CPU per GiB with
      // writeSequence, against 0.82 for Node's child.stdin).
      for (const v of views) writer.write(v)
      after(cb)
    },
    final(cb) {
      finishing = true
      if (!used) {
        used = true
        Object.defineProperty(stream, IN_USE, { value: true })
      }
      try {
        if (registered) writer.unregisterProducer()
        registered = false
        writer.loseConnection()
      } catch (err) {
        cb(err as Error)
        return
      }
      closed(writer).then((reason) => {
        if (reason.code === 'DONE') {
          finished = true
          cb()
        } else {
          cb(new ConnectionLostError(reason))
        }
      })
    },
    destroy(err, cb) {
      const p = gate.take()
      if (!finished) {
        const gentle = err == null && (stream as Writable & { [CLOSE_ON_DESTROY]?: boolean })[CLOSE_ON_DESTROY] === true
        if (registered) {
          try {
            writer.unregisterProducer()
          } catch {
            /* not registered */
          }
          registered = false
        }
        if (!gentle) {
          if (writer.connected) writer.abortConnection()
        } else if (used && writer.connected) {
          writer.loseConnection()
        }
      }
      // A write still waiting for the writer is failed with the same error.
      if (p) p(err ?? new Error('stream destroyed'))
      cb(err)
    },
  })

  function after(cb: (err?: Error | null) => void) {
    const reason = writer.lostReason
    if (reason) {
      cb(finishing ? null : new ConnectionLostError(reason))
    } else if (gate.paused || !writer.connected) {
      // Paused: wait for resumeProducing(). Not connected: the reason is on its way (closed()
      // below fails this callback); calling back now would let the source spin on a dead writer.
      gate.wait(cb)
    } else {
      cb()
    }
  }

  if (!lazy) use()
  closed(writer).then((reason: ConnectionLostReason) => {
    if (finished || stream.destroyed) return
    if (finishing) return // final() reports it
    if (!used || (lazy && reason.code === 'READER_CLOSED' && reason.clean && stream.writableLength === 0)) {
      // Lazy only: never written to (whoever fed the writer has its reason), or the reader took
      // everything and left: close without an error.
      stream.destroy()
      return
    }
    const err = reason.code === 'ABORTED' && options.signal?.aborted ? abortErrorFrom(options.signal) : new ConnectionLostError(reason)
    const cb = gate.take()
    if (cb) cb(err)
    else stream.destroy(err)
  })
  return stream
}

export interface ToWebWritableOptions {
  /** Aborting errors the stream with an `AbortError` and calls `writer.abortConnection()`. */
  signal?: AbortSignal
  /**
   * Bytes the `WritableStream` queues itself (its `desiredSize`); default the writer's `bufferSize`.
   * Raised to 1 when smaller, so that the stream signals ready (`pipeTo` waits for that).
   */
  highWaterMark?: number
}

/**
 * A WHATWG `WritableStream<Uint8Array | ArrayBufferView | string>` writing into `writer`, with the
 * same guarantees as `toWritable`: `write()` promises settle when the writer accepted the chunk and
 * is not over its `bufferSize`; `close()` resolves when the pipe is flushed and closed (`DONE`) and
 * rejects with a `ConnectionLostError` otherwise; `abort()` aborts the writer.
 */
export function toWebWritable(
  writer: ProcessWriter,
  options: ToWebWritableOptions = {},
): WritableStream<ArrayBufferView | ArrayBuffer | string> {
  const gate = pauseGate<{ resolve: () => void; reject: (e: unknown) => void }>((w) => w.resolve())
  let closing = false
  let settled = false
  let failure: Error | null = null
  const signal = options.signal

  const fail = (err: Error) => {
    if (failure) return
    failure = err
    gate.take()?.reject(err)
  }

  let controllerRef: WritableStreamDefaultController | null = null
  const onAbort = () => {
    const err = abortErrorFrom(signal!)
    fail(err)
    if (writer.connected) writer.abortConnection()
    controllerRef?.error(err)
  }

  return new WritableStream<ArrayBufferView | ArrayBuffer | string>(
    {
      start(controller) {
        controllerRef = controller
        // Already aborted: an errored stream, as toWritable gives a destroyed one (throwing from
        // start() would make the WritableStream constructor throw).
        if (signal?.aborted) {
          onAbort()
          return
        }
        try {
          writer.registerProducer(gate.producer, true)
        } catch (err) {
          // ERR_PRODUCER_ALREADY_REGISTERED: the stream is errored, the writer left as it is.
          failure = err as Error
          controller.error(err)
          return
        }
        signal?.addEventListener('abort', onAbort, { once: true })
        closed(writer).then((reason) => {
          signal?.removeEventListener('abort', onAbort)
          if (closing || settled) return
          const err = new ConnectionLostError(reason)
          fail(err)
          controller.error(err)
        })
      },
      write(chunk) {
        if (failure) throw failure
        if (writer.lostReason) throw new ConnectionLostError(writer.lostReason)
        writer.write(asView(chunk))
        if (!writer.connected) {
          // The reason is on its way; fail this write with it.
          return closed(writer).then((reason) => {
            throw failure ?? new ConnectionLostError(reason)
          })
        }
        if (!gate.paused) return
        return new Promise<void>((resolve, reject) => gate.wait({ resolve, reject }))
      },
      async close() {
        closing = true
        writer.unregisterProducer()
        writer.loseConnection()
        const reason = await closed(writer)
        settled = true
        if (reason.code !== 'DONE') {
          throw signal?.aborted ? abortErrorFrom(signal) : new ConnectionLostError(reason)
        }
      },
      abort() {
        settled = true
        signal?.removeEventListener('abort', onAbort)
        try {
          writer.unregisterProducer()
        } catch {
          /* not registered */
        }
        if (writer.connected) writer.abortConnection()
      },
    },
    {
      // At least 1: with a high-water mark of 0 the stream never signals ready, and pipeTo()
      // would wait for it forever (bufferSize 0). 1 lets one chunk through at a time.
      highWaterMark: Math.max(1, options.highWaterMark ?? writer.bufferSize),
      size: (chunk) => (typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength),
    },
  )
}

