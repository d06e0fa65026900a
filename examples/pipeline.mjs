// stream.pipeline into a child's stdin, with the writer's backpressure.
import { createReadStream } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import { once } from 'node:events'
import { spawn, toWritable } from 'process-writer'

const { child, stdin } = spawn('wc', ['-c'], { stdio: ['writer', 'pipe', 'inherit'] })
const counted = once(child.stdout, 'data')
await pipeline(createReadStream(new URL('./sample.txt', import.meta.url)), toWritable(stdin))
// Resolved: every byte is in the pipe and the pipe is closed (stdin.lostReason.code === 'DONE').
console.log(`pipeline done (${stdin.lostReason.code}); wc -c says ${String((await counted)[0]).trim()}`)
