import anyTest from 'ava'
import * as child_process from 'node:child_process'
import { Writable } from 'node:stream'
import { ProcessWriter, closeFd, closed, createPipe, feed, spawn as spawnWriters } from '../lib/index.js'
import { standIn } from './helpers.mjs'
import { FD_TABLE_SHARED, collect, exitOf, openFds, settleFds, sha256, testData } from './node-helpers.mjs'
import { posixOnly } from './platform.mjs'

const test = posixOnly(anyTest, 'the child is an sh script (fd 3 redirections, exit, an fd listing)', [
  'spawn: an extra writer on child fd 3',
  'spawn: two writers (fd 0 and fd 3)',
  'spawn: the read end is closed in the parent',
  'spawn: no fd leaks across many children',
  'spawn: the child gets only its stdio',
])

/** `spawn`, with helpers.mjs's node stand-ins for the POSIX commands on Windows. */
const spawn = (cmd: string, args: readonly string[] = [], options?: Parameters<typeof spawnWriters>[2]) =>
  spawnWriters(...standIn(cmd, args), options)

// The native core opens its own long-lived fds (I/O thread, epoll, eventfd) with the first
// writer; create one before any fd count so those are part of the baseline.
test.before(async () => {
  const { readFd, writer } = createPipe()
  writer.abortConnection()
  closeFd(readFd)
  // The writer's fd is closed by the core's thread; wait until the fd table is stable.
  let last = ''
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 20))
    const now = JSON.stringify(openFds())
    if (now === last) break
    last = now
  }
})

test('spawn: fd 0 is a writer by default; bytes and sha256 match (sha256sum, wc -c)', async (t) => {
  const data = testData(3 * 1024 * 1024 + 17)
  for (const [cmd, expect] of [
    ['sha256sum', sha256(data)],
    ['wc', String(data.length)],
  ] as const) {
    const { child, stdin, writers } = spawn(cmd, cmd === 'wc' ? ['-c'] : [])
    t.true(stdin instanceof ProcessWriter)
    t.is(writers[0], stdin!)
    t.is(stdin!.childFd, 0)
    t.true(child.stdin instanceof Writable, 'child.stdin is a Writable over the writer (node-idioms.spec.ts)')
    const out = collect(child.stdout)
    const reason = await feed(stdin!, data)
    t.is(reason.code, 'DONE')
    t.true(reason.clean)
    t.is(reason.bytesWritten, data.length)
    t.is(reason.bytesUnwritten, 0)
    t.deepEqual(await exitOf(child), { code: 0, signal: null })
    t.is((await out).toString().trim().split(/\s+/)[0], expect)
  }
})

test('spawn: an extra writer on child fd 3 (sh -c "cat <&3")', async (t) => {
  const data = testData(500_000, 3)
  const { child, stdin, writers } = spawn('sh', ['-c', 'cat <&3'], { stdio: ['ignore', 'pipe', 'inherit', 'writer'] })
  t.is(stdin, null)
  t.deepEqual(Object.keys(writers), ['3'])
  t.is(writers[3].childFd, 3)
  const out = collect(child.stdout)
  const reason = await feed(writers[3], data)
  t.is(reason.code, 'DONE')
  t.is(reason.childFd, 3)
  t.deepEqual(await exitOf(child), { code: 0, signal: null })
  const got = await out
  t.is(got.length, data.length)
  t.is(sha256(got), sha256(data))
})

test('spawn: two writers (fd 0 and fd 3) feed the same child independently', async (t) => {
  const a = testData(200_000, 11)
  const b = testData(300_000, 12)
  const { child, writers } = spawn('sh', ['-c', 'sha256sum; sha256sum <&3'], {
    stdio: ['writer', 'pipe', 'inherit', 'writer'],
  })
  const out = collect(child.stdout)
  const [ra, rb] = await Promise.all([feed(writers[0], a), feed(writers[3], b)])
  t.is(ra.code, 'DONE')
  t.is(rb.code, 'DONE')
  await exitOf(child)
  const sums = (await out).toString().trim().split('\n').map((l) => l.split(/\s+/)[0])
  t.deepEqual(sums, [sha256(a), sha256(b)])
})

