// Platform gates for the ava suites. Under `npm run test:windows` the suite runs with the
// Windows node.exe under wine: files whose children are POSIX commands (cat, sh, sha256sum...)
// or that test POSIX-only features (FIFOs, socketpairs, SIGPIPE, vmsplice, /proc fd counts)
// are skipped there, every test listed as skipped with the reason in its title.
// __test__/windows.spec.ts covers the same contract with node children, on every platform.
// PW_TRY_ALL_ON_WINDOWS=1 lifts every gate (to see what a suite does under wine).
import { FS_FDS_TRACKED } from './env.mjs'

/**
 * `test` itself on POSIX. On Windows, a `test` whose tests are all skipped (hooks do nothing),
 * or, given `titles`, one that skips only the tests whose title starts with one of them.
 */
export function posixOnly(test, reason, titles) {
  if (process.platform !== 'win32' || process.env.PW_TRY_ALL_ON_WINDOWS) return test
  const note = (title) => `${title} [skipped on Windows: ${reason}]`
  if (titles) {
    const chosen = (title) => typeof title === 'string' && titles.some((p) => title.startsWith(p))
    const wrap = (fn, skip) =>
      new Proxy(fn, {
        apply: (target, self, [title, ...rest]) => (chosen(title) ? skip(note(title), ...rest) : Reflect.apply(target, self, [title, ...rest])),
        get: (target, key) => (key === 'serial' ? wrap(target.serial, target.serial.skip) : target[key]),
      })
    return wrap(test, test.skip)
  }
  const skip = (title, ...rest) => (typeof title === 'string' ? test.skip(note(title), ...rest) : test.skip(title, ...rest))
  const hook = new Proxy(() => {}, { get: () => hook })
  const gated = new Proxy(skip, {
    get: (_, key) => (['before', 'after', 'beforeEach', 'afterEach'].includes(key) ? hook : gated),
  })
  return gated
}

/**
 * `test` itself where a test may give a ProcessWriter an fd from `fs.openSync` (a process's main
 * thread: ava's default). In a worker thread (ava's workers under qemu), one whose tests are
 * skipped, the reason (`FS_FDS_TRACKED`) in the title: Node would close such an fd again when the
 * worker exits, after the writer closed it, and by then the number may be another test file's.
 */
export function fsFdOwner(test) {
  if (!FS_FDS_TRACKED) return test
  return (title, ...rest) => test.skip(`${title} [skipped: ${FS_FDS_TRACKED}]`, ...rest)
}
