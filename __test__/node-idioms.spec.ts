// Idioms from Node's Writable, execa and tinyexec: write(string, encoding) and end() on the
// writer, child.stdin as a Writable over the fd 0 writer, and run(). Real children throughout.
import test from 'ava'
import { ConnectionLostError, closed, spawn } from '../lib/index.js'
import { collect, exitOf, sha256 } from './node-helpers.mjs'

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

