// Reader-gone detection ("the read hack"): Twisted scenarios 1-4 (construction), 43/44 live in
// core-close, and 46 as the contract fixes it (Q1: detection is armed for the writer's whole life).
//
// Not ported: 4's pty case (no pty available to the tests; the platform policy is unit-tested in
// Rust). The socketpair case uses native.openSocketpair() when it exists. the "watches for reading/writing" parts of 1/10/19
// (reactor registration is internal to the core; its observable effect, detection, is tested here).
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import anyTest from 'ava'

import {
  LONG,
  O_NONBLOCK,
  ProcessWriter,
  bytes,
  closeFd,
  fdFlags,
  fdLeakGuard,
  lostTracker,
  native,
  pipeWriter,
  pushProducer,
  recorder,
  settle,
  sha256,
  spawnChild,
  spawnWithWriter,
  tick,
  waitFor,
  withTimeout,
  HAS_PROC,
} from './helpers.mjs'
import { TIME_SCALE } from './env.mjs'
import { fsFdOwner, posixOnly } from './platform.mjs'

const test = posixOnly(anyTest, 'it tests the POSIX read hack on FIFOs, socketpairs and ttys, with sh and sleep children')

fdLeakGuard(test)

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-readhack-'))
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }))

// ---------------------------------------------------------------------------------------------
// A. Construction

for (const forceReadHack of [true, false]) {
  test(`1/2: a pipe write end (forceReadHack=${forceReadHack}): hack on, O_NONBLOCK, no callbacks`, async (t) => {
    const p = pipeWriter({ forceReadHack })
    t.true(p.w.enableReadHack)
    // fd flags are readable from /proc on Linux only.
    if (HAS_PROC) t.true((parseInt(fdFlags(p.w.fileno), 8) & O_NONBLOCK) !== 0, 'the fd is non-blocking')
    t.is(p.w.stats().transport, 'pipe')
    t.true(p.w.stats().pipeCapacity > 0)
    t.true(p.w.connected)
    t.false(p.w.disconnecting)
    t.is(p.w.bufferedAmount, 0)
    await settle()
    t.is(p.calls.length, 0)
    p.w.loseConnection()
    t.is((await withTimeout(p.lost)).code, 'DONE')
    closeFd(p.readFd)
  })
}

fsFdOwner(test)('3: a regular file with forceReadHack: hack off, no early loss, 01234 written over 5 turns, DONE', async (t) => {
  const file = path.join(tmp, 'out.txt')
  const fd = fs.openSync(file, 'w')
  const tr = lostTracker()
  const w = new ProcessWriter(fd, { forceReadHack: true, onConnectionLost: tr.onConnectionLost })
  t.false(w.enableReadHack, 'a regular file has no reader to lose: readiness never means "gone"')
  t.is(w.stats().transport, 'file')
  for (let i = 0; i < 5; i++) {
    w.write(Buffer.from(String(i)))
    await tick()
    await settle(10)
  }
  t.is(tr.calls.length, 0, 'no loss before loseConnection')
  w.loseConnection()
  const reason = await withTimeout(tr.lost)
  t.is(reason.code, 'DONE')
  t.is(reason.bytesWritten, 5)
  t.is(fs.readFileSync(file, 'utf8'), '01234')
})

fsFdOwner(test)('4: /dev/null (character device): hack off, writes succeed, no early loss', async (t) => {
  const fd = fs.openSync('/dev/null', 'w')
  const tr = lostTracker()
  const w = new ProcessWriter(fd, { onConnectionLost: tr.onConnectionLost })
  t.false(w.enableReadHack)
  t.not(w.stats().transport, 'pipe')
  w.write(bytes(300000))
  await waitFor(() => w.stats().bytesWritten === 300000, 'writes to /dev/null')
  await settle()
  t.is(tr.calls.length, 0)
  w.loseConnection()
  t.is((await withTimeout(tr.lost)).code, 'DONE')
})

fsFdOwner(test)('a named FIFO opened write-only: hack on, and the reader closing is detected', async (t) => {
  const fifo = path.join(tmp, 'fifo')
  execFileSync('mkfifo', [fifo])
  const rd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK)
  const wr = fs.openSync(fifo, fs.constants.O_WRONLY)
  const tr = lostTracker()
  const w = new ProcessWriter(wr, { onConnectionLost: tr.onConnectionLost })
  t.true(w.enableReadHack)
  t.is(w.stats().transport, 'pipe')
  w.write(Buffer.from('hi'))
  await waitFor(() => w.stats().bytesWritten === 2, 'write into the fifo')
  t.is(fs.readSync(rd, Buffer.alloc(10)), 2)
  fs.closeSync(rd)
  const reason = await withTimeout(tr.lost, LONG, 'reader-gone report on a fifo')
  t.is(reason.code, 'READER_CLOSED')
  t.true(reason.clean)
})

