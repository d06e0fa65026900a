import type { ChildProcess } from 'node:child_process'
import { Writable } from 'node:stream'
import type { ProcessWriter } from './process-writer.js'
import type * as WritableModule from './writable.js'

/**
 * Make `child.stdin` (and `child.stdio[0]`) a Node `Writable` over `writer`, the writer feeding
 * the child's fd 0, as `toWritable(writer)` is, so that `pipeline(source, child.stdin)` and
 * `child.stdin.end(data)` work as with Node's own `spawn`. The stream is made on first access
 * and takes the writer (as its producer) only at its first write: code that never writes to it
 * can keep using the writer directly (`feed`, producers).
 *
 * Node destroys `child.stdin` as the child exits. Here the writer decides instead: a stream
 * that was used lives until the writer's connection ends (`'finish'` after `end()` on `DONE`;
 * quietly closed when the reader took everything and left; otherwise an error with the reason),
 * so a grandchild still holding the pipe can be fed. One never written to is closed and the
 * writer left alone. Read for the first time after the child exited (or failed to start),
 * `child.stdin` is an already destroyed stream, as Node's is by then.
 */
export function exposeStdin(child: ChildProcess, writer: ProcessWriter): void {
  let stream: Writable | null = null
  let exitEmitted = false
  child.once('exit', () => {
    exitEmitted = true
  })
  const gone = () => child.exitCode !== null || child.signalCode !== null || child.pid === undefined

  let assigned = false
  const get = (): Writable | null => {
    if (stream || assigned) return stream
    if (gone()) {
      stream = new Writable({ write: (_chunk, _enc, cb) => cb() })
      stream.destroy()
      return stream
    }
    // Required here, at the first access: code that never reads `child.stdin` (the CLI) does
    // not load the stream adapters.
    const { CLOSE_ON_DESTROY, IN_USE, writableOver } = require('./writable.js') as typeof WritableModule
    const s = writableOver(writer, {}, true)
    const flags = s as unknown as Record<symbol, boolean | undefined>
    s.destroy = function destroy(this: Writable, err?: Error) {
      // Node's `this.stdin.destroy()` in its exit handler: the exit status is set, the 'exit'
      // event not emitted yet (nothing else runs in between).
      if (err == null && !exitEmitted && (child.exitCode !== null || child.signalCode !== null) && !s.destroyed) {
        if (flags[IN_USE]) return s // the writer's reason settles it
        flags[CLOSE_ON_DESTROY] = true
      }
      return Writable.prototype.destroy.call(s, err)
    }
    stream = s
    return s
  }
  // Assigning replaces it, as with Node's plain property.
  const set = (value: Writable | null) => {
    stream = value
    assigned = true
  }
  Object.defineProperty(child, 'stdin', { configurable: true, enumerable: true, get, set })
  if (Array.isArray(child.stdio)) {
    Object.defineProperty(child.stdio, 0, { configurable: true, enumerable: true, get, set })
  }
}
