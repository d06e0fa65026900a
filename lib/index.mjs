// ESM entry: the CommonJS build (lib/index.js) with named exports. Types: lib/index.d.ts.
import cjs from './index.js'

export const {
  ProcessWriter,
  openPipe,
  closeFd,
  createPipe,
  spawn,
  toWritable,
  toWebWritable,
  feed,
  closed,
  onProgress,
  AbortError,
  ConnectionLostError,
} = cjs
export default cjs
