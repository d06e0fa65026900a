// The exported class's JS fast path (small writes staged in a slab) against the same accounting
// rules as the core: a write on a closed writer returns false and counts as dropped; bytes a write
// accepted (returned true) are written or unwritten, never dropped; counters never go backwards;
// `clean` is false when anything accepted was not written. Issue 16, items 5 and 6. Real children.
import anyTest from 'ava'
import { ProcessWriter, closed, spawn as spawnWriters } from '../lib/index.js'
import { standIn } from './helpers.mjs'
import type { WriterStats } from '../lib/index.js'
import { posixOnly } from './platform.mjs'

const test = posixOnly(anyTest, "the child is an sh script that closes its stdin and lives on (exec 0<&-)", ['item 5'])

/** `spawn`, with helpers.mjs's node stand-ins for the POSIX commands on Windows. */
const spawn = (cmd: string, args: readonly string[] = [], options?: Parameters<typeof spawnWriters>[2]) =>
  spawnWriters(...standIn(cmd, args), options)

/** A child that closes its stdin after `ms` and lives on a little (so only the close is seen). */
function closesStdinAfter(ms: number) {
  return spawn('sh', ['-c', `sleep ${ms / 1000}; exec 0<&-; sleep 3`], { stdio: ['writer', 'ignore', 'inherit'] })
}

function spinUntil(cond: () => boolean, ms = 10_000) {
  const until = Date.now() + ms
  while (!cond()) if (Date.now() > until) throw new Error('condition not met in the same turn')
}

const monotone = (a: WriterStats, b: WriterStats) =>
  (['bytesAccepted', 'bytesWritten', 'bytesDropped', 'bytesUnwritten', 'writes'] as const).filter((k) => b[k] < a[k])

// The ways JavaScript can see that the connection ended, without awaiting anything.
const observers: Record<string, (w: ProcessWriter) => boolean> = {
  connected: (w) => !w.connected,
  fileno: (w) => w.fileno === -1,
  bufferedAmount: (w) => (w.bufferedAmount, !w.connected),
  stats: (w) => (w.stats(), !w.connected),
}

for (const [name, ended] of Object.entries(observers)) {
  test(`item 5 (${name}): a small write after the end was seen returns false; the staged byte counts as unwritten`, async (t) => {
    const { child, stdin } = closesStdinAfter(300)
    const w = stdin!
    const lost = closed(w)
    t.true(w.write(Buffer.from('a'))) // staged in the slab: accepted while open
    const s1 = w.stats()
    t.is(s1.bytesAccepted, 1)
    spinUntil(() => ended(w)) // same turn: the slab is still open
    t.false(w.connected)
    t.false(w.write(Buffer.from('b')), 'a write on a closed writer returns false')
    const s2 = w.stats()
    t.deepEqual(monotone(s1, s2), [], 'no counter goes backwards')
    t.is(s2.bytesAccepted, 1)
    t.is(s2.bytesDropped, 1)
    t.is(s2.bytesBuffered, 0)
    t.is(w.bufferedAmount, 0)
    const reason = await lost
    t.is(reason.code, 'READER_CLOSED')
    t.false(reason.clean, 'an accepted byte was never written')
    t.is(reason.bytesWritten, 0)
    t.is(reason.bytesUnwritten, 1)
    const s3 = w.stats()
    t.deepEqual(monotone(s2, s3), [])
    t.is(s3.bytesAccepted, s3.bytesWritten + s3.bytesUnwritten)
    child.kill()
  })
}

