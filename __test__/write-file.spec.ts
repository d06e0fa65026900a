// writer.writeFile(): file ranges and pipes moved by the I/O thread (splice / sendfile /
// copy_file_range, or the read-and-write fallback), in order with byte writes, against real
// children. Behaviour only, never speed.
import anyTest from 'ava'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

import { ProcessWriter, createPipe } from '../lib/index.js'
import {
  KiB,
  LONG,
  MiB,
  attachReader,
  bytes,
  closeFd,
  fdLeakGuard,
  lostTracker,
  openPipe,
  pipeWriter,
  settle,
  sha256,
  spawnChild,
  spawnWithWriter,
  waitFor,
  withTimeout,
} from './helpers.mjs'
import { fsFdOwner, posixOnly } from './platform.mjs'

const test = posixOnly(anyTest, 'writeFile takes regular files only there (an anonymous pipe cannot be polled)', [
  'a pipe source',
])
/** The transports to try: no socketpair on Windows (`createPipe` refuses it there). */
const onThisPlatform = <T extends object>(options: T[]): T[] =>
  process.platform === 'win32' ? options.filter((o) => !('transport' in o)) : options

fdLeakGuard(test)

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-writefile-'))
test.after.always(() => fs.rmSync(dir, { recursive: true, force: true }))
let nFiles = 0
function tempFile(data: Buffer): string {
  const file = path.join(dir, `f${nFiles++}.bin`)
  fs.writeFileSync(file, data)
  return file
}

const NO_KERNEL_COPY = 'PROCESS_WRITER_NO_KERNEL_COPY'
/** Queue `source` with the kernel mechanisms turned off (the switch is read by the call). */
function viaFallback(w: { writeFile: ProcessWriter['writeFile'] }, ...args: Parameters<ProcessWriter['writeFile']>) {
  process.env[NO_KERNEL_COPY] = '1'
  try {
    return w.writeFile(...args)
  } finally {
    delete process.env[NO_KERNEL_COPY]
  }
}

const data = bytes(3 * MiB + 4321, 9) // larger than any pipe here
const file = tempFile(data)
const empty = tempFile(Buffer.alloc(0))

async function shaOfChild(c: { stdout: Promise<Buffer> }): Promise<string> {
  return (await withTimeout(c.stdout, LONG, 'child output')).toString().split(/\s+/)[0]
}

for (const mode of ['kernel', 'fallback'] as const) {
  const queue = (w: any, ...a: Parameters<ProcessWriter['writeFile']>) => (mode === 'kernel' ? w.writeFile(...a) : viaFallback(w, ...a))

  test(`${mode}: whole files, ranges and empty files arrive exactly (sha256)`, async (t) => {
    const cases: Array<[Parameters<ProcessWriter['writeFile']>[1], Buffer, string]> = [
      [undefined, data, file],
      [{ start: 1000, end: 2 * MiB + 7 }, data.subarray(1000, 2 * MiB + 7), file],
      [{ start: 5 }, data.subarray(5), file],
      [{ end: 10 }, data.subarray(0, 10), file],
      [{ start: 77, end: 77 }, Buffer.alloc(0), file],
      [{ start: data.length + 10 }, Buffer.alloc(0), file],
      [undefined, Buffer.alloc(0), empty],
    ]
    for (const [range, expected, f] of cases) {
      const c = spawnWithWriter('sha256sum')
      const moved = await withTimeout(queue(c.w, f, range), LONG, 'writeFile')
      t.is(moved, expected.length, JSON.stringify(range))
      c.w.loseConnection()
      const reason = await withTimeout(c.lost, LONG, 'DONE')
      t.is(reason.code, 'DONE')
      t.true(reason.clean)
      t.is(reason.bytesWritten, expected.length)
      t.is(await shaOfChild(c), sha256(expected), JSON.stringify(range))
    }
  })

  test(`${mode}: a writeFile between byte writes keeps its place; counters include the file`, async (t) => {
    const c = spawnWithWriter('sha256sum')
    const head = bytes(200 * KiB, 1)
    const tail = bytes(100, 2)
    c.w.write(head)
    const fh = await fs.promises.open(file, 'r')
    const p1 = queue(c.w, fh, { start: 0, end: MiB })
    await fh.close() // the writer has its own duplicate
    c.w.write(Buffer.from('|'))
    const p2 = queue(c.w, file, { start: MiB })
    c.w.write(tail)
    c.w.loseConnection()
    t.deepEqual(await withTimeout(Promise.all([p1, p2]), LONG), [MiB, data.length - MiB])
    const reason = await withTimeout(c.lost, LONG, 'DONE')
    const total = head.length + data.length + 1 + tail.length
    t.is(reason.bytesWritten, total)
    const st = c.w.stats()
    t.is(st.bytesWritten, total)
    t.is(st.bytesAccepted, total)
    t.is(await shaOfChild(c), sha256(head, data.subarray(0, MiB), Buffer.from('|'), data.subarray(MiB), tail))
  })
}

