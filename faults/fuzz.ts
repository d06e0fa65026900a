// The seeded integrity fuzzer: `npm run fuzz -- --seeds N` (seeds 1..N), `--from S` to start
// elsewhere, `--seed S` to run one seed and print its case, `--jobs J` seeds at a time (default 2).
//
// Each seed draws one case: an entry point (the exported class's JS fast path, the bare native
// class, writeSequence, push and pull producers, feed() from five kinds of source, toWritable,
// toWebWritable), how the writer is made (spawn, createPipe, openPipe/openSocketpair + new),
// the transport (pipe or socketpair), zeroCopy, the marks (bufferSize, lowWaterMark, changed
// mid-stream or not), the pipe size, chunk sizes and chunk kinds (Buffer, offset Uint8Array,
// DataView, ArrayBuffer, wider TypedArrays), pauses (same-turn busy waits, yields), stalls of
// the child (SIGSTOP/SIGCONT), and whether the child reads everything (`sha256sum`) or exits
// after a prefix (`head -c K`).
//
// Checked for every seed:
// - the child's sha256 of what it read equals the sha256 of what was sent (or of the prefix);
// - the byte accounting is exact: reason and stats() agree, accepted = written + unwritten,
//   nothing stays buffered, `clean` means DONE or READER_CLOSED with nothing unwritten; every
//   byte offered through write/writeSequence is either accepted or dropped; DONE wrote all of it;
// - the counters never go backwards while writing;
// - a write made after the writer stopped accepting returns false and counts as dropped.
// A failure prints its seed, what it drew and the command that reproduces it.
import { spawn as nodeSpawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { Worker } from 'node:worker_threads'
import native from '../index.js'
import { bytes } from './helpers.mjs'
import { closed, createPipe, feed, spawn, toWebWritable, toWritable, ProcessWriter as LibWriter } from '../lib/index.mjs'
import type { ConnectionLostReason, ProcessWriter, WriterStats } from '../lib/index.js'

const NativeWriter = native.ProcessWriter

// ---------------------------------------------------------------------------------------------
// seeded choices
function mulberry32(seed: number) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

class Rng {
  next: () => number
  constructor(seed: number) {
    this.next = mulberry32(seed * 2654435761 + 1)
  }
  int(lo: number, hi: number) {
    return lo + Math.floor(this.next() * (hi - lo + 1))
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]
  }
  chance(p: number) {
    return this.next() < p
  }
  /** Log-uniform in [lo, hi]. */
  logInt(lo: number, hi: number) {
    return Math.min(hi, Math.floor(Math.exp(Math.log(lo) + this.next() * (Math.log(hi + 1) - Math.log(lo)))))
  }
}

const ENTRIES = [
  'write', // the exported class (JS fast path for chunks <= 16 KiB)
  'nativeWrite', // the bare native class
  'writeSequence',
  'push',
  'pull',
  'feedArray',
  'feedAsync',
  'feedReadable',
  'feedWeb',
  'feedBuffer',
  'toWritable',
  'toWebWritable',
] as const
type Entry = (typeof ENTRIES)[number]
const CHUNKS = ['tiny', 'small', 'slabEdge', 'mixed', 'large'] as const
const KINDS = ['buffer', 'offset', 'dataview', 'arraybuffer', 'u16', 'f64'] as const
type Kind = (typeof KINDS)[number]

interface Case {
  seed: number
  entry: Entry
  via: 'spawn' | 'createPipe' | 'raw'
  transport: 'pipe' | 'socketpair'
  zeroCopy: boolean
  bufferSize: number | undefined
  lowWaterMark: number | undefined
  pipeSize: number | undefined
  markChanges: boolean
  total: number
  chunks: (typeof CHUNKS)[number]
  kinds: Kind[]
  /** The child exits after this many bytes (`head -c`), or reads everything (null). */
  prefix: number | null
  stalls: number
  busyWaitMs: number
  /** Now and then, busy-wait in the same turn until the writer has seen the child go (prefix cases). */
  waitForLoss: boolean
  writeAfterEnd: boolean
}

