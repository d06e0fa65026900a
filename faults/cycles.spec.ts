// Fault matrix: resource counts over many cycles, with stated bounds (issue 16, item 2).
// - 1,000 spawn + feed cycles (10 at a time): the fd count comes back to where it was exactly,
//   the thread count does not grow, every writer's native core is freed, and RSS grows by at most
//   RSS_BOUND after a warm-up (measured on a loaded 2-core machine: +9 to +14 MiB; before ended
//   writers could be collected, +16 to +22 MiB and every core kept).
// - 100 feeds of 2 MB in 100-byte chunks (the JS fast path): RSS grows by at most RSS_BOUND
//   from feed 20 to feed 100 (measured: flat, within 8 MiB; before: about +40 MiB over those 80
//   feeds, 0.5 MiB per writer that was never freed).
// - 100 ended writers kept referenced, after 2 MB each in 100-byte chunks: RSS grows by at most
//   KEPT_BOUND (measured +4.6 MiB; +32 MiB while their recycled slabs lived until collection).
// RSS is sampled after forced collections (--expose-gc); it is a bound on retention, not speed.
import test from 'ava'
import { feed, spawn } from '../lib/index.js'
import native from '../index.js'
import { MiB, exitOf, fdCount, rss, sleep, threadCount, waitFor } from './helpers.mjs'

const RSS_BOUND = 24 * MiB
const KEPT_BOUND = 16 * MiB
const liveCores = () => (native as unknown as { _liveCores(): number })._liveCores()
const gc = (globalThis as unknown as { gc: () => void }).gc

/** Collect a few times, letting finalizers and the I/O thread's hand-backs run in between. */
async function settle() {
  for (let i = 0; i < 5; i++) {
    gc()
    await sleep(20)
  }
}

async function spawnFeed(data: Uint8Array | Uint8Array[]) {
  const { child, stdin } = spawn('cat', [], { stdio: ['writer', 'ignore', 'ignore'] })
  const reason = await feed(stdin!, Array.isArray(data) ? data : [data])
  await exitOf(child)
  return reason.code
}

test.serial('1,000 spawn+feed cycles: fds back to the start, no new threads, every core freed, RSS bounded', async (t) => {
  const data = Buffer.alloc(1000, 7)
  for (let i = 0; i < 100; i++) await spawnFeed(data)
  await settle()
  const fds0 = fdCount()
  const threads0 = threadCount()
  const rss0 = rss()
  const codes = new Map<string, number>()
  for (let i = 0; i < 1000; i += 10) {
    for (const code of await Promise.all(Array.from({ length: 10 }, () => spawnFeed(data)))) codes.set(code, (codes.get(code) ?? 0) + 1)
    if (i % 200 === 190) await settle()
  }
  await settle()
  t.deepEqual([...codes], [['DONE', 1000]])
  // Node closes child stdio handles a little after 'close'.
  await waitFor(() => fdCount() <= fds0, 'the fd count to come back', 5000).catch(() => {})
  t.is(fdCount(), fds0, 'fds')
  t.true(threadCount() <= threads0, `threads ${threads0} -> ${threadCount()}`)
  await waitFor(() => liveCores() === 0, 'every native core to be freed', 5000).catch(() => {})
  t.is(liveCores(), 0, 'native cores still alive')
  const grown = rss() - rss0
  t.log(`RSS ${(rss0 / MiB).toFixed(1)} -> ${(rss() / MiB).toFixed(1)} MiB, fds ${fds0}, threads ${threads0} -> ${threadCount()}`)
  t.true(grown <= RSS_BOUND, `RSS grew by ${(grown / MiB).toFixed(1)} MiB`)
})

test.serial('100 feeds of 2 MB in 100-byte chunks: RSS bounded from feed 20 on, every core freed', async (t) => {
  const data = Buffer.alloc(2_000_000, 9)
  const chunks: Uint8Array[] = []
  for (let o = 0; o < data.length; o += 100) chunks.push(data.subarray(o, o + 100))
  for (let i = 0; i < 20; i++) t.is(await spawnFeed(chunks), 'DONE')
  await settle()
  const rss0 = rss()
  for (let i = 0; i < 80; i++) {
    t.is(await spawnFeed(chunks), 'DONE')
    if (i % 20 === 19) await settle()
  }
  await settle()
  await waitFor(() => liveCores() === 0, 'every native core to be freed', 5000).catch(() => {})
  t.is(liveCores(), 0, 'native cores still alive')
  const grown = rss() - rss0
  t.log(`RSS ${(rss0 / MiB).toFixed(1)} -> ${(rss() / MiB).toFixed(1)} MiB`)
  t.true(grown <= RSS_BOUND, `RSS grew by ${(grown / MiB).toFixed(1)} MiB`)
})

test.serial('ended writers still referenced keep no buffer memory: 100 kept after feeding 2 MB each in 100-byte chunks', async (t) => {
  // Their recycled slabs (up to 512 KiB each) are freed at the close, not when they are collected.
  const data = Buffer.alloc(2_000_000, 5)
  const chunks: Uint8Array[] = []
  for (let o = 0; o < data.length; o += 100) chunks.push(data.subarray(o, o + 100))
  const feedKept = async () => {
    const { child, stdin } = spawn('cat', [], { stdio: ['writer', 'ignore', 'ignore'] })
    t.is((await feed(stdin!, chunks)).code, 'DONE')
    await exitOf(child)
    return stdin!
  }
  for (let i = 0; i < 10; i++) await feedKept()
  await settle()
  const rss0 = rss()
  const kept = []
  for (let i = 0; i < 100; i++) kept.push(await feedKept())
  await settle()
  const grown = rss() - rss0
  t.log(`RSS ${(rss0 / MiB).toFixed(1)} -> ${(rss() / MiB).toFixed(1)} MiB with ${kept.length} ended writers referenced`)
  t.true(grown <= KEPT_BOUND, `RSS grew by ${(grown / MiB).toFixed(1)} MiB`)
})
