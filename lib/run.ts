/**
 * `run()`: one awaitable result for a spawn, as execa and tinyexec give, over `spawn` and
 * `feed`. Everything that settles it (the child's end, the writer's end, the output) is
 * listened to before `run()` returns, so nothing can be missed by awaiting late.
 */
import type { ChildProcess } from 'node:child_process'
import type { ConnectionLostReason, WriteFileOptions } from './native.js'
import { closed } from './closed.js'
import { codedError, invalidArgType } from './errors.js'
import { feed, type FeedSource } from './feed.js'
import type { ProcessWriter } from './process-writer.js'
import { onProgress as watchProgress, type Progress } from './progress.js'
import { spawn, type SpawnOptions, type StdioEntry } from './spawn.js'

/** `input: { file }`: a file (path, fd or `FileHandle`) moved by the writer's I/O thread (`writer.writeFile`). */
export interface RunFileInput extends WriteFileOptions {
  file: string | number | { fd: number }
}

/** What `run()` feeds into the child's fd 0: anything `feed()` takes, or `{ file }`. */
export type RunInput = FeedSource | RunFileInput

export interface RunOptions extends SpawnOptions {
  /**
   * Fed into the child's fd 0, which is then closed: a `Buffer`, `Uint8Array`, string, an
   * iterable or async iterable of chunks, a Node `Readable`, a Web `ReadableStream`, or
   * `{ file, start?, end? }` (given a pipe unless `transport` is, so that the file is spliced).
   * Without it fd 0 is closed at once (the child reads end of file).
   */
  input?: RunInput
  /** Encoding of `input` when it is a string or yields strings (default `'utf8'`). */
  inputEncoding?: BufferEncoding
  /**
   * How captured output is returned: a `Buffer` encoding (default `'utf8'`) for strings, or
   * `'buffer'` for `Buffer`s.
   */
  encoding?: BufferEncoding | 'buffer'
  /**
   * `true` (default): a non-zero exit status or a death by signal rejects with a `RunError`.
   * `false`: they resolve like a success; look at `code` and `signal`.
   */
  reject?: boolean
  /**
   * The most bytes kept of stdout, and of stderr, each (default: no limit; Node's `execFile` keeps
   * 1 MiB). When either passes it, the child is killed with `killSignal` (default `'SIGTERM'`),
   * the input is aborted, what was kept is truncated to `maxBuffer`, and the promise rejects with
   * a `RangeError` whose `code` is `'ERR_CHILD_PROCESS_STDIO_MAXBUFFER'` (as Node's), naming the
   * stream, with `result` (the truncated output) attached.
   */
  maxBuffer?: number
  /** Progress of the input (see `onProgress`). */
  onProgress?: (progress: Progress) => void
  /** Interval of the progress reports (default 250 ms). */
  progressIntervalMs?: number
}

/** What `run()` resolves with (and what a `RunError` carries as `result`). */
export interface RunResult<Output extends string | Buffer = string> {
  command: string
  args: string[]
  /** The child's pid. */
  pid: number | undefined
  /** Exit status, or null when the child was killed by a signal. */
  code: number | null
  /** The signal that killed the child, or null. */
  signal: NodeJS.Signals | null
  /**
   * Why the fd 0 writer's connection ended: `DONE` when all the input was delivered and fd 0
   * closed, `READER_CLOSED` when the child stopped reading first (`bytesUnwritten` says what was
   * not delivered), ... Null when fd 0 was not a writer.
   */
  reason: ConnectionLostReason | null
  /** The child's stdout when it was `'pipe'` (the default), else null. */
  stdout: Output | null
  /** The child's stderr when it was `'pipe'` (the default), else null. */
  stderr: Output | null
}

/**
 * The rejection of `run()` when the child exited with a non-zero status
 * (`code === 'ERR_PROCESS_EXIT'`) or was killed by a signal (`code === 'ERR_PROCESS_SIGNAL'`),
 * unless `reject: false`. `exitCode`, `signal`, `reason`, `stdout`, `stderr` are the result's;
 * `result` is the whole result.
 */
export class RunError extends Error {
  declare readonly code: 'ERR_PROCESS_EXIT' | 'ERR_PROCESS_SIGNAL'
  declare readonly exitCode: number | null
  declare readonly signal: NodeJS.Signals | null
  declare readonly reason: ConnectionLostReason | null
  declare readonly stdout: string | Buffer | null
  declare readonly stderr: string | Buffer | null
  declare readonly result: RunResult<string | Buffer>
  constructor(result: RunResult<string | Buffer>) {
    const cmd = [result.command, ...result.args].join(' ')
    const what = result.signal ? `was killed by ${result.signal}` : `exited with code ${result.code}`
    let message = `Command ${what}: ${cmd}`
    const err = typeof result.stderr === 'string' ? result.stderr.trim() : ''
    if (err) message += `\n${err.length > 1000 ? `...${err.slice(-1000)}` : err}`
    super(message)
    this.name = 'RunError'
    Object.assign(this, {
      code: result.signal ? 'ERR_PROCESS_SIGNAL' : 'ERR_PROCESS_EXIT',
      exitCode: result.code,
      signal: result.signal,
      reason: result.reason,
      stdout: result.stdout,
      stderr: result.stderr,
      result,
    })
  }
}

