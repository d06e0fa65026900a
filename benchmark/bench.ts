// The benchmark driver: `npm run bench` (= node --import @oxc-node/core/register benchmark/bench.ts).
//
// Options (CLI flag, or environment variable):
//   --quick              BENCH_QUICK=1         smoke test: tiny sizes, 1 repetition, no calibration;
//                                              writes benchmark/build/results-quick.json, no BENCHMARKS.md
//   --reps N             BENCH_REPS            repetitions per contender (default 5)
//   --main-job-reps N    BENCH_MAIN_JOB_REPS   at most this many on the main-job workloads (file,
//                                              pipe-in, gunzip: 2 GiB each; default 3)
//   --no-probes          BENCH_NO_PROBES=1     skip the placement probe (about a minute)
//   --workloads a,b      BENCH_WORKLOADS       workload ids or kinds (chunks, sequence, concurrent, slow,
//                                              slowmany, producer, file, pipein, gunzip)
//   --contenders a,b     BENCH_CONTENDERS      contender ids, or families (node, raw); `pw` is the
//                                              defaults alone; opt-in variants only by id
//   --seconds S          BENCH_SECONDS         target duration of one run (default 0.75)
//   --slow-total BYTES   BENCH_SLOW_TOTAL      bytes fed to the slow child (default 4 GiB)
//   --slow-rate BYTES/S  BENCH_SLOW_RATE       the slow child's read rate (default 1 GiB/s)
//   --out FILE           BENCH_OUT             results JSON (default benchmark/results.json)
//   --no-report                                do not write BENCHMARKS.md
//   --no-install         BENCH_NO_INSTALL=1    do not create benchmark/.venv to install Twisted (--quick never does)
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import { createRequire } from 'node:module'
import * as os from 'node:os'
import * as path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import * as zlib from 'node:zlib'

import { CONTENDERS, PW, type Contender } from './contenders.ts'
import {
  judge,
  renderCallCost,
  renderMarkdown,
  renderTargets,
  renderVerdict,
  renderWorkloadTables,
  summarize,
  type CallCost,
  type PinnedPw,
  type Results,
} from './report.ts'
import {
  BENCH_DIR,
  BUILD_DIR,
  fmtBytes,
  fmtRate,
  GiB,
  MiB,
  RAW_WRITER,
  ROOT_DIR,
  SINK,
  defaultWorkloads,
  inputFile,
  makeChunk,
  median,
  type RunResult,
  type RunSpec,
  type Workload,
} from './workloads.ts'

// ---------------------------------------------------------------------------------------------
// options

function parseArgs(argv: string[]) {
  const flags = new Map<string, string | true>()
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`)
    const [k, v] = a.slice(2).split('=', 2)
    if (v !== undefined) flags.set(k, v)
    else if (argv[i + 1] !== undefined && !argv[i + 1].startsWith('--')) flags.set(k, argv[++i])
    else flags.set(k, true)
  }
  const opt = (flag: string, env: string): string | undefined => {
    const v = flags.get(flag)
    return typeof v === 'string' ? v : process.env[env] || undefined
  }
  const list = (flag: string, env: string) => opt(flag, env)?.split(',').map((s) => s.trim()).filter(Boolean)
  const num = (flag: string, env: string) => {
    const v = opt(flag, env)
    if (v === undefined) return undefined
    const n = Number(v)
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${flag} wants a positive number, got ${v}`)
    return n
  }
  const quick = flags.has('quick') || process.env.BENCH_QUICK === '1'
  const known = ['quick', 'reps', 'main-job-reps', 'workloads', 'contenders', 'seconds', 'slow-total', 'slow-rate', 'out', 'no-report', 'no-install', 'no-probes']
  for (const k of flags.keys()) if (!known.includes(k)) throw new Error(`unknown option --${k}; known: ${known.join(', ')}`)
  return {
    quick,
    reps: num('reps', 'BENCH_REPS') ?? (quick ? 1 : 5),
    mainJobReps: num('main-job-reps', 'BENCH_MAIN_JOB_REPS') ?? 3,
    probes: !flags.has('no-probes') && process.env.BENCH_NO_PROBES !== '1',
    workloads: list('workloads', 'BENCH_WORKLOADS'),
    contenders: list('contenders', 'BENCH_CONTENDERS'),
    targetSeconds: num('seconds', 'BENCH_SECONDS') ?? 0.75,
    slowTotal: num('slow-total', 'BENCH_SLOW_TOTAL'),
    slowRate: num('slow-rate', 'BENCH_SLOW_RATE'),
    out: opt('out', 'BENCH_OUT') ?? path.join(quick ? BUILD_DIR : BENCH_DIR, quick ? 'results-quick.json' : 'results.json'),
    report: !flags.has('no-report') && !quick,
    install: !quick && !flags.has('no-install') && process.env.BENCH_NO_INSTALL !== '1',
  }
}

