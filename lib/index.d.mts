// Types of the ESM entry (lib/index.mjs): the same API as the CommonJS build.
export * from './index.js'
import * as api from './index.js'
export default api
