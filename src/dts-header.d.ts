/* Types shared by the generated class below; kept in src/dts-header.d.ts and prepended by `napi build`. */

/** Why a writer's connection ended. Delivered once, asynchronously, to `onConnectionLost`. */
export interface ConnectionLostReason {
  /**
   * - `DONE`: `loseConnection()` flushed everything and closed the fd.
   * - `READER_CLOSED`: the child closed its end (or exited); `errno` is set when a write saw it (`EPIPE`).
   * - `ABORTED`: `abortConnection()` (or an `AbortSignal`) dropped what was buffered.
   * - `PRODUCER_ERROR`: a producer or callback threw; the error is in `cause`.
   * - `ERROR`: any other OS error (`EIO`, `ENOSPC`, `EBADF`, ...), named in `errno`.
   */
  code: 'DONE' | 'READER_CLOSED' | 'ABORTED' | 'PRODUCER_ERROR' | 'ERROR'
  /** true only for `DONE` or `READER_CLOSED`, with nothing unwritten. */
  clean: boolean
  /** The OS error name (`EPIPE`, `EBADF`, `EIO`, ...) when the OS reported one. */
  errno?: string
  message: string
  /** Which fd of the child this writer fed (Twisted's `name`), or null when unknown. */
  childFd: number | null
  /** Bytes that reached the kernel (the pipe). */
  bytesWritten: number
  /** Bytes accepted by `write` that never will reach it. */
  bytesUnwritten: number
  /** The thrown value, for `PRODUCER_ERROR`. */
  cause?: unknown
}

/** A streaming producer: paused when the buffer passes `bufferSize`, resumed at `lowWaterMark`. */
export interface PushProducer {
  pauseProducing(): void
  resumeProducing(): void
  stopProducing(): void
}

/** A pull producer: asked for more (`resumeProducing`) each time the buffer falls to `lowWaterMark`. */
export interface PullProducer {
  resumeProducing(): void
  stopProducing(): void
}

export interface ProcessWriterOptions {
  /** Which fd of the child this writer feeds; reported in reasons. */
  childFd?: number | null
  /**
   * High-water mark in bytes (default 768 KiB; 16 MiB with `zeroCopy`). Twisted's is 65536: see
   * `TWISTED_MARKS`. A producer that stops when `write()` returns false leaves at most this
   * much, plus its last chunk, in the writer's queue.
   */
  bufferSize?: number
  /**
   * Resume threshold in bytes. Default half of `bufferSize` (384 KiB at the default), and it
   * follows `bufferSize` when that is changed, until it is given or set; 0 with `zeroCopy`.
   * Twisted's is 0: resume only when empty.
   */
  lowWaterMark?: number
  /** Treat reader-gone readiness as a loss even where the platform policy would not (Twisted's forceReadHack). */
  forceReadHack?: boolean
  /** Ask the kernel for a pipe of this many bytes (Linux `F_SETPIPE_SZ`); falls back silently. */
  pipeSize?: number
  /**
   * Linux pipes: write with `vmsplice`, mapping the chunks' memory into the pipe instead of
   * copying it. Bytes then stay counted in `bufferedAmount` (and `bytesWritten` grows) only as
   * the reader consumes them, so once `onDrain` fires or a push producer is resumed at
   * `lowWaterMark`, the chunks written before may be reused. Until then a large chunk (32 KiB or
   * more, queued by reference) must not be modified. "Consumed" is what the pipe reports
   * (`FIONREAD`): a reader that moves the pages on with `splice`/`tee` instead of reading them
   * (`pv` does) still refers to the chunks' memory after the drain, so a reused buffer changes
   * what it passes on; use `zeroCopy` with readers that read (copy) their input. As bytes in the pipe stay buffered,
   * `bufferSize` defaults to 16 MiB here rather than 768 KiB, and `lowWaterMark` to 0. Ignored for other fds and platforms.
   */
  zeroCopy?: boolean
  /** Called once, asynchronously, when the connection ends. */
  onConnectionLost?: (reason: ConnectionLostReason) => void
  /** Called when `bufferedAmount` falls to `lowWaterMark` after a `write` returned false. */
  onDrain?: () => void
}

/** The range of `writeFile`: byte offsets in the file (for a pipe, counted from its first byte read). */
export interface WriteFileOptions {
  /** First byte (default: the fd's current position; 0 for a path). Must be 0 or absent for a pipe. */
  start?: number
  /** Stop before this offset: exclusive, as `Blob.slice` (default: end of file). */
  end?: number
}

/** Counters; all byte counts are plain numbers (exact up to 2^53). */
export interface WriterStats {
  bytesAccepted: number
  bytesWritten: number
  /** Bytes offered after the connection ended (refused). */
  bytesDropped: number
  /** Accepted bytes discarded when the connection ended (never written). */
  bytesUnwritten: number
  bytesBuffered: number
  /** `write`/`writeSequence` calls that queued data. */
  writes: number
  /** write/writev syscalls that moved data. */
  syscalls: number
  /** times a push producer was paused / resumed. */
  pauses: number
  resumes: number
  /** milliseconds spent over `bufferSize` (backpressure). */
  pausedMs: number
  /**
   * drains delivered after the JS thread, woken as the I/O thread began the write that
   * completed them, waited for that write (at most 100 µs) instead of sleeping until told.
   */
  drainsAwaited: number
  /** kernel pipe capacity in bytes (0 when unknown or not a pipe). */
  pipeCapacity: number
  /** what the fd is. */
  transport: 'pipe' | 'socket' | 'file' | 'tty' | 'other'
}

/** Both ends of a new pipe, created with O_CLOEXEC. */
export interface PipeFds {
  readFd: number
  writeFd: number
  /** capacity obtained when `pipeSize` was asked for (0 when not known). */
  capacity: number
}
