// One awaitable result per command: the input goes in; the exit status, the output and the
// writer's reason come out. Nothing to listen for before awaiting.
import { fileURLToPath } from 'node:url'
import { run, RunError } from 'process-writer'

const sample = fileURLToPath(new URL('./sample.txt', import.meta.url))
const { code, stdout, reason } = await run('sha256sum', [], { input: { file: sample } })
console.log(`exit ${code}, ${reason.code} after ${reason.bytesWritten} bytes: ${stdout.split(' ')[0]}`)

// A non-zero exit rejects with a RunError (pass { reject: false } to get the result instead).
try {
  await run('sh', ['-c', 'cat >/dev/null; echo "no such table" >&2; exit 3'], { input: 'SELECT 1;\n' })
} catch (err) {
  if (!(err instanceof RunError)) throw err
  console.log(`${err.code}: exit ${err.exitCode}, stderr ${JSON.stringify(err.stderr)}, input ${err.reason.code}`)
}
