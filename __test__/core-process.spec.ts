// Process-level properties, each checked in a fresh node subprocess so that a failure (a hang, a
// signal, an abort) is observed instead of taking the test runner down:
//   - the process exits by itself while a writer is idle and open (callbacks do not hold the loop);
//   - SIGPIPE never kills the host (contract §3), even with SIGPIPE at SIG_DFL when a hook exists;
//   - a worker_threads Worker that exits / throws / is terminated mid-write does not crash the host,
//     and the writers it leaves behind still close their fds (their readers see EOF);
//   - an onConnectionLost that throws does not crash the host (scenario 47: owner errors swallowed);
//   - (with strace) no write/writev/vmsplice/close on the writer's fd from the JS thread.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import anyTest from 'ava'

import { NATIVE_PATH, native, runNode } from './helpers.mjs'
import { posixOnly } from './platform.mjs'

const test = posixOnly(anyTest, 'its children are POSIX commands (wc, sh, head) and it tests SIGPIPE')

const PRELUDE = `
const native = require(NATIVE);
const { ProcessWriter, openPipe, closeFd } = native;
const { spawn } = require('node:child_process');
`

test('the process exits by itself while a writer is idle and open (with callbacks and a producer)', async (t) => {
  const r = await runNode(
    `${PRELUDE}
    const { readFd, writeFd } = openPipe();   // we hold the reader: the writer stays open forever
    const w = new ProcessWriter(writeFd, { childFd: 0, onConnectionLost() { console.log('LOST'); }, onDrain() {} });
    w.registerProducer({ pauseProducing() {}, resumeProducing() {}, stopProducing() {} }, true);
    w.write(Buffer.from('hello'));
    const w2 = new ProcessWriter(openPipe().writeFd, {});  // never written at all
    const w3 = new ProcessWriter(openPipe().writeFd, { onConnectionLost() {} });
    w3.registerProducer({ resumeProducing() {}, stopProducing() {} }, false);
    process.on('exit', () => console.log('EXIT connected=' + w.connected));
    `,
    10_000,
  )
  t.is(r.signal, null, r.stderr)
  t.is(r.code, 0, r.stderr)
  t.regex(r.stdout, /EXIT connected=true/)
  t.notRegex(r.stdout, /LOST/)
})

test('ref() keeps the process alive while idle; unref() lets it go', async (t) => {
  const r = await runNode(
    `${PRELUDE}
    const { readFd, writeFd } = openPipe();
    const w = new ProcessWriter(writeFd, {});
    if (typeof w.ref !== 'function') { console.log('NO_REF'); process.exit(0); }
    w.ref();
    const t0 = Date.now();
    // The poll timer is unref'd: only the ref'd writer keeps the process here until unref().
    const iv = setInterval(() => {
      if (Date.now() - t0 >= 300) { console.log('UNREF'); w.unref(); clearInterval(iv); }
    }, 20);
    iv.unref();
    process.on('exit', () => console.log('EXIT'));
    `,
    10_000,
  )
  t.is(r.signal, null, r.stderr)
  t.is(r.code, 0, r.stderr)
  if (/NO_REF/.test(r.stdout)) {
    t.log('no ref()/unref() on the native class')
    return
  }
  t.regex(r.stdout, /UNREF\nEXIT/)
})

