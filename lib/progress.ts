import type { ProcessWriter, WriterStats } from './native.js'
import { closed } from './closed.js'

/** One progress report, computed from `writer.stats()`. */
export interface Progress {
  /** Bytes that reached the kernel pipe so far. */
  bytesWritten: number
  /** Bytes accepted by `write()` so far. */
  bytesAccepted: number
  /** Bytes accepted but not yet written (`bytesAccepted - bytesWritten - bytesDropped`, roughly). */
  bytesBuffered: number
  /** Throughput into the pipe since the previous report (for the first report: since the start). */
  bytesPerSecond: number
  /** Bytes written since `onProgress` was called, divided by `elapsedMs`, per second. */
  averageBytesPerSecond: number
  /** Milliseconds the writer spent over `bufferSize` (backpressure from the child). */
  pausedMs: number
  /** Milliseconds since `onProgress` was called. */
  elapsedMs: number
  /** True for the last report, made when the connection ended (or `stop()` was called). */
  done: boolean
}

export interface ProgressOptions {
  /** Minimum time between reports, default 250 ms. */
  intervalMs?: number
}

/**
 * Call `cb` every `intervalMs` (default 250) with the writer's progress, from a timer that does not
 * keep the process alive, then once more with `done: true` when the connection ends. Returns a
 * function that stops the reports (it makes the final `done` report if none was made yet).
 * A callback that throws stops the reports; the error is rethrown asynchronously.
 */
export function onProgress(
  writer: ProcessWriter,
  cb: (progress: Progress) => void,
  options: ProgressOptions = {},
): () => void {
  const intervalMs = options.intervalMs ?? 250
  if (!(typeof intervalMs === 'number' && intervalMs > 0 && Number.isFinite(intervalMs))) {
    throw new RangeError(`intervalMs must be a positive number; received ${String(intervalMs)}`)
  }
  const t0 = performance.now()
  let last: WriterStats | null = safeStats(writer)
  const startBytes = last ? last.bytesWritten : 0
  let lastT = t0
  let lastBytes = startBytes
  let stopped = false

  const report = (done: boolean) => {
    const s = safeStats(writer) ?? last
    if (!s) return
    last = s
    const now = performance.now()
    const dt = (now - lastT) / 1000
    const elapsedMs = now - t0
    const delta = s.bytesWritten - lastBytes
    const progress: Progress = {
      bytesWritten: s.bytesWritten,
      bytesAccepted: s.bytesAccepted,
      bytesBuffered: s.bytesBuffered,
      bytesPerSecond: dt > 0 ? delta / dt : 0,
      averageBytesPerSecond: elapsedMs > 0 ? ((s.bytesWritten - startBytes) * 1000) / elapsedMs : 0,
      pausedMs: s.pausedMs,
      elapsedMs,
      done,
    }
    lastT = now
    lastBytes = s.bytesWritten
    cb(progress)
  }
  const timer = setInterval(() => {
    try {
      report(false)
    } catch (err) {
      stop(false)
      throw err
    }
  }, intervalMs)
  timer.unref()

  function stop(final = true) {
    if (stopped) return
    stopped = true
    clearInterval(timer)
    if (final) report(true)
  }
  closed(writer).then(() => stop(true))
  return () => stop(true)
}

function safeStats(writer: ProcessWriter): WriterStats | null {
  try {
    return writer.stats()
  } catch {
    return null
  }
}
