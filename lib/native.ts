/**
 * The native addon, loaded through napi-rs's generated loader (`../index.js`, which picks the
 * `.node` file for this platform: next to it in a source checkout, or from the platform package
 * `process-writer-<platform>` that npm installs through `optionalDependencies`).
 *
 * When that fails, the generated loader's message blames an npm bug whatever the cause; this module
 * replaces it with one that names the platform, says whether it is supported, lists the supported
 * ones and says how to build from source (`./load-error.ts`). The original error stays as `cause`.
 */
import type * as Native from '../index.js'
import { nativeLoadError } from './load-error.js'

export type * from '../index.js'

/** This host's libc on Linux, from the process report (as napi-rs's loader decides it). */
function hostLibc(): 'glibc' | 'musl' | null {
  if (process.platform !== 'linux') return null
  try {
    const header = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header
    return header && header.glibcVersionRuntime ? 'glibc' : 'musl'
  } catch {
    return 'glibc'
  }
}

function load(): typeof Native {
  try {
    return require('../index.js')
  } catch (cause) {
    const pkg = require('../package.json') as {
      name: string
      version: string
      optionalDependencies?: Record<string, string>
      repository?: string | { url?: string }
    }
    const repository = typeof pkg.repository === 'string' ? pkg.repository : (pkg.repository?.url ?? '')
    throw nativeLoadError(
      {
        platform: process.platform,
        arch: process.arch,
        libc: hostLibc(),
        packageName: pkg.name,
        version: pkg.version,
        platformPackages: Object.keys(pkg.optionalDependencies ?? {}),
        repository: repository.replace(/^git\+/, ''),
      },
      cause,
    )
  }
}

const native = load()

/** The native writer class (`../index.d.ts`); `./process-writer.ts` adds the JS fast path. */
export const ProcessWriter = native.ProcessWriter
export type ProcessWriter = Native.ProcessWriter
export const closeFd = native.closeFd
export const openPipe = native.openPipe
export const openSocketpair = native.openSocketpair
export const _setSigpipeDefault = native._setSigpipeDefault
/** For `spawn` and `createPipe`: pipes held by the env until handed over (see `src/held.rs`). */
export const _openHeld = native._openHeld
export const _releaseHeld = native._releaseHeld
/** Which artifact napi-rs's loader loaded (`'native'` here; a WASI flavor's name otherwise). */
export const __napiBindingTarget = native.__napiBindingTarget
