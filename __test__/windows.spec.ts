// The contract with node children only, so that it runs on every platform: on Linux against
// pipes, on Windows (npm run test:windows, under wine) against named pipes, where the other
// suites are skipped (their children are POSIX commands).
import test from 'ava'
import { ProcessWriter, closeFd, closed, createPipe, openPipe, openSocketpair, spawn } from '../lib/index.js'
import type { ConnectionLostReason } from '../lib/index.js'
import { FD_TABLE_SHARED, collect, exitOf, nodeCommand, sha256, testData } from './node-helpers.mjs'
import fs from 'node:fs'
import { fsFdOwner } from './platform.mjs'
import { execFile } from 'node:child_process'
import os from 'node:os'
import path from 'node:path'

const WIN = process.platform === 'win32'
const MiB = 1 << 20

// Children: node itself, so they exist on every platform.
const COUNT = `const h = require('crypto').createHash('sha256'); let n = 0
process.stdin.on('data', (d) => { n += d.length; h.update(d) })
process.stdin.on('end', () => process.stdout.write(n + ' ' + h.digest('hex')))`
const READ_ONE_CHUNK_THEN_EXIT = `process.stdin.once('data', () => process.exit(0))`
const NEVER_READ = `setInterval(() => {}, 1000)`

function node(t: { teardown(fn: () => void): void }, src: string, options: Parameters<typeof spawn>[2] = {}) {
  const [cmd, args] = nodeCommand(['-e', src])
  const r = spawn(cmd, args, options)
  t.teardown(() => {
    if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill()
  })
  return r
}

/** Write `chunk` until `write` returns false (the writer is over its bufferSize). */
function writeUntilFull(w: ProcessWriter, chunk: Buffer, max = 4096): number {
  let n = 0
  while (n < max) {
    n++
    if (!w.write(chunk)) break
  }
  return n
}

/** Accounting that holds for every ending: each accepted byte is written or unwritten. */
function accounted(t: any, w: ProcessWriter, reason: ConnectionLostReason) {
  const s = w.stats()
  t.is(s.bytesWritten + s.bytesUnwritten, s.bytesAccepted, JSON.stringify(s))
  t.is(reason.bytesWritten, s.bytesWritten)
  t.is(reason.bytesUnwritten, s.bytesUnwritten)
  t.is(s.bytesBuffered, 0)
}

test('a node child counts every byte; its sha256 matches', async (t) => {
  const data = testData(6 * MiB + 4321)
  const { child, stdin } = node(t, COUNT)
  const out = collect(child.stdout!)
  let off = 0
  // Mixed sizes: small copies, large chunks by reference.
  const sizes = [100, 4096, 65536, MiB, 7]
  for (let i = 0; off < data.length; i++) {
    const n = Math.min(sizes[i % sizes.length], data.length - off)
    stdin!.write(data.subarray(off, off + n))
    off += n
  }
  stdin!.loseConnection()
  const reason = await closed(stdin!)
  t.is(reason.code, 'DONE')
  t.true(reason.clean)
  t.is(reason.bytesWritten, data.length)
  accounted(t, stdin!, reason)
  t.deepEqual(await exitOf(child), { code: 0, signal: null })
  t.is((await out).toString(), `${data.length} ${sha256(data)}`)
  const s = stdin!.stats()
  t.true(s.syscalls >= 1, JSON.stringify(s))
  // spawn()'s default: Node's socketpair on Linux, a pipe (on Windows a named pipe) elsewhere.
  t.is(s.transport, process.platform === 'linux' ? 'socket' : 'pipe')
})

test('a child that exits early: READER_CLOSED with errno EPIPE, every byte accounted for', async (t) => {
  const { child, stdin } = node(t, READ_ONE_CHUNK_THEN_EXIT, { stdio: ['writer', 'ignore', 'inherit'] })
  const chunk = Buffer.alloc(256 * 1024, 7)
  // Keep it fed until the loss: the child reads once and exits.
  const feeding = setInterval(() => {
    if (stdin!.connected && stdin!.bufferedAmount < 4 * MiB) stdin!.write(chunk)
  }, 5)
  stdin!.write(chunk)
  const reason = await closed(stdin!)
  clearInterval(feeding)
  t.is(reason.code, 'READER_CLOSED')
  // Windows always names it; on Linux a loss seen through EPOLLERR with nothing pending has none.
  if (WIN) t.is(reason.errno, 'EPIPE')
  else t.true(reason.errno === undefined || reason.errno === 'EPIPE')
  t.is(reason.childFd, 0)
  t.true(reason.bytesWritten > 0)
  accounted(t, stdin!, reason)
  t.deepEqual(await exitOf(child), { code: 0, signal: null })
})

