// Spawning yourself: createPipe() + closeFd(), and closed() to observe the end.
import { spawn as nodeSpawn } from 'node:child_process'
import { once } from 'node:events'
import { createPipe, closeFd, closed, feed } from 'process-writer'

const { readFd, writer } = createPipe({ childFd: 0 })
const child = nodeSpawn('head', ['-c', '5'], { stdio: [readFd, 'inherit', 'inherit'] })
closeFd(readFd) // the child has its copy; without this the writer never sees it go away

const exited = once(child, 'close')
const observed = closed(writer) // any number of parties may wait for the end
const reason = await feed(writer, 'x'.repeat(8 << 20)) // far more than `head -c 5` wants, or the channel holds
await exited
console.log(`\n${reason.code}; same reason: ${(await observed) === reason}`)