// ---------------------------------------------------------------------------------------------
// set-up: native helpers, Twisted, ProcessWriter

function ensureNative(): void {
  fs.mkdirSync(BUILD_DIR, { recursive: true })
  for (const [src, bin] of [
    [path.join(BENCH_DIR, 'native', 'sink.c'), SINK],
    [path.join(BENCH_DIR, 'native', 'raw_writer.c'), RAW_WRITER],
  ]) {
    const fresh = fs.existsSync(bin) && fs.statSync(bin).mtimeMs >= fs.statSync(src).mtimeMs
    if (fresh) continue
    console.log(`compiling ${path.relative(ROOT_DIR, src)} -> ${path.relative(ROOT_DIR, bin)}`)
    execFileSync('cc', ['-O2', '-Wall', '-o', bin, src], { stdio: 'inherit' })
  }
}

const VENV = path.join(BENCH_DIR, '.venv')
const VENV_PY = path.join(VENV, 'bin', 'python')

/** The Twisted version when importable (installing it into benchmark/.venv if allowed), else null. */
function ensureTwisted(install: boolean, notes: string[]): string | null {
  const probe = () => {
    if (!fs.existsSync(VENV_PY)) return null
    const r = spawnSync(VENV_PY, ['-c', 'import twisted; print(twisted.__version__)'], { encoding: 'utf8' })
    return r.status === 0 ? r.stdout.trim() : null
  }
  let version = probe()
  if (!version && install) {
    console.log('installing Twisted into benchmark/.venv ...')
    if (!fs.existsSync(VENV_PY)) spawnSync('python3', ['-m', 'venv', VENV], { stdio: 'inherit' })
    if (fs.existsSync(VENV_PY)) spawnSync(VENV_PY, ['-m', 'pip', 'install', '--quiet', 'twisted'], { stdio: 'inherit' })
    version = probe()
  }
  if (!version) notes.push('Twisted is not importable (benchmark/.venv); the Twisted contender was skipped.')
  return version
}

function processWriterProblem(): string | null {
  const index = path.join(ROOT_DIR, 'index.js')
  if (!fs.existsSync(index)) return 'index.js is missing (run `npm run build`)'
  try {
    const native = createRequire(index)(index)
    if (typeof native.ProcessWriter !== 'function' || typeof native.openPipe !== 'function') {
      return 'index.js does not export ProcessWriter and openPipe'
    }
    return null
  } catch (e) {
    return `index.js does not load: ${(e as Error).message.split('\n')[0]}`
  }
}

// ---------------------------------------------------------------------------------------------
// running one measurement

const fail = (spec: RunSpec, error: string): RunResult => ({
  ok: false,
  error,
  contender: spec.contender,
  workload: spec.workload,
  bytes: spec.total,
  seconds: 0,
  throughput: 0,
  elu: null,
  cpuSeconds: null,
  cpuPerGiB: null,
  rssBaseline: null,
  rssPeak: null,
  syscalls: null,
})

/** Node running one of the TypeScript scripts beside this one. */
const tsScript = (file: string, args: string[]): [string, string[]] => [
  process.execPath,
  ['--import', '@oxc-node/core/register', path.join(BENCH_DIR, file), ...args],
]

