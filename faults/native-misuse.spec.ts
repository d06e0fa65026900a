// Fault matrix, native side: fd exhaustion at the first writer, options whose getters throw, bad
// pipeSize values at every entry point, wrong types given to setters and methods, and the
// writer's fd closed behind its back and reused. Each case checks that nothing crashes and that
// an fd the library does not own is never changed, written or closed.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import test from 'ava'
import { closeFd, closed, createPipe, openPipe, ProcessWriter, spawn } from '../lib/index.js'
import { collect, exitOf, runNode, sleep, waitFor } from './helpers.mjs'

function isOpen(fd: number): boolean {
  try {
    fs.fstatSync(fd)
    return true
  } catch {
    return false
  }
}

/** The fd's status flags (octal, as /proc/self/fdinfo shows them). */
function flags(fd: number): string {
  return /flags:\s*([0-7]+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]
}

function fdCount(): number {
  return fs.readdirSync('/proc/self/fd').length
}

async function collectGarbage() {
  for (let i = 0; i < 3; i++) {
    ;(globalThis as { gc?: () => void }).gc?.()
    await sleep(20)
  }
}

// ---------------------------------------------------------------------------------------------
// 1. fd exhaustion at the first writer (issue 16, item 1): the I/O thread's start used to
// `.expect()` its poller and waker, and a panic cannot unwind through Node-API: SIGABRT.
test('fd exhaustion: the first writer, with 0 to 4 fds free, throws EMFILE or works; the process lives and the fd stays as given', async (t) => {
  const script = (free: number) => `
    const fs = require('fs')
    const free = ${free}
    const { readFd, writeFd } = NATIVE.openPipe()
    const flagsOf = (fd) => /flags:\\s*([0-7]+)/.exec(fs.readFileSync('/proc/self/fdinfo/' + fd, 'utf8'))[1]
    const before = flagsOf(writeFd)
    const fillers = []
    for (;;) {
      try { fillers.push(fs.openSync('/dev/null', 'r')) } catch { break }
    }
    for (let i = 0; i < free; i++) fs.closeSync(fillers.pop())
    let first
    try {
      const w = new NATIVE.ProcessWriter(writeFd)
      first = 'ok'
      w.abortConnection()
    } catch (e) {
      first = e.code + ' ' + e.constructor.name
    }
    for (const fd of fillers) fs.closeSync(fd)
    const out = { first, open: first === 'ok' || (() => { try { fs.fstatSync(writeFd); return true } catch { return false } })() }
    if (first !== 'ok') {
      out.flagsKept = flagsOf(writeFd) === before
      // With fds back, a writer works on the same fd and the data gets through.
      const w = new NATIVE.ProcessWriter(writeFd)
      w.write(Buffer.from('hello'))
      w.loseConnection()
      w.onConnectionLost = (r) => {
        const got = Buffer.alloc(16)
        const n = fs.readSync(readFd, got)
        out.later = r.code + ' ' + got.subarray(0, n).toString()
        console.log(JSON.stringify(out))
      }
    } else {
      console.log(JSON.stringify(out))
    }
  `
  for (const free of [0, 1, 2, 3, 4]) {
    const r = await runNode(script(free), { shell: 'ulimit -n 64', ms: 30_000 })
    t.is(r.signal, null, `free=${free}: no signal (stderr: ${r.stderr.slice(0, 300)})`)
    t.is(r.code, 0, `free=${free}: exit 0 (stderr: ${r.stderr.slice(0, 300)})`)
    const out = JSON.parse(r.stdout.trim().split('\n').pop() || '{}')
    t.log(`free=${free}: ${JSON.stringify(out)}`)
    if (free <= 2) t.is(out.first, 'EMFILE Error', `free=${free}: EMFILE`)
    else t.true(out.first === 'ok' || out.first === 'EMFILE Error', `free=${free}: works or EMFILE`)
    if (out.first !== 'ok') {
      t.true(out.open, `free=${free}: the fd is still open`)
      t.true(out.flagsKept, `free=${free}: its flags are unchanged (no O_NONBLOCK left behind)`)
      t.is(out.later, 'DONE hello', `free=${free}: a later writer on the same fd works`)
    }
  }
})

