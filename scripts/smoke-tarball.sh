#!/usr/bin/env bash
# Tarball smoke test (`npm run test:package`, run by .ci/run; its failure fails CI):
#   1. build this host's addon; on linux-x64-gnu against the glibc 2.17 baseline (napi build -x with
#      zig and cargo-zigbuild from PyPI), checking that no symbol needs a newer GLIBC_ version;
#   2. scripts/pack-release.sh --host-only: the platform package and the main package made with the
#      napi-rs CLI and packed (the main package must refuse to pack before napi pre-publish);
#      attw and publint check the main tarball;
#   3. scripts/check-tarballs.sh: offline install into an empty folder with no Rust on PATH;
#      require, import and the CLI each feed a real child and check its sha256.
# SMOKE_PREBUILT=DIR skips step 1 and packs the .node files in DIR (CI's artifacts).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. scripts/toolchain.sh
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
say() { echo "smoke: $*"; }
die() { echo "smoke: FAILED: $*" >&2; exit 1; }
PLATFORM=$(node scripts/host-target.mjs platform)
TRIPLE=$(node scripts/host-target.mjs triple) || { say "skipped: $PLATFORM is not in napi.targets"; exit 0; }

if [ -n "${SMOKE_PREBUILT:-}" ]; then
  ARTIFACTS=$SMOKE_PREBUILT
else
  ARTIFACTS="$WORK/artifacts"
  build() { node_modules/.bin/napi build --platform --release --output-dir "$ARTIFACTS" --no-js --dts index.d.ts "$@" >"$WORK/build.log" 2>&1 \
    || { tail -20 "$WORK/build.log"; die "napi build $*"; }; }
  if [ "$PLATFORM" != linux-x64-gnu ]; then
    build --target "$TRIPLE"
  elif ensure_zig; then
    build -x --target "$TRIPLE.2.17"
    glibc=$(objdump -T "$ARTIFACTS/process-writer.$PLATFORM.node" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
    [ "$(printf '%s\n' "$glibc" GLIBC_2.17 | sort -V | tail -1)" = GLIBC_2.17 ] || die "the addon needs $glibc, newer than the GLIBC_2.17 baseline"
    say "addon built against glibc 2.17 (newest symbol version: $glibc)"
  else
    say "glibc 2.17 baseline not checked ($TOOL_ERR); smoke-testing a plain build"
    build --target "$TRIPLE"
  fi
fi
bash scripts/pack-release.sh "$ARTIFACTS" "$WORK/tarballs" --host-only
bash scripts/check-tarballs.sh "$WORK/tarballs"
say "passed"
