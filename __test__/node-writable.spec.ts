import anyTest from 'ava'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createReadStream, writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConnectionLostError, closed, spawn as spawnWriters, toWebWritable, toWritable } from '../lib/index.js'
import { standIn } from './helpers.mjs'

import { collect, exitOf, sha256, testData } from './node-helpers.mjs'

const test = anyTest

/** `spawn`, with helpers.mjs's node stand-ins for the POSIX commands on Windows. */
const spawn = (cmd: string, args: readonly string[] = [], options?: Parameters<typeof spawnWriters>[2]) =>
  spawnWriters(...standIn(cmd, args), options)

function chunksOf(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = []
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size))
  return out
}

test('toWritable: pipeline(fs.createReadStream, toWritable) delivers every byte (sha256sum)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-writable-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'in.bin')
  const data = testData(5 * 1024 * 1024 + 3, 21)
  writeFileSync(file, data)
  const { child, stdin } = spawn('sha256sum')
  const out = collect(child.stdout)
  const w = toWritable(stdin!)
  t.true(w instanceof Writable)
  await pipeline(createReadStream(file), w)
  // The pipeline resolved: the pipe is flushed and closed.
  t.is(stdin!.lostReason?.code, 'DONE')
  t.is(stdin!.lostReason?.bytesWritten, data.length)
  t.false(stdin!.connected)
  t.deepEqual(await exitOf(child), { code: 0, signal: null })
  t.is((await out).toString().split(/\s+/)[0], sha256(data))
})

test('toWritable: backpressure comes from the writer (write() returns false, then drain)', async (t) => {
  // `sh -c 'sleep 0.3; wc -c'` does not read at first: the pipe and the writer fill up.
  const { child, stdin } = spawn('sh', ['-c', 'sleep 0.3; wc -c'], { bufferSize: 16384 })
  const out = collect(child.stdout)
  const w = toWritable(stdin!)
  t.is(w.writableHighWaterMark, 16384)
  const chunk = testData(8192, 2)
  let total = 0
  let sawFalse = false
  while (total < 2 * 1024 * 1024) {
    const ok = w.write(chunk)
    total += chunk.length
    if (!ok) {
      sawFalse = true
      // The Writable's buffer is bounded: what it holds plus the writer's is about 2 x bufferSize.
      t.true(w.writableLength <= 16384 + chunk.length)
      t.true(stdin!.bufferedAmount <= 16384 + chunk.length)
      await new Promise((r) => w.once('drain', r))
    }
  }
  t.true(sawFalse)
  await new Promise<void>((resolve, reject) => w.end((err?: Error | null) => (err ? reject(err) : resolve())))
  await exitOf(child)
  t.is(Number((await out).toString().trim()), total)
  t.true(stdin!.stats().pauses > 0)
})

test('toWritable: strings and many small chunks (writev) arrive in order (cat)', async (t) => {
  const { child, stdin } = spawn('cat')
  const out = collect(child.stdout)
  const parts = Array.from({ length: 5000 }, (_, i) => `line ${i}\n`)
  await pipeline(Readable.from(parts), toWritable(stdin!))
  await exitOf(child)
  t.is((await out).toString(), parts.join(''))
})

test('toWritable: a child that stops reading destroys the stream with code READER_CLOSED', async (t) => {
  const data = testData(8 * 1024 * 1024, 4)
  const { child, stdin } = spawn('head', ['-c', '100'])
  const out = collect(child.stdout)
  const err = await t.throwsAsync(pipeline(Readable.from(chunksOf(data, 65536)), toWritable(stdin!)))
  t.true(err instanceof ConnectionLostError)
  const e = err as ConnectionLostError
  t.is(e.code, 'READER_CLOSED')
  t.is(e.reason.code, 'READER_CLOSED')
  t.true(e.reason.bytesWritten >= 100)
  t.is((await out).length, 100)
  await exitOf(child)
})

test('toWritable: an AbortSignal destroys the stream with an AbortError and aborts the writer', async (t) => {
  const ac = new AbortController()
  const { child, stdin } = spawn('sleep', ['30'], { stdio: ['writer', 'ignore', 'inherit'] })
  const src = Readable.from(
    (function* () {
      for (;;) yield testData(65536, 9)
    })(),
  )
  const p = pipeline(src, toWritable(stdin!, { signal: ac.signal }))
  while (stdin!.stats().pauses === 0) await new Promise((r) => setTimeout(r, 5))
  ac.abort()
  const err = await t.throwsAsync(p)
  t.is(err!.name, 'AbortError')
  const reason = await closed(stdin!)
  t.is(reason.code, 'ABORTED')
  child.kill()
  await exitOf(child)
})

