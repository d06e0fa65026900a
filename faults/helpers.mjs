// @ts-check
// Shared helpers for the fault suite (faults/*.spec.ts). Plain ESM JavaScript for the same reason as
// __test__/helpers.mjs: ava loads the .ts specs through a require hook, which does not transpile
// other .ts files they import. Types are in helpers.d.mts.
import { spawn as nodeSpawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'

export const KiB = 1024
export const MiB = 1024 * 1024

export const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms))

/** Poll `cond` every 5 ms until it is true; reject after `ms`. */
export async function waitFor(/** @type {() => boolean} */ cond, what = 'condition', ms = 20_000) {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(5)
  }
}

/** Busy-wait on the JS thread: the core's I/O thread runs meanwhile, but no JS turn ends. */
export function sameTurnWait(/** @type {() => boolean} */ cond, ms = 10_000) {
  const until = Date.now() + ms
  while (!cond()) if (Date.now() > until) throw new Error(`condition not met within ${ms} ms in the same turn`)
}

/** Deterministic pseudo-random bytes (xorshift32). */
export function bytes(/** @type {number} */ n, seed = 1) {
  const b = Buffer.allocUnsafe(n)
  let x = (seed * 2654435761) >>> 0 || 1
  let i = 0
  for (; i + 4 <= n; i += 4) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    b.writeUInt32LE(x, i)
  }
  for (; i < n; i++) b[i] = (i * 31 + seed) & 0xff
  return b
}

export function sha256(/** @type {Array<ArrayBufferView>} */ ...parts) {
  const h = createHash('sha256')
  for (const p of parts) h.update(new Uint8Array(p.buffer, p.byteOffset, p.byteLength))
  return h.digest('hex')
}

/** @param {import('node:stream').Readable | null | undefined} s @returns {Promise<Buffer>} */
export function collect(s) {
  if (!s) return Promise.resolve(Buffer.alloc(0))
  return new Promise((res, rej) => {
    /** @type {Buffer[]} */
    const parts = []
    s.on('data', (c) => parts.push(c))
    s.on('end', () => res(Buffer.concat(parts)))
    s.on('error', rej)
  })
}

/** Resolves with the child's exit once it has exited and its stdio closed. */
export function exitOf(/** @type {import('node:child_process').ChildProcess} */ child) {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      const open = child.stdio.filter((s) => s && !s.closed)
      if (open.length === 0) return resolve({ code: child.exitCode, signal: child.signalCode })
      let left = open.length
      for (const s of open) s?.once('close', () => --left === 0 && resolve({ code: child.exitCode, signal: child.signalCode }))
      return
    }
    child.once('error', reject)
    child.once('close', (code, signal) => resolve({ code, signal }))
  })
}

// ---------------------------------------------------------------------------------------------
// process counts
/** Open fds of this process. */
export function fdCount() {
  return fs.readdirSync('/proc/self/fd').length
}

/** Threads of this process (Linux: /proc/self/status). */
export function threadCount() {
  const m = /^Threads:\s+(\d+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))
  return m ? Number(m[1]) : -1
}

/** Resident set size in bytes. */
export function rss() {
  return process.memoryUsage.rss()
}

/** fd number -> readlink target. */
export function fdTable() {
  /** @type {Map<number, string>} */
  const m = new Map()
  for (const name of fs.readdirSync('/proc/self/fd')) {
    try {
      m.set(Number(name), fs.readlinkSync(`/proc/self/fd/${name}`))
    } catch {
      /* the fd readdir used is gone */
    }
  }
  return m
}

// ---------------------------------------------------------------------------------------------
// garbage collection (the suite runs with --expose-gc)
const gc = /** @type {() => void} */ (/** @type {any} */ (globalThis).gc)
export function hasGc() {
  return typeof gc === 'function'
}

/**
 * Collect until every WeakRef in `refs` is empty or `ms` passes; resolves with how many are still
 * alive. Each round runs in a timer of its own, not in an async function: a suspended async
 * function keeps its temporaries (the last object it made) reachable. Make the objects in a
 * separate function and keep only WeakRefs, for the same reason.
 */
export function collectUntilGone(/** @type {WeakRef<object>[]} */ refs, ms = 10_000) {
  return new Promise((resolve) => {
    const deadline = Date.now() + ms
    const step = () => {
      gc()
      let alive = 0
      for (const r of refs) if (r.deref() !== undefined) alive++
      if (alive === 0 || Date.now() > deadline) resolve(alive)
      else setTimeout(step, 10)
    }
    setTimeout(step, 0)
  })
}

// ---------------------------------------------------------------------------------------------
// run a script in a fresh node (for faults that must not touch the test process: rlimits, aborts)
/**
 * Run `script` (CommonJS) with `node args... -e`; `PW` in the script is the package (lib/index.js)
 * and `NATIVE` the bare native module. Resolves with the exit and output; kills it after `ms`.
 */
export async function runNode(/** @type {string} */ script, { ms = 60_000, args = /** @type {string[]} */ ([]), shell = '' } = {}) {
  const root = new URL('..', import.meta.url).pathname
  const prelude = `const PW = require(${JSON.stringify(root + 'lib/index.js')}); const NATIVE = require(${JSON.stringify(root + 'index.js')});\n`
  const file = `${fs.mkdtempSync('/tmp/pw-fault-')}/script.cjs`
  fs.writeFileSync(file, prelude + script)
  const argv = shell ? ['-c', `${shell} && exec "$0" "$@"`, process.execPath, ...args, file] : [...args, file]
  const child = nodeSpawn(shell ? '/bin/sh' : process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] })
  const stdout = collect(child.stdout)
  const stderr = collect(child.stderr)
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    child.kill('SIGKILL')
  }, ms)
  /** @type {any} */
  const exit = await exitOf(child)
  clearTimeout(timer)
  fs.rmSync(file.replace(/\/script\.cjs$/, ''), { recursive: true, force: true })
  return { ...exit, timedOut, stdout: (await stdout).toString(), stderr: (await stderr).toString() }
}

// ---------------------------------------------------------------------------------------------
// accounting
/**
 * The byte accounting every ended writer must satisfy, exactly: what was accepted is either
 * written or unwritten, nothing stays buffered, the reason and stats() agree, `clean` means nothing
 * unwritten. Returns a list of violations (empty when it holds).
 * @param {any} reason @param {any} stats
 */
export function accountingViolations(reason, stats) {
  const v = []
  if (stats.bytesBuffered !== 0) v.push(`bytesBuffered ${stats.bytesBuffered} after the end`)
  if (stats.bytesAccepted !== stats.bytesWritten + stats.bytesUnwritten)
    v.push(`accepted ${stats.bytesAccepted} != written ${stats.bytesWritten} + unwritten ${stats.bytesUnwritten}`)
  if (reason.bytesWritten !== stats.bytesWritten) v.push(`reason.bytesWritten ${reason.bytesWritten} != stats ${stats.bytesWritten}`)
  if (reason.bytesUnwritten !== stats.bytesUnwritten)
    v.push(`reason.bytesUnwritten ${reason.bytesUnwritten} != stats ${stats.bytesUnwritten}`)
  if (reason.clean !== (reason.bytesUnwritten === 0 && (reason.code === 'DONE' || reason.code === 'READER_CLOSED')))
    v.push(`clean ${reason.clean} with code ${reason.code} and ${reason.bytesUnwritten} unwritten`)
  return v
}
