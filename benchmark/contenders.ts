// Who is measured, and on what. Adding a contender (say a ProcessWriter speed option such as
// `zeroCopy` or another transport) is one entry in CONTENDERS.

export type WorkloadKind = 'chunks' | 'sequence' | 'concurrent' | 'slow'

export type Feeder =
  /** ProcessWriter as the package exports it (lib/index.js `createPipe`); `options` go to createPipe. */
  | { kind: 'pw'; options?: Record<string, unknown> }
  /** Node's child.stdin: 'drain' awaits 'drain' after a false write; 'cork' corks and uncorks once per tick. */
  | { kind: 'node'; style: 'drain' | 'cork' }
  /** benchmark/native/raw_writer.c: blocking write(2)/writev(2) from C, no JS (several children: non-blocking, poll(2)). */
  | {
      kind: 'raw'
      mode: 'write' | 'writev'
      transport: 'pipe' | 'pipe1m' | 'socketpair'
      piece?: number
      /** Pause `pauseUs` after each burst of chunks that crosses `highWater` bytes (raw_writer.c). */
      marks?: { highWater: number; pauseUs: number }
    }
  /** benchmark/twisted_feed.py: Twisted's own ProcessWriter under its reactor. */
  | { kind: 'twisted' }

export interface Contender {
  id: string
  label: string
  /** What the child's stdin is. */
  transport: string
  feeder: Feeder
  workloads: WorkloadKind[]
  /** Diagnostic variant: runs only when its id is named in --contenders. */
  optIn?: boolean
  /** Runs only on workloads with chunks at least this large. */
  minChunk?: number
}

const ALL: WorkloadKind[] = ['chunks', 'sequence', 'concurrent', 'slow']

function raw(mode: 'write' | 'writev', transport: 'pipe' | 'pipe1m' | 'socketpair'): Contender {
  const where = { pipe: 'pipe (64 KiB)', pipe1m: 'pipe (1 MiB, F_SETPIPE_SZ)', socketpair: 'AF_UNIX socketpair' }[transport]
  return {
    id: `raw-${mode}-${transport}`,
    label: `raw C ${mode === 'write' ? 'write per chunk' : 'writev ≤1024 iovecs'}, ${where}`,
    transport: where,
    feeder: { kind: 'raw', mode, transport },
    // write per chunk is the same syscall pattern whatever the grouping, so only writev runs
    // `sequence`; write per chunk runs `concurrent` (one poll loop over all the children).
    workloads: mode === 'writev' ? (transport === 'pipe' ? ['chunks', 'sequence'] : ['chunks']) : ['chunks', 'concurrent'],
  }
}

