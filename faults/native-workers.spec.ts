// Fault matrix, native side: workers terminated at random points inside spawn().
// The pipe fds were raw numbers in JavaScript between openPipe and the child's spawn, closed in a
// `finally` that never runs when a worker is terminated (issue 16, item 4: 1 to 8 fds leaked per
// 100 terminations). They are held natively now, and closed at the worker's env cleanup.
import test from 'ava'
import { runNode } from './helpers.mjs'

/** In a fresh node: terminate `rounds` workers that loop over `body`, report the fd counts. */
const script = (rounds: number, body: string, lib: string) => `
  const { Worker } = require('node:worker_threads')
  const fs = require('node:fs')
  const count = () => fs.readdirSync('/proc/self/fd').length
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
  const code = \`
    const PW = require(${JSON.stringify(lib)})
    const { parentPort } = require('node:worker_threads')
    let first = true
    for (;;) {
      ${body}
      if (first) { parentPort.postMessage('running'); first = false }
    }
  \`
  ;(async () => {
    // One worker run to the end first, so lazily opened fds (the I/O thread's poller) are there.
    const warm = new Worker(code.replace('for (;;)', 'for (let i = 0; i < 3; i++)'), { eval: true })
    await new Promise((r) => warm.once('exit', r))
    await sleep(100)
    const before = count()
    let seed = 12345
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) % 1000) / 1000
    for (let i = 0; i < ${rounds}; i++) {
      const w = new Worker(code, { eval: true })
      await new Promise((r) => w.once('message', r))
      await sleep(rand() * 15)
      await w.terminate()
    }
    // Children exit, the I/O thread closes what the torn-down writers held.
    for (let i = 0; i < 50 && count() > before; i++) await sleep(20)
    console.log(JSON.stringify({ before, after: count() }))
  })()
`

const cases: [string, string][] = [
  ['spawn', `const r = PW.spawn('true', [], { stdio: ['writer', 'ignore', 'ignore'] }); r.stdin.write(Buffer.alloc(10)); r.stdin.loseConnection()`],
]

for (const [what, body] of cases) {
  test(`workers terminated at random points inside ${what}(): no fd leaks (60 terminations)`, async (t) => {
    const root = new URL('..', import.meta.url).pathname
    const r = await runNode(script(60, body, root + 'lib/index.js'), { ms: 120_000 })
    t.is(r.code, 0, r.stderr.slice(0, 500))
    const out = JSON.parse(r.stdout.trim().split('\n').pop() || '{}')
    t.log(`fds before ${out.before}, after 60 terminations ${out.after}`)
    t.is(out.after, out.before, 'every fd opened inside a terminated worker was closed')
  })
}
