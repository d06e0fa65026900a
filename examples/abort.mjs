// Give up after 100 ms: feed() rejects with an AbortError and the writer is aborted.
import { spawn, feed, closed } from 'process-writer'

// `sleep` never reads its stdin, so the pipe fills up and feed() waits.
const { child, stdin } = spawn('sleep', ['2'], { stdio: ['writer', 'ignore', 'inherit'] })
const endless = (function* () {
  for (;;) yield new Uint8Array(65536)
})()
try {
  await feed(stdin, endless, { signal: AbortSignal.timeout(100) })
} catch (err) {
  console.log(`${err.name}; writer ended with ${(await closed(stdin)).code}`)
} finally {
  child.kill()
}