test('the TS wrapper flushes its staged small writes before the file', async (t) => {
  const { readFd, writer } = createPipe()
  const c = attachReader(readFd, 'sha256sum')
  writer.write(Buffer.from('small'))
  const p = writer.writeFile(file, { end: 1000 })
  writer.write(Buffer.from('after'))
  writer.loseConnection()
  t.is(await withTimeout(p), 1000)
  t.is(await shaOfChild(c), sha256(Buffer.from('small'), data.subarray(0, 1000), Buffer.from('after')))
})

test('the reader leaving mid-file: READER_CLOSED, the Promise rejects, the counts add up', async (t) => {
  const c = spawnWithWriter('head', ['-c', '100000'])
  c.w.write(bytes(1000, 3))
  const p = c.w.writeFile(file)
  const err: any = await withTimeout(t.throwsAsync(p), LONG, 'rejection')
  t.is(err.code, 'READER_CLOSED')
  const reason = await withTimeout(c.lost, LONG, 'loss')
  t.is(reason.code, 'READER_CLOSED')
  t.false(reason.clean, 'the rest of the file never reached the reader')
  t.is(err.reason, c.w.lostReason)
  t.true(err.bytesWritten > 0 && err.bytesWritten < data.length)
  t.is(reason.bytesWritten, 1000 + err.bytesWritten)
  const st = c.w.stats()
  t.is(st.bytesAccepted, st.bytesWritten + st.bytesUnwritten + st.bytesBuffered)
  t.is((await c.stdout).length, 100000)
})

test('a missing path, a directory, a write-only fd, bad arguments: coded rejections, nothing written', async (t) => {
  const c = spawnWithWriter('wc', ['-c'])
  const wo = fs.openSync(path.join(dir, 'write-only'), 'w')
  try {
    const cases: Array<[unknown, unknown, string]> = [
      [path.join(dir, 'no-such-file'), undefined, 'ENOENT'],
      [dir, undefined, 'EISDIR'],
      [wo, undefined, 'ERR_FD_NOT_READABLE'],
      [99999, undefined, 'EBADF'],
      [{}, undefined, 'ERR_INVALID_ARG_TYPE'],
      [-1, undefined, 'ERR_OUT_OF_RANGE'],
      [file, { start: 10, end: 5 }, 'ERR_OUT_OF_RANGE'],
      [file, { start: 'x' }, 'ERR_INVALID_ARG_TYPE'],
      [file, 7, 'ERR_INVALID_ARG_TYPE'],
    ]
    for (const [source, options, code] of cases) {
      const err: any = await t.throwsAsync((c.w.writeFile as any)(source, options))
      t.is(err.code, code, String(source))
      t.is(err.bytesWritten, 0)
    }
  } finally {
    fs.closeSync(wo)
  }
  t.is(c.w.stats().bytesWritten, 0)
  c.w.loseConnection()
  t.is((await withTimeout(c.lost)).code, 'DONE')
  t.is((await c.stdout).toString().trim(), '0')
})