export const CONTENDERS: Contender[] = [
  {
    id: 'pw',
    label: 'ProcessWriter (defaults)',
    transport: 'pipe (1 MiB default, budgeted)',
    feeder: { kind: 'pw' },
    workloads: ALL,
  },
  // Variants: shown beside the defaults, never used by the targets except zero-copy's own.
  // optIn ones run only when named.
  {
    id: 'pw-zerocopy',
    label: 'ProcessWriter, zeroCopy (vmsplice; its default bufferSize 16 MiB, lowWaterMark 0)',
    transport: 'pipe (1 MiB, F_SETPIPE_SZ)',
    feeder: { kind: 'pw', options: { zeroCopy: true } },
    workloads: ['chunks', 'sequence', 'concurrent'],
  },
  {
    id: 'pw-zerocopy-lw',
    label: 'ProcessWriter, zeroCopy, lowWaterMark 2 MiB (a drain no longer means every chunk was read)',
    transport: 'pipe (1 MiB, F_SETPIPE_SZ)',
    feeder: { kind: 'pw', options: { zeroCopy: true, lowWaterMark: 2 << 20 } },
    workloads: ['chunks'],
  },
  {
    id: 'pw-socketpair',
    label: "ProcessWriter, transport 'socketpair'",
    transport: 'AF_UNIX socketpair',
    feeder: { kind: 'pw', options: { transport: 'socketpair' } },
    workloads: ['chunks', 'concurrent'],
  },
  {
    id: 'pw-pipe64k',
    label: 'ProcessWriter, pipeSize 0 (kernel default 64 KiB)',
    transport: 'pipe (64 KiB)',
    feeder: { kind: 'pw', options: { pipeSize: 0 } },
    workloads: ['chunks', 'concurrent'],
    optIn: true,
  },
  {
    id: 'pw-pipe256k',
    label: 'ProcessWriter, pipeSize 256 KiB',
    transport: 'pipe (256 KiB)',
    feeder: { kind: 'pw', options: { pipeSize: 256 << 10 } },
    workloads: ['chunks', 'concurrent'],
    optIn: true,
  },
  {
    id: 'pw-buf1m',
    label: 'ProcessWriter, bufferSize 1 MiB, lowWaterMark 256 KiB',
    transport: 'pipe (1 MiB default, budgeted)',
    feeder: { kind: 'pw', options: { bufferSize: 1 << 20, lowWaterMark: 1 << 18 } },
    workloads: ['chunks', 'sequence', 'concurrent'],
  },
  {
    id: 'pw-twisted',
    label: "ProcessWriter, Twisted-exact marks (bufferSize 64 KiB, lowWaterMark 0)",
    transport: 'pipe (1 MiB default, budgeted)',
    feeder: { kind: 'pw', options: { bufferSize: 65536, lowWaterMark: 0 } },
    workloads: ['chunks', 'concurrent'],
  },
  ...([
    [512 << 10, 128 << 10],
    [1 << 20, 512 << 10],
    [960 << 10, 240 << 10],
  ] as const).map(([b, l]): Contender => ({
    id: `pw-b${b >> 10}k-l${l >> 10}k`,
    label: `ProcessWriter, bufferSize ${b >> 10} KiB, lowWaterMark ${l >> 10} KiB`,
    transport: 'pipe (1 MiB default, budgeted)',
    feeder: { kind: 'pw', options: { bufferSize: b, lowWaterMark: l } },
    workloads: ['chunks', 'sequence', 'concurrent'],
    optIn: true,
  })),
  {
    id: 'node-drain',
    label: "Node child.stdin, awaiting 'drain'",
    transport: 'AF_UNIX socketpair (libuv)',
    feeder: { kind: 'node', style: 'drain' },
    workloads: ALL,
  },
  {
    id: 'node-cork',
    label: 'Node child.stdin, cork + uncork per tick',
    transport: 'AF_UNIX socketpair (libuv)',
    feeder: { kind: 'node', style: 'cork' },
    workloads: ALL,
  },
  { id: 'twisted', label: "Twisted ProcessWriter (epoll reactor)", transport: 'pipe (64 KiB)', feeder: { kind: 'twisted' }, workloads: ALL },
  raw('write', 'pipe'),
  raw('writev', 'pipe'),
  raw('write', 'pipe1m'),
  raw('writev', 'pipe1m'),
  raw('write', 'socketpair'),
  raw('writev', 'socketpair'),
  {
    // Not one of the reference writers (write per chunk, writev): how fast a pipe takes
    // large chunks split the way ProcessWriter splits a deep queue.
    id: 'raw-pieces-pipe1m',
    label: 'raw C write per chunk in 8 KiB writes, pipe (1 MiB, F_SETPIPE_SZ)',
    transport: 'pipe (1 MiB, F_SETPIPE_SZ)',
    feeder: { kind: 'raw', mode: 'write', transport: 'pipe1m', piece: 8192 },
    workloads: ['chunks'],
    minChunk: 16 * 1024,
  },
  // The bound the default marks set (64 KiB, resume when empty): however fast the producer,
  // after the chunk that crosses the mark nothing new comes until the queue is empty and JS was
  // told. These writers pause only 1 µs there; ProcessWriter's turnaround is several µs. The
  // writev one sends each burst in one call, so it is the bound for small chunks too.
  ...[undefined, 8192].map((piece): Contender => ({
    id: piece ? 'raw-marks-pieces-pipe1m' : 'raw-marks-pipe1m',
    label: `raw C write per chunk${piece ? ' in 8 KiB writes' : ''}, paused 1 µs whenever the default marks would wait for a drain, pipe (1 MiB, F_SETPIPE_SZ)`,
    transport: 'pipe (1 MiB, F_SETPIPE_SZ)',
    feeder: { kind: 'raw', mode: 'write', transport: 'pipe1m', ...(piece ? { piece } : {}), marks: { highWater: 65536, pauseUs: 1 } },
    workloads: ['chunks'],
    minChunk: 64 * 1024,
  })),
  {
    id: 'raw-marks-writev-pipe1m',
    label: 'raw C writev of each burst up to the mark, paused 1 µs whenever the default marks would wait for a drain, pipe (1 MiB, F_SETPIPE_SZ)',
    transport: 'pipe (1 MiB, F_SETPIPE_SZ)',
    feeder: { kind: 'raw', mode: 'writev', transport: 'pipe1m', marks: { highWater: 65536, pauseUs: 1 } },
    workloads: ['chunks'],
  },
]

/** The baselines the targets are stated against. */
export const PW = 'pw'
export const NODE = 'node-drain'
export const TWISTED = 'twisted'
/** "The best raw native writer on the same transport": the reference writers (write per
 * chunk, writev) on ProcessWriter's default transport, a pipe enlarged to 1 MiB. */
export const RAW_SAME_TRANSPORT = ['raw-write-pipe1m', 'raw-writev-pipe1m']
/** Large chunks split into 8 KiB writes on that transport: shown beside the reference ratio. */
export const RAW_PIECES = 'raw-pieces-pipe1m'
/** Raw C writers held to the default marks: the bound shown beside the "by default" targets. */
export const RAW_AT_DEFAULT_MARKS = ['raw-marks-pipe1m', 'raw-marks-pieces-pipe1m', 'raw-marks-writev-pipe1m']
export const PW_ZERO_COPY = 'pw-zerocopy'

export function contenderById(id: string): Contender {
  const c = CONTENDERS.find((x) => x.id === id)
  if (!c) throw new Error(`unknown contender ${id}; known: ${CONTENDERS.map((x) => x.id).join(', ')}`)
  return c
}
