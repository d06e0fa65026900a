import * as fs from 'node:fs'
import { constants as osConstants } from 'node:os'
import { parseArgs } from 'node:util'
import type { ParseArgsConfig } from 'node:util'
import type { Readable } from 'node:stream'
import type { ConnectionLostReason } from './native.js'
import { closed } from './closed.js'
import type { ProcessWriter } from './process-writer.js'
import type { Progress } from './progress.js'
import { spawn } from './spawn.js'

// Loaded only on the paths that use them (a terminal or device as input, the progress bar), so
// that the common case, a file or a pipe fed by the core with no bar, starts sooner: the CLI's
// start-up is a visible part of feeding a file of a gigabyte or so.
const lazyFeed = () => (require('./feed.js') as typeof import('./feed.js')).feed
const lazyOnProgress = () => (require('./progress.js') as typeof import('./progress.js')).onProgress

const NAME = 'process-writer'
/**
 * Bytes per read on the stream path (a terminal, or a device, as input). Node's fs streams read
 * 64 KiB by default; 1 MiB reads cost a quarter of the thread-pool round trips (measured, 1 GiB
 * file into a counting child: 0.75-1.3 GB/s against 0.2-0.4 with 64 KiB). Files, pipes and
 * sockets do not use it: the core moves them itself (`writer.writeFile`).
 */
const DEFAULT_CHUNK_SIZE = 1 << 20

export const USAGE = `Usage:
  ${NAME} feed [options] -- COMMAND [ARGS...]
  ${NAME} --help

Feed a file (or standard input) into COMMAND's standard input through a
flow-controlled pipe. COMMAND's stdout and stderr are inherited. Options end at
the first word of COMMAND (or at "--"): what follows is given to COMMAND untouched.

Options (feed):
  -i, --input FILE     read FILE (default: standard input; "-" means standard input)
  -c, --chunk-size N   read in chunks of N bytes when the input is a terminal or a
                       device (default 1 MiB); files, pipes and sockets are moved
                       by the kernel (splice, sendfile) and do not use it
  -p, --pipe-size N    ask the kernel for a pipe of N bytes (Linux F_SETPIPE_SZ)
  -b, --buffer-size N  writer high-water mark in bytes (default 768 KiB; 16 MiB with -z)
  -z, --zero-copy      map the input's chunks into the pipe instead of copying them
                       (Linux vmsplice; elsewhere ignored); for terminal or device
                       input only: files, pipes and sockets are spliced anyway
  -q, --quiet          no progress bar and no summary line
  -h, --help           show this help

A progress bar is drawn on stderr when stderr is a terminal; COMMAND's stderr
(and its stdout, when that is the same terminal) then passes through
process-writer, which writes it above the bar, so COMMAND does not see a
terminal there (use -q to give it the terminal itself).
A one-line summary (bytes, throughput, child exit status) is printed on stderr
at the end.
The exit code is COMMAND's (128 + signal number if it was killed by a signal),
127 if COMMAND cannot be found, 126 if it cannot be executed, and 2 for usage errors.
`

class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

interface FeedArgs {
  input: string
  chunkSize: number
  pipeSize?: number
  bufferSize?: number
  zeroCopy: boolean
  quiet: boolean
  command: string
  args: string[]
}

function parseSize(flag: string, value: string): number {
  const m = /^(\d+)([kKmMgG]i?)?$/.exec(value)
  if (!m) throw new UsageError(`option ${flag}: not a size: ${JSON.stringify(value)}`)
  const unit = (m[2] ?? '').toLowerCase()[0]
  const mul = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1
  const n = Number(m[1]) * mul
  if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`option ${flag}: must be a positive size`)
  return n
}