test('a file that grows or shrinks while it is fed: read to the end of file each call finds', async (t) => {
  // The pipe is full and has no reader yet, so the feed stops after one pipe's worth; then the
  // file changes, then the reader comes.
  const grow = tempFile(bytes(300 * KiB, 4))
  const p = pipeWriter()
  const moved = p.w.writeFile(grow)
  await waitFor(() => p.w.stats().bytesWritten > 0, 'pipe filled')
  const more = bytes(200 * KiB, 5)
  fs.appendFileSync(grow, more)
  const c = attachReader(p.readFd, 'sha256sum')
  t.is(await withTimeout(moved), 500 * KiB, 'bytes appended before the end was reached are fed')
  p.w.loseConnection()
  t.is(await shaOfChild(c), sha256(fs.readFileSync(grow)))

  const shrink = tempFile(bytes(2 * MiB, 6))
  const q = pipeWriter()
  const qMoved = q.w.writeFile(shrink, { end: 2 * MiB })
  await waitFor(() => q.w.stats().bytesWritten > 0, 'pipe filled')
  await settle(20)
  const before = q.w.stats().bytesWritten
  t.true(before < 300 * KiB, 'stopped at the full pipe')
  fs.truncateSync(shrink, 300 * KiB)
  const d = attachReader(q.readFd, 'sha256sum')
  t.is(await withTimeout(qMoved), 300 * KiB, 'a shortened file resolves with the bytes it had')
  q.w.loseConnection()
  t.is(await shaOfChild(d), sha256(bytes(2 * MiB, 6).subarray(0, 300 * KiB)))
})

test('abortConnection() mid-file: ABORTED, the Promise rejects, later writes are refused', async (t) => {
  const p = pipeWriter()
  const moved = p.w.writeFile(file)
  const after = p.w.writeFile(file)
  await waitFor(() => p.w.stats().bytesWritten > 0, 'pipe filled')
  t.is(p.w.bufferedAmount, 0, 'a file range is not held in memory, so not buffered')
  t.true(p.w.write(Buffer.from('queued behind the files')))
  t.is(p.w.bufferedAmount, 23)
  p.w.abortConnection()
  const [e1, e2]: any[] = await Promise.all([t.throwsAsync(moved), t.throwsAsync(after)])
  t.is(e1.code, 'ABORTED')
  t.is(e2.code, 'ABORTED')
  t.is(e2.bytesWritten, 0)
  const reason = await withTimeout(p.lost)
  t.is(reason.code, 'ABORTED')
  t.is(reason.bytesWritten, e1.bytesWritten)
  t.is(reason.bytesUnwritten, 23)
  const late: any = await t.throwsAsync(p.w.writeFile(file))
  t.is(late.code, 'ABORTED')
  closeFd(p.readFd)
})

test('a pipe source (blocking mode) is moved until its end, and its idle waits stall no other writer', async (t) => {
  const src = openPipe()
  const c = spawnWithWriter('sha256sum')
  const moved = c.w.writeFile(src.readFd)
  closeFd(src.readFd) // the writer has its own duplicate
  // While the source is empty, the I/O thread serves another writer.
  const other = spawnWithWriter('wc', ['-c'])
  other.w.write(bytes(500 * KiB))
  other.w.loseConnection()
  t.is((await withTimeout(other.lost, LONG, 'the other writer')).code, 'DONE')
  t.is((await other.stdout).toString().trim(), String(500 * KiB))
  // Then a producer process writes into the source pipe and exits.
  const producer = spawnChild('cat', [file], ['ignore', src.writeFd, 'pipe'], [src.writeFd])
  t.is(await withTimeout(moved, LONG, 'end of the pipe'), data.length)
  await producer.exit
  c.w.loseConnection()
  t.is(await shaOfChild(c), sha256(data))
})

