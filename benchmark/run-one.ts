// One measurement of one JS contender (ProcessWriter or Node's child.stdin), in a fresh process so
// that CPU time, event-loop utilisation and peak RSS belong to this run alone.
//
//   node --import @oxc-node/core/register benchmark/run-one.ts '<RunSpec as JSON>'
//
// Prints one JSON line (a RunResult) on stdout.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import * as fs from 'node:fs'
import { createRequire } from 'node:module'
import * as path from 'node:path'
import { performance } from 'node:perf_hooks'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import * as zlib from 'node:zlib'

import { contenderById, type Feeder } from './contenders.ts'
import { GiB, makeChunk, ROOT_DIR, type Pin, type RunResult, type RunSpec } from './workloads.ts'

interface SinkExit {
  count: number
  code: number | null
  signal: NodeJS.Signals | null
}

/** One child being fed. `start()` begins writing; `done` settles once the child has exited. */
interface Feed {
  start(): void
  done: Promise<string | null> // null when the child counted exactly its bytes, else what went wrong
  syscalls(): number | null
  /** The child's pid. */
  pid: number
}

function spawnSink(spec: RunSpec, stdin: number | 'pipe', bytes: number): { child: ChildProcess; exit: Promise<SinkExit> } {
  const args = [String(bytes)]
  if (spec.slowRate > 0) args.push('--slow', String(spec.slowRate))
  const child = spawn(spec.sink, args, { stdio: [stdin, 'pipe', 'inherit'] })
  let out = ''
  child.stdout!.setEncoding('utf8')
  child.stdout!.on('data', (d: string) => (out += d))
  const exit = new Promise<SinkExit>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => resolve({ count: Number(out.trim()), code, signal }))
  })
  return { child, exit }
}

function checkExit(e: SinkExit, bytes: number): string | null {
  if (e.code === 0 && e.count === bytes) return null
  return `sink exited ${e.code ?? e.signal} after counting ${e.count} of ${bytes} bytes`
}

/**
 * The write plan shared by every feeder: `bytes` in units of `unit` (one chunk, or one sequence
 * of seqLen chunks). `next()` says whether another unit is due and counts it.
 */
function planner(bytes: number, unit: number) {
  let sent = 0
  return {
    next(): boolean {
      if (sent >= bytes) return false
      sent += unit
      return true
    },
  }
}

async function pwFeed(spec: RunSpec, feeder: Extract<Feeder, { kind: 'pw' }>, bytes: number): Promise<Feed> {
  // The public API, as a user gets it: createPipe() (default pipe size, the JS fast path for small
  // writes); `options` go to it (pipeSize, transport, writer options).
  const lib = createRequire(path.join(ROOT_DIR, 'package.json'))('./lib/index.js')
  const { readFd, writer } = lib.createPipe(feeder.options ?? {})
  const sink = spawnSink(spec, readFd, bytes)
  lib.closeFd(readFd)
  await once(sink.child, 'spawn')

  const chunk = makeChunk(spec.chunk)
  // A fresh copy per write (producer workloads, slow-256), as most code does; else one reused chunk.
  const next = spec.fresh ? () => Buffer.from(chunk) : () => chunk
  const sequence: Buffer[] = Array.from({ length: spec.seqLen }, () => chunk)
  const plan = planner(bytes, spec.chunk * (spec.kind === 'sequence' ? spec.seqLen : 1))
  const pushed = spec.kind === 'slow' || spec.kind === 'slowmany' || spec.kind === 'producer'
  let lostResolve!: (r: { code: string; message?: string }) => void
  const lost = new Promise<{ code: string; message?: string }>((r) => (lostResolve = r))
  let closing = false
  let pumping = false
  const finish = () => {
    if (closing) return
    closing = true
    if (pushed) writer.unregisterProducer()
    writer.loseConnection()
  }
  // write/writeSequence until one returns false; onDrain calls this again.
  const pump = () => {
    if (pumping || closing) return
    pumping = true
    try {
      while (plan.next()) {
        if (!(spec.kind === 'sequence' ? writer.writeSequence(sequence) : writer.write(chunk))) return
      }
      finish()
    } finally {
      pumping = false
    }
  }
  writer.onDrain = pushed ? null : pump
  writer.onConnectionLost = lostResolve

  // Slow children, producer workloads: a streaming (push) producer, paused and resumed by the writer.
  let paused = false
  let producing = false
  const produce = () => {
    if (producing) return
    producing = true
    while (!paused && !closing) {
      if (!plan.next()) {
        finish()
        break
      }
      writer.write(next())
    }
    producing = false
  }
  const producer = {
    pauseProducing: () => (paused = true),
    resumeProducing: () => {
      paused = false
      produce()
    },
    stopProducing: () => (closing = true),
  }

  return {
    start() {
      if (pushed) {
        writer.registerProducer(producer, true)
        produce()
      } else {
        pump()
      }
    },
    done: Promise.all([sink.exit, lost]).then(([e, r]) =>
      r.code !== 'DONE' ? `connection lost: ${r.code} ${r.message ?? ''}` : checkExit(e, bytes),
    ),
    syscalls: () => {
      try {
        return Number(writer.stats().syscalls)
      } catch {
        return null
      }
    },
    pid: sink.child.pid!,
  }
}