export function drawCase(seed: number, only?: Entry): Case {
  const r = new Rng(seed)
  const entry = only ?? r.pick(ENTRIES)
  const via = entry === 'nativeWrite' ? 'raw' : r.pick(['spawn', 'spawn', 'createPipe'] as const)
  const transport = r.chance(0.2) ? 'socketpair' : 'pipe'
  const zeroCopy = transport === 'pipe' && r.chance(0.25)
  const bufferSize = r.chance(0.3)
    ? undefined
    : r.pick([0, 1, 100, 4096, 16384, 16385, 65536, 262144, 1 << 20, r.logInt(1, 4 << 20)])
  const lowWaterMark = bufferSize === undefined || r.chance(0.5) ? undefined : r.int(0, bufferSize)
  const pipeSize = transport === 'socketpair' || r.chance(0.5) ? undefined : r.pick([0, 4096, 65536, 1 << 20])
  const chunks = r.pick(CHUNKS)
  const tiny = chunks === 'tiny'
  const total = r.chance(0.05) ? r.int(0, 100) : tiny ? r.logInt(1, 256 * 1024) : r.chance(0.7) ? r.logInt(1, 1 << 20) : r.logInt(1 << 20, 6 << 20)
  const nKinds = r.int(1, 3)
  const kinds: Kind[] = []
  for (let i = 0; i < nKinds; i++) kinds.push(r.chance(0.5) ? 'buffer' : r.pick(KINDS))
  return {
    seed,
    entry,
    via,
    transport,
    zeroCopy,
    bufferSize,
    lowWaterMark,
    pipeSize,
    markChanges: r.chance(0.3),
    total,
    chunks,
    kinds,
    prefix: r.chance(0.3) ? r.int(0, Math.max(0, total + 1000)) : null,
    stalls: r.chance(0.2) ? r.int(1, 3) : 0,
    busyWaitMs: r.chance(0.2) ? r.int(1, 5) : 0,
    waitForLoss: r.chance(0.7),
    writeAfterEnd: r.chance(0.3),
  }
}

function chunkSize(r: Rng, c: Case): number {
  switch (c.chunks) {
    case 'tiny':
      return r.int(1, 64)
    case 'small':
      return r.int(1, 4096)
    case 'slabEdge':
      return r.pick([1, 16383, 16384, 16385, 32767, 32768, 32769, r.int(8000, 40000)])
    case 'mixed':
      return r.logInt(1, 300_000)
    case 'large':
      return r.logInt(32 * 1024, 1 << 20)
  }
}

/** A view of `buf` of the given kind (same bytes), so the writer sees every kind of input. */
function asKind(buf: Buffer, kind: Kind): ArrayBufferView | ArrayBuffer {
  switch (kind) {
    case 'buffer':
      return buf
    case 'offset': {
      // A Uint8Array (not a Buffer) at an odd offset into a larger ArrayBuffer.
      const ab = new ArrayBuffer(buf.length + 3)
      const u = new Uint8Array(ab, 3, buf.length)
      u.set(buf)
      return u
    }
    case 'dataview':
      return new DataView(buf.buffer, buf.byteOffset, buf.length)
    case 'arraybuffer':
      return (buf.buffer as ArrayBuffer).slice(buf.byteOffset, buf.byteOffset + buf.length)
    case 'u16':
      if (buf.length % 2 !== 0 || buf.byteOffset % 2 !== 0) return buf
      return new Uint16Array(buf.buffer, buf.byteOffset, buf.length / 2)
    case 'f64':
      if (buf.length % 8 !== 0 || buf.byteOffset % 8 !== 0) return buf
      return new Float64Array(buf.buffer, buf.byteOffset, buf.length / 8)
  }
}

const byteLength = (v: ArrayBufferView | ArrayBuffer) => v.byteLength

