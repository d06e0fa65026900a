// Producers: Twisted scenarios 16-31 and 52 in the contract's form.
//
// Determinism: flow-control thresholds are tested on a pipe that is already full and that nobody
// reads (we hold the read end). The core's I/O thread can then move nothing, so bufferedAmount is
// exactly what we wrote. Readers are attached later: `head -c N` (keeps our read end, drains exactly
// N bytes) for partial drains, `wc -c`/`cat` (takes it) for full drains.
//
// Not ported: 14-15 (Twisted's internal join/slice and doWrite return values have no public
// counterpart). 22 is ported in its fixed form (Q4: only pending bytes count).
import anyTest from 'ava'

import {
  LONG,
  alternates,
  attachReader,
  bytes,
  closeFd,
  fdLeakGuard,
  fullPipe,
  pipeWriter,
  pullProducer,
  pushProducer,
  recorder,
  settle,
  spawnChild,
  sha256,
  spawnWithWriter,
  waitFor,
  wcCount,
  withTimeout,
} from './helpers.mjs'
import { posixOnly } from './platform.mjs'

const test = posixOnly(anyTest, 'head -c N must read exactly N bytes of a pipe another reader shares (the node stand-in reads ahead)', [
  '17/18/19: pause strictly above bufferSize',
  'lowWaterMark: a push producer is resumed when bufferedAmount falls to it',
  'lowWaterMark: a pull producer is resumed when bufferedAmount falls to it',
])

fdLeakGuard(test)

// ---------------------------------------------------------------------------------------------
// C. Push (streaming) producer

test('16: registerProducer(push) makes no calls on the producer', async (t) => {
  const c = spawnWithWriter('cat')
  const rec = recorder()
  rec.during(() => c.w.registerProducer(pushProducer(rec), true))
  await settle()
  t.deepEqual(rec.events, [])
  c.w.loseConnection()
  t.is((await withTimeout(c.lost)).code, 'DONE')
  // 37: a running push producer gets stopProducing on the close.
  t.deepEqual(rec.events, ['stop'])
})

test('17/18/19: pause strictly above bufferSize, once (Q3/Q4 fixed); no resume on a partial drain; one on the full drain', async (t) => {
  const p = await fullPipe()
  const rec = recorder()
  p.w.registerProducer(pushProducer(rec), true)
  t.is(p.w.bufferSize, 65536)

  // 17: exactly bufferSize pending -> no pause, write returns true.
  t.true(rec.during(() => p.w.write(bytes(65536, 1))))
  t.is(p.w.bufferedAmount, 65536)
  t.deepEqual(rec.events, [])
  // One more byte -> pause, synchronously inside write.
  t.false(rec.during(() => p.w.write(Buffer.from('x'))))
  t.deepEqual(rec.syncEvents, ['pause'])
  t.is(p.w.bufferedAmount, 65537)

  // 18 (fixed): further writes while paused do not pause again.
  t.false(rec.during(() => p.w.write(Buffer.from('y'))))
  t.false(rec.during(() => p.w.writeSequence([Buffer.from('z')])))
  t.deepEqual(rec.events, ['pause'])
  t.is(p.w.stats().pauses, 1)

  // 19: partial drain (a reader takes 40000 bytes and leaves; we keep the read end) -> no resume.
  const head = attachReader(p.readFd, 'head', ['-c', '40000'], true)
  t.is((await head.stdout).length, 40000)
  await waitFor(() => p.w.stats().bytesWritten >= p.filler + 40000 - 8192, 'writer refilling the freed space')
  await settle()
  t.deepEqual(rec.events, ['pause'])
  t.true(p.w.bufferedAmount > 0)

  // Full drain -> exactly one resume.
  const wc = attachReader(p.readFd, 'wc', ['-c'])
  await waitFor(() => rec.count('resume') === 1, 'resume after the full drain')
  t.deepEqual(rec.events, ['pause', 'resume'])
  t.is(p.w.stats().resumes, 1)
  p.w.loseConnection()
  const reason = await withTimeout(p.lost)
  t.is(reason.code, 'DONE')
  const total = p.filler + 65536 + 3
  t.is(reason.bytesWritten, total)
  t.is(await wcCount(wc), total - 40000)
  t.deepEqual(rec.events, ['pause', 'resume', 'stop'])
  t.true(alternates(rec.events))
})

