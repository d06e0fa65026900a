// Issue 16, item 2: ended writers are garbage-collected, through every entry point, even when
// their callbacks mention them; a writer dropped while open is collected and its fd closed; a busy
// writer nobody references still delivers its callbacks. Runs with --expose-gc (faults/ava.config).
//
// What holds (src/writer.rs, `Slots`): a writer's callbacks, producer and reason live on the
// writer object. The native side references them strongly only while the writer holds the
// process (data buffered, a close or abort on its way, or `ref()`, which `closed()` calls), until
// the end has been delivered; otherwise weakly.
import test from 'ava'
import { spawn as nodeSpawn } from 'node:child_process'
import { readlinkSync } from 'node:fs'
import { ProcessWriter, closed, closeFd, createPipe, feed, openPipe, spawn, toWebWritable, toWritable } from '../lib/index.js'
import native from '../index.js'
import { collectUntilGone, exitOf, fdTable, sleep, waitFor } from './helpers.mjs'

const N = 8

/** Spawn `cat`, run `use` on its writer, wait for the end; returns only a WeakRef. */
async function endedVia(use: (w: ProcessWriter) => Promise<unknown>, options: Parameters<typeof spawn>[2] = {}) {
  const { child, stdin } = spawn('cat', [], { stdio: ['writer', 'ignore', 'ignore'], ...options })
  const w = stdin!
  // Callbacks that mention the writer: they must not keep it alive once it ended.
  w.onDrain = () => void w.bufferedAmount
  const prev = w.onConnectionLost
  w.onConnectionLost = (r) => {
    void w.fileno
    prev?.call(w, r)
  }
  const ref = new WeakRef(w)
  await use(w)
  if (w.connected) {
    w.loseConnection()
    await closed(w)
  }
  await exitOf(child)
  return ref
}

const entries: Record<string, () => Promise<WeakRef<object>>> = {
  'new (bare native class)': async () => {
    const { readFd, writeFd } = openPipe()
    const w = new native.ProcessWriter(writeFd, {})
    let done!: () => void
    const lost = new Promise<void>((r) => (done = r))
    w.onConnectionLost = () => (void w.fileno, done())
    w.write(Buffer.alloc(100))
    w.loseConnection()
    closeFd(readFd) // no reader: READER_CLOSED or DONE, either ends it
    const ref = new WeakRef(w)
    await lost
    return ref
  },
  'new (exported class)': async () => {
    const { readFd, writeFd } = openPipe()
    const w = new ProcessWriter(writeFd)
    const lost = closed(w)
    w.write(Buffer.alloc(100))
    w.abortConnection()
    closeFd(readFd)
    const ref = new WeakRef(w)
    await lost
    return ref
  },
  'createPipe': async () => {
    const { readFd, writer } = createPipe()
    closeFd(readFd)
    writer.write(Buffer.alloc(10))
    const ref = new WeakRef(writer)
    await closed(writer)
    return ref
  },
  spawn: () => endedVia(async (w) => (w.write(Buffer.alloc(1000)), w.loseConnection(), closed(w))),
  'spawn({signal})': () => endedVia(async (w) => (w.write(Buffer.alloc(1000)), w.loseConnection(), closed(w)), { signal: new AbortController().signal }),
  feed: () => endedVia((w) => feed(w, [Buffer.alloc(1000), Buffer.alloc(100_000)])),
  toWritable: () =>
    endedVia(async (w) => {
      const s = toWritable(w)
      await new Promise<void>((r) => s.end(Buffer.alloc(1000), () => r()))
    }),
  toWebWritable: () =>
    endedVia(async (w) => {
      const ws = toWebWritable(w).getWriter()
      await ws.write(Buffer.alloc(1000))
      await ws.close()
    }),
  closed: () => endedVia(async (w) => (closed(w), w.write(Buffer.alloc(10)), w.loseConnection(), closed(w))),
  'child exits (READER_CLOSED)': async () => {
    const { child, stdin } = spawn('true', [], { stdio: ['writer', 'ignore', 'ignore'] })
    const w = stdin!
    w.onConnectionLost = () => void w.fileno
    const ref = new WeakRef(w)
    await closed(w)
    await exitOf(child)
    return ref
  },
}

for (const [name, make] of Object.entries(entries)) {
  test(`${name}: ended writers are collected, callbacks mentioning them or not`, async (t) => {
    const refs: WeakRef<object>[] = []
    for (let i = 0; i < N; i++) refs.push(await make())
    t.is(await collectUntilGone(refs), 0)
  })
}

/** An open, idle writer whose callback mentions it, dropped: returns its read end and a WeakRef. */
function dropOpenWriter(Cls: typeof native.ProcessWriter) {
  const { readFd, writeFd } = openPipe()
  const w = new Cls(writeFd)
  w.onConnectionLost = () => void w.fileno
  w.onDrain = () => void w.fileno
  w.registerProducer({ resumeProducing() {}, stopProducing() {}, writer: w } as never, false)
  return { readFd, ref: new WeakRef(w) }
}

for (const [name, Cls] of [
  ['bare native class', native.ProcessWriter],
  ['exported class', ProcessWriter],
] as const) {
  test(`${name}: a writer dropped while open (callbacks and a pull producer mention it) is collected and its fd closed`, async (t) => {
    const dropped = Array.from({ length: N }, () => dropOpenWriter(Cls as typeof native.ProcessWriter))
    t.is(await collectUntilGone(dropped.map((d) => d.ref)), 0)
    // The write ends are closed (flushed, then closed by the I/O thread): no fd of this process
    // refers to those pipes any more but the read ends.
    const pipeOf = (fd: number) => readlinkSync(`/proc/self/fd/${fd}`)
    const pipes = new Set(dropped.map(({ readFd }) => pipeOf(readFd)))
    const writeEndsOpen = () => [...fdTable()].filter(([fd, target]) => pipes.has(target) && !dropped.some((d) => d.readFd === fd))
    await waitFor(() => writeEndsOpen().length === 0, 'the dropped writers to close their fds', 10_000).catch(() => {})
    t.deepEqual(writeEndsOpen(), [])
    for (const { readFd } of dropped) closeFd(readFd)
  })
}

test('a busy writer nobody references still flushes, closes and calls back (its callbacks are held while busy)', async (t) => {
  let resolve!: (code: string) => void
  const called = new Promise<string>((r) => (resolve = r))
  // Only the child and the callback survive this function; the callback does not mention the writer.
  const child = (() => {
    const { readFd, writer } = createPipe()
    const c = nodeSpawn('wc', ['-c'], { stdio: [readFd, 'pipe', 'ignore'] })
    closeFd(readFd)
    writer.onConnectionLost = (r) => resolve(r.code)
    writer.write(Buffer.alloc(3 << 20))
    writer.loseConnection()
    return c
  })()
  const out: Buffer[] = []
  child.stdout!.on('data', (d) => out.push(d))
  for (let i = 0; i < 5; i++) {
    ;(globalThis as any).gc()
    await sleep(5)
  }
  t.is(await called, 'DONE')
  await exitOf(child)
  t.is(Number(Buffer.concat(out).toString().trim()), 3 << 20)
})
