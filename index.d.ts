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

export type TypedArray =
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array

/**
 * Which binding artifact the generated loader actually loaded: `'native'` for
 * a native addon, otherwise the `platformArchABI` of the WASI flavor. Every
 * flavor napi-rs can build is listed, because `NAPI_RS_NATIVE_LIBRARY_PATH`
 * can point the loader at a WASI artifact this package does not build itself.
 */
export declare const __napiBindingTarget: 'native' | 'wasm32-wasi' | 'wasm32-wasip1'

/**
 * Twisted's `ProcessWriter`: an asynchronous, flow-controlled writer into a child process's
 * input pipe (or any writable fd), which it owns and closes exactly once.
 *
 * `write()` copies the bytes into the writer's queue and returns at once; a background I/O
 * thread writes them with batched `writev` calls. `write()` returns false once
 * `bufferedAmount > bufferSize`; a registered push producer is paused then, synchronously, and
 * resumed when the level falls to `lowWaterMark`. When the connection ends (flushed by
 * `loseConnection()`, the child closed its end or exited, an abort, an error)
 * `onConnectionLost` is called once, asynchronously, with the reason.
 *
 * Garbage collection: an ended writer is collectable, whatever its callbacks reference. While
 * the writer is busy (data buffered, a close or abort on its way) or `ref()`'d, its callbacks
 * and producer are held, so they are called even if nothing else references the writer. An
 * idle, open writer that nothing references is collected with its callbacks and producer
 * (even when they mention it): its fd is then closed (`DONE`) and no callback is called. Keep a
 * reference, or call `ref()` (as `closed()` does), to be told of the end.
 */
