import * as child_process from 'node:child_process'
import type { ChildProcess, IOType, SpawnOptions as NodeSpawnOptions } from 'node:child_process'
import type { Stream } from 'node:stream'
import { _openHeld, closeFd } from './native.js'
import { ProcessWriter } from './process-writer.js'
import type { ProcessWriterOptions } from './native.js'
import { closed } from './closed.js'
import { exposeStdin } from './child-stdin.js'
import { codedError } from './errors.js'

/**
 * The pipe capacity `spawn` and `createPipe` ask for when they make a pipe (`transport: 'pipe'`,
 * `pipeSize` or `zeroCopy` given, or not Linux) unless told otherwise: a 1 MiB pipe holds a
 * quarter of a millisecond of data at 4 GB/s, enough to keep a fast child busy while the drain
 * reaches JavaScript and the next chunk comes back.
 */
export const DEFAULT_PIPE_SIZE = 1 << 20

/**
 * Whether a new channel to a child is an `AF_UNIX` socketpair rather than a pipe.
 *
 * `transport` decides when given. By default, on Linux, it is a socketpair, the transport Node's
 * own `child.stdin` uses (libuv's), which this project's benchmark measured faster than a 1 MiB
 * pipe at every write size. It is a pipe when an option only a pipe has is given (`pipeSize`,
 * `zeroCopy`), and on other systems: on Windows a socketpair is not offered (named pipes), and
 * elsewhere (macOS, the BSDs) it was not measured, and their sockets' default buffers are small.
 */
export function useSocketpair(transport: unknown, o: { pipeSize?: number; zeroCopy?: boolean }): boolean {
  if (transport !== undefined && transport !== 'pipe' && transport !== 'socketpair') {
    const got = typeof transport === 'string' ? `'${transport}'` : typeof transport
    throw codedError(TypeError, 'ERR_INVALID_ARG_VALUE', `The "transport" option must be 'pipe' or 'socketpair'; received ${got}`)
  }
  if (transport !== undefined) return transport === 'socketpair'
  return process.platform === 'linux' && o.pipeSize === undefined && !o.zeroCopy
}

/** One `stdio` entry: Node's, plus `'writer'` (a pipe fed by a `ProcessWriter`). */
export type StdioEntry = 'writer' | IOType | 'ipc' | 'inherit' | Stream | number | null | undefined

export interface SpawnOptions extends Omit<NodeSpawnOptions, 'stdio'> {
  /**
   * Like Node's `stdio`, where `'writer'` entries get a pipe fed by a `ProcessWriter`.
   * Default: `['writer', 'pipe', 'pipe']`. The string `'writer'` means the same as the default;
   * Node's strings (`'pipe'`, `'inherit'`, `'ignore'`, `'overlapped'`) mean what they mean in Node.
   */
  stdio?: StdioEntry[] | 'writer' | IOType | 'inherit'
  /**
   * Ask the kernel for pipes of this many bytes (Linux `F_SETPIPE_SZ`). Default
   * `DEFAULT_PIPE_SIZE` (1 MiB), within the process's enlargement budget (16 MiB in all; past
   * it pipes keep the kernel's default); `0` keeps the kernel's default. Given (even `0`), it
   * makes the channel a pipe unless `transport` says otherwise.
   */
  pipeSize?: number
  /** Writers' high-water mark (default 768 KiB; 16 MiB with `zeroCopy`). */
  bufferSize?: number
  /** Writers' resume threshold (default half of `bufferSize`; 0 with `zeroCopy`). */
  lowWaterMark?: number
  /** See `ProcessWriterOptions.forceReadHack`. */
  forceReadHack?: boolean
  /** See `ProcessWriterOptions.zeroCopy` (Linux pipes: `vmsplice`). */
  zeroCopy?: boolean
  /**
   * `'socketpair'` (the default on Linux): an `AF_UNIX` socketpair, the transport Node's own
   * `child.stdin` uses, measured faster here than a 1 MiB pipe at every write size. `'pipe'` (the
   * default when `pipeSize` or `zeroCopy` is given, and on other systems): a real pipe, for a child
   * that needs one (one that opens `/dev/stdin`, checks `S_ISFIFO`, or `splice`s its input), and
   * for `zeroCopy` and `writeFile`'s `splice`. Anything else: `TypeError` `ERR_INVALID_ARG_VALUE`.
   */
  transport?: 'pipe' | 'socketpair'
  /**
   * Passed to Node's `spawn` (which kills the child with `killSignal` on abort, as usual), and
   * every writer is aborted (`abortConnection()`) when it fires.
   */
  signal?: AbortSignal
}

