// A push producer: it writes until the writer pauses it (more than `bufferSize` bytes waiting)
// and carries on when the writer resumes it (the buffer has drained).
import { once } from 'node:events'
import { spawn, closed } from 'process-writer'

const { child, stdin } = spawn('wc', ['-c'], { stdio: ['writer', 'pipe', 'inherit'] })
let counted = ''
child.stdout.on('data', (d) => (counted += d))
const exited = once(child, 'close') // listen before awaiting anything

const line = Buffer.from('the quick brown fox jumps over the lazy dog\n') // 44 bytes
let left = 200_000
let paused = false

stdin.registerProducer(
  {
    pauseProducing() {
      paused = true
    },
    resumeProducing() {
      paused = false
      setImmediate(produce)
    },
    stopProducing() {
      left = 0 // the child went away
    },
  },
  true, // streaming: a push producer
)

function produce() {
  while (!paused && left > 0) {
    stdin.write(line)
    left--
  }
  if (left === 0 && !paused) {
    stdin.unregisterProducer() // done: let the close go ahead
    stdin.loseConnection() // flush, then close
  }
}
produce()

const reason = await closed(stdin)
await exited
console.log(`${reason.code}: wc -c counted ${counted.trim()} bytes`)
