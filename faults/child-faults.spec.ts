// Fault matrix, part 1: the child is killed, stalls, or exits early, through every way of writing.
// Each case checks what the contract promises: the reason's code, exact byte accounting
// (accepted = written + unwritten, reason = stats()), and, where the child lives to the end, the
// child's sha256 of what it read.
import test from 'ava'
import { closed, feed, spawn, toWebWritable, toWritable } from '../lib/index.js'
import type { ConnectionLostReason, ProcessWriter } from '../lib/index.js'
import { accountingViolations, bytes, collect, exitOf, sha256, sleep, waitFor } from './helpers.mjs'

const ways = ['write', 'writeSequence', 'feed', 'toWritable', 'toWebWritable'] as const
type Way = (typeof ways)[number]

/** Send `data` through `way` in `chunk`-byte pieces, ending the connection when done. */
async function send(w: ProcessWriter, way: Way, data: Buffer, chunk: number): Promise<ConnectionLostReason> {
  const pieces: Buffer[] = []
  for (let o = 0; o < data.length; o += chunk) pieces.push(data.subarray(o, o + chunk))
  switch (way) {
    case 'write':
    case 'writeSequence': {
      const lost = closed(w)
      for (let i = 0; i < pieces.length && w.connected; i += 8) {
        const group = pieces.slice(i, i + 8)
        const ok = way === 'write' ? group.map((p) => w.write(p)).every(Boolean) : w.writeSequence(group)
        if (!ok && w.connected) await new Promise<void>((r) => (w.onDrain = r)).catch(() => {})
        else if (i % 64 === 0) await new Promise((r) => setImmediate(r))
      }
      if (w.connected) w.loseConnection()
      return lost
    }
    case 'feed':
      return feed(w, pieces)
    case 'toWritable': {
      const s = toWritable(w)
      s.on('error', () => {})
      for (const p of pieces) {
        if (s.destroyed) break
        if (!s.write(p)) {
          await new Promise<void>((r) => {
            const done = () => (s.off('drain', done), s.off('close', done), r())
            s.on('drain', done).on('close', done)
          })
        }
      }
      if (!s.destroyed) s.end()
      return closed(w)
    }
    case 'toWebWritable': {
      const ws = toWebWritable(w).getWriter()
      try {
        for (const p of pieces) await ws.write(p)
        await ws.close()
      } catch {
        /* the connection ended early: the reason says how */
      }
      return closed(w)
    }
  }
}

// A drain wait above must not hang when the connection ends instead.
function withLostWakesDrain(w: ProcessWriter) {
  closed(w).then(() => w.onDrain?.())
}

for (const way of ways) {
  test(`${way}: child killed (SIGKILL) mid-stream: READER_CLOSED, exact accounting`, async (t) => {
    const { child, stdin } = spawn('sh', ['-c', 'head -c 300000 >/dev/null; exec sleep 30'], { stdio: ['writer', 'ignore', 'ignore'] })
    const w = stdin!
    withLostWakesDrain(w)
    const data = bytes(8 * 1024 * 1024, 7)
    const sent = send(w, way, data, 4096)
    await waitFor(() => w.stats().bytesWritten >= 300_000, 'the child to read 300000 bytes')
    child.kill('SIGKILL')
    const reason = await sent
    t.is(reason.code, 'READER_CLOSED')
    // clean only when nothing accepted was left unwritten (an adapter may have been paused with
    // everything already in the pipe): accountingViolations checks exactly that.
    t.deepEqual(accountingViolations(reason, w.stats()), [])
    await exitOf(child)
  })

  test(`${way}: child stalls (SIGSTOP) then continues: flow control holds, child's sha256 matches`, async (t) => {
    const { child, stdin } = spawn('sha256sum', [], { stdio: ['writer', 'pipe', 'ignore'], bufferSize: 65536 })
    const w = stdin!
    withLostWakesDrain(w)
    const out = collect(child.stdout)
    child.kill('SIGSTOP')
    const data = bytes(6 * 1024 * 1024 + 17, 11)
    const sent = send(w, way, data, 1000 + (way.length * 37))
    // Stalled: the writer stops at the pipe plus its mark (and, for the adapters, their own queue:
    // resumed at the low-water mark, a stream hands over what it holds in one writev).
    await sleep(300)
    const stalled = w.stats()
    t.true(stalled.bytesWritten <= 1024 * 1024 + 4096, `written while stalled: ${stalled.bytesWritten}`)
    t.true(stalled.bytesBuffered <= 65536 + w.lowWaterMark + 1000 + 300, `buffered while stalled: ${stalled.bytesBuffered}`)
    child.kill('SIGCONT')
    const reason = await sent
    t.is(reason.code, 'DONE')
    t.true(reason.clean)
    t.deepEqual(accountingViolations(reason, w.stats()), [])
    t.is(reason.bytesWritten, data.length)
    t.is((await out).toString().split(/\s+/)[0], sha256(data))
  })

  test(`${way}: child exits early (head -c): READER_CLOSED, exact accounting, child got a prefix`, async (t) => {
    const { child, stdin } = spawn('head', ['-c', '100001'], { stdio: ['writer', 'pipe', 'ignore'] })
    const w = stdin!
    withLostWakesDrain(w)
    const out = collect(child.stdout)
    const data = bytes(4 * 1024 * 1024, 13)
    const reason = await send(w, way, data, 777)
    t.is(reason.code, 'READER_CLOSED')
    t.deepEqual(accountingViolations(reason, w.stats()), [])
    const got = await out
    t.is(got.length, 100001)
    t.true(got.equals(data.subarray(0, 100001)))
    t.true(reason.bytesWritten >= 100001)
  })
}