test('SIGPIPE does not kill the host: 8 MiB into head -c 10', async (t) => {
  const hasHook = typeof (native as any)._setSigpipeDefault === 'function'
  if (!hasHook) {
    t.log('native._setSigpipeDefault() does not exist: SIGPIPE stays at Node\'s SIG_IGN in the subprocess, so this only checks the EPIPE path')
  }
  const r = await runNode(
    `${PRELUDE}
    // SIGPIPE's disposition, from /proc/self/status (Linux); elsewhere unknown ('?').
    const sigpipeIgnored = () => process.platform !== 'linux' ? '?' : (BigInt('0x' + /SigIgn:\\s*([0-9a-f]+)/.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'))[1]) >> 12n) & 1n;
    console.log('IGNORED_AT_START ' + sigpipeIgnored());
    if (typeof native._setSigpipeDefault === 'function') { native._setSigpipeDefault(); console.log('HOOK IGNORED_NOW ' + sigpipeIgnored()); }
    const { readFd, writeFd } = openPipe();
    const child = spawn('head', ['-c', '10'], { stdio: [readFd, 'ignore', 'inherit'] });
    closeFd(readFd);
    // Writer callbacks do not hold the loop (by design): keep it alive until the reason arrives, or
    // the process may exit right after the child does, before the loss is delivered.
    const keepAlive = setInterval(() => {}, 1000);
    const w = new ProcessWriter(writeFd, { childFd: 0, onConnectionLost(r) {
      clearInterval(keepAlive);
      const s = w.stats();
      // The child may exit while we are still writing: later writes are dropped, not accepted.
      console.log('REASON ' + JSON.stringify({ code: r.code, errno: r.errno, adds_up: r.bytesWritten + r.bytesUnwritten === s.bytesAccepted, offered: s.bytesAccepted + s.bytesDropped }));
    } });
    for (let i = 0; i < 8; i++) w.write(Buffer.alloc(1 << 20, i));
    child.on('exit', (code, signal) => console.log('CHILD ' + code + ' ' + signal));
    `,
    15_000,
  )
  t.is(r.signal, null, `the host was killed by ${r.signal}; stderr: ${r.stderr}`)
  t.is(r.code, 0, r.stderr)
  t.is(r.stdout.includes('HOOK'), hasHook)
  if (process.platform === 'linux') {
    t.regex(r.stdout, /IGNORED_AT_START 1/, 'node ignores SIGPIPE by default')
    if (hasHook) t.regex(r.stdout, /HOOK IGNORED_NOW 0/, 'the hook really put SIGPIPE back to SIG_DFL')
  }
  t.regex(r.stdout, /REASON {"code":"READER_CLOSED","errno":"EPIPE","adds_up":true,"offered":8388608}/)
  t.regex(r.stdout, /CHILD 0 null/)
})

const WORKER_SCRIPT = `${PRELUDE}
const { Worker } = require('node:worker_threads');
const workerCode = \`
  const native = require(\${JSON.stringify(NATIVE)});
  const { spawn } = require('node:child_process');
  const { parentPort, workerData } = require('node:worker_threads');
  const { readFd, writeFd } = native.openPipe();
  // a slow reader, so that the writer is mid-write when the worker goes away
  const child = spawn('sh', ['-c', 'sleep 0.2; exec cat >/dev/null'], { stdio: [readFd, 'ignore', 'inherit'] });
  native.closeFd(readFd);
  child.unref();   // the child must not keep the worker alive: we want the worker to end mid-write
  const w = new native.ProcessWriter(writeFd, { childFd: 0, onConnectionLost() {}, onDrain() {} });
  w.registerProducer({ pauseProducing() {}, resumeProducing() { w.write(Buffer.alloc(1 << 16, 1)); }, stopProducing() {} }, true);
  for (let i = 0; i < 16; i++) w.write(Buffer.alloc(1 << 20, i));
  parentPort.postMessage({ pid: child.pid, buffered: w.bufferedAmount });
  if (workerData.mode === 'exit') process.exit(0);
  if (workerData.mode === 'throw') throw new Error('worker dies mid-write');
  if (workerData.mode === 'wait') setInterval(() => {}, 1000);   // until terminate()
  // 'return': fall off the end with data pending
\`;
const pids = [];
function run(mode) {
  return new Promise((resolve) => {
    const wk = new Worker(workerCode, { eval: true, workerData: { mode } });
    wk.on('message', (m) => { pids.push(m.pid); if (mode === 'wait') setTimeout(() => wk.terminate(), 20); });
    wk.on('error', () => {});
    wk.on('exit', (code) => resolve(mode + ':' + code));
  });
}
(async () => {
  const modes = ['return', 'exit', 'throw', 'wait', 'return', 'exit', 'throw', 'wait'];
  const results = await Promise.all(modes.map(run));
  console.log('WORKERS ' + results.join(','));
  await new Promise((r) => setTimeout(r, 300));
  // The host is alive and the module still works on the main thread.
  const { readFd, writeFd } = openPipe();
  const child = spawn('wc', ['-c'], { stdio: [readFd, 'pipe', 'inherit'] });
  closeFd(readFd);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const w = new ProcessWriter(writeFd, { childFd: 0, onConnectionLost(r) { console.log('MAIN ' + r.code); } });
  w.write(Buffer.alloc(1 << 20, 9));
  w.loseConnection();
  child.on('close', async () => {
    console.log('WC ' + out.trim());
    // A writer whose worker is gone must still close its fd (contract: the writer owns it), so its
    // reader sees EOF. Unref'd children of a dead worker are never reaped: a zombie counts as exited.
    const running = () => pids.filter((pid) => {
      // A zombie counts as exited: its state from /proc (Linux) or ps (elsewhere).
      try {
        if (process.platform !== 'linux') return !/^Z/.test(require('node:child_process').execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).trim());
        return !/^\\d+ \\(.*\\) Z/.test(require('node:fs').readFileSync('/proc/' + pid + '/stat', 'utf8'));
      } catch { return false; }
    });
    for (let i = 0; i < 200 && running().length > 0; i++) await new Promise((r) => setTimeout(r, 50));
    const alive = running();
    console.log('WORKER_READERS_STILL_RUNNING ' + alive.length + '/' + pids.length);
    for (const pid of alive) { try { process.kill(pid, 'SIGKILL'); } catch {} }
  });
})();
`

