// ESM entry: the CommonJS build (lib/index.js) with named exports (every public name; the native
// module's internal '_'-prefixed names stay on the default export). Types: lib/index.d.ts.
import cjs from './index.js'

export const {
  ProcessWriter,
  COALESCE_BELOW,
  openPipe,
  openSocketpair,
  closeFd,
  createPipe,
  spawn,
  run,
  RunError,
  DEFAULT_PIPE_SIZE,
  TWISTED_MARKS,
  toWritable,
  toWebWritable,
  feed,
  closed,
  onProgress,
  AbortError,
  ConnectionLostError,
} = cjs
export default cjs