async function nodeFeed(spec: RunSpec, feeder: Extract<Feeder, { kind: 'node' }>, bytes: number): Promise<Feed> {
  const sink = spawnSink(spec, 'pipe', bytes)
  await once(sink.child, 'spawn')
  const stdin = sink.child.stdin!
  let error: Error | null = null
  stdin.on('error', (e) => (error = e))
  const chunk = makeChunk(spec.chunk)
  const group = spec.kind === 'sequence' ? spec.seqLen : 1
  const plan = planner(bytes, spec.chunk * group)
  // One unit: a chunk, or (sequence) seqLen chunks handed over together like a writev.
  const writeUnit = (): boolean => {
    if (group === 1) return stdin.write(spec.fresh ? Buffer.from(chunk) : chunk)
    let ok = true
    for (let i = 0; i < group; i++) ok = stdin.write(chunk)
    return ok
  }
  let pump: () => void
  if (feeder.style === 'drain') {
    pump = () => {
      while (plan.next()) {
        if (group > 1) {
          // Node's writev equivalent: cork, the group, uncork at once.
          stdin.cork()
          const ok = writeUnit()
          stdin.uncork()
          if (!ok) return void stdin.once('drain', pump)
        } else if (!writeUnit()) {
          return void stdin.once('drain', pump)
        }
      }
      stdin.end()
    }
  } else {
    // Best practice: cork, write until the stream says stop, uncork on the next tick.
    pump = () => {
      stdin.cork()
      let ok = true
      let more = true
      while (ok && (more = plan.next())) ok = writeUnit()
      process.nextTick(() => {
        stdin.uncork()
        if (!more) stdin.end()
      })
      if (more) stdin.once('drain', pump)
    }
  }
  return {
    start: () => pump(),
    done: sink.exit.then((e) => (error ? `stdin error: ${(error as Error).message}` : checkExit(e, bytes))),
    syscalls: () => null,
    pid: sink.child.pid!,
  }
}

/** The input as a Node Readable: the file's read stream, through gunzip for `gunzip`. */
function inputStream(spec: RunSpec, hwm: number | undefined): Readable {
  const file = fs.createReadStream(spec.file!, hwm ? { highWaterMark: hwm } : {})
  return spec.kind === 'gunzip' ? file.pipe(zlib.createGunzip()) : file
}

/** `stream` feeders: a Node Readable into Node's child.stdin, toWritable(writer) or feed(writer). */
async function streamFeed(spec: RunSpec, feeder: Extract<Feeder, { kind: 'stream' }>, bytes: number): Promise<Feed> {
  const lib = createRequire(path.join(ROOT_DIR, 'package.json'))('./lib/index.js')
  if (feeder.sink === 'node-stdin') {
    const sink = spawnSink(spec, 'pipe', bytes)
    await once(sink.child, 'spawn')
    let failed: Error | null = null
    return {
      start: () => void pipeline(inputStream(spec, feeder.hwm), sink.child.stdin!).catch((e: Error) => (failed = e)),
      done: sink.exit.then((e) => checkExit(e, bytes) ?? (failed ? `pipeline: ${(failed as Error).message}` : null)),
      syscalls: () => null,
      pid: sink.child.pid!,
    }
  }
  const { readFd, writer } = lib.createPipe()
  const sink = spawnSink(spec, readFd, bytes)
  lib.closeFd(readFd)
  await once(sink.child, 'spawn')
  let fed: Promise<unknown> = new Promise(() => {})
  const start = () => {
    const src = inputStream(spec, feeder.hwm)
    fed = feeder.sink === 'feed' ? lib.feed(writer, src) : pipeline(src, lib.toWritable(writer))
  }
  return {
    start,
    done: sink.exit.then(async (e) => {
      const r = await fed.then(() => writer.lostReason, (err: Error) => ({ code: 'ERROR', message: err.message }))
      return r?.code !== 'DONE' ? `connection lost: ${r?.code} ${r?.message ?? ''}` : checkExit(e, bytes)
    }),
    syscalls: () => Number(writer.stats().syscalls),
    pid: sink.child.pid!,
  }
}

