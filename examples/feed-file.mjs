// Feed a file into `sha256sum` and wait for both the writer and the child.
import { createReadStream } from 'node:fs'
import { once } from 'node:events'
import { spawn, feed } from 'process-writer'

const file = new URL('./sample.txt', import.meta.url)
const { child, stdin } = spawn('sha256sum', [], { stdio: ['writer', 'pipe', 'inherit'] })
child.stdout.setEncoding('utf8')
let digest = ''
child.stdout.on('data', (s) => (digest += s))

const exited = once(child, 'close') // listen before awaiting anything
const reason = await feed(stdin, createReadStream(file))
const [code] = await exited
console.log(`${reason.code}: ${reason.bytesWritten} bytes written, sha256sum exited with ${code}`)
console.log(digest.split(' ')[0])