const FEED_OPTIONS = {
  input: { type: 'string', short: 'i' },
  'chunk-size': { type: 'string', short: 'c' },
  'pipe-size': { type: 'string', short: 'p' },
  'buffer-size': { type: 'string', short: 'b' },
  'zero-copy': { type: 'boolean', short: 'z' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options']

const TOP_OPTIONS = { help: { type: 'boolean', short: 'h' } } as const satisfies ParseArgsConfig['options']

/**
 * `util.parseArgs` over the options that come before the first positional (or `--`), which
 * starts the rest, returned untouched: a command's own flags are never read as ours. A first
 * lenient pass finds where the options end (its tokens carry their index in `argv`); the strict
 * pass then checks only those, and its errors become one-line `UsageError`s.
 */
export function parseUntilPositional<O extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: O,
): { values: ReturnType<typeof parseArgs<{ options: O; strict: true }>>['values']; rest: string[] } {
  const { tokens } = parseArgs({ args: argv, options, strict: false, allowPositionals: true, tokens: true })
  let end = argv.length
  let restStart = argv.length
  for (const t of tokens) {
    if (t.kind === 'positional') {
      end = restStart = t.index
      break
    }
    if (t.kind === 'option-terminator') {
      end = t.index
      restStart = t.index + 1
      break
    }
  }
  try {
    const { values } = parseArgs({ args: argv.slice(0, end), options, strict: true, allowPositionals: false })
    return { values, rest: argv.slice(restStart) }
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    if (typeof e?.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS_')) {
      throw new UsageError(`${e.message.split('\n')[0].replace(/\.$/, '')} (try --help)`)
    }
    throw err
  }
}

function parseFeedArgs(argv: string[]): FeedArgs | 'help' {
  const { values: v, rest } = parseUntilPositional(argv, FEED_OPTIONS)
  if (v.help) return 'help'
  if (v.input === '') throw new UsageError('option --input needs a file name (or "-")')
  if (rest.length === 0) throw new UsageError('missing COMMAND (usage: process-writer feed [options] -- COMMAND [ARGS...])')
  return {
    input: v.input ?? '-',
    chunkSize: v['chunk-size'] === undefined ? DEFAULT_CHUNK_SIZE : parseSize('--chunk-size', v['chunk-size']),
    pipeSize: v['pipe-size'] === undefined ? undefined : parseSize('--pipe-size', v['pipe-size']),
    bufferSize: v['buffer-size'] === undefined ? undefined : parseSize('--buffer-size', v['buffer-size']),
    zeroCopy: v['zero-copy'] ?? false,
    quiet: v.quiet ?? false,
    command: rest[0],
    args: rest.slice(1),
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024
  let u = 0
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`
}

/**
 * A rate in the units of `formatBytes` (B/s, KiB/s, MiB/s, GiB/s), so a small feed does not read
 * 0.00; under 1 KiB/s, three significant digits (a few bytes over seconds: 0.338 B/s).
 */
export function formatRate(bytesPerSecond: number): string {
  if (bytesPerSecond < 1024) return `${Number(bytesPerSecond.toPrecision(3))} B/s`
  return `${formatBytes(bytesPerSecond)}/s`
}

/** A duration for the summary: milliseconds under 0.1 s, else seconds. */
export function formatElapsed(seconds: number): string {
  return seconds < 0.1 ? `${(seconds * 1000).toFixed(1)} ms` : `${seconds.toFixed(2)} s`
}

type BarProgress = Pick<Progress, 'bytesWritten' | 'bytesPerSecond' | 'pausedMs' | 'elapsedMs'>

/**
 * A one-line progress bar, redrawn in place on a TTY, that shares the terminal with the child's
 * stderr: `childOutput` clears the bar, writes the child's bytes, and redraws the bar below them
 * once the child's output ends a line (while its line is unfinished, e.g. a prompt or its own
 * `\r` progress, the bar waits rather than land in the middle of it).
 */
export class ProgressBar {
  private declare lastLen: number
  private declare readonly out: NodeJS.WritableStream & { columns?: number }
  private declare readonly total: number | null
  /** The child's last output did not end a line: do not draw. */
  private declare held: boolean
  private declare last: BarProgress | null
  constructor(out: NodeJS.WritableStream & { columns?: number }, total: number | null) {
    this.out = out
    this.total = total
    this.lastLen = 0
    this.held = false
    this.last = null
  }
  draw(p: BarProgress) {
    this.last = p
    if (this.held) return
    const cols = Math.max(40, Math.min(this.out.columns || 80, 120))
    const rate = formatRate(p.bytesPerSecond).padStart(12)
    let line: string
    if (this.total && this.total > 0) {
      const frac = Math.min(1, p.bytesWritten / this.total)
      const pct = `${(frac * 100).toFixed(1)}%`.padStart(6)
      const amounts = `${formatBytes(p.bytesWritten)} / ${formatBytes(this.total)}`
      const width = Math.max(10, cols - pct.length - amounts.length - rate.length - 8)
      const filled = Math.round(frac * width)
      line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct} ${amounts} ${rate}`
    } else {
      line = `${formatBytes(p.bytesWritten).padStart(12)} fed ${rate}  ${(p.elapsedMs / 1000).toFixed(1)} s`
    }
    if (line.length > cols - 1) line = line.slice(0, cols - 1)
    this.out.write(`\r${line}${' '.repeat(Math.max(0, this.lastLen - line.length))}`)
    this.lastLen = line.length
  }
  clear() {
    if (this.lastLen > 0) this.out.write(`\r${' '.repeat(this.lastLen)}\r`)
    this.lastLen = 0
  }
  /**
   * Bytes the child wrote for the bar's terminal (through `to`: stdout or stderr), written where
   * the bar was, then the bar again below them.
   */
  childOutput(chunk: Uint8Array, to: NodeJS.WritableStream) {
    if (chunk.length === 0) return
    this.clear()
    to.write(chunk)
    this.held = chunk[chunk.length - 1] !== 0x0a
    if (!this.held && this.last) this.draw(this.last)
  }
  /** Clear the bar, and end the child's unfinished line so that what follows starts a line. */
  finish() {
    this.clear()
    if (this.held) this.out.write('\n')
    this.held = false
  }
}

