// Platform gates for the ava suites. Under `npm run test:windows` the suite runs with the
// Windows node.exe under wine: files whose children are POSIX commands (cat, sh, sha256sum...)
// or that test POSIX-only features (FIFOs, socketpairs, SIGPIPE, vmsplice, /proc fd counts)
// are skipped there, every test listed as skipped with the reason in its title.
// __test__/windows.spec.ts covers the same contract with node children, on every platform.

/** `test` itself on POSIX; on Windows, a `test` whose tests are all skipped (hooks do nothing). */
export function posixOnly(test, reason) {
  if (process.platform !== 'win32') return test
  const skip = (title, ...rest) =>
    typeof title === 'string' ? test.skip(`${title} [skipped on Windows: ${reason}]`, ...rest) : test.skip(title, ...rest)
  const hook = new Proxy(() => {}, { get: () => hook })
  const gated = new Proxy(skip, {
    get: (_, key) => (['before', 'after', 'beforeEach', 'afterEach'].includes(key) ? hook : gated),
  })
  return gated
}
