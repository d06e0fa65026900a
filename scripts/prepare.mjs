#!/usr/bin/env node
// npm's `prepare`. On `npm install` in a checkout it builds everything from source: the addon
// (napi build, needs Rust) and lib/ (tsc). Before `npm pack` / `npm publish` it compiles lib/ only:
// the main package ships no .node file (npm installs the platform package for it), so packing
// must not need Rust. npm tells which command runs the script in npm_command.
import { execSync } from 'node:child_process'

const packing = process.env.npm_command === 'pack' || process.env.npm_command === 'publish'
if (!packing) execSync('npm run build', { stdio: 'inherit' })
execSync('npm run build:ts', { stdio: 'inherit' })
