// The error thrown when the native addon cannot be loaded (lib/load-error.ts): pure policy, so
// checked here for each case; the tarball smoke test (scripts/smoke-tarball.sh) checks it for real
// with the main package installed without its platform package.
import test from 'ava'
import { nativeLoadError, platformName } from '../lib/load-error.js'

const base = {
  packageName: 'process-writer',
  version: '1.2.3',
  repository: 'https://github.com/example/process-writer.git',
  platformPackages: ['process-writer-linux-x64-gnu', 'process-writer-linux-arm64-musl', 'process-writer-darwin-arm64'],
}

test('platformName follows napi-rs: -gnu/-musl on Linux only', (t) => {
  t.is(platformName('linux', 'x64', 'glibc'), 'linux-x64-gnu')
  t.is(platformName('linux', 'arm64', 'musl'), 'linux-arm64-musl')
  t.is(platformName('darwin', 'arm64', null), 'darwin-arm64')
  t.is(platformName('win32', 'x64', null), 'win32-x64')
})

test('an unsupported platform is named as such, with the supported list and how to build from source', (t) => {
  const cause = new Error("Cannot find module 'process-writer-linux-riscv64-gnu'")
  const e = nativeLoadError({ ...base, platform: 'linux', arch: 'riscv64', libc: 'glibc' }, cause)
  t.is(e.code, 'ERR_UNSUPPORTED_PLATFORM')
  t.regex(e.message, /linux-riscv64-gnu is not a supported platform/)
  t.regex(e.message, /Supported platforms: linux-x64-gnu, linux-arm64-musl, darwin-arm64\./)
  t.regex(e.message, /git clone https:\/\/github\.com\/example\/process-writer\.git/)
  t.regex(e.message, /NAPI_RS_NATIVE_LIBRARY_PATH/)
  t.regex(e.message, /Cannot find module 'process-writer-linux-riscv64-gnu'/)
  t.is(e.cause, cause)
  t.notRegex(e.message, /npm has a bug/)
})

test('a supported platform whose package is missing names the package and the usual causes', (t) => {
  const inner = new Error("Cannot find module 'process-writer-linux-x64-gnu'")
  const outer = Object.assign(new Error('Cannot find native binding. npm has a bug related to optional dependencies'), { cause: inner })
  const e = nativeLoadError({ ...base, platform: 'linux', arch: 'x64', libc: 'glibc' }, outer)
  t.is(e.code, 'ERR_NATIVE_ADDON_NOT_LOADED')
  t.regex(e.message, /native addon for linux-x64-gnu could not be loaded/)
  t.regex(e.message, /process-writer-linux-x64-gnu@1\.2\.3/)
  t.regex(e.message, /--omit=optional/)
  t.regex(e.message, /Supported platforms: /)
  // The cause chain's messages are listed, except the generated loader's misleading summary.
  t.regex(e.message, /  - Cannot find module 'process-writer-linux-x64-gnu'/)
  t.notRegex(e.message, /npm has a bug/)
})

test('musl and glibc are told apart', (t) => {
  const e = nativeLoadError({ ...base, platform: 'linux', arch: 'x64', libc: 'musl' }, new Error('x'))
  t.is(e.code, 'ERR_UNSUPPORTED_PLATFORM')
  t.regex(e.message, /linux-x64-musl is not a supported platform/)
})

test('a source checkout (no platform packages listed) says to run the build', (t) => {
  const e = nativeLoadError({ ...base, platformPackages: [], platform: 'darwin', arch: 'x64', libc: null }, new Error('x'))
  t.is(e.code, 'ERR_NATIVE_ADDON_NOT_LOADED')
  t.regex(e.message, /darwin-x64 is not built/)
  t.regex(e.message, /npm run build/)
})
