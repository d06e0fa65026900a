// Idioms from Node's Writable, execa and tinyexec: write(string, encoding) and end() on the
// writer, child.stdin as a Writable over the fd 0 writer, and run(). Real children throughout.
import anyTest from 'ava'
import { once } from 'node:events'
import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { ConnectionLostError, RunError, closed, feed, run, spawn as spawnWriters } from '../lib/index.js'
import { standIn } from './helpers.mjs'
import type { RunInput } from '../lib/index.js'
import { collect, exitOf, sha256, testData } from './node-helpers.mjs'
import { posixOnly } from './platform.mjs'

const test = posixOnly(anyTest, 'run() is given POSIX commands and sh scripts (exit codes, signals, a background job)', [
  'run():',
  'a grandchild holding the pipe',
])

/** `spawn`, with helpers.mjs's node stand-ins for the POSIX commands on Windows. */
const spawn = (cmd: string, args: readonly string[] = [], options?: Parameters<typeof spawnWriters>[2]) =>
  spawnWriters(...standIn(cmd, args), options)

test('write(string) is UTF-8 by default; other Buffer encodings; mixed with bytes, order kept', async (t) => {
  const { child, stdin } = spawn('sha256sum', [], { stdio: ['writer', 'pipe', 'inherit'] })
  const w = stdin!
  const out = collect(child.stdout)
  const expected: Buffer[] = []
  const big = 'ünïcödé €uro 😀 '.repeat(3000) // > COALESCE_BELOW bytes: goes through the core
  for (let i = 0; i < 500; i++) {
    w.write(`line ${i}: héllo wörld €\n`)
    expected.push(Buffer.from(`line ${i}: héllo wörld €\n`, 'utf8'))
    w.write(Buffer.from([i & 255]))
    expected.push(Buffer.from([i & 255]))
    if (i % 100 === 0) {
      w.write(big)
      expected.push(Buffer.from(big))
    }
  }
  const encoded: [string, BufferEncoding][] = [
    ['68c3a96c6c6f', 'hex'],
    ['aMOpbGxv', 'base64'],
    ['aMOpbGxv', 'base64url'],
    ['caf\xe9', 'latin1'],
    ['caf\xe9', 'binary'],
    ['plain', 'ascii'],
    ['wide ☃', 'utf16le'],
    ['wide ☃', 'ucs2'],
    ['utf-8 ☃', 'utf-8'],
  ]
  for (const [s, enc] of encoded) {
    w.write(s, enc)
    expected.push(Buffer.from(s, enc))
  }
  w.write(Buffer.from('bytes'), 'hex') // the encoding is ignored for bytes
  expected.push(Buffer.from('bytes'))
  const total = expected.reduce((n, b) => n + b.length, 0)
  t.is(w.stats().bytesAccepted, total)
  w.end()
  const reason = await closed(w)
  t.is(reason.code, 'DONE')
  t.is(reason.bytesWritten, total)
  t.is((await out).toString().split(' ')[0], sha256(Buffer.concat(expected)))
  t.deepEqual(await exitOf(child), { code: 0, signal: null })
})

test('an unknown encoding throws TypeError ERR_UNKNOWN_ENCODING and queues nothing', async (t) => {
  const { child, stdin } = spawn('wc', ['-c'], { stdio: ['writer', 'pipe', 'inherit'] })
  const w = stdin!
  const out = collect(child.stdout)
  for (const call of [
    () => w.write('x', 'utf9' as BufferEncoding),
    () => w.write(Buffer.from('x'), 'nope' as BufferEncoding),
    () => w.writeSequence(['x'], 'klingon' as BufferEncoding),
    () => w.end('x', 'bogus' as BufferEncoding),
  ]) {
    const err = t.throws(call, { instanceOf: TypeError })
    t.is((err as TypeError & { code: string }).code, 'ERR_UNKNOWN_ENCODING')
    t.regex(err!.message, /^Unknown encoding: /)
  }
  const notString = t.throws(() => w.write('x', 42 as unknown as BufferEncoding), { instanceOf: TypeError })
  t.is((notString as TypeError & { code: string }).code, 'ERR_INVALID_ARG_TYPE')
  t.is(w.bufferedAmount, 0)
  t.true(w.connected)
  w.end('ok')
  t.is((await closed(w)).code, 'DONE')
  t.is((await out).toString().trim(), '2')
})