test('worker_threads Workers that return, exit, throw or are terminated mid-write: no crash, their fds get closed', async (t) => {
  const r = await runNode(WORKER_SCRIPT, 30_000)
  t.is(r.signal, null, `host killed by ${r.signal}; stderr: ${r.stderr}`)
  t.is(r.code, 0, r.stderr)
  t.regex(r.stdout, /WORKERS return:0,exit:0,throw:1,wait:1,return:0,exit:0,throw:1,wait:1/)
  t.regex(r.stdout, /MAIN DONE/)
  t.regex(r.stdout, /WC 1048576/)
  t.regex(r.stdout, /WORKER_READERS_STILL_RUNNING 0\/8/, 'the writers of dead workers closed their fds')
})

test('an onConnectionLost that throws does not crash the host (47: owner errors are contained)', async (t) => {
  const r = await runNode(
    `${PRELUDE}
    const { readFd, writeFd } = openPipe();
    const w = new ProcessWriter(writeFd, { onConnectionLost() { console.log('CALLED'); throw new Error('owner callback fails'); } });
    w.loseConnection();
    process.on('uncaughtException', (e) => { console.log('UNCAUGHT ' + e.message); });
    setTimeout(() => { closeFd(readFd); console.log('ALIVE fileno=' + w.fileno); }, 300);
    `,
    10_000,
  )
  t.is(r.signal, null, r.stderr)
  t.is(r.code, 0, r.stderr)
  t.regex(r.stdout, /CALLED/)
  t.regex(r.stdout, /ALIVE fileno=-1/)
  if (/UNCAUGHT/.test(r.stdout)) t.log('the error was surfaced as an uncaughtException (a handler was installed)')
})

test('an onConnectionLost that throws, with no uncaughtException handler: still no crash', async (t) => {
  const r = await runNode(
    `${PRELUDE}
    const { readFd, writeFd } = openPipe();
    const w = new ProcessWriter(writeFd, { onConnectionLost() { console.log('CALLED'); throw new Error('owner callback fails'); } });
    w.loseConnection();
    setTimeout(() => { closeFd(readFd); console.log('ALIVE'); }, 300);
    `,
    10_000,
  )
  t.is(r.signal, null, r.stderr)
  t.regex(r.stdout, /CALLED/)
  t.is(r.code, 0, `exit code ${r.code}; stderr: ${r.stderr}`)
  t.regex(r.stdout, /ALIVE/)
})

