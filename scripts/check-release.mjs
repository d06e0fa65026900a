#!/usr/bin/env node
// prepack (so also `npm publish`): refuse to pack a main package that could not load anywhere.
// The main package carries no .node file; npm picks the platform package through
// optionalDependencies, which `napi pre-publish` writes from package.json `napi.targets`. Packing
// without them gave a package that installs everywhere and loads nowhere, so this fails first
// unless every target's package is listed at exactly this version (lib/ is compiled by `prepare`,
// which npm runs after this).
// Names come from the napi-rs CLI's own triple parser, so they match what it publishes.
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseTriple } from '@napi-rs/cli'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const problems = []

const optional = pkg.optionalDependencies ?? {}
const expected = pkg.napi.targets.map((triple) => `${pkg.name}-${parseTriple(triple).platformArchABI}`)
for (const name of expected) {
  if (!(name in optional)) problems.push(`optionalDependencies lacks ${name}`)
  else if (optional[name] !== pkg.version) problems.push(`optionalDependencies has ${name}@${optional[name]}, not ${pkg.version}`)
}
for (const name of Object.keys(optional)) {
  if (!expected.includes(name)) problems.push(`optionalDependencies has ${name}, which is not in napi.targets`)
}

if (problems.length > 0) {
  console.error(
    `${pkg.name}: refusing to pack: the package would install without a native binary.\n` +
      problems.map((p) => `  - ${p}`).join('\n') +
      '\nBuild every target, put them in npm/ (`napi artifacts`), then run `napi pre-publish -t npm` ' +
      '(it publishes the platform packages and writes optionalDependencies); see .github/workflows/CI.yml.',
  )
  process.exit(1)
}
console.error(`${pkg.name}: release check passed (${expected.length} platform packages at ${pkg.version})`)
