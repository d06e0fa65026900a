// What one call into ProcessWriter costs on the main thread, flow control out of the way
// (bufferSize 2 GiB): write() of small Buffers, writeSequence() per chunk, and a bare getter
// (bufferedAmount) as the floor of any call. Explains the small-write figures in BENCHMARKS.md.
//
//   node --import @oxc-node/core/register benchmark/call-cost.ts [chunkBytes=100] [calls=2000000] [--json]
//
// bench.ts runs it with --json (one JSON line: { chunk, rows: [{ label, nsPerCall, nsPerChunk }] }).
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createRequire } from 'node:module'
import * as path from 'node:path'

import { makeChunk, ROOT_DIR, SINK } from './workloads.ts'

const native = createRequire(path.join(ROOT_DIR, 'package.json'))('./index.js')
const json = process.argv.includes('--json')
const [size, calls] = [Number(process.argv[2] ?? 100), Number(process.argv[3] ?? 2_000_000)]
const log = (line: string) => json || console.log(line)
const seqLen = 64

const sequences = Math.floor(calls / seqLen)
const { readFd, writeFd } = native.openPipe()
const child = spawn(SINK, [String((calls + sequences * seqLen) * size)], { stdio: [readFd, 'ignore', 'inherit'] })
native.closeFd(readFd)
await once(child, 'spawn')
let lostResolve!: (r: { code: string }) => void
const lost = new Promise<{ code: string }>((resolve) => (lostResolve = resolve))
const writer = new native.ProcessWriter(writeFd, { bufferSize: 2 ** 31, onConnectionLost: lostResolve })

const rows: Array<{ label: string; nsPerCall: number; nsPerChunk: number }> = []
const time = (label: string, n: number, per: number, f: () => void) => {
  const t0 = process.hrtime.bigint()
  f()
  const ns = Number(process.hrtime.bigint() - t0) / n
  rows.push({ label, nsPerCall: Math.round(ns), nsPerChunk: Math.round(ns / per) })
  log(`${label.padEnd(40)} ${ns.toFixed(0).padStart(6)} ns/call${per > 1 ? ` = ${(ns / per).toFixed(0)} ns/chunk` : ''}`)
}

const chunk = makeChunk(size)
const seq = Array.from({ length: seqLen }, () => chunk)
time('bufferedAmount getter, idle writer', calls, 1, () => {
  for (let i = 0; i < calls; i++) writer.bufferedAmount
})
time(`write(${size} B Buffer)`, calls, 1, () => {
  for (let i = 0; i < calls; i++) writer.write(chunk)
})
time(`writeSequence(${seqLen} × ${size} B)`, sequences, seqLen, () => {
  for (let i = 0; i < sequences; i++) writer.writeSequence(seq)
})
time('bufferedAmount getter, while draining', calls, 1, () => {
  for (let i = 0; i < calls; i++) writer.bufferedAmount
})
const s = writer.stats()
log(`syscalls ${s.syscalls} for ${s.writes} write calls (${(s.bytesAccepted / s.syscalls).toFixed(0)} B per syscall so far)`)
writer.loseConnection()
const [reason] = await Promise.all([lost, once(child, 'close')])
log(`connection lost: ${reason.code}, sink exit ${child.exitCode}`)
if (json) console.log(JSON.stringify({ chunk: size, ok: reason.code === 'DONE' && child.exitCode === 0, rows }))