export declare class ProcessWriter {
  /**
   * Queue a file range, or a pipe read until its end, behind everything written so far; the
   * bytes written after this call wait for it. `source` is an fd, a path, or an object with
   * an `fd` (`fs.promises.FileHandle`); the writer uses its own duplicate, so the caller may
   * close theirs at once. `start` (default: the fd's position, 0 for a path) and `end`
   * (exclusive, as `Blob.slice`; default: end of file) select the range.
   *
   * The I/O thread moves the bytes kernel to kernel where it can (Linux: `splice` into a pipe,
   * `sendfile` into a socket, `copy_file_range` into a file; a pipe source is spliced into
   * anything), otherwise through one reused buffer (Windows: positional reads of a regular
   * file, each written into the pipe as it takes them; other sources reject with
   * `ERR_FEATURE_UNAVAILABLE_ON_PLATFORM` there); no JavaScript runs meanwhile. The range
   * is not held in memory, so it does not count in `bufferedAmount` (writes queued behind it
   * do); `bytesWritten` and `bytesAccepted` grow as it moves.
   *
   * Resolves with the bytes moved once the range is written (fewer than asked when the file
   * is shorter, or shrank). Rejects with a coded error, queueing nothing, for a source that
   * cannot be read (`ENOENT`, `EISDIR`, `EBADF`, `ERR_FD_NOT_READABLE` for a write-only fd,
   * `ESPIPE` for `start` on a pipe, `ERR_INVALID_ARG_TYPE`, `ERR_OUT_OF_RANGE`); with the
   * errno when reading fails midway (the writer goes on with what follows); and when the
   * connection ends first, with the reason's `code` (`READER_CLOSED`, `ABORTED`, ...) and the
   * reason as `reason`. Every rejection has `bytesWritten`, the bytes this source moved.
   */
  writeFile(source: number | string | { fd: number }, options?: WriteFileOptions | undefined | null): Promise<number>
  /**
   * Take ownership of `fd`, a writable fd (a pipe's write end, a FIFO, a socket, a file).
   * Throws (and leaves the fd to the caller) when `fd` is not open (`EBADF`), not open for
   * writing (`ERR_FD_NOT_WRITABLE`) or an option is invalid (`ERR_INVALID_ARG_TYPE`,
   * `ERR_OUT_OF_RANGE`).
   */
  constructor(fd: number, options?: ProcessWriterOptions | undefined | null)
  /** The fd written to; -1 once closed. */
  get fileno(): number
  /** Which fd of the child this writer feeds (Twisted's `name`), or null. */
  get childFd(): number | null
  /**
   * Whether readiness on this fd can report the reader gone (decided per platform, kernel
   * version and fd kind; see the README).
   */
  get enableReadHack(): boolean
  /**
   * High-water mark in bytes: `write()` returns false and a push producer is paused once
   * `bufferedAmount` exceeds it. Default 768 KiB (16 MiB with `zeroCopy`); Twisted's is 65536.
   */
  get bufferSize(): number
  /** While no `lowWaterMark` was given, setting `bufferSize` moves it too (half of it). */
  set bufferSize(value: number)
  /**
   * Resume threshold in bytes. Default half of `bufferSize` (384 KiB at the default 768 KiB),
   * following `bufferSize` until set; 0 with `zeroCopy` (and in Twisted: resume when empty).
   * While it is the default, a write larger than it resumes the producer (and calls
   * `onDrain`) once the queue falls to that write's size, at most `bufferSize`; this getter
   * still gives the mark itself. A mark that is set is kept exactly.
   */
  get lowWaterMark(): number
  set lowWaterMark(value: number)
  /** Bytes accepted by `write` and not yet handed to the kernel (0 once the connection ended). */
  get bufferedAmount(): number
  /** Writes are accepted (true until the connection ends or is aborted). */
  get connected(): boolean
  /** `loseConnection()` was called and the close is pending. */
  get disconnecting(): boolean
  /** The reason the connection ended, once `onConnectionLost` has been called; else null. */
  get lostReason(): ConnectionLostReason | null
  get onConnectionLost(): ((reason: ConnectionLostReason) => void) | null
  set onConnectionLost(callback: ((reason: ConnectionLostReason) => void) | null | undefined)
  get onDrain(): (() => void) | null
  set onDrain(callback: (() => void) | null | undefined)
  /**
   * Queue a copy of `data`'s bytes (Buffer, any TypedArray, DataView or ArrayBuffer) and return
   * at once: false once `bufferedAmount > bufferSize` (keep writing and nothing is lost, but
   * memory grows), the level taken as the bytes are queued, before the I/O thread can send any
   * of them (so a write larger than `bufferSize` always returns false, as in Twisted), or when
   * the connection has ended (the bytes are then counted in
   * `stats().bytesDropped`; this never throws for a closed writer). Anything else throws a
   * `TypeError` with code `ERR_INVALID_ARG_TYPE` and queues nothing.
   */
  write(data: ArrayBufferView | ArrayBuffer): boolean
  /**
   * Queue every chunk of an iterable (consumed once). All chunks are checked before any is
   * queued: one bad element throws `ERR_INVALID_ARG_TYPE` and nothing is queued.
   */
  writeSequence(chunks: Iterable<ArrayBufferView | ArrayBuffer>): boolean
  /**
   * Flush everything buffered, then close the fd (reason `DONE`); Twisted's `closeStdin`.
   * The close is not started before the current JS turn ends, so writes made after this call
   * in the same turn are delivered too (as in Twisted). A pull producer, or a paused push
   * producer, is resumed on drain instead and the close waits until it is unregistered (or,
   * for a push producer, until the next drain). Keeps the process alive until the close.
   */
  loseConnection(): void
  /**
   * Keep the process alive until the connection ends, even while the writer is idle (as
   * Node's `handle.ref()`); use it while awaiting `onConnectionLost`. By default a writer
   * holds the process only while busy: data buffered, or a close or abort on its way.
   */
  ref(): this
  /** Undo `ref()`: an idle writer no longer keeps the process alive. */
  unref(): this
  /** Same as `loseConnection()`: a pipe cannot be half-closed (Twisted's quirk Q9 is not kept). */
  loseWriteConnection(): void
  /** Drop whatever is buffered and close now (reason `ABORTED`, delivered asynchronously). */
  abortConnection(): void
  /**
   * Register a producer. Push (`streaming: true`): paused when the buffer goes over
   * `bufferSize`, resumed at `lowWaterMark`. Pull (`streaming: false`): `resumeProducing()` is
   * called now, then each time the buffer falls to `lowWaterMark`. Either gets
   * `stopProducing()` once when the connection ends. Throws `ERR_PRODUCER_ALREADY_REGISTERED`
   * when one is registered; on a closed writer calls `stopProducing()` at once.
   */
  registerProducer(producer: PushProducer | PullProducer, streaming: boolean): void
  /** Stop consuming from the producer without disconnecting. Lets a pending close complete. */
  unregisterProducer(): void
  /** `unregisterProducer()` then `loseConnection()`. */
  stopConsuming(): void
  /**
   * Counters: bytes accepted, written, dropped (offered after the close), unwritten
   * (discarded at the close), buffered; write calls, syscalls, backpressure episodes, time
   * spent over `bufferSize`, drains awaited, pipe capacity and transport.
   */
  stats(): WriterStats
}

