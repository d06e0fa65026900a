import anyTest from 'ava'
import { execFileSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { AbortError, ProcessWriter, closed, createPipe, closeFd, feed, onProgress, spawn as spawnWriters } from '../lib/index.js'
import { standIn } from './helpers.mjs'

import type { ConnectionLostReason, Progress } from '../lib/index.js'
import { collect, exitOf, nodeCommand, sha256, testData } from './node-helpers.mjs'

const test = anyTest

/** `spawn`, with helpers.mjs's node stand-ins for the POSIX commands on Windows. */
const spawn = (cmd: string, args: readonly string[] = [], options?: Parameters<typeof spawnWriters>[2]) =>
  spawnWriters(...standIn(cmd, args), options)

/** Spawn `sha256sum`, feed it `source`, and compare with the sha256 of `expected`. */
async function viaSha256sum(t: any, source: Parameters<typeof feed>[1], expected: Buffer, options = {}) {
  const { child, stdin } = spawn('sha256sum')
  const out = collect(child.stdout)
  const reason = await feed(stdin!, source, options)
  t.is(reason.code, 'DONE')
  t.true(reason.clean)
  t.is(reason.bytesWritten, expected.length)
  t.deepEqual(await exitOf(child), { code: 0, signal: null })
  t.is((await out).toString().split(/\s+/)[0], sha256(expected))
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const big = testData(2 * 1024 * 1024 + 123, 77)
const parts = Array.from({ length: 64 }, (_, i) => big.subarray(i * 32768, (i + 1) * 32768 + (i === 63 ? 123 : 0)))

test('feed: a Buffer (sliced into chunks)', (t) => viaSha256sum(t, big, big))
test('feed: a Uint8Array view with an offset, a DataView, an ArrayBuffer', async (t) => {
  const u8 = new Uint8Array(big.buffer, big.byteOffset + 5, 1000)
  await viaSha256sum(t, u8, Buffer.from(u8))
  await viaSha256sum(t, new DataView(big.buffer, big.byteOffset, 999), big.subarray(0, 999))
  const ab = new ArrayBuffer(16)
  new Uint8Array(ab).fill(7)
  await viaSha256sum(t, ab, Buffer.alloc(16, 7))
})
test('feed: a string, with the default utf8 and with an encoding', async (t) => {
  await viaSha256sum(t, 'héllo wörld\n'.repeat(10000), Buffer.from('héllo wörld\n'.repeat(10000)))
  await viaSha256sum(t, 'aGVsbG8=', Buffer.from('hello'), { encoding: 'base64' })
})
test('feed: a sync iterable (array) and a generator of mixed chunks', async (t) => {
  await viaSha256sum(t, parts, big)
  await viaSha256sum(
    t,
    (function* () {
      yield 'abc'
      yield new Uint16Array([0x6564, 0x6766])
      yield Buffer.from('xyz')
    })(),
    Buffer.from('abcdefgxyz'),
  )
})
test('feed: an async iterable', (t) =>
  viaSha256sum(
    t,
    (async function* () {
      for (const p of parts) {
        await new Promise((r) => setImmediate(r))
        yield p
      }
    })(),
    big,
  ))
test('feed: a Node Readable', (t) => viaSha256sum(t, Readable.from(parts), big))
test('feed: a Web ReadableStream', (t) => viaSha256sum(t, Readable.toWeb(Readable.from(parts)), big))

test('feed: honours pauses (the writer never holds much more than bufferSize)', async (t) => {
  const { child, stdin } = spawn('sh', ['-c', 'sleep 0.2; wc -c'], { bufferSize: 4096 })
  const out = collect(child.stdout)
  let maxBuffered = 0
  const chunk = testData(1024, 1)
  const reason = await feed(
    stdin!,
    (function* () {
      for (let i = 0; i < 2048; i++) {
        maxBuffered = Math.max(maxBuffered, stdin!.bufferedAmount)
        yield chunk
      }
    })(),
  )
  t.is(reason.code, 'DONE')
  t.true(maxBuffered <= 4096 + chunk.length, `max buffered ${maxBuffered}`)
  t.true(stdin!.stats().pauses > 0)
  await exitOf(child)
  t.is(Number((await out).toString()), 2048 * 1024)
})

test('feed: end: false resolves with null and leaves the writer open for more', async (t) => {
  const { child, stdin } = spawn('sha256sum')
  const out = collect(child.stdout)
  t.is(await feed(stdin!, parts.slice(0, 10), { end: false }), null)
  t.true(stdin!.connected)
  t.false(stdin!.disconnecting)
  t.is(await feed(stdin!, Readable.from(parts.slice(10, 40)), { end: false }), null)
  const reason = await feed(stdin!, parts.slice(40))
  t.is(reason.code, 'DONE')
  await exitOf(child)
  t.is((await out).toString().split(/\s+/)[0], sha256(big))
})

test('feed: resolves (not rejects) with READER_CLOSED when the child stops reading', async (t) => {
  const { child, stdin } = spawn('head', ['-c', '5'])
  const out = collect(child.stdout)
  const endless = (async function* () {
    for (;;) yield testData(65536, 3)
  })()
  const reason = await feed(stdin!, endless)
  t.is(reason.code, 'READER_CLOSED')
  t.true(reason.bytesWritten >= 5) // clean may be true: what was accepted may all be in the pipe
  t.is((await out).length, 5)
  await exitOf(child)
})

test('feed: abort rejects with an AbortError after abortConnection()', async (t) => {
  const ac = new AbortController()
  const { child, stdin } = spawn('sh', ['-c', 'sleep 0.3; cat >/dev/null'])
  const never = new Readable({ read() {} }) // a source that never ends
  never.push('some')
  setTimeout(() => ac.abort(new Error('user gave up')), 50)
  const err = await t.throwsAsync(feed(stdin!, never, { signal: ac.signal }))
  t.true(err instanceof AbortError)
  t.is(err!.name, 'AbortError')
  t.is((err as AbortError).code, 'ABORT_ERR')
  t.is(((err as Error).cause as Error).message, 'user gave up')
  t.is((await closed(stdin!)).code, 'ABORTED')
  t.true(never.destroyed)
  await exitOf(child)
})

test('feed: abort while paused on a full pipe, and an already-aborted signal', async (t) => {
  {
    const ac = new AbortController()
    // `sleep` never reads: the pipe fills, the writer pauses feed, then we abort.
    const { child, stdin } = spawn('sleep', ['30'], { stdio: ['writer', 'ignore', 'inherit'], pipeSize: 0 })
    const p = feed(stdin!, testData(4 * 1024 * 1024, 1), { signal: ac.signal })
    // Paused with the (64 KiB) pipe full and bytes still queued.
    while (stdin!.stats().pauses === 0 || stdin!.stats().bytesWritten < 65536 || stdin!.bufferedAmount === 0) {
      await new Promise((r) => setTimeout(r, 5))
    }
    ac.abort()
    await t.throwsAsync(p, { name: 'AbortError' })
    const r = await closed(stdin!)
    t.is(r.code, 'ABORTED')
    t.true(r.bytesUnwritten > 0)
    child.kill()
    await exitOf(child)
  }
  {
    const { child, stdin } = spawn('cat', [], { stdio: ['writer', 'ignore', 'inherit'] })
    await t.throwsAsync(feed(stdin!, 'x', { signal: AbortSignal.abort() }), { name: 'AbortError' })
    t.is((await closed(stdin!)).code, 'ABORTED')
    await exitOf(child)
  }
})

test('feed: a throwing source rejects with its error and aborts the writer', async (t) => {
  const { child, stdin } = spawn('wc', ['-c'])
  const out = collect(child.stdout)
  const err = await t.throwsAsync(
    feed(
      stdin!,
      (async function* () {
        yield 'partial'
        throw new Error('disk on fire')
      })(),
    ),
  )
  t.is(err!.message, 'disk on fire')
  t.is((await closed(stdin!)).code, 'ABORTED')
  await exitOf(child)
  t.true(Number((await out).toString()) <= 7)
})

test('feed: a chunk that is not bytes rejects with ERR_INVALID_ARG_TYPE', async (t) => {
  const { child, stdin } = spawn('cat', [], { stdio: ['writer', 'ignore', 'inherit'] })
  await t.throwsAsync(feed(stdin!, [Buffer.from('ok'), 42 as never]), { code: 'ERR_INVALID_ARG_TYPE' })
  await t.throwsAsync(feed(stdin!, 42 as never), { code: 'ERR_INVALID_ARG_TYPE' })
  await exitOf(child)
})

test('feed: on a writer that is already closed resolves with its reason', async (t) => {
  const { child, stdin } = spawn('cat', [], { stdio: ['writer', 'ignore', 'inherit'] })
  stdin!.loseConnection()
  const first = await closed(stdin!)
  t.is(first.code, 'DONE')
  const again = await feed(stdin!, 'too late')
  t.is(again.code, 'DONE')
  t.is(stdin!.stats().bytesDropped, 0)
  await exitOf(child)
})

test('closed: several observers and the user callback (set before or after) all see the end', async (t) => {
  const seen: string[] = []
  const { readFd, writer } = createPipe({ onConnectionLost: (r) => seen.push(`option:${r.code}`) })
  const a = closed(writer)
  const b = closed(writer)
  t.is(a, b)
  // Assigning after closed() must not drop closed()'s hook, and must be what gets called.
  writer.onConnectionLost = (r: ConnectionLostReason) => seen.push(`prop:${r.code}`)
  t.is(typeof writer.onConnectionLost, 'function')
  writer.write(Buffer.from('x'))
  closeFd(readFd)
  const reason = await a
  t.is(reason.code, 'READER_CLOSED')
  await new Promise((r) => setImmediate(r))
  t.deepEqual(seen, ['prop:READER_CLOSED'])
  t.is(await closed(writer), reason)
})

test('closed: keeps a callback that was set before it and calls it exactly once', async (t) => {
  const calls: ConnectionLostReason[] = []
  const { readFd, writer } = createPipe()
  writer.onConnectionLost = (r) => calls.push(r)
  const p = closed(writer)
  writer.abortConnection()
  const reason = await p
  await new Promise((r) => setTimeout(r, 20))
  t.is(calls.length, 1)
  t.is(calls[0].code, 'ABORTED')
  t.is(reason.code, 'ABORTED')
  closeFd(readFd)
  // After the end: resolves at once with the stored reason.
  t.is((await closed(writer)).code, 'ABORTED')
})

// A writer keeps the process alive while busy (data buffered, a close or an abort on its way), so
// the reason of an abort is delivered even when nothing else runs.
test('native: onConnectionLost is delivered after abortConnection() before the process exits', (t) => {
  const script = `
    const { openPipe, closeFd, ProcessWriter } = require('./index.js')
    const { readFd, writeFd } = openPipe()
    const w = new ProcessWriter(writeFd, { onConnectionLost: (r) => console.log('lost', r.code) })
    w.abortConnection()
    closeFd(readFd)`
  const out = execFileSync(...nodeCommand(['-e', script]), { cwd: ROOT, encoding: 'utf8' })
  t.is(out, 'lost ABORTED\n')
})

// closed() works around it (lib/closed.ts): a process awaiting it does see the reason.
test('closed(): a process that only awaits it after abortConnection() / a child exit sees the reason', (t) => {
  for (const [setup, expected] of [
    // Abort first: after closeFd(readFd) the core may see the reader go before the abort.
    ['writer.abortConnection(); closeFd(readFd)', 'closed ABORTED'],
    ['closeFd(readFd)', 'closed READER_CLOSED'],
  ]) {
    const script = `
      const { createPipe, closeFd, closed } = require('./lib/index.js')
      const { readFd, writer } = createPipe()
      ${setup}
      closed(writer).then((r) => console.log('closed', r.code))`
    const out = execFileSync(...nodeCommand(['-e', script]), { cwd: ROOT, encoding: 'utf8' })
    t.is(out, `${expected}\n`)
  }
})

test('onProgress: throttled reports from stats(), a final done report, stops on loss', async (t) => {
  const { child, stdin } = spawn('sh', ['-c', 'sleep 0.5; cat >/dev/null'], { pipeSize: 0 })
  const reports: Progress[] = []
  const stop = onProgress(stdin!, (p) => reports.push(p), { intervalMs: 50 })
  const data = testData(3 * 1024 * 1024, 8)
  const reason = await feed(stdin!, data)
  await new Promise((r) => setTimeout(r, 120))
  stop() // no-op by now
  t.is(reason.code, 'DONE')
  t.true(reports.length >= 3, `${reports.length} reports`)
  const last = reports[reports.length - 1]
  t.true(last.done)
  t.is(reports.filter((p) => p.done).length, 1)
  t.is(last.bytesWritten, data.length)
  t.is(last.bytesAccepted, data.length)
  t.true(last.pausedMs > 0)
  for (let i = 1; i < reports.length; i++) {
    t.true(reports[i].bytesWritten >= reports[i - 1].bytesWritten)
    t.true(reports[i].elapsedMs >= reports[i - 1].elapsedMs)
  }
  t.true(reports.every((p) => p.bytesPerSecond >= 0 && Number.isFinite(p.bytesPerSecond)))
  await exitOf(child)
})

test('onProgress: as a feed option', async (t) => {
  const reports: Progress[] = []
  const { child, stdin } = spawn('wc', ['-c'], { stdio: ['writer', 'ignore', 'inherit'] })
  await feed(stdin!, big, { onProgress: (p) => reports.push(p), progressIntervalMs: 10 })
  t.true(reports.length >= 1)
  t.true(reports[reports.length - 1].done)
  t.is(reports[reports.length - 1].bytesWritten, big.length)
  await exitOf(child)
})

test('writer class is the native one', (t) => {
  const { readFd, writer } = createPipe()
  t.true(writer instanceof ProcessWriter)
  writer.abortConnection()
  closeFd(readFd)
})

test('feed: on a writer that already has a producer rejects with ERR_PRODUCER_ALREADY_REGISTERED; the first producer stays', async (t) => {
  const { child, stdin } = spawn('wc', ['-c'])
  const out = collect(child.stdout)
  const first = { pauseProducing() {}, resumeProducing() {}, stopProducing() {} }
  stdin!.registerProducer(first, true)
  await t.throwsAsync(feed(stdin!, 'intruder'), { code: 'ERR_PRODUCER_ALREADY_REGISTERED' })
  t.true(stdin!.connected)
  t.is(stdin!.lostReason, null)
  stdin!.write(Buffer.from('first producer data'))
  stdin!.unregisterProducer()
  stdin!.loseConnection()
  t.is((await closed(stdin!)).code, 'DONE')
  await exitOf(child)
  t.is(Number((await out).toString()), 'first producer data'.length)
})

test('feed: chunks already written are not kept alive by the feed (an async source of 64 MiB)', async (t) => {
  // Each wait used to be Promise.race([wait, a promise that settles only at the end]), which kept
  // every chunk the source yielded reachable until the feed ended.
  const { setFlagsFromString } = await import('node:v8')
  const { runInNewContext } = await import('node:vm')
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const { child, stdin } = spawn('wc', ['-c'])
  const out = collect(child.stdout)
  const early: WeakRef<Buffer>[] = []
  let alive = -1
  async function* source() {
    for (let i = 0; i < 1024; i++) {
      const b = Buffer.alloc(65536, i & 255)
      if (i < 100) early.push(new WeakRef(b))
      if (i === 1000) {
        // The first 100 chunks were written long ago: let the writer hand them back, collect.
        await new Promise((r) => setTimeout(r, 100))
        gc()
        await new Promise((r) => setImmediate(r))
        gc()
        alive = early.filter((w) => w.deref() !== undefined).length
      }
      yield b
    }
  }
  t.is((await feed(stdin!, source())).code, 'DONE')
  await exitOf(child)
  t.is(Number((await out).toString()), 1024 * 65536)
  t.true(alive >= 0 && alive <= 10, `${alive} of the first 100 chunks still reachable`)
})
