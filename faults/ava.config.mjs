// The fault suite (`npm run test:faults`): a fault matrix against real children, separate from the
// regular `npm test` glob because it is slower and needs `--expose-gc` (WeakRef collectability).
// Same TypeScript loader as the main suite; one process per file (no worker threads), so fd,
// thread and RSS counts measured by a file are that file's own.
export default {
  // Plus the core's own accounting suites (__test__/core-*.spec.ts) run against the exported class,
  // the JS fast path in front of the native one (PW_WRITER_CLASS=lib, read by __test__/helpers.mjs).
  files: ['faults/**/*.spec.ts', '__test__/core-*.spec.ts'],
  extensions: ['ts'],
  workerThreads: false,
  // Files run two at a time at most: the counts (fds, threads, RSS) are per process, but a loaded
  // machine makes timing-based waits slower, and every wait here has a generous limit anyway.
  concurrency: 2,
  // A test that makes no progress for this long fails (ava's inactivity timeout). The whole run is
  // bounded too: `.ci/run` wraps it in `timeout`.
  timeout: '3m',
  environmentVariables: { OXC_TSCONFIG_PATH: './faults/tsconfig.json', PW_WRITER_CLASS: 'lib' },
  nodeArguments: ['--import', '@oxc-node/core/register', '--expose-gc'],
}
