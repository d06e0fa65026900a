// The examples in docs/node-api.md live in examples/ and must run as written.
import anyTest from 'ava'
import { execFile } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { nodeCommand, scaled, sha256 } from './node-helpers.mjs'
import { posixOnly } from './platform.mjs'

const test = posixOnly(anyTest, 'the examples feed POSIX commands (wc, sha256sum)')

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')

function run(file: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(...nodeCommand([join(ROOT, 'examples', file)]), { cwd: ROOT, timeout: scaled(20_000) }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    )
  })
}

const expected: Record<string, (out: string) => boolean | RegExpMatchArray | null> = {
  'feed-file.mjs': (o) =>
    o === `DONE: 400029 bytes written, sha256sum exited with 0\n${sha256(readFileSync(join(ROOT, 'examples/sample.txt')))}\n`,
  'write-file.mjs': (o) => o === 'moved 400000 bytes from the file\nwc -c says 400015\n',
  'pipeline.mjs': (o) => o === 'pipeline done (DONE); wc -c says 400029\n',
  'web-stream.mjs': (o) => o === 'wc -l says 1000\n',
  'extra-fd.mjs': (o) => o === 'stdin: hello\nfd 3: world\nDONE 0 DONE 3\n',
  'abort.mjs': (o) => o === 'AbortError; writer ended with ABORTED\n',
  // (No wall-clock claim: under emulation the child's sleep can be over before the feed starts.)
  'progress.mjs': (o) => o === 'done: 4194304 bytes\nDONE several reports\n',
  'require.cjs': (o) => o === 'true DONE wc -c: 12 exit 0\n',
  'create-pipe.mjs': (o) => o === 'xxxxx\nREADER_CLOSED; same reason: true\n',
  'push-producer.mjs': (o) => o === 'DONE: wc -c counted 8800000 bytes\n',
  'pull-producer.mjs': (o) => o === 'DONE: 6553600 bytes, sha256 matches\n',
  'run.mjs': (o) =>
    o ===
    `exit 0, DONE after 400029 bytes: ${sha256(readFileSync(join(ROOT, 'examples/sample.txt')))}\n` +
      'ERR_PROCESS_EXIT: exit 3, stderr "no such table\\n", input DONE\n',
}

/** Examples shown in README.md rather than docs/node-api.md. */
const inReadme = ['push-producer.mjs', 'pull-producer.mjs']

for (const [file, check] of Object.entries(expected)) {
  test(`examples/${file} runs as documented`, async (t) => {
    const r = await run(file)
    t.is(r.code, 0, r.stderr)
    t.is(r.stderr, '')
    t.truthy(check(r.stdout), r.stdout)
  })
}

test('README.md and docs/node-api.md show every example verbatim, and every example file is tested', (t) => {
  const doc = readFileSync(join(ROOT, 'docs', 'node-api.md'), 'utf8')
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  for (const file of Object.keys(expected)) {
    const code = readFileSync(join(ROOT, 'examples', file), 'utf8').trimEnd()
    if (inReadme.includes(file)) {
      t.true(readme.includes(`\`examples/${file}\`:\n\n\`\`\`js\n${code}\n\`\`\``), `${file} is in the README as written`)
      continue
    }
    t.true(doc.includes(`\`examples/${file}\`:\n\n\`\`\`js\n${code}\n\`\`\``), `${file} is in the doc as written`)
  }
  const files = readdirSync(join(ROOT, 'examples')).filter((f) => /\.(mjs|cjs)$/.test(f))
  t.deepEqual(files.sort(), Object.keys(expected).sort())
})