test('writes do no I/O on the JS thread (strace: every write and the close of the fd come from another thread)', (t) => {
  try {
    execFileSync('strace', ['-V'], { stdio: 'ignore' })
  } catch {
    t.log('strace not available: skipped')
    t.pass()
    return
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-strace-'))
  try {
    const script = path.join(dir, 's.cjs')
    const log = path.join(dir, 'trace.log')
    fs.writeFileSync(
      script,
      `const { ProcessWriter, openPipe, closeFd } = require(${JSON.stringify(NATIVE_PATH)});
      const { spawn } = require('node:child_process');
      const { readFd, writeFd } = openPipe();
      const child = spawn('wc', ['-c'], { stdio: [readFd, 'ignore', 'inherit'] });
      closeFd(readFd);
      process.stderr.write('IDS ' + process.pid + ' ' + writeFd + '\\n');
      const w = new ProcessWriter(writeFd, { childFd: 0 });
      for (let i = 0; i < 50; i++) w.write(Buffer.alloc(1000 + i, 1));
      w.writeSequence([Buffer.alloc(5), Buffer.alloc(70000)]);
      w.write(Buffer.alloc(3));
      w.loseConnection();`,
    )
    try {
      execFileSync('strace', ['-f', '-qq', '-e', 'trace=write,writev,pwrite64,vmsplice,close,fcntl', '-o', log, process.execPath, script], {
        stdio: ['ignore', 'ignore', 'pipe'],
        timeout: 20_000,
      })
    } catch (e: any) {
      t.log(`strace could not run here (${String(e.message).split('\n')[0]}): skipped`)
      t.pass()
      return
    }
    const trace = fs.readFileSync(log, 'utf8')
    const ids = /IDS (\d+) (\d+)/.exec(trace)
    t.truthy(ids, 'the script reported its pid and fd')
    const [, pid, fd] = ids!
    // The writer writes through a private duplicate of the fd (F_DUPFD_CLOEXEC): follow both.
    // (strace -f may split the call: "fcntl(N, F_DUPFD_CLOEXEC, 0 <unfinished ...>", then
    // "<... fcntl resumed>) = M" on a later line of the same thread.)
    const lines = trace.split('\n')
    const at = lines.findIndex((l) => new RegExp(`^${pid}\\s+fcntl\\(${fd}, F_DUPFD_CLOEXEC`).test(l))
    let dupFd: string | undefined
    for (let i = at; at >= 0 && i < lines.length && dupFd === undefined; i++) {
      if (i === at || new RegExp(`^${pid}\\s+<\\.\\.\\. fcntl resumed>`).test(lines[i])) dupFd = /\)\s+=\s+(\d+)/.exec(lines[i])?.[1]
    }
    t.truthy(dupFd, 'the writer duplicated the fd')
    const dup = [fd, dupFd!]
    const fds = [fd, dup[1]]
    const calls = trace
      .split('\n')
      .map((l) => /^(\d+)\s+(write|writev|pwrite64|vmsplice|close)\((\d+)[,)]/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null && fds.includes(m[3]))
    // Only up to the close of the duplicate: afterwards the numbers may be reused by anything.
    const lastClose = calls.findIndex((m) => m[2] === 'close' && m[3] === dup![1])
    t.true(lastClose > 0, 'the data was written, then the fd closed')
    const owned = calls.slice(0, lastClose + 1)
    t.deepEqual(owned.filter((m) => m[2] === 'close').map((m) => m[3]), fds, 'both closed once, the given fd first')
    t.log(`${owned.length - 2} data syscalls on fds ${fds}, then close, by thread(s) ${[...new Set(owned.map((m) => m[1]))].join(',')} (JS thread ${pid})`)
    const onJsThread = owned.filter((m) => m[1] === pid)
    t.deepEqual(onJsThread.map((m) => m[0]), [], 'no syscall on the writer fd from the JS thread')
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