/** The CLI as a user runs it. */
const CLI = [process.execPath, path.join(ROOT_DIR, 'bin', 'process-writer.js')]

function command(c: Contender, spec: RunSpec): [string, string[]] {
  const f = c.feeder
  switch (f.kind) {
    case 'pw':
    case 'node':
    case 'stream':
    case 'writeFile':
      return tsScript('run-one.ts', [JSON.stringify(spec)])
    case 'cmd': {
      const subst = (a: string): string[] =>
        a === 'CLI' ? CLI : [a === 'FILE' ? spec.file! : a === 'SINK' ? spec.sink : a === 'BYTES' ? String(spec.total) : a]
      const stages = f.pipeline.map((argv) => argv.flatMap(subst))
      return ['python3', [path.join(BENCH_DIR, 'run_cmd.py'), JSON.stringify(spec), JSON.stringify(stages)]]
    }
    case 'twisted':
      return [VENV_PY, [path.join(BENCH_DIR, 'twisted_feed.py'), JSON.stringify(spec)]]
    case 'raw':
      return [
        RAW_WRITER,
        ['--sink', SINK, '--mode', f.mode, '--transport', f.transport, '--chunk', String(spec.chunk), '--total', String(spec.total),
          ...(spec.kind === 'sequence' ? ['--iov', String(spec.seqLen)] : []),
          ...(spec.children > 1 ? ['--children', String(spec.children)] : []),
          ...(f.piece ? ['--piece', String(f.piece)] : []),
          ...(f.marks ? ['--high-water', String(f.marks.highWater), '--pause-us', String(f.marks.pauseUs)] : [])],
      ]
  }
}

/** raw_writer.c's JSON line in RunResult shape. */
function fromRaw(spec: RunSpec, j: any): RunResult {
  const cpuSeconds = j.cpuUser + j.cpuSystem
  return {
    ok: j.ok,
    ...(j.ok ? {} : { error: `raw_writer: ${j.error ?? `sink counted ${j.received} of ${j.bytes}`}` }),
    contender: spec.contender,
    workload: spec.workload,
    bytes: j.bytes,
    seconds: j.seconds,
    throughput: j.bytes / j.seconds,
    elu: null,
    cpuSeconds,
    cpuPerGiB: cpuSeconds / (j.bytes / GiB),
    rssBaseline: null,
    rssPeak: null,
    syscalls: j.syscalls,
    extra: { pipeCapacity: j.pipeCapacity },
  }
}

function runOne(c: Contender, spec: RunSpec, timeoutMs: number): Promise<RunResult & { skipped?: boolean }> {
  const [cmd, args] = command(c, spec)
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT_DIR, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    let out = ''
    let err = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-4000)))
    const timer = setTimeout(() => {
      err += `\ntimed out after ${timeoutMs / 1000} s`
      try {
        process.kill(-child.pid!, 'SIGKILL') // the worker and the sinks it spawned
      } catch {}
    }, timeoutMs)
    child.on('error', (e) => {
      clearTimeout(timer)
      resolve(fail(spec, `${cmd}: ${e.message}`))
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      const line = out.trim().split('\n').pop() ?? ''
      try {
        const j = JSON.parse(line)
        if (j.skip) resolve({ ...fail(spec, j.skip), skipped: true })
        else resolve(c.feeder.kind === 'raw' ? fromRaw(spec, j) : j)
      } catch {
        const tail = err.trim().split('\n').slice(-3).join(' / ')
        resolve(fail(spec, `exit ${code}: ${tail || out.slice(-300)}`))
      }
    })
  })
}

// ---------------------------------------------------------------------------------------------
// a quiet machine: the box may be shared (builds, test runs), which skews a pipe benchmark badly

function cpuJiffies(): { busy: number; total: number } {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number)
  const total = f.reduce((a, b) => a + b, 0)
  return { busy: total - f[3] - f[4], total } // minus idle and iowait
}

