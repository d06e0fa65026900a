// Progress reports while feeding a slow reader.
import { spawn, feed } from 'process-writer'

const { child, stdin } = spawn('sh', ['-c', 'sleep 0.3; cat > /dev/null'], { stdio: ['writer', 'inherit', 'inherit'] })
const exited = new Promise((resolve) => child.on('close', resolve))
const data = new Uint8Array(4 * 1024 * 1024)
let reports = 0
const reason = await feed(stdin, data, {
  progressIntervalMs: 100,
  onProgress(p) {
    reports++
    if (p.done) {
      console.log(`done: ${p.bytesWritten} bytes`)
    }
  },
})
console.log(reason.code, reports > 1 ? 'several reports' : 'one report')
await exited
