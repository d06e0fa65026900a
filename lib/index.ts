/**
 * process-writer: Twisted's ProcessWriter for Node. Everything native (`openPipe`, `closeFd`, the
 * shared types) is re-exported as is; `ProcessWriter` is the native class with the JS fast path
 * for small writes (`./process-writer.ts`); this module adds the Node layer.
 */
import { _openHeld, _releaseHeld, closeFd } from './native.js'
import type { ProcessWriterOptions } from './native.js'
import { ProcessWriter } from './process-writer.js'
import { DEFAULT_PIPE_SIZE, useSocketpair } from './spawn.js'

export * from './native.js'
export { ProcessWriter, COALESCE_BELOW } from './process-writer.js'
export type { EndCallback, WriteChunk } from './process-writer.js'
export { closed } from './closed.js'
export { AbortError, ConnectionLostError } from './errors.js'
export { feed } from './feed.js'
export type { FeedChunk, FeedOptions, FeedSource } from './feed.js'
export { onProgress } from './progress.js'
export type { Progress, ProgressOptions } from './progress.js'
export { DEFAULT_PIPE_SIZE, spawn } from './spawn.js'
export { RunError, run } from './run.js'
export type { RunFileInput, RunInput, RunOptions, RunPromise, RunResult } from './run.js'
export type { SpawnOptions, SpawnResult, StdioEntry } from './spawn.js'
export { toWebWritable, toWritable } from './writable.js'
export type { ToWebWritableOptions, ToWritableOptions } from './writable.js'

/**
 * Twisted's exact marks: `bufferSize` 65536 (`2**2**2**2`) and `lowWaterMark` 0 (resume a push
 * producer, or call `onDrain`, only once the queue is empty). Pass them to any writer, `spawn` or
 * `createPipe` to get Twisted's behaviour; the defaults are deeper (`bufferSize` 768 KiB,
 * `lowWaterMark` half of it), which measured several times faster (README, Performance).
 */
export const TWISTED_MARKS: Readonly<{ bufferSize: 65536; lowWaterMark: 0 }> = Object.freeze({ bufferSize: 65536, lowWaterMark: 0 })

export interface CreatePipeResult {
  /** The read end (O_CLOEXEC): give it to a child (e.g. as a `stdio` entry), then `closeFd` it. */
  readFd: number
  /** The writer owning the write end. */
  writer: ProcessWriter
  /** Pipe capacity obtained when `pipeSize` was asked for (0 when not known, and for a socketpair). */
  capacity: number
}

/**
 * A new one-way channel (O_CLOEXEC) whose write end is owned by a `ProcessWriter` built with
 * `options`: in Node's and libuv's sense of a child's "pipe", on Linux an `AF_UNIX` socketpair by default
 * (as `spawn`; see `SpawnOptions.transport`), a real pipe with `transport: 'pipe'`, `pipeSize`
 * (default `DEFAULT_PIPE_SIZE`) or `zeroCopy`. For users who spawn children themselves: pass `readFd` to
 * the child, then close it in the parent with `closeFd(readFd)`, or the writer never sees the
 * child go away.
 */
export function createPipe(options: ProcessWriterOptions & { transport?: 'pipe' | 'socketpair' } = {}): CreatePipeResult {
  const { transport, ...writerOptions } = options
  // Held natively until handed over (see `spawn`): the write end to the writer, the read end
  // to the caller when this returns.
  const { readFd, writeFd, capacity } = _openHeld(useSocketpair(transport, options), options.pipeSize ?? DEFAULT_PIPE_SIZE)
  try {
    const writer = new ProcessWriter(writeFd, writerOptions)
    _releaseHeld(readFd)
    return { readFd, writer, capacity }
  } catch (err) {
    for (const fd of [readFd, writeFd]) {
      try {
        closeFd(fd)
      } catch {
        /* not expected: a constructor that throws leaves the fd open and the caller's */
      }
    }
    throw err
  }
}
