// Fault matrix: bad fds, options and setters through the exported class (the JS fast path in
// front of the native one). Each refusal is a typed error with a Node-style code, leaves the fd
// as it was, and leaves nothing behind (no fd, no native core).
import test from 'ava'
import { closeSync, openSync, readdirSync } from 'node:fs'
import { ProcessWriter, closeFd, createPipe, openPipe } from '../lib/index.js'
import native from '../index.js'
import { fdCount, sleep } from './helpers.mjs'

const liveCores = () => (native as unknown as { _liveCores(): number })._liveCores()

test.serial('bad fds: typed errors, nothing left open, no core kept', async (t) => {
  // Warm-up: the first writer starts the I/O thread (its poller and waker are fds of their own).
  const warm = createPipe()
  warm.writer.abortConnection()
  closeFd(warm.readFd)
  await sleep(20)
  const fds0 = fdCount()
  const cores0 = liveCores()
  const { readFd, writeFd } = openPipe()
  const dir = openSync('/', 'r')
  const cases: Array<[unknown, object]> = [
    [-1, { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' }],
    [1.5, { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' }],
    [NaN, { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' }],
    [2 ** 31, { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' }],
    ['3', { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' }],
    [null, { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' }],
    [{ fd: writeFd }, { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' }],
    [Math.max(...readdirSync('/proc/self/fd').map(Number)) + 100, { code: 'EBADF' }],
    [readFd, { code: 'ERR_FD_NOT_WRITABLE' }],
    [dir, { code: 'ERR_FD_NOT_WRITABLE' }],
  ]
  for (const [fd, expected] of cases) t.throws(() => new ProcessWriter(fd as number), expected, `fd ${String(fd)}`)
  // The refused fds are still the caller's: usable, then closed by the caller.
  const w = new ProcessWriter(writeFd)
  t.true(w.write(Buffer.from('ok')))
  w.abortConnection()
  closeFd(readFd)
  closeSync(dir)
  await sleep(50)
  t.is(fdCount(), fds0)
  for (let i = 0; i < 5; i++) {
    ;(globalThis as unknown as { gc: () => void }).gc()
    await sleep(10)
  }
  // Only `w` (still referenced here) may have added a core: the refusals made none.
  t.true(liveCores() <= cores0 + 1, `cores ${cores0} -> ${liveCores()}`)
})

test('bad options and setter values on the exported class: typed errors, the marks unchanged, the fd untouched', (t) => {
  const { readFd, writeFd } = openPipe()
  for (const [options, code] of [
    [{ bufferSize: -1 }, 'ERR_OUT_OF_RANGE'],
    [{ bufferSize: 'big' }, 'ERR_INVALID_ARG_TYPE'],
    [{ lowWaterMark: 10, bufferSize: 5 }, 'ERR_OUT_OF_RANGE'],
    [{ onDrain: 42 }, 'ERR_INVALID_ARG_TYPE'],
    [{ onConnectionLost: 'x' }, 'ERR_INVALID_ARG_TYPE'],
    ['options', 'ERR_INVALID_ARG_TYPE'],
  ] as const) {
    t.throws(() => new ProcessWriter(writeFd, options as never), { code }, JSON.stringify(options))
  }
  const w = new ProcessWriter(writeFd)
  const marks = [w.bufferSize, w.lowWaterMark]
  w.write(Buffer.alloc(10)) // a slab open: a refused setter must not lose or move it
  for (const v of [-1, 1.5, NaN, Infinity]) t.throws(() => (w.bufferSize = v), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' })
  for (const v of ['x', null, {}]) t.throws(() => (w.bufferSize = v as never), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => (w.lowWaterMark = w.bufferSize + 1), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' })
  t.deepEqual([w.bufferSize, w.lowWaterMark], marks)
  t.is(w.stats().bytesAccepted, 10)
  w.abortConnection()
  closeFd(readFd)
})

test.serial('createPipe with bad options: typed error, no fd left open', (t) => {
  const fds0 = fdCount()
  for (const options of [{ bufferSize: -5 }, { pipeSize: -1 }, { onDrain: 1 }]) {
    const err = t.throws(() => createPipe(options as never)) as NodeJS.ErrnoException
    t.true(['ERR_OUT_OF_RANGE', 'ERR_INVALID_ARG_TYPE'].includes(err.code!), `${JSON.stringify(options)}: ${err.code}`)
  }
  t.is(fdCount(), fds0)
})
