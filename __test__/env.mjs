// How the suite adapts to where it runs. By default: this Node, real time, one process per test
// file. scripts/test-cross.sh runs the suite on an arm64 Node under qemu-aarch64 and sets:
// - PW_TEST_NODE: the command that starts a Node child ("qemu-aarch64 -L ... /path/to/node"), since
//   without binfmt_misc an emulated process cannot exec an arm64 binary by itself;
// - PW_TEST_TIME_SCALE: multiplies every wait limit (emulation is several times slower; limits only
//   bound failures, no test asserts speed);
// - PW_CROSS=qemu: ava's workers are then threads of one process (they could not be started as
//   emulated processes), so a test file's fd-table comparisons see the other files' fds.
import { isMainThread } from 'node:worker_threads'

/** The command (and leading arguments) that starts a Node child. */
export const NODE = process.env.PW_TEST_NODE ? process.env.PW_TEST_NODE.split(' ').filter(Boolean) : [process.execPath];

/** `[file, args]` that start a Node child running `args`. */
export function nodeCommand(args) {
  return [NODE[0], [...NODE.slice(1), ...args]];
}

/** The factor every wait limit is multiplied by (1 unless emulated). */
export const TIME_SCALE = Number(process.env.PW_TEST_TIME_SCALE) > 0 ? Number(process.env.PW_TEST_TIME_SCALE) : 1;

/** A wait limit in ms, scaled by TIME_SCALE. */
export function scaled(ms) {
  return Math.round(ms * TIME_SCALE);
}

/** Why this process's fd table is shared with other test files (a reason to log), or null. */
export const FD_TABLE_SHARED =
  process.env.PW_CROSS === 'qemu' ? 'emulation artifact: under qemu every test file runs in a worker thread of one process, sharing its fd table' : null;

/**
 * Why a test here must not give a ProcessWriter an fd that `fs.open`/`fs.openSync` returned, or
 * null. In a worker thread Node records those fds and closes them again when the worker exits
 * (`trackUnmanagedFds`, which ava turns on for its worker threads); a writer closes its fd itself
 * (natively), so Node's second close hits whatever has the number by then. Under qemu every test
 * file is a thread of one process: that was another file's pipe (core-write's `cat` children lost
 * their input, three of its tests then hung). Tests that need such an fd skip there.
 */
export const FS_FDS_TRACKED = isMainThread
  ? null
  : "in a worker thread, Node closes fs.open's fds again at exit (trackUnmanagedFds), after the writer closed them: another test file's fd by then"
