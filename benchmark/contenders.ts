// Who is measured, and on what. Adding a contender (say a ProcessWriter speed option such as
// `zeroCopy` or another transport) is one entry in CONTENDERS.

export type WorkloadKind = 'chunks' | 'sequence' | 'concurrent' | 'slow' | 'slowmany' | 'producer' | 'file' | 'pipein' | 'gunzip'

/** Where a stream contender writes a Node Readable (a file's read stream, or it piped through gunzip). */
export type StreamSink = 'node-stdin' | 'toWritable' | 'feed'

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
  /** benchmark/twisted_feed.py: Twisted's own ProcessWriter under its reactor (FileSender for `file`). */
  | { kind: 'twisted' }
  /**
   * A Node Readable of the input file (`fs.createReadStream`, `highWaterMark` = `hwm`, default
   * Node's 64 KiB; `gunzip`: through `zlib.createGunzip()`) into the sink: `node-stdin`
   * `pipeline(readable, child.stdin)` (Node's child_process), `toWritable` `pipeline(readable,
   * toWritable(writer))`, `feed` `feed(writer, readable)`, the writer from `spawn()`'s defaults.
   */
  | { kind: 'stream'; sink: StreamSink; hwm?: number }
  /** `writer.writeFile(FILE)` (the library's native file source) into a child, on `createPipe()`'s default transport or the one given. */
  | { kind: 'writeFile'; transport?: 'pipe' | 'socketpair' }
  /**
   * Commands (benchmark/run_cmd.py): `pipeline` with FILE, SINK, BYTES, CLI substituted, the sink
   * last; `needs` is a program that must be on PATH (else the row is skipped with a note).
   */
  | { kind: 'cmd'; pipeline: string[][]; needs?: string }

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

/** The main-job contenders: the same input into the same sink, each its own way. */
const STREAM_LABEL: Record<StreamSink, string> = {
  'node-stdin': "pipeline(readable, child.stdin) (Node's child_process)",
  toWritable: 'pipeline(readable, toWritable(writer))',
  feed: 'feed(writer, readable)',
}
function stream(sink: StreamSink, hwm?: number): Contender {
  const size = hwm ? `${hwm >> 10} KiB` : '64 KiB (default)'
  return {
    id: `${sink === 'node-stdin' ? 'node-pipeline' : `pw-${sink.toLowerCase()}`}${hwm ? '-1m' : ''}`,
    label: `${STREAM_LABEL[sink]}, highWaterMark ${size}`,
    transport: sink === 'node-stdin' ? 'AF_UNIX socketpair (libuv)' : 'AF_UNIX socketpair (spawn default)',
    feeder: { kind: 'stream', sink, ...(hwm ? { hwm } : {}) },
    // gunzip's reads are zlib's output chunks (16 KiB), whatever the file stream's mark
    workloads: hwm ? ['file'] : ['file', 'gunzip'],
  }
}

export const MAIN_JOB: Contender[] = [
  {
    id: 'cli-file',
    label: 'process-writer feed --input FILE -- sink (the CLI)',
    transport: 'pipe (1 MiB, F_SETPIPE_SZ, budgeted)',
    feeder: { kind: 'cmd', pipeline: [['CLI', 'feed', '-q', '--input', 'FILE', '--', 'SINK', 'BYTES']] },
    workloads: ['file'],
  },
  {
    id: 'pw-writefile',
    label: 'writer.writeFile(FILE) (the library, default transport: sendfile)',
    transport: 'AF_UNIX socketpair (default)',
    feeder: { kind: 'writeFile' },
    workloads: ['file'],
  },
  {
    id: 'pw-writefile-pipe',
    label: "writer.writeFile(FILE) (the library, transport 'pipe': splice)",
    transport: 'pipe (1 MiB, F_SETPIPE_SZ, budgeted)',
    feeder: { kind: 'writeFile', transport: 'pipe' },
    workloads: ['file'],
  },
  {
    id: 'pv',
    label: 'pv -q FILE | sink',
    transport: 'pipe (64 KiB, shell)',
    feeder: { kind: 'cmd', pipeline: [['pv', '-q', 'FILE'], ['SINK', 'BYTES']], needs: 'pv' },
    workloads: ['file'],
  },
  {
    id: 'cat',
    label: 'cat FILE | sink',
    transport: 'pipe (64 KiB, shell)',
    feeder: { kind: 'cmd', pipeline: [['cat', 'FILE'], ['SINK', 'BYTES']] },
    workloads: ['file', 'pipein'],
  },
  {
    id: 'cli-pipein',
    label: 'cat FILE | process-writer feed -- sink (the CLI, stdin a pipe)',
    transport: 'pipe (64 KiB) in, pipe (1 MiB, F_SETPIPE_SZ) out',
    feeder: { kind: 'cmd', pipeline: [['cat', 'FILE'], ['CLI', 'feed', '-q', '--', 'SINK', 'BYTES']] },
    workloads: ['pipein'],
  },
  stream('node-stdin'),
  stream('node-stdin', 1 << 20),
  stream('toWritable'),
  stream('toWritable', 1 << 20),
  stream('feed'),
  stream('feed', 1 << 20),
  {
    id: 'twisted-filesender',
    label: "Twisted FileSender into its ProcessWriter (16 KiB reads)",
    transport: 'pipe (64 KiB)',
    feeder: { kind: 'twisted' },
    workloads: ['file'],
  },
]