export interface SpawnResult {
  child: ChildProcess
  /** The writer feeding the child's fd 0, or null when fd 0 is not a `'writer'`. */
  stdin: ProcessWriter | null
  /** Every writer, keyed by the child fd it feeds (`writers[0]`, `writers[3]`, ...). */
  writers: Record<number, ProcessWriter>
}

function normalizeStdio(stdio: SpawnOptions['stdio']): StdioEntry[] {
  if (stdio === undefined || stdio === 'writer') return ['writer', 'pipe', 'pipe']
  if (typeof stdio === 'string') return [stdio, stdio, stdio]
  if (!Array.isArray(stdio)) {
    throw codedError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "options.stdio" property must be an array or a string; received ${typeof stdio}`)
  }
  return [...stdio]
}

/**
 * `child_process.spawn` where `stdio` entries `'writer'` (fd 0 by default) are pipes the library
 * creates with O_CLOEXEC, each fed by a `ProcessWriter` built with `childFd` set. The read ends are
 * given to the child and closed in the parent right after spawning, so the writer sees the child
 * go away. If the command cannot be started, the child emits `'error'` as with Node's `spawn`
 * and the writers are aborted.
 */
export function spawn(command: string, options?: SpawnOptions): SpawnResult
export function spawn(command: string, args?: readonly string[], options?: SpawnOptions): SpawnResult
export function spawn(
  command: string,
  argsOrOptions?: readonly string[] | SpawnOptions,
  maybeOptions?: SpawnOptions,
): SpawnResult {
  let args: readonly string[] = []
  let options: SpawnOptions = {}
  if (Array.isArray(argsOrOptions)) {
    args = argsOrOptions
    options = maybeOptions ?? {}
  } else if (argsOrOptions != null) {
    options = argsOrOptions as SpawnOptions
  }
  const socket = useSocketpair(options.transport, options)
  const { pipeSize = DEFAULT_PIPE_SIZE, bufferSize, lowWaterMark, forceReadHack, zeroCopy, transport, stdio, ...nodeOptions } = options
  const entries = normalizeStdio(stdio)

  const writers: Record<number, ProcessWriter> = {}
  const readFds: number[] = []
  const writerList: ProcessWriter[] = []
  let child: ChildProcess
  const signal = options.signal
  let onAbort: (() => void) | null = null
  try {
    for (let i = 0; i < entries.length; i++) {
      if (entries[i] !== 'writer') continue
      // Held natively until handed over, so a worker terminated in here leaks no fd.
      const fds = _openHeld(socket, pipeSize)
      readFds.push(fds.readFd)
      entries[i] = fds.readFd
      let writer: ProcessWriter
      try {
        const wopts: ProcessWriterOptions = { childFd: i }
        if (bufferSize !== undefined) wopts.bufferSize = bufferSize
        if (lowWaterMark !== undefined) wopts.lowWaterMark = lowWaterMark
        if (forceReadHack !== undefined) wopts.forceReadHack = forceReadHack
        if (zeroCopy !== undefined) wopts.zeroCopy = zeroCopy
        writer = new ProcessWriter(fds.writeFd, wopts)
      } catch (err) {
        try {
          closeFd(fds.writeFd)
        } catch {
          /* not expected: a constructor that throws leaves the fd open */
        }
        throw err
      }
      writers[i] = writer
      writerList.push(writer)
    }
    // Listen before Node does (it adds its own listener in spawn and kills the child), so the
    // writers are aborted before the child's death could be seen as READER_CLOSED.
    if (signal && writerList.length > 0 && !signal.aborted) {
      onAbort = () => {
        for (const w of writerList) if (w.connected) w.abortConnection()
      }
      signal.addEventListener('abort', onAbort, { once: true })
    }
    child = child_process.spawn(command, args, { ...nodeOptions, stdio: entries as NodeSpawnOptions['stdio'] })
    if (child.pid === undefined) {
      // Spawning failed (ENOENT, EACCES, ...): Node emits 'error' on the next tick. Abort the
      // writers now, before their read ends are closed, so their reason is ABORTED.
      for (const w of writerList) w.abortConnection()
    }
  } catch (err) {
    if (signal && onAbort) signal.removeEventListener('abort', onAbort)
    for (const w of writerList) w.abortConnection()
    throw err
  } finally {
    for (const fd of readFds) {
      try {
        closeFd(fd)
      } catch {
        /* already closed */
      }
    }
  }

  if (signal?.aborted) {
    for (const w of writerList) if (w.connected) w.abortConnection()
  } else if (signal && onAbort) {
    const listener = onAbort
    Promise.all(writerList.map((w) => closed(w))).then(() => signal.removeEventListener('abort', listener))
  }

  // child.stdin: a Writable over the fd 0 writer instead of Node's null (see child-stdin.ts).
  if (writers[0]) exposeStdin(child, writers[0])

  return { child, stdin: writers[0] ?? null, writers }
}