test('lowWaterMark: a push producer is resumed when bufferedAmount falls to it, not only when empty', async (t) => {
  const p = await fullPipe({ lowWaterMark: 40000 })
  t.is(p.w.lowWaterMark, 40000)
  const rec = recorder()
  let bufferedAtResume = -1
  p.w.registerProducer(pushProducer(rec, { resume: () => { bufferedAtResume = p.w.bufferedAmount } }), true)
  t.false(rec.during(() => p.w.write(bytes(100000, 2))))
  t.deepEqual(rec.syncEvents, ['pause'])

  // The reader takes 50000: at most 50000 more can leave the buffer, so >= 50000 > 40000 remain.
  const h1 = attachReader(p.readFd, 'head', ['-c', '50000'], true)
  t.is((await h1.stdout).length, 50000)
  await waitFor(() => p.w.stats().bytesWritten >= p.filler + 50000 - 8192, 'writer refilling')
  await settle()
  t.deepEqual(rec.events, ['pause'])

  // 25000 more (75000 in all): at least 18 whole pages are free again, so <= 26272 bytes remain
  // buffered, and at least 25000 (nobody reads any further): resumed while data is still pending.
  const h2 = attachReader(p.readFd, 'head', ['-c', '25000'], true)
  t.is((await h2.stdout).length, 25000)
  await waitFor(() => rec.count('resume') === 1, 'resume at the low-water mark')
  t.true(bufferedAtResume > 0, `resumed with ${bufferedAtResume} bytes still pending`)
  t.true(bufferedAtResume <= 40000, `resumed with ${bufferedAtResume} bytes pending`)
  t.deepEqual(rec.events, ['pause', 'resume'])

  p.w.abortConnection()
  const reason = await withTimeout(p.lost)
  t.is(reason.code, 'ABORTED')
  t.false(reason.clean)
  t.is(reason.bytesWritten + reason.bytesUnwritten, p.filler + 100000)
  t.deepEqual(rec.events, ['pause', 'resume', 'stop'])
  closeFd(p.readFd)
})

test('22 (Q4 fixed): only pending bytes count: after a partial drain, a write is judged on what is still pending', async (t) => {
  const p = await fullPipe({ lowWaterMark: 5000 })
  const rec = recorder()
  p.w.registerProducer(pushProducer(rec), true)
  t.false(rec.during(() => p.w.write(bytes(70000, 6))))
  t.deepEqual(rec.syncEvents, ['pause'])
  // A reader takes exactly one pipe's worth: 16 whole pages free, the writer moves 65536 bytes.
  const head = attachReader(p.readFd, 'head', ['-c', String(p.filler)], true)
  t.is((await head.stdout).length, p.filler)
  await waitFor(() => p.w.bufferedAmount === 70000 - 65536, '65536 bytes moved')
  await waitFor(() => rec.count('resume') === 1, 'resume at 4464 <= lowWaterMark 5000')
  // Twisted would count the 65536 already-sent bytes too and pause again here.
  t.true(rec.during(() => p.w.write(Buffer.from('z'))))
  t.is(p.w.bufferedAmount, 4465)
  t.deepEqual(rec.events, ['pause', 'resume'])
  t.is(p.w.stats().pauses, 1)
  p.w.abortConnection()
  const reason = await withTimeout(p.lost)
  t.is(reason.bytesUnwritten, 4465)
  closeFd(p.readFd)
})

