// ava under qemu-user (scripts/test-cross.sh): the package.json config, but ava's workers are
// threads, because an emulated process cannot start emulated children by itself (no binfmt_misc);
// longer timeout (emulation is slower). Children that must be Node are started through qemu by the
// tests (helpers: PW_TEST_NODE).
import { readFileSync } from 'node:fs'

const base = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).ava
export default {
  ...base,
  workerThreads: true,
  concurrency: 2,
  timeout: '5m',
  // core-write's `cat` children lost their input under qemu in two fresh-clone runs (68 of 70070
  // bytes echoed; then three tests pending until the timeout), never natively: unexplained, suspected
  // the one shared fd table of ava's worker threads. Left out of the emulated run until explained;
  // it runs natively in npm test, the fault suite (exported class) and on Node 22/24.
  files: [...base.files, '!__test__/core-write.spec.ts'],
  environmentVariables: {
    ...base.environmentVariables,
    PW_CROSS: process.env.PW_CROSS ?? '',
    PW_TEST_NODE: process.env.PW_TEST_NODE ?? '',
    PW_TEST_TIME_SCALE: process.env.PW_TEST_TIME_SCALE ?? '',
  },
}
