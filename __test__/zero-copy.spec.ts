// The zeroCopy option (vmsplice on Linux pipes) and pipe sizing, against real children.
import anyTest from 'ava'
import { createHash } from 'node:crypto'
import { closeFd, closed, createPipe, openPipe, spawn } from '../lib/index.js'
import { TIME_SCALE } from './env.mjs'
import { posixOnly } from './platform.mjs'

const test = posixOnly(anyTest, 'zero-copy is vmsplice (Linux); the option is ignored on Windows')

function collect(stream: NodeJS.ReadableStream | null): Promise<Buffer> {
  const chunks: Buffer[] = []
  stream!.on('data', (d: Buffer) => chunks.push(d))
  return new Promise((resolve) => stream!.on('end', () => resolve(Buffer.concat(chunks))))
}

// The caller owns two buffers and refills them as soon as the writer says it may (a drain at
// lowWaterMark 0): with zero-copy that means the child has read them. If the writer let the
// caller reuse memory still mapped in the pipe, the child's hash would differ from ours.
for (const size of [1 << 20, 64 << 10, 100 << 10]) {
  test(`zero-copy: integrity while the caller reuses its buffers (${size} B chunks)`, async (t) => {
    const { child, stdin } = spawn('sha256sum', [], {
      stdio: ['writer', 'pipe', 'inherit'],
      pipeSize: 1 << 20,
      zeroCopy: true,
      bufferSize: size,
    })
    const out = collect(child.stdout)
    const w = stdin!
    const bufs = [Buffer.alloc(size), Buffer.alloc(size)]
    const hash = createHash('sha256')
    const total = 64 << 20
    let sent = 0
    let n = 0
    await new Promise<void>((resolve) => {
      w.onDrain = pump
      function pump() {
        while (sent < total) {
          const b = bufs[n % 2]
          b.fill(n & 255)
          b.writeUInt32LE(n, 0)
          n++
          hash.update(b)
          sent += b.length
          if (!w.write(b)) return
        }
        resolve()
      }
      pump()
    })
    // Small writes (copied into the writer's own slabs) mixed in at the end.
    for (let i = 0; i < 1000; i++) {
      const small = Buffer.from(`line ${i}\n`)
      hash.update(small)
      w.write(small)
    }
    w.loseConnection()
    const reason = await closed(w)
    t.is(reason.code, 'DONE')
    t.is(reason.bytesUnwritten, 0)
    t.is((await out).toString().split(' ')[0], hash.digest('hex'))
    t.true(w.stats().syscalls > 0)
  })
}

// Many children fed at once by the one I/O thread (what the README suggests zeroCopy for): each
// caller reuses its two buffers at every drain, and every child's hash must still match. Twenty
// 1 MiB pipes are over the process's enlargement budget, so some keep the kernel's default size.
test('zero-copy: 20 children at once, each reusing its buffers at every drain, all hashes match', async (t) => {
  const size = 256 << 10
  const total = 8 << 20
  const feeds = Array.from({ length: 20 }, async (_, k) => {
    const { child, stdin } = spawn('sha256sum', [], { stdio: ['writer', 'pipe', 'inherit'], zeroCopy: true, bufferSize: size })
    const out = collect(child.stdout)
    const w = stdin!
    const capacity = w.stats().pipeCapacity
    const bufs = [Buffer.alloc(size), Buffer.alloc(size)]
    const hash = createHash('sha256')
    let n = 0
    await new Promise<void>((resolve) => {
      w.onDrain = pump
      function pump() {
        while (n * size < total) {
          const b = bufs[n % 2]
          b.fill((n + k) & 255)
          b.writeUInt32LE(n, 0)
          b.writeUInt32LE(k, size - 4)
          n++
          hash.update(b)
          if (!w.write(b)) return
        }
        resolve()
      }
      pump()
    })
    w.loseConnection()
    const reason = await closed(w)
    const ok = (await out).toString().split(' ')[0] === hash.digest('hex')
    return { result: { code: reason.code, written: reason.bytesWritten, ok }, capacity }
  })
  const done = await Promise.all(feeds)
  t.deepEqual(done.map((f) => f.result), done.map(() => ({ code: 'DONE', written: total, ok: true })))
  t.true(done.some((f) => f.capacity < 1 << 20), 'some pipes past the budget')
})

test('zero-copy: 4 KiB writes go through the fast path (copied into slabs), so one buffer may be refilled at once', async (t) => {
  const { child, stdin } = spawn('sha256sum', [], { stdio: ['writer', 'pipe', 'inherit'], zeroCopy: true })
  const out = collect(child.stdout)
  const w = stdin!
  const b = Buffer.alloc(4096)
  const hash = createHash('sha256')
  let n = 0
  await new Promise<void>((resolve) => {
    w.onDrain = pump
    function pump() {
      while (n < 8192) {
        b.fill(n & 255)
        b.writeUInt32LE(n++, 0)
        hash.update(b)
        if (!w.write(b)) return
      }
      resolve()
    }
    pump()
  })
  w.loseConnection()
  t.is((await closed(w)).code, 'DONE')
  t.is((await out).toString().split(' ')[0], hash.digest('hex'))
})