test('20: a push producer that is not paused gets no callbacks on drain', async (t) => {
  const c = spawnWithWriter('cat')
  const rec = recorder()
  c.w.registerProducer(pushProducer(rec), true)
  c.w.write(Buffer.from('a'))
  await waitFor(() => c.w.stats().bytesWritten === 1, 'byte written')
  await settle()
  t.deepEqual(rec.events, [])
  c.w.unregisterProducer()
  c.w.loseConnection()
  t.is((await withTimeout(c.lost)).code, 'DONE')
  t.deepEqual(rec.events, [], 'an unregistered producer gets no stopProducing')
  t.is((await c.stdout).toString(), 'a')
})

for (const via of ['write', 'writeSequence'] as const) {
  test(`21: re-entrant push producer (${via} from resumeProducing): [pause], [resume, pause], ...`, async (t) => {
    const c = spawnWithWriter('wc', ['-c'])
    const rec = recorder()
    let rounds = 0
    const send = () => {
      const b = bytes(70000, rounds)
      return rec.during(() => (via === 'write' ? c.w.write(b) : c.w.writeSequence([b.subarray(0, 1), b.subarray(1)])))
    }
    c.w.registerProducer(
      pushProducer(rec, {
        resume: () => {
          if (rounds < 2) {
            rounds++
            send()
          }
        },
      }),
      true,
    )
    send()
    t.deepEqual(rec.events, ['pause'])
    await waitFor(() => rec.count('resume') === 3, 'three resumes')
    t.deepEqual(rec.events, ['pause', 'resume', 'pause', 'resume', 'pause', 'resume'])
    t.deepEqual(rec.syncEvents, ['pause', 'pause', 'pause'], 'each pause came from inside a write')
    c.w.loseConnection()
    t.is((await withTimeout(c.lost)).code, 'DONE')
    t.is(await wcCount(c), 3 * 70000)
    t.deepEqual(rec.events.slice(-1), ['stop'])
    t.true(alternates(rec.events))
  })
}

test('23: bufferSize=500: writeSequence([50 bytes]*20) pauses at once, resumes after the drain', async (t) => {
  const c = spawnWithWriter('wc', ['-c'], { bufferSize: 500 })
  t.is(c.w.bufferSize, 500)
  const rec = recorder()
  c.w.registerProducer(pushProducer(rec), true)
  t.false(rec.during(() => c.w.writeSequence(Array.from({ length: 20 }, () => Buffer.alloc(50, 'x')))))
  t.deepEqual(rec.syncEvents, ['pause'])
  await waitFor(() => rec.count('resume') === 1, 'resume')
  t.deepEqual(rec.events, ['pause', 'resume'])
  c.w.loseConnection()
  t.is((await withTimeout(c.lost)).code, 'DONE')
  t.is(await wcCount(c), 1000)
})

// ---------------------------------------------------------------------------------------------
// D. Pull producer

test('24: registerProducer(pull) calls resumeProducing synchronously', async (t) => {
  const c = spawnWithWriter('cat')
  const rec = recorder()
  rec.during(() => c.w.registerProducer(pullProducer(rec), false))
  t.deepEqual(rec.syncEvents, ['resume'])
  c.w.unregisterProducer()
  c.w.loseConnection()
  t.is((await withTimeout(c.lost)).code, 'DONE')
  t.deepEqual(rec.events, ['resume'])
})

test('lowWaterMark: a pull producer is resumed when bufferedAmount falls to it, with data still pending', async (t) => {
  const p = await fullPipe({ lowWaterMark: 40000 })
  const rec = recorder()
  let bufferedAtResume = -1
  let first = true
  p.w.registerProducer(
    pullProducer(rec, {
      resume: () => {
        if (first) p.w.write(bytes(100000, 3))
        else bufferedAtResume = p.w.bufferedAmount
        first = false
      },
    }),
    false,
  )
  t.deepEqual(rec.events, ['resume'])
  // Same arithmetic as the push case above: >= 50000 pending after the first reader, <= 26272 after the second.
  const h1 = attachReader(p.readFd, 'head', ['-c', '50000'], true)
  t.is((await h1.stdout).length, 50000)
  await waitFor(() => p.w.stats().bytesWritten >= p.filler + 50000 - 8192, 'writer refilling')
  await settle()
  t.deepEqual(rec.events, ['resume'])
  const h2 = attachReader(p.readFd, 'head', ['-c', '25000'], true)
  t.is((await h2.stdout).length, 25000)
  await waitFor(() => rec.count('resume') === 2, 'resume at the low-water mark')
  t.true(bufferedAtResume > 0 && bufferedAtResume <= 40000, `resumed with ${bufferedAtResume} bytes pending`)
  await settle()
  t.deepEqual(rec.events, ['resume', 'resume'])
  p.w.abortConnection()
  t.is((await withTimeout(p.lost)).code, 'ABORTED')
  t.deepEqual(rec.events, ['resume', 'resume', 'stop'])
  closeFd(p.readFd)
})