// ---------------------------------------------------------------------------------------------
// one seed
interface Outcome {
  violations: string[]
  reason?: ConnectionLostReason
  stats?: WriterStats
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const turn = () => new Promise((r) => setImmediate(r))

export async function runCase(c: Case): Promise<Outcome> {
  const r = new Rng(c.seed ^ 0x5bd1e995)
  const v: string[] = []
  const data = bytes(c.total, c.seed)
  // Cut the data into chunks of the drawn sizes and kinds.
  const chunks: Array<ArrayBufferView | ArrayBuffer> = []
  for (let off = 0; off < data.length; ) {
    const n = Math.min(chunkSize(r, c), data.length - off)
    chunks.push(asKind(data.subarray(off, off + n), r.pick(c.kinds)))
    off += n
  }

  // The child: everything into sha256sum, or a prefix through head -c (its output is the prefix).
  const cmd = c.prefix === null ? ['sha256sum'] : ['head', '-c', String(c.prefix)]
  const options = {
    ...(c.bufferSize !== undefined ? { bufferSize: c.bufferSize } : {}),
    ...(c.lowWaterMark !== undefined ? { lowWaterMark: c.lowWaterMark } : {}),
    ...(c.zeroCopy ? { zeroCopy: true } : {}),
  }
  let w: ProcessWriter
  let child: ReturnType<typeof nodeSpawn>
  if (c.via === 'spawn') {
    const s = spawn(cmd[0], cmd.slice(1), {
      stdio: ['writer', 'pipe', 'ignore'],
      transport: c.transport,
      ...(c.pipeSize !== undefined && c.transport === 'pipe' ? { pipeSize: c.pipeSize } : {}),
      ...options,
    })
    w = s.stdin!
    child = s.child
  } else {
    let readFd: number
    if (c.via === 'createPipe') {
      const p = createPipe({ transport: c.transport, ...(c.pipeSize !== undefined ? { pipeSize: c.pipeSize } : {}), ...options })
      w = p.writer
      readFd = p.readFd
    } else {
      const fds = c.transport === 'socketpair' ? native.openSocketpair() : native.openPipe(c.pipeSize ?? null)
      w = new NativeWriter(fds.writeFd, options) as unknown as ProcessWriter
      readFd = fds.readFd
    }
    child = nodeSpawn(cmd[0], cmd.slice(1), { stdio: [readFd, 'pipe', 'ignore'] })
    native.closeFd(readFd)
  }
  const out: Buffer[] = []
  child.stdout!.on('data', (d: Buffer) => out.push(d))
  const childDone = new Promise<void>((res) => child.on('close', () => res()))
  const lost = closed(w)

  // Counters must never go backwards.
  let last: WriterStats | null = null
  let reported = 0
  const sample = (where: string) => {
    if (v.length > reported + 20) return // enough said
    const s = w.stats()
    if (last) {
      for (const k of ['bytesAccepted', 'bytesWritten', 'bytesDropped', 'bytesUnwritten', 'writes', 'syscalls'] as const) {
        if (s[k] < last[k]) v.push(`${k} went backwards ${last[k]} -> ${s[k]} (${where})`)
      }
    }
    last = s
  }

  // Stall the child a few times while writing.
  const stallTimers: NodeJS.Timeout[] = []
  for (let i = 0; i < c.stalls; i++) {
    const at = r.int(0, 150)
    stallTimers.push(
      setTimeout(() => {
        child.kill('SIGSTOP')
        setTimeout(() => child.kill('SIGCONT'), r.int(10, 120))
      }, at),
    )
  }

  // Offered through write()/writeSequence() by this driver, and dropped-on-a-closed-writer checks.
  let offered = 0
  const offer = (fn: () => boolean, n: number, where: string): boolean => {
    const wasAccepting = w.connected
    sample(`before a ${where}`)
    const before = last!
    const ok = fn()
    offered += n
    sample(`after a ${where}`)
    const after = last!
    // true means accepted: those bytes are the writer's now (written, or unwritten at the end).
    if (ok && n > 0 && after.bytesAccepted - before.bytesAccepted !== n)
      v.push(`a ${n}-byte ${where} returned true but bytesAccepted grew by ${after.bytesAccepted - before.bytesAccepted}`)
    if (!wasAccepting) {
      if (ok && n > 0) v.push(`a ${n}-byte ${where} on a closed writer returned true`)
      const d = after.bytesDropped - before.bytesDropped
      if (d !== n) v.push(`a ${n}-byte ${where} on a closed writer counted ${d} dropped bytes`)
    }
    return ok
  }
  const drained = () =>
    new Promise<void>((res) => {
      w.onDrain = () => {
        w.onDrain = null
        res()
      }
      lost.then(() => res())
    })
  const maybeMarks = () => {
    if (!c.markChanges || !r.chance(0.05)) return
    const b = r.pick([0, 100, 4096, 16384, 65536, 1 << 20])
    const l = r.int(0, b)
    if (w.lowWaterMark > b) w.lowWaterMark = 0
    w.bufferSize = b
    w.lowWaterMark = l
  }
  // The same-turn wait for the child's exit below happens once per case. It cannot succeed
  // when `head` is blocked writing its output to us (the prefix is larger than what its stdout
  // socket holds, and this thread, spinning, does not read it): done after every write, it
  // starved the event loop for minutes (seeds 728+729 with --jobs 2), so that no timer, the
  // per-seed timeout included, could fire. After it, a turn lets the child's output be read.
  let waitedForLoss = false
  const maybePause = async (i: number, last?: ArrayBufferView | ArrayBuffer) => {
    // Right after a small write (which the JS fast path stages in its slab)...
    const staged = last instanceof Uint8Array && last.length <= 16 * 1024
    if (!waitedForLoss && c.prefix !== null && c.waitForLoss && staged && w.connected && w.stats().bytesWritten >= c.prefix) {
      // The child has what it wants and is exiting: wait for it in the same turn, then go on
      // writing (what the JS fast path had staged must still be accounted for).
      waitedForLoss = true
      const until = Date.now() + 300
      while (w.connected && Date.now() < until) {
        /* same turn */
      }
      if (w.connected) await turn()
    } else if (c.busyWaitMs && r.chance(0.02)) {
      const until = Date.now() + c.busyWaitMs
      while (Date.now() < until) {
        /* same turn: the I/O thread runs, JS does not */
      }
    } else if (i % 97 === 0) await turn()
  }

  let reason: ConnectionLostReason
  let adapter = false
  switch (c.entry) {
    case 'write':
    case 'nativeWrite':
    case 'writeSequence': {
      for (let i = 0; i < chunks.length; ) {
        let ok: boolean
        let last: ArrayBufferView | ArrayBuffer | undefined
        if (c.entry === 'writeSequence') {
          const group = chunks.slice(i, i + r.int(1, 8))
          const n = group.reduce((a, b) => a + byteLength(b), 0)
          ok = offer(() => w.writeSequence(group), n, 'writeSequence')
          i += group.length
        } else {
          const ch = (last = chunks[i++])
          ok = offer(() => w.write(ch), byteLength(ch), 'write')
        }
        if (r.chance(0.05)) sample('writing')
        maybeMarks()
        if (!ok && w.connected) await drained()
        else await maybePause(i, last)
        if (w.lostReason) break
      }
      if (c.writeAfterEnd && w.connected) {
        // Same turn after loseConnection(): still delivered (Twisted's rule).
        w.loseConnection()
        const extra = chunks.length ? chunks[chunks.length - 1] : new Uint8Array(0)
        offer(() => w.write(extra), byteLength(extra), 'write')
      } else {
        w.loseConnection()
      }
      reason = await lost
      break
    }
    case 'push':
    case 'pull': {
      let i = 0
      let paused = false
      let finished = false
      let wake: (() => void) | null = null
      const streaming = c.entry === 'push'
      const producer = {
        pauseProducing() {
          paused = true
        },
        resumeProducing() {
          paused = false
          if (!streaming) {
            // Pull: one chunk per request.
            if (i < chunks.length) {
              const ch = chunks[i++]
              offer(() => w.write(ch), byteLength(ch), 'write')
            } else finished = true
          }
          wake?.()
        },
        stopProducing() {
          finished = true
          wake?.()
        },
      }
      w.registerProducer(producer, streaming)
      while (!finished && w.connected) {
        if (streaming) {
          if (paused) await new Promise<void>((res) => (wake = res))
          else {
            if (i >= chunks.length) break
            const ch = chunks[i++]
            offer(() => w.write(ch), byteLength(ch), 'write')
            maybeMarks()
            await maybePause(i, ch)
          }
        } else {
          await new Promise<void>((res) => {
            wake = res
            setTimeout(res, 50)
          })
        }
        wake = null
        if (r.chance(0.05)) sample('producing')
      }
      if (w.connected) {
        w.unregisterProducer()
        w.loseConnection()
      }
      reason = await lost
      break
    }
    case 'feedArray':
    case 'feedAsync':
    case 'feedReadable':
    case 'feedWeb':
    case 'feedBuffer': {
      adapter = true
      const views = chunks.map((ch) => (ch instanceof ArrayBuffer ? ch : ch))
      let source: Parameters<typeof feed>[1]
      if (c.entry === 'feedArray') source = views
      else if (c.entry === 'feedAsync')
        source = (async function* () {
          for (let i = 0; i < views.length; i++) {
            if (i % 13 === 0) await turn()
            yield views[i]
          }
        })()
      else if (c.entry === 'feedReadable')
        source = Readable.from(
          chunks.map((ch) => (ch instanceof ArrayBuffer ? Buffer.from(ch) : Buffer.from(ch.buffer, ch.byteOffset, ch.byteLength))),
          { objectMode: true },
        )
      else if (c.entry === 'feedWeb') {
        let j = 0
        source = new ReadableStream({
          pull(ctl) {
            if (j < views.length) ctl.enqueue(views[j++])
            else ctl.close()
          },
        })
      } else source = data
      reason = (await feed(w, source, c.entry === 'feedBuffer' ? { chunkSize: chunkSize(r, c) } : {}))!
      break
    }
    case 'toWritable': {
      adapter = true
      const s = toWritable(w)
      s.on('error', () => {})
      for (const ch of chunks) {
        if (s.destroyed) break
        const buf = ch instanceof ArrayBuffer ? Buffer.from(ch) : Buffer.from(ch.buffer, ch.byteOffset, ch.byteLength)
        if (!s.write(buf)) {
          await new Promise<void>((res) => {
            const done = () => (s.off('drain', done), s.off('close', done), res())
            s.on('drain', done).on('close', done)
          })
        }
      }
      if (!s.destroyed) s.end()
      reason = await lost
      break
    }
    case 'toWebWritable': {
      adapter = true
      const ws = toWebWritable(w).getWriter()
      try {
        for (const ch of chunks) {
          await ws.ready
          void ws.write(ch instanceof ArrayBuffer ? new Uint8Array(ch) : ch).catch(() => {})
        }
        await ws.close()
      } catch {
        /* the reason says why */
      }
      reason = await lost
      break
    }
  }
  for (const t of stallTimers) clearTimeout(t)
  child.kill('SIGCONT')
  await childDone
  const st = w.stats()
  sample('after the end')

  // The accounting, exactly.
  if (st.bytesBuffered !== 0) v.push(`bytesBuffered ${st.bytesBuffered} after the end`)
  if (st.bytesAccepted !== st.bytesWritten + st.bytesUnwritten)
    v.push(`accepted ${st.bytesAccepted} != written ${st.bytesWritten} + unwritten ${st.bytesUnwritten}`)
  if (reason.bytesWritten !== st.bytesWritten) v.push(`reason.bytesWritten ${reason.bytesWritten} != stats ${st.bytesWritten}`)
  if (reason.bytesUnwritten !== st.bytesUnwritten) v.push(`reason.bytesUnwritten ${reason.bytesUnwritten} != stats ${st.bytesUnwritten}`)
  const clean = reason.code === 'DONE' || (reason.code === 'READER_CLOSED' && reason.bytesUnwritten === 0)
  if (reason.clean !== clean) v.push(`clean is ${reason.clean} for ${reason.code} with ${reason.bytesUnwritten} unwritten`)
  if (!adapter && st.bytesAccepted + st.bytesDropped !== offered)
    v.push(`offered ${offered} != accepted ${st.bytesAccepted} + dropped ${st.bytesDropped}`)
  if (adapter && st.bytesAccepted + st.bytesDropped > c.total)
    v.push(`accepted ${st.bytesAccepted} + dropped ${st.bytesDropped} > the ${c.total} bytes of the source`)

  // What the child read.
  const got = Buffer.concat(out)
  const extra = c.writeAfterEnd && ['write', 'nativeWrite', 'writeSequence'].includes(c.entry) && chunks.length ? chunks[chunks.length - 1] : null
  const sent = extra ? Buffer.concat([data, (extra instanceof ArrayBuffer ? Buffer.from(extra) : Buffer.from(extra.buffer, extra.byteOffset, extra.byteLength))]) : data
  const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')
  if (c.prefix === null) {
    if (reason.code !== 'DONE') v.push(`reason ${reason.code} (${reason.message}) where DONE was due`)
    else {
      if (st.bytesWritten !== sent.length) v.push(`DONE with ${st.bytesWritten} bytes written of ${sent.length}`)
      if (st.bytesDropped !== 0) v.push(`DONE with ${st.bytesDropped} bytes dropped`)
    }
    const childSha = got.toString().split(/\s+/)[0]
    if (childSha !== sha(sent)) v.push(`the child's sha256 ${childSha} != sent ${sha(sent)} (${sent.length} bytes)`)
  } else {
    const want = sent.subarray(0, Math.min(c.prefix, sent.length))
    if (sha(got) !== sha(want)) v.push(`head -c ${c.prefix} read ${got.length} bytes whose sha256 differs from the first ${want.length} sent`)
    if (c.prefix >= sent.length && reason.code !== 'DONE') v.push(`reason ${reason.code} although the child read everything`)
    if (!['DONE', 'READER_CLOSED'].includes(reason.code)) v.push(`reason ${reason.code} (${reason.message})`)
    if (st.bytesWritten < want.length) v.push(`bytesWritten ${st.bytesWritten} < the ${want.length} bytes the child read`)
  }
  return { violations: v, reason, stats: st }
}

// ---------------------------------------------------------------------------------------------
// command line
function parseArgs(argv: string[]) {
  const o = { seeds: 20, from: 1, seed: null as number | null, jobs: 2, timeoutMs: 60_000, entry: undefined as Entry | undefined }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const val = () => {
      const n = Number(argv[++i])
      if (!Number.isInteger(n) || n < 0) throw new Error(`${a} needs a whole number`)
      return n
    }
    if (a === '--seeds') o.seeds = val()
    else if (a === '--from') o.from = val()
    else if (a === '--seed') o.seed = val()
    else if (a === '--jobs') o.jobs = Math.max(1, val())
    else if (a === '--timeout-ms') o.timeoutMs = val()
    else if (a === '--entry') {
      const e = argv[++i] as Entry
      if (!ENTRIES.includes(e)) throw new Error(`--entry takes one of ${ENTRIES.join(', ')}`)
      o.entry = e
    }
    else if (a === '--help' || a === '-h') {
      console.log(`npm run fuzz -- [--seeds N] [--from S] [--seed S] [--jobs J] [--timeout-ms MS] [--entry ${ENTRIES.join('|')}]`)
      process.exit(0)
    } else throw new Error(`unknown argument ${a}`)
  }
  return o
}