test('writeSequence takes strings (and any iterable) with an optional encoding', async (t) => {
  const { child, stdin } = spawn('cat', [], { stdio: ['writer', 'pipe', 'inherit'] })
  const w = stdin!
  const out = collect(child.stdout)
  t.true(w.writeSequence(['a', Buffer.from('b'), 'ç', new Uint8Array([100])]))
  t.true(w.writeSequence(['2d2d', Buffer.from('!')], 'hex'))
  t.true(
    w.writeSequence(
      (function* () {
        yield 'gen'
        yield Buffer.from('+')
      })(),
    ),
  )
  w.end()
  t.is((await closed(w)).code, 'DONE')
  t.is((await out).toString(), 'abçd--!gen+')
})

test('end(chunk[, encoding][, callback]): the last chunk, then loseConnection(); the callback sees DONE as no error', async (t) => {
  const { child, stdin } = spawn('cat', [], { stdio: ['writer', 'pipe', 'inherit'] })
  const w = stdin!
  const out = collect(child.stdout)
  w.write('first ')
  let cbArgs: unknown[] | null = null
  const ret = w.end('6c617374', 'hex', (...args: unknown[]) => (cbArgs = args))
  t.is(ret, w)
  t.true(w.disconnecting)
  const reason = await closed(w)
  await new Promise((r) => setImmediate(r))
  t.is(reason.code, 'DONE')
  t.deepEqual(cbArgs, [])
  t.is((await out).toString(), 'first last')
  // After the end, writes are refused (counted as dropped), as for any closed writer.
  t.false(w.write('late'))
  t.is(w.stats().bytesDropped, 4)
})

test('end(callback) gets a ConnectionLostError when the child stopped reading', async (t) => {
  // `sleep` never reads: 4 MiB cannot fit in the pipe.
  const { child, stdin } = spawn('sleep', ['0.3'], { stdio: ['writer', 'ignore', 'inherit'] })
  const w = stdin!
  const err = await new Promise<unknown>((resolve) => w.end('x'.repeat(4 << 20), resolve))
  t.true(err instanceof ConnectionLostError)
  t.is((err as ConnectionLostError).code, 'READER_CLOSED')
  t.true((err as ConnectionLostError).reason.bytesUnwritten > 0)
  await exitOf(child)
})


// child.stdin

test('child.stdin is a Writable over the fd 0 writer: pipeline(source, child.stdin) into sha256sum', async (t) => {
  const data = testData(3 * 1024 * 1024 + 5)
  const { child, stdin } = spawn('sha256sum', [], { stdio: ['writer', 'pipe', 'inherit'] })
  t.true(child.stdin instanceof Writable)
  t.is(child.stdio[0], child.stdin)
  const out = collect(child.stdout)
  const chunks = (function* () {
    for (let off = 0; off < data.length; off += 100_000) yield data.subarray(off, off + 100_000)
  })()
  await pipeline(Readable.from(chunks), child.stdin!)
  const reason = await closed(stdin!)
  t.is(reason.code, 'DONE')
  t.is(reason.bytesWritten, data.length)
  t.is((await out).toString().split(' ')[0], sha256(data))
  t.deepEqual(await exitOf(child), { code: 0, signal: null })
})

test("child.stdin.end(data), Node's idiom; the child's exit does not cut it short", async (t) => {
  for (let i = 0; i < 5; i++) {
    const { child } = spawn('wc', ['-c'], { stdio: ['writer', 'pipe', 'inherit'] })
    const out = collect(child.stdout)
    const finished = once(child.stdin!, 'finish')
    child.stdin!.end('x'.repeat(200_000))
    await finished
    t.is((await out).toString().trim(), '200000')
    await exitOf(child)
  }
})