test('25: a pull producer is never paused, even far over bufferSize', async (t) => {
  const c = spawnWithWriter('cat', [], { bufferSize: 3 })
  const rec = recorder()
  c.w.registerProducer(pullProducer(rec), false)
  t.false(rec.during(() => c.w.write(Buffer.from('1234'))))
  t.false(rec.during(() => c.w.writeSequence(['1', '2', '3', '4'].map((s) => Buffer.from(s)))))
  t.false(rec.events.includes('pause'))
  c.w.unregisterProducer()
  c.w.loseConnection()
  t.is((await c.stdout).toString(), '12341234')
  t.is((await withTimeout(c.lost)).code, 'DONE')
  t.false(rec.events.includes('pause'))
})

test('26: a pull producer is resumed once per drain', async (t) => {
  const c = spawnWithWriter('sha256sum')
  const rec = recorder()
  const chunks: Buffer[] = []
  let closing = false
  c.w.registerProducer(
    pullProducer(rec, {
      resume: () => {
        if (chunks.length < 5) {
          const b = bytes(100 * 1024, chunks.length)
          chunks.push(b)
          c.w.write(b)
        } else if (!closing) {
          closing = true
          c.w.unregisterProducer()
          c.w.loseConnection()
        }
      },
    }),
    false,
  )
  const reason = await withTimeout(c.lost)
  t.is(reason.code, 'DONE')
  t.deepEqual(rec.events, Array(6).fill('resume'), 'five chunks + the final resume; no pause, no stop')
  t.is((await c.stdout).toString().split(' ')[0], sha256(...chunks))
})

// ---------------------------------------------------------------------------------------------
// E. Registration edge cases

test('27: a second registerProducer throws ERR_PRODUCER_ALREADY_REGISTERED; the first stays', async (t) => {
  const p = pipeWriter()
  const r1 = recorder()
  const r2 = recorder()
  const r3 = recorder()
  p.w.registerProducer(pushProducer(r1), true)
  t.throws(() => p.w.registerProducer(pushProducer(r2), true), { code: 'ERR_PRODUCER_ALREADY_REGISTERED' })
  t.throws(() => p.w.registerProducer(pullProducer(r3), false), { code: 'ERR_PRODUCER_ALREADY_REGISTERED' })
  t.deepEqual(r3.events, [], 'the rejected pull producer is not resumed')
  p.w.abortConnection()
  t.is((await withTimeout(p.lost)).code, 'ABORTED')
  await settle()
  t.deepEqual(r1.events, ['stop'], 'the first producer is still the registered one')
  t.deepEqual(r2.events, [])
  t.deepEqual(r3.events, [])
  closeFd(p.readFd)
})