test('toWritable: destroy() before end aborts the writer (nothing more is delivered)', async (t) => {
  const { child, stdin } = spawn('wc', ['-c'])
  const out = collect(child.stdout)
  const w = toWritable(stdin!)
  w.on('error', () => {})
  w.write('some bytes')
  w.destroy()
  const reason = await closed(stdin!)
  t.is(reason.code, 'ABORTED')
  await exitOf(child)
  t.true(Number((await out).toString()) <= 'some bytes'.length)
})

test('toWebWritable: ReadableStream.pipeTo delivers every byte and resolves after the close (sha256sum)', async (t) => {
  const data = testData(3 * 1024 * 1024 + 5, 31)
  const { child, stdin } = spawn('sha256sum')
  const out = collect(child.stdout)
  const ws = toWebWritable(stdin!)
  t.true(ws instanceof WritableStream)
  await Readable.toWeb(Readable.from(chunksOf(data, 100_000))).pipeTo(ws)
  t.is(stdin!.lostReason?.code, 'DONE')
  await exitOf(child)
  t.is((await out).toString().split(/\s+/)[0], sha256(data))
})

test('toWebWritable: writer-level backpressure; getWriter().write/close with wc -c', async (t) => {
  const { child, stdin } = spawn('sh', ['-c', 'sleep 0.2; wc -c'], { bufferSize: 8192 })
  const out = collect(child.stdout)
  const w = toWebWritable(stdin!).getWriter()
  const chunk = testData(4096, 5)
  let total = 0
  for (let i = 0; i < 300; i++) {
    await w.ready
    w.write(chunk)
    total += chunk.length
  }
  w.write('tail')
  total += 4
  await w.close()
  await exitOf(child)
  t.is(Number((await out).toString().trim()), total)
  t.true(stdin!.stats().pauses > 0)
})

test('toWebWritable: a child that stops reading rejects pipeTo with a ConnectionLostError', async (t) => {
  const { child, stdin } = spawn('head', ['-c', '10'], { stdio: ['writer', 'ignore', 'inherit'] })
  const src = new ReadableStream<Uint8Array>({
    pull(c) {
      c.enqueue(testData(65536, 1))
    },
  })
  const err = await t.throwsAsync(src.pipeTo(toWebWritable(stdin!)))
  t.is((err as ConnectionLostError).code, 'READER_CLOSED')
  await exitOf(child)
})

test('toWebWritable: signal aborts with an AbortError; stream.abort() aborts the writer', async (t) => {
  {
    const ac = new AbortController()
    const { child, stdin } = spawn('sleep', ['30'], { stdio: ['writer', 'ignore', 'inherit'] })
    const src = new ReadableStream<Uint8Array>({
      pull(c) {
        c.enqueue(testData(65536, 2))
      },
    })
    const p = src.pipeTo(toWebWritable(stdin!, { signal: ac.signal }))
    while (stdin!.stats().pauses === 0) await new Promise((r) => setTimeout(r, 5))
    ac.abort()
    const err = await t.throwsAsync(p)
    t.is(err!.name, 'AbortError')
    t.is((await closed(stdin!)).code, 'ABORTED')
    child.kill()
    await exitOf(child)
  }
  {
    const { child, stdin } = spawn('sleep', ['30'], { stdio: ['writer', 'ignore', 'inherit'] })
    t.teardown(() => child.kill())
    const ws = toWebWritable(stdin!)
    const w = ws.getWriter()
    w.write(Buffer.from('x')).catch(() => {})
    await w.abort(new Error('changed my mind'))
    t.is((await closed(stdin!)).code, 'ABORTED')
    child.kill()
    await exitOf(child)
  }
})

test('toWebWritable: bufferSize 0 still writes (its highWaterMark is at least 1, so pipeTo proceeds)', async (t) => {
  const data = testData(300_000, 41)
  const { child, stdin } = spawn('sha256sum', [], { bufferSize: 0 })
  const out = collect(child.stdout)
  const ws = toWebWritable(stdin!)
  await Readable.toWeb(Readable.from(chunksOf(data, 50_000))).pipeTo(ws)
  t.is(stdin!.lostReason?.code, 'DONE')
  await exitOf(child)
  t.is((await out).toString().split(/\s+/)[0], sha256(data))
})

test('toWebWritable: an already-aborted signal gives an errored stream (no throw) and aborts the writer', async (t) => {
  const { child, stdin } = spawn('cat', [], { stdio: ['writer', 'ignore', 'inherit'] })
  let ws: WritableStream | undefined
  t.notThrows(() => {
    ws = toWebWritable(stdin!, { signal: AbortSignal.abort() })
  })
  const err = await t.throwsAsync(ws!.getWriter().write(Buffer.from('x')))
  t.is(err!.name, 'AbortError')
  t.is((await closed(stdin!)).code, 'ABORTED')
  await exitOf(child)
})
