#!/usr/bin/env bash
# What a user gets from `npm install process-writer`, from the packed tarballs:
#   scripts/check-tarballs.sh TARBALL_DIR
# Installs the main tarball and this platform's tarball offline into an empty folder with no Rust
# on PATH; then require, import and the CLI (npx process-writer feed) each feed 3 MB into a real
# child (sha256sum, or shasum -a 256) whose digest must match; the binding must come from the
# platform package. Then the main tarball alone (--omit=optional): require must fail with the error
# naming this platform (lib/load-error.ts). Exits non-zero on any failure.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARBALLS=$(cd "$1" && pwd)
. "$ROOT/scripts/toolchain.sh"
say() { echo "smoke: $*"; }
die() { echo "smoke: FAILED: $*" >&2; exit 1; }

PLATFORM=$(node "$ROOT/scripts/host-target.mjs" platform)
name=$(node -p 'require(process.argv[1]).name' "$ROOT/package.json")
version=$(node -p 'require(process.argv[1]).version' "$ROOT/package.json")
main_tgz="$TARBALLS/$name-$version.tgz"
platform_tgz="$TARBALLS/$name-$PLATFORM-$version.tgz"
[ -f "$main_tgz" ] || die "no $main_tgz"
[ -f "$platform_tgz" ] || die "no $platform_tgz"
if command -v sha256sum >/dev/null; then HASH=(sha256sum); else HASH=(shasum -a 256); fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
NORUST=$(path_without_rust)

APP="$WORK/app"
mkdir -p "$APP" && echo '{"name":"smoke-app","private":true}' >"$APP/package.json"
(cd "$APP" && PATH="$NORUST" npm install --offline --no-audit --no-fund "$platform_tgz" "$main_tgz") >"$WORK/install.log" 2>&1 \
  || { cat "$WORK/install.log"; die "offline install from the tarballs"; }
PATH="$NORUST" bash -c '! command -v cargo && ! command -v rustc' >/dev/null || die "Rust still on PATH"
head -c 3000000 /dev/urandom >"$WORK/input.bin"
want=$("${HASH[@]}" <"$WORK/input.bin" | cut -d' ' -f1)
cat >"$APP/feed.cjs" <<'JS'
// node feed.cjs FILE PLATFORM HASH-COMMAND...: prints the child's digest and where the binding came from
const { spawn, feed } = require('process-writer')
const fs = require('node:fs')
const where = require.resolve('process-writer-' + process.argv[3])
const { child, stdin } = spawn(process.argv[4], process.argv.slice(5), { stdio: ['writer', 'pipe', 'inherit'] })
let out = ''
child.stdout.on('data', (d) => { out += d })
child.on('close', () => process.stdout.write(out.split(' ')[0] + ' ' + where + '\n'))
feed(stdin, fs.createReadStream(process.argv[2])).catch((e) => { console.error(e); process.exit(1) })
JS
cat >"$APP/feed.mjs" <<'JS'
// node feed.mjs FILE HASH-COMMAND...: prints the child's digest
import { spawn, feed } from 'process-writer'
import { createReadStream } from 'node:fs'
const { child, stdin } = spawn(process.argv[3], process.argv.slice(4), { stdio: ['writer', 'pipe', 'inherit'] })
let out = ''
child.stdout.on('data', (d) => { out += d })
child.on('close', () => console.log(out.split(' ')[0]))
await feed(stdin, createReadStream(process.argv[2]))
JS
cd "$APP"
got=$(PATH="$NORUST" node feed.cjs "$WORK/input.bin" "$PLATFORM" "${HASH[@]}")
[ "${got%% *}" = "$want" ] || die "require: sha256 ${got%% *}, want $want"
case "${got#* }" in */node_modules/$name-$PLATFORM/*) ;; *) die "binding resolved to ${got#* }";; esac
say "require: the child's sha256 matches ($want), binding from node_modules/$name-$PLATFORM"
got=$(PATH="$NORUST" node feed.mjs "$WORK/input.bin" "${HASH[@]}")
[ "$got" = "$want" ] || die "import: sha256 $got, want $want"
say "import: the child's sha256 matches"
got=$(PATH="$NORUST" npx --offline process-writer feed --input "$WORK/input.bin" -- "${HASH[@]}" 2>"$WORK/cli.log" | cut -d' ' -f1)
[ "$got" = "$want" ] || { cat "$WORK/cli.log"; die "CLI: sha256 $got, want $want"; }
say "CLI (npx process-writer feed): the child's sha256 matches"

BARE="$WORK/bare"
mkdir -p "$BARE" && echo '{"name":"smoke-bare","private":true}' >"$BARE/package.json"
(cd "$BARE" && PATH="$NORUST" npm install --offline --no-audit --no-fund --omit=optional "$main_tgz") >"$WORK/bare.log" 2>&1 \
  || { cat "$WORK/bare.log"; die "offline install of the main tarball alone"; }
msg=$(cd "$BARE" && node -e "try { require('process-writer') } catch (e) { console.log(e.code + ': ' + e.message) }")
case "$msg" in
  "ERR_NATIVE_ADDON_NOT_LOADED: $name: the native addon for $PLATFORM could not be loaded"*"Supported platforms: "*"$PLATFORM"*) ;;
  *) printf '%s\n' "$msg"; die "the main package alone did not explain the missing binding" ;;
esac
say "main package alone: require fails with ERR_NATIVE_ADDON_NOT_LOADED naming $PLATFORM"