test('28/48: on a closed writer registerProducer calls stopProducing at once (twice), stores nothing', async (t) => {
  const p = pipeWriter()
  p.w.loseConnection()
  await withTimeout(p.lost)
  const rec = recorder()
  const prod = pushProducer(rec)
  t.notThrows(() => rec.during(() => p.w.registerProducer(prod, true)))
  t.notThrows(() => rec.during(() => p.w.registerProducer(prod, true)))
  t.deepEqual(rec.syncEvents, ['stop', 'stop'])
  const pull = recorder()
  rec.during(() => p.w.registerProducer(pullProducer(pull), false))
  t.deepEqual(pull.events, ['stop'], 'a pull producer on a closed writer is stopped, not resumed')
  // 48: the rest are no-ops.
  t.notThrows(() => p.w.unregisterProducer())
  t.notThrows(() => p.w.loseConnection())
  t.notThrows(() => p.w.stopConsuming())
  t.false(p.w.write(Buffer.from('x')))
  await settle()
  t.is(p.calls.length, 1)
  closeFd(p.readFd)
})

test('29: unregisterProducer with none registered, twice, is a no-op', async (t) => {
  const c = spawnWithWriter('cat')
  t.notThrows(() => c.w.unregisterProducer())
  t.notThrows(() => c.w.unregisterProducer())
  c.w.write(Buffer.from('ok'))
  c.w.loseConnection()
  t.is((await c.stdout).toString(), 'ok')
  t.is((await withTimeout(c.lost)).code, 'DONE')
})

test('30 (Q3 fixed): a new producer starts un-paused; the paused state does not leak from the old one', async (t) => {
  const p = await fullPipe()
  const r1 = recorder()
  const r2 = recorder()
  p.w.registerProducer(pushProducer(r1), true)
  p.w.write(bytes(70000, 4))
  t.deepEqual(r1.events, ['pause'])
  p.w.unregisterProducer()
  p.w.registerProducer(pushProducer(r2), true)
  const wc = attachReader(p.readFd, 'wc', ['-c'])
  await waitFor(() => p.w.bufferedAmount === 0, 'drain')
  await settle()
  t.deepEqual(r1.events, ['pause'], 'the unregistered producer is neither resumed nor stopped')
  t.true(alternates(r2.events), `P2 events ${JSON.stringify(r2.events)} must not start with a resume`)
  p.w.loseConnection()
  t.is((await withTimeout(p.lost)).code, 'DONE')
  t.is(await wcCount(wc), p.filler + 70000)
  t.is(r2.events.filter((e) => e === 'stop').length, 1)
})

// 31, 52 and other throwing producers/callbacks live in core-errors.spec.ts (a crash there must not
// take this file down with it).

test('default marks: bufferSize 768 KiB, lowWaterMark half of it (following bufferSize until set); Twisted-exact on request', async (t) => {
  const d = pipeWriter({ bufferSize: undefined, lowWaterMark: undefined })
  t.is(d.w.bufferSize, 768 << 10)
  t.is(d.w.lowWaterMark, 384 << 10)
  d.w.bufferSize = 65536
  t.is(d.w.lowWaterMark, 32768, 'follows bufferSize while not given')
  d.w.bufferSize = 10
  t.is(d.w.lowWaterMark, 5)
  d.w.lowWaterMark = 0
  d.w.bufferSize = 4096
  t.is(d.w.lowWaterMark, 0, 'set once: stays')
  const given = pipeWriter({ bufferSize: 100000, lowWaterMark: undefined })
  t.deepEqual([given.w.bufferSize, given.w.lowWaterMark], [100000, 50000])
  const low = pipeWriter({ bufferSize: undefined, lowWaterMark: 1000 })
  t.deepEqual([low.w.bufferSize, low.w.lowWaterMark], [768 << 10, 1000])
  low.w.bufferSize = 2000
  t.is(low.w.lowWaterMark, 1000, 'a given lowWaterMark stays')
  t.throws(() => (low.w.bufferSize = 999), { code: 'ERR_OUT_OF_RANGE' })
  const tw = pipeWriter({ bufferSize: 65536, lowWaterMark: 0 })
  t.deepEqual([tw.w.bufferSize, tw.w.lowWaterMark], [65536, 0])
  for (const p of [d, given, low, tw]) {
    p.w.abortConnection()
    closeFd(p.readFd)
    await withTimeout(p.lost)
  }
})