/** Cores kept busy by other processes over `ms` (this driver sleeps meanwhile). */
async function busyCores(ms: number): Promise<number> {
  const a = cpuJiffies()
  await new Promise((r) => setTimeout(r, ms))
  const b = cpuJiffies()
  return b.total > a.total ? ((b.busy - a.busy) / (b.total - a.total)) * os.cpus().length : 0
}

/** Wait (up to maxMs) until other processes use under QUIET cores; returns the last reading. */
const QUIET = 0.3
async function waitQuiet(maxMs: number): Promise<{ busy: number; waitedMs: number }> {
  const t0 = Date.now()
  for (;;) {
    const busy = await busyCores(150)
    if (busy < QUIET || Date.now() - t0 >= maxMs) return { busy, waitedMs: Date.now() - t0 }
    await new Promise((r) => setTimeout(r, 350))
  }
}

// ---------------------------------------------------------------------------------------------
// the host's speed: this VM switches between two speeds for tens of seconds at a time (the raw C
// writer below: about 11 GiB/s in one, 3.5 in the other, with nothing else running), so runs of
// one repetition can land in different modes. Each run records this probe, taken just before it.

/** One run of the raw C writer into the sink, 1 GiB, mode write: its rate (bytes/s), or null if it failed. */
function rawWriterRate(transport: string, chunk: number, extra: string[] = []): number | null {
  const args = ['--sink', SINK, '--mode', 'write', '--transport', transport, '--chunk', String(chunk), '--total', String(GiB), ...extra]
  const r = spawnSync(RAW_WRITER, args, { encoding: 'utf8', timeout: 30_000 })
  try {
    const out = JSON.parse(r.stdout.trim())
    return r.status === 0 && out.ok ? out.bytes / out.seconds : null
  } catch {
    return null
  }
}

/** The host's speed now (bytes/s): 1 MiB chunks in 8 KiB writes through a 1 MiB pipe (0.1-0.3 s). */
const hostSpeed = () => rawWriterRate('pipe1m', MiB, ['--piece', '8192'])

// ---------------------------------------------------------------------------------------------
// sizing

/** Bytes in one indivisible step of a workload: every child gets whole sequences of whole chunks. */
const unitOf = (w: Workload) => w.chunk * w.seqLen * w.children
const roundUp = (n: number, unit: number) => Math.max(unit, Math.ceil(n / unit) * unit)

/** Bytes that last about `seconds` at `rate` bytes/s (at most 64 GiB). */
const sizeFor = (rate: number, seconds: number, w: Workload) => roundUp(Math.min(rate * seconds, 64 * GiB), unitOf(w))

function specFor(c: Contender, w: Workload, total: number): RunSpec {
  return {
    contender: c.id,
    workload: w.id,
    kind: w.kind,
    chunk: w.chunk,
    seqLen: w.seqLen,
    children: w.children,
    total,
    slowRate: w.slowRate,
    sink: SINK,
    ...(w.fresh ? { fresh: true } : {}),
    ...(w.input ? { file: inputFile(w.input, w.fixedTotal) } : {}),
  }
}

function timeoutFor(w: Workload, total: number): number {
  // generous: 30 s, or the slow children's nominal duration three times over
  return Math.max(30_000, w.slowRate ? (3000 * total) / w.children / w.slowRate : 0)
}

// ---------------------------------------------------------------------------------------------
// the main job's inputs: written once into benchmark/build, then read once so they are page-cached