test('fd exhaustion at a later writer (the I/O thread running): EMFILE, the fd as given, and the writers already open keep working', async (t) => {
  const r = await runNode(
    `
    const fs = require('fs')
    const flagsOf = (fd) => /flags:\\s*([0-7]+)/.exec(fs.readFileSync('/proc/self/fdinfo/' + fd, 'utf8'))[1]
    const a = NATIVE.openPipe()
    const first = new NATIVE.ProcessWriter(a.writeFd)
    const b = NATIVE.openPipe()
    const before = flagsOf(b.writeFd)
    const fillers = []
    for (;;) {
      try { fillers.push(fs.openSync('/dev/null', 'r')) } catch { break }
    }
    let second
    try { new NATIVE.ProcessWriter(b.writeFd); second = 'ok' } catch (e) { second = e.code + ' ' + e.constructor.name }
    first.write(Buffer.from('still here'))
    first.loseConnection()
    for (const fd of fillers) fs.closeSync(fd)
    first.onConnectionLost = (reason) => {
      const got = Buffer.alloc(32)
      const n = fs.readSync(a.readFd, got)
      console.log(JSON.stringify({ second, flagsKept: flagsOf(b.writeFd) === before, first: reason.code + ' ' + got.subarray(0, n) }))
    }
  `,
    { shell: 'ulimit -n 64', ms: 30_000 },
  )
  t.is(r.signal, null, r.stderr.slice(0, 300))
  t.is(r.code, 0, r.stderr.slice(0, 300))
  const out = JSON.parse(r.stdout.trim().split('\n').pop() || '{}')
  t.is(out.second, 'EMFILE Error')
  t.true(out.flagsKept, 'the second fd was left as given')
  t.is(out.first, 'DONE still here')
})

// ---------------------------------------------------------------------------------------------
// 9. options whose getters throw (issue 16, item 9): the constructor used to carry on with the
// exception pending, set O_NONBLOCK on the caller's fd and close it (when the half-built writer
// was collected), so createPipe/spawn's cleanup closed the number a second time.
test('options whose getter or Proxy trap throws: the constructor throws that error and leaves the fd open, blocking and the caller\'s', async (t) => {
  const throwingGetter = (name: string) =>
    Object.defineProperty({}, name, {
      enumerable: true,
      get() {
        throw new Error(`getter ${name}`)
      },
    })
  const cases: [string, unknown, string][] = [
    ['getter bufferSize', throwingGetter('bufferSize'), 'getter bufferSize'],
    ['getter childFd', throwingGetter('childFd'), 'getter childFd'],
    ['getter zeroCopy', throwingGetter('zeroCopy'), 'getter zeroCopy'],
    ['getter onDrain (read last)', throwingGetter('onDrain'), 'getter onDrain'],
    [
      'Proxy get trap',
      new Proxy(
        {},
        {
          get() {
            throw new Error('trap')
          },
        },
      ),
      'trap',
    ],
  ]
  for (const [what, options, message] of cases) {
    const { readFd, writeFd } = openPipe()
    const before = flags(writeFd)
    t.throws(() => new ProcessWriter(writeFd, options as never), { message }, what)
    t.is(flags(writeFd), before, `${what}: flags unchanged`)
    await collectGarbage()
    await sleep(30)
    t.true(isOpen(writeFd), `${what}: the fd is still open after a collection`)
    // Still the caller's: a writer can take it now.
    const w = new ProcessWriter(writeFd)
    w.write(Buffer.from(what))
    w.loseConnection()
    t.is((await closed(w)).code, 'DONE')
    const got = Buffer.alloc(100)
    t.is(got.subarray(0, fs.readSync(readFd, got)).toString(), what)
    closeFd(readFd)
  }
})