test('a child killed while the writer is paused: READER_CLOSED with errno EPIPE', async (t) => {
  const { child, stdin } = node(t, NEVER_READ, { stdio: ['writer', 'ignore', 'inherit'], bufferSize: 64 * 1024, pipeSize: 64 * 1024 })
  const chunk = Buffer.alloc(64 * 1024, 1)
  // Fill the pipe until the writer stays paused: over bufferSize, nothing read.
  for (let i = 0; i < 100; i++) {
    writeUntilFull(stdin!, chunk)
    await new Promise((r) => setTimeout(r, 50))
    if (stdin!.bufferedAmount > stdin!.bufferSize) break
  }
  t.true(stdin!.bufferedAmount > stdin!.bufferSize)
  const exit = exitOf(child)
  child.kill()
  const reason = await closed(stdin!)
  t.is(reason.code, 'READER_CLOSED')
  // Windows always names it; on Linux a loss seen through EPOLLERR may carry no errno.
  if (WIN) t.is(reason.errno, 'EPIPE')
  else t.true(reason.errno === undefined || reason.errno === 'EPIPE')
  t.false(reason.clean)
  t.true(reason.bytesUnwritten > 0)
  accounted(t, stdin!, reason)
  await exit
})

test('a child that never reads: abortConnection ends it at once, ABORTED, nothing left behind', async (t) => {
  const { child, stdin } = node(t, NEVER_READ, { stdio: ['writer', 'ignore', 'inherit'] })
  const chunk = Buffer.alloc(MiB, 2)
  for (let i = 0; i < 8; i++) stdin!.write(chunk)
  await new Promise((r) => setTimeout(r, 300))
  t.true(stdin!.bufferedAmount > 0, 'the child reads nothing')
  const t0 = Date.now()
  stdin!.abortConnection()
  const reason = await closed(stdin!)
  t.true(Date.now() - t0 < 10_000)
  t.is(reason.code, 'ABORTED')
  t.false(reason.clean)
  t.true(reason.bytesUnwritten > 0)
  accounted(t, stdin!, reason)
  t.false(stdin!.write(chunk))
  t.is(stdin!.stats().bytesDropped, MiB)
  const exit = exitOf(child)
  child.kill()
  await exit
})

test('createPipe: pipeSize is the capacity asked for; the read end is not a writer', (t) => {
  const { readFd, writer, capacity } = createPipe({ pipeSize: 256 * 1024 })
  t.true(capacity >= 64 * 1024)
  t.is(writer.stats().pipeCapacity, capacity)
  t.throws(() => new ProcessWriter(readFd), { code: 'ERR_FD_NOT_WRITABLE' })
  writer.abortConnection()
  closeFd(readFd)
  // Closing it again fails, unless another test file in this process has the number by now (then
  // this would close that file's fd).
  if (FD_TABLE_SHARED) t.log(`second close check skipped (${FD_TABLE_SHARED})`)
  else t.throws(() => closeFd(readFd), { code: 'EBADF' })
  const fds = openPipe()
  t.true(fds.readFd >= 0 && fds.writeFd >= 0 && fds.readFd !== fds.writeFd)
  closeFd(fds.readFd)
  closeFd(fds.writeFd)
})

test('the socketpair transport: a clear coded error on Windows', (t) => {
  if (!WIN) {
    const { readFd, writeFd } = openSocketpair()
    closeFd(readFd)
    closeFd(writeFd)
    t.pass()
    return
  }
  t.throws(() => openSocketpair(), { code: 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM' })
  t.throws(() => spawn(process.execPath, ['-e', ''], { transport: 'socketpair' }), { code: 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM' })
})

fsFdOwner(test)('a writer on a file fd: every byte lands in the file, DONE, the fd closed', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-file-'))
  const file = path.join(dir, 'out.bin')
  const data = testData(3 * MiB + 11)
  const fd = fs.openSync(file, 'w')
  const w = new ProcessWriter(fd)
  t.is(w.stats().transport, 'file')
  t.false(w.enableReadHack)
  w.write(data.subarray(0, 1000))
  w.write(data.subarray(1000))
  w.loseConnection()
  const reason = await closed(w)
  t.is(reason.code, 'DONE')
  t.is(reason.bytesWritten, data.length)
  t.is(sha256(fs.readFileSync(file)), sha256(data))
  // The writer closed the caller's fd: closing it again fails (unless another test file in this
  // process has the number by now).
  if (FD_TABLE_SHARED) t.log(`fd closed check skipped (${FD_TABLE_SHARED})`)
  else t.throws(() => fs.closeSync(fd), { code: 'EBADF' })
  fs.rmSync(dir, { recursive: true, force: true })
})

test('the CLI feeds a file into a node child (through writeFile: the read-and-write fallback on Windows, splice on Linux)', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-cli-'))
  const file = path.join(dir, 'in.bin')
  const data = testData(2 * MiB + 5)
  fs.writeFileSync(file, data)
  const cli = path.join(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '..', 'bin', 'process-writer.js')
  const out = await new Promise<string>((resolve, reject) => {
    const [cmd, args] = nodeCommand([cli, 'feed', '-q', '--input', file, '--', ...nodeCommand(['-e', COUNT]).flat()])
    execFile(cmd, args, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    )
  })
  t.is(out, `${data.length} ${sha256(data)}`)
  fs.rmSync(dir, { recursive: true, force: true })
})
