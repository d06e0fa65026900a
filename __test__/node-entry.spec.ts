// ESM and CJS entries expose the same API, through the package's "exports" too.
import test from 'ava'
import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as viaIndexJs from '../lib/index.js'
import { nodeCommand } from './env.mjs'

const require = createRequire(import.meta.url)
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const API = ['ProcessWriter', 'openPipe', 'closeFd', 'createPipe', 'spawn', 'toWritable', 'toWebWritable', 'feed', 'closed', 'onProgress', 'AbortError', 'ConnectionLostError']

test('lib/index.mjs (ESM entry) and lib/index.js (CJS) export the same values', async (t) => {
  const esm = await import('../lib/index.mjs')
  const cjs = require('../lib/index.js')
  // Names starting with '_' are internal to the native module and only reachable through default.
  const names = Object.keys(cjs).filter((k) => !k.startsWith('_')).sort()
  for (const n of API) t.true(names.includes(n), n)
  for (const n of names) {
    t.is((esm as Record<string, unknown>)[n], cjs[n], `ESM export ${n}`)
    t.is((viaIndexJs as Record<string, unknown>)[n], cjs[n], `lib/index.js export ${n}`)
  }
  t.is(esm.default, cjs)
  // The exported class is the native one with the JS fast path for small writes on top.
  t.true(cjs.ProcessWriter.prototype instanceof require('../index.js').ProcessWriter)
})

test('the package name resolves for import and require (package.json "exports")', (t) => {
  // Self-reference only works from the package root scope (__test__ has its own package.json).
  const esm = execFileSync(...nodeCommand(['--input-type=module', '-e', `import * as m from 'process-writer'; console.log(Object.keys(m).sort().join(','))`]), { cwd: ROOT, encoding: 'utf8' })
  const cjs = execFileSync(...nodeCommand(['-e', `const m = require('process-writer'); console.log(m === require('./lib/index.js'), typeof m.spawn)`]), { cwd: ROOT, encoding: 'utf8' })
  for (const n of API) t.true(esm.trim().split(',').includes(n), n)
  t.is(cjs.trim(), 'true function')
})
