// ava under qemu-user (scripts/test-cross.sh): the package.json config, but ava's workers are
// threads, because an emulated process cannot start emulated children by itself (no binfmt_misc);
// longer timeout (emulation is slower). Children that must be Node are started through qemu by the
// tests (helpers: PW_TEST_NODE).
// All test files are then threads of one process, with one fd table: a test may close only fds it
// owns. Node closes the fds `fs.open` returned in a worker thread again when the worker exits
// (ava's workers track them), so tests that give such an fd to a ProcessWriter (which closes it)
// are skipped here (`fsFdOwner` in __test__/platform.mjs): at a file's exit Node closed those
// numbers again, and by then they could be the other running file's pipes. (Traced under qemu:
// core-readhack's worker closed three such numbers at its exit; it runs next to core-write, whose
// `cat` children had lost their input, 68 of 70070 bytes echoed, then three tests hung.)
import { readFileSync } from 'node:fs'

const base = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).ava
export default {
  ...base,
  workerThreads: true,
  concurrency: 2,
  timeout: '5m',
  environmentVariables: {
    ...base.environmentVariables,
    PW_CROSS: process.env.PW_CROSS ?? '',
    PW_TEST_NODE: process.env.PW_TEST_NODE ?? '',
    PW_TEST_TIME_SCALE: process.env.PW_TEST_TIME_SCALE ?? '',
  },
}
