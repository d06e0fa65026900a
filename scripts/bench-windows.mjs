// ProcessWriter vs child.stdin, feeding a node child that counts what it reads: 64 KiB and 1 MiB
// chunks, alternating runs, best of each. Written for `npm run test:windows -- --bench` (Windows
// node.exe under wine, where the figures are wine's, not Windows'), and runs anywhere:
//   node scripts/bench-windows.mjs [MiB per run, default 256] [runs, default 3]
// PIPE_SIZE=n sets the writer's pipeSize (default: spawn's, 1 MiB).
import { spawn as nodeSpawn } from 'node:child_process'
import { createRequire } from 'node:module'
const require = createRequire(import.meta.url)
const { spawn } = require('../lib/index.js')

const TOTAL = Number(process.argv[2] ?? 256) << 20
const RUNS = Number(process.argv[3] ?? 3)
const SINK = `let n = 0; process.stdin.on('data', (d) => { n += d.length }); process.stdin.on('end', () => process.stdout.write(String(n)))`

function output(child) {
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`sink exited ${code}`))))
  })
}

async function viaWriter(chunk) {
  const pipeSize = process.env.PIPE_SIZE ? Number(process.env.PIPE_SIZE) : undefined
  const { child, stdin } = spawn(process.execPath, ['-e', SINK], { stdio: ['writer', 'pipe', 'inherit'], pipeSize })
  const done = output(child)
  await new Promise((r) => setTimeout(r, 300)) // the child's start is not measured
  const t0 = process.hrtime.bigint()
  let sent = 0
  await new Promise((resolve) => {
    const pump = () => {
      while (sent < TOTAL) {
        sent += chunk.length
        if (!stdin.write(chunk)) return
      }
      stdin.onDrain = null
      stdin.loseConnection()
      resolve()
    }
    stdin.onDrain = pump
    pump()
  })
  const got = Number(await done)
  const s = Number(process.hrtime.bigint() - t0) / 1e9
  if (got !== sent) throw new Error(`writer: the sink counted ${got} of ${sent}`)
  return { mbps: sent / s / 1e6, stats: stdin.stats() }
}

async function viaStdin(chunk) {
  const child = nodeSpawn(process.execPath, ['-e', SINK], { stdio: ['pipe', 'pipe', 'inherit'] })
  const done = output(child)
  await new Promise((r) => setTimeout(r, 300))
  const t0 = process.hrtime.bigint()
  let sent = 0
  await new Promise((resolve) => {
    const pump = () => {
      while (sent < TOTAL) {
        sent += chunk.length
        if (!child.stdin.write(chunk)) return child.stdin.once('drain', pump)
      }
      child.stdin.end()
      resolve()
    }
    pump()
  })
  const got = Number(await done)
  const s = Number(process.hrtime.bigint() - t0) / 1e9
  if (got !== sent) throw new Error(`stdin: the sink counted ${got} of ${sent}`)
  return { mbps: sent / s / 1e6 }
}

console.log(`node ${process.version} ${process.platform}-${process.arch}, ${TOTAL >> 20} MiB per run, ${RUNS} alternating runs`)
for (const size of [64 << 10, 1 << 20]) {
  const chunk = Buffer.alloc(size, 0x61)
  const pw = []
  const node = []
  let stats
  for (let i = 0; i < RUNS; i++) {
    const r = await viaWriter(chunk)
    pw.push(r.mbps)
    stats = r.stats
    node.push((await viaStdin(chunk)).mbps)
  }
  const best = (a) => Math.max(...a)
  const fmt = (a) => a.map((x) => x.toFixed(0)).join(', ')
  console.log(
    `${size >> 10} KiB chunks: ProcessWriter ${fmt(pw)} MB/s, child.stdin ${fmt(node)} MB/s; best ${best(pw).toFixed(0)} vs ${best(node).toFixed(0)}, ratio ${(best(pw) / best(node)).toFixed(2)}x` +
      ` (writer syscalls ${stats.syscalls}, pauses ${stats.pauses}, pipe ${stats.pipeCapacity >> 10} KiB)`,
  )
}
