// A pull producer: asked for one more piece each time the writer's buffer has drained.
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { spawn, closed } from 'process-writer'

const { child, stdin } = spawn('sha256sum', [], { stdio: ['writer', 'pipe', 'inherit'] })
let digest = ''
child.stdout.on('data', (d) => (digest += d))
const exited = once(child, 'close') // listen before awaiting anything

const piece = Buffer.alloc(64 * 1024, 'z') // never modified, so it may be written by reference
const ours = createHash('sha256')
let pieces = 0

stdin.registerProducer(
  {
    resumeProducing() {
      if (pieces === 100) {
        stdin.unregisterProducer()
        stdin.loseConnection()
        return
      }
      pieces++
      ours.update(piece)
      stdin.write(piece)
    },
    stopProducing() {},
  },
  false, // not streaming: a pull producer
)

const reason = await closed(stdin)
await exited
const same = digest.split(' ')[0] === ours.digest('hex')
console.log(`${reason.code}: ${reason.bytesWritten} bytes, sha256 ${same ? 'matches' : 'differs'}`)