/** `run()`'s promise, with the spawned child and its writers for use before it settles (to kill it, ...). */
export type RunPromise<Output extends string | Buffer = string> = Promise<RunResult<Output>> & {
  child: ChildProcess
  /** The fd 0 writer (null when fd 0 is not a writer). `run` feeds it; do not write to it. */
  stdin: ProcessWriter | null
  writers: Record<number, ProcessWriter>
}

type TextOptions = RunOptions & { encoding?: BufferEncoding }
type BufferOptions = RunOptions & { encoding: 'buffer' }

function isFileInput(input: unknown): input is RunFileInput {
  return (
    typeof input === 'object' &&
    input !== null &&
    'file' in input &&
    !ArrayBuffer.isView(input) &&
    typeof (input as { getReader?: unknown }).getReader !== 'function' &&
    typeof (input as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] !== 'function' &&
    typeof (input as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== 'function'
  )
}

function isFeedSource(input: unknown): input is FeedSource {
  if (typeof input === 'string' || input instanceof ArrayBuffer || ArrayBuffer.isView(input)) return true
  if (typeof input !== 'object' || input === null) return false
  const o = input as { getReader?: unknown; [Symbol.asyncIterator]?: unknown; [Symbol.iterator]?: unknown }
  return typeof o.getReader === 'function' || typeof o[Symbol.asyncIterator] === 'function' || typeof o[Symbol.iterator] === 'function'
}

/** Feed `{ file }` through the core, then close: as `feed()` settles. */
async function feedFile(
  writer: ProcessWriter,
  input: RunFileInput,
  progress: ((p: Progress) => void) | undefined,
  intervalMs: number | undefined,
): Promise<ConnectionLostReason> {
  const { file, ...range } = input
  const stop = progress ? watchProgress(writer, progress, { intervalMs }) : null
  try {
    await writer.writeFile(file, range)
  } catch (err) {
    stop?.()
    if (!writer.connected) return closed(writer) // the child left first, or the writer was aborted
    writer.abortConnection() // a truncated input is never closed as if complete
    throw err
  }
  writer.loseConnection()
  return closed(writer) // the progress reports end with the connection
}

/**
 * Spawn `command` (as `spawn()`, fd 0 a writer), feed it `input`, capture its stdout and stderr,
 * and resolve once the child has exited, its output has ended and the fd 0 writer's connection
 * has ended, with `{ code, signal, reason, stdout, stderr, ... }`.
 *
 * Rejects with a `RunError` for a non-zero exit or a signal unless `reject: false`; whatever
 * `reject` says, it also rejects with the error of a command that could not be started
 * (`ENOENT`, ...), with an `AbortError` when `signal` fired (Node kills the child), and with the
 * input's own error when `input` failed (the writer is aborted, so the child sees its input cut,
 * never a clean end), each once the child has gone.
 */
export function run(command: string, args?: readonly string[], options?: TextOptions): RunPromise<string>
export function run(command: string, args: readonly string[] | undefined, options: BufferOptions): RunPromise<Buffer>
export function run(command: string, options: BufferOptions): RunPromise<Buffer>
export function run(command: string, options?: TextOptions): RunPromise<string>
export function run(command: string, args: readonly string[] | undefined, options?: RunOptions): RunPromise<string | Buffer>
export function run(
  command: string,
  argsOrOptions?: readonly string[] | RunOptions,
  maybeOptions?: RunOptions,
): RunPromise<string | Buffer> {
  let args: readonly string[] = []
  let options: RunOptions = {}
  if (Array.isArray(argsOrOptions)) {
    args = argsOrOptions
    options = maybeOptions ?? {}
  } else if (argsOrOptions != null) {
    options = argsOrOptions as RunOptions
  }
  if (typeof options !== 'object' || options === null) throw invalidArgType('The "options" argument must be an object', options)
  const {
    input,
    inputEncoding,
    encoding = 'utf8',
    reject = true,
    onProgress,
    progressIntervalMs,
    maxBuffer = Infinity,
    stdio = ['writer', 'pipe', 'pipe'],
    ...spawnOptions
  } = options
  if (typeof maxBuffer !== 'number') throw invalidArgType('The "maxBuffer" option must be of type number', maxBuffer)
  if (!(maxBuffer >= 0)) {
    throw codedError(RangeError, 'ERR_OUT_OF_RANGE', `The value of "maxBuffer" is out of range. It must be >= 0. Received ${String(maxBuffer)}`)
  }
  if (encoding !== 'buffer' && !Buffer.isEncoding(encoding)) throw codedError(TypeError, 'ERR_UNKNOWN_ENCODING', `Unknown encoding: ${String(encoding)}`)
  if (input !== undefined && !isFileInput(input) && !isFeedSource(input)) {
    throw invalidArgType(
      'The "input" option must be a Buffer, TypedArray, string, iterable, async iterable, Readable, ReadableStream or { file }',
      input,
    )
  }
  const fd0: StdioEntry = Array.isArray(stdio) ? stdio[0] : stdio === 'writer' ? 'writer' : stdio
  if (input !== undefined && fd0 !== 'writer') {
    throw codedError(TypeError, 'ERR_INVALID_ARG_VALUE', `The "input" option needs stdio[0] to be 'writer'; received ${String(fd0)}`)
  }

  // A file moves into a pipe with splice, into a socket with sendfile (slower): `{ file }` input
  // gets a pipe unless a transport was given.
  const fileTransport = isFileInput(input) && spawnOptions.transport === undefined ? { transport: 'pipe' as const } : {}
  const { child, stdin, writers } = spawn(command, args, { ...fileTransport, ...spawnOptions, stdio })

  // Everything that settles the result is listened to now, before anyone awaits.
  let overflowed: 'stdout' | 'stderr' | null = null
  const capture = (stream: NodeJS.ReadableStream | null, name: 'stdout' | 'stderr') => {
    if (!stream) return null
    const parts: Buffer[] = []
    let kept = 0
    stream.on('data', (d: Buffer) => {
      if (overflowed) return
      if (kept + d.length <= maxBuffer) {
        parts.push(d)
        kept += d.length
        return
      }
      parts.push(d.subarray(0, maxBuffer - kept))
      kept = maxBuffer
      overflowed = name
      // As Node's execFile: the output streams are destroyed (a grandchild holding them open
      // then gets EPIPE instead of keeping 'close' away), the child is killed, and the input
      // is cut (never a clean end).
      child.stdout?.destroy()
      child.stderr?.destroy()
      if (stdin?.connected) stdin.abortConnection()
      try {
        child.kill(spawnOptions.killSignal ?? 'SIGTERM')
      } catch {
        /* already gone */
      }
    })
    return parts
  }
  const outParts = capture(child.stdout, 'stdout')
  const errParts = capture(child.stderr, 'stderr')
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    let error: Error | undefined
    child.on('error', (err) => {
      if (child.pid === undefined) resolve({ code: null, signal: null, error: err }) // never started: no 'close' to wait for
      else error ??= err // an AbortError (or a failed kill): the child is still reaped
    })
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => resolve({ code, signal, error }))
  })
  let fed: Promise<ConnectionLostReason | null>
  if (!stdin) {
    fed = Promise.resolve(null)
  } else if (input === undefined) {
    stdin.loseConnection()
    fed = closed(stdin)
  } else if (isFileInput(input)) {
    fed = feedFile(stdin, input, onProgress, progressIntervalMs)
  } else {
    // No `signal` here: spawn() aborts the writers when it fires, and feed() then resolves.
    fed = feed(stdin, input, { encoding: inputEncoding, onProgress, progressIntervalMs })
  }
  const feeding = fed.then(
    (reason) => ({ reason, error: undefined }),
    (error: unknown) => {
      if (stdin?.connected) stdin.abortConnection() // never leave the child waiting for the rest
      return { reason: stdin ? stdin.lostReason : null, error }
    },
  )

  const promise = Promise.all([ended, feeding]).then(async ([status, feedResult]) => {
    if (status.error && child.pid === undefined) throw status.error
    const reason = stdin ? (feedResult.reason ?? (await closed(stdin))) : null
    if (status.error) throw status.error
    if (feedResult.error !== undefined && !overflowed) throw feedResult.error
    const decode = (parts: Buffer[] | null) => {
      if (!parts) return null
      const buf = Buffer.concat(parts)
      return encoding === 'buffer' ? buf : buf.toString(encoding)
    }
    const result: RunResult<string | Buffer> = {
      command,
      args: [...args],
      pid: child.pid,
      code: status.code,
      signal: status.signal,
      reason,
      stdout: decode(outParts),
      stderr: decode(errParts),
    }
    if (overflowed) {
      throw Object.assign(codedError(RangeError, 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER', `${overflowed} maxBuffer length exceeded`), { result })
    }
    if (reject && (status.signal !== null || status.code !== 0)) throw new RunError(result)
    return result
  })
  return Object.assign(promise, { child, stdin, writers })
}