test('item 5: writes staged while the end went unseen are accepted, then unwritten (clean false), never dropped', async (t) => {
  const { child, stdin } = closesStdinAfter(200)
  const w = stdin!
  const lost = closed(w)
  t.true(w.write(Buffer.from('a')))
  const s1 = w.stats()
  // Wait without looking at the writer: the end is not visible yet, so these are accepted.
  const until = Date.now() + 700
  while (Date.now() < until) {
    /* same turn */
  }
  for (let i = 0; i < 100; i++) t.true(w.write(Buffer.alloc(100, i)))
  const s2 = w.stats()
  t.deepEqual(monotone(s1, s2), [])
  const reason = await lost
  t.is(reason.code, 'READER_CLOSED')
  t.false(reason.clean)
  t.is(reason.bytesWritten, 0)
  t.is(reason.bytesUnwritten, 10_001)
  const s3 = w.stats()
  t.deepEqual(monotone(s2, s3), [])
  t.is(s3.bytesAccepted, 10_001)
  t.is(s3.bytesDropped, 0)
  t.is(s3.bytesUnwritten, 10_001)
  t.is(s3.writes, 101)
  child.kill()
})

test('fast path, like the core: the reader leaves with bytes staged and buffered; accepted = written + unwritten, reason = stats()', async (t) => {
  // The child reads 100 000 bytes and exits; we keep writing small chunks through the end.
  const { child, stdin } = spawn('head', ['-c', '100000'], { stdio: ['writer', 'ignore', 'inherit'] })
  const w = stdin!
  const lost = closed(w)
  let offered = 0
  let prev = w.stats()
  while (w.connected || offered < 1) {
    for (let i = 0; i < 50; i++) {
      w.write(Buffer.alloc(321, i))
      offered += 321
    }
    const s = w.stats()
    t.deepEqual(monotone(prev, s), [])
    prev = s
    if (!w.write(Buffer.alloc(7))) await new Promise((r) => setTimeout(r, 1))
    offered += 7
    if (offered > 64 * 1024 * 1024) break
  }
  const reason = await lost
  const s = w.stats()
  t.is(reason.code, 'READER_CLOSED')
  t.is(s.bytesAccepted + s.bytesDropped, offered)
  t.is(s.bytesAccepted, s.bytesWritten + s.bytesUnwritten)
  t.is(reason.bytesWritten, s.bytesWritten)
  t.is(reason.bytesUnwritten, s.bytesUnwritten)
  t.is(reason.clean, s.bytesUnwritten === 0)
  t.true(s.bytesWritten >= 100_000)
  child.kill()
})

test('fast path, like the core: DONE writes exactly what was accepted', async (t) => {
  const { child, stdin } = spawn('wc', ['-c'], { stdio: ['writer', 'pipe', 'inherit'] })
  const w = stdin!
  const out: Buffer[] = []
  child.stdout!.on('data', (d) => out.push(d))
  const ended = new Promise((r) => child.on('close', r))
  let n = 0
  for (let i = 0; i < 5000; i++) {
    const size = 1 + ((i * 7919) % 900)
    if (!w.write(Buffer.alloc(size, i))) await new Promise<void>((r) => (w.onDrain = r))
    n += size
  }
  w.loseConnection()
  const reason = await closed(w)
  await ended
  const s = w.stats()
  t.is(reason.code, 'DONE')
  t.true(reason.clean)
  t.is(reason.bytesWritten, n)
  t.is(reason.bytesUnwritten, 0)
  t.is(s.bytesAccepted, n)
  t.is(s.bytesDropped, 0)
  t.is(Number(Buffer.concat(out).toString().trim()), n)
})

test('item 6: lowering bufferSize takes effect in the same turn through the exported class', async (t) => {
  const { child, stdin } = spawn('sleep', ['5'], { stdio: ['writer', 'ignore', 'inherit'] })
  const w = stdin!
  const events: string[] = []
  w.registerProducer({ pauseProducing: () => events.push('pause'), resumeProducing: () => events.push('resume'), stopProducing: () => {} }, true)
  t.true(w.write(Buffer.alloc(10)))
  w.bufferSize = 100
  t.false(w.write(Buffer.alloc(200)), '210 bytes buffered is over a mark of 100')
  t.deepEqual(events, ['pause'], 'the producer is paused synchronously')
  w.abortConnection()
  await closed(w)
  child.kill()
})