test('a non-boolean zeroCopy or forceReadHack is a TypeError (ERR_INVALID_ARG_TYPE), the fd untouched', (t) => {
  const { readFd, writeFd } = openPipe()
  const before = flags(writeFd)
  for (const options of [{ zeroCopy: 'yes' }, { forceReadHack: 1 }]) {
    t.throws(() => new ProcessWriter(writeFd, options as never), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' })
  }
  t.is(flags(writeFd), before)
  closeFd(readFd)
  closeFd(writeFd)
})

// ---------------------------------------------------------------------------------------------
// 10. pipeSize (issue 16, item 10): -1 wrapped to 4294967295, 2^40 and NaN became 0.
test('pipeSize is checked the same way by openPipe, createPipe, spawn and the constructor; nothing leaks', (t) => {
  const bad: [unknown, new (...a: never[]) => Error, string][] = [
    [-1, RangeError, 'ERR_OUT_OF_RANGE'],
    [2 ** 40, RangeError, 'ERR_OUT_OF_RANGE'],
    [Number.NaN, RangeError, 'ERR_OUT_OF_RANGE'],
    [1.5, RangeError, 'ERR_OUT_OF_RANGE'],
    ['1024', TypeError, 'ERR_INVALID_ARG_TYPE'],
    [{}, TypeError, 'ERR_INVALID_ARG_TYPE'],
  ]
  const fds = fdCount()
  for (const [pipeSize, instanceOf, code] of bad) {
    const what = `pipeSize ${String(pipeSize)}`
    t.throws(() => openPipe(pipeSize as number), { instanceOf, code }, `openPipe: ${what}`)
    t.throws(() => createPipe({ pipeSize: pipeSize as number }), { instanceOf, code }, `createPipe: ${what}`)
    t.throws(() => spawn('true', { pipeSize: pipeSize as number }), { instanceOf, code }, `spawn: ${what}`)
    const { readFd, writeFd } = openPipe()
    t.throws(() => new ProcessWriter(writeFd, { pipeSize: pipeSize as number }), { instanceOf, code }, `constructor: ${what}`)
    closeFd(readFd)
    closeFd(writeFd)
  }
  t.is(fdCount(), fds, 'no fd left behind')
  // The good values still work: 0 and nullish keep the kernel's default.
  for (const pipeSize of [0, null, undefined, 65536]) {
    const { readFd, writeFd, capacity } = openPipe(pipeSize as number)
    t.true(capacity >= 4096, `openPipe(${pipeSize}): capacity ${capacity}`)
    closeFd(readFd)
    closeFd(writeFd)
  }
})

// ---------------------------------------------------------------------------------------------
// 11. wrong types given to setters and methods (issue 16, item 11): napi-rs's conversions threw
// a plain Error with code NumberExpected / BooleanExpected.
test('setters, registerProducer and closeFd: a wrong type is a TypeError with code ERR_INVALID_ARG_TYPE, and changes nothing', async (t) => {
  const { readFd, writer: w } = createPipe()
  const typeError = { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' }
  const [size, low] = [w.bufferSize, w.lowWaterMark]
  for (const v of ['x', '100', null, undefined, {}, 10n]) {
    t.throws(() => ((w as { bufferSize: unknown }).bufferSize = v), typeError, `bufferSize = ${typeof v}`)
    t.throws(() => ((w as { lowWaterMark: unknown }).lowWaterMark = v), typeError, `lowWaterMark = ${typeof v}`)
  }
  t.is(w.bufferSize, size)
  t.is(w.lowWaterMark, low)
  t.throws(() => ((w as { bufferSize: unknown }).bufferSize = -1), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' })
  const producer = { pauseProducing() {}, resumeProducing() {}, stopProducing() {} }
  for (const v of ['yes', 1, undefined, null]) {
    t.throws(() => w.registerProducer(producer, v as unknown as boolean), typeError, `registerProducer(p, ${String(v)})`)
  }
  t.notThrows(() => w.registerProducer(producer, true))
  w.unregisterProducer()
  for (const v of ['x', null, {}]) t.throws(() => closeFd(v as number), typeError, `closeFd(${String(v)})`)
  t.throws(() => closeFd(-1), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' })
  w.loseConnection()
  t.is((await closed(w)).code, 'DONE')
  closeFd(readFd)
})

// ---------------------------------------------------------------------------------------------
// 7. the user closes the writer's fd and the number is reused (issue 16, item 7): the I/O thread
// wrote into the new file and later closed it.
test('the writer\'s fd closed by the user and reused for a file: the file is never written or closed; the data still reaches the child', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-reuse-'))
  const warnings: string[] = []
  const onWarning = (w: Error) => warnings.push(w.message)
  process.on('warning', onWarning)
  try {
    const { child, stdin } = spawn('cat', { stdio: ['writer', 'pipe', 'ignore'] })
    const w = stdin!
    const out = collect(child.stdout)
    w.write(Buffer.from('before|'))
    await waitFor(() => w.bufferedAmount === 0, 'the first write')
    const fd = w.fileno
    closeFd(fd) // misuse: the writer owns it
    const file = path.join(dir, 'victim')
    // Open the file until it gets the number (lower free numbers go to fillers first).
    const fillers: number[] = []
    let victim = fs.openSync(file, 'w')
    while (victim !== fd && fillers.length < 1000) {
      fillers.push(victim)
      victim = fs.openSync(file, 'w')
    }
    for (const f of fillers) fs.closeSync(f)
    t.is(victim, fd, 'the number was reused (the scenario needs it)')
    t.true(w.write(Buffer.from('after')))
    w.loseConnection()
    const reason = await closed(w)
    t.is(reason.code, 'DONE')
    t.true(isOpen(victim), 'the file reusing the number was not closed')
    fs.writeSync(victim, 'mine')
    fs.closeSync(victim)
    t.is(fs.readFileSync(file, 'utf8'), 'mine', 'nothing of the writer\'s went into it')
    t.is((await out).toString(), 'before|after', 'the child got everything')
    await exitOf(child)
    await sleep(20)
    t.true(
      warnings.some((m) => m.includes(`fd ${fd} was closed by someone else`)),
      `a warning names the fd (${JSON.stringify(warnings)})`,
    )
  } finally {
    process.off('warning', onWarning)
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

// ---------------------------------------------------------------------------------------------
// 8. a by-reference buffer (32 KiB or more) whose ArrayBuffer is detached before it is written
// (issue 16, item 8): the I/O thread wrote memory that was no longer the caller's, silently.
test('a by-reference buffer detached (transferred) before it is written: the connection ends with ERROR, not clean, naming the cause', async (t) => {
  const { child, stdin } = spawn('sh', ['-c', 'sleep 1; exec cat >/dev/null'], { pipeSize: 0, stdio: ['writer', 'ignore', 'ignore'] })
  const w = stdin!
  const big = Buffer.alloc(1024 * 1024, 1)
  w.write(big)
  // The pipe (64 KiB) is full and the chunk partly written.
  await waitFor(() => w.stats().syscalls > 0 && w.bufferedAmount < big.length, 'the first write')
  const moved = structuredClone(big.buffer, { transfer: [big.buffer] })
  t.is(big.length, 0, 'detached')
  w.write(Buffer.alloc(64 * 1024, 2))
  w.loseConnection()
  const reason = await closed(w)
  t.is(reason.code, 'ERROR')
  t.false(reason.clean)
  t.regex(reason.message, /detached/)
  t.is(moved.byteLength, 1024 * 1024)
  await exitOf(child)
})