test('zero-copy: bufferSize defaults to 16 MiB on a pipe (bytes in the pipe stay buffered); given values and other fds keep theirs', async (t) => {
  const a = createPipe({ zeroCopy: true, pipeSize: 0 })
  const b = createPipe({ zeroCopy: true, pipeSize: 0, bufferSize: 1000 })
  const c = createPipe({ pipeSize: 0 })
  const d = createPipe({ zeroCopy: true, transport: 'socketpair' })
  t.deepEqual(
    [a, b, c, d].map((p) => [p.writer.bufferSize, p.writer.lowWaterMark]),
    [[16 << 20, 0], [1000, 0], [768 << 10, 384 << 10], [768 << 10, 384 << 10]],
  )
  for (const p of [a, b, c, d]) {
    p.writer.abortConnection()
    closeFd(p.readFd)
    await closed(p.writer)
  }
})

test('zero-copy: a reader that stalls, then reads: the drain comes once it has read, every byte arrives', async (t) => {
  const { child, stdin } = spawn('sh', ['-c', `sleep ${0.3 * TIME_SCALE}; exec sha256sum`], { stdio: ['writer', 'pipe', 'inherit'], zeroCopy: true })
  const out = collect(child.stdout)
  const w = stdin!
  const chunks = Array.from({ length: 17 }, (_, i) => Buffer.alloc(1 << 20, i + 1))
  const hash = createHash('sha256')
  for (const b of chunks) {
    hash.update(b)
    w.write(b)
  }
  t.false(w.write(Buffer.alloc(0)), 'over the 16 MiB mark')
  const started = Date.now()
  await new Promise<void>((resolve) => (w.onDrain = resolve))
  t.true(Date.now() - started >= 200, 'no drain while the reader sleeps')
  t.is(w.bufferedAmount, 0)
  w.loseConnection()
  t.is((await closed(w)).code, 'DONE')
  t.is((await out).toString().split(' ')[0], hash.digest('hex'))
})

test('zero-copy: a reader that closes early is reported, nothing crashes', async (t) => {
  const { child, stdin } = spawn('head', ['-c', '10'], { stdio: ['writer', 'ignore', 'inherit'], zeroCopy: true })
  const exited = new Promise((r) => child.on('close', r))
  const w = stdin!
  const big = Buffer.alloc(8 << 20, 1)
  w.write(big)
  const reason = await closed(w)
  t.is(reason.code, 'READER_CLOSED')
  t.false(reason.clean)
  t.is(reason.bytesWritten + reason.bytesUnwritten, big.length)
  await exited
})

test('zero-copy: bytesWritten counts what the reader consumed, all of it at DONE', async (t) => {
  const { child, stdin } = spawn('cat', [], { stdio: ['writer', 'ignore', 'inherit'], zeroCopy: true })
  const exited = new Promise((r) => child.on('close', r))
  stdin!.write(Buffer.alloc(100_000, 2))
  stdin!.loseConnection()
  t.is((await closed(stdin!)).bytesWritten, 100_000)
  await exited
})

test.serial('pipeSize: capacity is reported, and one process keeps at most 16 MiB of enlargement', (t) => {
  const fds: number[] = []
  const caps: number[] = []
  for (let i = 0; i < 20; i++) {
    const p = openPipe(1 << 20)
    fds.push(p.readFd, p.writeFd)
    caps.push(p.capacity)
  }
  const extra = caps.reduce((s, c) => s + (c - 65536), 0)
  t.is(caps[0], 1 << 20)
  t.true(extra <= 16 << 20, `enlargement ${extra}`)
  t.is(caps[caps.length - 1], 65536, 'past the budget a pipe keeps the default size')
  for (const fd of fds) closeFd(fd)
  // Closing gives the budget back.
  const again = openPipe(1 << 20)
  t.is(again.capacity, 1 << 20)
  closeFd(again.readFd)
  closeFd(again.writeFd)
})

test.serial('pipeSize on a writer: stats().pipeCapacity shows what was obtained; closing returns it', async (t) => {
  const { readFd, writer, capacity } = createPipe({ pipeSize: 512 << 10 })
  t.is(capacity, 512 << 10)
  t.is(writer.stats().pipeCapacity, 512 << 10)
  t.is(writer.stats().transport, 'pipe')
  writer.abortConnection()
  await closed(writer)
  closeFd(readFd)
})

test('transport socketpair: Node\'s transport, fed and closed like a pipe; a child that leaves is seen', async (t) => {
  const data = Buffer.alloc(3 << 20, 9)
  const { child, stdin } = spawn('sha256sum', [], { stdio: ['writer', 'pipe', 'inherit'], transport: 'socketpair' })
  const out = collect(child.stdout)
  t.is(stdin!.stats().transport, 'socket')
  t.true(stdin!.enableReadHack)
  stdin!.write(data)
  stdin!.loseConnection()
  t.is((await closed(stdin!)).code, 'DONE')
  t.is((await out).toString().split(' ')[0], createHash('sha256').update(data).digest('hex'))

  const early = spawn('head', ['-c', '10'], { stdio: ['writer', 'ignore', 'inherit'], transport: 'socketpair' })
  early.stdin!.write(Buffer.alloc(8 << 20))
  const reason = await closed(early.stdin!)
  t.is(reason.code, 'READER_CLOSED')
  t.is(reason.bytesWritten + reason.bytesUnwritten, 8 << 20)

  const idle = spawn('sh', ['-c', 'exec 0<&-; sleep 2'], { stdio: ['writer', 'ignore', 'inherit'], transport: 'socketpair' })
  const idleReason = await closed(idle.stdin!)
  t.is(idleReason.code, 'READER_CLOSED')
  t.true(idleReason.clean)
  idle.child.kill()
})
