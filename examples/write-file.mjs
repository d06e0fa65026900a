// Queue a file range between two writes; the I/O thread splices it into the child's pipe.
import { open } from 'node:fs/promises'
import { once } from 'node:events'
import { spawn } from 'process-writer'

// transport 'pipe': a real pipe, which the file is spliced into (spawn's default socketpair
// would take it by sendfile, slower for big files).
const { child, stdin } = spawn('wc', ['-c'], { stdio: ['writer', 'pipe', 'inherit'], transport: 'pipe' })
child.stdout.setEncoding('utf8')
let count = ''
child.stdout.on('data', (s) => (count += s))
const exited = once(child, 'close') // listen before awaiting anything

stdin.write(Buffer.from('header\n'))
const fh = await open(new URL('./sample.txt', import.meta.url))
const moved = stdin.writeFile(fh, { start: 29 }) // queued now, in order
await fh.close() // fine: the writer has its own duplicate of the fd
stdin.write(Buffer.from('trailer\n'))
stdin.loseConnection()
console.log(`moved ${await moved} bytes from the file`)
await exited
console.log(`wc -c says ${count.trim()}`)
