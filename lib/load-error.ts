/**
 * The message for a native addon that cannot be loaded (a pure policy, unit-tested): it names the
 * platform, says whether it is supported, lists the supported ones and says how to build from
 * source. `./native.ts` throws it in place of the generated loader's error.
 */
/** What `nativeLoadError` needs to know about the host and the package. */
export interface NativeLoadContext {
  /** `process.platform` */
  platform: string
  /** `process.arch` */
  arch: string
  /** On Linux: 'glibc' or 'musl' (napi-rs names the packages `-gnu` / `-musl`); otherwise null. */
  libc: 'glibc' | 'musl' | null
  /** The main package's name and version (package.json). */
  packageName: string
  version: string
  /**
   * The platform packages the main package names in `optionalDependencies` (e.g.
   * `process-writer-linux-x64-gnu`); empty in a source checkout, where the `.node` file is built
   * next to `index.js` instead.
   */
  platformPackages: string[]
  /** Where the sources are (package.json `repository`), for the build-from-source hint. */
  repository: string
}

/**
 * napi-rs's name for a platform: `<platform>-<arch>`, plus `-gnu` or `-musl` on Linux (the suffix of
 * the platform package's name and of the `.node` file's name).
 */
export function platformName(platform: string, arch: string, libc: 'glibc' | 'musl' | null): string {
  if (platform === 'linux') return `${platform}-${arch}-${libc === 'musl' ? 'musl' : 'gnu'}`
  return `${platform}-${arch}`
}

/**
 * The error to throw when the native addon cannot be loaded: names this platform, says whether a
 * prebuilt binary exists for it (and if so why it may be missing), lists the supported platforms and
 * says how to build from source. `code` is `ERR_UNSUPPORTED_PLATFORM` when no platform package exists
 * for this platform, `ERR_NATIVE_ADDON_NOT_LOADED` otherwise; `cause` is the loader's own error.
 */
export function nativeLoadError(context: NativeLoadContext, cause: unknown): Error & { code: string } {
  const here = platformName(context.platform, context.arch, context.libc)
  const prefix = `${context.packageName}-`
  const supported = context.platformPackages
    .filter((name) => name.startsWith(prefix))
    .map((name) => name.slice(prefix.length))
  const ownPackage = `${prefix}${here}`
  const fromSource =
    `To build it from source (needs Rust and a C compiler): git clone ${context.repository}, then ` +
    '`npm install` there builds `process-writer.' + here + '.node`; copy that file next to ' +
    `${context.packageName}'s index.js, or point NAPI_RS_NATIVE_LIBRARY_PATH at it.`
  const lines: string[] = []
  let code: string
  if (supported.length === 0) {
    code = 'ERR_NATIVE_ADDON_NOT_LOADED'
    lines.push(
      `${context.packageName}: the native addon for ${here} is not built. This looks like a source ` +
        'checkout (no platform packages are listed in optionalDependencies): run `npm run build`, ' +
        'which needs Rust and a C compiler.',
    )
  } else if (!supported.includes(here)) {
    code = 'ERR_UNSUPPORTED_PLATFORM'
    lines.push(
      `${context.packageName}: ${here} is not a supported platform; no prebuilt binary exists for it. ` +
        `Supported platforms: ${supported.join(', ')}.`,
      fromSource,
    )
  } else {
    code = 'ERR_NATIVE_ADDON_NOT_LOADED'
    lines.push(
      `${context.packageName}: the native addon for ${here} could not be loaded. It comes in the ` +
        `package ${ownPackage}@${context.version}, which npm installs as an optional dependency. ` +
        'Check that optional dependencies were not left out (--omit=optional, --no-optional), and that ' +
        'node_modules was installed on this platform (not copied from another OS, CPU or libc; to ' +
        'install for another platform, use npm install --os=... --cpu=... --libc=...). ' +
        `Supported platforms: ${supported.join(', ')}.`,
      fromSource,
    )
  }
  const reasons = causeMessages(cause)
  if (reasons.length > 0) lines.push('Loader errors:', ...reasons.map((m) => `  - ${m}`))
  const error = new Error(lines.join('\n'), { cause }) as Error & { code: string }
  error.code = code
  return error
}

/** The messages along an error's `cause` chain (napi-rs's loader chains one error per attempt). */
function causeMessages(cause: unknown): string[] {
  const out: string[] = []
  const seen = new Set<unknown>()
  let current = cause
  while (current != null && !seen.has(current) && out.length < 8) {
    seen.add(current)
    const message = current instanceof Error ? current.message : String(current)
    // The generated loader's own summary (which blames an npm bug) adds nothing.
    if (!message.startsWith('Cannot find native binding.')) out.push(message.split('\n')[0])
    current = current instanceof Error ? current.cause : undefined
  }
  return out
}