/**
 * For `spawn` and `createPipe`, not for direct use: `openPipe` (or, with `socketpair`,
 * `openSocketpair`) whose fds this env holds until they are handed over (the write end to a
 * `ProcessWriter` constructor that succeeds, either end to `closeFd`), and which are closed
 * when the env is torn down before that (a worker terminated inside `spawn`). See `held`.
 */
export declare function _openHeld(socketpair: boolean, pipeSize?: number | undefined | null): PipeFds

/**
 * Release the read end `createPipe` returns to its caller: no longer closed at env
 * teardown (it is the caller's now).
 */
export declare function _releaseHeld(fd: number): void

/**
 * Test hook: set SIGPIPE's disposition to the default (terminate), as an embedder such as
 * Electron-as-node may leave it, to prove a vanished reader cannot kill the host. (No
 * signals on Windows: does nothing.)
 */
export declare function _setSigpipeDefault(): void

/**
 * Close an fd this process owns (for example a pipe's read end after `spawn`). Throws with
 * the errno name as `code` (`EBADF` for an fd that is not open), or a `TypeError`/`RangeError`
 * (`ERR_INVALID_ARG_TYPE`, `ERR_OUT_OF_RANGE`) when `fd` is not a whole number.
 */
export declare function closeFd(fd: number): void

/**
 * Create a pipe with `O_CLOEXEC` on both ends, so that no child inherits it unless it is
 * handed over explicitly (as `child_process.spawn`'s `stdio` does, with `dup2`). With
 * `pipeSize`, ask the kernel for that capacity (Linux; clamped to
 * `/proc/sys/fs/pipe-max-size` and to the process's enlargement budget, see `pipe_budget`).
 * On Windows: a named pipe pair as libuv makes one (the read end is the client end, the
 * write end the overlapped server end, neither inheritable), `pipeSize` its buffer size
 * (default 64 KiB). `pipeSize` is checked as the `ProcessWriter` option is: a `TypeError`
 * (`ERR_INVALID_ARG_TYPE`) for a non-number, a `RangeError` (`ERR_OUT_OF_RANGE`) unless a
 * whole number from 0 to 2^31 - 1; nullish or 0 keep the kernel's default.
 */
export declare function openPipe(pipeSize?: number | undefined | null): PipeFds

/**
 * Create a connected `AF_UNIX` socketpair (the transport Node's own `child.stdin` uses), both
 * ends `O_CLOEXEC`: `readFd` is the child's end, `writeFd` the one to give a `ProcessWriter`.
 * For users who want Node's transport; `pipeSize` and `zeroCopy` do not apply to it. Not on
 * Windows: throws `ERR_FEATURE_UNAVAILABLE_ON_PLATFORM`.
 */
export declare function openSocketpair(): PipeFds
