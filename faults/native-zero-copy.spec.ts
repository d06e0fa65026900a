// Fault matrix, native side: abortConnection() with zeroCopy while the reader has not read what
// was mapped into the pipe (issue 16, item 3). The partly mapped chunk used to be kept for good
// (its whole ArrayBuffer: four aborts of 64 MiB kept 256 MiB), and a caller that reused it after
// the abort (the reason counts those bytes as written) changed what the reader then read. Now the
// unread bytes are replaced by copies in the pipe and the memory is released at the abort.
import test from 'ava'
import { closed, spawn } from '../lib/index.js'
import { collect, collectUntilGone, exitOf, MiB, sha256, waitFor } from './helpers.mjs'

test('zeroCopy abort with a reader that has not read yet: the buffer is released, and reusing it does not change what the reader reads', async (t) => {
  for (let round = 0; round < 3; round++) {
    // cat starts reading only after the abort.
    const { child, stdin } = spawn('sh', ['-c', 'sleep 1; exec cat'], { zeroCopy: true, stdio: ['writer', 'pipe', 'ignore'] })
    const w = stdin!
    const out = collect(child.stdout)
    let buf: Buffer | null = Buffer.alloc(16 * MiB)
    for (let i = 0; i < buf.length; i += 4096) buf.writeUInt32LE((i * 2654435761) >>> 0, i)
    const gone = new WeakRef(buf.buffer)
    w.write(buf)
    // The pipe is full of mapped pages (1 MiB) and the chunk is partly sent.
    await waitFor(() => w.stats().syscalls > 0 && w.bufferedAmount < 16 * MiB, 'the first vmsplice')
    w.abortConnection()
    const reason = await closed(w)
    t.is(reason.code, 'ABORTED')
    t.true(reason.bytesWritten > 0 && reason.bytesWritten < 16 * MiB, `bytesWritten ${reason.bytesWritten}`)
    const expected = sha256(buf.subarray(0, reason.bytesWritten))
    buf.fill(0xee) // the caller reuses its buffer: the reason says these bytes were written
    buf = null
    t.is(await collectUntilGone([gone]), 0, `round ${round}: the 16 MiB ArrayBuffer was released`)
    const got = await out
    await exitOf(child)
    t.is(got.length, reason.bytesWritten, 'the reader got exactly what the reason counts as written')
    t.is(sha256(got), expected, 'and those bytes are the ones written, not the reused buffer')
  }
})
