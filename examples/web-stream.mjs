// A WHATWG ReadableStream piped into a child with pipeTo().
import { once } from 'node:events'
import { spawn, toWebWritable } from 'process-writer'

const { child, stdin } = spawn('wc', ['-l'], { stdio: ['writer', 'pipe', 'inherit'] })
const lines = once(child.stdout, 'data')
let i = 0
const source = new ReadableStream({
  pull(controller) {
    if (i === 1000) return controller.close()
    controller.enqueue(new TextEncoder().encode(`line ${++i}\n`))
  },
})
await source.pipeTo(toWebWritable(stdin))
console.log(`wc -l says ${String((await lines)[0]).trim()}`)
