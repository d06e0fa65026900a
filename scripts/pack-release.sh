#!/usr/bin/env bash
# Make the release tarballs with the napi-rs CLI, exactly as the publish job does, without publishing:
#   scripts/pack-release.sh ARTIFACTS_DIR OUT_DIR [--host-only]
# ARTIFACTS_DIR holds the built process-writer.<platform>.node files (any depth). In a staging copy
# of the package: napi create-npm-dirs, napi artifacts (each .node into npm/<platform>/),
# napi pre-publish --skip-optional-publish (writes optionalDependencies), then npm pack of every
# platform package and of the main package into OUT_DIR; attw and publint check the main tarball.
# Before pre-publish the main package must refuse to pack (scripts/check-release.mjs).
# --host-only: napi.targets becomes this host's target alone (a machine that built one binary).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ARTIFACTS=$(cd "$1" && pwd)
mkdir -p "$2" && OUT=$(cd "$2" && pwd)
HOST_ONLY=${3:-}
NAPI="$ROOT/node_modules/.bin/napi"
say() { echo "pack: $*"; }
die() { echo "pack: FAILED: $*" >&2; exit 1; }

PKG=$(mktemp -d)
trap 'rm -rf "$PKG"' EXIT
cd "$ROOT"
npm run --silent build:ts
cp -r package.json README.md LICENSE index.js index.d.ts tsconfig.json tsconfig.build.json bin lib scripts "$PKG/"
ln -s "$ROOT/node_modules" "$PKG/node_modules"
cd "$PKG"
if [ "$HOST_ONLY" = --host-only ]; then
  triple=$(node scripts/host-target.mjs triple)
  node -e '
    const fs = require("fs"); const p = JSON.parse(fs.readFileSync("package.json", "utf8"))
    p.napi.targets = [process.argv[1]]; fs.writeFileSync("package.json", JSON.stringify(p, null, 2) + "\n")' "$triple"
fi
if npm pack --dry-run >"$OUT/refused.log" 2>&1; then die "npm pack of the main package succeeded without optionalDependencies"; fi
grep -q "optionalDependencies lacks" "$OUT/refused.log" || { cat "$OUT/refused.log"; die "the prepack check gave no reason"; }
rm -f "$OUT/refused.log"
say "npm pack without optionalDependencies refused, as it must be"
{ "$NAPI" create-npm-dirs && "$NAPI" artifacts --output-dir "$ARTIFACTS" --npm-dir npm \
  && "$NAPI" pre-publish -t npm --skip-optional-publish --no-gh-release; } >"$PKG/prepublish.log" 2>&1 \
  || { cat "$PKG/prepublish.log"; die "napi create-npm-dirs / artifacts / pre-publish"; }
for dir in npm/*/; do
  ls "$dir"*.node >/dev/null 2>&1 || die "$dir has no .node file (artifact missing)"
  (cd "$dir" && npm pack --silent --pack-destination "$OUT" >/dev/null) || die "npm pack in $dir"
done
npm pack --silent --pack-destination "$OUT" >/dev/null 2>"$PKG/pack.log" || { cat "$PKG/pack.log"; die "npm pack of the main package"; }
main_tgz="$OUT/$(node -p 'const p = require("./package.json"); p.name + "-" + p.version + ".tgz"')"
tar -xzOf "$main_tgz" package/package.json | grep -q '"optionalDependencies"' || die "main tarball lacks optionalDependencies"
"$ROOT/node_modules/.bin/attw" "$main_tgz" --format ascii >"$PKG/attw.log" 2>&1 || { cat "$PKG/attw.log"; die "attw reported problems"; }
"$ROOT/node_modules/.bin/publint" run "$PKG" --pack npm --strict >"$PKG/publint.log" 2>&1 || { cat "$PKG/publint.log"; die "publint reported problems"; }
say "$(cd "$OUT" && ls *.tgz | tr '\n' ' ')(attw, publint: no problems)"