test('pipeline into a child that stops reading rejects with ConnectionLostError READER_CLOSED', async (t) => {
  const { child, stdin } = spawn('head', ['-c', '5'], { stdio: ['writer', 'pipe', 'inherit'] })
  const out = collect(child.stdout)
  const endless = (function* () {
    for (;;) yield Buffer.alloc(65536, 97)
  })()
  const err = await t.throwsAsync(pipeline(Readable.from(endless), child.stdin!), { instanceOf: ConnectionLostError })
  t.is((err as ConnectionLostError).code, 'READER_CLOSED')
  t.is((await closed(stdin!)).code, 'READER_CLOSED')
  t.is((await out).toString(), 'aaaaa')
})

test('reading child.stdin does not take the writer: feed() still works, and the stream just closes', async (t) => {
  const { child, stdin } = spawn('wc', ['-c'], { stdio: ['writer', 'pipe', 'inherit'] })
  const s = child.stdin!
  let errored: unknown = null
  s.on('error', (e) => (errored = e))
  const out = collect(child.stdout)
  t.is((await feed(stdin!, 'y'.repeat(70_000))).code, 'DONE')
  t.is((await out).toString().trim(), '70000')
  await exitOf(child)
  if (!s.closed) await once(s, 'close')
  t.true(s.destroyed)
  t.is(errored, null)
})

test('a child that read all it was given and exited closes child.stdin without an error', async (t) => {
  const { child, stdin } = spawn('head', ['-c', '3'], { stdio: ['writer', 'pipe', 'inherit'] })
  const s = child.stdin!
  let errored: unknown = null
  s.on('error', (e) => (errored = e))
  const closedEvent = once(s, 'close')
  s.write('abc')
  t.is((await collect(child.stdout)).toString(), 'abc')
  await closedEvent
  t.is(errored, null)
  const reason = await closed(stdin!)
  t.is(reason.code, 'READER_CLOSED')
  t.true(reason.clean)
})

test('a grandchild holding the pipe is still fed through child.stdin after the child exited', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-stdin-'))
  const file = join(dir, 'out')
  try {
    // sh exits at once; the backgrounded cat keeps the pipe open (through fd 3: sh gives a
    // background job /dev/null as fd 0 before any redirection of its own).
    const { child, stdin } = spawn('sh', ['-c', 'exec 3<&0; cat <&3 > "$0" &', file], { stdio: ['writer', 'ignore', 'inherit'] })
    const s = child.stdin!
    s.write('early ')
    await exitOf(child)
    t.false(s.destroyed)
    s.end('late')
    await once(s, 'finish')
    t.is((await closed(stdin!)).code, 'DONE')
    for (let i = 0; i < 100 && readFileSync(file, 'utf8') !== 'early late'; i++) await new Promise((r) => setTimeout(r, 20))
    t.is(readFileSync(file, 'utf8'), 'early late')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a command that cannot start: child.stdin is a destroyed Writable, the error is on the child', async (t) => {
  const { child, stdin } = spawn('process-writer-no-such-command', [])
  const [err] = (await once(child, 'error')) as [NodeJS.ErrnoException]
  t.is(err.code, 'ENOENT')
  t.true(child.stdin instanceof Writable)
  t.true(child.stdin!.destroyed)
  t.is((await closed(stdin!)).code, 'ABORTED')
})

// run()