async function prepareInput(w: Workload): Promise<void> {
  const file = inputFile(w.input!, w.fixedTotal)
  const ready = fs.existsSync(file) && (w.input === 'gzip' || fs.statSync(file).size === w.fixedTotal)
  if (!ready) {
    console.log(`writing ${path.relative(ROOT_DIR, file)} (${fmtBytes(w.fixedTotal)}${w.input === 'gzip' ? ' once decompressed' : ''}) ...`)
    const tmp = `${file}.tmp`
    if (w.input === 'plain') {
      // The benchmark's chunk pattern, 1 MiB at a time.
      const block = makeChunk(MiB)
      const fd = fs.openSync(tmp, 'w')
      for (let n = 0; n < w.fixedTotal; n += MiB) fs.writeSync(fd, block, 0, Math.min(MiB, w.fixedTotal - n))
      fs.closeSync(fd)
    } else {
      // Compressible text (numbered log-like lines), exactly fixedTotal bytes once decompressed.
      const lines: string[] = []
      for (let i = 0; i < 16384; i++) lines.push(`${String(i).padStart(8, '0')} GET /static/app.${i % 97}.js 200 ${(i * 7919) % 65536} "Mozilla/5.0 (X11; Linux x86_64)"\n`)
      const text = Buffer.from(lines.join(''))
      let left = w.fixedTotal
      const source = Readable.from(
        (function* () {
          while (left > 0) {
            const n = Math.min(left, text.length)
            left -= n
            yield text.subarray(0, n)
          }
        })(),
      )
      await pipeline(source, zlib.createGzip({ level: 6 }), fs.createWriteStream(tmp))
    }
    fs.renameSync(tmp, file)
  }
  // Into the page cache.
  const fd = fs.openSync(file, 'r')
  const buf = Buffer.allocUnsafe(MiB)
  while (fs.readSync(fd, buf, 0, MiB, null) > 0) {}
  fs.closeSync(fd)
}

/** Why a contender cannot run here (a program it needs is missing), or null. */
function missing(c: Contender): string | null {
  if (c.feeder.kind !== 'cmd' || !c.feeder.needs) return null
  const r = spawnSync('sh', ['-c', `command -v ${c.feeder.needs}`], { encoding: 'utf8' })
  return r.status === 0 ? null : `${c.feeder.needs} is not installed (Debian package \`${c.feeder.needs}\`): the \`${c.id}\` row was skipped`
}

/**
 * Bytes per run for contender c so one run lasts about `seconds`: grow a probe run until it lasts
 * ≥ 0.15 s, then scale by the rate it measured. Returns the failed run when a probe fails.
 */
async function calibrate(c: Contender, w: Workload, seconds: number): Promise<number | RunResult> {
  const unit = unitOf(w)
  let total = roundUp(Math.min(w.chunk * w.children * 2000, 16 * MiB * w.children), unit)
  for (let i = 0; ; i++) {
    const r = await runOne(c, specFor(c, w, total), timeoutFor(w, total))
    if (!r.ok) return r
    if (r.seconds >= 0.15 || i === 6) return sizeFor(r.throughput, seconds, w)
    total = roundUp(total * Math.min(32, Math.max(2, 0.25 / r.seconds)), unit)
  }
}

// ---------------------------------------------------------------------------------------------

function machine(twisted: string | null): Record<string, string | number> {
  const py = spawnSync('python3', ['--version'], { encoding: 'utf8' })
  const commit = spawnSync('git', ['describe', '--always', '--dirty'], { cwd: ROOT_DIR, encoding: 'utf8' })
  return {
    cores: os.cpus().length,
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    memory: `${(os.totalmem() / GiB).toFixed(0)} GiB`,
    kernel: os.release(),
    node: process.version,
    ...(py.status === 0 ? { python: (py.stdout || py.stderr).trim() } : {}),
    ...(twisted ? { twisted } : {}),
    ...(commit.status === 0 ? { commit: commit.stdout.trim() } : {}),
    ...nativeBinary(),
  }
}

/** Which ProcessWriter binary was measured: it may be built from uncommitted sources. */
function nativeBinary(): { binary?: string } {
  const file = fs.readdirSync(ROOT_DIR).find((f) => f.startsWith('process-writer.') && f.endsWith('.node'))
  if (!file) return {}
  const bytes = fs.readFileSync(path.join(ROOT_DIR, file))
  const sha = createHash('sha256').update(bytes).digest('hex').slice(0, 12)
  return { binary: `${file} sha256:${sha}, built ${fs.statSync(path.join(ROOT_DIR, file)).mtime.toISOString()}` }
}

