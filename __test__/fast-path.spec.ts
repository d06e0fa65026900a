// The exported ProcessWriter (lib/process-writer.ts): small writes are coalesced in JS before they
// reach the native core. These tests check that nothing about the contract changes: order and
// integrity, accounting, flow control, the close, abort and closed-writer rules. Real children.
import anyTest from 'ava'
import { createHash } from 'node:crypto'
import { COALESCE_BELOW, ProcessWriter, closed, spawn as spawnWriters } from '../lib/index.js'
import { standIn } from './helpers.mjs'
import native from '../index.js'

const test = anyTest

/** `spawn`, with helpers.mjs's node stand-ins for the POSIX commands on Windows. */
const spawn = (cmd: string, args: readonly string[] = [], options?: Parameters<typeof spawnWriters>[2]) =>
  spawnWriters(...standIn(cmd, args), options)

const sha = (...parts: Uint8Array[]) => {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return h.digest('hex')
}

function collect(stream: NodeJS.ReadableStream | null): Promise<Buffer> {
  const chunks: Buffer[] = []
  stream!.on('data', (d: Buffer) => chunks.push(d))
  return new Promise((resolve) => stream!.on('end', () => resolve(Buffer.concat(chunks))))
}

/** Deterministic chunk sizes from 1 byte to well over the coalescing bound. */
function mixedChunks(count: number): Buffer[] {
  let x = 12345
  const out: Buffer[] = []
  for (let i = 0; i < count; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff
    const size = i % 50 === 0 ? 40_000 + (x % 300_000) : 1 + (x % 3000)
    out.push(Buffer.alloc(size, i & 255))
  }
  return out
}

test('the exported class is the native one with the fast path', (t) => {
  const { child, stdin } = spawn('true', [])
  t.true(stdin instanceof ProcessWriter)
  t.true(stdin instanceof native.ProcessWriter)
  t.true(COALESCE_BELOW > 4096)
  stdin!.abortConnection()
  return new Promise<void>((r) => child.on('close', () => r()))
})

test('mixed small and large writes keep their order: sha256sum equals ours', async (t) => {
  const { child, stdin } = spawn('sha256sum', [], { stdio: ['writer', 'pipe', 'inherit'] })
  const out = collect(child.stdout)
  const chunks = mixedChunks(3000)
  const w = stdin!
  let i = 0
  await new Promise<void>((resolve) => {
    w.onDrain = pump
    function pump() {
      while (i < chunks.length) {
        const c = chunks[i++]
        if (i % 7 === 0) {
          if (!w.writeSequence([c])) return
        } else if (!w.write(c)) return
      }
      resolve()
    }
    pump()
  })
  w.loseConnection()
  const reason = await closed(w)
  t.is(reason.code, 'DONE')
  const total = chunks.reduce((n, c) => n + c.length, 0)
  t.is(reason.bytesWritten, total)
  t.is((await out).toString().split(' ')[0], sha(...chunks))
})

test('staged bytes count in bufferedAmount and stats until handed over', async (t) => {
  const { child, stdin } = spawn('cat', [], { stdio: ['writer', 'ignore', 'inherit'] })
  const exited = new Promise((r) => child.on('close', r))
  const w = stdin!
  const before = w.stats()
  for (let i = 0; i < 10; i++) t.true(w.write(Buffer.alloc(100, 1)))
  // Same turn: nothing has crossed into the core yet, all of it is buffered.
  t.is(w.bufferedAmount, 1000)
  const st = w.stats()
  t.is(st.bytesAccepted - before.bytesAccepted, 1000)
  t.is(st.bytesBuffered, 1000)
  t.is(st.writes - before.writes, 10)
  for (let i = 0; i < 1000 && w.stats().bytesWritten < 1000; i++) await new Promise((r) => setTimeout(r, 5))
  t.is(w.bufferedAmount, 0)
  t.is(w.stats().bytesWritten, 1000)
  t.is(w.stats().writes, 10, 'one slab handed over counts as the 10 writes made')
  w.loseConnection()
  t.is((await closed(w)).bytesWritten, 1000)
  await exited
})

test('34 through the fast path: write("1"); loseConnection(); write("2") in the same turn gives "12"', async (t) => {
  const { child, stdin } = spawn('cat', [], { stdio: ['writer', 'pipe', 'inherit'] })
  const out = collect(child.stdout)
  stdin!.write(Buffer.from('1'))
  stdin!.loseConnection()
  t.true(stdin!.write(Buffer.from('2')))
  t.is((await closed(stdin!)).code, 'DONE')
  t.is((await out).toString(), '12')
})

test('a push producer fed by small writes is paused, resumed, and all data arrives', async (t) => {
  const { child, stdin } = spawn('wc', ['-c'], { stdio: ['writer', 'pipe', 'inherit'], bufferSize: 8192 })
  const out = collect(child.stdout)
  const w = stdin!
  const events: string[] = []
  let sent = 0
  const total = 4 << 20
  const chunk = Buffer.alloc(512, 7)
  let paused = false
  const producer = {
    pauseProducing() {
      events.push('pause')
      paused = true
    },
    resumeProducing() {
      events.push('resume')
      paused = false
      setImmediate(produce)
    },
    stopProducing() {
      events.push('stop')
    },
  }
  function produce() {
    while (!paused && sent < total) {
      sent += chunk.length
      w.write(chunk)
    }
    if (sent >= total && !paused) {
      w.unregisterProducer()
      w.loseConnection()
    }
  }
  w.registerProducer(producer, true)
  produce()
  t.is((await closed(w)).code, 'DONE')
  t.is(Number((await out).toString().trim()), total)
  t.true(events.filter((e) => e === 'pause').length > 0)
  // Pause and resume strictly alternate.
  for (let i = 0; i < events.length; i++) t.is(events[i], i % 2 === 0 ? 'pause' : 'resume')
})

test('abortConnection counts staged bytes as unwritten; later small writes are dropped', async (t) => {
  const { child, stdin } = spawn('sleep', ['5'], { stdio: ['writer', 'ignore', 'inherit'] })
  const w = stdin!
  w.write(Buffer.alloc(300, 1))
  w.abortConnection()
  t.false(w.write(Buffer.alloc(200, 1)))
  const reason = await closed(w)
  t.is(reason.code, 'ABORTED')
  t.is(reason.bytesWritten + reason.bytesUnwritten, 300)
  t.is(w.stats().bytesDropped, 200)
  child.kill()
})

test('bad input still throws the native errors, and queues nothing', (t) => {
  const { child, stdin } = spawn('cat', [], { stdio: ['writer', 'ignore', 'inherit'] })
  const w = stdin!
  // (Strings are accepted, as in Node's Writable: see node-idioms.spec.ts.)
  for (const bad of [12, null, undefined, [1, 2, 3], {}]) {
    t.throws(() => w.write(bad as never), { code: 'ERR_INVALID_ARG_TYPE', instanceOf: TypeError })
  }
  const detached = new Uint8Array(16)
  structuredClone(detached.buffer, { transfer: [detached.buffer] })
  t.throws(() => w.write(detached), { code: 'ERR_INVALID_STATE' })
  t.is(w.bufferedAmount, 0)
  t.is(w.stats().bytesAccepted, 0)
  w.abortConnection()
  child.kill()
})
