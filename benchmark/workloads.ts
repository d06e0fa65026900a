// What is fed, and the shape of one measurement. Shared by bench.ts (the driver), run-one.ts (the
// JS worker), report.ts and, by convention, twisted_feed.py and native/raw_writer.c.
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'

import type { WorkloadKind } from './contenders.ts'

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url))
export const ROOT_DIR = path.dirname(BENCH_DIR)
export const BUILD_DIR = path.join(BENCH_DIR, 'build')
export const SINK = path.join(BUILD_DIR, 'sink')
export const RAW_WRITER = path.join(BUILD_DIR, 'raw_writer')

export const KiB = 1024
export const MiB = 1024 * KiB
export const GiB = 1024 * MiB

export interface Workload {
  id: string
  kind: WorkloadKind
  title: string
  /** bytes per chunk (per write call, or per element of a sequence) */
  chunk: number
  /** chunks per writeSequence / writev / cork group (`sequence`) */
  seqLen: number
  /** children fed at once (`concurrent`) */
  children: number
  /** fixed total bytes (`slow`); otherwise calibrated to last about targetSeconds */
  fixedTotal: number
  /** the sink's read rate in bytes/s (`slow`) */
  slowRate: number
  /** a fresh `Buffer.from()` copy of the chunk for every write, as most code does */
  fresh?: boolean
  /** `file`, `pipein`, `gunzip`: which input file (prepared by bench.ts, see `inputFile`) */
  input?: InputKind
}

/** Input files the main-job workloads read (page-cached before the runs). */
export type InputKind = 'plain' | 'gzip'

/** One run of one contender on one workload: what the driver passes to a worker. */
export interface RunSpec {
  contender: string
  workload: string
  kind: WorkloadKind
  chunk: number
  seqLen: number
  children: number
  /** total bytes over all children; a multiple of chunk * seqLen * children */
  total: number
  slowRate: number
  sink: string
  /** The placement probe only (contenders are never pinned): the CPU of each thread. */
  pin?: Pin
  fresh?: boolean
  /** `file`, `pipein`, `gunzip`: the input file's path (for `gunzip`, the .gz; `total` is its content's size) */
  file?: string
}

/** Where the placement probe pins a ProcessWriter run: the JS thread, the I/O thread, the sink. */
export interface Pin {
  js: number
  io: number
  sink: number
}

/** What a worker prints (one JSON line). Unavailable figures are null. */
export interface RunResult {
  ok: boolean
  error?: string
  contender: string
  workload: string
  bytes: number
  /** from the first write to every child's exit */
  seconds: number
  /** bytes per second */
  throughput: number
  /** main-thread event-loop utilisation while feeding (JS only) */
  elu: number | null
  /** CPU time (user + system) of the feeding process, seconds */
  cpuSeconds: number | null
  cpuPerGiB: number | null
  /** resident set of the feeding process when idle, just before feeding */
  rssBaseline: number | null
  /** peak resident set while feeding (VmHWM after a reset, else sampled) */
  rssPeak: number | null
  syscalls: number | null
  extra?: Record<string, unknown>
}

export function defaultWorkloads(quick: boolean, slowTotal?: number, slowRate?: number): Workload[] {
  const base = { seqLen: 1, children: 1, fixedTotal: 0, slowRate: 0 }
  const sizes: Array<[string, number]> = [
    ['100B', 100],
    ['4KiB', 4 * KiB],
    ['64KiB', 64 * KiB],
    ['1MiB', MiB],
  ]
  return [
    ...sizes.map(([name, chunk]) => ({ ...base, id: `chunks-${name}`, kind: 'chunks' as const, title: `${name} writes`, chunk })),
    { ...base, id: 'seq-64x100B', kind: 'sequence', title: 'writeSequence of 64 × 100 B', chunk: 100, seqLen: 64 },
    { ...base, id: 'concurrent-64', kind: 'concurrent', title: '64 children at once, 64 KiB writes', chunk: 64 * KiB, children: quick ? 4 : 64 },
    // The way most code writes: a push producer (registerProducer; Node: write until false, then
    // 'drain'), and a fresh Buffer.from() copy of the chunk for every write.
    ...sizes.slice(0, 3).map(([name, chunk]) => ({
      ...base,
      id: `producer-${name}`,
      kind: 'producer' as const,
      title: `push producer, a fresh Buffer.from() per ${name} write`,
      chunk,
      fresh: true,
    })),
    {
      ...base,
      id: 'slow-child',
      kind: 'slow',
      title: 'push producer into a slow child, 64 KiB writes',
      chunk: 64 * KiB,
      fixedTotal: slowTotal ?? (quick ? 16 * MiB : 4 * GiB),
      slowRate: slowRate ?? (quick ? 256 * MiB : GiB),
    },
    {
      ...base,
      id: 'slow-256',
      kind: 'slowmany',
      title: '256 slow children fed by push producers (defaults), a fresh Buffer.from() per 64 KiB write',
      chunk: 64 * KiB,
      children: quick ? 8 : 256,
      fixedTotal: quick ? 8 * 4 * MiB : 256 * 8 * MiB,
      slowRate: 4 * MiB,
      fresh: true,
    },
    // The main job: a page-cached file (or a pipe, or a stream) into a child.
    { ...base, id: 'file', kind: 'file', title: `${quick ? '64 MiB' : '2 GiB'} page-cached file into a child`, chunk: 64 * KiB, fixedTotal: quick ? 64 * MiB : 2 * GiB, input: 'plain' },
    { ...base, id: 'pipe-in', kind: 'pipein', title: `a pipe in, a child out: cat FILE (${quick ? '64 MiB' : '2 GiB'}) | … | sink`, chunk: 64 * KiB, fixedTotal: quick ? 64 * MiB : 2 * GiB, input: 'plain' },
    {
      ...base,
      id: 'gunzip',
      kind: 'gunzip',
      title: `a generic stream: zlib gunzip of a compressible file (${quick ? '16 MiB' : '512 MiB'} out) into a child`,
      chunk: 64 * KiB,
      fixedTotal: quick ? 16 * MiB : 512 * MiB,
      input: 'gzip',
    },
  ]
}

/** Where bench.ts keeps the input of the main-job workloads (bytes = the content's size). */
export function inputFile(kind: InputKind, bytes: number): string {
  return path.join(BUILD_DIR, kind === 'gzip' ? `input-${bytes}.gz` : `input-${bytes}.bin`)
}

/** The chunk every contender writes: byte i = (i * 31 + 7) & 255 (raw_writer.c and twisted_feed.py agree). */
export function makeChunk(size: number): Buffer {
  const b = Buffer.allocUnsafe(size)
  for (let i = 0; i < size; i++) b[i] = (i * 31 + 7) & 255
  return b
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

export function fmtBytes(n: number): string {
  if (n >= GiB) return `${(n / GiB).toFixed(2)} GiB`
  if (n >= MiB) return `${(n / MiB).toFixed(1)} MiB`
  if (n >= KiB) return `${(n / KiB).toFixed(1)} KiB`
  return `${n} B`
}

export function fmtRate(bps: number): string {
  if (bps >= 0.1 * GiB) return `${(bps / GiB).toFixed(2)} GiB/s`
  return `${(bps / MiB).toFixed(1)} MiB/s`
}