test('run(): every kind of input arrives whole (sha256sum), with the writer reason and the output', async (t) => {
  const data = testData(1024 * 1024 + 3)
  const dir = mkdtempSync(join(tmpdir(), 'pw-run-'))
  const file = join(dir, 'input.bin')
  writeFileSync(file, data)
  try {
    const inputs: [string, RunInput][] = [
      ['Buffer', data],
      ['Uint8Array', new Uint8Array(data)],
      ['iterable', [data.subarray(0, 1000), data.subarray(1000)]],
      [
        'async iterable',
        (async function* () {
          for (let off = 0; off < data.length; off += 65536) yield data.subarray(off, off + 65536)
        })(),
      ],
      ['Readable', createReadStream(file)],
      ['ReadableStream', new Blob([new Uint8Array(data)]).stream()],
      ['{ file }', { file }],
    ]
    for (const [name, input] of inputs) {
      const r = await run('sha256sum', [], { input })
      t.is(r.code, 0, name)
      t.is(r.signal, null)
      t.is(r.stdout, `${sha256(data)}  -\n`, name)
      t.is(r.stderr, '')
      t.is(r.reason!.code, 'DONE', name)
      t.is(r.reason!.bytesWritten, data.length, name)
      t.true(typeof r.pid === 'number')
    }
    const text = await run('cat', [], { input: 'héllo' })
    t.is(text.stdout, 'héllo')
    const ranged = await run('cat', [], { input: { file, start: 10, end: 20 }, encoding: 'buffer' })
    t.deepEqual(ranged.stdout, data.subarray(10, 20))
    const hex = await run('cat', [], { input: '6869', inputEncoding: 'hex' })
    t.is(hex.stdout, 'hi')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('run(): { file } input gets a pipe (spliced), other input the default channel; a given transport wins', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-run-transport-'))
  try {
    const file = join(dir, 'in.bin')
    writeFileSync(file, testData(200_000, 5))
    const script = 'if test -p /dev/stdin; then echo fifo; else echo other; fi; wc -c'
    const kind = async (options: Parameters<typeof run>[2]) => String((await run('sh', ['-c', script], options)).stdout).split(/\s+/).slice(0, 2).join(' ')
    t.is(await kind({ input: { file } }), 'fifo 200000')
    t.is(await kind({ input: { file }, transport: 'socketpair' }), 'other 200000')
    t.is(await kind({ input: Buffer.alloc(1000, 1) }), `${process.platform === 'linux' ? 'other' : 'fifo'} 1000`)
    t.is(await kind({ input: Buffer.alloc(1000, 1), transport: 'pipe' }), 'fifo 1000')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('run(): maxBuffer kills the child past the limit and rejects with ERR_CHILD_PROCESS_STDIO_MAXBUFFER, the output truncated; at the limit it resolves', async (t) => {
  // An endless writer with endless input: both are cut, nothing hangs.
  const e1 = await t.throwsAsync(run('sh', ['-c', 'cat >/dev/null & yes'], { input: (function* () { for (;;) yield Buffer.alloc(65536, 1) })(), maxBuffer: 1000 }), { instanceOf: RangeError, code: 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER' })
  const r1 = (e1 as RangeError & { result: { stdout: string; signal: string | null; reason: { code: string } } }).result
  t.is(e1!.message, 'stdout maxBuffer length exceeded')
  t.is(r1.stdout, 'y\n'.repeat(500))
  // Killed by SIGTERM, or (when `yes` met the destroyed pipe first) sh exited with its status.
  t.true(r1.signal === 'SIGTERM' || (r1 as unknown as { code: number }).code !== 0, JSON.stringify([r1.signal, (r1 as unknown as { code: number }).code]))
  t.not(r1.reason.code, 'DONE')
  const e2 = await t.throwsAsync(run('sh', ['-c', 'head -c 5000 /dev/zero >&2'], { maxBuffer: 4096, encoding: 'buffer', killSignal: 'SIGKILL' }), { code: 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER' })
  t.is(e2!.message, 'stderr maxBuffer length exceeded')
  t.is(((e2 as Error & { result: { stderr: Buffer } }).result.stderr as Buffer).length, 4096)
  const ok = await run('sh', ['-c', 'head -c 4096 /dev/zero'], { maxBuffer: 4096, encoding: 'buffer' })
  t.is(ok.stdout!.length, 4096)
  for (const bad of [-1, Number.NaN]) t.throws(() => run('true', [], { maxBuffer: bad }), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' })
  t.throws(() => run('true', [], { maxBuffer: '10' as never }), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' })
})

test('run(): no listen-before-await trap: awaited long after the child and the writer ended, nothing is missed', async (t) => {
  const p = run('sh', ['-c', 'cat; echo err >&2'], { input: 'late reader' })
  await exitOf(p.child)
  await new Promise((r) => setTimeout(r, 200))
  const r = await p
  t.deepEqual([r.code, r.stdout, r.stderr, r.reason!.code], [0, 'late reader', 'err\n', 'DONE'])
})

test('run(): without input fd 0 is closed at once; output can be Buffers or left inherited', async (t) => {
  const r = await run('cat')
  t.deepEqual([r.stdout, r.reason!.code, r.reason!.bytesWritten], ['', 'DONE', 0])
  const b = await run('printf', ['\\377'], { encoding: 'buffer' })
  t.deepEqual(b.stdout, Buffer.from([0xff]))
  const i = await run('true', [], { stdio: ['writer', 'ignore', 'inherit'] })
  t.deepEqual([i.stdout, i.stderr], [null, null])
})

test('run(): a non-zero exit rejects with RunError ERR_PROCESS_EXIT (resolves with reject: false)', async (t) => {
  const err = await t.throwsAsync(run('sh', ['-c', 'cat >/dev/null; echo "it broke" >&2; exit 3'], { input: 'x' }), { instanceOf: RunError })
  t.is(err!.code, 'ERR_PROCESS_EXIT')
  t.is(err!.exitCode, 3)
  t.is(err!.signal, null)
  t.is(err!.stderr, 'it broke\n')
  t.is(err!.reason!.code, 'DONE')
  t.is(err!.result.code, 3)
  t.regex(err!.message, /^Command exited with code 3: sh -c .*\nit broke$/)
  const r = await run('sh', ['-c', 'exit 3'], { reject: false })
  t.is(r.code, 3)
})

test('run(): death by a signal rejects with RunError ERR_PROCESS_SIGNAL', async (t) => {
  const err = await t.throwsAsync(run('sh', ['-c', 'kill -TERM $$']), { instanceOf: RunError })
  t.is(err!.code, 'ERR_PROCESS_SIGNAL')
  t.is(err!.signal, 'SIGTERM')
  t.is(err!.exitCode, null)
  const r = await run('sh', ['-c', 'kill -KILL $$'], { reject: false })
  t.deepEqual([r.code, r.signal], [null, 'SIGKILL'])
})

test('run(): a child that stops reading resolves (exit 0) with READER_CLOSED and what was not delivered', async (t) => {
  const r = await run('head', ['-c', '5'], { input: Buffer.alloc(8 << 20, 97) })
  t.is(r.code, 0)
  t.is(r.stdout, 'aaaaa')
  t.is(r.reason!.code, 'READER_CLOSED')
  t.true(r.reason!.bytesWritten < 8 << 20, 'not all of the input reached the pipe')
})

test('run(): rejects whatever reject says when the command cannot start, the signal fires, or the input fails', async (t) => {
  const enoent = await t.throwsAsync(run('process-writer-no-such-command', [], { reject: false }))
  t.is((enoent as NodeJS.ErrnoException).code, 'ENOENT')

  const p = run('sleep', ['10'], { signal: AbortSignal.timeout(100), reject: false })
  const aborted = await t.throwsAsync(p)
  t.is(aborted!.name, 'AbortError')
  t.not(p.child.signalCode, null, 'the child was killed and reaped first')

  // The source fails midway: the writer is aborted, so cat sees its input cut and exits.
  const boom = new Error('source failed')
  const failing = (async function* () {
    yield 'partial'
    await new Promise((r) => setTimeout(r, 50))
    throw boom
  })()
  const q = run('cat', [], { input: failing, reject: false })
  t.is(await t.throwsAsync(q), boom)
  t.is(q.stdin!.lostReason!.code, 'ABORTED')
  t.is(q.child.exitCode, 0)
})

test('run(): bad arguments throw at once, with codes', (t) => {
  t.throws(() => run('cat', [], { input: 42 as never }), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => run('cat', [], { input: 'x', stdio: 'pipe' }), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => run('cat', [], { encoding: 'utf9' as never }), { instanceOf: TypeError, code: 'ERR_UNKNOWN_ENCODING' })
})