test('4 (contract: sockets report HUP): a socketpair end feeds a child exactly, and the child leaving is detected', async (t) => {
  const openSocketpair = (native as any).openSocketpair as undefined | (() => { readFd: number; writeFd: number })
  if (typeof openSocketpair !== 'function') {
    t.log('native.openSocketpair() does not exist: socketpair case skipped')
    t.pass()
    return
  }
  // 1. data through a socketpair, closed with loseConnection
  {
    const { readFd, writeFd } = openSocketpair()
    const c = spawnChild('sha256sum', [], [readFd, 'pipe', 'pipe'], [readFd])
    const tr = lostTracker()
    const w = new ProcessWriter(writeFd, { childFd: 0, onConnectionLost: tr.onConnectionLost })
    t.is(w.stats().transport, 'socket')
    t.log(`enableReadHack on a socketpair end: ${w.enableReadHack}`)
    const data = bytes(3 * 1024 * 1024, 77)
    w.write(data)
    w.loseConnection()
    t.is((await c.stdout).toString().split(' ')[0], sha256(data))
    t.is((await withTimeout(tr.lost)).code, 'DONE')
  }
  // 2. an idle writer notices the child exiting
  {
    const { readFd, writeFd } = openSocketpair()
    const c = spawnChild('sleep', ['0.2'], [readFd, 'ignore', 'ignore'], [readFd])
    const tr = lostTracker()
    // Kept referenced: a writer collected while open flushes and closes (DONE).
    const w = new ProcessWriter(writeFd, { childFd: 0, onConnectionLost: tr.onConnectionLost })
    const reason = await withTimeout(tr.lost, LONG, 'reader-gone report on a socketpair')
    t.is(reason.code, 'READER_CLOSED')
    t.true(reason.clean)
    t.is(w.fileno, -1)
    await c.exit
  }
})

// ---------------------------------------------------------------------------------------------
// 46 (Twisted bug, fixed by the contract): nothing the writer is asked to do disarms detection.

test('46a: write(empty) on an idle writer; the child exits: READER_CLOSED, clean', async (t) => {
  const c = spawnWithWriter('sleep', ['0.3'])
  c.w.write(Buffer.alloc(0))
  c.w.writeSequence([])
  const reason = await withTimeout(c.lost, LONG, 'reader-gone report')
  t.is(reason.code, 'READER_CLOSED')
  t.true(reason.clean)
  t.is(reason.bytesWritten, 0)
})

test('46b: a rejected write("str") on an idle writer; the child exits: READER_CLOSED, clean', async (t) => {
  const c = spawnWithWriter('sleep', ['0.3'])
  // (42, not a string, under PW_WRITER_CLASS=lib: the exported class takes strings as data.)
  const bad = process.env.PW_WRITER_CLASS === 'lib' ? 42 : 'str'
  t.throws(() => c.w.write(bad as any), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => c.w.writeSequence([Buffer.from('a'), bad] as any), { instanceOf: TypeError })
  const reason = await withTimeout(c.lost, LONG, 'reader-gone report')
  t.is(reason.code, 'READER_CLOSED')
  t.true(reason.clean)
})

test('46c: after a pause/resume cycle the idle writer still sees the child exit', async (t) => {
  // The child drains 200000 bytes, then keeps stdin open (sh holds it) for a moment and exits. The
  // moment must outlast JS seeing the drain (longer under emulation: TIME_SCALE), or the loss comes
  // first and the producer is stopped without a resume.
  const c = spawnWithWriter('sh', ['-c', `head -c 200000 >/dev/null; sleep ${0.3 * TIME_SCALE}`])
  const rec = recorder()
  c.w.registerProducer(pushProducer(rec), true)
  c.w.write(bytes(200000))
  t.deepEqual(rec.events, ['pause'])
  await waitFor(() => rec.count('resume') === 1, 'resume after the drain')
  t.true(c.w.connected)
  const reason = await withTimeout(c.lost, LONG, 'reader-gone report')
  t.is(reason.code, 'READER_CLOSED')
  t.true(reason.clean, 'nothing was pending')
  t.is(reason.bytesWritten, 200000)
  t.deepEqual(rec.events, ['pause', 'resume', 'stop'])
})

test('46d: after writeSequence and full drains, detection is still armed (reader closed in-process)', async (t) => {
  const p = pipeWriter()
  const { readFd } = p
  p.w.writeSequence([Buffer.from('a'), Buffer.from('b')])
  p.w.write(Buffer.from('c'))
  await waitFor(() => p.w.stats().bytesWritten === 3, 'drain')
  closeFd(readFd)
  const reason = await withTimeout(p.lost, LONG, 'reader-gone report')
  t.is(reason.code, 'READER_CLOSED')
  t.true(reason.clean)
  t.is(reason.bytesWritten, 3)
})

test('many idle writers, readers closed in a burst: every one is reported once', async (t) => {
  const ws = Array.from({ length: 32 }, () => pipeWriter())
  for (const p of ws) closeFd(p.readFd)
  const reasons = await withTimeout(Promise.all(ws.map((p) => p.lost)), LONG, '32 reader-gone reports')
  t.true(reasons.every((r) => r.code === 'READER_CLOSED' && r.clean))
  await settle()
  t.true(ws.every((p) => p.calls.length === 1))
})