async function runSeed(seed: number, timeoutMs: number, entry?: Entry): Promise<{ seed: number; c: Case; out: Outcome }> {
  const c = drawCase(seed, entry)
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<Outcome>((res) => {
    timer = setTimeout(() => res({ violations: [`no end within ${timeoutMs} ms (a hang)`] }), timeoutMs)
  })
  let out: Outcome
  try {
    out = await Promise.race([runCase(c), timeout])
  } catch (err) {
    out = { violations: [`threw: ${(err as Error)?.stack ?? String(err)}`] }
  } finally {
    clearTimeout(timer)
  }
  return { seed, c, out }
}

/**
 * The per-seed timeout is a timer: it cannot fire while the JS thread is held (a same-turn loop
 * that never ends, or a native call that blocks). A watchdog thread sees the main thread's
 * heartbeat stop; past `timeoutMs` without one it prints the seeds in flight as failures, with
 * the command that reproduces them, and ends the process (SIGTERM: Node's default, which a
 * blocked thread cannot delay), so a hang always ends the run with a non-zero status.
 */
function watchdog(timeoutMs: number, jobs: number, entry?: Entry) {
  // [0]: ms since `t0` of the last heartbeat; [1 + slot]: 1 + the seed that slot runs (0: none).
  const shared = new Int32Array(new SharedArrayBuffer(4 * (1 + jobs)))
  const t0 = Date.now()
  const beat = setInterval(() => Atomics.store(shared, 0, Date.now() - t0), 250)
  beat.unref()
  const code = `
    const { workerData: { shared, t0, timeoutMs, entry } } = require('node:worker_threads')
    const { writeSync } = require('node:fs')
    setInterval(() => {
      const still = Date.now() - t0 - Atomics.load(shared, 0)
      if (still <= timeoutMs) return
      const seeds = Array.from(shared.subarray(1)).filter((s) => s > 0).map((s) => s - 1)
      let msg = ''
      for (const s of seeds)
        msg += 'FAIL seed ' + s + ': the JS thread has not run for ' + still + ' ms (a hang no timer can end)\\n' +
          '  reproduce: npm run fuzz -- --seed ' + s + (entry ? ' --entry ' + entry : '') + '\\n'
      writeSync(1, msg + 'fuzz: stopped by the watchdog, seeds in flight: ' + seeds.join(' ') + '\\n')
      process.kill(process.pid, 'SIGTERM')
    }, 1000)
  `
  const w = new Worker(code, { eval: true, execArgv: [], workerData: { shared, t0, timeoutMs, entry } })
  w.on('error', (err) => console.error('fuzz: the watchdog failed:', err))
  w.unref()
  return { running: (slot: number, seed: number | null) => Atomics.store(shared, 1 + slot, seed === null ? 0 : seed + 1) }
}