/**
 * How much this machine's pipe throughput depends on where the scheduler puts writer and reader,
 * and on the size of each write: the raw C writer, writer and sink pinned to the same CPU and
 * then to two CPUs, pipe writes of 8 KiB, 64 KiB and 1 MiB (Linux copies a pipe write under the
 * mutex the reader needs too; see src/piece_size.rs), socketpair writes of 64 KiB. Then
 * ProcessWriter with its defaults and 64 KiB and 1 MiB writes, JS thread and sink pinned to two
 * CPUs, its I/O thread beside the sink and then beside JS: three threads share two cores.
 */
async function placementProbe(pw: Contender | undefined): Promise<{ text: string; pinned: PinnedPw[] } | null> {
  if (os.cpus().length < 2) return null
  const parts: string[] = []
  const cases: Array<[string, number]> = [['pipe', 8 * 1024], ['pipe', 64 * 1024], ['pipe', 1024 * 1024], ['socketpair', 64 * 1024]]
  for (const [transport, chunk] of cases) {
    const rates: string[] = []
    for (const sinkCpu of ['0', '1']) {
      const tries: number[] = []
      for (let i = 0; i < 3; i++) {
        const rate = rawWriterRate(transport === 'pipe' ? 'pipe1m' : transport, chunk, ['--cpu', '0', '--sink-cpu', sinkCpu])
        if (rate !== null) tries.push(rate)
      }
      rates.push(tries.length ? fmtRate(median(tries)) : 'failed')
    }
    parts.push(`${transport === 'pipe' ? '1 MiB pipe' : transport}, ${sizeName(chunk)} writes: ${rates[0]} on one core vs ${rates[1]} across two`)
  }
  let text = `raw C writer, writer and reader pinned (median of 3): ${parts.join('; ')}`
  const pinned: PinnedPw[] = []
  for (const id of ['chunks-64KiB', 'chunks-1MiB']) {
    const p = pw ? await pinnedProcessWriter(pw, id) : null
    if (p) pinned.push(p)
  }
  if (pinned.length) {
    const each = pinned.map((p) => `${sizeName(p.chunk)} writes: I/O thread beside the reader ${fmtRate(p.besideReader)}, beside JS ${fmtRate(p.besideJs)}`)
    text += `. ProcessWriter (defaults), JS thread and reader pinned to two cores (median of 3): ${each.join('; ')}`
  }
  return { text, pinned }
}

/** 8 KiB, 1 MiB: a write size, as the probe names it. */
const sizeName = (n: number) => (n >= 1 << 20 ? `${n >> 20} MiB` : `${n >> 10} KiB`)

/** The ProcessWriter half of the placement probe; null if a run fails (e.g. no `taskset`). */
async function pinnedProcessWriter(pw: Contender, workload: string): Promise<PinnedPw | null> {
  const w = defaultWorkloads(false).find((x) => x.id === workload)!
  const rate = async (io: number) => {
    const tries: number[] = []
    for (let i = 0; i < 3; i++) {
      const r = await runOne(pw, { ...specFor(pw, w, 2 * GiB), pin: { js: 0, io, sink: 1 } }, timeoutFor(w, 2 * GiB))
      if (!r.ok) return null
      tries.push(r.throughput)
    }
    return median(tries)
  }
  const besideReader = await rate(1)
  const besideJs = await rate(0)
  return besideReader !== null && besideJs !== null ? { chunk: w.chunk, besideReader, besideJs } : null
}

/** benchmark/call-cost.ts for 100 B and 4 KiB chunks: the main-thread price of one call. */
function measureCallCost(quick: boolean): CallCost[] {
  const out: CallCost[] = []
  for (const [chunk, calls] of [[100, 2_000_000], [4096, 200_000]]) {
    const [cmd, args] = tsScript('call-cost.ts', [String(chunk), String(quick ? calls / 20 : calls), '--json'])
    const r = spawnSync(cmd, args, { cwd: ROOT_DIR, encoding: 'utf8', timeout: 60_000 })
    try {
      out.push(JSON.parse(r.stdout.trim().split('\n').pop()!))
    } catch {
      console.log(`call-cost.ts ${chunk} failed: ${r.stderr.trim().split('\n').pop()}`)
    }
  }
  return out
}