test('spawn: the read end is closed in the parent, so a child that exits is seen (READER_CLOSED)', async (t) => {
  const { child, stdin } = spawn('sh', ['-c', 'exit 0'], { stdio: ['writer', 'ignore', 'ignore'] })
  await exitOf(child)
  const reason = await closed(stdin!)
  t.is(reason.code, 'READER_CLOSED')
  t.false(stdin!.write(Buffer.from('late')))
})

test('spawn: a child that stops reading early gives READER_CLOSED with the unwritten count', async (t) => {
  const data = testData(4 * 1024 * 1024, 5)
  const { child, stdin } = spawn('head', ['-c', '1000'])
  const out = collect(child.stdout)
  const reason = await feed(stdin!, data)
  t.is(reason.code, 'READER_CLOSED')
  t.true(reason.bytesWritten >= 1000)
  t.is((await out).length, 1000)
  t.true(reason.bytesWritten < data.length)
  await exitOf(child)
})

test.serial('spawn: ENOENT surfaces as the child\'s "error" event and the writers are closed', async (t) => {
  const before = openFds()
  const { child, stdin, writers } = spawn('process-writer-no-such-command-xyz', ['a'], {
    stdio: ['writer', 'ignore', 'ignore', 'writer'],
  })
  const err = await new Promise<NodeJS.ErrnoException>((resolve) => child.once('error', resolve))
  t.is(err.code, 'ENOENT')
  await new Promise((r) => setImmediate(r))
  for (const w of [stdin!, writers[3]]) {
    t.false(w.connected)
    t.false(w.write(Buffer.from('x')))
  }
  if (FD_TABLE_SHARED) t.pass(`fd check skipped (${FD_TABLE_SHARED})`)
  else t.deepEqual(await settleFds(before), before)
})

test.serial('spawn: a synchronous spawn error closes every pipe and rethrows', async (t) => {
  const before = openFds()
  t.throws(() => spawn('sh', ['-c', 'true'], { stdio: ['writer', 'ignore', 'ignore', 'writer'], cwd: 42 as never }), {
    code: 'ERR_INVALID_ARG_TYPE',
  })
  // The aborted writers' fds are closed by the core's thread, a moment later.
  if (FD_TABLE_SHARED) t.pass(`fd check skipped (${FD_TABLE_SHARED})`)
  else t.deepEqual(await settleFds(before), before)
})

test.serial('spawn: no fd leaks across many children', async (t) => {
  const before = openFds()
  for (let i = 0; i < 20; i++) {
    const { child, writers } = spawn('sh', ['-c', 'cat >/dev/null; cat <&3 >/dev/null'], {
      stdio: ['writer', 'ignore', 'ignore', 'writer'],
    })
    await Promise.all([feed(writers[0], testData(10_000, i)), feed(writers[3], 'three')])
    await exitOf(child)
  }
  if (FD_TABLE_SHARED) t.pass(`fd check skipped (${FD_TABLE_SHARED})`)
  else t.deepEqual(await settleFds(before), before)
})

test('spawn: the child gets only its stdio, no writer fd leaks into it (CLOEXEC)', async (t) => {
  // The shell lists its own fds (/dev/fd on macOS, where there is no /proc).
  const list = `for f in ${process.platform === 'linux' ? '/proc/self/fd' : '/dev/fd'}/*; do echo \${f##*/}; done`
  // Baseline: what a plain Node child inherits in this environment.
  const plain = child_process.spawn('sh', ['-c', list], { stdio: ['ignore', 'pipe', 'inherit'] })
  const base = (await collect(plain.stdout)).toString()
  await exitOf(plain)
  const extra = spawn('sh', ['-c', 'exec sleep 5'], { stdio: ['writer', 'ignore', 'ignore', 'writer'] })
  const { child, stdin } = spawn('sh', ['-c', list], { stdio: ['writer', 'pipe', 'inherit'] })
  const got = (await collect(child.stdout)).toString()
  await exitOf(child)
  t.is(got, base)
  extra.child.kill('SIGKILL')
  await exitOf(extra.child)
  t.is(stdin!.childFd, 0)
})