if (process.platform === 'win32') {
  test('Windows: a pipe source rejects with ERR_FEATURE_UNAVAILABLE_ON_PLATFORM, and the writer goes on', async (t) => {
    const src = openPipe()
    const c = spawnWithWriter('sha256sum')
    const err: any = await t.throwsAsync(c.w.writeFile(src.readFd))
    t.is(err.code, 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM')
    t.is(err.bytesWritten, 0)
    closeFd(src.readFd)
    closeFd(src.writeFd)
    t.is(await withTimeout(c.w.writeFile(file)), data.length)
    c.w.loseConnection()
    t.is(await shaOfChild(c), sha256(data))
  })
}

test('zeroCopy and socketpair writers take files between their byte writes', async (t) => {
  const head = bytes(300 * KiB, 7)
  const tail = bytes(40 * KiB, 8)
  for (const options of onThisPlatform<object>([{ zeroCopy: true }, { transport: 'socketpair' as const }])) {
    const { readFd, writer } = createPipe(options)
    const tr = lostTracker()
    writer.onConnectionLost = tr.onConnectionLost
    const c = attachReader(readFd, 'sha256sum')
    writer.write(head)
    const p = writer.writeFile(file)
    writer.write(tail)
    const q = writer.writeFile(file, { start: 10, end: 20 })
    writer.loseConnection()
    t.deepEqual(await withTimeout(Promise.all([p, q])), [data.length, 10])
    t.is((await withTimeout(tr.lost)).code, 'DONE')
    t.is(await shaOfChild(c), sha256(head, data, tail, data.subarray(10, 20)), JSON.stringify(options))
  }
})

fsFdOwner(test)('a file into a regular file and into /dev/null (copy_file_range, sendfile)', async (t) => {
  const out = path.join(dir, 'copy.bin')
  const w = new ProcessWriter(fs.openSync(out, 'w'))
  w.write(Buffer.from('<'))
  const p = w.writeFile(file, { start: 3 })
  w.write(Buffer.from('>'))
  w.loseConnection()
  t.is(await withTimeout(p), data.length - 3)
  await withTimeout(waitFor(() => w.lostReason !== null, 'closed'))
  t.is(sha256(fs.readFileSync(out)), sha256(Buffer.from('<'), data.subarray(3), Buffer.from('>')))
  const n = new ProcessWriter(fs.openSync('/dev/null', 'w'))
  t.is(await withTimeout(n.writeFile(file)), data.length)
  n.loseConnection()
})

test('random interleavings of writes and file ranges, on every transport and both paths: the child gets them in order', async (t) => {
  let seed = 12345
  const rand = (n: number) => {
    seed ^= seed << 13
    seed ^= seed >>> 17
    seed ^= seed << 5
    return (seed >>> 0) % n
  }
  const transports = onThisPlatform<object>([{}, { zeroCopy: true }, { transport: 'socketpair' as const }])
  for (let round = 0; round < 6; round++) {
    const options = transports[round % transports.length]
    const { readFd, writer } = createPipe(options)
    const tr = lostTracker()
    writer.onConnectionLost = tr.onConnectionLost
    const c = attachReader(readFd, 'sha256sum')
    const expected: Buffer[] = []
    const moved: Array<Promise<number>> = []
    for (let i = 0; i < 12; i++) {
      if (rand(3) === 0) {
        const start = rand(data.length)
        const end = start + rand(Math.min(data.length - start, 600 * KiB) + 1)
        moved.push(rand(2) ? writer.writeFile(file, { start, end }) : viaFallback(writer, file, { start, end }))
        expected.push(data.subarray(start, end))
      } else {
        const chunk = bytes([1, 100, 5000, 40 * KiB, 200 * KiB][rand(5)], i + round * 100)
        writer.write(chunk)
        expected.push(chunk)
      }
      if (rand(4) === 0) await settle(rand(5))
    }
    writer.loseConnection()
    await withTimeout(Promise.all(moved))
    const reason = await withTimeout(tr.lost)
    t.is(reason.code, 'DONE')
    t.is(reason.bytesWritten, Buffer.concat(expected).length)
    t.is(await shaOfChild(c), sha256(...expected), `round ${round} ${JSON.stringify(options)}`)
  }
})

test("an fd's range starts at its position by default (and is left there); the writer's duplicate is closed", async (t) => {
  const f = tempFile(data.subarray(0, 10000))
  const fdsOnFile = () =>
    fs.readdirSync('/proc/self/fd').filter((n) => {
      try {
        return fs.readlinkSync(`/proc/self/fd/${n}`) === f
      } catch {
        return false
      }
    }).length
  const fd = fs.openSync(f, 'r')
  fs.readSync(fd, Buffer.alloc(10), 0, 10, null) // position 10, as after `head -c 10` on `< FILE`
  const c = spawnWithWriter('sha256sum')
  const p = c.w.writeFile(fd, { end: 5000 })
  c.w.loseConnection()
  t.is(await withTimeout(p), 4990)
  t.is(await shaOfChild(c), sha256(data.subarray(10, 5000)))
  const next = Buffer.alloc(4)
  fs.readSync(fd, next, 0, 4, null)
  t.deepEqual(next, data.subarray(10, 14), 'the position was not moved')
  // (The fd count reads /proc: Linux only.)
  const counted = process.platform === 'linux'
  if (counted) await waitFor(() => fdsOnFile() === 1, "the writer's duplicate closed")
  fs.closeSync(fd)
  if (counted) t.is(fdsOnFile(), 0)
})