/** `writeFile`: the library's native file source; null when this build has no writeFile. */
async function writeFileFeed(spec: RunSpec, feeder: Extract<Feeder, { kind: 'writeFile' }>, bytes: number): Promise<Feed> {
  const lib = createRequire(path.join(ROOT_DIR, 'package.json'))('./lib/index.js')
  const { readFd, writer } = lib.createPipe(feeder.transport ? { transport: feeder.transport } : {})
  if (typeof writer.writeFile !== 'function') throw new Error('SKIP: writer.writeFile is absent in this build')
  const sink = spawnSink(spec, readFd, bytes)
  lib.closeFd(readFd)
  await once(sink.child, 'spawn')
  let fed: Promise<unknown> = new Promise(() => {})
  return {
    start: () => {
      fed = writer.writeFile(spec.file!).then(() => {
        writer.loseConnection()
        return lib.closed(writer)
      })
    },
    done: sink.exit.then(async (e) => {
      const r = await fed.catch((err: Error) => ({ code: 'ERROR', message: err.message }))
      const reason = r as { code: string; message?: string }
      return reason.code !== 'DONE' ? `connection lost: ${reason.code} ${reason.message ?? ''}` : checkExit(e, bytes)
    }),
    syscalls: () => Number(writer.stats().syscalls),
    pid: sink.child.pid!,
  }
}

/**
 * The placement probe: pin this process's JS thread, ProcessWriter's I/O thread and the sinks
 * (`taskset -p` sets one thread's affinity).
 */
function pinThreads(pin: Pin, feeds: Feed[]) {
  const taskDir = '/proc/self/task'
  // The thread's name is truncated to 15 bytes.
  const io = fs.readdirSync(taskDir).find((t) => fs.readFileSync(`${taskDir}/${t}/comm`, 'utf8').startsWith('process-writer'))
  if (!io) throw new Error('pin: no ProcessWriter I/O thread in this process')
  const taskset = (cpu: number, tid: number | string) => execFileSync('taskset', ['-pc', String(cpu), String(tid)], { stdio: 'ignore' })
  taskset(pin.js, process.pid)
  taskset(pin.io, io)
  for (const f of feeds) taskset(pin.sink, f.pid)
}

function vm(field: 'VmRSS' | 'VmHWM'): number | null {
  const m = fs.readFileSync('/proc/self/status', 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'))
  return m ? Number(m[1]) * 1024 : null
}

async function main() {
  const spec: RunSpec = JSON.parse(process.argv[2])
  const contender = contenderById(spec.contender)
  const feeder = contender.feeder
  const perChild = spec.total / spec.children
  const one = (): Promise<Feed> => {
    switch (feeder.kind) {
      case 'pw':
        return pwFeed(spec, feeder, perChild)
      case 'node':
        return nodeFeed(spec, feeder, perChild)
      case 'stream':
        return streamFeed(spec, feeder, perChild)
      case 'writeFile':
        return writeFileFeed(spec, feeder, perChild)
      default:
        throw new Error(`${spec.contender} is not a JS contender`)
    }
  }

  const feeds: Feed[] = []
  for (let i = 0; i < spec.children; i++) feeds.push(await one())
  if (spec.pin) pinThreads(spec.pin, feeds)

  // Idle baseline, then the peak while feeding. Writing 5 to clear_refs resets VmHWM (Linux ≥ 4.0).
  global.gc?.()
  let hwmReset = false
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5')
    hwmReset = true
  } catch {}
  const rssBaseline = vm('VmRSS')
  let sampledPeak = process.memoryUsage.rss()
  const sampler = setInterval(() => (sampledPeak = Math.max(sampledPeak, process.memoryUsage.rss())), 100)

  const elu0 = performance.eventLoopUtilization()
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  for (const f of feeds) f.start()
  const errors = (await Promise.all(feeds.map((f) => f.done))).filter((e) => e !== null)
  const seconds = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  const elu = performance.eventLoopUtilization(elu0).utilization
  clearInterval(sampler)
  sampledPeak = Math.max(sampledPeak, process.memoryUsage.rss())
  const hwm = hwmReset ? vm('VmHWM') : null

  const cpuSeconds = (cpu.user + cpu.system) / 1e6
  const syscalls = feeds.map((f) => f.syscalls())
  const result: RunResult = {
    ok: errors.length === 0,
    ...(errors.length ? { error: errors.slice(0, 3).join('; ') } : {}),
    contender: spec.contender,
    workload: spec.workload,
    bytes: spec.total,
    seconds,
    throughput: spec.total / seconds,
    elu,
    cpuSeconds,
    cpuPerGiB: cpuSeconds / (spec.total / GiB),
    rssBaseline,
    rssPeak: hwm ?? sampledPeak,
    syscalls: syscalls.every((s) => s !== null) ? syscalls.reduce((a, b) => a! + b!, 0) : null,
  }
  process.stdout.write(JSON.stringify(result) + '\n')
}

main().catch((e) => {
  if (String(e?.message).startsWith('SKIP: ')) {
    process.stdout.write(JSON.stringify({ skip: e.message.slice(6) }) + '\n')
    process.exit(0)
  }
  process.stderr.write(`run-one: ${e?.stack ?? e}\n`)
  process.exit(1)
})
