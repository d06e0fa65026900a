// CommonJS works too.
const { spawn, feed, ProcessWriter } = require('process-writer')

const { child, stdin } = spawn('wc', ['-c'], { stdio: ['writer', 'pipe', 'inherit'] })
let out = ''
child.stdout.on('data', (d) => (out += d))
const exited = new Promise((resolve) => child.on('close', resolve))
Promise.all([feed(stdin, Buffer.from('twelve bytes')), exited]).then(([reason, code]) => {
  console.log(stdin instanceof ProcessWriter, reason.code, `wc -c: ${out.trim()}`, `exit ${code}`)
})
