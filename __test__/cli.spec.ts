import anyTest from 'ava'
import { execFileSync, spawn as nodeSpawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { NODE, nodeCommand, scaled, sha256 } from './node-helpers.mjs'
import { posixOnly } from './platform.mjs'
import { formatElapsed, formatRate } from '../lib/cli.js'

const test = posixOnly(anyTest, 'its children are POSIX commands (sha256sum, sh, head, wc, cat)')

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const BIN = join(ROOT, 'bin', 'process-writer.js')
const SAMPLE = join(ROOT, 'examples', 'sample.txt')

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

function cli(args: string[], input?: string | Buffer): Promise<Run> {
  return new Promise((resolve, reject) => {
    const [node, argv] = nodeCommand([BIN, ...args])
    const child = nodeSpawn(node, argv, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (s) => (stdout += s))
    child.stderr.setEncoding('utf8').on('data', (s) => (stderr += s))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.on('error', () => {})
    child.stdin.end(input)
  })
}

const SUMMARY = /^process-writer: fed (\d+) bytes \(.+\) in [\d.]+ m?s, ([\d.]+) (?:B|KiB|MiB|GiB|TiB)\/s; .*$/m

test('feed --input FILE -- sha256sum: child output inherited, one summary line on stderr, exit 0', async (t) => {
  const r = await cli(['feed', '--input', 'examples/sample.txt', '--', 'sha256sum'])
  t.is(r.code, 0)
  t.is(r.stdout.split(/\s+/)[0], sha256(readFileSync(SAMPLE)))
  const lines = r.stderr.trim().split('\n')
  t.is(lines.length, 1, r.stderr)
  const m = SUMMARY.exec(lines[0])
  t.truthy(m, lines[0])
  t.is(Number(m![1]), readFileSync(SAMPLE).length)
  t.regex(lines[0], /sha256sum exited with status 0$/)
  t.false(r.stderr.includes('\r'), 'no progress bar when stderr is not a TTY')
})

test('the summary gives rates and short feeds in units that do not round to zero', (t) => {
  t.is(formatRate(3), '3 B/s')
  t.is(formatRate(3 / 8.88), '0.338 B/s')
  t.is(formatRate(0), '0 B/s')
  t.is(formatRate(3000), '2.93 KiB/s')
  t.is(formatRate(34.2e6), '32.6 MiB/s')
  t.is(formatRate(7.24 * 2 ** 30), '7.24 GiB/s')
  t.is(formatElapsed(0.0004), '0.4 ms')
  t.is(formatElapsed(0.25), '0.25 s')
})

test('a feed of 3 bytes: its summary shows a rate above zero', async (t) => {
  const r = await cli(['feed', '--', 'wc', '-c'], 'abc')
  t.is(r.code, 0)
  t.is(r.stdout.trim(), '3')
  const m = SUMMARY.exec(r.stderr)
  t.truthy(m, r.stderr)
  // However long the feed took (seconds under emulation), the rate is shown above zero.
  t.true(Number(m![2]) > 0, r.stderr)
})

test('feed reads standard input by default and with --input -', async (t) => {
  for (const args of [['feed', '--', 'wc', '-c'], ['feed', '-i', '-', 'wc', '-c']]) {
    const r = await cli(args, 'x'.repeat(100_000))
    t.is(r.code, 0)
    t.is(r.stdout.trim(), '100000')
    t.regex(r.stderr, /fed 100000 bytes/)
  }
})

test('--chunk-size and --pipe-size are accepted (sizes with k/m suffixes)', async (t) => {
  const r = await cli(['feed', '--chunk-size', '4k', '--pipe-size=1m', '--input', SAMPLE, '--', 'wc', '-c'])
  t.is(r.code, 0)
  t.is(Number(r.stdout.trim()), readFileSync(SAMPLE).length)
})

test('--zero-copy: a 24 MiB file and standard input arrive exactly (sha256sum)', async (t) => {
  const data = randomBytes(24 << 20)
  const dir = mkdtempSync(join(tmpdir(), 'pw-cli-'))
  const file = join(dir, 'input.bin')
  writeFileSync(file, data)
  try {
    const fromFile = await cli(['feed', '-z', '-q', '--input', file, '--', 'sha256sum'])
    t.is(fromFile.code, 0, fromFile.stderr)
    t.is(fromFile.stdout.split(/\s+/)[0], sha256(data))
    const fromStdin = await cli(['feed', '--zero-copy', '--', 'sha256sum'], data)
    t.is(fromStdin.code, 0, fromStdin.stderr)
    t.is(fromStdin.stdout.split(/\s+/)[0], sha256(data))
    t.regex(fromStdin.stderr, new RegExp(`fed ${data.length} bytes`))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test("exit code is the child's; killed by a signal gives 128 + signal", async (t) => {
  const r = await cli(['feed', '--input', SAMPLE, '--', 'sh', '-c', 'cat >/dev/null; exit 7'])
  t.is(r.code, 7)
  t.regex(r.stderr, /sh exited with status 7$/m)
  const k = await cli(['feed', '--input', SAMPLE, '--', 'sh', '-c', 'kill -TERM $$'])
  t.is(k.code, 128 + 15)
  t.regex(k.stderr, /killed by SIGTERM \(exit 143\)/)
})

test('a child that stops reading early is reported in the summary', async (t) => {
  // A 64 KiB pipe: the 400 KB sample cannot all fit in it before head exits.
  const r = await cli(['feed', '--input', SAMPLE, '--pipe-size', '65536', '--', 'head', '-c', '10'])
  t.is(r.code, 0)
  t.is(r.stdout, readFileSync(SAMPLE, 'utf8').slice(0, 10))
  t.regex(r.stderr, /head stopped reading its input \(\d+ bytes not delivered\); head exited with status 0/)
})

test('a missing input file: one clear line, non-zero exit, no stack trace, command not run', async (t) => {
  const r = await cli(['feed', '--input', 'does/not/exist.txt', '--', 'sh', '-c', 'echo ran'])
  t.is(r.code, 1)
  t.is(r.stdout, '')
  t.is(r.stderr, 'process-writer: cannot read input "does/not/exist.txt": no such file or directory\n')
})

test('an unknown command: one clear line, exit 127, no stack trace', async (t) => {
  const r = await cli(['feed', '--input', SAMPLE, '--', 'process-writer-no-such-command'])
  t.is(r.code, 127)
  t.is(r.stderr, 'process-writer: command not found: process-writer-no-such-command\n')
})

test('usage errors exit 2 with one line', async (t) => {
  for (const args of [['feed'], ['feed', '--bogus', '--', 'cat'], ['frobnicate'], ['feed', '--chunk-size', 'lots', '--', 'cat']]) {
    const r = await cli(args)
    t.is(r.code, 2, args.join(' '))
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr)
    t.regex(r.stderr, /^process-writer: /)
    t.false(r.stderr.includes('    at '))
  }
})

test('options stop at the first word of COMMAND: its own flags and any later -- reach it untouched', async (t) => {
  // No `--`: `-c` and `-l` are wc's, not --chunk-size and an unknown option.
  const wc = await cli(['feed', '-qi', SAMPLE, 'wc', '-c', '-l'])
  t.is(wc.code, 0, wc.stderr)
  t.deepEqual(wc.stdout.trim().split(/\s+/).map(Number), [5342, readFileSync(SAMPLE).length])
  t.is(wc.stderr, '', '-q grouped with -i')
  // After `--`, everything is the command's, including another `--` and words that look like ours.
  const sh = await cli(['feed', '--quiet', '--input=' + SAMPLE, '--', 'sh', '-c', 'cat >/dev/null; echo "$@"', 'sh', '--', '--help', '-q'])
  t.is(sh.code, 0, sh.stderr)
  t.is(sh.stdout, '-- --help -q\n')
})

test('bad flags name the problem in one line and exit 2', async (t) => {
  const cases: [string[], RegExp][] = [
    [['feed', '--bogus', '--', 'cat'], /Unknown option '--bogus'/],
    [['feed', '--chunk-size'], /--chunk-size <value>' argument missing/],
    [['feed', '-c', '-x', 'cat'], /'-c' argument is ambiguous/],
    [['feed', '--quiet=yes', 'cat'], /'-q, --quiet' does not take an argument/],
    [['feed', '--input=', 'cat'], /--input needs a file name/],
    [['feed', '--pipe-size', '0', 'cat'], /--pipe-size: must be a positive size/],
    [['--bogus'], /Unknown option '--bogus'/],
  ]
  for (const [args, re] of cases) {
    const r = await cli(args)
    t.is(r.code, 2, args.join(' '))
    t.regex(r.stderr, re)
    t.is(r.stderr.split('\n').length, 2, r.stderr)
    t.is(r.stdout, '')
  }
})

test('--help prints the usage on stdout and exits 0', async (t) => {
  for (const args of [['--help'], ['-h'], ['help'], ['feed', '--help'], ['feed', '-zh']]) {
    const r = await cli(args)
    t.is(r.code, 0)
    t.regex(r.stdout, /^Usage:/)
    t.regex(r.stdout, /process-writer feed \[options\] -- COMMAND \[ARGS\.\.\.\]/)
    t.regex(r.stdout, /--input FILE/)
    t.regex(r.stdout, /--chunk-size N/)
    t.regex(r.stdout, /--pipe-size N/)
    t.is(r.stderr, '')
  }
})

test('on a TTY (script -qec ...) a progress bar is drawn on stderr, then the summary', (t) => {
  const cmd = `${NODE.join(' ')} ${BIN} feed --input ${SAMPLE} -- sh -c 'sleep 0.4; exec sha256sum'`
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: scaled(30_000) })
  t.is(r.status, 0, r.stderr)
  const out = r.stdout
  t.regex(out, /\r\[[#.]+\] +\d+\.\d%/, 'bar drawn in place with \\r')
  t.true(out.includes('100.0%'), 'bar reaches 100%')
  t.regex(out, /process-writer: fed 400029 bytes .* sh exited with status 0/)
  t.true(out.includes(sha256(readFileSync(SAMPLE))))
})

/** What a terminal shows for `out`: `\r` returns to the first column, later text overwrites. */
function screen(out: string): string[] {
  const rows: string[][] = [[]]
  let row = 0
  let col = 0
  for (const ch of out) {
    if (ch === '\r') col = 0
    else if (ch === '\n') {
      rows[++row] ??= []
      col = 0
    } else rows[row][col++] = ch
  }
  return rows.map((r) => Array.from(r, (c) => c ?? ' ').join('').trimEnd())
}

test("on a TTY the bar never shares a line with the child's stderr or stdout, and is redrawn below them", (t) => {
  // The child writes to stderr while the feed waits for it (64 KiB pipe, 400 KB input), one line
  // in two pieces, then reads everything and prints the digest on stdout (the same terminal).
  const child = `sleep 0.3; echo one >&2; sleep 0.3; printf "two " >&2; sleep 0.3; echo three >&2; sleep 0.2; exec sha256sum`
  const cmd = `${NODE.join(' ')} ${BIN} feed --pipe-size 65536 --input ${SAMPLE} -- sh -c '${child}'`
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: scaled(30_000) })
  t.is(r.status, 0, r.stderr)
  const lines = screen(r.stdout)
  t.deepEqual(lines.slice(0, 3), ['one', 'two three', `${sha256(readFileSync(SAMPLE))}  -`], r.stdout)
  t.regex(lines[3], /^process-writer: fed 400029 bytes .* sh exited with status 0$/)
  t.deepEqual(lines.slice(4), [''])
  t.regex(r.stdout, /\r\[[#.]+\][^\n]*\r +\rone\r?\n/, 'bar drawn, then cleared before the child writes')
  t.regex(r.stdout, /one\r?\n\r\[[#.]+\]/, 'bar redrawn right after the child ended a line')
  t.notRegex(r.stdout, /two \r\[/, 'not in the middle of an unfinished line')
})

test('-q gives the child the terminal itself; with the bar its stderr is a pipe through process-writer', (t) => {
  const probe = `for fd in 1 2; do if [ -t $fd ]; then echo "fd $fd: tty"; else echo "fd $fd: pipe"; fi; done >&2; cat >/dev/null`
  const seen = (extra: string[]) => {
    const cmd = `${NODE.join(' ')} ${BIN} feed ${extra.join(' ')} --input ${SAMPLE} -- sh -c '${probe}'`
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: scaled(30_000) })
    t.is(r.status, 0, r.stderr)
    return screen(r.stdout).filter((l) => l.startsWith('fd '))
  }
  t.deepEqual(seen(['-q']), ['fd 1: tty', 'fd 2: tty'])
  t.deepEqual(seen([]), ['fd 1: pipe', 'fd 2: pipe'])
})

test('npm run demo', (t) => {
  const r = spawnSync('npm', ['run', '--silent', 'demo'], { cwd: ROOT, encoding: 'utf8', timeout: scaled(30_000) })
  t.is(r.status, 0, r.stderr)
  t.is(r.stdout.split(/\s+/)[0], sha256(readFileSync(SAMPLE)))
  t.regex(r.stderr, /sha256sum exited with status 0/)
})

/** Run the CLI with `stdin` as its standard input (a path, opened by the shell's way: `< FILE`). */
function cliWithStdin(args: string[], stdin: number, env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve, reject) => {
    const [node, argv] = nodeCommand([BIN, ...args])
    const child = nodeSpawn(node, argv, { cwd: ROOT, stdio: [stdin, 'pipe', 'pipe'], env })
    let stdout = ''
    let stderr = ''
    child.stdout!.setEncoding('utf8').on('data', (s) => (stdout += s))
    child.stderr!.setEncoding('utf8').on('data', (s) => (stderr += s))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

test('standard input redirected from a file (< FILE), a FIFO, and the fallback path: every byte arrives', async (t) => {
  const data = randomBytes(3 * 1024 * 1024 + 17)
  const dir = mkdtempSync(join(tmpdir(), 'pw-cli-'))
  const file = join(dir, 'input.bin')
  writeFileSync(file, data)
  try {
    for (const env of [process.env, { ...process.env, PROCESS_WRITER_NO_KERNEL_COPY: '1' }]) {
      const fd = openSync(file, 'r')
      const r = await cliWithStdin(['feed', '--', 'sha256sum'], fd, env).finally(() => closeSync(fd))
      t.is(r.code, 0, r.stderr)
      t.is(r.stdout.split(/\s+/)[0], sha256(data))
      t.regex(r.stderr, new RegExp(`fed ${data.length} bytes`))
    }
    // A FIFO: a writer process fills it while the CLI feeds it to the child.
    const fifo = join(dir, 'fifo')
    execFileSync('mkfifo', [fifo])
    const writer = nodeSpawn('sh', ['-c', `cat "$1" > "$2"`, 'sh', file, fifo], { stdio: 'ignore' })
    const fd = openSync(fifo, 'r') // returns once the writer has opened it
    const r = await cliWithStdin(['feed', '--', 'sha256sum'], fd).finally(() => closeSync(fd))
    writer.kill()
    t.is(r.code, 0, r.stderr)
    t.is(r.stdout.split(/\s+/)[0], sha256(data))
    t.regex(r.stderr, new RegExp(`fed ${data.length} bytes`))
    // --input FIFO, with the fallback.
    const writer2 = nodeSpawn('sh', ['-c', `cat "$1" > "$2"`, 'sh', file, fifo], { stdio: 'ignore' })
    const r2 = await cliWithStdin(['feed', '-q', '--input', fifo, '--', 'sha256sum'], 0, { ...process.env, PROCESS_WRITER_NO_KERNEL_COPY: '1' })
    writer2.kill()
    t.is(r2.code, 0, r2.stderr)
    t.is(r2.stdout.split(/\s+/)[0], sha256(data))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