test('spawn: an AbortSignal aborts the writers (and Node kills the child)', async (t) => {
  const ac = new AbortController()
  const { child, stdin } = spawn('sleep', ['10'], { signal: ac.signal, stdio: ['writer', 'ignore', 'ignore'] })
  const errored = new Promise<Error>((resolve) => child.once('error', resolve))
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_c, s) => resolve(s)))
  const lost = closed(stdin!)
  stdin!.write(Buffer.from('pending'))
  ac.abort()
  t.false(stdin!.connected)
  t.is((await errored).name, 'AbortError')
  t.is(await exited, 'SIGTERM')
  t.is((await lost).code, 'ABORTED')
})

test('spawn: stdio strings keep their Node meaning ("pipe" gives no writer)', async (t) => {
  const { child, stdin, writers } = spawn('cat', [], { stdio: 'pipe' })
  t.is(stdin, null)
  t.deepEqual(writers, {})
  t.truthy(child.stdin)
  const out = collect(child.stdout)
  child.stdin!.end('plain')
  await exitOf(child)
  t.is((await out).toString(), 'plain')
})

test('spawn: writer options pass through (bufferSize, lowWaterMark)', async (t) => {
  const { child, stdin } = spawn('cat', [], { stdio: ['writer', 'ignore', 'inherit'], bufferSize: 1234, lowWaterMark: 100 })
  t.is(stdin!.bufferSize, 1234)
  t.is(stdin!.lowWaterMark, 100)
  stdin!.loseConnection()
  await exitOf(child)
})

test('spawn and createPipe: Node\'s socketpair by default on Linux; a pipe when asked, or for pipeSize and zeroCopy; a bad transport is refused', async (t) => {
  const isWin = process.platform === 'win32'
  const isLinux = process.platform === 'linux'
  const kinds = (o: Parameters<typeof createPipe>[0]) => {
    const { readFd, writer } = createPipe(o)
    const kind = writer.stats().transport
    writer.abortConnection()
    closeFd(readFd)
    return kind
  }
  t.deepEqual([kinds({}), kinds({ transport: 'pipe' }), kinds({ pipeSize: 0 }), kinds({ zeroCopy: true })], [isLinux ? 'socket' : 'pipe', 'pipe', 'pipe', 'pipe'])
  if (isWin) {
    t.throws(() => createPipe({ transport: 'socketpair' }), { code: 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM' })
  } else {
    t.is(kinds({ transport: 'socketpair', bufferSize: 10 }), 'socket')
  }
  for (const transport of ['fifo', 1, null]) {
    t.throws(() => createPipe({ transport: transport as never }), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE' })
    t.throws(() => spawn('cat', [], { transport: transport as never }), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE' })
  }
  // Every transport carries the same bytes to a real child.
  const data = testData(3_000_000, 11)
  for (const transport of [undefined, 'pipe', 'socketpair'] as const) {
    if (isWin && transport === 'socketpair') continue
    const { child, stdin } = spawn('sha256sum', [], { stdio: ['writer', 'pipe', 'inherit'], transport })
    const out = collect(child.stdout!)
    t.is((await feed(stdin!, data)).code, 'DONE')
    await exitOf(child)
    t.is((await out).toString().split(/\s+/)[0], sha256(data), String(transport))
  }
})

test.serial('createPipe: for users who spawn themselves', async (t) => {
  const before = openFds()
  const data = testData(1_000_000, 7)
  const { readFd, writer } = createPipe({ childFd: 0, bufferSize: 8192 })
  t.is(writer.bufferSize, 8192)
  const child = child_process.spawn(...standIn('sha256sum'), { stdio: [readFd, 'pipe', 'inherit'] })
  closeFd(readFd)
  const out = collect(child.stdout)
  const reason = await feed(writer, data)
  t.is(reason.code, 'DONE')
  await exitOf(child)
  t.is((await out).toString().split(/\s+/)[0], sha256(data))
  if (FD_TABLE_SHARED) t.pass(`fd check skipped (${FD_TABLE_SHARED})`)
  else t.deepEqual(await settleFds(before), before)
})