export const CONTENDERS: Contender[] = [
  {
    id: 'pw',
    label: 'ProcessWriter (defaults)',
    transport: 'AF_UNIX socketpair (default)',
    feeder: { kind: 'pw' },
    workloads: [...ALL, 'producer', 'slowmany'],
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
    // The default transport until 2026-12: a real pipe, enlarged to 1 MiB within the budget.
    id: 'pw-pipe',
    label: "ProcessWriter, transport 'pipe'",
    transport: 'pipe (1 MiB, F_SETPIPE_SZ, budgeted)',
    feeder: { kind: 'pw', options: { transport: 'pipe' } },
    workloads: ['chunks', 'concurrent', 'slowmany'],
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
    // The marks of Twisted and of this package before 2026-12 (the committed runs' "defaults").
    id: 'pw-twisted',
    label: 'ProcessWriter, Twisted-exact marks (TWISTED_MARKS: bufferSize 64 KiB, lowWaterMark 0)',
    transport: 'AF_UNIX socketpair (default)',
    feeder: { kind: 'pw', options: { bufferSize: 65536, lowWaterMark: 0 } },
    workloads: ['chunks', 'concurrent', 'producer'],
  },
  {
    id: 'node-drain',
    label: "Node child.stdin, awaiting 'drain'",
    transport: 'AF_UNIX socketpair (libuv)',
    feeder: { kind: 'node', style: 'drain' },
    workloads: [...ALL, 'producer'],
  },
  {
    id: 'node-cork',
    label: 'Node child.stdin, cork + uncork per tick',
    transport: 'AF_UNIX socketpair (libuv)',
    feeder: { kind: 'node', style: 'cork' },
    workloads: ALL,
  },
  { id: 'twisted', label: "Twisted ProcessWriter (epoll reactor)", transport: 'pipe (64 KiB)', feeder: { kind: 'twisted' }, workloads: ALL },
  ...MAIN_JOB,
  raw('write', 'pipe'),
  raw('writev', 'pipe'),
  raw('write', 'pipe1m'),
  raw('writev', 'pipe1m'),
  raw('write', 'socketpair'),
  raw('writev', 'socketpair'),
  {
    // Not one of the issue's reference writers (write per chunk, writev): how fast a pipe takes
    // large chunks split the way ProcessWriter splits a deep queue.
    id: 'raw-pieces-pipe1m',
    label: 'raw C write per chunk in 8 KiB writes, pipe (1 MiB, F_SETPIPE_SZ)',
    transport: 'pipe (1 MiB, F_SETPIPE_SZ)',
    feeder: { kind: 'raw', mode: 'write', transport: 'pipe1m', piece: 8192 },
    workloads: ['chunks'],
    minChunk: 16 * 1024,
  },
  // The bound Twisted's marks set (64 KiB, resume when empty; the defaults before 2026-12): however fast the producer,
  // after the chunk that crosses the mark nothing new comes until the queue is empty and JS was
  // told. These writers pause only 1 µs there; ProcessWriter's turnaround is several µs. The
  // writev one sends each burst in one call, so it is the bound for small chunks too.
  ...[undefined, 8192].map((piece): Contender => ({
    id: piece ? 'raw-marks-pieces-pipe1m' : 'raw-marks-pipe1m',
    label: `raw C write per chunk${piece ? ' in 8 KiB writes' : ''}, paused 1 µs whenever Twisted's marks would wait for a drain, pipe (1 MiB, F_SETPIPE_SZ)`,
    transport: 'pipe (1 MiB, F_SETPIPE_SZ)',
    feeder: { kind: 'raw', mode: 'write', transport: 'pipe1m', ...(piece ? { piece } : {}), marks: { highWater: 65536, pauseUs: 1 } },
    workloads: ['chunks'],
    minChunk: 64 * 1024,
  })),
  {
    id: 'raw-marks-writev-pipe1m',
    label: "raw C writev of each burst up to the mark, paused 1 µs whenever Twisted's marks would wait for a drain, pipe (1 MiB, F_SETPIPE_SZ)",
    transport: 'pipe (1 MiB, F_SETPIPE_SZ)',
    feeder: { kind: 'raw', mode: 'writev', transport: 'pipe1m', marks: { highWater: 65536, pauseUs: 1 } },
    workloads: ['chunks'],
  },
]

/** The baselines the targets are stated against. */
export const PW = 'pw'
export const NODE = 'node-drain'
export const TWISTED = 'twisted'
/** "The best raw native writer on the same transport": the issue's reference writers (write per
 * chunk, writev) on ProcessWriter's default transport, an AF_UNIX socketpair (a 1 MiB pipe
 * until 2026-12). */
export const RAW_SAME_TRANSPORT = ['raw-write-socketpair', 'raw-writev-socketpair']
/** Large chunks split into 8 KiB writes on a 1 MiB pipe: shown beside the reference ratio. */
export const RAW_PIECES = 'raw-pieces-pipe1m'
/** Raw C writers held to Twisted's marks: the bound shown beside the "by default" targets (those marks were the defaults until 2026-12). */
export const RAW_AT_TWISTED_MARKS = ['raw-marks-pipe1m', 'raw-marks-pieces-pipe1m', 'raw-marks-writev-pipe1m']
export const PW_ZERO_COPY = 'pw-zerocopy'

export function contenderById(id: string): Contender {
  const c = CONTENDERS.find((x) => x.id === id)
  if (!c) throw new Error(`unknown contender ${id}; known: ${CONTENDERS.map((x) => x.id).join(', ')}`)
  return c
}
