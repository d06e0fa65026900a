// CommonJS works too.
const { spawn, feed, ProcessWriter } = require('process-writer')

const { child, stdin } = spawn('wc', ['-c'], { stdio: ['writer', 'pipe', 'inherit'] })
let out = ''
child.stdout.on('data', (d) => (out += d))
feed(stdin, Buffer.from('twelve bytes')).then((reason) => {
  child.on('close', (code) => {
    console.log(stdin instanceof ProcessWriter, reason.code, `wc -c: ${out.trim()}`, `exit ${code}`)
  })
})
