// Feed two fds of one child: its stdin and its fd 3.
import { once } from 'node:events'
import { spawn, feed } from 'process-writer'

const { child, writers } = spawn('sh', ['-c', 'echo "stdin: $(cat)"; echo "fd 3: $(cat <&3)"'], {
  stdio: ['writer', 'inherit', 'inherit', 'writer'],
})
const exited = once(child, 'close')
const [a, b] = await Promise.all([feed(writers[0], 'hello'), feed(writers[3], 'world')])
await exited
console.log(a.code, a.childFd, b.code, b.childFd)