function selected<T>(items: T[], wanted: string[] | undefined, keys: (t: T) => string[], what: string): T[] {
  if (!wanted) return items
  const out = items.filter((t) => keys(t).some((k) => wanted.includes(k)))
  const unknown = wanted.filter((k) => !items.some((t) => keys(t).includes(k)))
  if (unknown.length) throw new Error(`unknown ${what}: ${unknown.join(', ')}`)
  return out
}

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  const started = Date.now()
  const notes: string[] = []
  ensureNative()
  const workloads = selected(defaultWorkloads(opts.quick, opts.slowTotal, opts.slowRate), opts.workloads, (w) => [w.id, w.kind], 'workload')
  // A family name (node, raw) selects its contenders, except where it is also an id (pw, twisted).
  const ids = new Set(CONTENDERS.map((c) => c.id))
  let contenders = selected(CONTENDERS, opts.contenders, (c) => (c.optIn || ids.has(c.feeder.kind) ? [c.id] : [c.id, c.feeder.kind]), 'contender')
  if (!opts.contenders) contenders = contenders.filter((c) => !c.optIn)

  const twisted = contenders.some((c) => c.feeder.kind === 'twisted') ? ensureTwisted(opts.install, notes) : null
  if (!twisted) contenders = contenders.filter((c) => c.feeder.kind !== 'twisted')
  const pwProblem = contenders.some((c) => c.feeder.kind === 'pw') ? processWriterProblem() : null
  if (pwProblem) {
    notes.push(`ProcessWriter contenders skipped: ${pwProblem}.`)
    contenders = contenders.filter((c) => c.feeder.kind !== 'pw')
  }
  for (const n of notes) console.log(`note: ${n}`)

  const placement = opts.quick || !opts.probes ? null : await placementProbe(contenders.find((c) => c.id === PW))
  if (placement) console.log(`placement probe: ${placement.text}`)

  const runs: Results['runs'] = []
  const skipped = new Set<string>()
  let quietBudgetMs = 120_000 // waiting for quiet, over the whole session
  for (const w of workloads) {
    let cs = contenders.filter((c) => c.workloads.includes(w.kind) && w.chunk >= (c.minChunk ?? 0))
    for (const c of cs) {
      const why = missing(c)
      if (why && !notes.includes(why)) {
        notes.push(why)
        console.log(`note: ${why}`)
      }
    }
    cs = cs.filter((c) => !missing(c))
    if (!cs.length) continue
    console.log(`\n== ${w.id}: ${w.title} (${cs.map((c) => c.id).join(', ')})`)
    if (w.input) await prepareInput(w)
    const reps = w.input && !opts.quick ? Math.min(opts.reps, opts.mainJobReps) : opts.reps

    // Bytes per run, per contender.
    const totals = new Map<string, number>()
    for (const c of cs) {
      if (w.fixedTotal) totals.set(c.id, roundUp(w.fixedTotal, unitOf(w)))
      else if (opts.quick) totals.set(c.id, roundUp(Math.max(w.chunk * 16, MiB) * w.children, unitOf(w)))
      else {
        const t = await calibrate(c, w, opts.targetSeconds)
        if (typeof t === 'number') totals.set(c.id, t)
        else {
          console.log(`  ${c.id}: calibration failed: ${t.error}`)
          runs.push({ ...t, rep: 0 })
        }
      }
    }

    // A B C ... A B C ...: every contender once per repetition, in the same order.
    for (let rep = 1; rep <= reps; rep++) {
      for (const c of cs) {
        const total = totals.get(c.id)
        if (total === undefined) continue
        if (skipped.has(c.id)) continue
        const quiet = opts.quick ? null : await waitQuiet(Math.min(15_000, quietBudgetMs))
        if (quiet) quietBudgetMs -= quiet.waitedMs
        const host = opts.quick ? null : hostSpeed()
        const r = await runOne(c, specFor(c, w, total), timeoutFor(w, total))
        if (r.skipped) {
          skipped.add(c.id)
          const note = `\`${c.id}\` skipped: ${r.error}`
          if (!notes.includes(note)) notes.push(note)
          console.log(`  note: ${note}`)
          continue
        }
        runs.push({
          ...r,
          rep,
          ...(quiet ? { busyBefore: Math.round(quiet.busy * 100) / 100 } : {}),
          ...(host !== null ? { hostSpeed: Math.round(host) } : {}),
        })
        // A run shorter than 0.5 s means calibration guessed high: later repetitions get more bytes.
        if (r.ok && !opts.quick && !w.fixedTotal && r.seconds < 0.5) {
          totals.set(c.id, sizeFor(r.throughput, opts.targetSeconds, w))
        }
        const detail = r.ok
          ? `${fmtRate(r.throughput)} in ${r.seconds.toFixed(2)} s` +
            (r.elu !== null ? `, ELU ${r.elu.toFixed(2)}` : '') +
            (r.rssPeak !== null && r.rssBaseline !== null ? `, RSS peak − idle ${((r.rssPeak - r.rssBaseline) / MiB).toFixed(1)} MiB` : '')
          : `FAILED: ${r.error}`
        const noisy = quiet && quiet.busy >= QUIET ? `  (machine busy: ${quiet.busy.toFixed(1)} cores used by others)` : ''
        const mode = host !== null ? `  (host probe ${fmtRate(host)})` : ''
        console.log(`  [${rep}/${reps}] ${c.id.padEnd(22)} ${fmtBytes(total).padStart(10)}  ${detail}${noisy}${mode}`)
      }
    }
  }

  const noisy = runs.filter((r) => (r.busyBefore ?? 0) >= QUIET).length
  if (noisy) {
    notes.push(
      `${noisy} of ${runs.length} runs started while other processes kept ≥ ${QUIET} cores busy (after waiting up to 15 s for quiet, 2 min in all); ` +
        'their figures are less trustworthy (see busyBefore in results.json).',
    )
  }
  const callCost = contenders.some((c) => c.id === 'pw') ? measureCallCost(opts.quick) : []

  const summary = summarize(workloads, contenders.map((c) => c.id), runs)
  const results: Results = {
    date: new Date().toISOString(),
    command: `npm run bench${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`,
    machine: { ...machine(twisted), ...(placement ? { placement: placement.text } : {}) },
    ...(placement?.pinned.length ? { pinned: placement.pinned } : {}),
    options: { ...opts, out: path.relative(ROOT_DIR, opts.out), durationSeconds: Math.round((Date.now() - started) / 1000) },
    notes,
    workloads,
    contenders: contenders.map(({ id, label, transport }) => ({ id, label, transport })),
    runs,
    callCost,
    summary,
    targets: [],
  }
  Object.assign(results, judge(results))
  fs.mkdirSync(path.dirname(opts.out), { recursive: true })
  fs.writeFileSync(opts.out, JSON.stringify(results, null, 2) + '\n')

  console.log(`\n${renderWorkloadTables(results)}\n\n${renderCallCost(results)}\n\n## Targets\n\n${renderTargets(results.targets, results.targetsFastMode)}\n\n${renderVerdict(results.targets)}\n`)
  for (const n of notes) console.log(`note: ${n}`)
  console.log(`wrote ${path.relative(ROOT_DIR, opts.out)} (${results.options.durationSeconds} s)`)
  if (opts.report) {
    const md = path.join(ROOT_DIR, 'BENCHMARKS.md')
    fs.writeFileSync(md, renderMarkdown(results))
    console.log(`wrote BENCHMARKS.md`)
  }
  if (runs.some((r) => !r.ok)) process.exitCode = 1
}

main().catch((e) => {
  console.error(e?.stack ?? e)
  process.exit(2)
})