test('default marks: a push producer is paused past 768 KiB and resumed with 384 KiB or less still pending', async (t) => {
  // The pipe is full and nobody reads it yet, so the I/O thread moves nothing: bufferedAmount is
  // exactly what was written since (with an empty pipe, it could fall by the pipe's capacity
  // between the pausing write and the check, as it did once under load).
  const p = await fullPipe({ bufferSize: undefined, lowWaterMark: undefined })
  const rec = recorder()
  let bufferedAtResume = -1
  p.w.registerProducer(pushProducer(rec, { resume: () => { bufferedAtResume = p.w.bufferedAmount } }), true)
  let written = 0
  while (rec.count('pause') === 0) {
    t.is(p.w.write(bytes(65536, 3)), rec.count('pause') === 0)
    written += 65536
  }
  t.is(p.w.bufferedAmount, written)
  t.true(written > 768 << 10 && written - 65536 <= 768 << 10, `paused after ${written} bytes`)
  const reader = attachReader(p.readFd, 'wc', ['-c'])
  await waitFor(() => rec.count('resume') === 1, 'resume at the low-water mark')
  t.true(bufferedAtResume <= 384 << 10, `resumed with ${bufferedAtResume} bytes pending`)
  p.w.unregisterProducer()
  p.w.loseConnection()
  t.is((await withTimeout(p.lost)).code, 'DONE')
  t.is(Number((await reader.stdout).toString().trim()), p.filler + written)
})

test('default marks: a producer of chunks larger than the low-water mark is resumed while one such chunk is queued; a given lowWaterMark is kept exactly', async (t) => {
  // 512 KiB chunks: the default writer resumes at 512 KiB pending (at most bufferSize), a
  // writer given lowWaterMark 384 KiB only at 384 KiB. A reader takes just enough for about
  // 448 KiB to stay pending (our read end stays open, so the reader is never gone).
  const CHUNK = 512 << 10
  const runs = []
  for (const options of [{ bufferSize: undefined, lowWaterMark: undefined }, { bufferSize: undefined, lowWaterMark: 384 << 10 }]) {
    const p = pipeWriter(options)
    const cap = p.w.stats().pipeCapacity
    if (process.platform === 'win32' || !cap) {
      p.w.abortConnection()
      closeFd(p.readFd)
      await withTimeout(p.lost)
      t.pass('no pipe capacity to count with here')
      return
    }
    const rec = recorder()
    let bufferedAtResume = -1
    p.w.registerProducer(pushProducer(rec, { resume: () => { bufferedAtResume = p.w.bufferedAmount } }), true)
    let written = 0
    while (rec.count('pause') === 0) {
      p.w.write(bytes(CHUNK, 5))
      written += CHUNK
    }
    const take = written - cap - (448 << 10)
    t.true(take > 0, `wrote ${written} bytes into a ${cap}-byte pipe`)
    const head = spawnChild('head', ['-c', String(take)], [p.readFd, 'ignore', 'inherit'])
    await withTimeout(head.exit)
    runs.push({ p, rec, resumedAt: () => bufferedAtResume })
  }
  const [auto, given] = runs
  t.is(auto.p.w.lowWaterMark, 384 << 10, 'the getter still gives the default mark')
  await waitFor(() => auto.rec.count('resume') === 1, 'resume with one chunk still pending')
  const at = auto.resumedAt()
  t.true(at > 384 << 10 && at <= CHUNK, `default marks: resumed with ${at} bytes pending`)
  // The same level is reached under the given mark, which does not resume above 384 KiB.
  await waitFor(() => given.p.w.bufferedAmount <= 452 << 10, 'the given-mark writer refilled the pipe')
  await new Promise((r) => setTimeout(r, 100))
  t.is(given.rec.count('resume'), 0, `given lowWaterMark: not resumed at ${given.p.w.bufferedAmount} pending`)
  for (const { p } of runs) {
    p.w.unregisterProducer()
    p.w.abortConnection()
    closeFd(p.readFd)
    t.is((await withTimeout(p.lost)).code, 'ABORTED')
  }
})