/** Whether fds `a` and `b` are the same terminal. */
function sameTerminal(a: number, b: number): boolean {
  try {
    const sa = fs.fstatSync(a)
    const sb = fs.fstatSync(b)
    const { isatty } = require('node:tty') as typeof import('node:tty')
    return isatty(a) && isatty(b) && sa.rdev === sb.rdev
  } catch {
    return false
  }
}

function fail(message: string, code: number): number {
  process.stderr.write(`${NAME}: ${message}\n`)
  return code
}

function describeOpenError(file: string, err: NodeJS.ErrnoException): string {
  const why =
    err.code === 'ENOENT'
      ? 'no such file or directory'
      : err.code === 'EACCES'
        ? 'permission denied'
        : err.code === 'EISDIR'
          ? 'is a directory'
          : err.message
  return `cannot read input ${JSON.stringify(file)}: ${why}`
}

async function runFeed(a: FeedArgs): Promise<number> {
  // Open the input first: a missing file is reported without starting the command.
  // A file, a pipe or a socket (standard input too) is handed to the core (`native`); a terminal
  // or a device is read as a stream, in `--chunk-size` chunks. On Windows `writeFile` takes
  // regular files only: a pipe or a socket is read as a stream there.
  const coreTakes = (st: fs.Stats) => st.isFile() || (process.platform !== 'win32' && (st.isFIFO() || st.isSocket()))
  let input: Readable | null = null
  let native: number | null = null
  let total: number | null = null
  if (a.input === '-') {
    const st = fs.fstatSync(0)
    if (coreTakes(st)) {
      native = 0
      if (st.isFile()) total = st.size
    } else {
      input = process.stdin
    }
  } else {
    let fd: number
    try {
      fd = fs.openSync(a.input, 'r')
      const st = fs.fstatSync(fd)
      if (st.isDirectory()) {
        fs.closeSync(fd)
        return fail(describeOpenError(a.input, Object.assign(new Error('is a directory'), { code: 'EISDIR' })), 1)
      }
      if (st.isFile()) total = st.size
      if (coreTakes(st)) native = fd
      else input = fs.createReadStream('', { fd, highWaterMark: a.chunkSize })
    } catch (err) {
      return fail(describeOpenError(a.input, err as NodeJS.ErrnoException), 1)
    }
  }
  const closeInput = () => {
    if (input === process.stdin) process.stdin.pause()
    else input?.destroy()
    if (native !== null && native !== 0) fs.closeSync(native)
  }

  // With a bar, the child's stderr (and its stdout, when that is the same terminal) comes
  // through us (see ProgressBar.childOutput), so that its lines and the bar never share a line;
  // without one they are inherited.
  const withBar = !a.quiet && process.stderr.isTTY === true
  const stdoutThroughBar = withBar && sameTerminal(1, 2)
  const { child, stdin } = spawn(a.command, a.args, {
    stdio: ['writer', stdoutThroughBar ? 'pipe' : 'inherit', withBar ? 'pipe' : 'inherit'],
    // A pipe, not spawn()'s default socketpair: files and pipes move into it with splice.
    transport: 'pipe',
    pipeSize: a.pipeSize,
    bufferSize: a.bufferSize,
    // Safe: a Readable never changes a chunk it has emitted, and feed() only slices them.
    zeroCopy: a.zeroCopy,
  })
  const writer = stdin!

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: NodeJS.ErrnoException }>(
    (resolve) => {
      child.once('error', (error: NodeJS.ErrnoException) => resolve({ code: null, signal: null, error }))
      // 'close': the exit, and the end of the child's stderr when it comes through us.
      child.once('close', (code, signal) => resolve({ code, signal }))
    },
  )

  // Forward termination signals to the child and report its status instead of dying first.
  const forward = (sig: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig)
  }
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']
  for (const s of signals) process.on(s, forward)

  const bar = withBar ? new ProgressBar(process.stderr, total) : null
  if (bar) {
    child.stderr?.on('data', (chunk: Buffer) => bar.childOutput(chunk, process.stderr))
    child.stdout?.on('data', (chunk: Buffer) => bar.childOutput(chunk, process.stdout))
  }
  bar?.draw({ bytesWritten: 0, bytesPerSecond: 0, pausedMs: 0, elapsedMs: 0 })
  const t0 = performance.now()
  let inputError: Error | null = null
  const progress = bar ? (p: Progress) => bar.draw(p) : undefined
  const fed = (
    native !== null
      ? feedNative(writer, native, progress)
      : lazyFeed()(writer, input!, { chunkSize: a.chunkSize, onProgress: progress, progressIntervalMs: 100 })
  ).catch((err: Error) => {
    inputError = err
    return writer.lostReason
  })

  const status = await exited
  if (status.error) {
    // The command never started; the writer has been aborted by spawn().
    bar?.finish()
    for (const s of signals) process.off(s, forward)
    closeInput()
    const e = status.error
    if (e.code === 'ENOENT') return fail(`command not found: ${a.command}`, 127)
    if (e.code === 'EACCES') return fail(`cannot execute ${a.command}: permission denied`, 126)
    return fail(`cannot run ${a.command}: ${e.message}`, 126)
  }
  const reason = await fed
  const elapsed = (performance.now() - t0) / 1000
  for (const s of signals) process.off(s, forward)
  closeInput()
  if (bar) {
    const s = writer.stats()
    bar.draw({ bytesWritten: s.bytesWritten, bytesPerSecond: s.bytesWritten / Math.max(elapsed, 1e-6), pausedMs: s.pausedMs, elapsedMs: elapsed * 1000 })
    bar.finish()
  }

  const exitCode =
    status.code ?? (status.signal ? 128 + (osConstants.signals[status.signal] ?? 0) : 1)
  if (!a.quiet) {
    const written = reason?.bytesWritten ?? writer.stats().bytesWritten
    const parts = [
      `${NAME}: fed ${written} bytes (${formatBytes(written)}) in ${formatElapsed(elapsed)}, ${formatRate(written / Math.max(elapsed, 1e-6))}`,
    ]
    if (reason && reason.code === 'READER_CLOSED') {
      const missing = total !== null ? total - written : reason.bytesUnwritten
      if (missing > 0) parts.push(`${a.command} stopped reading its input (${missing} bytes not delivered)`)
      else if (total === null) parts.push(`${a.command} stopped reading its input`)
    } else if (reason && reason.code !== 'DONE' && reason.code !== 'READER_CLOSED') {
      parts.push(`input ended with ${reason.code}${reason.errno ? ` (${reason.errno})` : ''}`)
    }
    parts.push(
      status.signal
        ? `${a.command} killed by ${status.signal} (exit ${exitCode})`
        : `${a.command} exited with status ${status.code}`,
    )
    process.stderr.write(parts.join('; ') + '\n')
  }
  if (inputError) {
    process.stderr.write(`${NAME}: reading input failed: ${(inputError as Error).message}\n`)
    return exitCode === 0 ? 1 : exitCode
  }
  return exitCode
}

