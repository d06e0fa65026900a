// @ts-check
// Shared helpers for the node-*.spec.ts and cli.spec.ts tests (real processes, no mocks).
// Plain ESM JavaScript: ava loads the .ts specs through require(), which cannot import other .ts files.
import { createHash } from 'node:crypto'
import { readdirSync } from 'node:fs'

/** @param {Uint8Array | string} data */
import { scaled } from './env.mjs'
export { nodeCommand, NODE, scaled, FD_TABLE_SHARED } from './env.mjs'

export function sha256(data) {
  return createHash('sha256').update(data).digest('hex')
}

/** Deterministic pseudo-random bytes (xorshift32), so failures are reproducible. */
/** @param {number} size @param {number} [seed] @returns {Buffer} */
export function testData(size, seed = 0x9e3779b9) {
  const buf = Buffer.allocUnsafe(size)
  let x = seed >>> 0 || 1
  for (let i = 0; i < size; i++) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    buf[i] = x & 0xff
  }
  return buf
}

/** @param {import('node:stream').Readable | null} stream @returns {Promise<Buffer>} */
export function collect(stream) {
  if (!stream) return Promise.resolve(Buffer.alloc(0))
  return new Promise((resolve, reject) => {
    /** @type {Buffer[]} */
    const parts = []
    stream.on('data', (/** @type {Buffer} */ d) => parts.push(d))
    stream.on('end', () => resolve(Buffer.concat(parts)))
    stream.on('error', reject)
  })
}

/** @typedef {{ code: number | null, signal: NodeJS.Signals | null }} Exit */

/**
 * Resolves when the child has exited and its stdio streams are closed (Node's 'close'), also when
 * that already happened before the call.
 * @param {import('node:child_process').ChildProcess} child @returns {Promise<Exit>}
 */
export function exitOf(child) {
  return new Promise((resolve, reject) => {
    const done = () => resolve({ code: child.exitCode, signal: child.signalCode })
    if (child.exitCode !== null || child.signalCode !== null) {
      const open = child.stdio.filter((s) => s && !s.closed)
      if (open.length === 0) return done()
      let left = open.length
      for (const s of open) s.once('close', () => --left === 0 && done())
      return
    }
    child.once('error', reject)
    child.once('close', (code, signal) => resolve({ code, signal }))
  })
}

/** The open file descriptors of this process, by number. */
/** @returns {number[]} */
export function openFds() {
  // Windows has no fd listing: the fd-count checks compare empty lists there.
  if (process.platform === 'win32') return []
  return readdirSync(process.platform === 'linux' ? '/proc/self/fd' : '/dev/fd')
    .map(Number)
    .filter((n) => Number.isInteger(n))
    .sort((a, b) => a - b)
}

/**
 * Waits (up to `ms`) until the set of open fds is back to `before`; returns what is open now.
 * Node closes some handles (child stdio, process handles) a little after 'close'.
 */
/** @param {number[]} before @param {number} [ms] @returns {Promise<number[]>} */
export async function settleFds(before, ms = 2000) {
  const want = JSON.stringify(before)
  const until = Date.now() + scaled(ms)
  let now = openFds()
  while (JSON.stringify(now) !== want && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 20))
    now = openFds()
  }
  // readdir itself holds one fd while listing; compare the lists, which are taken the same way.
  return now
}
