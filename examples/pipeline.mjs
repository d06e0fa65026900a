// stream.pipeline into a child's stdin, with the writer's backpressure.
import { createReadStream } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import { once } from 'node:events'
import { spawn } from 'process-writer'

const { child, stdin } = spawn('wc', ['-c'], { stdio: ['writer', 'pipe', 'inherit'] })
const counted = once(child.stdout, 'data')
// child.stdin is a Writable over the writer `stdin` (toWritable(writer) makes one for any writer).
await pipeline(createReadStream(new URL('./sample.txt', import.meta.url)), child.stdin)
// Resolved: every byte is in the pipe and the pipe is closed (stdin.lostReason.code === 'DONE').
console.log(`pipeline done (${stdin.lostReason.code}); wc -c says ${String((await counted)[0]).trim()}`)