async function main() {
  const o = parseArgs(process.argv.slice(2))
  const seeds = o.seed !== null ? [o.seed] : Array.from({ length: o.seeds }, (_, i) => o.from + i)
  const started = Date.now()
  let passed = 0
  let bytes = 0
  const failed: number[] = []
  let next = 0
  const jobs = Math.min(o.jobs, seeds.length)
  const dog = watchdog(o.timeoutMs, jobs, o.entry)
  const worker = async (slot: number) => {
    while (next < seeds.length) {
      const s = seeds[next++]
      dog.running(slot, s)
      const { seed, c, out } = await runSeed(s, o.timeoutMs, o.entry)
      dog.running(slot, null)
      bytes += c.total
      if (o.seed !== null) console.log(JSON.stringify({ case: c, reason: out.reason, stats: out.stats }, null, 2))
      if (out.violations.length === 0) {
        passed++
        continue
      }
      failed.push(seed)
      console.log(`FAIL seed ${seed}: ${JSON.stringify(c)}`)
      for (const x of out.violations) console.log(`  - ${x}`)
      console.log(`  reproduce: npm run fuzz -- --seed ${seed}${o.entry ? ` --entry ${o.entry}` : ''}`)
    }
  }
  await Promise.all(Array.from({ length: jobs }, (_, slot) => worker(slot)))
  const secs = ((Date.now() - started) / 1000).toFixed(1)
  const range = o.seed !== null ? `seed ${o.seed}` : `seeds ${seeds[0]}..${seeds[seeds.length - 1]}`
  console.log(`fuzz: ${passed} seeds passed, ${failed.length} failed (${range}, ${(bytes / 1048576).toFixed(1)} MiB, ${secs} s)`)
  if (failed.length) console.log(`failed seeds: ${failed.join(' ')}`)
  // A hung seed may keep its writer and child alive: do not wait for them.
  process.exit(failed.length ? 1 : 0)
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main().catch((err) => {
    console.error(err)
    process.exitCode = 2
  })
}