/**
 * Feed the file, pipe or socket `fd` through the core (`writer.writeFile`): the I/O thread moves
 * it kernel to kernel, no JavaScript runs per chunk. Progress comes from the core's counters.
 * Resolves with the connection's end; rejects when reading the input failed.
 */
async function feedNative(
  writer: ProcessWriter,
  fd: number,
  progress?: (p: Progress) => void,
): Promise<ConnectionLostReason> {
  const stop = progress ? lazyOnProgress()(writer, progress, { intervalMs: 100 }) : null
  try {
    await writer.writeFile(fd)
  } catch (err) {
    if (!writer.connected) return closed(writer) // the child left, or the writer was aborted
    writer.abortConnection()
    throw err
  } finally {
    stop?.()
  }
  writer.loseConnection()
  return closed(writer)
}

/** Run the CLI with `argv` (without `node` and the script); resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    if (argv.length === 0) {
      process.stderr.write(USAGE)
      return 2
    }
    const { values, rest } = parseUntilPositional(argv, TOP_OPTIONS)
    if (values.help || rest[0] === 'help') {
      process.stdout.write(USAGE)
      return 0
    }
    if (rest.length === 0) throw new UsageError('missing command (try --help)')
    if (rest[0] !== 'feed') throw new UsageError(`unknown command ${JSON.stringify(rest[0])} (try --help)`)
    const parsed = parseFeedArgs(rest.slice(1))
    if (parsed === 'help') {
      process.stdout.write(USAGE)
      return 0
    }
    return await runFeed(parsed)
  } catch (err) {
    if (err instanceof UsageError) return fail(err.message, 2)
    return fail(`error: ${(err as Error)?.message ?? String(err)}`, 1)
  }
}

/** Entry point used by `bin/process-writer.js`. */
export function run(argv: string[] = process.argv.slice(2)): void {
  main(argv).then(
    (code) => {
      process.exitCode = code
    },
    (err) => {
      process.stderr.write(`${NAME}: error: ${(err as Error)?.message ?? String(err)}\n`)
      process.exitCode = 1
    },
  )
}
