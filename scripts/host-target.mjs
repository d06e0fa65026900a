#!/usr/bin/env node
// This host's napi-rs target: `node scripts/host-target.mjs platform` prints its platform name
// (linux-x64-gnu, darwin-arm64, ...), `... triple` the package.json napi.targets triple for it.
// Exits 1 when napi.targets has none. Names come from @napi-rs/cli's parseTriple.
import { readFileSync } from 'node:fs'
import { parseTriple } from '@napi-rs/cli'

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
let platform = `${process.platform}-${process.arch}`
if (process.platform === 'linux') platform += process.report.getReport().header.glibcVersionRuntime ? '-gnu' : '-musl'
const triple = pkg.napi.targets.find((t) => parseTriple(t).platformArchABI === platform)
if (process.argv[2] === 'platform') console.log(platform)
else if (triple) console.log(triple)
else {
  console.error(`no napi.targets entry for ${platform}`)
  process.exit(1)
}
